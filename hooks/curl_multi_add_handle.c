/* curl_multi_add_handle: a transfer starts; begin capturing it. */
#include "curl_hooks.h"
#include "preload/runtime.h"
#include "preload/symbols.h"

AT_EXPORT CURLMcode curl_multi_add_handle(CURLM *m, CURL *h) {
  at_multi_handle_fn real = (at_multi_handle_fn)AT_CURL_REAL(
      multi_add_handle, "curl_multi_add_handle", curl_multi_add_handle);
  if (!real)
    return CURLM_INTERNAL_ERROR;
  if (at_curl_depth > 0) /* libcurl's own easy_perform driving itself */
    return real(m, h);
  struct at_curl_handle *st = at_curl_handle_get(h, 0);
  int traced = st && at_curl_begin(st);
  CURLMcode rc = real(m, h);
  if (traced && rc != CURLM_OK)
    at_curl_cancel(st); /* the transfer never started */
  return rc;
}
