/* ndjson: the line splitter, whole and in pieces of every size. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/ndjson.h"

#define MAXL 32

struct got {
  int n;
  char data[MAXL][256];
  size_t end[MAXL];
  int unterminated[MAXL];
  int stop_after; /* 0: never */
};

static int collect(const struct at_ndjson_line *l, void *arg) {
  struct got *g = arg;
  cr_assert_lt(g->n, MAXL);
  cr_assert_leq(l->len, 255);
  memcpy(g->data[g->n], l->data, l->len);
  g->data[g->n][l->len] = '\0';
  g->end[g->n] = l->end_offset;
  g->unterminated[g->n] = l->unterminated;
  g->n++;
  return g->stop_after && g->n >= g->stop_after;
}

static void parse_whole(const char *text, size_t max, struct got *g,
                        struct at_ndjson *s) {
  memset(g, 0, sizeof *g);
  at_ndjson_parse(s, text, strlen(text), max, collect, g);
}

/* Feed the text in pieces of `step` bytes (and in a pattern of uneven
 * pieces) and compare with whole-buffer parsing: splitting must never
 * change the lines, their offsets or the overflow count. */
static void check_all_splits(const char *text, size_t max) {
  struct got whole, piece;
  struct at_ndjson s;
  parse_whole(text, max, &whole, &s);
  size_t whole_over = s.oversize, whole_unterm = s.unterminated;
  at_ndjson_free(&s);
  size_t n = strlen(text);
  for (size_t step = 1; step <= n + 1; step++) {
    for (int uneven = 0; uneven < 2; uneven++) {
      memset(&piece, 0, sizeof piece);
      at_ndjson_init(&s, max, collect, &piece);
      size_t i = 0, k = 0;
      while (i < n) {
        size_t len = uneven ? 1 + (k++ * step) % 7 : step;
        if (len > n - i)
          len = n - i;
        at_ndjson_feed(&s, text + i, len);
        i += len;
      }
      at_ndjson_finish(&s);
      cr_assert_eq(piece.n, whole.n, "step %zu uneven %d", step, uneven);
      for (int j = 0; j < whole.n; j++) {
        cr_assert_str_eq(piece.data[j], whole.data[j], "step %zu line %d", step,
                         j);
        cr_assert_eq(piece.end[j], whole.end[j], "step %zu line %d", step, j);
        cr_assert_eq(piece.unterminated[j], whole.unterminated[j]);
      }
      cr_assert_eq(s.oversize, whole_over, "step %zu", step);
      cr_assert_eq(s.unterminated, whole_unterm, "step %zu", step);
      cr_assert_eq(s.offset, n);
      at_ndjson_free(&s);
    }
  }
}

static const char *sample = "\xEF\xBB\xBF{\"a\":1}\n"
                            "\n"
                            "{\"b\":2}\r\n"
                            "   \r\n"
                            "{\"c\":\"x\\ny\"}\n"
                            "\t\n"
                            "{\"d\":4}";

Test(ndjson, lines_crlf_bom_blank_and_last_line) {
  struct got g;
  struct at_ndjson s;
  parse_whole(sample, 1024, &g, &s);
  cr_assert_eq(g.n, 4);
  cr_expect_str_eq(g.data[0], "{\"a\":1}");
  cr_expect_str_eq(g.data[1], "{\"b\":2}");
  cr_expect_str_eq(g.data[2], "{\"c\":\"x\\ny\"}");
  cr_expect_str_eq(g.data[3], "{\"d\":4}");
  cr_expect_eq(g.end[0], 3 + 8);
  cr_expect_eq(g.end[1], 3 + 8 + 1 + 9);
  cr_expect_eq(g.end[3], strlen(sample));
  cr_expect_eq(g.unterminated[2], 0);
  cr_expect_eq(g.unterminated[3], 1);
  cr_expect_eq(s.unterminated, 1);
  cr_expect_eq(s.lines, 4);
  cr_expect_eq(s.oversize, 0);
  at_ndjson_free(&s);
}

Test(ndjson, every_split_gives_the_same_lines) {
  check_all_splits(sample, 1024);
  check_all_splits("{\"x\":1}\r\n{\"y\":2}\r\n", 1024);
  check_all_splits("\n\n\n", 1024);
  check_all_splits("one\rtwo\n", 1024); /* a lone CR stays in the line */
  check_all_splits("last\r", 1024);
  /* with a cap small enough to drop some lines */
  check_all_splits("0123456789\n01234567890\n0123456789\r\nabc\n"
                   "012345678901\r\nxyz\n0123456789ABC",
                   10);
  check_all_splits("\xEF\xBB\xBF"
                   "0123456789\nok\n",
                   10);
}

Test(ndjson, oversize_line_skipped_and_counted) {
  char big[600];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  char text[1024];
  snprintf(text, sizeof text, "{\"small\":1}\n%s\n{\"after\":2}\n", big);
  struct got g;
  struct at_ndjson s;
  parse_whole(text, 100, &g, &s);
  cr_expect_eq(g.n, 2);
  cr_expect_str_eq(g.data[0], "{\"small\":1}");
  cr_expect_str_eq(g.data[1], "{\"after\":2}");
  cr_expect_eq(g.end[1], strlen(text));
  cr_expect_eq(s.oversize, 1);
  at_ndjson_free(&s);
  /* a byte at a time: the buffer must hit the cap, not grow */
  memset(&g, 0, sizeof g);
  at_ndjson_init(&s, 100, collect, &g);
  for (size_t i = 0; text[i]; i++)
    at_ndjson_feed(&s, text + i, 1);
  at_ndjson_finish(&s);
  cr_expect_eq(g.n, 2);
  cr_expect_eq(s.oversize, 1);
  cr_expect_leq(s.line.cap, 256);
  at_ndjson_free(&s);
  /* exactly at the cap passes, one more does not; CR is not counted */
  parse_whole("12345\n123456\n12345\r\n", 5, &g, &s);
  cr_expect_eq(g.n, 2);
  cr_expect_str_eq(g.data[1], "12345");
  cr_expect_eq(s.oversize, 1);
  at_ndjson_free(&s);
  /* an over-long last line without a line end */
  parse_whole("ok\n123456", 5, &g, &s);
  cr_expect_eq(g.n, 1);
  cr_expect_eq(s.oversize, 1);
  cr_expect_eq(s.unterminated, 0);
  at_ndjson_free(&s);
}

Test(ndjson, callback_can_stop) {
  struct got g;
  memset(&g, 0, sizeof g);
  g.stop_after = 2;
  struct at_ndjson s;
  at_ndjson_parse(&s, "1\n2\n3\n4", 7, 64, collect, &g);
  cr_expect_eq(g.n, 2);
  cr_expect_eq(s.stopped, 1);
  cr_expect_eq(s.unterminated, 0);
  at_ndjson_free(&s);
}

Test(ndjson, empty_null_and_binary_input) {
  struct got g;
  struct at_ndjson s;
  parse_whole("", 64, &g, &s);
  cr_expect_eq(g.n, 0);
  at_ndjson_free(&s);
  memset(&g, 0, sizeof g);
  at_ndjson_parse(&s, NULL, 0, 64, collect, &g);
  cr_expect_eq(g.n, 0);
  at_ndjson_free(&s);
  char bin[512];
  for (int i = 0; i < 512; i++)
    bin[i] = (char)(i * 37 + 11);
  memset(&g, 0, sizeof g);
  at_ndjson_parse(&s, bin, sizeof bin, 200, collect, &g);
  cr_expect_eq(s.offset, sizeof bin);
  at_ndjson_free(&s);
}

#define SNIFF(lit) at_ndjson_sniff(lit, sizeof(lit) - 1)

Test(ndjson, sniff) {
  cr_expect(SNIFF("{\"a\":1}\n{\"b\":2}\n"));
  cr_expect(SNIFF("\r\n{\"a\":1}\r\n\r\n{\"b\""));
  cr_expect_not(SNIFF("{\"a\":1}\n"));
  cr_expect_not(SNIFF("{\n  \"a\": 1\n}\n")); /* pretty JSON */
  cr_expect_not(SNIFF("[1]\n[2]\n"));
  cr_expect_not(SNIFF("data: {}\n\ndata: {}\n"));
  cr_expect_not(SNIFF(""));
}
