/* curl_easy_reset: libcurl forgets every option, our trampolines included,
 * so the state forgets them too. */
#include "curl_hooks.h"
#include "preload/symbols.h"

AT_EXPORT void curl_easy_reset(CURL *h) {
  at_easy_reset_fn real = (at_easy_reset_fn)AT_CURL_REAL(
      easy_reset, "curl_easy_reset", curl_easy_reset);
  struct at_curl_handle *st = at_curl_handle_get(h, 0);
  if (st && st->active)
    at_curl_finish(st, -1, "handle reset before the transfer ended", 0);
  if (real)
    real(h);
  if (st)
    at_curl_handle_clear_options(st);
}
