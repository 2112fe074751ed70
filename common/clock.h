/* clock: the two clocks autotrace uses.
 * Wall-clock nanoseconds stamp observations (they are shipped as
 * startTimeUnixNano); the monotonic clock measures durations. Both are vDSO
 * calls: cheap enough for a hook. */
#ifndef AT_CLOCK_H
#define AT_CLOCK_H

#include <stdint.h>

int64_t at_wall_ns(void);
int64_t at_mono_ns(void);

/* Format unix nanoseconds as RFC 3339 UTC with microseconds
 * ("2026-11-21T06:19:52.123456Z"). buf must hold 32 bytes. */
void at_format_iso(int64_t unix_ns, char *buf, unsigned long buflen);

#endif
