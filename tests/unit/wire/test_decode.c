/* wire: Content-Encoding (and transfer codings) decoded as bytes arrive.
 * Fixtures are compressed at run time with zlib, brotli and zstd. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "wire/decode.h"

static const char *TEXT =
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\" world, this is a "
    "longer sentence to give the compressor something to do.\"}}]}\n\n"
    "data: [DONE]\n\n";

static const char *REQ = "POST /v1/chat/completions HTTP/1.1\r\n"
                         "Host: api.openai.com\r\nContent-Length: 2\r\n\r\n{}";

/* A response "Content-Encoding: <ce>" with body `body` (framed by length,
 * or chunked in 5-byte chunks). */
static char *response(const char *ce, const char *body, size_t n, int chunked,
                      size_t *len) {
  char head[256];
  if (!chunked) {
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     ce, n);
    return concat(head, (size_t)h, body, n, len);
  }
  int h = snprintf(head, sizeof head,
                   "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n",
                   ce);
  char *out = malloc((size_t)h + n * 3 + 64);
  cr_assert(out);
  memcpy(out, head, (size_t)h);
  size_t o = (size_t)h;
  for (size_t i = 0; i < n; i += 5) {
    size_t k = n - i < 5 ? n - i : 5;
    o += (size_t)sprintf(out + o, "%zx\r\n", k);
    memcpy(out + o, body + i, k);
    o += k;
    memcpy(out + o, "\r\n", 2);
    o += 2;
  }
  memcpy(out + o, "0\r\n\r\n", 5);
  *len = o + 5;
  return out;
}

static void expect_text(const struct wire_exchange *x, const char *want) {
  cr_assert_eq(x->partial, 0, "partial: %s", x->reason);
  cr_assert_eq(x->resp_body_len, strlen(want), "%zu vs %zu", x->resp_body_len,
               strlen(want));
  cr_assert(!memcmp(x->resp_body, want, x->resp_body_len));
}

static void one_coding(const char *kind, const char *ce, const char *shown) {
  size_t zn, rn;
  char *z = compress_with(kind, TEXT, strlen(TEXT), &zn);
  for (int chunked = 0; chunked < 2; chunked++) {
    char *resp = response(ce, z, zn, chunked, &rn);
    struct step s[] = {{WIRE_OUT, REQ, 0}, {WIRE_IN, resp, rn}};
    struct run r;
    check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r); /* 1 byte at a time too */
    cr_assert_eq(r.n, 1, "%s", kind);
    expect_text(r.x[0], TEXT);
    cr_assert_str_eq(r.x[0]->resp_coding, shown);
    run_free(&r);
    free(resp);
  }
  free(z);
}

Test(decode, gzip) {
  one_coding("gzip", "gzip", "gzip");
  one_coding("gzip", "x-gzip", "gzip");
}
Test(decode, deflate_zlib_wrapped) {
  one_coding("zlib", "deflate", "deflate");
}
Test(decode, deflate_raw) {
  one_coding("raw", "deflate", "deflate");
}
Test(decode, brotli) {
  one_coding("br", "br", "br");
}
Test(decode, zstd) {
  one_coding("zstd", "zstd", "zstd");
}
Test(decode, identity_is_nothing) {
  size_t rn;
  char *resp = response("identity", TEXT, strlen(TEXT), 1, &rn);
  struct step s[] = {{WIRE_OUT, REQ, 0}, {WIRE_IN, resp, rn}};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  expect_text(r.x[0], TEXT);
  cr_assert_str_eq(r.x[0]->resp_coding, "");
  run_free(&r);
  free(resp);
}

Test(decode, stacked_in_reverse_order) {
  /* "Content-Encoding: gzip, br": gzip was applied first, br last */
  size_t gn, bn, zn, rn;
  char *g = compress_with("gzip", TEXT, strlen(TEXT), &gn);
  char *b = compress_with("br", g, gn, &bn);
  char *z = compress_with("zstd", b, bn, &zn);
  char *resp = response("gzip, br", b, bn, 0, &rn);
  struct step s[] = {{WIRE_OUT, REQ, 0}, {WIRE_IN, resp, rn}};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  expect_text(r.x[0], TEXT);
  cr_assert_str_eq(r.x[0]->resp_coding, "gzip, br");
  run_free(&r);
  free(resp);

  /* the same over two fields, plus a transfer coding under chunked */
  char head[256];
  int h = snprintf(head, sizeof head,
                   "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                   "Content-Encoding: br\r\nTransfer-Encoding: zstd, chunked"
                   "\r\n\r\n%zx\r\n",
                   zn);
  size_t n1, n2;
  char *a = concat(head, (size_t)h, z, zn, &n1);
  char *full = concat(a, n1, "\r\n0\r\n\r\n", 7, &n2);
  struct step t[] = {{WIRE_OUT, REQ, 0}, {WIRE_IN, full, n2}};
  check_splits(t, NSTEPS(t), NULL, NULL, NULL, &r);
  expect_text(r.x[0], TEXT);
  cr_assert_str_eq(r.x[0]->resp_coding, "gzip, br, zstd");
  run_free(&r);
  free(a);
  free(full);
  free(g);
  free(b);
  free(z);
}

Test(decode, request_bodies_too) {
  /* Codex sends zstd request bodies */
  const char *json = "{\"model\":\"gpt-5\",\"input\":\"hi\"}";
  size_t zn, qn;
  char *z = compress_with("zstd", json, strlen(json), &zn);
  char head[256];
  int h = snprintf(head, sizeof head,
                   "POST /v1/responses HTTP/1.1\r\nHost: chatgpt.com\r\n"
                   "Content-Encoding: zstd\r\nContent-Length: %zu\r\n\r\n",
                   zn);
  char *req = concat(head, (size_t)h, z, zn, &qn);
  struct step s[] = {{WIRE_OUT, req, qn},
                     IN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.x[0]->partial, 0, "%s", r.x[0]->reason);
  cr_assert_eq(r.x[0]->req_body_len, strlen(json));
  cr_assert(!memcmp(r.x[0]->req_body, json, strlen(json)));
  cr_assert_str_eq(r.x[0]->req_coding, "zstd");
  run_free(&r);
  free(req);
  free(z);
}

/* Streamed and flushed after each event: each event must come out of the
 * decoder in the feed that brought its compressed bytes. */
static void streamed(const char *kind, const char *ce) {
  const char *events[] = {"data: {\"n\":1}\n\n",
                          "data: {\"n\":2,\"x\":\"ab\"}\n\n",
                          "data: {\"n\":3}\n\n", "data: [DONE]\n\n"};
  size_t k = 4;
  char *parts[4];
  size_t part_n[4];
  compress_pieces(kind, events, k, parts, part_n);
  struct wire_conn *c = wire_conn_new(NULL, NULL, NULL);
  wire_conn_feed(c, WIRE_OUT, REQ, strlen(REQ), 1);
  char head[128];
  int h = snprintf(head, sizeof head,
                   "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\n"
                   "Content-Type: text/event-stream\r\n\r\n",
                   ce);
  wire_conn_feed(c, WIRE_IN, head, (size_t)h, 2);
  for (size_t i = 0; i < k; i++)
    wire_conn_feed(c, WIRE_IN, parts[i], part_n[i], 10 + (int64_t)i);
  wire_conn_close(c, 20, NULL);
  struct wire_exchange *x = wire_conn_next(c);
  cr_assert(x);
  cr_assert_eq(x->partial, 0, "%s: %s", kind, x->reason);
  size_t cum = 0;
  for (size_t i = 0; i < k; i++) {
    cum += strlen(events[i]);
    int found = 0;
    for (size_t m = 0; m < x->nmarks; m++)
      if (x->marks[m].t_ns == 10 + (int64_t)i) {
        cr_assert_eq(x->marks[m].offset, cum, "%s: event %zu decoded late",
                     kind, i);
        found = 1;
      }
    cr_assert(found, "%s: no mark for feed %zu", kind, i);
    free(parts[i]);
  }
  cr_assert_eq(x->resp_body_len, cum);
  wire_exchange_free(x);
  wire_conn_free(c);
}

Test(decode, streamed_events_come_out_at_once) {
  streamed("gzip", "gzip");
  streamed("zlib", "deflate");
  streamed("raw", "deflate");
  streamed("br", "br");
  streamed("zstd", "zstd");
}

static void corrupted(const char *kind, const char *ce) {
  /* two flushed pieces; only the second is damaged, so the first must
   * come out whole before the error */
  static char one[4097], two[4097];
  for (size_t i = 0; i < 4096; i++) {
    one[i] = (char)('a' + (i * 7 + i / 13) % 26);
    two[i] = (char)('A' + (i * 5 + i / 11) % 26);
  }
  const char *pieces[2] = {one, two};
  char *parts[2];
  size_t part_n[2], zn, rn;
  compress_pieces(kind, pieces, 2, parts, part_n);
  for (size_t i = 2; i + 4 < part_n[1]; i++)
    parts[1][i] ^= 0x5a;
  char *z = concat(parts[0], part_n[0], parts[1], part_n[1], &zn);
  char *resp = response(ce, z, zn, 0, &rn);
  struct step s[] = {{WIRE_OUT, REQ, 0},
                     {WIRE_IN, resp, rn},
                     OUT("GET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
                     IN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")};
  /* How much garbage a damaged block yields before the library notices
   * may depend on how the input was cut; the rest may not. */
  static const size_t splits[] = {0, 1, 2, 7};
  for (size_t k = 0; k < 4; k++) {
    struct run r;
    run_script(s, NSTEPS(s), splits[k], NULL, NULL, NULL, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.x[0]->partial, 1, "%s", kind);
    char want[32];
    snprintf(want, sizeof want, "response body: %s:", ce);
    cr_assert(!strncmp(r.x[0]->reason, want, strlen(want)), "%s",
              r.x[0]->reason);
    /* what was decoded before the error is kept */
    cr_assert_geq(r.x[0]->resp_body_len, 4096, "%s", kind);
    cr_assert(!memcmp(r.x[0]->resp_body, one, 4096));
    /* the connection goes on */
    cr_assert_eq(r.x[1]->partial, 0);
    run_free(&r);
  }
  free(resp);
  free(z);
  free(parts[0]);
  free(parts[1]);
}

Test(decode, corrupted_data_is_partial_with_prefix) {
  corrupted("gzip", "gzip");
  corrupted("zlib", "deflate");
  corrupted("raw", "deflate");
  corrupted("br", "br");
  corrupted("zstd", "zstd");
}

Test(decode, stream_cut_short) {
  const char *kinds[] = {"gzip", "raw", "br", "zstd"};
  const char *ces[] = {"gzip", "deflate", "br", "zstd"};
  for (int i = 0; i < 4; i++) {
    size_t zn, rn;
    char *z = compress_with(kinds[i], TEXT, strlen(TEXT), &zn);
    char *resp = response(ces[i], z, zn - 3, 0, &rn);
    struct step s[] = {{WIRE_OUT, REQ, 0}, {WIRE_IN, resp, rn}};
    struct run r;
    check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
    cr_assert_eq(r.n, 1);
    cr_assert(r.x[0]->partial, "%s", kinds[i]);
    cr_assert(strstr(r.x[0]->reason, "stream ends early"), "%s",
              r.x[0]->reason);
    /* the decoded prefix is kept */
    cr_assert_leq(r.x[0]->resp_body_len, strlen(TEXT));
    cr_assert(!memcmp(r.x[0]->resp_body, TEXT, r.x[0]->resp_body_len));
    run_free(&r);
    free(resp);
    free(z);
  }
}

Test(decode, bomb_stops_at_the_cap) {
  size_t big = (size_t)32 << 20, zn, rn;
  char *zeros = calloc(1, big);
  cr_assert(zeros);
  const char *kinds[] = {"gzip", "br", "zstd"};
  struct wire_limits lim = {.max_body = 1 << 20};
  for (int i = 0; i < 3; i++) {
    char *z = compress_with(kinds[i], zeros, big, &zn);
    cr_assert_lt(zn, 64 * 1024, "a bomb is small: %zu", zn);
    char *resp = response(kinds[i], z, zn, 0, &rn);
    struct step s[] = {{WIRE_OUT, REQ, 0},
                       {WIRE_IN, resp, rn},
                       OUT("GET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
                       IN("HTTP/1.1 204 No Content\r\n\r\n")};
    struct run r;
    run_script(s, NSTEPS(s), i == 0 ? 1 : 0, &lim, NULL, NULL, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.x[0]->resp_body_len, (size_t)1 << 20);
    cr_assert_eq(r.x[0]->resp_body_truncated, 1);
    cr_assert_eq(r.x[0]->partial, 0, "%s", r.x[0]->reason);
    cr_assert_eq(r.x[1]->status, 204);
    run_free(&r);
    free(resp);
    free(z);
  }
  /* through a chain: the intermediate stage is bounded too */
  size_t gn, bn;
  char *g = compress_with("gzip", zeros, big, &gn);
  char *b = compress_with("br", g, gn, &bn);
  char *resp = response("gzip, br", b, bn, 0, &rn);
  struct step s[] = {{WIRE_OUT, REQ, 0}, {WIRE_IN, resp, rn}};
  struct run r;
  run_script(s, NSTEPS(s), 0, &lim, NULL, NULL, &r);
  cr_assert_eq(r.x[0]->resp_body_len, (size_t)1 << 20);
  cr_assert(r.x[0]->resp_body_truncated);
  run_free(&r);
  free(resp);
  free(g);
  free(b);
  free(zeros);
}

Test(decode, unknown_coding_is_partial_and_framing_goes_on) {
  struct step s[] = {{WIRE_OUT, REQ, 0},
                     IN("HTTP/1.1 200 OK\r\nContent-Encoding: compress\r\n"
                        "Content-Length: 4\r\n\r\n\x1f\x9d\x90\x00"),
                     OUT("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
                     IN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 2);
  cr_assert_str_eq(r.x[0]->reason,
                   "response body: unknown content coding: compress");
  cr_assert_eq(r.x[0]->resp_body_len, 0);
  cr_assert_eq(r.x[1]->partial, 0);
  cr_assert_eq(r.x[1]->resp_body_len, 2);
  run_free(&r);
}

static int collect(void *arg, const char *p, size_t n) {
  struct dynbuf_like {
    char buf[256];
    size_t n;
  } *b = arg;
  cr_assert_leq(b->n + n, sizeof b->buf);
  memcpy(b->buf + b->n, p, n);
  b->n += n;
  return 0;
}

Test(decode, decoder_api) {
  struct {
    char buf[256];
    size_t n;
  } out = {{0}, 0};
  struct wire_decoder d;
  wire_decoder_init(&d, collect, &out, 0);
  cr_assert_eq(wire_decoder_add(&d, "gzip", 4), 0);
  cr_assert_eq(wire_decoder_add(&d, "BR", 2), 0);
  cr_assert_eq(wire_decoder_add(&d, "identity", 8), 0);
  cr_assert_eq(wire_decoder_add(&d, "zstd", 4), 0);
  cr_assert_eq(wire_decoder_add(&d, "deflate", 7), 0);
  cr_assert_eq(wire_decoder_add(&d, "gzip", 4), -1, "five is too many");
  cr_assert_str_eq(d.names, "gzip, br, zstd, deflate");
  wire_decoder_free(&d);

  /* two gzip members in a row are one body (RFC 1952) */
  size_t an, bn, n;
  char *a = compress_with("gzip", "first,", 6, &an);
  char *b = compress_with("gzip", "second", 6, &bn);
  char *both = concat(a, an, b, bn, &n);
  wire_decoder_init(&d, collect, &out, 0);
  wire_decoder_add(&d, "gzip", 4);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(wire_decoder_feed(&d, both + i, 1), 0);
  cr_assert_eq(wire_decoder_finish(&d), 0);
  cr_assert_eq(out.n, 12);
  cr_assert(!memcmp(out.buf, "first,second", 12));
  wire_decoder_free(&d);
  free(a);
  free(b);
  free(both);

  /* nothing fed: nothing to complain about; one byte of deflate is cut */
  wire_decoder_init(&d, collect, &out, 0);
  wire_decoder_add(&d, "deflate", 7);
  cr_assert_eq(wire_decoder_finish(&d), 0);
  wire_decoder_feed(&d, "x", 1);
  cr_assert_eq(wire_decoder_finish(&d), -1);
  wire_decoder_free(&d);
}
