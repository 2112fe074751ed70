/* fuzz_http1: libFuzzer target for wire/conn (HTTP/1.1 framing, chunked,
 * content decoding, pairing).
 *
 * Input: byte 0 picks the piece size of the second run (1..16) and byte 1
 * the options (small or default limits, a predicate that skips some
 * exchanges, how the connection ends). The rest is a script of records:
 * a header byte (bit 7: 1 = IN, the response side; bits 0-6: length), then
 * that many bytes; a header byte 0xff ends the connection there.
 *
 * The script runs twice — each record in one feed, then cut into pieces —
 * and the target aborts if the two runs disagree on the framing (how many
 * exchanges, their request and response heads, statuses, flags, the final
 * state) or on a body that needed no decoding, or if a bound is broken:
 * body over its cap, marks out of order or past the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_X 64

struct result {
  size_t n;
  uint64_t frame[MAX_X]; /* hash of the framing facts */
  uint64_t body[MAX_X];  /* hash of identity bodies, 0 otherwise */
  int state;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

static int skip_some(void *arg, const struct wire_request *rq) {
  (void)arg;
  if (rq->target_len && rq->target[rq->target_len - 1] == 's')
    return 0; /* pass over: only framed */
  if (rq->method_len == 4 && !memcmp(rq->method, "STOP", 4))
    return -1;
  return 1;
}

static void check(const struct wire_exchange *x, size_t max_body) {
  if (x->req_body_len > max_body || x->resp_body_len > max_body)
    abort();
  if (x->req_body[x->req_body_len] || x->resp_body[x->resp_body_len])
    abort(); /* bodies are NUL-terminated */
  if (x->nmarks > AT_MAX_CHUNK_MARKS)
    abort();
  for (size_t i = 0; i < x->nmarks; i++) {
    if (x->marks[i].offset > x->resp_body_len)
      abort();
    if (i && (x->marks[i].offset < x->marks[i - 1].offset ||
              x->marks[i].t_ns < x->marks[i - 1].t_ns))
      abort();
  }
  if (strlen(x->reason) >= sizeof x->reason || (x->partial && !x->reason[0]))
    abort();
  struct at_exchange ex;
  if (wire_exchange_fill((struct wire_exchange *)x, "https", "fallback:1",
                         &ex) == 0 &&
      (!ex.url[0] || ex.resp_body != x->resp_body || ex.nmarks != x->nmarks ||
       (ex.transport_error != 0) != x->partial))
    abort();
}

static void take(struct wire_conn *c, struct result *r, size_t max_body) {
  struct wire_exchange *x;
  while ((x = wire_conn_next(c))) {
    check(x, max_body);
    if (r->n < MAX_X) {
      uint64_t h = fnv(1469598103934665603ull, x->method, strlen(x->method));
      h = fnv(h, x->target, strlen(x->target));
      h = fnv(h, x->host, strlen(x->host));
      h = fnv(h, x->req_head, x->req_head_len);
      h = fnv(h, x->resp_headers, x->resp_headers_len);
      h = fnv(h, &x->status, sizeof x->status);
      h = fnv(h, &x->flags, sizeof x->flags);
      r->frame[r->n] = h;
      uint64_t b = 0;
      if (!x->req_coding[0] && !x->resp_coding[0] && !x->partial) {
        b = fnv(7, x->req_body, x->req_body_len);
        b = fnv(b, x->resp_body, x->resp_body_len);
        b = fnv(b, &x->resp_body_truncated, sizeof(int));
      }
      r->body[r->n] = b;
    }
    r->n++;
    wire_exchange_free(x);
  }
}

static void run(const uint8_t *p, size_t n, size_t piece, int opts,
                struct result *r) {
  memset(r, 0, sizeof *r);
  struct wire_limits small = {
      .max_head = 512, .max_body = 4096, .max_pending = 3, .max_done = 4};
  const struct wire_limits *lim = (opts & 1) ? &small : NULL;
  size_t max_body = (opts & 1) ? small.max_body : WIRE_DEFAULT_MAX_BODY;
  struct wire_conn *c = wire_conn_new(lim, (opts & 2) ? skip_some : NULL, NULL);
  if (!c)
    return;
  int64_t t = 0;
  size_t i = 0;
  while (i < n) {
    uint8_t h = p[i++];
    if (h == 0xff) {
      wire_conn_close(c, ++t, (opts & 4) ? "ECONNRESET" : NULL);
      take(c, r, max_body);
      continue;
    }
    size_t len = h & 0x7f;
    if (len > n - i)
      len = n - i;
    enum wire_dir dir = (h & 0x80) ? WIRE_IN : WIRE_OUT;
    size_t step = piece ? piece : (len ? len : 1);
    for (size_t off = 0; off < len; off += step) {
      size_t k = len - off < step ? len - off : step;
      size_t used = wire_conn_feed(c, dir, p + i + off, k, ++t);
      if (used > k)
        abort();
      take(c, r, max_body);
    }
    i += len;
  }
  if (opts & 8) {
    wire_conn_close(c, ++t, NULL);
    take(c, r, max_body);
  }
  r->state = wire_conn_state(c, NULL);
  wire_conn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t piece = 1 + data[0] % 16;
  int opts = data[1];
  static struct result whole, cut;
  run(data + 2, size - 2, 0, opts, &whole);
  run(data + 2, size - 2, piece, opts, &cut);
  if (whole.n != cut.n || whole.state != cut.state)
    abort();
  size_t k = whole.n < MAX_X ? whole.n : MAX_X;
  for (size_t i = 0; i < k; i++)
    if (whole.frame[i] != cut.frame[i] || whole.body[i] != cut.body[i])
      abort();
  return 0;
}
