#include "fmt.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *fmt_count(uint64_t n, char *buf, size_t len) {
  char digits[24];
  int nd = snprintf(digits, sizeof digits, "%" PRIu64, n);
  char out[32];
  size_t o = 0;
  for (int i = 0; i < nd; i++) {
    if (i > 0 && (nd - i) % 3 == 0)
      out[o++] = ',';
    out[o++] = digits[i];
  }
  out[o] = '\0';
  snprintf(buf, len, "%s", out);
  return buf;
}

const char *fmt_duration(int64_t ns, char *buf, size_t len) {
  if (ns < 0)
    ns = 0;
  if (ns < 1000000) {
    /* Sub-millisecond: keep microseconds so a fast local call is not "0". */
    if (ns < 1000)
      snprintf(buf, len, "%" PRId64 " ns", ns);
    else
      snprintf(buf, len, "%" PRId64 " \xc2\xb5s", ns / 1000);
  } else if (ns < 1000000000) {
    snprintf(buf, len, "%" PRId64 " ms", ns / 1000000);
  } else if (ns < 60 * (int64_t)1000000000) {
    double s = (double)ns / 1e9;
    snprintf(buf, len, s < 10 ? "%.2f s" : "%.1f s", s);
  } else {
    int64_t s = ns / 1000000000;
    if (s < 3600)
      snprintf(buf, len, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
    else
      snprintf(buf, len, "%" PRId64 "h %02" PRId64 "m", s / 3600,
               (s % 3600) / 60);
  }
  return buf;
}

const char *fmt_cost(double usd, char *buf, size_t len) {
  if (!(usd > 0) || !isfinite(usd)) {
    snprintf(buf, len, "$0");
  } else if (usd >= 1) {
    snprintf(buf, len, "$%.2f", usd);
  } else {
    /* Two significant digits: enough to compare calls, short to read. */
    int decimals = (int)ceil(-log10(usd)) + 1;
    if (decimals < 2)
      decimals = 2;
    if (decimals > 12)
      decimals = 12;
    snprintf(buf, len, "$%.*f", decimals, usd);
    /* Rounding can add a digit (0.00995 -> "0.0100"): drop trailing zeros
     * beyond the cents. */
    char *dot = strchr(buf, '.');
    size_t n = strlen(buf);
    while (dot && n > (size_t)(dot - buf) + 3 && buf[n - 1] == '0')
      buf[--n] = '\0';
  }
  return buf;
}

const char *fmt_local_time(int64_t unix_ns, char *buf, size_t len) {
  time_t secs = (time_t)(unix_ns / 1000000000);
  struct tm tm;
  if (!localtime_r(&secs, &tm) ||
      strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    snprintf(buf, len, "?");
  return buf;
}

const char *fmt_bytes(uint64_t n, char *buf, size_t len) {
  static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
  if (n < 1024) {
    snprintf(buf, len, "%" PRIu64 " B", n);
    return buf;
  }
  double v = (double)n / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    u++;
  }
  snprintf(buf, len, "%.1f %s", v, unit[u]);
  return buf;
}

const char *fmt_plural(uint64_t n, const char *one, const char *many, char *buf,
                       size_t len) {
  char num[FMT_BUF];
  snprintf(buf, len, "%s %s", fmt_count(n, num, sizeof num),
           n == 1 ? one : many);
  return buf;
}
