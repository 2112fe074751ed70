/* txn: the spool's encodings, its error mapping, and the sticky-error
 * transaction every other spool file goes through. */
#include "spool_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void spool_put_be64(unsigned char out[8], uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    out[i] = (unsigned char)(v & 0xff);
    v >>= 8;
  }
}

uint64_t spool_get_be64(const unsigned char in[8]) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | in[i];
  return v;
}

int spool_value_decode(const MDB_val *v, const char **json, size_t *len,
                       const char **why) {
  const unsigned char *p = v->mv_data;
  if (v->mv_size < SPOOL_VALUE_HDR) {
    *why = "value shorter than its 2-byte header";
    return -1;
  }
  if (p[0] != SPOOL_VALUE_VERSION) {
    *why = "unknown value header version";
    return -1;
  }
  /* Version 1 defines no flag; a set bit may change how the payload is
   * encoded (compression), so it cannot be ignored. */
  if (p[1] != 0) {
    *why = "unknown value header flags";
    return -1;
  }
  *json = (const char *)p + SPOOL_VALUE_HDR;
  *len = v->mv_size - SPOOL_VALUE_HDR;
  return 0;
}

int spool_map_lmdb(int rc) {
  switch (rc) {
  case MDB_SUCCESS:
    return SPOOL_OK;
  case MDB_MAP_FULL:
  case MDB_TXN_FULL: /* the batch alone dirties too many pages */
  case ENOSPC:
  case EDQUOT:
    return SPOOL_ERR_FULL;
  case ENOMEM:
    return SPOOL_ERR_NOMEM;
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID:
    return SPOOL_ERR_CORRUPT;
  case MDB_VERSION_MISMATCH: /* written by another LMDB file format */
  case MDB_INCOMPATIBLE:     /* a named database is not what we expect */
    return SPOOL_ERR_VERSION;
  case MDB_NOTFOUND:
    return SPOOL_ERR_NOTFOUND;
  case EACCES:
  case EPERM:
  case EROFS:
  case ENOENT:
  case ENOTDIR:
  case EISDIR:
  case EIO:
  case EMFILE:
  case ENFILE:
    return SPOOL_ERR_IO;
  default:
    return SPOOL_ERR_LMDB;
  }
}

int spool_fail(struct spool *sp, int rc, const char *ctx) {
  snprintf(sp->err, sizeof sp->err, "%s: %s", ctx, mdb_strerror(rc));
  return spool_map_lmdb(rc);
}

int spool_failf(struct spool *sp, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sp->err, sizeof sp->err, fmt, ap);
  va_end(ap);
  return err;
}

int spool_guard(struct spool *sp) {
  if (!sp)
    return SPOOL_ERR_INVAL;
  if (sp->pid != getpid())
    return spool_failf(sp, SPOOL_ERR_INVAL,
                       "spool handle inherited across fork(): abandon it "
                       "and open a new one");
  /* A nested transaction could see its map moved under the walk's
   * (mdb_env_set_mapsize), and a write would deadlock against nothing but
   * itself in the worst case: keep the rule simple and refuse. */
  if (sp->walking)
    return spool_failf(sp, SPOOL_ERR_INVAL,
                       "spool called from inside one of its walk callbacks");
  sp->err[0] = '\0';
  return SPOOL_OK;
}

void spool_txn_fail(struct spool_txn *t, int rc, const char *ctx) {
  if (!t->err) {
    t->err = spool_fail(t->sp, rc, ctx);
    t->rc = rc;
  }
}

void spool_txn_begin(struct spool_txn *t, struct spool *sp, int rdonly) {
  t->sp = sp;
  t->txn = NULL;
  t->err = 0;
  t->rc = 0;
  if (!rdonly && sp->rdonly) {
    t->err = spool_failf(sp, SPOOL_ERR_IO,
                         "%s: opened read-only (no write permission on its "
                         "files)",
                         sp->path);
    return;
  }
  unsigned int fl = rdonly ? MDB_RDONLY : 0;
  int rc = mdb_txn_begin(sp->env, NULL, fl, &t->txn);
  if (rc == MDB_MAP_RESIZED) {
    /* Another process grew the map past ours: adopt the size it stored.
     * Allowed because no transaction of this handle is active (one thread,
     * no nesting: spool_guard). */
    rc = mdb_env_set_mapsize(sp->env, 0);
    if (rc == MDB_SUCCESS)
      rc = mdb_txn_begin(sp->env, NULL, fl, &t->txn);
  }
  if (rc) {
    t->txn = NULL;
    spool_txn_fail(
        t, rc, rdonly ? "begin read transaction" : "begin write transaction");
  }
}

int spool_txn_get(struct spool_txn *t, MDB_dbi dbi, const void *key,
                  size_t klen, MDB_val *v) {
  if (t->err)
    return 0;
  MDB_val k = {klen, (void *)key};
  int rc = mdb_get(t->txn, dbi, &k, v);
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc) {
    spool_txn_fail(t, rc, "read");
    return 0;
  }
  return 1;
}

void spool_txn_put(struct spool_txn *t, MDB_dbi dbi, const void *key,
                   size_t klen, const void *val, size_t vlen,
                   unsigned int mdb_flags, int json) {
  if (t->err)
    return;
  MDB_val k = {klen, (void *)key};
  MDB_val d;
  int rc;
  if (json) {
    /* Reserve the space and fill it in place: one copy of the record. */
    d.mv_size = vlen + SPOOL_VALUE_HDR;
    d.mv_data = NULL;
    rc = mdb_put(t->txn, dbi, &k, &d, mdb_flags | MDB_RESERVE);
    if (rc == MDB_SUCCESS) {
      unsigned char *p = d.mv_data;
      p[0] = SPOOL_VALUE_VERSION;
      p[1] = 0;
      if (vlen)
        memcpy(p + SPOOL_VALUE_HDR, val, vlen);
    }
  } else {
    d.mv_size = vlen;
    d.mv_data = (void *)val;
    rc = mdb_put(t->txn, dbi, &k, &d, mdb_flags);
  }
  if (rc)
    spool_txn_fail(t, rc, "write");
}

void spool_txn_del(struct spool_txn *t, MDB_dbi dbi, const void *key,
                   size_t klen) {
  if (t->err)
    return;
  MDB_val k = {klen, (void *)key};
  int rc = mdb_del(t->txn, dbi, &k, NULL);
  if (rc && rc != MDB_NOTFOUND)
    spool_txn_fail(t, rc, "delete");
}

int spool_txn_commit(struct spool_txn *t) {
  if (t->err) {
    spool_txn_abort(t);
    return t->err;
  }
  int rc = mdb_txn_commit(t->txn);
  t->txn = NULL; /* commit frees the txn whether or not it succeeded */
  if (rc)
    spool_txn_fail(t, rc, "commit");
  return t->err;
}

void spool_txn_abort(struct spool_txn *t) {
  if (t->txn)
    mdb_txn_abort(t->txn);
  t->txn = NULL;
}

uint64_t spool_txn_last_seq(struct spool_txn *t) {
  uint64_t last = 0;
  MDB_val v;
  if (spool_txn_get(t, t->sp->db_meta, SPOOL_META_LAST_SEQ,
                    strlen(SPOOL_META_LAST_SEQ), &v)) {
    if (v.mv_size != 8) {
      t->err = spool_failf(t->sp, SPOOL_ERR_CORRUPT,
                           "meta.last_seq is %zu bytes, not 8", v.mv_size);
      return 0;
    }
    last = spool_get_be64(v.mv_data);
  }
  if (t->err)
    return 0;
  MDB_cursor *c;
  int rc = mdb_cursor_open(t->txn, t->sp->db_records, &c);
  if (rc) {
    spool_txn_fail(t, rc, "open records cursor");
    return 0;
  }
  MDB_val k;
  rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
  mdb_cursor_close(c);
  if (rc == MDB_NOTFOUND)
    return last;
  if (rc) {
    spool_txn_fail(t, rc, "find the last record");
    return 0;
  }
  if (k.mv_size != 8) {
    /* Appending after a malformed key is impossible (keys sort bytewise),
     * so this blocks writing rather than being skipped. */
    t->err = spool_failf(t->sp, SPOOL_ERR_CORRUPT,
                         "last key of records is %zu bytes, not 8", k.mv_size);
    return 0;
  }
  uint64_t key_seq = spool_get_be64(k.mv_data);
  return key_seq > last ? key_seq : last;
}
