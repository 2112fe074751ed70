/* AUTOTRACE_CAPTURE_BINARY: read like AUTOTRACE_DISABLE (set and not
 * 0/false/no/off), default off. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "preload/config.h"

Test(config_capture_binary, values) {
  static const struct {
    const char *value; /* NULL: unset */
    int want;
  } cases[] = {{NULL, 0}, {"", 0},  {"0", 0},    {"false", 0}, {"OFF", 0},
               {"no", 0}, {"1", 1}, {"true", 1}, {"yes", 1},   {"on", 1}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (cases[i].value)
      setenv(AT_ENV_CAPTURE_BINARY, cases[i].value, 1);
    else
      unsetenv(AT_ENV_CAPTURE_BINARY);
    struct at_config c;
    at_config_load(&c);
    cr_expect_eq(c.capture_binary, cases[i].want, "%s -> %d",
                 cases[i].value ? cases[i].value : "(unset)", c.capture_binary);
    cr_expect_str_eq(c.config_error, "");
  }
  unsetenv(AT_ENV_CAPTURE_BINARY);
}
