/* nest_bench: how much the nesting engine costs the worker per call.
 *
 * Feeds the engine (nest/nest.h) synthetic tool-loop conversations, many
 * at once and interleaved, each request carrying the whole history so far
 * (as clients send it), and reports calls per CPU-second and microseconds
 * per call for histories of a given length. What it measures is the
 * worker's time: the engine never runs on the app's threads.
 *
 *   build/bench/nest_bench [-t SECONDS]
 *
 * Cases: 64 conversations x 40 messages (short agent loops), 8 x 400
 * (long sessions: matching must stay O(messages), not O(history^2)). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "nest/nest.h"

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sink_record(void *ctx, cJSON *rec) {
  (*(uint64_t *)ctx)++;
  cJSON_Delete(rec);
}

static cJSON *text_msg(const char *role, const char *text) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", role);
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "text");
  cJSON_AddStringToObject(p, "content", text);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "parts"), p);
  return m;
}

static cJSON *call_msg(const char *id) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "assistant");
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "tool_call");
  cJSON_AddStringToObject(p, "id", id);
  cJSON_AddStringToObject(p, "name", "search");
  cJSON *a = cJSON_AddObjectToObject(p, "arguments");
  cJSON_AddStringToObject(a, "q", id);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "parts"), p);
  return m;
}

static cJSON *result_msg(const char *id) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "tool");
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "tool_call_response");
  cJSON_AddStringToObject(p, "id", id);
  cJSON_AddStringToObject(p, "response",
                          "a result of a few hundred bytes, as tools return "
                          "them: lorem ipsum dolor sit amet, consectetur "
                          "adipiscing elit, sed do eiusmod tempor incididunt");
  cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "parts"), p);
  return m;
}

/* One case: nconv conversations, each to nmsgs messages, interleaved.
 * Returns calls per CPU-second. */
static double run_case(int nconv, int nmsgs, double seconds, double *us) {
  uint64_t written = 0, calls = 0;
  double t0 = cpu_now(), spent = 0;
  int64_t now = 1700000000000000000LL;
  while (spent < seconds) {
    struct nest_opts o = {0};
    snprintf(o.program, sizeof o.program, "bench");
    struct nest_sink s = {&written, sink_record, NULL, NULL, NULL};
    struct nest *n = nest_new(&o, &s);
    cJSON **hist = calloc((size_t)nconv, sizeof *hist);
    for (int c = 0; c < nconv; c++) {
      hist[c] = cJSON_CreateArray();
      char q[64];
      snprintf(q, sizeof q, "question number %d", c);
      cJSON_AddItemToArray(hist[c], text_msg("system", "You are an agent."));
      cJSON_AddItemToArray(hist[c], text_msg("user", q));
    }
    double c0 = cpu_now();
    for (int step = 0; cJSON_GetArraySize(hist[0]) < nmsgs; step++) {
      for (int c = 0; c < nconv; c++) {
        char id[48], buf[32];
        snprintf(id, sizeof id, "call_%d_%d", c, step);
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "type", "generation");
        cJSON_AddStringToObject(rec, "name", "chat m");
        snprintf(buf, sizeof buf, "%lld", (long long)now);
        cJSON_AddStringToObject(rec, "start_ns", buf);
        now += 1000;
        snprintf(buf, sizeof buf, "%lld", (long long)now);
        cJSON_AddStringToObject(rec, "end_ns", buf);
        cJSON_AddItemToObject(rec, "input", cJSON_Duplicate(hist[c], 1));
        cJSON *out = cJSON_AddArrayToObject(rec, "output");
        cJSON_AddItemToArray(out, call_msg(id));
        cJSON_AddStringToObject(rec, "level", "DEFAULT");
        /* The copy of the history is the client's cost, not the
         * engine's: time only the call. */
        double a = cpu_now();
        nest_call(n, rec, 100 + c, NULL, 0);
        spent += cpu_now() - a;
        calls++;
        cJSON_AddItemToArray(hist[c], call_msg(id));
        cJSON_AddItemToArray(hist[c], result_msg(id));
      }
    }
    (void)c0;
    nest_finish(n, now);
    nest_free(n);
    for (int c = 0; c < nconv; c++)
      cJSON_Delete(hist[c]);
    free(hist);
  }
  (void)t0;
  *us = spent / (double)calls * 1e6;
  return (double)calls / spent;
}

int main(int argc, char **argv) {
  double seconds = 1.0;
  if (argc == 3 && strcmp(argv[1], "-t") == 0)
    seconds = atof(argv[2]);
  static const int cases[][2] = {{64, 40}, {8, 400}};
  printf("nest_bench: the nesting engine, per LLM call (worker CPU)\n");
  printf("  %-32s %14s %10s\n", "case", "calls/CPU-s", "us/call");
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    double us;
    double rate = run_case(cases[i][0], cases[i][1], seconds, &us);
    char name[64];
    snprintf(name, sizeof name, "%d conversations x %d messages", cases[i][0],
             cases[i][1]);
    printf("  %-32s %14.0f %10.1f\n", name, rate, us);
  }
  return 0;
}
