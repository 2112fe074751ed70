/* read: walks over the spool's databases, each in one read snapshot. */
#include "spool_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct walk {
  struct spool_txn t;
  MDB_cursor *cur;
  size_t entries; /* bound on the loop: the snapshot's entry count */
};

static int walk_begin(struct spool *sp, struct walk *w, MDB_dbi dbi) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  sp->skipped = 0;
  w->cur = NULL;
  w->entries = 0;
  spool_txn_begin(&w->t, sp, 1);
  if (w->t.err)
    return w->t.err;
  MDB_stat st;
  rc = mdb_stat(w->t.txn, dbi, &st);
  if (!rc)
    rc = mdb_cursor_open(w->t.txn, dbi, &w->cur);
  if (rc) {
    spool_txn_fail(&w->t, rc, "start a walk");
    spool_txn_abort(&w->t);
    return w->t.err;
  }
  w->entries = st.ms_entries;
  return SPOOL_OK;
}

/* Count a malformed entry; the first one is described in the handle's
 * error text. */
static void skip(struct spool *sp, const char *what, const char *why) {
  if (sp->skipped++ == 0)
    spool_failf(sp, SPOOL_ERR_CORRUPT, "%s: %s", what, why);
}

/* The walk's result: the callback's stop value, else an LMDB failure,
 * else SPOOL_ERR_CORRUPT when entries were skipped. */
static int walk_end(struct spool *sp, struct walk *w, int cb_ret) {
  mdb_cursor_close(w->cur);
  spool_txn_abort(&w->t);
  if (cb_ret)
    return cb_ret;
  if (w->t.err)
    return w->t.err;
  if (sp->skipped) {
    char first[SPOOL_ERRLEN];
    snprintf(first, sizeof first, "%s", sp->err);
    spool_failf(sp, SPOOL_ERR_CORRUPT,
                "%" PRIu64 " malformed entries skipped; first: %s", sp->skipped,
                first);
    return SPOOL_ERR_CORRUPT;
  }
  sp->err[0] = '\0';
  return SPOOL_OK;
}

/* Step the cursor; returns 1 with k/v set, 0 at the end or on failure. */
static int step(struct walk *w, MDB_val *k, MDB_val *v, MDB_cursor_op op) {
  int rc = mdb_cursor_get(w->cur, k, v, op);
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc) {
    spool_txn_fail(&w->t, rc, "walk");
    return 0;
  }
  return 1;
}

static int walk_records(struct spool *sp, uint64_t from_seq, int reverse,
                        spool_record_cb cb, void *arg) {
  if (!cb)
    return SPOOL_ERR_INVAL;
  struct walk w;
  int rc = walk_begin(sp, &w, sp->db_records);
  if (rc)
    return rc;
  unsigned char start[8];
  spool_put_be64(start, from_seq);
  MDB_val k = {8, start}, v;
  /* From 0 means everything, malformed keys that sort first included. */
  MDB_cursor_op op = reverse         ? MDB_LAST
                     : from_seq == 0 ? MDB_FIRST
                                     : MDB_SET_RANGE;
  int ret = 0;
  for (size_t i = 0; i <= w.entries && !ret; i++) {
    if (!step(&w, &k, &v, op))
      break;
    op = reverse ? MDB_PREV : MDB_NEXT;
    if (k.mv_size != 8) {
      skip(sp, "records", "key is not 8 bytes");
      continue;
    }
    uint64_t seq = spool_get_be64(k.mv_data);
    const char *json, *why;
    size_t len;
    if (spool_value_decode(&v, &json, &len, &why) != 0) {
      char what[40];
      snprintf(what, sizeof what, "record %" PRIu64, seq);
      skip(sp, what, why);
      continue;
    }
    sp->walking = 1;
    ret = cb(seq, json, len, arg);
    sp->walking = 0;
  }
  return walk_end(sp, &w, ret);
}

int spool_foreach(struct spool *sp, uint64_t from_seq, spool_record_cb cb,
                  void *arg) {
  return walk_records(sp, from_seq, 0, cb, arg);
}

int spool_foreach_reverse(struct spool *sp, spool_record_cb cb, void *arg) {
  return walk_records(sp, 0, 1, cb, arg);
}

static int is_lower_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return 1;
}

int spool_foreach_open(struct spool *sp, spool_open_cb cb, void *arg) {
  if (!cb)
    return SPOOL_ERR_INVAL;
  struct walk w;
  int rc = walk_begin(sp, &w, sp->db_open);
  if (rc)
    return rc;
  MDB_val k, v;
  MDB_cursor_op op = MDB_FIRST;
  int ret = 0;
  for (size_t i = 0; i <= w.entries && !ret; i++) {
    if (!step(&w, &k, &v, op))
      break;
    op = MDB_NEXT;
    if (k.mv_size != SPOOL_SPAN_ID_LEN ||
        !is_lower_hex(k.mv_data, SPOOL_SPAN_ID_LEN)) {
      skip(sp, "open", "key is not a 16-hex span id");
      continue;
    }
    char id[SPOOL_SPAN_ID_LEN + 1];
    memcpy(id, k.mv_data, SPOOL_SPAN_ID_LEN);
    id[SPOOL_SPAN_ID_LEN] = '\0';
    const char *json, *why;
    size_t len;
    if (spool_value_decode(&v, &json, &len, &why) != 0) {
      char what[40];
      snprintf(what, sizeof what, "open marker %s", id);
      skip(sp, what, why);
      continue;
    }
    sp->walking = 1;
    ret = cb(id, json, len, arg);
    sp->walking = 0;
  }
  return walk_end(sp, &w, ret);
}

int spool_foreach_counter(struct spool *sp, spool_counter_cb cb, void *arg) {
  if (!cb)
    return SPOOL_ERR_INVAL;
  struct walk w;
  int rc = walk_begin(sp, &w, sp->db_counters);
  if (rc)
    return rc;
  MDB_val k, v;
  MDB_cursor_op op = MDB_FIRST;
  int ret = 0;
  for (size_t i = 0; i <= w.entries && !ret; i++) {
    if (!step(&w, &k, &v, op))
      break;
    op = MDB_NEXT;
    char name[SPOOL_NAME_MAX + 1];
    if (k.mv_size == 0 || k.mv_size > SPOOL_NAME_MAX ||
        memchr(k.mv_data, '\0', k.mv_size)) {
      skip(sp, "counters", "name is empty, too long or holds a NUL");
      continue;
    }
    memcpy(name, k.mv_data, k.mv_size);
    name[k.mv_size] = '\0';
    if (v.mv_size != 8) {
      skip(sp, "counters", "value is not 8 bytes");
      continue;
    }
    sp->walking = 1;
    ret = cb(name, spool_get_be64(v.mv_data), arg);
    sp->walking = 0;
  }
  return walk_end(sp, &w, ret);
}

int spool_last_seq(struct spool *sp, uint64_t *seq) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (!seq)
    return SPOOL_ERR_INVAL;
  struct spool_txn t;
  spool_txn_begin(&t, sp, 1);
  uint64_t last = spool_txn_last_seq(&t);
  spool_txn_abort(&t);
  *seq = t.err ? 0 : last;
  return t.err;
}

int spool_cursor_get(struct spool *sp, const char *target, uint64_t *seq) {
  int rc = spool_guard(sp);
  if (rc)
    return rc;
  if (!seq || !target || !*target || strlen(target) > SPOOL_NAME_MAX)
    return spool_failf(sp, SPOOL_ERR_INVAL,
                       "spool_cursor_get: bad target or output");
  *seq = 0;
  struct spool_txn t;
  spool_txn_begin(&t, sp, 1);
  MDB_val v;
  int found = spool_txn_get(&t, sp->db_cursors, target, strlen(target), &v);
  if (found && v.mv_size == 8)
    *seq = spool_get_be64(v.mv_data);
  else if (found)
    t.err = spool_failf(sp, SPOOL_ERR_CORRUPT,
                        "cursor \"%s\" is %zu bytes, not 8", target, v.mv_size);
  else if (!t.err)
    t.err = spool_failf(sp, SPOOL_ERR_NOTFOUND, "no cursor for \"%s\"", target);
  spool_txn_abort(&t);
  return t.err;
}
