/* Many processes at once, and fork(): the cases LMDB's caveats are
 * about. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define NPROC 8
#define NBATCH 200
#define PER 5
#define TOTAL (NPROC * NBATCH * PER)

static int wait_gate(int fd) {
  char c;
  return read(fd, &c, 1) == 0 ? 0 : -1; /* EOF: the parent let go */
}

/* Writer idx: NBATCH batches of PER records {"c":idx,"n":k}. Its own
 * spool_open races the others' to create the spool. */
static int writer(int idx, const char *dir, int gate) {
  if (wait_gate(gate) != 0)
    return 1;
  struct spool *sp;
  if (spool_open(dir, 0, &sp, NULL, 0) != 0)
    return 2;
  char bufs[PER][48];
  const char *recs[PER];
  size_t lens[PER];
  int k = 0;
  for (int b = 0; b < NBATCH; b++) {
    for (int i = 0; i < PER; i++, k++) {
      int n = snprintf(bufs[i], sizeof bufs[i], "{\"c\":%d,\"n\":%d}", idx, k);
      recs[i] = bufs[i];
      lens[i] = (size_t)n;
    }
    struct spool_counter ctr[] = {{"records", PER}};
    struct spool_batch batch = {recs, lens, PER, NULL, 0, NULL, 0, ctr, 1};
    if (spool_commit(sp, &batch) != 0)
      return 3;
  }
  spool_close(sp);
  return 0;
}

struct snap {
  uint64_t n, bad;
};

static int snap_cb(uint64_t seq, const char *rec, size_t len, void *arg) {
  struct snap *s = arg;
  if (seq != ++s->n)
    s->bad++;
  (void)rec;
  (void)len;
  return 0;
}

/* A reader walking while the writers write: every snapshot must be a
 * gap-free prefix 1..n, and n never shrinks. */
static int reader(const char *dir, int gate) {
  if (wait_gate(gate) != 0)
    return 1;
  struct spool *sp = NULL;
  for (int i = 0; i < 20000 && !sp; i++)
    if (spool_open(dir, SPOOL_OPEN_READONLY, &sp, NULL, 0) != 0)
      usleep(500);
  if (!sp)
    return 2;
  uint64_t prev = 0;
  for (int i = 0; i < 20000 && prev < TOTAL; i++) {
    struct snap s = {0, 0};
    int rc = spool_foreach(sp, 0, snap_cb, &s);
    if (rc != 0)
      return 3;
    if (s.bad)
      return 4;
    if (s.n < prev)
      return 5;
    if (s.n % PER)
      return 6; /* a batch is visible whole or not at all */
    prev = s.n;
    usleep(500);
  }
  spool_close(sp);
  return prev == TOTAL ? 0 : 7;
}

static int counter_cb(const char *name, uint64_t value, void *arg) {
  if (strcmp(name, "records") == 0)
    *(uint64_t *)arg = value;
  return 0;
}

Test(concurrency, eight_processes_append_contiguously, .timeout = 60) {
  char base[64], dir[128];
  scratch_dir(base, sizeof base);
  snprintf(dir, sizeof dir, "%s/spool", base);
  int gate[2];
  cr_assert_eq(pipe(gate), 0);
  pid_t pids[NPROC + 1];
  fflush(NULL);
  for (int i = 0; i <= NPROC; i++) {
    pids[i] = fork();
    cr_assert_neq(pids[i], -1);
    if (pids[i] == 0) {
      close(gate[1]);
      _exit(i < NPROC ? writer(i, dir, gate[0]) : reader(dir, gate[0]));
    }
  }
  close(gate[0]);
  close(gate[1]); /* start everyone at once */
  for (int i = 0; i <= NPROC; i++) {
    int st;
    cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s %d failed: status %d",
              i < NPROC ? "writer" : "reader", i, st);
  }

  struct spool *sp;
  cr_assert_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, NULL, 0), 0);
  struct recs got = {0};
  cr_assert_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  cr_assert_eq(got.n, TOTAL);
  int next[NPROC] = {0};
  for (size_t i = 0; i < got.n; i++) {
    int c, n;
    cr_assert_eq(got.v[i].seq, i + 1, "seq numbers are contiguous");
    cr_assert_eq(sscanf(got.v[i].json, "{\"c\":%d,\"n\":%d}", &c, &n), 2);
    cr_assert(c >= 0 && c < NPROC);
    cr_assert_eq(n, next[c], "child %d's records keep its order", c);
    next[c]++;
    if (n % PER == 0 && i + PER <= got.n) {
      /* a batch occupies consecutive numbers */
      int c2, n2;
      cr_assert_eq(
          sscanf(got.v[i + PER - 1].json, "{\"c\":%d,\"n\":%d}", &c2, &n2), 2);
      cr_expect(c2 == c && n2 == n + PER - 1, "batch at seq %zu split", i);
    }
  }
  for (int c = 0; c < NPROC; c++)
    cr_expect_eq(next[c], NBATCH * PER);
  uint64_t total = 0;
  cr_expect_eq(spool_foreach_counter(sp, counter_cb, &total), 0);
  cr_expect_eq(total, TOTAL, "counter read-modify-writes never collide");
  recs_free(&got);
  spool_close(sp);
  scratch_remove(base);
}

#define ROUNDS 100

static int commit_tagged(struct spool *sp, const char *who, int k) {
  char a[48], b[48];
  snprintf(a, sizeof a, "{\"who\":\"%s\",\"k\":%d}", who, 2 * k);
  snprintf(b, sizeof b, "{\"who\":\"%s\",\"k\":%d}", who, 2 * k + 1);
  const char *r[] = {a, b};
  return commit_strs(sp, r, 2);
}

Test(concurrency, forked_child_abandons_and_writes_beside_its_parent,
     .timeout = 60) {
  char dir[64];
  scratch_dir(dir, sizeof dir);
  struct spool *sp;
  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  const char *first[] = {"{\"who\":\"before\",\"k\":0}"};
  cr_assert_eq(commit_strs(sp, first, 1), 0);
  int gate[2];
  cr_assert_eq(pipe(gate), 0);
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    close(gate[1]);
    if (wait_gate(gate[0]) != 0)
      _exit(1);
    /* The inherited handle is refused, then forgotten. */
    if (commit_tagged(sp, "inherited", 0) != SPOOL_ERR_INVAL)
      _exit(2);
    spool_abandon(sp);
    struct spool *own;
    if (spool_open(dir, 0, &own, NULL, 0) != 0)
      _exit(3);
    for (int k = 0; k < ROUNDS; k++)
      if (commit_tagged(own, "child", k) != 0)
        _exit(4);
    spool_close(own);
    _exit(0);
  }
  close(gate[0]);
  close(gate[1]);
  for (int k = 0; k < ROUNDS; k++)
    cr_assert_eq(commit_tagged(sp, "parent", k), 0, "%s", spool_last_error(sp));
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st), "child died: status %d", st);
  cr_assert_eq(WEXITSTATUS(st), 0, "child failed at step %d", WEXITSTATUS(st));
  /* The child's exit closed its own environment; the parent's locks and
   * handle are intact. */
  cr_assert_eq(commit_tagged(sp, "parent", ROUNDS), 0);

  struct recs got = {0};
  cr_assert_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  cr_assert_eq(got.n, 1 + 4 * ROUNDS + 2);
  int next_parent = 0, next_child = 0;
  for (size_t i = 0; i < got.n; i++) {
    char who[16];
    int k;
    cr_assert_eq(got.v[i].seq, i + 1);
    cr_assert_eq(
        sscanf(got.v[i].json, "{\"who\":\"%15[a-z]\",\"k\":%d}", who, &k), 2);
    if (strcmp(who, "parent") == 0)
      cr_expect_eq(k, next_parent++);
    else if (strcmp(who, "child") == 0)
      cr_expect_eq(k, next_child++);
    else
      cr_expect_str_eq(who, "before");
  }
  cr_expect_eq(next_parent, 2 * ROUNDS + 2);
  cr_expect_eq(next_child, 2 * ROUNDS);
  recs_free(&got);
  spool_close(sp);
  scratch_remove(dir);
}

static int close_inherited(void *arg) {
  /* spool_close in a child must act as abandon: the parent keeps its
   * reader slot and locks. */
  spool_close(arg);
  return 0;
}

static int count_cb(uint64_t seq, const char *rec, size_t len, void *arg) {
  (void)seq;
  (void)rec;
  (void)len;
  ++*(int *)arg;
  return 0;
}

Test(concurrency, close_in_a_child_does_not_disturb_the_parent) {
  char dir[64];
  scratch_dir(dir, sizeof dir);
  struct spool *sp;
  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  const char *r[] = {"{}"};
  cr_assert_eq(commit_strs(sp, r, 1), 0);
  cr_assert_eq(in_child(close_inherited, sp), 0);
  cr_expect_eq(commit_strs(sp, r, 1), 0);
  int n = 0;
  cr_expect_eq(spool_foreach(sp, 0, count_cb, &n), 0);
  cr_expect_eq(n, 2);
  spool_close(sp);
  scratch_remove(dir);
}
