/* Helpers of the wire tests: scripted connections fed at several split
 * sizes, and compressed fixtures made at run time. */
#ifndef WIRE_TEST_HELPERS_H
#define WIRE_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "wire/conn.h"

/* One event of a connection: bytes written (WIRE_OUT) or read (WIRE_IN),
 * or the end of the connection (W_CLOSE; p is the reason, may be NULL). */
#define W_CLOSE 2
struct step {
  int dir;
  const char *p;
  size_t n; /* 0: strlen(p) */
};
#define OUT(s)                                                                 \
  { WIRE_OUT, s, sizeof(s) - 1 }
#define IN(s)                                                                  \
  { WIRE_IN, s, sizeof(s) - 1 }
#define CLOSE(r)                                                               \
  { W_CLOSE, r, 0 }
#define NSTEPS(a) (sizeof(a) / sizeof((a)[0]))

#define RUN_MAX 32

struct run {
  int n;
  struct wire_exchange *x[RUN_MAX];
  char *desc[RUN_MAX]; /* describe() of each */
  enum wire_state state;
  char reason[128];
  struct wire_stats stats;
  size_t feeds;     /* feed calls made */
  size_t taken_end; /* what the last feed returned */
};

/* Feed the script with every step cut into pieces of `split` bytes (0: in
 * one piece). Each feed gets the next time (1, 2, 3, ...). Exchanges are
 * taken after every feed. */
void run_script(const struct step *s, size_t n, size_t split,
                const struct wire_limits *lim, wire_interest_fn f, void *arg,
                struct run *r);
void run_free(struct run *r);

/* Run at split sizes whole, 1, 2 and 7, assert that all four give the same
 * exchanges (by describe()) and the same final state, and leave the
 * whole-piece run in *r. */
void check_splits(const struct step *s, size_t n, const struct wire_limits *lim,
                  wire_interest_fn f, void *arg, struct run *r);

/* Everything but the times, as one string (malloc'd). */
char *describe(const struct wire_exchange *x);

/* Compression with the libraries. kind: "gzip", "zlib", "raw", "br",
 * "zstd". Returns a malloc'd buffer. */
char *compress_with(const char *kind, const char *in, size_t n, size_t *out_n);

/* Streaming compression that flushes after each piece, so that each piece
 * can be decoded as soon as its compressed bytes arrive. parts[i] gets the
 * compressed bytes emitted for piece i (the last one also ends the
 * stream). Returns the total; caller frees each parts[i]. */
void compress_pieces(const char *kind, const char *const *pieces, size_t k,
                     char **parts, size_t *part_n);

/* Build "head + body" into a malloc'd buffer. */
char *concat(const char *a, size_t an, const char *b, size_t bn, size_t *n);

#endif
