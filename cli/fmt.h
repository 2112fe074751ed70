/* fmt: numbers, durations, money and times as people read them.
 * Every function writes a NUL-terminated string into a caller buffer and
 * returns it, so calls can nest in printf. FMT_BUF bytes always suffice,
 * except for fmt_plural, which also holds the caller's words. */
#ifndef AT_CLI_FMT_H
#define AT_CLI_FMT_H

#include <stddef.h>
#include <stdint.h>

#define FMT_BUF 32

/* 1234567 -> "1,234,567" */
const char *fmt_count(uint64_t n, char *buf, size_t len);

/* Nanoseconds -> "850 µs", "12 ms", "1.24 s", "2m 05s", "1h 02m".
 * Negative durations (clock skew) print as "0 ms". */
const char *fmt_duration(int64_t ns, char *buf, size_t len);

/* US dollars -> "$1.23", "$0.0042", "$0.000031": two significant digits
 * below a cent, cents above; "$0" for zero. */
const char *fmt_cost(double usd, char *buf, size_t len);

/* Unix ns -> local "YYYY-MM-DD HH:MM:SS". */
const char *fmt_local_time(int64_t unix_ns, char *buf, size_t len);

/* Bytes -> "812 B", "4.0 KiB", "1.2 MiB", "3.4 GiB". */
const char *fmt_bytes(uint64_t n, char *buf, size_t len);

/* "1 trace" / "2 traces": count, a space, then singular or plural. */
const char *fmt_plural(uint64_t n, const char *one, const char *many, char *buf,
                       size_t len);

#endif
