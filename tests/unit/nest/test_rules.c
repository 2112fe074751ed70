/* Single rules of docs/nesting.md: wire-visible links and sessions, open
 * markers while work runs, the memory bounds. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *s_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void expect_tree(struct world *w, const char *want) {
  char *got = world_render(w);
  cr_assert_str_eq(got, want, "tree:\n%s\nwanted:\n%s", got, want);
  free(got);
}

static cJSON *record(struct world *w, const char *label, const char *input,
                     const char *output, int ms) {
  cJSON *rec = cJSON_CreateObject();
  char buf[32];
  cJSON_AddStringToObject(rec, "type", "generation");
  cJSON_AddStringToObject(rec, "name", label);
  snprintf(buf, sizeof buf, "%lld", (long long)w->now);
  cJSON_AddStringToObject(rec, "start_ns", buf);
  w->now += ms * MS;
  snprintf(buf, sizeof buf, "%lld", (long long)w->now);
  cJSON_AddStringToObject(rec, "end_ns", buf);
  cJSON_AddItemToObject(rec, "input", cJSON_Parse(input));
  cJSON_AddItemToObject(rec, "output", cJSON_Parse(output));
  cJSON_AddStringToObject(rec, "level", "DEFAULT");
  return rec;
}

/* The Responses API sends only what is new, naming the answer it goes on
 * from: the link alone threads the conversation and its tool call. */
Test(rules, responses_previous_response_id) {
  struct world w;
  world_init(&w, 0, "resp");
  cJSON *r1 = record(
      &w, "r1",
      "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":"
      "\"Weather?\"}]}]",
      "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"tool_call\",\"id\":"
      "\"fc_1\",\"name\":\"weather\",\"arguments\":{}}]}]",
      100);
  cJSON_AddStringToObject(r1, "response_id", "resp_1");
  nest_call(w.n, r1, 7, NULL, 0);
  w.now += 20 * MS;
  cJSON *r2 = record(
      &w, "r2",
      "[{\"role\":\"tool\",\"parts\":[{\"type\":\"tool_call_response\","
      "\"id\":\"fc_1\",\"response\":\"sunny\"}]}]",
      "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":"
      "\"Sunny.\"}]}]",
      100);
  cJSON_AddItemToObject(r2, "metadata",
                        cJSON_Parse("{\"previous_response_id\":\"resp_1\"}"));
  nest_call(w.n, r2, 7, NULL, 0);
  nest_finish(w.n, w.now);
  expect_tree(&w, "trace 1\n"
                  "span resp\n"
                  "  generation r1\n"
                  "  tool weather\n"
                  "  generation r2\n");
  world_check(&w, NULL);
  world_free(&w);
}

/* A session id on the wire (Claude Code's header) is the session. */
Test(rules, wire_session_header) {
  struct world w;
  world_init(&w, 0, "claude");
  struct sim a;
  sim_init(&a, &w, 1);
  sim_user(&a, "hi");
  cJSON *rec = cJSON_CreateObject();
  /* sim_llm builds the record; add the header through a raw call */
  cJSON_AddStringToObject(rec, "type", "generation");
  cJSON_AddStringToObject(rec, "name", "g1");
  cJSON_AddStringToObject(rec, "start_ns", "1700000000000000000");
  cJSON_AddStringToObject(rec, "end_ns", "1700000000100000000");
  cJSON_AddItemToObject(rec, "input", cJSON_Duplicate(a.history, 1));
  cJSON_AddItemToObject(
      rec, "output",
      cJSON_Parse("[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\","
                  "\"content\":\"hello\"}]}]"));
  cJSON_AddItemToObject(
      rec, "http",
      cJSON_Parse("{\"request_headers\":{\"x-claude-code-session-id\":"
                  "\"5f1a-sess\"}}"));
  nest_call(w.n, rec, 1, NULL, 0);
  nest_finish(w.n, w.now);
  cJSON *r;
  cJSON_ArrayForEach(r, w.records) {
    cr_assert_str_eq(s_of(r, "session_id"), "5f1a-sess", "%s", s_of(r, "name"));
  }
  world_check(&w, NULL);
  sim_free(&a);
  world_free(&w);
}

/* While a tool runs, the root and the tool are open markers (what a
 * reader closes as incomplete if the process dies); nothing stays open
 * after finish. */
Test(rules, open_markers_while_work_runs) {
  struct world w;
  world_init(&w, 0, "m");
  struct sim a;
  sim_init(&a, &w, 1);
  sim_user(&a, "go");
  sim_llm(&a, "g1", 10, NULL, "run:c1:{}", NULL);
  cr_assert_eq(cJSON_GetArraySize(w.open), 2, "root and tool open");
  cr_assert_eq(cJSON_GetArraySize(w.records), 1, "the generation is written");
  cJSON *m;
  int tools = 0, roots = 0;
  cJSON_ArrayForEach(m, w.open) {
    cr_assert_null(cJSON_GetObjectItem(m, "end_ns"), "a marker has no end");
    tools += strcmp(s_of(m, "type"), "tool") == 0;
    roots += strcmp(s_of(m, "type"), "span") == 0;
  }
  cr_assert_eq(tools, 1);
  cr_assert_eq(roots, 1);
  sim_tool_result(&a, "c1", "ok", 5);
  sim_llm(&a, "g2", 10, "done", NULL);
  cr_assert_eq(cJSON_GetArraySize(w.open), 1, "only the root still open");
  nest_finish(w.n, w.now);
  world_check(&w, NULL);
  sim_free(&a);
  world_free(&w);
}

/* A world whose engine has the bounds set in o (program "b"). */
static void bounded_world(struct world *w, struct nest_opts *o) {
  world_init(w, 0, "b");
  nest_free(w->n);
  snprintf(o->program, sizeof o->program, "b");
  struct nest_sink s;
  test_sink(w, &s);
  w->n = nest_new(o, &s);
  cr_assert_not_null(w->n);
}

/* Past the bound of conversations the oldest is forgotten and counted; its
 * continuation is then a conversation of its own. */
Test(rules, conversation_bound) {
  struct world w;
  struct nest_opts o = {0};
  o.max_conversations = 2;
  bounded_world(&w, &o);
  struct sim c[3];
  const char *q[3] = {"first", "second", "third"};
  for (int i = 0; i < 3; i++) {
    sim_init(&c[i], &w, 10 + i);
    sim_user(&c[i], q[i]);
    sim_llm(&c[i], q[i], 10, "ok", NULL);
  }
  struct nest_stats st;
  nest_get_stats(w.n, &st);
  cr_assert_eq(st.conversations_evicted, 1);
  sim_user(&c[0], "again");
  sim_llm(&c[0], "first-again", 10, "ok", NULL);
  nest_finish(w.n, w.now);
  /* "first" was forgotten: its next turn cannot be linked to it. */
  cJSON *a = world_find(&w, "first"), *b = world_find(&w, "first-again");
  cr_assert_str_neq(s_of(a, "trace_id"), s_of(b, "trace_id"));
  cr_assert_null(cJSON_GetObjectItem(b, "session_id"));
  world_check(&w, NULL);
  for (int i = 0; i < 3; i++)
    sim_free(&c[i]);
  world_free(&w);
}

/* Past the bound of open traces the least recently active one is closed
 * (written whole) and counted. */
Test(rules, trace_bound) {
  struct world w;
  struct nest_opts o = {0};
  o.max_traces = 2;
  bounded_world(&w, &o);
  struct sim c[3];
  const char *q[3] = {"first", "second", "third"};
  for (int i = 0; i < 3; i++) {
    sim_init(&c[i], &w, 10 + i);
    sim_user(&c[i], q[i]);
    sim_llm(&c[i], q[i], 10, "ok", NULL);
  }
  struct nest_stats st;
  nest_get_stats(w.n, &st);
  cr_assert_eq(st.traces_evicted, 1);
  cr_assert_eq(cJSON_GetArraySize(w.open), 2, "two roots still open");
  nest_finish(w.n, w.now);
  world_check(&w, NULL);
  for (int i = 0; i < 3; i++)
    sim_free(&c[i]);
  world_free(&w);
}

/* An idle free trace is closed by the tick; a pinned one waits for exit. */
Test(rules, idle_close) {
  struct world w;
  world_init(&w, 0, "idle");
  struct sim a;
  sim_init(&a, &w, 1);
  sim_user(&a, "hi");
  sim_llm(&a, "g1", 10, "hello", NULL);
  nest_tick(w.n, w.now + 60LL * 1000 * MS);
  cr_assert_eq(cJSON_GetArraySize(w.open), 1, "not idle yet");
  nest_tick(w.n, w.now + 601LL * 1000 * MS);
  cr_assert_eq(cJSON_GetArraySize(w.open), 0, "closed when idle");
  cr_assert_eq(cJSON_GetArraySize(w.records), 2);
  world_check(&w, NULL);
  sim_free(&a);
  world_free(&w);
}

/* Past the bound of remembered threads the least recently active one is
 * forgotten and counted; the table is only scanned as far as it was ever
 * filled, and a forgotten slot is used again before the bound is. */
Test(rules, thread_bound) {
  struct world w;
  struct nest_opts o = {0};
  o.max_threads = 3;
  bounded_world(&w, &o);
  struct nest_stats st;
  for (int i = 0; i < 3; i++)
    nest_thread(w.n, 201 + i, 100, w.now + (i + 1) * MS);
  nest_get_stats(w.n, &st);
  cr_assert_eq(st.threads_evicted, 0, "three threads fit in three slots");
  /* Told again about a thread it knows: no new slot. */
  nest_thread(w.n, 202, 100, w.now + 2 * MS);
  nest_get_stats(w.n, &st);
  cr_assert_eq(st.threads_evicted, 0);
  for (int i = 3; i < 5; i++)
    nest_thread(w.n, 201 + i, 100, w.now + (i + 1) * MS);
  nest_get_stats(w.n, &st);
  cr_assert_eq(st.threads_evicted, 2, "201 and 202 made room for 204, 205");
  /* Work on the remembered threads still nests: a call on 205 runs. */
  struct sim c;
  sim_init(&c, &w, 205);
  sim_user(&c, "hello");
  sim_llm(&c, "on-205", 10, "ok", NULL);
  nest_finish(w.n, w.now);
  cr_assert_not_null(world_find(&w, "on-205"));
  world_check(&w, NULL);
  sim_free(&c);
  world_free(&w);
}
