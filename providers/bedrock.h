/* bedrock: what bedrock.c (Converse, event streams, headers) and
 * bedrock_invoke.c (InvokeModel's model-native bodies) share. Internal to
 * providers/; parse.c sees only parsers.h. */
#ifndef AT_BEDROCK_H
#define AT_BEDROCK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "eventstream.h"
#include "obs.h"

/* Longest model id kept (ARNs of inference profiles run to ~150). */
#define AT_BEDROCK_MODEL_MAX 512

/* Largest event-stream message accepted: a chunk is one model event. */
#define AT_BEDROCK_MESSAGE_MAX ((16u << 20) + 65536u)

/* The model id of a Bedrock URL: the path segment(s) between "/model/"
 * and the action, percent-decoded and made valid UTF-8. Returns 1 and
 * fills out (cap bytes), or 0 when the URL has none. */
int at_bedrock_url_model(const char *url, char *out, size_t cap);

/* The foundation model an id names, without an ARN's resource path or a
 * cross-region prefix: "arn:aws:bedrock:us-east-1::foundation-model/
 * meta.llama3-8b-instruct-v1:0" and "us.meta.llama3-8b-instruct-v1:0"
 * both give "meta.llama3-8b-instruct-v1:0". Points into id. */
const char *at_bedrock_base_model(const char *id);

/* request_model from the URL (Bedrock bodies do not name the model). */
void at_bedrock_request_model(struct at_obs *o);

/* response_model for an answer that names none: the model the URL asked
 * for (an inference-profile or foundation-model ARN: the id it ends
 * with). */
void at_bedrock_response_model(struct at_obs *o);

/* Value of response header `name` (lowercase) in the last header block,
 * copied into buf and cleaned; NULL when absent. */
const char *at_bedrock_header(const struct at_exchange *ex, const char *name,
                              char *buf, size_t cap);

/* Usage when the body carried none: x-amzn-bedrock-input-token-count,
 * -output-token-count and the cache read/write counts (inclusive input =
 * input + cache read + cache write). */
void at_bedrock_header_usage(struct at_obs *o);

/* A latency in milliseconds into metadata[key]. */
void at_bedrock_meta_ms(struct at_obs *o, const char *key, const cJSON *v);

/* Converse shapes, also spoken by Amazon Nova's InvokeModel body
 * (messages-v1): the request (system, messages, inferenceConfig,
 * toolConfig, additionalModelRequestFields) and the answer (output.message,
 * stopReason, usage, metrics). */
void at_bedrock_converse_request(struct at_obs *o, const cJSON *req);
void at_bedrock_converse_response(struct at_obs *o, const cJSON *resp);

/* Converse stream events (messageStart, contentBlockStart/Delta/Stop,
 * messageStop, metadata), one at a time: the event type and its JSON.
 * Nova's invoke-with-response-stream chunks carry the same events as
 * {"<type>": {...}}. end builds output and usage and frees the state. */
struct cv_stream;
struct cv_stream *at_bedrock_cv_begin(struct at_obs *o);
void at_bedrock_cv_event(struct cv_stream *s, const char *type, size_t type_len,
                         const char *json, size_t len, size_t end_offset);
void at_bedrock_cv_end(struct cv_stream *s);

/* Drive an event stream: every event message reaches fn with its
 * :event-type and its payload (valid UTF-8: bad bytes are replaced, and
 * reported); exception and error messages set level ERROR with their
 * message and metadata.error_type; framing problems become parse_error.
 * Returns the number of event messages delivered. */
typedef void (*at_bedrock_event_fn)(void *arg, struct at_es_str type,
                                    const char *payload, size_t len,
                                    size_t end_offset);
size_t at_bedrock_event_stream(struct at_obs *o, const char *body, size_t len,
                               at_bedrock_event_fn fn, void *arg);

/* Bedrock's counts: inputTokens exclude the cache reads and writes (see
 * bedrock.c); `apply` stores the inclusive view in o->usage. */
struct bedrock_usage {
  int has_input, has_output, has_read, has_write, has_total;
  int64_t input, output, read, write, total;
};
void at_bedrock_usage_read(struct at_obs *o, const cJSON *u,
                           struct bedrock_usage *bu, const char *where);
void at_bedrock_usage_apply(struct at_obs *o, const struct bedrock_usage *bu);

#endif
