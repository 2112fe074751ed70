/* providers: recognise LLM endpoints and turn exchanges into observations.
 *
 * Two entry points with very different budgets:
 *  - at_match_url() runs on the application's thread, inside a hook, for
 *    every request the program makes. It must not allocate, lock or log:
 *    a few string compares against the host table and path signatures.
 *  - at_parse_exchange() runs on the background worker (or in the CLI's
 *    `parse`). It may allocate freely, and must survive any input: a body
 *    that is truncated, not JSON, wrongly typed or binary yields a partial
 *    observation with a reason, never a crash. */
#ifndef AT_PROVIDERS_H
#define AT_PROVIDERS_H

#include <cjson/cJSON.h>

#include "exchange.h"

/* The API shape of an endpoint (what parser applies). */
enum at_api {
  AT_API_NONE = 0,
  AT_API_OPENAI_CHAT,        /* .../chat/completions */
  AT_API_OPENAI_COMPLETIONS, /* .../completions (legacy) */
  AT_API_OPENAI_EMBEDDINGS,  /* .../embeddings */
  AT_API_OPENAI_RESPONSES,   /* .../responses */
  AT_API_ANTHROPIC_MESSAGES, /* .../v1/messages */
  AT_API_BEDROCK_CONVERSE,   /* Bedrock /model/{id}/converse[-stream] */
  AT_API_BEDROCK_INVOKE,     /* Bedrock /model/{id}/invoke[-with-response-
                                stream], the model's native body */
  AT_API_BEDROCK_EMBED,      /* Bedrock /model/{id}/invoke of a model whose
                                id names it an embedding model */
  AT_API_GEMINI_GENERATE,    /* Google .../models/{m}:generateContent,
                                :streamGenerateContent (Gemini, Vertex) */
  AT_API_GEMINI_EMBED,       /* .../models/{m}:embedContent,
                                :batchEmbedContents */
  AT_API_COHERE_CHAT,        /* Cohere /v2/chat */
  AT_API_COHERE_CHAT_V1,     /* Cohere /v1/chat */
  AT_API_COHERE_GENERATE,    /* Cohere /v1/generate (legacy) */
  AT_API_COHERE_EMBED,       /* Cohere /v1/embed, /v2/embed */
  AT_API_RERANK,             /* .../rerank on a known host (Cohere, Voyage
                                AI, Jina, ...): a retriever */
  AT_API_OLLAMA_CHAT,        /* Ollama .../api/chat */
  AT_API_OLLAMA_GENERATE,    /* Ollama .../api/generate */
  AT_API_OLLAMA_EMBED,       /* Ollama .../api/embed, .../api/embeddings */
  AT_API_PINECONE_QUERY,     /* Pinecone /query, /records/.../search */
  AT_API_QDRANT_SEARCH,      /* Qdrant .../collections/{c}/points/search,
                                query, recommend, discover (and /batch) */
  AT_API_CHROMA_QUERY,       /* Chroma .../collections/{id}/query */
  AT_API_WEAVIATE_GRAPHQL,   /* Weaviate /v1/graphql */
  AT_API_MARQO_SEARCH,       /* Marqo /indexes/{i}/search */
  AT_API_TAVILY_SEARCH,      /* Tavily /search */
  AT_API_EXA_SEARCH,         /* Exa /search, /findSimilar, /contents, ... */
  AT_API_SERPER_SEARCH,      /* Serper /search, /news, /images, ... */
  AT_API_OTHER_LLM           /* a known LLM host, but a path we do not parse
                                (e.g. GET /v1/models): counted as skipped */
};

struct at_match {
  enum at_api api;
  /* gen_ai.provider.name value: "openai", "anthropic", "groq", ... or
   * "openai_compatible" when only the path told us. Static storage. */
  const char *provider;
};

/* Apply AUTOTRACE_HOSTS ("host[:port]=provider,-host,..."). Call once at
 * start-up, before any at_match_url(); not thread-safe against matching.
 * Returns the number of entries accepted, -1 when the spec had errors
 * (valid entries are still applied; `err` says what was wrong). */
int at_hosts_configure(const char *spec, char *err, size_t errlen);

/* Is this URL an LLM endpoint? Fills *m and returns 1 if so, else 0.
 * Allocation-free and lock-free; safe on any thread. */
int at_match_url(const char *url, struct at_match *m);

/* Options for parsing. */
struct at_parse_opts {
  int capture_metadata_only; /* AUTOTRACE_CAPTURE=metadata: no input/output */
  int capture_binary; /* AUTOTRACE_CAPTURE_BINARY=1: keep binary content */
};

/* Build the observation record for one exchange: a cJSON object in the
 * record schema (docs/record-schema.md) holding every field the exchange
 * determines: type, name, times, provider, models, parameters, input,
 * output, usage, usage_details, cost_details, level, status_message, http,
 * metadata. The caller adds ids, trace context and process fields.
 * Returns NULL only on allocation failure, or when the exchange is not one
 * the parsers handle — the URL is not an LLM endpoint (when `match` was not
 * given), the API is AT_API_OTHER_LLM or AT_API_NONE, or the method is not
 * POST — and then *skip_reason says why. */
cJSON *at_parse_exchange(const struct at_exchange *ex,
                         const struct at_match *match,
                         const struct at_parse_opts *opts,
                         const char **skip_reason);

#endif
