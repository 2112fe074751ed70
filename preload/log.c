#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int at_log_level_now = AT_LOG_OFF;
static int log_fd = 2;

void at_log_open(const struct at_config *cfg) {
  at_log_level_now = cfg->log_level;
  if (cfg->log_level != AT_LOG_OFF && cfg->log_path[0]) {
    int fd =
        open(cfg->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0)
      log_fd = fd;
  }
}

void at_log_write(int level, const char *fmt, ...) {
  int saved = errno; /* logging must never change the app's errno */
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "autotrace[%d]: %s", (int)getpid(),
                   level >= AT_LOG_DEBUG ? "debug: " : "");
  if (n < 0 || (size_t)n >= sizeof buf)
    n = 0;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (m < 0)
    m = 0;
  size_t len = (size_t)n + (size_t)m;
  if (len > sizeof buf - 2)
    len = sizeof buf - 2;
  buf[len++] = '\n';
  ssize_t w = write(log_fd, buf, len);
  (void)w;
  errno = saved;
}
