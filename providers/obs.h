/* obs: the observation under construction, shared by the API parsers.
 *
 * Parsers put what they find here (models, parameters, messages, usage,
 * problems); parse.c turns it into the record in the schema's key order.
 * The typed getters report a wrongly typed field as a parse error, so that
 * every parser treats bad input the same way: keep what is usable, say
 * what was not. */
#ifndef AT_OBS_H
#define AT_OBS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "exchange.h"
#include "usage.h"

enum at_level { AT_LEVEL_DEFAULT = 0, AT_LEVEL_WARNING, AT_LEVEL_ERROR };

#define AT_STATUS_MAX 512 /* status_message: 500 characters and change */

struct at_obs {
  const struct at_exchange *ex;
  char *request_model, *response_model, *response_id; /* malloc()ed */
  cJSON *params;         /* model_parameters (object, always present) */
  cJSON *input;          /* input messages (array), NULL until known */
  cJSON *output;         /* output messages (array; object for embeddings) */
  cJSON *finish_reasons; /* array of strings, NULL until known */
  cJSON *meta;           /* metadata (object, always present) */
  struct at_usage usage;
  int64_t completion_start_ns; /* 0 until known */
  int level;                   /* enum at_level */
  int capture_binary;          /* keep binary parts' content (base64) */
  char status[AT_STATUS_MAX];  /* why level is not DEFAULT ("" if unset) */
  int oom;                     /* an allocation failed somewhere */
};

/* Returns 0, or -1 on allocation failure (then call at_obs_free). */
int at_obs_init(struct at_obs *o, const struct at_exchange *ex);
void at_obs_free(struct at_obs *o);

/* Raise the level to at least `level`. The status message is set by
 * whatever raised the level to its present value first: an ERROR's message
 * replaces a WARNING's, never the other way. msg is cleaned (valid UTF-8,
 * no control characters) and cut to 500 bytes on a character boundary. */
void at_obs_raise(struct at_obs *o, int level, const char *msg, size_t len);

/* Note a body problem: metadata.parse_error (the first one is kept) and
 * level WARNING. printf-style. */
void at_obs_parse_error(struct at_obs *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Replace *slot with a copy of s (NULL clears it). */
void at_obs_set(struct at_obs *o, char **slot, const char *s);

/* Typed getters: the member `key` of obj when it has the expected type;
 * NULL (or 0) when absent or JSON null; a member of another type is
 * reported as "<where>.<key> is not a <type>" and treated as absent. */
const char *at_obs_str(struct at_obs *o, const cJSON *obj, const char *key,
                       const char *where);
const cJSON *at_obs_arr(struct at_obs *o, const cJSON *obj, const char *key,
                        const char *where);
const cJSON *at_obs_objv(struct at_obs *o, const cJSON *obj, const char *key,
                         const char *where);
int at_obs_count(struct at_obs *o, const cJSON *obj, const char *key,
                 const char *where, int64_t *out);

/* Read a count and store it in the usage (field: an AT_U_* bit). */
void at_obs_usage(struct at_obs *o, const cJSON *obj, const char *key,
                  const char *where, unsigned field);

/* Copy a request parameter into model_parameters when present. key must
 * outlive the record (a literal: the record points at it, json_cs.h). */
void at_obs_param(struct at_obs *o, const cJSON *req, const char *key);

/* Set metadata[key] to a copy of s (if s is non-NULL). */
void at_obs_meta_str(struct at_obs *o, const char *key, const char *s);

/* Append a finish reason (creating the array). */
void at_obs_finish_reason(struct at_obs *o, const char *reason);

/* A choice ended for `reason` (NULL: nothing to record): set it on its
 * output message (when given) and append it to the record's reasons. */
void at_obs_finish(struct at_obs *o, cJSON *msg, const char *reason);

/* Walk the request's "messages" list: notes a missing or malformed list,
 * makes o->input when it does not exist yet, and calls each(o, m) for
 * every item in order. */
typedef void (*at_message_fn)(struct at_obs *o, const cJSON *m);
void at_obs_each_message(struct at_obs *o, const cJSON *req,
                         at_message_fn each);

/* The role of one request message: NULL (noted) when the item is not an
 * object; "user" (noted) when it has no role. */
const char *at_obs_message_role(struct at_obs *o, const cJSON *m,
                                const char *where);

/* When did response byte `offset` arrive? From the exchange's chunk marks;
 * falls back to the first-byte time, then the end time. */
int64_t at_obs_time_at(const struct at_exchange *ex, size_t offset);

/* The first output-bearing event of a stream ended at byte `offset`: set
 * completion_start_ns unless already set. */
void at_obs_first_output(struct at_obs *o, size_t offset);

/* The provider's error, from a parsed JSON body: OpenAI's {"error":
 * {"message","type","code","param"}}, Anthropic's {"type":"error","error":
 * {"type","message"}}, {"error":"text"}, {"message":...}, {"detail":...}.
 * Sets level ERROR, status_message and metadata error_type / error_code /
 * error_param. Returns 1 when root described an error, else 0. */
int at_obs_json_error(struct at_obs *o, const cJSON *root);

/* The same for an HTTP error answer whose body may be anything: JSON as
 * above, plain text (first 500 bytes), or nothing ("HTTP 429 Too Many
 * Requests" from the status line). Always sets level ERROR. */
void at_obs_http_error(struct at_obs *o, const char *body, size_t len);

#endif
