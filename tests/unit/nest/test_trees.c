/* The trees of docs/nesting.md: each case drives the engine as a program
 * would and compares the whole output (types, names, parents, order). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PROC_SPAN "b7ad6b7169203331"

static void expect_tree(struct world *w, const char *want) {
  char *got = world_render(w);
  cr_assert_str_eq(got, want, "tree:\n%s\nwanted:\n%s", got, want);
  free(got);
}

static const char *s_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* 1. A sequential tool loop, seen from the conversation alone. */
Test(trees, sequential_tool_loop) {
  struct world w;
  world_init(&w, 0, "weather-agent");
  struct sim a;
  sim_init(&a, &w, 100);
  sim_user(&a, "What should I wear in Paris today?");
  sim_llm(&a, "g1", 300, NULL, "get_weather:call_1:{\"city\":\"Paris\"}", NULL);
  sim_tool_result(&a, "call_1", "18C, rain", 40);
  sim_llm(&a, "g2", 200, NULL, "get_time:call_2:{}", NULL);
  sim_tool_result(&a, "call_2", "09:00", 10);
  sim_llm(&a, "g3", 250, "A raincoat.", NULL);
  nest_finish(w.n, w.now + 5 * MS);
  expect_tree(&w, "trace 1\n"
                  "span weather-agent\n"
                  "  generation g1\n"
                  "  tool get_weather\n"
                  "  generation g2\n"
                  "  tool get_time\n"
                  "  generation g3\n");
  world_check(&w, NULL);
  /* The tool: arguments from g1's output, result from g2's input, from
   * the end of g1 to the start of g2. */
  cJSON *tool = world_find(&w, "get_weather");
  cJSON *g1 = world_find(&w, "g1"), *g2 = world_find(&w, "g2");
  cr_assert_str_eq(s_of(tool, "start_ns"), s_of(g1, "end_ns"));
  cr_assert_str_eq(s_of(tool, "end_ns"), s_of(g2, "start_ns"));
  cr_assert_str_eq(s_of(cJSON_GetObjectItem(tool, "input"), "city"), "Paris");
  cr_assert_str_eq(cJSON_GetObjectItem(tool, "output")->valuestring,
                   "18C, rain");
  cr_assert_str_eq(s_of(tool, "operation"), "execute_tool");
  cr_assert_str_eq(s_of(cJSON_GetObjectItem(tool, "metadata"), "tool_call_id"),
                   "call_1");
  /* The root: first question, last answer, aggregates. */
  cJSON *root = world_find(&w, "weather-agent");
  cr_assert_str_eq(s_of(root, "id"), PROC_SPAN);
  cr_assert_str_eq(s_of(root, "trace_name"), "weather-agent");
  cJSON *meta = cJSON_GetObjectItem(root, "metadata");
  cr_assert_eq(cJSON_GetObjectItem(meta, "generations")->valueint, 3);
  cr_assert_eq(cJSON_GetObjectItem(meta, "input_tokens")->valueint, 30);
  const cJSON *in0 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "input"), 0);
  cr_assert_str_eq(
      s_of(cJSON_GetArrayItem(cJSON_GetObjectItem(in0, "parts"), 0), "content"),
      "What should I wear in Paris today?");
  cr_assert_str_eq(s_of(root, "end_ns"), s_of(world_find(&w, "g3"), "end_ns"));
  sim_free(&a);
  world_free(&w);
}

/* 2. Planner/executor: named functions become spans. */
Test(trees, planner_executor_spans) {
  struct world w;
  world_init(&w, 0, "planner");
  struct sim a;
  sim_init(&a, &w, 100);
  sim_user(&a, "Book a trip");
  sim_frames(&a, "main", "run_agent", "plan", "ask_model", NULL);
  sim_llm(&a, "plan-1", 100, "1. flight 2. hotel", NULL);
  sim_user(&a, "Do step 1");
  sim_frames(&a, "main", "run_agent", "execute_step", "ask_model", NULL);
  sim_llm(&a, "exec-1", 100, NULL, "book_flight:c1:{\"to\":\"Rome\"}", NULL);
  sim_tool_result(&a, "c1", "booked", 20);
  sim_llm(&a, "exec-2", 100, "flight booked", NULL);
  sim_user(&a, "Do step 2");
  sim_llm(&a, "exec-3", 100, "hotel booked", NULL);
  sim_user(&a, "Summarize");
  sim_frames(&a, "main", "run_agent", "summarize", "ask_model", NULL);
  sim_llm(&a, "sum-1", 100, "done", NULL);
  nest_finish(w.n, w.now);
  /* Pinned or not, turns of one conversation in a free process are
   * traces of their own; here each "Do step" is a new question, so the
   * planner's turns are four traces. */
  expect_tree(&w, "trace 1\n"
                  "span planner\n"
                  "  span run_agent\n"
                  "    span plan\n"
                  "      generation plan-1\n"
                  "trace 2\n"
                  "span planner\n"
                  "  span run_agent\n"
                  "    span execute_step\n"
                  "      generation exec-1\n"
                  "      tool book_flight\n"
                  "      generation exec-2\n"
                  "trace 3\n"
                  "span planner\n"
                  "  span run_agent\n"
                  "    span execute_step\n"
                  "      generation exec-3\n"
                  "trace 4\n"
                  "span planner\n"
                  "  span run_agent\n"
                  "    span summarize\n"
                  "      generation sum-1\n");
  world_check(&w, NULL);
  cr_assert_str_eq(s_of(world_find(&w, "plan-1"), "trace_name"), "run_agent");
  sim_free(&a);
  world_free(&w);
}

/* 2b. The same program with its context pinned (autotrace run, or a
 * TRACEPARENT): one trace, the steps as spans opened and closed as the
 * program moves between them. */
Test(trees, planner_executor_pinned) {
  struct world w;
  world_init(&w, 1, "planner");
  struct sim a;
  sim_init(&a, &w, 100);
  sim_user(&a, "Book a trip");
  sim_frames(&a, "main", "run_agent", "plan", "ask_model", NULL);
  sim_llm(&a, "plan-1", 100, "1. flight 2. hotel", NULL);
  sim_user(&a, "Do step 1");
  sim_frames(&a, "main", "run_agent", "execute_step", "ask_model", NULL);
  sim_llm(&a, "exec-1", 100, NULL, "book_flight:c1:{\"to\":\"Rome\"}", NULL);
  sim_tool_result(&a, "c1", "booked", 20);
  sim_llm(&a, "exec-2", 100, "flight booked", NULL);
  sim_frames(&a, "main", "run_agent", "summarize", "ask_model", NULL);
  sim_user(&a, "Summarize");
  sim_llm(&a, "sum-1", 100, "done", NULL);
  nest_finish(w.n, w.now + 1000 * MS);
  expect_tree(&w, "trace 1\n"
                  "span planner\n"
                  "  span run_agent\n"
                  "    span plan\n"
                  "      generation plan-1\n"
                  "    span execute_step\n"
                  "      generation exec-1\n"
                  "      tool book_flight\n"
                  "      generation exec-2\n"
                  "    span summarize\n"
                  "      generation sum-1\n");
  world_check(&w, NULL);
  /* A span ends with its last child; the pinned root at exit. */
  cJSON *plan = world_find(&w, "plan");
  cr_assert_str_eq(s_of(plan, "end_ns"),
                   s_of(world_find(&w, "plan-1"), "end_ns"));
  cr_assert_str_eq(s_of(world_find(&w, "execute_step"), "end_ns"),
                   s_of(world_find(&w, "exec-2"), "end_ns"));
  cJSON *root = world_find(&w, "planner");
  cr_assert_eq(strtoll(s_of(root, "end_ns"), NULL, 10), w.now + 1000 * MS);
  sim_free(&a);
  world_free(&w);
}

/* 3. Parallel tool calls, each run on a thread of its own. */
Test(trees, parallel_tools_on_threads) {
  struct world w;
  world_init(&w, 0, "par");
  struct sim a;
  sim_init(&a, &w, 100);
  sim_user(&a, "Weather in three cities");
  sim_llm(&a, "g1", 100, NULL, "weather:ca:{\"city\":\"Paris\"}",
          "weather:cb:{\"city\":\"Rome\"}", "weather:cc:{\"city\":\"Oslo\"}",
          NULL);
  nest_thread(w.n, 201, 100, w.now + 1 * MS);
  nest_thread(w.n, 202, 100, w.now + 2 * MS);
  nest_thread(w.n, 203, 100, w.now + 3 * MS);
  sim_tool_result(&a, "ca", "18C", 0);
  sim_tool_result(&a, "cb", "25C", 0);
  sim_tool_result(&a, "cc", "3C", 30);
  sim_llm(&a, "g2", 100, "Pack for all weathers.", NULL);
  nest_finish(w.n, w.now);
  expect_tree(&w, "trace 1\n"
                  "span par\n"
                  "  generation g1\n"
                  "  tool weather\n"
                  "  tool weather\n"
                  "  tool weather\n"
                  "  generation g2\n");
  world_check(&w, NULL);
  sim_free(&a);
  world_free(&w);
}

/* 4a. A sub-agent on a thread the tool started. */
Test(trees, subagent_in_thread) {
  struct world w;
  world_init(&w, 0, "boss");
  struct sim a, sub;
  sim_init(&a, &w, 100);
  sim_init(&sub, &w, 201);
  sim_user(&a, "Research Rome");
  sim_llm(&a, "g1", 100, NULL, "research:r1:{\"topic\":\"Rome\"}", NULL);
  nest_thread(w.n, 201, 100, w.now + 1 * MS);
  sim_wait(&w, 5);
  sim_frames(&sub, "research_worker", "run_sub_agent", "ask_model", NULL);
  sim_user(&sub, "Find facts about Rome");
  sim_llm(&sub, "s1", 100, NULL, "search:q1:{\"q\":\"Rome\"}", NULL);
  sim_tool_result(&sub, "q1", "Rome is the capital of Italy", 20);
  sim_llm(&sub, "s2", 100, "Rome is Italy's capital.", NULL);
  sim_tool_result(&a, "r1", "Rome is Italy's capital.", 5);
  sim_llm(&a, "g2", 100, "Done.", NULL);
  nest_finish(w.n, w.now);
  expect_tree(&w, "trace 1\n"
                  "span boss\n"
                  "  generation g1\n"
                  "  tool research\n"
                  "    agent research_worker\n"
                  "      span run_sub_agent\n"
                  "        generation s1\n"
                  "        tool search\n"
                  "        generation s2\n"
                  "  generation g2\n");
  world_check(&w, NULL);
  cJSON *agent = world_find(&w, "research_worker");
  cr_assert_str_eq(s_of(agent, "operation"), "invoke_agent");
  cr_assert_eq(
      cJSON_GetObjectItem(cJSON_GetObjectItem(agent, "metadata"), "generations")
          ->valueint,
      2);
  sim_free(&a);
  sim_free(&sub);
  world_free(&w);
}

/* 4b. A sub-agent run by the tool on the caller's own thread, and a thread
 * created before the work (a pool) that does not get attached. */
Test(trees, subagent_same_thread_and_pool) {
  struct world w;
  world_init(&w, 0, "boss");
  struct sim a, sub, pool;
  sim_init(&a, &w, 100);
  sim_init(&sub, &w, 100);
  sim_init(&pool, &w, 300);
  nest_thread(w.n, 300, 100, w.now); /* created before any work */
  sim_user(&a, "Summarize the report");
  sim_llm(&a, "g1", 100, NULL, "summarize:t1:{\"doc\":\"report.txt\"}", NULL);
  sim_user(&sub, "Summarize this text: ...");
  sim_llm(&sub, "s1", 100, "short summary", NULL);
  sim_user(&pool, "Unrelated background question");
  sim_llm(&pool, "p1", 50, "background answer", NULL);
  sim_tool_result(&a, "t1", "short summary", 5);
  sim_llm(&a, "g2", 100, "Here it is.", NULL);
  nest_finish(w.n, w.now);
  expect_tree(&w, "trace 1\n"
                  "span boss\n"
                  "  generation g1\n"
                  "  tool summarize\n"
                  "    agent summarize\n"
                  "      generation s1\n"
                  "  generation g2\n"
                  "trace 2\n"
                  "span boss\n"
                  "  generation p1\n");
  world_check(&w, NULL);
  sim_free(&a);
  sim_free(&sub);
  sim_free(&pool);
  world_free(&w);
}

/* 4c. A sub-agent in a child process (fork + exec): the parent writes the
 * spawn under the pending tool; the child, pinned by TRACEPARENT, writes
 * its process span under it. */
static const char *const SPAWNED = "00f067aa0ba902b7";

Test(trees, subagent_in_child_process) {
  struct world w;
  world_init(&w, 0, "boss");
  struct sim a;
  sim_init(&a, &w, 100);
  sim_user(&a, "Delegate the search");
  sim_llm(&a, "g1", 100, NULL, "delegate:d1:{\"task\":\"search\"}", NULL);
  nest_spawn(w.n, 100, w.now + 2 * MS, SPAWNED, "/usr/bin/child-agent");

  /* The child: its own engine, its context from TRACEPARENT. */
  struct world cw;
  world_init(&cw, 1, "child-agent");
  nest_free(cw.n);
  struct nest_opts o = {0};
  o.pinned = 1;
  snprintf(o.proc_trace_id, sizeof o.proc_trace_id, "%s",
           "0af7651916cd43dd8448eb211c80319c");
  snprintf(o.proc_span_id, sizeof o.proc_span_id, "%s", "1111111111111111");
  snprintf(o.proc_parent_id, sizeof o.proc_parent_id, "%s", SPAWNED);
  o.proc_start_ns = w.now + 3 * MS;
  snprintf(o.program, sizeof o.program, "child-agent");
  struct nest_sink s;
  test_sink(&cw, &s);
  cw.n = nest_new(&o, &s);
  cw.now = w.now + 3 * MS;
  struct sim c;
  sim_init(&c, &cw, 500);
  sim_user(&c, "search");
  sim_llm(&c, "c1", 100, "found it", NULL);
  nest_finish(cw.n, cw.now + 1 * MS);
  w.now = cw.now + 2 * MS;

  sim_tool_result(&a, "d1", "found it", 0);
  sim_llm(&a, "g2", 100, "Done.", NULL);
  nest_finish(w.n, w.now);
  world_check(&cw, SPAWNED);
  world_check(&w, NULL);
  /* One tree from both processes' records. */
  cJSON *r;
  cJSON_ArrayForEach(r, cw.records) {
    cJSON_AddItemToArray(w.records, cJSON_Duplicate(r, 1));
  }
  expect_tree(&w, "trace 1\n"
                  "span boss\n"
                  "  generation g1\n"
                  "  tool delegate\n"
                  "    agent child-agent\n"
                  "      span child-agent\n"
                  "        generation c1\n"
                  "  generation g2\n");
  sim_free(&a);
  sim_free(&c);
  world_free(&cw);
  world_free(&w);
}

/* 5. A multi-turn chat: one trace per turn, one session. */
Test(trees, multi_turn_chat) {
  struct world w;
  world_init(&w, 0, "chat");
  struct sim a;
  sim_init(&a, &w, 100);
  sim_user(&a, "Hi");
  sim_llm(&a, "t1", 100, "Hello!", NULL);
  sim_wait(&w, 3000);
  sim_user(&a, "What is 2+2?");
  sim_llm(&a, "t2", 100, "4", NULL);
  sim_wait(&w, 3000);
  sim_user(&a, "Thanks");
  sim_llm(&a, "t3", 100, "You're welcome.", NULL);
  nest_finish(w.n, w.now);
  expect_tree(&w, "trace 1\n"
                  "span chat\n"
                  "  generation t1\n"
                  "trace 2\n"
                  "span chat\n"
                  "  generation t2\n"
                  "trace 3\n"
                  "span chat\n"
                  "  generation t3\n");
  world_check(&w, NULL);
  /* One session: the first trace's id, on every trace's root. */
  const char *first = s_of(world_find(&w, "t1"), "trace_id");
  int roots = 0;
  cJSON *r;
  cJSON_ArrayForEach(r, w.records) {
    if (strcmp(s_of(r, "type"), "span") == 0) {
      roots++;
      cr_assert_str_eq(s_of(r, "session_id"), first);
    }
  }
  cr_assert_eq(roots, 3);
  cr_assert_str_eq(s_of(world_find(&w, "t3"), "session_id"), first);
  /* Each root: its own question and answer. */
  cJSON *t2 = world_find(&w, "t2");
  cJSON_ArrayForEach(r, w.records) {
    if (strcmp(s_of(r, "id"), s_of(t2, "parent_id")) == 0) {
      cJSON *q = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "input"), 0);
      cr_assert_str_eq(
          s_of(cJSON_GetArrayItem(cJSON_GetObjectItem(q, "parts"), 0),
               "content"),
          "What is 2+2?");
    }
  }
  sim_free(&a);
  world_free(&w);
}

/* 6. Two unrelated conversations interleaved on two threads. */
Test(trees, two_conversations_two_threads) {
  struct world w;
  world_init(&w, 0, "duo");
  struct sim a, b;
  sim_init(&a, &w, 201);
  sim_init(&b, &w, 202);
  nest_thread(w.n, 201, 100, w.now);
  nest_thread(w.n, 202, 100, w.now);
  sim_user(&a, "Weather in Paris?");
  sim_user(&b, "Stock price of ACME?");
  sim_llm(&a, "a1", 100, NULL, "weather:wa:{\"city\":\"Paris\"}", NULL);
  sim_llm(&b, "b1", 100, NULL, "stock:sb:{\"ticker\":\"ACME\"}", NULL);
  sim_tool_result(&a, "wa", "18C", 10);
  sim_llm(&a, "a2", 100, "18C in Paris.", NULL);
  sim_tool_result(&b, "sb", "$42", 10);
  sim_llm(&b, "b2", 100, "ACME is at $42.", NULL);
  nest_finish(w.n, w.now);
  expect_tree(&w, "trace 1\n"
                  "span duo\n"
                  "  generation a1\n"
                  "  tool weather\n"
                  "  generation a2\n"
                  "trace 2\n"
                  "span duo\n"
                  "  generation b1\n"
                  "  tool stock\n"
                  "  generation b2\n");
  world_check(&w, NULL);
  sim_free(&a);
  sim_free(&b);
  world_free(&w);
}

/* 7. A Python program's tool loop (no useful stack), as an Anthropic
 * client re-serialises it: the answer sent back as blocks, the tool
 * arguments with their keys in another order, the result as blocks in a
 * user message. */
static cJSON *J(const char *s) {
  cJSON *j = cJSON_Parse(s);
  cr_assert_not_null(j, "bad JSON in test: %s", s);
  return j;
}

static void call(struct world *w, const char *label, int ms, const char *input,
                 const char *output) {
  cJSON *rec = cJSON_CreateObject();
  char buf[32];
  cJSON_AddStringToObject(rec, "type", "generation");
  cJSON_AddStringToObject(rec, "name", label);
  snprintf(buf, sizeof buf, "%lld", (long long)w->now);
  cJSON_AddStringToObject(rec, "start_ns", buf);
  w->now += ms * MS;
  snprintf(buf, sizeof buf, "%lld", (long long)w->now);
  cJSON_AddStringToObject(rec, "end_ns", buf);
  cJSON_AddItemToObject(rec, "input", J(input));
  if (output)
    cJSON_AddItemToObject(rec, "output", J(output));
  cJSON_AddStringToObject(rec, "level", output ? "DEFAULT" : "ERROR");
  nest_call(w->n, rec, 42, NULL, 0);
}

Test(trees, python_tool_loop_reserialised) {
  struct world w;
  world_init(&w, 0, "agent.py");
  const char *sys =
      "{\"role\":\"system\",\"parts\":[{\"type\":\"text\",\"content\":\"Be "
      "brief.\"}]}";
  const char *q = "{\"role\":\"user\",\"parts\":[{\"type\":\"text\","
                  "\"content\":\"Weather in Paris?\"}]}";
  char in1[1024], in2[2048], in3[4096];
  snprintf(in1, sizeof in1, "[%s,%s]", sys, q);
  call(&w, "g1", 100, in1,
       "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"reasoning\","
       "\"content\":\"think\"},{\"type\":\"text\",\"content\":\"Let me "
       "check.\"},{\"type\":\"tool_call\",\"id\":\"toolu_1\",\"name\":"
       "\"weather\",\"arguments\":{\"city\":\"Paris\",\"unit\":\"C\"}}],"
       "\"finish_reason\":\"tool_use\"}]");
  w.now += 30 * MS;
  /* Sent back: no reasoning, trailing blank in the text, keys reordered,
   * the result as a block list, with a text block beside it. */
  snprintf(in2, sizeof in2,
           "[%s,%s,{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\","
           "\"content\":\"Let me check. \"},{\"type\":\"tool_call\",\"id\":"
           "\"toolu_1\",\"name\":\"weather\",\"arguments\":{\"unit\":\"C\","
           "\"city\":\"Paris\"}}]},{\"role\":\"user\",\"parts\":[{\"type\":"
           "\"tool_call_response\",\"id\":\"toolu_1\",\"response\":[{"
           "\"type\":\"text\",\"content\":\"18C\"}]},{\"type\":\"text\","
           "\"content\":\"<reminder>be brief</reminder>\"}]}]",
           sys, q);
  call(&w, "g2", 100, in2,
       "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"tool_call\",\"id\":"
       "\"toolu_2\",\"name\":\"umbrella\",\"arguments\":{}}]}]");
  w.now += 30 * MS;
  /* The next request: the earlier result now as a plain string. */
  snprintf(in3, sizeof in3,
           "[%s,%s,{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\","
           "\"content\":\"Let me check.\"},{\"type\":\"tool_call\",\"id\":"
           "\"toolu_1\",\"name\":\"weather\",\"arguments\":{\"city\":"
           "\"Paris\",\"unit\":\"C\"}}]},{\"role\":\"user\",\"parts\":[{"
           "\"type\":\"tool_call_response\",\"id\":\"toolu_1\",\"response\":"
           "\"18C\"},{\"type\":\"text\",\"content\":\"<reminder>be "
           "brief</reminder>\"}]},{\"role\":\"assistant\",\"parts\":[{"
           "\"type\":\"tool_call\",\"id\":\"toolu_2\",\"name\":\"umbrella\","
           "\"arguments\":\"\"}]},{\"role\":\"user\",\"parts\":[{\"type\":"
           "\"tool_call_response\",\"id\":\"toolu_2\",\"response\":\"yes\"}]}]",
           sys, q);
  call(&w, "g3", 100, in3,
       "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":"
       "\"18C, take an umbrella.\"}]}]");
  nest_finish(w.n, w.now);
  expect_tree(&w, "trace 1\n"
                  "span agent.py\n"
                  "  generation g1\n"
                  "  tool weather\n"
                  "  generation g2\n"
                  "  tool umbrella\n"
                  "  generation g3\n");
  world_check(&w, NULL);
  world_free(&w);
}

/* 8. Must not fire: one function calling the model twice with unrelated
 * prompts. Free: two traces; pinned: two siblings, nothing between. */
static void twice_unrelated(struct world *w) {
  struct sim a, b;
  sim_init(&a, w, 100);
  sim_init(&b, w, 100);
  sim_frames(&a, "main", "classify", "ask_model", NULL);
  sim_frames(&b, "main", "classify", "ask_model", NULL);
  sim_user(&a, "Is this spam: buy now");
  sim_llm(&a, "q1", 100, NULL, "flag:f1:{\"label\":\"spam\"}", NULL);
  sim_wait(w, 10);
  sim_user(&b, "Is this spam: meeting at 3");
  sim_llm(&b, "q2", 100, "no", NULL);
  nest_finish(w->n, w->now);
  sim_free(&a);
  sim_free(&b);
}

Test(trees, unrelated_prompts_free) {
  struct world w;
  world_init(&w, 0, "classifier");
  twice_unrelated(&w);
  expect_tree(&w, "trace 1\n"
                  "span classifier\n"
                  "  span classify\n"
                  "    generation q1\n"
                  "trace 2\n"
                  "span classifier\n"
                  "  span classify\n"
                  "    generation q2\n");
  world_check(&w, NULL);
  world_free(&w);
}

Test(trees, unrelated_prompts_pinned) {
  struct world w;
  world_init(&w, 1, "classifier");
  twice_unrelated(&w);
  expect_tree(&w, "trace 1\n"
                  "span classifier\n"
                  "  span classify\n"
                  "    generation q1\n"
                  "    generation q2\n");
  world_check(&w, NULL);
  world_free(&w);
}

/* 9. Must not fire: retries of a failed request are one generation per
 * attempt, side by side under the one span that made them. */
Test(trees, retries_under_one_span) {
  struct world w;
  world_init(&w, 0, "retrier");
  struct sim a;
  sim_init(&a, &w, 100);
  sim_frames(&a, "main", "run", "fetch_answer", "http_post", NULL);
  sim_user(&a, "Weather?");
  sim_llm_fail(&a, "attempt-1", 50);
  sim_wait(&w, 100);
  sim_llm_fail(&a, "attempt-2", 50);
  sim_wait(&w, 200);
  sim_llm(&a, "attempt-3", 100, NULL, "weather:w1:{\"city\":\"Oslo\"}", NULL);
  sim_tool_result(&a, "w1", "3C", 10);
  sim_llm(&a, "final", 100, "3C.", NULL);
  nest_finish(w.n, w.now);
  expect_tree(&w, "trace 1\n"
                  "span retrier\n"
                  "  span run\n"
                  "    span fetch_answer\n"
                  "      generation attempt-1\n"
                  "      generation attempt-2\n"
                  "      generation attempt-3\n"
                  "      tool weather\n"
                  "      generation final\n");
  world_check(&w, NULL);
  sim_free(&a);
  world_free(&w);
}

/* 9b. The same without a stack (Python): still one trace. */
Test(trees, retries_without_stack) {
  struct world w;
  world_init(&w, 0, "retrier.py");
  struct sim a;
  sim_init(&a, &w, 100);
  sim_user(&a, "Weather?");
  sim_llm_fail(&a, "attempt-1", 50);
  sim_llm(&a, "attempt-2", 100, "Sunny.", NULL);
  nest_finish(w.n, w.now);
  expect_tree(&w, "trace 1\n"
                  "span retrier.py\n"
                  "  generation attempt-1\n"
                  "  generation attempt-2\n");
  world_check(&w, NULL);
  sim_free(&a);
  world_free(&w);
}

/* 10. Must not fire: the program edited its history (cut an old tool
 * result). The conversation is recognised (same trace), but no tool is
 * inferred from the edited part. */
Test(trees, edited_history_infers_nothing) {
  struct world w;
  world_init(&w, 0, "editor");
  struct sim a;
  sim_init(&a, &w, 100);
  sim_user(&a, "Read both files");
  sim_llm(&a, "g1", 100, NULL, "read:r1:{\"path\":\"a.txt\"}", NULL);
  sim_tool_result(&a, "r1", "a very long file content ...", 10);
  sim_llm(&a, "g2", 100, NULL, "read:r2:{\"path\":\"b.txt\"}", NULL);
  sim_tool_result(&a, "r2", "another long content ...", 10);
  /* The program shortens the first result before the next request. */
  cJSON *m = cJSON_GetArrayItem(a.history, 2);
  cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "parts"), 0);
  cJSON_ReplaceItemInObject(p, "response", cJSON_CreateString("[cut]"));
  sim_llm(&a, "g3", 100, "Both read.", NULL);
  nest_finish(w.n, w.now);
  expect_tree(&w, "trace 1\n"
                  "span editor\n"
                  "  generation g1\n"
                  "  tool read\n"
                  "  generation g2\n"
                  "  generation g3\n");
  world_check(&w, NULL);
  sim_free(&a);
  world_free(&w);
}
