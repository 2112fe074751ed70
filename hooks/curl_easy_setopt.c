/* curl_easy_setopt: record the options the capture needs, forward all.
 *
 * The hook is variadic like the real one. libcurl's option numbers carry
 * their argument type in bands of 10000 (long, object pointer, function
 * pointer, curl_off_t, blob), so the argument is read with exactly the
 * type the caller passed and forwarded with that type. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "curl_hooks.h"
#include "preload/runtime.h"
#include "preload/symbols.h"

typedef void (*at_any_fn)(void);

static int is_tracked(CURLoption opt) {
  switch (opt) {
  case CURLOPT_URL:
  case CURLOPT_POSTFIELDS:
  case CURLOPT_COPYPOSTFIELDS:
  case CURLOPT_POSTFIELDSIZE:
  case CURLOPT_POSTFIELDSIZE_LARGE:
  case CURLOPT_HTTPHEADER:
  case CURLOPT_WRITEFUNCTION:
  case CURLOPT_WRITEDATA:
  case CURLOPT_HEADERFUNCTION:
  case CURLOPT_HEADERDATA:
  case CURLOPT_READFUNCTION:
  case CURLOPT_READDATA:
  case CURLOPT_SEEKFUNCTION:
  case CURLOPT_SEEKDATA:
  case CURLOPT_HEADER:
    return 1;
  default:
    return 0;
  }
}

/* The state for h when the option matters to us. Once a handle has state
 * it keeps being tracked even if capture is switched off, because an
 * armed handle must keep routing callbacks through the state. */
static struct at_curl_handle *state_for(CURL *h, CURLoption opt) {
  if (!is_tracked(opt))
    return NULL;
  struct at_curl_handle *st = at_curl_handle_get(h, 0);
  if (!st && at_enabled())
    st = at_curl_handle_get(h, 1);
  return st;
}

static void set_url(struct at_curl_handle *st, const char *url) {
  if (url && st->url && strcmp(st->url, url) == 0)
    return; /* the same LLM URL again: the same match */
  free(st->url);
  st->url = NULL;
  memset(&st->match, 0, sizeof st->match);
  if (!url || (st->nomatch[0] && strcmp(st->nomatch, url) == 0))
    return; /* none, or the same other URL again: api NONE */
  if (at_match_url(url, &st->match) && st->match.api != AT_API_NONE) {
    st->url = strdup(url);
    if (!st->url)
      st->match.api = AT_API_NONE;
    return;
  }
  st->match.api = AT_API_NONE;
  size_t n = strlen(url);
  if (n < sizeof st->nomatch)
    memcpy(st->nomatch, url, n + 1);
}

/* CURLOPT_COPYPOSTFIELDS: libcurl copies the data now (POSTFIELDSIZE as set
 * before, else strlen), and the app may free it right after: so do we. */
static void copy_postfields(struct at_curl_handle *st, const char *data) {
  free(st->copypostfields);
  st->copypostfields = NULL;
  st->copypostfields_len = 0;
  st->copypostfields_truncated = 0;
  st->postfields = NULL;
  if (!data)
    return;
  size_t n = st->postfieldsize >= 0 ? (size_t)st->postfieldsize : strlen(data);
  if (n > at_cfg.max_body) {
    n = at_cfg.max_body;
    st->copypostfields_truncated = 1;
  }
  st->copypostfields = malloc(n + 1);
  if (!st->copypostfields)
    return;
  memcpy(st->copypostfields, data, n);
  st->copypostfields[n] = '\0';
  st->copypostfields_len = n;
}

/* Record a pointer option. Returns 1 when the option must not reach
 * libcurl because our trampoline is installed in its place. */
static int record_ptr(struct at_curl_handle *st, CURLoption opt, void *p) {
  switch (opt) {
  case CURLOPT_URL:
    set_url(st, p);
    return 0;
  case CURLOPT_POSTFIELDS:
    free(st->copypostfields);
    st->copypostfields = NULL;
    st->postfields = p;
    return 0;
  case CURLOPT_COPYPOSTFIELDS:
    copy_postfields(st, p);
    return 0;
  case CURLOPT_HTTPHEADER:
    st->headers = p;
    return 0;
  case CURLOPT_WRITEDATA:
    st->app_writedata = p;
    st->app_writedata_set = 1;
    return st->armed;
  case CURLOPT_HEADERDATA:
    st->app_headerdata = p;
    return st->armed;
  case CURLOPT_READDATA:
    st->app_readdata = p;
    st->app_readdata_set = 1;
    return st->armed_read;
  case CURLOPT_SEEKDATA:
    st->app_seekdata = p;
    return st->armed_read;
  default:
    return 0;
  }
}

static int record_fn(struct at_curl_handle *st, CURLoption opt, at_any_fn f) {
  switch (opt) {
  case CURLOPT_WRITEFUNCTION:
    memcpy(&st->app_write, &f, sizeof f);
    return st->armed;
  case CURLOPT_HEADERFUNCTION:
    memcpy(&st->app_header, &f, sizeof f);
    return st->armed;
  case CURLOPT_READFUNCTION:
    memcpy(&st->app_read, &f, sizeof f);
    return st->armed_read;
  case CURLOPT_SEEKFUNCTION:
    memcpy(&st->app_seek, &f, sizeof f);
    /* A seek function added after arming is installed at the next arm. */
    return st->armed_read;
  default:
    return 0;
  }
}

AT_EXPORT CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...) {
  at_easy_setopt_fn real = (at_easy_setopt_fn)AT_CURL_REAL(
      easy_setopt, "curl_easy_setopt", curl_easy_setopt);
  va_list ap;
  va_start(ap, opt);
  CURLcode rc = CURLE_FAILED_INIT;
  struct at_curl_handle *st = real ? state_for(h, opt) : NULL;
  if (opt >= CURLOPTTYPE_BLOB) { /* struct curl_blob * */
    void *p = va_arg(ap, void *);
    rc = real ? real(h, opt, p) : rc;
  } else if (opt >= CURLOPTTYPE_OFF_T) {
    curl_off_t v = va_arg(ap, curl_off_t);
    if (st && opt == CURLOPT_POSTFIELDSIZE_LARGE)
      st->postfieldsize = v;
    rc = real ? real(h, opt, v) : rc;
  } else if (opt >= CURLOPTTYPE_FUNCTIONPOINT) {
    at_any_fn f = va_arg(ap, at_any_fn);
    if (st && record_fn(st, opt, f))
      rc = CURLE_OK;
    else
      rc = real ? real(h, opt, f) : rc;
  } else if (opt >= CURLOPTTYPE_OBJECTPOINT) {
    void *p = va_arg(ap, void *);
    if (st && record_ptr(st, opt, p))
      rc = CURLE_OK;
    else
      rc = real ? real(h, opt, p) : rc;
  } else {
    long v = va_arg(ap, long);
    if (st && opt == CURLOPT_POSTFIELDSIZE)
      st->postfieldsize = v;
    if (st && opt == CURLOPT_HEADER)
      st->opt_header = v;
    rc = real ? real(h, opt, v) : rc;
  }
  va_end(ap);
  return rc;
}
