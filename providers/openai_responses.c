/* openai_responses: the Responses API (/v1/responses), plain and streamed.
 * Input items and output items both become messages; the answer is one
 * assistant message whose parts follow the output items in order. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "json_util.h"
#include "jsontok.h"
#include "messages.h"
#include "parsers.h"
#include "sse.h"

#define MAX_ITEMS 256

/* ---- content and items ------------------------------------------------ */

static void input_content(struct at_obs *o, cJSON *parts, const cJSON *content,
                          const char *where) {
  if (cJSON_IsString(content)) {
    at_part_text(o, parts, "text", content->valuestring,
                 strlen(content->valuestring));
    return;
  }
  if (!cJSON_IsArray(content)) {
    if (content)
      at_obs_parse_error(o, "%s.content is not a string or array", where);
    return;
  }
  const cJSON *c;
  cJSON_ArrayForEach(c, content) {
    const char *type = at_json_str(c, "type");
    if (!type) {
      at_obs_parse_error(o, "%s.content[] has no type", where);
      continue;
    }
    if (!strcmp(type, "input_text") || !strcmp(type, "output_text") ||
        !strcmp(type, "text") || !strcmp(type, "summary_text") ||
        !strcmp(type, "reasoning_text")) {
      const char *t = at_obs_str(o, c, "text", where);
      if (t)
        at_part_text(o, parts,
                     strcmp(type, "summary_text") &&
                             strcmp(type, "reasoning_text")
                         ? "text"
                         : "reasoning",
                     t, strlen(t));
    } else if (!strcmp(type, "refusal")) {
      const char *t = at_obs_str(o, c, "refusal", where);
      if (t)
        at_part_text(o, parts, "refusal", t, strlen(t));
    } else if (!strcmp(type, "input_image")) {
      const char *url = at_json_str(c, "image_url");
      if (url)
        at_part_media_url(o, parts, "image", url);
      else
        at_part_file(o, parts, "image", at_json_str(c, "file_id"));
    } else if (!strcmp(type, "input_file")) {
      const char *data = at_json_str(c, "file_data");
      const char *url = at_json_str(c, "file_url");
      if (data || url)
        at_part_media_url(o, parts, "document", data ? data : url);
      else
        at_part_file(o, parts, "document", at_json_str(c, "file_id"));
    } else if (!strcmp(type, "input_audio")) {
      const cJSON *a = at_json_get(c, "input_audio");
      const char *data = at_json_str(a, "data");
      at_part_blob_b64(o, parts, "audio", NULL, data, data ? strlen(data) : 0);
    } else {
      at_part_other(o, parts, type);
    }
  }
}

/* Reasoning item: its summary (or reasoning text) when readable, else a
 * redacted marker (only encrypted_content came back). */
static void reasoning_item(struct at_obs *o, cJSON *parts, const cJSON *item) {
  struct dynbuf b;
  dynbuf_init(&b, AT_ASSEMBLED_MAX);
  const char *keys[] = {"summary", "content"};
  for (size_t k = 0; k < 2; k++) {
    const cJSON *arr = at_json_get(item, keys[k]);
    if (!cJSON_IsArray(arr))
      continue;
    const cJSON *s;
    cJSON_ArrayForEach(s, arr) {
      const char *t = at_json_str(s, "text");
      if (!t)
        continue;
      if (b.len)
        dynbuf_addstr(&b, "\n\n");
      dynbuf_addstr(&b, t);
    }
  }
  if (b.len)
    at_part_text(o, parts, "reasoning", b.ptr, b.len);
  else if (at_json_get(item, "encrypted_content"))
    at_part_redacted_reasoning(o, parts);
  dynbuf_free(&b);
}

static int is_call_item(const char *type) {
  return !strcmp(type, "function_call") || !strcmp(type, "custom_tool_call");
}

/* One output item into parts of the assistant message. Returns 1 when it
 * was a function call (for the finish reason). */
static int output_item(struct at_obs *o, cJSON *parts, const cJSON *item) {
  const char *type = at_json_str(item, "type");
  if (!type) {
    at_obs_parse_error(o, "response.output[] has no type");
    return 0;
  }
  if (!strcmp(type, "message")) {
    input_content(o, parts, at_json_get(item, "content"), "response.output[]");
  } else if (!strcmp(type, "reasoning")) {
    reasoning_item(o, parts, item);
  } else if (is_call_item(type)) {
    const char *args = at_json_str(item, "arguments");
    if (!args)
      args = at_json_str(item, "input"); /* custom tools */
    at_part_tool_call(o, parts, at_json_str(item, "call_id"),
                      at_json_str(item, "name"), args, args ? strlen(args) : 0);
    return 1;
  } else {
    /* Built-in tools run by OpenAI (web_search_call, file_search_call,
     * mcp_call, ...): a tool call named after the tool. */
    size_t n = strlen(type);
    char name[64];
    if (n > 5 && !strcmp(type + n - 5, "_call") && n - 5 < sizeof name) {
      memcpy(name, type, n - 5);
      name[n - 5] = '\0';
      const char *args = at_json_str(item, "arguments");
      at_part_tool_call(o, parts, at_json_str(item, "id"),
                        at_json_str(item, "name") ? at_json_str(item, "name")
                                                  : name,
                        args, args ? strlen(args) : 0);
    } else {
      at_part_other(o, parts, type);
    }
  }
  return 0;
}

/* An input item: a message ({role, content}), a function call or its
 * output, a reasoning item, or a reference. */
static void input_item(struct at_obs *o, const cJSON *item) {
  const char *where = "request.input[]";
  if (!cJSON_IsObject(item)) {
    at_obs_parse_error(o, "%s is not an object", where);
    return;
  }
  const char *type = at_json_str(item, "type");
  const char *role = at_json_str(item, "role");
  if (role && (!type || !strcmp(type, "message"))) {
    cJSON *parts = at_msg_add(o, o->input, role, NULL);
    input_content(o, parts, at_json_get(item, "content"), where);
    return;
  }
  if (!type) {
    at_obs_parse_error(o, "%s has neither role nor type", where);
    return;
  }
  if (!strcmp(type, "function_call_output") ||
      !strcmp(type, "custom_tool_call_output")) {
    cJSON *parts = at_msg_add(o, o->input, "tool", NULL);
    const cJSON *out = at_json_get(item, "output");
    if (cJSON_IsArray(out)) {
      cJSON *conv = cJSON_CreateArray();
      if (conv) {
        input_content(o, conv, out, where);
        at_part_tool_response(o, parts, at_json_str(item, "call_id"), conv);
      }
      o->oom |= !conv;
      cJSON_Delete(conv);
    } else {
      at_part_tool_response(o, parts, at_json_str(item, "call_id"), out);
    }
    return;
  }
  if (!strcmp(type, "item_reference")) {
    cJSON *parts = at_msg_add(o, o->input, "assistant", NULL);
    at_part_other(o, parts, type);
    return;
  }
  cJSON *parts = at_msg_add(o, o->input, "assistant", NULL);
  output_item(o, parts, item);
}

/* ---- request ---------------------------------------------------------- */

static const char *const responses_params[] = {
    "temperature",    "top_p",        "max_output_tokens",
    "tools",          "tool_choice",  "stream",
    "reasoning",      "text",         "parallel_tool_calls",
    "truncation",     "service_tier", "top_logprobs",
    "max_tool_calls", "background",   NULL,
};

static void responses_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  for (size_t i = 0; responses_params[i]; i++)
    at_obs_param(o, req, responses_params[i]);
  at_obs_meta_str(o, "previous_response_id",
                  at_json_str(req, "previous_response_id"));
  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  const char *instructions = at_obs_str(o, req, "instructions", "request");
  if (instructions) {
    cJSON *parts = at_msg_add(o, o->input, "system", NULL);
    at_part_text(o, parts, "text", instructions, strlen(instructions));
  }
  const cJSON *input = at_json_get(req, "input");
  if (cJSON_IsString(input)) {
    cJSON *parts = at_msg_add(o, o->input, "user", NULL);
    at_part_text(o, parts, "text", input->valuestring,
                 strlen(input->valuestring));
  } else if (cJSON_IsArray(input)) {
    const cJSON *item;
    cJSON_ArrayForEach(item, input) input_item(o, item);
  } else if (input) {
    at_obs_parse_error(o, "request.input is not a string or array");
  }
}

/* ---- response --------------------------------------------------------- */

/* The finish reason the Responses API does not have, from its status. */
static const char *finish_from_status(const cJSON *resp, int calls) {
  const char *status = at_json_str(resp, "status");
  if (!status)
    return NULL;
  if (!strcmp(status, "completed"))
    return calls ? "tool_calls" : "stop";
  if (!strcmp(status, "incomplete")) {
    const char *why =
        at_json_str(at_json_get(resp, "incomplete_details"), "reason");
    if (why && !strcmp(why, "max_output_tokens"))
      return "length";
    return why ? why : "incomplete";
  }
  if (!strcmp(status, "failed"))
    return "error";
  return status;
}

static void responses_usage(struct at_obs *o, const cJSON *usage) {
  const char *where = "response.usage";
  if (!usage)
    return;
  if (!cJSON_IsObject(usage)) {
    at_obs_parse_error(o, "%s is not an object", where);
    return;
  }
  at_obs_usage(o, usage, "input_tokens", where, AT_U_INPUT);
  at_obs_usage(o, usage, "output_tokens", where, AT_U_OUTPUT);
  at_obs_usage(o, usage, "total_tokens", where, AT_U_TOTAL);
  const cJSON *in = at_obs_objv(o, usage, "input_tokens_details", where);
  if (in)
    at_obs_usage(o, in, "cached_tokens", where, AT_U_CACHE_READ);
  const cJSON *out = at_obs_objv(o, usage, "output_tokens_details", where);
  if (out)
    at_obs_usage(o, out, "reasoning_tokens", where, AT_U_REASONING);
}

/* A whole response object: the plain answer, or the one a stream's
 * response.completed / .incomplete / .failed event carries. `items`
 * replaces response.output when given (a stream cut before its end). */
static void response_object(struct at_obs *o, const cJSON *resp,
                            const cJSON *items, int cut) {
  at_obs_set(o, &o->response_id, at_obs_str(o, resp, "id", "response"));
  at_obs_set(o, &o->response_model, at_obs_str(o, resp, "model", "response"));
  at_obs_meta_str(o, "service_tier", at_json_str(resp, "service_tier"));
  const cJSON *err = at_json_get(resp, "error");
  if (cJSON_IsObject(err)) { /* status "failed" */
    const char *msg = at_json_str(err, "message");
    at_obs_meta_str(o, "error_code", at_json_str(err, "code"));
    at_obs_raise(o, AT_LEVEL_ERROR, msg ? msg : "response failed",
                 strlen(msg ? msg : "response failed"));
  }
  const cJSON *output =
      items ? items : at_obs_arr(o, resp, "output", "response");
  if (output) {
    o->output = cJSON_CreateArray();
    cJSON *m;
    cJSON *parts = at_msg_add(o, o->output, "assistant", &m);
    int calls = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, output) calls |= output_item(o, parts, item);
    const char *fr = cut ? "error" : finish_from_status(resp, calls);
    if (fr) {
      if (m && !cJSON_AddStringToObject(m, "finish_reason", fr))
        o->oom = 1;
      at_obs_finish_reason(o, fr);
    }
  }
  responses_usage(o, at_json_get(resp, "usage"));
}

static void responses_response(struct at_obs *o, const cJSON *resp) {
  response_object(o, resp, NULL, 0);
  at_note_usage_missing(o, 0);
}

/* ---- stream ----------------------------------------------------------- */

/* What deltas told us about one output item, for a stream that never
 * reached its final event. */
struct item_acc {
  cJSON *item; /* from output_item.added, replaced by output_item.done */
  int done;
  struct dynbuf text, args, reasoning;
};

struct resp_stream {
  struct at_obs *o;
  struct jt jt;   /* the event being read, tokens reused */
  cJSON *final;   /* response of completed / incomplete / failed */
  cJSON *started; /* response of response.created (id, model) */
  size_t nitems;  /* highest output_index + 1 seen */
  size_t events;
  int bad_events;
  /* Repeats: when the last event was a delta that added text token
   * rep_tok to rep_to, and the next differs from it only there and in
   * members nothing reads (sequence_number, obfuscation, ...), that next
   * one adds its own text the same way without being read again. */
  int rep_tok;
  struct dynbuf *rep_to;
  /* last: set up one by one as used (item_index), not zeroed up front */
  struct item_acc items[MAX_ITEMS];
};

/* The members a delta event is read by. */
static const struct jt_key delta_keys[] = {
    JT_KEY("type"), JT_KEY("output_index"), JT_KEY("delta")};

/* The accumulator for output item i (< MAX_ITEMS), created on demand. */
static struct item_acc *item_index(struct resp_stream *s, size_t i) {
  while (s->nitems <= i) {
    struct item_acc *a = &s->items[s->nitems++];
    a->item = NULL;
    a->done = 0;
    dynbuf_init(&a->text, AT_ASSEMBLED_MAX);
    dynbuf_init(&a->args, AT_ASSEMBLED_MAX);
    dynbuf_init(&a->reasoning, AT_ASSEMBLED_MAX);
  }
  return &s->items[i];
}

static struct item_acc *item_at(struct resp_stream *s, const cJSON *ev) {
  int64_t i;
  if (!at_json_count(at_json_get(ev, "output_index"), &i) || i >= MAX_ITEMS)
    return NULL;
  return item_index(s, (size_t)i);
}

/* Move ev[key] into *slot when it is an object (no copy: the event tree
 * is about to be freed anyway). */
static void keep(cJSON **slot, cJSON *ev, const char *key) {
  cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(ev, key);
  if (!cJSON_IsObject(v)) {
    cJSON_Delete(v);
    return;
  }
  cJSON_Delete(*slot);
  *slot = v;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

/* The hot events, read without building a tree: response.*.delta with
 * an output_index and a piece of text. */
static void item_delta(struct resp_stream *s, const char *type, size_t offset) {
  const struct jt *j = &s->jt;
  int64_t i;
  if (!jt_count(j, JT_GET(j, 0, "output_index"), &i) || i >= MAX_ITEMS)
    return;
  struct item_acc *a = item_index(s, (size_t)i);
  struct dynbuf *to = NULL;
  if (!strcmp(type, "response.output_text.delta") ||
      !strcmp(type, "response.refusal.delta"))
    to = &a->text;
  else if (!strcmp(type, "response.function_call_arguments.delta") ||
           !strcmp(type, "response.custom_tool_call_input.delta"))
    to = &a->args;
  else if (!strcmp(type, "response.reasoning_summary_text.delta") ||
           !strcmp(type, "response.reasoning_text.delta"))
    to = &a->reasoning;
  /* audio, code interpreter, ...: not output we keep */
  int delta = JT_GET(j, 0, "delta");
  if (to && jt_str(j, delta, to) > 0)
    at_obs_first_output(s->o, offset);
  if (to && jt_type(j, delta) == JT_STRING) {
    s->rep_tok = delta;
    s->rep_to = to;
  }
}

static int responses_event(const struct at_sse_event *e, void *arg) {
  struct resp_stream *s = arg;
  struct at_obs *o = s->o;
  s->events++;
  int r = jt_parse(&s->jt, e->data, e->data_len);
  if (r == 0 && s->rep_tok >= 0 && jt_type(&s->jt, s->rep_tok) == JT_STRING &&
      jt_repeats(&s->jt, s->rep_tok, 0, delta_keys,
                 sizeof delta_keys / sizeof *delta_keys, 0, NULL)) {
    if (jt_str(&s->jt, s->rep_tok, s->rep_to) > 0)
      at_obs_first_output(o, e->end_offset);
    return 0;
  }
  s->rep_tok = -1;
  char tbuf[96];
  const char *t =
      r == 0 ? jt_strbuf(&s->jt, JT_GET(&s->jt, 0, "type"), tbuf, sizeof tbuf)
             : NULL;
  if (t && ends_with(t, ".delta")) {
    item_delta(s, t, e->end_offset);
    return 0;
  }
  /* Other events are few per item; response.completed can be too big for
   * the tokenizer: cJSON reads them. */
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
  if (!type)
    type = "";
  if (!strcmp(type, "error")) {
    const char *msg = at_json_str(ev, "message");
    if (msg) {
      at_obs_meta_str(o, "error_code", at_json_str(ev, "code"));
      at_obs_raise(o, AT_LEVEL_ERROR, msg, strlen(msg));
    } else {
      at_obs_json_error(o, ev);
    }
  } else if (!strcmp(type, "response.created") ||
             !strcmp(type, "response.in_progress")) {
    keep(&s->started, ev, "response");
  } else if (!strcmp(type, "response.completed") ||
             !strcmp(type, "response.incomplete") ||
             !strcmp(type, "response.failed")) {
    keep(&s->final, ev, "response");
  } else if (!strcmp(type, "response.output_item.added") ||
             !strcmp(type, "response.output_item.done")) {
    struct item_acc *a = item_at(s, ev);
    if (a && !a->done) {
      const char *it = at_json_str(at_json_get(ev, "item"), "type");
      if (it && is_call_item(it))
        at_obs_first_output(o, e->end_offset);
      keep(&a->item, ev, "item");
      a->done = ends_with(type, ".done");
    }
  }
  cJSON_Delete(ev);
  return 0;
}

/* Rebuild output items from what a cut stream delivered. */
static cJSON *partial_items(struct resp_stream *s) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr)
    return NULL;
  for (size_t i = 0; i < s->nitems; i++) {
    struct item_acc *a = &s->items[i];
    if (a->done && a->item) {
      cJSON_AddItemToArray(arr, cJSON_Duplicate(a->item, 1));
      continue;
    }
    const char *type = a->item ? at_json_str(a->item, "type") : NULL;
    cJSON *it = a->item ? cJSON_Duplicate(a->item, 1) : cJSON_CreateObject();
    if (!it)
      continue;
    if (!type)
      cJSON_AddStringToObject(it, "type",
                              a->args.len        ? "function_call"
                              : a->reasoning.len ? "reasoning"
                                                 : "message");
    type = at_json_str(it, "type");
    if (type && is_call_item(type)) {
      cJSON_DeleteItemFromObject(it, "arguments");
      cJSON_AddStringToObject(it, "arguments", a->args.ptr ? a->args.ptr : "");
    } else if (type && !strcmp(type, "reasoning")) {
      cJSON_DeleteItemFromObject(it, "summary");
      cJSON *sum = cJSON_AddArrayToObject(it, "summary");
      cJSON *part = cJSON_CreateObject();
      if (sum && part) {
        cJSON_AddStringToObject(part, "type", "summary_text");
        cJSON_AddStringToObject(part, "text",
                                a->reasoning.ptr ? a->reasoning.ptr : "");
        cJSON_AddItemToArray(sum, part);
      } else {
        cJSON_Delete(part);
      }
    } else {
      cJSON_DeleteItemFromObject(it, "content");
      cJSON *content = cJSON_AddArrayToObject(it, "content");
      cJSON *part = cJSON_CreateObject();
      if (content && part) {
        cJSON_AddStringToObject(part, "type", "output_text");
        cJSON_AddStringToObject(part, "text", a->text.ptr ? a->text.ptr : "");
        cJSON_AddItemToArray(content, part);
      } else {
        cJSON_Delete(part);
      }
    }
    cJSON_AddItemToArray(arr, it);
  }
  return arr;
}

static void responses_sse(struct at_obs *o, const char *body, size_t len) {
  struct resp_stream *s = malloc(sizeof(*s));
  if (!s) {
    o->oom = 1;
    return;
  }
  memset(s, 0, offsetof(struct resp_stream, items));
  s->o = o;
  s->rep_tok = -1;
  jt_init(&s->jt);
  struct at_sse sse;
  at_sse_parse(&sse, body, len, AT_SSE_EVENT_MAX, responses_event, s);
  if (sse.oversize)
    at_obs_parse_error(o, "stream: %zu event(s) larger than %u bytes skipped",
                       sse.oversize, AT_SSE_EVENT_MAX);
  at_sse_free(&sse);

  if (s->events == 0) {
    at_obs_parse_error(o, "stream has no events");
  } else if (s->final) {
    response_object(o, s->final, NULL, 0);
  } else {
    at_obs_parse_error(o, "stream ended before response.completed");
    cJSON *items = partial_items(s);
    cJSON *base = s->started ? s->started : cJSON_CreateObject();
    if (base && items)
      response_object(o, base, items, 1);
    if (base != s->started)
      cJSON_Delete(base);
    cJSON_Delete(items);
  }
  at_note_usage_missing(o, 0);
  for (size_t i = 0; i < s->nitems; i++) {
    cJSON_Delete(s->items[i].item);
    dynbuf_free(&s->items[i].text);
    dynbuf_free(&s->items[i].args);
    dynbuf_free(&s->items[i].reasoning);
  }
  cJSON_Delete(s->final);
  cJSON_Delete(s->started);
  jt_free(&s->jt);
  free(s);
}

const struct at_api_parser at_openai_responses_parser = {
    "generation", "chat", responses_request, responses_response, responses_sse};
