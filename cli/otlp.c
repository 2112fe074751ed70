#include "otlp.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ids.h"
#include "record.h"
#include "version.h"

/* ---- attribute values: one AnyValue each ---- */

static cJSON *kv_add(cJSON *attrs, const char *key, cJSON *value) {
  cJSON *kv = cJSON_CreateObject();
  if (!kv || !value) {
    cJSON_Delete(kv);
    cJSON_Delete(value);
    return NULL;
  }
  cJSON_AddStringToObject(kv, "key", key);
  cJSON_AddItemToObject(kv, "value", value);
  cJSON_AddItemToArray(attrs, kv);
  return kv;
}

static cJSON *any_str(const char *s) {
  cJSON *v = cJSON_CreateObject();
  if (v)
    cJSON_AddStringToObject(v, "stringValue", s);
  return v;
}

static cJSON *any_int(int64_t n) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, n);
  cJSON *v = cJSON_CreateObject();
  if (v)
    cJSON_AddStringToObject(v, "intValue", buf);
  return v;
}

static cJSON *any_double(double d) {
  cJSON *v = cJSON_CreateObject();
  if (v)
    cJSON_AddNumberToObject(v, "doubleValue", d);
  return v;
}

static cJSON *any_bool(int b) {
  cJSON *v = cJSON_CreateObject();
  if (v)
    cJSON_AddBoolToObject(v, "boolValue", b);
  return v;
}

/* A JSON string value holding j serialised: how structured data (messages,
 * usage, parameters) travels as a span attribute. */
static cJSON *any_json(const cJSON *j) {
  char *s = cJSON_PrintUnformatted(j);
  if (!s)
    return NULL;
  cJSON *v = any_str(s);
  free(s);
  return v;
}

/* An arrayValue of strings from a JSON array (or one string). Non-string
 * elements are left out. */
static cJSON *any_str_array(const cJSON *a) {
  cJSON *v = cJSON_CreateObject();
  cJSON *av = cJSON_AddObjectToObject(v, "arrayValue");
  cJSON *vals = cJSON_AddArrayToObject(av, "values");
  if (!vals) {
    cJSON_Delete(v);
    return NULL;
  }
  if (cJSON_IsString(a)) {
    cJSON_AddItemToArray(vals, any_str(a->valuestring));
    return v;
  }
  const cJSON *e;
  cJSON_ArrayForEach(e, a) {
    if (cJSON_IsString(e) && e->valuestring)
      cJSON_AddItemToArray(vals, any_str(e->valuestring));
  }
  return v;
}

/* A JSON number as intValue when whole, else doubleValue. */
static cJSON *any_number(double d) {
  if (floor(d) == d && fabs(d) < 9.0e15)
    return any_int((int64_t)d);
  return any_double(d);
}

/* Scalars keep their type; anything structured becomes a JSON string. */
static cJSON *any_from_json(const cJSON *j) {
  if (cJSON_IsString(j))
    return any_str(j->valuestring ? j->valuestring : "");
  if (cJSON_IsBool(j))
    return any_bool(cJSON_IsTrue(j));
  if (cJSON_IsNumber(j) && isfinite(j->valuedouble))
    return any_number(j->valuedouble);
  return any_json(j);
}

/* ---- typed copies from the record ---- */

static void put_str(cJSON *attrs, const char *key, const cJSON *o,
                    const char *field) {
  const char *s = rec_str(o, field);
  if (s)
    kv_add(attrs, key, any_str(s));
}

static void put_int(cJSON *attrs, const char *key, const cJSON *o,
                    const char *field) {
  uint64_t v;
  if (rec_u64(o, field, &v) == 0)
    kv_add(attrs, key, any_int((int64_t)v));
}

static void put_double(cJSON *attrs, const char *key, const cJSON *o,
                       const char *field) {
  double v;
  if (rec_num(o, field, &v) == 0)
    kv_add(attrs, key, any_double(v));
}

static void put_json(cJSON *attrs, const char *key, const cJSON *o,
                     const char *field) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
  if (v && !cJSON_IsNull(v))
    kv_add(attrs, key, any_json(v));
}

/* gen_ai.request.* from the request parameters as sent. */
static void put_params(cJSON *attrs, const cJSON *mp) {
  if (!mp)
    return;
  put_double(attrs, "gen_ai.request.temperature", mp, "temperature");
  put_double(attrs, "gen_ai.request.top_p", mp, "top_p");
  put_double(attrs, "gen_ai.request.frequency_penalty", mp,
             "frequency_penalty");
  put_double(attrs, "gen_ai.request.presence_penalty", mp, "presence_penalty");
  /* The same limit has a different name in each API. */
  static const char *const max_keys[] = {"max_tokens", "max_completion_tokens",
                                         "max_output_tokens"};
  for (size_t i = 0; i < sizeof max_keys / sizeof *max_keys; i++) {
    uint64_t v;
    if (rec_u64(mp, max_keys[i], &v) == 0) {
      kv_add(attrs, "gen_ai.request.max_tokens", any_int((int64_t)v));
      break;
    }
  }
  const cJSON *stop = cJSON_GetObjectItemCaseSensitive(mp, "stop");
  if (!stop)
    stop = cJSON_GetObjectItemCaseSensitive(mp, "stop_sequences");
  if (cJSON_IsString(stop) || cJSON_IsArray(stop))
    kv_add(attrs, "gen_ai.request.stop_sequences", any_str_array(stop));
  put_int(attrs, "gen_ai.request.seed", mp, "seed");
  put_int(attrs, "gen_ai.request.top_k", mp, "top_k");
  uint64_t n;
  if (rec_u64(mp, "n", &n) == 0 && n != 1)
    kv_add(attrs, "gen_ai.request.choice.count", any_int((int64_t)n));
  if (rec_bool(mp, "stream") == 1)
    kv_add(attrs, "gen_ai.request.stream", any_bool(1));
  put_str(attrs, "gen_ai.request.reasoning.level", mp, "reasoning_effort");
}

static void put_usage(cJSON *attrs, const cJSON *u) {
  if (!u)
    return;
  put_int(attrs, "gen_ai.usage.input_tokens", u, "input_tokens");
  put_int(attrs, "gen_ai.usage.output_tokens", u, "output_tokens");
  put_int(attrs, "gen_ai.usage.cache_read.input_tokens", u,
          "cache_read_input_tokens");
  /* v1.41.0 (what Langfuse and most backends read today) and the GenAI
   * repository's newer name for the same count. */
  put_int(attrs, "gen_ai.usage.cache_creation.input_tokens", u,
          "cache_write_input_tokens");
  put_int(attrs, "gen_ai.usage.cache_write.input_tokens", u,
          "cache_write_input_tokens");
  put_int(attrs, "gen_ai.usage.reasoning.output_tokens", u,
          "reasoning_output_tokens");
}

static int is_streamed(const cJSON *rec) {
  return rec_bool(rec_obj(rec, "metadata"), "stream") == 1 ||
         rec_bool(rec_obj(rec, "model_parameters"), "stream") == 1;
}

/* error.type: low cardinality, as the conventions ask: the HTTP status
 * when there was one, "transport" when the transfer itself failed. */
static void put_error_type(cJSON *attrs, const cJSON *rec) {
  uint64_t status;
  const cJSON *md = rec_obj(rec, "metadata");
  if (rec_u64(rec_obj(rec, "http"), "status", &status) == 0 && status >= 400) {
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, status);
    kv_add(attrs, "error.type", any_str(buf));
  } else if (rec_str(md, "transport_error") ||
             rec_u64(rec_obj(rec, "http"), "status", &status) != 0) {
    kv_add(attrs, "error.type", any_str("transport"));
  } else {
    kv_add(attrs, "error.type", any_str("_OTHER"));
  }
}

static void put_trace_attrs(cJSON *attrs, const cJSON *rec,
                            const cJSON *fallback) {
  static const char *const keys[][2] = {{"session_id", "session.id"},
                                        {"user_id", "user.id"},
                                        {"trace_name", "langfuse.trace.name"}};
  for (size_t i = 0; i < 3; i++) {
    const char *s = rec_str(rec, keys[i][0]);
    if (!s && fallback)
      s = rec_str(fallback, keys[i][0]);
    if (s)
      kv_add(attrs, keys[i][1], any_str(s));
  }
  const cJSON *tags = rec_arr(rec, "tags");
  if ((!tags || !cJSON_GetArraySize(tags)) && fallback)
    tags = rec_arr(fallback, "tags");
  if (tags && cJSON_GetArraySize(tags))
    kv_add(attrs, "langfuse.trace.tags", any_str_array(tags));
  /* AUTOTRACE_METADATA: one langfuse.trace.metadata.<key> per member,
   * strings as they are, other values as JSON text. */
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(rec, "trace_metadata");
  if (!cJSON_IsObject(meta) && fallback)
    meta = cJSON_GetObjectItemCaseSensitive(fallback, "trace_metadata");
  const cJSON *m;
  if (cJSON_IsObject(meta)) {
    cJSON_ArrayForEach(m, meta) {
      if (!m->string)
        continue;
      char key[256];
      snprintf(key, sizeof key, "langfuse.trace.metadata.%s", m->string);
      kv_add(attrs, key,
             cJSON_IsString(m) ? any_str(m->valuestring) : any_json(m));
    }
  }
}

static void put_time(cJSON *span, const char *key, int64_t ns) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, ns);
  cJSON_AddStringToObject(span, key, buf);
}

static char *lower_dup(const char *s) {
  char *d = strdup(s);
  for (char *p = d; p && *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p + 32);
  return d;
}

cJSON *otlp_span_from_record(const cJSON *rec, const cJSON *trace_attrs) {
  if (!rec_valid(rec))
    return NULL;
  const char *parent = rec_str(rec, "parent_id");
  if (parent && !at_valid_hex_id(parent, 16))
    parent = NULL;
  const char *type = rec_str(rec, "type");
  if (!type)
    type = "span";
  cJSON *span = cJSON_CreateObject();
  if (!span)
    return NULL;

  char *tid = lower_dup(rec_str(rec, "trace_id"));
  char *sid = lower_dup(rec_str(rec, "id"));
  char *pid = parent ? lower_dup(parent) : NULL;
  cJSON_AddStringToObject(span, "traceId", tid ? tid : "");
  cJSON_AddStringToObject(span, "spanId", sid ? sid : "");
  cJSON_AddStringToObject(span, "parentSpanId", pid ? pid : "");
  free(tid);
  free(sid);
  free(pid);

  const char *name = rec_str(rec, "name");
  cJSON_AddStringToObject(span, "name", name ? name : type);
  int llm = strcmp(type, "generation") == 0 || strcmp(type, "embedding") == 0;
  cJSON_AddNumberToObject(span, "kind", llm ? 3 : 1); /* CLIENT : INTERNAL */

  int64_t start = 0, end = 0, first = 0;
  int has_start = rec_ns(rec, "start_ns", &start) == 0;
  int has_end = rec_ns(rec, "end_ns", &end) == 0;
  if (has_start || has_end) {
    /* An edge that is missing takes the other's value, as receivers do. */
    put_time(span, "startTimeUnixNano", has_start ? start : end);
    put_time(span, "endTimeUnixNano", has_end ? end : start);
  }

  cJSON *attrs = cJSON_AddArrayToObject(span, "attributes");
  if (!attrs) {
    cJSON_Delete(span);
    return NULL;
  }

  /* The GenAI semantic conventions. */
  put_str(attrs, "gen_ai.operation.name", rec, "operation");
  put_str(attrs, "gen_ai.provider.name", rec, "provider");
  put_str(attrs, "gen_ai.request.model", rec, "request_model");
  put_str(attrs, "gen_ai.response.model", rec, "response_model");
  put_str(attrs, "gen_ai.response.id", rec, "response_id");
  const cJSON *fr = rec_arr(rec, "finish_reasons");
  if (fr && cJSON_GetArraySize(fr))
    kv_add(attrs, "gen_ai.response.finish_reasons", any_str_array(fr));
  put_params(attrs, rec_obj(rec, "model_parameters"));
  put_usage(attrs, rec_obj(rec, "usage"));
  /* Message attributes hold chat messages only; what an embedding call
   * sends and gets is not in that shape (Langfuse gets it below). */
  if (strcmp(type, "generation") == 0) {
    if (rec_arr(rec, "input"))
      put_json(attrs, "gen_ai.input.messages", rec, "input");
    if (rec_arr(rec, "output"))
      put_json(attrs, "gen_ai.output.messages", rec, "output");
  }
  /* Inferred tools and agents (docs/nesting.md): the GenAI
   * conventions' execute_tool and invoke_agent spans. */
  if (strcmp(type, "tool") == 0) {
    if (name)
      kv_add(attrs, "gen_ai.tool.name", any_str(name));
    kv_add(attrs, "gen_ai.tool.type", any_str("function"));
    put_str(attrs, "gen_ai.tool.call.id", rec_obj(rec, "metadata"),
            "tool_call_id");
    /* A string stays itself; anything else travels as JSON text. */
    static const char *const io[][2] = {{"input", "gen_ai.tool.call.arguments"},
                                        {"output", "gen_ai.tool.call.result"}};
    for (size_t i = 0; i < 2; i++) {
      const char *sv = rec_str(rec, io[i][0]);
      if (sv)
        kv_add(attrs, io[i][1], any_str(sv));
      else
        put_json(attrs, io[i][1], rec, io[i][0]);
    }
  } else if (strcmp(type, "agent") == 0 && name) {
    kv_add(attrs, "gen_ai.agent.name", any_str(name));
  }
  if (has_start && rec_ns(rec, "completion_start_ns", &first) == 0 &&
      first >= start && is_streamed(rec))
    kv_add(attrs, "gen_ai.response.time_to_first_chunk",
           any_double((double)(first - start) / 1e9));

  const cJSON *http = rec_obj(rec, "http");
  put_str(attrs, "server.address", http, "server_address");
  put_int(attrs, "server.port", http, "server_port");
  put_str(attrs, "http.request.method", http, "method");
  put_str(attrs, "url.full", http, "url");
  put_int(attrs, "http.response.status_code", http, "status");

  const char *level = rec_str(rec, "level");
  int error = level && strcmp(level, "ERROR") == 0;
  if (error)
    put_error_type(attrs, rec);

  /* What Langfuse reads first (its attributes win over gen_ai.*). */
  kv_add(attrs, "langfuse.observation.type", any_str(type));
  put_json(attrs, "langfuse.observation.input", rec, "input");
  put_json(attrs, "langfuse.observation.output", rec, "output");
  const char *model = rec_model(rec);
  if (model)
    kv_add(attrs, "langfuse.observation.model.name", any_str(model));
  put_json(attrs, "langfuse.observation.model.parameters", rec,
           "model_parameters");
  put_json(attrs, "langfuse.observation.usage_details", rec, "usage_details");
  put_json(attrs, "langfuse.observation.cost_details", rec, "cost_details");
  if (rec_ns(rec, "completion_start_ns", &first) == 0) {
    char iso[40];
    at_format_iso(first, iso, sizeof iso);
    kv_add(attrs, "langfuse.observation.completion_start_time", any_str(iso));
  }
  if (level)
    kv_add(attrs, "langfuse.observation.level", any_str(level));
  const char *msg = rec_str(rec, "status_message");
  if (msg)
    kv_add(attrs, "langfuse.observation.status_message", any_str(msg));

  /* Metadata: each key its own attribute, so Langfuse can filter on it. */
  char key[300];
  const cJSON *m;
  cJSON_ArrayForEach(m, rec_obj(rec, "metadata")) {
    if (!m->string || !*m->string || cJSON_IsNull(m))
      continue;
    snprintf(key, sizeof key, "langfuse.observation.metadata.%s", m->string);
    kv_add(attrs, key, any_from_json(m));
  }
  put_str(attrs, "langfuse.observation.metadata.cost_source", rec,
          "cost_source");
  if (rec_bool(rec, "incomplete") == 1)
    kv_add(attrs, "langfuse.observation.metadata.incomplete", any_bool(1));

  put_trace_attrs(attrs, rec, trace_attrs);

  /* UNSET unless the call failed: instrumentation never claims OK. */
  cJSON *status = cJSON_AddObjectToObject(span, "status");
  if (status) {
    cJSON_AddNumberToObject(status, "code", error ? 2 : 0);
    if (error && msg)
      cJSON_AddStringToObject(status, "message", msg);
  }
  return span;
}

/* ---- grouping ---- */

/* A tiny string -> index map, enough for traces and processes. */
struct smap {
  char **keys;
  size_t *vals;
  size_t cap, n;
};

static uint64_t smap_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

static int smap_grow(struct smap *m) {
  size_t cap = m->cap ? m->cap * 2 : 32;
  char **keys = calloc(cap, sizeof *keys);
  size_t *vals = calloc(cap, sizeof *vals);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return -1;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i])
      continue;
    size_t h = (size_t)smap_hash(m->keys[i]) & (cap - 1);
    while (keys[h])
      h = (h + 1) & (cap - 1);
    keys[h] = m->keys[i];
    vals[h] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  return 0;
}

/* Find key; when absent insert it with value *val. Returns 1 if found
 * (then *val is set), 0 if inserted, -1 on allocation failure. */
static int smap_get_or_put(struct smap *m, const char *key, size_t *val) {
  if ((m->n + 1) * 2 > m->cap && smap_grow(m) != 0)
    return -1;
  size_t h = (size_t)smap_hash(key) & (m->cap - 1);
  while (m->keys[h]) {
    if (strcmp(m->keys[h], key) == 0) {
      *val = m->vals[h];
      return 1;
    }
    h = (h + 1) & (m->cap - 1);
  }
  m->keys[h] = strdup(key);
  if (!m->keys[h])
    return -1;
  m->vals[h] = *val;
  m->n++;
  return 0;
}

static void smap_free(struct smap *m) {
  for (size_t i = 0; i < m->cap; i++)
    free(m->keys[i]);
  free(m->keys);
  free(m->vals);
}

void otlp_opts_from_env(struct otlp_opts *opts, char *host_buf,
                        size_t host_len) {
  memset(opts, 0, sizeof *opts);
  const char *svc = getenv("OTEL_SERVICE_NAME");
  if (svc && *svc)
    opts->service_name = svc;
  if (host_buf && host_len && gethostname(host_buf, host_len) == 0) {
    host_buf[host_len - 1] = '\0';
    opts->host_name = host_buf;
  }
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash && slash[1] ? slash + 1 : path;
}

static cJSON *new_resource_spans(const cJSON *rec, const struct otlp_opts *o,
                                 cJSON **spans_out) {
  const cJSON *proc = rec_obj(rec, "process");
  const char *exe = rec_str(proc, "exe");
  const char *svc =
      o && o->service_name && *o->service_name ? o->service_name : NULL;
  if (!svc)
    svc = rec_str(rec, "trace_name");
  if (!svc && exe)
    svc = base_name(exe);
  if (!svc)
    svc = "unknown_service";

  cJSON *rs = cJSON_CreateObject();
  cJSON *res = cJSON_AddObjectToObject(rs, "resource");
  cJSON *attrs = cJSON_AddArrayToObject(res, "attributes");
  cJSON *sss = cJSON_AddArrayToObject(rs, "scopeSpans");
  cJSON *ss = cJSON_CreateObject();
  if (!attrs || !sss || !ss) {
    cJSON_Delete(rs);
    cJSON_Delete(ss);
    return NULL;
  }
  cJSON_AddItemToArray(sss, ss);
  kv_add(attrs, "service.name", any_str(svc));
  uint64_t pid;
  if (rec_u64(proc, "pid", &pid) == 0)
    kv_add(attrs, "process.pid", any_int((int64_t)pid));
  if (exe) {
    kv_add(attrs, "process.executable.path", any_str(exe));
    kv_add(attrs, "process.executable.name", any_str(base_name(exe)));
  }
  kv_add(attrs, "telemetry.sdk.name", any_str("autotrace"));
  kv_add(attrs, "telemetry.sdk.version", any_str(AT_VERSION));
  if (o && o->host_name && *o->host_name)
    kv_add(attrs, "host.name", any_str(o->host_name));
  cJSON *scope = cJSON_AddObjectToObject(ss, "scope");
  cJSON_AddStringToObject(scope, "name", "autotrace");
  cJSON_AddStringToObject(scope, "version", AT_VERSION);
  *spans_out = cJSON_AddArrayToObject(ss, "spans");
  if (!*spans_out) {
    cJSON_Delete(rs);
    return NULL;
  }
  return rs;
}

/* The key that makes spans share a resource: one process. */
static void process_key(const cJSON *rec, char *buf, size_t len) {
  const cJSON *proc = rec_obj(rec, "process");
  uint64_t pid = 0;
  rec_u64(proc, "pid", &pid);
  const char *exe = rec_str(proc, "exe");
  snprintf(buf, len, "%" PRIu64 "|%s", pid, exe ? exe : "");
}

cJSON *otlp_request_from_records(const cJSON *const *records, size_t n,
                                 const struct otlp_opts *opts) {
  cJSON *req = cJSON_CreateObject();
  cJSON *rss = cJSON_AddArrayToObject(req, "resourceSpans");
  struct smap traces = {0}, procs = {0};
  const cJSON **tattrs = calloc(n ? n : 1, sizeof *tattrs);
  cJSON **span_lists = calloc(n ? n : 1, sizeof *span_lists);
  if (!rss || !tattrs || !span_lists)
    goto fail;

  /* Pass 1: for each trace, the first record carrying each trace-level
   * attribute, so spans that lack one (a reader-closed marker, a record
   * from an older shim) get it too. */
  cJSON **merged = calloc(n ? n : 1, sizeof *merged);
  if (!merged)
    goto fail;
  size_t ntraces = 0;
  for (size_t i = 0; i < n; i++) {
    if (!rec_valid(records[i]))
      continue;
    char tid[33];
    snprintf(tid, sizeof tid, "%s", rec_str(records[i], "trace_id"));
    for (char *p = tid; *p; p++)
      if (*p >= 'A' && *p <= 'Z')
        *p = (char)(*p + 32);
    size_t t = ntraces;
    int found = smap_get_or_put(&traces, tid, &t);
    if (found < 0)
      goto fail_merged;
    if (!found) {
      merged[t] = cJSON_CreateObject();
      ntraces++;
      if (!merged[t])
        goto fail_merged;
    }
    static const char *const keys[] = {"session_id", "user_id", "trace_name"};
    for (size_t k = 0; k < 3; k++) {
      const char *s = rec_str(records[i], keys[k]);
      if (s && !rec_str(merged[t], keys[k]))
        cJSON_AddStringToObject(merged[t], keys[k], s);
    }
    const cJSON *tags = rec_arr(records[i], "tags");
    if (tags && cJSON_GetArraySize(tags) && !rec_arr(merged[t], "tags"))
      cJSON_AddItemToObject(merged[t], "tags", cJSON_Duplicate(tags, 1));
    tattrs[i] = merged[t];
  }

  /* Pass 2: spans, one resource per process, in order of appearance. */
  size_t nprocs = 0;
  for (size_t i = 0; i < n; i++) {
    if (!tattrs[i])
      continue;
    cJSON *span = otlp_span_from_record(records[i], tattrs[i]);
    if (!span)
      goto fail_merged;
    char key[4200];
    process_key(records[i], key, sizeof key);
    size_t p = nprocs;
    int found = smap_get_or_put(&procs, key, &p);
    if (found < 0) {
      cJSON_Delete(span);
      goto fail_merged;
    }
    if (!found) {
      cJSON *rs = new_resource_spans(records[i], opts, &span_lists[p]);
      if (!rs) {
        cJSON_Delete(span);
        goto fail_merged;
      }
      cJSON_AddItemToArray(rss, rs);
      nprocs++;
    }
    cJSON_AddItemToArray(span_lists[p], span);
  }

  for (size_t t = 0; t < ntraces; t++)
    cJSON_Delete(merged[t]);
  free(merged);
  free(tattrs);
  free(span_lists);
  smap_free(&traces);
  smap_free(&procs);
  return req;

fail_merged:
  for (size_t t = 0; t < n; t++)
    cJSON_Delete(merged[t]);
  free(merged);
fail:
  free(tattrs);
  free(span_lists);
  smap_free(&traces);
  smap_free(&procs);
  cJSON_Delete(req);
  return NULL;
}
