/* bedrock_invoke: Bedrock's InvokeModel and InvokeModelWithResponseStream,
 * whose bodies are the model's own JSON. The family comes from the model
 * id in the path (anthropic., meta.llama, amazon.titan-text, amazon.nova,
 * mistral., cohere.command, ...), and from the body's shape when the id
 * says nothing (an application inference profile ARN):
 *
 *   family     request                          answer
 *   Anthropic  Messages body, anthropic_version  Messages answer / events
 *   Nova       messages-v1 (Converse blocks)     output.message, usage
 *   Llama      prompt, max_gen_len               generation, *_token_count
 *   Titan      inputText, textGenerationConfig   results[].outputText
 *   Mistral    prompt | messages                 outputs[] | choices[]
 *   Cohere     message, chat_history | prompt    text | generations[]
 *   chat-like  messages (OpenAI shape: Jamba,    choices[].message
 *              Mistral Large 2, gpt-oss)
 *
 * Streams: event-stream messages of type "chunk" whose payload is
 * {"bytes": "<base64 of one model-native JSON chunk>"}; the last chunk
 * carries "amazon-bedrock-invocationMetrics" (inputTokenCount,
 * outputTokenCount, invocationLatency, firstByteLatency), used when the
 * model's own chunks gave no counts. Plain answers without usage in the
 * body fall back on the x-amzn-bedrock-*-token-count headers.
 *
 * Embedding models (the path's id says "embed": Titan, Cohere) are
 * at_bedrock_embed_parser. */
#include <stdlib.h>
#include <string.h>

#include "bedrock.h"
#include "dynbuf.h"
#include "json_util.h"
#include "jsontok.h"
#include "messages.h"
#include "parsers.h"
#include "sse.h"

enum family {
  F_UNKNOWN = 0,
  F_ANTHROPIC,
  F_NOVA,
  F_LLAMA,
  F_TITAN,
  F_MISTRAL,
  F_COHERE,
  F_CHAT,  /* OpenAI-shaped messages / choices */
  F_PROMPT /* a bare prompt (DeepSeek, older models) */
};

static int starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static enum family family_of_model(const char *id) {
  const char *m = at_bedrock_base_model(id);
  if (starts(m, "anthropic."))
    return F_ANTHROPIC;
  if (starts(m, "amazon.nova"))
    return F_NOVA;
  if (starts(m, "meta.llama"))
    return F_LLAMA;
  if (starts(m, "amazon.titan-text") || starts(m, "amazon.titan-tg1"))
    return F_TITAN;
  if (starts(m, "mistral."))
    return F_MISTRAL;
  if (starts(m, "cohere.command"))
    return F_COHERE;
  if (starts(m, "ai21.jamba") || starts(m, "openai."))
    return F_CHAT;
  if (starts(m, "deepseek."))
    return F_PROMPT;
  return F_UNKNOWN;
}

static enum family url_family(const struct at_obs *o) {
  char model[AT_BEDROCK_MODEL_MAX];
  if (!at_bedrock_url_model(o->ex->url, model, sizeof model))
    return F_UNKNOWN;
  return family_of_model(model);
}

/* A messages list in Converse's block shape ({"text": ...} blocks with no
 * "type"), as Nova takes, rather than OpenAI's or Anthropic's. */
static int converse_shaped(const cJSON *msgs) {
  const cJSON *first = cJSON_GetArrayItem(msgs, 0);
  const cJSON *c = at_json_get(first, "content");
  const cJSON *b = cJSON_GetArrayItem(c, 0);
  return cJSON_IsArray(c) && cJSON_IsObject(b) && !at_json_get(b, "type");
}

static enum family family_of_request(const cJSON *req) {
  const cJSON *msgs = at_json_get(req, "messages");
  if (at_json_get(req, "anthropic_version"))
    return F_ANTHROPIC;
  if (msgs) {
    if (at_json_get(req, "schemaVersion") || converse_shaped(msgs))
      return F_NOVA;
    return F_CHAT;
  }
  if (at_json_get(req, "inputText"))
    return F_TITAN;
  if (at_json_get(req, "message"))
    return F_COHERE;
  if (at_json_get(req, "prompt"))
    return F_PROMPT;
  return F_UNKNOWN;
}

/* ---- requests --------------------------------------------------------- */

static void param_as(struct at_obs *o, const cJSON *obj, const char *key,
                     const char *as) {
  const cJSON *v = at_json_get(obj, key);
  if (!v || cJSON_GetObjectItemCaseSensitive(o->params, as))
    return;
  if (at_json_add_copy(o->params, as, v) != 0)
    o->oom = 1;
}

/* stop words: a string becomes a one-element array */
static void stop_as(struct at_obs *o, const cJSON *obj, const char *key) {
  const cJSON *v = at_json_get(obj, key);
  if (!v || cJSON_GetObjectItemCaseSensitive(o->params, "stop"))
    return;
  if (cJSON_IsString(v)) {
    cJSON *arr = cJSON_CreateArray();
    cJSON *s = cJSON_CreateString(v->valuestring);
    if (!arr || !s) {
      cJSON_Delete(arr);
      cJSON_Delete(s);
      o->oom = 1;
      return;
    }
    cJSON_AddItemToArray(arr, s);
    cJSON_AddItemToObject(o->params, "stop", arr);
  } else {
    param_as(o, obj, key, "stop");
  }
}

static cJSON *input_message(struct at_obs *o, const char *role) {
  if (!o->input)
    o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return NULL;
  }
  return at_msg_add(o, o->input, role, NULL);
}

/* Llama, Mistral (prompt form), DeepSeek, Cohere Command: one prompt. */
static void prompt_request(struct at_obs *o, const cJSON *req) {
  param_as(o, req, "max_gen_len", "max_tokens");
  param_as(o, req, "max_tokens", "max_tokens");
  param_as(o, req, "temperature", "temperature");
  param_as(o, req, "top_p", "top_p");
  param_as(o, req, "p", "top_p");
  param_as(o, req, "top_k", "top_k");
  param_as(o, req, "k", "top_k");
  stop_as(o, req, "stop");
  stop_as(o, req, "stop_sequences");
  param_as(o, req, "seed", "seed");
  const char *prompt = at_obs_str(o, req, "prompt", "request");
  if (!prompt) {
    if (!at_json_get(req, "prompt"))
      at_obs_parse_error(o, "request has no prompt");
    return;
  }
  cJSON *parts = input_message(o, "user");
  at_part_text(o, parts, "text", prompt, strlen(prompt));
  /* Llama 3.2 vision: base64 images beside the prompt */
  const cJSON *img;
  cJSON_ArrayForEach(img, at_json_get(req, "images")) {
    if (cJSON_IsString(img))
      at_part_blob_b64(o, parts, "image", NULL, img->valuestring,
                       strlen(img->valuestring));
  }
}

static void titan_request(struct at_obs *o, const cJSON *req) {
  const cJSON *cfg = at_obs_objv(o, req, "textGenerationConfig", "request");
  param_as(o, cfg, "maxTokenCount", "max_tokens");
  param_as(o, cfg, "temperature", "temperature");
  param_as(o, cfg, "topP", "top_p");
  param_as(o, cfg, "stopSequences", "stop");
  const char *text = at_obs_str(o, req, "inputText", "request");
  if (text) {
    cJSON *parts = input_message(o, "user");
    at_part_text(o, parts, "text", text, strlen(text));
  }
}

static const char *cohere_role(const char *r) {
  if (!r)
    return "user";
  if (!strcmp(r, "USER"))
    return "user";
  if (!strcmp(r, "CHATBOT"))
    return "assistant";
  if (!strcmp(r, "SYSTEM"))
    return "system";
  if (!strcmp(r, "TOOL"))
    return "tool";
  return r;
}

/* Cohere Command R: preamble, chat_history, message (Cohere's v1 chat). */
static void cohere_request(struct at_obs *o, const cJSON *req) {
  if (!at_json_get(req, "message")) {
    prompt_request(o, req); /* the older Command: a prompt */
    return;
  }
  param_as(o, req, "max_tokens", "max_tokens");
  param_as(o, req, "temperature", "temperature");
  param_as(o, req, "p", "top_p");
  param_as(o, req, "k", "top_k");
  stop_as(o, req, "stop_sequences");
  param_as(o, req, "seed", "seed");
  param_as(o, req, "frequency_penalty", "frequency_penalty");
  param_as(o, req, "presence_penalty", "presence_penalty");
  param_as(o, req, "tools", "tools");
  const char *preamble = at_obs_str(o, req, "preamble", "request");
  if (preamble)
    at_part_text(o, input_message(o, "system"), "text", preamble,
                 strlen(preamble));
  const cJSON *h;
  cJSON_ArrayForEach(h, at_obs_arr(o, req, "chat_history", "request")) {
    const char *msg = at_json_str(h, "message");
    cJSON *parts = input_message(o, cohere_role(at_json_str(h, "role")));
    if (msg)
      at_part_text(o, parts, "text", msg, strlen(msg));
  }
  const char *msg = at_obs_str(o, req, "message", "request");
  if (msg)
    at_part_text(o, input_message(o, "user"), "text", msg, strlen(msg));
}

static void mark_stream(struct at_obs *o) {
  const char *url = o->ex->url;
  const char *q = url ? strchr(url, '?') : NULL;
  size_t n = url ? (q ? (size_t)(q - url) : strlen(url)) : 0;
  static const char tail[] = "/invoke-with-response-stream";
  if (n >= sizeof tail - 1 &&
      !memcmp(url + n - (sizeof tail - 1), tail, sizeof tail - 1) &&
      !cJSON_GetObjectItemCaseSensitive(o->params, "stream") &&
      !cJSON_AddTrueToObject(o->params, "stream"))
    o->oom = 1;
}

static void invoke_request(struct at_obs *o, const cJSON *req) {
  enum family f = url_family(o);
  enum family shape = family_of_request(req);
  /* Mistral speaks two shapes; an unknown id, whatever its body says */
  if (f == F_UNKNOWN || f == F_MISTRAL)
    f = shape == F_UNKNOWN ? F_PROMPT : shape;
  switch (f) {
  case F_ANTHROPIC:
    at_anthropic_messages_parser.request(o, req);
    break;
  case F_NOVA:
    at_bedrock_converse_request(o, req);
    break;
  case F_CHAT:
    at_openai_chat_parser.request(o, req);
    break;
  case F_TITAN:
    titan_request(o, req);
    break;
  case F_COHERE:
    cohere_request(o, req);
    break;
  default:
    prompt_request(o, req);
    break;
  }
  /* The path names the model; bodies mostly do not (and where they do,
   * the path is what Bedrock ran). */
  at_bedrock_request_model(o);
  mark_stream(o);
}

/* ---- plain answers ---------------------------------------------------- */

static cJSON *output_message(struct at_obs *o, cJSON **msg) {
  if (!o->output)
    o->output = cJSON_CreateArray();
  if (!o->output) {
    o->oom = 1;
    *msg = NULL;
    return NULL;
  }
  return at_msg_add(o, o->output, "assistant", msg);
}

/* An output message holding one text. */
static void text_choice(struct at_obs *o, const char *text,
                        const char *reason) {
  cJSON *m;
  cJSON *parts = output_message(o, &m);
  at_part_text(o, parts, "text", text ? text : "", text ? strlen(text) : 0);
  at_obs_finish(o, m, reason);
}

static void count_into(struct at_obs *o, const cJSON *obj, const char *key,
                       unsigned field, const char *where) {
  at_obs_usage(o, obj, key, where, field);
}

static void llama_response(struct at_obs *o, const cJSON *resp) {
  text_choice(o, at_obs_str(o, resp, "generation", "response"),
              at_obs_str(o, resp, "stop_reason", "response"));
  count_into(o, resp, "prompt_token_count", AT_U_INPUT, "response");
  count_into(o, resp, "generation_token_count", AT_U_OUTPUT, "response");
}

static void titan_response(struct at_obs *o, const cJSON *resp) {
  count_into(o, resp, "inputTextTokenCount", AT_U_INPUT, "response");
  int64_t out = 0;
  int has_out = 0;
  const cJSON *r;
  cJSON_ArrayForEach(r, at_obs_arr(o, resp, "results", "response")) {
    text_choice(o, at_obs_str(o, r, "outputText", "response.results[]"),
                at_obs_str(o, r, "completionReason", "response.results[]"));
    int64_t n;
    if (at_obs_count(o, r, "tokenCount", "response.results[]", &n)) {
      out += n;
      has_out = 1;
    }
  }
  if (has_out)
    at_usage_set(&o->usage, AT_U_OUTPUT, out);
}

/* Mistral's outputs[] and DeepSeek's choices[] with text. */
static void outputs_response(struct at_obs *o, const cJSON *arr,
                             const char *where) {
  const cJSON *c;
  cJSON_ArrayForEach(c, arr) {
    const char *reason = at_json_str(c, "stop_reason");
    if (!reason)
      reason = at_json_str(c, "finish_reason");
    text_choice(o, at_obs_str(o, c, "text", where), reason);
  }
}

static void cohere_response(struct at_obs *o, const cJSON *resp) {
  const cJSON *gens = at_json_get(resp, "generations");
  if (gens) { /* the older Command */
    at_obs_set(o, &o->response_id, at_json_str(resp, "id"));
    const cJSON *g;
    cJSON_ArrayForEach(g, gens)
        text_choice(o, at_json_str(g, "text"), at_json_str(g, "finish_reason"));
    return;
  }
  at_obs_set(o, &o->response_id,
             at_obs_str(o, resp, "response_id", "response"));
  cJSON *m;
  cJSON *parts = output_message(o, &m);
  const char *text = at_obs_str(o, resp, "text", "response");
  if (text && text[0])
    at_part_text(o, parts, "text", text, strlen(text));
  const cJSON *tc;
  cJSON_ArrayForEach(tc, at_json_get(resp, "tool_calls")) {
    at_part_tool_call_value(o, parts, NULL, at_json_str(tc, "name"),
                            at_json_get(tc, "parameters"));
  }
  at_obs_finish(o, m, at_obs_str(o, resp, "finish_reason", "response"));
  const cJSON *meta = at_json_get(resp, "meta");
  const cJSON *bu = at_json_get(meta, "billed_units");
  count_into(o, bu, "input_tokens", AT_U_INPUT, "response.meta.billed_units");
  count_into(o, bu, "output_tokens", AT_U_OUTPUT, "response.meta.billed_units");
}

/* Counts from the headers when the body had none (Cohere, Mistral). */
static void usage_fallback(struct at_obs *o) {
  if (at_usage_any(&o->usage))
    return;
  at_bedrock_header_usage(o);
  if (at_usage_any(&o->usage))
    cJSON_DeleteItemFromObjectCaseSensitive(o->meta, "usage_missing");
}

static enum family family_of_response(const cJSON *resp) {
  if (at_json_get(resp, "generation"))
    return F_LLAMA;
  if (at_json_get(resp, "results"))
    return F_TITAN;
  if (at_json_get(at_json_get(resp, "output"), "message"))
    return F_NOVA;
  if (at_json_get(resp, "outputs"))
    return F_MISTRAL;
  const cJSON *c0 = cJSON_GetArrayItem(at_json_get(resp, "choices"), 0);
  if (c0)
    return at_json_get(c0, "message") ? F_CHAT : F_PROMPT;
  if (at_json_get(resp, "generations") || at_json_get(resp, "text"))
    return F_COHERE;
  const char *type = at_json_str(resp, "type");
  if ((type && !strcmp(type, "message")) || at_json_get(resp, "content"))
    return F_ANTHROPIC;
  return F_UNKNOWN;
}

static void invoke_response(struct at_obs *o, const cJSON *resp) {
  switch (family_of_response(resp)) {
  case F_ANTHROPIC:
    at_anthropic_messages_parser.response(o, resp);
    break;
  case F_NOVA:
    at_bedrock_converse_response(o, resp);
    break;
  case F_CHAT:
    at_openai_chat_parser.response(o, resp);
    break;
  case F_LLAMA:
    llama_response(o, resp);
    break;
  case F_TITAN:
    titan_response(o, resp);
    break;
  case F_MISTRAL:
    outputs_response(o, at_json_get(resp, "outputs"), "response.outputs[]");
    break;
  case F_PROMPT:
    outputs_response(o, at_json_get(resp, "choices"), "response.choices[]");
    break;
  case F_COHERE:
    cohere_response(o, resp);
    break;
  default:
    at_obs_parse_error(o, "response: a body shape this model family does "
                          "not explain");
    break;
  }
  at_bedrock_response_model(o);
  usage_fallback(o);
  at_note_usage_missing(o, 0);
}

/* ---- streams ---------------------------------------------------------- */

static int b64val(int c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

/* Decode base64 (standard or URL alphabet, padding optional) onto out.
 * Returns 0, or -1 for a character outside the alphabet. */
static int b64_decode(const char *s, size_t n, struct dynbuf *out) {
  unsigned acc = 0;
  int bits = 0;
  char chunk[256];
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '=')
      break;
    if (c == '\n' || c == '\r' || c == ' ')
      continue;
    int v = b64val(c);
    if (v < 0)
      return -1;
    acc = (acc << 6 | (unsigned)v) & 0xffffffu;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      chunk[k++] = (char)((acc >> bits) & 0xffu);
      if (k == sizeof chunk) {
        dynbuf_add(out, chunk, k);
        k = 0;
      }
    }
  }
  dynbuf_add(out, chunk, k);
  return 0;
}

struct iv_stream {
  struct at_obs *o;
  enum family family;
  struct msg_stream *anthropic;
  struct cv_stream *nova;
  struct jt jt;
  struct dynbuf b64, chunk, text;
  char *finish;
  struct bedrock_usage native;  /* from the model's own chunks */
  struct bedrock_usage metrics; /* amazon-bedrock-invocationMetrics */
  size_t chunks;
  int bad_chunks;
};

static void set_finish(struct iv_stream *s, const char *reason) {
  if (!reason)
    return;
  free(s->finish);
  s->finish = strdup(reason);
  s->o->oom |= !s->finish;
}

static enum family family_of_chunk(const struct jt *j) {
  static const char *const nova_events[] = {"messageStart",
                                            "contentBlockStart",
                                            "contentBlockDelta",
                                            "contentBlockStop",
                                            "messageStop",
                                            "metadata",
                                            NULL};
  int type = JT_GET(j, 0, "type");
  if (type >= 0)
    return F_ANTHROPIC;
  for (size_t i = 0; nova_events[i]; i++)
    if (jt_get(j, 0, nova_events[i]) >= 0)
      return F_NOVA;
  if (JT_GET(j, 0, "generation") >= 0)
    return F_LLAMA;
  if (JT_GET(j, 0, "outputText") >= 0)
    return F_TITAN;
  if (JT_GET(j, 0, "outputs") >= 0)
    return F_MISTRAL;
  if (JT_GET(j, 0, "choices") >= 0)
    return F_CHAT;
  if (JT_GET(j, 0, "is_finished") >= 0 || JT_GET(j, 0, "text") >= 0)
    return F_COHERE;
  return F_UNKNOWN;
}

static void jt_usage(const struct jt *j, int obj, const char *key, int *has,
                     int64_t *v) {
  if (jt_count(j, jt_get(j, obj, key), v))
    *has = 1;
}

/* The invocation metrics of the last chunk. */
static void read_metrics(struct iv_stream *s, const char *chunk, size_t len) {
  static const char key[] = "amazon-bedrock-invocationMetrics";
  if (!memmem(chunk, len, key, sizeof key - 1))
    return;
  cJSON *root = at_json_parse(chunk, len);
  const cJSON *m = at_json_get(root, key);
  if (cJSON_IsObject(m)) {
    struct bedrock_usage *u = &s->metrics;
    u->has_input = at_json_count(at_json_get(m, "inputTokenCount"), &u->input);
    u->has_output =
        at_json_count(at_json_get(m, "outputTokenCount"), &u->output);
    u->has_read =
        at_json_count(at_json_get(m, "cacheReadInputTokenCount"), &u->read);
    u->has_write =
        at_json_count(at_json_get(m, "cacheWriteInputTokenCount"), &u->write);
    at_bedrock_meta_ms(s->o, "latency_ms", at_json_get(m, "invocationLatency"));
    at_bedrock_meta_ms(s->o, "first_byte_latency_ms",
                       at_json_get(m, "firstByteLatency"));
  }
  cJSON_Delete(root);
}

/* Append a text piece (token t of s->jt) to the answer. */
static void piece(struct iv_stream *s, int t, size_t end_offset) {
  if (jt_str(&s->jt, t, &s->text) > 0)
    at_obs_first_output(s->o, end_offset);
}

/* Llama, Titan, Mistral, chat-like and Cohere chunks: text pieces, a
 * stop reason, maybe counts. */
static void generic_chunk(struct iv_stream *s, size_t end_offset) {
  const struct jt *j = &s->jt;
  char buf[64];
  const char *r = NULL;
  switch (s->family) {
  case F_LLAMA:
    piece(s, JT_GET(j, 0, "generation"), end_offset);
    r = jt_strbuf(j, JT_GET(j, 0, "stop_reason"), buf, sizeof buf);
    jt_usage(j, 0, "prompt_token_count", &s->native.has_input,
             &s->native.input);
    jt_usage(j, 0, "generation_token_count", &s->native.has_output,
             &s->native.output);
    break;
  case F_TITAN:
    piece(s, JT_GET(j, 0, "outputText"), end_offset);
    r = jt_strbuf(j, JT_GET(j, 0, "completionReason"), buf, sizeof buf);
    jt_usage(j, 0, "inputTextTokenCount", &s->native.has_input,
             &s->native.input);
    jt_usage(j, 0, "totalOutputTextTokenCount", &s->native.has_output,
             &s->native.output);
    break;
  case F_MISTRAL: {
    int c = jt_first(j, JT_GET(j, 0, "outputs"));
    piece(s, JT_GET(j, c, "text"), end_offset);
    r = jt_strbuf(j, JT_GET(j, c, "stop_reason"), buf, sizeof buf);
    break;
  }
  case F_CHAT:
  case F_PROMPT: {
    int c = jt_first(j, JT_GET(j, 0, "choices"));
    int d = JT_GET(j, c, "delta");
    int t = JT_GET(j, d, "content");
    if (t < 0)
      t = JT_GET(j, c, "text");
    if (t < 0)
      t = JT_GET(j, JT_GET(j, c, "message"), "content");
    piece(s, t, end_offset);
    r = jt_strbuf(j, JT_GET(j, c, "finish_reason"), buf, sizeof buf);
    if (!r)
      r = jt_strbuf(j, JT_GET(j, c, "stop_reason"), buf, sizeof buf);
    int u = JT_GET(j, 0, "usage");
    jt_usage(j, u, "prompt_tokens", &s->native.has_input, &s->native.input);
    jt_usage(j, u, "completion_tokens", &s->native.has_output,
             &s->native.output);
    break;
  }
  case F_COHERE: {
    int et = JT_GET(j, 0, "event_type");
    if (et < 0 || jt_eq(j, et, "text-generation"))
      piece(s, JT_GET(j, 0, "text"), end_offset);
    r = jt_strbuf(j, JT_GET(j, 0, "finish_reason"), buf, sizeof buf);
    int bu =
        JT_GET(j, JT_GET(j, JT_GET(j, 0, "response"), "meta"), "billed_units");
    jt_usage(j, bu, "input_tokens", &s->native.has_input, &s->native.input);
    jt_usage(j, bu, "output_tokens", &s->native.has_output, &s->native.output);
    break;
  }
  default:
    break;
  }
  set_finish(s, r);
}

static void nova_chunk(struct iv_stream *s, size_t end_offset) {
  static const char *const events[] = {"messageStart",
                                       "contentBlockStart",
                                       "contentBlockDelta",
                                       "contentBlockStop",
                                       "messageStop",
                                       "metadata",
                                       NULL};
  const struct jt *j = &s->jt;
  for (size_t i = 0; events[i]; i++) {
    int v = jt_get(j, 0, events[i]);
    if (v < 0)
      continue;
    const struct jt_tok *t = &j->t[v];
    at_bedrock_cv_event(s->nova, events[i], strlen(events[i]), j->s + t->start,
                        t->end - t->start, end_offset);
  }
}

static void chunk_event(struct iv_stream *s, const char *chunk, size_t len,
                        size_t end_offset) {
  struct at_obs *o = s->o;
  read_metrics(s, chunk, len);
  if (s->family != F_ANTHROPIC) {
    if (jt_parse(&s->jt, chunk, len) != 0 || jt_type(&s->jt, 0) != JT_OBJECT) {
      if (!s->bad_chunks++)
        at_obs_parse_error(o, "stream chunk is not a JSON object");
      return;
    }
    if (s->family == F_UNKNOWN)
      s->family = family_of_chunk(&s->jt);
    else if (s->family == F_MISTRAL && JT_GET(&s->jt, 0, "choices") >= 0)
      s->family = F_CHAT; /* Mistral Large 2 streams chat chunks */
  }
  switch (s->family) {
  case F_ANTHROPIC: {
    if (!s->anthropic && !(s->anthropic = at_anthropic_stream_begin(o)))
      return;
    struct at_sse_event e = {.event = "",
                             .data = chunk,
                             .data_len = len,
                             .id = "",
                             .end_offset = end_offset};
    at_anthropic_stream_event(&e, s->anthropic);
    break;
  }
  case F_NOVA:
    if (!s->nova && !(s->nova = at_bedrock_cv_begin(o)))
      return;
    nova_chunk(s, end_offset);
    break;
  default:
    generic_chunk(s, end_offset);
    break;
  }
}

static void invoke_event(void *arg, struct at_es_str type, const char *payload,
                         size_t len, size_t end_offset) {
  struct iv_stream *s = arg;
  struct at_obs *o = s->o;
  if (type.p && !at_es_str_is(type, "chunk"))
    return; /* nothing else is defined; keep going */
  s->chunks++;
  if (jt_parse(&s->jt, payload, len) != 0) {
    if (!s->bad_chunks++)
      at_obs_parse_error(o, "stream chunk is not a JSON object");
    return;
  }
  dynbuf_reset(&s->b64);
  dynbuf_reset(&s->chunk);
  if (jt_str(&s->jt, JT_GET(&s->jt, 0, "bytes"), &s->b64) < 0 ||
      b64_decode(s->b64.ptr ? s->b64.ptr : "", s->b64.len, &s->chunk) != 0) {
    if (!s->bad_chunks++)
      at_obs_parse_error(o, "stream chunk has no base64 \"bytes\"");
    return;
  }
  if (s->chunk.oom) {
    o->oom = 1;
    return;
  }
  const char *text = s->chunk.ptr ? s->chunk.ptr : "";
  size_t n = s->chunk.len;
  if (!at_utf8_valid(text, n)) {
    /* every bad byte becomes '?': same length, in place */
    at_utf8_clean(s->chunk.ptr, n + 1, s->chunk.ptr, n, 0);
    if (!s->bad_chunks++)
      at_obs_parse_error(o, "stream chunk is not valid UTF-8 (bad bytes shown "
                            "as '?')");
  }
  chunk_event(s, text, n, end_offset);
}

/* Usage: the model's own counts, else the invocation metrics. */
static void stream_usage(struct iv_stream *s) {
  if (s->native.has_input || s->native.has_output)
    at_bedrock_usage_apply(s->o, &s->native);
  else
    at_bedrock_usage_apply(s->o, &s->metrics);
}

static void generic_end(struct iv_stream *s) {
  struct at_obs *o = s->o;
  if (s->chunks == 0 && o->level < AT_LEVEL_ERROR)
    at_obs_parse_error(o, "stream has no events");
  else if (!s->finish && s->chunks && o->level < AT_LEVEL_ERROR)
    at_obs_parse_error(o, "stream ended before a stop reason");
  if (s->chunks) {
    cJSON *m;
    cJSON *parts = output_message(o, &m);
    at_part_text(o, parts, "text", s->text.ptr ? s->text.ptr : "", s->text.len);
    at_obs_finish(o, m, s->finish ? s->finish : "error");
  }
  stream_usage(s);
}

static void invoke_stream(struct at_obs *o, const char *body, size_t len) {
  struct iv_stream *s = calloc(1, sizeof(*s));
  if (!s) {
    o->oom = 1;
    return;
  }
  s->o = o;
  s->family = url_family(o);
  jt_init(&s->jt);
  dynbuf_init(&s->b64, AT_BEDROCK_MESSAGE_MAX);
  dynbuf_init(&s->chunk, AT_BEDROCK_MESSAGE_MAX);
  dynbuf_init(&s->text, AT_ASSEMBLED_MAX);
  at_bedrock_event_stream(o, body, len, invoke_event, s);
  /* The invocation metrics go in first: the model's own counts, applied
   * when its stream state ends, replace them wherever they exist. */
  if (s->anthropic) {
    at_bedrock_usage_apply(o, &s->metrics);
    at_anthropic_stream_end(s->anthropic);
  } else if (s->nova) {
    at_bedrock_usage_apply(o, &s->metrics);
    at_bedrock_cv_end(s->nova);
  } else {
    generic_end(s);
  }
  at_bedrock_response_model(o);
  at_note_usage_missing(o, 0);
  free(s->finish);
  jt_free(&s->jt);
  dynbuf_free(&s->b64);
  dynbuf_free(&s->chunk);
  dynbuf_free(&s->text);
  free(s);
}

const struct at_api_parser at_bedrock_invoke_parser = {
    "generation", "chat", invoke_request, invoke_response, invoke_stream};

/* ---- embeddings ------------------------------------------------------- */

static void add_input_text(struct at_obs *o, const char *t) {
  if (!o->input)
    o->input = cJSON_CreateArray();
  cJSON *s = o->input ? cJSON_CreateString(t) : NULL;
  if (!s) {
    o->oom = 1;
    return;
  }
  cJSON_AddItemToArray(o->input, s);
}

/* Titan: {inputText, dimensions, normalize, embeddingTypes}; Cohere:
 * {texts, input_type, truncate, embedding_types}. */
static void embed_request(struct at_obs *o, const cJSON *req) {
  at_bedrock_request_model(o);
  param_as(o, req, "dimensions", "dimensions");
  param_as(o, req, "normalize", "normalize");
  param_as(o, req, "embeddingTypes", "embedding_types");
  param_as(o, req, "embedding_types", "embedding_types");
  param_as(o, req, "input_type", "input_type");
  param_as(o, req, "truncate", "truncate");
  const char *t = at_obs_str(o, req, "inputText", "request");
  if (t)
    add_input_text(o, t);
  const cJSON *v;
  cJSON_ArrayForEach(v, at_obs_arr(o, req, "texts", "request")) {
    if (cJSON_IsString(v))
      add_input_text(o, v->valuestring);
    else
      at_obs_parse_error(o, "request.texts has an entry that is not text");
  }
}

/* Titan: {embedding: [...], inputTextTokenCount, embeddingsByType};
 * Cohere: {embeddings: [[...]] or {float: [[...]], ...}, id, texts}. */
static void embed_response(struct at_obs *o, const cJSON *resp) {
  at_bedrock_response_model(o);
  int64_t count = -1, dims = -1;
  const cJSON *one = at_json_get(resp, "embedding");
  if (!one)
    one = at_json_get(at_json_get(resp, "embeddingsByType"), "float");
  const cJSON *many = at_json_get(resp, "embeddings");
  if (cJSON_IsObject(many)) /* by type: take the first kind */
    many = many->child;
  if (cJSON_IsArray(one)) {
    count = 1;
    dims = cJSON_GetArraySize(one);
  } else if (cJSON_IsArray(many)) {
    count = cJSON_GetArraySize(many);
    const cJSON *first = cJSON_GetArrayItem(many, 0);
    if (cJSON_IsArray(first))
      dims = cJSON_GetArraySize(first);
  } else {
    at_obs_parse_error(o, "response has no embedding");
  }
  if (count >= 0) {
    o->output = cJSON_CreateObject();
    if (!o->output ||
        !cJSON_AddNumberToObject(o->output, "count", (double)count) ||
        (dims >= 0 &&
         !cJSON_AddNumberToObject(o->output, "dimensions", (double)dims)))
      o->oom = 1;
  }
  at_obs_set(o, &o->response_id, at_json_str(resp, "id"));
  count_into(o, resp, "inputTextTokenCount", AT_U_INPUT, "response");
  usage_fallback(o);
  at_note_usage_missing(o, 0);
}

const struct at_api_parser at_bedrock_embed_parser = {
    "embedding", "embeddings", embed_request, embed_response, NULL};
