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
  SPOOL_ERR_LMDB = -6,     /* any other LMDB failure (spool_last_error) */
  SPOOL_ERR_VERSION = -7,  /* written by an incompatible format version */
  SPOOL_ERR_INVAL = -8     /* bad argument */
};

struct spool;

/* Reader: never create the folder or the data file (SPOOL_ERR_NOTFOUND
 * when either is missing, or the data file is still empty). Opens read-write
 * when the files allow it (so that cursors can be set), else falls back to LMDB
 * read-only; then every write function returns SPOOL_ERR_IO. */
#define SPOOL_OPEN_READONLY 1

/* The LMDB map: address space reserved for the data file, which grows on
 * disk only as it fills. On MDB_MAP_FULL spool_commit doubles the map, up
 * to map_max, before giving up with SPOOL_ERR_FULL. */
#define SPOOL_DEFAULT_MAP_SIZE ((size_t)1 << 30) /* 1 GiB */
#define SPOOL_DEFAULT_MAP_MAX ((size_t)1 << (sizeof(size_t) > 4 ? 32 : 30))

struct spool_options {
  size_t map_size; /* initial map size in bytes; 0 = SPOOL_DEFAULT_MAP_SIZE */
  size_t map_max;  /* growth limit; 0 = SPOOL_DEFAULT_MAP_MAX; a value below
                      map_size means no growth */
};

/* Open (creating when allowed) the spool at dir: folder 0700, files 0600.
 * On failure *out is NULL and err (if given) holds a human message.
 * One handle per spool per process, used by one thread at a time. */
int spool_open(const char *dir, int flags, struct spool **out, char *err,
               size_t errlen);
/* The same with explicit options (NULL = defaults). */
int spool_open_opts(const char *dir, int flags, const struct spool_options *opt,
                    struct spool **out, char *err, size_t errlen);

/* Flush (if this handle wrote: the environment is MDB_NOSYNC) and close.
 * Must be called only by the process that opened it: after fork, the child
 * must abandon (not close) an inherited handle, see spool_abandon(); a
 * close from another process acts as abandon. Not from a walk callback. */
void spool_close(struct spool *sp);

/* Forget a handle inherited across fork() without touching LMDB (lmdb.h:
 * an environment must not be used after fork). Frees only our own memory;
 * LMDB's maps and fds stay, unused, until exit or exec (they are all
 * close-on-exec). Every other call on an inherited handle returns
 * SPOOL_ERR_INVAL. */
void spool_abandon(struct spool *sp);

const char *spool_strerror(int err);

/* What the last failing call on this handle was doing and LMDB's words for
 * it ("" after a success). Valid until the next call on the handle. */
const char *spool_last_error(const struct spool *sp);

/* ---- writing: one batch, one write transaction ---- */

/* A stat counter delta, e.g. {"dropped.queue_full", 3}. */
struct spool_counter {
  const char *name;
  uint64_t delta;
};

/* An open-span marker: a span that has started but is not finished. Readers
 * use markers to show spans of processes that died (see spool-format.md). */
struct spool_open_mark {
  const char *span_id; /* 16 lowercase hex */
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
 * processes). Marker additions are applied before removals, so a span
 * opened and closed within one batch leaves no marker; removing an absent
 * marker is not an error. Counters saturate at UINT64_MAX. On any failure
 * nothing was written; SPOOL_ERR_FULL means the map (after growing up to
 * map_max) or the disk is full. SPOOL_ERR_INVAL: a malformed batch (a span
 * id that is not 16 lowercase hex digits, an empty or over-long name, an
 * empty record). */
int spool_commit(struct spool *sp, const struct spool_batch *batch);

/* ---- reading ---- */

/* Walks run in one read snapshot: they see every commit made before the
 * walk began and none made during it. Entries that break the format (a bad
 * value header, a malformed key) are skipped; the walk then visits the rest
 * and returns SPOOL_ERR_CORRUPT, with the count in spool_skipped() and the
 * first one described by spool_last_error(). A callback must not call any
 * spool function on the same handle (they return SPOOL_ERR_INVAL), and
 * should be quick: the snapshot keeps writers from reusing pages.
 *
 * Called for each record; return non-zero to stop the walk (that value is
 * then returned by the walk function). rec is not NUL-terminated and points
 * into read-only mapped memory valid only during the call. */
typedef int (*spool_record_cb)(uint64_t seq, const char *rec, size_t len,
                               void *arg);

/* Walk records with seq >= from_seq in increasing order. */
int spool_foreach(struct spool *sp, uint64_t from_seq, spool_record_cb cb,
                  void *arg);

/* Walk records from the newest backwards. */
int spool_foreach_reverse(struct spool *sp, spool_record_cb cb, void *arg);

/* Walk open-span markers (key = span id). */
typedef int (*spool_open_cb)(const char *span_id, const char *json, size_t len,
                             void *arg);
int spool_foreach_open(struct spool *sp, spool_open_cb cb, void *arg);

/* Walk stored counters. */
typedef int (*spool_counter_cb)(const char *name, uint64_t value, void *arg);
int spool_foreach_counter(struct spool *sp, spool_counter_cb cb, void *arg);

/* Entries the last walk on this handle skipped as malformed. */
uint64_t spool_skipped(const struct spool *sp);

/* Highest sequence number written so far (0 when empty). Numbers are never
 * reused, even when every record has been deleted. */
int spool_last_seq(struct spool *sp, uint64_t *seq);

/* ---- per-target cursors (used by the uploader; kept here so that the
 * format has one owner) ---- */
/* By convention a cursor is the highest seq the target has consumed; the
 * next walk starts at cursor + 1. A missing cursor: SPOOL_ERR_NOTFOUND
 * with *seq = 0. */
int spool_cursor_get(struct spool *sp, const char *target, uint64_t *seq);
int spool_cursor_set(struct spool *sp, const char *target, uint64_t seq);

/* ---- upload state (spool/parked.c): what the uploader keeps per target,
 * beside its cursor. Every function here is one transaction. Target names
 * follow the cursor rules (1..SPOOL_TARGET_MAX bytes, no NUL). ---- */

/* Longest target name the upload state accepts: parked keys append a NUL
 * and an 8-byte sequence number to it within LMDB's 511-byte key limit. */
#define SPOOL_TARGET_MAX 500

/* Walk every cursor (target name and value), in name order. */
typedef int (*spool_cursor_cb)(const char *target, uint64_t seq, void *arg);
int spool_foreach_cursor(struct spool *sp, spool_cursor_cb cb, void *arg);

/* The batch a target is sending: records first..last (inclusive). Kept so
 * that a restarted uploader re-sends exactly the same batch. get returns
 * SPOOL_ERR_NOTFOUND (and zeros) when there is none. */
int spool_inflight_get(struct spool *sp, const char *target, uint64_t *first,
                       uint64_t *last);
int spool_inflight_set(struct spool *sp, const char *target, uint64_t first,
                       uint64_t last);

/* A batch the target refused for good (a 4xx): kept, with what the server
 * said (info: opaque bytes, by convention JSON), until it is retried. */
struct spool_parked {
  uint64_t first, last; /* the records it covers */
  const char *info;
  size_t len;
};

/* The end of a send, atomically: the cursor moves to max(cursor, ack)
 * (ack = 0 leaves it), the in-flight range is cleared, parked entries are
 * added (replacing one with the same target and first), entries whose
 * first is listed in unpark are removed, and counters are added. */
struct spool_upload_done {
  uint64_t ack;
  const struct spool_parked *park;
  size_t npark;
  const uint64_t *unpark;
  size_t nunpark;
  const struct spool_counter *counters;
  size_t ncounters;
};
int spool_upload_done(struct spool *sp, const char *target,
                      const struct spool_upload_done *d);

/* Walk parked entries, of one target (NULL: all), by target then first.
 * info points into the map, valid during the call only. */
typedef int (*spool_parked_cb)(const char *target, uint64_t first,
                               uint64_t last, const char *info, size_t len,
                               void *arg);
int spool_foreach_parked(struct spool *sp, const char *target,
                         spool_parked_cb cb, void *arg);

/* How many records have from <= seq <= to (keys only: cheap). */
int spool_count_range(struct spool *sp, uint64_t from, uint64_t to,
                      uint64_t *n);

/* Persist the closure of an open span: append rec (the finished record)
 * and delete the marker span_id, in one transaction, only when the marker
 * is still there. SPOOL_ERR_NOTFOUND (nothing written) when it is gone:
 * someone else closed it, or its process finished it. *seq (may be NULL)
 * gets the record's sequence number. Counters are added with it. */
int spool_close_marker(struct spool *sp, const char *span_id, const char *rec,
                       size_t len, const struct spool_counter *counters,
                       size_t ncounters, uint64_t *seq);

/* ---- retention (spool/retention.c) ---- */

/* Delete records oldest first (by sequence number) while either
 *   - the record is older than max_age_ns (by rec_time) and every target
 *     has it: its seq is at most every cursor and below every parked or
 *     in-flight range (no cursor at all: nobody needs it); or
 *   - the records database is bigger than max_bytes: then even records a
 *     target has not acknowledged go, counted as "dropped.retention".
 * max_age_ns <= 0 and max_bytes == 0 disable each bound. A record whose
 * time rec_time cannot tell (returns < 0) counts as old. Deletes at most
 * per_txn records per write transaction (0: 1000), so that writers are
 * never held up long; meta.last_seq is never touched. */
struct spool_retention {
  int64_t max_age_ns;
  uint64_t max_bytes;
  int64_t now_ns;
  int64_t (*rec_time)(const char *rec, size_t len, void *arg);
  void *arg;
  size_t per_txn;
};
struct spool_retention_result {
  uint64_t removed;      /* records deleted */
  uint64_t dropped;      /* of which no target had acknowledged */
  uint64_t bytes_before; /* size of the records database, in bytes */
  uint64_t bytes_after;
  uint64_t floor; /* highest seq every target has (UINT64_MAX: no
                     target) */
};
int spool_retain(struct spool *sp, const struct spool_retention *r,
                 struct spool_retention_result *res);

/* Pages the records database occupies, in bytes, and its record count. */
int spool_records_size(struct spool *sp, uint64_t *bytes, uint64_t *count);

#endif
