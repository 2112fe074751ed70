/* core_conn: chunks of watched connections → wire_conn → exchanges. */
#include "core_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_chunk.h"
#include "log.h"
#include "wire/conn.h"

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
  struct wire_conn *w;
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

static void drain(struct cconn *cc, core_conn_emit_fn emit, void *arg) {
  for (struct wire_exchange *x; (x = wire_conn_next(cc->w));) {
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

static void note_state(struct cconn *cc) {
  const char *why = NULL;
  enum wire_state st = wire_conn_state(cc->w, &why);
  if (st == WIRE_HTTP1 || st == WIRE_IGNORED || st == WIRE_CLOSED ||
      cc->said_state)
    return;
  cc->said_state = 1;
  if (st == WIRE_H2) {
    counts.http2++;
    AT_DBG("%s connection to %s switched to HTTP/2: not decoded",
           path_name(cc->path), cc->host);
  } else {
    AT_DBG("%s connection to %s: no longer followed (%s)", path_name(cc->path),
           cc->host, why ? why : "?");
  }
}

static void conn_free(struct cconn *cc) {
  struct cconn **p = find(cc->id);
  if (*p == cc)
    *p = cc->next;
  wire_conn_free(cc->w);
  free(cc);
}

static void end_conn(struct cconn *cc, int64_t t, const char *why,
                     core_conn_emit_fn emit, void *arg) {
  wire_conn_close(cc->w, t, why);
  drain(cc, emit, arg);
  const struct wire_stats *st = wire_conn_stats(cc->w);
  counts.not_llm += st->skipped;
  conn_free(cc);
}

void core_conn_consume(const struct at_capture *c, core_conn_emit_fn emit,
                       void *arg) {
  const struct at_conn_chunk *k = c->conn;
  if (!k)
    return;
  struct cconn **slot = find(k->conn_id);
  struct cconn *cc = *slot;
  if (k->flags & AT_CHUNK_H2) {
    /* wire/h2 plugs in here: an h2 decoder instead of a wire_conn. */
    if (!cc) {
      counts.http2++;
      AT_DBG("HTTP/2 connection to %s (%s): not decoded", k->host,
             path_name(k->path));
    }
    return;
  }
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
    cc->w = wire_conn_new(&limits, interest, cc);
    if (!cc->w) {
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
    wire_conn_close(cc->w, t, why);
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
    wire_conn_feed(cc->w, h.type == AT_REC_OUT ? WIRE_OUT : WIRE_IN, p, h.len,
                   h.t_ns);
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
      free(cc);
    }
  }
  memset(&counts, 0, sizeof counts);
}
