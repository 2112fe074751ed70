#include "clock.h"

#include <stdio.h>
#include <time.h>

int64_t at_wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t at_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void at_format_iso(int64_t unix_ns, char *buf, unsigned long buflen) {
  time_t secs = (time_t)(unix_ns / 1000000000);
  long usec = (long)((unix_ns % 1000000000) / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, usec);
}
