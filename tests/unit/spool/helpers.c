#include "helpers.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void scratch_dir(char *out, size_t outlen) {
  snprintf(out, outlen, "/tmp/at-spool-XXXXXX");
  cr_assert_not_null(mkdtemp(out), "mkdtemp");
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

void scratch_remove(const char *dir) {
  /* Tests may leave folders read-only; nftw visits each entry once. */
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int collect_cb(uint64_t seq, const char *rec, size_t len, void *arg) {
  struct recs *r = arg;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    struct rec *v = realloc(r->v, cap * sizeof *v);
    cr_assert_not_null(v);
    r->v = v;
    r->cap = cap;
  }
  char *copy = malloc(len + 1);
  cr_assert_not_null(copy);
  memcpy(copy, rec, len);
  copy[len] = '\0';
  r->v[r->n++] = (struct rec){seq, copy, len};
  if (r->stop_after > 0 && r->n == (size_t)r->stop_after)
    return 7;
  return 0;
}

void recs_free(struct recs *r) {
  for (size_t i = 0; i < r->n; i++)
    free(r->v[i].json);
  free(r->v);
  memset(r, 0, sizeof *r);
}

int commit_strs(struct spool *sp, const char *const *recs, size_t n) {
  size_t lens[64];
  cr_assert_leq(n, 64);
  for (size_t i = 0; i < n; i++)
    lens[i] = strlen(recs[i]);
  struct spool_batch b = {.records = recs, .record_lens = lens, .nrecords = n};
  return spool_commit(sp, &b);
}

void be64(unsigned char out[8], uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8)
    out[i] = (unsigned char)v;
}

static void raw_edit(const char *dir, const char *db, const void *key,
                     size_t klen, const void *val, size_t vlen, int del) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  cr_assert_eq(mdb_env_create(&env), 0);
  cr_assert_eq(mdb_env_set_maxdbs(env, 8), 0);
  cr_assert_eq(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
  cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
  cr_assert_eq(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
  MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
  int rc = del ? mdb_del(txn, dbi, &k, NULL) : mdb_put(txn, dbi, &k, &v, 0);
  cr_assert_eq(rc, 0, "raw edit: %s", mdb_strerror(rc));
  cr_assert_eq(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

void raw_put(const char *dir, const char *db, const void *key, size_t klen,
             const void *val, size_t vlen) {
  raw_edit(dir, db, key, klen, val, vlen, 0);
}

void raw_del(const char *dir, const char *db, const void *key, size_t klen) {
  raw_edit(dir, db, key, klen, NULL, 0, 1);
}

int in_child(int (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1, "fork");
  if (pid == 0)
    _exit(fn(arg));
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
