/* core_conn: chunks of watched connections → wire_conn or wire_h2 →
 * exchanges. */
#include "core_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_chunk.h"
#include "log.h"
#include "wire/conn.h"
#include "wire/h2.h"

#define NBUCKETS 64

struct cconn {
  uint64_t id;
  uint32_t next_seq;
  int dead; /* given up: later bytes are ignored */
  int path;
  int tid;
  int said_state; /* a non-HTTP/1 state was logged */
  char scheme[8];
  char host[AT_CONN_HOST_MAX];
  /* Exactly one of them: w for HTTP/1.1, h2 for HTTP/2 (ALPN h2 or the
   * preface; a wire_conn that meets the preface hands over to a wire_h2). */
  struct wire_conn *w;
  struct wire_h2 *h2;
  struct cconn *next;
};

static struct cconn *buckets[NBUCKETS];
static struct wire_limits limits;
static struct core_conn_counts counts;

void core_conn_init(size_t max_body, const char *hosts) {
  limits.max_body = max_body;
  /* The core is loaded RTLD_LOCAL with its own copy of the registry: it
   * needs AUTOTRACE_HOSTS too (the shim reported any error already). */
  char err[256];
  if (hosts && hosts[0])
    at_hosts_configure(hosts, err, sizeof err);
}

static const char *path_name(int path) {
  switch (path) {
  case AT_CONN_OPENSSL:
    return "openssl";
  case AT_CONN_GNUTLS:
    return "gnutls";
  default:
    return "socket";
  }
}

/* wire's predicate: capture the requests whose URL is an endpoint the
 * parsers handle; pass over the rest (framed, never stored). */
static int interest(void *arg, const struct wire_request *rq) {
  const struct cconn *cc = arg;
  char url[4096];
  struct at_match m;
  if (wire_request_url(rq, cc->scheme, cc->host[0] ? cc->host : NULL, url,
                       sizeof url) < 0)
    return 0;
  if (!at_match_url(url, &m) || m.api == AT_API_OTHER_LLM)
    return 0;
  return (int)m.api;
}

static struct cconn **find(uint64_t id) {
  struct cconn **p = &buckets[id % NBUCKETS];
  while (*p && (*p)->id != id)
    p = &(*p)->next;
  return p;
}

static struct wire_exchange *next_exchange(struct cconn *cc) {
  return cc->h2 ? wire_h2_next(cc->h2) : cc->w ? wire_conn_next(cc->w) : NULL;
}

static void drain(struct cconn *cc, core_conn_emit_fn emit, void *arg) {
  for (struct wire_exchange *x; (x = next_exchange(cc));) {
    struct at_exchange ex;
    struct at_match m;
    if (wire_exchange_fill(x, cc->scheme, cc->host[0] ? cc->host : NULL, &ex) ==
        0) {
      ex.capture_path = path_name(cc->path);
      if (at_match_url(ex.url, &m) && m.api != AT_API_OTHER_LLM)
        emit(arg, &ex, &m, cc->tid);
      else
        counts.not_llm++;
    }
    wire_exchange_free(x);
  }
}

/* A connection wire stopped following is said once: logged, and for
 * HTTP/2 counted (its later exchanges are not seen). */
static void note_state(struct cconn *cc) {
  const char *why = NULL;
  if (!cc->h2 && !cc->w)
    return;
  enum wire_state st =
      cc->h2 ? wire_h2_state(cc->h2, &why) : wire_conn_state(cc->w, &why);
  if (st == WIRE_HTTP1 || st == WIRE_H2 || st == WIRE_IGNORED ||
      st == WIRE_CLOSED || cc->said_state)
    return;
  cc->said_state = 1;
  if (cc->h2) {
    if (wire_h2_stats(cc->h2)->undecodable)
      counts.h2_undecodable++;
    else
      counts.h2_lost++;
  }
  AT_DBG("%s connection to %s: no longer followed (%s)", path_name(cc->path),
         cc->host, why ? why : "?");
}

/* wire_conn saw the HTTP/2 preface (prior knowledge on a connection that
 * began as HTTP/1.1): it took the preface's first line, the rest of the
 * piece from `took` on belongs to HTTP/2 (docs/wire.md, "Handing over"). */
static void hand_over(struct cconn *cc, const unsigned char *p, size_t n,
                      size_t took, int64_t t, core_conn_emit_fn emit,
                      void *arg) {
  struct wire_h2 *h2 = wire_h2_new(&limits, interest, cc);
  drain(cc, emit, arg);
  counts.not_llm += wire_conn_stats(cc->w)->skipped;
  wire_conn_free(cc->w);
  cc->w = NULL;
  if (!h2) { /* out of memory: nothing more of this connection */
    cc->dead = 1;
    return;
  }
  cc->h2 = h2;
  wire_h2_feed(h2, WIRE_OUT, WIRE_H2_PREFACE, 16, t);
  if (took < n)
    wire_h2_feed(h2, WIRE_OUT, p + took, n - took, t);
}

static void feed(struct cconn *cc, const struct at_conn_rec_hdr *h,
                 const unsigned char *p, core_conn_emit_fn emit, void *arg) {
  enum wire_dir dir = h->type == AT_REC_OUT ? WIRE_OUT : WIRE_IN;
  if (cc->h2) {
    wire_h2_feed(cc->h2, dir, p, h->len, h->t_ns);
    return;
  }
  size_t took = wire_conn_feed(cc->w, dir, p, h->len, h->t_ns);
  if (dir == WIRE_OUT && wire_conn_state(cc->w, NULL) == WIRE_H2)
    hand_over(cc, p, h->len, took, h->t_ns, emit, arg);
}

static void conn_free(struct cconn *cc) {
  struct cconn **p = find(cc->id);
  if (*p == cc)
    *p = cc->next;
  wire_conn_free(cc->w);
  wire_h2_free(cc->h2);
  free(cc);
}

static void close_wire(struct cconn *cc, int64_t t, const char *why) {
  if (cc->h2)
    wire_h2_close(cc->h2, t, why);
  else if (cc->w)
    wire_conn_close(cc->w, t, why);
}

static void end_conn(struct cconn *cc, int64_t t, const char *why,
                     core_conn_emit_fn emit, void *arg) {
  close_wire(cc, t, why);
  drain(cc, emit, arg);
  if (cc->h2) {
    const struct wire_h2_stats *st = wire_h2_stats(cc->h2);
    counts.not_llm += st->skipped;
    counts.h2_dropped += st->dropped;
  } else if (cc->w) {
    counts.not_llm += wire_conn_stats(cc->w)->skipped;
  }
  conn_free(cc);
}

void core_conn_consume(const struct at_capture *c, core_conn_emit_fn emit,
                       void *arg) {
  const struct at_conn_chunk *k = c->conn;
  if (!k)
    return;
  struct cconn **slot = find(k->conn_id);
  struct cconn *cc = *slot;
  if (!cc) {
    cc = calloc(1, sizeof *cc);
    if (!cc)
      return;
    cc->id = k->conn_id;
    cc->path = k->path;
    memcpy(cc->scheme, k->scheme, sizeof cc->scheme);
    cc->scheme[sizeof cc->scheme - 1] = '\0';
    memcpy(cc->host, k->host, sizeof cc->host);
    cc->host[sizeof cc->host - 1] = '\0';
    if (k->flags & AT_CHUNK_H2)
      cc->h2 = wire_h2_new(&limits, interest, cc);
    else
      cc->w = wire_conn_new(&limits, interest, cc);
    if (!cc->w && !cc->h2) {
      free(cc);
      return;
    }
    *slot = cc;
  }
  cc->tid = c->tid;
  if (k->seq != cc->next_seq && !cc->dead) {
    /* Chunks went missing (queue full, out of memory): what is in flight
     * cannot be completed, and the stream cannot be followed again. */
    char why[96];
    snprintf(why, sizeof why, "capture lost %u chunk(s) of the connection",
             (unsigned)(k->seq - cc->next_seq));
    struct at_conn_rec_hdr h;
    const unsigned char *p;
    size_t off = 0;
    int64_t t = at_conn_chunk_next(k, &off, &h, &p) == 0 ? h.t_ns : 0;
    close_wire(cc, t, why);
    drain(cc, emit, arg);
    cc->dead = 1;
    counts.gaps++;
    AT_DBG("%s connection to %s: %s", path_name(cc->path), cc->host, why);
  }
  cc->next_seq = k->seq + 1;
  struct at_conn_rec_hdr h;
  const unsigned char *p;
  size_t off = 0;
  while (at_conn_chunk_next(k, &off, &h, &p) == 0) {
    if (h.type == AT_REC_CLOSE) {
      char why[128];
      size_t n = h.len < sizeof why - 1 ? h.len : sizeof why - 1;
      memcpy(why, p, n);
      why[n] = '\0';
      end_conn(cc, h.t_ns, n ? why : NULL, emit, arg);
      return;
    }
    if (cc->dead)
      continue;
    feed(cc, &h, p, emit, arg);
    if (cc->dead)
      continue;
    drain(cc, emit, arg);
    note_state(cc);
  }
}

void core_conn_close_all(int64_t t_ns, const char *why, core_conn_emit_fn emit,
                         void *arg) {
  for (int i = 0; i < NBUCKETS; i++)
    while (buckets[i])
      end_conn(buckets[i], t_ns, why, emit, arg);
}

void core_conn_take_counts(struct core_conn_counts *out) {
  *out = counts;
  memset(&counts, 0, sizeof counts);
}

/* The parent's wire_conns were copied into the child: free their memory
 * (it is ours, single-threaded now), emit nothing. */
void core_conn_forget_all(void) {
  for (int i = 0; i < NBUCKETS; i++) {
    while (buckets[i]) {
      struct cconn *cc = buckets[i];
      buckets[i] = cc->next;
      wire_conn_free(cc->w);
      wire_h2_free(cc->h2);
      free(cc);
    }
  }
  memset(&counts, 0, sizeof counts);
}
