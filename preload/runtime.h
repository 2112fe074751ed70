/* runtime: the shim's process-wide state, initialised lazily.
 *
 * Every hook starts with at_enabled(): the first call in the process runs
 * at_init() (pthread_once), later calls read one flag. Initialisation only
 * reads the environment and registers a fork handler: no thread, no
 * allocation, no file — those wait for the first captured exchange. */
#ifndef AT_RUNTIME_H
#define AT_RUNTIME_H

#include <stdint.h>
#include <unistd.h>

#include "config.h"

#define AT_TLS __thread __attribute__((tls_model("initial-exec")))

extern struct at_config at_cfg;
extern int at_initialized; /* at_init() has run */
extern int at_capture_on;  /* capture enabled (not disabled, not failed) */

void at_init(void);

static inline int at_enabled(void) {
  if (!__atomic_load_n(&at_initialized, __ATOMIC_ACQUIRE))
    at_init();
  return __atomic_load_n(&at_capture_on, __ATOMIC_RELAXED);
}

/* Turn capture off for the rest of the process (the worker could not
 * start). Hooks keep forwarding every call unchanged. */
void at_capture_disable(const char *why);
/* The same without a log line (safe in a fork child handler). */
void at_capture_disable_quietly(void);

/* Depth of libcurl calls on this thread that are already being traced.
 * libcurl's easy API drives its own multi API through the exported
 * curl_multi_* symbols (our hooks), and issue 3's TLS hooks sit below
 * libcurl: both check this so one transfer is captured once. */
extern AT_TLS int at_curl_depth;

/* The calling thread's kernel id, cached per thread (gettid() is a system
 * call). The fork child handler forgets the cache of the forking thread. */
extern AT_TLS int at_tid_cache;
static inline int at_thread_id(void) {
  if (!at_tid_cache)
    at_tid_cache = gettid();
  return at_tid_cache;
}

/* Shim counters, updated with relaxed atomics from any thread. */
struct at_counters {
  uint64_t dropped_queue_full;
  uint64_t dropped_oom;
  uint64_t skipped_not_llm;
  uint64_t truncated_bodies;
};
extern struct at_counters at_counters;

#define AT_COUNT(field)                                                        \
  __atomic_add_fetch(&at_counters.field, 1, __ATOMIC_RELAXED)

#endif
