/* bedrock: AWS Bedrock runtime, the Converse API (plain and streamed), and
 * what every Bedrock API shares: the model id from the path, the response
 * headers, the binary event stream, usage.
 *
 * Bedrock's bodies never name the model: the path does
 * (/model/{modelId}/converse, percent-encoded), so request_model comes
 * from the URL, and response_model is that model too (for an ARN, the
 * model id it ends with). Usage: Bedrock's inputTokens count neither cache
 * reads nor cache writes (totalTokens = input + output + cacheRead +
 * cacheWrite, as the recorded answers show), so the record's inclusive
 * input_tokens is their sum. */
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bedrock.h"
#include "dynbuf.h"
#include "json_util.h"
#include "jsontok.h"
#include "messages.h"
#include "parsers.h"
#include "url.h"

/* ---- the model id ----------------------------------------------------- */

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int ends_with(const char *s, size_t n, const char *suffix) {
  size_t k = strlen(suffix);
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int at_bedrock_url_model(const char *url, char *out, size_t cap) {
  static const char *const actions[] = {"/converse", "/converse-stream",
                                        "/invoke",
                                        "/invoke-with-response-stream", NULL};
  struct at_url u;
  if (cap == 0)
    return 0;
  out[0] = '\0';
  if (!url || at_url_split(url, &u) != 0)
    return 0;
  const char *path = u.path;
  size_t n = u.path_len;
  if (n > 1 && path[n - 1] == '/')
    n--;
  size_t before = 0;
  int found = 0;
  for (size_t i = 0; actions[i] && !found; i++)
    if (ends_with(path, n, actions[i])) {
      before = n - strlen(actions[i]);
      found = 1;
    }
  if (!found)
    return 0;
  const char *seg = NULL;
  for (size_t j = 0; j + 7 < before; j++)
    if (memcmp(path + j, "/model/", 7) == 0) {
      seg = path + j + 7;
      break;
    }
  if (!seg)
    return 0;
  size_t seg_len = (size_t)(path + before - seg);
  char tmp[AT_BEDROCK_MODEL_MAX];
  size_t k = 0;
  for (size_t i = 0; i < seg_len && k + 1 < sizeof tmp; i++) {
    int hi, lo;
    if (seg[i] == '%' && i + 2 < seg_len &&
        (hi = hexval((unsigned char)seg[i + 1])) >= 0 &&
        (lo = hexval((unsigned char)seg[i + 2])) >= 0) {
      tmp[k++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      tmp[k++] = seg[i];
    }
  }
  at_utf8_clean(out, cap, tmp, k, 1);
  return out[0] != '\0';
}

const char *at_bedrock_base_model(const char *id) {
  if (strncmp(id, "arn:", 4) == 0) {
    const char *slash = strrchr(id, '/');
    if (slash)
      id = slash + 1;
  }
  /* cross-region inference profiles: "us.anthropic.claude-..." */
  static const char *const regions[] = {
      "us.", "eu.", "apac.", "au.", "jp.", "ca.", "global.", "us-gov.", NULL};
  for (size_t i = 0; regions[i]; i++) {
    size_t k = strlen(regions[i]);
    if (strncmp(id, regions[i], k) == 0 && id[k])
      return id + k;
  }
  return id;
}

void at_bedrock_request_model(struct at_obs *o) {
  char model[AT_BEDROCK_MODEL_MAX];
  if (at_bedrock_url_model(o->ex->url, model, sizeof model))
    at_obs_set(o, &o->request_model, model);
}

void at_bedrock_response_model(struct at_obs *o) {
  char model[AT_BEDROCK_MODEL_MAX];
  if (o->response_model ||
      !at_bedrock_url_model(o->ex->url, model, sizeof model))
    return;
  const char *m = model;
  if (strncmp(m, "arn:", 4) == 0 &&
      (strstr(m, ":foundation-model/") || strstr(m, ":inference-profile/"))) {
    const char *slash = strrchr(m, '/');
    if (slash && slash[1])
      m = slash + 1;
  }
  at_obs_set(o, &o->response_model, m);
}

/* ---- response headers ------------------------------------------------- */

const char *at_bedrock_header(const struct at_exchange *ex, const char *name,
                              char *buf, size_t cap) {
  const char *h = ex->resp_headers;
  size_t n = h ? ex->resp_headers_len : 0, start = 0;
  size_t k = strlen(name);
  /* the last block: from the last status line on */
  for (size_t i = 0; i + 5 <= n; i++)
    if ((i == 0 || h[i - 1] == '\n') && memcmp(h + i, "HTTP/", 5) == 0)
      start = i;
  for (size_t i = start; i < n;) {
    const char *line = h + i;
    const char *nl = memchr(line, '\n', n - i);
    size_t len = nl ? (size_t)(nl - line) : n - i;
    i += len + 1;
    if (len > k && line[k] == ':' && strncasecmp(line, name, k) == 0) {
      const char *v = line + k + 1;
      size_t vl = len - k - 1;
      while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
      }
      while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
      at_utf8_clean(buf, cap, v, vl, 1);
      return buf;
    }
  }
  return NULL;
}

/* A header holding a count; 1 and *out when it is one. */
static int header_count(const struct at_exchange *ex, const char *name,
                        int64_t *out) {
  char buf[32];
  const char *v = at_bedrock_header(ex, name, buf, sizeof buf);
  if (!v || !*v)
    return 0;
  int64_t x = 0;
  for (const char *p = v; *p; p++) {
    if (*p < '0' || *p > '9' || x > (int64_t)1 << 53)
      return 0;
    x = x * 10 + (*p - '0');
  }
  if (x > (int64_t)1 << 53)
    return 0;
  *out = x;
  return 1;
}

void at_bedrock_header_usage(struct at_obs *o) {
  if (at_usage_any(&o->usage))
    return;
  struct bedrock_usage bu = {0};
  const struct at_exchange *ex = o->ex;
  bu.has_input =
      header_count(ex, "x-amzn-bedrock-input-token-count", &bu.input);
  bu.has_output =
      header_count(ex, "x-amzn-bedrock-output-token-count", &bu.output);
  bu.has_read =
      header_count(ex, "x-amzn-bedrock-cache-read-input-token-count", &bu.read);
  bu.has_write = header_count(
      ex, "x-amzn-bedrock-cache-write-input-token-count", &bu.write);
  at_bedrock_usage_apply(o, &bu);
}

void at_bedrock_meta_ms(struct at_obs *o, const char *key, const cJSON *v) {
  int64_t ms;
  if (!at_json_count(v, &ms))
    return;
  cJSON_DeleteItemFromObjectCaseSensitive(o->meta, key);
  if (!cJSON_AddNumberToObject(o->meta, key, (double)ms))
    o->oom = 1;
}

int at_bedrock_parser(const struct at_api_parser *p) {
  return p == &at_bedrock_converse_parser || p == &at_bedrock_invoke_parser ||
         p == &at_bedrock_embed_parser;
}

int at_bedrock_is_event_stream(const cJSON *resp_headers, const char *body,
                               size_t len) {
  const char *ct = at_json_str(resp_headers, "content-type");
  if (ct && strncasecmp(ct, "application/vnd.amazon.eventstream", 34) == 0)
    return 1;
  return at_es_sniff(body, len);
}

void at_bedrock_headers(struct at_obs *o) {
  const struct at_exchange *ex = o->ex;
  char buf[256];
  const char *rid = at_bedrock_header(ex, "x-amzn-requestid", buf, sizeof buf);
  if (rid && rid[0]) {
    if (!o->response_id)
      at_obs_set(o, &o->response_id, rid);
    at_obs_meta_str(o, "request_id", rid);
  }
  if (ex->status >= 400 &&
      !cJSON_GetObjectItemCaseSensitive(o->meta, "error_type")) {
    /* "ValidationException:http://internal.amazon.com/coral/..." */
    const char *et = at_bedrock_header(ex, "x-amzn-errortype", buf, sizeof buf);
    if (et) {
      buf[strcspn(buf, ":")] = '\0';
      at_obs_meta_str(o, "error_type", buf);
    }
  }
  int64_t ms;
  if (!cJSON_GetObjectItemCaseSensitive(o->meta, "latency_ms") &&
      header_count(ex, "x-amzn-bedrock-invocation-latency", &ms) &&
      !cJSON_AddNumberToObject(o->meta, "latency_ms", (double)ms))
    o->oom = 1;
}

/* ---- usage ------------------------------------------------------------ */

void at_bedrock_usage_read(struct at_obs *o, const cJSON *u,
                           struct bedrock_usage *bu, const char *where) {
  if (!u)
    return;
  if (!cJSON_IsObject(u)) {
    at_obs_parse_error(o, "%s is not an object", where);
    return;
  }
  bu->has_input |= at_obs_count(o, u, "inputTokens", where, &bu->input);
  bu->has_output |= at_obs_count(o, u, "outputTokens", where, &bu->output);
  bu->has_total |= at_obs_count(o, u, "totalTokens", where, &bu->total);
  /* the *Count spellings are older duplicates (Nova's invoke uses them) */
  if (at_obs_count(o, u, "cacheReadInputTokens", where, &bu->read) ||
      at_obs_count(o, u, "cacheReadInputTokenCount", where, &bu->read))
    bu->has_read = 1;
  if (at_obs_count(o, u, "cacheWriteInputTokens", where, &bu->write) ||
      at_obs_count(o, u, "cacheWriteInputTokenCount", where, &bu->write))
    bu->has_write = 1;
}

void at_bedrock_usage_apply(struct at_obs *o, const struct bedrock_usage *bu) {
  int64_t read = bu->has_read ? bu->read : 0;
  int64_t write = bu->has_write ? bu->write : 0;
  if (bu->has_input) {
    int64_t in = bu->input + read + write;
    /* A total that leaves the cache out says the input already has it. */
    if (bu->has_total && bu->has_output && read + write > 0 &&
        bu->total == bu->input + bu->output)
      in = bu->input;
    at_usage_set(&o->usage, AT_U_INPUT, in);
  }
  if (bu->has_output)
    at_usage_set(&o->usage, AT_U_OUTPUT, bu->output);
  if (bu->has_read)
    at_usage_set(&o->usage, AT_U_CACHE_READ, bu->read);
  if (bu->has_write)
    at_usage_set(&o->usage, AT_U_CACHE_WRITE, bu->write);
  if (bu->has_total)
    at_usage_set(&o->usage, AT_U_TOTAL, bu->total);
}

/* ---- content blocks --------------------------------------------------- */

static const char *doc_mime(const char *f) {
  static const char *const map[][2] = {
      {"pdf", "application/pdf"},
      {"csv", "text/csv"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument."
               "wordprocessingml.document"},
      {"xls", "application/vnd.ms-excel"},
      {"xlsx",
       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"html", "text/html"},
      {"txt", "text/plain"},
      {"md", "text/markdown"},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(f, map[i][0]))
      return map[i][1];
  return NULL;
}

/* image/document/video/audio {format, source: {bytes | s3Location | text |
 * content}}: a blob (size only), a uri, or text. */
static void media(struct at_obs *o, cJSON *parts, const char *modality,
                  const cJSON *v, const char *where) {
  const char *format = at_json_str(v, "format");
  char mime[96] = "";
  if (format && strlen(format) < 48) {
    const char *known = !strcmp(modality, "document") ? doc_mime(format) : NULL;
    if (known)
      snprintf(mime, sizeof mime, "%s", known);
    else if (!strcmp(format, "jpg"))
      snprintf(mime, sizeof mime, "%s/jpeg", modality);
    else if (!strcmp(format, "mov"))
      snprintf(mime, sizeof mime, "video/quicktime");
    else if (!strcmp(format, "mkv"))
      snprintf(mime, sizeof mime, "video/x-matroska");
    else if (!strcmp(format, "mp3"))
      snprintf(mime, sizeof mime, "audio/mpeg");
    else if (strcmp(modality, "document") != 0)
      snprintf(mime, sizeof mime, "%s/%s", modality, format);
  }
  const cJSON *src = at_json_get(v, "source");
  const char *bytes = at_json_str(src, "bytes");
  const cJSON *s3 = at_json_get(src, "s3Location");
  const char *text = at_json_str(src, "text");
  const cJSON *content = at_json_get(src, "content");
  if (bytes) {
    at_part_blob_b64(o, parts, modality, mime, bytes, strlen(bytes));
  } else if (at_json_str(s3, "uri")) {
    at_part_media_url(o, parts, modality, at_json_str(s3, "uri"));
  } else if (text) {
    at_part_text(o, parts, "text", text, strlen(text));
  } else if (cJSON_IsArray(content)) {
    const cJSON *c;
    cJSON_ArrayForEach(c, content) {
      const char *t = at_json_str(c, "text");
      if (t)
        at_part_text(o, parts, "text", t, strlen(t));
    }
  } else {
    if (!src)
      at_obs_parse_error(o, "%s: a %s block has no source", where, modality);
    at_part_other(o, parts, modality);
  }
}

static void cv_block(struct at_obs *o, cJSON *parts, const cJSON *b,
                     const char *where, int in_tool_result);

/* A toolResult's content: one text block stays a string, one json block
 * its value; anything else a list of parts (json blocks as their text). */
static void tool_result(struct at_obs *o, cJSON *parts, const cJSON *tr,
                        const char *where) {
  if (!cJSON_IsObject(tr)) {
    at_obs_parse_error(o, "%s: toolResult is not an object", where);
    return;
  }
  const char *id = at_obs_str(o, tr, "toolUseId", where);
  const cJSON *content = at_obs_arr(o, tr, "content", where);
  const cJSON *one =
      cJSON_GetArraySize(content) == 1 ? cJSON_GetArrayItem(content, 0) : NULL;
  const cJSON *only_text = at_json_get(one, "text");
  const cJSON *only_json = at_json_get(one, "json");
  cJSON *resp = NULL;
  if (one && cJSON_GetArraySize(one) == 1 && cJSON_IsString(only_text)) {
    at_part_tool_response(o, parts, id, only_text);
  } else if (one && cJSON_GetArraySize(one) == 1 && only_json) {
    at_part_tool_response(o, parts, id, only_json);
  } else {
    if (content) {
      resp = cJSON_CreateArray();
      if (!resp) {
        o->oom = 1;
        return;
      }
      const cJSON *c;
      cJSON_ArrayForEach(c, content) cv_block(o, resp, c, where, 1);
    }
    at_part_tool_response(o, parts, id, resp);
  }
  cJSON_Delete(resp);
  const char *status = at_json_str(tr, "status");
  cJSON *last = cJSON_GetArrayItem(parts, cJSON_GetArraySize(parts) - 1);
  if (status && !strcmp(status, "error") && last &&
      !cJSON_AddTrueToObject(last, "is_error"))
    o->oom = 1;
}

static void reasoning_block(struct at_obs *o, cJSON *parts, const cJSON *v) {
  const cJSON *rt = at_json_get(v, "reasoningText");
  const char *t = at_json_str(rt, "text");
  if (t)
    at_part_text(o, parts, "reasoning", t, strlen(t));
  else if (at_json_get(v, "redactedContent"))
    at_part_redacted_reasoning(o, parts);
  else
    at_part_text(o, parts, "reasoning", "", 0);
}

/* One ContentBlock: an object with one member naming its kind. */
static void cv_block(struct at_obs *o, cJSON *parts, const cJSON *b,
                     const char *where, int in_tool_result) {
  if (!cJSON_IsObject(b)) {
    at_obs_parse_error(o, "%s: a content block is not an object", where);
    return;
  }
  const cJSON *v;
  cJSON_ArrayForEach(v, b) {
    const char *k = v->string;
    if (!k)
      continue;
    if (!strcmp(k, "text")) {
      if (cJSON_IsString(v))
        at_part_text(o, parts, "text", v->valuestring, strlen(v->valuestring));
      else
        at_obs_parse_error(o, "%s: a text block is not a string", where);
    } else if (!strcmp(k, "image") || !strcmp(k, "document") ||
               !strcmp(k, "video") || !strcmp(k, "audio")) {
      media(o, parts, k, v, where);
    } else if (!strcmp(k, "toolUse")) {
      at_part_tool_call_value(o, parts, at_obs_str(o, v, "toolUseId", where),
                              at_obs_str(o, v, "name", where),
                              at_json_get(v, "input"));
    } else if (!strcmp(k, "toolResult") && !in_tool_result) {
      tool_result(o, parts, v, where);
    } else if (!strcmp(k, "json") && in_tool_result) {
      char *s = cJSON_PrintUnformatted(v);
      if (s)
        at_part_text(o, parts, "text", s, strlen(s));
      else
        o->oom = 1;
      free(s);
    } else if (!strcmp(k, "reasoningContent")) {
      reasoning_block(o, parts, v);
    } else if (!strcmp(k, "guardContent")) {
      const char *t = at_json_str(at_json_get(v, "text"), "text");
      if (t)
        at_part_text(o, parts, "text", t, strlen(t));
      else if (at_json_get(v, "image"))
        media(o, parts, "image", at_json_get(v, "image"), where);
    } else if (!strcmp(k, "cachePoint")) {
      /* a cache marker, not content */
    } else {
      at_part_other(o, parts, k);
    }
  }
}

static void cv_content(struct at_obs *o, cJSON *parts, const cJSON *c,
                       const char *where) {
  if (cJSON_IsArray(c)) {
    const cJSON *b;
    cJSON_ArrayForEach(b, c) cv_block(o, parts, b, where, 0);
  } else if (cJSON_IsString(c)) { /* lenient: a plain string */
    at_part_text(o, parts, "text", c->valuestring, strlen(c->valuestring));
  } else if (c) {
    at_obs_parse_error(o, "%s.content is not an array", where);
  }
}

/* ---- Converse request ------------------------------------------------- */

static void param_as(struct at_obs *o, const cJSON *obj, const char *key,
                     const char *as) {
  const cJSON *v = at_json_get(obj, key);
  if (!v || cJSON_GetObjectItemCaseSensitive(o->params, as))
    return;
  if (at_json_add_copy(o->params, as, v) != 0)
    o->oom = 1;
}

static int is_stream_action(const char *url) {
  struct at_url u;
  if (!url || at_url_split(url, &u) != 0)
    return 0;
  size_t n = u.path_len;
  if (n > 1 && u.path[n - 1] == '/')
    n--;
  return ends_with(u.path, n, "/converse-stream") ||
         ends_with(u.path, n, "/invoke-with-response-stream");
}

/* One Converse request message: its role and its content blocks. */
static void cv_request_message(struct at_obs *o, const cJSON *m) {
  const char *where = "request.messages[]";
  const char *role = at_obs_message_role(o, m, where);
  if (!role)
    return;
  cJSON *parts = at_msg_add(o, o->input, role, NULL);
  cv_content(o, parts, at_json_get(m, "content"), where);
}

void at_bedrock_converse_request(struct at_obs *o, const cJSON *req) {
  at_bedrock_request_model(o);
  const cJSON *ic = at_obs_objv(o, req, "inferenceConfig", "request");
  param_as(o, ic, "maxTokens", "max_tokens");
  param_as(o, ic, "max_new_tokens", "max_tokens"); /* Nova's invoke body */
  param_as(o, ic, "temperature", "temperature");
  param_as(o, ic, "topP", "top_p");
  param_as(o, ic, "top_p", "top_p");
  param_as(o, ic, "topK", "top_k");
  param_as(o, ic, "top_k", "top_k");
  param_as(o, ic, "stopSequences", "stop");
  const cJSON *tc = at_obs_objv(o, req, "toolConfig", "request");
  param_as(o, tc, "tools", "tools");
  param_as(o, tc, "toolChoice", "tool_choice");
  /* model-specific fields (thinking, reasoning_config, top_k, ...) */
  const cJSON *extra =
      at_obs_objv(o, req, "additionalModelRequestFields", "request");
  const cJSON *f;
  cJSON_ArrayForEach(f, extra) {
    if (f->string)
      param_as(o, extra, f->string, f->string);
  }
  param_as(o, req, "performanceConfig", "performance_config");
  param_as(o, req, "serviceTier", "service_tier");
  if (is_stream_action(o->ex->url) &&
      !cJSON_AddTrueToObject(o->params, "stream"))
    o->oom = 1;

  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  const cJSON *system = at_json_get(req, "system");
  if (cJSON_IsString(system) ||
      (cJSON_IsArray(system) && cJSON_GetArraySize(system) > 0)) {
    cJSON *parts = at_msg_add(o, o->input, "system", NULL);
    cv_content(o, parts, system, "request.system");
  } else if (system && !cJSON_IsArray(system)) {
    at_obs_parse_error(o, "request.system is not an array");
  }
  at_obs_each_message(o, req, cv_request_message);
}

/* ---- Converse answer -------------------------------------------------- */

/* additionalModelResponseFields: Anthropic's stop_sequence. */
static void response_extras(struct at_obs *o, const cJSON *extra) {
  at_obs_meta_str(o, "stop_sequence", at_json_str(extra, "stop_sequence"));
}

void at_bedrock_converse_response(struct at_obs *o, const cJSON *resp) {
  at_bedrock_response_model(o);
  const cJSON *out = at_obs_objv(o, resp, "output", "response");
  const cJSON *msg = at_obs_objv(o, out, "message", "response.output");
  if (!msg)
    at_obs_parse_error(o, "response has no output.message");
  o->output = cJSON_CreateArray();
  if (!o->output) {
    o->oom = 1;
    return;
  }
  const char *role = msg ? at_obs_str(o, msg, "role", "response") : NULL;
  cJSON *m;
  cJSON *parts = at_msg_add(o, o->output, role ? role : "assistant", &m);
  if (msg)
    cv_content(o, parts, at_json_get(msg, "content"), "response.message");
  at_obs_finish(o, m, at_obs_str(o, resp, "stopReason", "response"));
  response_extras(o, at_json_get(resp, "additionalModelResponseFields"));
  struct bedrock_usage bu = {0};
  at_bedrock_usage_read(o, at_json_get(resp, "usage"), &bu, "response.usage");
  at_bedrock_usage_apply(o, &bu);
  at_bedrock_header_usage(o);
  at_bedrock_meta_ms(o, "latency_ms",
                     at_json_get(at_json_get(resp, "metrics"), "latencyMs"));
  at_note_usage_missing(o, 0);
}

/* ---- Converse stream -------------------------------------------------- */

#define MAX_BLOCKS 256

enum { BK_NONE = 0, BK_TEXT, BK_TOOL, BK_REASONING };

struct cv_block_acc {
  int kind, seen, redacted;
  char *id, *name;
  struct dynbuf text; /* text, reasoning, or tool input JSON pieces */
};

struct cv_stream {
  struct at_obs *o;
  struct jt jt;
  size_t nblocks;
  /* Repeats: when the last contentBlockDelta only added text token
   * rep_tok to block rep_block, a next one that differs from it only
   * there and in members nothing reads (the "p" padding) adds its own
   * text the same way without being read again; -1 otherwise. */
  int rep_tok;
  size_t rep_block;
  struct bedrock_usage usage;
  char *stop_reason;
  int started, stopped;
  size_t events;
  int bad_events;
  /* last: set up one by one as used (cv_index), not zeroed up front */
  struct cv_block_acc blocks[MAX_BLOCKS];
};

/* The members a contentBlockDelta is read by. */
static const struct jt_key delta_keys[] = {JT_KEY("contentBlockIndex"),
                                           JT_KEY("delta")};

struct cv_stream *at_bedrock_cv_begin(struct at_obs *o) {
  struct cv_stream *s = malloc(sizeof(*s));
  if (!s) {
    o->oom = 1;
    return NULL;
  }
  memset(s, 0, offsetof(struct cv_stream, blocks));
  s->o = o;
  s->rep_tok = -1;
  jt_init(&s->jt);
  return s;
}

static struct cv_block_acc *cv_index(struct cv_stream *s, int64_t i) {
  if (i < 0 || i >= MAX_BLOCKS)
    return NULL;
  while (s->nblocks <= (size_t)i) {
    struct cv_block_acc *b = &s->blocks[s->nblocks++];
    memset(b, 0, sizeof *b);
    dynbuf_init(&b->text, AT_ASSEMBLED_MAX);
  }
  return &s->blocks[i];
}

/* contentBlockDelta: {contentBlockIndex, delta: {text} | {toolUse: {input}}
 * | {reasoningContent: {text} | {signature} | {redactedContent}}} */
static void cv_delta(struct cv_stream *s, size_t end_offset) {
  const struct jt *j = &s->jt;
  int64_t i;
  if (!jt_count(j, JT_GET(j, 0, "contentBlockIndex"), &i))
    return;
  struct cv_block_acc *b = cv_index(s, i);
  if (!b)
    return;
  b->seen = 1;
  int d = JT_GET(j, 0, "delta");
  int piece = JT_GET(j, d, "text");
  int kind = BK_TEXT;
  if (piece < 0) {
    int tu = JT_GET(j, d, "toolUse");
    if (tu >= 0) {
      piece = JT_GET(j, tu, "input");
      kind = BK_TOOL;
    }
  }
  if (piece < 0) {
    int rc = JT_GET(j, d, "reasoningContent");
    if (rc >= 0) {
      kind = BK_REASONING;
      piece = JT_GET(j, rc, "text");
      if (JT_GET(j, rc, "redactedContent") >= 0) {
        b->redacted = 1;
        at_obs_first_output(s->o, end_offset);
      }
    }
  }
  if (kind != BK_TEXT || piece >= 0) {
    if (b->kind == BK_NONE)
      b->kind = kind;
  }
  if (jt_str(j, piece, &b->text) > 0)
    at_obs_first_output(s->o, end_offset);
  if (kind == BK_TEXT && b->kind == BK_TEXT && jt_type(j, piece) == JT_STRING) {
    s->rep_tok = piece;
    s->rep_block = (size_t)(b - s->blocks);
  }
}

static void cv_start(struct cv_stream *s, const cJSON *ev, size_t end_offset) {
  int64_t i;
  if (!at_json_count(at_json_get(ev, "contentBlockIndex"), &i))
    return;
  struct cv_block_acc *b = cv_index(s, i);
  if (!b)
    return;
  b->seen = 1;
  const cJSON *tu = at_json_get(at_json_get(ev, "start"), "toolUse");
  if (cJSON_IsObject(tu)) {
    b->kind = BK_TOOL;
    at_obs_set(s->o, &b->id, at_json_str(tu, "toolUseId"));
    at_obs_set(s->o, &b->name, at_json_str(tu, "name"));
    at_obs_first_output(s->o, end_offset);
  }
}

static int type_is(const char *type, size_t len, const char *lit) {
  return strlen(lit) == len && memcmp(type, lit, len) == 0;
}

void at_bedrock_cv_event(struct cv_stream *s, const char *type, size_t type_len,
                         const char *json, size_t len, size_t end_offset) {
  if (!s)
    return;
  struct at_obs *o = s->o;
  s->events++;
  int r = jt_parse(&s->jt, json, len);
  if (r == 0 && type_is(type, type_len, "contentBlockDelta")) {
    if (s->rep_tok >= 0 && jt_type(&s->jt, s->rep_tok) == JT_STRING &&
        jt_repeats(&s->jt, s->rep_tok, 0, delta_keys,
                   sizeof delta_keys / sizeof *delta_keys, 0, NULL)) {
      if (jt_str(&s->jt, s->rep_tok, &s->blocks[s->rep_block].text) > 0)
        at_obs_first_output(o, end_offset);
      return;
    }
    s->rep_tok = -1;
    cv_delta(s, end_offset);
    return;
  }
  s->rep_tok = -1;
  cJSON *ev = r == -1 ? NULL : at_json_parse(json, len);
  if (!cJSON_IsObject(ev)) {
    if (!s->bad_events++)
      at_obs_parse_error(o, "stream event is not a JSON object");
    cJSON_Delete(ev);
    return;
  }
  if (type_is(type, type_len, "messageStart")) {
    s->started = 1;
  } else if (type_is(type, type_len, "contentBlockStart")) {
    cv_start(s, ev, end_offset);
  } else if (type_is(type, type_len, "messageStop")) {
    s->stopped = 1;
    const char *sr = at_json_str(ev, "stopReason");
    if (sr) {
      free(s->stop_reason);
      s->stop_reason = strdup(sr);
      o->oom |= !s->stop_reason;
    }
    response_extras(o, at_json_get(ev, "additionalModelResponseFields"));
  } else if (type_is(type, type_len, "metadata")) {
    at_bedrock_usage_read(o, at_json_get(ev, "usage"), &s->usage,
                          "stream metadata.usage");
    at_bedrock_meta_ms(o, "latency_ms",
                       at_json_get(at_json_get(ev, "metrics"), "latencyMs"));
  }
  /* contentBlockStop and unknown events carry nothing we keep */
  cJSON_Delete(ev);
}

static void cv_emit(struct at_obs *o, cJSON *parts, struct cv_block_acc *b) {
  const char *text = b->text.ptr ? b->text.ptr : "";
  switch (b->kind) {
  case BK_TOOL:
    /* the input, streamed as JSON text ("" for a tool without input) */
    at_part_tool_call(o, parts, b->id, b->name, b->text.len ? text : "{}",
                      b->text.len ? b->text.len : 2);
    break;
  case BK_REASONING:
    if (b->redacted && !b->text.len)
      at_part_redacted_reasoning(o, parts);
    else
      at_part_text(o, parts, "reasoning", text, b->text.len);
    break;
  default:
    at_part_text(o, parts, "text", text, b->text.len);
    break;
  }
}

void at_bedrock_cv_end(struct cv_stream *s) {
  if (!s)
    return;
  struct at_obs *o = s->o;
  if (s->events == 0)
    at_obs_parse_error(o, "stream has no events");
  else if (!s->stopped && o->level < AT_LEVEL_ERROR)
    at_obs_parse_error(o, "stream ended before messageStop");
  if (s->started || s->nblocks) {
    o->output = cJSON_CreateArray();
    cJSON *m;
    cJSON *parts = at_msg_add(o, o->output, "assistant", &m);
    for (size_t i = 0; i < s->nblocks; i++)
      if (s->blocks[i].seen)
        cv_emit(o, parts, &s->blocks[i]);
    at_obs_finish(o, m, s->stop_reason ? s->stop_reason : "error");
  }
  at_bedrock_usage_apply(o, &s->usage);
  for (size_t i = 0; i < s->nblocks; i++) {
    dynbuf_free(&s->blocks[i].text);
    free(s->blocks[i].id);
    free(s->blocks[i].name);
  }
  free(s->stop_reason);
  jt_free(&s->jt);
  free(s);
}

/* ---- event streams ---------------------------------------------------- */

struct drive {
  struct at_obs *o;
  at_bedrock_event_fn fn;
  void *arg;
  struct dynbuf clean; /* a payload with bad UTF-8, repaired */
  size_t events;
  int bad_utf8;
};

/* A string header as clean text (for the record). */
static void es_text(char *buf, size_t cap, struct at_es_str s) {
  at_utf8_clean(buf, cap, s.p ? s.p : "", s.p ? s.len : 0, 1);
}

/* An exception message: {"message": "..."} (modelStreamErrorException adds
 * originalStatusCode and originalMessage). */
static void stream_exception(struct at_obs *o, const struct at_es_message *m,
                             const char *payload, size_t len) {
  char type[128];
  es_text(type, sizeof type, m->exception_type);
  if (type[0])
    at_obs_meta_str(o, "error_type", type);
  cJSON *root = at_json_parse(payload, len);
  const char *msg = at_json_str(root, "message");
  if (!msg)
    msg = at_json_str(root, "Message");
  const cJSON *code = at_json_get(root, "originalStatusCode");
  int64_t c;
  if (at_json_count(code, &c)) {
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)c);
    at_obs_meta_str(o, "error_code", num);
  }
  if (msg && msg[0])
    at_obs_raise(o, AT_LEVEL_ERROR, msg, strlen(msg));
  else
    at_obs_raise(o, AT_LEVEL_ERROR, type[0] ? type : "stream exception",
                 strlen(type[0] ? type : "stream exception"));
  cJSON_Delete(root);
}

static int drive_message(const struct at_es_message *m, void *arg) {
  struct drive *d = arg;
  struct at_obs *o = d->o;
  const char *payload = m->payload;
  size_t len = m->payload_len;
  if (!at_utf8_valid(payload, len)) {
    dynbuf_reset(&d->clean);
    if (dynbuf_add(&d->clean, payload, len) != 0) {
      o->oom |= d->clean.oom;
      return 0;
    }
    /* byte for byte into the copy: every bad byte becomes '?' */
    at_utf8_clean(d->clean.ptr, len + 1, payload, len, 0);
    payload = d->clean.ptr;
    if (!d->bad_utf8++)
      at_obs_parse_error(o, "event stream payload is not valid UTF-8 (bad "
                            "bytes shown as '?')");
  }
  if (at_es_str_is(m->message_type, "exception")) {
    stream_exception(o, m, payload, len);
  } else if (at_es_str_is(m->message_type, "error")) {
    char code[128], msg[AT_STATUS_MAX];
    es_text(code, sizeof code, m->error_code);
    es_text(msg, sizeof msg, m->error_message);
    if (code[0])
      at_obs_meta_str(o, "error_type", code);
    const char *say = msg[0] ? msg : code[0] ? code : "stream error";
    at_obs_raise(o, AT_LEVEL_ERROR, say, strlen(say));
  } else if (!m->message_type.p || at_es_str_is(m->message_type, "event")) {
    d->events++;
    if (d->fn)
      d->fn(d->arg, m->event_type, payload, len, m->end_offset);
  }
  return 0;
}

size_t at_bedrock_event_stream(struct at_obs *o, const char *body, size_t len,
                               at_bedrock_event_fn fn, void *arg) {
  struct drive d = {o, fn, arg, {0}, 0, 0};
  dynbuf_init(&d.clean, AT_BEDROCK_MESSAGE_MAX);
  struct at_es es;
  at_es_parse(&es, body, len, AT_BEDROCK_MESSAGE_MAX, drive_message, &d);
  if (es.error[0])
    at_obs_parse_error(o, "%s", es.error);
  at_es_free(&es);
  dynbuf_free(&d.clean);
  return d.events;
}

static void converse_event(void *arg, struct at_es_str type,
                           const char *payload, size_t len, size_t end_offset) {
  at_bedrock_cv_event(arg, type.p ? type.p : "", type.len, payload, len,
                      end_offset);
}

static void converse_stream(struct at_obs *o, const char *body, size_t len) {
  struct cv_stream *s = at_bedrock_cv_begin(o);
  if (!s)
    return;
  at_bedrock_response_model(o);
  at_bedrock_event_stream(o, body, len, converse_event, s);
  at_bedrock_cv_end(s);
  at_note_usage_missing(o, 0);
}

const struct at_api_parser at_bedrock_converse_parser = {
    "generation", "chat", at_bedrock_converse_request,
    at_bedrock_converse_response, converse_stream};
