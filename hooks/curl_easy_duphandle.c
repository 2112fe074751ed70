/* curl_easy_duphandle: the copy inherits every option, including our
 * trampolines whose data points at the original's state. Give the copy its
 * own state with the app's options, and put the app's callbacks back into
 * the copy; it is armed again when it starts a transfer. */
#include <stdlib.h>
#include <string.h>

#include "curl_hooks.h"
#include "preload/symbols.h"

static char *dup_bytes(const char *p, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, p, n);
    d[n] = '\0';
  }
  return d;
}

AT_EXPORT CURL *curl_easy_duphandle(CURL *h) {
  at_easy_duphandle_fn real = (at_easy_duphandle_fn)AT_CURL_REAL(
      easy_duphandle, "curl_easy_duphandle", curl_easy_duphandle);
  if (!real)
    return NULL;
  CURL *copy = real(h);
  struct at_curl_handle *st = copy ? at_curl_handle_get(h, 0) : NULL;
  if (!st)
    return copy;
  struct at_curl_handle *nst = at_curl_handle_get(copy, 1);
  if (!nst) {
    /* No memory for a state: the copy must at least not call into ours. */
    struct at_curl_handle tmp = *st;
    tmp.easy = copy;
    at_curl_disarm(&tmp);
    return copy;
  }
  nst->match = st->match;
  nst->url = st->url ? strdup(st->url) : NULL;
  if (st->url && !nst->url)
    nst->match.api = AT_API_NONE;
  nst->postfields = st->postfields;
  if (st->copypostfields) {
    nst->copypostfields = dup_bytes(st->copypostfields, st->copypostfields_len);
    nst->copypostfields_len = nst->copypostfields ? st->copypostfields_len : 0;
    nst->copypostfields_truncated = st->copypostfields_truncated;
  }
  nst->postfieldsize = st->postfieldsize;
  nst->headers = st->headers;
  nst->app_write = st->app_write;
  nst->app_writedata = st->app_writedata;
  nst->app_writedata_set = st->app_writedata_set;
  nst->app_header = st->app_header;
  nst->app_headerdata = st->app_headerdata;
  nst->app_read = st->app_read;
  nst->app_readdata = st->app_readdata;
  nst->app_readdata_set = st->app_readdata_set;
  nst->app_seek = st->app_seek;
  nst->app_seekdata = st->app_seekdata;
  nst->opt_header = st->opt_header;
  /* The copy carries our trampolines exactly when the original does. */
  nst->armed = st->armed;
  nst->armed_read = st->armed_read;
  at_curl_disarm(nst);
  return copy;
}
