/* fuzz_jsontok: libFuzzer target for jsontok's prefix memo and runs.
 *
 * The input is a sequence of texts separated by newlines: one jt parses
 * them in turn, as a stream parser parses its events, and every verdict
 * and token must be what a fresh jt gives for the same text alone. Each
 * text is parsed twice in the sequence, the second time with its last
 * byte dropped, so that the texts around a cut differ just there. The
 * tokens a parse does not call fresh (jt_fresh) must be those of the
 * previous text: same kind, and for scalars the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/jsontok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *prev_text;
static struct jt_tok *prev_toks;
static size_t prev_n;

static void check_fresh(const struct jt *memo, const char *s) {
  int nf = jt_fresh(memo);
  if (nf < 0 || !prev_text)
    return;
  for (size_t i = 0; i < memo->n; i++) {
    int fresh = 0;
    for (int f = 0; f < nf; f++)
      fresh |= i >= memo->fresh[f][0] && i < memo->fresh[f][1];
    if (fresh)
      continue;
    if (i >= prev_n)
      abort();
    const struct jt_tok *a = &memo->t[i], *b = &prev_toks[i];
    if (a->type != b->type)
      abort();
    if (a->type != JT_OBJECT && a->type != JT_ARRAY &&
        (a->end - a->start != b->end - b->start ||
         memcmp(s + a->start, prev_text + b->start, a->end - a->start) != 0))
      abort();
  }
}

static void keep_prev(const struct jt *memo, const char *s, size_t n, int ok) {
  free(prev_text);
  free(prev_toks);
  prev_text = NULL;
  prev_toks = NULL;
  if (!ok)
    return;
  prev_text = malloc(n ? n : 1);
  prev_toks = malloc((memo->n ? memo->n : 1) * sizeof *prev_toks);
  if (!prev_text || !prev_toks)
    abort();
  memcpy(prev_text, s, n);
  memcpy(prev_toks, memo->t, memo->n * sizeof *prev_toks);
  prev_n = memo->n;
}

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
    check_fresh(memo, s);
  }
  keep_prev(memo, s, n, want == 0);
  jt_free(&fresh);
}

/* jt_parse_value over the rest of the input from each text on: what a
 * fresh jt finds, and exactly what jt_parse reads from the bytes taken. */
static void check_value(struct jt *memo, const char *s, size_t n) {
  struct jt fresh, whole;
  jt_init(&fresh);
  jt_init(&whole);
  size_t um = 0, uf = 0;
  int want = jt_parse_value(&fresh, s, n, &uf);
  if (jt_parse_value(memo, s, n, &um) != want)
    abort();
  if (want == 0) {
    if (um != uf || uf > n || jt_parse(&whole, s, uf) != 0 ||
        whole.n != memo->n)
      abort();
    for (size_t i = 0; i < whole.n; i++)
      if (memcmp(&whole.t[i], &memo->t[i], sizeof whole.t[i]) != 0)
        abort();
  }
  jt_free(&fresh);
  jt_free(&whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size;
  struct jt memo, values;
  jt_init(&memo);
  jt_init(&values);
  char *all = malloc(size ? size : 1);
  if (!all)
    return 0;
  memcpy(all, data, size);
  for (int texts = 0; p <= end && texts < 64; texts++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    /* a copy: jt keeps pointers into the text only until the next parse */
    char *t = malloc(n ? n : 1);
    if (!t)
      break;
    memcpy(t, p, n);
    check(&memo, t, n);
    check_value(&values, all + (p - (const char *)data), (size_t)(end - p));
    if (n)
      check(&memo, t, n - 1);
    free(t);
    if (!nl)
      break;
    p = nl + 1;
  }
  jt_free(&memo);
  jt_free(&values);
  free(all);
  keep_prev(&memo, "", 0, 0);
  return 0;
}
