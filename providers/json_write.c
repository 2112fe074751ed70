/* json_write: cJSON tree → compact JSON text, several times faster than
 * cJSON_PrintUnformatted.
 *
 * Every record the writer thread spools is printed once, and cJSON's
 * printer walks each string twice byte by byte and formats every number
 * with sprintf and then sscanf to check it. Records are mostly long
 * strings, so here strings are scanned eight bytes at a time for the few
 * bytes that need escaping and copied in runs; whole numbers are printed
 * without stdio. The output is byte for byte what cJSON_PrintUnformatted
 * gives for the same tree (a unit test and a fuzz target check this). */
#include "json_write.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Built with AddressSanitizer (GCC says so with __SANITIZE_ADDRESS__,
 * clang with __has_feature): the one-load short-string path reads past a
 * string's terminator, within its page, which ASan reports. */
#if defined(__SANITIZE_ADDRESS__)
#define AT_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AT_UNDER_ASAN 1
#endif
#endif
#ifndef AT_UNDER_ASAN
#define AT_UNDER_ASAN 0
#endif

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Nonzero when one of the 8 bytes of w is < 0x20, '"' or '\\'. */
static uint64_t word_needs_escape(uint64_t w) {
  uint64_t ctl = (w - ONES * 0x20) & ~w;
  uint64_t q = w ^ (ONES * '"');
  uint64_t b = w ^ (ONES * '\\');
  uint64_t zq = (q - ONES) & ~q;
  uint64_t zb = (b - ONES) & ~b;
  return (ctl | zq | zb) & HIGHS;
}

/* 1 for the bytes JSON escapes: controls (NUL too), '"' and '\\'. */
/* clang-format off */
static const unsigned char escaped[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 - 0x0F */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 - 0x1F */
    ['"'] = 1, ['\\'] = 1,
};
/* clang-format on */

static int needs_escape(unsigned char c) {
  return escaped[c];
}

/* Length of the leading run of s[0..n) that needs no escaping: sixteen
 * bytes per step with SSE2 (every x86-64 has it), eight elsewhere. */
static size_t plain_run(const char *s, size_t n) {
  size_t i = 0;
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                top_ctl = _mm_set1_epi8(0x1F);
  while (i + 16 <= n) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
    /* x <= 0x1F (unsigned) exactly when min(x, 0x1F) == x */
    __m128i bad = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
        _mm_cmpeq_epi8(_mm_min_epu8(x, top_ctl), x));
    int mask = _mm_movemask_epi8(bad);
    if (mask)
      return i + (size_t)__builtin_ctz((unsigned)mask);
    i += 16;
  }
#endif
  while (i + 8 <= n) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    if (word_needs_escape(w))
      break;
    i += 8;
  }
  while (i < n && !needs_escape((unsigned char)s[i]))
    i++;
  return i;
}

/* dynbuf_add with the common case inline: the caller reserved room. */
static inline int put(struct dynbuf *b, const char *p, size_t n) {
  if (b->ptr && b->len + n < b->cap) {
    memcpy(b->ptr + b->len, p, n);
    b->len += n;
    return 0;
  }
  return dynbuf_add(b, p, n) ? -1 : 0;
}

static int put_string(struct dynbuf *b, const char *s) {
  if (!s)
    return put(b, "\"\"", 2);
  /* Keys and most values are short: copied in the same pass that finds
   * their end, when they fit in 16 bytes and need no escape (otherwise
   * the bytes written here are simply written again below). */
  if (b->ptr && b->cap - b->len > 20) {
    char *o = b->ptr + b->len;
    o[0] = '"';
#if defined(__SSE2__) && !AT_UNDER_ASAN
    /* Sixteen bytes at once when they cannot cross into the next page
     * (the bytes past the terminator are read, never used: what
     * strlen() does; not under ASan, which would rightly object). */
    if (((uintptr_t)s & 4095) <= 4096 - 16) {
      __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
      __m128i bad =
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                    _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                       _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1F)), x));
      unsigned mask = (unsigned)_mm_movemask_epi8(bad);
      if (mask) {
        unsigned i = (unsigned)__builtin_ctz(mask);
        if (s[i] == '\0') {
          _mm_storeu_si128((__m128i *)(void *)(o + 1), x);
          o[i + 1] = '"';
          b->len += i + 2;
          return 0;
        }
      }
      goto long_string; /* longer than 15 bytes, or an escape in them */
    }
#endif
    size_t i = 0;
    while (i < 16 && !escaped[(unsigned char)s[i]]) {
      o[i + 1] = s[i];
      i++;
    }
    if (i < 16 && s[i] == '\0') {
      o[i + 1] = '"';
      b->len += i + 2;
      return 0;
    }
  }
#if defined(__SSE2__) && !AT_UNDER_ASAN
long_string:;
#endif
  size_t n = strlen(s);
  /* Most strings need no escape: one reservation, one copy. */
  if (!(b->ptr && b->len + n + 3 <= b->cap) && dynbuf_reserve(b, n + 2) < 0)
    return -1;
  if (put(b, "\"", 1))
    return -1;
  while (n) {
    size_t run = plain_run(s, n);
    if (run && put(b, s, run))
      return -1;
    s += run;
    n -= run;
    if (!n)
      break;
    unsigned char c = (unsigned char)*s++;
    n--;
    char esc[8];
    size_t elen = 2;
    esc[0] = '\\';
    switch (c) {
    case '"':
      esc[1] = '"';
      break;
    case '\\':
      esc[1] = '\\';
      break;
    case '\b':
      esc[1] = 'b';
      break;
    case '\f':
      esc[1] = 'f';
      break;
    case '\n':
      esc[1] = 'n';
      break;
    case '\r':
      esc[1] = 'r';
      break;
    case '\t':
      esc[1] = 't';
      break;
    default:
      snprintf(esc, sizeof esc, "\\u%04x", c);
      elen = 6;
      break;
    }
    if (put(b, esc, elen))
      return -1;
  }
  return put(b, "\"", 1);
}

/* cJSON's test of a printed number read back. */
static int close_enough(double a, double b) {
  double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
  return fabs(a - b) <= m * DBL_EPSILON;
}

/* Exact powers of ten (a double holds 10^k exactly up to k = 22). */
static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* What "%1.15g" prints for d, without stdio, when d is the double nearest
 * to a decimal m / 10^k with at most 15 significant digits (0.7, 0.00039,
 * 1e-07: parameters and prices are such numbers). Rounding d to 15
 * significant digits then gives m / 10^k exactly (d is within half an ulp,
 * 2^-53 relative, of it; the 15-digit grid is 10^-15 relative at its
 * finest), and reading that text back gives d again, so cJSON would keep
 * the 15-digit text too. Returns the length written to out (at least 32
 * bytes), or 0 when d is not such a number (the caller uses stdio). The
 * caller has handled whole numbers below 10^15, NaN and the infinities. */
static int put_short_decimal(char *out, double d) {
  double a = fabs(d);
  long long m = 0;
  int k;
  for (k = 1; k <= 22; k++) {
    double x = a * pow10[k];
    if (x >= 1e15)
      return 0;
    m = llround(x);
    if (m > 0 && (double)m / pow10[k] == a)
      break;
  }
  if (k > 22)
    return 0;
  /* m's digits; k was the least that works, so m does not end in 0. */
  char dig[24];
  int nd = 0;
  for (unsigned long long u = (unsigned long long)m; u; u /= 10)
    dig[nd++] = (char)('0' + u % 10);
  for (int i = 0; i < nd / 2; i++) {
    char t = dig[i];
    dig[i] = dig[nd - 1 - i];
    dig[nd - 1 - i] = t;
  }
  int x10 = nd - 1 - k; /* the decimal exponent of the first digit */
  int n = 0;
  if (signbit(d))
    out[n++] = '-';
  if (x10 < -4) {
    /* %g's scientific form: d.ddde-XX, at least two exponent digits */
    out[n++] = dig[0];
    if (nd > 1) {
      out[n++] = '.';
      memcpy(out + n, dig + 1, (size_t)nd - 1);
      n += nd - 1;
    }
    int e = -x10;
    out[n++] = 'e';
    out[n++] = '-';
    if (e >= 100)
      out[n++] = (char)('0' + e / 100);
    out[n++] = (char)('0' + e / 10 % 10);
    out[n++] = (char)('0' + e % 10);
  } else if (x10 < 0) {
    out[n++] = '0';
    out[n++] = '.';
    for (int i = -1; i > x10; i--)
      out[n++] = '0';
    memcpy(out + n, dig, (size_t)nd);
    n += nd;
  } else {
    /* d is not whole, so some digit follows the point */
    memcpy(out + n, dig, (size_t)x10 + 1);
    n += x10 + 1;
    out[n++] = '.';
    memcpy(out + n, dig + x10 + 1, (size_t)(nd - x10 - 1));
    n += nd - x10 - 1;
  }
  return n;
}

/* cJSON's number format: %1.15g, or %1.17g when 15 digits do not read
 * back (within cJSON's tolerance); NaN and infinities as null. Whole
 * numbers under 10^15 — what %1.15g prints digit for digit — are printed
 * without stdio. */
static int put_number(struct dynbuf *b, const cJSON *v) {
  double d = v->valuedouble;
  char buf[32];
  int n;
  if (isnan(d) || isinf(d))
    return put(b, "null", 4);
  if (fabs(d) < 1e15 && d == (double)(long long)d) {
    long long x = (long long)d;
    unsigned long long u =
        x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
    char tmp[24];
    size_t k = 0;
    do {
      tmp[k++] = (char)('0' + u % 10);
      u /= 10;
    } while (u);
    n = 0;
    if (signbit(d)) /* "-0" too, as %g prints it */
      buf[n++] = '-';
    while (k)
      buf[n++] = tmp[--k];
    return put(b, buf, (size_t)n);
  }
  n = put_short_decimal(buf, d);
  if (n > 0)
    return put(b, buf, (size_t)n);
  /* The application may have set a locale whose decimal point is not
   * '.': the text is converted both ways in the C locale's terms. */
  char dp = *localeconv()->decimal_point;
  n = snprintf(buf, sizeof buf, "%1.15g", d);
  if (n > 0 && (size_t)n < sizeof buf && !close_enough(strtod(buf, NULL), d))
    n = snprintf(buf, sizeof buf, "%1.17g", d);
  if (n <= 0 || (size_t)n >= sizeof buf)
    return -1;
  if (dp && dp != '.')
    for (int i = 0; i < n; i++)
      if (buf[i] == dp)
        buf[i] = '.';
  return put(b, buf, (size_t)n);
}

static int put_value(struct dynbuf *b, const cJSON *v, int depth) {
  if (depth > 10000)
    return -1;
  switch (v->type & 0xFF) {
  case cJSON_False:
    return put(b, "false", 5);
  case cJSON_True:
    return put(b, "true", 4);
  case cJSON_NULL:
    return put(b, "null", 4);
  case cJSON_Number:
    return put_number(b, v);
  case cJSON_String:
    return put_string(b, v->valuestring);
  case cJSON_Raw:
    if (!v->valuestring)
      return -1;
    return dynbuf_addstr(b, v->valuestring) ? -1 : 0;
  case cJSON_Array:
  case cJSON_Object: {
    int obj = (v->type & 0xFF) == cJSON_Object;
    if (put(b, obj ? "{" : "[", 1))
      return -1;
    for (const cJSON *c = v->child; c; c = c->next) {
      if (c != v->child && put(b, ",", 1))
        return -1;
      if (obj) {
        if (put_string(b, c->string) < 0 || put(b, ":", 1))
          return -1;
      }
      if (put_value(b, c, depth + 1) < 0)
        return -1;
    }
    return put(b, obj ? "}" : "]", 1);
  }
  default:
    return -1;
  }
}

int at_json_write(struct dynbuf *b, const cJSON *v) {
  if (!v || b->truncated || b->oom)
    return -1;
  int rc = put_value(b, v, 0);
  if (b->ptr)
    b->ptr[b->len] = '\0'; /* put() leaves the terminator to us */
  return rc < 0 || b->truncated || b->oom ? -1 : 0;
}
