/* fuzz_jsontok: libFuzzer target for jsontok's prefix memo and runs.
 *
 * The input is a sequence of texts separated by newlines: one jt parses
 * them in turn, as a stream parser parses its events, and every verdict
 * and token must be what a fresh jt gives for the same text alone. Each
 * text is parsed twice in the sequence, the second time with its last
 * byte dropped, so that the texts around a cut differ just there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/jsontok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(struct jt *memo, const char *s, size_t n) {
  struct jt fresh;
  jt_init(&fresh);
  int want = jt_parse(&fresh, s, n);
  int got = jt_parse(memo, s, n);
  if (got != want)
    abort();
  if (want == 0) {
    if (memo->n != fresh.n)
      abort();
    for (size_t i = 0; i < fresh.n; i++) {
      const struct jt_tok *a = &memo->t[i], *b = &fresh.t[i];
      if (a->start != b->start || a->end != b->end || a->next != b->next ||
          a->type != b->type || a->escaped != b->escaped)
        abort();
    }
  }
  jt_free(&fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size;
  struct jt memo;
  jt_init(&memo);
  for (int texts = 0; p <= end && texts < 64; texts++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    /* a copy: jt keeps pointers into the text only until the next parse */
    char *t = malloc(n ? n : 1);
    if (!t)
      break;
    memcpy(t, p, n);
    check(&memo, t, n);
    if (n)
      check(&memo, t, n - 1);
    free(t);
    if (!nl)
      break;
    p = nl + 1;
  }
  jt_free(&memo);
  return 0;
}
