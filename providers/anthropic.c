/* anthropic: the Messages API (/v1/messages), plain and streamed.
 * Anthropic counts input_tokens without the cached and cache-written
 * tokens; the record's usage.input_tokens is the inclusive sum. */
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "json_util.h"
#include "jsontok.h"
#include "messages.h"
#include "parsers.h"
#include "sse.h"

#define MAX_BLOCKS 256

/* Exclusive counts as Anthropic reports them, combined at the end. */
struct anthropic_usage {
  int has_input, has_read, has_write, has_output, has_write_1h;
  int64_t input, read, write, output, write_1h;
};

static void read_usage(struct at_obs *o, const cJSON *u,
                       struct anthropic_usage *au) {
  const char *where = "usage";
  if (!u)
    return;
  if (!cJSON_IsObject(u)) {
    at_obs_parse_error(o, "usage is not an object");
    return;
  }
  /* Later reports (message_delta) override earlier ones (message_start)
   * for the counts they carry. */
  au->has_input |= at_obs_count(o, u, "input_tokens", where, &au->input);
  au->has_output |= at_obs_count(o, u, "output_tokens", where, &au->output);
  au->has_read |=
      at_obs_count(o, u, "cache_read_input_tokens", where, &au->read);
  /* The per-TTL breakdown, {"cache_creation": {"ephemeral_5m_...": n,
   * "ephemeral_1h_...": m}}, gives the 1-hour writes (priced apart), and
   * the total when cache_creation_input_tokens is absent. */
  const cJSON *cc = at_json_get(u, "cache_creation");
  int64_t w, a = 0, b = 0;
  int ha = at_json_count(at_json_get(cc, "ephemeral_5m_input_tokens"), &a);
  int hb = at_json_count(at_json_get(cc, "ephemeral_1h_input_tokens"), &b);
  if (at_obs_count(o, u, "cache_creation_input_tokens", where, &w)) {
    au->write = w;
    au->has_write = 1;
  } else if (ha || hb) {
    au->write = a + b;
    au->has_write = 1;
  }
  if (hb) {
    au->write_1h = b;
    au->has_write_1h = 1;
  }
}

static void apply_usage(struct at_obs *o, const struct anthropic_usage *au) {
  if (au->has_input) {
    int64_t in = au->input + (au->has_read ? au->read : 0) +
                 (au->has_write ? au->write : 0);
    at_usage_set(&o->usage, AT_U_INPUT, in);
  }
  if (au->has_output)
    at_usage_set(&o->usage, AT_U_OUTPUT, au->output);
  if (au->has_read)
    at_usage_set(&o->usage, AT_U_CACHE_READ, au->read);
  if (au->has_write)
    at_usage_set(&o->usage, AT_U_CACHE_WRITE, au->write);
  if (au->has_write && au->has_write_1h)
    at_usage_set(&o->usage, AT_U_CACHE_WRITE_1H, au->write_1h);
}

/* ---- content blocks --------------------------------------------------- */

static void source_part(struct at_obs *o, cJSON *parts, const char *modality,
                        const cJSON *src, const char *where) {
  const char *type = at_obs_str(o, src, "type", where);
  if (!type) {
    at_part_other(o, parts, modality);
    return;
  }
  if (!strcmp(type, "base64")) {
    const char *data = at_obs_str(o, src, "data", where);
    at_part_blob_b64(o, parts, modality, at_json_str(src, "media_type"), data,
                     data ? strlen(data) : 0);
  } else if (!strcmp(type, "url")) {
    at_part_media_url(o, parts, modality, at_obs_str(o, src, "url", where));
  } else if (!strcmp(type, "file")) {
    at_part_file(o, parts, modality, at_json_str(src, "file_id"));
  } else if (!strcmp(type, "text")) {
    const char *t = at_obs_str(o, src, "data", where);
    if (t)
      at_part_text(o, parts, "text", t, strlen(t));
  } else {
    at_part_other(o, parts, modality);
  }
}

/* Blocks nest only through tool_result content; deeper than this is not
 * a real conversation, and the bound keeps the recursion shallow. */
#define MAX_NESTING 4

static void blocks(struct at_obs *o, cJSON *parts, const cJSON *arr,
                   const char *where, int depth);

/* tool_result content: a string stays a string, blocks are converted. */
static void tool_result(struct at_obs *o, cJSON *parts, const cJSON *b,
                        const char *where, int depth) {
  const char *id = at_obs_str(o, b, "tool_use_id", where);
  const cJSON *content = at_json_get(b, "content");
  cJSON *resp = NULL;
  if (cJSON_IsArray(content)) {
    resp = cJSON_CreateArray();
    if (!resp) {
      o->oom = 1;
      return;
    }
    blocks(o, resp, content, where, depth + 1);
  } else if (content && !cJSON_IsString(content)) {
    at_obs_parse_error(o, "%s: tool_result content is not a string or array",
                       where);
    content = NULL;
  }
  at_part_tool_response(o, parts, id, resp ? resp : content);
  cJSON_Delete(resp);
  cJSON *last = cJSON_GetArrayItem(parts, cJSON_GetArraySize(parts) - 1);
  if (cJSON_IsTrue(at_json_get(b, "is_error")) && last)
    cJSON_AddTrueToObject(last, "is_error");
}

static void block(struct at_obs *o, cJSON *parts, const cJSON *b,
                  const char *where, int depth) {
  if (cJSON_IsString(b)) {
    at_part_text(o, parts, "text", b->valuestring, strlen(b->valuestring));
    return;
  }
  const char *type = at_obs_str(o, b, "type", where);
  if (!type) {
    at_obs_parse_error(o, "%s: a content block has no type", where);
    return;
  }
  if (!strcmp(type, "text")) {
    const char *t = at_obs_str(o, b, "text", where);
    if (t)
      at_part_text(o, parts, "text", t, strlen(t));
  } else if (!strcmp(type, "thinking")) {
    const char *t = at_obs_str(o, b, "thinking", where);
    at_part_text(o, parts, "reasoning", t ? t : "", t ? strlen(t) : 0);
  } else if (!strcmp(type, "redacted_thinking")) {
    at_part_redacted_reasoning(o, parts);
  } else if (!strcmp(type, "tool_use") || !strcmp(type, "server_tool_use") ||
             !strcmp(type, "mcp_tool_use")) {
    at_part_tool_call_value(o, parts, at_obs_str(o, b, "id", where),
                            at_obs_str(o, b, "name", where),
                            at_json_get(b, "input"));
  } else if ((!strcmp(type, "tool_result") ||
              !strcmp(type, "mcp_tool_result")) &&
             depth < MAX_NESTING) {
    tool_result(o, parts, b, where, depth);
  } else if (strlen(type) > 12 &&
             !strcmp(type + strlen(type) - 12, "_tool_result")) {
    /* server tool results (web_search_tool_result, ...): kept as sent */
    at_part_tool_response(o, parts, at_json_str(b, "tool_use_id"),
                          at_json_get(b, "content"));
  } else if (!strcmp(type, "image")) {
    source_part(o, parts, "image", at_json_get(b, "source"), where);
  } else if (!strcmp(type, "document")) {
    source_part(o, parts, "document", at_json_get(b, "source"), where);
  } else {
    at_part_other(o, parts, type);
  }
}

static void blocks(struct at_obs *o, cJSON *parts, const cJSON *arr,
                   const char *where, int depth) {
  const cJSON *b;
  cJSON_ArrayForEach(b, arr) block(o, parts, b, where, depth);
}

/* A message's content: a string or an array of blocks. */
static void content(struct at_obs *o, cJSON *parts, const cJSON *c,
                    const char *where) {
  if (cJSON_IsString(c))
    at_part_text(o, parts, "text", c->valuestring, strlen(c->valuestring));
  else if (cJSON_IsArray(c))
    blocks(o, parts, c, where, 0);
  else if (c)
    at_obs_parse_error(o, "%s.content is not a string or array", where);
}

/* One request message: its role and its content blocks. */
static void request_message(struct at_obs *o, const cJSON *m) {
  const char *where = "request.messages[]";
  const char *role = at_obs_message_role(o, m, where);
  if (!role)
    return;
  cJSON *parts = at_msg_add(o, o->input, role, NULL);
  content(o, parts, at_json_get(m, "content"), where);
}

/* ---- request ---------------------------------------------------------- */

static const char *const anthropic_params[] = {
    "max_tokens",     "temperature",  "top_p",       "top_k",
    "stop_sequences", "tools",        "tool_choice", "stream",
    "thinking",       "service_tier", "speed",       NULL,
};

static void messages_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  for (size_t i = 0; anthropic_params[i]; i++)
    at_obs_param(o, req, anthropic_params[i]);
  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  const cJSON *system = at_json_get(req, "system");
  if (system) {
    cJSON *parts = at_msg_add(o, o->input, "system", NULL);
    content(o, parts, system, "request.system");
  }
  at_obs_each_message(o, req, request_message);
}

/* ---- plain response --------------------------------------------------- */

static void messages_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_id, at_obs_str(o, resp, "id", "response"));
  at_obs_set(o, &o->response_model, at_obs_str(o, resp, "model", "response"));
  at_obs_meta_str(o, "stop_sequence", at_json_str(resp, "stop_sequence"));
  const cJSON *c = at_json_get(resp, "content");
  if (!c)
    at_obs_parse_error(o, "response has no content");
  o->output = cJSON_CreateArray();
  const char *role = at_json_str(resp, "role");
  cJSON *m;
  cJSON *parts = at_msg_add(o, o->output, role ? role : "assistant", &m);
  content(o, parts, c, "response");
  at_obs_finish(o, m, at_obs_str(o, resp, "stop_reason", "response"));
  struct anthropic_usage au = {0};
  const cJSON *u = at_json_get(resp, "usage");
  read_usage(o, u, &au);
  at_obs_meta_str(o, "service_tier", at_json_str(u, "service_tier"));
  apply_usage(o, &au);
  at_note_usage_missing(o, 0);
}

/* ---- stream ----------------------------------------------------------- */

struct block_acc {
  cJSON *start;       /* content_block_start's content_block */
  struct dynbuf text; /* text, thinking, or input JSON pieces */
  int seen;
};

struct msg_stream {
  struct at_obs *o;
  struct jt jt; /* the event being read, tokens reused */
  struct block_acc blocks[MAX_BLOCKS];
  size_t nblocks; /* highest index + 1 */
  struct anthropic_usage usage;
  char *stop_reason;
  int started, stopped;
  size_t events;
  int bad_events;
};

/* The accumulator for block i (< MAX_BLOCKS), created on demand. */
static struct block_acc *block_index(struct msg_stream *s, size_t i) {
  while (s->nblocks <= i)
    dynbuf_init(&s->blocks[s->nblocks++].text, AT_ASSEMBLED_MAX);
  return &s->blocks[i];
}

static struct block_acc *block_at(struct msg_stream *s, const cJSON *ev) {
  int64_t i;
  if (!at_json_count(at_json_get(ev, "index"), &i) || i >= MAX_BLOCKS)
    return NULL;
  return block_index(s, (size_t)i);
}

/* The hot event, read without building a tree: a piece of text, thinking
 * or tool input for block `index`. */
static void block_delta(struct msg_stream *s, size_t offset) {
  const struct jt *j = &s->jt;
  int64_t i;
  if (!jt_count(j, JT_GET(j, 0, "index"), &i) || i >= MAX_BLOCKS)
    return;
  struct block_acc *b = block_index(s, (size_t)i);
  b->seen = 1; /* even without its content_block_start */
  int d = JT_GET(j, 0, "delta");
  int piece = -1;
  if (jt_eq(j, JT_GET(j, d, "type"), "text_delta"))
    piece = JT_GET(j, d, "text");
  else if (jt_eq(j, JT_GET(j, d, "type"), "input_json_delta"))
    piece = JT_GET(j, d, "partial_json");
  else if (jt_eq(j, JT_GET(j, d, "type"), "thinking_delta"))
    piece = JT_GET(j, d, "thinking");
  /* signature_delta and citations_delta carry no output text */
  if (jt_str(j, piece, &b->text) > 0)
    at_obs_first_output(s->o, offset);
}

int at_anthropic_stream_event(const struct at_sse_event *e, void *arg) {
  struct msg_stream *s = arg;
  struct at_obs *o = s->o;
  s->events++;
  int r = jt_parse(&s->jt, e->data, e->data_len);
  if (r == 0 &&
      jt_eq(&s->jt, JT_GET(&s->jt, 0, "type"), "content_block_delta")) {
    block_delta(s, e->end_offset);
    return 0;
  }
  /* Everything else is rare (a few events per block): a cJSON tree is
   * simpler to read, and takes events too big for the tokenizer. */
  cJSON *ev = r == -1 ? NULL : at_json_parse(e->data, e->data_len);
  if (!cJSON_IsObject(ev)) {
    /* A last event cut off mid-way is the stream's cut, reported as
     * such; any other event that is not JSON is a problem of its own. */
    if (!e->unterminated && !s->bad_events++)
      at_obs_parse_error(o, "stream event is not a JSON object");
    cJSON_Delete(ev);
    return 0;
  }
  const char *type = at_json_str(ev, "type");
  if (!type) /* the SSE event name says the same thing */
    type = e->event;
  if (!strcmp(type, "message_start")) {
    const cJSON *msg = at_json_get(ev, "message");
    s->started = 1;
    at_obs_set(o, &o->response_id, at_json_str(msg, "id"));
    at_obs_set(o, &o->response_model, at_json_str(msg, "model"));
    read_usage(o, at_json_get(msg, "usage"), &s->usage);
  } else if (!strcmp(type, "content_block_start")) {
    struct block_acc *b = block_at(s, ev);
    const cJSON *cb = at_json_get(ev, "content_block");
    if (b && cJSON_IsObject(cb)) {
      cJSON_Delete(b->start);
      b->start = cJSON_Duplicate(cb, 1);
      o->oom |= !b->start;
      b->seen = 1;
      const char *bt = at_json_str(cb, "type");
      /* a block may start with text already in it */
      const char *t =
          at_json_str(cb, bt && !strcmp(bt, "thinking") ? "thinking" : "text");
      if (t && t[0]) {
        dynbuf_addstr(&b->text, t);
        at_obs_first_output(o, e->end_offset);
      }
      if (bt && (!strcmp(bt, "tool_use") || !strcmp(bt, "server_tool_use") ||
                 !strcmp(bt, "redacted_thinking")))
        at_obs_first_output(o, e->end_offset);
    }
  } else if (!strcmp(type, "message_delta")) {
    const cJSON *d = at_json_get(ev, "delta");
    const char *sr = at_json_str(d, "stop_reason");
    if (sr) {
      free(s->stop_reason);
      s->stop_reason = strdup(sr);
      o->oom |= !s->stop_reason;
    }
    at_obs_meta_str(o, "stop_sequence", at_json_str(d, "stop_sequence"));
    read_usage(o, at_json_get(ev, "usage"), &s->usage);
  } else if (!strcmp(type, "message_stop")) {
    s->stopped = 1;
  } else if (!strcmp(type, "error")) {
    if (!at_obs_json_error(o, ev))
      at_obs_raise(o, AT_LEVEL_ERROR, "stream error", 12);
  }
  /* ping, content_block_stop and unknown events carry nothing we keep */
  cJSON_Delete(ev);
  return 0;
}

static void emit_block(struct at_obs *o, cJSON *parts, struct block_acc *b) {
  /* deltas for a block never started are taken for text */
  const char *type = b->start ? at_json_str(b->start, "type") : "text";
  if (!type)
    return;
  if (!strcmp(type, "text")) {
    at_part_text(o, parts, "text", b->text.ptr ? b->text.ptr : "", b->text.len);
  } else if (!strcmp(type, "thinking")) {
    at_part_text(o, parts, "reasoning", b->text.ptr ? b->text.ptr : "",
                 b->text.len);
  } else if (!strcmp(type, "tool_use") || !strcmp(type, "server_tool_use") ||
             !strcmp(type, "mcp_tool_use")) {
    const char *id = at_json_str(b->start, "id");
    const char *name = at_json_str(b->start, "name");
    if (b->text.len) /* the input, streamed as JSON text */
      at_part_tool_call(o, parts, id, name, b->text.ptr, b->text.len);
    else
      at_part_tool_call_value(o, parts, id, name,
                              at_json_get(b->start, "input"));
  } else {
    block(o, parts, b->start, "stream", 0);
  }
}

struct msg_stream *at_anthropic_stream_begin(struct at_obs *o) {
  struct msg_stream *s = calloc(1, sizeof(*s));
  if (!s) {
    o->oom = 1;
    return NULL;
  }
  s->o = o;
  jt_init(&s->jt);
  return s;
}

void at_anthropic_stream_end(struct msg_stream *s) {
  if (!s)
    return;
  struct at_obs *o = s->o;
  if (s->events == 0)
    at_obs_parse_error(o, "stream has no events");
  else if (!s->stopped)
    at_obs_parse_error(o, "stream ended before message_stop");
  if (s->started || s->nblocks) {
    o->output = cJSON_CreateArray();
    cJSON *m;
    cJSON *parts = at_msg_add(o, o->output, "assistant", &m);
    for (size_t i = 0; i < s->nblocks; i++)
      if (s->blocks[i].seen)
        emit_block(o, parts, &s->blocks[i]);
    at_obs_finish(o, m, s->stop_reason ? s->stop_reason : "error");
  }
  apply_usage(o, &s->usage);
  at_note_usage_missing(o, 0);
  for (size_t i = 0; i < s->nblocks; i++) {
    cJSON_Delete(s->blocks[i].start);
    dynbuf_free(&s->blocks[i].text);
  }
  free(s->stop_reason);
  jt_free(&s->jt);
  free(s);
}

static void messages_sse(struct at_obs *o, const char *body, size_t len) {
  struct msg_stream *s = at_anthropic_stream_begin(o);
  if (!s)
    return;
  struct at_sse sse;
  at_sse_parse(&sse, body, len, AT_SSE_EVENT_MAX, at_anthropic_stream_event, s);
  if (sse.oversize)
    at_obs_parse_error(o, "stream: %zu event(s) larger than %u bytes skipped",
                       sse.oversize, AT_SSE_EVENT_MAX);
  at_sse_free(&sse);
  at_anthropic_stream_end(s);
}

const struct at_api_parser at_anthropic_messages_parser = {
    "generation", "chat", messages_request, messages_response, messages_sse};
