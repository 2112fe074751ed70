#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/fmt.h"
#include "cli/term.h"

Test(fmt, counts_get_thousands_separators) {
  char b[FMT_BUF];
  cr_expect_str_eq(fmt_count(0, b, sizeof b), "0");
  cr_expect_str_eq(fmt_count(999, b, sizeof b), "999");
  cr_expect_str_eq(fmt_count(1000, b, sizeof b), "1,000");
  cr_expect_str_eq(fmt_count(1234567, b, sizeof b), "1,234,567");
  cr_expect_str_eq(fmt_count(UINT64_MAX, b, sizeof b),
                   "18,446,744,073,709,551,615");
}

Test(fmt, durations_pick_a_readable_unit) {
  char b[FMT_BUF];
  cr_expect_str_eq(fmt_duration(-5, b, sizeof b), "0 ns");
  cr_expect_str_eq(fmt_duration(850, b, sizeof b), "850 ns");
  cr_expect_str_eq(fmt_duration(850000, b, sizeof b), "850 \xc2\xb5s");
  cr_expect_str_eq(fmt_duration(12000000, b, sizeof b), "12 ms");
  cr_expect_str_eq(fmt_duration(1240000000, b, sizeof b), "1.24 s");
  cr_expect_str_eq(fmt_duration(12500000000, b, sizeof b), "12.5 s");
  cr_expect_str_eq(fmt_duration(125000000000, b, sizeof b), "2m 05s");
  cr_expect_str_eq(fmt_duration(3720000000000, b, sizeof b), "1h 02m");
}

Test(fmt, costs_keep_two_significant_digits_below_a_dollar) {
  char b[FMT_BUF];
  cr_expect_str_eq(fmt_cost(0, b, sizeof b), "$0");
  cr_expect_str_eq(fmt_cost(0.0042, b, sizeof b), "$0.0042");
  cr_expect_str_eq(fmt_cost(0.000031, b, sizeof b), "$0.000031");
  cr_expect_str_eq(fmt_cost(0.0123, b, sizeof b), "$0.012");
  cr_expect_str_eq(fmt_cost(0.5, b, sizeof b), "$0.50");
  cr_expect_str_eq(fmt_cost(0.001, b, sizeof b), "$0.001");
  cr_expect_str_eq(fmt_cost(12.346, b, sizeof b), "$12.35");
  cr_expect_str_eq(fmt_cost(-1, b, sizeof b), "$0");
}

Test(fmt, bytes_and_plurals) {
  char b[FMT_BUF], p[64];
  cr_expect_str_eq(fmt_bytes(812, b, sizeof b), "812 B");
  cr_expect_str_eq(fmt_bytes(4096, b, sizeof b), "4.0 KiB");
  cr_expect_str_eq(fmt_bytes(1258291, b, sizeof b), "1.2 MiB");
  cr_expect_str_eq(fmt_plural(1, "trace", "traces", p, sizeof p), "1 trace");
  cr_expect_str_eq(fmt_plural(2, "trace", "traces", p, sizeof p), "2 traces");
  cr_expect_str_eq(fmt_plural(1234, "token", "tokens", p, sizeof p),
                   "1,234 tokens");
}

Test(fmt, local_time_has_the_documented_shape) {
  char b[FMT_BUF];
  setenv("TZ", "UTC", 1);
  tzset();
  cr_expect_str_eq(fmt_local_time(1763705992123456789LL, b, sizeof b),
                   "2025-11-21 06:19:52");
}

Test(term, color_modes_parse) {
  enum color_mode m;
  cr_expect_eq(term_parse_color("always", &m), 0);
  cr_expect_eq(m, COLOR_ALWAYS);
  cr_expect_eq(term_parse_color("never", &m), 0);
  cr_expect_eq(m, COLOR_NEVER);
  cr_expect_eq(term_parse_color("auto", &m), 0);
  cr_expect_eq(m, COLOR_AUTO);
  cr_expect_eq(term_parse_color("yes", &m), -1);
}

Test(term, no_color_and_pipes_turn_auto_off) {
  FILE *f = tmpfile(); /* not a terminal */
  unsetenv("NO_COLOR");
  cr_expect_eq(term_color_enabled(COLOR_AUTO, f), 0);
  cr_expect_eq(term_color_enabled(COLOR_ALWAYS, f), 1);
  cr_expect_eq(term_color_enabled(COLOR_NEVER, f), 0);
  setenv("NO_COLOR", "1", 1);
  cr_expect_eq(term_color_enabled(COLOR_ALWAYS, f), 1,
               "an explicit --color=always wins over NO_COLOR");
  cr_expect_str_eq(term_sgr(0, ST_RED), "");
  cr_expect_str_eq(term_sgr(1, ST_RED), "\033[31m");
  fclose(f);
}

Test(term, widths_count_columns_not_bytes) {
  cr_expect_eq(term_cols("abc", 3), 3);
  cr_expect_eq(term_cols("\xc3\xa9t\xc3\xa9", 5), 3);        /* été */
  cr_expect_eq(term_cols("\xe6\x97\xa5\xe6\x9c\xac", 6), 4); /* 日本 wide */
  cr_expect_eq(term_cols("\xe2\x86\x92", 3), 1);             /* → */
  cr_expect_eq(term_cols("a\xff", 2), 2, "invalid bytes count one each");
}

Test(term, fit_never_splits_a_character) {
  const char *s = "\xc3\xa9\xc3\xa9\xc3\xa9"; /* ééé, 6 bytes */
  cr_expect_eq(term_fit(s, 6, 2), 4);
  cr_expect_eq(term_fit(s, 5, 10), 5,
               "a cut sequence at the end is one invalid byte, one column");
  const char *wide = "\xe6\x97\xa5\xe6\x9c\xac"; /* two columns each */
  cr_expect_eq(term_fit(wide, 6, 3), 3);
  cr_expect_eq(term_fit("hello", 5, 0), 0);
}
