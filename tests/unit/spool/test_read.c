/* Walks, cursors, and how readers meet malformed entries. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

/* A spool holding records {"n":1} .. {"n":count}, committed in batches of
 * up to 7 so that batch boundaries do not show in the sequence. */
static struct spool *filled(char *dir, size_t dn, int count) {
  scratch_dir(dir, dn);
  struct spool *sp;
  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  static char bufs[64][32];
  const char *recs[7];
  int n = 0;
  while (n < count) {
    size_t k = 0;
    for (; k < 7 && n < count; k++) {
      n++;
      snprintf(bufs[k], sizeof bufs[k], "{\"n\":%d}", n);
      recs[k] = bufs[k];
    }
    cr_assert_eq(commit_strs(sp, recs, k), 0);
  }
  return sp;
}

Test(read, empty_spool_walks_nothing) {
  char dir[64];
  struct spool *sp = filled(dir, sizeof dir, 0);
  uint64_t last = 5;
  cr_expect_eq(spool_last_seq(sp, &last), 0);
  cr_expect_eq(last, 0);
  struct recs got = {0};
  cr_expect_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  cr_expect_eq(spool_foreach_reverse(sp, collect_cb, &got), 0);
  cr_expect_eq(got.n, 0);
  spool_close(sp);
  scratch_remove(dir);
}

Test(read, foreach_is_in_sequence_order_from_a_given_seq) {
  char dir[64];
  struct spool *sp = filled(dir, sizeof dir, 300);
  struct recs got = {0};
  cr_assert_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  cr_assert_eq(got.n, 300);
  for (size_t i = 0; i < got.n; i++) {
    char want[32];
    snprintf(want, sizeof want, "{\"n\":%zu}", i + 1);
    cr_expect_eq(got.v[i].seq, i + 1);
    cr_expect_str_eq(got.v[i].json, want);
  }
  recs_free(&got);

  /* 256 = 0x100: bytewise order must be numeric order across the carry */
  cr_assert_eq(spool_foreach(sp, 250, collect_cb, &got), 0);
  cr_assert_eq(got.n, 51);
  cr_expect_eq(got.v[0].seq, 250);
  cr_expect_eq(got.v[50].seq, 300);
  recs_free(&got);

  cr_assert_eq(spool_foreach(sp, 301, collect_cb, &got), 0);
  cr_expect_eq(got.n, 0);
  recs_free(&got);

  got.stop_after = 3;
  cr_expect_eq(spool_foreach(sp, 10, collect_cb, &got), 7,
               "the callback's stop value is returned");
  cr_expect_eq(got.n, 3);
  cr_expect_eq(got.v[2].seq, 12);
  recs_free(&got);
  spool_close(sp);
  scratch_remove(dir);
}

Test(read, reverse_walks_newest_first) {
  char dir[64];
  struct spool *sp = filled(dir, sizeof dir, 20);
  struct recs got = {.stop_after = 5};
  cr_expect_eq(spool_foreach_reverse(sp, collect_cb, &got), 7);
  cr_assert_eq(got.n, 5);
  for (size_t i = 0; i < 5; i++)
    cr_expect_eq(got.v[i].seq, 20 - i);
  cr_expect_str_eq(got.v[0].json, "{\"n\":20}");
  recs_free(&got);
  cr_expect_eq(spool_foreach_reverse(sp, collect_cb, &got), 0);
  cr_expect_eq(got.n, 20);
  cr_expect_eq(got.v[19].seq, 1);
  recs_free(&got);
  spool_close(sp);
  scratch_remove(dir);
}

Test(read, cursors_are_kept_per_target) {
  char dir[64];
  struct spool *sp = filled(dir, sizeof dir, 3);
  uint64_t s = 42;
  cr_expect_eq(spool_cursor_get(sp, "otlp", &s), SPOOL_ERR_NOTFOUND);
  cr_expect_eq(s, 0);
  cr_expect_eq(spool_cursor_set(sp, "otlp", 2), 0);
  cr_expect_eq(spool_cursor_set(sp, "langfuse", 3), 0);
  cr_expect_eq(spool_cursor_set(sp, "otlp", 3), 0);
  cr_expect_eq(spool_cursor_get(sp, "otlp", &s), 0);
  cr_expect_eq(s, 3);
  cr_expect_eq(spool_cursor_get(sp, "langfuse", &s), 0);
  cr_expect_eq(s, 3);
  cr_expect_eq(spool_cursor_set(sp, "", 1), SPOOL_ERR_INVAL);
  cr_expect_eq(spool_cursor_get(sp, NULL, &s), SPOOL_ERR_INVAL);
  spool_close(sp);
  cr_assert_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, NULL, 0), 0);
  cr_expect_eq(spool_cursor_get(sp, "otlp", &s), 0);
  cr_expect_eq(s, 3, "cursors persist");
  spool_close(sp);
  scratch_remove(dir);
}

Test(read, malformed_entries_are_skipped_counted_and_reported) {
  char dir[64];
  struct spool *sp = filled(dir, sizeof dir, 3);
  spool_close(sp);
  unsigned char k[8];
  be64(k, 4);
  raw_put(dir, "records", k, 8, "\x09\x00{}", 4); /* unknown version */
  be64(k, 5);
  raw_put(dir, "records", k, 8, "\x01", 1); /* shorter than the header */
  be64(k, 6);
  raw_put(dir, "records", k, 8, "\x01\x01{}", 4); /* unknown flag */
  /* A 1-byte key sorts before every 8-byte one. */
  raw_put(dir, "records", "\x00", 1, "\x01\x00{}", 4);

  cr_assert_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, NULL, 0), 0);
  struct recs got = {0};
  cr_expect_eq(spool_foreach(sp, 0, collect_cb, &got), SPOOL_ERR_CORRUPT);
  cr_expect_eq(spool_skipped(sp), 4);
  cr_expect_neq(strstr(spool_last_error(sp), "4 malformed entries skipped"),
                NULL, "%s", spool_last_error(sp));
  cr_assert_eq(got.n, 3, "every good record is still delivered");
  cr_expect_eq(got.v[2].seq, 3);
  recs_free(&got);

  cr_expect_eq(spool_foreach_reverse(sp, collect_cb, &got), SPOOL_ERR_CORRUPT);
  cr_expect_eq(got.n, 3);
  cr_expect_eq(got.v[0].seq, 3);
  recs_free(&got);

  cr_expect_eq(spool_foreach(sp, 2, collect_cb, &got), SPOOL_ERR_CORRUPT);
  cr_expect_eq(got.n, 2);
  cr_expect_eq(spool_skipped(sp), 3, "the short key sorts before seq 2");
  recs_free(&got);

  /* A clean range walks clean and resets the count. */
  got.stop_after = 1;
  cr_expect_eq(spool_foreach(sp, 1, collect_cb, &got), 7);
  cr_expect_eq(spool_skipped(sp), 0);
  recs_free(&got);
  spool_close(sp);
  scratch_remove(dir);
}

static int count_open(const char *id, const char *json, size_t len, void *arg) {
  cr_expect_str_eq(id, "0123456789abcdef");
  cr_expect_eq(len, 8);
  cr_expect_eq(memcmp(json, "{\"ok\":1}", 8), 0);
  ++*(int *)arg;
  return 0;
}

static int count_counter(const char *name, uint64_t value, void *arg) {
  cr_expect_str_eq(name, "good");
  cr_expect_eq(value, 9);
  ++*(int *)arg;
  return 0;
}

Test(read, malformed_markers_and_counters_are_skipped) {
  char dir[64];
  struct spool *sp = filled(dir, sizeof dir, 1);
  spool_close(sp);
  raw_put(dir, "open", "NOTAHEXSPANID!!!", 16, "\x01\x00{}", 4);
  raw_put(dir, "open", "abcdefabcdef0123", 16, "\x02\x00{}", 4);
  raw_put(dir, "open", "0123456789abcdef", 16, "\x01\x00{\"ok\":1}", 10);
  raw_put(dir, "counters", "short", 5, "\x01", 1);
  unsigned char v[8];
  be64(v, 9);
  raw_put(dir, "counters", "good", 4, v, 8);
  cr_assert_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, NULL, 0), 0);
  int n = 0;
  cr_expect_eq(spool_foreach_open(sp, count_open, &n), SPOOL_ERR_CORRUPT);
  cr_expect_eq(n, 1);
  cr_expect_eq(spool_skipped(sp), 2);
  n = 0;
  cr_expect_eq(spool_foreach_counter(sp, count_counter, &n), SPOOL_ERR_CORRUPT);
  cr_expect_eq(n, 1);
  cr_expect_eq(spool_skipped(sp), 1);
  spool_close(sp);
  scratch_remove(dir);
}

struct reenter {
  struct spool *sp;
  int calls;
};

static int reenter_cb(uint64_t seq, const char *rec, size_t len, void *arg) {
  struct reenter *r = arg;
  const char *recs[] = {"{}"};
  uint64_t last;
  cr_expect_eq(commit_strs(r->sp, recs, 1), SPOOL_ERR_INVAL);
  cr_expect_eq(spool_last_seq(r->sp, &last), SPOOL_ERR_INVAL);
  cr_expect_eq(spool_cursor_set(r->sp, "t", seq), SPOOL_ERR_INVAL);
  cr_expect_eq(spool_foreach(r->sp, 0, collect_cb, NULL), SPOOL_ERR_INVAL);
  r->calls++;
  return 0;
}

Test(read, callbacks_cannot_reenter_the_spool) {
  char dir[64];
  struct spool *sp = filled(dir, sizeof dir, 2);
  struct reenter r = {sp, 0};
  cr_expect_eq(spool_foreach(sp, 0, reenter_cb, &r), 0);
  cr_expect_eq(r.calls, 2, "refusals do not disturb the walk");
  uint64_t last;
  cr_expect_eq(spool_last_seq(sp, &last), 0);
  cr_expect_eq(last, 2, "nothing was committed from inside");
  const char *recs[] = {"{}"};
  cr_expect_eq(commit_strs(sp, recs, 1), 0, "usable after the walk");
  cr_expect_eq(spool_foreach(sp, 0, NULL, NULL), SPOOL_ERR_INVAL);
  spool_close(sp);
  scratch_remove(dir);
}
