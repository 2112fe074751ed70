/* ollama: Ollama's native API — /api/chat, /api/generate, /api/embed and
 * the legacy /api/embeddings — plain and streamed.
 *
 * Ollama streams unless the request says "stream": false, and its streams
 * are NDJSON: one JSON object per line, each carrying a piece of the
 * answer (message.content / message.thinking for chat, response /
 * thinking for generate), tool calls as whole objects, and a last line
 * with "done": true, done_reason, prompt_eval_count (input tokens),
 * eval_count (output tokens) and durations in nanoseconds. Errors are
 * {"error": "..."}, as the whole body or as a line of a stream.
 * Ollama's OpenAI-compatible /v1/... endpoints go through openai.c. */
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "json_util.h"
#include "jsontok.h"
#include "messages.h"
#include "ndjson.h"
#include "parsers.h"
#include "retrievers.h"

/* Longest NDJSON line accepted (a done line of /api/generate repeats the
 * whole context as token ids, so this is generous). */
#define OL_LINE_MAX (16u << 20)

/* ---- shared pieces ---------------------------------------------------- */

/* Ollama's images are bare base64 (no data: URL): the MIME type is told
 * by the first bytes of the decoded image. */
static const char *b64_image_mime(const char *b64) {
  static const struct {
    const char *prefix, *mime;
  } magic[] = {
      {"iVBORw0KGgo", "image/png"}, {"/9j/", "image/jpeg"},
      {"R0lGOD", "image/gif"},      {"UklGR", "image/webp"},
      {"Qk", "image/bmp"},
  };
  for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++)
    if (!strncmp(b64, magic[i].prefix, strlen(magic[i].prefix)))
      return magic[i].mime;
  return NULL;
}

static void image_parts(struct at_obs *o, cJSON *parts, const cJSON *images,
                        const char *where) {
  const cJSON *img;
  cJSON_ArrayForEach(img, images) {
    if (!cJSON_IsString(img)) {
      at_obs_parse_error(o, "%s.images has an entry that is not a string",
                         where);
      continue;
    }
    const char *s = img->valuestring;
    if (!strncmp(s, "data:", 5))
      at_part_media_url(o, parts, "image", s);
    else
      at_part_blob_b64(o, parts, "image", b64_image_mime(s), s, strlen(s));
  }
}

/* Tool calls of an assistant message: [{"id"?, "function": {"name",
 * "arguments": {...}}}] — the arguments are already an object. */
static void tool_call_parts(struct at_obs *o, cJSON *parts, const cJSON *calls,
                            const char *where) {
  const cJSON *tc;
  cJSON_ArrayForEach(tc, calls) {
    const cJSON *fn = at_obs_objv(o, tc, "function", where);
    if (!cJSON_IsObject(tc) || !fn) {
      at_obs_parse_error(o, "%s.tool_calls has an entry without a function",
                         where);
      continue;
    }
    const cJSON *args = at_json_get(fn, "arguments");
    const char *name = at_obs_str(o, fn, "name", where);
    const char *id = at_json_str(tc, "id");
    if (cJSON_IsString(args)) /* some clients send them as JSON text */
      at_part_tool_call(o, parts, id, name, args->valuestring,
                        strlen(args->valuestring));
    else
      at_part_tool_call_value(o, parts, id, name, args);
  }
}

/* request.options: num_predict is the output cap (max_tokens); the
 * sampling options keep their names. */
static const char *const option_params[] = {
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "typical_p",
    "seed",
    "num_ctx",
    "repeat_penalty",
    "repeat_last_n",
    "presence_penalty",
    "frequency_penalty",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
    "num_keep",
    NULL,
};

static void options_params(struct at_obs *o, const cJSON *req) {
  const cJSON *opt = at_obs_objv(o, req, "options", "request");
  if (!opt)
    return;
  for (size_t i = 0; option_params[i]; i++)
    at_obs_param(o, opt, option_params[i]);
  const cJSON *np = at_json_get(opt, "num_predict");
  if (np && at_json_add_copy(o->params, "max_tokens", np) != 0)
    o->oom = 1;
  at_param_stop(o, opt, "stop");
}

/* Top-level request parameters; an empty "format" means none. */
static void top_params(struct at_obs *o, const cJSON *req) {
  static const char *const keys[] = {"tools", "think", "stream", "raw", NULL};
  for (size_t i = 0; keys[i]; i++)
    at_obs_param(o, req, keys[i]);
  const cJSON *fmt = at_json_get(req, "format");
  if (fmt && !(cJSON_IsString(fmt) && !fmt->valuestring[0]))
    at_obs_param(o, req, "format");
  options_params(o, req);
}

static void add_text_nonempty(struct at_obs *o, cJSON *parts, const char *type,
                              const char *s) {
  if (s && s[0])
    at_part_text(o, parts, type, s, strlen(s));
}

/* ---- /api/chat request ------------------------------------------------ */

static void chat_message(struct at_obs *o, const cJSON *msg) {
  const char *where = "request.messages[]";
  const char *role = at_obs_message_role(o, msg, where);
  if (!role)
    return;
  cJSON *m;
  cJSON *parts = at_msg_add(o, o->input, role, &m);
  if (!parts)
    return;
  const cJSON *content = at_json_get(msg, "content");
  if (content && !cJSON_IsString(content)) {
    at_obs_parse_error(o, "%s.content is not a string", where);
    content = NULL;
  }
  if (!strcmp(role, "tool")) {
    const char *name = at_obs_str(o, msg, "tool_name", where);
    if (name && !cJSON_AddStringToObject(m, "name", name))
      o->oom = 1;
    at_part_tool_response(o, parts, at_obs_str(o, msg, "tool_call_id", where),
                          content);
    return;
  }
  add_text_nonempty(o, parts, "reasoning",
                    at_obs_str(o, msg, "thinking", where));
  if (content)
    at_part_text(o, parts, "text", content->valuestring,
                 strlen(content->valuestring));
  const cJSON *images = at_obs_arr(o, msg, "images", where);
  if (images)
    image_parts(o, parts, images, where);
  const cJSON *calls = at_obs_arr(o, msg, "tool_calls", where);
  if (calls)
    tool_call_parts(o, parts, calls, where);
}

static void chat_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  top_params(o, req);
  at_obs_each_message(o, req, chat_message);
}

/* ---- /api/generate request -------------------------------------------- */

static void generate_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  top_params(o, req);
  const char *suffix = at_obs_str(o, req, "suffix", "request");
  if (suffix && suffix[0])
    at_obs_param(o, req, "suffix");
  const cJSON *ctx = at_json_get(req, "context");
  if (cJSON_IsArray(ctx) && cJSON_GetArraySize(ctx) > 0 &&
      !cJSON_AddNumberToObject(o->meta, "context_tokens",
                               cJSON_GetArraySize(ctx)))
    o->oom = 1;
  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  const char *system = at_obs_str(o, req, "system", "request");
  if (system && system[0]) {
    cJSON *sp = at_msg_add(o, o->input, "system", NULL);
    at_part_text(o, sp, "text", system, strlen(system));
  }
  const char *prompt = at_obs_str(o, req, "prompt", "request");
  const cJSON *images = at_obs_arr(o, req, "images", "request");
  if (!prompt && !cJSON_GetArraySize(images)) {
    /* {"model": m} alone loads (or, with keep_alive 0, unloads) a model */
    if (!at_json_get(req, "prompt"))
      at_obs_meta_str(o, "request_kind", "load model (no prompt)");
    return;
  }
  cJSON *parts = at_msg_add(o, o->input, "user", NULL);
  if (prompt)
    at_part_text(o, parts, "text", prompt, strlen(prompt));
  if (images)
    image_parts(o, parts, images, "request");
}

/* ---- the counts of a last (done) object ------------------------------- */

static const char *const durations[] = {
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
};

static void duration_meta(struct at_obs *o, const char *key, int64_t ns) {
  char name[48];
  strcpy(name, key);
  strcat(name, "_ns");
  cJSON_DeleteItemFromObjectCaseSensitive(o->meta, name);
  if (!cJSON_AddNumberToObject(o->meta, name, (double)ns))
    o->oom = 1;
}

static void final_counts(struct at_obs *o, const cJSON *obj) {
  at_obs_usage(o, obj, "prompt_eval_count", "response", AT_U_INPUT);
  at_obs_usage(o, obj, "eval_count", "response", AT_U_OUTPUT);
  for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
    int64_t v;
    if (at_obs_count(o, obj, durations[i], "response", &v))
      duration_meta(o, durations[i], v);
  }
}

/* The finish reason of a plain answer: done_reason; an answer that says
 * it is not done was cut. Older servers (before 0.1.32) send no
 * done_reason: then there is none. */
static const char *plain_reason(struct at_obs *o, const cJSON *resp) {
  const char *r = at_obs_str(o, resp, "done_reason", "response");
  const cJSON *done = at_json_get(resp, "done");
  if (!r && cJSON_IsFalse(done))
    return "error";
  return r;
}

/* ---- plain answers ---------------------------------------------------- */

static void chat_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_model, at_obs_str(o, resp, "model", "response"));
  const cJSON *msg = at_obs_objv(o, resp, "message", "response");
  if (!msg && !at_json_get(resp, "error")) {
    if (!at_json_get(resp, "message"))
      at_obs_parse_error(o, "response has no message");
  }
  if (msg) {
    o->output = cJSON_CreateArray();
    const char *role = at_json_str(msg, "role");
    cJSON *m;
    cJSON *parts = at_msg_add(o, o->output, role ? role : "assistant", &m);
    const char *where = "response.message";
    add_text_nonempty(o, parts, "reasoning",
                      at_obs_str(o, msg, "thinking", where));
    const char *content = at_obs_str(o, msg, "content", where);
    const cJSON *calls = at_obs_arr(o, msg, "tool_calls", where);
    /* an empty content beside tool calls is no text */
    if (content && (content[0] || !cJSON_GetArraySize(calls)))
      at_part_text(o, parts, "text", content, strlen(content));
    if (calls)
      tool_call_parts(o, parts, calls, where);
    at_obs_finish(o, m, plain_reason(o, resp));
  }
  final_counts(o, resp);
  at_note_usage_missing(o, 0);
}

static void generate_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_model, at_obs_str(o, resp, "model", "response"));
  const char *text = at_obs_str(o, resp, "response", "response");
  const char *thinking = at_obs_str(o, resp, "thinking", "response");
  if (text || thinking) {
    o->output = cJSON_CreateArray();
    cJSON *m;
    cJSON *parts = at_msg_add(o, o->output, "assistant", &m);
    add_text_nonempty(o, parts, "reasoning", thinking);
    if (text)
      at_part_text(o, parts, "text", text, strlen(text));
    at_obs_finish(o, m, plain_reason(o, resp));
  } else if (!at_json_get(resp, "error")) {
    at_obs_parse_error(o, "response has no response text");
  }
  final_counts(o, resp);
  /* a load-only request has nothing to count */
  if (cJSON_GetObjectItemCaseSensitive(o->meta, "request_kind") == NULL)
    at_note_usage_missing(o, 0);
}

/* ---- NDJSON streams --------------------------------------------------- */

struct ol_stream {
  struct at_obs *o;
  struct jt jt;
  struct dynbuf text, thinking;
  cJSON *calls; /* tool_call parts, in arrival order */
  char role[32];
  char *reason; /* done_reason */
  int done, errored, bad_lines, model_set;
  size_t lines;
};

/* The rare line read as a tree: errors, tool calls, the done line. */
static void tree_line(struct ol_stream *s, const struct at_ndjson_line *l,
                      int done) {
  struct at_obs *o = s->o;
  cJSON *obj = at_json_parse(l->data, l->len);
  if (!cJSON_IsObject(obj)) {
    if (!l->unterminated && !s->bad_lines++)
      at_obs_parse_error(o, "stream line is not a JSON object");
    cJSON_Delete(obj);
    return;
  }
  if (at_json_get(obj, "error")) {
    s->errored = 1;
    if (!at_obs_json_error(o, obj))
      at_obs_raise(o, AT_LEVEL_ERROR, "stream error", 12);
  }
  const cJSON *msg = at_json_get(obj, "message");
  const cJSON *calls = at_json_get(msg, "tool_calls");
  if (cJSON_IsArray(calls) && cJSON_GetArraySize(calls) > 0) {
    tool_call_parts(o, s->calls, calls, "stream.message");
    at_obs_first_output(o, l->end_offset);
  }
  if (done) {
    s->done = 1;
    const char *r = at_json_str(obj, "done_reason");
    if (r) {
      free(s->reason);
      s->reason = strdup(r);
      o->oom |= !s->reason;
    }
    final_counts(o, obj);
  }
  cJSON_Delete(obj);
}

static int ol_line(const struct at_ndjson_line *l, void *arg) {
  struct ol_stream *s = arg;
  struct at_obs *o = s->o;
  struct jt *j = &s->jt;
  s->lines++;
  int r = jt_parse(j, l->data, l->len);
  if (r != 0 || jt_type(j, 0) != JT_OBJECT) {
    /* too big for the tokenizer, or not JSON: the tree reader decides */
    tree_line(s, l, 0);
    return 0;
  }
  static const struct jt_key keys[] = {
      JT_KEY("model"),    JT_KEY("message"), JT_KEY("response"),
      JT_KEY("thinking"), JT_KEY("done"),    JT_KEY("error"),
  };
  int v[6];
  jt_pick(j, 0, keys, 6, v);
  if (!s->model_set && jt_type(j, v[0]) == JT_STRING) {
    char model[256];
    if (jt_strbuf(j, v[0], model, sizeof model)) {
      at_obs_set(o, &o->response_model, model);
      s->model_set = 1;
    }
  }
  int text = -1, thinking = -1, calls = -1;
  if (v[1] >= 0) {
    text = JT_GET(j, v[1], "content");
    thinking = JT_GET(j, v[1], "thinking");
    calls = JT_GET(j, v[1], "tool_calls");
    int role = JT_GET(j, v[1], "role");
    if (!s->role[0] && jt_type(j, role) == JT_STRING)
      jt_strbuf(j, role, s->role, sizeof s->role);
  } else {
    text = v[2];
    thinking = v[3];
  }
  long got = 0;
  if (jt_type(j, thinking) == JT_STRING)
    got += jt_str(j, thinking, &s->thinking);
  if (jt_type(j, text) == JT_STRING)
    got += jt_str(j, text, &s->text);
  if (got > 0)
    at_obs_first_output(o, l->end_offset);
  int done = jt_type(j, v[4]) == JT_TRUE;
  if (v[5] >= 0 || done || jt_first(j, calls) >= 0)
    tree_line(s, l, done);
  return 0;
}

/* Both APIs: a line holds message.{content,thinking,tool_calls} (chat) or
 * response and thinking (generate). */
static void ollama_stream(struct at_obs *o, const char *body, size_t len) {
  struct ol_stream *s = calloc(1, sizeof(*s));
  if (!s) {
    o->oom = 1;
    return;
  }
  s->o = o;
  jt_init(&s->jt);
  dynbuf_init(&s->text, AT_ASSEMBLED_MAX);
  dynbuf_init(&s->thinking, AT_ASSEMBLED_MAX);
  s->calls = cJSON_CreateArray();
  o->oom |= !s->calls;
  struct at_ndjson nd;
  at_ndjson_parse(&nd, body, len, OL_LINE_MAX, ol_line, s);
  if (nd.oversize)
    at_obs_parse_error(o, "stream: %zu line(s) longer than %u bytes skipped",
                       nd.oversize, OL_LINE_MAX);
  at_ndjson_free(&nd);

  if (s->lines == 0)
    at_obs_parse_error(o, "stream has no lines");
  else if (!s->done && !s->errored)
    at_obs_parse_error(o, "stream ended before the done line");
  int ncalls = cJSON_GetArraySize(s->calls);
  if (s->text.len || s->thinking.len || ncalls || s->done) {
    o->output = cJSON_CreateArray();
    cJSON *m;
    cJSON *parts =
        at_msg_add(o, o->output, s->role[0] ? s->role : "assistant", &m);
    if (s->thinking.len)
      at_part_text(o, parts, "reasoning", s->thinking.ptr, s->thinking.len);
    if (s->text.len || !ncalls)
      at_part_text(o, parts, "text", s->text.ptr ? s->text.ptr : "",
                   s->text.len);
    if (parts) {
      /* move the collected tool calls over, in order */
      while (cJSON_GetArraySize(s->calls) > 0)
        cJSON_AddItemToArray(parts, cJSON_DetachItemFromArray(s->calls, 0));
    }
    at_obs_finish(o, m, s->reason ? s->reason : s->done ? NULL : "error");
  }
  at_note_usage_missing(o, 0);
  if (s->text.oom || s->thinking.oom)
    o->oom = 1;
  cJSON_Delete(s->calls);
  dynbuf_free(&s->text);
  dynbuf_free(&s->thinking);
  free(s->reason);
  jt_free(&s->jt);
  free(s);
}

/* ---- embeddings ------------------------------------------------------- */

static void add_input_text(struct at_obs *o, const cJSON *v) {
  if (!cJSON_IsString(v)) {
    at_obs_parse_error(o, "request.input has an entry that is not text");
    return;
  }
  cJSON *s = cJSON_CreateString(v->valuestring);
  if (s)
    cJSON_AddItemToArray(o->input, s);
  o->oom |= !s;
}

static void embed_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  at_obs_param(o, req, "truncate");
  at_obs_param(o, req, "dimensions");
  options_params(o, req);
  /* /api/embed: input (a string or strings); /api/embeddings: prompt */
  const cJSON *input = at_json_get(req, "input");
  if (!input)
    input = at_json_get(req, "prompt");
  if (!input) {
    at_obs_parse_error(o, "request has no input");
    return;
  }
  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  if (cJSON_IsArray(input)) {
    const cJSON *v;
    cJSON_ArrayForEach(v, input) add_input_text(o, v);
  } else {
    add_input_text(o, input);
  }
}

/* Vectors arrive as arrays, or as the placeholders parse.c leaves for
 * long ones (at_json_devector): their length is the dimension. */
static void embed_output(struct at_obs *o, int count, const cJSON *first) {
  int dims = at_ret_vector_dims(first);
  o->output = cJSON_CreateObject();
  if (!o->output || !cJSON_AddNumberToObject(o->output, "count", count) ||
      (dims >= 0 && !cJSON_AddNumberToObject(o->output, "dimensions", dims)))
    o->oom = 1;
}

static void embed_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_model, at_obs_str(o, resp, "model", "response"));
  const cJSON *vecs = at_obs_arr(o, resp, "embeddings", "response");
  const cJSON *one = at_json_get(resp, "embedding");
  if (vecs)
    embed_output(o, cJSON_GetArraySize(vecs), cJSON_GetArrayItem(vecs, 0));
  else if (one && at_ret_vector_dims(one) >= 0)
    embed_output(o, 1, one);
  else if (one)
    at_obs_parse_error(o, "response.embedding is not a vector");
  else if (!at_json_get(resp, "error"))
    at_obs_parse_error(o, "response has no embeddings");
  final_counts(o, resp);
  at_note_usage_missing(o, 0);
}

const struct at_api_parser at_ollama_chat_parser = {
    "generation", "chat", chat_request, chat_response, ollama_stream};
const struct at_api_parser at_ollama_generate_parser = {
    "generation", "text_completion", generate_request, generate_response,
    ollama_stream};
const struct at_api_parser at_ollama_embed_parser = {
    "embedding", "embeddings", embed_request, embed_response, NULL};

int at_ndjson_parser(const struct at_api_parser *p) {
  return p == &at_ollama_chat_parser || p == &at_ollama_generate_parser ||
         p == &at_cohere_chat_v1_parser || p == &at_cohere_generate_parser;
}
