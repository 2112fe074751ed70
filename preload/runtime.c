/* runtime: lazy initialisation of the shim. */
#include "runtime.h"

#include <pthread.h>
#include <time.h>
#include <string.h>

#include "common/clock.h"
#include "context.h"
#include "log.h"
#include "providers/providers.h"
#include "worker.h"

struct at_config at_cfg;
int at_initialized;
int at_capture_on;
AT_TLS int at_curl_depth;
AT_TLS int at_tid_cache;
struct at_counters at_counters;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* Initialised (so in .data, on the page the loader has written already for
 * its relocation; a .bss variable would be a page fault of its own in
 * every process): -1 until the constructor ran. */
static long long loaded_at_ns = -1;

static void do_init(void) {
  at_config_load(&at_cfg);
  at_cfg.process_start_ns = loaded_at_ns > 0 ? loaded_at_ns : at_wall_ns();
  at_log_open(&at_cfg);
  if (at_cfg.config_error[0])
    AT_ERR("%s", at_cfg.config_error);
  if (at_cfg.traceparent_invalid)
    AT_DBG(AT_ENV_TRACEPARENT " is malformed; ignoring it");
  if (at_cfg.hosts[0]) {
    char err[256] = "";
    if (at_hosts_configure(at_cfg.hosts, err, sizeof err) < 0)
      AT_ERR(AT_ENV_HOSTS ": %s", err);
  }
  pthread_atfork(at_worker_atfork_prepare, at_worker_atfork_parent,
                 at_worker_atfork_child);
  at_context_init(); /* after the worker's: see preload/context.c */
  int on = !at_cfg.disabled && at_cfg.spool_dir[0] != '\0';
  if (!at_cfg.disabled && !at_cfg.spool_dir[0])
    AT_ERR("no spool folder (set AUTOTRACE_SPOOL or HOME); capture is off");
  __atomic_store_n(&at_capture_on, on, __ATOMIC_RELAXED);
  __atomic_store_n(&at_initialized, 1, __ATOMIC_RELEASE);
}

void at_init(void) {
  pthread_once(&init_once, do_init);
}

void at_capture_disable_quietly(void) {
  __atomic_store_n(&at_capture_on, 0, __ATOMIC_RELAXED);
}

void at_capture_disable(const char *why) {
  if (__atomic_exchange_n(&at_capture_on, 0, __ATOMIC_RELAXED))
    AT_ERR("capture is off for this process: %s", why);
}

/* The constructor only notes the load time (the process span starts here);
 * everything else waits for the first hook call. */
__attribute__((constructor)) static void at_constructor(void) {
  /* clock_gettime here, not at_wall_ns(): that lives on a code page the
   * start of a process does not otherwise touch (a page fault, in every
   * process). */
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
    loaded_at_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
