/* wire_bench: what wire/ adds per streamed event.
 *
 *   wire_bench [-n ROUNDS]
 *
 * One keep-alive connection carries ROUNDS exchanges (default 2000): a
 * chat-completions request and a 200-event SSE answer, each event one
 * chunk (as servers send them). The answer is fed in 10-byte reads and in
 * whole-event reads, plain and gzip-compressed (flushed per event), and
 * once more with the predicate passing the exchange over (skip mode).
 * Every exchange is taken with wire_conn_next() and freed, so the figures
 * include the request, the header blocks, the allocation and the copy of
 * the body; they are divided by the number of events. Times are CPU time
 * (CLOCK_PROCESS_CPUTIME_ID). Prints one line per case:
 * "case=... ns_per_event=... ns_per_read=...". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "wire/conn.h"

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
  free(plain.p);
  free(gz.p);
  return 0;
}
