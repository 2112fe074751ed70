/* log: the shim's diagnostics, to stderr or AUTOTRACE_LOG's file.
 *
 * The level check is in the macro, so a disabled level costs one compare.
 * Messages are formatted into a stack buffer and written with one write(2),
 * never through stdio: the application owns stdio's buffers and locks.
 * Errors print by default (one line each, so that a broken spool is not a
 * silent loss); AUTOTRACE_LOG=off silences them. */
#ifndef AT_LOG_H
#define AT_LOG_H

#include "config.h"

extern int at_log_level_now;

void at_log_open(const struct at_config *cfg);
void at_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define AT_ERR(...)                                                            \
  do {                                                                         \
    if (at_log_level_now >= AT_LOG_ERROR)                                      \
      at_log_write(AT_LOG_ERROR, __VA_ARGS__);                                 \
  } while (0)

#define AT_DBG(...)                                                            \
  do {                                                                         \
    if (at_log_level_now >= AT_LOG_DEBUG)                                      \
      at_log_write(AT_LOG_DEBUG, __VA_ARGS__);                                 \
  } while (0)

#endif
