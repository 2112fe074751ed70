/* mock_fast: a small, fast HTTP/1.1 keep-alive server for the benchmarks.
 *
 *   mock_fast [--port P] [--port-file F] [--idle S] [--max-seconds S]
 *
 * Listens on 127.0.0.1 (port 0 by default: the kernel picks one), prints
 * the port on stdout (and writes it to F when given), then answers:
 *
 *   POST|GET .../v1/chat/completions   an OpenAI-style chat completion JSON
 *                                      (with usage) of exactly N bytes
 *   /quit                              "bye", then exits
 *   anything else                      N bytes of text/plain
 *
 * N comes from the query parameter size=N (or the header X-Bench-Size: N);
 * default 1024 for the chat path and 3 for the others. The request body is
 * read (Content-Length) and discarded. Connections are kept alive unless
 * the client says "Connection: close".
 *
 * Bounded: exits after S seconds without any traffic (--idle, default 20),
 * after --max-seconds in total (default 900), or on /quit. One thread, one
 * poll() loop, up to MAX_CLIENTS connections. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_REQUEST (4u * 1024 * 1024) /* headers + body */
#define MAX_RESPONSE (8u * 1024 * 1024)
#define CACHE_SLOTS 16

struct client {
  int fd;
  char *buf;
  size_t len, cap;
};

struct cached {
  int is_chat;
  size_t size;
  char *body;
};

static struct cached cache[CACHE_SLOTS];
static size_t cache_next;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Exactly `size` bytes of chat completion JSON (or a bit more when size is
 * below the fixed part). The content is filler words. */
static char *make_chat_body(size_t size) {
  static const char head[] =
      "{\"id\":\"chatcmpl-bench0001\",\"object\":\"chat.completion\","
      "\"created\":1763705992,\"model\":\"gpt-4o-mini-2024-07-18\","
      "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
      "\"content\":\"";
  char tail[256];
  int tl = snprintf(tail, sizeof tail,
                    "\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                    "\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%"
                    "zu,\"total_tokens\":%zu},\"system_fingerprint\":\"fp_b\"}",
                    (size_t)2600, size / 5 + 1, (size_t)2600 + size / 5 + 1);
  size_t fixed = sizeof head - 1 + (size_t)tl;
  size_t fill = size > fixed ? size - fixed : 1;
  char *b = malloc(fixed + fill + 1);
  if (!b)
    return NULL;
  memcpy(b, head, sizeof head - 1);
  static const char words[] = "lorem ipsum dolor sit amet consectetur ";
  for (size_t i = 0; i < fill; i++)
    b[sizeof head - 1 + i] = words[i % (sizeof words - 1)];
  b[sizeof head - 1 + fill - 1] = '.';
  memcpy(b + sizeof head - 1 + fill, tail, (size_t)tl + 1);
  return b;
}

static char *make_plain_body(size_t size) {
  char *b = malloc(size + 1);
  if (!b)
    return NULL;
  for (size_t i = 0; i < size; i++)
    b[i] = (i + 1) % 64 == 0 ? '\n' : 'a' + (char)(i % 26);
  if (size == 3)
    memcpy(b, "ok\n", 3);
  b[size] = '\0';
  return b;
}

static const char *body_for(int is_chat, size_t size) {
  for (size_t i = 0; i < CACHE_SLOTS; i++)
    if (cache[i].body && cache[i].is_chat == is_chat && cache[i].size == size)
      return cache[i].body;
  struct cached *c = &cache[cache_next++ % CACHE_SLOTS];
  free(c->body);
  c->is_chat = is_chat;
  c->size = size;
  c->body = is_chat ? make_chat_body(size) : make_plain_body(size);
  return c->body;
}

/* Value of header `name` in the header block [h, h+n), or NULL. */
static const char *find_header(const char *h, size_t n, const char *name,
                               size_t *vlen) {
  size_t nl = strlen(name);
  const char *end = h + n;
  const char *p = memchr(h, '\n', n); /* skip the request line */
  while (p && p + 1 < end) {
    p++;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      eol = end;
    if ((size_t)(eol - p) > nl && p[nl] == ':' &&
        strncasecmp(p, name, nl) == 0) {
      const char *v = p + nl + 1;
      while (v < eol && (*v == ' ' || *v == '\t'))
        v++;
      const char *ve = eol;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
        ve--;
      *vlen = (size_t)(ve - v);
      return v;
    }
    p = eol < end ? eol : NULL;
  }
  return NULL;
}

static size_t parse_size(const char *s, size_t n, size_t dflt) {
  size_t v = 0, i = 0;
  for (; i < n && s[i] >= '0' && s[i] <= '9' && v < MAX_RESPONSE; i++)
    v = v * 10 + (size_t)(s[i] - '0');
  if (i == 0)
    return dflt;
  return v > MAX_RESPONSE ? MAX_RESPONSE : v;
}

static int send_all(int fd, const struct iovec *iov, int n) {
  struct iovec v[2];
  memcpy(v, iov, (size_t)n * sizeof *iov);
  struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)n};
  for (int tries = 0; tries < 100000 && m.msg_iovlen > 0; tries++) {
    ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 5000) <= 0)
          return -1;
        continue;
      }
      return -1;
    }
    size_t left = (size_t)w;
    while (m.msg_iovlen > 0 && left >= m.msg_iov[0].iov_len) {
      left -= m.msg_iov[0].iov_len;
      m.msg_iov++;
      m.msg_iovlen--;
    }
    if (m.msg_iovlen > 0) {
      m.msg_iov[0].iov_base = (char *)m.msg_iov[0].iov_base + left;
      m.msg_iov[0].iov_len -= left;
    }
  }
  return m.msg_iovlen == 0 ? 0 : -1;
}

/* Handle every complete request in c's buffer. Returns 1 to keep the
 * connection, 0 to close it, 2 when /quit was asked. */
static int serve(struct client *c) {
  for (;;) {
    char *hend = NULL;
    for (size_t i = 0; i + 3 < c->len; i++)
      if (memcmp(c->buf + i, "\r\n\r\n", 4) == 0) {
        hend = c->buf + i + 4;
        break;
      }
    if (!hend)
      return c->len < MAX_REQUEST;
    size_t hlen = (size_t)(hend - c->buf);
    size_t vlen = 0, clen = 0;
    const char *v = find_header(c->buf, hlen, "Content-Length", &vlen);
    if (v)
      clen = parse_size(v, vlen, 0);
    if (clen > MAX_REQUEST)
      return 0;
    if (c->len < hlen + clen)
      return 1; /* the body is still on its way */
    int close_after = 0;
    v = find_header(c->buf, hlen, "Connection", &vlen);
    if (v && vlen == 5 && strncasecmp(v, "close", 5) == 0)
      close_after = 1;

    /* request line: METHOD SP target SP version */
    const char *sp = memchr(c->buf, ' ', hlen);
    const char *target = sp ? sp + 1 : c->buf;
    const char *tend = memchr(target, ' ', hlen - (size_t)(target - c->buf));
    if (!sp || !tend)
      return 0;
    const char *q = memchr(target, '?', (size_t)(tend - target));
    const char *pend = q ? q : tend;
    size_t plen = (size_t)(pend - target);
    static const char chat[] = "/v1/chat/completions";
    int is_chat = plen >= sizeof chat - 1 &&
                  memcmp(pend - (sizeof chat - 1), chat, sizeof chat - 1) == 0;
    int quit = plen == 5 && memcmp(target, "/quit", 5) == 0;
    size_t size = is_chat ? 1024 : 3;
    v = find_header(c->buf, hlen, "X-Bench-Size", &vlen);
    if (v)
      size = parse_size(v, vlen, size);
    for (const char *p = q; p && p < tend; p++) {
      if ((p[0] == '?' || p[0] == '&') && tend - p > 5 &&
          memcmp(p + 1, "size=", 5) == 0) {
        size = parse_size(p + 6, (size_t)(tend - p - 6), size);
        break;
      }
    }
    const char *body = quit ? "bye\n" : body_for(is_chat, size);
    if (!body)
      return 0;
    size_t blen = quit ? 4 : strlen(body);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nx-request-id: req_bench\r\n"
                     "Connection: %s\r\n\r\n",
                     is_chat ? "application/json" : "text/plain", blen,
                     close_after || quit ? "close" : "keep-alive");
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, blen}};
    if (send_all(c->fd, iov, 2) != 0)
      return 0;
    size_t used = hlen + clen;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    if (quit)
      return 2;
    if (close_after)
      return 0;
  }
}

static void drop(struct client *cl, int *n, int i) {
  close(cl[i].fd);
  free(cl[i].buf);
  cl[i] = cl[*n - 1];
  (*n)--;
}

static int usage(void) {
  fprintf(stderr, "usage: mock_fast [--port P] [--port-file F] [--idle S] "
                  "[--max-seconds S]\n");
  return 2;
}

int main(int argc, char **argv) {
  int port = 0;
  double idle = 20, max_s = 900;
  const char *port_file = NULL;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc)
      return usage();
    if (strcmp(argv[i], "--port") == 0)
      port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--port-file") == 0)
      port_file = argv[++i];
    else if (strcmp(argv[i], "--idle") == 0)
      idle = atof(argv[++i]);
    else if (strcmp(argv[i], "--max-seconds") == 0)
      max_s = atof(argv[++i]);
    else
      return usage();
  }
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((unsigned short)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(ls, 128) != 0 ||
      getsockname(ls, (struct sockaddr *)&a, &alen) != 0) {
    perror("mock_fast: listen");
    return 1;
  }
  port = ntohs(a.sin_port);
  printf("%d\n", port);
  fflush(stdout);
  if (port_file) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
        rename(tmp, port_file) != 0) {
      perror("mock_fast: port file");
      return 1;
    }
  }

  struct client cl[MAX_CLIENTS];
  int ncl = 0;
  double start = now_s(), last = start;
  for (;;) {
    double t = now_s();
    if (t - last >= idle || t - start >= max_s)
      break;
    struct pollfd pf[MAX_CLIENTS + 1];
    pf[0].fd = ls;
    pf[0].events = ncl < MAX_CLIENTS ? POLLIN : 0;
    for (int i = 0; i < ncl; i++) {
      pf[i + 1].fd = cl[i].fd;
      pf[i + 1].events = POLLIN;
    }
    int wait_ms = (int)((idle - (t - last)) * 1000) + 1;
    int r = poll(pf, (nfds_t)ncl + 1, wait_ms);
    if (r < 0 && errno != EINTR)
      break;
    if (r <= 0)
      continue;
    last = now_s();
    /* clients first, from the end, so that drop() keeps indices valid */
    for (int i = ncl - 1; i >= 0; i--) {
      if (!pf[i + 1].revents)
        continue;
      struct client *c = &cl[i];
      if (c->cap - c->len < 65536) {
        size_t nc = c->cap * 2;
        char *nb = nc <= 2 * MAX_REQUEST ? realloc(c->buf, nc) : NULL;
        if (!nb) {
          drop(cl, &ncl, i);
          continue;
        }
        c->buf = nb;
        c->cap = nc;
      }
      ssize_t got = read(c->fd, c->buf + c->len, c->cap - c->len);
      if (got <= 0) {
        if (got < 0 && errno == EINTR)
          continue;
        drop(cl, &ncl, i);
        continue;
      }
      c->len += (size_t)got;
      int k = serve(c);
      if (k == 2) {
        for (int j = ncl - 1; j >= 0; j--)
          drop(cl, &ncl, j);
        close(ls);
        return 0;
      }
      if (k == 0)
        drop(cl, &ncl, i);
    }
    if (pf[0].revents & POLLIN) {
      int fd = accept(ls, NULL, NULL);
      if (fd >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        cl[ncl].fd = fd;
        cl[ncl].cap = 128 * 1024;
        cl[ncl].len = 0;
        cl[ncl].buf = malloc(cl[ncl].cap);
        if (cl[ncl].buf)
          ncl++;
        else
          close(fd);
      }
    }
  }
  for (int j = ncl - 1; j >= 0; j--)
    drop(cl, &ncl, j);
  close(ls);
  return 0;
}
