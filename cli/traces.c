#include "traces.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/ids.h"
#include "diag.h"
#include "record.h"
#include "spool/spool.h"
#include "store.h"

/* ---- small hash of strings to indices (open addressing) ---- */

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

/* ---- loading ---- */

void trace_set_init(struct trace_set *ts) {
  memset(ts, 0, sizeof *ts);
  ts->alive = trace_pid_alive;
}

void trace_set_free(struct trace_set *ts) {
  for (size_t i = 0; i < ts->ntraces; i++) {
    struct trace *t = &ts->traces[i];
    for (size_t j = 0; j < t->nobs; j++)
      cJSON_Delete(t->obs[j].rec);
    free(t->obs);
    free(t->order);
  }
  free(ts->traces);
  free(ts->index);
  trace_alive_fn alive = ts->alive;
  memset(ts, 0, sizeof *ts);
  ts->alive = alive;
}

static int index_grow(struct trace_set *ts) {
  size_t cap = ts->index_cap ? ts->index_cap * 2 : 64;
  size_t *idx = malloc(cap * sizeof *idx);
  if (!idx)
    return -1;
  for (size_t i = 0; i < cap; i++)
    idx[i] = OBS_NONE;
  for (size_t i = 0; i < ts->ntraces; i++) {
    size_t h = (size_t)hash_str(ts->traces[i].id) & (cap - 1);
    while (idx[h] != OBS_NONE)
      h = (h + 1) & (cap - 1);
    idx[h] = i;
  }
  free(ts->index);
  ts->index = idx;
  ts->index_cap = cap;
  return 0;
}

/* Find the trace with this id, creating it when new. */
static struct trace *trace_for(struct trace_set *ts, const char *tid) {
  if ((ts->ntraces + 1) * 2 > ts->index_cap && index_grow(ts) != 0)
    return NULL;
  char low[33];
  for (int i = 0; i < 32; i++)
    low[i] = (char)(tid[i] >= 'A' && tid[i] <= 'F' ? tid[i] + 32 : tid[i]);
  low[32] = '\0';
  size_t h = (size_t)hash_str(low) & (ts->index_cap - 1);
  while (ts->index[h] != OBS_NONE) {
    struct trace *t = &ts->traces[ts->index[h]];
    if (strcmp(t->id, low) == 0)
      return t;
    h = (h + 1) & (ts->index_cap - 1);
  }
  if (ts->ntraces == ts->cap) {
    size_t cap = ts->cap ? ts->cap * 2 : 16;
    struct trace *nt = realloc(ts->traces, cap * sizeof *nt);
    if (!nt)
      return NULL;
    ts->traces = nt;
    ts->cap = cap;
  }
  struct trace *t = &ts->traces[ts->ntraces];
  memset(t, 0, sizeof *t);
  memcpy(t->id, low, 33);
  t->first_root = OBS_NONE;
  ts->index[h] = ts->ntraces++;
  return t;
}

static int add_obs(struct trace_set *ts, cJSON *rec, uint64_t seq,
                   enum obs_state state) {
  struct trace *t = trace_for(ts, rec_str(rec, "trace_id"));
  if (!t) {
    cJSON_Delete(rec);
    return -1;
  }
  if (t->nobs == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    struct obs *no = realloc(t->obs, cap * sizeof *no);
    if (!no) {
      cJSON_Delete(rec);
      return -1;
    }
    t->obs = no;
    t->cap = cap;
  }
  struct obs *o = &t->obs[t->nobs];
  memset(o, 0, sizeof *o);
  o->rec = rec;
  o->seq = seq;
  o->ord = t->nobs++;
  o->id = rec_str(rec, "id");
  o->parent_id = rec_str(rec, "parent_id");
  if (o->parent_id && !at_valid_hex_id(o->parent_id, 16))
    o->parent_id = NULL; /* a broken parent makes a root, not a crash */
  o->type = rec_str(rec, "type");
  if (rec_ns(rec, "start_ns", &o->start_ns) != 0)
    o->start_ns = 0;
  if (rec_ns(rec, "end_ns", &o->end_ns) != 0)
    o->end_ns = 0;
  uint64_t pid;
  if (rec_u64(rec_obj(rec, "process"), "pid", &pid) == 0 && pid < INT32_MAX)
    o->pid = (long)pid;
  o->state = state;
  o->marker = state == OBS_RUNNING;
  if (state == OBS_DONE && rec_bool(rec, "incomplete") == 1)
    o->state = OBS_INCOMPLETE;
  if (seq > t->max_seq)
    t->max_seq = seq;
  return 0;
}

int trace_set_add_record(struct trace_set *ts, cJSON *rec, uint64_t seq) {
  if (!rec_valid(rec)) {
    cJSON_Delete(rec);
    ts->skipped++;
    return 1;
  }
  if (add_obs(ts, rec, seq, OBS_DONE) != 0)
    return -1;
  ts->nrecords++;
  return 0;
}

int trace_set_add_marker(struct trace_set *ts, const char *span_id,
                         cJSON *marker) {
  if (cJSON_IsObject(marker) && !rec_str(marker, "id") && span_id &&
      at_valid_hex_id(span_id, 16))
    cJSON_AddStringToObject(marker, "id", span_id);
  if (!rec_valid(marker)) {
    cJSON_Delete(marker);
    ts->skipped++;
    return 1;
  }
  /* Liveness is decided in finish, once every marker is in. */
  if (add_obs(ts, marker, 0, OBS_RUNNING) != 0)
    return -1;
  ts->nmarkers++;
  return 0;
}

/* ---- building trees ---- */

static int obs_cmp(const void *a, const void *b) {
  const struct obs *x = a, *y = b;
  if (x->start_ns != y->start_ns)
    return x->start_ns < y->start_ns ? -1 : 1;
  if (x->ord != y->ord)
    return x->ord < y->ord ? -1 : 1;
  return 0;
}

static int trace_cmp(const void *a, const void *b) {
  const struct trace *x = a, *y = b;
  if (x->start_ns != y->start_ns)
    return x->start_ns > y->start_ns ? -1 : 1; /* newest first */
  if (x->max_seq != y->max_seq)
    return x->max_seq > y->max_seq ? -1 : 1;
  return strcmp(x->id, y->id);
}

/* An id table for one trace: span id -> index into t->obs. */
struct id_table {
  size_t *slot;
  size_t cap;
};

static size_t id_find(const struct id_table *it, const struct trace *t,
                      const char *id) {
  size_t h = (size_t)hash_str(id) & (it->cap - 1);
  while (it->slot[h] != OBS_NONE) {
    if (strcasecmp(t->obs[it->slot[h]].id, id) == 0)
      return it->slot[h];
    h = (h + 1) & (it->cap - 1);
  }
  return OBS_NONE;
}

/* Drop observations whose id was already seen: a marker loses to the
 * finished record of the same span (the writer removes the marker in the
 * same transaction, but a reader may also meet a stale one); between two
 * records the first one stays. Compacts t->obs. */
static int dedupe(struct trace *t, struct id_table *it) {
  size_t cap = 16;
  while (cap < t->nobs * 2)
    cap *= 2;
  it->slot = malloc(cap * sizeof *it->slot);
  if (!it->slot)
    return -1;
  it->cap = cap;
  for (size_t i = 0; i < cap; i++)
    it->slot[i] = OBS_NONE;
  unsigned char *drop = calloc(t->nobs ? t->nobs : 1, 1);
  if (!drop)
    return -1;
  for (size_t i = 0; i < t->nobs; i++) {
    size_t h = (size_t)hash_str(t->obs[i].id) & (cap - 1);
    while (it->slot[h] != OBS_NONE &&
           strcasecmp(t->obs[it->slot[h]].id, t->obs[i].id) != 0)
      h = (h + 1) & (cap - 1);
    if (it->slot[h] == OBS_NONE) {
      it->slot[h] = i;
    } else {
      size_t old = it->slot[h];
      if (t->obs[old].marker && !t->obs[i].marker) {
        drop[old] = 1;
        it->slot[h] = i;
      } else {
        drop[i] = 1;
      }
    }
  }
  size_t w = 0;
  for (size_t i = 0; i < t->nobs; i++) {
    if (drop[i]) {
      cJSON_Delete(t->obs[i].rec);
      continue;
    }
    t->obs[w++] = t->obs[i];
  }
  t->nobs = w;
  free(drop);
  /* Rebuild the table over the compacted array. */
  for (size_t i = 0; i < cap; i++)
    it->slot[i] = OBS_NONE;
  for (size_t i = 0; i < t->nobs; i++) {
    size_t h = (size_t)hash_str(t->obs[i].id) & (cap - 1);
    while (it->slot[h] != OBS_NONE)
      h = (h + 1) & (cap - 1);
    it->slot[h] = i;
  }
  return 0;
}

/* Depth-first, pre-order, without recursion (a trace may be deep). Marks
 * visited nodes, sets depths, appends to order. */
static void walk(struct trace *t, size_t root, unsigned char *seen,
                 size_t *order, size_t *norder, size_t *stack) {
  size_t sp = 0;
  stack[sp++] = root;
  t->obs[root].depth = 0;
  while (sp > 0) {
    size_t n = stack[--sp];
    if (seen[n])
      continue;
    seen[n] = 1;
    order[(*norder)++] = n;
    /* Push children in reverse so the earliest is visited first. */
    size_t cnt = 0;
    for (size_t c = t->obs[n].first_child; c != OBS_NONE;
         c = t->obs[c].next_sibling)
      cnt++;
    size_t k = sp + cnt;
    for (size_t c = t->obs[n].first_child; c != OBS_NONE;
         c = t->obs[c].next_sibling) {
      stack[--k] = c;
      t->obs[c].depth = t->obs[n].depth + 1;
    }
    sp += cnt;
  }
}

static void unlink_child(struct trace *t, size_t c) {
  size_t p = t->obs[c].parent;
  size_t *link = p == OBS_NONE ? &t->first_root : &t->obs[p].first_child;
  while (*link != OBS_NONE && *link != c)
    link = &t->obs[*link].next_sibling;
  if (*link == c)
    *link = t->obs[c].next_sibling;
  t->obs[c].next_sibling = OBS_NONE;
  t->obs[c].parent = OBS_NONE;
}

static void set_ns(cJSON *rec, const char *key, int64_t ns) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, ns);
  cJSON *v = cJSON_CreateString(buf);
  if (!v)
    return;
  if (cJSON_GetObjectItemCaseSensitive(rec, key))
    cJSON_ReplaceItemInObjectCaseSensitive(rec, key, v);
  else
    cJSON_AddItemToObject(rec, key, v);
}

static void summarize(struct trace *t) {
  for (size_t i = 0; i < t->nobs; i++) {
    struct obs *o = &t->obs[i];
    const cJSON *r = o->rec;
    if (o->start_ns && (!t->start_ns || o->start_ns < t->start_ns))
      t->start_ns = o->start_ns;
    if (o->end_ns > t->end_ns)
      t->end_ns = o->end_ns;
    if (!t->name)
      t->name = rec_str(r, "trace_name");
    if (!t->session_id)
      t->session_id = rec_str(r, "session_id");
    if (!t->user_id)
      t->user_id = rec_str(r, "user_id");
    const char *level = rec_str(r, "level");
    if (level && strcmp(level, "ERROR") == 0)
      t->n_error++;
    else if (level && strcmp(level, "WARNING") == 0)
      t->n_warning++;
    if (o->state == OBS_RUNNING)
      t->n_running++;
    else if (o->state == OBS_INCOMPLETE)
      t->n_incomplete++;
    if (!rec_is_llm(r))
      continue;
    t->n_llm++;
    if (strcmp(o->type, "embedding") == 0)
      t->n_embeddings++;
    else
      t->n_generations++;
    if (o->start_ns && o->end_ns > o->start_ns)
      t->llm_ns += o->end_ns - o->start_ns;
    struct rec_tokens tk;
    rec_tokens(r, &tk);
    if (tk.total >= 0) {
      t->n_with_tokens++;
      t->tokens_total += (uint64_t)tk.total;
      if (tk.input > 0)
        t->tokens_in += (uint64_t)tk.input;
      if (tk.output > 0)
        t->tokens_out += (uint64_t)tk.output;
    }
    double usd;
    if (rec_cost(r, &usd) == 0) {
      t->cost_usd += usd;
      t->n_priced++;
    } else if (tk.total > 0) {
      /* Tokens were spent but no price is known: the sum is a lower
       * bound. A failed call without usage cost nothing and does not
       * make the sum uncertain. */
      t->n_unpriced++;
    }
  }
  if (!t->name && t->first_root != OBS_NONE)
    t->name = rec_str(t->obs[t->first_root].rec, "name");
}

static int finish_trace(struct trace_set *ts, struct trace *t) {
  struct id_table it = {0};
  /* Markers learn whether their process still runs. */
  for (size_t i = 0; i < t->nobs; i++) {
    struct obs *o = &t->obs[i];
    if (o->marker && o->state == OBS_RUNNING &&
        !(ts->alive && ts->alive(o->pid, o->start_ns)))
      o->state = OBS_INCOMPLETE;
  }
  if (t->nobs > 1)
    qsort(t->obs, t->nobs, sizeof *t->obs, obs_cmp);
  if (dedupe(t, &it) != 0) {
    free(it.slot);
    return -1;
  }
  size_t n = t->nobs;
  size_t *last = malloc((n ? n : 1) * sizeof *last);
  size_t *order = malloc((n ? n : 1) * sizeof *order);
  size_t *stack = malloc((n ? n : 1) * sizeof *stack);
  unsigned char *seen = calloc(n ? n : 1, 1);
  if (!last || !order || !stack || !seen) {
    free(last);
    free(order);
    free(stack);
    free(seen);
    free(it.slot);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    t->obs[i].parent = t->obs[i].first_child = t->obs[i].next_sibling =
        OBS_NONE;
    last[i] = OBS_NONE;
  }
  /* Link in start order, so each child list comes out sorted. */
  size_t last_root = OBS_NONE;
  t->first_root = OBS_NONE;
  for (size_t i = 0; i < n; i++) {
    struct obs *o = &t->obs[i];
    size_t p = o->parent_id ? id_find(&it, t, o->parent_id) : OBS_NONE;
    if (p == i)
      p = OBS_NONE;
    o->parent = p;
    if (p == OBS_NONE) {
      if (last_root == OBS_NONE)
        t->first_root = i;
      else
        t->obs[last_root].next_sibling = i;
      last_root = i;
    } else {
      if (last[p] == OBS_NONE)
        t->obs[p].first_child = i;
      else
        t->obs[last[p]].next_sibling = i;
      last[p] = i;
    }
  }
  /* Walk from the roots. Whatever is not reached sits on a parent cycle
   * (bad data): cut the earliest such node loose as a root and go on. */
  size_t norder = 0;
  for (size_t r = t->first_root; r != OBS_NONE; r = t->obs[r].next_sibling)
    walk(t, r, seen, order, &norder, stack);
  for (size_t i = 0; i < n; i++) {
    if (seen[i])
      continue;
    unlink_child(t, i);
    size_t *link = &t->first_root;
    while (*link != OBS_NONE && t->obs[*link].start_ns <= t->obs[i].start_ns)
      link = &t->obs[*link].next_sibling;
    t->obs[i].next_sibling = *link;
    *link = i;
    walk(t, i, seen, order, &norder, stack);
  }
  /* Close dead markers: end = the latest end below them. Children come
   * after their parent in pre-order, so walking it backwards sees every
   * subtree complete before its root. sub[i] is the latest end in the
   * subtree of i. */
  int64_t *sub = malloc((n ? n : 1) * sizeof *sub);
  if (!sub) {
    free(last);
    free(order);
    free(stack);
    free(seen);
    free(it.slot);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    sub[i] = t->obs[i].end_ns;
  for (size_t k = norder; k-- > 0;) {
    size_t i = order[k];
    struct obs *o = &t->obs[i];
    if (o->marker && o->state == OBS_INCOMPLETE && !o->end_ns) {
      o->end_ns = sub[i] > o->start_ns ? sub[i] : o->start_ns;
      if (o->end_ns)
        set_ns(o->rec, "end_ns", o->end_ns);
      cJSON_DeleteItemFromObjectCaseSensitive(o->rec, "incomplete");
      cJSON_AddBoolToObject(o->rec, "incomplete", 1);
      if (!cJSON_GetObjectItemCaseSensitive(o->rec, "v"))
        cJSON_AddNumberToObject(o->rec, "v", 1);
      if (!cJSON_GetObjectItemCaseSensitive(o->rec, "kind"))
        cJSON_AddStringToObject(o->rec, "kind", "observation");
      if (sub[i] < o->end_ns)
        sub[i] = o->end_ns;
    }
    if (o->parent != OBS_NONE && sub[i] > sub[o->parent])
      sub[o->parent] = sub[i];
  }
  free(sub);
  free(last);
  free(t->order);
  t->order = order;
  free(stack);
  free(seen);
  free(it.slot);
  summarize(t);
  return 0;
}

int trace_set_finish(struct trace_set *ts) {
  for (size_t i = 0; i < ts->ntraces; i++)
    if (finish_trace(ts, &ts->traces[i]) != 0)
      return -1;
  free(ts->index);
  ts->index = NULL;
  ts->index_cap = 0;
  if (ts->ntraces > 1)
    qsort(ts->traces, ts->ntraces, sizeof *ts->traces, trace_cmp);
  return 0;
}

void trace_set_warn_skipped(const struct trace_set *ts) {
  if (ts->skipped == 1)
    cli_warn("skipped 1 unreadable record");
  else if (ts->skipped > 1)
    cli_warn("skipped %zu unreadable records", ts->skipped);
}

const char *trace_status(const struct trace *t) {
  if (t->n_error)
    return "ERROR";
  if (t->n_warning)
    return "WARN";
  if (t->n_running)
    return "open";
  if (t->n_incomplete)
    return "incomplete";
  return "OK";
}

/* ---- liveness of a marker's process ---- */

/* When did process pid start, in Unix ns? 0 when /proc cannot say. */
static int64_t proc_start_ns(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* Field 2 (comm) is in parentheses and may hold anything: start after
   * the last ')'. Field 22 is starttime, in clock ticks since boot. */
  char *p = strrchr(buf, ')');
  if (!p)
    return 0;
  p++;
  unsigned long long starttime = 0;
  for (int field = 3; field <= 22; field++) {
    while (*p == ' ')
      p++;
    if (!*p)
      return 0;
    if (field == 22) {
      starttime = strtoull(p, NULL, 10);
      break;
    }
    while (*p && *p != ' ')
      p++;
  }
  f = fopen("/proc/stat", "r");
  if (!f)
    return 0;
  unsigned long long btime = 0;
  char line[256];
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "btime %llu", &btime) == 1)
      break;
  fclose(f);
  long hz = sysconf(_SC_CLK_TCK);
  if (!btime || hz <= 0)
    return 0;
  return (int64_t)(btime * 1000000000ull +
                   starttime * (1000000000ull / (unsigned long long)hz));
}

int trace_pid_alive(long pid, int64_t start_ns) {
  if (pid <= 0)
    return 0;
  if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
    return 0;
  /* The pid exists, but it may have been reused: a process that started
   * after the span did cannot be the one that opened it. btime has
   * one-second resolution, hence the slack. */
  int64_t started = proc_start_ns(pid);
  if (started && start_ns && started > start_ns + 2 * (int64_t)1000000000)
    return 0;
  return 1;
}

/* ---- reading the spool ---- */

struct load_ctx {
  struct trace_set *ts;
  const struct trace_filter *f;
  int oom;
};

/* A cheap test before parsing: when looking for given traces, a record
 * whose bytes do not even contain the id cannot belong to them. Ids are
 * lowercase in the record schema, and the filter's ids are lowercased. */
static int may_match(const struct trace_filter *f, const char *rec,
                     size_t len) {
  if (f->prefix && *f->prefix)
    return memmem(rec, len, f->prefix, strlen(f->prefix)) != NULL;
  if (f->n_ids) {
    for (size_t i = 0; i < f->n_ids; i++)
      if (memmem(rec, len, f->ids[i], strlen(f->ids[i])))
        return 1;
    return 0;
  }
  return 1;
}

static int matches(const struct trace_filter *f, const cJSON *rec) {
  const char *tid = rec_str(rec, "trace_id");
  if (!tid)
    return 1; /* let the set count it as unreadable */
  if (f->prefix && *f->prefix &&
      strncasecmp(tid, f->prefix, strlen(f->prefix)) != 0)
    return 0;
  if (f->n_ids) {
    for (size_t i = 0; i < f->n_ids; i++)
      if (strcasecmp(tid, f->ids[i]) == 0)
        return 1;
    return 0;
  }
  return 1;
}

static int on_record(uint64_t seq, const char *rec, size_t len, void *arg) {
  struct load_ctx *c = arg;
  if (!may_match(c->f, rec, len))
    return 0;
  cJSON *j = cJSON_ParseWithLength(rec, len);
  if (!j) {
    c->ts->skipped++;
    return 0;
  }
  if (!matches(c->f, j)) {
    cJSON_Delete(j);
    return 0;
  }
  if (trace_set_add_record(c->ts, j, seq) < 0) {
    c->oom = 1;
    return 1;
  }
  return 0;
}

static int on_marker(const char *span_id, const char *json, size_t len,
                     void *arg) {
  struct load_ctx *c = arg;
  if (!may_match(c->f, json, len))
    return 0;
  cJSON *j = cJSON_ParseWithLength(json, len);
  if (!j) {
    c->ts->skipped++;
    return 0;
  }
  if (!matches(c->f, j)) {
    cJSON_Delete(j);
    return 0;
  }
  if (trace_set_add_marker(c->ts, span_id, j) < 0) {
    c->oom = 1;
    return 1;
  }
  return 0;
}

/* A walk that met malformed entries still delivered every good one: say so
 * and go on. Returns 0 when the walk's result is usable. */
static int walk_ok(struct spool *sp, int rc, const char *what) {
  if (rc >= 0 || rc == SPOOL_ERR_NOTFOUND)
    return 0;
  if (rc == SPOOL_ERR_CORRUPT) {
    cli_warn("skipped %llu malformed spool %s (%s)",
             (unsigned long long)spool_skipped(sp), what, spool_last_error(sp));
    return 0;
  }
  cli_err("cannot read the spool's %s: %s", what, spool_strerror(rc));
  return -1;
}

int traces_load(struct spool *sp, const struct trace_filter *f,
                struct trace_set *ts) {
  static const struct trace_filter all = {0};
  struct load_ctx c = {ts, f ? f : &all, 0};
  int rc = spool_foreach(sp, c.f->from_seq, on_record, &c);
  if (walk_ok(sp, rc, "records") != 0)
    return -1;
  if (!c.oom && !c.f->no_markers) {
    rc = spool_foreach_open(sp, on_marker, &c);
    if (walk_ok(sp, rc, "open spans") != 0)
      return -1;
  }
  if (c.oom || trace_set_finish(ts) != 0) {
    cli_err("out of memory while loading traces");
    return -1;
  }
  return 0;
}

struct newest_ctx {
  char *out;
  int found;
  int64_t best_start;
};

static int newest_record(uint64_t seq, const char *rec, size_t len, void *arg) {
  (void)seq;
  struct newest_ctx *c = arg;
  cJSON *j = cJSON_ParseWithLength(rec, len);
  int stop = 0;
  if (rec_valid(j)) {
    const char *tid = rec_str(j, "trace_id");
    for (int i = 0; i < 32; i++)
      c->out[i] = (char)(tid[i] >= 'A' && tid[i] <= 'F' ? tid[i] + 32 : tid[i]);
    c->out[32] = '\0';
    c->found = stop = 1;
  }
  cJSON_Delete(j);
  return stop;
}

static int newest_marker(const char *span_id, const char *json, size_t len,
                         void *arg) {
  (void)span_id;
  struct newest_ctx *c = arg;
  cJSON *j = cJSON_ParseWithLength(json, len);
  const char *tid = rec_str(j, "trace_id");
  int64_t start = 0;
  rec_ns(j, "start_ns", &start);
  if (tid && at_valid_hex_id(tid, 32) && (!c->found || start > c->best_start)) {
    for (int i = 0; i < 32; i++)
      c->out[i] = (char)(tid[i] >= 'A' && tid[i] <= 'F' ? tid[i] + 32 : tid[i]);
    c->out[32] = '\0';
    c->found = 1;
    c->best_start = start;
  }
  cJSON_Delete(j);
  return 0;
}

int traces_newest_id(struct spool *sp, char *out) {
  struct newest_ctx c = {out, 0, 0};
  int rc = spool_foreach_reverse(sp, newest_record, &c);
  if (walk_ok(sp, rc, "records") != 0)
    return -1;
  if (c.found)
    return 0;
  rc = spool_foreach_open(sp, newest_marker, &c);
  if (walk_ok(sp, rc, "open spans") != 0)
    return -1;
  return c.found ? 0 : 1;
}

int traces_load_one(struct spool *sp, const char *arg, struct trace_set *ts) {
  char id[33];
  const char *want = arg;
  if (!arg || strcmp(arg, "last") == 0) {
    int rc = traces_newest_id(sp, id);
    if (rc != 0) {
      if (rc > 0)
        cli_err("%s", CLI_NO_TRACES);
      return rc;
    }
    want = id;
  } else {
    size_t n = strlen(arg);
    int hex = n >= 1 && n <= 32;
    for (size_t i = 0; hex && i < n; i++)
      hex = (arg[i] >= '0' && arg[i] <= '9') ||
            (arg[i] >= 'a' && arg[i] <= 'f') ||
            (arg[i] >= 'A' && arg[i] <= 'F');
    if (!hex) {
      cli_err("'%s' is not a trace id: give hex digits (a prefix will do) "
              "or 'last'",
              arg);
      return 1;
    }
    for (size_t i = 0; i <= n; i++)
      id[i] = (char)(arg[i] >= 'A' && arg[i] <= 'F' ? arg[i] + 32 : arg[i]);
    want = id;
  }
  struct trace_filter f = {0};
  f.prefix = want;
  if (traces_load(sp, &f, ts) != 0)
    return -1;
  if (ts->ntraces == 1)
    return 0;
  if (ts->ntraces == 0) {
    cli_err("no trace %s in the spool (see `autotrace ls`)", want);
    return 1;
  }
  cli_err("'%s' matches %zu traces; give more digits:", want, ts->ntraces);
  for (size_t i = 0; i < ts->ntraces && i < 10; i++)
    fprintf(stderr, "  %s\n", ts->traces[i].id);
  return 1;
}
