/* config: read the AUTOTRACE_* environment once. Runs inside the shim's
 * initialisation, possibly before main(): only getenv, string copies and
 * strtoull, no allocation. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"

static void copy_env(char *dst, size_t cap, const char *name) {
  const char *v = getenv(name);
  dst[0] = '\0';
  if (!v)
    return;
  snprintf(dst, cap, "%s", v);
}

static void note(struct at_config *cfg, const char *what, const char *value) {
  if (cfg->config_error[0])
    return; /* keep the first problem: it is usually the cause */
  snprintf(cfg->config_error, sizeof cfg->config_error, "%s: ignoring '%.80s'",
           what, value);
}

/* Sizes accept a plain byte count or a K/M/G suffix (powers of 1024). */
static int parse_size(const char *s, size_t *out) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s)
    return -1;
  switch (toupper((unsigned char)*end)) {
  case 'K':
    v <<= 10;
    end++;
    break;
  case 'M':
    v <<= 20;
    end++;
    break;
  case 'G':
    v <<= 30;
    end++;
    break;
  default:
    break;
  }
  if (*end == 'B' || *end == 'b')
    end++;
  if (*end != '\0' || v == 0)
    return -1;
  *out = (size_t)v;
  return 0;
}

static int truthy(const char *v) {
  return v && *v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 &&
         strcasecmp(v, "no") != 0 && strcasecmp(v, "off") != 0;
}

/* AUTOTRACE_SPOOL, else ${XDG_STATE_HOME:-$HOME/.local/state}/autotrace.
 * The CLI applies the same rule (cli/store.c, cli_spool_dir). */
static void resolve_spool(struct at_config *cfg) {
  const char *v = getenv(AT_ENV_SPOOL);
  if (v && *v) {
    snprintf(cfg->spool_dir, sizeof cfg->spool_dir, "%s", v);
    return;
  }
  const char *xdg = getenv("XDG_STATE_HOME");
  if (xdg && *xdg == '/') {
    snprintf(cfg->spool_dir, sizeof cfg->spool_dir, "%s/autotrace", xdg);
    return;
  }
  const char *home = getenv("HOME");
  if (home && *home) {
    snprintf(cfg->spool_dir, sizeof cfg->spool_dir, "%s/.local/state/autotrace",
             home);
    return;
  }
  cfg->spool_dir[0] = '\0'; /* nowhere to write: capture stays off */
}

void at_config_load(struct at_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->max_body = AT_DEFAULT_MAX_BODY;
  cfg->queue_max = AT_DEFAULT_QUEUE;
  cfg->log_level = AT_LOG_ERROR;

  cfg->disabled = truthy(getenv(AT_ENV_DISABLE));
  cfg->keep_deepbind = truthy(getenv(AT_ENV_KEEP_DEEPBIND));
  cfg->capture_binary = truthy(getenv(AT_ENV_CAPTURE_BINARY));

  const char *v = getenv(AT_ENV_CAPTURE);
  if (v && *v) {
    if (strcmp(v, "metadata") == 0)
      cfg->capture_metadata_only = 1;
    else if (strcmp(v, "full") != 0)
      note(cfg, AT_ENV_CAPTURE " (full|metadata)", v);
  }

  v = getenv(AT_ENV_MAX_BODY);
  if (v && *v && parse_size(v, &cfg->max_body) != 0) {
    note(cfg, AT_ENV_MAX_BODY, v);
    cfg->max_body = AT_DEFAULT_MAX_BODY;
  }

  v = getenv(AT_ENV_QUEUE);
  if (v && *v) {
    size_t q;
    if (parse_size(v, &q) == 0 && q <= 1000000)
      cfg->queue_max = q;
    else
      note(cfg, AT_ENV_QUEUE, v);
  }

  /* AUTOTRACE_LOG: off | error | debug, optionally ":/path/to/file". */
  v = getenv(AT_ENV_LOG);
  if (v && *v) {
    const char *colon = strchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) : strlen(v);
    if (n == 3 && strncmp(v, "off", 3) == 0)
      cfg->log_level = AT_LOG_OFF;
    else if (n == 5 && strncmp(v, "error", 5) == 0)
      cfg->log_level = AT_LOG_ERROR;
    else if (n == 5 && strncmp(v, "debug", 5) == 0)
      cfg->log_level = AT_LOG_DEBUG;
    else
      note(cfg, AT_ENV_LOG " (off|error|debug[:FILE])", v);
    if (colon && colon[1])
      snprintf(cfg->log_path, sizeof cfg->log_path, "%s", colon + 1);
  }

  resolve_spool(cfg);
  copy_env(cfg->prices_path, sizeof cfg->prices_path, AT_ENV_PRICES);
  copy_env(cfg->hosts, sizeof cfg->hosts, AT_ENV_HOSTS);
  copy_env(cfg->session_id, sizeof cfg->session_id, AT_ENV_SESSION_ID);
  copy_env(cfg->user_id, sizeof cfg->user_id, AT_ENV_USER_ID);
  copy_env(cfg->trace_name, sizeof cfg->trace_name, AT_ENV_TRACE_NAME);
  copy_env(cfg->tags, sizeof cfg->tags, AT_ENV_TAGS);
  copy_env(cfg->metadata, sizeof cfg->metadata, AT_ENV_METADATA);
  if (strlen(cfg->metadata) == sizeof cfg->metadata - 1) {
    /* cut JSON is not JSON: say so rather than send half an object */
    note(cfg, AT_ENV_METADATA " is longer than 4095 bytes", cfg->metadata);
    cfg->metadata[0] = '\0';
  }

  v = getenv(AT_ENV_TRACEPARENT);
  if (v && *v &&
      at_parse_traceparent(v, cfg->traceparent_trace_id,
                           cfg->traceparent_span_id) != 0) {
    /* Not our variable: other tools set it for their children, and a bad
     * one must not put our complaint on every child's stderr. The runtime
     * mentions it at debug level only. */
    cfg->traceparent_trace_id[0] = cfg->traceparent_span_id[0] = '\0';
    cfg->traceparent_invalid = 1;
  }

  v = getenv(AT_ENV_TRACE_ID);
  if (v && *v) {
    char lower[33];
    size_t n = strlen(v);
    if (n == 32) {
      for (size_t i = 0; i < 32; i++)
        lower[i] = (char)tolower((unsigned char)v[i]);
      lower[32] = '\0';
    }
    if (n == 32 && at_valid_hex_id(lower, 32))
      memcpy(cfg->trace_id, lower, 33);
    else
      note(cfg, AT_ENV_TRACE_ID " (32 hex digits)", v);
  }
}
