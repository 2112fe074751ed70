#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/traces.h"
#include "common/clock.h"
#include "helpers.h"

#define T1 "0af7651916cd43dd8448eb211c80319c"
#define T2 "1bf7651916cd43dd8448eb211c80319d"

/* A record with ids, parent (NULL for none), type, times and extra
 * members. */
static cJSON *mkt(const char *tid, const char *id, const char *parent,
                  const char *type, int64_t start, int64_t end,
                  const char *extra) {
  char buf[4096];
  char par[64] = "";
  if (parent)
    snprintf(par, sizeof par, "\"parent_id\":\"%s\",", parent);
  snprintf(buf, sizeof buf,
           "{\"v\":1,\"kind\":\"observation\",\"id\":\"%s\",\"trace_id\":"
           "\"%s\",%s\"type\":\"%s\",\"start_ns\":\"%" PRId64
           "\",\"end_ns\":\"%" PRId64 "\"%s%s}",
           id, tid, par, type, start, end, extra ? "," : "",
           extra ? extra : "");
  return th_json(buf);
}

static cJSON *mk(const char *tid, const char *id, const char *parent,
                 int64_t start, int64_t end, const char *extra) {
  return mkt(tid, id, parent, "span", start, end, extra);
}

static cJSON *marker(const char *tid, const char *parent, int64_t start,
                     long pid) {
  char buf[512];
  snprintf(buf, sizeof buf,
           "{\"trace_id\":\"%s\",\"parent_id\":\"%s\",\"type\":\"span\","
           "\"name\":\"open\",\"start_ns\":\"%" PRId64
           "\",\"process\":{\"pid\":%ld}}",
           tid, parent, start, pid);
  return th_json(buf);
}

static int never_alive(long pid, int64_t start) {
  (void)pid;
  (void)start;
  return 0;
}

static int always_alive(long pid, int64_t start) {
  (void)pid;
  (void)start;
  return 1;
}

static const struct obs *find(const struct trace *t, const char *id) {
  for (size_t i = 0; i < t->nobs; i++)
    if (strcmp(t->obs[i].id, id) == 0)
      return &t->obs[i];
  cr_assert_fail("no observation %s", id);
  return NULL;
}

/* The ids in pre-order, "a b c". */
static void preorder(const struct trace *t, char *buf, size_t len) {
  buf[0] = '\0';
  for (size_t k = 0; k < t->nobs; k++) {
    const struct obs *o = &t->obs[t->order[k]];
    char one[40];
    snprintf(one, sizeof one, "%s%.4s@%u", k ? " " : "", o->id, o->depth);
    strncat(buf, one, len - strlen(buf) - 1);
  }
}

Test(traces, children_nest_under_parents_in_start_order) {
  struct trace_set ts;
  trace_set_init(&ts);
  /* Arrival order differs from start order on purpose. */
  trace_set_add_record(
      &ts, mk(T1, "cccc000000000003", "aaaa000000000001", 300, 400, NULL), 3);
  trace_set_add_record(
      &ts, mk(T1, "bbbb000000000002", "aaaa000000000001", 200, 250, NULL), 2);
  trace_set_add_record(
      &ts, mk(T1, "dddd000000000004", "bbbb000000000002", 210, 220, NULL), 4);
  trace_set_add_record(&ts, mk(T1, "aaaa000000000001", NULL, 100, 500, NULL),
                       1);
  cr_assert_eq(trace_set_finish(&ts), 0);
  cr_assert_eq(ts.ntraces, 1);
  const struct trace *t = &ts.traces[0];
  char order[256];
  preorder(t, order, sizeof order);
  cr_expect_str_eq(order, "aaaa@0 bbbb@1 dddd@2 cccc@1");
  cr_expect_eq(t->start_ns, 100);
  cr_expect_eq(t->end_ns, 500);
  trace_set_free(&ts);
}

Test(traces, orphans_become_roots_and_bad_parents_are_ignored) {
  struct trace_set ts;
  trace_set_init(&ts);
  trace_set_add_record(
      &ts, mk(T1, "aaaa000000000001", "ffff00000000000f", 100, 200, NULL), 1);
  trace_set_add_record(
      &ts,
      mk(T1, "bbbb000000000002", NULL, 50, 60, "\"parent_id\":\"not-hex\""), 2);
  trace_set_add_record(
      &ts, mk(T1, "cccc000000000003", "cccc000000000003", 10, 20, NULL), 3);
  cr_assert_eq(trace_set_finish(&ts), 0);
  char order[256];
  preorder(&ts.traces[0], order, sizeof order);
  cr_expect_str_eq(order, "cccc@0 bbbb@0 aaaa@0",
                   "missing, malformed and self parents all make roots");
  trace_set_free(&ts);
}

Test(traces, parent_cycles_are_cut_not_lost) {
  struct trace_set ts;
  trace_set_init(&ts);
  trace_set_add_record(
      &ts, mk(T1, "aaaa000000000001", "bbbb000000000002", 100, 200, NULL), 1);
  trace_set_add_record(
      &ts, mk(T1, "bbbb000000000002", "aaaa000000000001", 150, 160, NULL), 2);
  trace_set_add_record(&ts, mk(T1, "cccc000000000003", NULL, 10, 20, NULL), 3);
  cr_assert_eq(trace_set_finish(&ts), 0);
  const struct trace *t = &ts.traces[0];
  char order[256];
  preorder(t, order, sizeof order);
  cr_expect_str_eq(order, "cccc@0 aaaa@0 bbbb@1");
  trace_set_free(&ts);
}

Test(traces, unreadable_records_are_counted_not_loaded) {
  struct trace_set ts;
  trace_set_init(&ts);
  cr_expect_eq(trace_set_add_record(&ts, th_json("{\"id\":1}"), 1), 1);
  cr_expect_eq(trace_set_add_record(&ts, th_json("[]"), 2), 1);
  cr_expect_eq(trace_set_add_record(&ts, NULL, 3), 1);
  cr_expect_eq(trace_set_add_record(
                   &ts,
                   th_json("{\"id\":\"aaaa000000000001\",\"trace_id\":\"" T1
                           "\",\"start_ns\":{},\"type\":[],\"usage\":7,"
                           "\"level\":3,\"output\":{\"x\":1}}"),
                   4),
               0, "wrong types elsewhere only make fields unknown");
  cr_assert_eq(trace_set_finish(&ts), 0);
  cr_expect_eq(ts.skipped, 3);
  cr_expect_eq(ts.nrecords, 1);
  cr_expect_eq(ts.traces[0].nobs, 1);
  cr_expect_str_eq(trace_status(&ts.traces[0]), "OK");
  trace_set_free(&ts);
}

Test(traces, dead_markers_close_at_their_last_descendant) {
  struct trace_set ts;
  trace_set_init(&ts);
  ts.alive = never_alive;
  trace_set_add_record(&ts, mk(T1, "aaaa000000000001", NULL, 100, 900, NULL),
                       1);
  trace_set_add_marker(&ts, "bbbb000000000002",
                       marker(T1, "aaaa000000000001", 200, 4242));
  trace_set_add_record(
      &ts, mk(T1, "cccc000000000003", "bbbb000000000002", 300, 400, NULL), 2);
  trace_set_add_record(
      &ts, mk(T1, "dddd000000000004", "cccc000000000003", 350, 700, NULL), 3);
  cr_assert_eq(trace_set_finish(&ts), 0);
  const struct trace *t = &ts.traces[0];
  const struct obs *m = find(t, "bbbb000000000002");
  cr_expect_eq(m->state, OBS_INCOMPLETE);
  cr_expect_eq(m->end_ns, 700, "the latest end below it, grandchildren too");
  cr_expect_str_eq(cJSON_GetObjectItem(m->rec, "end_ns")->valuestring, "700");
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(m->rec, "incomplete")));
  cr_expect_str_eq(cJSON_GetObjectItem(m->rec, "kind")->valuestring,
                   "observation");
  cr_expect_eq(m->depth, 1);
  cr_expect_eq(find(t, "dddd000000000004")->depth, 3);
  cr_expect_eq(t->n_incomplete, 1);
  cr_expect_str_eq(trace_status(t), "incomplete");
  trace_set_free(&ts);
}

Test(traces, a_childless_dead_marker_ends_where_it_started) {
  struct trace_set ts;
  trace_set_init(&ts);
  ts.alive = never_alive;
  trace_set_add_marker(&ts, "bbbb000000000002",
                       marker(T1, "aaaa000000000001", 200, 1));
  cr_assert_eq(trace_set_finish(&ts), 0);
  cr_expect_eq(ts.traces[0].obs[0].end_ns, 200);
  trace_set_free(&ts);
}

Test(traces, live_markers_stay_open) {
  struct trace_set ts;
  trace_set_init(&ts);
  ts.alive = always_alive;
  trace_set_add_marker(&ts, "bbbb000000000002",
                       marker(T1, "aaaa000000000001", 200, 1));
  cr_assert_eq(trace_set_finish(&ts), 0);
  const struct obs *m = &ts.traces[0].obs[0];
  cr_expect_eq(m->state, OBS_RUNNING);
  cr_expect_eq(m->end_ns, 0);
  cr_expect_null(cJSON_GetObjectItem(m->rec, "incomplete"));
  cr_expect_str_eq(trace_status(&ts.traces[0]), "open");
  trace_set_free(&ts);
}

Test(traces, a_finished_record_replaces_its_stale_marker) {
  struct trace_set ts;
  trace_set_init(&ts);
  ts.alive = never_alive;
  trace_set_add_marker(&ts, "aaaa000000000001",
                       th_json("{\"trace_id\":\"" T1 "\",\"start_ns\":\"1\"}"));
  trace_set_add_record(&ts, mk(T1, "aaaa000000000001", NULL, 1, 9, NULL), 5);
  cr_assert_eq(trace_set_finish(&ts), 0);
  cr_expect_eq(ts.traces[0].nobs, 1);
  cr_expect_eq(ts.traces[0].obs[0].marker, 0);
  cr_expect_eq(ts.traces[0].obs[0].end_ns, 9);
  cr_expect_str_eq(trace_status(&ts.traces[0]), "OK");
  trace_set_free(&ts);
}

Test(traces, the_marker_key_supplies_a_missing_id) {
  struct trace_set ts;
  trace_set_init(&ts);
  ts.alive = never_alive;
  cr_expect_eq(trace_set_add_marker(&ts, "abcdef0123456789",
                                    th_json("{\"trace_id\":\"" T1 "\"}")),
               0);
  cr_expect_eq(
      trace_set_add_marker(&ts, "bad", th_json("{\"trace_id\":\"" T1 "\"}")),
      1);
  cr_assert_eq(trace_set_finish(&ts), 0);
  cr_expect_str_eq(ts.traces[0].obs[0].id, "abcdef0123456789");
  trace_set_free(&ts);
}

Test(traces, summaries_add_tokens_cost_and_levels) {
  struct trace_set ts;
  trace_set_init(&ts);
  trace_set_add_record(&ts,
                       mk(T1, "aaaa000000000001", NULL, 100, 1000,
                          "\"trace_name\":\"agent\",\"session_id\":"
                          "\"s\",\"usage\":{\"input_tokens\":99}"),
                       1);
  trace_set_add_record(&ts,
                       mkt(T1, "bbbb000000000002", "aaaa000000000001",
                           "generation", 200, 300,
                           "\"usage\":{\"input_tokens\":9,"
                           "\"output_tokens\":3},\"cost_details\":{"
                           "\"total\":0.25}"),
                       2);
  trace_set_add_record(&ts,
                       mkt(T1, "cccc000000000003", "aaaa000000000001",
                           "embedding", 400, 450,
                           "\"usage\":{\"input_tokens\":5},\"level\":"
                           "\"WARNING\""),
                       3);
  trace_set_add_record(&ts,
                       mkt(T1, "dddd000000000004", "aaaa000000000001",
                           "generation", 500, 600, "\"level\":\"ERROR\""),
                       4);
  cr_assert_eq(trace_set_finish(&ts), 0);
  const struct trace *t = &ts.traces[0];
  cr_expect_str_eq(t->name, "agent");
  cr_expect_str_eq(t->session_id, "s");
  cr_expect_eq(t->n_generations, 2);
  cr_expect_eq(t->n_embeddings, 1);
  cr_expect_eq(t->tokens_total, 17, "a span's usage is not an LLM call's");
  cr_expect_eq(t->tokens_in, 14);
  cr_expect_eq(t->tokens_out, 3);
  cr_expect_eq(t->llm_ns, 100 + 50 + 100);
  cr_expect_eq(t->n_priced, 1);
  cr_expect_eq(t->n_unpriced, 1,
               "the embedding used tokens without a price; the failed call "
               "used none");
  cr_expect_float_eq(t->cost_usd, 0.25, 1e-12);
  cr_expect_eq(t->n_error, 1);
  cr_expect_eq(t->n_warning, 1);
  cr_expect_str_eq(trace_status(t), "ERROR");
  trace_set_free(&ts);
}

Test(traces, the_name_falls_back_to_the_root_span) {
  struct trace_set ts;
  trace_set_init(&ts);
  trace_set_add_record(
      &ts, mk(T1, "aaaa000000000001", NULL, 100, 1000, "\"name\":\"python3\""),
      1);
  cr_assert_eq(trace_set_finish(&ts), 0);
  cr_expect_str_eq(ts.traces[0].name, "python3");
  trace_set_free(&ts);
}

Test(traces, traces_sort_newest_first) {
  struct trace_set ts;
  trace_set_init(&ts);
  trace_set_add_record(&ts, mk(T1, "aaaa000000000001", NULL, 100, 200, NULL),
                       1);
  trace_set_add_record(&ts, mk(T2, "bbbb000000000002", NULL, 500, 600, NULL),
                       2);
  trace_set_add_record(&ts,
                       mk("2cf7651916cd43dd8448eb211c80319e",
                          "cccc000000000003", NULL, 300, 400, NULL),
                       3);
  cr_assert_eq(trace_set_finish(&ts), 0);
  cr_assert_eq(ts.ntraces, 3);
  cr_expect_str_eq(ts.traces[0].id, T2);
  cr_expect_str_eq(ts.traces[1].id, "2cf7651916cd43dd8448eb211c80319e");
  cr_expect_str_eq(ts.traces[2].id, T1);
  trace_set_free(&ts);
}

Test(traces, trace_ids_group_case_insensitively) {
  struct trace_set ts;
  trace_set_init(&ts);
  trace_set_add_record(&ts, mk(T1, "aaaa000000000001", NULL, 1, 2, NULL), 1);
  trace_set_add_record(&ts,
                       mk("0AF7651916CD43DD8448EB211C80319C",
                          "bbbb000000000002", NULL, 1, 2, NULL),
                       2);
  cr_assert_eq(trace_set_finish(&ts), 0);
  cr_expect_eq(ts.ntraces, 1);
  cr_expect_str_eq(ts.traces[0].id, T1);
  trace_set_free(&ts);
}

/* 10,000 observations, every one a child of the previous: the deepest
 * shape there is. Building must stay near-linear and never recurse. */
Test(traces, ten_thousand_deep_observations_build_fast, .timeout = 20) {
  struct trace_set ts;
  trace_set_init(&ts);
  char id[17], parent[17];
  for (int i = 0; i < 10000; i++) {
    snprintf(id, sizeof id, "%016x", i + 1);
    snprintf(parent, sizeof parent, "%016x", i);
    trace_set_add_record(
        &ts, mk(T1, id, i ? parent : NULL, 1000 + i, 100000 - i, NULL),
        (uint64_t)i + 1);
  }
  int64_t t0 = at_mono_ns();
  cr_assert_eq(trace_set_finish(&ts), 0);
  int64_t took = at_mono_ns() - t0;
  const struct trace *t = &ts.traces[0];
  cr_expect_eq(t->nobs, 10000);
  cr_expect_eq(t->obs[t->order[9999]].depth, 9999);
  cr_expect_lt(took, 2000000000LL, "took %lld ns", (long long)took);
  trace_set_free(&ts);
}

/* And 10,000 siblings (a long agent loop under one root). */
Test(traces, ten_thousand_siblings_build_fast, .timeout = 20) {
  struct trace_set ts;
  trace_set_init(&ts);
  trace_set_add_record(&ts, mk(T1, "ffff000000000000", NULL, 1, 999999, NULL),
                       1);
  char id[17];
  for (int i = 0; i < 10000; i++) {
    snprintf(id, sizeof id, "%016x", i + 1);
    /* reverse start order, so sorting matters */
    trace_set_add_record(
        &ts, mk(T1, id, "ffff000000000000", 20000 - i, 20001 - i, NULL),
        (uint64_t)i + 2);
  }
  int64_t t0 = at_mono_ns();
  cr_assert_eq(trace_set_finish(&ts), 0);
  int64_t took = at_mono_ns() - t0;
  const struct trace *t = &ts.traces[0];
  cr_expect_str_eq(t->obs[t->order[1]].id, "0000000000002710",
                   "the earliest child comes first");
  cr_expect_lt(took, 2000000000LL, "took %lld ns", (long long)took);
  trace_set_free(&ts);
}

Test(traces, pid_liveness) {
  cr_expect(trace_pid_alive((long)getpid(), at_wall_ns()));
  cr_expect_not(trace_pid_alive(0, 0));
  cr_expect_not(trace_pid_alive(-5, 0));
  /* Our pid, but the span claims to have started long before this process:
   * the pid was reused, the span's process is gone. */
  cr_expect_not(trace_pid_alive((long)getpid(), 1000000000LL));
}
