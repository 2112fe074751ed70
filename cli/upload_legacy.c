/* upload_legacy: Langfuse's legacy batch ingestion (POST
 * /api/public/ingestion), for v3 servers and v4 servers still in `dual` or
 * `legacy` write mode (../shared/research/langfuse.md §1).
 *
 * Each record becomes one `<type>-create` event (generation-create,
 * span-create, embedding-create, agent-create, tool-create, ...), each
 * trace of the batch one `trace-create` carrying its name, user, session
 * and tags. Event ids are derived from span and trace ids, never random:
 * the envelope id is Langfuse's deduplication key, so a batch sent twice
 * (an unacknowledged attempt) lands once. Times are those of the records.
 *
 * The answer is a 207 listing per-event successes and errors; an error of
 * 4xx is final for that event (its record is parked alone), one of 5xx or
 * 429 means the server failed and the whole batch is sent again. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "record.h"
#include "upload.h"

static const char *event_type(const char *type) {
  static const char *const known[][2] = {{"generation", "generation-create"},
                                         {"embedding", "embedding-create"},
                                         {"span", "span-create"},
                                         {"agent", "agent-create"},
                                         {"tool", "tool-create"},
                                         {"chain", "chain-create"},
                                         {"retriever", "retriever-create"},
                                         {"evaluator", "evaluator-create"},
                                         {"guardrail", "guardrail-create"},
                                         {"event", "event-create"}};
  for (size_t i = 0; type && i < sizeof known / sizeof *known; i++)
    if (strcmp(type, known[i][0]) == 0)
      return known[i][1];
  return "span-create";
}

static void add_iso(cJSON *o, const char *key, int64_t ns) {
  char iso[40];
  at_format_iso(ns, iso, sizeof iso);
  cJSON_AddStringToObject(o, key, iso);
}

static void copy(cJSON *dst, const char *dkey, const cJSON *src,
                 const char *skey) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, skey);
  if (v && !cJSON_IsNull(v))
    cJSON_AddItemToObject(dst, dkey, cJSON_Duplicate(v, 1));
}

/* modelParameters values must be a string, number, boolean, string array
 * or map of strings: anything else travels as its JSON text. */
static cJSON *model_params(const cJSON *mp) {
  cJSON *out = cJSON_CreateObject();
  const cJSON *v;
  cJSON_ArrayForEach(v, mp) {
    if (!v->string)
      continue;
    int ok = cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v);
    if (cJSON_IsArray(v)) {
      ok = 1;
      const cJSON *e;
      cJSON_ArrayForEach(e, v) ok &= cJSON_IsString(e);
    }
    if (ok) {
      cJSON_AddItemToObject(out, v->string, cJSON_Duplicate(v, 1));
    } else if (!cJSON_IsNull(v)) {
      char *s = cJSON_PrintUnformatted(v);
      if (s)
        cJSON_AddStringToObject(out, v->string, s);
      free(s);
    }
  }
  return out;
}

/* usageDetails: non-negative integers only (the flat-map form). */
static cJSON *usage_details(const cJSON *ud) {
  cJSON *out = cJSON_CreateObject();
  const cJSON *v;
  cJSON_ArrayForEach(v, ud) {
    if (v->string && cJSON_IsNumber(v) && v->valuedouble >= 0 &&
        floor(v->valuedouble) == v->valuedouble)
      cJSON_AddNumberToObject(out, v->string, v->valuedouble);
  }
  return out;
}

static cJSON *cost_details(const cJSON *cd) {
  cJSON *out = cJSON_CreateObject();
  const cJSON *v;
  cJSON_ArrayForEach(v, cd) {
    if (v->string && cJSON_IsNumber(v) && v->valuedouble >= 0)
      cJSON_AddNumberToObject(out, v->string, v->valuedouble);
  }
  return out;
}

static cJSON *observation_body(const cJSON *rec, const char *etype) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "id", rec_str(rec, "id"));
  cJSON_AddStringToObject(b, "traceId", rec_str(rec, "trace_id"));
  const char *parent = rec_str(rec, "parent_id");
  if (parent)
    cJSON_AddStringToObject(b, "parentObservationId", parent);
  const char *name = rec_str(rec, "name");
  if (name)
    cJSON_AddStringToObject(b, "name", name);
  int64_t t;
  if (rec_ns(rec, "start_ns", &t) == 0)
    add_iso(b, "startTime", t);
  if (strcmp(etype, "event-create") != 0 && rec_ns(rec, "end_ns", &t) == 0)
    add_iso(b, "endTime", t);
  int llm = rec_is_llm(rec);
  if (llm) {
    if (rec_ns(rec, "completion_start_ns", &t) == 0)
      add_iso(b, "completionStartTime", t);
    const char *model = rec_model(rec);
    if (model)
      cJSON_AddStringToObject(b, "model", model);
    const cJSON *mp = rec_obj(rec, "model_parameters");
    if (mp)
      cJSON_AddItemToObject(b, "modelParameters", model_params(mp));
    const cJSON *ud = rec_obj(rec, "usage_details");
    if (ud)
      cJSON_AddItemToObject(b, "usageDetails", usage_details(ud));
    const cJSON *cd = rec_obj(rec, "cost_details");
    if (cd)
      cJSON_AddItemToObject(b, "costDetails", cost_details(cd));
  }
  copy(b, "input", rec, "input");
  copy(b, "output", rec, "output");
  const char *level = rec_str(rec, "level");
  if (level)
    cJSON_AddStringToObject(b, "level", level);
  const char *msg = rec_str(rec, "status_message");
  if (msg)
    cJSON_AddStringToObject(b, "statusMessage", msg);
  cJSON *md = cJSON_CreateObject();
  const cJSON *m;
  cJSON_ArrayForEach(m, rec_obj(rec, "metadata")) {
    if (m->string)
      cJSON_AddItemToObject(md, m->string, cJSON_Duplicate(m, 1));
  }
  static const char *const extra[] = {"provider",       "operation",
                                      "response_id",    "cost_source",
                                      "finish_reasons", "http"};
  for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
    if (!cJSON_GetObjectItemCaseSensitive(md, extra[i]))
      copy(md, extra[i], rec, extra[i]);
  if (rec_bool(rec, "incomplete") == 1)
    cJSON_AddBoolToObject(md, "incomplete", 1);
  cJSON_AddItemToObject(b, "metadata", md);
  return b;
}

static cJSON *trace_body(const struct upload_batch *b, const char *tid,
                         int64_t *first_ns) {
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "id", tid);
  const char *name = NULL, *root_name = NULL, *user = NULL, *session = NULL;
  const cJSON *tags = NULL, *meta = NULL;
  int64_t start = 0;
  for (size_t i = 0; i < b->n; i++) {
    const cJSON *r = b->recs[i];
    const char *rt = rec_str(r, "trace_id");
    if (!rt || strcasecmp(rt, tid) != 0)
      continue;
    int64_t s;
    if (rec_ns(r, "start_ns", &s) == 0 && (!start || s < start))
      start = s;
    if (!name)
      name = rec_str(r, "trace_name");
    if (!root_name && !rec_str(r, "parent_id"))
      root_name = rec_str(r, "name");
    if (!user)
      user = rec_str(r, "user_id");
    if (!session)
      session = rec_str(r, "session_id");
    if (!tags && rec_arr(r, "tags") && cJSON_GetArraySize(rec_arr(r, "tags")))
      tags = rec_arr(r, "tags");
    if (!meta)
      meta = cJSON_GetObjectItemCaseSensitive(r, "trace_metadata");
  }
  if (start)
    add_iso(body, "timestamp", start);
  if (name || root_name)
    cJSON_AddStringToObject(body, "name", name ? name : root_name);
  if (user)
    cJSON_AddStringToObject(body, "userId", user);
  if (session)
    cJSON_AddStringToObject(body, "sessionId", session);
  if (tags)
    cJSON_AddItemToObject(body, "tags", cJSON_Duplicate(tags, 1));
  if (cJSON_IsObject(meta))
    cJSON_AddItemToObject(body, "metadata", cJSON_Duplicate(meta, 1));
  *first_ns = start;
  return body;
}

static int add_event(struct upload_batch *b, cJSON *list, const char *id,
                     const char *type, int64_t ts_ns, cJSON *body, size_t rec) {
  cJSON *ev = cJSON_CreateObject();
  if (!ev || !body) {
    cJSON_Delete(ev);
    cJSON_Delete(body);
    return -1;
  }
  cJSON_AddStringToObject(ev, "id", id);
  /* The record's own time: an envelope timestamp orders events, and a
   * re-sent event must be the same bytes. */
  add_iso(ev, "timestamp", ts_ns > 0 ? ts_ns : 1);
  cJSON_AddStringToObject(ev, "type", type);
  cJSON_AddItemToObject(ev, "body", body);
  cJSON_AddItemToArray(list, ev);
  size_t k = b->nevents;
  b->event_rec[k] = rec;
  b->event_ids[k] = strdup(id);
  if (!b->event_ids[k])
    return -1;
  b->nevents++;
  return 0;
}

int upload_legacy_build(struct upload_batch *b) {
  for (size_t i = 0; i < b->nevents; i++)
    free(b->event_ids[i]);
  free(b->event_ids);
  free(b->event_rec);
  b->nevents = 0;
  size_t max = 2 * b->n + 1;
  b->event_rec = calloc(max, sizeof *b->event_rec);
  b->event_ids = calloc(max, sizeof *b->event_ids);
  cJSON *req = cJSON_CreateObject();
  cJSON *list = cJSON_AddArrayToObject(req, "batch");
  if (!b->event_rec || !b->event_ids || !list) {
    cJSON_Delete(req);
    return -1;
  }
  int rc = 0;
  /* Traces first, each once, in order of first appearance. */
  for (size_t i = 0; i < b->n && rc == 0; i++) {
    const char *tid = rec_str(b->recs[i], "trace_id");
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++)
      seen = strcasecmp(rec_str(b->recs[j], "trace_id"), tid) == 0;
    if (seen)
      continue;
    char id[80];
    snprintf(id, sizeof id, "trace-%s-%s", tid, rec_str(b->recs[i], "id"));
    int64_t ts = 0;
    cJSON *body = trace_body(b, tid, &ts);
    rc = add_event(b, list, id, "trace-create", ts, body, SIZE_MAX);
  }
  for (size_t i = 0; i < b->n && rc == 0; i++) {
    const cJSON *r = b->recs[i];
    const char *etype = event_type(rec_str(r, "type"));
    char id[80];
    snprintf(id, sizeof id, "obs-%s-%s", rec_str(r, "trace_id"),
             rec_str(r, "id"));
    int64_t ts = 0;
    if (rec_ns(r, "start_ns", &ts) != 0)
      rec_ns(r, "end_ns", &ts);
    rc = add_event(b, list, id, etype, ts, observation_body(r, etype), i);
  }
  if (rc == 0) {
    b->body = cJSON_PrintUnformatted(req);
    rc = b->body ? 0 : -1;
    b->len = b->body ? strlen(b->body) : 0;
  }
  cJSON_Delete(req);
  return rc;
}

int upload_legacy_parse(const struct upload_batch *b, const char *body,
                        size_t len, struct legacy_error *errs, size_t max,
                        int *retry, size_t *nerrors) {
  *retry = 0;
  *nerrors = 0;
  cJSON *j = cJSON_ParseWithLength(body ? body : "", body ? len : 0);
  const cJSON *errors = cJSON_GetObjectItemCaseSensitive(j, "errors");
  const cJSON *succ = cJSON_GetObjectItemCaseSensitive(j, "successes");
  if (!cJSON_IsArray(errors) && !cJSON_IsArray(succ)) {
    cJSON_Delete(j);
    return -1;
  }
  size_t k = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, errors) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");
    int status = cJSON_IsNumber(st) ? (int)st->valuedouble : 500;
    (*nerrors)++;
    if (status >= 500 || status == 429) {
      *retry = 1;
      continue;
    }
    const char *id = rec_str(e, "id");
    size_t rec = SIZE_MAX;
    for (size_t i = 0; id && i < b->nevents; i++)
      if (strcmp(b->event_ids[i], id) == 0) {
        rec = b->event_rec[i];
        break;
      }
    if (k >= max)
      continue;
    errs[k].rec = rec;
    errs[k].status = status;
    const char *msg = rec_str(e, "message");
    const char *detail = rec_str(e, "error");
    snprintf(errs[k].message, sizeof errs[k].message, "%s%s%s",
             msg ? msg : "refused", detail ? ": " : "", detail ? detail : "");
    k++;
  }
  cJSON_Delete(j);
  return (int)k;
}
