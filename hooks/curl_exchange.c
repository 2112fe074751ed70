/* curl_exchange: arming a handle, the callback trampolines, and turning a
 * finished transfer into a capture. See curl_hooks.h for the model. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "curl_hooks.h"
#include "preload/bufpool.h"
#include "preload/capture.h"
#include "preload/context.h"
#include "preload/log.h"
#include "preload/runtime.h"
#include "preload/stack.h"
#include "preload/symbols.h"
#include "preload/worker.h"

/* Response header blocks larger than this are not LLM traffic we can use;
 * the cap only bounds memory. */
#define AT_MAX_HEADER_BYTES (256 * 1024)

CURLcode at_curl_real_setopt_ptr(CURL *h, CURLoption opt, void *p) {
  at_easy_setopt_fn real = (at_easy_setopt_fn)AT_CURL_REAL(
      easy_setopt, "curl_easy_setopt", curl_easy_setopt);
  return real ? real(h, opt, p) : CURLE_FAILED_INIT;
}

CURLcode at_curl_real_setopt_long(CURL *h, CURLoption opt, long v) {
  at_easy_setopt_fn real = (at_easy_setopt_fn)AT_CURL_REAL(
      easy_setopt, "curl_easy_setopt", curl_easy_setopt);
  return real ? real(h, opt, v) : CURLE_FAILED_INIT;
}

static CURLcode real_setopt_fn(CURL *h, CURLoption opt, void (*fn)(void)) {
  at_easy_setopt_fn real = (at_easy_setopt_fn)AT_CURL_REAL(
      easy_setopt, "curl_easy_setopt", curl_easy_setopt);
  return real ? real(h, opt, fn) : CURLE_FAILED_INIT;
}

/* ---- trampolines: call the app's callback (or libcurl's default), return
 * exactly its answer, keep a copy of what it accepted ---- */

static void note_response_bytes(struct at_curl_handle *st, const char *p,
                                size_t n) {
  if (!st->active || n == 0)
    return;
  int64_t now = at_wall_ns();
  if (!st->t_first)
    st->t_first = now;
  dynbuf_add(&st->resp_body, p, n); /* a cut is flagged in the capture */
  if (st->nmarks < AT_MAX_CHUNK_MARKS) {
    st->marks[st->nmarks].offset = st->resp_body.len;
    st->marks[st->nmarks].t_ns = now;
    st->nmarks++;
  }
}

static size_t at_write_cb(char *ptr, size_t size, size_t nmemb, void *ud) {
  struct at_curl_handle *st = ud;
  void *data = st->app_writedata_set ? st->app_writedata : (void *)stdout;
  size_t ret = st->app_write ? st->app_write(ptr, size, nmemb, data)
                             : fwrite(ptr, size, nmemb, (FILE *)data);
  if (ret != CURL_WRITEFUNC_PAUSE) {
    size_t total = size * nmemb;
    int saved = errno;
    note_response_bytes(st, ptr, ret < total ? ret : total);
    errno = saved;
  }
  return ret;
}

/* libcurl's header rule: the header callback when set; else, when
 * HEADERDATA is set, the write callback (fwrite by default) with
 * HEADERDATA; else headers go nowhere. */
static size_t at_header_cb(char *ptr, size_t size, size_t nmemb, void *ud) {
  struct at_curl_handle *st = ud;
  size_t total = size * nmemb;
  if (st->active && total) {
    int saved = errno;
    if (!st->t_first)
      st->t_first = at_wall_ns();
    dynbuf_add(&st->resp_headers, ptr, total);
    errno = saved;
  }
  if (st->app_header)
    return st->app_header(ptr, size, nmemb, st->app_headerdata);
  if (st->app_headerdata)
    return st->app_write ? st->app_write(ptr, size, nmemb, st->app_headerdata)
                         : fwrite(ptr, size, nmemb, (FILE *)st->app_headerdata);
  return total;
}

static size_t at_read_cb(char *buf, size_t size, size_t nitems, void *ud) {
  struct at_curl_handle *st = ud;
  void *data = st->app_readdata_set ? st->app_readdata : (void *)stdin;
  size_t ret = st->app_read(buf, size, nitems, data);
  if (st->active && ret != CURL_READFUNC_ABORT && ret != CURL_READFUNC_PAUSE &&
      ret <= size * nitems) {
    int saved = errno;
    dynbuf_add(&st->req_body, buf, ret);
    errno = saved;
  }
  return ret;
}

/* A rewind (redirect, auth retry) resends the body: keep only what will be
 * sent from the new position. */
static int at_seek_cb(void *ud, curl_off_t offset, int origin) {
  struct at_curl_handle *st = ud;
  int ret = st->app_seek(st->app_seekdata, offset, origin);
  if (st->active && ret == CURL_SEEKFUNC_OK) {
    if (origin == SEEK_SET && offset >= 0 &&
        (size_t)offset <= st->req_body.len) {
      st->req_body.len = (size_t)offset;
      if (st->req_body.ptr)
        st->req_body.ptr[offset] = '\0';
    } else {
      st->req_body_unknown = 1;
    }
  }
  return ret;
}

/* ---- arming ---- */

static int wants_read_wrap(const struct at_curl_handle *st) {
  /* POSTFIELDS wins over a read callback in libcurl: then the callback is
   * never called for the body (the curl CLI always sets one). With
   * libcurl's default fread, libcurl rewinds by fseek() only if it still
   * sees fread: wrapping it would break rewinds, so we do not. */
  return st->app_read && st->app_read != (curl_read_callback)fread &&
         !st->postfields && !st->copypostfields;
}

static void disarm_read(struct at_curl_handle *st) {
  CURL *h = st->easy;
  if (!st->armed_read)
    return;
  real_setopt_fn(h, CURLOPT_READFUNCTION, (void (*)(void))st->app_read);
  at_curl_real_setopt_ptr(h, CURLOPT_READDATA,
                          st->app_readdata_set ? st->app_readdata
                                               : (void *)stdin);
  if (st->app_seek) {
    real_setopt_fn(h, CURLOPT_SEEKFUNCTION, (void (*)(void))st->app_seek);
    at_curl_real_setopt_ptr(h, CURLOPT_SEEKDATA, st->app_seekdata);
  }
  st->armed_read = 0;
}

static void arm(struct at_curl_handle *st) {
  CURL *h = st->easy;
  if (!st->armed) {
    real_setopt_fn(h, CURLOPT_WRITEFUNCTION, (void (*)(void))at_write_cb);
    at_curl_real_setopt_ptr(h, CURLOPT_WRITEDATA, st);
    real_setopt_fn(h, CURLOPT_HEADERFUNCTION, (void (*)(void))at_header_cb);
    at_curl_real_setopt_ptr(h, CURLOPT_HEADERDATA, st);
    st->armed = 1;
  }
  int want_read = wants_read_wrap(st);
  if (!want_read) {
    disarm_read(st);
  } else if (!st->armed_read) {
    real_setopt_fn(h, CURLOPT_READFUNCTION, (void (*)(void))at_read_cb);
    at_curl_real_setopt_ptr(h, CURLOPT_READDATA, st);
    if (st->app_seek) {
      real_setopt_fn(h, CURLOPT_SEEKFUNCTION, (void (*)(void))at_seek_cb);
      at_curl_real_setopt_ptr(h, CURLOPT_SEEKDATA, st);
    }
    st->armed_read = 1;
  }
}

void at_curl_disarm(struct at_curl_handle *st) {
  CURL *h = st->easy;
  if (st->armed) {
    real_setopt_fn(h, CURLOPT_WRITEFUNCTION, (void (*)(void))st->app_write);
    at_curl_real_setopt_ptr(h, CURLOPT_WRITEDATA,
                            st->app_writedata_set ? st->app_writedata
                                                  : (void *)stdout);
    real_setopt_fn(h, CURLOPT_HEADERFUNCTION, (void (*)(void))st->app_header);
    at_curl_real_setopt_ptr(h, CURLOPT_HEADERDATA, st->app_headerdata);
    st->armed = 0;
  }
  disarm_read(st);
}

/* ---- begin / finish ---- */

/* What an exchange starts with from the buffer pool (preload/bufpool.h):
 * its capture's memory and buffers for the copies, each of at least the
 * size its handle copied last time, all under one lock. The copies then go
 * to memory that is mapped and warm, with no allocation. */
enum {
  TAKE_CAPTURE,
  TAKE_REQ_BODY,
  TAKE_REQ_HEADERS,
  TAKE_RESP_HEADERS,
  TAKE_RESP_BODY,
  NTAKE
};

static void take_pooled(struct at_curl_handle *st, size_t req_body) {
  size_t want[NTAKE] = {
      [TAKE_CAPTURE] = sizeof(struct at_capture),
      [TAKE_REQ_BODY] = req_body + 1,
      [TAKE_REQ_HEADERS] = st->last_req_headers + 1,
      [TAKE_RESP_HEADERS] = st->last_resp_headers + 1,
      [TAKE_RESP_BODY] = st->last_resp_body + 1,
  };
  struct dynbuf *into[NTAKE] = {
      [TAKE_REQ_BODY] = req_body ? &st->req_body : NULL,
      [TAKE_REQ_HEADERS] = st->headers ? &st->req_headers : NULL,
      [TAKE_RESP_HEADERS] = &st->resp_headers,
      [TAKE_RESP_BODY] = &st->resp_body,
  };
  /* the entries wanted, packed (a request without a body or headers) */
  size_t n = 0, which[NTAKE], wants[NTAKE], cap[NTAKE];
  char *got[NTAKE];
  for (size_t i = 0; i < NTAKE; i++)
    if (i == TAKE_CAPTURE ? !st->capture : into[i] != NULL) {
      which[n] = i;
      wants[n++] = want[i];
    }
  at_bufpool_get_n(n, wants, got, cap);
  for (size_t k = 0; k < n; k++) {
    if (!got[k])
      continue;
    if (which[k] == TAKE_CAPTURE) {
      memset(got[k], 0, sizeof(struct at_capture));
      st->capture = (struct at_capture *)(void *)got[k];
    } else {
      dynbuf_adopt(into[which[k]], got[k], cap[k]);
    }
  }
}

/* The request's body as the app gave it with CURLOPT_(COPY)POSTFIELDS:
 * its bytes, their count; NULL when it streams one (or sends none). */
static const char *posted_body(const struct at_curl_handle *st, size_t *n) {
  if (st->copypostfields) {
    *n = st->copypostfields_len;
    return st->copypostfields;
  }
  if (st->postfields) {
    *n = st->postfieldsize >= 0 ? (size_t)st->postfieldsize
                                : strlen(st->postfields);
    return st->postfields;
  }
  *n = 0;
  return NULL;
}

static void snapshot_request(struct at_curl_handle *st) {
  size_t max = at_cfg.max_body;
  dynbuf_init(&st->req_headers, AT_MAX_HEADER_BYTES);
  dynbuf_init(&st->req_body, max);
  dynbuf_init(&st->resp_headers, AT_MAX_HEADER_BYTES);
  dynbuf_init(&st->resp_body, max);
  st->req_body_unknown = 0;
  size_t body_n = 0;
  const char *body = st->armed_read ? NULL : posted_body(st, &body_n);
  take_pooled(st, body ? (body_n < max ? body_n : max) : 0);
  for (struct curl_slist *l = st->headers; l; l = l->next) {
    if (!l->data)
      continue;
    dynbuf_addstr(&st->req_headers, l->data);
    dynbuf_add(&st->req_headers, "\r\n", 2);
  }
  if (st->armed_read)
    return; /* the read trampoline collects the body as it is sent */
  if (body) {
    dynbuf_reserve(&st->req_body, body_n);
    dynbuf_add(&st->req_body, body, body_n);
    if (st->copypostfields && st->copypostfields_truncated)
      st->req_body.truncated = 1;
  } else if (st->app_read == (curl_read_callback)fread ||
             (!st->app_read && st->app_readdata_set)) {
    st->req_body_unknown = 1; /* an upload through libcurl's own fread */
  }
}

int at_curl_begin(struct at_curl_handle *st) {
  if (!st)
    return 0;
  if (st->active) /* a previous exchange never reported its end */
    at_curl_finish(st, -1, "handle reused before the transfer ended", 0);
  if (st->match.api == AT_API_NONE || st->match.api == AT_API_OTHER_LLM ||
      !at_enabled()) {
    if (st->armed || st->armed_read)
      at_curl_disarm(st);
    if (at_capture_on)
      AT_COUNT(skipped_not_llm);
    return 0;
  }
  int saved = errno;
  st->nstack = at_stack_capture(st->stack, AT_STACK_MAX);
  at_context_capture_begins(); /* this thread's origin, pending spawns */
  arm(st);
  snapshot_request(st);
  st->nmarks = 0;
  st->t_first = 0;
  st->tid = at_thread_id();
  st->active = 1;
  st->t_start = at_wall_ns();
  errno = saved;
  return 1;
}

/* Drop what an exchange holds: its capture's block and its copies. */
static void drop_exchange(struct at_curl_handle *st) {
  at_bufpool_put((char *)(void *)st->capture, sizeof *st->capture);
  st->capture = NULL;
  dynbuf_free(&st->req_headers);
  dynbuf_free(&st->req_body);
  dynbuf_free(&st->resp_headers);
  dynbuf_free(&st->resp_body);
}

void at_curl_cancel(struct at_curl_handle *st) {
  if (!st || !st->active)
    return;
  st->active = 0;
  drop_exchange(st);
}

/* A copy for the capture, with its allocated size; NULL when nothing was
 * copied (a kept buffer that stayed empty goes back to the pool). */
static char *take_copy(struct dynbuf *b, size_t *len, size_t *cap) {
  *cap = b->cap;
  if (b->ptr && b->len == 0) {
    at_bufpool_put(b->ptr, b->cap);
    dynbuf_init(b, b->max);
    *len = 0;
    *cap = 0;
    return NULL;
  }
  return dynbuf_take(b, len);
}

/* With CURLOPT_HEADER the header bytes also went through the write
 * callback: cut them off the front of the body copy. */
static void strip_headers_from_body(struct at_curl_handle *st) {
  size_t n = st->resp_headers.len;
  if (!st->opt_header || n == 0 || st->resp_body.len < n)
    return;
  if (memcmp(st->resp_body.ptr, st->resp_headers.ptr, n) != 0)
    return;
  memmove(st->resp_body.ptr, st->resp_body.ptr + n, st->resp_body.len - n + 1);
  st->resp_body.len -= n;
  for (size_t i = 0; i < st->nmarks; i++)
    st->marks[i].offset = st->marks[i].offset > n ? st->marks[i].offset - n : 0;
}

void at_curl_finish(struct at_curl_handle *st, int result, const char *why,
                    int answered_means_done) {
  if (!st || !st->active)
    return;
  int saved = errno;
  st->active = 0;
  int64_t t_end = at_wall_ns();
  CURL *h = st->easy;

  long status = 0;
  char *method = NULL;
  at_easy_getinfo_fn getinfo = (at_easy_getinfo_fn)at_resolve(
      &at_curl_real.easy_getinfo, "curl_easy_getinfo", NULL);
  if (getinfo) {
    getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    getinfo(h, CURLINFO_EFFECTIVE_METHOD, &method);
  }
  /* A handle removed from its multi handle without a CURLMSG_DONE having
   * been read: if an answer arrived we take it as done (the parsers flag a
   * body that was cut short). */
  if (result == -1 && status > 0 && answered_means_done)
    result = CURLE_OK;

  struct at_capture *c = st->capture ? st->capture : at_capture_alloc();
  st->capture = NULL;
  if (!c) {
    AT_COUNT(dropped_oom);
    drop_exchange(st); /* (st->active is already 0: cancel would not) */
    errno = saved;
    return;
  }
  strip_headers_from_body(st);
  c->method = at_capture_set_str(
      c, method && *method ? method : (st->req_body.len ? "POST" : "GET"));
  c->url = st->url ? at_capture_set_str(c, st->url) : NULL;
  c->match = st->match;
  c->tid = st->tid;
  memcpy(c->stack, st->stack, st->nstack * sizeof st->stack[0]);
  c->nstack = st->nstack;
  c->ex.req_body_truncated = st->req_body.truncated;
  c->ex.resp_body_truncated = st->resp_body.truncated;
  c->ex.req_body_unknown = st->req_body_unknown;
  if (st->req_body.truncated || st->resp_body.truncated)
    AT_COUNT(truncated_bodies);
  st->last_req_headers = st->req_headers.len;
  st->last_resp_headers = st->resp_headers.len;
  st->last_resp_body = st->resp_body.len;
  c->req_headers =
      take_copy(&st->req_headers, &c->ex.req_headers_len, &c->req_headers_cap);
  c->req_body = take_copy(&st->req_body, &c->ex.req_body_len, &c->req_body_cap);
  c->resp_headers = take_copy(&st->resp_headers, &c->ex.resp_headers_len,
                              &c->resp_headers_cap);
  c->resp_body =
      take_copy(&st->resp_body, &c->ex.resp_body_len, &c->resp_body_cap);
  if (result != CURLE_OK) {
    const char *msg = why;
    if (result > 0) {
      at_easy_strerror_fn se = (at_easy_strerror_fn)at_resolve(
          &at_curl_real.easy_strerror, "curl_easy_strerror", NULL);
      msg = se ? se((CURLcode)result) : "transfer failed";
    }
    c->error_msg =
        at_capture_set_str(c, msg ? msg : "transfer did not complete");
  }
  if (!c->method || !c->url) {
    at_capture_free(c);
    AT_COUNT(dropped_oom);
    errno = saved;
    return;
  }

  struct at_exchange *ex = &c->ex;
  ex->method = c->method;
  ex->url = c->url;
  ex->req_headers = c->req_headers;
  ex->req_body = c->req_body;
  ex->resp_headers = c->resp_headers;
  ex->resp_body = c->resp_body;
  ex->status = (int)status;
  ex->transport_error = result;
  ex->transport_error_msg = c->error_msg;
  ex->t_start_ns = st->t_start;
  ex->t_first_byte_ns = st->t_first;
  ex->t_end_ns = t_end;
  memcpy(ex->marks, st->marks, st->nmarks * sizeof st->marks[0]);
  ex->nmarks = st->nmarks;
  ex->capture_path = "curl";
  at_worker_submit(c);
  errno = saved;
}
