/* gemini: Google's Gemini API (generativelanguage.googleapis.com) and Vertex
 * AI (*aiplatform.googleapis.com): generateContent, streamGenerateContent
 * (a JSON array streamed element by element, or server-sent events with
 * ?alt=sse), embedContent and batchEmbedContents.
 *
 * The model is named by the URL (".../models/{model}:generateContent"),
 * not by the body. Gemini counts thoughts apart from the candidates: the
 * record's output_tokens is candidatesTokenCount + thoughtsTokenCount, and
 * its input_tokens is promptTokenCount (cached content included) +
 * toolUsePromptTokenCount. What is read and how it maps: docs/providers.md
 * ("Gemini and Vertex AI"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "dynbuf.h"
#include "json_util.h"
#include "jsontok.h"
#include "messages.h"
#include "parsers.h"
#include "sse.h"
#include "url.h"

#define MAX_CANDIDATES 128
#define MAX_SEGMENTS 1024 /* per streamed candidate: runs of one kind */
#define NAME_MAX_LEN 256  /* model names, finish and block reasons */

/* ---- small helpers ---------------------------------------------------- */

/* Google's JSON parsers accept every field in lowerCamelCase and in
 * snake_case; clients send either (even both in one body). */
static const cJSON *gget(const cJSON *obj, const char *camel,
                         const char *snake) {
  const cJSON *v = at_json_get(obj, camel);
  return v ? v : at_json_get(obj, snake);
}

static const char *gstr(struct at_obs *o, const cJSON *obj, const char *camel,
                        const char *snake, const char *where) {
  const cJSON *v = gget(obj, camel, snake);
  if (!v)
    return NULL;
  if (cJSON_IsString(v))
    return v->valuestring;
  at_obs_parse_error(o, "%s.%s is not a string", where, camel);
  return NULL;
}

static const cJSON *gobj(struct at_obs *o, const cJSON *obj, const char *camel,
                         const char *snake, const char *where) {
  const cJSON *v = gget(obj, camel, snake);
  if (!v)
    return NULL;
  if (cJSON_IsObject(v))
    return v;
  at_obs_parse_error(o, "%s.%s is not an object", where, camel);
  return NULL;
}

static const cJSON *garr(struct at_obs *o, const cJSON *obj, const char *camel,
                         const char *snake, const char *where) {
  const cJSON *v = gget(obj, camel, snake);
  if (!v)
    return NULL;
  if (cJSON_IsArray(v))
    return v;
  at_obs_parse_error(o, "%s.%s is not an array", where, camel);
  return NULL;
}

/* "maxOutputTokens" -> "max_output_tokens" (snake_case stays as it is). */
static void snake_case(const char *in, char *out, size_t cap) {
  size_t n = 0;
  for (; *in && n + 2 < cap; in++) {
    char c = *in;
    if (c >= 'A' && c <= 'Z') {
      if (n)
        out[n++] = '_';
      c = (char)(c + 32);
    }
    out[n++] = c;
  }
  out[n] = '\0';
}

static const char *role_name(const char *role) {
  if (!role || !role[0] || !strcmp(role, "user"))
    return "user";
  if (!strcmp(role, "model"))
    return "assistant";
  if (!strcmp(role, "function") || !strcmp(role, "tool"))
    return "tool";
  return role;
}

static const char *modality_of(const char *mime) {
  if (!mime)
    return "document";
  if (!strncmp(mime, "image/", 6))
    return "image";
  if (!strncmp(mime, "audio/", 6))
    return "audio";
  if (!strncmp(mime, "video/", 6))
    return "video";
  return "document";
}

/* Is the exchange Vertex AI's? Its enums, sent as numbers
 * ($alt=json;enum-encoding=int), are numbered differently. */
static int is_vertex(const struct at_obs *o) {
  struct at_url u;
  if (!o->ex->url || at_url_split(o->ex->url, &u) != 0)
    return 0;
  static const char tail[] = "aiplatform.googleapis.com";
  size_t k = sizeof tail - 1, n = u.host_len;
  if (n && u.host[n - 1] == '.')
    n--;
  return n >= k && !strncasecmp(u.host + n - k, tail, k);
}

/* A finish reason the provider sent as an enum number: its name. The
 * first six are the same in both APIs; the rest differ (Vertex:
 * google.cloud.aiplatform.v1 Candidate.FinishReason; the Gemini API's
 * later values are not mapped and stay numbers). */
static const char *finish_name(int64_t v, int vertex, char *buf, size_t cap) {
  static const char *const common[] = {"FINISH_REASON_UNSPECIFIED",
                                       "STOP",
                                       "MAX_TOKENS",
                                       "SAFETY",
                                       "RECITATION",
                                       "OTHER"};
  static const char *const vertex_more[] = {"BLOCKLIST",
                                            "PROHIBITED_CONTENT",
                                            "SPII",
                                            "MALFORMED_FUNCTION_CALL",
                                            "MODEL_ARMOR",
                                            "IMAGE_SAFETY",
                                            "IMAGE_PROHIBITED_CONTENT",
                                            "IMAGE_RECITATION",
                                            "IMAGE_OTHER",
                                            "UNEXPECTED_TOOL_CALL",
                                            "NO_IMAGE"};
  size_t nc = sizeof common / sizeof common[0];
  size_t nv = sizeof vertex_more / sizeof vertex_more[0];
  if (v >= 0 && (size_t)v < nc)
    return common[v];
  if (vertex && v >= 0 && (size_t)v < nc + nv)
    return vertex_more[v - (int64_t)nc];
  snprintf(buf, cap, "%lld", (long long)v);
  return buf;
}

/* promptFeedback.blockReason as a number: the values both APIs share. */
static const char *block_name(int64_t v, char *buf, size_t cap) {
  static const char *const names[] = {"BLOCK_REASON_UNSPECIFIED", "SAFETY",
                                      "OTHER", "BLOCKLIST",
                                      "PROHIBITED_CONTENT"};
  if (v >= 0 && (size_t)v < sizeof names / sizeof names[0])
    return names[v];
  snprintf(buf, cap, "%lld", (long long)v);
  return buf;
}

/* A finish reason from a cJSON value (string or enum number); NULL when
 * absent or of another type (reported). */
static const char *finish_value(struct at_obs *o, const cJSON *v, char *buf,
                                size_t cap, const char *where) {
  int64_t n;
  if (!v)
    return NULL;
  if (cJSON_IsString(v))
    return v->valuestring;
  if (at_json_count(v, &n))
    return finish_name(n, is_vertex(o), buf, cap);
  at_obs_parse_error(o, "%s.finishReason is not a string", where);
  return NULL;
}

/* ---- the URL: model and method ---------------------------------------- */

/* From ".../models/gemini-2.5-flash:streamGenerateContent": the model
 * ("gemini-2.5-flash"; tuned models and Vertex endpoints keep their
 * collection: "tunedModels/x", "endpoints/123") and the method. Returns 1
 * when the last path segment has the "{resource}:{method}" shape. */
static int url_model(const char *url, char *model, size_t mcap, char *method,
                     size_t mecap) {
  struct at_url u;
  model[0] = method[0] = '\0';
  if (!url || at_url_split(url, &u) != 0 || u.path_len < 2)
    return 0;
  const char *p = u.path;
  size_t n = u.path_len;
  if (n > 1 && p[n - 1] == '/')
    n--;
  size_t seg = n;
  while (seg > 0 && p[seg - 1] != '/')
    seg--;
  const char *last = p + seg;
  size_t last_len = n - seg;
  /* "{resource}:{method}", the ':' possibly written as %3A */
  size_t colon = 0, skip = 0;
  for (size_t i = 0; i < last_len && !skip; i++) {
    if (last[i] == ':') {
      colon = i;
      skip = 1;
    } else if (last[i] == '%' && i + 2 < last_len && last[i + 1] == '3' &&
               (last[i + 2] == 'A' || last[i + 2] == 'a')) {
      colon = i;
      skip = 3;
    }
  }
  if (!skip || colon == 0 || colon + skip >= last_len)
    return 0;
  size_t mlen = last_len - colon - skip;
  if (mlen >= mecap)
    return 0;
  memcpy(method, last + colon + skip, mlen);
  method[mlen] = '\0';
  /* the collection: the segment before the resource */
  size_t cend = seg ? seg - 1 : 0, cstart = cend;
  while (cstart > 0 && p[cstart - 1] != '/')
    cstart--;
  const char *coll = p + cstart;
  size_t coll_len = cend - cstart;
  int keep = (coll_len == 11 && !memcmp(coll, "tunedModels", 11)) ||
             (coll_len == 9 && !memcmp(coll, "endpoints", 9));
  size_t need = (keep ? coll_len + 1 : 0) + colon;
  if (need >= mcap)
    return 1;
  size_t k = 0;
  if (keep) {
    memcpy(model, coll, coll_len);
    model[coll_len] = '/';
    k = coll_len + 1;
  }
  memcpy(model + k, last, colon);
  model[k + colon] = '\0';
  return 1;
}

void at_gemini_from_url(struct at_obs *o) {
  char model[NAME_MAX_LEN], method[64];
  if (!url_model(o->ex->url, model, sizeof model, method, sizeof method))
    return;
  char clean[NAME_MAX_LEN];
  at_utf8_clean(clean, sizeof clean, model, strlen(model), 1);
  if (clean[0])
    at_obs_set(o, &o->request_model, clean);
  /* The method says it: the body has no "stream" flag. */
  if (!strcmp(method, "streamGenerateContent") &&
      !cJSON_AddTrueToObject(o->params, "stream"))
    o->oom = 1;
}

/* A model named in the body ("models/gemini-embedding-001"), for when the
 * URL named none. */
static void body_model(struct at_obs *o, const cJSON *obj, const char *where) {
  if (o->request_model)
    return;
  const char *m = gstr(o, obj, "model", "model", where);
  if (m && !strncmp(m, "models/", 7))
    m += 7;
  if (m && m[0])
    at_obs_set(o, &o->request_model, m);
}

/* ---- parts ------------------------------------------------------------ */

/* fileData: a file uploaded with the Files API becomes a provider-side
 * file, anything else (gs://, https://) a URI. */
static void file_data(struct at_obs *o, cJSON *parts, const cJSON *fd,
                      const char *where) {
  const char *mime = gstr(o, fd, "mimeType", "mime_type", where);
  const char *uri = gstr(o, fd, "fileUri", "file_uri", where);
  const char *modality = modality_of(mime);
  if (!uri) {
    at_part_other(o, parts, "uri");
    return;
  }
  const char *files = strstr(uri, "generativelanguage.googleapis.com/");
  files = files ? strstr(files, "/files/") : NULL;
  if (files && files[7] && !strpbrk(files + 7, "/?#")) {
    at_part_file(o, parts, modality, files + 1); /* "files/abc123" */
    return;
  }
  int before = cJSON_GetArraySize(parts);
  at_part_media_url(o, parts, modality, uri);
  cJSON *p = cJSON_GetArrayItem(parts, before);
  if (p && mime && !cJSON_GetObjectItemCaseSensitive(p, "mime_type") &&
      !cJSON_AddStringToObject(p, "mime_type", mime))
    o->oom = 1;
}

static void add_copy(struct at_obs *o, cJSON *obj, const char *key,
                     const cJSON *v) {
  if (at_json_add_copy(obj, key, v) != 0)
    o->oom = 1;
}

/* {"type":"tool_call_response", id, name, response}. */
static void function_response(struct at_obs *o, cJSON *parts, const cJSON *fr,
                              const char *where) {
  const char *id = gstr(o, fr, "id", "id", where);
  const char *name = gstr(o, fr, "name", "name", where);
  cJSON *p = cJSON_CreateObject();
  if (!p || !cJSON_AddStringToObject(p, "type", "tool_call_response") ||
      (id && !cJSON_AddStringToObject(p, "id", id)) ||
      (name && !cJSON_AddStringToObject(p, "name", name))) {
    cJSON_Delete(p);
    o->oom = 1;
    return;
  }
  add_copy(o, p, "response", gget(fr, "response", "response"));
  cJSON_AddItemToArray(parts, p);
}

/* Code execution parts, kept with their content: {"type":
 * "executable_code", language, code}, {"type": "code_execution_result",
 * outcome, output}. */
static void code_part(struct at_obs *o, cJSON *parts, const char *type,
                      const cJSON *v, const char *k1, const char *k2) {
  cJSON *p = cJSON_CreateObject();
  if (!p || !cJSON_AddStringToObject(p, "type", type)) {
    cJSON_Delete(p);
    o->oom = 1;
    return;
  }
  add_copy(o, p, k1, at_json_get(v, k1));
  add_copy(o, p, k2, at_json_get(v, k2));
  cJSON_AddItemToArray(parts, p);
}

/* Keys that qualify a part rather than make one. */
static int modifier_key(const char *k) {
  static const char *const mods[] = {
      "thought",       "thoughtSignature", "thought_signature",
      "videoMetadata", "video_metadata",   "partMetadata",
      "part_metadata", "mediaResolution",  "media_resolution"};
  for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
    if (!strcmp(k, mods[i]))
      return 1;
  return 0;
}

/* One Part into record parts. `output`: an empty text is left out (the
 * last chunk of a Gemini 3 stream carries "" with a thought signature). */
static void content_part(struct at_obs *o, cJSON *parts, const cJSON *p,
                         const char *where, int output) {
  if (cJSON_IsString(p)) { /* lenient: a bare string */
    at_part_text(o, parts, "text", p->valuestring, strlen(p->valuestring));
    return;
  }
  if (!cJSON_IsObject(p)) {
    at_obs_parse_error(o, "%s: a part is not an object", where);
    return;
  }
  const cJSON *v;
  if ((v = gget(p, "text", "text"))) {
    if (!cJSON_IsString(v)) {
      at_obs_parse_error(o, "%s.parts[].text is not a string", where);
      return;
    }
    size_t n = strlen(v->valuestring);
    if (n || !output)
      at_part_text(o, parts,
                   cJSON_IsTrue(at_json_get(p, "thought")) ? "reasoning"
                                                           : "text",
                   v->valuestring, n);
  } else if ((v = gobj(o, p, "inlineData", "inline_data", where))) {
    const char *mime = gstr(o, v, "mimeType", "mime_type", where);
    const char *data = gstr(o, v, "data", "data", where);
    at_part_blob_b64(o, parts, modality_of(mime), mime, data,
                     data ? strlen(data) : 0);
  } else if ((v = gobj(o, p, "fileData", "file_data", where))) {
    file_data(o, parts, v, where);
  } else if ((v = gobj(o, p, "functionCall", "function_call", where))) {
    const cJSON *args = gget(v, "args", "args");
    at_part_tool_call_value(o, parts, gstr(o, v, "id", "id", where),
                            gstr(o, v, "name", "name", where), args);
  } else if ((v = gobj(o, p, "functionResponse", "function_response", where))) {
    function_response(o, parts, v, where);
  } else if ((v = gobj(o, p, "executableCode", "executable_code", where))) {
    code_part(o, parts, "executable_code", v, "language", "code");
  } else if ((v = gobj(o, p, "codeExecutionResult", "code_execution_result",
                       where))) {
    code_part(o, parts, "code_execution_result", v, "outcome", "output");
  } else {
    /* A kind we do not model keeps its place: its first key as type. */
    const cJSON *k;
    cJSON_ArrayForEach(k, p) {
      if (k->string && !modifier_key(k->string)) {
        char type[64];
        snake_case(k->string, type, sizeof type);
        at_part_other(o, parts, type);
        break;
      }
    }
  }
}

static int is_function_response(const cJSON *p) {
  return gget(p, "functionResponse", "function_response") != NULL;
}

/* A Content ({role, parts}) as messages: function responses go into "tool"
 * messages of their own, the rest keeps the content's role, in order. */
static void content_messages(struct at_obs *o, cJSON *arr, const cJSON *c,
                             const char *fallback_role, const char *where) {
  if (cJSON_IsString(c)) { /* lenient: "systemInstruction": "text" */
    cJSON *parts = at_msg_add(o, arr, fallback_role, NULL);
    at_part_text(o, parts, "text", c->valuestring, strlen(c->valuestring));
    return;
  }
  if (!cJSON_IsObject(c)) {
    at_obs_parse_error(o, "%s is not an object", where);
    return;
  }
  const char *role = fallback_role;
  if (strcmp(fallback_role, "system") != 0)
    role = role_name(gstr(o, c, "role", "role", where));
  const cJSON *ps = garr(o, c, "parts", "parts", where);
  cJSON *parts = NULL;
  int tool = -1;
  const cJSON *p;
  cJSON_ArrayForEach(p, ps) {
    int is_tool = is_function_response(p);
    if (!parts || is_tool != tool) {
      parts = at_msg_add(o, arr, is_tool ? "tool" : role, NULL);
      tool = is_tool;
    }
    content_part(o, parts, p, where, 0);
  }
  if (!parts) /* no parts: the message still had its place */
    at_msg_add(o, arr, role, NULL);
}

/* ---- usage ------------------------------------------------------------ */

enum {
  GU_PROMPT,
  GU_CANDIDATES,
  GU_THOUGHTS,
  GU_CACHED,
  GU_TOOL_PROMPT,
  GU_TOTAL,
  GU_N
};
static const char *const gu_camel[GU_N] = {
    "promptTokenCount",        "candidatesTokenCount",    "thoughtsTokenCount",
    "cachedContentTokenCount", "toolUsePromptTokenCount", "totalTokenCount"};
static const char *const gu_snake[GU_N] = {
    "prompt_token_count",          "candidates_token_count",
    "thoughts_token_count",        "cached_content_token_count",
    "tool_use_prompt_token_count", "total_token_count"};

struct gem_usage {
  unsigned has; /* bit i: count i was given */
  int64_t v[GU_N];
  int64_t audio_in, audio_out; /* from the per-modality details; 0: none */
};

/* The AUDIO entry of a per-modality list ([{"modality": "AUDIO",
 * "tokenCount": n}, ...]; the modality may come as its enum number, 4). */
static int64_t audio_tokens(const cJSON *details) {
  const cJSON *d;
  int64_t sum = 0, n, m;
  cJSON_ArrayForEach(d, details) {
    const cJSON *mod = at_json_get(d, "modality");
    int audio = cJSON_IsString(mod) ? !strcmp(mod->valuestring, "AUDIO")
                                    : (at_json_count(mod, &m) && m == 4);
    const cJSON *c = gget(d, "tokenCount", "token_count");
    if (audio && at_json_count(c, &n))
      sum += n;
  }
  return sum;
}

static void usage_from_cjson(struct at_obs *o, const cJSON *um,
                             struct gem_usage *u, const char *where) {
  for (int i = 0; i < GU_N; i++) {
    const cJSON *v = gget(um, gu_camel[i], gu_snake[i]);
    if (!v)
      continue;
    if (at_json_count(v, &u->v[i]))
      u->has |= 1u << i;
    else
      at_obs_parse_error(o, "%s.%s is not a token count", where, gu_camel[i]);
  }
  /* Audio is priced apart. Cached audio is in the cache reads already:
   * only the audio read afresh counts here. */
  int64_t in =
      audio_tokens(gget(um, "promptTokensDetails", "prompt_tokens_details"));
  int64_t cached =
      audio_tokens(gget(um, "cacheTokensDetails", "cache_tokens_details"));
  u->audio_in = in > cached ? in - cached : 0;
  u->audio_out = audio_tokens(
      gget(um, "candidatesTokensDetails", "candidates_tokens_details"));
}

static void apply_usage(struct at_obs *o, const struct gem_usage *u) {
#define HAS(i) (u->has & (1u << (i)))
  if (HAS(GU_PROMPT) || HAS(GU_TOOL_PROMPT))
    at_usage_set(&o->usage, AT_U_INPUT,
                 u->v[GU_PROMPT] * !!HAS(GU_PROMPT) +
                     u->v[GU_TOOL_PROMPT] * !!HAS(GU_TOOL_PROMPT));
  if (HAS(GU_CANDIDATES) || HAS(GU_THOUGHTS))
    at_usage_set(&o->usage, AT_U_OUTPUT,
                 u->v[GU_CANDIDATES] * !!HAS(GU_CANDIDATES) +
                     u->v[GU_THOUGHTS] * !!HAS(GU_THOUGHTS));
  if (HAS(GU_THOUGHTS))
    at_usage_set(&o->usage, AT_U_REASONING, u->v[GU_THOUGHTS]);
  if (HAS(GU_CACHED))
    at_usage_set(&o->usage, AT_U_CACHE_READ, u->v[GU_CACHED]);
  if (HAS(GU_TOTAL))
    at_usage_set(&o->usage, AT_U_TOTAL, u->v[GU_TOTAL]);
  if (u->audio_in > 0 && HAS(GU_PROMPT))
    at_usage_set(&o->usage, AT_U_INPUT_AUDIO, u->audio_in);
  if (u->audio_out > 0 && HAS(GU_CANDIDATES))
    at_usage_set(&o->usage, AT_U_OUTPUT_AUDIO, u->audio_out);
#undef HAS
}

static void note_usage_missing(struct at_obs *o, int streamed) {
  if (!at_usage_any(&o->usage))
    at_obs_meta_str(o, "usage_missing",
                    streamed ? "the stream carried no usageMetadata counts"
                             : "the response carried no usageMetadata counts");
}

/* promptFeedback.blockReason: the prompt was refused, no candidates come.
 * Level ERROR (the call produced nothing), the reason and its message. */
static void prompt_feedback(struct at_obs *o, const cJSON *pf) {
  if (!cJSON_IsObject(pf))
    return;
  const cJSON *br = gget(pf, "blockReason", "block_reason");
  char buf[32];
  const char *reason = NULL;
  int64_t n;
  if (cJSON_IsString(br))
    reason = br->valuestring;
  else if (at_json_count(br, &n))
    reason = block_name(n, buf, sizeof buf);
  if (!reason || !reason[0] || !strcmp(reason, "BLOCK_REASON_UNSPECIFIED") ||
      !strcmp(reason, "BLOCKED_REASON_UNSPECIFIED"))
    return;
  at_obs_meta_str(o, "block_reason", reason);
  const char *why = at_json_str(pf, "blockReasonMessage");
  char msg[AT_STATUS_MAX];
  snprintf(msg, sizeof msg, "prompt blocked: %s%s%s", reason, why ? ": " : "",
           why ? why : "");
  at_obs_raise(o, AT_LEVEL_ERROR, msg, strlen(msg));
}

/* ---- generateContent: request ----------------------------------------- */

/* generationConfig keys under the record's usual names; every other key
 * is kept in snake_case, as sent. */
static const struct {
  const char *from, *to;
} gen_names[] = {
    {"max_output_tokens", "max_tokens"},
    {"candidate_count", "n"},
    {"stop_sequences", "stop"},
    {"thinking_config", "thinking"},
};

static void generation_config(struct at_obs *o, const cJSON *gc) {
  const cJSON *k;
  cJSON_ArrayForEach(k, gc) {
    if (!k->string)
      continue;
    char name[64];
    snake_case(k->string, name, sizeof name);
    const char *to = name;
    for (size_t i = 0; i < sizeof gen_names / sizeof gen_names[0]; i++)
      if (!strcmp(name, gen_names[i].from))
        to = gen_names[i].to;
    /* camelCase and snake_case of one key: the first one sent wins */
    if (!cJSON_GetObjectItemCaseSensitive(o->params, to))
      add_copy(o, o->params, to, k);
  }
}

static void generate_request(struct at_obs *o, const cJSON *req) {
  body_model(o, req, "request");
  const cJSON *gc =
      gobj(o, req, "generationConfig", "generation_config", "request");
  if (gc)
    generation_config(o, gc);
  const cJSON *tools = gget(req, "tools", "tools");
  if (tools)
    add_copy(o, o->params, "tools", tools);
  const cJSON *tc = gget(req, "toolConfig", "tool_config");
  if (tc)
    add_copy(o, o->params, "tool_config", tc);
  at_obs_meta_str(o, "cached_content",
                  gstr(o, req, "cachedContent", "cached_content", "request"));

  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  const cJSON *si = gget(req, "systemInstruction", "system_instruction");
  if (si)
    content_messages(o, o->input, si, "system", "request.systemInstruction");
  const cJSON *contents = gget(req, "contents", "contents");
  if (!contents) {
    at_obs_parse_error(o, "request has no contents");
    return;
  }
  if (cJSON_IsObject(contents) || cJSON_IsString(contents)) {
    /* lenient: one Content instead of a list */
    content_messages(o, o->input, contents, "user", "request.contents");
    return;
  }
  if (!cJSON_IsArray(contents)) {
    at_obs_parse_error(o, "request.contents is not an array");
    return;
  }
  const cJSON *c;
  cJSON_ArrayForEach(c, contents)
      content_messages(o, o->input, c, "user", "request.contents[]");
}

/* ---- generateContent: plain response ---------------------------------- */

static void finish(struct at_obs *o, cJSON *msg, const char *reason) {
  if (reason && msg && !cJSON_AddStringToObject(msg, "finish_reason", reason))
    o->oom = 1;
}

/* A candidate's index. proto3 JSON leaves zeros out, so when any
 * candidate of the list names its index a missing one is 0; when none
 * does, the position in the list is the index. */
static int64_t candidate_index(const cJSON *c, int any_index,
                               int64_t position) {
  int64_t i;
  if (at_json_count(at_json_get(c, "index"), &i))
    return i;
  return any_index ? 0 : position;
}

static void plain_candidates(struct at_obs *o, const cJSON *cands) {
  const cJSON *sorted[MAX_CANDIDATES];
  int64_t idx[MAX_CANDIDATES];
  size_t n = 0;
  int any_index = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cands) any_index |= at_json_get(c, "index") != NULL;
  cJSON_ArrayForEach(c, cands) {
    if (n == MAX_CANDIDATES)
      break;
    int64_t x = candidate_index(c, any_index, (int64_t)n);
    size_t j = n++;
    while (j > 0 && idx[j - 1] > x) {
      sorted[j] = sorted[j - 1];
      idx[j] = idx[j - 1];
      j--;
    }
    sorted[j] = c;
    idx[j] = x;
  }
  o->output = cJSON_CreateArray();
  if (!o->output) {
    o->oom = 1;
    return;
  }
  /* a reason is the response's own string, a static name, or a number
   * written into nums[i] */
  const char *reasons[MAX_CANDIDATES];
  char nums[MAX_CANDIDATES][24];
  int all = n > 0;
  for (size_t i = 0; i < n; i++) {
    const char *where = "response.candidates[]";
    c = sorted[i];
    reasons[i] = NULL;
    if (!cJSON_IsObject(c)) {
      at_obs_parse_error(o, "%s is not an object", where);
      all = 0;
      continue;
    }
    const cJSON *content = gobj(o, c, "content", "content", where);
    const char *role = role_name(gstr(o, content, "role", "role", where));
    cJSON *m;
    cJSON *parts = at_msg_add(o, o->output, role, &m);
    const cJSON *ps = garr(o, content, "parts", "parts", where);
    const cJSON *p;
    cJSON_ArrayForEach(p, ps) content_part(o, parts, p, where, 1);
    reasons[i] = finish_value(o, gget(c, "finishReason", "finish_reason"),
                              nums[i], sizeof nums[i], where);
    finish(o, m, reasons[i]);
    all &= reasons[i] != NULL;
  }
  /* finish_reasons lines up with the candidates: all or nothing */
  for (size_t i = 0; all && i < n; i++)
    at_obs_finish_reason(o, reasons[i]);
}

static void generate_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_id,
             gstr(o, resp, "responseId", "response_id", "response"));
  at_obs_set(o, &o->response_model,
             gstr(o, resp, "modelVersion", "model_version", "response"));
  prompt_feedback(o, gget(resp, "promptFeedback", "prompt_feedback"));
  const cJSON *cands = garr(o, resp, "candidates", "candidates", "response");
  if (cands)
    plain_candidates(o, cands);
  else if (!at_json_get(resp, "candidates") && o->level != AT_LEVEL_ERROR)
    at_obs_parse_error(o, "response has no candidates");
  const cJSON *um =
      gobj(o, resp, "usageMetadata", "usage_metadata", "response");
  struct gem_usage u = {0};
  usage_from_cjson(o, um, &u, "response.usageMetadata");
  apply_usage(o, &u);
  at_obs_meta_str(o, "service_tier",
                  gstr(o, um, "serviceTier", "service_tier", "usageMetadata"));
  note_usage_missing(o, 0);
}

/* ---- generateContent: streamed response ------------------------------- */

enum { SEG_TEXT, SEG_REASONING, SEG_PARTS };

/* A run of output of one kind: text or reasoning pieces joined, or parts
 * built whole (function calls, code, media). Runs keep the parts' order. */
struct seg {
  int kind;
  struct dynbuf text;
  cJSON *parts; /* SEG_PARTS: an array of record parts */
};

struct cand_acc {
  int64_t index;
  char role[32];
  struct seg *segs;
  size_t nsegs, cap;
  char *finish; /* malloc()ed once known */
};

struct gem_stream {
  struct at_obs *o;
  struct jt jt; /* the chunk being read, tokens reused */
  int vertex;
  struct cand_acc *cands;
  size_t ncands, cap;
  struct gem_usage usage;   /* from the last chunk with counts */
  struct dynbuf last_usage; /* that chunk's usageMetadata, read at the end */
  size_t chunks;
  int bad_chunks, dropped_segs;
  int closed; /* JSON array: the closing ']' arrived */
  int error;  /* an error object arrived */
  /* Repeats (chunk_tokens): when all the last chunk added was text token
   * rep_tok (of kind rep_kind) to candidate rep_cand, this is that token;
   * -1 otherwise. */
  int rep_tok, rep_kind;
  size_t rep_cand;
};

static struct cand_acc *cand_for(struct gem_stream *s, int64_t index) {
  for (size_t i = 0; i < s->ncands; i++)
    if (s->cands[i].index == index)
      return &s->cands[i];
  if (s->ncands == MAX_CANDIDATES)
    return NULL;
  if (s->ncands == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 2;
    void *p = realloc(s->cands, cap * sizeof(*s->cands));
    if (!p) {
      s->o->oom = 1;
      return NULL;
    }
    s->cands = p;
    s->cap = cap;
  }
  struct cand_acc *c = &s->cands[s->ncands++];
  memset(c, 0, sizeof(*c));
  c->index = index;
  return c;
}

/* The run to append to: the last one when it is of this kind (text and
 * reasoning only), else a new one. NULL past MAX_SEGMENTS. */
static struct seg *seg_for(struct gem_stream *s, struct cand_acc *c, int kind) {
  if (kind != SEG_PARTS && c->nsegs && c->segs[c->nsegs - 1].kind == kind)
    return &c->segs[c->nsegs - 1];
  if (c->nsegs == MAX_SEGMENTS) {
    s->dropped_segs = 1;
    return NULL;
  }
  if (c->nsegs == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 4;
    void *p = realloc(c->segs, cap * sizeof(*c->segs));
    if (!p) {
      s->o->oom = 1;
      return NULL;
    }
    c->segs = p;
    c->cap = cap;
  }
  struct seg *g = &c->segs[c->nsegs++];
  memset(g, 0, sizeof(*g));
  g->kind = kind;
  dynbuf_init(&g->text, AT_ASSEMBLED_MAX);
  return g;
}

/* A part that is not text: converted through cJSON (rare, and whole in
 * one chunk: Gemini never splits a function call). 1 when it made one. */
static int stream_other_part(struct gem_stream *s, struct cand_acc *c,
                             int tok) {
  cJSON *p = jt_cjson(&s->jt, tok);
  cJSON *parts = cJSON_CreateArray();
  if (!p || !parts) {
    cJSON_Delete(p);
    cJSON_Delete(parts);
    s->o->oom = 1;
    return 0;
  }
  content_part(s->o, parts, p, "stream", 1);
  cJSON_Delete(p);
  if (cJSON_GetArraySize(parts) == 0) {
    cJSON_Delete(parts);
    return 0;
  }
  struct seg *g = seg_for(s, c, SEG_PARTS);
  if (!g) {
    cJSON_Delete(parts);
    return 0;
  }
  g->parts = parts;
  return 1;
}

enum { P_TEXT, P_THOUGHT, P_N };
static const struct jt_key part_keys[P_N] = {JT_KEY("text"), JT_KEY("thought")};

enum { CT_ROLE, CT_PARTS, CT_N };
static const struct jt_key content_keys[CT_N] = {JT_KEY("role"),
                                                 JT_KEY("parts")};

enum { C_INDEX, C_CONTENT, C_FINISH, C_N };
static const struct jt_key cand_keys[C_N] = {JT_KEY("index"), JT_KEY("content"),
                                             JT_KEY("finishReason")};

/* One element of candidates[]. Returns the text token it added when that
 * (one text part, no finish reason) was all it did that reading it again
 * would not undo, else -1. */
static int stream_candidate(struct gem_stream *s, int ct, int pos,
                            int any_index, size_t offset) {
  struct at_obs *o = s->o;
  const struct jt *j = &s->jt;
  if (jt_type(j, ct) != JT_OBJECT)
    return -1;
  int cv[C_N];
  jt_pick(j, ct, cand_keys, C_N, cv);
  int64_t index = any_index ? 0 : pos; /* see candidate_index() */
  if (cv[C_INDEX] >= 0 && !jt_count(j, cv[C_INDEX], &index)) {
    at_obs_parse_error(o, "stream: candidates[].index is not a number");
    return -1;
  }
  struct cand_acc *c = cand_for(s, index);
  if (!c)
    return -1;
  s->rep_cand = (size_t)(c - s->cands);
  int text = -1, nparts = 0;
  int ctv[CT_N];
  jt_pick(j, cv[C_CONTENT], content_keys, CT_N, ctv);
  char role[sizeof c->role];
  if (!c->role[0] && jt_strbuf(j, ctv[CT_ROLE], role, sizeof role))
    memcpy(c->role, role, sizeof role);
  int parts = ctv[CT_PARTS];
  int out = 0;
  for (int p = jt_first(j, parts); p >= 0; p = jt_after(j, parts, p)) {
    if (jt_type(j, p) != JT_OBJECT)
      continue;
    int pv[P_N];
    jt_pick(j, p, part_keys, P_N, pv);
    nparts++;
    if (jt_type(j, pv[P_TEXT]) == JT_STRING) {
      const struct jt_tok *t = &j->t[pv[P_TEXT]];
      int kind =
          jt_type(j, pv[P_THOUGHT]) == JT_TRUE ? SEG_REASONING : SEG_TEXT;
      text = pv[P_TEXT];
      s->rep_kind = kind;
      if (t->end - t->start <= 2)
        continue; /* "" (a thought signature's carrier) */
      struct seg *g = seg_for(s, c, kind);
      if (g && jt_str(j, pv[P_TEXT], &g->text) > 0)
        out = 1;
    } else {
      nparts++; /* not a plain text part: no repeats */
      out |= stream_other_part(s, c, p);
    }
  }
  int fr = cv[C_FINISH];
  if (fr >= 0) {
    char buf[NAME_MAX_LEN];
    const char *name = jt_strbuf(j, fr, buf, sizeof buf);
    int64_t n;
    if (!name && jt_count(j, fr, &n))
      name = finish_name(n, s->vertex, buf, sizeof buf);
    if (name && name[0]) {
      free(c->finish);
      c->finish = strdup(name);
      o->oom |= !c->finish;
    } else if (!name) {
      at_obs_parse_error(o, "stream: candidates[].finishReason is not a "
                            "string");
    }
  }
  if (out)
    at_obs_first_output(o, offset);
  return nparts == 1 && cv[C_FINISH] < 0 ? text : -1;
}

/* A subtree handed to a cJSON-based reader. */
static void with_cjson(struct gem_stream *s, int tok,
                       void (*fn)(struct at_obs *, const cJSON *)) {
  cJSON *c = jt_cjson(&s->jt, tok);
  if (c)
    fn(s->o, c);
  else
    s->o->oom = 1;
  cJSON_Delete(c);
}

static void stream_error(struct at_obs *o, const cJSON *root) {
  if (!at_obs_json_error(o, root))
    at_obs_raise(o, AT_LEVEL_ERROR, "stream error", 12);
}

enum { R_ERROR, R_CANDS, R_USAGE, R_MODEL, R_ID, R_FEEDBACK, R_N };
static const struct jt_key root_keys[R_N] = {
    JT_KEY("error"),        JT_KEY("candidates"), JT_KEY("usageMetadata"),
    JT_KEY("modelVersion"), JT_KEY("responseId"), JT_KEY("promptFeedback")};

/* Does object token `obj` have a "...TokenCount" key? */
static int has_count_key(const struct jt *j, int obj) {
  uint32_t end = j->t[obj].next;
  for (uint32_t k = (uint32_t)obj + 1; k < end; k = j->t[k + 1].next) {
    const struct jt_tok *t = &j->t[k];
    if (t->end - t->start >= 12 &&
        !memcmp(j->s + t->end - 11, "TokenCount\"", 11))
      return 1;
  }
  return 0;
}

/* Every chunk repeats the usage so far: keep the text of the last report
 * with counts and read it once, at the end (Vertex sends {"trafficType":
 * ...} alone in the early chunks). */
static void keep_usage(struct gem_stream *s, int usage) {
  const struct jt *j = &s->jt;
  if (jt_type(j, usage) != JT_OBJECT || !has_count_key(j, usage))
    return;
  const struct jt_tok *t = &j->t[usage];
  dynbuf_reset(&s->last_usage);
  dynbuf_add(&s->last_usage, j->s + t->start, t->end - t->start);
  s->o->oom |= s->last_usage.oom;
}

/* Most chunks of a stream are the one before with more text (and the
 * usage so far): when the tokenizer says this one differs from the last
 * only in the last chunk's text token, in the usage and in members
 * nothing reads, and that text was all the last chunk added, this one
 * adds its own text the same way (and keeps its usage) without being
 * read again. */
static int repeat_chunk(struct gem_stream *s, int root, size_t offset) {
  struct jt *j = &s->jt;
  int tok = s->rep_tok;
  unsigned touched;
  if (jt_type(j, tok) != JT_STRING ||
      !jt_repeats(j, tok, root, root_keys, R_N, 1u << R_USAGE, &touched))
    return 0;
  if (touched)
    keep_usage(s, JT_GET(j, root, "usageMetadata"));
  const struct jt_tok *t = &j->t[tok];
  if (t->end - t->start <= 2)
    return 1; /* "": nothing to add, as for the chunk read in full */
  struct seg *g = seg_for(s, &s->cands[s->rep_cand], s->rep_kind);
  if (g && jt_str(j, tok, &g->text) > 0)
    at_obs_first_output(s->o, offset);
  return 1;
}

/* One GenerateContentResponse of the stream, object token `root` of
 * s->jt, ending at byte `offset`. */
static void chunk_tokens(struct gem_stream *s, int root, size_t offset) {
  struct at_obs *o = s->o;
  struct jt *j = &s->jt;
  if (s->rep_tok >= 0 && repeat_chunk(s, root, offset))
    return;
  s->rep_tok = -1;
  int rv[R_N];
  jt_pick(j, root, root_keys, R_N, rv);
  if (rv[R_ERROR] >= 0) {
    s->error = 1;
    with_cjson(s, root, stream_error);
  }
  char buf[NAME_MAX_LEN];
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
  if (rv[R_FEEDBACK] >= 0)
    with_cjson(s, rv[R_FEEDBACK], prompt_feedback);
  keep_usage(s, rv[R_USAGE]);
  int cands = rv[R_CANDS];
  int pos = 0, any_index = 0, text = -1;
  int first = jt_first(j, cands);
  if (first >= 0 && jt_after(j, cands, first) >= 0) /* several */
    for (int c = first; c >= 0; c = jt_after(j, cands, c))
      any_index |= JT_GET(j, c, "index") >= 0;
  for (int c = jt_first(j, cands); c >= 0; c = jt_after(j, cands, c))
    text = stream_candidate(s, c, pos++, any_index, offset);
  /* one candidate adding one piece of text: the next chunk may repeat it */
  if (pos == 1 && rv[R_ERROR] < 0 && rv[R_FEEDBACK] < 0 && !o->oom)
    s->rep_tok = text;
}

static void bad_chunk(struct gem_stream *s, int r) {
  if (!s->bad_chunks++)
    at_obs_parse_error(s->o, r == -2 ? "stream chunk too large to read"
                                     : "stream chunk is not a JSON object");
}

/* One chunk's text. */
static void stream_chunk(struct gem_stream *s, const char *data, size_t len,
                         size_t offset, int unterminated) {
  s->chunks++;
  int r = jt_parse(&s->jt, data, len);
  if (r == 0 && jt_type(&s->jt, 0) == JT_OBJECT)
    chunk_tokens(s, 0, offset);
  else if (!unterminated)
    bad_chunk(s, r); /* a last chunk cut off is the stream's cut */
}

static int sse_chunk(const struct at_sse_event *ev, void *arg) {
  struct gem_stream *s = arg;
  if (ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6))
    return 0; /* not Google's, but proxies add it */
  stream_chunk(s, ev->data, ev->data_len, ev->end_offset, ev->unterminated);
  return 0;
}

static int json_ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Bytes that matter when skipping over a JSON value: quotes, backslashes
 * and brackets. */
static const unsigned char structural[256] = {
    ['"'] = 1, ['\\'] = 4, ['{'] = 2, ['['] = 2, ['}'] = 3, [']'] = 3};

/* The positions of those bytes among b[k .. k+len) (len <= 16), as bits. */
static unsigned structural_bits(const char *b, size_t k, size_t len) {
#ifdef __SSE2__
  if (len == 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + k));
    __m128i m = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                     _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('{')),
                                  _mm_cmpeq_epi8(x, _mm_set1_epi8('['))),
                     _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('}')),
                                  _mm_cmpeq_epi8(x, _mm_set1_epi8(']')))));
    return (unsigned)_mm_movemask_epi8(m);
  }
#endif
  unsigned bits = 0;
  for (size_t i = 0; i < len; i++)
    if (structural[(unsigned char)b[k + i]])
      bits |= 1u << i;
  return bits;
}

/* The end of the JSON value starting at b[i]: brackets and strings are
 * followed, nothing is validated (the tokenizer does that). Sets *end just
 * past the value and returns 1, or returns 0 when the body ends first.
 * Linear: sixteen bytes at a time, stopping only at quotes, backslashes
 * and brackets (a backslash in a string skips the byte after it). */
static int value_end(const char *b, size_t n, size_t i, size_t *end) {
  unsigned char c = (unsigned char)b[i];
  if (structural[c] != 1 && structural[c] != 2) {
    size_t k = i + 1; /* a scalar (or junk): up to a separator */
    while (k < n && b[k] != ',' && b[k] != ']' && !json_ws(b[k]))
      k++;
    *end = k;
    return 1;
  }
  size_t depth = 0, k = i;
  int in_str = 0;
  while (k < n) {
    size_t base = k, len = n - k < 16 ? n - k : 16;
    unsigned bits = structural_bits(b, base, len);
    while (bits) {
      size_t p = base + (size_t)__builtin_ctz(bits);
      bits &= bits - 1;
      if (p < k)
        continue; /* the byte after a backslash */
      unsigned char x = (unsigned char)b[p];
      k = p + 1;
      if (in_str) {
        if (x == '\\')
          k = p + 2;
        else if (x == '"') {
          in_str = 0;
          if (depth == 0) {
            *end = k;
            return 1;
          }
        }
      } else if (x == '"') {
        in_str = 1;
      } else if (structural[x] == 2) {
        depth++;
      } else if (structural[x] == 3 && depth > 0 && --depth == 0) {
        *end = k;
        return 1;
      }
    }
    if (k < base + len)
      k = base + len;
  }
  *end = n;
  return 0;
}

/* streamGenerateContent without alt=sse: "[{...}\n,\r\n{...}\n]", read
 * element by element as it would have arrived. */
static void array_stream(struct gem_stream *s, const char *b, size_t n,
                         size_t i) {
  /* Element by element, as the chunks arrived: each is its own JSON text,
   * so the tokenizer's memo and refill (and repeat_chunk) work as for
   * alt=sse, memory stays at one chunk's tokens, and a cut or broken
   * array loses only what is broken. */
  i++; /* the '[' */
  int want_value = 1;
  while (i < n) { /* every pass consumes at least one byte */
    char c = b[i];
    if (json_ws(c)) {
      i++;
    } else if (c == ']') {
      s->closed = 1;
      i++;
      while (i < n && json_ws(b[i]))
        i++;
      if (i < n)
        at_obs_parse_error(s->o, "stream: junk after the closing ]");
      return;
    } else if (c == ',') {
      if (want_value)
        at_obs_parse_error(s->o, "stream: a ',' without a chunk before it");
      want_value = 1;
      i++;
    } else {
      /* The tokenizer finds where a whole chunk ends; a broken or cut one
       * is bounded by value_end and reported by stream_chunk. */
      size_t end, used;
      if (!want_value)
        at_obs_parse_error(s->o, "stream: chunks not separated by ','");
      if (jt_parse_value(&s->jt, b + i, n - i, &used) == 0) {
        end = i + used;
        s->chunks++;
        if (jt_type(&s->jt, 0) == JT_OBJECT)
          chunk_tokens(s, 0, end);
        else
          bad_chunk(s, -1);
      } else {
        int whole = value_end(b, n, i, &end);
        stream_chunk(s, b + i, end - i, end, !whole);
      }
      want_value = 0;
      i = end;
    }
  }
}

static void emit_candidate(struct gem_stream *s, struct cand_acc *c) {
  struct at_obs *o = s->o;
  cJSON *m;
  cJSON *parts =
      at_msg_add(o, o->output, role_name(c->role[0] ? c->role : NULL), &m);
  for (size_t i = 0; i < c->nsegs && parts; i++) {
    struct seg *g = &c->segs[i];
    if (g->kind == SEG_PARTS) {
      while (cJSON_GetArraySize(g->parts) > 0)
        cJSON_AddItemToArray(parts, cJSON_DetachItemFromArray(g->parts, 0));
    } else {
      at_part_text(o, parts, g->kind == SEG_TEXT ? "text" : "reasoning",
                   g->text.ptr ? g->text.ptr : "", g->text.len);
    }
  }
  finish(o, m, c->finish ? c->finish : "error");
}

static void free_stream(struct gem_stream *s) {
  for (size_t i = 0; i < s->ncands; i++) {
    struct cand_acc *c = &s->cands[i];
    for (size_t k = 0; k < c->nsegs; k++) {
      dynbuf_free(&c->segs[k].text);
      cJSON_Delete(c->segs[k].parts);
    }
    free(c->segs);
    free(c->finish);
  }
  free(s->cands);
  jt_free(&s->jt);
  dynbuf_free(&s->last_usage);
}

static void generate_stream(struct at_obs *o, const char *body, size_t len) {
  /* on the heap like the other stream states: written for every event
   * while heap bytes are read, its place on the stack made whole runs
   * slower or not (4K aliasing) */
  struct gem_stream *s = malloc(sizeof *s);
  if (!s) {
    o->oom = 1;
    return;
  }
  *s = (struct gem_stream){.o = o, .vertex = is_vertex(o), .rep_tok = -1};
  jt_init(&s->jt);
  dynbuf_init(&s->last_usage, AT_SSE_EVENT_MAX);
  size_t i = 0;
  if (len >= 3 && !memcmp(body, "\xEF\xBB\xBF", 3))
    i = 3;
  while (i < len && json_ws(body[i]))
    i++;
  int array = i < len && body[i] == '[';
  if (array) {
    array_stream(s, body, len, i);
  } else {
    struct at_sse sse;
    at_sse_parse(&sse, body, len, AT_SSE_EVENT_MAX, sse_chunk, s);
    if (sse.oversize)
      at_obs_parse_error(o, "stream: %zu event(s) larger than %u bytes skipped",
                         sse.oversize, AT_SSE_EVENT_MAX);
    at_sse_free(&sse);
  }
  if (s->dropped_segs)
    at_obs_parse_error(o,
                       "stream: more than %d runs of output in a "
                       "candidate; the rest is left out",
                       MAX_SEGMENTS);

  /* candidates in index order */
  for (size_t k = 1; k < s->ncands; k++) {
    struct cand_acc x = s->cands[k];
    size_t j = k;
    while (j > 0 && s->cands[j - 1].index > x.index) {
      s->cands[j] = s->cands[j - 1];
      j--;
    }
    s->cands[j] = x;
  }
  size_t unfinished = 0;
  for (size_t k = 0; k < s->ncands; k++)
    unfinished += s->cands[k].finish == NULL;
  /* Gemini sends no end marker of its own; a stream is whole when every
   * candidate has its finish reason (and a JSON array is closed). */
  int blocked = cJSON_GetObjectItemCaseSensitive(o->meta, "block_reason") != 0;
  int cut = unfinished || (s->ncands == 0 && !blocked && !s->error);
  if (s->chunks == 0)
    at_obs_parse_error(o, "stream has no chunks");
  else if (array && !s->closed && cut)
    at_obs_parse_error(o, "stream ended before the JSON array was closed");
  else if (!array && cut && !s->error)
    at_obs_parse_error(o, "stream ended before a finish reason arrived");

  if (s->ncands) {
    o->output = cJSON_CreateArray();
    if (!o->output)
      o->oom = 1;
    for (size_t k = 0; k < s->ncands && o->output; k++)
      emit_candidate(s, &s->cands[k]);
    /* all or nothing, as for plain answers; a cut candidate is "error" */
    if (!unfinished || !(array && s->closed) || s->error)
      for (size_t k = 0; k < s->ncands; k++)
        at_obs_finish_reason(o,
                             s->cands[k].finish ? s->cands[k].finish : "error");
  }
  if (s->last_usage.len) { /* read once: the last report with counts */
    cJSON *um = at_json_parse(s->last_usage.ptr, s->last_usage.len);
    if (!um) /* valid in its chunk: cut at the cap, or out of memory */
      at_obs_parse_error(o, "stream usageMetadata could not be read");
    usage_from_cjson(o, um, &s->usage, "stream usageMetadata");
    at_obs_meta_str(o, "service_tier", at_json_str(um, "serviceTier"));
    cJSON_Delete(um);
  }
  apply_usage(o, &s->usage);
  note_usage_missing(o, 1);
  free_stream(s);
  free(s);
}

const struct at_api_parser at_gemini_generate_parser = {
    "generation", "generate_content", generate_request, generate_response,
    generate_stream};

/* ---- embedContent, batchEmbedContents --------------------------------- */

/* The text of one Content: its text parts joined by newlines. */
static void embed_input(struct at_obs *o, const cJSON *content,
                        const char *where) {
  if (cJSON_IsString(content)) {
    cJSON *s = cJSON_CreateString(content->valuestring);
    if (s)
      cJSON_AddItemToArray(o->input, s);
    o->oom |= !s;
    return;
  }
  const cJSON *ps = garr(o, content, "parts", "parts", where);
  struct dynbuf b;
  dynbuf_init(&b, AT_ASSEMBLED_MAX);
  int texts = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, ps) {
    const char *t = gstr(o, p, "text", "text", where);
    if (!t)
      continue;
    if (texts++)
      dynbuf_add(&b, "\n", 1);
    dynbuf_addstr(&b, t);
  }
  o->oom |= b.oom;
  if (!at_json_add_strn(o->input, NULL, b.ptr ? b.ptr : "", b.len))
    o->oom = 1;
  dynbuf_free(&b);
}

/* One EmbedContentRequest: its input, and parameters from the first. */
static void embed_one(struct at_obs *o, const cJSON *r, const char *where) {
  if (!cJSON_IsObject(r)) {
    at_obs_parse_error(o, "%s is not an object", where);
    return;
  }
  body_model(o, r, where);
  const cJSON *dims = gget(r, "outputDimensionality", "output_dimensionality");
  if (dims && !cJSON_GetObjectItemCaseSensitive(o->params, "dimensions"))
    add_copy(o, o->params, "dimensions", dims);
  const cJSON *task = gget(r, "taskType", "task_type");
  if (task && !cJSON_GetObjectItemCaseSensitive(o->params, "task_type"))
    add_copy(o, o->params, "task_type", task);
  const cJSON *content = gget(r, "content", "content");
  if (content)
    embed_input(o, content, where);
  else
    at_obs_parse_error(o, "%s has no content", where);
}

static void embed_request(struct at_obs *o, const cJSON *req) {
  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  const cJSON *reqs = gget(req, "requests", "requests");
  if (!reqs) {
    embed_one(o, req, "request");
    return;
  }
  if (!cJSON_IsArray(reqs)) {
    at_obs_parse_error(o, "request.requests is not an array");
    return;
  }
  const cJSON *r;
  cJSON_ArrayForEach(r, reqs) embed_one(o, r, "request.requests[]");
}

static void embed_response(struct at_obs *o, const cJSON *resp) {
  /* embedContent: {"embedding": {"values": [...]}}; batchEmbedContents:
   * {"embeddings": [{"values": [...]}, ...]}. Only count and dimension
   * are kept. */
  const cJSON *one = gobj(o, resp, "embedding", "embedding", "response");
  const cJSON *many = garr(o, resp, "embeddings", "embeddings", "response");
  const cJSON *first = one ? one : cJSON_GetArrayItem(many, 0);
  if (one || many) {
    int count = one ? 1 : cJSON_GetArraySize(many);
    const cJSON *values = gget(first, "values", "values");
    o->output = cJSON_CreateObject();
    if (!o->output || !cJSON_AddNumberToObject(o->output, "count", count) ||
        (cJSON_IsArray(values) &&
         !cJSON_AddNumberToObject(o->output, "dimensions",
                                  cJSON_GetArraySize(values))))
      o->oom = 1;
  } else if (!at_json_get(resp, "error")) {
    at_obs_parse_error(o, "response has no embedding");
  }
  const cJSON *um =
      gobj(o, resp, "usageMetadata", "usage_metadata", "response");
  struct gem_usage u = {0};
  usage_from_cjson(o, um, &u, "response.usageMetadata");
  apply_usage(o, &u);
  note_usage_missing(o, 0);
}

const struct at_api_parser at_gemini_embed_parser = {
    "embedding", "embeddings", embed_request, embed_response, NULL};
