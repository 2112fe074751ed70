#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "helpers.h"

static void touch(const char *path) {
  int fd = open(path, O_CREAT | O_WRONLY, 0644);
  cr_assert(fd >= 0, "create %s", path);
  close(fd);
}

Test(run, the_shim_is_found_beside_the_executable_first) {
  char *d = th_tmpdir();
  char bin[PATH_MAX], lib[PATH_MAX], out[PATH_MAX], looked[2 * PATH_MAX];
  snprintf(bin, sizeof bin, "%s/bin", d);
  mkdir(bin, 0755);
  snprintf(lib, sizeof lib, "%s/lib", d);
  mkdir(lib, 0755);
  snprintf(lib, sizeof lib, "%s/lib/autotrace", d);
  mkdir(lib, 0755);

  cr_expect_eq(run_find_shim(bin, out, sizeof out, looked, sizeof looked), -1);
  cr_expect(strstr(looked, "/bin/libautotrace.so") != NULL, "%s", looked);
  cr_expect(strstr(looked, "/bin/../lib/autotrace/libautotrace.so") != NULL,
            "the error names both places: %s", looked);

  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/libautotrace.so", lib);
  touch(p);
  cr_assert_eq(run_find_shim(bin, out, sizeof out, looked, sizeof looked), 0);
  cr_expect_str_eq(out, p, "the install layout, with .. resolved");

  snprintf(p, sizeof p, "%s/libautotrace.so", bin);
  touch(p);
  cr_assert_eq(run_find_shim(bin, out, sizeof out, looked, sizeof looked), 0);
  cr_expect_str_eq(out, p, "the build layout wins");
  free(d);
}

Test(run, ld_preload_gets_the_shim_in_front) {
  char *v = run_preload_value("/s/libautotrace.so", NULL);
  cr_expect_str_eq(v, "/s/libautotrace.so");
  free(v);
  v = run_preload_value("/s/libautotrace.so", "");
  cr_expect_str_eq(v, "/s/libautotrace.so");
  free(v);
  v = run_preload_value("/s/libautotrace.so", "/x/libasan.so /y/a.so");
  cr_expect_str_eq(v, "/s/libautotrace.so:/x/libasan.so /y/a.so");
  free(v);
  v = run_preload_value("/s/libautotrace.so", "/y/a.so:/s/libautotrace.so");
  cr_expect_str_eq(v, "/y/a.so:/s/libautotrace.so", "never twice");
  free(v);
  v = run_preload_value("/s/lib.so", "/s/lib.so.1");
  cr_expect_str_eq(v, "/s/lib.so:/s/lib.so.1", "whole entries only");
  free(v);
}

#define TID "0af7651916cd43dd8448eb211c80319c"

Test(run, the_summary_line) {
  char line[1024];
  struct run_totals rt = {0};
  run_summary_line(&rt, TID, NULL, line, sizeof line);
  cr_expect_str_eq(line, "autotrace: no LLM calls were captured \xe2\x80\x94 "
                         "see README 'What can be traced'");

  rt.traces = 1;
  rt.generations = 2;
  rt.tokens = 1234;
  rt.with_tokens = 2;
  rt.cost_usd = 0.0042;
  rt.priced = 2;
  rt.llm_ns = 12000000;
  run_summary_line(&rt, TID, NULL, line, sizeof line);
  cr_expect_str_eq(line, "autotrace: 1 trace, 2 generations, 1,234 tokens, "
                         "$0.0042 (12 ms in LLM calls) \xe2\x80\x94 see: "
                         "autotrace show 0af7651916cd");

  rt.unpriced = 1;
  run_summary_line(&rt, TID, "/tmp/my spool", line, sizeof line);
  cr_expect(strstr(line, ", \xe2\x89\xa5$0.0042 (") != NULL,
            "a partial sum is a lower bound: %s", line);
  cr_expect(strstr(line, "autotrace show --spool '/tmp/my spool' "
                         "0af7651916cd") != NULL,
            "the hint can be pasted: %s", line);

  rt.priced = 0;
  rt.with_tokens = 0;
  rt.generations = 1;
  rt.embeddings = 1;
  run_summary_line(&rt, TID, NULL, line, sizeof line);
  cr_expect(strstr(line, "1 generation, 1 embedding, tokens unknown, cost "
                         "unknown") != NULL,
            "%s", line);
}

Test(run, totals_add_up_traces) {
  struct trace t1 = {0}, t2 = {0};
  t1.n_generations = 2;
  t1.tokens_total = 10;
  t1.n_with_tokens = 2;
  t1.cost_usd = 0.5;
  t1.n_priced = 2;
  t1.llm_ns = 5;
  t2.n_embeddings = 1;
  t2.n_unpriced = 1;
  t2.n_incomplete = 1;
  struct run_totals rt = {0};
  run_totals_add(&rt, &t1);
  run_totals_add(&rt, &t2);
  cr_expect_eq(rt.traces, 2);
  cr_expect_eq(rt.generations, 2);
  cr_expect_eq(rt.embeddings, 1);
  cr_expect_eq(rt.tokens, 10);
  cr_expect_eq(rt.unpriced, 1);
  cr_expect_eq(rt.incomplete, 1);
}
