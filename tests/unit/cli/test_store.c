#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli/store.h"
#include "spool/spool.h"
#include "helpers.h"

static void clear_env(void) {
  unsetenv("AUTOTRACE_SPOOL");
  unsetenv("XDG_STATE_HOME");
  unsetenv("HOME");
}

Test(store, the_spool_location_rule) {
  char dir[256];
  clear_env();
  cr_expect_eq(cli_spool_dir(NULL, dir, sizeof dir), -1,
               "no rule applies without HOME");
  setenv("HOME", "/home/u", 1);
  cr_assert_eq(cli_spool_dir(NULL, dir, sizeof dir), 0);
  cr_expect_str_eq(dir, "/home/u/.local/state/autotrace");
  setenv("XDG_STATE_HOME", "relative/state", 1);
  cr_assert_eq(cli_spool_dir(NULL, dir, sizeof dir), 0);
  cr_expect_str_eq(dir, "/home/u/.local/state/autotrace",
                   "a relative XDG_STATE_HOME is ignored, as XDG says");
  setenv("XDG_STATE_HOME", "/xdg", 1);
  cr_assert_eq(cli_spool_dir(NULL, dir, sizeof dir), 0);
  cr_expect_str_eq(dir, "/xdg/autotrace");
  setenv("AUTOTRACE_SPOOL", "", 1);
  cr_assert_eq(cli_spool_dir(NULL, dir, sizeof dir), 0);
  cr_expect_str_eq(dir, "/xdg/autotrace", "an empty variable is unset");
  setenv("AUTOTRACE_SPOOL", "/sp", 1);
  cr_assert_eq(cli_spool_dir(NULL, dir, sizeof dir), 0);
  cr_expect_str_eq(dir, "/sp");
  cr_assert_eq(cli_spool_dir("/opt", dir, sizeof dir), 0);
  cr_expect_str_eq(dir, "/opt", "--spool wins");
  char tiny[4];
  cr_expect_eq(cli_spool_dir("/long/path", tiny, sizeof tiny), -1);
}

Test(store, a_missing_spool_is_not_an_error) {
  struct spool *sp = (struct spool *)1;
  cr_expect_eq(cli_spool_open("/nonexistent/autotrace/spool", &sp), 1);
  cr_expect_null(sp);
  char *d = th_tmpdir();
  cr_expect_eq(cli_spool_open(d, &sp), 1, "an empty folder holds no spool yet");
  cr_expect_eq(cli_spool_disk_usage("/nonexistent"), 0);
  free(d);
}

Test(store, disk_usage_counts_the_files) {
  char *d = th_tmpdir();
  const char *rec = "{\"id\":\"1111111111111111\",\"trace_id\":"
                    "\"0af7651916cd43dd8448eb211c80319c\"}";
  cr_assert_eq(th_spool_records(d, &rec, 1), 0);
  cr_expect_gt(cli_spool_disk_usage(d), 0);
  struct spool *sp = NULL;
  cr_expect_eq(cli_spool_open(d, &sp), 0);
  cr_expect_not_null(sp);
  spool_close(sp);
  free(d);
}
