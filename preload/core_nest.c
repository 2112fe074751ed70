#include "core_nest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core_symbolize.h"
#include "dynbuf.h"
#include "json_write.h"
#include "nest/nest.h"
#include "providers/json_node.h"

/* The symbolizer (preload/core_symbolize.c) defines core_symbolize();
 * until a core is built with it, this weak stand-in finds nothing and
 * calls are nested from the conversation alone. A definition, not a weak
 * reference: an undefined dynamic symbol would be looked up in the
 * application's scope at dlopen, where anything may answer to the name. */
__attribute__((weak)) int core_symbolize(uintptr_t pc, struct at_frame *out) {
  (void)pc;
  out->module = "";
  out->function = NULL;
  out->offset = 0;
  out->is_app = 0;
  return -1;
}

static struct {
  struct nest *n;
  const struct core_process *proc;
  const struct at_config *cfg;
  struct core_batch b;
  struct nest_stats reported;
} N;

/* ---- the batch ---- */

static int grow(void **arr, size_t *cap, size_t need, size_t size) {
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap * 2 : 16;
  while (c < need)
    c *= 2;
  void *p = realloc(*arr, c * size);
  if (!p)
    return -1;
  *arr = p;
  *cap = c;
  return 0;
}

/* Past this much, the batch's text buffer is given back after a commit
 * rather than kept (a rare huge record should not pin its memory). */
#define AT_BATCH_TEXT_KEEP (1u << 20)

/* Print each record straight into the batch's text buffer (json_write is
 * several times faster than cJSON's printer on the long strings records
 * are made of), and keep only where it starts: the buffer is reused from
 * batch to batch, so records cost no allocation and land in warm memory.
 * On failure (out of memory) the record is dropped and counted, and the
 * buffer is cut back to where it started. */
static void on_record(void *ctx, cJSON *rec) {
  (void)ctx;
  struct core_batch *b = &N.b;
  if (!b->text.max)
    dynbuf_init(&b->text, SIZE_MAX / 2);
  size_t start = b->text.len;
  int ok = 1;
  if (b->ntexts + 1 > b->cap_texts) {
    /* The three arrays grow together; the capacity counts only once all
     * three have it (one that grew alone is just bigger than needed). */
    size_t c = b->cap_texts ? b->cap_texts * 2 : 16;
    size_t *o = realloc(b->offs, c * sizeof *o);
    if (o)
      b->offs = o;
    size_t *l = realloc(b->lens, c * sizeof *l);
    if (l)
      b->lens = l;
    const char **t = realloc(b->texts, c * sizeof *t);
    if (t)
      b->texts = t;
    ok = o && l && t;
    if (ok)
      b->cap_texts = c;
  }
  /* The first record of a batch reserves room for one like the last. */
  if (ok && start == 0 && b->text.cap < b->last_len + b->last_len / 8)
    ok = dynbuf_reserve(&b->text, b->last_len + b->last_len / 8) == 0;
  if (ok)
    ok = at_json_write(&b->text, rec) == 0 && !b->text.oom;
  at_json_delete(rec); /* its nodes kept for the next record */
  if (!ok) {
    b->text.len = start;
    b->text.oom = 0;
    if (b->text.ptr)
      b->text.ptr[start] = '\0';
    b->dropped_oom++;
    return;
  }
  b->offs[b->ntexts] = start;
  b->lens[b->ntexts] = b->text.len - start;
  b->last_len = b->text.len - start;
  b->ntexts++;
  b->text_bytes += b->text.len - start;
}

static void on_open(void *ctx, const char *id, const cJSON *marker) {
  (void)ctx;
  struct core_batch *b = &N.b;
  char *text = cJSON_PrintUnformatted(marker);
  if (!text || grow((void **)&b->adds, &b->cap_adds, b->nadds + 1,
                    sizeof *b->adds) != 0) {
    cJSON_free(text);
    return; /* the observation is still written when it closes */
  }
  char *key = malloc(17);
  if (!key) {
    cJSON_free(text);
    return;
  }
  memcpy(key, id, 16);
  key[16] = '\0';
  b->adds[b->nadds].span_id = key;
  b->adds[b->nadds].json = text;
  b->adds[b->nadds].len = strlen(text);
  b->nadds++;
}

static void on_close(void *ctx, const char *id) {
  (void)ctx;
  struct core_batch *b = &N.b;
  /* Opened and closed within one batch: neither goes to the spool. */
  for (size_t i = 0; i < b->nadds; i++) {
    if (strcmp(b->adds[i].span_id, id) == 0) {
      free((char *)b->adds[i].span_id);
      cJSON_free((char *)b->adds[i].json);
      b->adds[i] = b->adds[--b->nadds];
      return;
    }
  }
  if (grow((void **)&b->dels, &b->cap_dels, b->ndels + 1, sizeof *b->dels) != 0)
    return; /* a stale marker: readers prefer the record to it */
  memcpy(b->dels[b->ndels], id, 16);
  b->dels[b->ndels][16] = '\0';
  b->ndels++;
}

static void on_stamp(void *ctx, cJSON *rec, int tid) {
  (void)ctx;
  core_process_stamp(N.proc, N.cfg, rec, tid);
}

struct core_batch *core_nest_batch(void) {
  struct core_batch *b = &N.b;
  for (size_t i = 0; i < b->ntexts; i++)
    b->texts[i] = b->text.ptr + b->offs[i];
  return b;
}

void core_nest_batch_reset(void) {
  struct core_batch *b = &N.b;
  if (b->text.cap > AT_BATCH_TEXT_KEEP)
    dynbuf_free(&b->text);
  else
    dynbuf_reset(&b->text);
  for (size_t i = 0; i < b->nadds; i++) {
    free((char *)b->adds[i].span_id);
    cJSON_free((char *)b->adds[i].json);
  }
  b->ntexts = b->nadds = b->ndels = 0;
  b->text_bytes = 0;
  b->dropped_oom = 0;
}

static void batch_free(void) {
  core_nest_batch_reset();
  dynbuf_free(&N.b.text);
  free(N.b.texts);
  free(N.b.offs);
  free(N.b.lens);
  free(N.b.adds);
  free(N.b.dels);
  memset(&N.b, 0, sizeof N.b);
}

/* ---- the engine ---- */

int core_nest_start(const struct core_process *p, const struct at_config *cfg) {
  if (N.n)
    return 0;
  N.proc = p;
  N.cfg = cfg;
  struct nest_opts o = {0};
  /* Explicit context, or a parent that handed us its span: one trace. */
  o.pinned =
      cfg->traceparent_trace_id[0] || cfg->trace_id[0] || p->parent_id[0];
  memcpy(o.proc_trace_id, p->trace_id, sizeof o.proc_trace_id);
  memcpy(o.proc_span_id, p->span_id, sizeof o.proc_span_id);
  memcpy(o.proc_parent_id, p->parent_id, sizeof o.proc_parent_id);
  o.proc_start_ns = p->start_ns;
  memcpy(o.program, p->name, sizeof o.program);
  o.explicit_session = cfg->session_id[0] != '\0';
  o.explicit_name = cfg->trace_name[0] != '\0';
  struct nest_sink s = {NULL, on_record, on_open, on_close, on_stamp};
  N.n = nest_new(&o, &s);
  memset(&N.reported, 0, sizeof N.reported);
  return N.n ? 0 : -1;
}

/* The C runtime's start-up code lives in the executable but names no step
 * of the program. */
static int is_crt_frame(const char *fn) {
  static const char *const crt[] = {
      "_start", "__libc_start_main", "__libc_start_call_main", "_init",
      "_fini",  "__libc_csu_init"};
  for (size_t i = 0; i < sizeof crt / sizeof crt[0]; i++)
    if (!strcmp(fn, crt[i]))
      return 1;
  return 0;
}

/* The capture's application frames, outermost first, without the C
 * runtime's (so that main() is the main thread's entry frame). */
static unsigned app_frames(const struct at_capture *c, struct nest_frame *out,
                           unsigned cap) {
  if (c->nstack == 0)
    return 0;
  unsigned n = 0;
  for (unsigned i = c->nstack; i-- > 0 && n < cap;) {
    struct at_frame f;
    if (core_symbolize(c->stack[i], &f) != 0 || !f.is_app || !f.function ||
        is_crt_frame(f.function))
      continue;
    out[n].function = f.function;
    out[n].module = f.module;
    n++;
  }
  return n;
}

void core_nest_exchange(const struct at_capture *c, cJSON *rec) {
  if (!N.n) {
    cJSON_Delete(rec);
    N.b.dropped_oom++;
    return;
  }
  if (c->origin.creator_tid)
    nest_thread(N.n, c->tid, c->origin.creator_tid, c->origin.created_ns);
  struct nest_frame frames[AT_STACK_MAX];
  unsigned nf = app_frames(c, frames, AT_STACK_MAX);
  nest_call(N.n, rec, c->tid, nf ? frames : NULL, nf);
}

void core_nest_event(const struct at_capture *c) {
  if (!N.n)
    return;
  if (c->kind == AT_CAPTURE_THREAD)
    nest_thread(N.n, c->tid, c->origin.creator_tid, c->origin.created_ns);
  else if (c->kind == AT_CAPTURE_SPAWN)
    nest_spawn(N.n, c->tid, c->t_ns, c->span_id, c->method);
}

void core_nest_tick(int64_t now_ns) {
  if (N.n)
    nest_tick(N.n, now_ns);
}

void core_nest_finish(int64_t now_ns) {
  if (!N.n)
    return;
  nest_touch_process(N.n, now_ns);
  nest_finish(N.n, now_ns);
}

void core_nest_take_counters(struct core_nest_counters *d) {
  memset(d, 0, sizeof *d);
  if (!N.n)
    return;
  struct nest_stats s;
  nest_get_stats(N.n, &s);
  d->conversations_evicted =
      s.conversations_evicted - N.reported.conversations_evicted;
  d->traces_evicted = s.traces_evicted - N.reported.traces_evicted;
  d->idle_closed = s.idle_closed - N.reported.idle_closed;
  d->threads_evicted = s.threads_evicted - N.reported.threads_evicted;
  N.reported = s;
}

void core_nest_forget(void) {
  nest_free(N.n);
  N.n = NULL;
  batch_free();
}
