/* spool: the LMDB store between the shim and its readers.
 *
 * One environment per spool folder (AUTOTRACE_SPOOL). The shim appends
 * finished observation records from one writer thread per process, in
 * batches; readers (the CLI, the uploader) are other processes. The on-disk
 * layout is documented in docs/spool-format.md; this header is the only way
 * code touches it.
 *
 * Errors: functions return 0 (SPOOL_OK) or a negative spool_err; positive
 * values never occur. spool_strerror() gives the text. Nothing here aborts,
 * prints, or blocks on anything but LMDB's own writer lock. */
#ifndef AT_SPOOL_H
#define AT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

enum spool_err {
  SPOOL_OK = 0,
  SPOOL_ERR_IO = -1,       /* cannot create/open the folder or files */
  SPOOL_ERR_FULL = -2,     /* map full or disk full: drop and count */
  SPOOL_ERR_NOMEM = -3,    /* allocation failed */
  SPOOL_ERR_CORRUPT = -4,  /* a record or key that breaks the format */
  SPOOL_ERR_NOTFOUND = -5, /* no such record / no spool yet */
  SPOOL_ERR_LMDB = -6,     /* any other LMDB failure (see errbuf) */
  SPOOL_ERR_VERSION = -7,  /* written by an incompatible format version */
  SPOOL_ERR_INVAL = -8     /* bad argument */
};

struct spool;

#define SPOOL_OPEN_READONLY 1 /* reader: never create the folder */

/* Open (creating when allowed) the spool at dir: folder 0700, files 0600.
 * On failure *out is NULL and err (if given) holds a human message. */
int spool_open(const char *dir, int flags, struct spool **out, char *err,
               size_t errlen);

/* Close. Must be called only by the process that opened it: after fork,
 * the child must abandon (not close) an inherited handle, see
 * spool_abandon(). */
void spool_close(struct spool *sp);

/* Forget a handle inherited across fork() without touching LMDB (closing
 * would drop the parent's fcntl locks). Frees only our own memory. */
void spool_abandon(struct spool *sp);

const char *spool_strerror(int err);

/* ---- writing: one batch, one write transaction ---- */

/* A stat counter delta, e.g. {"dropped.queue_full", 3}. */
struct spool_counter {
  const char *name;
  uint64_t delta;
};

/* An open-span marker: a span that has started but is not finished. Readers
 * use markers to show spans of processes that died (see spool-format.md). */
struct spool_open_mark {
  const char *span_id; /* 16 hex */
  const char *json;    /* the record as known so far (start, pid, ...) */
  size_t len;
};

struct spool_batch {
  const char *const *records; /* finished records (JSON text) to append */
  const size_t *record_lens;
  size_t nrecords;
  const struct spool_open_mark *open_add; /* markers to add */
  size_t nopen_add;
  const char *const *open_del; /* span ids whose markers to remove */
  size_t nopen_del;
  const struct spool_counter *counters; /* added to the stored totals */
  size_t ncounters;
};

/* Commit everything in the batch atomically. Records get consecutive
 * sequence numbers after the highest one in the spool (across all
 * processes). On SPOOL_ERR_FULL nothing was written. */
int spool_commit(struct spool *sp, const struct spool_batch *batch);

/* ---- reading ---- */

/* Called for each record; return non-zero to stop the walk (that value is
 * then returned by the walk function). rec is not NUL-terminated. */
typedef int (*spool_record_cb)(uint64_t seq, const char *rec, size_t len,
                               void *arg);

/* Walk records with seq >= from_seq in increasing order. */
int spool_foreach(struct spool *sp, uint64_t from_seq, spool_record_cb cb,
                  void *arg);

/* Walk records from the newest backwards. */
int spool_foreach_reverse(struct spool *sp, spool_record_cb cb, void *arg);

/* Walk open-span markers (key = span id). */
typedef int (*spool_open_cb)(const char *span_id, const char *json,
                             size_t len, void *arg);
int spool_foreach_open(struct spool *sp, spool_open_cb cb, void *arg);

/* Walk stored counters. */
typedef int (*spool_counter_cb)(const char *name, uint64_t value, void *arg);
int spool_foreach_counter(struct spool *sp, spool_counter_cb cb, void *arg);

/* Highest sequence number written so far (0 when empty). */
int spool_last_seq(struct spool *sp, uint64_t *seq);

/* ---- per-target cursors (used by the uploader; kept here so that the
 * format has one owner) ---- */
int spool_cursor_get(struct spool *sp, const char *target, uint64_t *seq);
int spool_cursor_set(struct spool *sp, const char *target, uint64_t seq);

#endif
