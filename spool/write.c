/* write: the spool's only two writes, a batch commit and a cursor. */
#include "spool_internal.h"

#include <string.h>

/* How many times spool_commit may double the map before giving up; each
 * try is a full retry of the batch. 2^8 covers any map_max / map_size. */
#define GROW_TRIES 8

static int valid_span_id(const char *s) {
  if (!s)
    return 0;
  for (int i = 0; i < SPOOL_SPAN_ID_LEN; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return 0;
  }
  return s[SPOOL_SPAN_ID_LEN] == '\0';
}

static int valid_name(const char *s) {
  if (!s)
    return 0;
  size_t n = strnlen(s, SPOOL_NAME_MAX + 1);
  return n > 0 && n <= SPOOL_NAME_MAX;
}

static int check_batch(struct spool *sp, const struct spool_batch *b) {
  if (!b)
    return spool_failf(sp, SPOOL_ERR_INVAL, "spool_commit: no batch");
  if (b->nrecords && (!b->records || !b->record_lens))
    return spool_failf(sp, SPOOL_ERR_INVAL, "spool_commit: no records");
  for (size_t i = 0; i < b->nrecords; i++) {
    size_t n = b->record_lens[i];
    if (!b->records[i] || n == 0 || n > (size_t)UINT32_MAX - SPOOL_VALUE_HDR)
      return spool_failf(sp, SPOOL_ERR_INVAL,
                         "spool_commit: record %zu is empty or too big", i);
  }
  if (b->nopen_add && !b->open_add)
    return spool_failf(sp, SPOOL_ERR_INVAL, "spool_commit: no markers");
  for (size_t i = 0; i < b->nopen_add; i++) {
    const struct spool_open_mark *m = &b->open_add[i];
    if (!valid_span_id(m->span_id))
      return spool_failf(sp, SPOOL_ERR_INVAL,
                         "spool_commit: marker %zu: span id is not 16 "
                         "lowercase hex digits",
                         i);
    if (!m->json || m->len == 0 ||
        m->len > (size_t)UINT32_MAX - SPOOL_VALUE_HDR)
      return spool_failf(sp, SPOOL_ERR_INVAL,
                         "spool_commit: marker %zu is empty or too big", i);
  }
  if (b->nopen_del && !b->open_del)
    return spool_failf(sp, SPOOL_ERR_INVAL, "spool_commit: no span ids");
  for (size_t i = 0; i < b->nopen_del; i++)
    if (!valid_span_id(b->open_del[i]))
      return spool_failf(sp, SPOOL_ERR_INVAL,
                         "spool_commit: removal %zu: span id is not 16 "
                         "lowercase hex digits",
                         i);
  if (b->ncounters && !b->counters)
    return spool_failf(sp, SPOOL_ERR_INVAL, "spool_commit: no counters");
  for (size_t i = 0; i < b->ncounters; i++)
    if (!valid_name(b->counters[i].name))
      return spool_failf(sp, SPOOL_ERR_INVAL,
                         "spool_commit: counter %zu: name empty or longer "
                         "than %d bytes",
                         i, SPOOL_NAME_MAX);
  return SPOOL_OK;
}

/* One attempt: the whole batch in one write transaction. The last seq is
 * read inside it, under LMDB's writer lock, so concurrent processes get
 * disjoint, contiguous ranges. *map_full tells a full map (which growing
 * can cure) from a full disk (which it cannot). */
static int commit_once(struct spool *sp, const struct spool_batch *b,
                       int *map_full) {
  struct spool_txn t;
  spool_txn_begin(&t, sp, 0);
  uint64_t seq = spool_txn_last_seq(&t);
  unsigned char key[8];
  for (size_t i = 0; i < b->nrecords && !t.err; i++) {
    spool_put_be64(key, ++seq);
    spool_txn_put(&t, sp->db_records, key, 8, b->records[i], b->record_lens[i],
                  MDB_APPEND, 1);
  }
  if (b->nrecords) {
    /* The high-water mark: survives the deletion of every record, so a
     * number handed out once is never handed out again. */
    spool_put_be64(key, seq);
    spool_txn_put(&t, sp->db_meta, SPOOL_META_LAST_SEQ,
                  strlen(SPOOL_META_LAST_SEQ), key, 8, 0, 0);
  }
  for (size_t i = 0; i < b->nopen_add && !t.err; i++) {
    const struct spool_open_mark *m = &b->open_add[i];
    spool_txn_put(&t, sp->db_open, m->span_id, SPOOL_SPAN_ID_LEN, m->json,
                  m->len, 0, 1);
  }
  for (size_t i = 0; i < b->nopen_del && !t.err; i++)
    spool_txn_del(&t, sp->db_open, b->open_del[i], SPOOL_SPAN_ID_LEN);
  for (size_t i = 0; i < b->ncounters && !t.err; i++) {
    const char *name = b->counters[i].name;
    size_t nlen = strlen(name);
    uint64_t total = 0;
    MDB_val v;
    if (spool_txn_get(&t, sp->db_counters, name, nlen, &v)) {
      if (v.mv_size != 8) {
        t.err =
            spool_failf(sp, SPOOL_ERR_CORRUPT,
                        "counter \"%s\" is %zu bytes, not 8", name, v.mv_size);
        break;
      }
      total = spool_get_be64(v.mv_data);
    }
    uint64_t d = b->counters[i].delta;
    total = total > UINT64_MAX - d ? UINT64_MAX : total + d;
    spool_put_be64(key, total);
    spool_txn_put(&t, sp->db_counters, name, nlen, key, 8, 0, 0);
  }
  int rc = spool_txn_commit(&t);
  *map_full = t.rc == MDB_MAP_FULL;
  return rc;
}

/* Double the map (up to map_max). Returns 1 when it grew. Safe here: the
 * failed transaction is gone and spool_guard excludes any other. */
static int grow_map(struct spool *sp) {
  MDB_envinfo info;
  if (mdb_env_info(sp->env, &info) != 0)
    return 0;
  size_t cur = info.me_mapsize;
  if (cur >= sp->map_max)
    return 0;
  size_t next = cur > sp->map_max / 2 ? sp->map_max : cur * 2;
  return mdb_env_set_mapsize(sp->env, next) == 0;
}

int spool_commit(struct spool *sp, const struct spool_batch *batch) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  rc = check_batch(sp, batch);
  if (rc)
    return rc;
  if (!batch->nrecords && !batch->nopen_add && !batch->nopen_del &&
      !batch->ncounters)
    return SPOOL_OK;
  for (int tries = 0; tries <= GROW_TRIES; tries++) {
    int map_full = 0;
    rc = commit_once(sp, batch, &map_full);
    if (!map_full || !grow_map(sp))
      break;
  }
  if (rc == SPOOL_OK)
    sp->dirty = 1;
  return rc;
}

int spool_cursor_set(struct spool *sp, const char *target, uint64_t seq) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (!valid_name(target))
    return spool_failf(sp, SPOOL_ERR_INVAL,
                       "spool_cursor_set: target empty or longer than %d "
                       "bytes",
                       SPOOL_NAME_MAX);
  unsigned char v[8];
  spool_put_be64(v, seq);
  struct spool_txn t;
  spool_txn_begin(&t, sp, 0);
  spool_txn_put(&t, sp->db_cursors, target, strlen(target), v, 8, 0, 0);
  rc = spool_txn_commit(&t);
  if (rc == SPOOL_OK)
    sp->dirty = 1;
  return rc;
}
