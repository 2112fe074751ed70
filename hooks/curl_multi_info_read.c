/* curl_multi_info_read: a CURLMSG_DONE is where a multi transfer ends,
 * with its result code. */
#include "curl_hooks.h"
#include "preload/runtime.h"
#include "preload/symbols.h"

AT_EXPORT CURLMsg *curl_multi_info_read(CURLM *m, int *msgs_in_queue) {
  at_multi_info_read_fn real = (at_multi_info_read_fn)AT_CURL_REAL(
      multi_info_read, "curl_multi_info_read", curl_multi_info_read);
  if (!real)
    return NULL;
  CURLMsg *msg = real(m, msgs_in_queue);
  if (msg && msg->msg == CURLMSG_DONE && at_curl_depth == 0) {
    struct at_curl_handle *st = at_curl_handle_get(msg->easy_handle, 0);
    if (st && st->active)
      at_curl_finish(st, (int)msg->data.result, NULL, 0);
  }
  return msg;
}
