/* fuzz_chunked: libFuzzer target for the chunked transfer decoder.
 *
 * Byte 0 picks a piece size (1..32, or whole); byte 1 the trailer bound.
 * The rest is decoded whole and in pieces; the target aborts if the two
 * runs disagree (data, bytes consumed when no error, end, error) or if the
 * decoder consumes past its input or reports data it did not deliver. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
  uint64_t hash;
  size_t n;
};

static void gather(void *arg, const char *p, size_t n) {
  struct out *o = arg;
  if (n == 0)
    abort(); /* never an empty call */
  for (size_t i = 0; i < n; i++)
    o->hash = (o->hash ^ (uint8_t)p[i]) * 1099511628211ull;
  o->n += n;
}

static size_t run(const char *p, size_t n, size_t step, size_t max_trailer,
                  struct out *o, struct wire_chunked *c) {
  memset(o, 0, sizeof *o);
  wire_chunked_init(c, max_trailer);
  size_t used = 0;
  while (used < n && !wire_chunked_done(c) && !c->error) {
    size_t k = n - used < step ? n - used : step;
    size_t u = wire_chunked_feed(c, p + used, k, gather, o);
    if (u > k || (u < k && !wire_chunked_done(c) && !c->error))
      abort(); /* short only at the end or on an error */
    used += u;
  }
  if (c->data_total != o->n)
    abort();
  return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t step = data[0] % 33;
  size_t max_trailer = (size_t)data[1] * 8;
  const char *p = (const char *)data + 2;
  size_t n = size - 2;
  struct out a, b;
  struct wire_chunked ca, cb;
  size_t ua = run(p, n, n ? n : 1, max_trailer, &a, &ca);
  size_t ub = run(p, n, step ? step : 1, max_trailer, &b, &cb);
  /* where an error is noticed inside a bad line may depend on the cut */
  if ((!ca.error && ua != ub) || a.n != b.n || a.hash != b.hash ||
      wire_chunked_done(&ca) != wire_chunked_done(&cb) ||
      (ca.error == NULL) != (cb.error == NULL) ||
      (ca.error && strcmp(ca.error, cb.error)))
    abort();
  return 0;
}
