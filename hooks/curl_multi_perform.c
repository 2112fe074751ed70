/* curl_multi_perform and the socket-driven calls: no capture work of their
 * own (the trampolines see the bytes), but while libcurl runs inside them
 * at_curl_depth is raised, so that hooks below libcurl (TLS, sockets) know
 * these bytes are already being captured through the curl path. */
#include "curl_hooks.h"
#include "preload/runtime.h"
#include "preload/symbols.h"

AT_EXPORT CURLMcode curl_multi_perform(CURLM *m, int *running) {
  at_multi_perform_fn real = (at_multi_perform_fn)AT_CURL_REAL(
      multi_perform, "curl_multi_perform", curl_multi_perform);
  if (!real)
    return CURLM_INTERNAL_ERROR;
  at_curl_depth++;
  CURLMcode rc = real(m, running);
  at_curl_depth--;
  return rc;
}

AT_EXPORT CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s,
                                             int ev_bitmask, int *running) {
  at_multi_socket_action_fn real = (at_multi_socket_action_fn)AT_CURL_REAL(
      multi_socket_action, "curl_multi_socket_action",
      curl_multi_socket_action);
  if (!real)
    return CURLM_INTERNAL_ERROR;
  at_curl_depth++;
  CURLMcode rc = real(m, s, ev_bitmask, running);
  at_curl_depth--;
  return rc;
}

/* curl.h maps the old name onto socket_action for new code; programs built
 * against old headers still call the exported symbol. */
#undef curl_multi_socket
CURLMcode curl_multi_socket(CURLM *m, curl_socket_t s, int *running);
AT_EXPORT CURLMcode curl_multi_socket(CURLM *m, curl_socket_t s, int *running) {
  at_multi_socket_fn real = (at_multi_socket_fn)AT_CURL_REAL(
      multi_socket, "curl_multi_socket", curl_multi_socket);
  if (!real)
    return CURLM_INTERNAL_ERROR;
  at_curl_depth++;
  CURLMcode rc = real(m, s, running);
  at_curl_depth--;
  return rc;
}

AT_EXPORT CURLMcode curl_multi_socket_all(CURLM *m, int *running) {
  at_multi_perform_fn real = (at_multi_perform_fn)AT_CURL_REAL(
      multi_socket_all, "curl_multi_socket_all", curl_multi_socket_all);
  if (!real)
    return CURLM_INTERNAL_ERROR;
  at_curl_depth++;
  CURLMcode rc = real(m, running);
  at_curl_depth--;
  return rc;
}
