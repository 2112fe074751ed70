/* helpers: what the spool tests share — scratch folders, a record
 * collector, raw LMDB edits that bypass the spool API (to plant malformed
 * entries), and running a check in a forked process. */
#ifndef AT_TEST_SPOOL_HELPERS_H
#define AT_TEST_SPOOL_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "spool/spool.h"

/* A fresh folder under /tmp (mode 0700, per mkdtemp). out: 64 bytes. */
void scratch_dir(char *out, size_t outlen);
/* Remove a folder tree (bounded walk). */
void scratch_remove(const char *dir);

/* Records seen by a walk, copied out of the map. */
struct rec {
  uint64_t seq;
  char *json;
  size_t len;
};
struct recs {
  struct rec *v;
  size_t n, cap;
  int stop_after; /* > 0: the callback returns 7 after this many */
};
int collect_cb(uint64_t seq, const char *rec, size_t len, void *arg);
void recs_free(struct recs *r);

/* Commit n NUL-terminated records as one batch. */
int commit_strs(struct spool *sp, const char *const *recs, size_t n);

/* Raw LMDB access to a closed spool (never while a handle is open in this
 * process: lmdb.h forbids opening one environment twice). */
void raw_put(const char *dir, const char *db, const void *key, size_t klen,
             const void *val, size_t vlen);
void raw_del(const char *dir, const char *db, const void *key, size_t klen);

/* 8-byte big-endian key for seq. */
void be64(unsigned char out[8], uint64_t v);

/* Run fn in a forked child and return its exit status (0 = pass, else the
 * number of the failed step); -1 if it died of a signal. */
int in_child(int (*fn)(void *), void *arg);

#endif
