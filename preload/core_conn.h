/* core_conn: the worker's side of the TLS and socket capture paths.
 *
 * Receives the chunks the hooks copied (preload/conn_chunk.h), keeps one
 * wire_conn (wire/conn.h) per connection, or a wire_h2 (wire/h2.h) for one
 * that speaks HTTP/2, and feeds it the records in order; every exchange wire
 * finishes goes to `emit`, the same parse entry point as the curl path's
 * captures. Runs on the worker thread only. */
#ifndef AT_CORE_CONN_H
#define AT_CORE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "providers/exchange.h"
#include "providers/providers.h"

typedef void (*core_conn_emit_fn)(void *arg, const struct at_exchange *ex,
                                  const struct at_match *m, int tid);

struct core_conn_counts {
  uint64_t h2_undecodable; /* HTTP/2 connections whose start was not seen */
  uint64_t h2_lost;        /* HTTP/2 connections no longer followed (a
                              framing or HPACK error) */
  uint64_t h2_dropped;     /* HTTP/2 exchanges not captured: no room */
  uint64_t gaps;           /* connections given up: bytes lost on the way */
  uint64_t not_llm;        /* exchanges on watched connections passed over */
};

/* Limits for every later connection (max_body: AUTOTRACE_MAX_BODY), and
 * AUTOTRACE_HOSTS for the core's copy of the endpoint registry. */
void core_conn_init(size_t max_body, const char *hosts);

/* One AT_CAPTURE_CONN_BYTES capture. */
void core_conn_consume(const struct at_capture *c, core_conn_emit_fn emit,
                       void *arg);

/* Process exit: every connection still open ends with `why`; exchanges in
 * flight come out partial. */
void core_conn_close_all(int64_t t_ns, const char *why, core_conn_emit_fn emit,
                         void *arg);

/* Counts since the last call. */
void core_conn_take_counts(struct core_conn_counts *out);

/* fork() child: drop the parent's connections without emitting. */
void core_conn_forget_all(void);

#endif
