/* core_api: the worker-side half of the shim (libautotrace-core.so).
 *
 * Receives captures in batches from the worker thread, parses each into an
 * observation record, stamps it with the process's fields, and hands it to
 * the nesting engine (core_nest.c), which decides its trace and parent;
 * what the engine closed, and the open markers of what it opened, are
 * committed with the counter deltas in one transaction. At exit the engine
 * closes everything, the process span included. Everything here runs off
 * the app's threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ids.h"
#include "core_api.h"
#include "core_conn.h"
#include "core_nest.h"
#include "core_process.h"
#include "core_symbolize.h"
#include "log.h"
#include "spool/spool.h"

struct core_counters {
  uint64_t captured, skipped_unparsed, parse_errors, http_errors,
      transport_errors, dropped_spool_full, dropped_spool_error, dropped_oom;
  uint64_t dropped_conn_gap, skipped_h2_undecodable, dropped_h2_lost,
      dropped_h2_streams;               /* TLS/socket paths */
  uint64_t spawn_events, thread_events; /* context captures (capture.h) */
  struct core_nest_counters nest;
};

static struct {
  int started;
  struct at_config cfg;
  struct spool *sp;
  struct core_process proc;
  struct core_counters pending; /* not yet in the spool */
  struct at_shim_counters shim_pending;
  int logged_spool_error;
} S;

static int open_spool(char *err, size_t errlen) {
  if (S.sp)
    return 0;
  if (spool_open(S.cfg.spool_dir, 0, &S.sp, err, errlen) != SPOOL_OK) {
    S.sp = NULL;
    return -1;
  }
  return 0;
}

static int core_start(const struct at_config *cfg, char *err, size_t errlen) {
  if (!S.started) {
    S.cfg = *cfg;
    at_log_open(&S.cfg); /* the core's own copy of the log settings */
    core_process_init(&S.proc, &S.cfg);
    if (core_nest_start(&S.proc, &S.cfg) != 0) {
      snprintf(err, errlen, "out of memory for the nesting engine");
      return -1;
    }
    core_conn_init(S.cfg.max_body, S.cfg.hosts);
    S.started = 1;
  }
  return open_spool(err, errlen);
}

static uint64_t num_field(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static void count_outcome(const cJSON *rec) {
  S.pending.captured++;
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(rec, "metadata");
  if (cJSON_GetObjectItemCaseSensitive(meta, "parse_error"))
    S.pending.parse_errors++;
  if (cJSON_GetObjectItemCaseSensitive(meta, "transport_error"))
    S.pending.transport_errors++;
  const cJSON *http = cJSON_GetObjectItemCaseSensitive(rec, "http");
  if (num_field(http, "status") >= 400)
    S.pending.http_errors++;
}

/* Counter deltas for a commit; cleared only once the commit succeeds. */
static size_t collect_counters(struct spool_counter *out) {
  size_t n = 0;
#define ADD(nm, val)                                                           \
  do {                                                                         \
    if (val) {                                                                 \
      out[n].name = nm;                                                        \
      out[n].delta = val;                                                      \
      n++;                                                                     \
    }                                                                          \
  } while (0)
  ADD("captured", S.pending.captured);
  ADD("skipped.unparsed", S.pending.skipped_unparsed);
  ADD("parse_errors", S.pending.parse_errors);
  ADD("errors.http", S.pending.http_errors);
  ADD("errors.transport", S.pending.transport_errors);
  ADD("dropped.spool_full", S.pending.dropped_spool_full);
  ADD("dropped.spool_error", S.pending.dropped_spool_error);
  ADD("dropped.oom", S.pending.dropped_oom + S.shim_pending.dropped_oom);
  ADD("dropped.queue_full", S.shim_pending.dropped_queue_full);
  ADD("skipped.not_llm", S.shim_pending.skipped_not_llm);
  ADD("truncated.bodies", S.shim_pending.truncated_bodies);
  ADD("skipped.h2_undecodable", S.pending.skipped_h2_undecodable);
  ADD("dropped.h2_lost", S.pending.dropped_h2_lost);
  ADD("dropped.h2_streams", S.pending.dropped_h2_streams);
  ADD("dropped.conn_gap", S.pending.dropped_conn_gap);
  ADD("events.spawn", S.pending.spawn_events);
  ADD("events.thread", S.pending.thread_events);
  ADD("nest.conversations_evicted", S.pending.nest.conversations_evicted);
  ADD("nest.traces_evicted", S.pending.nest.traces_evicted);
  ADD("nest.idle_closed", S.pending.nest.idle_closed);
  ADD("nest.threads_evicted", S.pending.nest.threads_evicted);
#undef ADD
  return n;
}

static void add_shim_delta(const struct at_shim_counters *d) {
  if (!d)
    return;
  S.shim_pending.dropped_queue_full += d->dropped_queue_full;
  S.shim_pending.dropped_oom += d->dropped_oom;
  S.shim_pending.skipped_not_llm += d->skipped_not_llm;
  S.shim_pending.truncated_bodies += d->truncated_bodies;
}

static void commit(const char **texts, size_t *lens, size_t ntexts,
                   const struct spool_open_mark *add, size_t nadd,
                   const char *const *del, size_t ndel) {
  char err[256] = "";
  if (open_spool(err, sizeof err) != 0) {
    S.pending.dropped_spool_error += ntexts;
    if (!S.logged_spool_error++)
      AT_ERR("cannot open the spool: %s; captures are dropped", err);
    return;
  }
  struct spool_counter counters[32];
  struct spool_batch b = {0};
  b.records = (const char *const *)texts;
  b.record_lens = lens;
  b.nrecords = ntexts;
  b.open_add = add;
  b.nopen_add = nadd;
  b.open_del = del;
  b.nopen_del = ndel;
  b.counters = counters;
  b.ncounters = collect_counters(counters);
  int rc = spool_commit(S.sp, &b);
  if (rc == SPOOL_OK) {
    memset(&S.pending, 0, sizeof S.pending);
    memset(&S.shim_pending, 0, sizeof S.shim_pending);
    return;
  }
  if (rc == SPOOL_ERR_FULL)
    S.pending.dropped_spool_full += ntexts;
  else
    S.pending.dropped_spool_error += ntexts;
  if (!S.logged_spool_error++)
    AT_ERR("spool %s: %s; %zu observations dropped (counted in "
           "`autotrace stats` once the spool accepts writes again)",
           S.cfg.spool_dir, spool_strerror(rc), ntexts);
}

/* A write transaction holds every record it writes twice until it
 * commits: printed (ours) and in LMDB's dirty pages (malloc()ed). Freed
 * together, more than glibc's trim threshold (128 KiB) at the top of the
 * heap is handed back to the kernel, and the next batch faults it all in
 * again: measured, 2.9 page faults per 13.5 KB record with 64-record
 * batches, none below ten, at ~2.5 us a fault on a VM. A batch is
 * committed in parts of about this many record bytes. */
#define AT_COMMIT_BYTES (96u * 1024u)

/* Commit what the engine produced since the last commit. */
static void commit_batch(void) {
  struct core_batch *cb = core_nest_batch();
  struct core_nest_counters d;
  core_nest_take_counters(&d);
  S.pending.nest.conversations_evicted += d.conversations_evicted;
  S.pending.nest.traces_evicted += d.traces_evicted;
  S.pending.nest.idle_closed += d.idle_closed;
  S.pending.nest.threads_evicted += d.threads_evicted;
  S.pending.dropped_oom += cb->dropped_oom;
  const char **del = calloc(cb->ndels ? cb->ndels : 1, sizeof *del);
  size_t ndel = 0;
  for (size_t i = 0; del && i < cb->ndels; i++)
    del[ndel++] = cb->dels[i];
  commit(cb->texts, cb->lens, cb->ntexts, cb->adds, cb->nadds,
         (const char *const *)del, ndel);
  free(del);
  core_nest_batch_reset();
}

/* What one batch's exchanges share: the parse options, and the capture
 * an exchange came from when it is a curl capture (its stack and thread
 * origin go to the nesting engine). */
struct batch {
  struct at_parse_opts opts;
  const struct at_capture *cap; /* NULL: a TLS/socket exchange */
};

/* Parse one exchange into a record, stamp it, and hand it to the nesting
 * engine, which decides its trace and parent. The TLS/socket paths call
 * this for every exchange a chunk of bytes finishes (any number). */
static void emit_exchange(void *arg, const struct at_exchange *ex,
                          const struct at_match *match, int tid) {
  struct batch *b = arg;
  const char *skip = NULL;
  cJSON *rec = at_parse_exchange(ex, match, &b->opts, &skip);
  if (!rec) {
    if (skip)
      S.pending.skipped_unparsed++;
    else
      S.pending.dropped_oom++;
    return;
  }
  core_process_stamp(&S.proc, &S.cfg, rec, tid);
  count_outcome(rec);
  if (b->cap) {
    core_nest_exchange(b->cap, rec);
  } else {
    /* No call stack is taken on the TLS/socket paths yet: the engine
     * places these by thread and conversation. */
    static struct at_capture view;
    memset(&view, 0, sizeof view);
    view.kind = AT_CAPTURE_EXCHANGE;
    view.tid = tid;
    core_nest_exchange(&view, rec);
  }
}

static void take_conn_counts(void) {
  struct core_conn_counts cc;
  core_conn_take_counts(&cc);
  S.pending.skipped_h2_undecodable += cc.h2_undecodable;
  S.pending.dropped_h2_lost += cc.h2_lost;
  S.pending.dropped_h2_streams += cc.h2_dropped;
  S.pending.dropped_conn_gap += cc.gaps;
  S.shim_pending.skipped_not_llm += cc.not_llm;
}

static void core_consume(struct at_capture **caps, size_t n,
                         const struct at_shim_counters *delta) {
  add_shim_delta(delta);
  core_symbolize_check_pid();
  struct batch b = {
      .opts = {.capture_metadata_only = S.cfg.capture_metadata_only,
               .capture_binary = S.cfg.capture_binary}};
  for (size_t i = 0; i < n; i++) {
    struct at_capture *c = caps[i];
    if (c->kind == AT_CAPTURE_CONN_BYTES) {
      b.cap = NULL;
      core_conn_consume(c, emit_exchange, &b);
    } else if (c->kind != AT_CAPTURE_EXCHANGE) {
      /* Context events: the nesting engine turns them into spans
       * (docs/nesting.md). */
      if (c->kind == AT_CAPTURE_SPAWN) {
        S.pending.spawn_events++;
        AT_DBG("spawn: span %s program %s thread %d, %u frames", c->span_id,
               c->method ? c->method : "?", c->tid, c->nstack);
      } else {
        S.pending.thread_events++;
        AT_DBG("thread: %d created by %d, %u frames", c->tid,
               c->origin.creator_tid, c->origin.nstack);
      }
      core_nest_event(c);
    } else {
      b.cap = c;
      emit_exchange(&b, &c->ex, &c->match, c->tid);
    }
    if (core_nest_batch()->text_bytes >= AT_COMMIT_BYTES)
      commit_batch();
  }
  take_conn_counts();
  core_nest_tick(at_wall_ns());
  commit_batch();
}

static void core_finish(const struct at_shim_counters *delta) {
  if (!S.started)
    return;
  add_shim_delta(delta);
  /* Connections still open at exit: what was in flight comes out partial
   * (complete exchanges have been written already). */
  struct batch b = {
      .opts = {.capture_metadata_only = S.cfg.capture_metadata_only,
               .capture_binary = S.cfg.capture_binary}};
  core_conn_close_all(at_wall_ns(), "the process exited mid-exchange",
                      emit_exchange, &b);
  take_conn_counts();
  core_nest_finish(at_wall_ns());
  commit_batch();
  core_nest_forget();
  if (S.sp)
    spool_close(S.sp);
  S.sp = NULL;
}

static void core_atfork_child(void) {
  core_conn_forget_all(); /* the parent's connections are the parent's */
  if (S.sp)
    spool_abandon(S.sp); /* never close the parent's LMDB handle */
  S.sp = NULL;
  memset(&S.pending, 0, sizeof S.pending);
  memset(&S.shim_pending, 0, sizeof S.shim_pending);
  core_nest_forget();     /* the parent's observations are the parent's */
  core_symbolize_reset(); /* the child's mappings may change from here */
  S.logged_spool_error = 0;
  /* The shim has given the child its own process span; the next start()
   * takes it from the configuration. */
  S.started = 0;
}

static const struct at_core_api API = {
    .version = AT_CORE_API_VERSION,
    .start = core_start,
    .consume = core_consume,
    .finish = core_finish,
    .atfork_child = core_atfork_child,
};

__attribute__((visibility("default"))) const struct at_core_api *
autotrace_core_api(void);
const struct at_core_api *autotrace_core_api(void) {
  return &API;
}
