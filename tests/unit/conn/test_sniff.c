/* Request-line sniffing (hooks/conn_sniff.c): what starts tracking a
 * connection on the app's thread. */
#include <criterion/criterion.h>
#include <string.h>

#include "hooks/conn_sniff.h"

static enum at_sniff_result sniff(const char *s, int final,
                                  struct at_sniff_line *l) {
  return at_sniff_request_line(s, strlen(s), final, l);
}

Test(sniff, whole_request_line) {
  struct at_sniff_line l;
  const char *r = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(sniff(r, 0, &l), AT_SNIFF_REQUEST);
  cr_assert_eq(l.method_len, 4);
  cr_assert(!memcmp(l.method, "POST", 4));
  cr_assert_eq(l.target_len, strlen("/v1/chat/completions"));
  cr_assert_eq(l.line_len, strlen("POST /v1/chat/completions HTTP/1.1\r\n"));
  cr_assert_eq(sniff("GET / HTTP/1.0\n", 0, &l), AT_SNIFF_REQUEST);
}

Test(sniff, cut_lines_want_more) {
  struct at_sniff_line l;
  const char *full = "POST /api/chat HTTP/1.1\r\n";
  for (size_t n = 1; n < strlen(full); n++)
    cr_assert_eq(at_sniff_request_line(full, n, 0, &l), AT_SNIFF_MORE,
                 "at %zu bytes", n);
  /* Cut for good (the sniff buffer is full): only a path that is whole
   * (a query began) still counts. */
  cr_assert_eq(sniff("POST /v1/chat/compl", 1, &l), AT_SNIFF_OTHER);
  cr_assert_eq(sniff("POST /v1/x:generateContent?key=abc", 1, &l),
               AT_SNIFF_REQUEST);
}

Test(sniff, not_requests) {
  struct at_sniff_line l;
  cr_assert_eq(sniff("{\"model\":", 0, &l), AT_SNIFF_OTHER);
  cr_assert_eq(sniff("Host: example", 0, &l), AT_SNIFF_OTHER);
  cr_assert_eq(sniff("HTTP/1.1 200 OK\r\n", 0, &l), AT_SNIFF_OTHER);
  cr_assert_eq(sniff("post /x HTTP/1.1\r\n", 0, &l), AT_SNIFF_OTHER);
  cr_assert_eq(sniff("POST /x HTTP/2\r\n", 0, &l), AT_SNIFF_OTHER);
  cr_assert_eq(sniff("POST /x HTTP/1.1 \r\n", 0, &l), AT_SNIFF_OTHER);
  cr_assert_eq(sniff("ABCDEFGHIJKLMNOPQRSTUVWXYZ /x HTTP/1.1\r\n", 0, &l),
               AT_SNIFF_OTHER);
  cr_assert_eq(at_sniff_request_line("\x16\x03\x01\x02", 4, 0, &l),
               AT_SNIFF_TLS);
}

Test(sniff, h2_preface) {
  struct at_sniff_line l;
  cr_assert_eq(sniff("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, &l), AT_SNIFF_H2);
  cr_assert_eq(sniff("PRI * HT", 0, &l), AT_SNIFF_MORE);
}

Test(sniff, host_field) {
  const char *h;
  size_t n;
  const char *r =
      "POST /v1/x HTTP/1.1\r\nAccept: */*\r\nHOST:  api.x.ai \r\n\r\n";
  cr_assert(at_sniff_find_host(r, strlen(r), &h, &n));
  cr_assert_eq(n, 8);
  cr_assert(!memcmp(h, "api.x.ai", 8));
  /* Not in the header block, or cut: not found. */
  r = "POST /v1/x HTTP/1.1\r\nA: b\r\n\r\nHost: body";
  cr_assert_not(at_sniff_find_host(r, strlen(r), &h, &n));
  r = "POST /v1/x HTTP/1.1\r\nHost: api.op";
  cr_assert_not(at_sniff_find_host(r, strlen(r), &h, &n));
}

static int match(const char *req, const char *fallback, struct at_match *m) {
  struct at_sniff_line l;
  const char *h = NULL;
  size_t hn = 0;
  cr_assert_eq(at_sniff_request_line(req, strlen(req), 0, &l),
               AT_SNIFF_REQUEST);
  at_sniff_find_host(req, strlen(req), &h, &hn);
  return at_sniff_match(&l, h, hn, "http", fallback, m);
}

Test(sniff, matching) {
  struct at_match m;
  cr_assert(
      match("POST /v1/chat/completions HTTP/1.1\r\n", "10.1.2.3:9000", &m));
  cr_assert_str_eq(m.provider, "openai_compatible");
  cr_assert(match("POST /api/chat HTTP/1.1\r\n", "127.0.0.1:11434", &m));
  cr_assert_eq(m.api, AT_API_OLLAMA_CHAT);
  /* The Host field wins over the fallback. */
  cr_assert(match("POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n",
                  "10.0.0.1:80", &m));
  cr_assert_str_eq(m.provider, "anthropic");
  cr_assert_not(match("GET /health HTTP/1.1\r\n", "10.0.0.1:80", &m));
  cr_assert_not(match("POST /api/chat HTTP/1.1\r\n", "10.0.0.1:80", &m));
  /* Absolute form (a proxy request) is taken as it is. */
  cr_assert(match("POST http://api.openai.com/v1/embeddings HTTP/1.1\r\n",
                  "10.0.0.1:3128", &m));
  cr_assert_str_eq(m.provider, "openai");
}
