/* curl_easy_perform: one blocking transfer, captured when its URL is an
 * LLM endpoint. libcurl runs it through its multi API, calling our
 * curl_multi_* hooks on the way: at_curl_depth tells them to stay out. */
#include <errno.h>

#include "curl_hooks.h"
#include "preload/runtime.h"
#include "preload/symbols.h"

AT_EXPORT CURLcode curl_easy_perform(CURL *h) {
  at_easy_perform_fn real = (at_easy_perform_fn)AT_CURL_REAL(
      easy_perform, "curl_easy_perform", curl_easy_perform);
  if (!real)
    return CURLE_FAILED_INIT;
  struct at_curl_handle *st = at_curl_handle_get(h, 0);
  int traced = st && at_curl_begin(st);
  at_curl_depth++;
  CURLcode rc = real(h);
  at_curl_depth--;
  if (traced) {
    int saved = errno;
    at_curl_finish(st, rc, NULL, 0);
    errno = saved;
  }
  return rc;
}
