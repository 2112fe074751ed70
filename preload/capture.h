/* capture: one exchange captured on the application's thread, handed to the
 * worker. The shim takes it (and its buffers) from the buffer pool or
 * allocates it, fills the owned buffers, and queues it; the core (on the
 * worker thread) parses it, and the worker gives it back to the pool
 * (at_capture_release, preload/bufpool.h) or frees it with
 * at_capture_free(). Both sides use the same libc allocator. */
#ifndef AT_CAPTURE_H
#define AT_CAPTURE_H

#include "providers/exchange.h"
#include "providers/providers.h"

struct at_conn_chunk;

/* What a capture carries. Only AT_CAPTURE_EXCHANGE has an exchange; the
 * others are context events the nesting engine needs (docs/nesting.md). */
enum at_capture_kind {
  AT_CAPTURE_EXCHANGE = 0, /* one HTTP exchange (ex, match, buffers) */
  AT_CAPTURE_SPAWN,        /* the thread started a child process: span_id
                              was handed to the child in TRACEPARENT;
                              method holds the program (argv[0]) */
  AT_CAPTURE_THREAD,       /* a thread was created (origin below) */
  AT_CAPTURE_CONN_BYTES    /* bytes of a watched TLS/socket connection
                              (conn below; conn_chunk.h) */
};

/* Return addresses of the calling thread, innermost first, taken on the
 * app's thread when the exchange started (or the event happened); the core
 * symbolizes them later (core_symbolize.h). nstack 0: none taken. */
#define AT_STACK_MAX 48

/* Bytes of short strings a capture holds itself (at_capture_set_str). */
#define AT_CAPTURE_STRS 320

/* Where a thread came from: the thread that called pthread_create() and
 * its stack and time at that call. creator_tid 0: unknown (the main
 * thread, or a thread created before the shim was active). */
struct at_thread_origin {
  int creator_tid;
  int64_t created_ns;
  uintptr_t stack[AT_STACK_MAX];
  unsigned nstack;
};

struct at_capture {
  struct at_capture *next; /* queue link */
  int kind;                /* enum at_capture_kind */
  struct at_exchange ex;   /* its pointers point into the buffers below */
  struct at_match match;   /* decided on the app's thread */
  int tid;                 /* thread that made the call */
  int64_t t_ns;            /* event time (AT_CAPTURE_SPAWN/_THREAD) */
  uintptr_t stack[AT_STACK_MAX];
  unsigned nstack;
  struct at_thread_origin origin; /* of tid (AT_CAPTURE_THREAD; may also
                                     be set on an exchange) */
  char span_id[17];               /* AT_CAPTURE_SPAWN: the span the child
                                     nests under (16 hex digits) */
  /* owned memory (free()d by at_capture_free); method and url may point
   * into strs instead (at_capture_set_str) */
  char *method, *url, *req_headers, *req_body, *resp_headers, *resp_body;
  char *error_msg;
  struct at_conn_chunk *conn; /* AT_CAPTURE_CONN_BYTES: owned, one block */
  /* allocated sizes of the four buffers above (0: unknown), so that the
   * shim can keep them for later exchanges (preload/bufpool.h) */
  size_t req_headers_cap, req_body_cap, resp_headers_cap, resp_body_cap;
  /* Room for short strings of the capture (an exchange's method and URL):
   * one malloc()ed copy fewer each, on the app's thread, and no free() of
   * app-thread memory on the writer's. */
  char strs[AT_CAPTURE_STRS];
  size_t strs_used;
};

/* Copy s into the capture's own room when it fits, else into malloc()ed
 * memory; NULL when out of memory. The copy lives as long as c. */
char *at_capture_set_str(struct at_capture *c, const char *s);

/* Free what method, url, error_msg and conn own (not the four buffers). */
void at_capture_free_strings(struct at_capture *c);

void at_capture_free(struct at_capture *c);

#endif
