/* fuzz_h2: libFuzzer target for wire/h2 (HTTP/2 frames, HPACK through
 * libnghttp2's inflater, streams, bodies).
 *
 * Input: byte 0 picks the piece size of the second run (1..16) and byte 1
 * the options: bit 0 small limits, bit 1 a predicate that passes some
 * exchanges over (and stops on method STOP), bit 2 the close reason
 * (orderly or "ECONNRESET"), bit 3 close at the end, bit 4 start both
 * sides for the fuzzer (the client preface and an empty SETTINGS on OUT,
 * an empty SETTINGS on IN, so that mutations reach the frames behind
 * them). The rest is a script of records: a header byte (bit 7: 1 = IN,
 * the server's side; bits 0-6: length), then that many bytes; a header
 * byte 0xff ends the connection there.
 *
 * The script runs twice — each record in one feed, then cut into pieces —
 * and the target aborts if the two runs disagree (exchanges, their heads,
 * statuses, flags, partial or not and why — but for a decoding error —,
 * identity bodies; the final state, its reason and the stats), or if a
 * bound is broken: a body over its cap, marks out of order or past the
 * body, a partial exchange without a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/h2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_X 64

struct result {
  size_t n;
  uint64_t frame[MAX_X]; /* hash of the exchange's facts */
  uint64_t body[MAX_X];  /* hash of identity bodies, 0 otherwise */
  int state;
  uint64_t reason;
  struct wire_h2_stats stats;
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
    return 0;
  if (rq->method_len == 4 && !memcmp(rq->method, "STOP", 4))
    return -1;
  return 2;
}

static void check(const struct wire_exchange *x, size_t max_body,
                  size_t max_head) {
  if (x->req_body_len > max_body || x->resp_body_len > max_body)
    abort();
  if (x->req_body[x->req_body_len] || x->resp_body[x->resp_body_len])
    abort(); /* bodies are NUL-terminated */
  if (x->req_head_len > max_head || x->resp_headers_len > max_head)
    abort();
  if (x->req_fields < x->req_head ||
      x->req_fields + x->req_fields_len > x->req_head + x->req_head_len)
    abort();
  if (!(x->flags & WIRE_X_H2) || x->nmarks > AT_MAX_CHUNK_MARKS)
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
  /* the rendered blocks are lines: no CR or LF inside a field */
  for (size_t i = 0; i < x->resp_headers_len; i++)
    if (x->resp_headers[i] == '\n' &&
        (i == 0 || x->resp_headers[i - 1] != '\r'))
      abort();
  struct at_exchange ex;
  if (wire_exchange_fill((struct wire_exchange *)x, "https", "fallback:1",
                         &ex) == 0 &&
      (!ex.url[0] || ex.resp_body != x->resp_body || ex.nmarks != x->nmarks ||
       (ex.transport_error != 0) != x->partial))
    abort();
}

static void take(struct wire_h2 *c, struct result *r, size_t max_body,
                 size_t max_head) {
  struct wire_exchange *x;
  while ((x = wire_h2_next(c))) {
    check(x, max_body, max_head);
    if (r->n < MAX_X) {
      uint64_t h = fnv(1469598103934665603ull, x->method, strlen(x->method));
      h = fnv(h, x->target, strlen(x->target));
      h = fnv(h, x->host, strlen(x->host));
      h = fnv(h, x->req_head, x->req_head_len);
      h = fnv(h, x->resp_headers, x->resp_headers_len);
      h = fnv(h, &x->status, sizeof x->status);
      h = fnv(h, &x->flags, sizeof x->flags);
      h = fnv(h, &x->partial, sizeof x->partial);
      /* With stacked codings, which stage reports an error first depends
       * on how the input was cut (each error is right): the reason is
       * compared only when nothing was decoded. */
      if (!x->req_coding[0] && !x->resp_coding[0])
        h = fnv(h, x->reason, strlen(x->reason));
      r->frame[r->n] = h;
      uint64_t b = 0;
      if (!x->req_coding[0] && !x->resp_coding[0]) {
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
  size_t max_head = (opts & 1) ? small.max_head : WIRE_DEFAULT_MAX_HEAD;
  struct wire_h2 *c = wire_h2_new(lim, (opts & 2) ? skip_some : NULL, NULL);
  if (!c)
    return;
  int64_t t = 0;
  if (opts & 16) {
    static const char settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    wire_h2_feed(c, WIRE_OUT, WIRE_H2_PREFACE, WIRE_H2_PREFACE_LEN, ++t);
    wire_h2_feed(c, WIRE_OUT, settings, sizeof settings, ++t);
    wire_h2_feed(c, WIRE_IN, settings, sizeof settings, ++t);
  }
  size_t i = 0;
  while (i < n) {
    uint8_t h = p[i++];
    if (h == 0xff) {
      wire_h2_close(c, ++t, (opts & 4) ? "ECONNRESET" : NULL);
      take(c, r, max_body, max_head);
      continue;
    }
    size_t len = h & 0x7f;
    if (len > n - i)
      len = n - i;
    enum wire_dir dir = (h & 0x80) ? WIRE_IN : WIRE_OUT;
    size_t step = piece ? piece : (len ? len : 1);
    for (size_t off = 0; off < len; off += step) {
      size_t k = len - off < step ? len - off : step;
      size_t used = wire_h2_feed(c, dir, p + i + off, k, ++t);
      if (used > k)
        abort();
      take(c, r, max_body, max_head);
    }
    i += len;
  }
  if (opts & 8) {
    wire_h2_close(c, ++t, (opts & 4) ? "ECONNRESET" : NULL);
    take(c, r, max_body, max_head);
  }
  const char *why;
  r->state = wire_h2_state(c, &why);
  r->reason = fnv(3, why, strlen(why));
  r->stats = *wire_h2_stats(c);
  wire_h2_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t piece = 1 + data[0] % 16;
  int opts = data[1];
  static struct result whole, cut;
  run(data + 2, size - 2, 0, opts, &whole);
  run(data + 2, size - 2, piece, opts, &cut);
  if (whole.n != cut.n || whole.state != cut.state ||
      whole.reason != cut.reason)
    abort();
  if (whole.stats.exchanges != cut.stats.exchanges ||
      whole.stats.skipped != cut.stats.skipped ||
      whole.stats.partial != cut.stats.partial ||
      whole.stats.dropped != cut.stats.dropped ||
      whole.stats.reset != cut.stats.reset ||
      whole.stats.pushed != cut.stats.pushed ||
      whole.stats.malformed != cut.stats.malformed ||
      whole.stats.unmatched != cut.stats.unmatched ||
      whole.stats.undecodable != cut.stats.undecodable ||
      whole.stats.frames != cut.stats.frames)
    abort();
  size_t k = whole.n < MAX_X ? whole.n : MAX_X;
  for (size_t i = 0; i < k; i++)
    if (whole.frame[i] != cut.frame[i] || whole.body[i] != cut.body[i])
      abort();
  return 0;
}
