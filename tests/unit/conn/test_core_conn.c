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
