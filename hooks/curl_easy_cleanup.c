/* curl_easy_cleanup: an exchange still in flight ends here, abandoned. */
#include "curl_hooks.h"
#include "preload/symbols.h"

AT_EXPORT void curl_easy_cleanup(CURL *h) {
  at_easy_cleanup_fn real = (at_easy_cleanup_fn)AT_CURL_REAL(
      easy_cleanup, "curl_easy_cleanup", curl_easy_cleanup);
  struct at_curl_handle *st = h ? at_curl_handle_take(h) : NULL;
  if (st && st->active)
    at_curl_finish(st, -1, "handle cleaned up before the transfer ended", 0);
  if (real)
    real(h);
  at_curl_handle_free(st);
}
