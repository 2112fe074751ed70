/* wire/chunked: the chunked transfer coding on its own. */
#include <criterion/criterion.h>
#include <string.h>

#include "wire/chunked.h"

struct sink {
  char buf[256];
  size_t n;
  size_t calls;
};

static void gather(void *arg, const char *p, size_t n) {
  struct sink *s = arg;
  cr_assert_leq(s->n + n, sizeof s->buf);
  memcpy(s->buf + s->n, p, n);
  s->n += n;
  s->calls++;
}

Test(chunked, stops_at_the_end_of_the_message) {
  const char *in = "4\r\nWiki\r\n5;a=b\r\npedia\r\nE\r\n in\r\n\r\nchunks."
                   "\r\n0\r\nExpires: never\r\n\r\nHTTP/1.1 200 OK";
  struct wire_chunked c;
  struct sink s = {{0}, 0, 0};
  wire_chunked_init(&c, 1024);
  size_t used = wire_chunked_feed(&c, in, strlen(in), gather, &s);
  cr_assert(wire_chunked_done(&c));
  cr_assert_null(c.error);
  cr_assert_str_eq(in + used, "HTTP/1.1 200 OK");
  cr_assert_eq(s.n, 23);
  cr_assert(!memcmp(s.buf, "Wikipedia in\r\n\r\nchunks.", 23));
  cr_assert_eq(s.calls, 3, "one call per chunk when fed whole");
  cr_assert_eq(c.data_total, 23);
}

Test(chunked, limits) {
  struct wire_chunked c;
  char line[WIRE_CHUNK_LINE_MAX + 64];
  memset(line, ' ', sizeof line);
  memcpy(line, "5;", 2);
  wire_chunked_init(&c, 1024);
  wire_chunked_feed(&c, line, sizeof line, NULL, NULL);
  cr_assert_str_eq(c.error, "chunk extension too long");

  wire_chunked_init(&c, 16);
  const char *t = "0\r\nX-Long-Trailer: 0123456789\r\n\r\n";
  wire_chunked_feed(&c, t, strlen(t), NULL, NULL);
  cr_assert_str_eq(c.error, "chunked trailer section too large");

  wire_chunked_init(&c, 16);
  const char *e = "0\r\n\rX";
  wire_chunked_feed(&c, e, strlen(e), NULL, NULL);
  cr_assert_str_eq(c.error, "invalid end of chunked trailer section");

  wire_chunked_init(&c, 16);
  const char *big = "ffffffffffffffff\r\n";
  size_t used = wire_chunked_feed(&c, big, strlen(big), NULL, NULL);
  cr_assert_null(c.error, "16 hex digits fit in 64 bits");
  cr_assert_eq(used, strlen(big));
  cr_assert(wire_chunked_in_data(&c));
}

Test(chunked, byte_by_byte_equals_whole) {
  const char *in = "3;x\r\nabc\r\n1\nd\n0\r\nT: 1\r\n\r\n";
  struct wire_chunked c;
  struct sink s = {{0}, 0, 0};
  wire_chunked_init(&c, 64);
  size_t n = strlen(in), i;
  for (i = 0; i < n && !wire_chunked_done(&c); i++)
    cr_assert_eq(wire_chunked_feed(&c, in + i, 1, gather, &s), 1);
  cr_assert_eq(i, n);
  cr_assert(wire_chunked_done(&c));
  cr_assert_eq(s.n, 4);
  cr_assert(!memcmp(s.buf, "abcd", 4));
}
