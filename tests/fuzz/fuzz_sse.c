/* fuzz_sse: libFuzzer target for the SSE splitter.
 *
 * Byte 0 picks a feed size (1..32, or whole); byte 1 the event cap. The
 * rest is the stream. The target parses it whole and in pieces and aborts
 * if the two disagree: splitting a stream must never change its events. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 4096

struct record {
  size_t n;
  uint64_t hash[MAX_EVENTS]; /* of event, data and id */
  size_t end[MAX_EVENTS];
};

static uint64_t fnv(uint64_t h, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
  return h;
}

static int on_event(const struct at_sse_event *ev, void *arg) {
  struct record *r = arg;
  if (ev->data[ev->data_len] != '\0')
    abort(); /* data must be NUL-terminated at data_len */
  if (r->n < MAX_EVENTS) {
    uint64_t h = fnv(1469598103934665603ull, ev->event, ev->event_len);
    h = fnv(h, "|", 1);
    h = fnv(h, ev->data, ev->data_len);
    h = fnv(h, "|", 1);
    h = fnv(h, ev->id, ev->id_len);
    r->hash[r->n] = h;
    r->end[r->n] = ev->end_offset;
  }
  r->n++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t step = data[0] % 33;
  size_t cap = 16 + (size_t)data[1] * 4;
  const char *text = (const char *)data + 2;
  size_t n = size - 2;

  static struct record whole, piece;
  memset(&whole, 0, sizeof whole);
  memset(&piece, 0, sizeof piece);
  struct at_sse s;
  at_sse_parse(&s, text, n, cap, on_event, &whole);
  size_t oversize = s.oversize;
  at_sse_free(&s);

  at_sse_init(&s, cap, on_event, &piece);
  if (step == 0)
    step = n ? n : 1;
  for (size_t i = 0; i < n; i += step)
    at_sse_feed(&s, text + i, n - i < step ? n - i : step);
  at_sse_finish(&s);
  if (s.oversize != oversize)
    abort();
  at_sse_free(&s);

  if (whole.n != piece.n)
    abort();
  size_t k = whole.n < MAX_EVENTS ? whole.n : MAX_EVENTS;
  for (size_t i = 0; i < k; i++)
    if (whole.hash[i] != piece.hash[i] || whole.end[i] != piece.end[i] ||
        whole.end[i] > n)
      abort();
  return 0;
}
