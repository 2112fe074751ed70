/* upload_send: what one HTTP answer means for the batch that got it.
 *
 * The rules (docs/upload.md, "Failures"), after the OTLP/HTTP spec and
 * Langfuse's own SDK:
 *   2xx            accepted; an OTLP partialSuccess is final (never resent)
 *   429 502 503 504 408, or no answer at all (refused, reset, timed out)
 *                  retried with exponential backoff and jitter, honouring
 *                  Retry-After
 *   413            the batch is split (a single record is parked)
 *   500 and other 5xx
 *                  retried AT_UPLOAD_5XX_ATTEMPTS times, then parked: OTLP
 *                  says not to retry them, but Langfuse answers 500 for
 *                  passing internal errors
 *   anything else  (400, 401, 403, 404, a redirect...) parked: kept,
 *                  counted, shown by `autotrace stats`, retried only by
 *                  `autotrace upload --retry-parked` */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upload.h"
#include "upload_env.h"

int64_t upload_backoff_ms(unsigned attempt, double rnd) {
  int64_t d = AT_UPLOAD_RETRY_BASE_MS;
  for (unsigned i = 1; i < attempt && d < AT_UPLOAD_RETRY_CAP_MS; i++)
    d *= 2;
  if (d > AT_UPLOAD_RETRY_CAP_MS)
    d = AT_UPLOAD_RETRY_CAP_MS;
  if (rnd < 0)
    rnd = 0;
  if (rnd >= 1)
    rnd = 0.999;
  return d / 2 + (int64_t)((double)(d / 2) * rnd);
}

static void printable(const char *s, size_t n, char *out, size_t outlen) {
  size_t k = 0;
  int space = 0;
  for (size_t i = 0; i < n && k + 1 < outlen; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) {
      if (!space && k)
        out[k++] = ' ';
      space = 1;
      continue;
    }
    space = c == ' ';
    out[k++] = (char)c;
  }
  /* Do not end inside a UTF-8 sequence. */
  if (k + 1 >= outlen) {
    while (k > 0 && ((unsigned char)out[k - 1] & 0xc0) == 0x80)
      k--;
    if (k > 0 && ((unsigned char)out[k - 1] & 0xc0) == 0xc0)
      k--;
  }
  while (k > 0 && out[k - 1] == ' ')
    k--;
  out[k] = '\0';
}

void upload_server_message(const char *body, size_t len, char *out,
                           size_t outlen) {
  if (!outlen)
    return;
  out[0] = '\0';
  if (!body || !len)
    return;
  cJSON *j = cJSON_ParseWithLength(body, len);
  const char *msg = NULL;
  static const char *const keys[] = {"message", "errorMessage", "error",
                                     "detail"};
  for (size_t i = 0; j && !msg && i < sizeof keys / sizeof *keys; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
    if (cJSON_IsString(v) && v->valuestring[0])
      msg = v->valuestring;
    else if (cJSON_IsObject(v)) {
      const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "message");
      if (cJSON_IsString(m) && m->valuestring[0])
        msg = m->valuestring;
    }
  }
  if (msg)
    printable(msg, strlen(msg), out, outlen);
  else
    printable(body, len, out, outlen);
  cJSON_Delete(j);
}

/* OTLP's ExportTraceServiceResponse: {"partialSuccess": {"rejectedSpans":
 * "N" | N, "errorMessage": "..."}}. Langfuse answers other JSON (its queue
 * job): no partialSuccess, nothing rejected. */
static void partial_success(const char *body, size_t len,
                            struct upload_decision *d) {
  if (!body || !len)
    return;
  cJSON *j = cJSON_ParseWithLength(body, len);
  const cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "partialSuccess");
  if (cJSON_IsObject(ps)) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(ps, "rejectedSpans");
    if (cJSON_IsString(r))
      d->rejected = strtoull(r->valuestring, NULL, 10);
    else if (cJSON_IsNumber(r) && r->valuedouble > 0)
      d->rejected = (uint64_t)r->valuedouble;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(ps, "errorMessage");
    if (cJSON_IsString(m))
      printable(m->valuestring, strlen(m->valuestring), d->message,
                sizeof d->message);
  }
  cJSON_Delete(j);
}

static double jitter(void) {
  return (double)rand() / ((double)RAND_MAX + 1.0);
}

void upload_decide(const struct upload_answer *a, enum upload_kind kind,
                   unsigned attempt, size_t n_records,
                   struct upload_decision *d) {
  memset(d, 0, sizeof *d);
  if (attempt == 0)
    attempt = 1;
  long s = a->status;
  if (a->transport_error || s == 0) {
    d->verdict = UV_RETRY;
    d->delay_ms = upload_backoff_ms(attempt, jitter());
    snprintf(d->message, sizeof d->message, "no answer: %s",
             a->error_text && *a->error_text ? a->error_text
                                             : "connection failed");
    return;
  }
  char server[400];
  upload_server_message(a->body, a->len, server, sizeof server);
  if (s >= 200 && s < 300) {
    d->verdict = UV_OK;
    if (kind != UP_LEGACY)
      partial_success(a->body, a->len, d);
    return;
  }
  if (s == 429 || s == 502 || s == 503 || s == 504 || s == 408) {
    d->verdict = UV_RETRY;
    if (a->retry_after_ms >= 0)
      d->delay_ms = a->retry_after_ms > AT_UPLOAD_RETRY_AFTER_CAP_MS
                        ? AT_UPLOAD_RETRY_AFTER_CAP_MS
                        : a->retry_after_ms;
    else
      d->delay_ms = upload_backoff_ms(attempt, jitter());
  } else if (s == 413 && n_records > 1) {
    d->verdict = UV_SPLIT;
  } else if (s >= 500 && a->server_errors + 1 < AT_UPLOAD_5XX_ATTEMPTS) {
    d->verdict = UV_RETRY;
    d->delay_ms = upload_backoff_ms(attempt, jitter());
  } else {
    d->verdict = UV_PARK;
  }
  if (d->verdict == UV_RETRY && d->delay_ms < 250)
    d->delay_ms = 250; /* never a tight loop, whatever the server says */
  snprintf(d->message, sizeof d->message, "HTTP %ld%s%s", s,
           server[0] ? ": " : "", server);
}
