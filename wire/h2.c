/* h2: the HTTP/2 connection decoder; see h2.h.
 *
 * Each direction is a frame reader: PREFACE (OUT only: the 24 bytes of
 * the client preface, compared as they come) → HEADER (9 bytes) →
 * PAYLOAD → HEADER ... A payload is read as it arrives, never buffered
 * whole: its prefix (pad length, priority, promised stream) is collected,
 * then its content goes where it belongs — DATA to the stream's body
 * (decoded and marked as it comes), header block fragments to the
 * direction's HPACK inflater (fields are rendered as they are emitted),
 * control frames into an 8-byte buffer — and the padding is skipped. So
 * a frame cut anywhere across feeds gives what it gives in one feed.
 *
 * Streams are tracked in a table of max_pending slots from their request
 * HEADERS until both sides have ended (END_STREAM) or the stream was
 * reset; then the exchange is published, in the order exchanges finish.
 * A stream passed over by the predicate, dropped for lack of room, or
 * malformed is not tracked: frames for a stream id at or below the
 * highest the client opened and not in the table are skipped, while a
 * response on an id the client never opened means we missed something,
 * and the connection is lost rather than guessed at.
 *
 * SETTINGS are followed the way an endpoint applies them: a peer's
 * SETTINGS_MAX_FRAME_SIZE raises the limit of the frames sent to it at
 * once (we never lower it: frames in flight may be larger), and its
 * SETTINGS_HEADER_TABLE_SIZE changes its own decoder when the other side's
 * ACK arrives (RFC 9113 §6.5.3; libnghttp2 does the same), which on the
 * wire is exactly where the encoder may start relying on it. */
#include "h2.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "wire/exch.h"
#include "wire/hpack.h"

/* Frame types (RFC 9113 §6) and flags. */
enum {
  F_DATA = 0,
  F_HEADERS = 1,
  F_PRIORITY = 2,
  F_RST_STREAM = 3,
  F_SETTINGS = 4,
  F_PUSH_PROMISE = 5,
  F_PING = 6,
  F_GOAWAY = 7,
  F_WINDOW_UPDATE = 8,
  F_CONTINUATION = 9
};
#define FL_END_STREAM 0x1
#define FL_ACK 0x1
#define FL_END_HEADERS 0x4
#define FL_PADDED 0x8
#define FL_PRIORITY 0x20

#define SET_HEADER_TABLE_SIZE 1
#define SET_MAX_FRAME_SIZE 5
#define MAX_FRAME_DEFAULT 16384u
#define MAX_FRAME_MAX 16777215u

#define FRAME_HEADER 9
/* SETTINGS frames of one side not yet acknowledged by the other: real
 * peers have one or two; more than this is not followed. */
#define PENDING_SETTINGS 8
/* A header buffer that grew past this is freed after the block. */
#define HEAD_KEEP 16384
/* The HPACK inflater of each direction may hold this much. Its dynamic
 * table is at most the decoding side's SETTINGS_HEADER_TABLE_SIZE (4 KiB
 * by default; clients often say 64 KiB), and libnghttp2 spends up to 6.3
 * bytes per table byte when the entries are tiny (measured: 26 KiB for a
 * full 4 KiB table, 400 KiB for 64 KiB), so any table up to max_head
 * always fits. */
#define HPACK_MEM_MIN ((size_t)32 * 1024)
#define HPACK_MEM(max_head)                                                    \
  (7 * (max_head) > HPACK_MEM_MIN ? 7 * (max_head) : HPACK_MEM_MIN)

enum { S_PREFACE, S_HEADER, S_PAYLOAD };
/* What a header block is, known when its HEADERS frame starts. */
enum {
  HB_DISCARD, /* only decoded (trailers, pushes, streams not tracked) */
  HB_REQUEST, /* a new stream's request */
  HB_RESPONSE /* a tracked stream's response (interim or final) */
};

struct stream {
  uint32_t id; /* 0: free slot */
  struct wx *x;
  unsigned char done[2]; /* END_STREAM seen: [0] request, [1] response */
  unsigned char final_seen, is_head;
  uint64_t data[2]; /* DATA payload bytes of each side */
  int64_t cl[2];    /* content-length of each side, -1 when none */
};

/* A value kept in hblock.meta. */
struct field_ref {
  size_t off, len;
  int set;
};

/* The header block being decoded in one direction. */
struct hblock {
  int kind;
  uint32_t sid;
  int end_stream;       /* the HEADERS frame had END_STREAM */
  int64_t t0;           /* arrival of its HEADERS frame */
  struct dynbuf fields; /* regular fields, "name: value\r\n" */
  struct dynbuf meta;   /* values of pseudo-fields and host */
  struct field_ref method, path, authority, host;
  int status;       /* :status; -1 none or invalid */
  int regular_seen; /* pseudo-fields after this are malformed */
  const char *bad;  /* the first malformation seen */
  int over;         /* the fields did not fit in max_head */
  char ce[128];     /* content-encoding values, ", "-joined */
  size_t ce_len;
  int ce_over;
  int64_t cl; /* content-length; -1 none, -2 invalid */
};

/* HEADER_TABLE_SIZE of one SETTINGS frame: libnghttp2 applies the
 * smallest value, then the last. */
struct settings_sent {
  int has_hts;
  uint32_t hts_min, hts_last;
};

struct h2dir {
  struct wire_h2 *c;
  int is_out;
  int st; /* S_* */
  size_t got;
  unsigned char hdr[FRAME_HEADER];
  /* the frame being read */
  uint32_t len, sid, off, pre_len, body_end;
  uint8_t type, flags;
  unsigned char pre[6];
  unsigned char ctl[8];
  size_t nctl;
  int64_t t0;
  struct stream *s; /* the frame's stream, checked against sid on use */
  /* the direction */
  int settings_seen;  /* its first frame, a SETTINGS, has come */
  uint32_t max_frame; /* the receiver's SETTINGS_MAX_FRAME_SIZE */
  uint32_t cont_sid;  /* a header block of this stream awaits CONTINUATION */
  struct wire_hpack *hpack; /* decodes the blocks sent this way */
  struct hblock hb;
  struct settings_sent pend[PENDING_SETTINGS]; /* sent, not yet acked */
  unsigned npend, pend_head;
  struct settings_sent cur; /* the SETTINGS frame being read */
};

struct wire_h2 {
  struct wire_limits lim;
  wire_interest_fn interest;
  void *arg;
  enum wire_state state;
  char reason[128];
  int64_t now;
  struct h2dir out, in;
  struct stream *streams; /* lim.max_pending slots */
  size_t nstreams;        /* slots in use */
  uint32_t last_sid;      /* highest stream id the client opened */
  struct wx_queue done;
  struct wire_h2_stats stats;
};

static const char *error_name(uint32_t code, char *buf, size_t cap) {
  static const char *const names[] = {"NO_ERROR",
                                      "PROTOCOL_ERROR",
                                      "INTERNAL_ERROR",
                                      "FLOW_CONTROL_ERROR",
                                      "SETTINGS_TIMEOUT",
                                      "STREAM_CLOSED",
                                      "FRAME_SIZE_ERROR",
                                      "REFUSED_STREAM",
                                      "CANCEL",
                                      "COMPRESSION_ERROR",
                                      "CONNECT_ERROR",
                                      "ENHANCE_YOUR_CALM",
                                      "INADEQUATE_SECURITY",
                                      "HTTP_1_1_REQUIRED"};
  if (code < sizeof names / sizeof names[0])
    return names[code];
  snprintf(buf, cap, "error 0x%x", code);
  return buf;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static const char *side(const struct h2dir *d) {
  return d->is_out ? "client" : "server";
}

static struct h2dir *other(struct wire_h2 *c, struct h2dir *d) {
  return d == &c->out ? &c->in : &c->out;
}

/* ---- streams ---------------------------------------------------------- */

static struct stream *find(struct wire_h2 *c, uint32_t sid) {
  if (!c->nstreams)
    return NULL;
  for (size_t i = 0; i < c->lim.max_pending; i++)
    if (c->streams[i].id == sid)
      return &c->streams[i];
  return NULL;
}

/* The stream of the frame being read, if it is tracked. */
static struct stream *frame_stream(struct h2dir *d) {
  if (d->s && d->s->id != d->sid)
    d->s = NULL;
  return d->s;
}

static struct stream *slot_new(struct wire_h2 *c) {
  if (c->nstreams >= c->lim.max_pending)
    return NULL;
  for (size_t i = 0; i < c->lim.max_pending; i++)
    if (c->streams[i].id == 0)
      return &c->streams[i];
  return NULL;
}

/* The stream is done with: publish and queue its exchange. */
static void finish(struct wire_h2 *c, struct stream *s) {
  struct wx *x = s->x;
  memset(s, 0, sizeof *s);
  c->nstreams--;
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

/* One side of the stream sent END_STREAM (k: 0 request, 1 response). */
static void side_done(struct wire_h2 *c, struct stream *s, int k) {
  if (s->done[k])
    return;
  s->done[k] = 1;
  struct wx *x = s->x;
  wx_body_end(x, k);
  int no_body =
      k == 1 && (s->is_head || x->pub.status == 204 || x->pub.status == 304);
  if (s->cl[k] >= 0 && (uint64_t)s->cl[k] != s->data[k] && !no_body)
    wx_partial(x, "%s: content-length %lld but %llu bytes of DATA",
               k ? "response" : "request", (long long)s->cl[k],
               (unsigned long long)s->data[k]);
  x->pub.t_end_ns = c->now;
  if (s->done[0] && s->done[1])
    finish(c, s);
}

/* Where an unfinished exchange stood. */
static const char *where(const struct stream *s) {
  if (!s->done[0])
    return "request body cut";
  if (s->final_seen)
    return "response body cut";
  return s->x->resp_heads.len ? "no final response" : "no response";
}

/* Everything in flight comes out now, partial. */
static void flush(struct wire_h2 *c, const char *why) {
  for (size_t i = 0; c->nstreams && i < c->lim.max_pending; i++) {
    struct stream *s = &c->streams[i];
    if (s->id) {
      wx_partial(s->x, "%s: %s", where(s), why);
      finish(c, s);
    }
  }
}

static void stop(struct wire_h2 *c, enum wire_state st, const char *why) {
  if (c->state != WIRE_H2)
    return;
  c->state = st;
  snprintf(c->reason, sizeof c->reason, "%s", why);
  flush(c, why);
}

static void lost(struct wire_h2 *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void lost(struct wire_h2 *c, const char *fmt, ...) {
  char why[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  stop(c, WIRE_LOST, why);
}

/* ---- header blocks ---------------------------------------------------- */

static void hb_begin(struct h2dir *d, int kind) {
  struct hblock *hb = &d->hb;
  hb->kind = kind;
  hb->sid = d->sid;
  hb->end_stream = d->type == F_HEADERS && (d->flags & FL_END_STREAM);
  hb->t0 = d->t0;
  dynbuf_reset(&hb->fields);
  dynbuf_reset(&hb->meta);
  memset(&hb->method, 0, sizeof hb->method);
  hb->path = hb->authority = hb->host = hb->method;
  hb->status = -1;
  hb->regular_seen = 0;
  hb->bad = NULL;
  hb->over = 0;
  hb->ce_len = 0;
  hb->ce_over = 0;
  hb->cl = -1;
}

static void buf_release(struct dynbuf *b) {
  if (b->cap > HEAD_KEEP)
    dynbuf_free(b);
  else
    dynbuf_reset(b);
}

static int name_is(const char *n, size_t nl, const char *lit) {
  size_t k = strlen(lit);
  return nl == k && memcmp(n, lit, k) == 0;
}

/* RFC 9113 §8.2.1: lowercase, no controls, no space, nothing above
 * 0x7e; and no colon, so the rendered line splits right. */
static int name_ok(const char *n, size_t nl) {
  if (!nl)
    return 0;
  for (size_t i = 0; i < nl; i++) {
    unsigned char ch = (unsigned char)n[i];
    if (ch <= 0x20 || ch >= 0x7f || (ch >= 'A' && ch <= 'Z') || ch == ':')
      return 0;
  }
  return 1;
}

/* No NUL, CR or LF: a value must stay on its rendered line. */
static int value_ok(const char *v, size_t vl) {
  for (size_t i = 0; i < vl; i++)
    if (v[i] == '\0' || v[i] == '\r' || v[i] == '\n')
      return 0;
  return 1;
}

static void keep(struct hblock *hb, struct field_ref *r, const char *v,
                 size_t vl, size_t max) {
  if (r->set) {
    if (!hb->bad)
      hb->bad = "pseudo-header field repeated";
    return;
  }
  if (hb->meta.len + vl > max) {
    hb->over = 1;
    return;
  }
  /* No NUL, CR, LF, and for what goes into the request line no space */
  if (!value_ok(v, vl) || (r != &hb->host && memchr(v, ' ', vl))) {
    if (!hb->bad)
      hb->bad = "malformed pseudo-header field";
    return;
  }
  r->off = hb->meta.len;
  r->len = vl;
  r->set = 1;
  if (dynbuf_add(&hb->meta, v, vl) != 0)
    r->set = 0;
}

static void pseudo(struct h2dir *d, const char *n, size_t nl, const char *v,
                   size_t vl) {
  struct hblock *hb = &d->hb;
  size_t max = d->c->lim.max_head;
  if (hb->regular_seen && !hb->bad)
    hb->bad = "pseudo-header field after a regular one";
  if (hb->kind == HB_REQUEST) {
    if (name_is(n, nl, ":method"))
      keep(hb, &hb->method, v, vl, max);
    else if (name_is(n, nl, ":path"))
      keep(hb, &hb->path, v, vl, max);
    else if (name_is(n, nl, ":authority"))
      keep(hb, &hb->authority, v, vl, max);
    else if (!name_is(n, nl, ":scheme") && !name_is(n, nl, ":protocol") &&
             !hb->bad)
      hb->bad = "unknown pseudo-header field";
    return;
  }
  if (!name_is(n, nl, ":status")) {
    if (!hb->bad)
      hb->bad = "unknown pseudo-header field";
    return;
  }
  int ok = vl == 3 && hb->status < 0;
  for (size_t i = 0; ok && i < 3; i++)
    ok = v[i] >= '0' && v[i] <= '9';
  if (ok && v[0] >= '1')
    hb->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
  else if (!hb->bad)
    hb->bad = "invalid :status";
}

static void content_length(struct hblock *hb, const char *v, size_t vl) {
  int64_t x = 0;
  if (!vl || vl > 18) {
    hb->cl = -2;
    return;
  }
  for (size_t i = 0; i < vl; i++) {
    if (v[i] < '0' || v[i] > '9') {
      hb->cl = -2;
      return;
    }
    x = x * 10 + (v[i] - '0');
  }
  if (hb->cl == -1 || hb->cl == x)
    hb->cl = x;
  else
    hb->cl = -2; /* two values that differ */
}

static void on_field(void *arg, const char *n, size_t nl, const char *v,
                     size_t vl) {
  struct h2dir *d = arg;
  struct hblock *hb = &d->hb;
  if (hb->kind == HB_DISCARD)
    return;
  if (nl && n[0] == ':') {
    pseudo(d, n, nl, v, vl);
    return;
  }
  hb->regular_seen = 1;
  /* Only what is kept is looked at: a block that refers again and again to
   * a large table entry costs no more than max_head of scanning. */
  size_t max = d->c->lim.max_head;
  int render = !hb->over && hb->fields.len + nl + vl + 4 <= max;
  int ce = name_is(n, nl, "content-encoding");
  int cl = name_is(n, nl, "content-length");
  int host = hb->kind == HB_REQUEST && !hb->host.set && name_is(n, nl, "host");
  if (!render)
    hb->over = 1;
  if (ce && hb->ce_len + vl + 2 >= sizeof hb->ce) {
    hb->ce_over = 1;
    ce = 0;
  }
  if (host && hb->meta.len + vl > max) {
    hb->over = 1;
    host = 0;
  }
  if (!render && !ce && !cl && !host)
    return;
  if (!name_ok(n, nl) || !value_ok(v, vl)) {
    if (!hb->bad)
      hb->bad = "malformed header field";
    return;
  }
  if (ce) {
    if (hb->ce_len)
      hb->ce[hb->ce_len++] = ',';
    memcpy(hb->ce + hb->ce_len, v, vl);
    hb->ce_len += vl;
  } else if (cl) {
    content_length(hb, v, vl);
  } else if (host) {
    keep(hb, &hb->host, v, vl, max);
  }
  if (!render)
    return;
  dynbuf_add(&hb->fields, n, nl);
  dynbuf_add(&hb->fields, ": ", 2);
  dynbuf_add(&hb->fields, v, vl);
  dynbuf_add(&hb->fields, "\r\n", 2);
}

/* The content-encoding list, as spans of hb->ce (parameters dropped). */
static int codings(struct hblock *hb, struct wire_span *out, int cap,
                   int *over) {
  int n = 0;
  *over = hb->ce_over;
  const char *p = hb->ce, *end = hb->ce + hb->ce_len;
  while (p < end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *e = comma ? comma : end;
    const char *semi = memchr(p, ';', (size_t)(e - p));
    const char *s = p, *t = semi ? semi : e;
    while (s < t && (*s == ' ' || *s == '\t'))
      s++;
    while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
      t--;
    if (t > s) {
      if (n == cap)
        *over = 1;
      else
        out[n++] = (struct wire_span){s, (size_t)(t - s)};
    }
    p = comma ? comma + 1 : end;
  }
  return n;
}

static void body_codings(struct wire_h2 *c, struct wx *x, int is_resp,
                         struct hblock *hb) {
  struct wire_span sp[WIRE_MAX_CODINGS * 2];
  int over;
  int n = codings(hb, sp, (int)(sizeof sp / sizeof sp[0]), &over);
  wx_body_codings(x, is_resp, sp, n, over, c->lim.max_body);
}

static struct wire_span ref(const struct hblock *hb,
                            const struct field_ref *r) {
  struct wire_span s = {"", 0};
  if (r->set && hb->meta.ptr) {
    s.p = hb->meta.ptr + r->off;
    s.n = r->len;
  }
  return s;
}

/* A request header block is complete: ask the predicate, open the
 * stream. */
static void request_block(struct wire_h2 *c, struct h2dir *d) {
  struct hblock *hb = &d->hb;
  struct wire_span method = ref(hb, &hb->method);
  int connect = method.n == 7 && !memcmp(method.p, "CONNECT", 7);
  struct wire_span target =
      ref(hb, connect && !hb->path.set ? &hb->authority : &hb->path);
  struct wire_span host =
      ref(hb, hb->authority.set ? &hb->authority : &hb->host);
  if (!method.n || !target.n) {
    c->stats.malformed++;
    return;
  }
  int w = 1;
  if (c->interest) {
    struct wire_request rq = {method.p, method.n, target.p,
                              target.n, host.p,   host.n};
    w = c->interest(c->arg, &rq);
  }
  if (w < 0) {
    stop(c, WIRE_IGNORED, "no longer watched");
    return;
  }
  if (w == 0) {
    c->stats.skipped++;
    return;
  }
  struct stream *s = slot_new(c);
  struct wx *x = s ? wx_new(method, target, host, &c->lim, hb->t0) : NULL;
  if (!x) {
    c->stats.dropped++;
    return;
  }
  x->pub.interest = w;
  x->pub.flags |= WIRE_X_H2;
  /* req_head: a request line, then the fields, as HTTP/1.1 would. */
  size_t line = method.n + target.n + 10;
  if (line + hb->fields.len + 2 <= c->lim.max_head) {
    dynbuf_add(&x->req_head, method.p, method.n);
    dynbuf_add(&x->req_head, " ", 1);
    dynbuf_add(&x->req_head, target.p, target.n);
    dynbuf_add(&x->req_head, " HTTP/2\r\n", 9);
    x->fields_off = x->req_head.len;
    x->fields_len = hb->fields.len;
    dynbuf_add(&x->req_head, hb->fields.ptr ? hb->fields.ptr : "",
               hb->fields.len);
    dynbuf_add(&x->req_head, "\r\n", 2);
  } else {
    hb->over = 1;
  }
  if (hb->over)
    wx_partial(x, "request: headers too large");
  if (hb->bad)
    wx_partial(x, "request: %s", hb->bad);
  if (hb->cl == -2)
    wx_partial(x, "request: invalid content-length");
  body_codings(c, x, 0, hb);
  s->id = hb->sid;
  s->x = x;
  s->cl[0] = hb->cl >= 0 ? hb->cl : -1;
  s->cl[1] = -1;
  s->is_head = method.n == 4 && !memcmp(method.p, "HEAD", 4);
  c->nstreams++;
  if (hb->end_stream)
    side_done(c, s, 0);
}

/* A response header block (interim or final) of a tracked stream. */
static void response_block(struct wire_h2 *c, struct stream *s) {
  struct hblock *hb = &c->in.hb;
  struct wx *x = s->x;
  int status = hb->status;
  if (status < 0) {
    wx_partial(x, "response: %s", hb->bad ? hb->bad : "no :status");
    status = 0;
  }
  int final = status >= 200 || status == 0;
  char line[24];
  int ln = snprintf(line, sizeof line, "HTTP/2 %d\r\n", status);
  size_t need = (size_t)ln + hb->fields.len + 2;
  /* The final block always fits: interim ones make room for it. */
  if (final && x->resp_heads.len + need > c->lim.max_head)
    dynbuf_reset(&x->resp_heads);
  if (x->resp_heads.len + need <= c->lim.max_head) {
    dynbuf_add(&x->resp_heads, line, (size_t)ln);
    dynbuf_add(&x->resp_heads, hb->fields.ptr ? hb->fields.ptr : "",
               hb->fields.len);
    dynbuf_add(&x->resp_heads, "\r\n", 2);
  }
  if (hb->over)
    wx_partial(x, "response: headers too large");
  if (hb->bad)
    wx_partial(x, "response: %s", hb->bad);
  if (final) {
    s->final_seen = 1;
    x->pub.status = status;
    x->pub.t_first_byte_ns = hb->t0;
    if (hb->cl == -2)
      wx_partial(x, "response: invalid content-length");
    s->cl[1] = hb->cl >= 0 ? hb->cl : -1;
    body_codings(c, x, 1, hb);
  }
}

/* Decode header block bytes; final ends the block. */
static int block_bytes(struct wire_h2 *c, struct h2dir *d, const char *p,
                       size_t n, int final) {
  const char *err;
  if (wire_hpack_decode(d->hpack, p, n, final, on_field, d, &err) < 0) {
    lost(c, "%s %s", side(d), err);
    return -1;
  }
  return 0;
}

static void block_end(struct wire_h2 *c, struct h2dir *d) {
  struct hblock *hb = &d->hb;
  d->cont_sid = 0;
  if (block_bytes(c, d, "", 0, 1) < 0)
    return;
  if (hb->kind == HB_REQUEST) {
    request_block(c, d);
  } else {
    struct stream *s = hb->sid & 1 ? find(c, hb->sid) : NULL;
    if (s && hb->kind == HB_RESPONSE)
      response_block(c, s);
    if (s && hb->end_stream)
      side_done(c, s, !d->is_out);
  }
  buf_release(&hb->fields);
  buf_release(&hb->meta);
}

/* A HEADERS frame starts a block: what is it? */
static void headers_begin(struct wire_h2 *c, struct h2dir *d) {
  uint32_t sid = d->sid;
  if (d->is_out) {
    if (!(sid & 1)) {
      lost(c, "client HEADERS on stream %u, an even one", sid);
      return;
    }
    if (sid > c->last_sid) {
      c->last_sid = sid;
      hb_begin(d, HB_REQUEST);
      return;
    }
    hb_begin(d, HB_DISCARD); /* trailers, or a stream not tracked */
    return;
  }
  if (!(sid & 1)) {
    hb_begin(d, HB_DISCARD); /* a pushed response */
    return;
  }
  if (sid > c->last_sid) {
    c->stats.unmatched++;
    lost(c,
         "response on stream %u, never opened (observation began "
         "mid-connection?)",
         sid);
    return;
  }
  struct stream *s = find(c, sid);
  hb_begin(d, s && !s->final_seen && !s->done[1] ? HB_RESPONSE : HB_DISCARD);
}

/* ---- control frames ---------------------------------------------------- */

static void setting(struct wire_h2 *c, struct h2dir *d, unsigned id,
                    uint32_t v) {
  if (id == SET_HEADER_TABLE_SIZE) {
    if (!d->cur.has_hts || v < d->cur.hts_min)
      d->cur.hts_min = v;
    d->cur.has_hts = 1;
    d->cur.hts_last = v;
  } else if (id == SET_MAX_FRAME_SIZE) {
    if (v < MAX_FRAME_DEFAULT || v > MAX_FRAME_MAX) {
      lost(c, "%s SETTINGS_MAX_FRAME_SIZE %u out of range", side(d), v);
      return;
    }
    /* The limit of what is sent to this side. */
    struct h2dir *o = other(c, d);
    if (v > o->max_frame)
      o->max_frame = v;
  }
}

static void settings_end(struct wire_h2 *c, struct h2dir *d) {
  if (d->flags & FL_ACK) {
    /* d acknowledges the other side's oldest SETTINGS. Its
     * HEADER_TABLE_SIZE bounds the other side's decoder, which reads the
     * blocks d encodes; that side applies it on reading this ACK, so it
     * holds for every block d sends after it. */
    struct h2dir *o = other(c, d);
    if (!o->npend)
      return; /* an ACK for nothing: nothing to apply */
    struct settings_sent st = o->pend[o->pend_head];
    o->pend_head = (o->pend_head + 1) % PENDING_SETTINGS;
    o->npend--;
    if (!st.has_hts)
      return;
    const char *err;
    if ((st.hts_min < st.hts_last &&
         wire_hpack_table_size(d->hpack, st.hts_min, &err) < 0) ||
        wire_hpack_table_size(d->hpack, st.hts_last, &err) < 0)
      lost(c, "%s %s", side(d), err);
    return;
  }
  if (d->npend == PENDING_SETTINGS) {
    lost(c, "%s sent more than %d SETTINGS not acknowledged", side(d),
         PENDING_SETTINGS);
    return;
  }
  d->pend[(d->pend_head + d->npend) % PENDING_SETTINGS] = d->cur;
  d->npend++;
}

static void rst_stream(struct wire_h2 *c, struct h2dir *d) {
  struct stream *s = find(c, d->sid);
  if (!s)
    return;
  if (s->done[1]) {
    /* The answer is whole: a reset now only stops the request (a server
     * that answered early, RFC 9113 §8.1), or is the client's goodbye. */
    finish(c, s);
    return;
  }
  char buf[24];
  wx_partial(s->x, "stream reset by %s: %s", side(d),
             error_name(be32(d->ctl), buf, sizeof buf));
  c->stats.reset++;
  finish(c, s);
}

static void goaway(struct wire_h2 *c, struct h2dir *d) {
  if (d->is_out)
    return; /* the client's GOAWAY only concerns pushed streams */
  uint32_t last = be32(d->ctl) & 0x7fffffffu;
  char buf[24];
  const char *code = error_name(be32(d->ctl + 4), buf, sizeof buf);
  for (size_t i = 0; c->nstreams && i < c->lim.max_pending; i++) {
    struct stream *s = &c->streams[i];
    if (s->id > last) {
      wx_partial(s->x, "not processed: server sent GOAWAY (%s)", code);
      finish(c, s);
    }
  }
}

/* ---- frames ------------------------------------------------------------ */

static void frame_begin(struct wire_h2 *c, struct h2dir *d) {
  const unsigned char *h = d->hdr;
  d->len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
  d->type = h[3];
  d->flags = h[4];
  d->sid = be32(h + 5) & 0x7fffffffu;
  d->off = d->pre_len = 0;
  d->body_end = d->len;
  d->nctl = 0;
  d->s = NULL;
  c->stats.frames++;
  uint32_t sid = d->sid, len = d->len;
  if (len > d->max_frame) {
    lost(c, "%s frame of %u bytes over SETTINGS_MAX_FRAME_SIZE %u", side(d),
         len, d->max_frame);
    return;
  }
  if (!d->settings_seen) {
    if (d->type != F_SETTINGS || (d->flags & FL_ACK)) {
      c->stats.undecodable = 1;
      lost(c,
           "%s did not start with SETTINGS (observation began "
           "mid-connection?)",
           side(d));
      return;
    }
    d->settings_seen = 1;
  }
  if (d->cont_sid && (d->type != F_CONTINUATION || sid != d->cont_sid)) {
    lost(c, "%s header block of stream %u interrupted", side(d), d->cont_sid);
    return;
  }
  int padded = (d->flags & FL_PADDED) != 0;
  switch (d->type) {
  case F_DATA:
    if (!sid || (d->is_out && !(sid & 1))) {
      lost(c, "%s DATA on stream %u", side(d), sid);
      return;
    }
    if ((sid & 1) && sid > c->last_sid) {
      if (!d->is_out)
        c->stats.unmatched++;
      lost(c, "%s DATA on stream %u, never opened", side(d), sid);
      return;
    }
    d->pre_len = padded;
    d->s = find(c, sid); /* none for a pushed (even) stream */
    break;
  case F_HEADERS:
    if (!sid) {
      lost(c, "%s HEADERS on stream 0", side(d));
      return;
    }
    d->pre_len = padded + ((d->flags & FL_PRIORITY) ? 5 : 0);
    headers_begin(c, d);
    break;
  case F_PUSH_PROMISE:
    if (d->is_out || !sid) {
      lost(c, "PUSH_PROMISE from the %s on stream %u", side(d), sid);
      return;
    }
    d->pre_len = padded + 4;
    c->stats.pushed++;
    hb_begin(d, HB_DISCARD);
    break;
  case F_CONTINUATION:
    if (!d->cont_sid) {
      lost(c, "%s CONTINUATION without a header block", side(d));
      return;
    }
    break;
  case F_SETTINGS:
    if (sid || ((d->flags & FL_ACK) ? len != 0 : len % 6 != 0)) {
      lost(c, "%s SETTINGS frame malformed", side(d));
      return;
    }
    memset(&d->cur, 0, sizeof d->cur);
    break;
  case F_PING:
    if (sid || len != 8) {
      lost(c, "%s PING frame malformed", side(d));
      return;
    }
    break;
  case F_GOAWAY:
    if (sid || len < 8) {
      lost(c, "%s GOAWAY frame malformed", side(d));
      return;
    }
    break;
  case F_RST_STREAM:
    if (!sid || len != 4) {
      lost(c, "%s RST_STREAM frame malformed", side(d));
      return;
    }
    break;
  case F_WINDOW_UPDATE:
    if (len != 4) {
      lost(c, "%s WINDOW_UPDATE frame malformed", side(d));
      return;
    }
    break;
  default: /* PRIORITY and unknown types: nothing we need */
    break;
  }
  if (len < d->pre_len)
    lost(c, "%s frame too short for its padding or priority fields", side(d));
}

/* The pad length, priority or promised stream fields have been read. */
static void prefix_done(struct wire_h2 *c, struct h2dir *d) {
  uint32_t pad = (d->flags & FL_PADDED) ? d->pre[0] : 0;
  if (d->pre_len + pad > d->len) {
    lost(c, "%s padding longer than its frame", side(d));
    return;
  }
  d->body_end = d->len - pad;
}

/* Content bytes of the frame (what is between prefix and padding). */
static void content(struct wire_h2 *c, struct h2dir *d, const char *p,
                    size_t n) {
  switch (d->type) {
  case F_DATA: {
    struct stream *s = frame_stream(d);
    int k = !d->is_out;
    if (!s || s->done[k])
      return;
    s->data[k] += n;
    if (k && !s->final_seen) {
      wx_partial(s->x, "response: DATA before the response headers");
      return;
    }
    wx_body_data(s->x, k, p, n, c->now);
    return;
  }
  case F_HEADERS:
  case F_CONTINUATION:
  case F_PUSH_PROMISE:
    block_bytes(c, d, p, n, 0);
    return;
  case F_SETTINGS:
    for (size_t i = 0; i < n && c->state == WIRE_H2; i++) {
      d->ctl[d->nctl++] = (unsigned char)p[i];
      if (d->nctl == 6) {
        setting(c, d, (unsigned)d->ctl[0] << 8 | d->ctl[1], be32(d->ctl + 2));
        d->nctl = 0;
      }
    }
    return;
  default: /* control frames: their first 8 bytes */
    while (n && d->nctl < sizeof d->ctl) {
      d->ctl[d->nctl++] = (unsigned char)*p++;
      n--;
    }
    return;
  }
}

static void frame_end(struct wire_h2 *c, struct h2dir *d) {
  switch (d->type) {
  case F_DATA:
    if (d->flags & FL_END_STREAM) {
      struct stream *s = frame_stream(d);
      if (s)
        side_done(c, s, !d->is_out);
    }
    break;
  case F_HEADERS:
  case F_PUSH_PROMISE:
  case F_CONTINUATION:
    if (d->flags & FL_END_HEADERS)
      block_end(c, d);
    else
      d->cont_sid = d->sid;
    break;
  case F_SETTINGS:
    settings_end(c, d);
    break;
  case F_RST_STREAM:
    rst_stream(c, d);
    break;
  case F_GOAWAY:
    goaway(c, d);
    break;
  }
  d->st = S_HEADER;
  d->got = 0;
}

/* Payload bytes [d->off, d->off + n) of the frame. */
static void payload(struct wire_h2 *c, struct h2dir *d, const char *p,
                    size_t n) {
  size_t i = 0;
  while (i < n && c->state == WIRE_H2) {
    size_t t;
    if (d->off < d->pre_len) {
      t = d->pre_len - d->off;
      if (t > n - i)
        t = n - i;
      memcpy(d->pre + d->off, p + i, t);
      d->off += (uint32_t)t;
      if (d->off == d->pre_len)
        prefix_done(c, d);
    } else if (d->off < d->body_end) {
      t = d->body_end - d->off;
      if (t > n - i)
        t = n - i;
      content(c, d, p + i, t);
      d->off += (uint32_t)t;
    } else {
      t = n - i; /* padding */
      d->off += (uint32_t)t;
    }
    i += t;
  }
}

static size_t step(struct wire_h2 *c, struct h2dir *d, const char *p,
                   size_t n) {
  if (d->st == S_PREFACE) {
    size_t k = WIRE_H2_PREFACE_LEN - d->got;
    if (k > n)
      k = n;
    if (memcmp(p, &WIRE_H2_PREFACE[d->got], k) != 0) {
      c->stats.undecodable = 1;
      lost(c, "no HTTP/2 client preface (observation began "
              "mid-connection?)");
      return 0;
    }
    d->got += k;
    if (d->got == WIRE_H2_PREFACE_LEN) {
      d->st = S_HEADER;
      d->got = 0;
    }
    return k;
  }
  if (d->st == S_HEADER) {
    if (d->got == 0)
      d->t0 = c->now;
    size_t k = FRAME_HEADER - d->got;
    if (k > n)
      k = n;
    memcpy(d->hdr + d->got, p, k);
    d->got += k;
    if (d->got == FRAME_HEADER) {
      frame_begin(c, d);
      if (c->state != WIRE_H2)
        return k;
      if (d->len == 0)
        frame_end(c, d);
      else
        d->st = S_PAYLOAD;
    }
    return k;
  }
  size_t k = d->len - d->off;
  if (k > n)
    k = n;
  payload(c, d, p, k);
  if (c->state == WIRE_H2 && d->off == d->len)
    frame_end(c, d);
  return k;
}

/* ---- API ---------------------------------------------------------------- */

static int dir_init(struct wire_h2 *c, struct h2dir *d, int is_out) {
  d->c = c;
  d->is_out = is_out;
  d->st = is_out ? S_PREFACE : S_HEADER;
  d->max_frame = MAX_FRAME_DEFAULT;
  dynbuf_init(&d->hb.fields, c->lim.max_head);
  dynbuf_init(&d->hb.meta, c->lim.max_head);
  d->hpack = wire_hpack_new(HPACK_MEM(c->lim.max_head));
  return d->hpack ? 0 : -1;
}

struct wire_h2 *wire_h2_new(const struct wire_limits *limits,
                            wire_interest_fn interest, void *arg) {
  struct wire_h2 *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  if (limits)
    c->lim = *limits;
  if (!c->lim.max_head)
    c->lim.max_head = WIRE_DEFAULT_MAX_HEAD;
  if (!c->lim.max_body)
    c->lim.max_body = WIRE_DEFAULT_MAX_BODY;
  if (!c->lim.max_pending)
    c->lim.max_pending = WIRE_H2_DEFAULT_MAX_STREAMS;
  if (!c->lim.max_done)
    c->lim.max_done = WIRE_DEFAULT_MAX_DONE;
  c->interest = interest;
  c->arg = arg;
  c->state = WIRE_H2;
  c->streams = calloc(c->lim.max_pending, sizeof *c->streams);
  if (!c->streams || dir_init(c, &c->out, 1) < 0 ||
      dir_init(c, &c->in, 0) < 0) {
    wire_h2_free(c);
    return NULL;
  }
  return c;
}

size_t wire_h2_feed(struct wire_h2 *c, enum wire_dir dir, const void *p,
                    size_t n, int64_t t_ns) {
  if (!c || c->state != WIRE_H2 || n == 0)
    return 0;
  c->now = t_ns;
  struct h2dir *d = dir == WIRE_OUT ? &c->out : &c->in;
  const char *b = p;
  size_t off = 0;
  /* Every step takes at least one byte while the state is WIRE_H2. */
  while (off < n && c->state == WIRE_H2)
    off += step(c, d, b + off, n - off);
  return off;
}

void wire_h2_close(struct wire_h2 *c, int64_t t_ns, const char *reason) {
  if (!c || c->state != WIRE_H2)
    return;
  c->now = t_ns;
  const char *why = reason ? reason : "connection closed";
  flush(c, why);
  c->state = WIRE_CLOSED;
  snprintf(c->reason, sizeof c->reason, "%s", why);
}

struct wire_exchange *wire_h2_next(struct wire_h2 *c) {
  struct wx *x = c ? wx_queue_pop(&c->done) : NULL;
  return x ? &x->pub : NULL;
}

enum wire_state wire_h2_state(const struct wire_h2 *c, const char **reason) {
  if (reason)
    *reason = c->reason;
  return c->state;
}

const struct wire_h2_stats *wire_h2_stats(const struct wire_h2 *c) {
  return &c->stats;
}

void wire_h2_free(struct wire_h2 *c) {
  if (!c)
    return;
  for (size_t i = 0; c->streams && i < c->lim.max_pending; i++)
    if (c->streams[i].id)
      wire_exchange_free(&c->streams[i].x->pub);
  free(c->streams);
  wx_queue_free(&c->done);
  struct h2dir *dirs[2] = {&c->out, &c->in};
  for (int i = 0; i < 2; i++) {
    wire_hpack_free(dirs[i]->hpack);
    dynbuf_free(&dirs[i]->hb.fields);
    dynbuf_free(&dirs[i]->hb.meta);
  }
  free(c);
}
