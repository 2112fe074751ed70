/* conn: watched connections on the app's thread (conn.h). */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "conn_sniff.h"
#include "preload/capture.h"
#include "preload/log.h"
#include "preload/worker.h"

/* A pending chunk is handed over when it would pass this size. */
#define AT_CHUNK_MAX (64 * 1024)
#define AT_CHUNK_FIRST 4096
/* Bytes of a request start kept while its request line is incomplete (a
 * client writing a byte at a time). */
#define AT_SNIFF_MAX 512
/* How far into a write the Host field is looked for. */
#define AT_HOST_SCAN 4096

enum { CONN_SNIFF, CONN_TRACKED, CONN_IGNORED, CONN_ENDED };

struct at_conn {
  const void *key; /* session pointer; NULL for a socket */
  int fd;          /* socket fd; -1 for a session */
  int state;
  uint64_t id;
  uint32_t seq; /* of the next chunk */
  uint16_t path;
  uint16_t flags;
  int tid; /* last thread that moved bytes */
  char scheme[8];
  char host[AT_CONN_HOST_MAX];
  char error[96]; /* last read/write failure; "" */
  struct at_conn_chunk *pend;
  struct at_conn *prev, *next; /* every live connection */
  size_t sniff_len;
  int64_t sniff_t;
  char sniff[AT_SNIFF_MAX];
};

AT_TLS int at_io_depth;
int at_conn_nsessions;
int at_conn_ntracked;
int at_conn_npending;
struct at_conn **at_conn_fd_tab;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct at_conn *all; /* list of live connections */
static uint64_t next_id = 1;
static int exit_registered;

/* ---- session hash: open addressing, linear probing ---- */

static struct at_conn **sess;
static size_t sess_cap; /* power of two, or 0 */

static size_t ptr_hash(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x;
}

static struct at_conn **sess_slot(const void *key) {
  if (!sess_cap)
    return NULL;
  for (size_t i = ptr_hash(key) & (sess_cap - 1);; i = (i + 1) & (sess_cap - 1))
    if (!sess[i] || sess[i]->key == key)
      return &sess[i];
}

static struct at_conn *sess_find(const void *key) {
  struct at_conn **s = sess_slot(key);
  return s ? *s : NULL;
}

static int sess_grow(void) {
  size_t ncap = sess_cap ? sess_cap * 2 : 64;
  struct at_conn **n = calloc(ncap, sizeof *n);
  if (!n)
    return -1;
  struct at_conn **old = sess;
  size_t ocap = sess_cap;
  sess = n;
  sess_cap = ncap;
  for (size_t i = 0; i < ocap; i++)
    if (old[i])
      *sess_slot(old[i]->key) = old[i];
  free(old);
  return 0;
}

static int sess_add(struct at_conn *c) {
  if (((size_t)at_conn_nsessions + 1) * 2 > sess_cap && sess_grow() != 0)
    return -1;
  *sess_slot(c->key) = c;
  __atomic_store_n(&at_conn_nsessions, at_conn_nsessions + 1, __ATOMIC_RELAXED);
  return 0;
}

/* Backward-shift deletion keeps probe chains whole without tombstones. */
static void sess_del(const void *key) {
  struct at_conn **s = sess_slot(key);
  if (!s || !*s)
    return;
  size_t i = (size_t)(s - sess), mask = sess_cap - 1;
  sess[i] = NULL;
  for (size_t j = (i + 1) & mask; sess[j]; j = (j + 1) & mask) {
    size_t home = ptr_hash(sess[j]->key) & mask;
    /* move j into the hole i when its home is not in (i, j] */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      sess[i] = sess[j];
      sess[j] = NULL;
      i = j;
    }
  }
  __atomic_store_n(&at_conn_nsessions, at_conn_nsessions - 1, __ATOMIC_RELAXED);
}

/* ---- chunks ---- */

static void pend_clear(struct at_conn *c) {
  if (c->pend) {
    free(c->pend);
    c->pend = NULL;
    __atomic_sub_fetch(&at_conn_npending, 1, __ATOMIC_RELAXED);
  }
}

static void exit_flush(void);

/* Hand the pending chunk (or an empty one, with flags) to the worker.
 * Under mu, so that the chunks of one connection enter the queue in
 * order. A chunk that cannot be queued leaves a gap in the numbering:
 * the core stops following the connection and says why. */
static void flush(struct at_conn *c, int force) {
  struct at_conn_chunk *k = c->pend;
  if (!k && !force)
    return;
  if (k) {
    c->pend = NULL;
    __atomic_sub_fetch(&at_conn_npending, 1, __ATOMIC_RELAXED);
  } else {
    k = calloc(1, sizeof *k);
    if (!k) {
      c->seq++;
      AT_COUNT(dropped_oom);
      return;
    }
  }
  k->conn_id = c->id;
  k->seq = c->seq++;
  k->path = c->path;
  k->flags = c->flags;
  memcpy(k->scheme, c->scheme, sizeof k->scheme);
  memcpy(k->host, c->host, sizeof k->host);
  struct at_capture *cap = calloc(1, sizeof *cap);
  if (!cap) {
    free(k);
    AT_COUNT(dropped_oom);
    return;
  }
  cap->kind = AT_CAPTURE_CONN_BYTES;
  cap->conn = k;
  cap->tid = c->tid;
  at_worker_submit(cap);
  if (!exit_registered) {
    /* After the worker's own atexit handler (registered by the first
     * submit), so that ours runs first: pending bytes, then the drain. */
    exit_registered = 1;
    atexit(exit_flush);
  }
}

static void exit_flush(void) {
  pthread_mutex_lock(&mu);
  for (struct at_conn *c = all; c; c = c->next)
    flush(c, 0);
  pthread_mutex_unlock(&mu);
}

void at_conn_harvest(void) {
  pthread_mutex_lock(&mu);
  for (struct at_conn *c = all; c; c = c->next)
    flush(c, 0);
  pthread_mutex_unlock(&mu);
}

/* Make room for one record of n bytes; NULL when out of memory (then the
 * connection has a gap). */
static unsigned char *reserve(struct at_conn *c, size_t n) {
  size_t need = at_conn_rec_size(n);
  if (c->pend && c->pend->len + need > AT_CHUNK_MAX)
    flush(c, 0);
  struct at_conn_chunk *k = c->pend;
  if (!k) {
    size_t cap = need > AT_CHUNK_FIRST ? need : AT_CHUNK_FIRST;
    k = malloc(sizeof *k + cap);
    if (!k)
      goto oom;
    memset(k, 0, sizeof *k);
    k->cap = cap;
    c->pend = k;
    if (__atomic_add_fetch(&at_conn_npending, 1, __ATOMIC_SEQ_CST) == 1)
      at_worker_poke();
  } else if (k->len + need > k->cap) {
    size_t cap = k->cap * 2;
    if (cap < k->len + need)
      cap = k->len + need;
    if (cap > AT_CHUNK_MAX && k->len + need <= AT_CHUNK_MAX)
      cap = AT_CHUNK_MAX;
    struct at_conn_chunk *nk = realloc(k, sizeof *k + cap);
    if (!nk)
      goto oom;
    nk->cap = cap;
    c->pend = k = nk;
  }
  unsigned char *p = k->data + k->len;
  k->len += need;
  return p;
oom:
  AT_COUNT(dropped_oom);
  flush(c, 0);
  c->seq++; /* the core will see the gap */
  return NULL;
}

static void add_iov(struct at_conn *c, int type, const struct iovec *iov,
                    int cnt, size_t n, int64_t t) {
  unsigned char *p = reserve(c, n);
  if (!p)
    return;
  struct at_conn_rec_hdr h = {(uint32_t)type, (uint32_t)n, t};
  memcpy(p, &h, sizeof h);
  p += sizeof h;
  for (int i = 0; i < cnt && n; i++) {
    size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;
    memcpy(p, iov[i].iov_base, k);
    p += k;
    n -= k;
  }
}

static void add_bytes(struct at_conn *c, int type, const void *buf, size_t n,
                      int64_t t) {
  struct iovec v = {(void *)buf, n};
  add_iov(c, type, &v, 1, n, t);
}

/* The end of a tracked connection: the close record, and the chunk. */
static void end_tracked(struct at_conn *c, const char *why) {
  if (c->state == CONN_TRACKED) {
    const char *r = why ? why : c->error;
    add_bytes(c, AT_REC_CLOSE, r, strlen(r), at_wall_ns());
    flush(c, 1);
  }
  pend_clear(c);
  if (c->state == CONN_TRACKED)
    __atomic_sub_fetch(&at_conn_ntracked, 1, __ATOMIC_RELAXED);
  c->state = CONN_ENDED;
}

/* ---- life of a connection ---- */

static struct at_conn *conn_new(int path, const void *key, int fd) {
  struct at_conn *c = calloc(1, sizeof *c);
  if (!c) {
    AT_COUNT(dropped_oom);
    return NULL;
  }
  c->key = key;
  c->fd = fd;
  c->path = (uint16_t)path;
  c->id = next_id++;
  snprintf(c->scheme, sizeof c->scheme, "%s",
           path == AT_CONN_SOCKET ? "http" : "https");
  c->next = all;
  if (all)
    all->prev = c;
  all = c;
  return c;
}

static void conn_free(struct at_conn *c) {
  pend_clear(c);
  if (c->state == CONN_TRACKED)
    __atomic_sub_fetch(&at_conn_ntracked, 1, __ATOMIC_RELAXED);
  if (c->prev)
    c->prev->next = c->next;
  else
    all = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c);
}

/* Is the connection's host itself a known LLM host? Then every exchange
 * on it is watched, without sniffing. */
static int host_is_llm(const struct at_conn *c) {
  char url[AT_CONN_HOST_MAX + 16];
  struct at_match m;
  if (!c->host[0])
    return 0;
  snprintf(url, sizeof url, "%s://%s/", c->scheme, c->host);
  return at_match_url(url, &m);
}

static void start_tracking(struct at_conn *c) {
  c->state = CONN_TRACKED;
  __atomic_add_fetch(&at_conn_ntracked, 1, __ATOMIC_RELAXED);
  /* An empty first chunk: the worker starts (and with it the harvest of
   * pending bytes), and the core opens its side of the connection. */
  flush(c, 1);
  AT_DBG("watching %s connection to %s",
         c->path == AT_CONN_OPENSSL  ? "OpenSSL"
         : c->path == AT_CONN_GNUTLS ? "GnuTLS"
                                     : "socket",
         c->host[0] ? c->host : "(unknown host)");
}

/* HTTP/2 (ALPN h2, or the client wrote the preface): the request lines
 * are inside HPACK, so the host alone decides. A known LLM host's
 * connection is tracked whole from here on, before its first byte: the
 * core's wire_h2 needs the preface and every header block (the HPACK
 * tables depend on all of them), and chooses the exchanges itself. Any
 * other h2 connection is never looked at again. */
static void saw_h2(struct at_conn *c) {
  c->flags |= AT_CHUNK_H2;
  if (host_is_llm(c))
    start_tracking(c);
  else
    c->state = CONN_IGNORED;
}

/* Gather up to n bytes of iov, from offset skip, into dst. */
static size_t gather(const struct iovec *iov, int cnt, size_t skip, char *dst,
                     size_t n) {
  size_t got = 0;
  for (int i = 0; i < cnt && got < n; i++) {
    size_t len = iov[i].iov_len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    size_t k = len - skip < n - got ? len - skip : n - got;
    memcpy(dst + got, (const char *)iov[i].iov_base + skip, k);
    got += k;
    skip = 0;
  }
  return got;
}

/* A write on a connection in SNIFF state. */
static void sniff_out(struct at_conn *c, const struct iovec *iov, int cnt,
                      size_t n, int64_t t) {
  size_t old = c->sniff_len;
  if (old == 0)
    c->sniff_t = t;
  size_t room = AT_SNIFF_MAX - old;
  size_t took = gather(iov, cnt, 0, c->sniff + old, n < room ? n : room);
  c->sniff_len += took;
  struct at_sniff_line l;
  enum at_sniff_result r = at_sniff_request_line(
      c->sniff, c->sniff_len, c->sniff_len == AT_SNIFF_MAX, &l);
  switch (r) {
  case AT_SNIFF_MORE:
    return;
  case AT_SNIFF_TLS:
    if (c->path == AT_CONN_SOCKET && old == 0)
      c->state = CONN_IGNORED; /* the TLS hooks see its plaintext */
    else
      c->sniff_len = 0;
    return;
  case AT_SNIFF_H2:
    c->sniff_len = 0;
    saw_h2(c);
    if (c->state == CONN_TRACKED) { /* from the preface's first byte on */
      if (old)
        add_bytes(c, AT_REC_OUT, c->sniff, old, c->sniff_t);
      add_iov(c, AT_REC_OUT, iov, cnt, n, t);
    }
    return;
  case AT_SNIFF_OTHER:
    c->sniff_len = 0;
    return;
  case AT_SNIFF_REQUEST:
    break;
  }
  /* The Host field, if it is in what we have: in this write when the
   * request started here (no copy beyond the sniff buffer is made), else
   * in the sniff buffer. */
  const char *host = NULL;
  size_t hlen = 0;
  char scan[AT_HOST_SCAN];
  if (old == 0 && cnt >= 1 && iov[0].iov_len >= n) {
    size_t k = n < AT_HOST_SCAN ? n : AT_HOST_SCAN;
    at_sniff_find_host(iov[0].iov_base, k, &host, &hlen);
  } else if (old == 0) {
    size_t k = gather(iov, cnt, 0, scan, n < AT_HOST_SCAN ? n : AT_HOST_SCAN);
    at_sniff_find_host(scan, k, &host, &hlen);
  } else {
    at_sniff_find_host(c->sniff, c->sniff_len, &host, &hlen);
  }
  struct at_match m;
  /* l points into the sniff buffer; it stays valid until sniff_len is
   * reset below. */
  /* A known host's other endpoints (GET /v1/models, /api/tags, /health)
   * do not start tracking: they cost this request line and nothing more. */
  int llm = at_sniff_match(&l, host, hlen, c->scheme, c->host, &m) &&
            m.api != AT_API_OTHER_LLM;
  c->sniff_len = 0;
  if (!llm)
    return;
  start_tracking(c);
  if (old)
    add_bytes(c, AT_REC_OUT, c->sniff, old, c->sniff_t);
  add_iov(c, AT_REC_OUT, iov, cnt, n, t);
}

static void conn_out(struct at_conn *c, const struct iovec *iov, int cnt,
                     size_t n) {
  int64_t t = at_wall_ns();
  c->tid = at_thread_id();
  if (c->state == CONN_TRACKED)
    add_iov(c, AT_REC_OUT, iov, cnt, n, t);
  else if (c->state == CONN_SNIFF)
    sniff_out(c, iov, cnt, n, t);
}

static void conn_in(struct at_conn *c, const struct iovec *iov, int cnt,
                    size_t n) {
  if (c->state != CONN_TRACKED)
    return;
  c->tid = at_thread_id();
  add_iov(c, AT_REC_IN, iov, cnt, n, at_wall_ns());
}

/* ---- fork ---- */

static void atfork_prepare(void) {
  pthread_mutex_lock(&mu);
}

static void atfork_parent(void) {
  pthread_mutex_unlock(&mu);
}

/* The child shares the parent's sockets and sessions, but not its view of
 * them: the parent goes on reading its exchanges, and half an exchange
 * here would be wrong. Forget everything; a request the child writes on
 * an inherited connection is sniffed afresh. */
static void atfork_child(void) {
  pthread_mutex_init(&mu, NULL);
  struct at_conn *c = all;
  while (c) {
    struct at_conn *next = c->next;
    if (c->fd >= 0 && at_conn_fd_tab)
      at_conn_fd_tab[c->fd] = NULL;
    free(c->pend);
    free(c);
    c = next;
  }
  all = NULL;
  at_conn_npending = 0;
  at_conn_ntracked = 0;
  if (sess)
    memset(sess, 0, sess_cap * sizeof *sess);
  at_conn_nsessions = 0;
  at_io_depth = 0;
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void register_fork(void) {
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- sessions ---- */

void at_conn_session_out(int path, const void *key, const void *buf, size_t n,
                         at_conn_meta_fn meta, void *arg) {
  if (!at_enabled())
    return;
  pthread_once(&fork_once, register_fork);
  struct iovec v = {(void *)buf, n};
  pthread_mutex_lock(&mu);
  struct at_conn *c = sess_find(key);
  if (!c) {
    c = conn_new(path, key, -1);
    if (c && sess_add(c) != 0) {
      conn_free(c);
      c = NULL;
    }
    if (c) {
      struct at_conn_meta m = {0};
      meta(key, arg, &m);
      memcpy(c->host, m.host, sizeof c->host);
      c->host[sizeof c->host - 1] = '\0';
      if (m.ignore)
        c->state = CONN_IGNORED;
      else if (m.h2)
        saw_h2(c);
    }
  }
  if (c)
    conn_out(c, &v, 1, n);
  pthread_mutex_unlock(&mu);
}

void at_conn_session_in(const void *key, const void *buf, size_t n) {
  struct iovec v = {(void *)buf, n};
  pthread_mutex_lock(&mu);
  struct at_conn *c = sess_find(key);
  if (c)
    conn_in(c, &v, 1, n);
  pthread_mutex_unlock(&mu);
}

void at_conn_session_failed(const void *key, const char *why) {
  pthread_mutex_lock(&mu);
  struct at_conn *c = sess_find(key);
  if (c && c->state == CONN_TRACKED)
    snprintf(c->error, sizeof c->error, "%s", why);
  pthread_mutex_unlock(&mu);
}

void at_conn_session_end(const void *key, int forget) {
  pthread_mutex_lock(&mu);
  struct at_conn *c = sess_find(key);
  if (c) {
    end_tracked(c, NULL);
    if (forget) {
      sess_del(key);
      conn_free(c);
    }
  }
  pthread_mutex_unlock(&mu);
}

/* ---- sockets ---- */

/* Ports of local model servers, watched on any address: Ollama 11434,
 * LM Studio 1234, llama.cpp's llama-server 8080, vLLM 8000, LiteLLM's
 * proxy 4000, text-generation-webui 5000, SGLang 30000; plus every port
 * named in AUTOTRACE_HOSTS (80 for an entry without one). */
static const int builtin_ports[] = {11434, 1234, 8080, 8000, 4000, 5000, 30000};
static unsigned char port_map[65536 / 8];
static pthread_once_t ports_once = PTHREAD_ONCE_INIT;

static void watch_port(long p) {
  if (p > 0 && p < 65536)
    port_map[p >> 3] |= (unsigned char)(1u << (p & 7));
}

/* AUTOTRACE_HOSTS is "host[:port]=provider,-host,...": the port of each
 * entry that is not an exclusion, 80 when it names none. (registry.c
 * validates the entries; a malformed one here only watches a port.) */
static long entry_port(const char *s, const char *e) {
  const char *colon = NULL;
  if (*s == '[') {
    const char *br = memchr(s, ']', (size_t)(e - s));
    if (!br || br + 1 >= e || br[1] != ':')
      return 80;
    colon = br + 1;
  } else {
    colon = memchr(s, ':', (size_t)(e - s));
    if (!colon)
      return 80;
  }
  char *end;
  long p = strtol(colon + 1, &end, 10);
  return end == e ? p : 0;
}

static void load_ports(void) {
  for (size_t i = 0; i < sizeof builtin_ports / sizeof builtin_ports[0]; i++)
    watch_port(builtin_ports[i]);
  const char *s = at_cfg.hosts;
  while (*s) {
    const char *e = s + strcspn(s, ",");
    const char *t = s;
    while (t < e && (*t == ' ' || *t == '\t'))
      t++;
    const char *eq = memchr(t, '=', (size_t)(e - t));
    if (t < e && *t != '-' && eq)
      watch_port(entry_port(t, eq));
    s = *e ? e + 1 : e;
  }
}

static void peer_text(const struct sockaddr *sa, char *out, size_t cap) {
  char ip[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const void *)sa;
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    snprintf(out, cap, "%s:%u", ip, ntohs(in->sin_port));
  } else {
    const struct sockaddr_in6 *in6 = (const void *)sa;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof ip);
      snprintf(out, cap, "%s:%u", ip, ntohs(in6->sin6_port));
    } else {
      inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
      snprintf(out, cap, "[%s]:%u", ip, ntohs(in6->sin6_port));
    }
  }
}

void at_conn_fd_connected(int fd, const struct sockaddr *sa, socklen_t len) {
  if (!sa || fd < 0 || fd >= AT_CONN_FD_CAP)
    return;
  int port;
  if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
    port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
  else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
    port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
  else
    return;
  if (!at_enabled())
    return;
  pthread_once(&ports_once, load_ports);
  if (!(port_map[port >> 3] & (1u << (port & 7))))
    return;
  int type = 0;
  socklen_t tl = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
      type != SOCK_STREAM)
    return;
  pthread_once(&fork_once, register_fork);
  pthread_mutex_lock(&mu);
  if (!at_conn_fd_tab) {
    struct at_conn **t = calloc(AT_CONN_FD_CAP, sizeof *t);
    if (!t) {
      pthread_mutex_unlock(&mu);
      AT_COUNT(dropped_oom);
      return;
    }
    __atomic_store_n(&at_conn_fd_tab, t, __ATOMIC_RELEASE);
  }
  struct at_conn *old = at_conn_fd_tab[fd];
  if (old) { /* closed behind our back (dup2, close_range): forget it */
    __atomic_store_n(&at_conn_fd_tab[fd], NULL, __ATOMIC_RELAXED);
    end_tracked(old, "the socket was replaced");
    conn_free(old);
  }
  struct at_conn *c = conn_new(AT_CONN_SOCKET, NULL, fd);
  if (c) {
    peer_text(sa, c->host, sizeof c->host);
    __atomic_store_n(&at_conn_fd_tab[fd], c, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&mu);
}

void at_conn_fd_io(int fd, int dir, const struct iovec *iov, int cnt,
                   size_t n) {
  pthread_mutex_lock(&mu);
  struct at_conn *c = at_conn_fd_tab[fd];
  if (c) {
    if (dir == AT_REC_OUT)
      conn_out(c, iov, cnt, n);
    else
      conn_in(c, iov, cnt, n);
  }
  pthread_mutex_unlock(&mu);
}

void at_conn_fd_result(int fd, ssize_t r, int err) {
  if (r < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR))
    return;
  pthread_mutex_lock(&mu);
  struct at_conn *c = at_conn_fd_tab[fd];
  if (c && c->state == CONN_TRACKED) {
    if (r < 0)
      snprintf(c->error, sizeof c->error, "socket: %s",
               strerrorname_np(err) ? strerrorname_np(err) : "error");
    else
      end_tracked(c, NULL); /* end of stream: the peer closed */
  }
  pthread_mutex_unlock(&mu);
}

void at_conn_fd_closing(int fd) {
  pthread_mutex_lock(&mu);
  struct at_conn *c = at_conn_fd_tab[fd];
  if (c) {
    __atomic_store_n(&at_conn_fd_tab[fd], NULL, __ATOMIC_RELAXED);
    end_tracked(c, NULL);
    conn_free(c);
  }
  pthread_mutex_unlock(&mu);
}
