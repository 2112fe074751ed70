/* parked: the uploader's state beside its cursors — the batch in flight,
 * the batches a target refused (parked), and the closing of open spans
 * whose process died.
 *
 * Two additive databases hold it (docs/spool-format.md, "Upload state"):
 * `inflight` (target -> first, last) and `parked` (target NUL first ->
 * last, info). Both are created by the first write that needs them, so a
 * spool no uploader touched has neither and stays what format 1 always
 * was; a reader that finds one missing reads it as empty. */
#include "spool_internal.h"

#include <string.h>

#define PARKED_KEY_MAX (SPOOL_TARGET_MAX + 1 + 8)

int spool_txn_extra_db(struct spool_txn *t, const char *name, int create,
                       MDB_dbi *dbi) {
  if (t->err)
    return 0;
  int rc = mdb_dbi_open(t->txn, name, create ? MDB_CREATE : 0, dbi);
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc) {
    spool_txn_fail(t, rc, "open an upload-state database");
    return 0;
  }
  return 1;
}

static int valid_target(const char *s) {
  if (!s)
    return 0;
  size_t n = strnlen(s, SPOOL_TARGET_MAX + 1);
  return n > 0 && n <= SPOOL_TARGET_MAX;
}

static int bad_target(struct spool *sp, const char *fn) {
  return spool_failf(sp, SPOOL_ERR_INVAL,
                     "%s: target empty or longer than %d bytes", fn,
                     SPOOL_TARGET_MAX);
}

/* Read transactions here are committed, not aborted: a database handle
 * opened inside a transaction survives only its commit. */
static int end_read(struct spool_txn *t) {
  if (t->err) {
    spool_txn_abort(t);
    return t->err;
  }
  return spool_txn_commit(t);
}

static size_t parked_key(unsigned char *key, const char *target,
                         uint64_t first) {
  size_t n = strlen(target);
  memcpy(key, target, n);
  key[n] = '\0';
  spool_put_be64(key + n + 1, first);
  return n + 9;
}

/* Split a parked key; 0 when it is malformed. */
static int parked_key_split(const MDB_val *k, char *target, uint64_t *first) {
  if (k->mv_size < 10 || k->mv_size > PARKED_KEY_MAX)
    return 0;
  const unsigned char *p = k->mv_data;
  size_t n = k->mv_size - 9;
  if (p[n] != '\0' || memchr(p, '\0', n))
    return 0;
  memcpy(target, p, n);
  target[n] = '\0';
  *first = spool_get_be64(p + n + 1);
  return 1;
}

/* counters += delta, saturating, inside t. */
static void add_counter(struct spool_txn *t, const char *name, uint64_t delta) {
  size_t nlen = strlen(name);
  uint64_t total = 0;
  MDB_val v;
  if (spool_txn_get(t, t->sp->db_counters, name, nlen, &v)) {
    if (v.mv_size != 8) {
      t->err =
          spool_failf(t->sp, SPOOL_ERR_CORRUPT,
                      "counter \"%s\" is %zu bytes, not 8", name, v.mv_size);
      return;
    }
    total = spool_get_be64(v.mv_data);
  }
  total = total > UINT64_MAX - delta ? UINT64_MAX : total + delta;
  unsigned char b[8];
  spool_put_be64(b, total);
  spool_txn_put(t, t->sp->db_counters, name, nlen, b, 8, 0, 0);
}

static int check_counters(struct spool *sp, const struct spool_counter *c,
                          size_t n) {
  if (n && !c)
    return spool_failf(sp, SPOOL_ERR_INVAL, "no counters");
  for (size_t i = 0; i < n; i++) {
    size_t len = c[i].name ? strnlen(c[i].name, SPOOL_NAME_MAX + 1) : 0;
    if (len == 0 || len > SPOOL_NAME_MAX)
      return spool_failf(sp, SPOOL_ERR_INVAL, "counter %zu: bad name", i);
  }
  return SPOOL_OK;
}

/* ---- cursors ---- */

int spool_foreach_cursor(struct spool *sp, spool_cursor_cb cb, void *arg) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (!cb)
    return SPOOL_ERR_INVAL;
  struct spool_txn t;
  spool_txn_begin(&t, sp, 1);
  if (t.err)
    return t.err;
  MDB_cursor *c;
  MDB_stat st;
  rc = mdb_stat(t.txn, sp->db_cursors, &st);
  if (!rc)
    rc = mdb_cursor_open(t.txn, sp->db_cursors, &c);
  if (rc) {
    spool_txn_fail(&t, rc, "walk cursors");
    spool_txn_abort(&t);
    return t.err;
  }
  MDB_val k, v;
  MDB_cursor_op op = MDB_FIRST;
  int ret = 0;
  for (size_t i = 0; i <= st.ms_entries && !ret; i++) {
    rc = mdb_cursor_get(c, &k, &v, op);
    op = MDB_NEXT;
    if (rc == MDB_NOTFOUND)
      break;
    if (rc) {
      spool_txn_fail(&t, rc, "walk cursors");
      break;
    }
    char name[SPOOL_NAME_MAX + 1];
    if (k.mv_size == 0 || k.mv_size > SPOOL_NAME_MAX || v.mv_size != 8 ||
        memchr(k.mv_data, '\0', k.mv_size))
      continue; /* not a cursor this format knows */
    memcpy(name, k.mv_data, k.mv_size);
    name[k.mv_size] = '\0';
    sp->walking = 1;
    ret = cb(name, spool_get_be64(v.mv_data), arg);
    sp->walking = 0;
  }
  mdb_cursor_close(c);
  spool_txn_abort(&t);
  return ret ? ret : t.err;
}

/* ---- in flight ---- */

int spool_inflight_get(struct spool *sp, const char *target, uint64_t *first,
                       uint64_t *last) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (!first || !last)
    return SPOOL_ERR_INVAL;
  *first = *last = 0;
  if (!valid_target(target))
    return bad_target(sp, "spool_inflight_get");
  struct spool_txn t;
  spool_txn_begin(&t, sp, 1);
  MDB_dbi dbi;
  MDB_val v;
  int found = spool_txn_extra_db(&t, SPOOL_DB_INFLIGHT, 0, &dbi) &&
              spool_txn_get(&t, dbi, target, strlen(target), &v);
  if (found && v.mv_size == 16) {
    *first = spool_get_be64(v.mv_data);
    *last = spool_get_be64((const unsigned char *)v.mv_data + 8);
  } else if (found) {
    t.err = spool_failf(sp, SPOOL_ERR_CORRUPT,
                        "in-flight range of \"%s\" is %zu bytes, not 16",
                        target, v.mv_size);
  }
  rc = end_read(&t);
  if (rc)
    return rc;
  return found ? SPOOL_OK
               : spool_failf(sp, SPOOL_ERR_NOTFOUND,
                             "no batch in flight for \"%s\"", target);
}

int spool_inflight_set(struct spool *sp, const char *target, uint64_t first,
                       uint64_t last) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (!valid_target(target))
    return bad_target(sp, "spool_inflight_set");
  if (first == 0 || last < first)
    return spool_failf(sp, SPOOL_ERR_INVAL, "spool_inflight_set: empty range");
  unsigned char v[16];
  spool_put_be64(v, first);
  spool_put_be64(v + 8, last);
  struct spool_txn t;
  spool_txn_begin(&t, sp, 0);
  MDB_dbi dbi;
  if (spool_txn_extra_db(&t, SPOOL_DB_INFLIGHT, 1, &dbi))
    spool_txn_put(&t, dbi, target, strlen(target), v, 16, 0, 0);
  rc = spool_txn_commit(&t);
  if (rc == SPOOL_OK)
    sp->dirty = 1;
  return rc;
}

/* ---- the end of a send ---- */

int spool_upload_done(struct spool *sp, const char *target,
                      const struct spool_upload_done *d) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (!valid_target(target))
    return bad_target(sp, "spool_upload_done");
  if (!d || (d->npark && !d->park) || (d->nunpark && !d->unpark))
    return spool_failf(sp, SPOOL_ERR_INVAL, "spool_upload_done: bad request");
  for (size_t i = 0; i < d->npark; i++)
    if (d->park[i].first == 0 || d->park[i].last < d->park[i].first ||
        (d->park[i].len && !d->park[i].info) ||
        d->park[i].len > (size_t)UINT32_MAX)
      return spool_failf(sp, SPOOL_ERR_INVAL,
                         "spool_upload_done: parked entry %zu is malformed", i);
  rc = check_counters(sp, d->counters, d->ncounters);
  if (rc)
    return rc;

  size_t tlen = strlen(target);
  struct spool_txn t;
  spool_txn_begin(&t, sp, 0);
  if (d->ack) {
    MDB_val v;
    uint64_t cur = 0;
    if (spool_txn_get(&t, sp->db_cursors, target, tlen, &v)) {
      if (v.mv_size == 8)
        cur = spool_get_be64(v.mv_data);
      else
        t.err =
            spool_failf(sp, SPOOL_ERR_CORRUPT,
                        "cursor \"%s\" is %zu bytes, not 8", target, v.mv_size);
    }
    if (d->ack > cur) {
      unsigned char b[8];
      spool_put_be64(b, d->ack);
      spool_txn_put(&t, sp->db_cursors, target, tlen, b, 8, 0, 0);
    }
  }
  MDB_dbi dbi;
  if (spool_txn_extra_db(&t, SPOOL_DB_INFLIGHT, 0, &dbi))
    spool_txn_del(&t, dbi, target, tlen);
  if ((d->npark || d->nunpark) &&
      spool_txn_extra_db(&t, SPOOL_DB_PARKED, d->npark != 0, &dbi)) {
    unsigned char key[PARKED_KEY_MAX];
    for (size_t i = 0; i < d->nunpark && !t.err; i++)
      spool_txn_del(&t, dbi, key, parked_key(key, target, d->unpark[i]));
    for (size_t i = 0; i < d->npark && !t.err; i++) {
      const struct spool_parked *p = &d->park[i];
      size_t klen = parked_key(key, target, p->first);
      MDB_val k = {klen, key}, v = {8 + p->len, NULL};
      int prc = mdb_put(t.txn, dbi, &k, &v, MDB_RESERVE);
      if (prc) {
        spool_txn_fail(&t, prc, "park a batch");
        break;
      }
      spool_put_be64(v.mv_data, p->last);
      if (p->len)
        memcpy((unsigned char *)v.mv_data + 8, p->info, p->len);
    }
  }
  for (size_t i = 0; i < d->ncounters && !t.err; i++)
    add_counter(&t, d->counters[i].name, d->counters[i].delta);
  rc = spool_txn_commit(&t);
  if (rc == SPOOL_OK)
    sp->dirty = 1;
  return rc;
}

int spool_foreach_parked(struct spool *sp, const char *target,
                         spool_parked_cb cb, void *arg) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (!cb)
    return SPOOL_ERR_INVAL;
  if (target && !valid_target(target))
    return bad_target(sp, "spool_foreach_parked");
  sp->skipped = 0;
  struct spool_txn t;
  spool_txn_begin(&t, sp, 1);
  MDB_dbi dbi;
  if (!spool_txn_extra_db(&t, SPOOL_DB_PARKED, 0, &dbi))
    return end_read(&t); /* none parked yet, or a failure */
  MDB_stat st;
  MDB_cursor *c;
  rc = mdb_stat(t.txn, dbi, &st);
  if (!rc)
    rc = mdb_cursor_open(t.txn, dbi, &c);
  if (rc) {
    spool_txn_fail(&t, rc, "walk parked batches");
    spool_txn_abort(&t);
    return t.err;
  }
  unsigned char start[PARKED_KEY_MAX];
  MDB_val k = {0, start}, v;
  MDB_cursor_op op = MDB_FIRST;
  if (target) {
    k.mv_size = parked_key(start, target, 0);
    op = MDB_SET_RANGE;
  }
  int ret = 0;
  for (size_t i = 0; i <= st.ms_entries && !ret; i++) {
    rc = mdb_cursor_get(c, &k, &v, op);
    op = MDB_NEXT;
    if (rc == MDB_NOTFOUND)
      break;
    if (rc) {
      spool_txn_fail(&t, rc, "walk parked batches");
      break;
    }
    char name[SPOOL_TARGET_MAX + 1];
    uint64_t first;
    if (!parked_key_split(&k, name, &first) || v.mv_size < 8) {
      sp->skipped++;
      continue;
    }
    if (target && strcmp(name, target) != 0)
      break; /* past this target's keys */
    sp->walking = 1;
    ret = cb(name, first, spool_get_be64(v.mv_data),
             (const char *)v.mv_data + 8, v.mv_size - 8, arg);
    sp->walking = 0;
  }
  mdb_cursor_close(c);
  int erc = end_read(&t);
  if (ret)
    return ret;
  if (erc)
    return erc;
  if (sp->skipped)
    return spool_failf(sp, SPOOL_ERR_CORRUPT,
                       "%llu malformed parked entries skipped",
                       (unsigned long long)sp->skipped);
  return SPOOL_OK;
}

int spool_count_range(struct spool *sp, uint64_t from, uint64_t to,
                      uint64_t *n) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (!n)
    return SPOOL_ERR_INVAL;
  *n = 0;
  if (to < from)
    return SPOOL_OK;
  struct spool_txn t;
  spool_txn_begin(&t, sp, 1);
  if (t.err)
    return t.err;
  MDB_cursor *c;
  MDB_stat st;
  rc = mdb_stat(t.txn, sp->db_records, &st);
  if (!rc)
    rc = mdb_cursor_open(t.txn, sp->db_records, &c);
  if (rc) {
    spool_txn_fail(&t, rc, "count records");
    spool_txn_abort(&t);
    return t.err;
  }
  unsigned char b[8];
  spool_put_be64(b, from);
  MDB_val k = {8, b}, v;
  MDB_cursor_op op = MDB_SET_RANGE;
  uint64_t count = 0;
  for (size_t i = 0; i <= st.ms_entries; i++) {
    rc = mdb_cursor_get(c, &k, &v, op);
    op = MDB_NEXT;
    if (rc == MDB_NOTFOUND)
      break;
    if (rc) {
      spool_txn_fail(&t, rc, "count records");
      break;
    }
    if (k.mv_size != 8)
      continue;
    if (spool_get_be64(k.mv_data) > to)
      break;
    count++;
  }
  mdb_cursor_close(c);
  spool_txn_abort(&t);
  if (!t.err)
    *n = count;
  return t.err;
}

/* ---- closing a dead process's span ---- */

int spool_close_marker(struct spool *sp, const char *span_id, const char *rec,
                       size_t len, const struct spool_counter *counters,
                       size_t ncounters, uint64_t *seq) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (seq)
    *seq = 0;
  int ok =
      span_id && strnlen(span_id, SPOOL_SPAN_ID_LEN + 1) == SPOOL_SPAN_ID_LEN;
  for (int i = 0; ok && i < SPOOL_SPAN_ID_LEN; i++)
    ok = (span_id[i] >= '0' && span_id[i] <= '9') ||
         (span_id[i] >= 'a' && span_id[i] <= 'f');
  if (!ok || !rec || len == 0 || len > (size_t)UINT32_MAX - SPOOL_VALUE_HDR)
    return spool_failf(sp, SPOOL_ERR_INVAL,
                       "spool_close_marker: bad span id or record");
  rc = check_counters(sp, counters, ncounters);
  if (rc)
    return rc;
  struct spool_txn t;
  spool_txn_begin(&t, sp, 0);
  MDB_val v;
  if (!spool_txn_get(&t, sp->db_open, span_id, SPOOL_SPAN_ID_LEN, &v)) {
    spool_txn_abort(&t);
    if (t.err)
      return t.err;
    return spool_failf(sp, SPOOL_ERR_NOTFOUND, "no open marker %s", span_id);
  }
  uint64_t s = spool_txn_last_seq(&t) + 1;
  unsigned char key[8];
  spool_put_be64(key, s);
  spool_txn_put(&t, sp->db_records, key, 8, rec, len, MDB_APPEND, 1);
  spool_txn_put(&t, sp->db_meta, SPOOL_META_LAST_SEQ,
                strlen(SPOOL_META_LAST_SEQ), key, 8, 0, 0);
  spool_txn_del(&t, sp->db_open, span_id, SPOOL_SPAN_ID_LEN);
  for (size_t i = 0; i < ncounters && !t.err; i++)
    add_counter(&t, counters[i].name, counters[i].delta);
  rc = spool_txn_commit(&t);
  if (rc == SPOOL_OK) {
    sp->dirty = 1;
    if (seq)
      *seq = s;
  }
  return rc;
}
