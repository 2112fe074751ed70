#include <criterion/criterion.h>
#include <string.h>

#include "common/clock.h"
#include "common/dynbuf.h"
#include "common/ids.h"

Test(dynbuf, appends_and_terminates) {
  struct dynbuf b;
  dynbuf_init(&b, 100);
  cr_assert_eq(dynbuf_addstr(&b, "hello "), 0);
  cr_assert_eq(dynbuf_addstr(&b, "world"), 0);
  cr_expect_eq(b.len, 11);
  cr_expect_str_eq(b.ptr, "hello world");
  cr_expect_eq(b.truncated, 0);
  dynbuf_free(&b);
}

Test(dynbuf, cap_keeps_prefix_and_marks_truncated) {
  struct dynbuf b;
  dynbuf_init(&b, 8);
  cr_expect_eq(dynbuf_addstr(&b, "12345"), 0);
  cr_expect_eq(dynbuf_addstr(&b, "67890"), 1);
  cr_expect_eq(b.len, 8);
  cr_expect_str_eq(b.ptr, "12345678");
  cr_expect_eq(b.truncated, 1);
  cr_expect_eq(dynbuf_addstr(&b, "x"), 1);
  cr_expect_eq(b.len, 8);
  dynbuf_free(&b);
}

Test(dynbuf, binary_safe_and_take) {
  struct dynbuf b;
  dynbuf_init(&b, 1 << 20);
  char bin[1000];
  for (int i = 0; i < 1000; i++)
    bin[i] = (char)i;
  for (int i = 0; i < 100; i++)
    cr_assert_eq(dynbuf_add(&b, bin, sizeof bin), 0);
  cr_expect_eq(b.len, 100000);
  cr_expect_eq(memcmp(b.ptr + 5000, bin, 1000), 0);
  size_t len;
  char *p = dynbuf_take(&b, &len);
  cr_expect_eq(len, 100000);
  cr_expect_null(b.ptr);
  free(p);
}

Test(ids, fresh_ids_are_valid_and_distinct) {
  char t1[33], t2[33], s1[17];
  at_new_trace_id(t1);
  at_new_trace_id(t2);
  at_new_span_id(s1);
  cr_expect(at_valid_hex_id(t1, 32));
  cr_expect(at_valid_hex_id(s1, 16));
  cr_expect_str_neq(t1, t2);
}

Test(ids, traceparent_parses_and_rejects) {
  char t[33], s[17];
  cr_assert_eq(
      at_parse_traceparent(
          "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", t, s),
      0);
  cr_expect_str_eq(t, "0af7651916cd43dd8448eb211c80319c");
  cr_expect_str_eq(s, "b7ad6b7169203331");
  cr_expect_eq(
      at_parse_traceparent(
          "00-00000000000000000000000000000000-b7ad6b7169203331-01", t, s),
      -1);
  cr_expect_eq(
      at_parse_traceparent(
          "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", t, s),
      -1);
  cr_expect_eq(at_parse_traceparent("00-xyz", t, s), -1);
  cr_expect_eq(at_parse_traceparent(NULL, t, s), -1);
  cr_expect_eq(
      at_parse_traceparent(
          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x", t, s),
      -1);
}

Test(clock, iso_format) {
  char buf[40];
  at_format_iso(1763705992123456789LL, buf, sizeof buf);
  cr_expect_str_eq(buf, "2025-11-21T06:19:52.123456Z");
}
