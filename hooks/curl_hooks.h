/* curl_hooks: shared declarations of the libcurl capture path.
 *
 * How a transfer is captured without changing what the app sees:
 *  - curl_easy_setopt records the options that matter (URL, body, headers,
 *    the app's write/header/read/seek callbacks and their data) in a
 *    per-handle state, and forwards every option unchanged.
 *  - When a transfer starts (curl_easy_perform, curl_multi_add_handle) on an
 *    LLM URL, the handle is "armed": our trampolines are installed as the
 *    write/header (and read/seek) callbacks. Each trampoline calls the
 *    app's callback, or libcurl's default behaviour (fwrite to WRITEDATA,
 *    stdout by default) when the app set none, returns exactly its result,
 *    and keeps a copy of the bytes the app accepted.
 *  - When it ends (perform returns, a CURLMSG_DONE is read, the handle is
 *    removed or cleaned up) the copy becomes a capture for the worker.
 *  - While armed, the app's later setopt calls for those callbacks are
 *    recorded, not forwarded, so our trampoline stays and calls the new
 *    one. Non-LLM transfers on an armed handle disarm it first.
 * A handle is only ever used by one thread at a time (libcurl's rule), so
 * the state needs no lock; only the handle table does. */
#ifndef AT_CURL_HOOKS_H
#define AT_CURL_HOOKS_H

#define CURL_DISABLE_DEPRECATION 1
#define CURL_DISABLE_TYPECHECK 1 /* we define the real entry points */
#include <curl/curl.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "preload/capture.h"
#include "providers/exchange.h"
#include "providers/providers.h"

/* Marks a hooked entry point: the only symbols the shim exports (the build
 * hides everything else, and preload/exports.map lists these). */
#define AT_EXPORT __attribute__((visibility("default")))

typedef CURLcode (*at_easy_setopt_fn)(CURL *, CURLoption, ...);
typedef CURLcode (*at_easy_getinfo_fn)(CURL *, CURLINFO, ...);
typedef CURLcode (*at_easy_perform_fn)(CURL *);
typedef void (*at_easy_reset_fn)(CURL *);
typedef CURL *(*at_easy_duphandle_fn)(CURL *);
typedef void (*at_easy_cleanup_fn)(CURL *);
typedef const char *(*at_easy_strerror_fn)(CURLcode);
typedef CURLMcode (*at_multi_handle_fn)(CURLM *, CURL *);
typedef CURLMcode (*at_multi_perform_fn)(CURLM *, int *);
typedef CURLMcode (*at_multi_socket_action_fn)(CURLM *, curl_socket_t, int,
                                               int *);
typedef CURLMcode (*at_multi_socket_fn)(CURLM *, curl_socket_t, int *);
typedef CURLMsg *(*at_multi_info_read_fn)(CURLM *, int *);

/* The real libcurl entry points, resolved on first use. */
struct at_curl_real {
  void *easy_setopt, *easy_getinfo, *easy_perform, *easy_reset, *easy_duphandle,
      *easy_cleanup, *easy_strerror, *multi_add_handle, *multi_remove_handle,
      *multi_perform, *multi_socket_action, *multi_socket, *multi_socket_all,
      *multi_info_read;
};
extern struct at_curl_real at_curl_real;

/* Returns the real function for a hook (NULL when libcurl is absent). */
#define AT_CURL_REAL(field, name, self)                                        \
  at_resolve(&at_curl_real.field, name, (void *)(self))

struct at_curl_handle {
  CURL *easy;
  struct at_curl_handle *next; /* hash bucket chain */

  /* options as the application set them */
  struct at_match match; /* what the current URL is */
  char *url;             /* kept only when match.api != AT_API_NONE */
  /* The verdict on a URL depends on its text alone, and clients set the
   * same URL request after request: the last one that did not match is
   * remembered (up to this size), as a matching one is in `url`, so that
   * setting it again is a string compare, not a match (set_url). */
  char nomatch[128];
  const char *postfields;
  char *copypostfields; /* our copy of CURLOPT_COPYPOSTFIELDS */
  size_t copypostfields_len;
  int copypostfields_truncated;
  curl_off_t postfieldsize; /* -1: not set (strlen applies) */
  struct curl_slist *headers;
  curl_write_callback app_write;
  void *app_writedata;
  int app_writedata_set;
  curl_write_callback app_header;
  void *app_headerdata;
  curl_read_callback app_read;
  void *app_readdata;
  int app_readdata_set;
  curl_seek_callback app_seek;
  void *app_seekdata;
  long opt_header; /* CURLOPT_HEADER: headers also go to the write callback */

  int armed;      /* our write/header trampolines are installed */
  int armed_read; /* our read (and seek) trampolines are installed */

  /* the exchange in flight */
  int active;
  int tid;
  int64_t t_start, t_first;
  struct dynbuf req_headers, req_body, resp_headers, resp_body;
  /* the sizes of the last exchange's copies: what to ask the buffer pool
   * for (preload/bufpool.h) when the next one starts */
  size_t last_req_headers, last_resp_headers, last_resp_body;
  int req_body_unknown;
  /* the capture this exchange will become: taken from the buffer pool
   * with the copies' buffers when it begins (NULL: allocated at the end) */
  struct at_capture *capture;
  struct at_chunk_mark marks[AT_MAX_CHUNK_MARKS];
  size_t nmarks;
  uintptr_t stack[AT_STACK_MAX]; /* the app's call stack at the start */
  unsigned nstack;
};

/* ---- handle table (curl_handles.c) ---- */
/* Find the state of a handle; with create, make one when missing (NULL on
 * allocation failure). */
struct at_curl_handle *at_curl_handle_get(CURL *easy, int create);
/* Unlink and return the state (caller frees with at_curl_handle_free). */
struct at_curl_handle *at_curl_handle_take(CURL *easy);
void at_curl_handle_free(struct at_curl_handle *st);
/* Forget every option (curl_easy_reset semantics). */
void at_curl_handle_clear_options(struct at_curl_handle *st);

/* ---- exchange lifecycle (curl_exchange.c) ---- */
/* Before a transfer starts: arm or disarm the handle; begin capturing when
 * its URL is an LLM endpoint. Returns 1 when an exchange was begun. */
int at_curl_begin(struct at_curl_handle *st);
/* The transfer ended with `result` (a CURLcode, or -1 when abandoned, with
 * `why`). With answered_means_done, an abandoned transfer that received an
 * HTTP status counts as complete. Queues the capture for the worker. */
void at_curl_finish(struct at_curl_handle *st, int result, const char *why,
                    int answered_means_done);
/* Drop an exchange that never started (add_handle failed). */
void at_curl_cancel(struct at_curl_handle *st);
/* Put the app's own callbacks back into libcurl. */
void at_curl_disarm(struct at_curl_handle *st);

/* setopt through the real function, typed by option band. */
CURLcode at_curl_real_setopt_ptr(CURL *h, CURLoption opt, void *p);
CURLcode at_curl_real_setopt_long(CURL *h, CURLoption opt, long v);

#endif
