/* messages: message and part builders (see messages.h). */
#include "messages.h"

#include <stdlib.h>
#include <string.h>

#include "json_cs.h"
#include "json_util.h"
#include "redact.h"

static cJSON *new_part(struct at_obs *o, cJSON *parts, const char *type) {
  if (!parts)
    return NULL;
  cJSON *p = at_node_object();
  if (!p || !at_cs_str(p, "type", type)) {
    cJSON_Delete(p);
    o->oom = 1;
    return NULL;
  }
  cJSON_AddItemToArray(parts, p);
  return p;
}

/* key: a literal (json_cs.h). */
static void add_str(struct at_obs *o, cJSON *obj, const char *key,
                    const char *s) {
  if (s && !at_cs_str(obj, key, s))
    o->oom = 1;
}

/* A string of n bytes (need not be NUL-terminated) under the literal key:
 * at_json_add_strn's one allocation and one copy, without copying the
 * key. */
static cJSON *add_strn(cJSON *obj, const char *key, const char *s, size_t n) {
  return at_cs_add(obj, key, at_json_strn(s, n)); /* NULL passes through */
}

/* A deep copy of v (when not NULL) under the literal key; 0 or -1. */
static int add_copy(cJSON *obj, const char *key, const cJSON *v) {
  if (!v)
    return 0;
  return at_cs_add(obj, key, cJSON_Duplicate(v, 1)) ? 0 : -1;
}

cJSON *at_msg_add(struct at_obs *o, cJSON *arr, const char *role,
                  cJSON **msg_out) {
  if (msg_out)
    *msg_out = NULL;
  if (!arr)
    return NULL;
  cJSON *m = at_node_object();
  cJSON *parts = at_node_array();
  if (!m || !parts || !at_cs_str(m, "role", role)) {
    cJSON_Delete(m);
    cJSON_Delete(parts);
    o->oom = 1;
    return NULL;
  }
  cJSON_AddItemToObjectCS(m, "parts", parts);
  cJSON_AddItemToArray(arr, m);
  if (msg_out)
    *msg_out = m;
  return parts;
}

void at_part_text(struct at_obs *o, cJSON *parts, const char *type,
                  const char *text, size_t len) {
  cJSON *p = new_part(o, parts, type);
  if (p && !add_strn(p, "content", text ? text : "", text ? len : 0))
    o->oom = 1;
}

void at_part_redacted_reasoning(struct at_obs *o, cJSON *parts) {
  cJSON *p = new_part(o, parts, "reasoning");
  if (p && !at_cs_bool(p, "redacted", 1))
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
    cJSON_AddItemToObjectCS(p, "arguments", parsed);
  else if (!add_strn(p, "arguments", args, args_len))
    o->oom = 1;
}

void at_part_tool_call_value(struct at_obs *o, cJSON *parts, const char *id,
                             const char *name, const cJSON *args) {
  cJSON *p = new_part(o, parts, "tool_call");
  if (!p)
    return;
  add_str(o, p, "id", id);
  add_str(o, p, "name", name);
  if (add_copy(p, "arguments", args) != 0)
    o->oom = 1;
}

void at_part_tool_response(struct at_obs *o, cJSON *parts, const char *id,
                           const cJSON *response) {
  cJSON *p = new_part(o, parts, "tool_call_response");
  if (!p)
    return;
  add_str(o, p, "id", id);
  if (add_copy(p, "response", response) != 0)
    o->oom = 1;
}

/* AUTOTRACE_CAPTURE_BINARY=1: the part keeps its bytes as "content",
 * base64 without whitespace. */
static void add_b64_content(struct at_obs *o, cJSON *p, const char *b64,
                            size_t len) {
  char *clean = malloc(len + 1);
  if (!clean) {
    o->oom = 1;
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (b64[i] != ' ' && b64[i] != '\n' && b64[i] != '\r' && b64[i] != '\t')
      clean[n++] = b64[i];
  if (!add_strn(p, "content", clean, n))
    o->oom = 1;
  free(clean);
}

/* Base64 of bytes (for a percent-encoded data: URL); NULL on OOM. */
static char *base64_encode(const unsigned char *s, size_t n, size_t *out_len) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = malloc((n + 2) / 3 * 4 + 1);
  if (!out)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)s[i] << 16;
    if (i + 1 < n)
      v |= (unsigned)s[i + 1] << 8;
    if (i + 2 < n)
      v |= s[i + 2];
    out[k++] = tab[(v >> 18) & 63];
    out[k++] = tab[(v >> 12) & 63];
    out[k++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
    out[k++] = i + 2 < n ? tab[v & 63] : '=';
  }
  out[k] = '\0';
  *out_len = k;
  return out;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* The bytes of a percent-encoded payload, base64-encoded, as "content". */
static void add_percent_content(struct at_obs *o, cJSON *p, const char *s,
                                size_t n) {
  unsigned char *raw = malloc(n + 1);
  if (!raw) {
    o->oom = 1;
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
        (lo = hexval(s[i + 2])) >= 0) {
      raw[k++] = (unsigned char)(hi * 16 + lo);
      i += 2;
    } else {
      raw[k++] = (unsigned char)s[i];
    }
  }
  size_t len;
  char *b64 = base64_encode(raw, k, &len);
  free(raw);
  if (!b64 || !add_strn(p, "content", b64, len))
    o->oom = 1;
  free(b64);
}

static cJSON *blob(struct at_obs *o, cJSON *parts, const char *modality,
                   const char *mime, size_t size) {
  cJSON *p = new_part(o, parts, "blob");
  if (!p)
    return NULL;
  add_str(o, p, "modality", modality);
  if (mime && mime[0])
    add_str(o, p, "mime_type", mime);
  if (!at_cs_num(p, "size", (double)size))
    o->oom = 1;
  return p;
}

void at_part_blob_b64(struct at_obs *o, cJSON *parts, const char *modality,
                      const char *mime, const char *b64, size_t len) {
  cJSON *p = blob(o, parts, modality, mime,
                  b64 ? at_base64_decoded_size(b64, len) : 0);
  if (p && b64 && o->capture_binary)
    add_b64_content(o, p, b64, len);
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
    cJSON *p = blob(o, parts, modality, mime, size);
    if (p && o->capture_binary) {
      if (b64)
        add_b64_content(o, p, payload, plen);
      else
        add_percent_content(o, p, payload, plen);
    }
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
