/* exch: one captured exchange under construction; see exch.h. Also the
 * public exchange functions of conn.h (free, fill, request URL), which
 * serve HTTP/1.1 and HTTP/2 alike. */
#include "exch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct wx *wx_new(struct wire_span method, struct wire_span target,
                  struct wire_span host, const struct wire_limits *lim,
                  int64_t t_start) {
  size_t need = method.n + target.n + host.n + 3;
  struct wx *x = calloc(1, sizeof *x + need);
  if (!x)
    return NULL;
  char *s = x->strings;
  if (method.n)
    memcpy(s, method.p, method.n);
  x->pub.method = s;
  s += method.n + 1;
  if (target.n)
    memcpy(s, target.p, target.n);
  x->pub.target = s;
  s += target.n + 1;
  if (host.n)
    memcpy(s, host.p, host.n);
  x->pub.host = s;
  dynbuf_init(&x->req_head, lim->max_head);
  dynbuf_init(&x->resp_heads, lim->max_head);
  dynbuf_init(&x->req.buf, lim->max_body);
  dynbuf_init(&x->resp.buf, lim->max_body);
  x->req.x = x->resp.x = x;
  x->resp.is_resp = 1;
  x->pub.t_start_ns = t_start;
  return x;
}

void wx_partial(struct wx *x, const char *fmt, ...) {
  if (!x)
    return;
  if (!x->pub.partial) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->pub.reason, sizeof x->pub.reason, fmt, ap);
    va_end(ap);
  }
  x->pub.partial = 1;
}

static void body_free(struct wx_body *b) {
  if (b->dec) {
    wire_decoder_free(b->dec);
    free(b->dec);
    b->dec = NULL;
  }
}

/* ---- bodies ---------------------------------------------------------- */

/* Keep "bytes [0, off) had arrived by t". One mark per feed: a second
 * store in the same feed moves the mark forward. When the table is full,
 * the second half is thinned (every other mark dropped, which keeps each
 * remaining mark true), so the early marks — the first token — stay
 * exact. */
static void mark(struct wire_exchange *e, size_t off, int64_t t) {
  size_t n = e->nmarks;
  if (n && e->marks[n - 1].t_ns == t) {
    e->marks[n - 1].offset = off;
    return;
  }
  if (n == AT_MAX_CHUNK_MARKS) {
    size_t half = AT_MAX_CHUNK_MARKS / 2, k = 0;
    for (size_t j = half + 1; j < AT_MAX_CHUNK_MARKS; j += 2)
      e->marks[half + k++] = e->marks[j];
    n = half + k;
  }
  e->marks[n].offset = off;
  e->marks[n].t_ns = t;
  e->nmarks = n + 1;
}

static int body_sink(void *arg, const char *p, size_t n) {
  struct wx_body *b = arg;
  int r = dynbuf_add(&b->buf, p, n);
  if (r < 0) {
    wx_partial(b->x, "%s body: out of memory",
               b->is_resp ? "response" : "request");
    return 1;
  }
  if (b->is_resp && n)
    mark(&b->x->pub, b->buf.len, b->now);
  return r != 0;
}

void wx_body_data(struct wx *x, int is_resp, const char *p, size_t n,
                  int64_t now) {
  if (!x || n == 0)
    return;
  struct wx_body *b = is_resp ? &x->resp : &x->req;
  if (b->stop)
    return;
  b->now = now;
  int r = b->dec ? wire_decoder_feed(b->dec, p, n) : body_sink(b, p, n);
  if (r < 0)
    wx_partial(x, "%s body: %s", is_resp ? "response" : "request",
               b->dec->error);
  if (r)
    b->stop = 1;
}

void wx_body_codings(struct wx *x, int is_resp, const struct wire_span *codings,
                     int ncodings, int codings_over, size_t max_body) {
  struct wx_body *b = is_resp ? &x->resp : &x->req;
  const char *side = is_resp ? "response" : "request";
  if (ncodings == 0 && !codings_over)
    return;
  if (codings_over) {
    wx_partial(x, "%s body: too many content codings", side);
    b->stop = 1;
    return;
  }
  b->dec = malloc(sizeof *b->dec);
  if (!b->dec) {
    wx_partial(x, "%s body: out of memory", side);
    b->stop = 1;
    return;
  }
  wire_decoder_init(b->dec, body_sink, b, max_body);
  for (int i = 0; i < ncodings; i++) {
    if (wire_decoder_add(b->dec, codings[i].p, codings[i].n) < 0) {
      wx_partial(x, "%s body: %s", side, b->dec->error);
      b->stop = 1;
      body_free(b);
      return;
    }
  }
  snprintf(is_resp ? x->resp_coding : x->req_coding, sizeof x->req_coding, "%s",
           b->dec->names);
  if (b->dec->nstages == 0)
    body_free(b);
}

void wx_body_end(struct wx *x, int is_resp) {
  if (!x)
    return;
  struct wx_body *b = is_resp ? &x->resp : &x->req;
  if (b->dec && !b->stop && wire_decoder_finish(b->dec) < 0)
    wx_partial(x, "%s body: %s", is_resp ? "response" : "request",
               b->dec->error);
  body_free(b);
}

/* ---- finished exchanges ------------------------------------------------ */

static const char *buf_or_empty(const struct dynbuf *b) {
  return b->ptr ? b->ptr : "";
}

void wx_publish(struct wx *x, int64_t now) {
  struct wire_exchange *e = &x->pub;
  body_free(&x->req);
  body_free(&x->resp);
  e->req_head = buf_or_empty(&x->req_head);
  e->req_head_len = x->req_head.len;
  if (x->fields_off + x->fields_len > x->req_head.len)
    x->fields_off = x->fields_len = 0;
  e->req_fields = e->req_head + x->fields_off;
  e->req_fields_len = x->fields_len;
  e->req_body = buf_or_empty(&x->req.buf);
  e->req_body_len = x->req.buf.len;
  e->req_body_truncated = x->req.buf.truncated;
  e->req_coding = x->req_coding;
  e->resp_headers = buf_or_empty(&x->resp_heads);
  e->resp_headers_len = x->resp_heads.len;
  e->resp_body = buf_or_empty(&x->resp.buf);
  e->resp_body_len = x->resp.buf.len;
  e->resp_body_truncated = x->resp.buf.truncated;
  e->resp_coding = x->resp_coding;
  if (e->status == 0 && x->resp_heads.len == 0)
    e->flags |= WIRE_X_NO_RESPONSE;
  if (e->t_end_ns < now)
    e->t_end_ns = now;
}

int wx_queue_push(struct wx_queue *q, struct wx *x, size_t max) {
  if (q->n >= max) {
    wire_exchange_free(&x->pub);
    return -1;
  }
  x->next = NULL;
  if (q->last)
    q->last->next = x;
  else
    q->first = x;
  q->last = x;
  q->n++;
  return 0;
}

struct wx *wx_queue_pop(struct wx_queue *q) {
  struct wx *x = q->first;
  if (!x)
    return NULL;
  q->first = x->next;
  if (!q->first)
    q->last = NULL;
  q->n--;
  x->next = NULL;
  return x;
}

void wx_queue_free(struct wx_queue *q) {
  for (struct wx *x; (x = wx_queue_pop(q));)
    wire_exchange_free(&x->pub);
}

void wire_exchange_free(struct wire_exchange *e) {
  struct wx *x = (struct wx *)e;
  if (!x)
    return;
  body_free(&x->req);
  body_free(&x->resp);
  dynbuf_free(&x->req_head);
  dynbuf_free(&x->resp_heads);
  dynbuf_free(&x->req.buf);
  dynbuf_free(&x->resp.buf);
  free(x->url);
  free(x);
}

/* ---- to the providers ------------------------------------------------- */

static int has_prefix_nocase(const char *s, size_t n, const char *pre) {
  size_t k = strlen(pre);
  return n >= k && !strncasecmp(s, pre, k);
}

int wire_request_url(const struct wire_request *rq, const char *scheme,
                     const char *fallback_host, char *buf, size_t cap) {
  int len;
  const char *host = rq->host_len ? rq->host : fallback_host;
  size_t hlen = rq->host_len ? rq->host_len : (host ? strlen(host) : 0);
  if (!cap)
    return -1;
  if (has_prefix_nocase(rq->target, rq->target_len, "http://") ||
      has_prefix_nocase(rq->target, rq->target_len, "https://"))
    len = snprintf(buf, cap, "%.*s", (int)rq->target_len, rq->target);
  else if (rq->target_len == 1 && rq->target[0] == '*')
    len = snprintf(buf, cap, "%s://%.*s", scheme, (int)hlen, host ? host : "");
  else if (rq->target_len && rq->target[0] != '/') /* CONNECT authority */
    len = snprintf(buf, cap, "%s://%.*s", scheme, (int)rq->target_len,
                   rq->target);
  else
    len = snprintf(buf, cap, "%s://%.*s%.*s", scheme, (int)hlen,
                   host ? host : "", (int)rq->target_len, rq->target);
  if (len < 0 || (size_t)len >= cap) {
    buf[0] = '\0';
    return -1;
  }
  return len;
}

int wire_exchange_fill(struct wire_exchange *e, const char *scheme,
                       const char *fallback_host, struct at_exchange *ex) {
  struct wx *x = (struct wx *)e;
  memset(ex, 0, sizeof *ex);
  if (!x->url) {
    struct wire_request rq = {e->method, strlen(e->method),
                              e->target, strlen(e->target),
                              e->host,   strlen(e->host)};
    size_t cap = strlen(scheme) + 4 + rq.target_len +
                 (rq.host_len ? rq.host_len
                              : (fallback_host ? strlen(fallback_host) : 0));
    x->url = malloc(cap);
    if (!x->url)
      return -1;
    if (wire_request_url(&rq, scheme, fallback_host, x->url, cap) < 0) {
      free(x->url);
      x->url = NULL;
      return -1;
    }
  }
  ex->method = e->method;
  ex->url = x->url;
  ex->req_headers = e->req_fields;
  ex->req_headers_len = e->req_fields_len;
  ex->resp_headers = e->resp_headers;
  ex->resp_headers_len = e->resp_headers_len;
  ex->req_body = e->req_body;
  ex->req_body_len = e->req_body_len;
  ex->req_body_truncated = e->req_body_truncated;
  ex->resp_body = e->resp_body;
  ex->resp_body_len = e->resp_body_len;
  ex->resp_body_truncated = e->resp_body_truncated;
  ex->status = e->status;
  if (e->partial) {
    ex->transport_error = -1;
    ex->transport_error_msg = e->reason;
  }
  ex->t_start_ns = e->t_start_ns;
  ex->t_first_byte_ns = e->t_first_byte_ns;
  ex->t_end_ns = e->t_end_ns;
  memcpy(ex->marks, e->marks, e->nmarks * sizeof e->marks[0]);
  ex->nmarks = e->nmarks;
  ex->capture_path = "wire";
  return 0;
}
