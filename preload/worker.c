#include "worker.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bufpool.h"
#include "common/clock.h"
#include "context.h"
#include "core_api.h"
#include "hooks/conn.h"
#include "identity.h"
#include "log.h"
#include "runtime.h"

/* How long exit waits for the worker to drain the queue. A traced program
 * must not hang at exit because the spool is slow or locked. */
#define AT_EXIT_DRAIN_SECONDS 5

enum worker_state { W_NONE, W_RUNNING, W_FAILED };

/* Batching: once woken, the worker gives the queue up to AT_BATCH_WAIT_MS
 * to fill to AT_BATCH_TARGET captures, so that a burst of exchanges costs
 * one write transaction per batch rather than per exchange. Records reach
 * the spool at most that much later.
 *
 * Waking: an app thread signals the worker only when the queue becomes
 * non-empty (the worker may be idle) or holds AT_WAKE_BACKLOG captures
 * (half the queue when that is smaller). A batch that fills to its target
 * does not signal: the worker's 5 ms wait ends on its own. A signal to a
 * waiting thread is a futex call and an interrupt to the other CPU on
 * the app's thread; when it came at every 64th capture, it set the p99 of
 * a client making back-to-back calls (lockstep pairs, 10 runs: p99 added
 * +36 us with it, +14 us without; p50 the same). */
#define AT_BATCH_TARGET 64
#define AT_BATCH_WAIT_MS 5
#define AT_WAKE_BACKLOG 256

/* While watched connections hold bytes not yet handed over, the worker
 * collects them this often (hooks/conn.h): a streamed answer reaches the
 * spool within about this long of its last read. */
#define AT_HARVEST_MS 20

/* How long fork() may wait for the worker to leave the core. */
#define AT_FORK_WAIT_MS 200

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
/* Held by the worker while it runs core code (loading, parsing, writing).
 * fork()'s prepare handler takes it so that the child never inherits a
 * lock the core held mid-call (the price table's, the loader's, LMDB's
 * in-process state): see at_worker_atfork_prepare. */
static pthread_mutex_t core_mu = PTHREAD_MUTEX_INITIALIZER;
static int fork_has_core_mu;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static struct at_capture *q_head, *q_tail;
static size_t q_len;
static int q_stop;
static int w_idle; /* the worker waits with no deadline (see at_worker_poke) */
static enum worker_state w_state = W_NONE;
static pthread_t w_thread;
static const struct at_core_api *core;
static struct at_counters reported; /* what the core has been told */
static int atexit_registered;

static uint64_t delta_of(uint64_t *now_field, uint64_t *reported_field) {
  uint64_t now = __atomic_load_n(now_field, __ATOMIC_RELAXED);
  uint64_t d = now - *reported_field;
  *reported_field = now;
  return d;
}

static void take_counter_deltas(struct at_shim_counters *d) {
  d->dropped_queue_full =
      delta_of(&at_counters.dropped_queue_full, &reported.dropped_queue_full);
  d->dropped_oom = delta_of(&at_counters.dropped_oom, &reported.dropped_oom);
  d->skipped_not_llm =
      delta_of(&at_counters.skipped_not_llm, &reported.skipped_not_llm);
  d->truncated_bodies =
      delta_of(&at_counters.truncated_bodies, &reported.truncated_bodies);
}

/* The core lives beside the shim: same folder, fixed name. */
static void *load_core(char *err, size_t errlen) {
  Dl_info info;
  if (!dladdr((void *)at_worker_submit, &info) || !info.dli_fname) {
    snprintf(err, errlen, "cannot locate libautotrace.so itself");
    return NULL;
  }
  char path[AT_PATH_MAX];
  const char *slash = strrchr(info.dli_fname, '/');
  int dirlen = slash ? (int)(slash - info.dli_fname) : 1;
  snprintf(path, sizeof path, "%.*s/libautotrace-core.so", dirlen,
           slash ? info.dli_fname : ".");
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(err, errlen, "cannot load the core: %.400s", e ? e : path);
    return NULL;
  }
  at_core_api_fn fn;
  void *sym = dlsym(h, "autotrace_core_api");
  memcpy(&fn, &sym, sizeof fn);
  const struct at_core_api *api = fn ? fn() : NULL;
  if (!api || api->version != AT_CORE_API_VERSION) {
    snprintf(err, errlen, "%.400s: incompatible core (rebuild both .so files)",
             path);
    return NULL; /* the handle stays open: dlclose is not worth the risk */
  }
  return (void *)api;
}

/* Free captures; a curl exchange's copies and memory go to the buffer
 * pool for the next exchanges (bufpool.h). */
static void free_list(struct at_capture *c) {
  while (c) {
    struct at_capture *next = c->next;
    at_capture_release(c);
    c = next;
  }
}

/* Consumed captures go back to the buffer pool from here, the writer's
 * thread: the app's thread only takes buffers from it (bufpool.h). */
static void return_captures(struct at_capture **arr, size_t n) {
  for (size_t i = 0; i < n; i++)
    at_capture_release(arr[i]);
}

/* Give up on capture: free whatever is queued (counting it as dropped). */
static void fail_worker(const char *why) {
  at_capture_disable(why);
  pthread_mutex_lock(&q_mu);
  w_state = W_FAILED;
  struct at_capture *c = q_head;
  q_head = q_tail = NULL;
  q_len = 0;
  pthread_mutex_unlock(&q_mu);
  while (c) {
    struct at_capture *next = c->next;
    at_capture_free(c);
    AT_COUNT(dropped_queue_full);
    c = next;
  }
}

static void consume_list(struct at_capture *list, size_t n) {
  struct at_shim_counters d;
  take_counter_deltas(&d);
  struct at_capture **arr = malloc(n * sizeof *arr);
  if (!arr) {
    /* Out of memory: hand them over one at a time, and free them here. */
    while (list) {
      struct at_capture *next = list->next;
      list->next = NULL;
      core->consume(&list, 1, &d);
      memset(&d, 0, sizeof d);
      at_capture_free(list);
      list = next;
    }
    return;
  }
  size_t i = 0;
  for (struct at_capture *c = list; c && i < n; c = c->next)
    arr[i++] = c;
  for (size_t k = 0; k < i; k++)
    arr[k]->next = NULL;
  core->consume(arr, i, &d);
  return_captures(arr, i);
  free(arr);
}

static void *worker_main(void *arg) {
  (void)arg;
  char err[512];
  pthread_mutex_lock(&core_mu);
  if (!core)
    core = load_core(err, sizeof err);
  if (!core) {
    fail_worker(err);
    pthread_mutex_unlock(&core_mu);
    return NULL;
  }
  err[0] = '\0';
  if (core->start(&at_cfg, err, sizeof err) != 0) {
    fail_worker(err[0] ? err : "the spool could not be opened");
    pthread_mutex_unlock(&core_mu);
    return NULL;
  }
  pthread_mutex_unlock(&core_mu);
  for (;;) {
    pthread_mutex_lock(&q_mu);
    while (!q_head && !q_stop) {
      /* Idle first, then look (at_worker_poke looks the other way round):
       * a connection's first pending bytes either are seen here or see
       * the worker idle and wake it. */
      __atomic_store_n(&w_idle, 1, __ATOMIC_SEQ_CST);
      if (!__atomic_load_n(&at_conn_npending, __ATOMIC_SEQ_CST)) {
        pthread_cond_wait(&q_cv, &q_mu);
        __atomic_store_n(&w_idle, 0, __ATOMIC_RELAXED);
        continue;
      }
      __atomic_store_n(&w_idle, 0, __ATOMIC_RELAXED);
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_nsec += AT_HARVEST_MS * 1000000L;
      until.tv_sec += until.tv_nsec / 1000000000L;
      until.tv_nsec %= 1000000000L;
      if (pthread_cond_timedwait(&q_cv, &q_mu, &until) == ETIMEDOUT) {
        pthread_mutex_unlock(&q_mu);
        at_conn_harvest(); /* queues them (takes q_mu) */
        pthread_mutex_lock(&q_mu);
      }
    }
    if (!q_stop && q_len < AT_BATCH_TARGET) {
      struct timespec deadline;
      clock_gettime(CLOCK_REALTIME, &deadline);
      deadline.tv_nsec += AT_BATCH_WAIT_MS * 1000000L;
      deadline.tv_sec += deadline.tv_nsec / 1000000000L;
      deadline.tv_nsec %= 1000000000L;
      while (!q_stop && q_len < AT_BATCH_TARGET &&
             pthread_cond_timedwait(&q_cv, &q_mu, &deadline) == 0)
        ;
    }
    struct at_capture *list = q_head;
    size_t n = q_len;
    int stop = q_stop;
    q_head = q_tail = NULL;
    q_len = 0;
    pthread_mutex_unlock(&q_mu);
    if (list) {
      pthread_mutex_lock(&core_mu);
      consume_list(list, n);
      pthread_mutex_unlock(&core_mu);
    }
    if (stop && !list)
      break;
  }
  return NULL;
}

/* atexit: drain, then let the core close the process span. Bounded: a
 * worker stuck on the spool must not keep the program from exiting. */
static void worker_shutdown(void) {
  at_context_collect_pending(); /* spawns recorded by vfork()ed children */
  pthread_mutex_lock(&q_mu);
  if (w_state != W_RUNNING) {
    pthread_mutex_unlock(&q_mu);
    return;
  }
  q_stop = 1;
  pthread_cond_signal(&q_cv);
  pthread_mutex_unlock(&q_mu);

  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += AT_EXIT_DRAIN_SECONDS;
  int rc = pthread_timedjoin_np(w_thread, NULL, &deadline);
  if (rc != 0) {
    AT_ERR("the spool writer did not finish within %d s at exit; "
           "%zu captures were not written",
           AT_EXIT_DRAIN_SECONDS, q_len);
    return;
  }
  pthread_mutex_lock(&q_mu);
  w_state = W_NONE;
  pthread_mutex_unlock(&q_mu);
  if (core) {
    struct at_shim_counters d;
    take_counter_deltas(&d);
    core->finish(&d);
  }
}

/* Called with q_mu held. The new thread blocks every signal: signals are
 * the application's business and must reach its own threads. */
static int start_worker_locked(void) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int rc = pthread_create(&w_thread, &attr, worker_main, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0)
    return -1;
  w_state = W_RUNNING;
  if (!atexit_registered) {
    atexit_registered = 1;
    atexit(worker_shutdown);
  }
  return 0;
}

void at_worker_submit(struct at_capture *c) {
  c->next = NULL;
  pthread_mutex_lock(&q_mu);
  /* Under q_mu: the fork handlers hold it, so a child never sees a half
   * assigned identity. */
  at_identity_assign(&at_cfg);
  if (w_state == W_NONE && start_worker_locked() != 0) {
    w_state = W_FAILED;
    pthread_mutex_unlock(&q_mu);
    at_capture_free(c);
    AT_COUNT(dropped_oom);
    at_capture_disable("cannot start the spool writer thread");
    return;
  }
  if (w_state != W_RUNNING || q_len >= at_cfg.queue_max) {
    pthread_mutex_unlock(&q_mu);
    at_capture_free(c);
    AT_COUNT(dropped_queue_full);
    return;
  }
  if (q_tail)
    q_tail->next = c;
  else
    q_head = c;
  q_tail = c;
  q_len++;
  /* Wake the worker when there is work for it, or a backlog (see
   * AT_WAKE_BACKLOG). */
  size_t backlog = at_cfg.queue_max / 2 < AT_WAKE_BACKLOG ? at_cfg.queue_max / 2
                                                          : AT_WAKE_BACKLOG;
  if (q_len == 1 || q_len == backlog)
    pthread_cond_signal(&q_cv);
  pthread_mutex_unlock(&q_mu);
}

int at_worker_running(void) {
  return __atomic_load_n(&w_state, __ATOMIC_RELAXED) == W_RUNNING;
}

void at_worker_assign_identity(void) {
  pthread_mutex_lock(&q_mu);
  at_identity_assign(&at_cfg);
  pthread_mutex_unlock(&q_mu);
}

/* exec replaces the process and skips atexit: write what we have now. A
 * failed exec leaves capture off (the process span is already closed). */
void at_worker_flush_before_exec(void) {
  at_capture_disable_quietly();
  worker_shutdown();
}

/* Only a worker asleep without a deadline needs waking: one in its timed
 * wait harvests anyway. So the common case costs the app one load. */
void at_worker_poke(void) {
  if (!__atomic_load_n(&w_idle, __ATOMIC_SEQ_CST))
    return;
  pthread_mutex_lock(&q_mu);
  pthread_cond_signal(&q_cv);
  pthread_mutex_unlock(&q_mu);
}

/* Wait, bounded, for the worker to leave the core, then hold the queue.
 * The wait is the length of one batch at most (typically well under a
 * millisecond); past AT_FORK_WAIT_MS the fork goes ahead and the child is
 * left untraced rather than risk a lock held forever. */
void at_worker_atfork_prepare(void) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_nsec += AT_FORK_WAIT_MS * 1000000L;
  deadline.tv_sec += deadline.tv_nsec / 1000000000L;
  deadline.tv_nsec %= 1000000000L;
  fork_has_core_mu = pthread_mutex_timedlock(&core_mu, &deadline) == 0;
  pthread_mutex_lock(&q_mu);
  at_bufpool_atfork_prepare();
}

void at_worker_atfork_parent(void) {
  at_bufpool_atfork_parent();
  pthread_mutex_unlock(&q_mu);
  if (fork_has_core_mu)
    pthread_mutex_unlock(&core_mu);
}

/* In the child only the forking thread exists: the worker is gone, the
 * queued captures belong to the parent (which will write them), and the
 * core must forget the parent's spool handle and process span. */
void at_worker_atfork_child(void) {
  struct at_capture *c = q_head;
  at_tid_cache = 0; /* the child's thread has its own id */
  pthread_mutex_init(&q_mu, NULL);
  pthread_mutex_init(&core_mu, NULL);
  at_bufpool_atfork_child();
  pthread_cond_init(&q_cv, NULL);
  q_head = q_tail = NULL;
  q_len = 0;
  q_stop = 0;
  free_list(c);
  if (w_state == W_RUNNING)
    w_state = W_NONE;
  memset(&at_counters, 0, sizeof at_counters);
  memset(&reported, 0, sizeof reported);
  at_identity_forked(&at_cfg, at_wall_ns());
  if (!fork_has_core_mu) {
    /* The parent's worker was loading or running the core and did not
     * come out in time: locks and state here may be half-updated, the
     * loader's included. Stay out of them. */
    w_state = W_FAILED;
    at_capture_disable_quietly();
    return;
  }
  if (core && core->atfork_child)
    core->atfork_child();
}
