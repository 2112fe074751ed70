/* core_api: the worker-side half of the shim (libautotrace-core.so).
 *
 * Receives captures in batches from the worker thread, parses each into an
 * observation record, stamps it with the trace context, and commits the
 * batch (records, the process span's open marker, counter deltas) to the
 * spool in one transaction. At exit it writes the process span with the
 * aggregates of its children. Everything here runs off the app's threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ids.h"
#include "core_api.h"
#include "core_conn.h"
#include "core_process.h"
#include "log.h"
#include "spool/spool.h"

struct core_counters {
  uint64_t captured, skipped_unparsed, parse_errors, http_errors,
      transport_errors, dropped_spool_full, dropped_spool_error, dropped_oom,
      skipped_http2, dropped_conn_gap;
};

static struct {
  int started;
  struct at_config cfg;
  struct spool *sp;
  struct core_process proc;
  int open_marked;
  struct core_counters pending; /* not yet in the spool */
  struct at_shim_counters shim_pending;
  /* aggregates for the process span */
  uint64_t generations, input_tokens, output_tokens, total_tokens;
  double cost;
  int have_cost;
  cJSON *first_input;  /* first user message of the first generation */
  cJSON *last_output;  /* output of the latest generation */
  int64_t last_end_ns; /* end of the latest child */
  int logged_spool_error;
} S;

static void reset_aggregates(void) {
  S.generations = S.input_tokens = S.output_tokens = S.total_tokens = 0;
  S.cost = 0;
  S.have_cost = 0;
  cJSON_Delete(S.first_input);
  cJSON_Delete(S.last_output);
  S.first_input = S.last_output = NULL;
  S.last_end_ns = 0;
}

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
    core_conn_init(S.cfg.max_body, S.cfg.hosts);
    S.started = 1;
  }
  return open_spool(err, errlen);
}

static uint64_t num_field(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static int64_t ns_field(const cJSON *rec, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
  return cJSON_IsString(v) ? strtoll(v->valuestring, NULL, 10) : 0;
}

/* The last user message of a generation's input: what it was asked. */
static const cJSON *last_user_message(const cJSON *input) {
  const cJSON *found = NULL, *m;
  cJSON_ArrayForEach(m, input) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
      found = m;
  }
  return found;
}

static void aggregate(const cJSON *rec) {
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(rec, "type");
  if (cJSON_IsString(type) && (strcmp(type->valuestring, "generation") == 0 ||
                               strcmp(type->valuestring, "embedding") == 0))
    S.generations++;
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(rec, "usage");
  uint64_t in = num_field(usage, "input_tokens");
  uint64_t out = num_field(usage, "output_tokens");
  uint64_t tot = num_field(usage, "total_tokens");
  S.input_tokens += in;
  S.output_tokens += out;
  S.total_tokens += tot ? tot : in + out;
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(rec, "cost_details");
  const cJSON *total = cJSON_GetObjectItemCaseSensitive(cost, "total");
  if (cJSON_IsNumber(total)) {
    S.cost += total->valuedouble;
    S.have_cost = 1;
  }
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(rec, "input");
  if (!S.first_input && cJSON_IsArray(input)) {
    const cJSON *u = last_user_message(input);
    if (u)
      S.first_input = cJSON_Duplicate(u, 1);
  }
  const cJSON *output = cJSON_GetObjectItemCaseSensitive(rec, "output");
  if (cJSON_IsArray(output) && cJSON_GetArraySize(output) > 0) {
    cJSON_Delete(S.last_output);
    S.last_output = cJSON_Duplicate(output, 1);
  }
  int64_t end = ns_field(rec, "end_ns");
  if (end > S.last_end_ns)
    S.last_end_ns = end;
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

static cJSON *process_marker(void) {
  cJSON *m = cJSON_CreateObject();
  if (!m)
    return NULL;
  char ns[24];
  cJSON_AddStringToObject(m, "id", S.proc.span_id);
  cJSON_AddStringToObject(m, "trace_id", S.proc.trace_id);
  if (S.proc.parent_id[0])
    cJSON_AddStringToObject(m, "parent_id", S.proc.parent_id);
  cJSON_AddStringToObject(m, "type", "span");
  cJSON_AddStringToObject(m, "name", S.proc.name);
  snprintf(ns, sizeof ns, "%lld", (long long)S.proc.start_ns);
  cJSON_AddStringToObject(m, "start_ns", ns);
  core_process_stamp(&S.proc, &S.cfg, m, 0);
  return m;
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
  ADD("skipped.http2", S.pending.skipped_http2);
  ADD("dropped.conn_gap", S.pending.dropped_conn_gap);
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

static void commit(char **texts, size_t *lens, size_t ntexts,
                   const struct spool_open_mark *add, size_t nadd,
                   const char *const *del, size_t ndel) {
  char err[256] = "";
  if (open_spool(err, sizeof err) != 0) {
    S.pending.dropped_spool_error += ntexts;
    if (!S.logged_spool_error++)
      AT_ERR("cannot open the spool: %s; captures are dropped", err);
    return;
  }
  struct spool_counter counters[16];
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
    if (nadd)
      S.open_marked = 1;
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

/* Records built from one batch: exchanges of the curl path and those the
 * TLS/socket paths finish (any number per capture), in order. */
struct batch {
  char **texts;
  size_t *lens;
  size_t n, cap;
  struct at_parse_opts opts;
};

/* Parse one exchange into a record, stamp it, and keep its text. */
static void emit_exchange(void *arg, const struct at_exchange *ex,
                          const struct at_match *match, int tid) {
  struct batch *b = arg;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    char **t = realloc(b->texts, cap * sizeof *t);
    if (t)
      b->texts = t;
    size_t *l = t ? realloc(b->lens, cap * sizeof *l) : NULL;
    if (l)
      b->lens = l;
    if (!t || !l) {
      S.pending.dropped_oom++;
      return;
    }
    b->cap = cap;
  }
  const char *skip = NULL;
  cJSON *rec = at_parse_exchange(ex, match, &b->opts, &skip);
  if (!rec) {
    if (skip)
      S.pending.skipped_unparsed++;
    else
      S.pending.dropped_oom++;
    return;
  }
  char id[17];
  at_new_span_id(id);
  cJSON_DeleteItemFromObjectCaseSensitive(rec, "id");
  cJSON_DeleteItemFromObjectCaseSensitive(rec, "parent_id");
  cJSON_AddStringToObject(rec, "id", id);
  cJSON_AddStringToObject(rec, "parent_id", S.proc.span_id);
  core_process_stamp(&S.proc, &S.cfg, rec, tid);
  aggregate(rec);
  count_outcome(rec);
  /* Sized up front: the record is about as large as what it came from,
   * so printing needs no realloc chain. */
  char *text = cJSON_PrintBuffered(
      rec, (int)(ex->req_body_len / 2 + ex->resp_body_len + 4096), 0);
  if (text) {
    b->texts[b->n] = text;
    b->lens[b->n] = strlen(text);
    b->n++;
  } else {
    S.pending.dropped_oom++;
  }
  cJSON_Delete(rec);
}

static void take_conn_counts(void) {
  struct core_conn_counts cc;
  core_conn_take_counts(&cc);
  S.pending.skipped_http2 += cc.http2;
  S.pending.dropped_conn_gap += cc.gaps;
  S.shim_pending.skipped_not_llm += cc.not_llm;
}

static void core_consume(struct at_capture **caps, size_t n,
                         const struct at_shim_counters *delta) {
  add_shim_delta(delta);
  struct batch b = {
      .opts = {.capture_metadata_only = S.cfg.capture_metadata_only,
               .capture_binary = S.cfg.capture_binary}};
  for (size_t i = 0; i < n; i++) {
    struct at_capture *c = caps[i];
    if (c->kind == AT_CAPTURE_CONN_BYTES)
      core_conn_consume(c, emit_exchange, &b);
    else
      emit_exchange(&b, &c->ex, &c->match, c->tid);
  }
  take_conn_counts();
  char **texts = b.texts;
  size_t *lens = b.lens;
  size_t nt = b.n;

  /* The process span's open marker goes in with its first children, so a
   * reader can close it if this process dies without reaching exit. */
  struct spool_open_mark mark = {0};
  char *mark_text = NULL;
  size_t nadd = 0;
  if (!S.open_marked) {
    cJSON *m = process_marker();
    mark_text = m ? cJSON_PrintUnformatted(m) : NULL;
    cJSON_Delete(m);
    if (mark_text) {
      mark.span_id = S.proc.span_id;
      mark.json = mark_text;
      mark.len = strlen(mark_text);
      nadd = 1;
    }
  }
  commit(texts, lens, nt, &mark, nadd, NULL, 0);
  free(mark_text);
  for (size_t i = 0; i < nt; i++)
    cJSON_free(texts[i]);
  free(texts);
  free(lens);
}

static cJSON *process_span_record(int64_t end_ns) {
  cJSON *r = process_marker();
  if (!r)
    return NULL;
  char ns[24];
  snprintf(ns, sizeof ns, "%lld",
           (long long)(end_ns > S.last_end_ns ? end_ns : S.last_end_ns));
  cJSON_AddStringToObject(r, "end_ns", ns);
  cJSON_AddStringToObject(r, "level", "DEFAULT");
  if (S.first_input) {
    cJSON *in = cJSON_AddArrayToObject(r, "input");
    if (in)
      cJSON_AddItemToArray(in, cJSON_Duplicate(S.first_input, 1));
  }
  if (S.last_output)
    cJSON_AddItemToObject(r, "output", cJSON_Duplicate(S.last_output, 1));
  cJSON *meta = cJSON_AddObjectToObject(r, "metadata");
  if (meta) {
    cJSON_AddStringToObject(meta, "capture", "process");
    cJSON_AddNumberToObject(meta, "generations", (double)S.generations);
    cJSON_AddNumberToObject(meta, "input_tokens", (double)S.input_tokens);
    cJSON_AddNumberToObject(meta, "output_tokens", (double)S.output_tokens);
    cJSON_AddNumberToObject(meta, "total_tokens", (double)S.total_tokens);
    if (S.have_cost)
      cJSON_AddNumberToObject(meta, "cost_usd", S.cost);
  }
  return r;
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
  if (b.n)
    commit(b.texts, b.lens, b.n, NULL, 0, NULL, 0);
  for (size_t i = 0; i < b.n; i++)
    cJSON_free(b.texts[i]);
  free(b.texts);
  free(b.lens);
  cJSON *r = process_span_record(at_wall_ns());
  char *text = r ? cJSON_PrintUnformatted(r) : NULL;
  cJSON_Delete(r);
  size_t len = text ? strlen(text) : 0;
  const char *del[1] = {S.proc.span_id};
  commit(text ? &text : NULL, &len, text ? 1 : 0, NULL, 0, del,
         S.open_marked ? 1 : 0);
  cJSON_free(text);
  if (S.sp)
    spool_close(S.sp);
  S.sp = NULL;
  reset_aggregates();
}

static void core_atfork_child(void) {
  core_conn_forget_all();
  if (S.sp)
    spool_abandon(S.sp); /* never close the parent's LMDB handle */
  S.sp = NULL;
  S.open_marked = 0;
  memset(&S.pending, 0, sizeof S.pending);
  memset(&S.shim_pending, 0, sizeof S.shim_pending);
  reset_aggregates();
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
