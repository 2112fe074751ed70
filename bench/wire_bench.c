/* wire_bench: what wire/ adds per streamed event.
 *
 *   wire_bench [-n ROUNDS]
 *
 * One keep-alive connection carries ROUNDS exchanges (default 2000): a
 * chat-completions request and a 200-event SSE answer, each event one
 * chunk (as servers send them). The answer is fed in 10-byte reads and in
 * whole-event reads, plain and gzip-compressed (flushed per event), and
 * once more with the predicate passing the exchange over (skip mode).
 * The h2_* cases do the same over one HTTP/2 connection (wire_h2): each
 * round a new stream, the request HEADERS + DATA, the answer HEADERS and
 * one DATA frame per event (header blocks by libnghttp2's encoder).
 * Every exchange is taken with wire_conn_next() and freed, so the figures
 * include the request, the header blocks, the allocation and the copy of
 * the body; they are divided by the number of events. Times are CPU time
 * (CLOCK_PROCESS_CPUTIME_ID). Prints one line per case:
 * "case=... ns_per_event=... ns_per_read=...". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>
#include <zlib.h>

#include "wire/conn.h"
#include "wire/h2.h"

#define EVENTS 200

/* CPU time of this process: the figure is the work done, unaffected by
 * other load on the machine (the bench is single-threaded). */
static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct buf {
  char *p;
  size_t n, cap;
  size_t ends[EVENTS + 2]; /* offsets where each event's chunk ends */
  size_t nends;
};

static void put(struct buf *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p)
      exit(1);
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void put_chunk(struct buf *b, const void *p, size_t n) {
  char sz[24];
  int k = snprintf(sz, sizeof sz, "%zx\r\n", n);
  put(b, sz, (size_t)k);
  put(b, p, n);
  put(b, "\r\n", 2);
  b->ends[b->nends++] = b->n;
}

/* The response: head, then one chunk per event, then the last chunk. */
static void build(struct buf *b, int gzip) {
  const char *head =
      gzip ? "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
             "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
           : "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
             "Transfer-Encoding: chunked\r\n\r\n";
  put(b, head, strlen(head));
  b->ends[b->nends++] = b->n;
  z_stream z;
  memset(&z, 0, sizeof z);
  if (gzip && deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY))
    exit(1);
  for (int i = 0; i < EVENTS; i++) {
    char ev[256], zb[512];
    int n = snprintf(ev, sizeof ev,
                     "data: {\"id\":\"chatcmpl-abc\",\"object\":\"chat."
                     "completion.chunk\",\"created\":1700000000,\"model\":"
                     "\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":"
                     "{\"content\":\" tok%d\"},\"finish_reason\":null}]}\n\n",
                     i);
    if (!gzip) {
      put_chunk(b, ev, (size_t)n);
      continue;
    }
    z.next_in = (Bytef *)ev;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)zb;
    z.avail_out = sizeof zb;
    deflate(&z, i + 1 == EVENTS ? Z_FINISH : Z_SYNC_FLUSH);
    put_chunk(b, zb, sizeof zb - z.avail_out);
  }
  if (gzip)
    deflateEnd(&z);
  put(b, "0\r\n\r\n", 5);
  b->ends[b->nends - 1] = b->n;
}

static int skip_all(void *arg, const struct wire_request *rq) {
  (void)arg;
  (void)rq;
  return 0;
}

static void run(const char *name, const struct buf *resp, size_t piece,
                int skip, int rounds) {
  static const char body[] =
      "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":"
      "\"user\",\"content\":\"Count to 200 please\"}]}";
  char req[512];
  int reqn = snprintf(req, sizeof req,
                      "POST /v1/chat/completions HTTP/1.1\r\n"
                      "Host: api.openai.com\r\nAuthorization: Bearer sk-test"
                      "\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n%s",
                      sizeof body - 1, body);
  struct wire_conn *c = wire_conn_new(NULL, skip ? skip_all : NULL, NULL);
  size_t reads = 0, got = 0, bytes = 0;
  double t0 = now_ns();
  for (int r = 0; r < rounds; r++) {
    int64_t t = r * 1000;
    wire_conn_feed(c, WIRE_OUT, req, (size_t)reqn, t);
    size_t off = 0;
    for (size_t e = 0; e < resp->nends; e++) {
      size_t end = resp->ends[e];
      while (off < end) {
        size_t k = piece ? piece : end - off;
        if (k > end - off)
          k = end - off;
        wire_conn_feed(c, WIRE_IN, resp->p + off, k, ++t);
        off += k;
        reads++;
      }
    }
    struct wire_exchange *x;
    while ((x = wire_conn_next(c))) {
      got++;
      bytes += x->resp_body_len;
      wire_exchange_free(x);
    }
  }
  double dt = now_ns() - t0;
  const char *why;
  if (wire_conn_state(c, &why) != WIRE_HTTP1 ||
      got != (size_t)(skip ? 0 : rounds)) {
    fprintf(stderr, "wire_bench: %s: %zu exchanges, state %s\n", name, got,
            why);
    exit(1);
  }
  wire_conn_free(c);
  printf("case=%s reads_per_event=%.1f ns_per_event=%.0f ns_per_read=%.0f "
         "decoded_bytes_per_exchange=%zu\n",
         name, (double)reads / rounds / EVENTS, dt / rounds / EVENTS,
         dt / (double)reads, got ? bytes / got : 0);
}

/* ---- HTTP/2 ------------------------------------------------------------ */

static void frame(struct buf *b, int type, int flags, const void *p, size_t n) {
  unsigned char h[9] = {(unsigned char)(n >> 16),
                        (unsigned char)(n >> 8),
                        (unsigned char)n,
                        (unsigned char)type,
                        (unsigned char)flags,
                        0,
                        0,
                        0,
                        1};
  put(b, h, 9);
  put(b, p, n);
}

/* A header block without indexing (a deflater with no dynamic table), so
 * that the same bytes serve every round: only the stream id changes. */
static void block(struct buf *b, int flags, const char *const *nv) {
  nghttp2_hd_deflater *d;
  nghttp2_nv v[8];
  size_t n = 0;
  for (; nv[2 * n]; n++) {
    v[n].name = (uint8_t *)(uintptr_t)nv[2 * n];
    v[n].namelen = strlen(nv[2 * n]);
    v[n].value = (uint8_t *)(uintptr_t)nv[2 * n + 1];
    v[n].valuelen = strlen(nv[2 * n + 1]);
    v[n].flags = NGHTTP2_NV_FLAG_NONE;
  }
  uint8_t out[1024];
  if (nghttp2_hd_deflate_new(&d, 0) != 0)
    exit(1);
  ssize_t k = nghttp2_hd_deflate_hd(d, out, sizeof out, v, n);
  nghttp2_hd_deflate_del(d);
  if (k < 0)
    exit(1);
  frame(b, 1, flags | 0x4, out, (size_t)k);
}

/* One round of the connection: request, then answer; frame ends in
 * ends[] (the answer's), frame starts in starts[] (to set the stream). */
struct h2buf {
  struct buf req, resp;
  size_t req_starts[2], resp_starts[EVENTS + 1];
};

static void build_h2(struct h2buf *h) {
  static const char *const RQ[] = {":method",
                                   "POST",
                                   ":scheme",
                                   "https",
                                   ":authority",
                                   "api.openai.com",
                                   ":path",
                                   "/v1/chat/completions",
                                   "authorization",
                                   "Bearer sk-test",
                                   "content-type",
                                   "application/json",
                                   NULL};
  static const char *const RS[] = {":status", "200", "content-type",
                                   "text/event-stream", NULL};
  static const char body[] =
      "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":"
      "\"user\",\"content\":\"Count to 200 please\"}]}";
  h->req_starts[0] = h->req.n;
  block(&h->req, 0, RQ);
  h->req_starts[1] = h->req.n;
  frame(&h->req, 0, 1, body, sizeof body - 1);
  h->resp_starts[0] = h->resp.n;
  block(&h->resp, 0, RS);
  h->resp.ends[h->resp.nends++] = h->resp.n;
  for (int i = 0; i < EVENTS; i++) {
    char ev[256];
    int n = snprintf(ev, sizeof ev,
                     "data: {\"id\":\"chatcmpl-abc\",\"object\":\"chat."
                     "completion.chunk\",\"created\":1700000000,\"model\":"
                     "\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":"
                     "{\"content\":\" tok%d\"},\"finish_reason\":null}]}\n\n",
                     i);
    h->resp_starts[1 + i] = h->resp.n;
    frame(&h->resp, 0, i + 1 == EVENTS ? 1 : 0, ev, (size_t)n);
    h->resp.ends[h->resp.nends++] = h->resp.n;
  }
}

static void set_sid(struct buf *b, const size_t *starts, size_t n,
                    uint32_t sid) {
  for (size_t i = 0; i < n; i++) {
    unsigned char *h = (unsigned char *)b->p + starts[i] + 5;
    h[0] = (unsigned char)(sid >> 24);
    h[1] = (unsigned char)(sid >> 16);
    h[2] = (unsigned char)(sid >> 8);
    h[3] = (unsigned char)sid;
  }
}

static void run_h2(const char *name, struct h2buf *hb, size_t piece, int skip,
                   int rounds) {
  static const char settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
  struct wire_h2 *c = wire_h2_new(NULL, skip ? skip_all : NULL, NULL);
  size_t reads = 0, got = 0, bytes = 0;
  double t0 = now_ns();
  wire_h2_feed(c, WIRE_OUT, WIRE_H2_PREFACE, WIRE_H2_PREFACE_LEN, 0);
  wire_h2_feed(c, WIRE_OUT, settings, sizeof settings, 0);
  wire_h2_feed(c, WIRE_IN, settings, sizeof settings, 0);
  for (int r = 0; r < rounds; r++) {
    int64_t t = r * 1000;
    uint32_t sid = 1 + 2 * (uint32_t)r;
    set_sid(&hb->req, hb->req_starts, 2, sid);
    set_sid(&hb->resp, hb->resp_starts, EVENTS + 1, sid);
    wire_h2_feed(c, WIRE_OUT, hb->req.p, hb->req.n, t);
    const struct buf *resp = &hb->resp;
    size_t off = 0;
    for (size_t e = 0; e < resp->nends; e++) {
      size_t end = resp->ends[e];
      while (off < end) {
        size_t k = piece ? piece : end - off;
        if (k > end - off)
          k = end - off;
        wire_h2_feed(c, WIRE_IN, resp->p + off, k, ++t);
        off += k;
        reads++;
      }
    }
    struct wire_exchange *x;
    while ((x = wire_h2_next(c))) {
      got++;
      bytes += x->resp_body_len;
      wire_exchange_free(x);
    }
  }
  double dt = now_ns() - t0;
  const char *why;
  if (wire_h2_state(c, &why) != WIRE_H2 || got != (size_t)(skip ? 0 : rounds)) {
    fprintf(stderr, "wire_bench: %s: %zu exchanges, state %s\n", name, got,
            why);
    exit(1);
  }
  wire_h2_free(c);
  printf("case=%s reads_per_event=%.1f ns_per_event=%.0f ns_per_read=%.0f "
         "decoded_bytes_per_exchange=%zu\n",
         name, (double)reads / rounds / EVENTS, dt / rounds / EVENTS,
         dt / (double)reads, got ? bytes / got : 0);
}

int main(int argc, char **argv) {
  int rounds = 2000;
  if (argc == 3 && !strcmp(argv[1], "-n"))
    rounds = atoi(argv[2]);
  if (rounds <= 0) {
    fprintf(stderr, "usage: wire_bench [-n ROUNDS]\n");
    return 2;
  }
  struct buf plain = {0}, gz = {0};
  build(&plain, 0);
  build(&gz, 1);
  run("sse_10B_reads", &plain, 10, 0, rounds);
  run("sse_event_reads", &plain, 0, 0, rounds);
  run("sse_gzip_10B_reads", &gz, 10, 0, rounds);
  run("sse_gzip_event_reads", &gz, 0, 0, rounds);
  run("skipped_10B_reads", &plain, 10, 1, rounds);
  run("skipped_event_reads", &plain, 0, 1, rounds);
  struct h2buf h2 = {0};
  build_h2(&h2);
  run_h2("h2_10B_reads", &h2, 10, 0, rounds);
  run_h2("h2_frame_reads", &h2, 0, 0, rounds);
  run_h2("h2_skipped_frame_reads", &h2, 0, 1, rounds);
  free(h2.req.p);
  free(h2.resp.p);
  free(plain.p);
  free(gz.p);
  return 0;
}
