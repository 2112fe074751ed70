/* conn: the per-connection HTTP/1.1 state machine; see conn.h.
 *
 * Each direction is a small machine: IDLE (between messages) → HEAD (the
 * header block is collected, line by line with memchr, into a buffer
 * capped at max_head) → BODY (framed by length, by chunks, or by the end of
 * the connection) → IDLE. Requests enter a ring of at most max_pending
 * slots when their header block is complete; responses are paired with
 * the oldest slot still waiting for one. A slot whose request and response
 * are both complete leaves the ring (in order) for the done queue.
 *
 * A slot passed over by the predicate has no exchange: its bodies are only
 * framed (Content-Length: one subtraction per read; chunked: the size lines
 * are parsed, the data skipped), nothing is stored, decoded or allocated. */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "wire/chunked.h"
#include "wire/exch.h"
#include "wire/http1.h"

/* A header buffer that grew past this is freed after use, not kept. */
#define HEAD_KEEP 16384
/* wire_http1_prefix_ok() looks at no more than this many bytes. */
#define PREFIX_LOOK 24

struct slot {
  struct wx *x; /* NULL: passed over */
  unsigned char is_head, is_connect, req_done, resp_done;
};

enum { D_IDLE, D_HEAD, D_BODY };
enum { B_NONE, B_LENGTH, B_CHUNKED, B_CLOSE };

struct dir {
  int state;
  int is_req;
  struct dynbuf head;
  size_t line_start; /* offset in head of the line being read */
  size_t nlines;     /* complete lines in head */
  int64_t t0;        /* arrival of the header block's first byte */
  int mode;          /* B_* while in D_BODY */
  uint64_t remaining;
  struct wire_chunked ck;
  uint64_t idx;      /* ring position of the message's exchange */
  struct slot *slot; /* its slot (no division on the hot path) */
  struct wire_conn *c;
};

struct wire_conn {
  struct wire_limits lim;
  wire_interest_fn interest;
  void *arg;
  enum wire_state state;
  char reason[128];
  int64_t now;
  struct dir out, in;
  struct slot *ring;
  uint64_t ring_head, ring_tail; /* slots in flight: [head, tail) */
  uint64_t resp_next;            /* the slot the next response answers */
  struct wx_queue done;
  struct wire_stats stats;
};

static struct slot *slot_at(struct wire_conn *c, uint64_t i) {
  return &c->ring[i % c->lim.max_pending];
}

/* ---- exchanges ------------------------------------------------------ */

static void head_release(struct dynbuf *b) {
  if (b->cap > HEAD_KEEP)
    dynbuf_free(b);
  else
    dynbuf_reset(b);
}

/* A captured request: its exchange takes the header block buffer. */
static struct wx *conn_wx_new(struct wire_conn *c, const struct wire_head *h,
                              struct dir *d) {
  struct wire_span host = h->host.p ? h->host : (struct wire_span){"", 0};
  struct wx *x = wx_new(h->method, h->target, host, &c->lim, d->t0);
  if (!x)
    return NULL;
  x->fields_off = (size_t)(h->fields.p - d->head.ptr);
  x->fields_len = h->fields.n;
  x->req_head = d->head; /* the buffer changes hands */
  dynbuf_init(&d->head, c->lim.max_head);
  if (h->expect_continue)
    x->pub.flags |= WIRE_X_EXPECT_100;
  if (h->conn_close)
    x->pub.flags |= WIRE_X_CONN_CLOSE;
  return x;
}

/* The exchange is finished: publish its buffers and queue it. */
static void finish_x(struct wire_conn *c, struct wx *x) {
  wx_publish(x, c->now);
  int partial = x->pub.partial;
  if (wx_queue_push(&c->done, x, c->lim.max_done) < 0) {
    c->stats.dropped++;
    return;
  }
  c->stats.exchanges++;
  if (partial)
    c->stats.partial++;
}

/* Move every slot whose request and response are both complete, oldest
 * first, to the done queue. */
static void emit_ready(struct wire_conn *c) {
  while (c->ring_head < c->ring_tail) {
    struct slot *s = slot_at(c, c->ring_head);
    if (!s->req_done || !s->resp_done)
      break;
    if (s->x)
      finish_x(c, s->x);
    s->x = NULL;
    c->ring_head++;
  }
}

/* Where an unfinished exchange stood when the connection ended. */
static const char *where(struct wire_conn *c, uint64_t idx,
                         const struct slot *s) {
  const struct dir *o = &c->out, *i = &c->in;
  if (!s->req_done) {
    if (o->state == D_BODY && o->idx == idx)
      return o->mode == B_CHUNKED && wire_chunked_in_data(&o->ck)
                 ? "request body cut mid-chunk"
                 : "request body cut";
    return "request cut";
  }
  if (!s->resp_done && idx == c->resp_next) {
    if (i->state == D_HEAD)
      return "response headers cut";
    if (i->state == D_BODY && i->mode == B_CHUNKED)
      return wire_chunked_in_data(&i->ck) ? "response body cut mid-chunk"
                                          : "response body cut";
    if (i->state == D_BODY)
      return "response body cut";
    if (s->x && s->x->resp_heads.len)
      return "no final response";
  }
  return "no response";
}

/* Everything in flight comes out now, unfinished ones partial. */
static void flush(struct wire_conn *c, const char *why) {
  for (uint64_t k = c->ring_head; k < c->ring_tail; k++) {
    struct slot *s = slot_at(c, k);
    if (s->x) {
      if (!s->req_done || !s->resp_done)
        wx_partial(s->x, "%s: %s", where(c, k, s), why);
      finish_x(c, s->x);
    }
    s->x = NULL;
  }
  c->ring_head = c->ring_tail;
  c->resp_next = c->ring_tail;
}

/* The connection stops being followed as HTTP/1.1. */
static void stop(struct wire_conn *c, enum wire_state st, const char *why) {
  if (c->state != WIRE_HTTP1)
    return;
  c->state = st;
  snprintf(c->reason, sizeof c->reason, "%s", why);
  flush(c, why);
}

static void lost(struct wire_conn *c, const char *why) {
  stop(c, WIRE_LOST, why);
}

/* An error in the message of slot idx: that exchange carries the error
 * itself, the others the loss of the connection. */
static void lost_at(struct wire_conn *c, struct dir *d, const char *why) {
  struct slot *s = slot_at(c, d->idx);
  if (d->idx >= c->ring_head && d->idx < c->ring_tail)
    wx_partial(s->x, "%s: %s", d->is_req ? "request" : "response", why);
  lost(c, why);
}

/* ---- bodies ---------------------------------------------------------- */

static void body_data(struct wire_conn *c, struct dir *d, const char *p,
                      size_t n) {
  wx_body_data(d->slot->x, !d->is_req, p, n, c->now);
}

static void chunk_data(void *arg, const char *p, size_t n) {
  struct dir *d = arg;
  body_data(d->c, d, p, n);
}

/* Set up decoding of a body with the codings of its header block. */
static void body_setup(struct wire_conn *c, struct wx *x, int is_resp,
                       const struct wire_head *h) {
  wx_body_codings(x, is_resp, h->codings, h->ncodings, h->codings_over,
                  c->lim.max_body);
}

/* A message (request or response) is complete. */
static void message_done(struct wire_conn *c, struct dir *d) {
  struct slot *s = d->slot;
  struct wx *x = s->x;
  if (x) {
    wx_body_end(x, !d->is_req);
    x->pub.t_end_ns = c->now;
  }
  if (d->is_req) {
    s->req_done = 1;
  } else {
    s->resp_done = 1;
    c->resp_next++;
  }
  d->state = D_IDLE;
  d->mode = B_NONE;
  emit_ready(c);
}

static void body_begin(struct wire_conn *c, struct dir *d, int mode,
                       uint64_t length) {
  d->mode = mode;
  d->remaining = length;
  if (mode == B_NONE) {
    message_done(c, d);
    return;
  }
  if (mode == B_CHUNKED)
    wire_chunked_init(&d->ck, c->lim.max_head);
  d->state = D_BODY;
}

static size_t body_step(struct wire_conn *c, struct dir *d, const char *p,
                        size_t n) {
  if (d->mode == B_LENGTH) {
    size_t take = n;
    if ((uint64_t)take > d->remaining)
      take = (size_t)d->remaining;
    body_data(c, d, p, take);
    d->remaining -= take;
    if (d->remaining == 0)
      message_done(c, d);
    return take;
  }
  if (d->mode == B_CHUNKED) {
    size_t used =
        wire_chunked_feed(&d->ck, p, n, d->slot->x ? chunk_data : NULL, d);
    if (d->ck.error)
      lost_at(c, d, d->ck.error);
    else if (wire_chunked_done(&d->ck))
      message_done(c, d);
    return used;
  }
  body_data(c, d, p, n); /* B_CLOSE: everything until the end */
  return n;
}

/* ---- header blocks ---------------------------------------------------- */

static void request_cut(struct wire_conn *c, const char *where_,
                        const char *why);

static int want(struct wire_conn *c, const struct wire_head *h) {
  if (!c->interest)
    return 1;
  struct wire_request rq = {h->method.p,
                            h->method.n,
                            h->target.p,
                            h->target.n,
                            h->host.p ? h->host.p : "",
                            h->host.n};
  return c->interest(c->arg, &rq);
}

static int span_is(struct wire_span s, const char *upper) {
  size_t n = strlen(upper);
  return s.n == n && memcmp(s.p, upper, n) == 0;
}

static void request_head(struct wire_conn *c) {
  struct dir *d = &c->out;
  struct wire_head h;
  if (wire_http1_parse_head(d->head.ptr, d->head.len, 1, &h) != WIRE_HEAD_OK) {
    lost(c, h.error ? h.error : "not an HTTP/1.x request");
    return;
  }
  if (c->ring_tail - c->ring_head >= c->lim.max_pending) {
    lost(c, "too many pipelined requests");
    return;
  }
  int w = want(c, &h);
  if (w < 0) {
    stop(c, WIRE_IGNORED, "no longer watched");
    return;
  }
  struct wx *x = NULL;
  if (w > 0) {
    x = conn_wx_new(c, &h, d);
    if (x)
      x->pub.interest = w;
    else
      c->stats.dropped++;
  } else {
    c->stats.skipped++;
  }
  uint64_t idx = c->ring_tail++;
  struct slot *s = slot_at(c, idx);
  memset(s, 0, sizeof *s);
  s->x = x;
  s->is_head = span_is(h.method, "HEAD");
  s->is_connect = span_is(h.method, "CONNECT");
  d->idx = idx;
  d->slot = s;

  /* RFC 9112 §6.3: Transfer-Encoding wins over Content-Length; a request
   * without either has no body. */
  int mode = B_NONE;
  uint64_t len = 0;
  if (h.te_present) {
    if (h.te_error) {
      head_release(&d->head);
      lost_at(c, d, h.te_error);
      return;
    }
    mode = B_CHUNKED;
  } else if (h.cl_error) {
    head_release(&d->head);
    lost_at(c, d, h.cl_error);
    return;
  } else if (h.has_cl && h.content_length > 0) {
    mode = B_LENGTH;
    len = h.content_length;
  }
  if (x && mode != B_NONE)
    body_setup(c, x, 0, &h);
  head_release(&d->head); /* empty when x took it */
  body_begin(c, d, mode, len);
}

/* The slot d->idx is done with in both directions (upgrade, tunnel). */
static void settle(struct wire_conn *c, struct dir *d) {
  struct slot *s = d->slot;
  s->req_done = s->resp_done = 1;
  if (s->x)
    s->x->pub.t_end_ns = c->now;
  c->resp_next++;
  emit_ready(c);
}

static void response_head(struct wire_conn *c) {
  struct dir *d = &c->in;
  struct wire_head h;
  d->idx = c->resp_next;
  d->slot = slot_at(c, d->idx);
  if (wire_http1_parse_head(d->head.ptr, d->head.len, 0, &h) != WIRE_HEAD_OK) {
    lost_at(c, d, h.error ? h.error : "not an HTTP/1.x response");
    return;
  }
  struct slot *s = slot_at(c, d->idx);
  struct wx *x = s->x;
  int final = h.status >= 200 || h.status == 101;
  if (x) {
    /* The final block always fits: interim ones make room for it. */
    if (x->resp_heads.len + d->head.len > c->lim.max_head) {
      if (final)
        dynbuf_reset(&x->resp_heads);
    }
    if (x->resp_heads.len + d->head.len <= c->lim.max_head)
      dynbuf_add(&x->resp_heads, d->head.ptr, d->head.len);
    if (final) {
      x->pub.status = h.status;
      x->pub.t_first_byte_ns = d->t0;
      if (h.conn_close)
        x->pub.flags |= WIRE_X_CONN_CLOSE;
    }
  }
  if (h.status == 101) {
    char proto[64];
    snprintf(proto, sizeof proto, "%.*s",
             h.upgrade.n > 60 ? 60 : (int)h.upgrade.n,
             h.upgrade.p ? h.upgrade.p : "");
    if (x)
      x->pub.flags |= WIRE_X_UPGRADED;
    head_release(&d->head);
    settle(c, d);
    stop(c, WIRE_UPGRADED, proto[0] ? proto : "unknown protocol");
    return;
  }
  if (!final) { /* 100 Continue, 102, 103: the answer is still to come */
    head_release(&d->head);
    d->state = D_IDLE;
    return;
  }
  if (s->is_connect && h.status / 100 == 2) {
    if (x)
      x->pub.flags |= WIRE_X_TUNNEL;
    head_release(&d->head);
    settle(c, d);
    stop(c, WIRE_TUNNEL, "CONNECT tunnel");
    return;
  }
  /* RFC 9112 §6.3, in its order. */
  int mode;
  uint64_t len = 0;
  if (s->is_head || h.status == 204 || h.status == 304) {
    mode = B_NONE;
  } else if (h.te_present) {
    mode = h.te_chunked ? B_CHUNKED : B_CLOSE;
  } else if (h.cl_error) {
    head_release(&d->head);
    lost_at(c, d, h.cl_error);
    return;
  } else if (h.has_cl) {
    mode = h.content_length ? B_LENGTH : B_NONE;
    len = h.content_length;
  } else {
    mode = B_CLOSE;
  }
  if (x && mode != B_NONE)
    body_setup(c, x, 1, &h);
  head_release(&d->head);
  body_begin(c, d, mode, len);
}

/* Collect header bytes up to and including the empty line. Sets *done
 * when the block is complete; returns the bytes taken. */
static size_t head_collect(struct wire_conn *c, struct dir *d, const char *p,
                           size_t n, int *done) {
  size_t i = 0;
  while (i < n) {
    const char *nl = memchr(p + i, '\n', n - i);
    size_t take = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
    if (d->head.len + take > c->lim.max_head) {
      /* keep the first max_head bytes, however the block was split */
      dynbuf_add(&d->head, p + i, c->lim.max_head - d->head.len);
      if (d->is_req) {
        lost(c, "request headers too large");
        request_cut(c, "request", "headers too large");
      } else
        lost_at(c, d, "headers too large");
      return i;
    }
    if (d->nlines == 0 && d->head.len < PREFIX_LOOK) {
      /* Refuse what cannot be HTTP/1.x before keeping any of it. */
      char look[PREFIX_LOOK];
      size_t k = d->head.len,
             add = PREFIX_LOOK - k < take ? PREFIX_LOOK - k : take;
      if (k)
        memcpy(look, d->head.ptr, k);
      memcpy(look + k, p + i, add);
      if (wire_http1_prefix_ok(look, k + add, d->is_req) < 0) {
        if (d->is_req)
          lost(c, "not an HTTP/1.x request");
        else
          lost_at(c, d, "not an HTTP/1.x response");
        return i;
      }
    }
    if (dynbuf_add(&d->head, p + i, take) < 0) {
      lost(c, "out of memory");
      return i;
    }
    i += take;
    if (!nl)
      break;
    size_t llen = d->head.len - d->line_start;
    if (d->nlines == 0 && d->is_req && llen >= 15 &&
        memcmp(d->head.ptr, "PRI * HTTP/2.0", 14) == 0) {
      stop(c, WIRE_H2, "HTTP/2 connection preface");
      return i;
    }
    if (d->nlines > 0 &&
        (llen == 1 || (llen == 2 && d->head.ptr[d->head.len - 2] == '\r'))) {
      *done = 1;
      return i;
    }
    d->nlines++;
    d->line_start = d->head.len;
  }
  return i;
}

static void head_begin(struct wire_conn *c, struct dir *d) {
  d->state = D_HEAD;
  d->t0 = c->now;
  d->nlines = 0;
  d->line_start = 0;
  dynbuf_reset(&d->head);
}

static size_t step(struct wire_conn *c, struct dir *d, const char *p,
                   size_t n) {
  if (d->state == D_IDLE) {
    /* RFC 9112 §2.2: empty lines before a request line are ignored. */
    size_t i = 0;
    while (i < n && (p[i] == '\r' || p[i] == '\n'))
      i++;
    if (i == n)
      return i;
    if (!d->is_req && c->resp_next == c->ring_tail) {
      c->stats.unmatched++;
      lost(c, "response without a request (observation began "
              "mid-connection?)");
      return i;
    }
    if (!d->is_req) {
      d->idx = c->resp_next;
      d->slot = slot_at(c, d->idx);
    }
    head_begin(c, d);
    return i;
  }
  if (d->state == D_HEAD) {
    int done = 0;
    size_t used = head_collect(c, d, p, n, &done);
    if (done && c->state == WIRE_HTTP1) {
      d->state = D_IDLE;
      if (d->is_req)
        request_head(c);
      else
        response_head(c);
    }
    return used;
  }
  return body_step(c, d, p, n);
}

/* ---- API -------------------------------------------------------------- */

struct wire_conn *wire_conn_new(const struct wire_limits *limits,
                                wire_interest_fn interest, void *arg) {
  struct wire_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  if (limits)
    c->lim = *limits;
  if (!c->lim.max_head)
    c->lim.max_head = WIRE_DEFAULT_MAX_HEAD;
  if (!c->lim.max_body)
    c->lim.max_body = WIRE_DEFAULT_MAX_BODY;
  if (!c->lim.max_pending)
    c->lim.max_pending = WIRE_DEFAULT_MAX_PENDING;
  if (!c->lim.max_done)
    c->lim.max_done = WIRE_DEFAULT_MAX_DONE;
  c->ring = calloc(c->lim.max_pending, sizeof *c->ring);
  if (!c->ring) {
    free(c);
    return NULL;
  }
  c->interest = interest;
  c->arg = arg;
  c->out.is_req = 1;
  c->out.c = c->in.c = c;
  dynbuf_init(&c->out.head, c->lim.max_head);
  dynbuf_init(&c->in.head, c->lim.max_head);
  return c;
}

size_t wire_conn_feed(struct wire_conn *c, enum wire_dir dir, const void *p,
                      size_t n, int64_t t_ns) {
  if (!c || c->state != WIRE_HTTP1 || n == 0)
    return 0;
  c->now = t_ns;
  struct dir *d = dir == WIRE_OUT ? &c->out : &c->in;
  const char *b = p;
  size_t off = 0;
  int still = 0; /* turns in a row that took no byte (state changes) */
  while (off < n && c->state == WIRE_HTTP1 && still < 4) {
    size_t used = step(c, d, b + off, n - off);
    off += used;
    still = used ? 0 : still + 1;
  }
  return off;
}

/* The request being written was cut inside its header block: record what
 * is known of it when its request line is complete. */
static void request_cut(struct wire_conn *c, const char *where_,
                        const char *why) {
  struct dir *d = &c->out;
  struct wire_head h;
  if (d->state != D_HEAD || d->nlines == 0 ||
      wire_http1_parse_head(d->head.ptr, d->head.len, 1, &h) != WIRE_HEAD_OK)
    return;
  int w = want(c, &h);
  if (w <= 0) {
    c->stats.skipped += w == 0;
    return;
  }
  struct wx *x = conn_wx_new(c, &h, d);
  if (!x) {
    c->stats.dropped++;
    return;
  }
  x->pub.interest = w;
  wx_partial(x, "%s: %s", where_, why);
  finish_x(c, x);
}

void wire_conn_close(struct wire_conn *c, int64_t t_ns, const char *reason) {
  if (!c || c->state != WIRE_HTTP1)
    return;
  c->now = t_ns;
  const char *why = reason ? reason : "connection closed";
  struct dir *in = &c->in;
  if (in->state == D_BODY && in->mode == B_CLOSE) {
    /* RFC 9112 §6.3 item 8: the close ends the body. */
    struct slot *s = in->slot;
    if (reason)
      wx_partial(s->x, "response body cut: %s", reason);
    message_done(c, in);
  }
  int cut_head = c->out.state == D_HEAD && c->out.nlines > 0;
  flush(c, why);
  if (cut_head)
    request_cut(c, "request headers cut", why);
  c->state = WIRE_CLOSED;
  snprintf(c->reason, sizeof c->reason, "%s", why);
}

struct wire_exchange *wire_conn_next(struct wire_conn *c) {
  struct wx *x = c ? wx_queue_pop(&c->done) : NULL;
  return x ? &x->pub : NULL;
}

enum wire_state wire_conn_state(const struct wire_conn *c,
                                const char **reason) {
  if (reason)
    *reason = c->reason;
  return c->state;
}

const struct wire_stats *wire_conn_stats(const struct wire_conn *c) {
  return &c->stats;
}

void wire_conn_free(struct wire_conn *c) {
  if (!c)
    return;
  for (uint64_t k = c->ring_head; k < c->ring_tail; k++)
    if (slot_at(c, k)->x)
      wire_exchange_free(&slot_at(c, k)->x->pub);
  wx_queue_free(&c->done);
  dynbuf_free(&c->out.head);
  dynbuf_free(&c->in.head);
  free(c->ring);
  free(c);
}
