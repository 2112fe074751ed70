/* retention: deleting old records so that the spool stays bounded.
 *
 * Records go oldest first (lowest sequence number first), in short write
 * transactions. A record every target has acknowledged goes once it is
 * older than the age bound; any record goes, acknowledged or not, while
 * the records database is over the size bound (those are counted as
 * "dropped.retention"). meta.last_seq is never touched, so numbers are
 * never handed out twice and cursors stay meaningful. */
#include "spool_internal.h"

#include <string.h>

#define DEFAULT_PER_TXN 1000

static uint64_t db_bytes(const MDB_stat *st) {
  return (uint64_t)(st->ms_branch_pages + st->ms_leaf_pages +
                    st->ms_overflow_pages) *
         st->ms_psize;
}

int spool_records_size(struct spool *sp, uint64_t *bytes, uint64_t *count) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  struct spool_txn t;
  spool_txn_begin(&t, sp, 1);
  if (t.err)
    return t.err;
  MDB_stat st;
  rc = mdb_stat(t.txn, sp->db_records, &st);
  spool_txn_abort(&t);
  if (rc)
    return spool_fail(sp, rc, "size of the records database");
  if (bytes)
    *bytes = db_bytes(&st);
  if (count)
    *count = st.ms_entries;
  return SPOOL_OK;
}

/* The highest seq every target has: the least cursor, and below every
 * parked and in-flight range. UINT64_MAX when no target is registered. */
static uint64_t ack_floor(struct spool_txn *t) {
  struct spool *sp = t->sp;
  uint64_t floor = UINT64_MAX;
  MDB_cursor *c;
  MDB_val k, v;
  int rc = mdb_cursor_open(t->txn, sp->db_cursors, &c);
  if (rc) {
    spool_txn_fail(t, rc, "read cursors");
    return 0;
  }
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (v.mv_size != 8)
      continue;
    uint64_t s = spool_get_be64(v.mv_data);
    if (s < floor)
      floor = s;
  }
  mdb_cursor_close(c);
  if (rc != MDB_NOTFOUND) {
    spool_txn_fail(t, rc, "read cursors");
    return 0;
  }
  MDB_dbi dbi;
  if (spool_txn_extra_db(t, SPOOL_DB_INFLIGHT, 0, &dbi)) {
    rc = mdb_cursor_open(t->txn, dbi, &c);
    if (rc) {
      spool_txn_fail(t, rc, "read in-flight ranges");
      return 0;
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      if (v.mv_size != 16)
        continue;
      uint64_t first = spool_get_be64(v.mv_data);
      if (first && first - 1 < floor)
        floor = first - 1;
    }
    mdb_cursor_close(c);
  }
  if (!t->err && spool_txn_extra_db(t, SPOOL_DB_PARKED, 0, &dbi)) {
    rc = mdb_cursor_open(t->txn, dbi, &c);
    if (rc) {
      spool_txn_fail(t, rc, "read parked batches");
      return 0;
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      if (k.mv_size < 10)
        continue;
      uint64_t first =
          spool_get_be64((const unsigned char *)k.mv_data + k.mv_size - 8);
      if (first && first - 1 < floor)
        floor = first - 1;
    }
    mdb_cursor_close(c);
  }
  return floor;
}

static void add_counter(struct spool_txn *t, const char *name, uint64_t delta) {
  if (!delta)
    return;
  size_t nlen = strlen(name);
  uint64_t total = 0;
  MDB_val v;
  if (spool_txn_get(t, t->sp->db_counters, name, nlen, &v) && v.mv_size == 8)
    total = spool_get_be64(v.mv_data);
  total = total > UINT64_MAX - delta ? UINT64_MAX : total + delta;
  unsigned char b[8];
  spool_put_be64(b, total);
  spool_txn_put(t, t->sp->db_counters, name, nlen, b, 8, 0, 0);
}

/* One write transaction: delete up to per_txn records from the front.
 * Returns 1 when the front record is one to keep (or none is left), 0
 * when more may go, <0 on failure. */
static int retain_step(struct spool *sp, const struct spool_retention *r,
                       size_t per_txn, struct spool_retention_result *res) {
  struct spool_txn t;
  spool_txn_begin(&t, sp, 0);
  uint64_t floor = ack_floor(&t);
  if (t.err) {
    spool_txn_abort(&t);
    return t.err;
  }
  res->floor = floor;
  MDB_cursor *c;
  int rc = mdb_cursor_open(t.txn, sp->db_records, &c);
  if (rc) {
    spool_txn_fail(&t, rc, "open records cursor");
    spool_txn_abort(&t);
    return t.err;
  }
  int done = 0;
  uint64_t removed = 0, dropped = 0;
  while (removed < per_txn) {
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    if (rc == MDB_NOTFOUND) {
      done = 1;
      break;
    }
    if (rc) {
      spool_txn_fail(&t, rc, "read the oldest record");
      break;
    }
    MDB_stat st;
    rc = mdb_stat(t.txn, sp->db_records, &st);
    if (rc) {
      spool_txn_fail(&t, rc, "size of the records database");
      break;
    }
    /* A malformed key is garbage every target has "seen". */
    uint64_t seq = k.mv_size == 8 ? spool_get_be64(k.mv_data) : 0;
    int over = r->max_bytes && db_bytes(&st) > r->max_bytes;
    int old = 0;
    if (!over && r->max_age_ns > 0 && seq <= floor) {
      const char *json, *why;
      size_t len;
      int64_t when = -1;
      if (spool_value_decode(&v, &json, &len, &why) == 0 && r->rec_time)
        when = r->rec_time(json, len, r->arg);
      old = when < 0 || r->now_ns - when > r->max_age_ns;
    }
    if (!over && !old) {
      done = 1;
      break;
    }
    rc = mdb_cursor_del(c, 0);
    if (rc) {
      spool_txn_fail(&t, rc, "delete a record");
      break;
    }
    removed++;
    if (seq > floor)
      dropped++;
  }
  mdb_cursor_close(c);
  rc = spool_txn_commit(&t);
  if (rc)
    return rc;
  if (removed)
    sp->dirty = 1;
  res->removed += removed;
  res->dropped += dropped;
  return done;
}

int spool_retain(struct spool *sp, const struct spool_retention *r,
                 struct spool_retention_result *res) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (!r || !res)
    return SPOOL_ERR_INVAL;
  memset(res, 0, sizeof *res);
  res->floor = UINT64_MAX;
  uint64_t count = 0;
  rc = spool_records_size(sp, &res->bytes_before, &count);
  if (rc)
    return rc;
  res->bytes_after = res->bytes_before;
  if (r->max_age_ns <= 0 && r->max_bytes == 0)
    return SPOOL_OK;
  size_t per = r->per_txn ? r->per_txn : DEFAULT_PER_TXN;
  /* Bounded: each step deletes per records or ends the loop. */
  int err = 0;
  for (uint64_t steps = 0; steps <= count / per + 1; steps++) {
    rc = retain_step(sp, r, per, res);
    if (rc < 0) {
      err = rc;
      break;
    }
    if (rc == 1)
      break;
  }
  if (res->removed) {
    /* The counters go in a transaction of their own, after the
     * deletions: LMDB reuses the pages a transaction freed only from the
     * second transaction after it, so this small one is what makes the
     * room usable by the next writer of a spool that was full. */
    struct spool_txn t;
    spool_txn_begin(&t, sp, 0);
    add_counter(&t, "retention.removed", res->removed);
    add_counter(&t, "dropped.retention", res->dropped);
    int crc = spool_txn_commit(&t);
    if (!err)
      err = crc;
  }
  if (err)
    return err;
  return spool_records_size(sp, &res->bytes_after, NULL);
}
