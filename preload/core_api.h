/* core_api: the boundary between the shim and libautotrace-core.so.
 *
 * The shim (libautotrace.so) links only libc so that a process which never
 * talks to an LLM loads nothing else, and so that our own dependencies
 * (cJSON, LMDB) never enter the application's global symbol scope. On the
 * first capture its worker thread dlopen()s the core RTLD_LOCAL and looks
 * up one symbol, autotrace_core_api, which returns this table. Every call
 * below runs on the worker thread (or at exit, with the worker stopped). */
#ifndef AT_CORE_API_H
#define AT_CORE_API_H

#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "config.h"

#define AT_CORE_API_VERSION 3

/* Counters the shim keeps on the app's thread, handed over as deltas. */
struct at_shim_counters {
  uint64_t dropped_queue_full; /* captures dropped: worker queue full */
  uint64_t dropped_oom;        /* captures dropped: allocation failed */
  uint64_t skipped_not_llm;    /* transfers to hosts/paths not recognised */
  uint64_t truncated_bodies;   /* bodies cut at AUTOTRACE_MAX_BODY */
};

struct at_core_api {
  int version;
  /* Open the spool and set up the process context. Returns 0, or -1 with
   * a message in err (capture is then off for the process). */
  int (*start)(const struct at_config *cfg, char *err, size_t errlen);
  /* Parse and spool a batch. The captures stay the shim's: it frees them
   * afterwards, on an application thread (see worker.c for why). */
  void (*consume)(struct at_capture **caps, size_t n,
                  const struct at_shim_counters *delta);
  /* Process exit: close the process span, write counters, close spool. */
  void (*finish)(const struct at_shim_counters *delta);
  /* In a fork()ed child: forget the parent's spool handle and process span
   * without touching LMDB; the next consume reopens. */
  void (*atfork_child)(void);
};

typedef const struct at_core_api *(*at_core_api_fn)(void);

#endif
