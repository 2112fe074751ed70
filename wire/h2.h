/* h2: one HTTP/2 connection's two byte streams → HTTP exchanges (RFC 9113).
 *
 * The HTTP/2 counterpart of conn.h, for connections that negotiated h2 by
 * ALPN or whose client wrote the connection preface (prior knowledge). A
 * pure library: no interposition, threads, global state or clock. The
 * capture hooks own one wire_h2 per connection and feed it what the
 * application wrote (OUT: the client's frames) and read (IN: the
 * server's), each piece with its arrival time:
 *
 *   struct wire_h2 *c = wire_h2_new(NULL, is_llm, NULL);
 *   wire_h2_feed(c, WIRE_OUT, buf, n, now);        // in the write hook
 *   wire_h2_feed(c, WIRE_IN, buf, n, now);         // in the read hook
 *   for (struct wire_exchange *x; (x = wire_h2_next(c));) {
 *     struct at_exchange ex;
 *     wire_exchange_fill(x, "https", NULL, &ex);   // → providers
 *     ...
 *     wire_exchange_free(x);
 *   }
 *   wire_h2_close(c, now, NULL);                   // EOF: drain again
 *   wire_h2_free(c);
 *
 * Exchanges are the same struct wire_exchange as HTTP/1.1's (conn.h), so
 * wire_exchange_fill() and wire_exchange_free() serve both and the
 * providers see no difference: method, :path as the target, :authority
 * (or a host field) as the host, header blocks rendered as
 * "name: value\r\n" lines, the response's preceded by a status line
 * "HTTP/2 200\r\n", bodies decoded by their content-encoding as DATA
 * frames arrive, with arrival marks for time to first token.
 *
 * Frames of every type are read: DATA and HEADERS (padding, priority,
 * END_STREAM), CONTINUATION, RST_STREAM (the exchange is partial with the
 * error code's name), GOAWAY (streams above its last-stream-id are
 * partial), PUSH_PROMISE (counted; pushed responses are not captured),
 * SETTINGS (frame size, header table size), PING, WINDOW_UPDATE,
 * PRIORITY; unknown types are skipped. Header blocks are decoded with
 * libnghttp2's HPACK inflater, one per direction, every block in order
 * (the dynamic table depends on all of them).
 *
 * We never guess: a connection whose client preface we did not see (the
 * observation began mid-connection) is undecodable — counted, and its
 * state says why. A framing or HPACK error stops the decoding for good
 * (WIRE_LOST); what was in flight comes out partial with the reason.
 *
 * Memory is bounded by struct wire_limits (max_pending = streams tracked
 * at once); docs/wire.md gives the sums. */
#ifndef WIRE_H2_H
#define WIRE_H2_H

#include <stddef.h>
#include <stdint.h>

#include "wire/conn.h"

/* The client connection preface (RFC 9113 §3.4). */
#define WIRE_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define WIRE_H2_PREFACE_LEN 24

/* Streams tracked at once when wire_limits.max_pending is 0 (servers
 * commonly allow 100 concurrent streams; an exchange beyond this many in
 * flight is dropped and counted). */
#define WIRE_H2_DEFAULT_MAX_STREAMS 64

struct wire_h2_stats {
  uint64_t exchanges;   /* returned by wire_h2_next (or waiting there) */
  uint64_t skipped;     /* passed over: the predicate said 0 */
  uint64_t partial;     /* exchanges marked partial */
  uint64_t dropped;     /* no room: max_pending streams in flight, or
                           max_done waiting, or out of memory */
  uint64_t reset;       /* exchanges ended by RST_STREAM */
  uint64_t pushed;      /* PUSH_PROMISE frames (pushes not captured) */
  uint64_t malformed;   /* requests with no :method or :path: not captured */
  uint64_t unmatched;   /* a response on a stream never opened */
  uint64_t undecodable; /* 1: the connection's start was not seen */
  uint64_t frames;      /* frames read, both directions */
};

struct wire_h2;

/* limits may be NULL (defaults); interest may be NULL (capture all). The
 * predicate is called once per request, when its header block is
 * complete, with :method, :path (for CONNECT: :authority) and :authority
 * (or the host field); its answer means what it means for wire_conn. */
struct wire_h2 *wire_h2_new(const struct wire_limits *limits,
                            wire_interest_fn interest, void *arg);

/* Feed n bytes of one direction that arrived at t_ns. OUT must start with
 * the client preface. Returns how many bytes were followed: n, or fewer
 * when the connection could no longer be followed within them (see
 * wire_h2_state); 0 once it is not WIRE_H2. */
size_t wire_h2_feed(struct wire_h2 *c, enum wire_dir dir, const void *p,
                    size_t n, int64_t t_ns);

/* The connection ended. Every exchange still in flight comes out partial
 * with reason (NULL: "connection closed"). Feeding afterwards does
 * nothing. */
void wire_h2_close(struct wire_h2 *c, int64_t t_ns, const char *reason);

/* The next finished exchange, in the order they finished, or NULL. The
 * caller owns it (wire_exchange_free). */
struct wire_exchange *wire_h2_next(struct wire_h2 *c);

/* WIRE_H2 while following; WIRE_LOST (reason: what could not be
 * followed, or that the preface was not seen), WIRE_IGNORED, WIRE_CLOSED. */
enum wire_state wire_h2_state(const struct wire_h2 *c, const char **reason);
const struct wire_h2_stats *wire_h2_stats(const struct wire_h2 *c);

/* Frees the connection and every exchange not yet taken. */
void wire_h2_free(struct wire_h2 *c);

#endif
