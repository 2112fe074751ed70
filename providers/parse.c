/* parse: at_parse_exchange(), the one entry point from exchange to record.
 *
 * Dispatches to the API parser (parsers.h), handles what every API shares
 * (HTTP errors, transport errors, truncation, compressed or non-UTF-8
 * bodies, SSE detection, http and timing fields, usage and cost), and lays
 * the record out in the key order of docs/record-schema.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "azure.h"
#include "json_cs.h"
#include "json_read.h"
#include "json_util.h"
#include "ndjson.h"
#include "obs.h"
#include "parsers.h"
#include "prices.h"
#include "providers.h"
#include "redact.h"
#include "url.h"

static const struct at_api_parser *parser_for(enum at_api api) {
  switch (api) {
  case AT_API_OPENAI_CHAT:
    return &at_openai_chat_parser;
  case AT_API_OPENAI_COMPLETIONS:
    return &at_openai_completions_parser;
  case AT_API_OPENAI_EMBEDDINGS:
    return &at_openai_embeddings_parser;
  case AT_API_OPENAI_RESPONSES:
    return &at_openai_responses_parser;
  case AT_API_ANTHROPIC_MESSAGES:
    return &at_anthropic_messages_parser;
  case AT_API_BEDROCK_CONVERSE:
    return &at_bedrock_converse_parser;
  case AT_API_BEDROCK_INVOKE:
    return &at_bedrock_invoke_parser;
  case AT_API_BEDROCK_EMBED:
    return &at_bedrock_embed_parser;
  case AT_API_GEMINI_GENERATE:
    return &at_gemini_generate_parser;
  case AT_API_GEMINI_EMBED:
    return &at_gemini_embed_parser;
  case AT_API_COHERE_CHAT:
    return &at_cohere_chat_parser;
  case AT_API_COHERE_CHAT_V1:
    return &at_cohere_chat_v1_parser;
  case AT_API_COHERE_GENERATE:
    return &at_cohere_generate_parser;
  case AT_API_COHERE_EMBED:
    return &at_cohere_embed_parser;
  case AT_API_RERANK:
    return &at_rerank_parser;
  case AT_API_OLLAMA_CHAT:
    return &at_ollama_chat_parser;
  case AT_API_OLLAMA_GENERATE:
    return &at_ollama_generate_parser;
  case AT_API_OLLAMA_EMBED:
    return &at_ollama_embed_parser;
  case AT_API_PINECONE_QUERY:
    return &at_pinecone_query_parser;
  case AT_API_QDRANT_SEARCH:
    return &at_qdrant_search_parser;
  case AT_API_CHROMA_QUERY:
    return &at_chroma_query_parser;
  case AT_API_WEAVIATE_GRAPHQL:
    return &at_weaviate_graphql_parser;
  case AT_API_MARQO_SEARCH:
    return &at_marqo_search_parser;
  case AT_API_TAVILY_SEARCH:
    return &at_tavily_search_parser;
  case AT_API_EXA_SEARCH:
    return &at_exa_search_parser;
  case AT_API_SERPER_SEARCH:
    return &at_serper_search_parser;
  default:
    return NULL;
  }
}

static int is_gzip(const char *b, size_t n) {
  return n >= 2 && (unsigned char)b[0] == 0x1f && (unsigned char)b[1] == 0x8b;
}

/* A body as text the parsers can trust: valid UTF-8. Bad bytes become '?'
 * in a copy (*owned, to free); a body cut at the size cap may end inside a
 * character, which is not worth a warning. */
static const char *utf8_body(struct at_obs *o, const char *b, size_t n,
                             int truncated, const char *what, char **owned) {
  *owned = NULL;
  if (at_utf8_valid(b, n))
    return b;
  char *copy = malloc(n + 1);
  if (!copy) {
    o->oom = 1;
    return NULL;
  }
  at_utf8_clean(copy, n + 1, b, n, 0);
  /* Clean only stops early at a character that does not fit, which cannot
   * happen here: every bad byte becomes one '?'. */
  if (!truncated || !at_utf8_valid(b, n > 4 ? n - 4 : 0))
    at_obs_parse_error(o, "%s is not valid UTF-8 (bad bytes shown as '?')",
                       what);
  *owned = copy;
  return copy;
}

/* Exactly one JSON value in s[0..len) (at_json_parse's rule: trailing
 * whitespace is fine, anything else is not), its tree in arena a. */
static cJSON *parse_one(const char *s, size_t len, struct at_json_arena *a) {
  if (!s || len == 0)
    return NULL;
  const char *end = NULL;
  cJSON *v = at_json_read_arena(s, len, &end, a);
  if (!v)
    return NULL;
  for (size_t i = end ? (size_t)(end - s) : len; i < len; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' &&
        s[i] != '\0')
      return NULL;
  return v;
}

/* A body as JSON; vectors replaced first for the parsers that only count
 * them (parsers.h, at_json_devector). The parsers only read the body's
 * tree (const), never keep a part of it: it lives in an arena, freed
 * whole by the caller (json_read.h). */
static cJSON *parse_lean(const struct at_api_parser *p, const char *text,
                         size_t len, struct at_json_arena *a) {
  size_t dlen = 0;
  char *dv = at_devector_parser(p) ? at_json_devector(text, len, &dlen) : NULL;
  cJSON *root = dv ? parse_one(dv, dlen, a) : parse_one(text, len, a);
  free(dv);
  return root;
}

/* ---- request ---------------------------------------------------------- */

static void parse_request(struct at_obs *o, const struct at_api_parser *p) {
  const struct at_exchange *ex = o->ex;
  if (ex->req_body_unknown) {
    at_cs_bool(o->meta, "request_body_unknown", 1);
    return;
  }
  const char *body = ex->req_body;
  size_t len = body ? ex->req_body_len : 0;
  if (len == 0) {
    at_obs_parse_error(o, "request body is empty");
    return;
  }
  if (is_gzip(body, len)) {
    at_obs_parse_error(o, "request: compressed body");
    return;
  }
  char *owned;
  const char *text =
      utf8_body(o, body, len, ex->req_body_truncated, "request", &owned);
  if (!text)
    return;
  struct at_json_arena arena = {0};
  cJSON *root = parse_lean(p, text, len, &arena);
  if (!root) {
    if (ex->req_body_truncated) {
      /* Too big to keep whole; the model is still worth having (cost). */
      char model[256];
      if (at_json_salvage_string(text, len, "model", model, sizeof model))
        at_obs_set(o, &o->request_model, model);
      at_obs_parse_error(o, "request is not JSON (truncated)");
    } else {
      at_obs_parse_error(o, "request is not JSON");
    }
  } else if (!cJSON_IsObject(root)) {
    at_obs_parse_error(o, "request is not a JSON object");
  } else {
    p->request(o, root);
  }
  at_json_arena_free(&arena);
  free(owned);
}

/* ---- response --------------------------------------------------------- */

static int is_event_stream(const cJSON *resp_headers, const char *b, size_t n) {
  const char *ct = at_json_str(resp_headers, "content-type");
  if (ct && strncasecmp(ct, "text/event-stream", 17) == 0)
    return 1;
  size_t i = 0;
  if (n >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3))
    i = 3;
  while (i < n && (b[i] == ' ' || b[i] == '\r' || b[i] == '\n'))
    i++;
  b += i;
  n -= i;
  return (n >= 5 && !memcmp(b, "data:", 5)) ||
         (n >= 6 && !memcmp(b, "event:", 6)) ||
         (n >= 3 && !memcmp(b, "id:", 3)) || (n >= 1 && b[0] == ':');
}

/* Gemini's streamGenerateContent without alt=sse streams one JSON array,
 * element by element: its stream parser reads it. */
static int is_json_array(const char *b, size_t n) {
  size_t i = 0;
  if (n >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3))
    i = 3;
  while (i < n && (b[i] == ' ' || b[i] == '\r' || b[i] == '\n' || b[i] == '\t'))
    i++;
  return i < n && b[i] == '[';
}

/* NDJSON (Ollama, Cohere v1): said by the content type, or one JSON
 * object a line. */
static int is_ndjson(const cJSON *resp_headers, const char *b, size_t n) {
  const char *ct = at_json_str(resp_headers, "content-type");
  if (ct && (strstr(ct, "ndjson") || strstr(ct, "stream+json") ||
             strstr(ct, "jsonl") || strstr(ct, "json-seq")))
    return 1;
  return at_ndjson_sniff(b, n);
}

/* A 2xx answer (or the part of one that arrived before a failure). */
static void parse_answer(struct at_obs *o, const struct at_api_parser *p,
                         const cJSON *resp_headers, int *streamed) {
  const struct at_exchange *ex = o->ex;
  const char *body = ex->resp_body;
  size_t len = body ? ex->resp_body_len : 0;
  if (len == 0) {
    if (!ex->transport_error)
      at_obs_parse_error(o, "response body is empty");
    return;
  }
  if (is_gzip(body, len)) {
    at_obs_parse_error(o, "response: compressed body");
    return;
  }
  /* Bedrock streams are binary frames: their parser gets the raw bytes
   * (and checks the text inside them itself). */
  if (at_bedrock_parser(p) && p->stream &&
      at_bedrock_is_event_stream(resp_headers, body, len)) {
    *streamed = 1;
    p->stream(o, body, len);
    return;
  }
  char *owned;
  const char *text =
      utf8_body(o, body, len, ex->resp_body_truncated, "response", &owned);
  if (!text)
    return;
  if (is_event_stream(resp_headers, text, len) ||
      (p == &at_gemini_generate_parser && is_json_array(text, len)) ||
      (at_ndjson_parser(p) && is_ndjson(resp_headers, text, len))) {
    *streamed = 1;
    if (p->stream)
      p->stream(o, text, len);
    else
      at_obs_parse_error(o, "unexpected event stream for this API");
  } else {
    struct at_json_arena arena = {0};
    cJSON *root = parse_lean(p, text, len, &arena);
    if (!root) {
      at_obs_parse_error(o, ex->resp_body_truncated
                                ? "response is not JSON (truncated)"
                                : "response is not JSON");
    } else if (!cJSON_IsObject(root)) {
      at_obs_parse_error(o, "response is not a JSON object");
    } else {
      /* Some servers answer 200 with an error object. */
      at_obs_json_error(o, root);
      p->response(o, root);
      if (ex->t_first_byte_ns > 0)
        o->completion_start_ns = ex->t_first_byte_ns;
    }
    at_json_arena_free(&arena);
  }
  free(owned);
}

static void parse_response(struct at_obs *o, const struct at_api_parser *p,
                           const cJSON *resp_headers, int *streamed) {
  const struct at_exchange *ex = o->ex;
  char msg[128];
  if (ex->status >= 400) {
    const char *body = ex->resp_body;
    size_t len = body ? ex->resp_body_len : 0;
    char *owned = NULL;
    /* The error's words reach the record: they must be valid UTF-8 too
     * (a compressed body is left for at_obs_http_error to recognise). */
    if (!is_gzip(body, len))
      body =
          utf8_body(o, body, len, ex->resp_body_truncated, "response", &owned);
    if (body || !len)
      at_obs_http_error(o, body, body ? len : 0);
    free(owned);
  } else if (ex->status >= 300 || (ex->status > 0 && ex->status < 200)) {
    snprintf(msg, sizeof msg,
             "HTTP %d: no final answer (redirect not "
             "followed?)",
             ex->status);
    at_obs_raise(o, AT_LEVEL_WARNING, msg, strlen(msg));
  } else if (ex->status == 0 && !ex->transport_error && !ex->resp_body_len) {
    const char *m = "no response received";
    at_obs_raise(o, AT_LEVEL_WARNING, m, strlen(m));
  } else {
    parse_answer(o, p, resp_headers, streamed);
  }

  if (ex->transport_error) {
    const char *m = ex->transport_error_msg;
    if (!m || !m[0]) {
      if (ex->transport_error == -1)
        m = "transfer abandoned before it finished";
      else {
        snprintf(msg, sizeof msg, "transport error %d", ex->transport_error);
        m = msg;
      }
    }
    char clean[AT_STATUS_MAX];
    at_utf8_clean(clean, sizeof clean, m, strlen(m), 1);
    at_obs_meta_str(o, "transport_error", clean);
    at_obs_raise(o, AT_LEVEL_ERROR, clean, strlen(clean));
  }
  if (ex->req_body_truncated) {
    at_cs_bool(o->meta, "request_truncated", 1);
    const char *m = "request body truncated at AUTOTRACE_MAX_BODY";
    at_obs_raise(o, AT_LEVEL_WARNING, m, strlen(m));
  }
  if (ex->resp_body_truncated) {
    at_cs_bool(o->meta, "response_truncated", 1);
    const char *m = "response body truncated at AUTOTRACE_MAX_BODY";
    at_obs_raise(o, AT_LEVEL_WARNING, m, strlen(m));
  }
}

/* ---- record ----------------------------------------------------------- */

/* ns as decimal text (what "%lld" prints; stdio cost more than the rest
 * of the member). */
static void add_ns(cJSON *rec, const char *key, int64_t ns) {
  if (ns <= 0)
    return;
  char buf[24], *p = buf + sizeof buf;
  *--p = '\0';
  for (uint64_t u = (uint64_t)ns; u; u /= 10)
    *--p = (char)('0' + u % 10);
  at_cs_str(rec, key, p);
}

/* 1 when s is printable ASCII, '\t' and '\n' only: what at_utf8_clean
 * (flattening) leaves as it is. */
static int plain_ascii(const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c < 0x20 && c != '\t' && c != '\n') || c >= 0x7f)
      return 0;
  }
  return 1;
}

/* Strings from the bodies are valid UTF-8 (utf8_body) and the URL is
 * cleaned here; so the record is always valid JSON text. Names, URLs and
 * hosts are nearly always plain ASCII, which cleaning would copy as is:
 * they skip the copy. key: a literal (json_cs.h). */
static void add_clean_str(cJSON *obj, const char *key, const char *s) {
  if (!s)
    return;
  if (plain_ascii(s)) {
    at_cs_str(obj, key, s);
    return;
  }
  size_t n = strlen(s);
  char *c = malloc(n + 1);
  if (!c)
    return;
  at_utf8_clean(c, n + 1, s, n, 1);
  at_cs_str(obj, key, c);
  free(c);
}

static void add_item(cJSON *rec, const char *key, cJSON **item) {
  if (*item) {
    cJSON_AddItemToObjectCS(rec, key, *item);
    *item = NULL; /* now owned by rec */
  }
}

static cJSON *http_object(const struct at_exchange *ex, cJSON **resp_headers) {
  cJSON *h = at_node_object();
  if (!h)
    return NULL;
  at_cs_str(h, "method", ex->method ? ex->method : "POST");
  char *url = at_redact_url(ex->url);
  add_clean_str(h, "url", url);
  free(url);
  if (ex->status > 0)
    at_cs_num(h, "status", ex->status);
  struct at_url u;
  if (ex->url && at_url_split(ex->url, &u) == 0) {
    char host[256];
    size_t n = u.host_len < sizeof host - 1 ? u.host_len : sizeof host - 1;
    for (size_t i = 0; i < n; i++)
      host[i] = (char)((u.host[i] >= 'A' && u.host[i] <= 'Z') ? u.host[i] + 32
                                                              : u.host[i]);
    host[n] = '\0';
    add_clean_str(h, "server_address", host);
    at_cs_num(h, "server_port", u.port);
  }
  cJSON *rq = at_redact_headers(ex->req_headers, ex->req_headers_len);
  if (rq)
    cJSON_AddItemToObjectCS(h, "request_headers", rq);
  if (*resp_headers) {
    cJSON_AddItemToObjectCS(h, "response_headers", *resp_headers);
    *resp_headers = NULL;
  }
  return h;
}

static const char *level_name(int level) {
  return level == AT_LEVEL_ERROR     ? "ERROR"
         : level == AT_LEVEL_WARNING ? "WARNING"
                                     : "DEFAULT";
}

static cJSON *assemble(struct at_obs *o, const struct at_api_parser *p,
                       const struct at_match *m, int metadata_only,
                       cJSON **resp_headers) {
  const struct at_exchange *ex = o->ex;
  cJSON *rec = at_node_object();
  if (!rec)
    return NULL;
  at_cs_str(rec, "type", p->type);
  const char *model = o->request_model ? o->request_model : o->response_model;
  /* A retrieval is named after its data source (index, collection). */
  const char *source = at_json_str(o->meta, "data_source_id");
  if (source)
    model = source;
  char name[320];
  snprintf(name, sizeof name, "%s%s%s", p->operation, model ? " " : "",
           model ? model : "");
  add_clean_str(rec, "name", name);
  add_ns(rec, "start_ns", ex->t_start_ns);
  add_ns(rec, "end_ns", ex->t_end_ns);
  add_ns(rec, "completion_start_ns", o->completion_start_ns);
  at_cs_str(rec, "level", level_name(o->level));
  if (o->status[0])
    at_cs_str(rec, "status_message", o->status);
  add_clean_str(rec, "provider", m->provider ? m->provider : "unknown");
  at_cs_str(rec, "operation", p->operation);
  if (o->request_model)
    at_cs_str(rec, "request_model", o->request_model);
  if (o->response_model)
    at_cs_str(rec, "response_model", o->response_model);
  if (o->response_id)
    at_cs_str(rec, "response_id", o->response_id);
  if (cJSON_GetArraySize(o->params) > 0)
    add_item(rec, "model_parameters", &o->params);
  if (!metadata_only) {
    add_item(rec, "input", &o->input);
    add_item(rec, "output", &o->output);
  }
  add_item(rec, "finish_reasons", &o->finish_reasons);

  cJSON *usage = at_usage_inclusive_json(&o->usage);
  cJSON *details = at_usage_details_json(&o->usage);
  if (usage)
    cJSON_AddItemToObjectCS(rec, "usage", usage);
  if (details) {
    cJSON_AddItemToObjectCS(rec, "usage_details", details);
    /* Price the model that answered; the requested name (an alias) and
     * an Azure deployment named after a model are the fallbacks. Tiers
     * read service_tier (and the like) from metadata, else the request. */
    const char *names[] = {o->response_model, o->request_model,
                           at_json_str(o->meta, "azure_deployment")};
    struct at_cost_query q = {NULL, m->provider, details,
                              at_json_get(rec, "model_parameters"), o->meta};
    struct at_cost cost;
    int r = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && r == 0; i++)
      if (names[i]) {
        q.model = names[i];
        r = at_cost_compute(&q, &cost);
      }
    if (r == 1) {
      cJSON_AddItemToObjectCS(rec, "cost_details", cost.details);
      add_clean_str(rec, "cost_source", cost.source);
      add_clean_str(rec, "cost_tier", cost.tier);
      if (cost.unpriced[0])
        add_clean_str(o->meta, "cost_unpriced", cost.unpriced);
    } else if (r < 0) {
      o->oom = 1;
    }
    const char *perr = at_prices_error();
    if (perr)
      add_clean_str(o->meta, "prices_error", perr);
  }

  cJSON *http = http_object(ex, resp_headers);
  if (http)
    cJSON_AddItemToObjectCS(rec, "http", http);
  else
    o->oom = 1;
  add_item(rec, "metadata", &o->meta);
  return rec;
}

cJSON *at_parse_exchange(const struct at_exchange *ex,
                         const struct at_match *match,
                         const struct at_parse_opts *opts,
                         const char **skip_reason) {
  if (skip_reason)
    *skip_reason = NULL;
  if (!ex) {
    if (skip_reason)
      *skip_reason = "no exchange";
    return NULL;
  }
  struct at_match m;
  if (match) {
    m = *match;
  } else if (!at_match_url(ex->url, &m)) {
    if (skip_reason)
      *skip_reason = "not an LLM endpoint";
    return NULL;
  }
  const struct at_api_parser *p = parser_for(m.api);
  if (!p) {
    if (skip_reason)
      *skip_reason = m.api == AT_API_OTHER_LLM
                         ? "an LLM host, but not an API autotrace parses"
                         : "not an LLM endpoint";
    return NULL;
  }
  if (ex->method && strcasecmp(ex->method, "POST") != 0) {
    if (skip_reason)
      *skip_reason = "not a POST request";
    return NULL;
  }

  struct at_obs o;
  if (at_obs_init(&o, ex) != 0) {
    at_obs_free(&o);
    return NULL;
  }
  o.capture_binary = opts && opts->capture_binary;
  cJSON *resp_headers =
      at_redact_headers(ex->resp_headers, ex->resp_headers_len);
  /* capture and stream lead the metadata; stream is settled below */
  if (ex->capture_path)
    add_clean_str(o.meta, "capture", ex->capture_path);
  at_cs_bool(o.meta, "stream", 0);
  int streamed = 0;
  if (p == &at_gemini_generate_parser || p == &at_gemini_embed_parser)
    at_gemini_from_url(&o);
  parse_request(&o, p);
  parse_response(&o, p, resp_headers, &streamed);
  if (at_bedrock_parser(p))
    at_bedrock_headers(&o);
  m.provider = at_azure_provider(m.provider, ex->url);
  at_azure_annotate(&o, m.provider);
  /* With no answer to look at, the request says whether one was asked
   * to stream. */
  int stream = streamed || (!ex->resp_body_len &&
                            cJSON_IsTrue(at_json_get(o.params, "stream")));
  if (stream)
    cJSON_ReplaceItemInObjectCaseSensitive(o.meta, "stream",
                                           cJSON_CreateTrue());

  cJSON *rec =
      assemble(&o, p, &m, opts && opts->capture_metadata_only, &resp_headers);
  int oom = o.oom;
  cJSON_Delete(resp_headers);
  at_obs_free(&o);
  if (oom) {
    cJSON_Delete(rec);
    return NULL;
  }
  return rec;
}
