/* nest: the nesting engine (see nest.h and docs/nesting.md).
 *
 * State, all bounded:
 * - open observations (roots, spans, tools, agents, spawned processes), in
 *   one table, found by id. Everything else refers to them by id, so a
 *   reference to something already closed simply finds nothing;
 * - open traces: each has a root observation, the process's part of that
 *   trace, closed (with the trace's aggregates) when the trace closes;
 * - conversations: the latest few generations of each (with their pending
 *   tool calls) and a hash index from message-prefix hashes to them;
 * - threads: who created them, the context they were created in, and the
 *   spans their call stacks have open ("paths"). */
#include "nest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "nest_msg.h"

#define NEST_DEPTH 8  /* spans on one thread path */
#define NEST_PATHS 4  /* paths per thread (one per anchor) */
#define NEST_GENS 4   /* latest generations kept per conversation */
#define NEST_TOOLS 32 /* pending tool calls per generation */
#define NEST_NAME 96  /* function and tool names are cut to this */
#define NEST_SESSION 128
#define NEST_INDEX_MAX (1u << 20) /* index entries before a reset */
#define NEST_MAX_MSGS 100000      /* messages hashed per request */

enum kind { K_ROOT, K_SPAN, K_TOOL, K_AGENT, K_SPAWN };

struct agg {
  uint64_t generations, in, out, total;
  double cost;
  int have_cost;
  cJSON *first_input; /* the first user message */
  cJSON *last_output; /* the latest answer */
};

struct nobs {
  char id[17];
  char parent[17]; /* the engine's parent ("" for a root) */
  uint64_t trace;  /* serial of its trace */
  int kind, tid;
  cJSON *rec;               /* the record being built */
  int64_t start_ns, end_ns; /* end: latest end seen below it so far */
  int64_t last_ns;          /* last activity */
  unsigned nchildren, nagents;
  int resolved; /* tool: its result was seen */
  struct agg agg;
};

struct ntrace {
  uint64_t serial;
  char trace_id[33];
  char root[17];
  uint64_t main_conv; /* conversation whose turns open traces; 0 none */
  char session[NEST_SESSION];
  char name[NEST_NAME]; /* inferred trace name; "" when not ours to give */
  int64_t last_ns;
};

struct ngen {
  uint64_t serial; /* 0: empty */
  int tid;
  uint64_t frames; /* hash of the call's application frames; 0: none */
  int64_t start_ns, end_ns;
  unsigned ntools;
  char tools[NEST_TOOLS][17];
};

struct nconv {
  uint64_t serial; /* 0: free slot */
  uint64_t trace;  /* its current trace, 0 none */
  char home[17];   /* anchor: "" = the trace's root, else an agent */
  char session[NEST_SESSION];
  int wire_session; /* session came from the wire */
  char first_trace[33];
  unsigned ntraces;
  int64_t last_ns;
  struct ngen g[NEST_GENS];
  unsigned gnext;
};

struct npath {
  int used;
  uint64_t trace;
  char anchor[17];
  unsigned depth;
  char ids[NEST_DEPTH][17];
  char fns[NEST_DEPTH][NEST_NAME];
  int64_t last_ns;
};

struct nthread {
  int tid; /* 0: free slot */
  int creator;
  int64_t created_ns;
  uint64_t origin_trace; /* the creator's context at pthread_create */
  char origin_step[17];
  uint64_t last_trace; /* the trace this thread worked in last */
  int64_t last_ns;
  struct npath paths[NEST_PATHS];
};

struct ient {
  uint64_t key; /* 0: empty */
  uint64_t conv, gen;
};

struct nest {
  struct nest_opts o;
  struct nest_sink s;
  struct nest_stats st;
  struct nobs **obs;
  size_t nobs;
  struct ntrace *traces;
  size_t ntraces;
  uint64_t trace_serial;
  int opened_any;      /* a trace was ever opened (the first takes the
                          process's ids) */
  uint64_t proc_trace; /* serial of the trace rooted at the process span */
  struct nconv *convs;
  /* Slots at or past a table's high-water mark have never been used:
   * scans stop there. The tables are sized for the worst case (1024
   * threads of a few KB each) and a full scan read megabytes: a thousand
   * page faults in every process, and as many cache misses per batch. */
  size_t convs_hw, threads_hw;
  uint64_t conv_counter, gen_counter;
  struct nthread *threads;
  struct ient *ix;
  size_t ix_cap, ix_n;
};

/* ---- small helpers ---- */

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* Members are added under their literal keys without copying them
 * (cJSON_AddItemToObjectCS: the node points at the key), which saves a
 * malloc and a free per member. Every k below is a string literal. */
static cJSON *add_cs(cJSON *obj, const char *k, cJSON *item) {
  if (item && !cJSON_AddItemToObjectCS(obj, k, item)) {
    cJSON_Delete(item);
    return NULL;
  }
  return item;
}

static void add_str(cJSON *obj, const char *k, const char *v) {
  add_cs(obj, k, cJSON_CreateString(v));
}

/* Replace member k: removed, then (when v is not empty) added last. */
static void set_str(cJSON *rec, const char *k, const char *v) {
  cJSON_DeleteItemFromObjectCaseSensitive(rec, k);
  if (v && v[0])
    add_str(rec, k, v);
}

/* set_str of n distinct keys at once, in one walk over rec: the same
 * result as n set_str calls in order (each removes the first member of
 * its name and appends), without a lookup per key. */
static void set_strs(cJSON *rec, const char *const *k, const char *const *v,
                     unsigned n) {
  unsigned seen = 0;
  for (cJSON *c = rec ? rec->child : NULL, *next; c; c = next) {
    next = c->next;
    for (unsigned i = 0; c->string && i < n; i++) {
      if (!(seen & 1u << i) && c->string[0] == k[i][0] &&
          strcmp(c->string, k[i]) == 0) {
        seen |= 1u << i;
        cJSON_Delete(cJSON_DetachItemViaPointer(rec, c));
        break;
      }
    }
  }
  for (unsigned i = 0; i < n; i++)
    if (v[i] && v[i][0])
      add_str(rec, k[i], v[i]);
}

/* Decimal text of ns, as "%lld" prints it (without stdio's cost). */
static void ns_text(char buf[24], int64_t ns) {
  char tmp[24];
  size_t k = 0, n = 0;
  uint64_t u = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
  do {
    tmp[k++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (ns < 0)
    buf[n++] = '-';
  while (k)
    buf[n++] = tmp[--k];
  buf[n] = '\0';
}

static void set_ns(cJSON *rec, const char *k, int64_t ns) {
  char buf[24];
  ns_text(buf, ns);
  set_str(rec, k, buf);
}

static cJSON *meta_of(cJSON *rec) {
  cJSON *m = cJSON_GetObjectItemCaseSensitive(rec, "metadata");
  if (!cJSON_IsObject(m)) {
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "metadata");
    m = add_cs(rec, "metadata", cJSON_CreateObject());
  }
  return m;
}

static void copy_name(char *dst, const char *src) {
  size_t n = src ? strlen(src) : 0;
  if (n > NEST_NAME - 1)
    n = NEST_NAME - 1;
  memcpy(dst, src ? src : "", n);
  dst[n] = '\0';
}

static uint64_t mix64(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ull;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dull;
  x ^= x >> 33;
  return x;
}

/* ---- aggregates ---- */

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) && v->valuedouble > 0 ? v->valuedouble : 0;
}

static const cJSON *last_user_text(const cJSON *input) {
  const cJSON *found = NULL, *m;
  cJSON_ArrayForEach(m, input) {
    if (nest_msg_is_user_text(m))
      found = m;
  }
  return found;
}

static void agg_add(struct agg *a, const cJSON *rec) {
  const char *type = jstr(rec, "type");
  if (type && (!strcmp(type, "generation") || !strcmp(type, "embedding")))
    a->generations++;
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(rec, "usage");
  uint64_t in = (uint64_t)num(u, "input_tokens");
  uint64_t out = (uint64_t)num(u, "output_tokens");
  uint64_t tot = (uint64_t)num(u, "total_tokens");
  a->in += in;
  a->out += out;
  a->total += tot ? tot : in + out;
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(rec, "cost_details"), "total");
  if (cJSON_IsNumber(c)) {
    a->cost += c->valuedouble;
    a->have_cost = 1;
  }
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(rec, "input");
  if (!a->first_input && cJSON_IsArray(input)) {
    const cJSON *q = last_user_text(input);
    if (q)
      a->first_input = cJSON_Duplicate(q, 1);
  }
  const cJSON *output = cJSON_GetObjectItemCaseSensitive(rec, "output");
  if (cJSON_IsArray(output) && cJSON_GetArraySize(output) > 0) {
    cJSON_Delete(a->last_output);
    a->last_output = cJSON_Duplicate(output, 1);
  }
}

static void agg_write(const struct agg *a, cJSON *rec) {
  if (a->first_input) {
    cJSON *in = cJSON_CreateArray();
    cJSON_AddItemToArray(in, cJSON_Duplicate(a->first_input, 1));
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "input");
    add_cs(rec, "input", in);
  }
  if (a->last_output) {
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "output");
    add_cs(rec, "output", cJSON_Duplicate(a->last_output, 1));
  }
  cJSON *m = meta_of(rec);
  if (!m)
    return;
  add_cs(m, "generations", cJSON_CreateNumber((double)a->generations));
  add_cs(m, "input_tokens", cJSON_CreateNumber((double)a->in));
  add_cs(m, "output_tokens", cJSON_CreateNumber((double)a->out));
  add_cs(m, "total_tokens", cJSON_CreateNumber((double)a->total));
  if (a->have_cost)
    add_cs(m, "cost_usd", cJSON_CreateNumber(a->cost));
}

static void agg_free(struct agg *a) {
  cJSON_Delete(a->first_input);
  cJSON_Delete(a->last_output);
  memset(a, 0, sizeof *a);
}

/* ---- traces ---- */

static struct ntrace *trace_get(struct nest *n, uint64_t serial) {
  for (size_t i = 0; serial && i < n->ntraces; i++)
    if (n->traces[i].serial == serial)
      return &n->traces[i];
  return NULL;
}

/* ---- open observations ---- */

static struct nobs *obs_find(struct nest *n, const char *id) {
  if (!id || !id[0])
    return NULL;
  for (size_t i = 0; i < n->nobs; i++)
    if (strcmp(n->obs[i]->id, id) == 0)
      return n->obs[i];
  return NULL;
}

static void obs_remove(struct nest *n, struct nobs *o) {
  for (size_t i = 0; i < n->nobs; i++) {
    if (n->obs[i] == o) {
      n->obs[i] = n->obs[--n->nobs];
      break;
    }
  }
  agg_free(&o->agg);
  cJSON_Delete(o->rec);
  free(o);
}

static void trace_close(struct nest *n, struct ntrace *t, int64_t now_ns);

/* A new open observation with its record's start fields, announced to the
 * sink as an open marker. parent: the engine's parent (NULL for a root);
 * rec_parent: what the record names as parent (defaults to parent). */
static struct nobs *obs_open(struct nest *n, int kind, struct ntrace *t,
                             const char *parent, const char *rec_parent,
                             int tid, int64_t start_ns, const char *type,
                             const char *name, const char *given_id,
                             cJSON *input, const char *operation) {
  if (n->nobs >= n->o.max_open) {
    /* Past the bound: close the least recently active other trace. */
    struct ntrace *old = NULL;
    for (size_t i = 0; i < n->ntraces; i++)
      if (&n->traces[i] != t && (!old || n->traces[i].last_ns < old->last_ns))
        old = &n->traces[i];
    if (!old) {
      cJSON_Delete(input);
      return NULL;
    }
    uint64_t keep = t->serial;
    n->st.traces_evicted++;
    trace_close(n, old, old->last_ns);
    t = trace_get(n, keep);
    if (!t || n->nobs >= n->o.max_open) {
      cJSON_Delete(input);
      return NULL;
    }
  }
  struct nobs *o = calloc(1, sizeof *o);
  cJSON *rec = cJSON_CreateObject();
  if (!o || !rec) {
    free(o);
    cJSON_Delete(rec);
    cJSON_Delete(input);
    return NULL;
  }
  if (given_id)
    snprintf(o->id, sizeof o->id, "%s", given_id);
  else
    at_new_span_id(o->id);
  snprintf(o->parent, sizeof o->parent, "%s", parent ? parent : "");
  o->trace = t->serial;
  o->kind = kind;
  o->tid = tid;
  o->start_ns = o->end_ns = o->last_ns = start_ns;
  o->rec = rec;
  if (n->s.stamp)
    n->s.stamp(n->s.ctx, rec, tid);
  set_str(rec, "id", o->id);
  set_str(rec, "trace_id", t->trace_id);
  set_str(rec, "parent_id", rec_parent ? rec_parent : o->parent);
  set_str(rec, "type", type);
  set_str(rec, "name", name && name[0] ? name : type);
  set_ns(rec, "start_ns", start_ns);
  if (operation)
    set_str(rec, "operation", operation);
  if (input)
    add_cs(rec, "input", input);
  if (!n->o.explicit_session && t->session[0])
    set_str(rec, "session_id", t->session);
  if (t->name[0])
    set_str(rec, "trace_name", t->name);
  n->obs[n->nobs++] = o;
  if (n->s.open)
    n->s.open(n->s.ctx, o->id, rec);
  struct nobs *p = obs_find(n, o->parent);
  if (p) {
    p->nchildren++;
    if (kind == K_AGENT)
      p->nagents++;
  }
  return o;
}

/* Note a child's time span on its parent (a span covers its children). */
static void obs_extend(struct nest *n, const char *id, int64_t start_ns,
                       int64_t end_ns) {
  struct nobs *o = obs_find(n, id);
  if (!o)
    return;
  if (end_ns > o->end_ns)
    o->end_ns = end_ns;
  if (start_ns && (o->start_ns == 0 || start_ns < o->start_ns) &&
      o->kind == K_ROOT) {
    /* A root opened by a later event may learn of earlier work. */
    o->start_ns = start_ns;
    set_ns(o->rec, "start_ns", start_ns);
  }
  if (end_ns > o->last_ns)
    o->last_ns = end_ns;
}

/* Close o and everything still open below it: write the records, delete
 * the markers. hint: when the end is not known from children (a spawned
 * process, a pinned root at exit), the time it ends at the latest. A tool
 * that never saw its result and has nothing below it is dropped, not
 * written: the call was never run as far as anyone can tell. */
static void obs_close(struct nest *n, struct nobs *o, int64_t hint) {
  for (;;) {
    struct nobs *child = NULL;
    for (size_t i = 0; i < n->nobs && !child; i++)
      if (strcmp(n->obs[i]->parent, o->id) == 0)
        child = n->obs[i];
    if (!child)
      break;
    obs_close(n, child, hint > o->end_ns ? hint : o->end_ns);
  }
  if (o->kind == K_TOOL && !o->resolved && o->nchildren == 0) {
    if (n->s.close)
      n->s.close(n->s.ctx, o->id);
    obs_remove(n, o);
    return;
  }
  int64_t end = o->end_ns;
  if ((o->kind == K_SPAWN || (o->kind == K_ROOT && n->o.pinned)) && hint > end)
    end = hint;
  if (end < o->start_ns)
    end = o->start_ns;
  cJSON *rec = o->rec;
  set_ns(rec, "end_ns", end);
  /* The level moves last, "DEFAULT" when there is none. Its node is moved,
   * not copied: a set_str with its own text would free that text before
   * copying it. */
  cJSON *level = cJSON_DetachItemFromObjectCaseSensitive(rec, "level");
  if (cJSON_IsString(level) && level->valuestring) {
    if (level->valuestring[0])
      cJSON_AddItemToObjectCS(rec, "level", level);
    else
      cJSON_Delete(level);
  } else {
    cJSON_Delete(level);
    add_str(rec, "level", "DEFAULT");
  }
  struct ntrace *t = trace_get(n, o->trace);
  if (o->kind == K_ROOT || o->kind == K_AGENT)
    agg_write(&o->agg, rec);
  if (o->kind == K_TOOL && !o->resolved) {
    cJSON *m = meta_of(rec);
    if (m)
      add_str(m, "tool_result", "none seen: the conversation did not continue");
  }
  if (t && !n->o.explicit_session && t->session[0])
    set_str(rec, "session_id", t->session);
  const char *pid = o->parent;
  int64_t start = o->start_ns;
  char parent[17];
  snprintf(parent, sizeof parent, "%s", pid);
  o->rec = NULL;
  if (n->s.record)
    n->s.record(n->s.ctx, rec);
  else
    cJSON_Delete(rec);
  if (n->s.close)
    n->s.close(n->s.ctx, o->id);
  obs_remove(n, o);
  obs_extend(n, parent, start, end);
}

/* ---- the index of message-prefix hashes ---- */

enum ix_kind { IX_INPUT = 1, IX_EXPECT, IX_PREFIX, IX_RESP };

static uint64_t ix_key(int kind, uint64_t h) {
  uint64_t k = mix64(h ^ ((uint64_t)kind * 0x9e3779b97f4a7c15ull));
  return k ? k : 1;
}

static struct nconv *conv_get(struct nest *n, uint64_t serial) {
  if (!serial)
    return NULL;
  size_t slot = (size_t)(serial & 0xfff);
  if (slot >= n->o.max_conversations || n->convs[slot].serial != serial)
    return NULL;
  return &n->convs[slot];
}

static struct ngen *gen_get(struct nconv *c, uint64_t serial) {
  for (unsigned i = 0; c && serial && i < NEST_GENS; i++)
    if (c->g[i].serial == serial)
      return &c->g[i];
  return NULL;
}

static int ix_live(struct nest *n, const struct ient *e) {
  struct nconv *c = conv_get(n, e->conv);
  return c && (!e->gen || gen_get(c, e->gen));
}

static int ix_resize(struct nest *n, size_t cap) {
  struct ient *nt = calloc(cap, sizeof *nt);
  if (!nt)
    return -1;
  size_t cnt = 0;
  for (size_t i = 0; i < n->ix_cap; i++) {
    struct ient *e = &n->ix[i];
    if (!e->key || !ix_live(n, e))
      continue;
    size_t h = (size_t)e->key & (cap - 1);
    while (nt[h].key)
      h = (h + 1) & (cap - 1);
    nt[h] = *e;
    cnt++;
  }
  free(n->ix);
  n->ix = nt;
  n->ix_cap = cap;
  n->ix_n = cnt;
  return 0;
}

static struct ient *ix_find(struct nest *n, int kind, uint64_t h) {
  if (!n->ix_cap)
    return NULL;
  uint64_t key = ix_key(kind, h);
  size_t i = (size_t)key & (n->ix_cap - 1);
  while (n->ix[i].key) {
    if (n->ix[i].key == key)
      return ix_live(n, &n->ix[i]) ? &n->ix[i] : NULL;
    i = (i + 1) & (n->ix_cap - 1);
  }
  return NULL;
}

/* Insert or replace: the newest owner of a hash wins. */
static void ix_put(struct nest *n, int kind, uint64_t h, uint64_t conv,
                   uint64_t gen) {
  if ((n->ix_n + 1) * 2 > n->ix_cap) {
    size_t cap = n->ix_cap ? n->ix_cap : 256;
    /* Stale entries (forgotten conversations) go at every resize; grow
     * only when the live ones need it, up to the bound. */
    if (ix_resize(n, cap) != 0)
      return;
    if ((n->ix_n + 1) * 2 > n->ix_cap) {
      if (n->ix_cap * 2 > NEST_INDEX_MAX) {
        /* At the bound: start over. Prefixes of old conversations are
         * forgotten; continuations of recent answers are re-indexed as
         * the conversations go on. */
        memset(n->ix, 0, n->ix_cap * sizeof *n->ix);
        n->ix_n = 0;
      } else if (ix_resize(n, n->ix_cap * 2) != 0) {
        return;
      }
    }
  }
  uint64_t key = ix_key(kind, h);
  size_t i = (size_t)key & (n->ix_cap - 1);
  while (n->ix[i].key && n->ix[i].key != key)
    i = (i + 1) & (n->ix_cap - 1);
  if (!n->ix[i].key)
    n->ix_n++;
  n->ix[i].key = key;
  n->ix[i].conv = conv;
  n->ix[i].gen = gen;
}

/* ---- conversations ---- */

static void conv_forget(struct nest *n, struct nconv *c) {
  (void)n;
  memset(c, 0, sizeof *c);
}

static struct nconv *conv_new(struct nest *n, int64_t now_ns) {
  struct nconv *slot = NULL;
  for (size_t i = 0; i < n->convs_hw; i++) {
    if (!n->convs[i].serial) {
      slot = &n->convs[i];
      break;
    }
    if (!slot || n->convs[i].last_ns < slot->last_ns)
      slot = &n->convs[i];
  }
  if ((!slot || slot->serial) && n->convs_hw < n->o.max_conversations)
    slot = &n->convs[n->convs_hw++];
  if (slot->serial) {
    n->st.conversations_evicted++;
    conv_forget(n, slot);
  }
  size_t idx = (size_t)(slot - n->convs);
  slot->serial = (++n->conv_counter << 12) | idx;
  slot->last_ns = now_ns;
  return slot;
}

/* ---- threads ---- */

static struct nthread *thread_get(struct nest *n, int tid, int create);

static void path_close(struct nest *n, struct npath *p, unsigned from) {
  while (p->depth > from) {
    p->depth--;
    struct nobs *o = obs_find(n, p->ids[p->depth]);
    if (o)
      obs_close(n, o, 0);
  }
}

static void thread_forget(struct nest *n, struct nthread *th) {
  for (unsigned i = 0; i < NEST_PATHS; i++)
    if (th->paths[i].used)
      path_close(n, &th->paths[i], 0);
  memset(th, 0, sizeof *th);
}

static struct nthread *thread_get(struct nest *n, int tid, int create) {
  struct nthread *free_slot = NULL, *lru = NULL;
  for (size_t i = 0; i < n->threads_hw; i++) {
    struct nthread *th = &n->threads[i];
    if (tid && th->tid == tid)
      return th;
    if (!th->tid) {
      if (!free_slot)
        free_slot = th;
    } else if (!lru || th->last_ns < lru->last_ns) {
      lru = th;
    }
  }
  if (!create || !tid)
    return NULL;
  struct nthread *th = free_slot;
  if (!th && n->threads_hw < n->o.max_threads)
    th = &n->threads[n->threads_hw++];
  if (!th) {
    th = lru;
    n->st.threads_evicted++;
    thread_forget(n, th);
  }
  th->tid = tid;
  return th;
}

/* Is tid a descendant of anc (through pthread_create), by a thread that
 * anc created at or after since? Threads anc created before (a pool) do
 * not inherit what anc was doing later. */
static int descends(struct nest *n, int tid, int anc, int64_t since) {
  for (int hops = 0; hops < 32 && tid; hops++) {
    struct nthread *th = thread_get(n, tid, 0);
    if (!th || !th->creator)
      return 0;
    if (th->creator == anc)
      return th->created_ns >= since;
    tid = th->creator;
  }
  return 0;
}

static uint64_t frames_hash(const struct nest_frame *f, unsigned nf) {
  if (!nf)
    return 0;
  uint64_t h = NEST_PREFIX_SEED;
  for (unsigned i = 0; i < nf; i++)
    h = nest_prefix_next(h, nest_str_hash(f[i].function));
  return h ? h : 1;
}

/* The path of thread th under anchor in trace t (made when new). */
static struct npath *path_for(struct nest *n, struct nthread *th,
                              uint64_t trace, const char *anchor) {
  struct npath *free_p = NULL, *lru = NULL;
  for (unsigned i = 0; i < NEST_PATHS; i++) {
    struct npath *p = &th->paths[i];
    if (p->used && p->trace == trace && strcmp(p->anchor, anchor) == 0)
      return p;
    if (!p->used && !free_p)
      free_p = p;
    if (p->used && (!lru || p->last_ns < lru->last_ns))
      lru = p;
  }
  struct npath *p = free_p ? free_p : lru;
  if (p->used)
    path_close(n, p, 0);
  memset(p, 0, sizeof *p);
  p->used = 1;
  p->trace = trace;
  snprintf(p->anchor, sizeof p->anchor, "%s", anchor);
  return p;
}

/* Move thread th's path to the stack of a new call and return the parent
 * for the call: the innermost span, else the anchor. The frames between
 * the thread's entry (outermost) and the call site (innermost) are the
 * steps; where successive calls' steps diverge, the old spans close and
 * new ones open. Recursion (a function calling itself) is one span. */
static const char *path_step(struct nest *n, struct nthread *th,
                             struct ntrace *t, const char *anchor,
                             const struct nest_frame *f, unsigned nf,
                             int64_t start_ns, int64_t now_ns) {
  struct npath *p = path_for(n, th, t->serial, anchor);
  p->last_ns = now_ns;
  /* Spans closed meanwhile (their parent closed) cut the path there. */
  for (unsigned i = 0; i < p->depth; i++) {
    if (!obs_find(n, p->ids[i])) {
      path_close(n, p, i + 1);
      p->depth = i;
      break;
    }
  }
  const char *steps[NEST_DEPTH];
  const char *mods[NEST_DEPTH];
  unsigned ns = 0;
  for (unsigned i = 1; i + 1 < nf && ns < NEST_DEPTH; i++) {
    const char *fn = f[i].function;
    if (!fn || !fn[0])
      continue;
    if (ns && strncmp(steps[ns - 1], fn, NEST_NAME - 1) == 0)
      continue;
    steps[ns] = fn;
    mods[ns] = f[i].module;
    ns++;
  }
  unsigned c = 0;
  while (c < p->depth && c < ns &&
         strncmp(p->fns[c], steps[c], NEST_NAME - 1) == 0)
    c++;
  path_close(n, p, c);
  for (unsigned i = c; i < ns; i++) {
    const char *parent = i ? p->ids[i - 1] : anchor;
    struct nobs *o = obs_open(n, K_SPAN, t, parent, NULL, th->tid, start_ns,
                              "span", steps[i], NULL, NULL, NULL);
    if (!o)
      break;
    cJSON *m = meta_of(o->rec);
    if (m) {
      add_str(m, "function", steps[i]);
      if (mods[i] && mods[i][0]) {
        const char *b = strrchr(mods[i], '/');
        add_str(m, "module", b ? b + 1 : mods[i]);
      }
    }
    snprintf(p->ids[i], 17, "%s", o->id);
    copy_name(p->fns[i], steps[i]);
    p->depth = i + 1;
  }
  return p->depth ? p->ids[p->depth - 1] : anchor;
}

/* ---- traces (continued) ---- */

/* The name a trace gets: its first call's outermost application frame
 * other than main, else the program. */
static const char *trace_name_for(struct nest *n, const struct nest_frame *f,
                                  unsigned nf) {
  for (unsigned i = 0; i < nf; i++)
    if (f[i].function && f[i].function[0] && strcmp(f[i].function, "main"))
      return f[i].function;
  return n->o.program[0] ? n->o.program : "process";
}

static struct ntrace *trace_open(struct nest *n, int64_t start_ns,
                                 const struct nest_frame *f, unsigned nf) {
  if (n->o.pinned) {
    struct ntrace *t = trace_get(n, n->proc_trace);
    if (t)
      return t;
  }
  if (n->ntraces >= n->o.max_traces) {
    struct ntrace *old = &n->traces[0];
    for (size_t i = 1; i < n->ntraces; i++)
      if (n->traces[i].last_ns < old->last_ns)
        old = &n->traces[i];
    n->st.traces_evicted++;
    trace_close(n, old, old->last_ns);
  }
  struct ntrace *t = &n->traces[n->ntraces++];
  memset(t, 0, sizeof *t);
  t->serial = ++n->trace_serial;
  t->last_ns = start_ns;
  const char *given = NULL, *rec_parent = NULL;
  int64_t start = start_ns;
  if (!n->opened_any) {
    /* The first trace is rooted at the process span the shim named: a
     * fork()ed or exec()ed child was told that span as its parent. */
    snprintf(t->trace_id, sizeof t->trace_id, "%s", n->o.proc_trace_id);
    given = n->o.proc_span_id;
    rec_parent = n->o.proc_parent_id;
    n->proc_trace = t->serial;
    if (n->o.pinned && n->o.proc_start_ns)
      start = n->o.proc_start_ns;
  } else if (n->o.pinned) {
    /* The pinned trace was closed early (a bound): its work goes on in
     * the same trace, under a new root below the process span. */
    snprintf(t->trace_id, sizeof t->trace_id, "%s", n->o.proc_trace_id);
    rec_parent = n->o.proc_span_id;
    n->proc_trace = t->serial;
  } else {
    at_new_trace_id(t->trace_id);
  }
  n->opened_any = 1;
  /* The trace is named here only when this process is its top: a child
   * process's trace has its name from the process that started it. */
  if (!n->o.explicit_name && !(rec_parent && rec_parent[0]))
    copy_name(t->name, trace_name_for(n, f, nf));
  struct nobs *root =
      obs_open(n, K_ROOT, t, NULL, rec_parent, 0, start, "span",
               n->o.program[0] ? n->o.program : "process", given, NULL, NULL);
  if (!root) {
    n->ntraces--;
    return NULL;
  }
  cJSON *m = meta_of(root->rec);
  if (m)
    add_str(m, "capture", "process");
  snprintf(t->root, sizeof t->root, "%s", root->id);
  return t;
}

static void trace_close(struct nest *n, struct ntrace *t, int64_t now_ns) {
  uint64_t serial = t->serial;
  struct nobs *root = obs_find(n, t->root);
  if (root)
    obs_close(n, root, now_ns);
  /* Anything of this trace not under its root (should not happen). */
  for (size_t i = 0; i < n->nobs;) {
    if (n->obs[i]->trace == serial)
      obs_close(n, n->obs[i], now_ns);
    else
      i++;
  }
  for (size_t i = 0; i < n->convs_hw; i++) {
    if (n->convs[i].serial && n->convs[i].trace == serial) {
      n->convs[i].trace = 0;
      n->convs[i].home[0] = '\0';
    }
  }
  for (size_t i = 0; i < n->threads_hw; i++) {
    struct nthread *th = &n->threads[i];
    for (unsigned k = 0; th->tid && k < NEST_PATHS; k++)
      if (th->paths[k].used && th->paths[k].trace == serial)
        memset(&th->paths[k], 0, sizeof th->paths[k]);
    if (th->origin_trace == serial)
      th->origin_trace = 0;
    if (th->last_trace == serial)
      th->last_trace = 0;
  }
  t = trace_get(n, serial);
  if (t)
    *t = n->traces[--n->ntraces];
}

/* ---- the calls ---- */

struct call {
  cJSON *rec;
  const char *type;
  int64_t start_ns, end_ns;
  const cJSON *input, *output;
  int failed;
  const char *response_id, *prev_response_id, *wire_session;
};

static int is_chat(const struct call *c) {
  if (!c->type || strcmp(c->type, "generation") != 0 ||
      !cJSON_IsArray(c->input) || cJSON_GetArraySize(c->input) == 0)
    return 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, c->input) {
    if (!cJSON_IsObject(m) || !jstr(m, "role"))
      return 0;
  }
  return 1;
}

/* Session ids some clients put on the wire (lowercase header names). */
static const char *wire_session(const cJSON *http) {
  static const char *const hdrs[] = {"x-claude-code-session-id", "session_id",
                                     "session-id", "x-session-id"};
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(http, "request_headers");
  for (size_t i = 0; i < sizeof hdrs / sizeof *hdrs; i++) {
    const char *v = jstr(h, hdrs[i]);
    if (v && v[0] && strcmp(v, "[REDACTED]") != 0)
      return v;
  }
  return NULL;
}

/* The string value of v, or NULL (jstr for a member already found). */
static const char *vstr(const cJSON *v) {
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static int64_t vns(const cJSON *v) {
  const char *s = vstr(v);
  return s ? strtoll(s, NULL, 10) : 0;
}

/* What the engine reads of a call's record, found in one walk over its
 * members (some thirty: a lookup per name walked most of them each time).
 * Like cJSON's lookup, the first member of a name counts and the walk
 * stops at a member without a name. */
enum {
  F_TYPE,
  F_START,
  F_END,
  F_INPUT,
  F_OUTPUT,
  F_LEVEL,
  F_RESP,
  F_META,
  F_HTTP,
  F_N
};
static const char *const call_fields[F_N] = {
    "type",  "start_ns",    "end_ns",   "input", "output",
    "level", "response_id", "metadata", "http"};

static void call_read(struct call *c, cJSON *rec) {
  memset(c, 0, sizeof *c);
  c->rec = rec;
  const cJSON *f[F_N] = {0};
  for (const cJSON *m = rec ? rec->child : NULL; m && m->string; m = m->next)
    for (unsigned i = 0; i < F_N; i++)
      if (!f[i] && m->string[0] == call_fields[i][0] &&
          strcmp(m->string, call_fields[i]) == 0) {
        f[i] = m;
        break;
      }
  c->type = vstr(f[F_TYPE]);
  c->start_ns = vns(f[F_START]);
  c->end_ns = vns(f[F_END]);
  if (c->end_ns < c->start_ns)
    c->end_ns = c->start_ns;
  c->input = f[F_INPUT];
  c->output = f[F_OUTPUT];
  const char *level = vstr(f[F_LEVEL]);
  c->failed = (level && strcmp(level, "ERROR") == 0) ||
              !cJSON_IsArray(c->output) || cJSON_GetArraySize(c->output) == 0;
  c->response_id = vstr(f[F_RESP]);
  c->prev_response_id = jstr(f[F_META], "previous_response_id");
  c->wire_session = wire_session(f[F_HTTP]);
}

/* Write the call's record: ids, trace-level fields, aggregates. */
static void emit_call(struct nest *n, struct call *c, struct ntrace *t,
                      const char *parent, int tid, const char *id) {
  cJSON *rec = c->rec;
  const char *keys[5] = {"id", "trace_id", "parent_id"};
  const char *vals[5] = {id, t->trace_id, parent};
  unsigned nk = 3;
  if (!n->o.explicit_session && t->session[0]) {
    keys[nk] = "session_id";
    vals[nk++] = t->session;
  }
  if (t->name[0]) {
    keys[nk] = "trace_name";
    vals[nk++] = t->name;
  }
  set_strs(rec, keys, vals, nk);
  struct nobs *root = obs_find(n, t->root);
  if (root)
    agg_add(&root->agg, rec);
  /* An agent aggregates the generations under it, whatever the depth. */
  const char *up = parent;
  for (int hops = 0; hops < 2 * NEST_DEPTH + 8; hops++) {
    struct nobs *o = obs_find(n, up);
    if (!o || o->kind == K_ROOT)
      break;
    if (o->kind == K_AGENT) {
      agg_add(&o->agg, rec);
      break;
    }
    up = o->parent;
  }
  struct nobs *p = obs_find(n, parent);
  if (p)
    p->nchildren++;
  obs_extend(n, parent, c->start_ns, c->end_ns);
  t->last_ns = c->end_ns;
  struct nthread *th = thread_get(n, tid, 1);
  if (th) {
    th->last_trace = t->serial;
    th->last_ns = c->end_ns;
  }
  c->rec = NULL;
  if (n->s.record)
    n->s.record(n->s.ctx, rec);
  else
    cJSON_Delete(rec);
}

/* Is this tool still waiting for its result? */
static struct nobs *pending_tool(struct nest *n, const char *id) {
  struct nobs *o = obs_find(n, id);
  return o && o->kind == K_TOOL && !o->resolved ? o : NULL;
}

/* Text of the string values in a JSON value, for matching a sub-agent's
 * question to the tool call that started it. */
static int args_in_text(const cJSON *v, const char *text, int depth) {
  if (!v || depth > 4)
    return 0;
  if (cJSON_IsString(v))
    return v->valuestring && strlen(v->valuestring) >= 4 &&
           strstr(text, v->valuestring) != NULL;
  const cJSON *e;
  cJSON_ArrayForEach(e, v) {
    if (args_in_text(e, text, depth + 1))
      return 1;
  }
  return 0;
}

static char *user_text(const cJSON *input) {
  size_t cap = 1, len = 0;
  char *s = malloc(1);
  if (!s)
    return NULL;
  s[0] = '\0';
  const cJSON *m, *p;
  cJSON_ArrayForEach(m, input) {
    if (strcmp(nest_msg_role(m), "user") != 0)
      continue;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(m, "parts")) {
      const char *t = jstr(p, "content");
      if (!t)
        continue;
      size_t l = strlen(t);
      if (len + l + 2 > cap) {
        cap = (len + l + 2) * 2;
        char *ns = realloc(s, cap);
        if (!ns)
          return s;
        s = ns;
      }
      memcpy(s + len, t, l);
      len += l;
      s[len++] = '\n';
      s[len] = '\0';
    }
  }
  return s;
}

/* A tool call pending for LLM work that starts at start_ns on thread tid:
 * the latest generation, on tid or on a thread tid descends from, whose
 * tool calls are unanswered and which ended before start_ns. Which of its
 * tools: the one whose arguments the work's question quotes; else, for
 * work on a thread the caller created, the tool of the same rank as that
 * thread; else the first one with no agent yet. */
static struct nobs *find_pending(struct nest *n, int tid, int64_t start_ns,
                                 const cJSON *input, uint64_t frames) {
  struct ngen *best = NULL;
  for (size_t i = 0; i < n->convs_hw; i++) {
    struct nconv *c = &n->convs[i];
    if (!c->serial || !c->trace)
      continue;
    for (unsigned k = 0; k < NEST_GENS; k++) {
      struct ngen *g = &c->g[k];
      if (!g->serial || !g->ntools || g->end_ns > start_ns)
        continue;
      if (g->tid != tid && !descends(n, tid, g->tid, g->end_ns))
        continue;
      /* The same thread calling from the very place that got the tool
       * calls has moved on: a sub-agent runs inside the tool's code. */
      if (g->tid == tid && frames && g->frames == frames)
        continue;
      int any = 0;
      for (unsigned j = 0; j < g->ntools && !any; j++)
        any = pending_tool(n, g->tools[j]) != NULL;
      if (any && (!best || g->end_ns > best->end_ns))
        best = g;
    }
  }
  if (!best)
    return NULL;
  struct nobs *open[NEST_TOOLS];
  unsigned nopen = 0;
  for (unsigned j = 0; j < best->ntools; j++) {
    struct nobs *o = pending_tool(n, best->tools[j]);
    if (o)
      open[nopen++] = o;
  }
  if (input) {
    char *text = user_text(input);
    for (unsigned j = 0; text && j < nopen; j++) {
      if (args_in_text(cJSON_GetObjectItemCaseSensitive(open[j]->rec, "input"),
                       text, 0)) {
        free(text);
        return open[j];
      }
    }
    free(text);
  }
  if (tid != best->tid) {
    /* The ancestor of tid that the generation's thread created, and its
     * rank among the threads created since the generation ended. */
    int a = tid;
    struct nthread *th = NULL;
    for (int hops = 0; hops < 32; hops++) {
      th = thread_get(n, a, 0);
      if (!th || th->creator == best->tid)
        break;
      a = th->creator;
    }
    if (th && th->creator == best->tid && th->created_ns >= best->end_ns) {
      unsigned rank = 0;
      for (size_t i = 0; i < n->threads_hw; i++) {
        struct nthread *o = &n->threads[i];
        if (o->tid && o != th && o->creator == best->tid &&
            o->created_ns >= best->end_ns &&
            (o->created_ns < th->created_ns ||
             (o->created_ns == th->created_ns && o->tid < th->tid)))
          rank++;
      }
      return open[rank % nopen];
    }
  }
  for (unsigned j = 0; j < nopen; j++)
    if (!open[j]->nagents)
      return open[j];
  return open[nopen - 1];
}

/* Close the generation's tool calls: those answered in msgs get their
 * result; the others are done too (the conversation moved past them). */
static void resolve_tools(struct nest *n, struct ngen *g, const cJSON *input,
                          int from, int count, int64_t when_ns) {
  if (!g)
    return;
  for (int i = from; i < count; i++) {
    const cJSON *m = cJSON_GetArrayItem(input, i);
    if (!nest_msg_is_tool_result(m))
      continue;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(m, "parts")) {
      const char *type = jstr(p, "type");
      if (!type || strcmp(type, "tool_call_response") != 0)
        continue;
      const char *id = jstr(p, "id");
      const char *name = jstr(p, "name");
      struct nobs *hit = NULL;
      for (unsigned j = 0; j < g->ntools && !hit; j++) {
        struct nobs *o = pending_tool(n, g->tools[j]);
        if (!o)
          continue;
        const char *cid = jstr(meta_of(o->rec), "tool_call_id");
        if (id && cid && strcmp(id, cid) == 0)
          hit = o;
        else if ((!id || !cid) && name && !strcmp(name, jstr(o->rec, "name")))
          hit = o;
      }
      if (!hit)
        continue;
      hit->resolved = 1;
      const cJSON *resp = cJSON_GetObjectItemCaseSensitive(p, "response");
      if (resp)
        add_cs(hit->rec, "output", cJSON_Duplicate(resp, 1));
      if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "is_error"))) {
        set_str(hit->rec, "level", "ERROR");
        set_str(hit->rec, "status_message", "the tool reported an error");
      }
      if (when_ns > hit->end_ns)
        hit->end_ns = when_ns;
      obs_close(n, hit, when_ns);
    }
  }
  for (unsigned j = 0; j < g->ntools; j++) {
    struct nobs *o = pending_tool(n, g->tools[j]);
    if (o)
      obs_close(n, o, when_ns);
  }
  g->ntools = 0;
}

/* Attach a call of conversation c in trace t: parent from the thread's
 * stack under the conversation's anchor; remember the generation and its
 * tool calls; index it; write it. */
static void attach(struct nest *n, struct nconv *c, struct ntrace *t,
                   struct call *call, int tid, const struct nest_frame *f,
                   unsigned nf, const uint64_t *H, int k) {
  const char *anchor = t->root;
  struct nobs *home = obs_find(n, c->home);
  if (home)
    anchor = home->id;
  struct nthread *th = thread_get(n, tid, 1);
  char parent[17];
  if (th)
    snprintf(parent, sizeof parent, "%s",
             path_step(n, th, t, anchor, f, nf, call->start_ns, call->end_ns));
  else
    snprintf(parent, sizeof parent, "%s", anchor);
  char id[17];
  at_new_span_id(id);

  struct ngen *g = &c->g[c->gnext];
  c->gnext = (c->gnext + 1) % NEST_GENS;
  memset(g, 0, sizeof *g);
  g->serial = ++n->gen_counter;
  g->tid = tid;
  g->frames = frames_hash(f, nf);
  g->start_ns = call->start_ns;
  g->end_ns = call->end_ns;
  c->last_ns = call->end_ns;

  /* Its tool calls open now, as siblings after it. */
  const cJSON *out0 = cJSON_GetArrayItem(call->output, 0);
  if (!call->failed) {
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(out0, "parts")) {
      const char *type = jstr(p, "type");
      if (!type || strcmp(type, "tool_call") != 0 || g->ntools >= NEST_TOOLS)
        continue;
      const cJSON *args = cJSON_GetObjectItemCaseSensitive(p, "arguments");
      struct nobs *o =
          obs_open(n, K_TOOL, t, parent, NULL, tid, call->end_ns, "tool",
                   jstr(p, "name") ? jstr(p, "name") : "tool", NULL,
                   args ? cJSON_Duplicate(args, 1) : NULL, "execute_tool");
      if (!o)
        break;
      cJSON *m = meta_of(o->rec);
      if (m && jstr(p, "id"))
        add_str(m, "tool_call_id", jstr(p, "id"));
      snprintf(g->tools[g->ntools++], 17, "%s", o->id);
    }
  }

  /* Index: the full input (retries), the input plus the answer (the next
   * request of the conversation), every prefix that holds an answer of
   * the model (histories edited after it), the response id. */
  ix_put(n, IX_INPUT, H[k], c->serial, g->serial);
  int fa = -1;
  for (int i = 0; i < k && fa < 0; i++)
    if (nest_msg_is_assistant(cJSON_GetArrayItem(call->input, i)))
      fa = i;
  for (int i = fa < 0 ? k + 1 : fa + 1; i <= k; i++)
    ix_put(n, IX_PREFIX, H[i], c->serial, 0);
  if (!call->failed && out0) {
    uint64_t e = nest_prefix_next(H[k], nest_msg_hash(out0));
    ix_put(n, IX_EXPECT, e, c->serial, g->serial);
    ix_put(n, IX_PREFIX, e, c->serial, 0);
  }
  if (call->response_id)
    ix_put(n, IX_RESP, nest_str_hash(call->response_id), c->serial, g->serial);
  emit_call(n, call, t, parent, tid, id);
}

/* Set the conversation's session on it and its trace. */
static void conv_session(struct nest *n, struct nconv *c, struct ntrace *t,
                         const struct call *call) {
  if (call->wire_session && (!c->wire_session || !c->session[0])) {
    snprintf(c->session, sizeof c->session, "%s", call->wire_session);
    c->wire_session = 1;
  }
  if (t && c->session[0] && strcmp(t->session, c->session) != 0 &&
      (!t->session[0] || c->wire_session))
    snprintf(t->session, sizeof t->session, "%s", c->session);
  (void)n;
}

/* Where LLM work that is not part of a known conversation goes, when not
 * a sub-agent: the context the thread was created in, else the thread's
 * own latest trace when nothing claimed it yet. Returns the trace (and the
 * anchor in anchor) or NULL. */
static struct ntrace *inherited(struct nest *n, int tid, char *anchor,
                                int chat) {
  struct nthread *th = thread_get(n, tid, 0);
  if (!th)
    return NULL;
  struct ntrace *t = trace_get(n, th->origin_trace);
  if (t) {
    struct nobs *step = obs_find(n, th->origin_step);
    snprintf(anchor, 17, "%s", step ? step->id : t->root);
    return t;
  }
  t = trace_get(n, th->last_trace);
  if (t && (!chat || !t->main_conv)) {
    snprintf(anchor, 17, "%s", t->root);
    return t;
  }
  return NULL;
}

static void call_plain(struct nest *n, struct call *call, int tid,
                       const struct nest_frame *f, unsigned nf) {
  struct ntrace *t = NULL;
  char anchor[17] = "";
  struct nobs *tool =
      find_pending(n, tid, call->start_ns, NULL, frames_hash(f, nf));
  if (tool) {
    t = trace_get(n, tool->trace);
    snprintf(anchor, sizeof anchor, "%s", tool->id);
  }
  if (!t)
    t = inherited(n, tid, anchor, 0);
  if (!t) {
    t = trace_open(n, call->start_ns, f, nf);
    if (t)
      snprintf(anchor, sizeof anchor, "%s", t->root);
  }
  if (!t) {
    cJSON_Delete(call->rec);
    return;
  }
  struct nthread *th = thread_get(n, tid, 1);
  char parent[17];
  snprintf(parent, sizeof parent, "%s",
           th && !tool ? path_step(n, th, t, anchor, f, nf, call->start_ns,
                                   call->end_ns)
                       : anchor);
  char id[17];
  at_new_span_id(id);
  emit_call(n, call, t, parent, tid, id);
}

void nest_call(struct nest *n, cJSON *rec, int tid, const struct nest_frame *f,
               unsigned nf) {
  if (!rec)
    return;
  struct call call;
  call_read(&call, rec);
  if (!is_chat(&call)) {
    call_plain(n, &call, tid, f, nf);
    return;
  }
  int k = cJSON_GetArraySize(call.input);
  if (k > NEST_MAX_MSGS)
    k = NEST_MAX_MSGS;
  uint64_t *H = malloc(((size_t)k + 1) * sizeof *H);
  if (!H) {
    call_plain(n, &call, tid, f, nf);
    return;
  }
  H[0] = NEST_PREFIX_SEED;
  for (int i = 0; i < k; i++)
    H[i + 1] = nest_prefix_next(
        H[i], nest_msg_hash(cJSON_GetArrayItem(call.input, i)));

  /* Which conversation, and how this request relates to it. */
  enum { M_NEW, M_CONT, M_RETRY, M_EDIT } how = M_NEW;
  struct nconv *c = NULL;
  struct ngen *g = NULL;
  int from = 0; /* first message added since the matched state */
  struct ient *e;
  if (call.prev_response_id &&
      (e = ix_find(n, IX_RESP, nest_str_hash(call.prev_response_id)))) {
    how = M_CONT;
    from = 0;
  } else if ((e = ix_find(n, IX_INPUT, H[k]))) {
    how = M_RETRY;
    from = k;
  } else {
    for (int j = k; j >= 1 && how == M_NEW; j--) {
      if ((e = ix_find(n, IX_EXPECT, H[j]))) {
        how = M_CONT;
        from = j;
      }
    }
    for (int j = k; j >= 1 && how == M_NEW; j--) {
      if ((e = ix_find(n, IX_PREFIX, H[j]))) {
        how = M_EDIT;
        from = j;
      }
    }
  }
  if (how != M_NEW) {
    c = conv_get(n, e->conv);
    g = gen_get(c, e->gen);
  }
  int new_turn = 0;
  for (int i = from; i < k && how != M_RETRY; i++)
    if (nest_msg_is_user_text(cJSON_GetArrayItem(call.input, i)))
      new_turn = 1;

  struct ntrace *t = NULL;
  if (c) {
    if (how == M_CONT)
      resolve_tools(n, g, call.input, from, k, call.start_ns);
    else if (how == M_RETRY)
      resolve_tools(n, g, call.input, k, k, call.start_ns);
    t = trace_get(n, c->trace);
    /* A new question in a conversation of its own trace: a new trace in
     * the same session (unless the context is pinned). */
    if (t && new_turn && !n->o.pinned && t->main_conv == c->serial) {
      if (!c->session[0])
        snprintf(c->session, sizeof c->session, "%s", c->first_trace);
      conv_session(n, c, t, &call);
      trace_close(n, t, call.start_ns);
      t = NULL;
    }
    if (!t) {
      t = trace_open(n, call.start_ns, f, nf);
      if (t) {
        c->trace = t->serial;
        c->home[0] = '\0';
        c->ntraces++;
        if (!n->o.pinned)
          t->main_conv = c->serial;
      }
    }
  } else {
    c = conv_new(n, call.end_ns);
    char anchor[17] = "";
    struct nobs *tool =
        find_pending(n, tid, call.start_ns, call.input, frames_hash(f, nf));
    if (tool) {
      /* A sub-agent: LLM work started while a tool call was pending. */
      t = trace_get(n, tool->trace);
      const char *name = NULL;
      for (unsigned i = 0; i < nf && !name; i++)
        if (f[i].function && strcmp(f[i].function, "main"))
          name = f[i].function;
      struct nobs *a = obs_open(
          n, K_AGENT, t, tool->id, NULL, tid, call.start_ns, "agent",
          name ? name : jstr(tool->rec, "name"), NULL, NULL, "invoke_agent");
      if (a)
        snprintf(c->home, sizeof c->home, "%s", a->id);
    } else if ((t = inherited(n, tid, anchor, 1))) {
      if (strcmp(anchor, t->root) != 0)
        snprintf(c->home, sizeof c->home, "%s", anchor);
      if (!t->main_conv && !n->o.pinned)
        t->main_conv = c->serial;
    } else {
      t = trace_open(n, call.start_ns, f, nf);
      if (t && !n->o.pinned)
        t->main_conv = c->serial;
    }
    if (t) {
      c->trace = t->serial;
      c->ntraces = 1;
      snprintf(c->first_trace, sizeof c->first_trace, "%s", t->trace_id);
    }
  }
  if (!t) {
    free(H);
    cJSON_Delete(call.rec);
    return;
  }
  if (!c->first_trace[0])
    snprintf(c->first_trace, sizeof c->first_trace, "%s", t->trace_id);
  conv_session(n, c, t, &call);
  if (c->ntraces > 1 && !t->session[0])
    snprintf(t->session, sizeof t->session, "%s",
             c->session[0] ? c->session : c->first_trace);
  attach(n, c, t, &call, tid, f, nf, H, k);
  free(H);
}

/* ---- events ---- */

void nest_thread(struct nest *n, int tid, int creator_tid, int64_t t_ns) {
  if (!tid)
    return;
  struct nthread *th = thread_get(n, tid, 1);
  if (!th)
    return;
  if (th->creator == creator_tid && th->created_ns == t_ns)
    return; /* told again (the origin also rides on exchanges) */
  /* A tid the kernel reused: a new thread. */
  for (unsigned i = 0; i < NEST_PATHS; i++)
    if (th->paths[i].used)
      path_close(n, &th->paths[i], 0);
  memset(th, 0, sizeof *th);
  th->tid = tid;
  th->creator = creator_tid;
  th->created_ns = t_ns;
  th->last_ns = t_ns;
  /* The creator's context now: its most recent path's innermost span. */
  struct nthread *cr = thread_get(n, creator_tid, 0);
  if (!cr)
    return;
  struct npath *best = NULL;
  for (unsigned i = 0; i < NEST_PATHS; i++) {
    struct npath *p = &cr->paths[i];
    if (p->used && trace_get(n, p->trace) &&
        (!best || p->last_ns > best->last_ns))
      best = p;
  }
  if (best) {
    th->origin_trace = best->trace;
    snprintf(th->origin_step, sizeof th->origin_step, "%s",
             best->depth ? best->ids[best->depth - 1] : best->anchor);
  } else if (trace_get(n, cr->origin_trace)) {
    th->origin_trace = cr->origin_trace;
    snprintf(th->origin_step, sizeof th->origin_step, "%s", cr->origin_step);
  }
}

void nest_spawn(struct nest *n, int tid, int64_t t_ns, const char *span_id,
                const char *program) {
  if (!span_id || !at_valid_hex_id(span_id, 16))
    return;
  const char *base = program ? strrchr(program, '/') : NULL;
  base = base ? base + 1 : (program && program[0] ? program : "process");
  /* The child was told this process's trace id: its spawn span must be
   * in that trace, the trace rooted at the process span. */
  struct ntrace *pt = trace_get(n, n->proc_trace);
  if (!pt && !n->opened_any)
    pt = trace_open(n, t_ns, NULL, 0);
  const char *parent = NULL;
  int is_agent = 0;
  struct nobs *tool = find_pending(n, tid, t_ns, NULL, 0);
  char anchor[17] = "";
  if (tool && pt && tool->trace == pt->serial) {
    parent = tool->id;
    is_agent = 1;
  } else if (pt) {
    struct nthread *th = thread_get(n, tid, 0);
    struct npath *best = NULL;
    for (unsigned i = 0; th && i < NEST_PATHS; i++) {
      struct npath *p = &th->paths[i];
      if (p->used && p->trace == pt->serial &&
          (!best || p->last_ns > best->last_ns))
        best = p;
    }
    if (best)
      parent = best->depth ? best->ids[best->depth - 1] : best->anchor;
    else if (inherited(n, tid, anchor, 0) == pt)
      parent = anchor;
    else
      parent = pt->root;
  }
  if (!pt) {
    /* The process's trace is closed already: the spawn is written at
     * once, under the process span's record. */
    cJSON *rec = cJSON_CreateObject();
    if (!rec)
      return;
    if (n->s.stamp)
      n->s.stamp(n->s.ctx, rec, tid);
    set_str(rec, "id", span_id);
    set_str(rec, "trace_id", n->o.proc_trace_id);
    set_str(rec, "parent_id", n->o.proc_span_id);
    set_str(rec, "type", "span");
    set_str(rec, "name", base);
    set_ns(rec, "start_ns", t_ns);
    set_ns(rec, "end_ns", t_ns);
    set_str(rec, "level", "DEFAULT");
    cJSON *m = meta_of(rec);
    if (m)
      add_str(m, "command", program ? program : "");
    if (n->s.record)
      n->s.record(n->s.ctx, rec);
    else
      cJSON_Delete(rec);
    return;
  }
  struct nobs *o = obs_open(n, K_SPAWN, pt, parent, NULL, tid, t_ns,
                            is_agent ? "agent" : "span", base, span_id, NULL,
                            is_agent ? "invoke_agent" : NULL);
  if (!o)
    return;
  cJSON *m = meta_of(o->rec);
  if (m)
    add_str(m, "command", program ? program : "");
  pt->last_ns = t_ns;
}

void nest_touch_process(struct nest *n, int64_t now_ns) {
  if (!n->opened_any)
    trace_open(n, n->o.proc_start_ns ? n->o.proc_start_ns : now_ns, NULL, 0);
}

void nest_tick(struct nest *n, int64_t now_ns) {
  int64_t idle = n->o.idle_ns;
  /* Spans a thread has not come back to. */
  for (size_t i = 0; i < n->threads_hw; i++) {
    struct nthread *th = &n->threads[i];
    for (unsigned k = 0; th->tid && k < NEST_PATHS; k++) {
      struct npath *p = &th->paths[k];
      if (p->used && p->depth && now_ns - p->last_ns > idle) {
        n->st.idle_closed++;
        path_close(n, p, 0);
      }
    }
  }
  if (n->o.pinned)
    return;
  for (size_t i = 0; i < n->ntraces;) {
    struct ntrace *t = &n->traces[i];
    if (now_ns - t->last_ns > idle) {
      n->st.idle_closed++;
      trace_close(n, t, t->last_ns);
    } else {
      i++;
    }
  }
}

void nest_finish(struct nest *n, int64_t now_ns) {
  while (n->ntraces > 0)
    trace_close(n, &n->traces[n->ntraces - 1], now_ns);
  while (n->nobs > 0)
    obs_close(n, n->obs[n->nobs - 1], now_ns);
}

/* ---- life cycle ---- */

struct nest *nest_new(const struct nest_opts *opts,
                      const struct nest_sink *sink) {
  struct nest *n = calloc(1, sizeof *n);
  if (!n)
    return NULL;
  n->o = *opts;
  n->s = *sink;
  if (!n->o.max_conversations)
    n->o.max_conversations = 256;
  if (n->o.max_conversations > 4096)
    n->o.max_conversations = 4096; /* the slot lives in 12 bits */
  if (!n->o.max_traces)
    n->o.max_traces = 64;
  if (!n->o.max_open)
    n->o.max_open = 1024;
  if (n->o.max_open < 4 * NEST_DEPTH)
    n->o.max_open = 4 * NEST_DEPTH;
  if (!n->o.max_threads)
    n->o.max_threads = 1024;
  if (!n->o.idle_ns)
    n->o.idle_ns = 600 * (int64_t)1000000000;
  if (!n->o.proc_trace_id[0])
    at_new_trace_id(n->o.proc_trace_id);
  if (!n->o.proc_span_id[0])
    at_new_span_id(n->o.proc_span_id);
  n->obs = calloc(n->o.max_open, sizeof *n->obs);
  n->traces = calloc(n->o.max_traces, sizeof *n->traces);
  n->convs = calloc(n->o.max_conversations, sizeof *n->convs);
  n->threads = calloc(n->o.max_threads, sizeof *n->threads);
  if (!n->obs || !n->traces || !n->convs || !n->threads) {
    nest_free(n);
    return NULL;
  }
  return n;
}

void nest_free(struct nest *n) {
  if (!n)
    return;
  for (size_t i = 0; n->obs && i < n->nobs; i++) {
    agg_free(&n->obs[i]->agg);
    cJSON_Delete(n->obs[i]->rec);
    free(n->obs[i]);
  }
  free(n->obs);
  free(n->traces);
  free(n->convs);
  free(n->threads);
  free(n->ix);
  free(n);
}

void nest_get_stats(const struct nest *n, struct nest_stats *out) {
  *out = n->st;
}
