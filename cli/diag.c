#include "diag.h"

#include <stdarg.h>
#include <stdio.h>

static void say(const char *what, const char *fmt, va_list ap) {
  fputs("autotrace: ", stderr);
  if (what)
    fputs(what, stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void cli_err(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  say(NULL, fmt, ap);
  va_end(ap);
}

void cli_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  say("warning: ", fmt, ap);
  va_end(ap);
}
