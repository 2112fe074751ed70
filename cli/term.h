/* term: what the terminal can show — colour (ANSI SGR) when it is wanted,
 * and the display width of UTF-8 text so lines can be cut to fit.
 *
 * Colour is on in `auto` mode only when the stream is a terminal, NO_COLOR
 * is unset or empty (https://no-color.org) and TERM is not "dumb". */
#ifndef AT_CLI_TERM_H
#define AT_CLI_TERM_H

#include <stddef.h>
#include <stdio.h>

enum color_mode { COLOR_AUTO = 0, COLOR_ALWAYS, COLOR_NEVER };

/* Parse "auto" | "always" | "never". Returns 0, or -1 for anything else. */
int term_parse_color(const char *arg, enum color_mode *out);

/* Decide for one output stream. */
int term_color_enabled(enum color_mode mode, FILE *f);

enum term_style {
  ST_RESET = 0,
  ST_BOLD,
  ST_DIM,
  ST_RED,
  ST_GREEN,
  ST_YELLOW,
  ST_BLUE,
  ST_MAGENTA,
  ST_CYAN
};

/* The escape sequence for a style, or "" when colour is off. */
const char *term_sgr(int color, enum term_style st);

/* Display columns of the first n bytes of UTF-8 text: one per code point,
 * two for East Asian wide ranges, none for combining marks and controls.
 * Invalid bytes count one column each. */
size_t term_cols(const char *s, size_t n);

/* The longest prefix of s (n bytes) that fits in max_cols columns, in
 * bytes, never splitting a UTF-8 sequence. */
size_t term_fit(const char *s, size_t n, size_t max_cols);

#endif
