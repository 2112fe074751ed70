/* sse: the event splitter, whole and in pieces of every size. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/sse.h"

#define MAXEV 32

struct got {
  int n;
  char event[MAXEV][64];
  char data[MAXEV][256];
  char id[MAXEV][64];
  size_t end[MAXEV];
  int unterminated[MAXEV];
  int stop_after; /* 0: never */
};

static int collect(const struct at_sse_event *ev, void *arg) {
  struct got *g = arg;
  cr_assert_lt(g->n, MAXEV);
  cr_assert_eq(strlen(ev->data), ev->data_len, "data must be NUL-terminated");
  snprintf(g->event[g->n], 64, "%.*s", (int)ev->event_len, ev->event);
  snprintf(g->data[g->n], 256, "%.*s", (int)ev->data_len, ev->data);
  snprintf(g->id[g->n], 64, "%.*s", (int)ev->id_len, ev->id);
  g->end[g->n] = ev->end_offset;
  g->unterminated[g->n] = ev->unterminated;
  g->n++;
  return g->stop_after && g->n >= g->stop_after;
}

static void parse_whole(const char *text, size_t max, struct got *g,
                        struct at_sse *s) {
  memset(g, 0, sizeof *g);
  at_sse_parse(s, text, strlen(text), max, collect, g);
}

/* Feed the text in pieces of `step` bytes and compare with whole-buffer
 * parsing: splitting must never change the result. */
static void check_all_splits(const char *text) {
  struct got whole, piece;
  struct at_sse s;
  parse_whole(text, 1 << 16, &whole, &s);
  at_sse_free(&s);
  size_t n = strlen(text);
  for (size_t step = 1; step <= n; step++) {
    memset(&piece, 0, sizeof piece);
    at_sse_init(&s, 1 << 16, collect, &piece);
    for (size_t i = 0; i < n; i += step)
      at_sse_feed(&s, text + i, n - i < step ? n - i : step);
    at_sse_finish(&s);
    at_sse_free(&s);
    cr_assert_eq(piece.n, whole.n, "step %zu", step);
    for (int k = 0; k < whole.n; k++) {
      cr_assert_str_eq(piece.data[k], whole.data[k], "step %zu ev %d", step, k);
      cr_assert_str_eq(piece.event[k], whole.event[k], "step %zu", step);
      cr_assert_str_eq(piece.id[k], whole.id[k], "step %zu", step);
      cr_assert_eq(piece.end[k], whole.end[k], "step %zu ev %d", step, k);
    }
  }
}

static const char *sample = "\xEF\xBB\xBF: a comment\n"
                            "event: first\n"
                            "data: one\n"
                            "\n"
                            "data:two-a\r\n"
                            "data:  two-b\r\n"
                            "id: 7\r\n"
                            "retry: 1000\r\n"
                            "\r\n"
                            "event: third\r"
                            "data\r"
                            "\r"
                            "unknown: field\n"
                            "event: no data so no event\n"
                            "\n"
                            "data: {\"x\":1}\n"
                            "\n"
                            "data: tail without blank line";

Test(sse, fields_and_line_ends) {
  struct got g;
  struct at_sse s;
  parse_whole(sample, 1 << 16, &g, &s);
  cr_assert_eq(g.n, 5);
  cr_expect_str_eq(g.event[0], "first");
  cr_expect_str_eq(g.data[0], "one");
  cr_expect_str_eq(g.id[0], "");
  cr_expect_str_eq(g.event[1], "");
  cr_expect_str_eq(g.data[1], "two-a\n two-b");
  cr_expect_str_eq(g.id[1], "7");
  cr_expect_str_eq(g.event[2], "third");
  cr_expect_str_eq(g.data[2], ""); /* "data" with no colon: empty value */
  cr_expect_str_eq(g.id[2], "7");  /* the last id persists */
  cr_expect_str_eq(g.data[3], "{\"x\":1}");
  cr_expect_str_eq(g.event[3], ""); /* the event type resets */
  cr_expect_str_eq(g.data[4], "tail without blank line");
  cr_expect_eq(g.unterminated[4], 1);
  cr_expect_eq(g.unterminated[3], 0);
  cr_expect_eq(s.unterminated, 1);
  cr_expect_eq(s.events, 5);
  cr_expect_eq(s.oversize, 0);
  /* offsets: just past the blank line that completed each event */
  const char *after0 =
      strstr(sample, "data: one\n\n") + strlen("data: one\n\n");
  cr_expect_eq(g.end[0], (size_t)(after0 - sample));
  const char *after1 = strstr(sample, "retry: 1000\r\n\r") + 14;
  cr_expect_eq(g.end[1], (size_t)(after1 - sample));
  cr_expect_eq(g.end[4], strlen(sample));
  at_sse_free(&s);
}

Test(sse, every_split_gives_the_same_events) {
  check_all_splits(sample);
  check_all_splits("data: a\r\n\r\ndata: b\r\n\r\n");
  check_all_splits("data: a\r\rdata: b\n\n");
  check_all_splits(": only a comment\n");
}

Test(sse, crlf_split_between_cr_and_lf) {
  struct got g;
  memset(&g, 0, sizeof g);
  struct at_sse s;
  at_sse_init(&s, 1024, collect, &g);
  at_sse_feed(&s, "data: x\r", 8);
  at_sse_feed(&s, "\n\r", 2);
  cr_expect_eq(g.n, 1, "event ends at the CR of the blank line");
  cr_expect_eq(g.end[0], 10);
  at_sse_feed(&s, "\ndata: y\r\n\r\n", 12);
  at_sse_finish(&s);
  cr_expect_eq(g.n, 2);
  cr_expect_str_eq(g.data[1], "y");
  at_sse_free(&s);
}

Test(sse, oversize_event_skipped_and_counted) {
  char big[600];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  char text[1024];
  snprintf(text, sizeof text,
           "data: small\n\ndata: %s\ndata: more\n\ndata: after\n\n", big);
  struct got g;
  struct at_sse s;
  parse_whole(text, 100, &g, &s);
  cr_expect_eq(g.n, 2);
  cr_expect_str_eq(g.data[0], "small");
  cr_expect_str_eq(g.data[1], "after");
  cr_expect_eq(s.oversize, 1);
  at_sse_free(&s);
  /* the same, fed a byte at a time: the line buffer must hit the cap too */
  memset(&g, 0, sizeof g);
  at_sse_init(&s, 100, collect, &g);
  for (size_t i = 0; text[i]; i++)
    at_sse_feed(&s, text + i, 1);
  at_sse_finish(&s);
  cr_expect_eq(g.n, 2);
  cr_expect_str_eq(g.data[1], "after");
  cr_expect_eq(s.oversize, 1);
  at_sse_free(&s);
  /* many data lines that add up past the cap */
  char lines[2048] = "";
  for (int i = 0; i < 40; i++)
    strcat(lines, "data: 0123456789\n");
  strcat(lines, "\ndata: ok\n\n");
  parse_whole(lines, 100, &g, &s);
  cr_expect_eq(g.n, 1);
  cr_expect_str_eq(g.data[0], "ok");
  cr_expect_eq(s.oversize, 1);
  at_sse_free(&s);
}

Test(sse, callback_can_stop) {
  struct got g;
  memset(&g, 0, sizeof g);
  g.stop_after = 1;
  struct at_sse s;
  at_sse_parse(&s, "data: 1\n\ndata: 2\n\ndata: 3", 26, 1024, collect, &g);
  cr_expect_eq(g.n, 1);
  cr_expect_eq(s.stopped, 1);
  at_sse_free(&s);
}

Test(sse, garbage_and_empty_input) {
  struct got g;
  struct at_sse s;
  parse_whole("", 1024, &g, &s);
  cr_expect_eq(g.n, 0);
  at_sse_free(&s);
  char bin[512];
  for (int i = 0; i < 512; i++)
    bin[i] = (char)(i * 37 + 11);
  memset(&g, 0, sizeof g);
  at_sse_parse(&s, bin, sizeof bin, 64, collect, &g);
  at_sse_free(&s); /* whatever it finds, it must not crash or leak */
  memset(&g, 0, sizeof g);
  at_sse_parse(&s, NULL, 0, 64, collect, &g);
  cr_expect_eq(g.n, 0);
  at_sse_free(&s);
}

Test(sse, limits_agree_whole_and_split) {
  /* found by fuzzing: a first line with a BOM, just over the cap, must be
   * skipped whether it arrives whole or in pieces; an over-long comment is
   * never an error */
  char text[256];
  snprintf(text, sizeof text,
           "\xEF\xBB\xBF"
           "data: 0123456789012345678\n\n"
           ": %s\n"
           "data: ok\n\n",
           "a comment far longer than the twenty-four byte cap");
  struct got g;
  struct at_sse s;
  parse_whole(text, 24, &g, &s);
  cr_expect_eq(s.oversize, 1);
  cr_expect_eq(g.n, 1);
  cr_expect_str_eq(g.data[0], "ok");
  at_sse_free(&s);
  for (size_t step = 1; step < 8; step++) {
    memset(&g, 0, sizeof g);
    at_sse_init(&s, 24, collect, &g);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step)
      at_sse_feed(&s, text + i, n - i < step ? n - i : step);
    at_sse_finish(&s);
    cr_expect_eq(s.oversize, 1, "step %zu", step);
    cr_expect_eq(g.n, 1, "step %zu", step);
    at_sse_free(&s);
  }
}
