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

#endif
