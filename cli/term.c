#include "term.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int term_parse_color(const char *arg, enum color_mode *out) {
  if (strcmp(arg, "auto") == 0)
    *out = COLOR_AUTO;
  else if (strcmp(arg, "always") == 0)
    *out = COLOR_ALWAYS;
  else if (strcmp(arg, "never") == 0)
    *out = COLOR_NEVER;
  else
    return -1;
  return 0;
}

int term_color_enabled(enum color_mode mode, FILE *f) {
  if (mode == COLOR_ALWAYS)
    return 1;
  if (mode == COLOR_NEVER)
    return 0;
  const char *nc = getenv("NO_COLOR");
  if (nc && *nc)
    return 0;
  const char *term = getenv("TERM");
  if (term && strcmp(term, "dumb") == 0)
    return 0;
  return isatty(fileno(f));
}

const char *term_sgr(int color, enum term_style st) {
  static const char *const codes[] = {
      [ST_RESET] = "\033[0m",  [ST_BOLD] = "\033[1m",
      [ST_DIM] = "\033[2m",    [ST_RED] = "\033[31m",
      [ST_GREEN] = "\033[32m", [ST_YELLOW] = "\033[33m",
      [ST_BLUE] = "\033[34m",  [ST_MAGENTA] = "\033[35m",
      [ST_CYAN] = "\033[36m"};
  if (!color || (unsigned)st >= sizeof codes / sizeof codes[0])
    return "";
  return codes[st];
}

/* Decode one code point; returns its byte length (1 for an invalid byte,
 * whose value is then reported as U+FFFD). */
static size_t decode(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  size_t len;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2;
    v = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    v = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    v = c & 0x07;
  } else {
    *cp = 0xfffd;
    return 1;
  }
  if (len > n) {
    *cp = 0xfffd;
    return 1;
  }
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) {
      *cp = 0xfffd;
      return 1;
    }
    v = (v << 6) | (s[i] & 0x3f);
  }
  *cp = v;
  return len;
}

static size_t cp_width(uint32_t cp) {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
    return 0;
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) ||
      (cp >= 0xfe00 && cp <= 0xfe0f))
    return 0; /* combining marks, zero-width spaces, variation selectors */
  if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
      (cp >= 0x20000 && cp <= 0x3fffd))
    return 2;
  return 1;
}

size_t term_cols(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t cols = 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += decode(p + i, n - i, &cp);
    cols += cp_width(cp);
  }
  return cols;
}

size_t term_fit(const char *s, size_t n, size_t max_cols) {
  const unsigned char *p = (const unsigned char *)s;
  size_t cols = 0, i = 0;
  while (i < n) {
    uint32_t cp;
    size_t len = decode(p + i, n - i, &cp);
    size_t w = cp_width(cp);
    if (cols + w > max_cols)
      break;
    cols += w;
    i += len;
  }
  return i;
}
