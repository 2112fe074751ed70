/* cohere: Cohere's native APIs — chat v2 (/v2/chat, plain and SSE), chat
 * v1 (/v1/chat, plain and NDJSON), the legacy generate (/v1/generate,
 * plain and NDJSON) and embed (/v1/embed, /v2/embed). Rerank is a
 * retriever (retrievers_rerank.c). Cohere's OpenAI-compatible
 * /compatibility/v1/... endpoints go through openai.c.
 *
 * Usage: Cohere reports two counts, `tokens` (what the model processed,
 * the prompt template included) and `billed_units` (what is charged).
 * The record's usage takes `tokens` when present — the provider's
 * inclusive count, as for every other provider — and billed_units
 * otherwise (the only count v1 generate and embed give); billed_units is
 * kept as sent in metadata.billed_units. Cohere's tool_plan (the text in
 * which the model says which tools it will call and why) is reasoning. */
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "json_util.h"
#include "jsontok.h"
#include "messages.h"
#include "ndjson.h"
#include "parsers.h"
#include "retrievers.h"
#include "sse.h"

#define MAX_BLOCKS 256
#define MAX_CALLS 128
#define MAX_GENERATIONS 64
#define CO_LINE_MAX (16u << 20)

/* ---- shared pieces ---------------------------------------------------- */

/* usage (v2) or meta (v1): {tokens: {input_tokens, output_tokens},
 * billed_units: {input_tokens, output_tokens, search_units, ...},
 * cached_tokens}. Each count from `tokens` when there, else from
 * billed_units. */
static void cohere_usage(struct at_obs *o, const cJSON *u, const char *where) {
  if (!u)
    return;
  if (!cJSON_IsObject(u)) {
    at_obs_parse_error(o, "%s is not an object", where);
    return;
  }
  const cJSON *tok = at_obs_objv(o, u, "tokens", where);
  const cJSON *billed = at_obs_objv(o, u, "billed_units", where);
  static const struct {
    const char *key;
    unsigned field;
  } counts[] = {{"input_tokens", AT_U_INPUT}, {"output_tokens", AT_U_OUTPUT}};
  for (size_t i = 0; i < 2; i++) {
    int64_t v;
    if (at_obs_count(o, tok, counts[i].key, where, &v) ||
        at_obs_count(o, billed, counts[i].key, where, &v))
      at_usage_set(&o->usage, counts[i].field, v);
  }
  int64_t cached;
  if (at_obs_count(o, u, "cached_tokens", where, &cached) && cached > 0)
    at_usage_set(&o->usage, AT_U_CACHE_READ, cached);
  if (billed) {
    cJSON_DeleteItemFromObjectCaseSensitive(o->meta, "billed_units");
    if (at_json_add_copy(o->meta, "billed_units", billed) != 0)
      o->oom = 1;
  }
}

/* p and k are Cohere's names for top_p and top_k. */
static void sampling_params(struct at_obs *o, const cJSON *req,
                            const char *const *keys) {
  for (size_t i = 0; keys[i]; i++)
    at_obs_param(o, req, keys[i]);
  const cJSON *p = at_json_get(req, "p");
  const cJSON *k = at_json_get(req, "k");
  if ((p && at_json_add_copy(o->params, "top_p", p) != 0) ||
      (k && at_json_add_copy(o->params, "top_k", k) != 0))
    o->oom = 1;
}

static void request_documents(struct at_obs *o, const cJSON *req) {
  const cJSON *docs = at_json_get(req, "documents");
  if (cJSON_IsArray(docs) && cJSON_GetArraySize(docs) > 0 &&
      !cJSON_AddNumberToObject(o->meta, "request_documents",
                               cJSON_GetArraySize(docs)))
    o->oom = 1;
}

static void text_part(struct at_obs *o, cJSON *parts, const char *type,
                      const char *s) {
  if (s)
    at_part_text(o, parts, type, s, strlen(s));
}

/* ---- chat v2: request ------------------------------------------------- */

/* Content: a string, or parts {type: text|thinking|image_url|document}. */
static void v2_content(struct at_obs *o, cJSON *parts, const cJSON *c,
                       const char *where) {
  if (cJSON_IsString(c)) {
    text_part(o, parts, "text", c->valuestring);
    return;
  }
  if (!c)
    return;
  if (!cJSON_IsArray(c)) {
    at_obs_parse_error(o, "%s.content is not a string or array", where);
    return;
  }
  const cJSON *p;
  cJSON_ArrayForEach(p, c) {
    const char *type = at_obs_str(o, p, "type", where);
    if (!type) {
      at_obs_parse_error(o, "%s: a content part has no type", where);
      continue;
    }
    if (!strcmp(type, "text")) {
      text_part(o, parts, "text", at_obs_str(o, p, "text", where));
    } else if (!strcmp(type, "thinking")) {
      text_part(o, parts, "reasoning", at_obs_str(o, p, "thinking", where));
    } else if (!strcmp(type, "image_url")) {
      const cJSON *iu = at_json_get(p, "image_url");
      const char *url = cJSON_IsString(iu) ? iu->valuestring
                                           : at_obs_str(o, iu, "url", where);
      at_part_media_url(o, parts, "image", url);
    } else {
      at_part_other(o, parts, type);
    }
  }
}

static void v2_tool_calls(struct at_obs *o, cJSON *parts, const cJSON *calls,
                          const char *where) {
  const cJSON *tc;
  cJSON_ArrayForEach(tc, calls) {
    if (!cJSON_IsObject(tc)) {
      at_obs_parse_error(o, "%s.tool_calls has a non-object", where);
      continue;
    }
    const cJSON *fn = at_obs_objv(o, tc, "function", where);
    const cJSON *args = at_json_get(fn, "arguments");
    const char *id = at_obs_str(o, tc, "id", where);
    const char *name = at_obs_str(o, fn, "name", where);
    if (cJSON_IsString(args))
      at_part_tool_call(o, parts, id, name, args->valuestring,
                        strlen(args->valuestring));
    else
      at_part_tool_call_value(o, parts, id, name, args);
  }
}

/* An assistant message (request history or answer): tool plan, content,
 * tool calls. */
static void v2_assistant(struct at_obs *o, cJSON *parts, const cJSON *msg,
                         const char *where) {
  const char *plan = at_obs_str(o, msg, "tool_plan", where);
  if (plan && plan[0])
    text_part(o, parts, "reasoning", plan);
  v2_content(o, parts, at_json_get(msg, "content"), where);
  const cJSON *calls = at_obs_arr(o, msg, "tool_calls", where);
  if (calls)
    v2_tool_calls(o, parts, calls, where);
}

static void v2_message(struct at_obs *o, const cJSON *msg) {
  const char *where = "request.messages[]";
  const char *role = at_obs_message_role(o, msg, where);
  if (!role)
    return;
  cJSON *parts = at_msg_add(o, o->input, role, NULL);
  if (!parts)
    return;
  if (!strcmp(role, "tool")) {
    /* the tool's output as sent: a string or document/text parts */
    at_part_tool_response(o, parts, at_obs_str(o, msg, "tool_call_id", where),
                          at_json_get(msg, "content"));
    return;
  }
  v2_assistant(o, parts, msg, where);
}

static const char *const v2_params[] = {
    "temperature",
    "max_tokens",
    "stop_sequences",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "tools",
    "tool_choice",
    "response_format",
    "stream",
    "safety_mode",
    "strict_tools",
    "thinking",
    "logprobs",
    "citation_options",
    "priority",
    NULL,
};

static void v2_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  sampling_params(o, req, v2_params);
  request_documents(o, req);
  at_obs_each_message(o, req, v2_message);
}

/* ---- chat v2: plain answer -------------------------------------------- */

static void v2_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_id, at_obs_str(o, resp, "id", "response"));
  const cJSON *msg = at_obs_objv(o, resp, "message", "response");
  if (msg) {
    o->output = cJSON_CreateArray();
    const char *role = at_json_str(msg, "role");
    cJSON *m;
    cJSON *parts = at_msg_add(o, o->output, role ? role : "assistant", &m);
    v2_assistant(o, parts, msg, "response.message");
    at_obs_finish(o, m, at_obs_str(o, resp, "finish_reason", "response"));
  } else if (!at_json_get(resp, "message")) {
    at_obs_parse_error(o, "response has no message");
  }
  cohere_usage(o, at_json_get(resp, "usage"), "response.usage");
  at_note_usage_missing(o, 0);
}

/* ---- chat v2: stream -------------------------------------------------- */

struct v2_block {
  int seen, thinking;
  struct dynbuf text;
};

struct v2_call {
  int seen;
  char *id, *name;
  struct dynbuf args;
};

struct v2_stream {
  struct at_obs *o;
  struct jt jt;
  struct v2_block blocks[MAX_BLOCKS];
  size_t nblocks;
  struct v2_call calls[MAX_CALLS];
  size_t ncalls;
  struct dynbuf plan;
  char role[32];
  char *reason;
  int started, ended, bad_events;
  size_t events;
};

static struct v2_block *v2_block_at(struct v2_stream *s, int64_t i) {
  if (i < 0 || i >= MAX_BLOCKS)
    return NULL;
  while (s->nblocks <= (size_t)i)
    dynbuf_init(&s->blocks[s->nblocks++].text, AT_ASSEMBLED_MAX);
  s->blocks[i].seen = 1;
  return &s->blocks[i];
}

static struct v2_call *v2_call_at(struct v2_stream *s, int64_t i) {
  if (i < 0 || i >= MAX_CALLS)
    return NULL;
  while (s->ncalls <= (size_t)i)
    dynbuf_init(&s->calls[s->ncalls++].args, AT_ASSEMBLED_MAX);
  s->calls[i].seen = 1;
  return &s->calls[i];
}

static void set_str(struct at_obs *o, char **slot, const char *v) {
  if (!v)
    return;
  free(*slot);
  *slot = strdup(v);
  o->oom |= !*slot;
}

/* The hot events, read from tokens: content-delta, tool-plan-delta,
 * tool-call-delta. Returns 1 when the event was one of them. */
static int v2_delta(struct v2_stream *s, size_t offset) {
  const struct jt *j = &s->jt;
  int type = JT_GET(j, 0, "type");
  int msg = JT_GET(j, JT_GET(j, 0, "delta"), "message");
  int64_t i = 0;
  if (jt_eq(j, type, "content-delta")) {
    if (!jt_count(j, JT_GET(j, 0, "index"), &i))
      i = 0;
    struct v2_block *b = v2_block_at(s, i);
    int c = JT_GET(j, msg, "content");
    int piece = JT_GET(j, c, "text");
    if (piece < 0 && (piece = JT_GET(j, c, "thinking")) >= 0 && b &&
        !b->text.len)
      b->thinking = 1;
    if (b && jt_str(j, piece, &b->text) > 0)
      at_obs_first_output(s->o, offset);
    return 1;
  }
  if (jt_eq(j, type, "tool-plan-delta")) {
    if (jt_str(j, JT_GET(j, msg, "tool_plan"), &s->plan) > 0)
      at_obs_first_output(s->o, offset);
    return 1;
  }
  if (jt_eq(j, type, "tool-call-delta")) {
    if (!jt_count(j, JT_GET(j, 0, "index"), &i))
      i = 0;
    struct v2_call *c = v2_call_at(s, i);
    int fn = JT_GET(j, JT_GET(j, msg, "tool_calls"), "function");
    if (c)
      jt_str(j, JT_GET(j, fn, "arguments"), &c->args);
    return 1;
  }
  return 0;
}

static int v2_event(const struct at_sse_event *e, void *arg) {
  struct v2_stream *s = arg;
  struct at_obs *o = s->o;
  s->events++;
  if (e->data_len == 6 && !memcmp(e->data, "[DONE]", 6))
    return 0;
  int r = jt_parse(&s->jt, e->data, e->data_len);
  if (r == 0 && v2_delta(s, e->end_offset))
    return 0;
  cJSON *ev = r == -1 ? NULL : at_json_parse(e->data, e->data_len);
  if (!cJSON_IsObject(ev)) {
    if (!e->unterminated && !s->bad_events++)
      at_obs_parse_error(o, "stream event is not a JSON object");
    cJSON_Delete(ev);
    return 0;
  }
  const char *type = at_json_str(ev, "type");
  if (!type)
    type = e->event;
  const cJSON *delta = at_json_get(ev, "delta");
  const cJSON *msg = at_json_get(delta, "message");
  int64_t i = 0;
  if (!at_json_count(at_json_get(ev, "index"), &i))
    i = 0;
  if (!strcmp(type, "message-start")) {
    s->started = 1;
    at_obs_set(o, &o->response_id, at_json_str(ev, "id"));
    const char *role = at_json_str(msg, "role");
    if (role && strlen(role) < sizeof s->role)
      strcpy(s->role, role);
  } else if (!strcmp(type, "content-start")) {
    struct v2_block *b = v2_block_at(s, i);
    const cJSON *c = at_json_get(msg, "content");
    const char *ct = at_json_str(c, "type");
    if (b) {
      b->thinking = ct && !strcmp(ct, "thinking");
      const char *t = at_json_str(c, b->thinking ? "thinking" : "text");
      if (t && t[0]) {
        dynbuf_addstr(&b->text, t);
        at_obs_first_output(o, e->end_offset);
      }
    }
  } else if (!strcmp(type, "tool-call-start")) {
    struct v2_call *c = v2_call_at(s, i);
    const cJSON *tc = at_json_get(msg, "tool_calls");
    const cJSON *fn = at_json_get(tc, "function");
    if (c) {
      set_str(o, &c->id, at_json_str(tc, "id"));
      set_str(o, &c->name, at_json_str(fn, "name"));
      const char *a = at_json_str(fn, "arguments");
      if (a)
        dynbuf_addstr(&c->args, a);
    }
    at_obs_first_output(o, e->end_offset);
  } else if (!strcmp(type, "message-end")) {
    s->ended = 1;
    const char *fr = at_json_str(delta, "finish_reason");
    if (fr)
      set_str(o, &s->reason, fr);
    cohere_usage(o, at_json_get(delta, "usage"), "stream.usage");
    const cJSON *err = at_json_get(delta, "error");
    if (cJSON_IsString(err) && err->valuestring[0])
      at_obs_raise(o, AT_LEVEL_ERROR, err->valuestring,
                   strlen(err->valuestring));
  } else if (at_json_get(ev, "error") || !strcmp(type, "error")) {
    if (!at_obs_json_error(o, ev)) {
      const char *m = at_json_str(ev, "message");
      at_obs_raise(o, AT_LEVEL_ERROR, m ? m : "stream error",
                   m ? strlen(m) : 12);
    }
  }
  /* content-end, tool-call-end, citation-*, debug: nothing to keep */
  cJSON_Delete(ev);
  return 0;
}

static void v2_stream(struct at_obs *o, const char *body, size_t len) {
  struct v2_stream *s = calloc(1, sizeof(*s));
  if (!s) {
    o->oom = 1;
    return;
  }
  s->o = o;
  jt_init(&s->jt);
  dynbuf_init(&s->plan, AT_ASSEMBLED_MAX);
  struct at_sse sse;
  at_sse_parse(&sse, body, len, AT_SSE_EVENT_MAX, v2_event, s);
  if (sse.oversize)
    at_obs_parse_error(o, "stream: %zu event(s) larger than %u bytes skipped",
                       sse.oversize, AT_SSE_EVENT_MAX);
  at_sse_free(&sse);
  if (s->events == 0)
    at_obs_parse_error(o, "stream has no events");
  else if (!s->ended)
    at_obs_parse_error(o, "stream ended before message-end");
  if (s->started || s->nblocks || s->ncalls || s->plan.len) {
    o->output = cJSON_CreateArray();
    cJSON *m;
    cJSON *parts =
        at_msg_add(o, o->output, s->role[0] ? s->role : "assistant", &m);
    if (s->plan.len)
      at_part_text(o, parts, "reasoning", s->plan.ptr, s->plan.len);
    for (size_t i = 0; i < s->nblocks; i++) {
      struct v2_block *b = &s->blocks[i];
      if (b->seen)
        at_part_text(o, parts, b->thinking ? "reasoning" : "text",
                     b->text.ptr ? b->text.ptr : "", b->text.len);
    }
    for (size_t i = 0; i < s->ncalls; i++) {
      struct v2_call *c = &s->calls[i];
      if (c->seen)
        at_part_tool_call(o, parts, c->id, c->name,
                          c->args.ptr ? c->args.ptr : "", c->args.len);
    }
    at_obs_finish(o, m, s->reason ? s->reason : "error");
  }
  at_note_usage_missing(o, 0);
  for (size_t i = 0; i < s->nblocks; i++)
    dynbuf_free(&s->blocks[i].text);
  for (size_t i = 0; i < s->ncalls; i++) {
    free(s->calls[i].id);
    free(s->calls[i].name);
    dynbuf_free(&s->calls[i].args);
  }
  dynbuf_free(&s->plan);
  free(s->reason);
  jt_free(&s->jt);
  free(s);
}

/* ---- chat v1: request ------------------------------------------------- */

/* USER, CHATBOT, SYSTEM, TOOL → the record's roles. */
static const char *v1_role(const char *r, char *buf, size_t cap) {
  if (!strcmp(r, "USER"))
    return "user";
  if (!strcmp(r, "CHATBOT"))
    return "assistant";
  if (!strcmp(r, "SYSTEM"))
    return "system";
  if (!strcmp(r, "TOOL"))
    return "tool";
  size_t i = 0;
  for (; r[i] && i + 1 < cap; i++)
    buf[i] = (char)((r[i] >= 'A' && r[i] <= 'Z') ? r[i] + 32 : r[i]);
  buf[i] = '\0';
  return buf;
}

/* v1 tool calls: [{name, parameters: {...}}], no ids. */
static void v1_tool_calls(struct at_obs *o, cJSON *parts, const cJSON *calls,
                          const char *where) {
  const cJSON *tc;
  cJSON_ArrayForEach(tc, calls) {
    if (!cJSON_IsObject(tc)) {
      at_obs_parse_error(o, "%s.tool_calls has a non-object", where);
      continue;
    }
    at_part_tool_call_value(o, parts, NULL, at_obs_str(o, tc, "name", where),
                            at_json_get(tc, "parameters"));
  }
}

/* v1 tool results: [{call: {name, parameters}, outputs: [{...}]}] → a
 * tool message with one response per result (v1 has no call ids). */
static void v1_tool_results(struct at_obs *o, const cJSON *results,
                            const char *where) {
  if (!cJSON_GetArraySize(results))
    return;
  cJSON *parts = at_msg_add(o, o->input, "tool", NULL);
  const cJSON *tr;
  cJSON_ArrayForEach(tr, results) {
    if (!cJSON_IsObject(tr)) {
      at_obs_parse_error(o, "%s.tool_results has a non-object", where);
      continue;
    }
    at_part_tool_response(o, parts, NULL, at_json_get(tr, "outputs"));
    const cJSON *call = at_json_get(tr, "call");
    const char *name = at_json_str(call, "name");
    cJSON *last = cJSON_GetArrayItem(parts, cJSON_GetArraySize(parts) - 1);
    if (name && last && !cJSON_AddStringToObject(last, "name", name))
      o->oom = 1;
  }
}

static void v1_history_entry(struct at_obs *o, const cJSON *h) {
  const char *where = "request.chat_history[]";
  if (!cJSON_IsObject(h)) {
    at_obs_parse_error(o, "%s is not an object", where);
    return;
  }
  const char *r = at_obs_str(o, h, "role", where);
  char buf[32];
  const char *role = r ? v1_role(r, buf, sizeof buf) : "user";
  if (!r)
    at_obs_parse_error(o, "%s has no role", where);
  if (!strcmp(role, "tool")) {
    v1_tool_results(o, at_obs_arr(o, h, "tool_results", where), where);
    return;
  }
  cJSON *parts = at_msg_add(o, o->input, role, NULL);
  const char *text = at_obs_str(o, h, "message", where);
  if (text && text[0])
    text_part(o, parts, "text", text);
  const cJSON *calls = at_obs_arr(o, h, "tool_calls", where);
  if (calls)
    v1_tool_calls(o, parts, calls, where);
}

static const char *const v1_params[] = {
    "temperature",
    "max_tokens",
    "max_input_tokens",
    "stop_sequences",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "tools",
    "stream",
    "connectors",
    "prompt_truncation",
    "search_queries_only",
    "citation_quality",
    "force_single_step",
    "response_format",
    "safety_mode",
    "raw_prompting",
    NULL,
};

static void v1_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  sampling_params(o, req, v1_params);
  request_documents(o, req);
  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  const char *preamble = at_obs_str(o, req, "preamble", "request");
  if (preamble && preamble[0])
    text_part(o, at_msg_add(o, o->input, "system", NULL), "text", preamble);
  const cJSON *hist = at_obs_arr(o, req, "chat_history", "request");
  const cJSON *h;
  cJSON_ArrayForEach(h, hist) v1_history_entry(o, h);
  const cJSON *results = at_obs_arr(o, req, "tool_results", "request");
  if (results)
    v1_tool_results(o, results, "request");
  const char *message = at_obs_str(o, req, "message", "request");
  if (message && (message[0] || !results))
    text_part(o, at_msg_add(o, o->input, "user", NULL), "text", message);
  else if (!message && !results)
    at_obs_parse_error(o, "request has no message");
}

/* ---- chat v1: answers ------------------------------------------------- */

/* A v1 chat answer object: the plain body, or a stream's stream-end
 * response. `text` overrides the object's text (assembled deltas). */
static void v1_answer(struct at_obs *o, const cJSON *resp, const char *text,
                      size_t text_len, const cJSON *calls_override,
                      const char *reason_override) {
  const char *id = at_obs_str(o, resp, "response_id", "response");
  const char *gen = at_obs_str(o, resp, "generation_id", "response");
  at_obs_set(o, &o->response_id, id ? id : gen);
  at_obs_meta_str(o, "generation_id", gen);
  o->output = cJSON_CreateArray();
  cJSON *m;
  cJSON *parts = at_msg_add(o, o->output, "assistant", &m);
  if (text) {
    at_part_text(o, parts, "text", text, text_len);
  } else {
    const char *t = at_obs_str(o, resp, "text", "response");
    if (t)
      text_part(o, parts, "text", t);
  }
  const cJSON *calls = at_obs_arr(o, resp, "tool_calls", "response");
  if (!cJSON_GetArraySize(calls))
    calls = calls_override;
  if (calls)
    v1_tool_calls(o, parts, calls, "response");
  const char *fr = at_obs_str(o, resp, "finish_reason", "response");
  at_obs_finish(o, m, fr ? fr : reason_override);
  cohere_usage(o, at_json_get(resp, "meta"), "response.meta");
}

static void v1_response(struct at_obs *o, const cJSON *resp) {
  v1_answer(o, resp, NULL, 0, NULL, NULL);
  at_note_usage_missing(o, 0);
}

/* v1 chat NDJSON: stream-start, text-generation, tool-calls-chunk,
 * tool-calls-generation, citation-generation, search-*, stream-end. */
struct v1_stream {
  struct at_obs *o;
  struct jt jt;
  struct dynbuf text;
  cJSON *calls; /* tool-calls-generation's calls, as sent */
  struct v2_call chunks[MAX_CALLS];
  size_t nchunks;
  cJSON *end; /* stream-end's event */
  char *gen_id;
  int bad_lines;
  size_t lines;
  int generate; /* /v1/generate: pieces by generation index */
  struct dynbuf gens[MAX_GENERATIONS];
  size_t ngens;
};

static int v1_line(const struct at_ndjson_line *l, void *arg) {
  struct v1_stream *s = arg;
  struct at_obs *o = s->o;
  struct jt *j = &s->jt;
  s->lines++;
  int r = jt_parse(j, l->data, l->len);
  if (r == 0 && jt_type(j, 0) == JT_OBJECT) {
    int et = JT_GET(j, 0, "event_type");
    int fin = JT_GET(j, 0, "is_finished");
    if (s->generate && jt_type(j, fin) == JT_FALSE) {
      int64_t i = 0;
      if (!jt_count(j, JT_GET(j, 0, "index"), &i))
        i = 0;
      if (i < MAX_GENERATIONS) {
        while (s->ngens <= (size_t)i)
          dynbuf_init(&s->gens[s->ngens++], AT_ASSEMBLED_MAX);
        if (jt_str(j, JT_GET(j, 0, "text"), &s->gens[i]) > 0)
          at_obs_first_output(o, l->end_offset);
      }
      return 0;
    }
    if (jt_eq(j, et, "text-generation")) {
      if (jt_str(j, JT_GET(j, 0, "text"), &s->text) > 0)
        at_obs_first_output(o, l->end_offset);
      return 0;
    }
    if (jt_eq(j, et, "tool-calls-chunk")) {
      int d = JT_GET(j, 0, "tool_call_delta");
      int64_t i = 0;
      if (!jt_count(j, JT_GET(j, d, "index"), &i))
        i = 0;
      if (d >= 0 && i < MAX_CALLS) {
        while (s->nchunks <= (size_t)i)
          dynbuf_init(&s->chunks[s->nchunks++].args, AT_ASSEMBLED_MAX);
        struct v2_call *c = &s->chunks[i];
        c->seen = 1;
        char name[256];
        if (jt_strbuf(j, JT_GET(j, d, "name"), name, sizeof name))
          set_str(o, &c->name, name);
        jt_str(j, JT_GET(j, d, "parameters"), &c->args);
        at_obs_first_output(o, l->end_offset);
      }
      return 0;
    }
  }
  cJSON *ev = r == -1 ? NULL : at_json_parse(l->data, l->len);
  if (!cJSON_IsObject(ev)) {
    if (!l->unterminated && !s->bad_lines++)
      at_obs_parse_error(o, "stream line is not a JSON object");
    cJSON_Delete(ev);
    return 0;
  }
  const char *et = at_json_str(ev, "event_type");
  if (et && !strcmp(et, "stream-start")) {
    set_str(o, &s->gen_id, at_json_str(ev, "generation_id"));
  } else if (et && !strcmp(et, "tool-calls-generation")) {
    const cJSON *calls = at_json_get(ev, "tool_calls");
    if (cJSON_IsArray(calls)) {
      cJSON_Delete(s->calls);
      s->calls = cJSON_Duplicate(calls, 1);
      o->oom |= !s->calls;
      at_obs_first_output(o, l->end_offset);
    }
  } else if ((et && !strcmp(et, "stream-end")) ||
             cJSON_IsTrue(at_json_get(ev, "is_finished"))) {
    cJSON_Delete(s->end);
    s->end = ev;
    ev = NULL;
  } else if (at_json_get(ev, "error") || at_json_get(ev, "message")) {
    /* {"message": "..."} is how Cohere words a failure */
    if (!at_obs_json_error(o, ev)) {
      const char *m = at_json_str(ev, "message");
      if (m)
        at_obs_raise(o, AT_LEVEL_ERROR, m, strlen(m));
    }
  }
  cJSON_Delete(ev);
  return 0;
}

/* Tool calls assembled from tool-calls-chunk pieces. */
static cJSON *v1_chunk_calls(struct v1_stream *s) {
  if (!s->nchunks)
    return NULL;
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; arr && i < s->nchunks; i++) {
    struct v2_call *c = &s->chunks[i];
    if (!c->seen)
      continue;
    cJSON *tc = cJSON_CreateObject();
    if (!tc) {
      s->o->oom = 1;
      break;
    }
    cJSON_AddItemToArray(arr, tc);
    if (c->name)
      cJSON_AddStringToObject(tc, "name", c->name);
    cJSON *args = c->args.len ? at_json_parse(c->args.ptr, c->args.len) : NULL;
    if (args)
      cJSON_AddItemToObject(tc, "parameters", args);
    else if (c->args.len)
      at_json_add_strn(tc, "parameters", c->args.ptr, c->args.len);
  }
  s->o->oom |= !arr;
  return arr;
}

static void v1_generate_finish(struct v1_stream *s);

static void v1_stream_run(struct at_obs *o, const char *body, size_t len,
                          int generate) {
  struct v1_stream *s = calloc(1, sizeof(*s));
  if (!s) {
    o->oom = 1;
    return;
  }
  s->o = o;
  s->generate = generate;
  jt_init(&s->jt);
  dynbuf_init(&s->text, AT_ASSEMBLED_MAX);
  struct at_ndjson nd;
  at_ndjson_parse(&nd, body, len, CO_LINE_MAX, v1_line, s);
  if (nd.oversize)
    at_obs_parse_error(o, "stream: %zu line(s) longer than %u bytes skipped",
                       nd.oversize, CO_LINE_MAX);
  at_ndjson_free(&nd);
  if (s->lines == 0)
    at_obs_parse_error(o, "stream has no lines");
  else if (!s->end)
    at_obs_parse_error(o, "stream ended before stream-end");

  if (generate) {
    v1_generate_finish(s);
  } else {
    const cJSON *resp = at_json_get(s->end, "response");
    cJSON *chunk_calls = s->calls ? NULL : v1_chunk_calls(s);
    const cJSON *calls = s->calls ? s->calls : chunk_calls;
    const char *reason = at_json_str(s->end, "finish_reason");
    if (resp) {
      v1_answer(o, resp, s->text.len ? s->text.ptr : NULL, s->text.len, calls,
                reason);
    } else if (s->lines) {
      /* cut before stream-end: what the deltas said */
      o->output = cJSON_CreateArray();
      cJSON *m;
      cJSON *parts = at_msg_add(o, o->output, "assistant", &m);
      at_part_text(o, parts, "text", s->text.ptr ? s->text.ptr : "",
                   s->text.len);
      if (calls)
        v1_tool_calls(o, parts, calls, "stream");
      at_obs_finish(o, m, reason ? reason : "error");
    }
    if (!o->response_id)
      at_obs_set(o, &o->response_id, s->gen_id);
    if (s->gen_id)
      at_obs_meta_str(o, "generation_id", s->gen_id);
    cJSON_Delete(chunk_calls);
  }
  at_note_usage_missing(o, 0);
  cJSON_Delete(s->calls);
  cJSON_Delete(s->end);
  for (size_t i = 0; i < s->nchunks; i++) {
    free(s->chunks[i].name);
    free(s->chunks[i].id);
    dynbuf_free(&s->chunks[i].args);
  }
  for (size_t i = 0; i < s->ngens; i++)
    dynbuf_free(&s->gens[i]);
  dynbuf_free(&s->text);
  free(s->gen_id);
  jt_free(&s->jt);
  free(s);
}

static void v1_stream(struct at_obs *o, const char *body, size_t len) {
  v1_stream_run(o, body, len, 0);
}

/* ---- generate (v1, legacy) -------------------------------------------- */

static const char *const generate_params[] = {
    "max_tokens",
    "temperature",
    "stop_sequences",
    "end_sequences",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "num_generations",
    "return_likelihoods",
    "truncate",
    "stream",
    "raw_prompting",
    NULL,
};

static void generate_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  sampling_params(o, req, generate_params);
  const char *prompt = at_obs_str(o, req, "prompt", "request");
  if (!prompt) {
    if (!at_json_get(req, "prompt"))
      at_obs_parse_error(o, "request has no prompt");
    return;
  }
  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  text_part(o, at_msg_add(o, o->input, "user", NULL), "text", prompt);
}

/* generations[] in index order (the field is absent with one). */
static void generations_output(struct at_obs *o, const cJSON *gens,
                               struct dynbuf *texts, size_t ntexts) {
  const cJSON *sorted[MAX_GENERATIONS];
  size_t n = 0;
  const cJSON *g;
  cJSON_ArrayForEach(g, gens) {
    if (n == MAX_GENERATIONS)
      break;
    sorted[n++] = g;
  }
  for (size_t i = 1; i < n; i++) { /* insertion sort by index, stable */
    const cJSON *x = sorted[i];
    int64_t xi = 0, yi;
    at_json_count(at_json_get(x, "index"), &xi);
    size_t k = i;
    while (k > 0) {
      yi = 0;
      at_json_count(at_json_get(sorted[k - 1], "index"), &yi);
      if (yi <= xi)
        break;
      sorted[k] = sorted[k - 1];
      k--;
    }
    sorted[k] = x;
  }
  o->output = cJSON_CreateArray();
  int all_reasons = 1;
  for (size_t i = 0; i < n; i++) {
    const char *where = "response.generations[]";
    if (!cJSON_IsObject(sorted[i])) {
      at_obs_parse_error(o, "%s is not an object", where);
      continue;
    }
    cJSON *m;
    cJSON *parts = at_msg_add(o, o->output, "assistant", &m);
    if (i < ntexts && texts[i].len)
      at_part_text(o, parts, "text", texts[i].ptr, texts[i].len);
    else
      text_part(o, parts, "text", at_obs_str(o, sorted[i], "text", where));
    const char *fr = at_obs_str(o, sorted[i], "finish_reason", where);
    if (fr && m && !cJSON_AddStringToObject(m, "finish_reason", fr))
      o->oom = 1;
    all_reasons &= fr != NULL;
  }
  if (all_reasons)
    for (size_t i = 0; i < n; i++)
      at_obs_finish_reason(o, at_json_str(sorted[i], "finish_reason"));
}

static void generate_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_id, at_obs_str(o, resp, "id", "response"));
  const cJSON *gens = at_obs_arr(o, resp, "generations", "response");
  if (gens)
    generations_output(o, gens, NULL, 0);
  else if (!at_json_get(resp, "generations"))
    at_obs_parse_error(o, "response has no generations");
  cohere_usage(o, at_json_get(resp, "meta"), "response.meta");
  at_note_usage_missing(o, 0);
}

/* The generate stream's end: {"is_finished": true, "finish_reason",
 * "response": {id, generations, meta}}; cut before it, the pieces. */
static void v1_generate_finish(struct v1_stream *s) {
  struct at_obs *o = s->o;
  const cJSON *resp = at_json_get(s->end, "response");
  const cJSON *gens = at_json_get(resp, "generations");
  if (cJSON_IsArray(gens)) {
    at_obs_set(o, &o->response_id, at_json_str(resp, "id"));
    generations_output(o, gens, s->gens, s->ngens);
    cohere_usage(o, at_json_get(resp, "meta"), "response.meta");
    return;
  }
  if (!s->ngens)
    return;
  o->output = cJSON_CreateArray();
  const char *reason = at_json_str(s->end, "finish_reason");
  for (size_t i = 0; i < s->ngens; i++) {
    cJSON *m;
    cJSON *parts = at_msg_add(o, o->output, "assistant", &m);
    at_part_text(o, parts, "text", s->gens[i].ptr ? s->gens[i].ptr : "",
                 s->gens[i].len);
    at_obs_finish(o, m, reason && s->ngens == 1 ? reason : "error");
  }
}

static void generate_stream(struct at_obs *o, const char *body, size_t len) {
  v1_stream_run(o, body, len, 1);
}

/* ---- embed (v1 and v2) ------------------------------------------------ */

static void embed_input_entry(struct at_obs *o, const cJSON *in) {
  /* v2 inputs: {"content": [{type: text|image_url}]} */
  const cJSON *c;
  cJSON_ArrayForEach(c, at_json_get(in, "content")) {
    const char *type = at_json_str(c, "type");
    if (type && !strcmp(type, "text")) {
      const char *t = at_json_str(c, "text");
      if (t && !cJSON_AddItemToArray(o->input, cJSON_CreateString(t)))
        o->oom = 1;
    } else if (type && !strcmp(type, "image_url")) {
      const cJSON *iu = at_json_get(c, "image_url");
      at_part_media_url(o, o->input, "image",
                        cJSON_IsString(iu) ? iu->valuestring
                                           : at_json_str(iu, "url"));
    }
  }
}

static void embed_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  static const char *const keys[] = {"input_type", "embedding_types",
                                     "truncate",   "output_dimension",
                                     "max_tokens", NULL};
  for (size_t i = 0; keys[i]; i++)
    at_obs_param(o, req, keys[i]);
  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  const cJSON *texts = at_obs_arr(o, req, "texts", "request");
  const cJSON *t;
  cJSON_ArrayForEach(t, texts) {
    if (!cJSON_IsString(t)) {
      at_obs_parse_error(o, "request.texts has an entry that is not text");
      continue;
    }
    if (!cJSON_AddItemToArray(o->input, cJSON_CreateString(t->valuestring)))
      o->oom = 1;
  }
  const cJSON *images = at_obs_arr(o, req, "images", "request");
  cJSON_ArrayForEach(t, images) {
    if (cJSON_IsString(t))
      at_part_media_url(o, o->input, "image", t->valuestring);
  }
  const cJSON *inputs = at_obs_arr(o, req, "inputs", "request");
  cJSON_ArrayForEach(t, inputs) embed_input_entry(o, t);
}

static void embed_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_id, at_obs_str(o, resp, "id", "response"));
  const cJSON *e = at_json_get(resp, "embeddings");
  /* embeddings_floats: [[...]]; embeddings_by_type: {float: [[...]], ...} */
  if (cJSON_IsObject(e))
    e = e->child;
  if (cJSON_IsArray(e)) {
    /* a vector, or the placeholder parse.c left for a long one */
    int dims = at_ret_vector_dims(cJSON_GetArrayItem(e, 0));
    o->output = cJSON_CreateObject();
    if (!o->output ||
        !cJSON_AddNumberToObject(o->output, "count", cJSON_GetArraySize(e)) ||
        (dims >= 0 && !cJSON_AddNumberToObject(o->output, "dimensions", dims)))
      o->oom = 1;
  } else if (!at_json_get(resp, "embeddings")) {
    at_obs_parse_error(o, "response has no embeddings");
  }
  cohere_usage(o, at_json_get(resp, "meta"), "response.meta");
  at_note_usage_missing(o, 0);
}

const struct at_api_parser at_cohere_chat_parser = {
    "generation", "chat", v2_request, v2_response, v2_stream};
const struct at_api_parser at_cohere_chat_v1_parser = {
    "generation", "chat", v1_request, v1_response, v1_stream};
const struct at_api_parser at_cohere_generate_parser = {
    "generation", "text_completion", generate_request, generate_response,
    generate_stream};
const struct at_api_parser at_cohere_embed_parser = {
    "embedding", "embeddings", embed_request, embed_response, NULL};
