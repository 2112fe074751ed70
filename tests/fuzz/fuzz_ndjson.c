/* fuzz_ndjson: libFuzzer target for the NDJSON line splitter.
 *
 * Byte 0 picks a feed size (1..32, or whole; with bit 7 set the pieces
 * vary in size); byte 1 the line cap. The rest is the stream. The target
 * splits it whole and in pieces and aborts if the two disagree: splitting
 * a stream must never change its lines, their offsets, the overflow count
 * or the unterminated flag; lines never hold a line end, never exceed the
 * cap, and their end offsets grow and stay within the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/ndjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 4096

struct record {
  size_t n, cap, last_end;
  uint64_t hash[MAX_LINES];
  size_t end[MAX_LINES];
  int unterminated[MAX_LINES];
};

static uint64_t fnv(uint64_t h, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
  return h;
}

static int on_line(const struct at_ndjson_line *l, void *arg) {
  struct record *r = arg;
  if (memchr(l->data, '\n', l->len) || l->len == 0 || l->len > r->cap)
    abort(); /* no line end inside, no blank line, bounded */
  if (r->n && l->end_offset <= r->last_end)
    abort();
  r->last_end = l->end_offset;
  if (r->n < MAX_LINES) {
    r->hash[r->n] = fnv(1469598103934665603ull, l->data, l->len);
    r->end[r->n] = l->end_offset;
    r->unterminated[r->n] = l->unterminated;
  }
  r->n++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t step = (data[0] & 127) % 33;
  int uneven = data[0] & 128;
  size_t cap = 1 + (size_t)data[1] * 2;
  const char *text = (const char *)data + 2;
  size_t n = size - 2;

  static struct record whole, piece;
  memset(&whole, 0, sizeof whole);
  memset(&piece, 0, sizeof piece);
  whole.cap = piece.cap = cap;
  struct at_ndjson s;
  at_ndjson_parse(&s, text, n, cap, on_line, &whole);
  size_t oversize = s.oversize, unterm = s.unterminated;
  if (s.offset != n || s.lines != whole.n)
    abort();
  at_ndjson_free(&s);

  at_ndjson_init(&s, cap, on_line, &piece);
  if (step == 0)
    step = n ? n : 1;
  for (size_t i = 0, k = 0; i < n;) {
    size_t len = uneven ? 1 + (k++ * 7 + step) % 13 : step;
    if (len > n - i)
      len = n - i;
    at_ndjson_feed(&s, text + i, len);
    i += len;
  }
  at_ndjson_finish(&s);
  if (s.oversize != oversize || s.unterminated != unterm)
    abort();
  at_ndjson_free(&s);

  if (whole.n != piece.n)
    abort();
  size_t k = whole.n < MAX_LINES ? whole.n : MAX_LINES;
  for (size_t i = 0; i < k; i++)
    if (whole.hash[i] != piece.hash[i] || whole.end[i] != piece.end[i] ||
        whole.unterminated[i] != piece.unterminated[i] || whole.end[i] > n)
      abort();
  /* the sniffer must look at no byte past the end */
  char *copy = malloc(n ? n : 1);
  if (!copy)
    return 0;
  memcpy(copy, text, n);
  (void)at_ndjson_sniff(copy, n);
  free(copy);
  return 0;
}
