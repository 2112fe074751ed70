/* exch: building one captured exchange, shared by the HTTP/1.1 decoder
 * (conn.c) and the HTTP/2 decoder (h2.c). Private to wire/.
 *
 * An exchange under construction (struct wx) owns its request head, its
 * response header blocks and its two bodies. Body bytes go through the
 * content decoders (decode.h) into capped buffers, and every response
 * store leaves an arrival mark. When the exchange is finished,
 * wx_publish() points the public struct wire_exchange at the buffers; the
 * caller queues it (wx_queue) for wire_conn_next()/wire_h2_next(). Both
 * protocols hand out the same type, so wire_exchange_free() and
 * wire_exchange_fill() serve both. */
#ifndef WIRE_EXCH_H
#define WIRE_EXCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "wire/conn.h"
#include "wire/decode.h"
#include "wire/http1.h"

struct wx;

struct wx_body {
  struct dynbuf buf;
  struct wire_decoder *dec; /* NULL: identity */
  int stop;                 /* cap reached, or undecodable: pass the rest */
  int is_resp;              /* keep arrival marks */
  int64_t now;              /* time of the bytes being fed */
  struct wx *x;
};

/* The private side of an exchange; pub must stay first. */
struct wx {
  struct wire_exchange pub;
  struct dynbuf req_head, resp_heads;
  struct wx_body req, resp;
  size_t fields_off, fields_len; /* req_fields inside req_head */
  char req_coding[48], resp_coding[48];
  char *url;
  struct wx *next;
  char strings[]; /* method, target, host, each NUL-terminated */
};

/* A new exchange with copies of method, target and host (host may be
 * empty), empty buffers capped by lim (max_head for the head buffers,
 * max_body for the bodies), started at t_start. NULL when out of
 * memory. */
struct wx *wx_new(struct wire_span method, struct wire_span target,
                  struct wire_span host, const struct wire_limits *lim,
                  int64_t t_start);

/* Mark the exchange partial; the first reason given is kept. x may be
 * NULL (a passed-over exchange: nothing to mark). */
void wx_partial(struct wx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set up the decoding of one body from the codings its sender applied,
 * in order (codings_over: there were too many). An unknown coding, too
 * many, or no memory: the exchange is partial and the body is not
 * stored. */
void wx_body_codings(struct wx *x, int is_resp, const struct wire_span *codings,
                     int ncodings, int codings_over, size_t max_body);

/* Body bytes (as sent: still encoded) that arrived at `now`. */
void wx_body_data(struct wx *x, int is_resp, const char *p, size_t n,
                  int64_t now);

/* The body is complete: a stream cut before its end marker makes the
 * exchange partial. Frees the decoder. */
void wx_body_end(struct wx *x, int is_resp);

/* Finished: free the decoders, point pub at the buffers, t_end_ns at
 * least now. */
void wx_publish(struct wx *x, int64_t now);

/* Finished exchanges waiting to be taken, oldest first. */
struct wx_queue {
  struct wx *first, *last;
  size_t n;
};

/* Queue x, or free it when max are already waiting. Returns 0 when
 * queued, -1 when dropped. */
int wx_queue_push(struct wx_queue *q, struct wx *x, size_t max);
struct wx *wx_queue_pop(struct wx_queue *q);
void wx_queue_free(struct wx_queue *q);

#endif
