/* tls_bench: a TLS server and client on OpenSSL, for the TLS capture
 * benchmarks (bench/tls_bench.sh).
 *
 *   tls_bench serve CERT KEY PORTFILE      answer on 127.0.0.1, one
 *                                          connection at a time, keep-alive
 *   tls_bench download PORT BYTES          GET /big: BYTES of body; prints
 *                                          seconds and MB/s
 *   tls_bench llm PORT N                   N chat requests on one
 *                                          connection; prints p50/p99 µs
 *   tls_bench stream PORT N EVENTS         N streamed chat requests of
 *                                          EVENTS SSE events; prints µs per
 *                                          request
 *
 * BENCH_PIN_MAIN=CPU: after 20 warm-up requests the client's main thread
 * moves to CPU (the shim's writer thread stays where the client began).
 *
 * The server answers GET /big?n=BYTES with a Content-Length body, POST
 * /v1/chat/completions with a 1 KB JSON completion (with usage), or, with
 * "stream" in the request, EVENTS (from ?events=) SSE events each in its
 * own TLS record, then usage and [DONE]. Bounded: the server exits after
 * 600 s or on GET /quit. */
#include <arpa/inet.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double thread_cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *m) {
  fprintf(stderr, "tls_bench: %s\n", m);
  ERR_print_errors_fp(stderr);
  exit(1);
}

static int write_all(SSL *s, const char *p, size_t n) {
  while (n) {
    int k = SSL_write(s, p, n > (1 << 20) ? (1 << 20) : (int)n);
    if (k <= 0)
      return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Read one request head (+ Content-Length body) into buf. */
static int read_request(SSL *s, char *buf, size_t cap) {
  size_t len = 0;
  char *end = NULL;
  while (!end) {
    int k = SSL_read(s, buf + len, (int)(cap - 1 - len));
    if (k <= 0)
      return -1;
    len += (size_t)k;
    buf[len] = 0;
    end = strstr(buf, "\r\n\r\n");
  }
  char *cl = strcasestr(buf, "content-length:");
  size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
  while (len < want) {
    int k = SSL_read(s, buf + len, (int)(cap - 1 - len));
    if (k <= 0)
      return -1;
    len += (size_t)k;
  }
  buf[len] = 0;
  return 0;
}

static const char CHAT[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
    "\"role\":\"assistant\",\"content\":\"%s\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":100,"
    "\"total_tokens\":112}}";

static void serve_conn(SSL *s) {
  static char req[1 << 16];
  static char big[1 << 16];
  memset(big, 'z', sizeof big);
  char pad[801];
  memset(pad, 'a', 800);
  pad[800] = 0;
  while (read_request(s, req, sizeof req) == 0) {
    char head[256], body[2048];
    if (!strncmp(req, "GET /quit", 9))
      exit(0);
    if (!strncmp(req, "GET /big", 8)) {
      char *q = strstr(req, "n=");
      unsigned long long n = q ? strtoull(q + 2, NULL, 10) : 0;
      int hn = snprintf(head, sizeof head,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/"
                        "octet-stream\r\nContent-Length: %llu\r\n\r\n",
                        n);
      if (write_all(s, head, (size_t)hn))
        return;
      while (n) {
        size_t k = n > sizeof big ? sizeof big : n;
        if (write_all(s, big, k))
          return;
        n -= k;
      }
      continue;
    }
    if (strstr(req, "\"stream\":true")) {
      char *q = strstr(req, "events=");
      int events = q ? atoi(q + 7) : 100;
      const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n";
      if (write_all(s, h, strlen(h)))
        return;
      for (int i = 0; i <= events + 1; i++) {
        char ev[512];
        int en;
        if (i < events)
          en = snprintf(ev, sizeof ev,
                        "data: {\"id\":\"c\",\"object\":\"chat.completion."
                        "chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{"
                        "\"index\":0,\"delta\":{\"content\":\"tok%d \"},"
                        "\"finish_reason\":null}]}\n\n",
                        i);
        else if (i == events)
          en = snprintf(ev, sizeof ev,
                        "data: {\"id\":\"c\",\"object\":\"chat.completion."
                        "chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[],"
                        "\"usage\":{\"prompt_tokens\":12,\"completion_"
                        "tokens\":%d,\"total_tokens\":%d}}\n\ndata: "
                        "[DONE]\n\n",
                        events, events + 12);
        else
          en = 0;
        char chunk[600];
        int cn = en ? snprintf(chunk, sizeof chunk, "%x\r\n%s\r\n", en, ev)
                    : snprintf(chunk, sizeof chunk, "0\r\n\r\n");
        if (write_all(s, chunk, (size_t)cn))
          return;
      }
      continue;
    }
    int bn = snprintf(body, sizeof body, CHAT, pad);
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\n\r\n",
                      bn);
    if (write_all(s, head, (size_t)hn) || write_all(s, body, (size_t)bn))
      return;
  }
}

__attribute__((noreturn)) static void serve(const char *cert, const char *key,
                                            const char *portfile) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
    die("server certificate");
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 16) ||
      getsockname(ls, (struct sockaddr *)&sa, &sl))
    die("listen");
  FILE *f = fopen(portfile, "w");
  fprintf(f, "%d\n", ntohs(sa.sin_port));
  fclose(f);
  alarm(600);
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0)
      continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *s = SSL_new(ctx);
    SSL_set_fd(s, fd);
    if (SSL_accept(s) == 1)
      serve_conn(s);
    SSL_free(s);
    close(fd);
  }
}

static SSL *dial(int port) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa))
    die("connect");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL *s = SSL_new(ctx);
  SSL_set_fd(s, fd);
  SSL_set_tlsext_host_name(s, "localhost");
  if (SSL_connect(s) != 1)
    die("handshake");
  return s;
}

/* Read one response; returns body bytes (Content-Length or chunked). */
static size_t read_response(SSL *s, char *buf, size_t cap) {
  size_t len = 0, total = 0;
  char *end = NULL;
  while (!end) {
    int k = SSL_read(s, buf + len, (int)(cap - 1 - len));
    if (k <= 0)
      die("read");
    len += (size_t)k;
    buf[len] = 0;
    end = strstr(buf, "\r\n\r\n");
  }
  char *cl = strcasestr(buf, "content-length:");
  if (cl && cl < end) {
    unsigned long long want = strtoull(cl + 15, NULL, 10);
    total = len - (size_t)(end + 4 - buf);
    while (total < want) {
      int k = SSL_read(s, buf, (int)cap);
      if (k <= 0)
        die("read body");
      total += (size_t)k;
    }
    return total;
  }
  /* chunked: read until the last chunk */
  for (;;) {
    if (len >= 5 && !memcmp(buf + len - 5, "0\r\n\r\n", 5))
      return len;
    if (len + 4096 > cap)
      len = 0; /* keep only a tail: enough to see the end */
    int k = SSL_read(s, buf + len, (int)(cap - 1 - len));
    if (k <= 0)
      die("read stream");
    len += (size_t)k;
  }
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc >= 5 && !strcmp(argv[1], "serve"))
    serve(argv[2], argv[3], argv[4]);
  if (argc < 4) {
    fprintf(stderr, "usage: see the top of bench/tls_bench.c\n");
    return 2;
  }
  int port = atoi(argv[2]);
  static char buf[1 << 20];
  SSL *s = dial(port);
  char req[1024];
  if (!strcmp(argv[1], "download")) {
    int n = snprintf(req, sizeof req,
                     "GET /big?n=%s HTTP/1.1\r\nHost: "
                     "localhost\r\n\r\n",
                     argv[3]);
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    double t0 = mono_us();
    write_all(s, req, (size_t)n);
    size_t got = read_response(s, buf, sizeof buf);
    double t = (mono_us() - t0) / 1e6;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu = (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
    /* CPU seconds of the whole client: what the shim adds, unlike the
     * wall clock, does not depend on what else the machine runs */
    printf("bytes=%zu seconds=%.3f MBps=%.1f cpu_s=%.3f\n", got, t,
           got / t / 1e6, cpu);
    return 0;
  }
  int reqs = atoi(argv[3]);
  int events = argc > 4 ? atoi(argv[4]) : 0;
  double *lat = calloc((size_t)reqs, sizeof *lat);
  double *cpu = calloc((size_t)reqs, sizeof *cpu);
  const char *body =
      events ? "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":"
               "{\"include_usage\":true},\"messages\":[{\"role\":\"user\","
               "\"content\":\"benchmark question\"}]}"
             : "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"benchmark question\"}]}";
  for (int i = 0; i < reqs + 20; i++) { /* 20 warm-up requests */
    int n = snprintf(req, sizeof req,
                     "POST /v1/chat/completions?events=%d HTTP/1.1\r\nHost: "
                     "localhost\r\nContent-Type: application/json\r\n"
                     "Authorization: Bearer sk-bench\r\nContent-Length: "
                     "%zu\r\n\r\n%s",
                     events, strlen(body), body);
    double t0 = mono_us(), c0 = thread_cpu_us();
    write_all(s, req, (size_t)n);
    read_response(s, buf, sizeof buf);
    if (i >= 20) {
      lat[i - 20] = mono_us() - t0;
      cpu[i - 20] = thread_cpu_us() - c0;
    }
    /* After the warm-up: the main thread moves to BENCH_PIN_MAIN, leaving
     * the spool writer (started by the first capture, on the CPU the
     * client was started on) its own CPU, as bench/run.sh does. */
    if (i == 19 && getenv("BENCH_PIN_MAIN")) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(atoi(getenv("BENCH_PIN_MAIN")), &set);
      sched_setaffinity(0, sizeof set, &set);
    }
  }
  qsort(lat, (size_t)reqs, sizeof *lat, cmp);
  qsort(cpu, (size_t)reqs, sizeof *cpu, cmp);
  double sum = 0, csum = 0;
  for (int i = 0; i < reqs; i++) {
    sum += lat[i];
    csum += cpu[i];
  }
  /* wall clock, and the CPU time of the calling thread (what our hooks
   * add to it, without the scheduler's noise) */
  printf("p50_us=%.1f p99_us=%.1f mean_us=%.1f cpu_p50_us=%.2f "
         "cpu_p99_us=%.2f cpu_mean_us=%.2f\n",
         lat[reqs / 2], lat[(int)(reqs * 0.99)], sum / reqs, cpu[reqs / 2],
         cpu[(int)(reqs * 0.99)], csum / reqs);
  return 0;
}
