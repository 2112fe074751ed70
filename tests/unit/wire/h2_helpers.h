/* Helpers of the HTTP/2 tests: connections as lists of records (bytes of
 * one direction, or the end), run whole and cut into pieces; recorded
 * fixtures (the .h2rec files of tests/fixtures/wire/, made by
 * tests/tools/h2_record.py); and a frame builder with a real HPACK encoder
 * (libnghttp2's deflater) for hand-made sequences. */
#ifndef WIRE_TEST_H2_HELPERS_H
#define WIRE_TEST_H2_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "wire/h2.h"

/* A growable byte buffer. */
struct fb {
  char *p;
  size_t n, cap;
};
void fb_put(struct fb *b, const void *p, size_t n);
void fb_free(struct fb *b);

/* One record of a connection: dir WIRE_OUT / WIRE_IN, or H2_CLOSE (p is
 * the reason, may be NULL). */
#define H2_CLOSE 2
struct h2rec {
  int dir;
  char *p; /* owned */
  size_t n;
};

struct h2conn {
  struct h2rec *r;
  size_t n, cap;
};
void h2c_add(struct h2conn *c, int dir, const void *p, size_t n);
void h2c_close(struct h2conn *c, const char *reason);
void h2c_free(struct h2conn *c);
/* Load a fixture of tests/fixtures/wire/. */
void h2c_load(struct h2conn *c, const char *name);

#define H2RUN_MAX 64
struct h2run {
  int n;
  struct wire_exchange *x[H2RUN_MAX];
  char *desc[H2RUN_MAX];
  enum wire_state state;
  char reason[128];
  struct wire_h2_stats stats;
};

/* Feed every record cut into pieces of `split` bytes (0: whole), each
 * feed at the next time (1, 2, 3...), exchanges taken after every feed. */
void h2_run(const struct h2conn *c, size_t split, const struct wire_limits *lim,
            wire_interest_fn f, void *arg, struct h2run *r);
/* Run whole, then in 1, 2 and 7-byte pieces; assert the same exchanges
 * (describe()), state, reason and stats; leave the whole run in r. */
void h2_check_splits(const struct h2conn *c, const struct wire_limits *lim,
                     wire_interest_fn f, void *arg, struct h2run *r);
void h2_run_free(struct h2run *r);
/* The exchange whose target is `target` (asserts there is one). */
struct wire_exchange *h2_find(struct h2run *r, const char *target);

/* Frames. */
enum {
  T_DATA = 0,
  T_HEADERS = 1,
  T_PRIORITY = 2,
  T_RST = 3,
  T_SETTINGS = 4,
  T_PUSH = 5,
  T_PING = 6,
  T_GOAWAY = 7,
  T_WINDOW = 8,
  T_CONT = 9
};
void fb_frame(struct fb *b, int type, int flags, uint32_t sid, const void *p,
              size_t n);
/* A SETTINGS frame of (id, value) pairs; npairs 0 with ack for an ACK. */
void fb_settings(struct fb *b, int ack, const uint32_t *pairs, size_t npairs);
void fb_u32(struct fb *b, uint32_t v);

/* An HPACK block of "name", "value" pairs (NULL-terminated list) by a
 * real encoder. */
void hp_block(nghttp2_hd_deflater *d, struct fb *out, const char *const *nv);

/* The client preface + an empty SETTINGS, and the server's SETTINGS and
 * both ACKs: the start of every hand-made connection. */
void h2_start(struct h2conn *c);

#endif
