/* wire: HTTP/1.1 framing of one connection, every case fed whole and in
 * pieces of 1, 2 and 7 bytes with identical results. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "wire/http1.h"

#define REQ_POST                                                               \
  "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"             \
  "Content-Type: application/json\r\nContent-Length: "                         \
  "11\r\n\r\n{\"a\":\"b\"}\n"                                                  \
  "\n"

static void body_is(const char *p, size_t n, const char *want) {
  cr_assert_eq(n, strlen(want), "body length %zu, want %zu: [%.*s]", n,
               strlen(want), (int)n, p);
  cr_assert(memcmp(p, want, n) == 0, "body [%.*s], want [%s]", (int)n, p, want);
}

Test(http1, content_length) {
  struct step s[] = {OUT(REQ_POST),
                     IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  struct wire_exchange *x = r.x[0];
  cr_assert_str_eq(x->method, "POST");
  cr_assert_str_eq(x->target, "/v1/chat/completions");
  cr_assert_str_eq(x->host, "api.openai.com");
  cr_assert_eq(x->status, 200);
  cr_assert_eq(x->partial, 0, "%s", x->reason);
  body_is(x->req_body, x->req_body_len, "{\"a\":\"b\"}\n\n");
  body_is(x->resp_body, x->resp_body_len, "hello");
  body_is(x->resp_headers, x->resp_headers_len,
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
  cr_assert(x->req_fields_len > 0);
  cr_assert(!strncmp(x->req_fields, "Host: api.openai.com\r\n", 22));
  cr_assert_eq(x->t_start_ns, 1);
  cr_assert_eq(x->t_first_byte_ns, 2);
  cr_assert_eq(x->t_end_ns, 2);
  cr_assert_eq(x->nmarks, 1);
  cr_assert_eq(x->marks[0].offset, 5);
  cr_assert_eq(r.state, WIRE_HTTP1);
  cr_assert_eq(r.stats.exchanges, 1);
  run_free(&r);
}

Test(http1, chunked_with_extensions_and_trailers) {
  struct step s[] = {OUT("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
                     IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5;name=value;q=\"a b\"\r\nhello\r\n"
                        "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                        "0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n"),
                     OUT("GET /y HTTP/1.1\r\nHost: h\r\n\r\n"),
                     IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\nabc\n0\n\n")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 2);
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len,
          "helloabcdefghijklmnopqrstuvwxyz");
  cr_assert_eq(r.x[0]->partial, 0);
  body_is(r.x[1]->resp_body, r.x[1]->resp_body_len, "abc");
  cr_assert_eq(r.x[1]->partial, 0, "%s", r.x[1]->reason);
  run_free(&r);
}

Test(http1, chunked_request_body) {
  struct step s[] = {
      OUT("POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n"
          "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n"
          "0\r\nTrailer-Field: x\r\n\r\n"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  body_is(r.x[0]->req_body, r.x[0]->req_body_len, "{\"a\":1}");
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "{}");
  run_free(&r);
}

Test(http1, close_delimited) {
  struct step s[] = {OUT("GET / HTTP/1.1\r\nHost: localhost:11434\r\n\r\n"),
                     IN("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                        "until the end"),
                     CLOSE(NULL)};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "until the end");
  cr_assert_eq(r.x[0]->partial, 0);
  cr_assert_eq(r.state, WIRE_CLOSED);
  run_free(&r);

  /* the same cut by an error: partial */
  struct step e[] = {OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                     IN("HTTP/1.1 200 OK\r\n\r\nsome"), CLOSE("ECONNRESET")};
  check_splits(e, NSTEPS(e), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.x[0]->partial, 1);
  cr_assert(strstr(r.x[0]->reason, "ECONNRESET"), "%s", r.x[0]->reason);
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "some");
  run_free(&r);
}

Test(http1, keep_alive_three_exchanges) {
  struct step s[] = {
      OUT("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nA"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\naa"),
      OUT("POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nB"),
      IN("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
         "2\r\nbb\r\n0\r\n\r\n"),
      OUT("\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n"),
      IN("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 3);
  cr_assert_str_eq(r.x[0]->target, "/a");
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "aa");
  cr_assert_str_eq(r.x[1]->target, "/b");
  cr_assert_eq(r.x[1]->status, 201);
  body_is(r.x[1]->resp_body, r.x[1]->resp_body_len, "bb");
  cr_assert_str_eq(r.x[2]->method, "GET");
  cr_assert_eq(r.x[2]->status, 404);
  cr_assert_eq(r.x[2]->resp_body_len, 0);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(r.x[i]->partial, 0);
  run_free(&r);
}

Test(http1, pipelining) {
  struct step s[] = {
      OUT("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
          "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\ntwo"
          "HEAD /3 HTTP/1.1\r\nHost: h\r\n\r\n"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
         "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nTWO"
         "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 3);
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "one");
  body_is(r.x[1]->req_body, r.x[1]->req_body_len, "two");
  body_is(r.x[1]->resp_body, r.x[1]->resp_body_len, "TWO");
  cr_assert_str_eq(r.x[2]->method, "HEAD");
  cr_assert_eq(r.x[2]->resp_body_len, 0);
  cr_assert_eq(r.x[2]->partial, 0);
  cr_assert_eq(r.state, WIRE_HTTP1);
  run_free(&r);
}

Test(http1, pipelining_bounded) {
  struct wire_limits lim = {.max_pending = 2};
  struct step s[] = {OUT("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                         "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
                         "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n")};
  struct run r;
  check_splits(s, NSTEPS(s), &lim, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_LOST);
  cr_assert(strstr(r.reason, "pipelined"));
  cr_assert_eq(r.n, 2);
  cr_assert(r.x[0]->partial && strstr(r.x[0]->reason, "no response"));
  run_free(&r);
}

Test(http1, expect_100_continue) {
  struct step s[] = {
      OUT("POST /v1/x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
          "Content-Length: 4\r\n\r\n"),
      IN("HTTP/1.1 100 Continue\r\n\r\n"), OUT("body"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  struct wire_exchange *x = r.x[0];
  cr_assert_eq(x->status, 200);
  cr_assert(x->flags & WIRE_X_EXPECT_100);
  body_is(x->req_body, x->req_body_len, "body");
  body_is(x->resp_body, x->resp_body_len, "ok");
  body_is(x->resp_headers, x->resp_headers_len,
          "HTTP/1.1 100 Continue\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
  cr_assert_eq(x->partial, 0);
  run_free(&r);

  /* 103 Early Hints and 102 before the answer; the final first byte is
   * the one that counts */
  struct step t[] = {OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                     IN("HTTP/1.1 102 Processing\r\n\r\n"),
                     IN("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"),
                     IN("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")};
  run_script(t, NSTEPS(t), 0, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.x[0]->status, 200);
  cr_assert_eq(r.x[0]->t_first_byte_ns, 4);
  run_free(&r);
}

Test(http1, no_body_statuses_and_head) {
  struct step s[] = {
      OUT("HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n"
         "Transfer-Encoding: chunked\r\n\r\n"),
      OUT("DELETE /b HTTP/1.1\r\nHost: h\r\n\r\n"),
      IN("HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"),
      OUT("GET /c HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\n\r\n"),
      IN("HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\n\r\n"),
      OUT("GET /d HTTP/1.1\r\nHost: h\r\n\r\n"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 4);
  cr_assert_eq(r.x[0]->status, 200);
  cr_assert_eq(r.x[1]->status, 204);
  cr_assert_eq(r.x[2]->status, 304);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(r.x[i]->resp_body_len, 0);
    cr_assert_eq(r.x[i]->partial, 0);
  }
  body_is(r.x[3]->resp_body, r.x[3]->resp_body_len, "last");
  run_free(&r);
}

Test(http1, content_length_rules) {
  /* identical duplicates are one value (RFC 9112 §6.3) */
  struct step ok[] = {
      OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n"
         "\r\nabc")};
  struct run r;
  check_splits(ok, NSTEPS(ok), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.x[0]->partial, 0);
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "abc");
  run_free(&r);

  struct step bad[] = {
      OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
         "abcd")};
  check_splits(bad, NSTEPS(bad), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.x[0]->partial, 1);
  cr_assert(strstr(r.x[0]->reason, "conflicting Content-Length"), "%s",
            r.x[0]->reason);
  cr_assert_eq(r.state, WIRE_LOST);
  run_free(&r);

  struct step req[] = {
      OUT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\nab")};
  check_splits(req, NSTEPS(req), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert(strstr(r.x[0]->reason, "request: invalid Content-Length"), "%s",
            r.x[0]->reason);
  run_free(&r);

  /* Transfer-Encoding overrides Content-Length */
  struct step te[] = {OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                      IN("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n"
                         "\r\n")};
  check_splits(te, NSTEPS(te), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "hi");
  cr_assert_eq(r.x[0]->partial, 0);
  run_free(&r);

  /* a request whose Transfer-Encoding does not end in chunked */
  struct step tr[] = {
      OUT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nxx")};
  check_splits(tr, NSTEPS(tr), NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_LOST);
  cr_assert_eq(r.n, 1);
  cr_assert(strstr(r.x[0]->reason, "chunked"));
  run_free(&r);
}

Test(http1, cut_mid_headers) {
  struct step s[] = {OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                     IN("HTTP/1.1 200 OK\r\nContent-Le"), CLOSE("EOF")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.x[0]->partial, 1);
  cr_assert_str_eq(r.x[0]->reason, "response headers cut: EOF");
  cr_assert_eq(r.x[0]->status, 0);
  run_free(&r);

  /* a request cut in its header block: kept once its request line is */
  struct step q[] = {OUT("POST /v1/chat/completions HTTP/1.1\r\nHost: a.b\r\n"
                         "Content-Ty"),
                     CLOSE(NULL)};
  check_splits(q, NSTEPS(q), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.x[0]->host, "a.b");
  cr_assert_str_eq(r.x[0]->reason, "request headers cut: connection closed");
  cr_assert(r.x[0]->flags & WIRE_X_NO_RESPONSE);
  run_free(&r);

  struct step q2[] = {OUT("POST /v1/chat/compl"), CLOSE(NULL)};
  check_splits(q2, NSTEPS(q2), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 0);
  run_free(&r);
}

Test(http1, cut_mid_body_and_mid_chunk) {
  struct step s[] = {OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                     IN("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"),
                     CLOSE("EOF")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.x[0]->reason, "response body cut: EOF");
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "01234");
  cr_assert_eq(r.x[0]->status, 200);
  run_free(&r);

  struct step c[] = {OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                     IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "a\r\n01234"),
                     CLOSE(NULL)};
  check_splits(c, NSTEPS(c), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.x[0]->reason,
                   "response body cut mid-chunk: connection closed");
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "01234");
  run_free(&r);

  /* request body cut after an early answer (413) */
  struct step q[] = {
      OUT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc"),
      IN("HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n"
         "Content-Length: 0\r\n\r\n"),
      CLOSE(NULL)};
  check_splits(q, NSTEPS(q), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.x[0]->status, 413);
  cr_assert(r.x[0]->flags & WIRE_X_CONN_CLOSE);
  cr_assert_str_eq(r.x[0]->reason, "request body cut: connection closed");
  run_free(&r);

  /* nothing came back */
  struct step n[] = {OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), CLOSE("EPIPE")};
  check_splits(n, NSTEPS(n), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.x[0]->reason, "no response: EPIPE");
  cr_assert(r.x[0]->flags & WIRE_X_NO_RESPONSE);
  run_free(&r);
}

Test(http1, bad_chunks) {
  static const char *bodies[] = {
      "zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n",
      "12345678901234567\r\n", "5 x\r\nhello\r\n0\r\n\r\n"};
  static const char *why[] = {"invalid chunk size", "missing CRLF",
                              "chunk size too large", "invalid chunk size"};
  for (size_t i = 0; i < 4; i++) {
    char resp[256];
    snprintf(resp, sizeof resp,
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s",
             bodies[i]);
    struct step s[] = {OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                       {WIRE_IN, resp, 0}};
    struct run r;
    check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
    cr_assert_eq(r.n, 1);
    cr_assert(r.x[0]->partial);
    cr_assert(strstr(r.x[0]->reason, why[i]), "%zu: %s", i, r.x[0]->reason);
    cr_assert_eq(r.state, WIRE_LOST);
    run_free(&r);
  }
}

Test(http1, headers_too_large) {
  struct wire_limits lim = {.max_head = 256};
  char big[600];
  memset(big, 'a', sizeof big);
  big[sizeof big - 1] = '\0';
  char resp[800];
  snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nX-Big: %s\r\n\r\n", big);
  struct step s[] = {OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                     {WIRE_IN, resp, 0}};
  struct run r;
  check_splits(s, NSTEPS(s), &lim, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.x[0]->reason, "response: headers too large");
  cr_assert_eq(r.state, WIRE_LOST);
  run_free(&r);

  char req[800];
  snprintf(req, sizeof req, "GET /q HTTP/1.1\r\nHost: h\r\nX-Big: %s\r\n\r\n",
           big);
  struct step q[] = {{WIRE_OUT, req, 0}};
  check_splits(q, NSTEPS(q), &lim, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.x[0]->target, "/q");
  cr_assert_str_eq(r.x[0]->reason, "request: headers too large");
  run_free(&r);
}

Test(http1, mid_connection_start) {
  /* a response first: never guess which request it answers */
  struct step s[] = {IN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                     OUT("GET / HTTP/1.1\r\nHost: h\r\n\r\n")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 0);
  cr_assert_eq(r.state, WIRE_LOST);
  cr_assert_eq(r.stats.unmatched, 1);
  cr_assert(strstr(r.reason, "without a request"));
  run_free(&r);

  /* the middle of a request body: not a request line */
  struct step b[] = {OUT("{\"model\":\"gpt\"}POST / HTTP/1.1\r\n\r\n")};
  check_splits(b, NSTEPS(b), NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_LOST);
  cr_assert_str_eq(r.reason, "not an HTTP/1.x request");
  cr_assert_eq(r.feeds, 1);
  cr_assert_eq(r.taken_end, 0, "refused before its first byte is kept");
  run_free(&r);

  /* binary protocols are rejected within a few bytes */
  struct step t[] = {{WIRE_OUT, "\x16\x03\x01\x02\x00", 5}};
  run_script(t, 1, 0, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_LOST);
  run_free(&r);
}

Test(http1, upgrade_and_tunnel) {
  struct step s[] = {
      OUT("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
          "Upgrade: websocket\r\n\r\n"),
      IN("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
         "Upgrade: websocket\r\n\r\n\x81\x05hello"),
      OUT("\x81\x85more")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.x[0]->status, 101);
  cr_assert(r.x[0]->flags & WIRE_X_UPGRADED);
  cr_assert_eq(r.x[0]->partial, 0);
  cr_assert_eq(r.state, WIRE_UPGRADED);
  cr_assert_str_eq(r.reason, "websocket");
  run_free(&r);
  /* in one piece, the feed says where HTTP/1.1 ended */
  run_script(s, 2, 0, NULL, NULL, NULL, &r);
  cr_assert_eq(r.taken_end, strlen(s[1].p) - 7);
  run_free(&r);

  /* h2c: the server declines, the connection stays HTTP/1.1 */
  struct step h[] = {
      OUT("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
          "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
      OUT("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n"),
      IN("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")};
  check_splits(h, NSTEPS(h), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 2);
  cr_assert_eq(r.state, WIRE_UPGRADED);
  cr_assert_str_eq(r.reason, "h2c");
  run_free(&r);

  struct step t[] = {
      OUT("CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n"
          "\r\n"),
      IN("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03"),
      OUT("\x16\x03\x01\x00")};
  check_splits(t, NSTEPS(t), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert(r.x[0]->flags & WIRE_X_TUNNEL);
  cr_assert_eq(r.state, WIRE_TUNNEL);
  run_free(&r);

  struct step p[] = {OUT("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")};
  check_splits(p, NSTEPS(p), NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_H2);
  cr_assert_eq(r.n, 0);
  run_free(&r);
}

/* The predicate: capture only POSTs to /v1/; "stop" stops watching. */
static int only_v1(void *arg, const struct wire_request *rq) {
  int *calls = arg;
  (*calls)++;
  if (rq->target_len >= 5 && !memcmp(rq->target, "/stop", 5))
    return -1;
  return rq->target_len >= 4 && !memcmp(rq->target, "/v1/", 4) ? 7 : 0;
}

Test(http1, interest_predicate_skips_cheaply) {
  struct step s[] = {
      OUT("GET /health HTTP/1.1\r\nHost: h\r\n\r\n"),
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "4\r\nfine\r\n0\r\n\r\n"),
      OUT("POST /v1/chat HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes"),
      OUT("PUT /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
          "Content-Encoding: gzip\r\n\r\nxxxxx"),
      IN("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
      OUT("GET /stop HTTP/1.1\r\nHost: h\r\n\r\n"),
      IN("HTTP/1.1 200 OK")};
  int calls = 0;
  struct run r;
  check_splits(s, NSTEPS(s), NULL, only_v1, &calls, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.x[0]->target, "/v1/chat");
  cr_assert_eq(r.x[0]->interest, 7);
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "yes");
  cr_assert_eq(r.stats.skipped, 2);
  cr_assert_eq(r.state, WIRE_IGNORED);
  cr_assert_eq(calls, 4 * 4, "one call per request per run");
  run_free(&r);
}

Test(http1, done_queue_bounded) {
  struct wire_limits lim = {.max_done = 2};
  struct wire_conn *c = wire_conn_new(&lim, NULL, NULL);
  const char *rq = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  const char *rs = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  for (int i = 0; i < 5; i++) {
    wire_conn_feed(c, WIRE_OUT, rq, strlen(rq), i);
    wire_conn_feed(c, WIRE_IN, rs, strlen(rs), i);
  }
  cr_assert_eq(wire_conn_stats(c)->dropped, 3);
  cr_assert_eq(wire_conn_stats(c)->exchanges, 2);
  struct wire_exchange *x;
  int n = 0;
  while ((x = wire_conn_next(c))) {
    wire_exchange_free(x);
    n++;
  }
  cr_assert_eq(n, 2);
  wire_conn_free(c);
}

Test(http1, lenient_line_ends_and_folding) {
  struct step s[] = {
      OUT("GET /lf HTTP/1.1\nHost: h\n\n"),
      IN("HTTP/1.1 200 OK\nX-Folded: a\n  b\nContent-Length:\n 2\n\nok")};
  struct run r;
  check_splits(s, NSTEPS(s), NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  body_is(r.x[0]->resp_body, r.x[0]->resp_body_len, "ok");
  cr_assert_eq(r.x[0]->partial, 0);
  run_free(&r);
}

Test(http1, marks_one_per_feed_and_thinned) {
  struct wire_conn *c = wire_conn_new(NULL, NULL, NULL);
  const char *rq = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  const char *rs = "HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n";
  wire_conn_feed(c, WIRE_OUT, rq, strlen(rq), 1);
  wire_conn_feed(c, WIRE_IN, rs, strlen(rs), 2);
  char b[2] = "xy";
  for (int i = 0; i < 100; i++)
    wire_conn_feed(c, WIRE_IN, b, 2, 100 + i);
  struct wire_exchange *x = wire_conn_next(c);
  cr_assert(x);
  cr_assert_leq(x->nmarks, AT_MAX_CHUNK_MARKS);
  /* the first half is exact: mark i is byte 2(i+1) at time 100 + i */
  for (size_t i = 0; i < AT_MAX_CHUNK_MARKS / 2; i++) {
    cr_assert_eq(x->marks[i].offset, 2 * (i + 1));
    cr_assert_eq(x->marks[i].t_ns, 100 + (int64_t)i);
  }
  /* every mark stays true, and the last one is the end */
  for (size_t i = 0; i < x->nmarks; i++)
    cr_assert_eq(x->marks[i].t_ns, 100 + (int64_t)x->marks[i].offset / 2 - 1);
  cr_assert_eq(x->marks[x->nmarks - 1].offset, 200);
  wire_exchange_free(x);
  wire_conn_free(c);
}

Test(http1, request_url) {
  char buf[128];
  struct wire_request rq = {"GET", 3, "/v1/models?x=1", 14, "api.x.com", 9};
  cr_assert_gt(wire_request_url(&rq, "https", NULL, buf, sizeof buf), 0);
  cr_assert_str_eq(buf, "https://api.x.com/v1/models?x=1");
  struct wire_request ab = {"GET", 3, "http://p.q:8080/a", 17, "", 0};
  wire_request_url(&ab, "http", NULL, buf, sizeof buf);
  cr_assert_str_eq(buf, "http://p.q:8080/a");
  struct wire_request nohost = {"GET", 3, "/api/chat", 9, "", 0};
  wire_request_url(&nohost, "http", "127.0.0.1:11434", buf, sizeof buf);
  cr_assert_str_eq(buf, "http://127.0.0.1:11434/api/chat");
  cr_assert_eq(wire_request_url(&rq, "https", NULL, buf, 10), -1);
  cr_assert_str_eq(buf, "");
}

Test(http1, head_parser) {
  struct wire_head h;
  const char *ok =
      "GET / HTTP/1.1\r\nHost:  x \r\n"
      "Content-Encoding: gzip\r\nContent-Encoding: br, identity\r\n"
      "Transfer-Encoding: gzip, chunked\r\nConnection: Keep-Alive, "
      "close\r\n\r\n";
  cr_assert_eq(wire_http1_parse_head(ok, strlen(ok), 1, &h), WIRE_HEAD_OK);
  cr_assert(h.complete);
  cr_assert_eq(h.host.n, 1);
  cr_assert_eq(h.ncodings, 4, "gzip, br, identity, then TE gzip");
  cr_assert(h.te_chunked && h.conn_close && h.conn_keep_alive);
  const char *bad[] = {"GET\r\n\r\n", "GET / HTTP/3\r\n\r\n",
                       "G(T / HTTP/1.1\r\n\r\n", "GET /a b HTTP/1.1x\r\n\r\n"};
  for (size_t i = 0; i < 4; i++)
    cr_assert_eq(wire_http1_parse_head(bad[i], strlen(bad[i]), 1, &h),
                 WIRE_HEAD_BAD, "%s", bad[i]);
  const char *st[] = {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n",
                      "HTTP/2 200\r\n\r\n"};
  for (size_t i = 0; i < 3; i++)
    cr_assert_eq(wire_http1_parse_head(st[i], strlen(st[i]), 0, &h),
                 WIRE_HEAD_BAD, "%s", st[i]);
  const char *noreason = "HTTP/1.1 200\r\n\r\n";
  cr_assert_eq(wire_http1_parse_head(noreason, strlen(noreason), 0, &h),
               WIRE_HEAD_OK);
  cr_assert_eq(h.status, 200);
}
