/* errors: the provider's own words when a call failed (see obs.h). */
#include <stdio.h>
#include <string.h>

#include "json_util.h"
#include "obs.h"
#include "sse.h"

#define ERR_SSE_MAX (1u << 20)

static void meta_scalar(struct at_obs *o, const char *key, const cJSON *v) {
  if (cJSON_IsString(v) && v->valuestring[0]) {
    at_obs_meta_str(o, key, v->valuestring);
  } else if (cJSON_IsNumber(v)) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.15g", v->valuedouble);
    at_obs_meta_str(o, key, buf);
  }
}

/* The message of a FastAPI-style {"detail": "..."} or {"detail": [{"msg":
 * "..."}]}. */
static const char *detail_message(const cJSON *root) {
  const cJSON *d = at_json_get(root, "detail");
  if (cJSON_IsString(d))
    return d->valuestring;
  if (cJSON_IsArray(d))
    return at_json_str(cJSON_GetArrayItem(d, 0), "msg");
  return NULL;
}

static int json_error(struct at_obs *o, const cJSON *root, int any_shape) {
  if (cJSON_IsArray(root))
    root = cJSON_GetArrayItem(root, 0); /* Google wraps errors in [ ] */
  if (!cJSON_IsObject(root))
    return 0;
  const char *message = NULL;
  const cJSON *err = at_json_get(root, "error");
  if (cJSON_IsObject(err)) {
    message = at_json_str(err, "message");
    const cJSON *type = at_json_get(err, "type");
    meta_scalar(o, "error_type", type ? type : at_json_get(err, "status"));
    meta_scalar(o, "error_code", at_json_get(err, "code"));
    meta_scalar(o, "error_param", at_json_get(err, "param"));
  } else if (cJSON_IsString(err)) {
    message = err->valuestring;
  } else if (err) {
    /* {"error": true} or a number: an error, words unknown */
  } else if (any_shape) {
    message = at_json_str(root, "message");
    if (!message)
      message = detail_message(root);
    if (!message)
      return 0;
    meta_scalar(o, "error_type", at_json_get(root, "type"));
    meta_scalar(o, "error_code", at_json_get(root, "code"));
  } else {
    return 0;
  }
  if (!message || !message[0]) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o->meta, "error_type");
    message = cJSON_IsString(t) ? t->valuestring : "error";
  }
  at_obs_raise(o, AT_LEVEL_ERROR, message, strlen(message));
  return 1;
}

int at_obs_json_error(struct at_obs *o, const cJSON *root) {
  return json_error(o, root, 0);
}

/* The reason phrase of the last status line, e.g. "Too Many Requests". */
static void status_reason(const struct at_exchange *ex, char *out, size_t cap) {
  out[0] = '\0';
  const char *h = ex->resp_headers;
  size_t n = ex->resp_headers_len, start = n;
  if (!h)
    return;
  for (size_t i = 0; i + 5 <= n; i++)
    if ((i == 0 || h[i - 1] == '\n') && memcmp(h + i, "HTTP/", 5) == 0)
      start = i;
  if (start == n)
    return;
  const char *line = h + start, *end = line;
  while (end < h + n && *end != '\r' && *end != '\n')
    end++;
  /* "HTTP/1.1 429 Too Many Requests": skip the version and the code */
  const char *p = memchr(line, ' ', (size_t)(end - line));
  if (!p)
    return;
  p = memchr(p + 1, ' ', (size_t)(end - p - 1));
  if (!p)
    return;
  at_utf8_clean(out, cap, p + 1, (size_t)(end - p - 1), 1);
}

struct sse_error_scan {
  struct at_obs *o;
  int found;
};

static int sse_error_event(const struct at_sse_event *ev, void *arg) {
  struct sse_error_scan *s = arg;
  cJSON *root = at_json_parse(ev->data, ev->data_len);
  s->found = root && json_error(s->o, root, 1);
  cJSON_Delete(root);
  return s->found;
}

static int looks_like_sse(const char *b, size_t n) {
  return (n >= 5 && memcmp(b, "data:", 5) == 0) ||
         (n >= 6 && memcmp(b, "event:", 6) == 0);
}

void at_obs_http_error(struct at_obs *o, const char *body, size_t len) {
  const struct at_exchange *ex = o->ex;
  /* Surrounding whitespace says nothing; an all-blank body is no body. */
  while (len &&
         (*body == ' ' || *body == '\t' || *body == '\r' || *body == '\n')) {
    body++;
    len--;
  }
  while (len && (body[len - 1] == ' ' || body[len - 1] == '\t' ||
                 body[len - 1] == '\r' || body[len - 1] == '\n'))
    len--;
  if (len >= 2 && (unsigned char)body[0] == 0x1f &&
      (unsigned char)body[1] == 0x8b) {
    at_obs_parse_error(o, "compressed body");
  } else if (len) {
    cJSON *root = at_json_parse(body, len);
    int found = root && json_error(o, root, 1);
    cJSON_Delete(root);
    if (found)
      return;
    if (looks_like_sse(body, len)) {
      struct sse_error_scan scan = {o, 0};
      struct at_sse sse;
      at_sse_parse(&sse, body, len, ERR_SSE_MAX, sse_error_event, &scan);
      at_sse_free(&sse);
      if (scan.found)
        return;
    }
    /* Plain text, HTML, or JSON of an unknown shape: the text itself. */
    at_obs_raise(o, AT_LEVEL_ERROR, body, len);
    return;
  }
  char reason[128], msg[160];
  status_reason(ex, reason, sizeof reason);
  snprintf(msg, sizeof msg, "HTTP %d%s%s", ex->status, reason[0] ? " " : "",
           reason);
  at_obs_raise(o, AT_LEVEL_ERROR, msg, strlen(msg));
}
