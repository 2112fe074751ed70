/* bufpool: kept capture buffers are bounded in count, bytes and size; a
 * request gets a kept buffer that holds it, from the smallest size class
 * that has one, the most recently kept first. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "preload/bufpool.h"
#include "preload/capture.h"

static char *filled(size_t cap) {
  char *p = malloc(cap);
  cr_assert_not_null(p);
  memset(p, 'x', cap);
  return p;
}

/* Free every kept buffer (the pool outlives a test). */
static void drain(void) {
  size_t cap;
  char *p;
  while ((p = at_bufpool_get(0, &cap)))
    free(p);
}

Test(bufpool, smallest_fit_and_empty) {
  size_t cap = 0;
  cr_assert_null(at_bufpool_get(1, &cap), "empty at first");
  at_bufpool_put(filled(4096), 4096);
  at_bufpool_put(filled(1024), 1024);
  at_bufpool_put(filled(16384), 16384);
  cr_assert_eq(at_bufpool_count(), 3);
  char *p = at_bufpool_get(2000, &cap);
  cr_assert_not_null(p);
  cr_expect_eq(cap, 4096, "the smallest buffer that holds 2000 bytes");
  free(p);
  cr_assert_null(at_bufpool_get(20000, &cap), "none holds 20000");
  p = at_bufpool_get(1, &cap);
  cr_expect_eq(cap, 1024);
  free(p);
  p = at_bufpool_get(1, &cap);
  cr_expect_eq(cap, 16384);
  free(p);
  cr_assert_eq(at_bufpool_count(), 0);
  at_bufpool_put(NULL, 100); /* nothing to keep */
  cr_assert_eq(at_bufpool_count(), 0);
}

Test(bufpool, bounded) {
  /* too big to keep: freed (ASan would report a leak otherwise) */
  at_bufpool_put(filled(AT_BUFPOOL_MAX_BUF + 1), AT_BUFPOOL_MAX_BUF + 1);
  cr_assert_eq(at_bufpool_count(), 0);
  /* a size of 0 (not known) is not kept either, nor a tiny buffer */
  at_bufpool_put(filled(64), 0);
  at_bufpool_put(filled(AT_BUFPOOL_MIN_BUF - 1), AT_BUFPOOL_MIN_BUF - 1);
  cr_assert_eq(at_bufpool_count(), 0);
  /* count */
  for (int i = 0; i < AT_BUFPOOL_SLOTS + 5; i++)
    at_bufpool_put(filled(512), 512);
  cr_assert_eq(at_bufpool_count(), AT_BUFPOOL_SLOTS);
  drain();
  /* bytes: buffers of the largest kept size fill the byte bound first */
  size_t fit = AT_BUFPOOL_BYTES / AT_BUFPOOL_MAX_BUF;
  for (size_t i = 0; i < fit + 2; i++)
    at_bufpool_put(filled(AT_BUFPOOL_MAX_BUF), AT_BUFPOOL_MAX_BUF);
  cr_assert_eq(at_bufpool_count(),
               fit < AT_BUFPOOL_SLOTS ? fit : AT_BUFPOOL_SLOTS);
  drain();
}

/* Within a size class (powers of two) the last buffer kept is the first
 * handed out, when it is big enough; else one further down that is. */
Test(bufpool, last_kept_first_within_a_class) {
  char *a = filled(1100), *b = filled(1900), *c = filled(1300);
  at_bufpool_put(b, 1900);
  at_bufpool_put(c, 1300);
  at_bufpool_put(a, 1100); /* kept last, too small for 1200 */
  size_t cap = 0;
  cr_expect_eq(at_bufpool_get(1200, &cap), c, "the last kept that holds 1200");
  cr_expect_eq(cap, 1300);
  cr_expect_eq(at_bufpool_get(1200, &cap), b);
  cr_expect_eq(cap, 1900);
  cr_expect_null(at_bufpool_get(1200, &cap), "none left that holds 1200");
  cr_expect_eq(at_bufpool_get(1000, &cap), a);
  cr_expect_eq(cap, 1100);
  free(a);
  free(b);
  free(c);
  cr_assert_eq(at_bufpool_count(), 0);
}

/* Several at once (one lock): each want gets its own buffer or NULL, and
 * a buffer handed out once is not handed out again. */
Test(bufpool, several_at_once) {
  at_bufpool_put(filled(300), 300);
  at_bufpool_put(filled(3000), 3000);
  at_bufpool_put(filled(600), 600);
  size_t want[4] = {500, 500, 500, 100000};
  char *out[4];
  size_t cap[4];
  at_bufpool_get_n(4, want, out, cap);
  cr_expect_eq(cap[0], 600, "its own class first");
  cr_expect_eq(cap[1], 3000, "then the next class up");
  cr_expect_null(out[2], "300 does not hold 500");
  cr_expect_null(out[3], "none holds 100000");
  cr_expect_eq(at_bufpool_count(), 1);
  free(out[0]);
  free(out[1]);
  at_bufpool_get_n(0, want, out, cap); /* nothing asked: nothing taken */
  cr_expect_eq(at_bufpool_count(), 1);
  drain();
}

/* A dynbuf started on a kept buffer appends into it, grows past it like
 * any other, and hands it over. */
Test(bufpool, dynbuf_adopts_a_kept_buffer) {
  at_bufpool_put(filled(AT_BUFPOOL_MIN_BUF), AT_BUFPOOL_MIN_BUF);
  struct dynbuf b;
  dynbuf_init(&b, 1000);
  size_t cap = 0;
  char *p = at_bufpool_get(10, &cap);
  cr_assert_not_null(p);
  dynbuf_adopt(&b, p, cap);
  cr_expect_eq(b.len, 0);
  cr_expect_str_eq(b.ptr, "");
  cr_assert_eq(dynbuf_addstr(&b, "hello"), 0);
  cr_expect_eq(b.ptr, p, "filled in place");
  char big[AT_BUFPOOL_MIN_BUF];
  memset(big, 'y', sizeof big);
  cr_assert_eq(dynbuf_add(&b, big, sizeof big), 0);
  cr_expect_eq(b.len, 5 + sizeof big);
  cr_expect_eq(b.ptr[5 + sizeof big], '\0');
  size_t len;
  char *t = dynbuf_take(&b, &len);
  cr_expect_eq(len, 5 + sizeof big);
  cr_expect(memcmp(t, "hello", 5) == 0);
  free(t);
}

/* A consumed curl capture gives back its four copies and its own memory;
 * the next capture is made from it, zeroed. Other kinds are freed. */
Test(bufpool, captures_recycled) {
  struct at_capture *c = at_capture_alloc();
  cr_assert_not_null(c);
  c->kind = AT_CAPTURE_EXCHANGE;
  c->method = strdup("POST");
  c->url = strdup("https://example.test/v1/chat/completions");
  c->req_body = filled(4096);
  c->req_body_cap = 4096;
  c->resp_headers = filled(AT_BUFPOOL_MAX_BUF + 1); /* too big: freed */
  c->resp_headers_cap = AT_BUFPOOL_MAX_BUF + 1;
  c->resp_body = filled(1024);
  c->resp_body_cap = 1024;
  c->nstack = 5;
  at_capture_release(c);
  cr_assert_eq(at_bufpool_count(), 3, "two copies and the capture itself");
  struct at_capture *d = at_capture_alloc();
  cr_assert_not_null(d);
  static const struct at_capture zero;
  cr_expect(memcmp(d, &zero, sizeof zero) == 0, "handed out zeroed");
  cr_expect_eq(at_bufpool_count(), 2);
  /* not an exchange: freed whole, nothing kept */
  d->kind = AT_CAPTURE_THREAD;
  at_capture_release(d);
  cr_expect_eq(at_bufpool_count(), 2);
  drain();
}

/* Short strings live in the capture itself, longer ones are allocated;
 * freeing the capture frees exactly the allocated ones (ASan checks). */
Test(bufpool, capture_strings) {
  struct at_capture *c = at_capture_alloc();
  cr_assert_not_null(c);
  c->kind = AT_CAPTURE_EXCHANGE;
  c->method = at_capture_set_str(c, "POST");
  c->url = at_capture_set_str(c, "http://127.0.0.1:8080/v1/messages");
  cr_expect_str_eq(c->method, "POST");
  cr_expect_str_eq(c->url, "http://127.0.0.1:8080/v1/messages");
  cr_expect(c->url >= c->strs && c->url < c->strs + sizeof c->strs,
            "held by the capture");
  char long_msg[AT_CAPTURE_STRS + 10];
  memset(long_msg, 'e', sizeof long_msg - 1);
  long_msg[sizeof long_msg - 1] = '\0';
  c->error_msg = at_capture_set_str(c, long_msg);
  cr_assert_not_null(c->error_msg);
  cr_expect_str_eq(c->error_msg, long_msg);
  cr_expect(c->error_msg < c->strs || c->error_msg >= c->strs + sizeof c->strs,
            "too long for the capture: allocated");
  /* filling the room exactly still fits; one byte more does not */
  struct at_capture *d = at_capture_alloc();
  cr_assert_not_null(d);
  char fits[AT_CAPTURE_STRS];
  memset(fits, 'f', sizeof fits - 1);
  fits[sizeof fits - 1] = '\0';
  d->url = at_capture_set_str(d, fits);
  cr_expect_eq(d->url, d->strs);
  d->method = at_capture_set_str(d, "");
  cr_expect(d->method < d->strs || d->method >= d->strs + sizeof d->strs,
            "no room left: allocated");
  cr_expect_str_eq(d->method, "");
  at_capture_free(d);
  at_capture_release(c);
  drain();
}
