/* parsers: one entry per API shape, used by parse.c to dispatch.
 *
 * Each parser reads the request body (already parsed, a JSON object), and
 * either the plain response (a JSON object with a 2xx status) or the
 * response's event stream (raw SSE bytes), and fills the observation.
 * None of them frees or keeps the cJSON it is given. */
#ifndef AT_PARSERS_H
#define AT_PARSERS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "obs.h"

/* Largest single SSE event the stream parsers accept. A Responses API
 * response.completed event repeats the whole answer, so this is generous;
 * bodies are capped by AUTOTRACE_MAX_BODY before they get here anyway. */
#define AT_SSE_EVENT_MAX (16u << 20)

/* Cap on text assembled from stream deltas (per content buffer). */
#define AT_ASSEMBLED_MAX (64u << 20)

struct at_api_parser {
  const char *type;      /* record "type": generation, embedding */
  const char *operation; /* gen_ai.operation.name */
  void (*request)(struct at_obs *o, const cJSON *req);
  void (*response)(struct at_obs *o, const cJSON *resp);
  /* NULL when the API has no streamed form */
  void (*stream)(struct at_obs *o, const char *body, size_t len);
};

extern const struct at_api_parser at_openai_chat_parser;
extern const struct at_api_parser at_openai_completions_parser;
extern const struct at_api_parser at_openai_embeddings_parser;
extern const struct at_api_parser at_openai_responses_parser;
extern const struct at_api_parser at_anthropic_messages_parser;
extern const struct at_api_parser at_bedrock_converse_parser;
extern const struct at_api_parser at_bedrock_invoke_parser;
extern const struct at_api_parser at_bedrock_embed_parser;
extern const struct at_api_parser at_gemini_generate_parser;
extern const struct at_api_parser at_gemini_embed_parser;
extern const struct at_api_parser at_cohere_chat_parser;
extern const struct at_api_parser at_cohere_chat_v1_parser;
extern const struct at_api_parser at_cohere_generate_parser;
extern const struct at_api_parser at_cohere_embed_parser;
extern const struct at_api_parser at_ollama_chat_parser;
extern const struct at_api_parser at_ollama_generate_parser;
extern const struct at_api_parser at_ollama_embed_parser;
/* retrievers (type "retriever", operation "retrieval"): retrievers*.c */
extern const struct at_api_parser at_rerank_parser;
extern const struct at_api_parser at_pinecone_query_parser;
extern const struct at_api_parser at_qdrant_search_parser;
extern const struct at_api_parser at_chroma_query_parser;
extern const struct at_api_parser at_weaviate_graphql_parser;
extern const struct at_api_parser at_marqo_search_parser;
extern const struct at_api_parser at_tavily_search_parser;
extern const struct at_api_parser at_exa_search_parser;
extern const struct at_api_parser at_serper_search_parser;

/* NDJSON streams (one JSON object a line) instead of SSE: Ollama, and
 * Cohere's v1 chat and generate. parse.c hands such an answer to
 * p->stream when its content type says NDJSON (application/x-ndjson,
 * application/stream+json, ...) or its body is not one JSON value. */
int at_ndjson_parser(const struct at_api_parser *p);

/* Vectors are costly to parse (a cJSON node and a strtod per number) and
 * are never kept. For the parsers that only need their length (the
 * retrievers, Ollama's and Cohere's embed: at_devector_parser()), parse.c
 * first replaces, with at_json_devector(), every array of more than 16
 * numbers by a placeholder object holding its length (retrievers.c reads
 * it). Returns a malloc()ed copy, or NULL when there is nothing to
 * replace or s is not JSON (then s is parsed as it is). */
int at_devector_parser(const struct at_api_parser *p);
char *at_json_devector(const char *s, size_t len, size_t *out_len);

/* Gemini and Vertex (gemini.c) name the model in the URL
 * (".../models/{model}:generateContent"): request_model from there, and
 * model_parameters.stream for :streamGenerateContent. Called for the
 * Gemini parsers before the request body is read (which may not be
 * JSON). */
void at_gemini_from_url(struct at_obs *o);

/* OpenAI-style usage ({prompt_tokens, completion_tokens, total_tokens,
 * prompt_tokens_details.cached_tokens,
 * completion_tokens_details.reasoning_tokens}, and DeepSeek's
 * prompt_cache_hit_tokens) into o->usage. Shared by chat, completions and
 * embeddings. */
void at_openai_usage(struct at_obs *o, const cJSON *usage, const char *where);

/* model_parameters.stop: a string becomes a one-element array. */
void at_param_stop(struct at_obs *o, const cJSON *req, const char *key);

/* metadata.usage_missing when no usage arrived. */
void at_note_usage_missing(struct at_obs *o, int streamed);

/* Anthropic stream events one at a time, for streams that carry them in
 * another framing (Bedrock's invoke-with-response-stream): begin, an event
 * per JSON object (e->data, e->data_len, e->end_offset; e->event may be
 * ""), then end, which builds the output and usage and frees the state.
 * begin returns NULL on allocation failure (o->oom set). */
struct at_sse_event;
struct msg_stream;
struct msg_stream *at_anthropic_stream_begin(struct at_obs *o);
int at_anthropic_stream_event(const struct at_sse_event *e, void *stream);
void at_anthropic_stream_end(struct msg_stream *s);

/* Bedrock (bedrock.c): 1 when p is one of the Bedrock parsers, whose
 * streams are binary (application/vnd.amazon.eventstream) and reach
 * p->stream as raw bytes, not UTF-8 text. */
int at_bedrock_parser(const struct at_api_parser *p);

/* 1 when a Bedrock answer is an event stream: its content type says
 * application/vnd.amazon.eventstream, or its body starts with a message
 * prelude whose CRC checks. resp_headers: the redacted header object. */
int at_bedrock_is_event_stream(const cJSON *resp_headers, const char *body,
                               size_t len);

/* Bedrock's response headers, for any answer: x-amzn-RequestId (as
 * response_id when the body gave none, and metadata.request_id),
 * x-amzn-ErrorType (metadata.error_type on errors). */
void at_bedrock_headers(struct at_obs *o);

#endif
