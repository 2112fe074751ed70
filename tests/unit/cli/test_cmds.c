/* The commands end to end: a real spool in a temporary folder, the command
 * run as `autotrace CMD ...` would run it, its output checked. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/term.h"
#include "common/clock.h"
#include "helpers.h"

#define T1 "0af7651916cd43dd8448eb211c80319c"
#define T2 "1bf7651916cd43dd8448eb211c80319d"
#define T3 "1bf7000000000000000000000000000e"

static char *spool;

/* Three traces: T1 an agent with two generations (one failed) and a tool
 * span whose process died; T2 an embedding whose process still runs a
 * span; T3 a lone generation, the newest record. */
static void fill(void) {
  spool = th_tmpdir();
  int64_t now = at_wall_ns();
  char *recs[6];
  recs[0] = strdup(
      th_fmt("{\"v\":1,\"kind\":\"observation\",\"id\":\"b7ad6b7169203331\","
             "\"trace_id\":\"" T1 "\",\"type\":\"span\",\"name\":\"agent\","
             "\"start_ns\":\"%" PRId64 "\",\"end_ns\":\"%" PRId64 "\","
             "\"trace_name\":\"my-agent\",\"session_id\":\"sess-1\","
             "\"process\":{\"pid\":4242,\"exe\":\"/usr/bin/agent\"}}",
             now - 3000000000, now - 1000000000));
  recs[1] = strdup(th_fmt(
      "{\"v\":1,\"kind\":\"observation\",\"id\":\"6f1c2a9d0b3e4f51\","
      "\"trace_id\":\"" T1 "\",\"parent_id\":\"b7ad6b7169203331\","
      "\"type\":\"generation\",\"name\":\"chat gpt-4o-mini\","
      "\"start_ns\":\"%" PRId64 "\",\"end_ns\":\"%" PRId64 "\","
      "\"completion_start_ns\":\"%" PRId64 "\",\"provider\":\"openai\","
      "\"operation\":\"chat\",\"request_model\":\"gpt-4o-mini\","
      "\"output\":[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\","
      "\"content\":\"Paris is the capital.\\nMore.\"}]}],"
      "\"usage\":{\"input_tokens\":1000,\"output_tokens\":234},"
      "\"cost_details\":{\"total\":0.0042},\"level\":\"DEFAULT\","
      "\"process\":{\"pid\":4242,\"exe\":\"/usr/bin/agent\"}}",
      now - 2900000000, now - 2500000000, now - 2800000000));
  recs[2] = strdup(
      th_fmt("{\"v\":1,\"kind\":\"observation\",\"id\":\"7f1c2a9d0b3e4f52\","
             "\"trace_id\":\"" T1 "\",\"parent_id\":\"b7ad6b7169203331\","
             "\"type\":\"generation\",\"name\":\"chat claude-x\","
             "\"start_ns\":\"%" PRId64 "\",\"end_ns\":\"%" PRId64 "\","
             "\"provider\":\"anthropic\",\"level\":\"ERROR\","
             "\"status_message\":\"overloaded\",\"http\":{\"status\":529},"
             "\"process\":{\"pid\":4242,\"exe\":\"/usr/bin/agent\"}}",
             now - 2400000000, now - 2300000000));
  recs[3] = strdup(th_fmt(
      "{\"v\":1,\"kind\":\"observation\",\"id\":\"8f1c2a9d0b3e4f53\","
      "\"trace_id\":\"" T2 "\",\"type\":\"embedding\",\"name\":\"embeddings "
      "e\",\"start_ns\":\"%" PRId64 "\",\"end_ns\":\"%" PRId64 "\","
      "\"provider\":\"openai\",\"usage\":{\"input_tokens\":8}}",
      now - 900000000, now - 800000000));
  recs[4] = strdup("{\"this is\": \"not a record\"}");
  recs[5] = strdup(th_fmt(
      "{\"v\":1,\"kind\":\"observation\",\"id\":\"9f1c2a9d0b3e4f5a\","
      "\"trace_id\":\"" T3 "\",\"type\":\"generation\",\"name\":\"chat m\","
      "\"start_ns\":\"%" PRId64 "\",\"end_ns\":\"%" PRId64 "\"}",
      now - 950000000, now - 100000000));
  cr_assert_eq(th_spool_records(spool, (const char *const *)recs, 6), 0);
  for (int i = 0; i < 6; i++)
    free(recs[i]);
  /* A dead process's tool span, and our own (live) process's span. */
  cr_assert_eq(
      th_spool_marker(spool, "aaaa00000000000a",
                      th_fmt("{\"trace_id\":\"" T1 "\",\"parent_id\":"
                             "\"b7ad6b7169203331\",\"type\":\"tool\","
                             "\"name\":\"search\",\"start_ns\":\"%" PRId64
                             "\",\"process\":{\"pid\":999999999}}",
                             now - 2000000000)),
      0);
  cr_assert_eq(th_spool_marker(spool, "bbbb00000000000b",
                               th_fmt("{\"id\":\"bbbb00000000000b\","
                                      "\"trace_id\":\"" T2 "\",\"type\":"
                                      "\"span\",\"name\":\"worker\","
                                      "\"start_ns\":\"%" PRId64 "\","
                                      "\"process\":{\"pid\":%ld}}",
                                      now - 950000000, (long)getpid())),
               0);
  cr_assert_eq(th_spool_counter(spool, "captured", 4), 0);
  cr_assert_eq(th_spool_counter(spool, "dropped.queue_full", 3), 0);
  cr_assert_eq(th_spool_counter(spool, "skipped.not_llm", 10), 0);
  cr_assert_eq(th_spool_counter(spool, "skipped.unparsed_path", 2), 0);
  setenv("AUTOTRACE_SPOOL", spool, 1);
  unsetenv("NO_COLOR");
}

static void cleanup(void) {
  free(spool);
}

static int run(int (*fn)(int, char **), char **out, char **err, ...) {
  char *argv[32];
  int argc = 0;
  va_list ap;
  va_start(ap, err);
  for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
    argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;
  return th_capture(fn, argc, argv, out, err);
}

TestSuite(cmds, .init = fill, .fini = cleanup);

Test(cmds, ls_lists_newest_first) {
  char *out, *err;
  cr_assert_eq(run(cmd_ls, &out, &err, "ls", NULL), 0, "%s", err);
  char *a = strstr(out, "1bf700000000"), *b = strstr(out, "1bf7651916cd"),
       *c = strstr(out, "0af7651916cd");
  cr_assert(a && b && c, "%s", out);
  cr_expect(a < c, "newest first:\n%s", out);
  cr_expect(b < c, "newest first:\n%s", out);
  cr_expect(strstr(out, "my-agent") != NULL, "%s", out);
  cr_expect(strstr(c, "1,234") != NULL, "%s", out);
  cr_expect(strstr(c, "$0.0042") != NULL, "%s", out);
  cr_expect(strstr(c, "ERROR") != NULL, "%s", out);
  cr_expect(strstr(b, "open") != NULL, "a live span: %s", out);
  cr_expect(strstr(out, "\033[") == NULL, "no colour into a file");
  cr_expect(strstr(err, "skipped 1 unreadable record") != NULL, "%s", err);
  free(out);
  free(err);
  cr_assert_eq(run(cmd_ls, &out, NULL, "ls", "-n", "1", NULL), 0);
  cr_expect(strstr(out, "(2 more; -n 0 shows all)") != NULL, "%s", out);
  free(out);
}

Test(cmds, ls_json_has_full_ids) {
  char *out;
  cr_assert_eq(run(cmd_ls, &out, NULL, "ls", "--json", NULL), 0);
  cJSON *j = th_json(out);
  cr_assert_eq(cJSON_GetArraySize(j), 3);
  cJSON *last = cJSON_GetArrayItem(j, 2);
  cr_expect_str_eq(cJSON_GetObjectItem(last, "trace_id")->valuestring, T1);
  cr_expect_str_eq(cJSON_GetObjectItem(last, "status")->valuestring, "ERROR");
  cr_expect_eq(cJSON_GetObjectItem(last, "observation_count")->valueint, 4);
  cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(last, "cost_partial")));
  cJSON_Delete(j);
  free(out);
}

Test(cmds, show_draws_the_tree) {
  char *out, *err;
  cr_assert_eq(run(cmd_show, &out, &err, "show", "0af7", NULL), 0, "%s", err);
  cr_expect(strstr(out, "trace " T1 "  my-agent  ERROR\n") != NULL, "%s", out);
  cr_expect(strstr(out, "session sess-1") != NULL, "%s", out);
  cr_expect(strstr(out, "\nspan agent  2.00 s\n") != NULL, "%s", out);
  cr_expect(strstr(out, "\xe2\x94\x9c\xe2\x94\x80 generation chat gpt-4o-mini"
                        "  400 ms  1,000\xe2\x86\x92"
                        "234 tok  TTFT 100 ms  $0.0042  \"Paris is the "
                        "capital.\"\n") != NULL,
            "%s", out);
  cr_expect(strstr(out, "generation chat claude-x  100 ms  ERROR  "
                        "overloaded") != NULL,
            "%s", out);
  cr_expect(strstr(out, "\xe2\x94\x94\xe2\x94\x80 tool search  (incomplete: "
                        "process 999999999 exited without closing)") != NULL,
            "%s", out);
  for (char *l = out; *l;) {
    char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l) : strlen(l);
    cr_expect_leq(term_cols(l, n), 100, "too wide: %.*s", (int)n, l);
    l += n + (nl != NULL);
  }
  free(out);
  free(err);
}

Test(cmds, show_defaults_to_the_newest_record) {
  char *out;
  cr_assert_eq(run(cmd_show, &out, NULL, "show", NULL), 0);
  cr_expect(strstr(out, "trace " T3) != NULL, "%s", out);
  free(out);
  cr_assert_eq(
      run(cmd_show, &out, NULL, "show", "last", "--color=always", NULL), 0);
  cr_expect(strstr(out, "\033[") != NULL, "colour when asked");
  free(out);
}

Test(cmds, show_marks_running_spans) {
  char *out;
  cr_assert_eq(run(cmd_show, &out, NULL, "show", "1bf76", NULL), 0);
  cr_expect(strstr(out, "span worker  (running, ") != NULL, "%s", out);
  free(out);
}

Test(cmds, show_refuses_ambiguous_and_unknown_ids) {
  char *err;
  cr_expect_eq(run(cmd_show, NULL, &err, "show", "1bf7", NULL), 1);
  cr_expect(strstr(err, "matches 2 traces") != NULL, "%s", err);
  free(err);
  cr_expect_eq(run(cmd_show, NULL, &err, "show", "ffff", NULL), 1);
  cr_expect(strstr(err, "no trace ffff") != NULL, "%s", err);
  free(err);
  cr_expect_eq(run(cmd_show, NULL, &err, "show", "not-hex", NULL), 1);
  cr_expect(strstr(err, "is not a trace id") != NULL, "%s", err);
  free(err);
  cr_expect_eq(run(cmd_show, NULL, NULL, "show", "a", "b", NULL), 2);
  cr_expect_eq(run(cmd_show, NULL, NULL, "show", "--color=pink", NULL), 2);
}

Test(cmds, show_json_nests_children) {
  char *out;
  cr_assert_eq(run(cmd_show, &out, NULL, "show", "0af", "--json", NULL), 0);
  cJSON *j = th_json(out);
  cr_expect_str_eq(cJSON_GetObjectItem(j, "trace_id")->valuestring, T1);
  cJSON *roots = cJSON_GetObjectItem(j, "observations");
  cr_assert_eq(cJSON_GetArraySize(roots), 1);
  cJSON *kids = cJSON_GetObjectItem(cJSON_GetArrayItem(roots, 0), "children");
  cr_assert_eq(cJSON_GetArraySize(kids), 3);
  cJSON *tool = cJSON_GetArrayItem(kids, 2);
  cr_expect_str_eq(cJSON_GetObjectItem(tool, "id")->valuestring,
                   "aaaa00000000000a");
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(tool, "incomplete")));
  cJSON_Delete(j);
  free(out);
}

Test(cmds, export_jsonl_closes_dead_spans_and_skips_running_ones) {
  char *out;
  cr_assert_eq(
      run(cmd_export, &out, NULL, "export", "--format", "jsonl", "--all", NULL),
      0);
  int lines = 0, incomplete = 0, running = 0;
  for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
    cJSON *r = th_json(l);
    lines++;
    const char *id = cJSON_GetObjectItem(r, "id")->valuestring;
    if (strcmp(id, "aaaa00000000000a") == 0) {
      incomplete++;
      cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(r, "incomplete")));
      cr_expect_not_null(cJSON_GetObjectItem(r, "end_ns"));
    }
    running += strcmp(id, "bbbb00000000000b") == 0;
    cJSON_Delete(r);
  }
  cr_expect_eq(lines, 6, "5 records and the closed span");
  cr_expect_eq(incomplete, 1);
  cr_expect_eq(running, 0);
  free(out);
}

Test(cmds, export_otlp_is_one_request) {
  char *out;
  setenv("OTEL_SERVICE_NAME", "svc-x", 1);
  cr_assert_eq(
      run(cmd_export, &out, NULL, "export", "--format=otlp", "0af", NULL), 0);
  cJSON *j = th_json(out);
  cr_expect_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line");
  cJSON *rss = cJSON_GetObjectItem(j, "resourceSpans");
  cr_assert_eq(cJSON_GetArraySize(rss), 2,
               "the agent's process and the dead tool's");
  cr_expect(strstr(out, "\"svc-x\"") != NULL);
  cJSON_Delete(j);
  free(out);
}

Test(cmds, export_usage_errors) {
  cr_expect_eq(run(cmd_export, NULL, NULL, "export", NULL), 2);
  cr_expect_eq(run(cmd_export, NULL, NULL, "export", "--format", "csv", NULL),
               2);
  cr_expect_eq(run(cmd_export, NULL, NULL, "export", "--format", "otlp",
                   "--all", "0af", NULL),
               2);
}

Test(cmds, stats_counts_everything) {
  char *out;
  cr_assert_eq(run(cmd_stats, &out, NULL, "stats", "--json", NULL), 0);
  cJSON *j = th_json(out);
  cJSON *c = cJSON_GetObjectItem(j, "counters");
  cr_expect_eq(cJSON_GetObjectItem(c, "dropped.queue_full")->valueint, 3);
  cJSON *r = cJSON_GetObjectItem(j, "records");
  cr_expect_eq(cJSON_GetObjectItem(r, "observations")->valueint, 5);
  cr_expect_eq(cJSON_GetObjectItem(r, "traces")->valueint, 3);
  cr_expect_eq(cJSON_GetObjectItem(r, "unreadable")->valueint, 1);
  cr_expect_eq(
      cJSON_GetObjectItem(cJSON_GetObjectItem(r, "by_type"), "generation")
          ->valueint,
      3);
  cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "by_level"), "ERROR")
                   ->valueint,
               1);
  cr_expect_eq(
      cJSON_GetObjectItem(cJSON_GetObjectItem(r, "by_provider"), "openai")
          ->valueint,
      2);
  cJSON *open = cJSON_GetObjectItem(j, "open_spans");
  cr_expect_eq(cJSON_GetObjectItem(open, "running")->valueint, 1);
  cr_expect_eq(cJSON_GetObjectItem(open, "incomplete")->valueint, 1);
  cr_expect_eq(
      cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tokens"), "total")->valueint,
      1242);
  cJSON_Delete(j);
  free(out);

  cr_assert_eq(run(cmd_stats, &out, NULL, "stats", NULL), 0);
  char want[256];
  snprintf(want, sizeof want, "  %-28s %12s\n    %-26s %12s\n    %-26s %12s\n",
           "skipped", "12", "not_llm", "10", "unparsed_path", "2");
  cr_expect(strstr(out, want) != NULL, "group, total, reasons:\n%s", out);
  cr_expect(strstr(out, "cost          \xe2\x89\xa5$0.0042 (1 call without a "
                        "price)") != NULL,
            "%s", out);
  free(out);
}

Test(cmds, an_empty_or_missing_spool_says_so) {
  char *d = th_tmpdir();
  char missing[300];
  snprintf(missing, sizeof missing, "%s/never-created", d);
  char *out, *err;
  cr_expect_eq(run(cmd_ls, &out, &err, "ls", "--spool", missing, NULL), 0);
  cr_expect_str_eq(out, "");
  cr_expect(strstr(err, "no traces yet: run a program under `autotrace run`"),
            "%s", err);
  free(out);
  free(err);
  cr_expect_eq(run(cmd_ls, NULL, &err, "ls", "--spool", d, NULL), 0);
  cr_expect(strstr(err, "no traces yet") != NULL, "%s", err);
  free(err);
  cr_expect_eq(run(cmd_show, NULL, &err, "show", "--spool", missing, NULL), 1);
  cr_expect(strstr(err, "no traces yet") != NULL, "%s", err);
  free(err);
  cr_expect_eq(run(cmd_export, &out, NULL, "export", "--format", "otlp",
                   "--all", "--spool", missing, NULL),
               0);
  cr_expect_str_eq(out, "{\"resourceSpans\":[]}\n");
  free(out);
  cr_expect_eq(run(cmd_stats, &out, NULL, "stats", "--spool", missing, NULL),
               0);
  cr_expect(strstr(out, "not created yet") != NULL, "%s", out);
  free(out);
  struct stat st;
  cr_expect_neq(stat(missing, &st), 0, "reading never creates the spool");
  free(d);
}

Test(cmds, run_without_a_shim_does_not_run_the_command) {
  char *d = th_tmpdir();
  char flag[300], script[400];
  snprintf(flag, sizeof flag, "%s/ran", d);
  snprintf(script, sizeof script, "touch %s", flag);
  char *err;
  /* The test binary has no libautotrace.so beside it. */
  cr_expect_eq(run(cmd_run, NULL, &err, "run", "--", "sh", "-c", script, NULL),
               1);
  cr_expect(strstr(err, "cannot find libautotrace.so (looked in: ") != NULL,
            "%s", err);
  struct stat st;
  cr_expect_neq(stat(flag, &st), 0, "the command must not run untraced");
  free(err);
  cr_expect_eq(run(cmd_run, NULL, NULL, "run", NULL), 2);
  free(d);
}
