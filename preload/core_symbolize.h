/* core_symbolize: return addresses → module, function, offset (core side).
 *
 * Runs on the worker thread, never on the app's: the shim only records raw
 * return addresses (capture.h, stack[]). Results are cached per address;
 * modules are found from the process's own mappings, names from the
 * dynamic symbols, .symtab when present, and elfutils (libdw) for the
 * rest; a stripped module gives "module+0xoffset". */
#ifndef AT_CORE_SYMBOLIZE_H
#define AT_CORE_SYMBOLIZE_H

#include <stdint.h>

struct at_frame {
  const char *module;   /* path of the mapped object; "" when unknown */
  const char *function; /* symbol name, or NULL when none was found */
  uintptr_t offset;     /* pc - symbol start, or pc - module base */
  /* 1: the program's own code. 0: libc, libpthread, the loader, libssl,
   * libcrypto, libcurl, GnuTLS, an interpreter (libpython, libruby, node,
   * ...) or autotrace itself — frames that never name a step. */
  int is_app;
};

/* Fill *out for pc. The strings stay valid until core_symbolize_reset().
 * Returns 0, or -1 when pc is in no known mapping (out->module is then ""). */
int core_symbolize(uintptr_t pc, struct at_frame *out);

/* Forget every cached module and symbol (after fork in the child, or
 * when a dlclose may have unmapped a module). */
void core_symbolize_reset(void);

/* Reset when this is no longer the process that reported its modules (a
 * child made without the fork handlers running: raw clone()). A getpid()
 * system call, so asked once per batch of captures, not per frame. */
void core_symbolize_check_pid(void);

#endif
