/* The worker's side of the TLS/socket paths (preload/core_conn.c): chunks
 * in order → wire → exchanges; a lost chunk ends the connection with a
 * reason; the end of the connection completes or cuts what is in flight. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload/capture.h"
#include "preload/conn_chunk.h"
#include "preload/core_conn.h"

#define MAXX 8
static struct {
  int n;
  char url[MAXX][256];
  char body[MAXX][256];
  int status[MAXX];
  int terr[MAXX];
  char why[MAXX][128];
  const char *path[MAXX];
} got;

static void emit(void *arg, const struct at_exchange *ex,
                 const struct at_match *m, int tid) {
  (void)arg;
  (void)m;
  (void)tid;
  cr_assert_lt(got.n, MAXX);
  snprintf(got.url[got.n], 256, "%s", ex->url);
  snprintf(got.body[got.n], 256, "%.*s", (int)ex->resp_body_len, ex->resp_body);
  got.status[got.n] = ex->status;
  got.terr[got.n] = ex->transport_error;
  snprintf(got.why[got.n], 128, "%s",
           ex->transport_error_msg ? ex->transport_error_msg : "");
  got.path[got.n] = ex->capture_path;
  got.n++;
}

static struct at_conn_chunk *chunk(uint64_t id, uint32_t seq) {
  struct at_conn_chunk *k = calloc(1, sizeof *k + 8192);
  k->conn_id = id;
  k->seq = seq;
  k->path = AT_CONN_SOCKET;
  k->cap = 8192;
  strcpy(k->scheme, "http");
  strcpy(k->host, "127.0.0.1:11434");
  return k;
}

static void rec(struct at_conn_chunk *k, int type, const char *s) {
  struct at_conn_rec_hdr h = {(uint32_t)type, (uint32_t)strlen(s), 1000};
  memcpy(k->data + k->len, &h, sizeof h);
  memcpy(k->data + k->len + sizeof h, s, strlen(s));
  k->len += at_conn_rec_size(strlen(s));
}

static void feed(struct at_conn_chunk *k) {
  struct at_capture c = {0};
  c.kind = AT_CAPTURE_CONN_BYTES;
  c.conn = k;
  core_conn_consume(&c, emit, NULL);
  free(k);
}

static const char REQ[] = "POST /api/chat HTTP/1.1\r\nHost: localhost:11434\r\n"
                          "Content-Length: 2\r\n\r\n{}";
static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

static void setup(void) {
  memset(&got, 0, sizeof got);
  core_conn_init(1 << 20, NULL);
}

Test(core_conn, exchange_across_chunks, .init = setup) {
  struct at_conn_chunk *k = chunk(1, 0);
  feed(k); /* the empty opening chunk */
  k = chunk(1, 1);
  rec(k, AT_REC_OUT, REQ);
  rec(k, AT_REC_IN, "HTTP/1.1 200 OK\r\nContent-Le");
  feed(k);
  cr_assert_eq(got.n, 0);
  k = chunk(1, 2);
  rec(k, AT_REC_IN, "ngth: 5\r\n\r\nhel");
  rec(k, AT_REC_IN, "lo");
  feed(k);
  cr_assert_eq(got.n, 1);
  cr_assert_str_eq(got.url[0], "http://localhost:11434/api/chat");
  cr_assert_str_eq(got.body[0], "hello");
  cr_assert_eq(got.status[0], 200);
  cr_assert_eq(got.terr[0], 0);
  cr_assert_str_eq(got.path[0], "socket");
  k = chunk(1, 3);
  rec(k, AT_REC_CLOSE, "");
  feed(k);
  cr_assert_eq(got.n, 1);
}

Test(core_conn, lost_chunk_cuts_the_exchange, .init = setup) {
  struct at_conn_chunk *k = chunk(2, 0);
  rec(k, AT_REC_OUT, REQ);
  feed(k);
  k = chunk(2, 2); /* seq 1 never arrived */
  rec(k, AT_REC_IN, RESP);
  feed(k);
  cr_assert_eq(got.n, 1);
  cr_assert_eq(got.terr[0], -1);
  cr_assert(strstr(got.why[0], "capture lost 1 chunk"), "%s", got.why[0]);
  /* Later bytes of the connection are ignored, its end is quiet. */
  k = chunk(2, 3);
  rec(k, AT_REC_OUT, REQ);
  rec(k, AT_REC_IN, RESP);
  rec(k, AT_REC_CLOSE, "");
  feed(k);
  cr_assert_eq(got.n, 1);
  struct core_conn_counts c;
  core_conn_take_counts(&c);
  cr_assert_eq(c.gaps, 1);
}

Test(core_conn, close_delimited_and_cut, .init = setup) {
  struct at_conn_chunk *k = chunk(3, 0);
  rec(k, AT_REC_OUT, REQ);
  rec(k, AT_REC_IN, "HTTP/1.1 200 OK\r\n\r\nuntil the end");
  rec(k, AT_REC_CLOSE, ""); /* orderly: the body is complete */
  feed(k);
  cr_assert_eq(got.n, 1);
  cr_assert_eq(got.terr[0], 0);
  cr_assert_str_eq(got.body[0], "until the end");
  k = chunk(4, 0);
  rec(k, AT_REC_OUT, REQ);
  rec(k, AT_REC_IN, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort");
  rec(k, AT_REC_CLOSE, "socket: ECONNRESET");
  feed(k);
  cr_assert_eq(got.n, 2);
  cr_assert_eq(got.terr[1], -1);
  cr_assert(strstr(got.why[1], "ECONNRESET"), "%s", got.why[1]);
}

Test(core_conn, exit_closes_what_is_open, .init = setup) {
  struct at_conn_chunk *k = chunk(5, 0);
  rec(k, AT_REC_OUT, REQ);
  rec(k, AT_REC_IN, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\npart");
  feed(k);
  cr_assert_eq(got.n, 0);
  core_conn_close_all(2000, "the process exited mid-exchange", emit, NULL);
  cr_assert_eq(got.n, 1);
  cr_assert(strstr(got.why[0], "the process exited"), "%s", got.why[0]);
}

Test(core_conn, other_endpoints_passed_over, .init = setup) {
  struct at_conn_chunk *k = chunk(6, 0);
  rec(k, AT_REC_OUT, "GET /api/tags HTTP/1.1\r\nHost: localhost:11434\r\n\r\n");
  rec(k, AT_REC_IN, RESP);
  rec(k, AT_REC_OUT, REQ);
  rec(k, AT_REC_IN, RESP);
  rec(k, AT_REC_CLOSE, "");
  feed(k);
  cr_assert_eq(got.n, 1);
  cr_assert_str_eq(got.url[0], "http://localhost:11434/api/chat");
  struct core_conn_counts c;
  core_conn_take_counts(&c);
  cr_assert_eq(c.not_llm, 1);
}

/* ---- HTTP/2 (wire_h2 behind the same emit path) ---- */

/* Frames and header blocks built by hand: HPACK literal fields without
 * indexing (RFC 7541 §6.2.2), so no encoder state is involved. */
struct h2buf {
  size_t n;
  unsigned char b[4096];
};

static void h2_put(struct h2buf *o, const void *p, size_t n) {
  if (!n)
    return; /* p may be NULL (an empty SETTINGS frame) */
  cr_assert_leq(o->n + n, sizeof o->b);
  memcpy(o->b + o->n, p, n);
  o->n += n;
}

static void h2_frame(struct h2buf *o, int type, int flags, unsigned sid,
                     const void *p, size_t n) {
  unsigned char h[9] = {(unsigned char)(n >> 16),   (unsigned char)(n >> 8),
                        (unsigned char)n,           (unsigned char)type,
                        (unsigned char)flags,       (unsigned char)(sid >> 24),
                        (unsigned char)(sid >> 16), (unsigned char)(sid >> 8),
                        (unsigned char)sid};
  h2_put(o, h, 9);
  h2_put(o, p, n);
}

/* A header block of name, value pairs (NULL-terminated list). */
static void h2_headers(struct h2buf *o, int flags, unsigned sid,
                       const char *const *nv) {
  struct h2buf blk = {0};
  for (; *nv; nv += 2) {
    unsigned char zero = 0, ln = (unsigned char)strlen(nv[0]),
                  lv = (unsigned char)strlen(nv[1]);
    h2_put(&blk, &zero, 1);
    h2_put(&blk, &ln, 1);
    h2_put(&blk, nv[0], ln);
    h2_put(&blk, &lv, 1);
    h2_put(&blk, nv[1], lv);
  }
  h2_frame(o, 1, flags | 0x4, sid, blk.b, blk.n); /* END_HEADERS */
}

static const char *const H2_REQ[] = {
    ":method",    "POST",           ":scheme",
    "https",      ":path",          "/v1/chat/completions",
    ":authority", "api.openai.com", NULL};
static const char *const H2_RESP[] = {":status", "200", "content-type",
                                      "application/json", NULL};

/* The client's side of one exchange on stream sid (preface first when
 * asked), and the server's. */
static void h2_client(struct h2buf *o, int preface, unsigned sid) {
  if (preface) {
    h2_put(o, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    h2_frame(o, 4, 0, 0, NULL, 0); /* SETTINGS */
  }
  h2_headers(o, 0, sid, H2_REQ);
  h2_frame(o, 0, 0x1, sid, "{}", 2); /* DATA, END_STREAM */
}

static void h2_server(struct h2buf *o, int settings, unsigned sid,
                      const char *body) {
  if (settings)
    h2_frame(o, 4, 0, 0, NULL, 0);
  h2_headers(o, 0, sid, H2_RESP);
  h2_frame(o, 0, 0x1, sid, body, strlen(body));
}

static void rec_n(struct at_conn_chunk *k, int type, const void *p, size_t n) {
  struct at_conn_rec_hdr h = {(uint32_t)type, (uint32_t)n, 1000};
  cr_assert_leq(k->len + at_conn_rec_size(n), k->cap);
  memcpy(k->data + k->len, &h, sizeof h);
  memcpy(k->data + k->len + sizeof h, p, n);
  k->len += at_conn_rec_size(n);
}

static struct at_conn_chunk *h2_chunk(uint64_t id, uint32_t seq) {
  struct at_conn_chunk *k = chunk(id, seq);
  k->path = AT_CONN_OPENSSL;
  k->flags = AT_CHUNK_H2;
  strcpy(k->scheme, "https");
  strcpy(k->host, "api.openai.com");
  return k;
}

Test(core_conn, h2_exchanges_emitted, .init = setup) {
  struct h2buf out = {0}, in = {0}, out2 = {0}, in2 = {0};
  h2_client(&out, 1, 1);
  h2_server(&in, 1, 1, "hello");
  h2_client(&out2, 0, 3);
  h2_server(&in2, 0, 3, "again");
  struct at_conn_chunk *k = h2_chunk(20, 0);
  feed(k); /* the empty opening chunk */
  k = h2_chunk(20, 1);
  rec_n(k, AT_REC_OUT, out.b, out.n);
  rec_n(k, AT_REC_IN, in.b, 20); /* cut mid-frame across chunks */
  feed(k);
  cr_assert_eq(got.n, 0);
  k = h2_chunk(20, 2);
  rec_n(k, AT_REC_IN, in.b + 20, in.n - 20);
  rec_n(k, AT_REC_OUT, out2.b, out2.n);
  rec_n(k, AT_REC_IN, in2.b, in2.n);
  rec_n(k, AT_REC_CLOSE, "", 0);
  feed(k);
  cr_assert_eq(got.n, 2);
  for (int i = 0; i < 2; i++) {
    cr_assert_str_eq(got.url[i], "https://api.openai.com/v1/chat/completions");
    cr_assert_eq(got.status[i], 200);
    cr_assert_eq(got.terr[i], 0, "%s", got.why[i]);
    cr_assert_str_eq(got.path[i], "openssl");
  }
  cr_assert_str_eq(got.body[0], "hello");
  cr_assert_str_eq(got.body[1], "again");
  struct core_conn_counts c;
  core_conn_take_counts(&c);
  cr_assert_eq(c.h2_undecodable + c.h2_lost + c.h2_dropped + c.gaps, 0);
}

Test(core_conn, h2_without_preface_is_counted, .init = setup) {
  /* The observation began mid-connection: no preface, never a guess. */
  struct h2buf out = {0}, in = {0};
  h2_client(&out, 0, 5);
  h2_server(&in, 0, 5, "hello");
  struct at_conn_chunk *k = h2_chunk(21, 0);
  rec_n(k, AT_REC_OUT, out.b, out.n);
  rec_n(k, AT_REC_IN, in.b, in.n);
  rec_n(k, AT_REC_CLOSE, "", 0);
  feed(k);
  cr_assert_eq(got.n, 0);
  struct core_conn_counts c;
  core_conn_take_counts(&c);
  cr_assert_eq(c.h2_undecodable, 1);
  cr_assert_eq(c.h2_lost, 0);
}

Test(core_conn, h2_lost_chunk_cuts_the_stream, .init = setup) {
  struct h2buf out = {0}, in = {0};
  h2_client(&out, 1, 1);
  h2_server(&in, 1, 1, "hello");
  struct at_conn_chunk *k = h2_chunk(22, 0);
  rec_n(k, AT_REC_OUT, out.b, out.n);
  feed(k);
  k = h2_chunk(22, 2); /* seq 1 never arrived */
  rec_n(k, AT_REC_IN, in.b, in.n);
  feed(k);
  cr_assert_eq(got.n, 1);
  cr_assert_eq(got.terr[0], -1);
  cr_assert(strstr(got.why[0], "capture lost 1 chunk"), "%s", got.why[0]);
  struct core_conn_counts c;
  core_conn_take_counts(&c);
  cr_assert_eq(c.gaps, 1);
}

Test(core_conn, h2_framing_error_is_counted, .init = setup) {
  /* DATA on stream 0 is a connection error: the decoder stops, the
   * request in flight comes out partial, the connection is counted. */
  struct h2buf out = {0}, in = {0};
  h2_client(&out, 1, 1);
  h2_frame(&in, 4, 0, 0, NULL, 0);
  h2_frame(&in, 0, 0, 0, "x", 1);
  struct at_conn_chunk *k = h2_chunk(23, 0);
  rec_n(k, AT_REC_OUT, out.b, out.n);
  rec_n(k, AT_REC_IN, in.b, in.n);
  rec_n(k, AT_REC_CLOSE, "", 0);
  feed(k);
  cr_assert_eq(got.n, 1);
  cr_assert_eq(got.terr[0], -1);
  struct core_conn_counts c;
  core_conn_take_counts(&c);
  cr_assert_eq(c.h2_lost, 1);
  cr_assert_eq(c.h2_undecodable, 0);
}

Test(core_conn, h2_prior_knowledge_handed_over, .init = setup) {
  /* A plain socket without the h2 flag whose client writes the preface
   * (prior-knowledge h2c): wire_conn hands over to wire_h2, here in the
   * middle of a record that began with the preface. */
  static const char *const req[] = {
      ":method",   "POST",       ":scheme",         "http", ":path",
      "/api/chat", ":authority", "localhost:11434", NULL};
  struct h2buf out = {0}, in = {0};
  h2_put(&out, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
  h2_frame(&out, 4, 0, 0, NULL, 0);
  h2_headers(&out, 0, 1, req);
  h2_frame(&out, 0, 0x1, 1, "{}", 2);
  h2_server(&in, 1, 1, "hello");
  struct at_conn_chunk *k = chunk(24, 0);
  rec_n(k, AT_REC_OUT, out.b, 10); /* the preface line split over writes */
  rec_n(k, AT_REC_OUT, out.b + 10, out.n - 10);
  rec_n(k, AT_REC_IN, in.b, in.n);
  rec_n(k, AT_REC_CLOSE, "", 0);
  feed(k);
  cr_assert_eq(got.n, 1);
  cr_assert_str_eq(got.url[0], "http://localhost:11434/api/chat");
  cr_assert_str_eq(got.body[0], "hello");
  cr_assert_eq(got.terr[0], 0, "%s", got.why[0]);
  cr_assert_str_eq(got.path[0], "socket");
}
