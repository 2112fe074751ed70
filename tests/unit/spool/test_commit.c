/* spool_commit: atomic batches, markers, counters, limits. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

struct kv {
  char name[600];
  uint64_t value;
  char json[256];
};
struct kvs {
  struct kv v[32];
  size_t n;
};

static int open_cb(const char *id, const char *json, size_t len, void *arg) {
  struct kvs *k = arg;
  cr_assert_lt(k->n, 32);
  cr_assert_lt(len, sizeof k->v[0].json);
  snprintf(k->v[k->n].name, sizeof k->v[0].name, "%s", id);
  memcpy(k->v[k->n].json, json, len);
  k->v[k->n].json[len] = '\0';
  k->n++;
  return 0;
}

static int counter_cb(const char *name, uint64_t value, void *arg) {
  struct kvs *k = arg;
  cr_assert_lt(k->n, 32);
  snprintf(k->v[k->n].name, sizeof k->v[0].name, "%s", name);
  k->v[k->n].value = value;
  k->n++;
  return 0;
}

static uint64_t counter(struct spool *sp, const char *name) {
  struct kvs k = {0};
  cr_assert_eq(spool_foreach_counter(sp, counter_cb, &k), 0);
  for (size_t i = 0; i < k.n; i++)
    if (strcmp(k.v[i].name, name) == 0)
      return k.v[i].value;
  return 0;
}

static struct spool *fresh(char *dir, size_t n) {
  scratch_dir(dir, n);
  struct spool *sp;
  char err[256];
  cr_assert_eq(spool_open(dir, 0, &sp, err, sizeof err), 0, "%s", err);
  return sp;
}

Test(commit, one_batch_writes_records_markers_and_counters) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  const char *recs[] = {"{\"id\":\"a\"}", "{\"id\":\"b\"}", "{\"id\":\"c\"}"};
  size_t lens[] = {10, 10, 10};
  static const char m0[] = "{\"id\":\"00f067aa0ba902b7\",\"process\":{}}";
  static const char m1[] = "{\"id\":\"b7ad6b7169203331\"}";
  struct spool_open_mark marks[] = {{"00f067aa0ba902b7", m0, sizeof m0 - 1},
                                    {"b7ad6b7169203331", m1, sizeof m1 - 1}};
  struct spool_counter ctr[] = {{"dropped.queue_full", 3}, {"captures", 3}};
  struct spool_batch b = {recs, lens, 3, marks, 2, NULL, 0, ctr, 2};
  cr_assert_eq(spool_commit(sp, &b), 0, "%s", spool_last_error(sp));
  cr_expect_str_eq(spool_last_error(sp), "");

  struct recs got = {0};
  cr_assert_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  cr_assert_eq(got.n, 3);
  for (size_t i = 0; i < 3; i++) {
    cr_expect_eq(got.v[i].seq, i + 1);
    cr_expect_str_eq(got.v[i].json, recs[i]);
  }
  recs_free(&got);

  struct kvs open = {0};
  cr_assert_eq(spool_foreach_open(sp, open_cb, &open), 0);
  cr_assert_eq(open.n, 2);
  cr_expect_str_eq(open.v[0].name, "00f067aa0ba902b7"); /* key order */
  cr_expect_str_eq(open.v[0].json, marks[0].json);
  cr_expect_str_eq(open.v[1].name, "b7ad6b7169203331");
  cr_expect_eq(counter(sp, "dropped.queue_full"), 3);
  cr_expect_eq(counter(sp, "captures"), 3);
  spool_close(sp);
  scratch_remove(dir);
}

Test(commit, markers_added_then_removed_and_absent_removal_is_fine) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  struct spool_open_mark m[] = {{"1111111111111111", "{}", 2},
                                {"2222222222222222", "{}", 2}};
  const char *del_one[] = {"1111111111111111", "3333333333333333"};
  /* Span 1 opens and closes inside one batch: no marker survives. */
  struct spool_batch b = {
      .open_add = m, .nopen_add = 2, .open_del = del_one, .nopen_del = 2};
  cr_assert_eq(spool_commit(sp, &b), 0, "%s", spool_last_error(sp));
  struct kvs open = {0};
  cr_assert_eq(spool_foreach_open(sp, open_cb, &open), 0);
  cr_assert_eq(open.n, 1);
  cr_expect_str_eq(open.v[0].name, "2222222222222222");

  const char *del_two[] = {"2222222222222222"};
  struct spool_batch b2 = {.open_del = del_two, .nopen_del = 1};
  cr_assert_eq(spool_commit(sp, &b2), 0);
  open.n = 0;
  cr_assert_eq(spool_foreach_open(sp, open_cb, &open), 0);
  cr_expect_eq(open.n, 0);
  uint64_t last = 99;
  cr_expect_eq(spool_last_seq(sp, &last), 0);
  cr_expect_eq(last, 0, "marker-only batches consume no sequence number");
  spool_close(sp);
  scratch_remove(dir);
}

Test(commit, counters_accumulate_across_batches_and_saturate) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  struct spool_counter c1[] = {{"x", 5}, {"x", 2}, {"y", 1}};
  struct spool_batch b = {.counters = c1, .ncounters = 3};
  cr_assert_eq(spool_commit(sp, &b), 0);
  cr_expect_eq(counter(sp, "x"), 7, "repeated names in a batch add up");
  for (int i = 0; i < 10; i++)
    cr_assert_eq(spool_commit(sp, &b), 0);
  cr_expect_eq(counter(sp, "x"), 77);
  cr_expect_eq(counter(sp, "y"), 11);
  struct spool_counter big[] = {{"y", UINT64_MAX - 5}};
  struct spool_batch b2 = {.counters = big, .ncounters = 1};
  cr_assert_eq(spool_commit(sp, &b2), 0);
  cr_expect_eq(counter(sp, "y"), UINT64_MAX, "11 + (2^64 - 6) saturates");
  cr_assert_eq(spool_commit(sp, &b2), 0);
  cr_expect_eq(counter(sp, "y"), UINT64_MAX);
  spool_close(sp);
  /* The stored bytes are big-endian, as documented. */
  struct spool *r;
  cr_assert_eq(spool_open(dir, SPOOL_OPEN_READONLY, &r, NULL, 0), 0);
  cr_expect_eq(counter(r, "x"), 77);
  spool_close(r);
  unsigned char be[8];
  be64(be, 0x0102030405060708ull);
  raw_put(dir, "counters", "raw", 3, be, 8);
  cr_assert_eq(spool_open(dir, SPOOL_OPEN_READONLY, &r, NULL, 0), 0);
  cr_expect_eq(counter(r, "raw"), 0x0102030405060708ull);
  spool_close(r);
  scratch_remove(dir);
}

Test(commit, malformed_batches_are_refused_whole) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  const char *recs[] = {"{}"};
  size_t lens[] = {2}, zero[] = {0};
  struct spool_open_mark upper[] = {{"00F067AA0BA902B7", "{}", 2}};
  struct spool_open_mark shortid[] = {{"00f067aa", "{}", 2}};
  const char *baddel[] = {"zzzzzzzzzzzzzzzz"};
  struct spool_counter noname[] = {{"", 1}};
  char longname[600];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  struct spool_counter toolong[] = {{longname, 1}};

  struct spool_batch bad[] = {
      {recs, lens, 1, upper, 1, NULL, 0, NULL, 0},
      {recs, lens, 1, shortid, 1, NULL, 0, NULL, 0},
      {recs, lens, 1, NULL, 0, baddel, 1, NULL, 0},
      {recs, lens, 1, NULL, 0, NULL, 0, noname, 1},
      {recs, lens, 1, NULL, 0, NULL, 0, toolong, 1},
      {recs, zero, 1, NULL, 0, NULL, 0, NULL, 0},
      {NULL, NULL, 1, NULL, 0, NULL, 0, NULL, 0},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_expect_eq(spool_commit(sp, &bad[i]), SPOOL_ERR_INVAL, "batch %zu", i);
    cr_expect_str_neq(spool_last_error(sp), "");
  }
  cr_expect_eq(spool_commit(sp, NULL), SPOOL_ERR_INVAL);
  cr_expect_eq(spool_commit(NULL, &bad[0]), SPOOL_ERR_INVAL);
  uint64_t last = 9;
  cr_expect_eq(spool_last_seq(sp, &last), 0);
  cr_expect_eq(last, 0);
  struct spool_batch empty = {0};
  cr_expect_eq(spool_commit(sp, &empty), 0);
  cr_expect_eq(spool_last_seq(sp, &last), 0);
  cr_expect_eq(last, 0);
  spool_close(sp);
  scratch_remove(dir);
}

Test(commit, megabyte_records_round_trip_byte_exact) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  size_t n = 1u << 20;
  char *big = malloc(n), *big2 = malloc(n + 7);
  cr_assert(big && big2);
  for (size_t i = 0; i < n; i++)
    big[i] = (char)(i * 31 + 7); /* every byte value, NUL included */
  for (size_t i = 0; i < n + 7; i++)
    big2[i] = (char)('a' + i % 26);
  const char *recs[] = {big, "{\"small\":1}", big2};
  size_t lens[] = {n, 11, n + 7};
  struct spool_batch b = {.records = recs, .record_lens = lens, .nrecords = 3};
  cr_assert_eq(spool_commit(sp, &b), 0, "%s", spool_last_error(sp));
  struct recs got = {0};
  cr_assert_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  cr_assert_eq(got.n, 3);
  cr_expect_eq(got.v[0].len, n);
  cr_expect_eq(memcmp(got.v[0].json, big, n), 0);
  cr_expect_eq(got.v[1].len, 11);
  cr_expect_eq(got.v[2].len, n + 7);
  cr_expect_eq(memcmp(got.v[2].json, big2, n + 7), 0);
  recs_free(&got);
  free(big);
  free(big2);
  spool_close(sp);
  scratch_remove(dir);
}

#define BIG (600u * 1024)

static int commit_big(struct spool *sp, char tag) {
  static char buf[BIG];
  memset(buf, tag, sizeof buf);
  const char *r[] = {buf};
  size_t l[] = {sizeof buf};
  struct spool_batch b = {.records = r, .record_lens = l, .nrecords = 1};
  return spool_commit(sp, &b);
}

Test(commit, full_map_writes_nothing_and_the_spool_stays_usable) {
  char dir[64];
  scratch_dir(dir, sizeof dir);
  struct spool_options o = {.map_size = 1u << 20, .map_max = 1u << 20};
  struct spool *sp;
  cr_assert_eq(spool_open_opts(dir, 0, &o, &sp, NULL, 0), 0);
  cr_assert_eq(commit_big(sp, 'a'), 0);

  static char buf[BIG];
  memset(buf, 'b', sizeof buf);
  const char *r[] = {"{\"small\":1}", buf};
  size_t l[] = {11, sizeof buf};
  struct spool_open_mark m[] = {{"1234567890abcdef", "{}", 2}};
  struct spool_counter c[] = {{"captures", 2}};
  struct spool_batch b = {r, l, 2, m, 1, NULL, 0, c, 1};
  cr_expect_eq(spool_commit(sp, &b), SPOOL_ERR_FULL);
  cr_expect_neq(strstr(spool_last_error(sp), "MDB_MAP_FULL"), NULL, "%s",
                spool_last_error(sp));

  uint64_t last;
  cr_expect_eq(spool_last_seq(sp, &last), 0);
  cr_expect_eq(last, 1, "the small record of the failed batch is not there");
  struct kvs open = {0};
  cr_expect_eq(spool_foreach_open(sp, open_cb, &open), 0);
  cr_expect_eq(open.n, 0);
  cr_expect_eq(counter(sp, "captures"), 0);

  const char *r2[] = {"{\"after\":1}"};
  cr_expect_eq(commit_strs(sp, r2, 1), 0, "%s", spool_last_error(sp));
  struct recs got = {0};
  cr_assert_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  cr_assert_eq(got.n, 2);
  cr_expect_eq(got.v[0].len, BIG);
  cr_expect_eq(got.v[1].seq, 2);
  cr_expect_str_eq(got.v[1].json, "{\"after\":1}");
  recs_free(&got);
  spool_close(sp);
  scratch_remove(dir);
}

Test(commit, full_map_grows_up_to_its_limit) {
  char dir[64];
  scratch_dir(dir, sizeof dir);
  struct spool_options o = {.map_size = 1u << 20, .map_max = 4u << 20};
  struct spool *sp;
  cr_assert_eq(spool_open_opts(dir, 0, &o, &sp, NULL, 0), 0);
  int ok = 0, rc = 0;
  for (int i = 0; i < 20 && (rc = commit_big(sp, (char)('a' + i))) == 0; i++)
    ok++;
  /* 1 MiB holds one 600 KiB record; 4 MiB holds six. */
  cr_expect_eq(rc, SPOOL_ERR_FULL);
  cr_expect_geq(ok, 5, "grew: %d records", ok);
  cr_expect_leq(ok, 6, "stopped at map_max: %d records", ok);
  spool_close(sp);
  scratch_remove(dir);
}

struct grow_arg {
  const char *dir;
};

static int grow_elsewhere(void *arg) {
  const struct grow_arg *g = arg;
  struct spool_options o = {.map_size = 1u << 20, .map_max = 8u << 20};
  struct spool *sp;
  if (spool_open_opts(g->dir, 0, &o, &sp, NULL, 0) != 0)
    return 1;
  for (int i = 0; i < 4; i++)
    if (commit_big(sp, 'g') != 0)
      return 2;
  spool_close(sp);
  return 0;
}

Test(commit, map_grown_by_another_process_is_adopted) {
  char dir[64];
  scratch_dir(dir, sizeof dir);
  struct spool_options o = {.map_size = 1u << 20, .map_max = 1u << 20};
  struct spool *sp;
  cr_assert_eq(spool_open_opts(dir, 0, &o, &sp, NULL, 0), 0);
  const char *r[] = {"{\"first\":1}"};
  cr_assert_eq(commit_strs(sp, r, 1), 0);
  struct grow_arg g = {dir};
  cr_assert_eq(in_child(grow_elsewhere, &g), 0);
  /* The data now lies past this handle's 1 MiB map. */
  uint64_t last;
  cr_expect_eq(spool_last_seq(sp, &last), 0, "%s", spool_last_error(sp));
  cr_expect_eq(last, 5);
  struct recs got = {0};
  cr_expect_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  cr_expect_eq(got.n, 5);
  recs_free(&got);
  cr_expect_eq(commit_strs(sp, r, 1), 0, "%s", spool_last_error(sp));
  spool_close(sp);
  scratch_remove(dir);
}

Test(commit, sequence_numbers_are_never_reused) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  const char *r[] = {"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"};
  cr_assert_eq(commit_strs(sp, r, 3), 0);
  spool_close(sp);
  unsigned char k[8];
  for (uint64_t s = 1; s <= 3; s++) {
    be64(k, s);
    raw_del(dir, "records", k, 8); /* what retention will do */
  }
  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  uint64_t last;
  cr_expect_eq(spool_last_seq(sp, &last), 0);
  cr_expect_eq(last, 3);
  cr_assert_eq(commit_strs(sp, r, 1), 0);
  struct recs got = {0};
  cr_assert_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  cr_assert_eq(got.n, 1);
  cr_expect_eq(got.v[0].seq, 4);
  recs_free(&got);
  spool_close(sp);
  scratch_remove(dir);
}

Test(commit, malformed_last_key_blocks_appends_as_corrupt) {
  char dir[64];
  struct spool *sp = fresh(dir, sizeof dir);
  const char *r[] = {"{\"n\":1}"};
  cr_assert_eq(commit_strs(sp, r, 1), 0);
  spool_close(sp);
  raw_put(dir, "records", "\xff", 1, "\x01\x00{}", 4);
  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  cr_expect_eq(commit_strs(sp, r, 1), SPOOL_ERR_CORRUPT);
  cr_expect_neq(strstr(spool_last_error(sp), "not 8"), NULL);
  spool_close(sp);
  scratch_remove(dir);
}
