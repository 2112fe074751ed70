/* config: every environment variable autotrace reads, with its default.
 * Read once, at the first hook call or the constructor, whichever comes
 * first; the names and defaults live here and nowhere else. */
#ifndef AT_CONFIG_H
#define AT_CONFIG_H

#include <stddef.h>

#define AT_ENV_DISABLE "AUTOTRACE_DISABLE"
#define AT_ENV_SPOOL "AUTOTRACE_SPOOL"
#define AT_ENV_HOSTS "AUTOTRACE_HOSTS"
#define AT_ENV_CAPTURE "AUTOTRACE_CAPTURE"
#define AT_ENV_CAPTURE_BINARY "AUTOTRACE_CAPTURE_BINARY"
#define AT_ENV_MAX_BODY "AUTOTRACE_MAX_BODY"
#define AT_ENV_PRICES "AUTOTRACE_PRICES"
#define AT_ENV_LOG "AUTOTRACE_LOG"
#define AT_ENV_QUEUE "AUTOTRACE_QUEUE"
#define AT_ENV_TRACEPARENT "TRACEPARENT"
#define AT_ENV_TRACE_ID "AUTOTRACE_TRACE_ID"
#define AT_ENV_SESSION_ID "AUTOTRACE_SESSION_ID"
#define AT_ENV_USER_ID "AUTOTRACE_USER_ID"
#define AT_ENV_TRACE_NAME "AUTOTRACE_TRACE_NAME"
#define AT_ENV_TAGS "AUTOTRACE_TAGS"
#define AT_ENV_METADATA "AUTOTRACE_METADATA"
#define AT_ENV_KEEP_DEEPBIND "AUTOTRACE_KEEP_DEEPBIND"

#define AT_DEFAULT_MAX_BODY (16u * 1024 * 1024)
#define AT_DEFAULT_QUEUE 1024 /* captures waiting for the worker */

enum at_log_level { AT_LOG_OFF = 0, AT_LOG_ERROR = 1, AT_LOG_DEBUG = 2 };

#define AT_PATH_MAX 4096
#define AT_ATTR_MAX 256

struct at_config {
  int disabled;
  int capture_metadata_only;
  int capture_binary; /* AUTOTRACE_CAPTURE_BINARY: keep images, audio, files */
  int keep_deepbind;  /* AUTOTRACE_KEEP_DEEPBIND: leave RTLD_DEEPBIND alone
                         (hooks/dlopen.c) */
  size_t max_body;
  size_t queue_max;
  enum at_log_level log_level;
  char log_path[AT_PATH_MAX]; /* "" = stderr */
  char spool_dir[AT_PATH_MAX];
  char prices_path[AT_PATH_MAX];
  char hosts[AT_PATH_MAX]; /* AUTOTRACE_HOSTS as given */
  /* explicit trace context */
  char traceparent_trace_id[33]; /* "" when absent or malformed */
  char traceparent_span_id[17];
  int traceparent_invalid; /* TRACEPARENT was set but malformed: ignored */
  char trace_id[33];       /* AUTOTRACE_TRACE_ID, validated, lowercased */
  char session_id[AT_ATTR_MAX];
  char user_id[AT_ATTR_MAX];
  char trace_name[AT_ATTR_MAX];
  char tags[AT_PATH_MAX];     /* comma-separated */
  char metadata[AT_PATH_MAX]; /* a JSON object, as given (checked by the
                                 core, which parses it) */
  char config_error[256];     /* first problem found, for the log */
  long long process_start_ns; /* when the shim was loaded (wall clock) */
  /* This process's place in the trace, assigned by the shim on the app's
   * thread at the first capture (preload/identity.c) and re-derived in a
   * fork()ed child, so that it never depends on whether the worker had
   * started before the fork. Empty until assigned. */
  char proc_trace_id[33];
  char proc_span_id[17];
  char proc_parent_id[17]; /* "" for a root */
};

/* Fill cfg from the environment. Never fails: bad values fall back to
 * defaults and are described in cfg->config_error. */
void at_config_load(struct at_config *cfg);

#endif
