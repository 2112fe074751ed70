/* messages: builders for input/output messages and their parts, in the
 * OpenTelemetry GenAI shape the record uses (record-schema.md, Messages).
 *
 * Every builder appends to a parts array and reports allocation failure
 * through the observation (o->oom) rather than to its caller: a message
 * missing a part is still a message. */
#ifndef AT_MESSAGES_H
#define AT_MESSAGES_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "obs.h"

/* Append {"role": role, "parts": []} to arr; returns the parts array (NULL
 * on allocation failure). *msg_out, when given, receives the message. */
cJSON *at_msg_add(struct at_obs *o, cJSON *arr, const char *role,
                  cJSON **msg_out);

/* {"type": type, "content": text} — type is "text", "reasoning" or
 * "refusal". */
void at_part_text(struct at_obs *o, cJSON *parts, const char *type,
                  const char *text, size_t len);

/* {"type":"reasoning","redacted":true} (Anthropic redacted_thinking). */
void at_part_redacted_reasoning(struct at_obs *o, cJSON *parts);

/* {"type":"tool_call", id, name, arguments}: args is JSON text from the
 * provider, parsed when it is valid JSON, else kept as the string. Any of
 * id, name, args may be NULL (then the key is absent). */
void at_part_tool_call(struct at_obs *o, cJSON *parts, const char *id,
                       const char *name, const char *args, size_t args_len);

/* The same with arguments already parsed (Anthropic tool_use.input). */
void at_part_tool_call_value(struct at_obs *o, cJSON *parts, const char *id,
                             const char *name, const cJSON *args);

/* {"type":"tool_call_response", id, response}: response copied as given
 * (string, or the provider's blocks). */
void at_part_tool_response(struct at_obs *o, cJSON *parts, const char *id,
                           const cJSON *response);

/* Media given by URL: a data: URL becomes {"type":"blob", modality,
 * mime_type, size} (the bytes are dropped, only their count is kept,
 * unless o->capture_binary: then "content" holds them in base64);
 * anything else {"type":"uri", modality, uri} with secrets removed from
 * the URL. */
void at_part_media_url(struct at_obs *o, cJSON *parts, const char *modality,
                       const char *url);

/* Inline base64 media: {"type":"blob", modality, mime_type, size}, and
 * "content" (the base64, whitespace removed) when o->capture_binary. */
void at_part_blob_b64(struct at_obs *o, cJSON *parts, const char *modality,
                      const char *mime, const char *b64, size_t len);

/* A provider-side file reference: {"type":"file", modality, file_id}. */
void at_part_file(struct at_obs *o, cJSON *parts, const char *modality,
                  const char *file_id);

/* A part of a kind we do not model: {"type": type} so that its place in
 * the conversation is kept. */
void at_part_other(struct at_obs *o, cJSON *parts, const char *type);

#endif
