/* spool_internal: what the spool's own files share and nobody else sees.
 *
 * The handle, the on-disk encodings (docs/spool-format.md is their
 * contract), and a transaction wrapper with a sticky error in the manner of
 * Knot DNS's knot_lmdb_txn_t: every operation is a no-op once one failed,
 * so a batch is written as a straight line of calls and checked once at
 * commit, which then aborts instead. */
#ifndef AT_SPOOL_INTERNAL_H
#define AT_SPOOL_INTERNAL_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spool.h"

/* ---- on-disk constants (docs/spool-format.md) ---- */

#define SPOOL_DB_RECORDS "records"
#define SPOOL_DB_OPEN "open"
#define SPOOL_DB_COUNTERS "counters"
#define SPOOL_DB_CURSORS "cursors"
#define SPOOL_DB_META "meta"
#define SPOOL_MAXDBS 8 /* five used; room for additive ones */
/* Additive databases (format 1 still): created by the uploader the first
 * time it needs them, absent from spools it never touched. */
#define SPOOL_DB_INFLIGHT "inflight"
#define SPOOL_DB_PARKED "parked"

#define SPOOL_META_FORMAT "format"
#define SPOOL_META_LAST_SEQ "last_seq"
#define SPOOL_FORMAT_PREFIX "autotrace-spool "
#define SPOOL_FORMAT_MAJOR 1
#define SPOOL_FORMAT_VALUE "autotrace-spool 1"

/* Every JSON value (records and open markers) starts with this header. */
#define SPOOL_VALUE_VERSION 1
#define SPOOL_VALUE_HDR 2 /* [0] = version, [1] = flags */

#define SPOOL_ERRLEN 512
#define SPOOL_SPAN_ID_LEN 16
#define SPOOL_NAME_MAX 511 /* LMDB's default maximum key size */

struct spool {
  MDB_env *env;
  MDB_dbi db_records, db_open, db_counters, db_cursors, db_meta;
  pid_t pid;        /* the opener: calls from any other process are refused */
  int rdonly;       /* environment opened MDB_RDONLY (no write access) */
  int walking;      /* a walk's callback is running: refuse re-entry */
  int dirty;        /* wrote since open: close must flush (MDB_NOSYNC) */
  size_t map_max;   /* how far spool_commit may grow the map */
  uint64_t skipped; /* entries the last walk skipped */
  char path[4096];  /* the folder, for messages */
  char err[SPOOL_ERRLEN]; /* last error, "" when none */
};

/* ---- encodings ---- */

void spool_put_be64(unsigned char out[8], uint64_t v);
uint64_t spool_get_be64(const unsigned char in[8]);

/* Check a stored JSON value's header. Returns 0 and points *json and *len at
 * the payload, or -1 with a static reason in *why. */
int spool_value_decode(const MDB_val *v, const char **json, size_t *len,
                       const char **why);

/* ---- errors ---- */

/* Record "ctx: text" as the handle's last error and return the spool_err
 * that LMDB code or errno rc maps to. */
int spool_fail(struct spool *sp, int rc, const char *ctx);
/* Same, for errors that are ours rather than LMDB's. */
int spool_failf(struct spool *sp, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int spool_map_lmdb(int rc);

/* Refuse a handle that is NULL, inherited across fork, or used from inside
 * one of its own walk callbacks. Clears the last error on success. */
int spool_guard(struct spool *sp);

/* ---- the sticky transaction ---- */

struct spool_txn {
  struct spool *sp;
  MDB_txn *txn;
  int err; /* first failure as a spool_err, 0 while all went well */
  int rc;  /* its LMDB code or errno (0 when the failure was ours) */
};

/* Begin a transaction (rdonly != 0: a read snapshot). Adopts a map that
 * another process grew (MDB_MAP_RESIZED) once. */
void spool_txn_begin(struct spool_txn *t, struct spool *sp, int rdonly);
/* Fetch key; returns 1 when found (and sets *v), 0 when absent or after an
 * earlier failure. */
int spool_txn_get(struct spool_txn *t, MDB_dbi dbi, const void *key,
                  size_t klen, MDB_val *v);
/* Store key = value. json != 0 prefixes the value header (version 1,
 * flags 0) to val; mdb_flags are mdb_put's (MDB_APPEND for records). */
void spool_txn_put(struct spool_txn *t, MDB_dbi dbi, const void *key,
                   size_t klen, const void *val, size_t vlen,
                   unsigned int mdb_flags, int json);
/* Delete key; absence is not an error. */
void spool_txn_del(struct spool_txn *t, MDB_dbi dbi, const void *key,
                   size_t klen);
/* Record a failure unless one is already recorded. */
void spool_txn_fail(struct spool_txn *t, int rc, const char *ctx);
/* Commit when nothing failed, else abort. Returns t->err (or the commit's
 * own failure). */
int spool_txn_commit(struct spool_txn *t);
void spool_txn_abort(struct spool_txn *t);

/* Highest sequence number ever assigned: max(last key of records,
 * meta.last_seq). Inside t; 0 for an empty spool. */
uint64_t spool_txn_last_seq(struct spool_txn *t);

/* Open one of the additive databases inside t (create != 0, in a write
 * transaction: create it when missing). Returns 1 with *dbi set, 0 when it
 * does not exist (or after a failure: then t->err is set). The handle is
 * only guaranteed valid for t: callers open it in each transaction. */
int spool_txn_extra_db(struct spool_txn *t, const char *name, int create,
                       MDB_dbi *dbi);

#endif
