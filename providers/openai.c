/* openai: Chat Completions (/v1/chat/completions) and legacy Completions
 * (/v1/completions), plain and streamed, for OpenAI and every compatible
 * server (Azure, Groq, Mistral, DeepSeek, Together, vLLM, Ollama, ...).
 * What is read and how it maps: docs/providers.md. */
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "json_util.h"
#include "jsontok.h"
#include "messages.h"
#include "parsers.h"
#include "sse.h"

#define MAX_CHOICES 128
#define MAX_TOOL_CALLS 128

/* ---- shared helpers --------------------------------------------------- */

void at_openai_usage(struct at_obs *o, const cJSON *usage, const char *where) {
  if (!usage)
    return;
  if (!cJSON_IsObject(usage)) {
    at_obs_parse_error(o, "%s is not an object", where);
    return;
  }
  at_obs_usage(o, usage, "prompt_tokens", where, AT_U_INPUT);
  at_obs_usage(o, usage, "completion_tokens", where, AT_U_OUTPUT);
  at_obs_usage(o, usage, "total_tokens", where, AT_U_TOTAL);
  const cJSON *pd = at_obs_objv(o, usage, "prompt_tokens_details", where);
  int64_t v;
  if (pd && at_obs_count(o, pd, "cached_tokens", where, &v))
    at_usage_set(&o->usage, AT_U_CACHE_READ, v);
  else if (at_obs_count(o, usage, "prompt_cache_hit_tokens", where, &v))
    at_usage_set(&o->usage, AT_U_CACHE_READ, v); /* DeepSeek */
  /* audio is priced apart; zero is the same as absent */
  if (pd && at_obs_count(o, pd, "audio_tokens", where, &v) && v > 0)
    at_usage_set(&o->usage, AT_U_INPUT_AUDIO, v);
  const cJSON *cd = at_obs_objv(o, usage, "completion_tokens_details", where);
  if (cd)
    at_obs_usage(o, cd, "reasoning_tokens", where, AT_U_REASONING);
  if (cd && at_obs_count(o, cd, "audio_tokens", where, &v) && v > 0)
    at_usage_set(&o->usage, AT_U_OUTPUT_AUDIO, v);
}

void at_param_stop(struct at_obs *o, const cJSON *req, const char *key) {
  const cJSON *stop = at_json_get(req, key);
  if (!stop)
    return;
  if (cJSON_IsString(stop)) {
    cJSON *arr = cJSON_CreateArray();
    cJSON *s = cJSON_CreateString(stop->valuestring);
    if (!arr || !s) {
      cJSON_Delete(arr);
      cJSON_Delete(s);
      o->oom = 1;
      return;
    }
    cJSON_AddItemToArray(arr, s);
    cJSON_AddItemToObject(o->params, key, arr);
  } else {
    at_obs_param(o, req, key);
  }
}

void at_note_usage_missing(struct at_obs *o, int streamed) {
  if (at_usage_any(&o->usage))
    return;
  const char *why = "the response carried no usage";
  if (streamed) {
    const cJSON *so = at_json_get(o->params, "stream_options");
    const cJSON *inc = at_json_get(so, "include_usage");
    why = cJSON_IsTrue(inc)
              ? "the stream carried no usage chunk"
              : "stream without stream_options.include_usage: the provider "
                "sent no usage";
  }
  at_obs_meta_str(o, "usage_missing", why);
}

/* Reasoning text that OpenAI-compatible servers put beside the content:
 * DeepSeek's reasoning_content, vLLM/Groq/Ollama's reasoning. */
static const char *reasoning_text(const cJSON *msg) {
  const char *r = at_json_str(msg, "reasoning_content");
  return r ? r : at_json_str(msg, "reasoning");
}

/* ---- request ---------------------------------------------------------- */

/* Content parts of a chat message (text, image_url, input_audio, file,
 * refusal) into parts. */
static void content_parts(struct at_obs *o, cJSON *parts, const cJSON *arr,
                          const char *where) {
  const cJSON *c;
  cJSON_ArrayForEach(c, arr) {
    if (cJSON_IsString(c)) { /* some clients send bare strings */
      at_part_text(o, parts, "text", c->valuestring, strlen(c->valuestring));
      continue;
    }
    const char *type = at_obs_str(o, c, "type", where);
    if (!type) {
      if (!cJSON_IsObject(c))
        at_obs_parse_error(o, "%s: a content part is not an object", where);
      continue;
    }
    if (!strcmp(type, "text") || !strcmp(type, "input_text") ||
        !strcmp(type, "output_text")) {
      const char *t = at_obs_str(o, c, "text", where);
      if (t)
        at_part_text(o, parts, "text", t, strlen(t));
    } else if (!strcmp(type, "refusal")) {
      const char *t = at_obs_str(o, c, "refusal", where);
      if (t)
        at_part_text(o, parts, "refusal", t, strlen(t));
    } else if (!strcmp(type, "image_url")) {
      const cJSON *iu = at_json_get(c, "image_url");
      const char *url = cJSON_IsString(iu) ? iu->valuestring
                                           : at_obs_str(o, iu, "url", where);
      at_part_media_url(o, parts, "image", url);
    } else if (!strcmp(type, "input_audio")) {
      const cJSON *a = at_obs_objv(o, c, "input_audio", where);
      const char *data = at_obs_str(o, a, "data", where);
      const char *fmt = at_obs_str(o, a, "format", where);
      char mime[64] = "";
      if (fmt && strlen(fmt) < 40)
        strcat(strcpy(mime, "audio/"), fmt);
      at_part_blob_b64(o, parts, "audio", mime, data, data ? strlen(data) : 0);
    } else if (!strcmp(type, "file")) {
      const cJSON *f = at_obs_objv(o, c, "file", where);
      const char *data = at_obs_str(o, f, "file_data", where);
      const char *id = at_obs_str(o, f, "file_id", where);
      if (data)
        at_part_media_url(o, parts, "document", data);
      else
        at_part_file(o, parts, "document", id);
    } else {
      at_part_other(o, parts, type);
    }
  }
}

/* A tool message's content as the tool's response: the string, or the
 * converted parts when it is an array. */
static void tool_response(struct at_obs *o, cJSON *parts, const char *id,
                          const cJSON *content, const char *where) {
  if (cJSON_IsArray(content)) {
    cJSON *conv = cJSON_CreateArray();
    if (!conv) {
      o->oom = 1;
      return;
    }
    content_parts(o, conv, content, where);
    at_part_tool_response(o, parts, id, conv);
    cJSON_Delete(conv);
    return;
  }
  if (content && !cJSON_IsString(content))
    at_obs_parse_error(o, "%s.content is not a string or array", where);
  at_part_tool_response(o, parts, id, cJSON_IsString(content) ? content : NULL);
}

static void tool_call_parts(struct at_obs *o, cJSON *parts, const cJSON *calls,
                            const char *where) {
  const cJSON *tc;
  cJSON_ArrayForEach(tc, calls) {
    if (!cJSON_IsObject(tc)) {
      at_obs_parse_error(o, "%s.tool_calls has a non-object", where);
      continue;
    }
    const char *id = at_obs_str(o, tc, "id", where);
    const cJSON *fn = at_json_get(tc, "function");
    const cJSON *custom = at_json_get(tc, "custom");
    if (custom) { /* custom tools: {"custom": {"name", "input"}} */
      const char *in = at_obs_str(o, custom, "input", where);
      at_part_tool_call(o, parts, id, at_obs_str(o, custom, "name", where), in,
                        in ? strlen(in) : 0);
      continue;
    }
    if (fn && !cJSON_IsObject(fn)) {
      at_obs_parse_error(o, "%s.tool_calls[].function is not an object", where);
      fn = NULL;
    }
    const char *args = at_obs_str(o, fn, "arguments", where);
    at_part_tool_call(o, parts, id, at_obs_str(o, fn, "name", where), args,
                      args ? strlen(args) : 0);
  }
}

static void function_call_part(struct at_obs *o, cJSON *parts, const cJSON *fc,
                               const char *where) {
  if (!cJSON_IsObject(fc)) {
    at_obs_parse_error(o, "%s.function_call is not an object", where);
    return;
  }
  const char *args = at_obs_str(o, fc, "arguments", where);
  at_part_tool_call(o, parts, NULL, at_obs_str(o, fc, "name", where), args,
                    args ? strlen(args) : 0);
}

/* The body of an assistant-side message (request history or response
 * choice): reasoning, content, refusal, tool calls. */
static void assistant_parts(struct at_obs *o, cJSON *parts, const cJSON *msg,
                            const char *where) {
  const char *r = reasoning_text(msg);
  if (r && r[0])
    at_part_text(o, parts, "reasoning", r, strlen(r));
  const cJSON *content = at_json_get(msg, "content");
  if (cJSON_IsString(content))
    at_part_text(o, parts, "text", content->valuestring,
                 strlen(content->valuestring));
  else if (cJSON_IsArray(content))
    content_parts(o, parts, content, where);
  else if (content)
    at_obs_parse_error(o, "%s.content is not a string or array", where);
  const char *refusal = at_obs_str(o, msg, "refusal", where);
  if (refusal)
    at_part_text(o, parts, "refusal", refusal, strlen(refusal));
  const cJSON *calls = at_obs_arr(o, msg, "tool_calls", where);
  if (calls)
    tool_call_parts(o, parts, calls, where);
  const cJSON *fc = at_json_get(msg, "function_call");
  if (fc)
    function_call_part(o, parts, fc, where);
}

static void chat_message(struct at_obs *o, const cJSON *msg) {
  const char *where = "request.messages[]";
  const char *role = at_obs_message_role(o, msg, where);
  if (!role)
    return;
  cJSON *m;
  cJSON *parts = at_msg_add(o, o->input, role, &m);
  if (!parts)
    return;
  const char *name = at_obs_str(o, msg, "name", where);
  if (name && !cJSON_AddStringToObject(m, "name", name))
    o->oom = 1;
  if (!strcmp(role, "tool") || !strcmp(role, "function")) {
    tool_response(o, parts, at_obs_str(o, msg, "tool_call_id", where),
                  at_json_get(msg, "content"), where);
    return;
  }
  assistant_parts(o, parts, msg, where);
}

static const char *const chat_params[] = {
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "stream",
    "stream_options",
    "n",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "response_format",
    "reasoning_effort",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "parallel_tool_calls",
    "service_tier",
    "modalities",
    "verbosity",
    "prediction",
    "web_search_options",
    NULL,
};

static void chat_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  for (size_t i = 0; chat_params[i]; i++)
    at_obs_param(o, req, chat_params[i]);
  at_param_stop(o, req, "stop");
  at_obs_each_message(o, req, chat_message);
}

static const char *const completion_params[] = {
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stream_options",
    "logprobs",
    "echo",
    "presence_penalty",
    "frequency_penalty",
    "best_of",
    "logit_bias",
    "seed",
    "suffix",
    NULL,
};

static void prompt_message(struct at_obs *o, const cJSON *p) {
  cJSON *parts = at_msg_add(o, o->input, "user", NULL);
  if (cJSON_IsString(p)) {
    at_part_text(o, parts, "text", p->valuestring, strlen(p->valuestring));
  } else if (cJSON_IsArray(p) || cJSON_IsNumber(p)) {
    /* token ids: the text is not knowable here, only how many */
    cJSON *tp = cJSON_CreateObject();
    if (!tp || !cJSON_AddStringToObject(tp, "type", "tokens") ||
        !cJSON_AddNumberToObject(
            tp, "count", cJSON_IsArray(p) ? cJSON_GetArraySize(p) : 1)) {
      cJSON_Delete(tp);
      o->oom = 1;
      return;
    }
    if (parts)
      cJSON_AddItemToArray(parts, tp);
    else
      cJSON_Delete(tp);
  } else {
    at_obs_parse_error(o, "request.prompt has an entry that is not text");
  }
}

static void completions_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  for (size_t i = 0; completion_params[i]; i++)
    at_obs_param(o, req, completion_params[i]);
  at_param_stop(o, req, "stop");
  const cJSON *prompt = at_json_get(req, "prompt");
  if (!prompt)
    return;
  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  /* A string, an array of strings, an array of token ids, or an array of
   * token arrays. */
  if (cJSON_IsArray(prompt) && cJSON_GetArraySize(prompt) > 0 &&
      !cJSON_IsNumber(cJSON_GetArrayItem(prompt, 0))) {
    const cJSON *p;
    cJSON_ArrayForEach(p, prompt) prompt_message(o, p);
  } else {
    prompt_message(o, prompt);
  }
}

/* ---- plain response --------------------------------------------------- */

static void response_common(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_id, at_obs_str(o, resp, "id", "response"));
  at_obs_set(o, &o->response_model, at_obs_str(o, resp, "model", "response"));
  at_obs_meta_str(o, "system_fingerprint",
                  at_json_str(resp, "system_fingerprint"));
  at_obs_meta_str(o, "service_tier", at_json_str(resp, "service_tier"));
}

/* Choices in index order. Fills idx[] with array positions; returns the
 * count (at most MAX_CHOICES). */
static size_t sorted_choices(const cJSON *choices, const cJSON **out) {
  size_t n = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, choices) {
    if (n == MAX_CHOICES)
      break;
    out[n++] = c;
  }
  /* insertion sort by "index": stable, n is small */
  for (size_t i = 1; i < n; i++) {
    const cJSON *x = out[i];
    int64_t xi = 0, yi = 0;
    at_json_count(at_json_get(x, "index"), &xi);
    size_t j = i;
    while (j > 0) {
      yi = 0;
      at_json_count(at_json_get(out[j - 1], "index"), &yi);
      if (yi <= xi)
        break;
      out[j] = out[j - 1];
      j--;
    }
    out[j] = x;
  }
  return n;
}

static void plain_choices(struct at_obs *o, const cJSON *resp, int legacy) {
  const cJSON *choices = at_obs_arr(o, resp, "choices", "response");
  if (!choices) {
    if (!at_json_get(resp, "choices"))
      at_obs_parse_error(o, "response has no choices");
    return;
  }
  const cJSON *sorted[MAX_CHOICES];
  size_t n = sorted_choices(choices, sorted);
  o->output = cJSON_CreateArray();
  if (!o->output) {
    o->oom = 1;
    return;
  }
  int all_reasons = 1;
  for (size_t i = 0; i < n; i++) {
    const cJSON *ch = sorted[i];
    const char *where = "response.choices[]";
    if (!cJSON_IsObject(ch)) {
      at_obs_parse_error(o, "%s is not an object", where);
      continue;
    }
    const cJSON *msg = legacy ? ch : at_obs_objv(o, ch, "message", where);
    const char *role = legacy ? NULL : at_json_str(msg, "role");
    cJSON *m;
    cJSON *parts = at_msg_add(o, o->output, role ? role : "assistant", &m);
    if (legacy) {
      const char *text = at_obs_str(o, ch, "text", where);
      if (text)
        at_part_text(o, parts, "text", text, strlen(text));
    } else if (msg) {
      assistant_parts(o, parts, msg, "response.choices[].message");
    }
    const char *fr = at_obs_str(o, ch, "finish_reason", where);
    if (fr && m && !cJSON_AddStringToObject(m, "finish_reason", fr))
      o->oom = 1;
    all_reasons &= fr != NULL;
  }
  /* finish_reasons lines up with the choices, so it is all or nothing */
  if (all_reasons && n) {
    for (size_t i = 0; i < n; i++)
      at_obs_finish_reason(o, at_json_str(sorted[i], "finish_reason"));
  }
}

static void chat_response(struct at_obs *o, const cJSON *resp) {
  response_common(o, resp);
  plain_choices(o, resp, 0);
  at_openai_usage(o, at_json_get(resp, "usage"), "response.usage");
  at_note_usage_missing(o, 0);
}

static void completions_response(struct at_obs *o, const cJSON *resp) {
  response_common(o, resp);
  plain_choices(o, resp, 1);
  at_openai_usage(o, at_json_get(resp, "usage"), "response.usage");
  at_note_usage_missing(o, 0);
}

/* ---- streamed response ------------------------------------------------ */

struct tool_acc {
  int64_t index; /* -1: the server gave none (Mistral) */
  struct dynbuf id, name, args;
};

struct choice_acc {
  int64_t index;
  char role[32];
  struct dynbuf content, reasoning, refusal;
  struct tool_acc *tools;
  size_t ntools, tools_cap;
  struct dynbuf fc_name, fc_args;
  int has_fc;
  char *finish; /* malloc()ed once known */
};

struct chat_stream {
  struct at_obs *o;
  int legacy; /* /v1/completions: choices[].text */
  struct choice_acc *choices;
  size_t nchoices, cap;
  struct jt jt;   /* the event being read, tokens reused */
  int done;       /* data: [DONE] seen */
  int bad_events; /* events whose data was not JSON */
  size_t events;
  unsigned meta_seen; /* META_* bits: metadata strings already copied */
  /* Repeats (repeat_event): when all the last event did that a second
   * reading would not undo was append text token rep_tok to choice
   * rep_choice, this is that token; -1 otherwise. */
  int rep_tok;
  size_t rep_choice;
};

/* Stream metadata copied from the first event that has it. */
enum { META_FINGERPRINT = 1, META_TIER = 2 };

static void buf_init(struct dynbuf *b) {
  dynbuf_init(b, AT_ASSEMBLED_MAX);
}

static struct choice_acc *choice_for(struct chat_stream *s, int64_t index) {
  for (size_t i = 0; i < s->nchoices; i++)
    if (s->choices[i].index == index)
      return &s->choices[i];
  if (s->nchoices == MAX_CHOICES)
    return NULL;
  if (s->nchoices == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4;
    void *p = realloc(s->choices, cap * sizeof(*s->choices));
    if (!p) {
      s->o->oom = 1;
      return NULL;
    }
    s->choices = p;
    s->cap = cap;
  }
  struct choice_acc *c = &s->choices[s->nchoices++];
  memset(c, 0, sizeof(*c));
  c->index = index;
  buf_init(&c->content);
  buf_init(&c->reasoning);
  buf_init(&c->refusal);
  buf_init(&c->fc_name);
  buf_init(&c->fc_args);
  return c;
}

static struct tool_acc *tool_for(struct chat_stream *s, struct choice_acc *c,
                                 int64_t index, const char *id) {
  if (index >= 0) {
    for (size_t i = 0; i < c->ntools; i++)
      if (c->tools[i].index == index)
        return &c->tools[i];
  } else if (c->ntools) {
    /* No index: a new id starts a new call, otherwise the last goes on. */
    struct tool_acc *last = &c->tools[c->ntools - 1];
    if (!id || !id[0] || (last->id.len && !strcmp(last->id.ptr, id)))
      return last;
  }
  if (c->ntools == MAX_TOOL_CALLS)
    return NULL;
  if (c->ntools == c->tools_cap) {
    size_t cap = c->tools_cap ? c->tools_cap * 2 : 4;
    void *p = realloc(c->tools, cap * sizeof(*c->tools));
    if (!p) {
      s->o->oom = 1;
      return NULL;
    }
    c->tools = p;
    c->tools_cap = cap;
  }
  struct tool_acc *t = &c->tools[c->ntools++];
  t->index = index;
  buf_init(&t->id);
  buf_init(&t->name);
  buf_init(&t->args);
  return t;
}

static void free_choices(struct chat_stream *s) {
  for (size_t i = 0; i < s->nchoices; i++) {
    struct choice_acc *c = &s->choices[i];
    dynbuf_free(&c->content);
    dynbuf_free(&c->reasoning);
    dynbuf_free(&c->refusal);
    dynbuf_free(&c->fc_name);
    dynbuf_free(&c->fc_args);
    for (size_t k = 0; k < c->ntools; k++) {
      dynbuf_free(&c->tools[k].id);
      dynbuf_free(&c->tools[k].name);
      dynbuf_free(&c->tools[k].args);
    }
    free(c->tools);
    free(c->finish);
  }
  free(s->choices);
}

static int tool_delta(struct chat_stream *s, struct choice_acc *c, int calls) {
  const struct jt *j = &s->jt;
  int out = 0;
  for (int d = jt_first(j, calls); d >= 0; d = jt_after(j, calls, d)) {
    if (jt_type(j, d) != JT_OBJECT)
      continue;
    int64_t index = -1;
    int iv = JT_GET(j, d, "index");
    if (iv >= 0 && !jt_count(j, iv, &index))
      index = -1;
    char idbuf[256];
    const char *id = jt_strbuf(j, JT_GET(j, d, "id"), idbuf, sizeof idbuf);
    struct tool_acc *t = tool_for(s, c, index, id);
    if (!t)
      continue;
    if (id && id[0] && !t->id.len)
      dynbuf_addstr(&t->id, id);
    int fn = JT_GET(j, d, "function");
    /* The name comes whole in the first delta; some servers repeat it. */
    if (!t->name.len)
      jt_str(j, JT_GET(j, fn, "name"), &t->name);
    jt_str(j, JT_GET(j, fn, "arguments"), &t->args);
    out = 1;
  }
  return out;
}

/* Append a delta string token; returns 1 when it carried text. */
static int append(const struct jt *j, int tok, struct dynbuf *b) {
  return jt_str(j, tok, b) > 0;
}

enum { C_INDEX, C_DELTA, C_TEXT, C_FINISH, C_N };
static const struct jt_key choice_keys[C_N] = {
    JT_KEY("index"), JT_KEY("delta"), JT_KEY("text"), JT_KEY("finish_reason")};

enum { D_ROLE, D_CONTENT, D_RC, D_REASONING, D_REFUSAL, D_TOOLS, D_FC, D_N };
static const struct jt_key delta_keys[D_N] = {
    JT_KEY("role"),         JT_KEY("content"), JT_KEY("reasoning_content"),
    JT_KEY("reasoning"),    JT_KEY("refusal"), JT_KEY("tool_calls"),
    JT_KEY("function_call")};

/* One element of choices[]. Returns the text token it appended when that
 * was all it did that reading it again would not undo (no reasoning,
 * refusal, tool call or finish reason in it), else -1. */
static int stream_choice(struct chat_stream *s, int ch, int pos,
                         size_t offset) {
  struct at_obs *o = s->o;
  const struct jt *j = &s->jt;
  if (jt_type(j, ch) != JT_OBJECT)
    return -1;
  /* one pass over each object: these run for every event */
  int cv[C_N];
  jt_pick(j, ch, choice_keys, C_N, cv);
  int64_t index = pos;
  if (cv[C_INDEX] >= 0 && !jt_count(j, cv[C_INDEX], &index)) {
    at_obs_parse_error(o, "stream: choices[].index is not a number");
    return -1;
  }
  struct choice_acc *c = choice_for(s, index);
  if (!c)
    return -1;
  s->rep_choice = (size_t)(c - s->choices);
  int out = 0, text = -1;
  if (s->legacy) {
    out |= append(j, cv[C_TEXT], &c->content);
    text = cv[C_TEXT];
  } else {
    int d = cv[C_DELTA];
    if (d >= 0 && jt_type(j, d) != JT_OBJECT) {
      at_obs_parse_error(o, "stream: choices[].delta is not an object");
      d = -1;
    }
    int dv[D_N];
    jt_pick(j, d, delta_keys, D_N, dv);
    char role[sizeof c->role];
    if (jt_strbuf(j, dv[D_ROLE], role, sizeof role) && role[0])
      memcpy(c->role, role, sizeof role);
    out |= append(j, dv[D_CONTENT], &c->content);
    /* DeepSeek's reasoning_content, vLLM/Groq/Ollama's reasoning */
    out |= append(j, dv[D_RC] >= 0 ? dv[D_RC] : dv[D_REASONING], &c->reasoning);
    out |= append(j, dv[D_REFUSAL], &c->refusal);
    if (jt_type(j, dv[D_TOOLS]) == JT_ARRAY)
      out |= tool_delta(s, c, dv[D_TOOLS]);
    int fc = dv[D_FC];
    if (jt_type(j, fc) == JT_OBJECT) {
      c->has_fc = 1;
      if (!c->fc_name.len)
        jt_str(j, JT_GET(j, fc, "name"), &c->fc_name);
      append(j, JT_GET(j, fc, "arguments"), &c->fc_args);
      out = 1;
    }
    if (dv[D_RC] < 0 && dv[D_REASONING] < 0 && dv[D_REFUSAL] < 0 &&
        dv[D_TOOLS] < 0 && dv[D_FC] < 0)
      text = dv[D_CONTENT];
  }
  char fr[64];
  if (!c->finish && jt_strbuf(j, cv[C_FINISH], fr, sizeof fr)) {
    c->finish = strdup(fr);
    o->oom |= !c->finish;
  }
  if (out)
    at_obs_first_output(o, offset);
  return cv[C_FINISH] < 0 && jt_type(j, text) == JT_STRING ? text : -1;
}

/* A string member (token tok) copied to metadata the first time it is
 * seen; a bit in *seen, not a lookup in the metadata object, says so: this
 * runs for every event. */
static void meta_once(struct at_obs *o, const struct jt *j, int tok,
                      const char *key, unsigned *seen, unsigned bit) {
  char buf[256];
  if (tok < 0 || (*seen & bit))
    return;
  *seen |= bit;
  if (cJSON_GetObjectItemCaseSensitive(o->meta, key))
    return;
  at_obs_meta_str(o, key, jt_strbuf(j, tok, buf, sizeof buf));
}

/* In the order chunks carry them: jt_pick compares a member's name with
 * the keys in this order, so the usual ones are found first. */
enum {
  R_ID,
  R_MODEL,
  R_TIER,
  R_FINGERPRINT,
  R_CHOICES,
  R_USAGE,
  R_ERROR,
  R_XGROQ,
  R_N
};
static const struct jt_key root_keys[R_N] = {
    JT_KEY("id"),           JT_KEY("model"),
    JT_KEY("service_tier"), JT_KEY("system_fingerprint"),
    JT_KEY("choices"),      JT_KEY("usage"),
    JT_KEY("error"),        JT_KEY("x_groq")};

/* A subtree handed to one of the cJSON-based readers. */
static void with_cjson(struct chat_stream *s, int tok,
                       void (*fn)(struct at_obs *, const cJSON *)) {
  cJSON *c = jt_cjson(&s->jt, tok);
  if (c)
    fn(s->o, c);
  else
    s->o->oom = 1;
  cJSON_Delete(c);
}

static void stream_usage(struct at_obs *o, const cJSON *u) {
  at_openai_usage(o, u, "stream usage");
}

static void stream_error(struct at_obs *o, const cJSON *root) {
  at_obs_json_error(o, root);
}

/* Most chunks of a stream are the one before with another piece of text
 * (and another "obfuscation" string): when the tokenizer says the event
 * differs from the last only in the last event's text token and in values
 * nothing reads, and that text was all the last event added, this one
 * adds its own text the same way, without reading the rest again. */
static int repeat_event(struct chat_stream *s, size_t offset) {
  const struct jt *j = &s->jt;
  int tok = s->rep_tok;
  if (jt_type(j, tok) != JT_STRING ||
      !jt_repeats(j, tok, 0, root_keys, R_N, 0, NULL))
    return 0;
  struct choice_acc *c = &s->choices[s->rep_choice];
  if (append(j, tok, &c->content))
    at_obs_first_output(s->o, offset);
  return 1;
}

static int chat_event(const struct at_sse_event *ev, void *arg) {
  struct chat_stream *s = arg;
  struct at_obs *o = s->o;
  struct jt *j = &s->jt;
  s->events++;
  if (ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6)) {
    s->done = 1;
    return 0;
  }
  int r = jt_parse(j, ev->data, ev->data_len);
  if (r != 0 || jt_type(j, 0) != JT_OBJECT) {
    /* A last event cut off mid-way is the stream's cut, reported as
     * such; any other event that is not JSON is a problem of its own. */
    if (!ev->unterminated && !s->bad_events++)
      at_obs_parse_error(o, r == -2 ? "stream event too large to read"
                                    : "stream event is not a JSON object");
    return 0;
  }
  if (s->rep_tok >= 0 && repeat_event(s, ev->end_offset))
    return 0;
  s->rep_tok = -1;
  int rv[R_N];
  jt_pick(j, 0, root_keys, R_N, rv);
  /* Mid-stream failures: OpenAI sends {"error": ...} as data, Groq an
   * "event: error". */
  if (rv[R_ERROR] >= 0)
    with_cjson(s, 0, stream_error);
  char buf[256];
  if (!o->response_id) {
    const char *id = jt_strbuf(j, rv[R_ID], buf, sizeof buf);
    if (id && id[0])
      at_obs_set(o, &o->response_id, id);
  }
  if (!o->response_model) {
    const char *m = jt_strbuf(j, rv[R_MODEL], buf, sizeof buf);
    if (m && m[0])
      at_obs_set(o, &o->response_model, m);
  }
  meta_once(o, j, rv[R_FINGERPRINT], "system_fingerprint", &s->meta_seen,
            META_FINGERPRINT);
  meta_once(o, j, rv[R_TIER], "service_tier", &s->meta_seen, META_TIER);
  /* include_usage puts usage in a last chunk with no choices; Groq puts it
   * under x_groq in the last chunk. */
  int usage = rv[R_USAGE];
  if (usage < 0)
    usage = JT_GET(j, rv[R_XGROQ], "usage");
  if (usage >= 0)
    with_cjson(s, usage, stream_usage);
  int choices = rv[R_CHOICES];
  int pos = 0, text = -1;
  for (int ch = jt_first(j, choices); ch >= 0; ch = jt_after(j, choices, ch))
    text = stream_choice(s, ch, pos++, ev->end_offset);
  /* a plain text delta, one choice, nothing else: the next event may
   * repeat it */
  if (pos == 1 && rv[R_ERROR] < 0 && usage < 0 && !s->o->oom)
    s->rep_tok = text;
  return 0;
}

static int cmp_index(int64_t a, int64_t b) {
  return (a > b) - (a < b);
}

static void emit_choice(struct chat_stream *s, struct choice_acc *c) {
  struct at_obs *o = s->o;
  cJSON *m;
  cJSON *parts =
      at_msg_add(o, o->output, c->role[0] ? c->role : "assistant", &m);
  if (c->reasoning.len)
    at_part_text(o, parts, "reasoning", c->reasoning.ptr, c->reasoning.len);
  if (c->content.len)
    at_part_text(o, parts, "text", c->content.ptr, c->content.len);
  if (c->refusal.len)
    at_part_text(o, parts, "refusal", c->refusal.ptr, c->refusal.len);
  /* tool calls in index order (those without an index keep arrival order) */
  for (size_t i = 1; i < c->ntools; i++) {
    struct tool_acc x = c->tools[i];
    size_t j = i;
    while (j > 0 && x.index >= 0 && c->tools[j - 1].index >= 0 &&
           cmp_index(c->tools[j - 1].index, x.index) > 0) {
      c->tools[j] = c->tools[j - 1];
      j--;
    }
    c->tools[j] = x;
  }
  for (size_t i = 0; i < c->ntools; i++) {
    struct tool_acc *t = &c->tools[i];
    at_part_tool_call(o, parts, t->id.len ? t->id.ptr : NULL,
                      t->name.len ? t->name.ptr : NULL,
                      t->args.ptr ? t->args.ptr : "", t->args.len);
  }
  if (c->has_fc)
    at_part_tool_call(o, parts, NULL, c->fc_name.len ? c->fc_name.ptr : NULL,
                      c->fc_args.ptr ? c->fc_args.ptr : "", c->fc_args.len);
  const char *fr = c->finish ? c->finish : (s->done ? NULL : "error");
  if (fr && m && !cJSON_AddStringToObject(m, "finish_reason", fr))
    o->oom = 1;
}

static void stream_common(struct at_obs *o, const char *body, size_t len,
                          int legacy) {
  /* on the heap like the other stream states: written for every event
   * while heap bytes are read, its place on the stack made whole runs
   * slower or not (4K aliasing) */
  struct chat_stream *s = malloc(sizeof *s);
  if (!s) {
    o->oom = 1;
    return;
  }
  *s = (struct chat_stream){.o = o, .legacy = legacy, .rep_tok = -1};
  jt_init(&s->jt);
  struct at_sse sse;
  at_sse_parse(&sse, body, len, AT_SSE_EVENT_MAX, chat_event, s);
  if (sse.oversize)
    at_obs_parse_error(o, "stream: %zu event(s) larger than %u bytes skipped",
                       sse.oversize, AT_SSE_EVENT_MAX);
  at_sse_free(&sse);

  /* choices in index order */
  for (size_t i = 1; i < s->nchoices; i++) {
    struct choice_acc x = s->choices[i];
    size_t j = i;
    while (j > 0 && cmp_index(s->choices[j - 1].index, x.index) > 0) {
      s->choices[j] = s->choices[j - 1];
      j--;
    }
    s->choices[j] = x;
  }
  int unfinished = 0;
  for (size_t i = 0; i < s->nchoices; i++)
    unfinished += s->choices[i].finish == NULL;

  if (s->events == 0)
    at_obs_parse_error(o, "stream has no events");
  else if (!s->done && (unfinished || s->nchoices == 0))
    at_obs_parse_error(o, "stream ended before [DONE]");

  if (s->nchoices) {
    o->output = cJSON_CreateArray();
    if (!o->output)
      o->oom = 1;
    for (size_t i = 0; i < s->nchoices && o->output; i++)
      emit_choice(s, &s->choices[i]);
    /* all or nothing, as for plain answers */
    if (!s->done || !unfinished)
      for (size_t i = 0; i < s->nchoices; i++)
        at_obs_finish_reason(o, s->choices[i].finish ? s->choices[i].finish
                                                     : "error");
  }
  at_note_usage_missing(o, 1);
  free_choices(s);
  jt_free(&s->jt);
  free(s);
}

static void chat_sse(struct at_obs *o, const char *body, size_t len) {
  stream_common(o, body, len, 0);
}

static void completions_sse(struct at_obs *o, const char *body, size_t len) {
  stream_common(o, body, len, 1);
}

const struct at_api_parser at_openai_chat_parser = {
    "generation", "chat", chat_request, chat_response, chat_sse};

const struct at_api_parser at_openai_completions_parser = {
    "generation", "text_completion", completions_request, completions_response,
    completions_sse};
