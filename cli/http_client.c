/* http_client: the uploader's one HTTP operation, a POST of a JSON body,
 * over a reused libcurl easy handle (keep-alive across batches).
 *
 * Every request has a total timeout and a connect timeout; redirects are
 * not followed (they would carry the Authorization header elsewhere); the
 * answer is kept up to AT_UPLOAD_RESPONSE_MAX bytes (OTLP: "clients cap
 * the response at 4 MiB"); Retry-After comes from libcurl's own parser
 * (seconds or an HTTP date). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "upload.h"
#include "upload_env.h"

struct http_client {
  CURL *h;
  long timeout_ms, connect_timeout_ms;
  char *body;
  size_t len, cap;
  char errbuf[CURL_ERROR_SIZE];
  /* gzip state kept across requests: deflateInit's window and tables
   * cost more than compressing a small batch. */
  z_stream z;
  int z_ready;
  unsigned char *gz;
  size_t gz_cap;
};

struct http_client *http_client_new(long timeout_ms, long connect_timeout_ms) {
  struct http_client *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->h = curl_easy_init();
  if (!c->h) {
    free(c);
    return NULL;
  }
  c->timeout_ms = timeout_ms;
  c->connect_timeout_ms = connect_timeout_ms;
  return c;
}

void http_client_free(struct http_client *c) {
  if (!c)
    return;
  curl_easy_cleanup(c->h);
  if (c->z_ready)
    deflateEnd(&c->z);
  free(c->gz);
  free(c->body);
  free(c);
}

/* gzip into the client's own buffer (level 1: JSON compresses well even
 * so, and the uploader must keep up with many writers). */
static unsigned char *client_gzip(struct http_client *c, const char *in,
                                  size_t len, size_t *out_len) {
  if (len > UINT32_MAX)
    return NULL;
  if (!c->z_ready) {
    memset(&c->z, 0, sizeof c->z);
    if (deflateInit2(&c->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
      return NULL;
    c->z_ready = 1;
  } else if (deflateReset(&c->z) != Z_OK) {
    return NULL;
  }
  size_t bound = deflateBound(&c->z, (uLong)len) + 32;
  if (bound > c->gz_cap) {
    unsigned char *nb = realloc(c->gz, bound);
    if (!nb)
      return NULL;
    c->gz = nb;
    c->gz_cap = bound;
  }
  c->z.next_in = (Bytef *)in;
  c->z.avail_in = (uInt)len;
  c->z.next_out = c->gz;
  c->z.avail_out = (uInt)c->gz_cap;
  if (deflate(&c->z, Z_FINISH) != Z_STREAM_END)
    return NULL;
  *out_len = c->z.total_out;
  return c->gz;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg) {
  struct http_client *c = arg;
  size_t bytes = size * n;
  size_t room = AT_UPLOAD_RESPONSE_MAX - c->len;
  size_t take = bytes < room ? bytes : room; /* the rest is read, dropped */
  if (take && c->len + take + 1 > c->cap) {
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < c->len + take + 1)
      cap *= 2;
    char *nb = realloc(c->body, cap);
    if (!nb)
      return 0; /* libcurl fails the transfer: retried later */
    c->body = nb;
    c->cap = cap;
  }
  if (take) {
    memcpy(c->body + c->len, p, take);
    c->len += take;
    c->body[c->len] = '\0';
  }
  return bytes;
}

unsigned char *http_gzip(const char *in, size_t len, int level,
                         size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  /* windowBits 15 + 16: a gzip wrapper with no name and mtime 0, so the
   * same body compresses to the same bytes every time. */
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    return NULL;
  uLong bound = deflateBound(&z, (uLong)len) + 32;
  unsigned char *out = malloc(bound);
  if (!out) {
    deflateEnd(&z);
    return NULL;
  }
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)len;
  z.next_out = out;
  z.avail_out = (uInt)bound;
  int rc = len > UINT32_MAX ? Z_BUF_ERROR : deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    free(out);
    return NULL;
  }
  *out_len = z.total_out;
  return out;
}

int http_post(struct http_client *c, const char *url,
              const struct upload_header *h, size_t nh, const char *body,
              size_t len, int gzip, struct http_result *r) {
  memset(r, 0, sizeof *r);
  r->retry_after_ms = -1;
  c->len = 0;
  if (c->body)
    c->body[0] = '\0';
  c->errbuf[0] = '\0';

  const unsigned char *gz = NULL;
  size_t gz_len = 0;
  if (gzip == 2) {
    gz = (const unsigned char *)body; /* gzipped already */
    gz_len = len;
  } else if (gzip) {
    gz = client_gzip(c, body, len, &gz_len);
    if (!gz)
      return -1;
  }
  struct curl_slist *list = NULL, *tmp;
  char line[8192];
  int ok = 1;
#define ADD(s)                                                                 \
  do {                                                                         \
    tmp = curl_slist_append(list, (s));                                        \
    if (!tmp)                                                                  \
      ok = 0;                                                                  \
    else                                                                       \
      list = tmp;                                                              \
  } while (0)
  ADD("Content-Type: application/json");
  if (gzip)
    ADD("Content-Encoding: gzip");
  ADD("Expect:"); /* no 100-continue round trip for big bodies */
  for (size_t i = 0; i < nh && ok; i++) {
    int n = snprintf(line, sizeof line, "%s: %s", h[i].name, h[i].value);
    if (n < 0 || (size_t)n >= sizeof line)
      ok = 0;
    else
      ADD(line);
  }
#undef ADD
  memset(line, 0, sizeof line); /* it held a credential */
  if (!ok) {
    curl_slist_free_all(list);
    return -1;
  }

  CURL *e = c->h;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, gz ? (const char *)gz : body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                   (curl_off_t)(gz ? gz_len : len));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "autotrace-upload");
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  CURLcode cc = curl_easy_perform(e);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(list); /* libcurl copies nothing: free after */

  r->curl_code = (int)cc;
  r->sent_bytes = gz ? gz_len : len;
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  if (cc == CURLE_OK) {
    r->status = status;
    /* 0 means "none or unreadable" to libcurl. */
    curl_off_t ra = 0;
#if LIBCURL_VERSION_NUM >= 0x074200
    if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
      r->retry_after_ms = (int64_t)ra * 1000;
#endif
  } else {
    /* A half-read answer is no answer: the batch's fate is unknown. */
    r->status = 0;
    snprintf(r->error, sizeof r->error, "%s",
             c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
    size_t el = strlen(r->error);
    if (el && r->error[el - 1] == '\n')
      r->error[el - 1] = '\0';
  }
  r->body = c->body;
  r->len = c->len;
  return 0;
}
