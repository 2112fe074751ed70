/* The uploader's state in the spool: in-flight ranges, acknowledgements,
 * parked batches, cursor walks, record counts and the closing of open
 * spans (spool/parked.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static struct spool *fresh(char *dir, size_t n) {
  scratch_dir(dir, n);
  struct spool *sp;
  char err[256];
  cr_assert_eq(spool_open(dir, 0, &sp, err, sizeof err), 0, "%s", err);
  return sp;
}

static void add_records(struct spool *sp, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char buf[64];
    snprintf(buf, sizeof buf, "{\"n\":%zu}", i);
    const char *r[] = {buf};
    cr_assert_eq(commit_strs(sp, r, 1), 0);
  }
}

static uint64_t counter_value;
static const char *counter_want;
static int counter_cb(const char *name, uint64_t v, void *arg) {
  (void)arg;
  if (strcmp(name, counter_want) == 0)
    counter_value = v;
  return 0;
}
static uint64_t counter(struct spool *sp, const char *name) {
  counter_value = 0;
  counter_want = name;
  cr_assert_eq(spool_foreach_counter(sp, counter_cb, NULL), 0);
  return counter_value;
}

struct parked_seen {
  char target[64][32];
  uint64_t first[64], last[64];
  char info[64][64];
  size_t n;
};
static int parked_cb(const char *target, uint64_t first, uint64_t last,
                     const char *info, size_t len, void *arg) {
  struct parked_seen *s = arg;
  cr_assert_lt(s->n, 64);
  snprintf(s->target[s->n], 32, "%s", target);
  s->first[s->n] = first;
  s->last[s->n] = last;
  cr_assert_lt(len, 64);
  memcpy(s->info[s->n], info, len);
  s->info[s->n][len] = '\0';
  s->n++;
  return 0;
}

Test(parked, inflight_set_get_and_cleared_by_done) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  uint64_t f = 9, l = 9;
  cr_expect_eq(spool_inflight_get(sp, "otlp", &f, &l), SPOOL_ERR_NOTFOUND);
  cr_expect_eq(f, 0);
  cr_expect_eq(l, 0);
  cr_assert_eq(spool_inflight_set(sp, "otlp", 3, 7), 0, "%s",
               spool_last_error(sp));
  cr_assert_eq(spool_inflight_get(sp, "otlp", &f, &l), 0);
  cr_expect_eq(f, 3);
  cr_expect_eq(l, 7);
  cr_expect_eq(spool_inflight_get(sp, "other", &f, &l), SPOOL_ERR_NOTFOUND);

  struct spool_counter c[] = {{"upload.sent", 5}};
  struct spool_upload_done d = {.ack = 7, .counters = c, .ncounters = 1};
  cr_assert_eq(spool_upload_done(sp, "otlp", &d), 0);
  cr_expect_eq(spool_inflight_get(sp, "otlp", &f, &l), SPOOL_ERR_NOTFOUND);
  uint64_t cur = 0;
  cr_assert_eq(spool_cursor_get(sp, "otlp", &cur), 0);
  cr_expect_eq(cur, 7);
  cr_expect_eq(counter(sp, "upload.sent"), 5);

  /* An older acknowledgement never moves a cursor back. */
  d.ack = 4;
  cr_assert_eq(spool_upload_done(sp, "otlp", &d), 0);
  cr_assert_eq(spool_cursor_get(sp, "otlp", &cur), 0);
  cr_expect_eq(cur, 7);
  cr_expect_eq(counter(sp, "upload.sent"), 10);

  /* Bad arguments. */
  cr_expect_eq(spool_inflight_set(sp, "otlp", 5, 4), SPOOL_ERR_INVAL);
  cr_expect_eq(spool_inflight_set(sp, "otlp", 0, 4), SPOOL_ERR_INVAL);
  cr_expect_eq(spool_inflight_set(sp, "", 1, 4), SPOOL_ERR_INVAL);
  char big[SPOOL_TARGET_MAX + 2];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  cr_expect_eq(spool_inflight_set(sp, big, 1, 4), SPOOL_ERR_INVAL);
  big[SPOOL_TARGET_MAX] = '\0';
  cr_expect_eq(spool_inflight_set(sp, big, 1, 4), 0, "the longest name");
  spool_close(sp);
  scratch_remove(dir);
}

Test(parked, park_unpark_and_walk_by_target) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  struct parked_seen s = {0};
  cr_assert_eq(spool_foreach_parked(sp, NULL, parked_cb, &s), 0,
               "no parked database yet reads as empty");
  cr_expect_eq(s.n, 0);

  struct spool_parked p1[] = {{11, 20, "{\"status\":400}", 14}};
  struct spool_upload_done d = {.ack = 20, .park = p1, .npark = 1};
  cr_assert_eq(spool_inflight_set(sp, "a", 11, 20), 0);
  cr_assert_eq(spool_upload_done(sp, "a", &d), 0, "%s", spool_last_error(sp));
  uint64_t f, l;
  cr_expect_eq(spool_inflight_get(sp, "a", &f, &l), SPOOL_ERR_NOTFOUND);
  /* A target whose name has "a" as a prefix, and an earlier range. */
  struct spool_parked p2[] = {{5, 6, "x", 1}, {1, 2, "", 0}};
  d = (struct spool_upload_done){.ack = 6, .park = p2, .npark = 2};
  cr_assert_eq(spool_upload_done(sp, "ab", &d), 0);

  cr_assert_eq(spool_foreach_parked(sp, NULL, parked_cb, &s), 0);
  cr_assert_eq(s.n, 3);
  cr_expect_str_eq(s.target[0], "a");
  cr_expect_eq(s.first[0], 11);
  cr_expect_eq(s.last[0], 20);
  cr_expect_str_eq(s.info[0], "{\"status\":400}");
  cr_expect_str_eq(s.target[1], "ab");
  cr_expect_eq(s.first[1], 1, "ordered by first within a target");
  cr_expect_str_eq(s.info[1], "");
  cr_expect_eq(s.first[2], 5);

  memset(&s, 0, sizeof s);
  cr_assert_eq(spool_foreach_parked(sp, "a", parked_cb, &s), 0);
  cr_assert_eq(s.n, 1, "only target \"a\", not \"ab\"");
  memset(&s, 0, sizeof s);
  cr_assert_eq(spool_foreach_parked(sp, "ab", parked_cb, &s), 0);
  cr_assert_eq(s.n, 2);
  memset(&s, 0, sizeof s);
  cr_assert_eq(spool_foreach_parked(sp, "b", parked_cb, &s), 0);
  cr_expect_eq(s.n, 0);

  /* Re-parking the same first replaces the entry; unpark removes. */
  struct spool_parked p3[] = {{5, 6, "again", 5}};
  uint64_t un[] = {1};
  d = (struct spool_upload_done){
      .park = p3, .npark = 1, .unpark = un, .nunpark = 1};
  cr_assert_eq(spool_upload_done(sp, "ab", &d), 0);
  memset(&s, 0, sizeof s);
  cr_assert_eq(spool_foreach_parked(sp, "ab", parked_cb, &s), 0);
  cr_assert_eq(s.n, 1);
  cr_expect_eq(s.first[0], 5);
  cr_expect_str_eq(s.info[0], "again");
  uint64_t cur;
  cr_assert_eq(spool_cursor_get(sp, "ab", &cur), 0);
  cr_expect_eq(cur, 6, "ack 0 leaves the cursor");

  struct spool_parked bad[] = {{7, 6, "", 0}};
  d = (struct spool_upload_done){.park = bad, .npark = 1};
  cr_expect_eq(spool_upload_done(sp, "ab", &d), SPOOL_ERR_INVAL);
  spool_close(sp);
  scratch_remove(dir);
}

struct cursors_seen {
  char name[8][32];
  uint64_t v[8];
  size_t n;
};
static int cursor_cb(const char *t, uint64_t s, void *arg) {
  struct cursors_seen *c = arg;
  cr_assert_lt(c->n, 8);
  snprintf(c->name[c->n], 32, "%s", t);
  c->v[c->n++] = s;
  return 0;
}

Test(parked, cursor_walk_and_count_range) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  add_records(sp, 10);
  cr_assert_eq(spool_cursor_set(sp, "otlp x", 4), 0);
  cr_assert_eq(spool_cursor_set(sp, "langfuse y", 0), 0);
  struct cursors_seen c = {0};
  cr_assert_eq(spool_foreach_cursor(sp, cursor_cb, &c), 0);
  cr_assert_eq(c.n, 2);
  cr_expect_str_eq(c.name[0], "langfuse y");
  cr_expect_eq(c.v[0], 0);
  cr_expect_str_eq(c.name[1], "otlp x");
  cr_expect_eq(c.v[1], 4);
  uint64_t n = 99;
  cr_assert_eq(spool_count_range(sp, 5, UINT64_MAX, &n), 0);
  cr_expect_eq(n, 6);
  cr_assert_eq(spool_count_range(sp, 1, 3, &n), 0);
  cr_expect_eq(n, 3);
  cr_assert_eq(spool_count_range(sp, 11, 20, &n), 0);
  cr_expect_eq(n, 0);
  cr_assert_eq(spool_count_range(sp, 5, 4, &n), 0);
  cr_expect_eq(n, 0);
  spool_close(sp);
  scratch_remove(dir);
}

struct opens {
  size_t n;
};
static int open_count(const char *id, const char *json, size_t len, void *arg) {
  (void)id;
  (void)json;
  (void)len;
  ((struct opens *)arg)->n++;
  return 0;
}

Test(parked, close_marker_once) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  add_records(sp, 3);
  struct spool_open_mark m[] = {{"00f067aa0ba902b7", "{\"id\":1}", 8}};
  struct spool_batch b = {.open_add = m, .nopen_add = 1};
  cr_assert_eq(spool_commit(sp, &b), 0);

  static const char rec[] = "{\"id\":\"00f067aa0ba902b7\",\"incomplete\":true}";
  struct spool_counter c[] = {{"upload.closed_spans", 1}};
  uint64_t seq = 0;
  cr_assert_eq(spool_close_marker(sp, "00f067aa0ba902b7", rec, sizeof rec - 1,
                                  c, 1, &seq),
               0, "%s", spool_last_error(sp));
  cr_expect_eq(seq, 4);
  struct opens o = {0};
  cr_assert_eq(spool_foreach_open(sp, open_count, &o), 0);
  cr_expect_eq(o.n, 0, "the marker went with the same commit");
  struct recs got = {0};
  cr_assert_eq(spool_foreach(sp, 4, collect_cb, &got), 0);
  cr_assert_eq(got.n, 1);
  cr_expect_str_eq(got.v[0].json, rec);
  recs_free(&got);
  cr_expect_eq(counter(sp, "upload.closed_spans"), 1);

  /* A second close finds no marker and writes nothing. */
  cr_expect_eq(spool_close_marker(sp, "00f067aa0ba902b7", rec, sizeof rec - 1,
                                  c, 1, &seq),
               SPOOL_ERR_NOTFOUND);
  cr_expect_eq(seq, 0);
  uint64_t last = 0;
  cr_assert_eq(spool_last_seq(sp, &last), 0);
  cr_expect_eq(last, 4);
  cr_expect_eq(counter(sp, "upload.closed_spans"), 1);
  cr_expect_eq(spool_close_marker(sp, "NOTHEX", rec, 3, NULL, 0, NULL),
               SPOOL_ERR_INVAL);
  spool_close(sp);
  scratch_remove(dir);
}

Test(parked, reader_of_an_untouched_spool_sees_no_state) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  add_records(sp, 2);
  spool_close(sp);
  char err[256];
  cr_assert_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, err, sizeof err), 0);
  uint64_t f, l;
  cr_expect_eq(spool_inflight_get(sp, "otlp", &f, &l), SPOOL_ERR_NOTFOUND);
  struct parked_seen s = {0};
  cr_expect_eq(spool_foreach_parked(sp, NULL, parked_cb, &s), 0);
  cr_expect_eq(s.n, 0);
  /* The reader opens read-write when it may: the uploader's writes work
   * and create the databases. */
  cr_expect_eq(spool_inflight_set(sp, "otlp", 1, 2), 0, "%s",
               spool_last_error(sp));
  cr_expect_eq(spool_inflight_get(sp, "otlp", &f, &l), 0);
  spool_close(sp);
  scratch_remove(dir);
}
