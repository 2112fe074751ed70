/* conn: one HTTP/1.1 connection's two byte streams → HTTP exchanges.
 *
 * A pure library: no interposition, no threads, no global state. The
 * capture hooks (SSL_read/SSL_write, socket read/write) own one wire_conn
 * per connection they watch and feed it what the application wrote (OUT:
 * requests) and read (IN: responses), each piece with its arrival time.
 * Finished exchanges come out in request order through wire_conn_next().
 *
 *   struct wire_conn *c = wire_conn_new(NULL, is_llm, NULL);
 *   wire_conn_feed(c, WIRE_OUT, buf, n, now);      // in the write hook
 *   wire_conn_feed(c, WIRE_IN, buf, n, now);       // in the read hook
 *   for (struct wire_exchange *x; (x = wire_conn_next(c));) {
 *     struct at_exchange ex;
 *     wire_exchange_fill(x, "https", NULL, &ex);   // → providers
 *     ...
 *     wire_exchange_free(x);
 *   }
 *   wire_conn_close(c, now, NULL);                 // EOF: drain again
 *   wire_conn_free(c);
 *
 * Framing follows RFC 9112: Content-Length (conflicting values are an
 * error), chunked (extensions, trailers), close-delimited responses, no
 * response body for HEAD, 1xx, 204, 304; CONNECT 2xx opens a tunnel;
 * interim 1xx responses (100-continue) are kept with the final one;
 * pipelined requests are paired with responses first in, first out;
 * 101 Switching Protocols ends HTTP/1.1 on the connection. Bodies are
 * decoded (chunked, then gzip/deflate/br/zstd, stacked or not) as they
 * arrive, so the arrival marks of a streamed answer give its time to first
 * token. We never guess: a response with no request seen (the observation
 * began mid-connection), or framing we cannot follow, stops the parsing of
 * the connection for good (WIRE_LOST), and whatever was in flight comes out
 * marked partial with the reason.
 *
 * Memory is bounded by struct wire_limits; docs/wire.md gives the sums. */
#ifndef WIRE_CONN_H
#define WIRE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "providers/exchange.h"

enum wire_dir {
  WIRE_OUT = 0, /* bytes the application wrote: requests */
  WIRE_IN = 1   /* bytes it read: responses */
};

/* Zero in any field means its default. */
struct wire_limits {
  size_t max_head;    /* one header block; default 64 KiB */
  size_t max_body;    /* one decoded body; default 16 MiB */
  size_t max_pending; /* requests awaiting their response; default 16 */
  size_t max_done;    /* finished exchanges not yet taken; default 32 */
};

#define WIRE_DEFAULT_MAX_HEAD ((size_t)64 * 1024)
#define WIRE_DEFAULT_MAX_BODY ((size_t)16 * 1024 * 1024)
#define WIRE_DEFAULT_MAX_PENDING 16
#define WIRE_DEFAULT_MAX_DONE 32

/* What the interest predicate sees: spans of the request's header block,
 * not NUL-terminated. host is empty when the request had no Host field. */
struct wire_request {
  const char *method;
  size_t method_len;
  const char *target; /* origin-form "/v1/x?y", or absolute-form */
  size_t target_len;
  const char *host;
  size_t host_len;
};

/* Called once per request, when its header block is complete, before any
 * of its body is looked at. Return > 0 to capture the exchange (the value
 * is kept in wire_exchange.interest, e.g. an enum at_api), 0 to pass over
 * it (its bodies are framed but neither stored nor decoded, and it is not
 * returned by wire_conn_next), < 0 to stop watching the connection
 * (WIRE_IGNORED: every later byte costs one branch). Without a predicate
 * every exchange is captured with interest 1. */
typedef int (*wire_interest_fn)(void *arg, const struct wire_request *rq);

/* Write "scheme://host" + target into buf (absolute-form targets are
 * copied as they are). fallback_host stands in for a missing Host field.
 * Returns the length, or -1 when it does not fit (buf is then ""). For the
 * predicate: build the URL on the stack and ask at_match_url(). */
int wire_request_url(const struct wire_request *rq, const char *scheme,
                     const char *fallback_host, char *buf, size_t cap);

enum wire_state {
  WIRE_HTTP1 = 0, /* following HTTP/1.x */
  WIRE_UPGRADED,  /* 101 Switching Protocols: reason names the protocol
                     ("h2c", "websocket"); bytes after it are not ours */
  WIRE_TUNNEL,    /* CONNECT answered 2xx: a tunnel (TLS usually) */
  WIRE_H2,        /* the HTTP/2 connection preface was written */
  WIRE_LOST,      /* cannot follow the framing: reason says why */
  WIRE_IGNORED,   /* the predicate asked to stop watching */
  WIRE_CLOSED     /* wire_conn_close() was called while in WIRE_HTTP1 */
};

/* Exchange flags */
#define WIRE_X_UPGRADED 0x1    /* the exchange switched protocols (101) */
#define WIRE_X_TUNNEL 0x2      /* a CONNECT that opened a tunnel */
#define WIRE_X_NO_RESPONSE 0x4 /* the connection ended before any answer */
#define WIRE_X_EXPECT_100 0x8  /* the request had Expect: 100-continue */
#define WIRE_X_CONN_CLOSE 0x10 /* either side said Connection: close */
#define WIRE_X_H2 0x20         /* carried by HTTP/2 (wire_h2) */

struct wire_exchange {
  /* request */
  const char *method; /* NUL-terminated copies */
  const char *target;
  const char *host;     /* "" when the request had none */
  const char *req_head; /* the request's header block as written */
  size_t req_head_len;
  const char *req_fields; /* its field lines (inside req_head) */
  size_t req_fields_len;
  const char *req_body; /* decoded; never NULL, NUL-terminated */
  size_t req_body_len;
  int req_body_truncated; /* cut at max_body */
  const char *req_coding; /* codings undone, e.g. "gzip"; "" for none */

  /* response */
  int status;               /* final status; 0 when none arrived */
  const char *resp_headers; /* every header block received, interim 1xx
                               ones first, status lines included */
  size_t resp_headers_len;
  const char *resp_body; /* decoded; never NULL, NUL-terminated */
  size_t resp_body_len;
  int resp_body_truncated;
  const char *resp_coding;

  /* timings (the caller's clock, as passed to feed/close) */
  int64_t t_start_ns;      /* first byte of the request */
  int64_t t_first_byte_ns; /* first byte of the final response; 0 if none */
  int64_t t_end_ns;        /* the exchange finished (or was cut) */
  /* Decoded response bytes [0, offset) had arrived by t_ns. One mark per
   * feed that produced body bytes; past AT_MAX_CHUNK_MARKS the later marks
   * are thinned (every other one dropped), the first half kept exact. */
  struct at_chunk_mark marks[AT_MAX_CHUNK_MARKS];
  size_t nmarks;

  int interest;   /* the predicate's answer */
  unsigned flags; /* WIRE_X_* */
  int partial;    /* cut mid-way, framing or decoding error, unknown
                     coding, out of memory: see reason */
  char reason[128];
};

struct wire_stats {
  uint64_t exchanges; /* returned by wire_conn_next (or waiting there) */
  uint64_t skipped;   /* passed over: the predicate said 0 */
  uint64_t partial;   /* exchanges marked partial */
  uint64_t dropped;   /* finished while max_done were waiting: freed */
  uint64_t unmatched; /* responses with no request (mid-connection start) */
};

struct wire_conn;

/* limits may be NULL (defaults); interest may be NULL (capture all). */
struct wire_conn *wire_conn_new(const struct wire_limits *limits,
                                wire_interest_fn interest, void *arg);

/* Feed n bytes of one direction that arrived at t_ns. Returns how many
 * were taken as HTTP/1.x: n, or fewer when the connection stopped being
 * HTTP/1.1 within them (after a 101 or CONNECT 2xx response, the rest is
 * the new protocol's) or was lost; 0 once it is not WIRE_HTTP1. */
size_t wire_conn_feed(struct wire_conn *c, enum wire_dir dir, const void *p,
                      size_t n, int64_t t_ns);

/* The connection ended (EOF, error, SSL_free). reason NULL means an
 * orderly end of stream: a close-delimited response is then complete.
 * Otherwise (e.g. "ECONNRESET") the reason is recorded on every exchange
 * left in flight, which all come out partial. Feeding afterwards does
 * nothing. */
void wire_conn_close(struct wire_conn *c, int64_t t_ns, const char *reason);

/* The next finished exchange, oldest first, or NULL. The caller owns it. */
struct wire_exchange *wire_conn_next(struct wire_conn *c);

enum wire_state wire_conn_state(const struct wire_conn *c, const char **reason);
const struct wire_stats *wire_conn_stats(const struct wire_conn *c);

/* Frees the connection and every exchange not yet taken. */
void wire_conn_free(struct wire_conn *c);

void wire_exchange_free(struct wire_exchange *x);

/* Point an at_exchange at x's data (valid while x lives): method, url
 * (scheme "http" or "https" chosen by the caller; fallback_host when the
 * request had no Host), headers, bodies, status, times, marks. A partial
 * exchange gets transport_error -1 and its reason as the message.
 * capture_path is set to "wire"; the caller may overwrite it. Returns 0,
 * or -1 when the URL cannot be built (out of memory). */
int wire_exchange_fill(struct wire_exchange *x, const char *scheme,
                       const char *fallback_host, struct at_exchange *ex);

#endif
