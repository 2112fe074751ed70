#include "harness.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the sink ---- */

static void on_record(void *ctx, cJSON *rec) {
  struct world *w = ctx;
  cJSON_AddItemToArray(w->records, rec);
}

static void on_open(void *ctx, const char *id, const cJSON *marker) {
  struct world *w = ctx;
  cr_assert_null(cJSON_GetObjectItemCaseSensitive(w->open, id),
                 "marker %s opened twice", id);
  cJSON_AddItemToObject(w->open, id, cJSON_Duplicate(marker, 1));
  w->opened++;
}

static void on_close(void *ctx, const char *id) {
  struct world *w = ctx;
  cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(w->open, id),
                     "marker %s closed but never opened", id);
  cJSON_DeleteItemFromObjectCaseSensitive(w->open, id);
  w->closed++;
}

static void on_stamp(void *ctx, cJSON *rec, int tid) {
  (void)ctx;
  cJSON_AddNumberToObject(rec, "v", 1);
  cJSON *p = cJSON_AddObjectToObject(rec, "process");
  cJSON_AddNumberToObject(p, "tid", tid);
}

void test_sink(struct world *w, struct nest_sink *s) {
  *s = (struct nest_sink){w, on_record, on_open, on_close, on_stamp};
}

void world_init(struct world *w, int pinned, const char *program) {
  memset(w, 0, sizeof *w);
  w->records = cJSON_CreateArray();
  w->open = cJSON_CreateObject();
  w->now = 1700000000000LL * MS;
  struct nest_opts o = {0};
  o.pinned = pinned;
  snprintf(o.proc_trace_id, sizeof o.proc_trace_id, "%s",
           "0af7651916cd43dd8448eb211c80319c");
  snprintf(o.proc_span_id, sizeof o.proc_span_id, "%s", "b7ad6b7169203331");
  o.proc_start_ns = w->now;
  snprintf(o.program, sizeof o.program, "%s", program);
  struct nest_sink s = {w, on_record, on_open, on_close, on_stamp};
  w->n = nest_new(&o, &s);
  cr_assert_not_null(w->n);
}

void world_free(struct world *w) {
  nest_free(w->n);
  cJSON_Delete(w->records);
  cJSON_Delete(w->open);
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t ns(const cJSON *o, const char *k) {
  const char *s = str(o, k);
  return s ? strtoll(s, NULL, 10) : 0;
}

cJSON *world_find(struct world *w, const char *name) {
  cJSON *r;
  cJSON_ArrayForEach(r, w->records) {
    const char *nm = str(r, "name");
    if (nm && strcmp(nm, name) == 0)
      return r;
  }
  return NULL;
}

/* ---- rendering ---- */

struct node {
  cJSON *rec;
  int idx;
  int parent;
};

static int find_id(struct node *nodes, int cnt, const char *id) {
  for (int i = 0; id && i < cnt; i++)
    if (strcmp(str(nodes[i].rec, "id"), id) == 0)
      return i;
  return -1;
}

static int before(struct node *a, struct node *b) {
  int64_t x = ns(a->rec, "start_ns"), y = ns(b->rec, "start_ns");
  if (x != y)
    return x < y;
  return a->idx < b->idx;
}

static void put_tree(char **out, size_t *len, size_t *cap, struct node *nodes,
                     int cnt, int parent, int depth) {
  /* children of parent, in order, by repeated selection */
  int done[1024] = {0};
  for (;;) {
    int best = -1;
    for (int i = 0; i < cnt; i++)
      if (nodes[i].parent == parent && !done[i] &&
          (best < 0 || before(&nodes[i], &nodes[best])))
        best = i;
    if (best < 0)
      return;
    done[best] = 1;
    char line[512];
    int l =
        snprintf(line, sizeof line, "%*s%s %s\n", depth * 2, "",
                 str(nodes[best].rec, "type"), str(nodes[best].rec, "name"));
    while (*len + (size_t)l + 1 > *cap) {
      *cap *= 2;
      *out = realloc(*out, *cap);
    }
    memcpy(*out + *len, line, (size_t)l + 1);
    *len += (size_t)l;
    put_tree(out, len, cap, nodes, cnt, best, depth + 1);
  }
}

char *world_render(struct world *w) {
  size_t cap = 4096, len = 0;
  char *out = malloc(cap);
  out[0] = '\0';
  /* traces in order of their earliest record */
  int total = cJSON_GetArraySize(w->records);
  cr_assert(total < 1024);
  const char *tids[256];
  int64_t tstart[256];
  int ntr = 0;
  cJSON *r;
  cJSON_ArrayForEach(r, w->records) {
    const char *t = str(r, "trace_id");
    int k;
    for (k = 0; k < ntr; k++)
      if (strcmp(tids[k], t) == 0)
        break;
    if (k == ntr) {
      tids[ntr] = t;
      tstart[ntr++] = ns(r, "start_ns");
    } else if (ns(r, "start_ns") < tstart[k]) {
      tstart[k] = ns(r, "start_ns");
    }
  }
  int order[256];
  for (int i = 0; i < ntr; i++)
    order[i] = i;
  for (int i = 0; i < ntr; i++)
    for (int j = i + 1; j < ntr; j++)
      if (tstart[order[j]] < tstart[order[i]]) {
        int x = order[i];
        order[i] = order[j];
        order[j] = x;
      }
  for (int oi = 0; oi < ntr; oi++) {
    const char *t = tids[order[oi]];
    struct node nodes[1024];
    int cnt = 0, idx = 0;
    cJSON_ArrayForEach(r, w->records) {
      if (strcmp(str(r, "trace_id"), t) == 0)
        nodes[cnt++] = (struct node){r, idx, -1};
      idx++;
    }
    for (int i = 0; i < cnt; i++)
      nodes[i].parent = find_id(nodes, cnt, str(nodes[i].rec, "parent_id"));
    char head[64];
    int l = snprintf(head, sizeof head, "trace %d\n", oi + 1);
    while (len + (size_t)l + 1 > cap) {
      cap *= 2;
      out = realloc(out, cap);
    }
    memcpy(out + len, head, (size_t)l + 1);
    len += (size_t)l;
    put_tree(&out, &len, &cap, nodes, cnt, -1, 0);
  }
  return out;
}

void world_check(struct world *w, const char *external_parent) {
  cr_assert_eq(cJSON_GetArraySize(w->open), 0, "%d markers left open",
               cJSON_GetArraySize(w->open));
  cJSON *r;
  cJSON_ArrayForEach(r, w->records) {
    const char *pid = str(r, "parent_id");
    cr_assert_not_null(str(r, "id"));
    cr_assert_not_null(str(r, "end_ns"), "%s has no end", str(r, "name"));
    cr_assert(ns(r, "end_ns") >= ns(r, "start_ns"), "%s ends before it starts",
              str(r, "name"));
    if (!pid)
      continue;
    cJSON *p = NULL, *q;
    cJSON_ArrayForEach(q, w->records) {
      if (strcmp(str(q, "id"), pid) == 0)
        p = q;
    }
    if (!p) {
      cr_assert(external_parent && strcmp(pid, external_parent) == 0,
                "%s has an unknown parent %s", str(r, "name"), pid);
      continue;
    }
    cr_assert_str_eq(str(p, "trace_id"), str(r, "trace_id"),
                     "%s and its parent are in two traces", str(r, "name"));
    const char *pt = str(p, "type");
    /* A spawned process's span is not timed by its child's records. */
    if (strcmp(pt, "span") == 0 || strcmp(pt, "agent") == 0) {
      cr_assert(ns(p, "start_ns") <= ns(r, "start_ns"),
                "%s starts before its parent %s", str(r, "name"),
                str(p, "name"));
      cr_assert(ns(p, "end_ns") >= ns(r, "end_ns"),
                "%s ends after its parent %s", str(r, "name"), str(p, "name"));
    }
  }
}

/* ---- sims ---- */

void sim_init(struct sim *s, struct world *w, int tid) {
  memset(s, 0, sizeof *s);
  s->w = w;
  s->tid = tid;
  s->history = cJSON_CreateArray();
}

void sim_free(struct sim *s) {
  cJSON_Delete(s->history);
}

void sim_frames(struct sim *s, ...) {
  va_list ap;
  va_start(ap, s);
  s->nframes = 0;
  const char *f;
  while ((f = va_arg(ap, const char *)) && s->nframes < 8) {
    s->frames[s->nframes].function = f;
    s->frames[s->nframes].module = "/usr/bin/agent";
    s->nframes++;
  }
  va_end(ap);
}

cJSON *msg_text(const char *role, const char *text) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", role);
  cJSON *parts = cJSON_AddArrayToObject(m, "parts");
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "text");
  cJSON_AddStringToObject(p, "content", text);
  cJSON_AddItemToArray(parts, p);
  return m;
}

void sim_user(struct sim *s, const char *text) {
  cJSON_AddItemToArray(s->history, msg_text("user", text));
}

void sim_wait(struct world *w, int ms) {
  w->now += ms * MS;
}

static cJSON *base_record(struct sim *s, const char *label, int ms) {
  cJSON *rec = cJSON_CreateObject();
  char buf[32];
  cJSON_AddStringToObject(rec, "type", "generation");
  cJSON_AddStringToObject(rec, "name", label);
  snprintf(buf, sizeof buf, "%lld", (long long)s->w->now);
  cJSON_AddStringToObject(rec, "start_ns", buf);
  s->w->now += ms * MS;
  snprintf(buf, sizeof buf, "%lld", (long long)s->w->now);
  cJSON_AddStringToObject(rec, "end_ns", buf);
  cJSON_AddItemToObject(rec, "input", cJSON_Duplicate(s->history, 1));
  cJSON *u = cJSON_AddObjectToObject(rec, "usage");
  cJSON_AddNumberToObject(u, "input_tokens", 10);
  cJSON_AddNumberToObject(u, "output_tokens", 5);
  return rec;
}

cJSON *sim_llm(struct sim *s, const char *label, int ms, const char *text,
               ...) {
  cJSON *rec = base_record(s, label, ms);
  cJSON *ans = cJSON_CreateObject();
  cJSON_AddStringToObject(ans, "role", "assistant");
  cJSON *parts = cJSON_AddArrayToObject(ans, "parts");
  if (text) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "text");
    cJSON_AddStringToObject(p, "content", text);
    cJSON_AddItemToArray(parts, p);
  }
  va_list ap;
  va_start(ap, text);
  const char *call;
  while ((call = va_arg(ap, const char *))) {
    char name[64], id[64];
    const char *c1 = strchr(call, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    cr_assert(c1 && c2, "tool call spec name:id:{args}");
    snprintf(name, sizeof name, "%.*s", (int)(c1 - call), call);
    snprintf(id, sizeof id, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "tool_call");
    cJSON_AddStringToObject(p, "id", id);
    cJSON_AddStringToObject(p, "name", name);
    cJSON *args = cJSON_Parse(c2 + 1);
    cr_assert_not_null(args, "tool arguments: %s", c2 + 1);
    cJSON_AddItemToObject(p, "arguments", args);
    cJSON_AddItemToArray(parts, p);
  }
  va_end(ap);
  cJSON *out = cJSON_AddArrayToObject(rec, "output");
  cJSON_AddItemToArray(out, cJSON_Duplicate(ans, 1));
  cJSON_AddItemToArray(s->history, ans);
  cJSON_AddStringToObject(rec, "level", "DEFAULT");
  nest_call(s->w->n, rec, s->tid, s->nframes ? s->frames : NULL, s->nframes);
  return rec;
}

void sim_llm_fail(struct sim *s, const char *label, int ms) {
  cJSON *rec = base_record(s, label, ms);
  cJSON_AddStringToObject(rec, "level", "ERROR");
  cJSON_AddStringToObject(rec, "status_message", "HTTP 500");
  nest_call(s->w->n, rec, s->tid, s->nframes ? s->frames : NULL, s->nframes);
}

void sim_tool_result(struct sim *s, const char *id, const char *result,
                     int ms) {
  s->w->now += ms * MS;
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "tool");
  cJSON *parts = cJSON_AddArrayToObject(m, "parts");
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "tool_call_response");
  cJSON_AddStringToObject(p, "id", id);
  cJSON_AddStringToObject(p, "response", result);
  cJSON_AddItemToArray(parts, p);
  cJSON_AddItemToArray(s->history, m);
}
