#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "preload/config.h"

static void clear_env(void) {
  const char *names[] = {
      AT_ENV_DISABLE,     AT_ENV_SPOOL,    AT_ENV_HOSTS,      AT_ENV_CAPTURE,
      AT_ENV_MAX_BODY,    AT_ENV_PRICES,   AT_ENV_LOG,        AT_ENV_QUEUE,
      AT_ENV_TRACEPARENT, AT_ENV_TRACE_ID, AT_ENV_SESSION_ID, AT_ENV_USER_ID,
      AT_ENV_TRACE_NAME,  AT_ENV_TAGS,     "XDG_STATE_HOME"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    unsetenv(names[i]);
  setenv("HOME", "/home/tester", 1);
}

TestSuite(config, .init = clear_env);

Test(config, defaults) {
  struct at_config c;
  at_config_load(&c);
  cr_expect_eq(c.disabled, 0);
  cr_expect_eq(c.capture_metadata_only, 0);
  cr_expect_eq(c.max_body, AT_DEFAULT_MAX_BODY);
  cr_expect_eq(c.queue_max, AT_DEFAULT_QUEUE);
  cr_expect_eq(c.log_level, AT_LOG_ERROR);
  cr_expect_str_eq(c.spool_dir, "/home/tester/.local/state/autotrace");
  cr_expect_str_eq(c.trace_id, "");
  cr_expect_str_eq(c.config_error, "");
}

Test(config, spool_resolution_order) {
  struct at_config c;
  setenv("XDG_STATE_HOME", "/xdg", 1);
  at_config_load(&c);
  cr_expect_str_eq(c.spool_dir, "/xdg/autotrace");
  setenv(AT_ENV_SPOOL, "/explicit", 1);
  at_config_load(&c);
  cr_expect_str_eq(c.spool_dir, "/explicit");
  unsetenv(AT_ENV_SPOOL);
  setenv("XDG_STATE_HOME", "relative", 1); /* XDG says: ignore relative */
  at_config_load(&c);
  cr_expect_str_eq(c.spool_dir, "/home/tester/.local/state/autotrace");
}

Test(config, sizes_and_bad_values) {
  struct at_config c;
  setenv(AT_ENV_MAX_BODY, "512K", 1);
  at_config_load(&c);
  cr_expect_eq(c.max_body, 512 * 1024);
  setenv(AT_ENV_MAX_BODY, "2MB", 1);
  at_config_load(&c);
  cr_expect_eq(c.max_body, 2 * 1024 * 1024);
  setenv(AT_ENV_MAX_BODY, "lots", 1);
  at_config_load(&c);
  cr_expect_eq(c.max_body, AT_DEFAULT_MAX_BODY);
  cr_expect(strstr(c.config_error, AT_ENV_MAX_BODY) != NULL);
}

Test(config, disable_and_capture_mode) {
  struct at_config c;
  setenv(AT_ENV_DISABLE, "1", 1);
  setenv(AT_ENV_CAPTURE, "metadata", 1);
  at_config_load(&c);
  cr_expect_eq(c.disabled, 1);
  cr_expect_eq(c.capture_metadata_only, 1);
  setenv(AT_ENV_DISABLE, "0", 1);
  at_config_load(&c);
  cr_expect_eq(c.disabled, 0);
}

Test(config, log_levels_and_file) {
  struct at_config c;
  setenv(AT_ENV_LOG, "debug:/tmp/at.log", 1);
  at_config_load(&c);
  cr_expect_eq(c.log_level, AT_LOG_DEBUG);
  cr_expect_str_eq(c.log_path, "/tmp/at.log");
  setenv(AT_ENV_LOG, "off", 1);
  at_config_load(&c);
  cr_expect_eq(c.log_level, AT_LOG_OFF);
  setenv(AT_ENV_LOG, "loud", 1);
  at_config_load(&c);
  cr_expect_eq(c.log_level, AT_LOG_ERROR);
  cr_expect_neq(c.config_error[0], '\0');
}

Test(config, explicit_trace_context) {
  struct at_config c;
  setenv(AT_ENV_TRACEPARENT,
         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1);
  setenv(AT_ENV_TRACE_ID, "0AF7651916CD43DD8448EB211C80319C", 1);
  setenv(AT_ENV_SESSION_ID, "chat-42", 1);
  setenv(AT_ENV_TAGS, "a, b", 1);
  at_config_load(&c);
  cr_expect_str_eq(c.traceparent_trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  cr_expect_str_eq(c.traceparent_span_id, "00f067aa0ba902b7");
  cr_expect_str_eq(c.trace_id, "0af7651916cd43dd8448eb211c80319c");
  cr_expect_str_eq(c.session_id, "chat-42");
  cr_expect_str_eq(c.tags, "a, b");
}

Test(config, malformed_trace_context_is_ignored) {
  struct at_config c;
  setenv(AT_ENV_TRACEPARENT, "garbage", 1);
  setenv(AT_ENV_TRACE_ID, "xyz", 1);
  at_config_load(&c);
  cr_expect_str_eq(c.traceparent_trace_id, "");
  cr_expect_str_eq(c.trace_id, "");
  cr_expect_eq(c.traceparent_invalid, 1);
  cr_expect(strstr(c.config_error, AT_ENV_TRACE_ID) != NULL);
}
