/* Retention (spool/retention.c): oldest first, only what every target has,
 * unless the size bound forces it; last_seq never goes back. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define SEC 1000000000LL

static struct spool *fresh(char *dir, size_t n) {
  scratch_dir(dir, n);
  struct spool *sp;
  char err[256];
  cr_assert_eq(spool_open(dir, 0, &sp, err, sizeof err), 0, "%s", err);
  return sp;
}

/* Records whose text is their time in seconds: "t=<sec>". */
static void add_times(struct spool *sp, const int64_t *secs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char buf[64];
    snprintf(buf, sizeof buf, "t=%lld", (long long)secs[i]);
    const char *r[] = {buf};
    cr_assert_eq(commit_strs(sp, r, 1), 0);
  }
}

static int64_t time_of(const char *rec, size_t len, void *arg) {
  (void)arg;
  if (len < 3 || strncmp(rec, "t=", 2) != 0)
    return -1;
  char buf[32];
  size_t n = len - 2 < sizeof buf - 1 ? len - 2 : sizeof buf - 1;
  memcpy(buf, rec + 2, n);
  buf[n] = '\0';
  return strtoll(buf, NULL, 10) * SEC;
}

static uint64_t first_seq(struct spool *sp, size_t *count) {
  struct recs got = {0};
  cr_assert_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  uint64_t f = got.n ? got.v[0].seq : 0;
  *count = got.n;
  recs_free(&got);
  return f;
}

static uint64_t cval;
static const char *cname;
static int ccb(const char *n, uint64_t v, void *a) {
  (void)a;
  if (strcmp(n, cname) == 0)
    cval = v;
  return 0;
}
static uint64_t counter(struct spool *sp, const char *name) {
  cval = 0;
  cname = name;
  cr_assert_eq(spool_foreach_counter(sp, ccb, NULL), 0);
  return cval;
}

Test(retention, age_without_targets_removes_old_records_oldest_first) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  int64_t t[] = {100, 200, 300, 900, 950, 400};
  add_times(sp, t, 6);
  struct spool_retention r = {.max_age_ns = 500 * SEC,
                              .now_ns = 1000 * SEC,
                              .rec_time = time_of,
                              .per_txn = 2};
  struct spool_retention_result res;
  cr_assert_eq(spool_retain(sp, &r, &res), 0, "%s", spool_last_error(sp));
  cr_expect_eq(res.removed, 3, "100, 200, 300 are older than 500 s");
  cr_expect_eq(res.dropped, 0);
  cr_expect_eq(res.floor, UINT64_MAX, "no target: nobody needs them");
  size_t n;
  cr_expect_eq(first_seq(sp, &n), 4);
  cr_expect_eq(n, 3, "stops at the first young record (400 stays)");
  cr_expect_eq(counter(sp, "retention.removed"), 3);
  cr_expect_eq(counter(sp, "dropped.retention"), 0);
  spool_close(sp);
  scratch_remove(dir);
}

Test(retention, keeps_what_a_target_has_not_acknowledged) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  int64_t t[] = {1, 2, 3, 4, 5, 6, 7, 8};
  add_times(sp, t, 8);
  cr_assert_eq(spool_cursor_set(sp, "fast", 8), 0);
  cr_assert_eq(spool_cursor_set(sp, "slow", 5), 0);
  /* slow parked 2..3 and is sending 6..7. */
  struct spool_parked p[] = {{2, 3, "{}", 2}};
  struct spool_upload_done d = {.park = p, .npark = 1};
  cr_assert_eq(spool_upload_done(sp, "slow", &d), 0);
  cr_assert_eq(spool_inflight_set(sp, "slow", 6, 7), 0);
  struct spool_retention r = {
      .max_age_ns = 1, .now_ns = 1000 * SEC, .rec_time = time_of};
  struct spool_retention_result res;
  cr_assert_eq(spool_retain(sp, &r, &res), 0);
  cr_expect_eq(res.floor, 1);
  cr_expect_eq(res.removed, 1, "only record 1 is below the parked range");
  size_t n;
  cr_expect_eq(first_seq(sp, &n), 2);

  /* The parked batch is retried and delivered: now 5 is the floor. */
  uint64_t un[] = {2};
  d = (struct spool_upload_done){.unpark = un, .nunpark = 1};
  cr_assert_eq(spool_upload_done(sp, "slow", &d), 0);
  cr_assert_eq(spool_inflight_set(sp, "slow", 6, 7), 0);
  cr_assert_eq(spool_retain(sp, &r, &res), 0);
  cr_expect_eq(res.floor, 5);
  cr_expect_eq(res.removed, 4);
  cr_expect_eq(first_seq(sp, &n), 6);
  cr_expect_eq(n, 3);
  spool_close(sp);
  scratch_remove(dir);
}

Test(retention, size_bound_drops_unsent_records_and_counts_them) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  /* 400 records of ~1 KB: well over 100 KB of pages. */
  char *buf = malloc(1100);
  for (int i = 0; i < 400; i++) {
    snprintf(buf, 1100, "t=%d ", i);
    size_t l = strlen(buf);
    memset(buf + l, 'x', 1000);
    buf[l + 1000] = '\0';
    const char *r[] = {buf};
    cr_assert_eq(commit_strs(sp, r, 1), 0);
  }
  free(buf);
  cr_assert_eq(spool_cursor_set(sp, "otlp", 100), 0);
  uint64_t before;
  cr_assert_eq(spool_records_size(sp, &before, NULL), 0);
  cr_assert_gt(before, 300 * 1000);
  struct spool_retention r = {.max_bytes = 100 * 1024, .per_txn = 50};
  struct spool_retention_result res;
  cr_assert_eq(spool_retain(sp, &r, &res), 0, "%s", spool_last_error(sp));
  cr_expect_eq(res.bytes_before, before);
  cr_expect_leq(res.bytes_after, 100 * 1024);
  cr_expect_gt(res.removed, 250);
  cr_expect_eq(res.dropped, res.removed - 100,
               "records past the cursor count as dropped");
  cr_expect_eq(counter(sp, "dropped.retention"), res.dropped);
  cr_expect_eq(counter(sp, "retention.removed"), res.removed);
  /* Oldest first: what is left is the newest. */
  size_t n;
  cr_expect_eq(first_seq(sp, &n), res.removed + 1);
  cr_expect_eq(n, 400 - res.removed);
  spool_close(sp);
  scratch_remove(dir);
}

Test(retention, unknown_time_is_old_and_last_seq_survives) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  const char *r3[] = {"no time", "neither", "t=999"};
  cr_assert_eq(commit_strs(sp, r3, 3), 0);
  struct spool_retention r = {
      .max_age_ns = 10 * SEC, .now_ns = 1000 * SEC, .rec_time = time_of};
  struct spool_retention_result res;
  cr_assert_eq(spool_retain(sp, &r, &res), 0);
  cr_expect_eq(res.removed, 2);
  /* Everything goes: numbers are still never reused. */
  r.now_ns = 5000 * SEC;
  cr_assert_eq(spool_retain(sp, &r, &res), 0);
  cr_expect_eq(res.removed, 1);
  size_t n;
  first_seq(sp, &n);
  cr_expect_eq(n, 0);
  const char *next[] = {"t=1"};
  cr_assert_eq(commit_strs(sp, next, 1), 0);
  cr_expect_eq(first_seq(sp, &n), 4);
  /* No bound at all: nothing happens. */
  struct spool_retention none = {.now_ns = 1};
  cr_assert_eq(spool_retain(sp, &none, &res), 0);
  cr_expect_eq(res.removed, 0);
  spool_close(sp);
  scratch_remove(dir);
}

Test(retention, makes_room_in_a_full_spool) {
  char dir[64];
  scratch_dir(dir, sizeof dir);
  struct spool *sp;
  char err[256];
  struct spool_options o = {.map_size = 1u << 20, .map_max = 1u << 20};
  cr_assert_eq(spool_open_opts(dir, 0, &o, &sp, err, sizeof err), 0, "%s", err);
  char *big = malloc(8192);
  memset(big, 'x', 8191);
  big[8191] = '\0';
  memcpy(big, "t=1 ", 4);
  const char *r[] = {big};
  int n = 0, rc = 0;
  for (; n < 1000 && (rc = commit_strs(sp, r, 1)) == 0; n++)
    ;
  cr_assert_eq(rc, SPOOL_ERR_FULL, "the 1 MiB map filled up");
  cr_assert_gt(n, 10);
  /* A full spool refuses writes (the shim drops and counts); retention
   * by size makes room again, oldest first. */
  struct spool_retention ret = {.max_bytes = 256 * 1024};
  struct spool_retention_result res;
  cr_assert_eq(spool_retain(sp, &ret, &res), 0, "%s", spool_last_error(sp));
  cr_expect_gt(res.removed, 0);
  cr_expect_eq(res.dropped, 0, "no target: nobody missed them");
  for (int i = 0; i < 5; i++)
    cr_expect_eq(commit_strs(sp, r, 1), 0, "room again (%d)", i);
  free(big);
  spool_close(sp);
  scratch_remove(dir);
}
