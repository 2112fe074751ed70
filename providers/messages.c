/* messages: message and part builders (see messages.h). */
#include "messages.h"

#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "redact.h"

static cJSON *new_part(struct at_obs *o, cJSON *parts, const char *type) {
  if (!parts)
    return NULL;
  cJSON *p = cJSON_CreateObject();
  if (!p || !cJSON_AddStringToObject(p, "type", type)) {
    cJSON_Delete(p);
    o->oom = 1;
    return NULL;
  }
  cJSON_AddItemToArray(parts, p);
  return p;
}

static void add_str(struct at_obs *o, cJSON *obj, const char *key,
                    const char *s) {
  if (s && !cJSON_AddStringToObject(obj, key, s))
    o->oom = 1;
}

cJSON *at_msg_add(struct at_obs *o, cJSON *arr, const char *role,
                  cJSON **msg_out) {
  if (msg_out)
    *msg_out = NULL;
  if (!arr)
    return NULL;
  cJSON *m = cJSON_CreateObject();
  cJSON *parts = cJSON_CreateArray();
  if (!m || !parts || !cJSON_AddStringToObject(m, "role", role)) {
    cJSON_Delete(m);
    cJSON_Delete(parts);
    o->oom = 1;
    return NULL;
  }
  cJSON_AddItemToObject(m, "parts", parts);
  cJSON_AddItemToArray(arr, m);
  if (msg_out)
    *msg_out = m;
  return parts;
}

void at_part_text(struct at_obs *o, cJSON *parts, const char *type,
                  const char *text, size_t len) {
  cJSON *p = new_part(o, parts, type);
  if (p && !at_json_add_strn(p, "content", text ? text : "", text ? len : 0))
    o->oom = 1;
}

void at_part_redacted_reasoning(struct at_obs *o, cJSON *parts) {
  cJSON *p = new_part(o, parts, "reasoning");
  if (p && !cJSON_AddTrueToObject(p, "redacted"))
    o->oom = 1;
}

void at_part_tool_call(struct at_obs *o, cJSON *parts, const char *id,
                       const char *name, const char *args, size_t args_len) {
  cJSON *p = new_part(o, parts, "tool_call");
  if (!p)
    return;
  add_str(o, p, "id", id);
  add_str(o, p, "name", name);
  if (!args)
    return;
  cJSON *parsed = at_json_parse(args, args_len);
  if (parsed)
    cJSON_AddItemToObject(p, "arguments", parsed);
  else if (!at_json_add_strn(p, "arguments", args, args_len))
    o->oom = 1;
}

void at_part_tool_call_value(struct at_obs *o, cJSON *parts, const char *id,
                             const char *name, const cJSON *args) {
  cJSON *p = new_part(o, parts, "tool_call");
  if (!p)
    return;
  add_str(o, p, "id", id);
  add_str(o, p, "name", name);
  if (at_json_add_copy(p, "arguments", args) != 0)
    o->oom = 1;
}

void at_part_tool_response(struct at_obs *o, cJSON *parts, const char *id,
                           const cJSON *response) {
  cJSON *p = new_part(o, parts, "tool_call_response");
  if (!p)
    return;
  add_str(o, p, "id", id);
  if (at_json_add_copy(p, "response", response) != 0)
    o->oom = 1;
}

static void blob(struct at_obs *o, cJSON *parts, const char *modality,
                 const char *mime, size_t size) {
  cJSON *p = new_part(o, parts, "blob");
  if (!p)
    return;
  add_str(o, p, "modality", modality);
  if (mime && mime[0])
    add_str(o, p, "mime_type", mime);
  if (!cJSON_AddNumberToObject(p, "size", (double)size))
    o->oom = 1;
}

void at_part_blob_b64(struct at_obs *o, cJSON *parts, const char *modality,
                      const char *mime, const char *b64, size_t len) {
  blob(o, parts, modality, mime, b64 ? at_base64_decoded_size(b64, len) : 0);
}

/* Bytes a percent-encoded data: payload decodes to. */
static size_t percent_decoded_size(const char *s, size_t n) {
  size_t size = 0;
  for (size_t i = 0; i < n; size++)
    i += (s[i] == '%' && i + 2 < n) ? 3 : 1;
  return size;
}

void at_part_media_url(struct at_obs *o, cJSON *parts, const char *modality,
                       const char *url) {
  if (!url)
    return;
  if (strncmp(url, "data:", 5) == 0) {
    /* data:[<mime>][;param...][;base64],<payload> */
    const char *meta = url + 5;
    const char *comma = strchr(meta, ',');
    size_t mlen = comma ? (size_t)(comma - meta) : strlen(meta);
    size_t tlen = strcspn(meta, ";,");
    if (tlen > mlen)
      tlen = mlen;
    char mime[128] = "";
    if (tlen < sizeof mime)
      at_utf8_clean(mime, sizeof mime, meta, tlen, 1);
    int b64 = mlen >= 7 && memcmp(meta + mlen - 7, ";base64", 7) == 0;
    const char *payload = comma ? comma + 1 : meta + mlen;
    size_t plen = strlen(payload);
    size_t size = b64 ? at_base64_decoded_size(payload, plen)
                      : percent_decoded_size(payload, plen);
    blob(o, parts, modality, mime, size);
    return;
  }
  cJSON *p = new_part(o, parts, "uri");
  if (!p)
    return;
  add_str(o, p, "modality", modality);
  char *safe = at_redact_url(url);
  if (!safe) {
    o->oom = 1;
    return;
  }
  char *clean = malloc(strlen(safe) + 1);
  if (clean) {
    at_utf8_clean(clean, strlen(safe) + 1, safe, strlen(safe), 1);
    add_str(o, p, "uri", clean);
  } else {
    o->oom = 1;
  }
  free(clean);
  free(safe);
}

void at_part_file(struct at_obs *o, cJSON *parts, const char *modality,
                  const char *file_id) {
  cJSON *p = new_part(o, parts, "file");
  if (!p)
    return;
  add_str(o, p, "modality", modality);
  add_str(o, p, "file_id", file_id);
}

void at_part_other(struct at_obs *o, cJSON *parts, const char *type) {
  new_part(o, parts, type && type[0] ? type : "unknown");
}
