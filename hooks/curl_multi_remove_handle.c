/* curl_multi_remove_handle: a transfer whose end was never read with
 * curl_multi_info_read ends here. */
#include "curl_hooks.h"
#include "preload/runtime.h"
#include "preload/symbols.h"

AT_EXPORT CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h) {
  at_multi_handle_fn real = (at_multi_handle_fn)AT_CURL_REAL(
      multi_remove_handle, "curl_multi_remove_handle",
      curl_multi_remove_handle);
  if (!real)
    return CURLM_INTERNAL_ERROR;
  if (at_curl_depth == 0) {
    struct at_curl_handle *st = at_curl_handle_get(h, 0);
    if (st && st->active)
      at_curl_finish(st, -1,
                     "removed from the multi handle before it completed", 1);
  }
  return real(m, h);
}
