/* core_symbolize: return addresses → module, function, offset, with elfutils
 * (see core_symbolize.h).
 *
 * libdwfl reports this process's modules from /proc/self/maps and reads,
 * per module, .symtab when present, else .dynsym (and the MiniDebugInfo of
 * .gnu_debugdata), plus separate debug files found locally (build id, or
 * .gnu_debuglink). Never over the network: the debuginfo callback below
 * only looks on this machine, so debuginfod is never asked. Names point
 * into libdwfl's symbol tables, which live until core_symbolize_reset().
 *
 * Memory is bounded: one fixed table of CACHE_SLOTS addresses (when full,
 * further addresses are resolved uncached), plus libdwfl's per-module
 * tables. A pc in no known module triggers one re-read of the mappings
 * (a library dlopen()ed since), at most once per REPORT_MIN_NS. */
#include "core_symbolize.h"

#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CACHE_SLOTS 8192
#define CACHE_PROBE 16
#define REPORT_MIN_NS 1000000000LL

struct entry {
  uintptr_t pc; /* 0: empty */
  struct at_frame frame;
  int rc;
};

static struct {
  Dwfl *dwfl;
  int64_t reported_ns;
  struct entry *cache; /* CACHE_SLOTS, allocated on first use */
  pid_t pid;
} Z;

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Separate debug files, looked up on this machine only. */
static int try_open(const char *path, char **name_out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  *name_out = strdup(path);
  return fd;
}

static int local_debuginfo(Dwfl_Module *mod, void **userdata,
                           const char *modname, Dwarf_Addr base,
                           const char *file_name, const char *debuglink,
                           GElf_Word crc, char **debuginfo_file_name) {
  (void)userdata;
  (void)modname;
  (void)base;
  (void)crc;
  char path[4096];
  const unsigned char *bits;
  GElf_Addr vaddr;
  int len = dwfl_module_build_id(mod, &bits, &vaddr);
  if (len > 1 && len < 64) {
    int n =
        snprintf(path, sizeof path, "/usr/lib/debug/.build-id/%02x/", bits[0]);
    for (int i = 1; i < len && n + 3 < (int)sizeof path; i++)
      n += snprintf(path + n, sizeof path - (size_t)n, "%02x", bits[i]);
    snprintf(path + n, sizeof path - (size_t)n, ".debug");
    int fd = try_open(path, debuginfo_file_name);
    if (fd >= 0)
      return fd;
  }
  if (debuglink && *debuglink && file_name) {
    const char *slash = strrchr(file_name, '/');
    int dirlen = slash ? (int)(slash - file_name) : 0;
    const char *fmts[3] = {"%.*s/%s", "%.*s/.debug/%s",
                           "/usr/lib/debug%.*s/%s"};
    for (int i = 0; i < 3; i++) {
      snprintf(path, sizeof path, fmts[i], dirlen, file_name, debuglink);
      if (strcmp(path, file_name) == 0)
        continue;
      int fd = try_open(path, debuginfo_file_name);
      if (fd >= 0)
        return fd;
    }
  }
  return -1;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = local_debuginfo,
};

static int report(void) {
  if (!Z.dwfl) {
    Z.dwfl = dwfl_begin(&callbacks);
    if (!Z.dwfl)
      return -1;
    dwfl_report_begin(Z.dwfl);
  } else {
    dwfl_report_begin_add(Z.dwfl); /* keep the modules we know */
  }
  Z.pid = getpid();
  int rc = dwfl_linux_proc_report(Z.dwfl, Z.pid);
  dwfl_report_end(Z.dwfl, NULL, NULL);
  Z.reported_ns = mono_ns();
  return rc == 0 ? 0 : -1;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

static int starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Frames that never name a step of the program: the C library and the
 * loader, TLS and HTTP libraries, interpreters and their extension
 * modules, sanitizer runtimes, and autotrace itself. Any shared object
 * installed in a system library folder counts as a library too. */
static int module_is_app(const char *path) {
  if (!path || !*path || path[0] == '[')
    return 0; /* [vdso], [vsyscall], anonymous */
  const char *b = base_name(path);
  static const char *const libs[] = {
      "libc.so",    "libc-",        "libpthread", "libm.so",  "libm-",
      "libdl",      "librt",        "ld-linux",   "ld-",      "libgcc_s",
      "libstdc++",  "libssl",       "libcrypto",  "libcurl",  "libgnutls",
      "libnghttp2", "libz.so",      "libpython",  "libruby",  "libnode",
      "libperl",    "libautotrace", "libasan",    "libubsan", "libffi",
      "libnss3",    "libnspr4",     "libbrotli",  "libzstd",  "libuv",
      "libgo",      "libphp"};
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
    if (starts(b, libs[i]))
      return 0;
  static const char *const interpreters[] = {"python", "ruby", "node",
                                             "php",    "perl", "java"};
  for (size_t i = 0; i < sizeof interpreters / sizeof interpreters[0]; i++)
    if (starts(b, interpreters[i]) && !strchr(b, '.'))
      return 0; /* python3, python3.11, ruby, node, php8.2, perl */
  if (strstr(b, ".cpython-") || strstr(path, "/lib-dynload/") ||
      strstr(path, "/site-packages/") || strstr(path, "/dist-packages/"))
    return 0;
  if (strstr(b, ".so") &&
      (starts(path, "/lib/") || starts(path, "/lib64/") ||
       starts(path, "/usr/lib/") || starts(path, "/usr/lib64/") ||
       starts(path, "/usr/local/lib/")))
    return 0;
  return 1;
}

static void resolve(uintptr_t pc, struct at_frame *out, int *rc) {
  memset(out, 0, sizeof *out);
  out->module = "";
  *rc = -1;
  if (!Z.dwfl && report() != 0)
    return;
  Dwfl_Module *mod = dwfl_addrmodule(Z.dwfl, pc);
  if (!mod && mono_ns() - Z.reported_ns >= REPORT_MIN_NS && report() == 0)
    mod = dwfl_addrmodule(Z.dwfl, pc);
  if (!mod) {
    out->offset = pc;
    return;
  }
  Dwarf_Addr start = 0;
  const char *name =
      dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
  out->module = name ? name : "";
  out->is_app = module_is_app(out->module);
  out->offset = pc - (uintptr_t)start;
  *rc = 0;
  GElf_Off off = 0;
  GElf_Sym sym;
  const char *fn = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
  /* Only a symbol that contains pc: the nearest one below an address in a
   * stripped object names something else entirely. */
  if (fn && *fn && (sym.st_size == 0 ? off < 4096 : off < sym.st_size)) {
    out->function = fn;
    out->offset = off;
  }
}

void core_symbolize_check_pid(void) {
  if (Z.dwfl && Z.pid != getpid())
    core_symbolize_reset(); /* a fork child that did not say so */
}

int core_symbolize(uintptr_t pc, struct at_frame *out) {
  if (!Z.cache)
    Z.cache = calloc(CACHE_SLOTS, sizeof *Z.cache);
  if (Z.cache && pc) {
    unsigned i =
        (unsigned)((pc * 0x9E3779B97F4A7C15ull) >> 51) & (CACHE_SLOTS - 1);
    for (unsigned k = 0; k < CACHE_PROBE;
         k++, i = (i + 1) & (CACHE_SLOTS - 1)) {
      struct entry *e = &Z.cache[i];
      if (e->pc == pc) {
        *out = e->frame;
        return e->rc;
      }
      if (e->pc == 0) {
        resolve(pc, &e->frame, &e->rc);
        if (e->rc == 0)
          e->pc = pc; /* an unknown pc is asked again (a later dlopen) */
        *out = e->frame;
        return e->rc;
      }
    }
  }
  int rc;
  resolve(pc, out, &rc);
  return rc;
}

void core_symbolize_reset(void) {
  if (Z.dwfl)
    dwfl_end(Z.dwfl);
  Z.dwfl = NULL;
  Z.reported_ns = 0;
  free(Z.cache);
  Z.cache = NULL;
}
