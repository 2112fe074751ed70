/* jsontok: a validating, tree-less JSON tokenizer (see jsontok.h). */
#include "jsontok.h"
#include "json_read.h"

#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define JT_MAX_TOKENS (1u << 20)
#define JT_MAX_DEPTH 128

void jt_init(struct jt *j) {
  memset(j, 0, sizeof(*j));
}

void jt_free(struct jt *j) {
  free(j->t);
  free(j->prev);
  free(j->ot);
  memset(j, 0, sizeof(*j));
}

/* ---- prefix memo -------------------------------------------------------
 *
 * The events of one stream repeat their opening bytes ({"id":"chatcmpl-..",
 * "object":"chat.completion.chunk","created":..,"model":..,"choices":[{
 * "index":0,"delta":{"content":"), which is most of each event. From its
 * second text on, a jt keeps a copy of the text it parsed and checkpoints
 * (position, tokens done, open containers) where values begin; the next
 * parse finds how many leading bytes it shares with that copy and resumes
 * from the last checkpoint inside them. The tokens before a checkpoint
 * depend only on the bytes before it (and the one at it, looked at to see
 * whether a container is empty), so they are reused as they are; the open
 * containers get their end when they close, as in a fresh parse. A jt that
 * parses once pays nothing for this; long texts are not memoised. */

#define JT_MEMO_MAX (64u << 10)
#define JT_CKPT_DEPTH 8

static size_t common_prefix(const char *a, const char *b, size_t n) {
  size_t i = 0;
#ifdef __SSE2__
  while (i + 16 <= n) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
    __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
    unsigned same = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, y));
    if (same != 0xFFFF)
      return i + (size_t)__builtin_ctz(~same);
    i += 16;
  }
#endif
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  while (i + 8 <= n) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    if (x != y)
      return i + ((size_t)__builtin_ctzll(x ^ y) >> 3);
    i += 8;
  }
#endif
  while (i < n && a[i] == b[i])
    i++;
  return i;
}

/* `moved`: a container opened or closed since the last checkpoint. When
 * none did, the open containers are those of the last checkpoint, and
 * their list is shared rather than copied (members of one object). */
static inline void checkpoint(struct jt *j, size_t pos, const uint32_t *stack,
                              int depth, int *moved, int peeked) {
  if (j->nck == JT_CKPT_MAX || depth > JT_CKPT_DEPTH)
    return;
  if (j->nck && j->ck[j->nck - 1].pos >= pos)
    return; /* the resume point itself, already there */
  struct jt_ckpt *c = &j->ck[j->nck++];
  c->pos = (uint32_t)pos;
  c->ntok = (uint32_t)j->n;
  c->depth = (uint8_t)depth;
  c->peeked = (uint8_t)peeked;
  if (!*moved && j->nck > 1) {
    c->stack_at = c[-1].stack_at;
    return;
  }
  *moved = 0;
  c->stack_at = (uint32_t)j->nckstack;
  for (int d = 0; d < depth; d++) /* a few entries: no memcpy call */
    j->ckstack[j->nckstack + (size_t)d] = stack[d];
  j->nckstack += (size_t)depth;
}

/* Before a resumed parse overwrites them: the previous parse's tokens and
 * checkpoints from checkpoint `from` on (with the container lists that
 * live past `keep`), for resync. Without memory for them, no runs. */
static void save_old(struct jt *j, size_t from, size_t keep) {
  const struct jt_ckpt *c = &j->ck[from];
  size_t nt = j->prev_n - c->ntok;
  if (nt > j->ocap) {
    size_t cap = j->ocap ? j->ocap * 2 : 64;
    while (cap < nt)
      cap *= 2;
    struct jt_tok *ot = realloc(j->ot, cap * sizeof *ot);
    if (!ot)
      return;
    j->ot = ot;
    j->ocap = cap;
  }
  if (nt)
    memcpy(j->ot, j->t + c->ntok, nt * sizeof *j->ot);
  j->obase = c->ntok;
  j->nock = j->nck - from;
  memcpy(j->ock, c, j->nock * sizeof *c);
  j->okeep = keep;
  if (j->nckstack > keep)
    memcpy(j->ockstack, j->ckstack + keep,
           (j->nckstack - keep) * sizeof *j->ockstack);
}

/* The checkpoint to resume s from, or NULL: the last one before the end of
 * the prefix s shares with the previous text. It stays, and the ones after
 * it are dropped (the resumed parse records them again). */
static const struct jt_ckpt *resume_point(struct jt *j, const char *s,
                                          size_t len) {
  j->nock = j->oc = 0;
  if (!j->prev_ok || !j->nck)
    return NULL;
  size_t l = common_prefix(j->prev, s, len < j->prev_len ? len : j->prev_len);
  size_t k = j->nck;
  while (k && j->ck[k - 1].pos >= l)
    k--;
  if (!k)
    return NULL;
  const struct jt_ckpt *c = &j->ck[k - 1];
  size_t keep = c->stack_at + (size_t)c->depth;
  save_old(j, k - 1, keep);
  /* c is the last checkpoint before the first changed byte, so a run from
   * c itself reaches no further checkpoint: only the end, when the texts
   * are the same. */
  if (j->nock && !(l == j->prev_len && (j->prefix || len == j->prev_len)))
    j->oc = 1;
  j->nck = k;
  j->nckstack = keep;
  return c;
}

static int grow(struct jt *j) {
  {
    size_t cap = j->cap ? j->cap * 2 : 64;
    if (cap > JT_MAX_TOKENS)
      cap = JT_MAX_TOKENS;
    if (j->n == cap)
      return -2;
    struct jt_tok *t = realloc(j->t, cap * sizeof(*t));
    if (!t)
      return -2;
    j->t = t;
    j->cap = cap;
  }
  return 0;
}

/* The tokens from fresh_from up to `end` were read anew. */
static void close_fresh(struct jt *j, uint32_t end) {
  if (j->nfresh < 0 || end <= j->fresh_from)
    return;
  if (j->nfresh == JT_FRESH_MAX) {
    j->nfresh = -1;
    return;
  }
  j->fresh[j->nfresh][0] = j->fresh_from;
  j->fresh[j->nfresh][1] = end;
  j->nfresh++;
}

/* ---- runs --------------------------------------------------------------
 *
 * Past the shared prefix, events differ in a few values (a text, a count)
 * and agree again after them. A resumed parse is where the previous one
 * was at each of its checkpoints when it has made as many tokens with the
 * same open containers (same token indexes, same types): from there the
 * same bytes give the same tokens, shifted by the difference in position.
 * So at each value, when the bytes up to a later checkpoint of the previous
 * parse (and the one at it, when that parse looked at it to see whether an
 * array is empty) are those it had, its tokens for them are copied, and the
 * containers it closed there are closed; when they are all the rest of
 * the text, the parse is done. Anything else is tokenized as usual. */

static const uint32_t *old_stack(const struct jt *j, const struct jt_ckpt *q) {
  return q->stack_at >= j->okeep ? &j->ockstack[q->stack_at - j->okeep]
                                 : &j->ckstack[q->stack_at];
}

/* Token idx as the previous parse left it. Prefix tokens are shared, and
 * those still open keep the previous parse's end until they close. */
static const struct jt_tok *old_tok(const struct jt *j, uint32_t idx) {
  return idx >= j->obase ? &j->ot[idx - j->obase] : &j->t[idx];
}

/* At a value at *i with `depth` open containers: 0 when nothing was
 * copied, 1 when a run was (*i, stack and *depth now at its end), 2 when
 * the rest of the text was. */
static int resync(struct jt *j, const char *s, size_t len, size_t *i,
                  uint32_t *stack, int *depth, int *peeked) {
  while (j->oc < j->nock && j->ock[j->oc].ntok < j->n)
    j->oc++;
  if (j->oc == j->nock || j->ock[j->oc].ntok != j->n)
    return 0;
  const struct jt_ckpt *q = &j->ock[j->oc];
  if (q->depth != *depth)
    return 0;
  const uint32_t *qs = old_stack(j, q);
  for (int d = 0; d < *depth; d++)
    if (qs[d] != stack[d] || old_tok(j, qs[d])->type != j->t[stack[d]].type)
      return 0;
  /* The run reaches the last of the previous checkpoints up to which the
   * bytes are the same (q2; and its own byte too when the parse looked at
   * it, right after a '['), or the end when all the rest is. */
  size_t rest = len - *i, old_rest = j->prev_len - q->pos;
  size_t same = common_prefix(s + *i, j->prev + q->pos,
                              rest < old_rest ? rest : old_rest);
  const struct jt_ckpt *q2 = NULL;
  if (!(same == old_rest && (j->prefix || same == rest))) {
    size_t m = j->oc + 1;
    while (m < j->nock && j->ock[m].pos - q->pos + j->ock[m].peeked <= same)
      m++;
    if (m == j->oc + 1)
      return 0;
    q2 = &j->ock[m - 1];
  }
  size_t run = (q2 ? q2->pos : j->prev_len) - q->pos;
  size_t ntok = q2 ? q2->ntok : j->prev_n;
  while (j->cap < ntok)
    if (grow(j) != 0)
      return 0; /* tokenized as usual, which fails the same way */
  /* Runs start at values, so the member name before one was read anew;
   * when it (or any scalar just before the run) is the previous parse's,
   * same kind and bytes, it is left out of the fresh range. */
  uint32_t fresh_end = (uint32_t)j->n;
  while (fresh_end > j->fresh_from && fresh_end - 1 >= j->obase) {
    const struct jt_tok *t = &j->t[fresh_end - 1];
    const struct jt_tok *o = &j->ot[fresh_end - 1 - j->obase];
    if (t->type != o->type || t->type == JT_OBJECT || t->type == JT_ARRAY ||
        t->end - t->start != o->end - o->start ||
        memcmp(s + t->start, j->prev + o->start, t->end - t->start) != 0)
      break;
    fresh_end--;
  }
  close_fresh(j, fresh_end);
  j->fresh_from = (uint32_t)ntok;
  uint32_t sh = (uint32_t)(*i - q->pos); /* modulo 2^32: adds back right */
  for (size_t k = q->ntok; k < ntok; k++) {
    struct jt_tok t = j->ot[k - j->obase];
    t.start += sh;
    t.end += sh;
    j->t[k] = t;
  }
  /* Open containers not open at q2 closed in the run; those that are stay
   * at the same levels. */
  int keep = 0;
  const uint32_t *q2s = q2 ? old_stack(j, q2) : NULL;
  if (q2)
    while (keep < *depth && keep < q2->depth && q2s[keep] == stack[keep])
      keep++;
  for (int d = keep; d < *depth; d++) {
    const struct jt_tok *o = old_tok(j, stack[d]);
    uint32_t end = o->end + sh, next = o->next;
    j->t[stack[d]].end = end;
    j->t[stack[d]].next = next;
  }
  j->n = ntok;
  /* The previous parse's checkpoints inside the run are this parse's too
   * (the next one resumes and resyncs at them). */
  size_t last = q2 ? (size_t)(q2 - j->ock) : j->nock;
  for (size_t m = j->oc + 1; m < last && j->nck < JT_CKPT_MAX; m++) {
    const struct jt_ckpt *o = &j->ock[m];
    struct jt_ckpt *c = &j->ck[j->nck++];
    *c = *o;
    c->pos = o->pos + sh;
    c->stack_at = (uint32_t)j->nckstack;
    const uint32_t *os = old_stack(j, o);
    for (int d = 0; d < o->depth; d++)
      j->ckstack[j->nckstack + (size_t)d] = os[d];
    j->nckstack += o->depth;
  }
  if (!q2) {
    j->used = *i + run;
    return 2;
  }
  for (int d = keep; d < q2->depth; d++)
    stack[d] = q2s[d];
  *depth = q2->depth;
  *peeked = q2->peeked;
  *i += run;
  j->oc = (size_t)(q2 - j->ock);
  return 1;
}

/* After a parse: keep a copy of the text for the next one. */
static void remember(struct jt *j, const char *s, size_t len, int ok) {
  j->prev_ok = 0;
  if (!ok)
    return;
  if (len > j->prev_cap) {
    size_t cap = j->prev_cap ? j->prev_cap : 256;
    while (cap < len)
      cap *= 2;
    char *p = realloc(j->prev, cap);
    if (!p)
      return;
    j->prev = p;
    j->prev_cap = cap;
  }
  memcpy(j->prev, s, len);
  j->prev_len = len;
  j->prev_ok = 1;
}

static inline int push(struct jt *j, int type, size_t start) {
  if (j->n == j->cap && grow(j) != 0)
    return -2;
  j->t[j->n] = (struct jt_tok){.start = (uint32_t)start,
                               .end = (uint32_t)start,
                               .next = (uint32_t)(j->n + 1),
                               .type = (uint8_t)type};
  return (int)j->n++;
}

static inline size_t skip_ws(const char *s, size_t i, size_t len) {
  /* Most calls find no whitespace at all: one compare says so. */
  if (i < len && (unsigned char)s[i] > ' ')
    return i;
  while (i < len &&
         (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
    i++;
  return i;
}

static int is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

/* A string starting at s[*i] == '"'; on success *i is past its end. */
static inline int scan_string(const char *s, size_t len, size_t *i,
                              int *escaped) {
  size_t k = *i + 1;
  while (k < len) {
#ifdef __SSE2__
    /* Sixteen bytes at a time: the first '"', backslash or control
     * character (x <= 0x1F exactly when min(x, 0x1F) == x). */
    {
      const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                    top_ctl = _mm_set1_epi8(0x1F);
      while (k + 16 <= len) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + k));
        __m128i bad = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
            _mm_cmpeq_epi8(_mm_min_epu8(x, top_ctl), x));
        unsigned m = (unsigned)_mm_movemask_epi8(bad);
        if (m) {
          k += (size_t)__builtin_ctz(m);
          goto found;
        }
        k += 16;
      }
    }
#endif
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The common case, eight bytes at a time: find the first '"',
     * backslash or control character with zero-byte tests (SWAR). Only the
     * lowest flagged byte is exact, and that is the one taken. */
    while (k + 8 <= len) {
      uint64_t w;
      memcpy(&w, s + k, 8);
      const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
      uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
      uint64_t hit =
          (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) &
          high;
      if (hit) {
        k += (size_t)__builtin_ctzll(hit) >> 3;
        break;
      }
      k += 8;
    }
#endif
    while (k < len && s[k] != '"' && s[k] != '\\' &&
           (unsigned char)s[k] >= 0x20)
      k++;
#ifdef __SSE2__
  found:
#endif
    if (k >= len)
      break;
    unsigned char c = (unsigned char)s[k];
    if (c == '"') {
      *i = k + 1;
      return 0;
    }
    if (c < 0x20)
      return -1;
    if (c != '\\') {
      k++;
      continue;
    }
    *escaped = 1;
    if (k + 1 >= len)
      return -1;
    char e = s[k + 1];
    if (e == 'u') {
      if (k + 5 >= len || !is_hex(s[k + 2]) || !is_hex(s[k + 3]) ||
          !is_hex(s[k + 4]) || !is_hex(s[k + 5]))
        return -1;
      k += 6;
    } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' ||
               e == 'n' || e == 'r' || e == 't') {
      k += 2;
    } else {
      return -1;
    }
  }
  return -1;
}

static size_t digits(const char *s, size_t i, size_t len) {
  while (i < len && s[i] >= '0' && s[i] <= '9')
    i++;
  return i;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(const char *s, size_t len, size_t *i) {
  size_t k = *i;
  if (k < len && s[k] == '-')
    k++;
  if (k >= len)
    return -1;
  if (s[k] == '0')
    k++;
  else if (s[k] >= '1' && s[k] <= '9')
    k = digits(s, k, len);
  else
    return -1;
  if (k < len && s[k] == '.') {
    size_t d = digits(s, k + 1, len);
    if (d == k + 1)
      return -1;
    k = d;
  }
  if (k < len && (s[k] == 'e' || s[k] == 'E')) {
    k++;
    if (k < len && (s[k] == '+' || s[k] == '-'))
      k++;
    size_t d = digits(s, k, len);
    if (d == k)
      return -1;
    k = d;
  }
  *i = k;
  return 0;
}

/* Close the innermost container if c is its closing bracket. */
static inline int close_top(struct jt *j, const uint32_t *stack, int *depth,
                            char c, size_t i, int *moved) {
  struct jt_tok *top = &j->t[stack[*depth - 1]];
  if ((c == '}' && top->type == JT_OBJECT) ||
      (c == ']' && top->type == JT_ARRAY)) {
    top->end = (uint32_t)(i + 1);
    top->next = (uint32_t)j->n;
    (*depth)--;
    *moved = 1;
    return 1;
  }
  return 0;
}

static int tokenize(struct jt *j, const char *s, size_t len, int memo) {
  uint32_t stack[JT_MAX_DEPTH];
  int depth = 0, idx, esc, moved = 1, peeked = 0;
  size_t i = 0;
  char c;
  j->s = s;
  j->len = len;
  j->n = 0;
  j->nfresh = -1;
  if (!s || len >= UINT32_MAX)
    return len ? -2 : -1;
  if (memo) {
    const struct jt_ckpt *ck = resume_point(j, s, len);
    if (ck) {
      i = ck->pos;
      j->n = ck->ntok;
      depth = ck->depth;
      for (int d = 0; d < depth; d++)
        stack[d] = j->ckstack[ck->stack_at + (size_t)d];
      moved = 0; /* the containers of the last checkpoint: ck's */
      peeked = ck->peeked;
      j->nfresh = 0;
      j->fresh_from = ck->ntok;
    } else {
      j->nck = j->nckstack = 0;
    }
  }
  /* A small state machine written with labels: value, key, after. Every
   * step consumes input or closes a container, so it ends within len
   * steps. */
value:
  if (memo) {
    checkpoint(j, i, stack, depth, &moved, peeked);
    if (j->nock) {
      int r = resync(j, s, len, &i, stack, &depth, &peeked);
      if (r == 2)
        return 0;
      if (r == 1) {
        moved = 1;
        goto value;
      }
    }
  }
  i = skip_ws(s, i, len);
  if (i >= len)
    return -1;
  c = s[i];
  switch (c) {
  case '{':
  case '[':
    if (depth == JT_MAX_DEPTH)
      return -1;
    idx = push(j, c == '{' ? JT_OBJECT : JT_ARRAY, i);
    if (idx < 0)
      return idx;
    stack[depth++] = (uint32_t)idx;
    moved = 1;
    i = skip_ws(s, i + 1, len);
    if (i < len && close_top(j, stack, &depth, s[i], i, &moved)) {
      i++;
      goto after;
    }
    if (c == '{')
      goto key;
    peeked = 1;
    goto value;
  case '"':
    esc = 0;
    idx = push(j, JT_STRING, i);
    if (idx < 0)
      return idx;
    if (scan_string(s, len, &i, &esc) != 0)
      return -1;
    j->t[idx].end = (uint32_t)i;
    j->t[idx].escaped = (uint8_t)esc;
    goto after;
  case 't':
  case 'f':
  case 'n': {
    const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
    size_t n = c == 'f' ? 5 : 4;
    if (len - i < n)
      return -1;
    /* four bytes at once ("alse" for false): no memcmp call per literal */
    uint32_t want, got;
    memcpy(&want, lit + n - 4, 4);
    memcpy(&got, s + i + n - 4, 4);
    if (want != got)
      return -1;
    idx = push(j, c == 't' ? JT_TRUE : c == 'f' ? JT_FALSE : JT_NULL, i);
    if (idx < 0)
      return idx;
    i += n;
    j->t[idx].end = (uint32_t)i;
    goto after;
  }
  default:
    if (c != '-' && (c < '0' || c > '9'))
      return -1;
    idx = push(j, JT_NUMBER, i);
    if (idx < 0)
      return idx;
    if (scan_number(s, len, &i) != 0)
      return -1;
    j->t[idx].end = (uint32_t)i;
    goto after;
  }

key:
  i = skip_ws(s, i, len);
  if (i >= len || s[i] != '"')
    return -1;
  esc = 0;
  idx = push(j, JT_STRING, i);
  if (idx < 0)
    return idx;
  if (scan_string(s, len, &i, &esc) != 0)
    return -1;
  j->t[idx].end = (uint32_t)i;
  j->t[idx].escaped = (uint8_t)esc;
  i = skip_ws(s, i, len);
  if (i >= len || s[i] != ':')
    return -1;
  i++;
  peeked = 0;
  goto value;

after:
  if (depth == 0 && j->prefix) {
    j->used = i;
    close_fresh(j, (uint32_t)j->n);
    return 0;
  }
  i = skip_ws(s, i, len);
  if (depth == 0) {
    if (i != len)
      return -1;
    j->used = len;
    close_fresh(j, (uint32_t)j->n);
    return 0;
  }
  if (i >= len)
    return -1;
  c = s[i];
  if (c == ',') {
    i++;
    if (j->t[stack[depth - 1]].type == JT_OBJECT)
      goto key;
    peeked = 0;
    goto value;
  }
  if (close_top(j, stack, &depth, c, i, &moved)) {
    i++;
    goto after;
  }
  return -1;
}

/* ---- refill --------------------------------------------------------
 *
 * Once a stream settles, its events differ from one to the next in the
 * same few values (a text, a count, a padding string): those the last
 * parse read anew. When the new text is the previous one with just those
 * scalars replaced by scalars of the same kind, its tokens are the
 * previous ones with the replaced values re-read and every position after
 * each replacement shifted: no tokenizing, no runs. Anything else (a value
 * changed elsewhere, a different kind, a broken scalar) falls back to the
 * memo. Replacing a scalar by another valid one of its kind, between the
 * same bytes, keeps a valid text's structure, so the result is what a
 * full parse gives. */

/* After a parse: the template for the next one, when every token read
 * anew is a scalar and there are few enough. */
static void set_template(struct jt *j, int ok) {
  j->have_tpl = 0;
  j->ntpl = 0;
  if (!ok || j->nfresh < 0)
    return;
  for (int f = 0; f < j->nfresh; f++)
    for (uint32_t k = j->fresh[f][0]; k < j->fresh[f][1]; k++) {
      uint8_t t = j->t[k].type;
      if (t == JT_OBJECT || t == JT_ARRAY || j->ntpl == JT_TPL_MAX)
        return;
      j->tpl[j->ntpl++] = k;
    }
  j->have_tpl = 1;
}

/* Where position x of the previous text is in the new one: shifted by
 * the growth of every replaced token ending at or before x. */
static size_t moved_pos(const struct jt *j, const uint32_t *old_end,
                        const int64_t *growth, size_t x) {
  int64_t d = 0;
  for (size_t h = 0; h < j->ntpl && old_end[h] <= x; h++)
    d = growth[h];
  return (size_t)((int64_t)x + d);
}

static int refill(struct jt *j, const char *s, size_t len) {
  uint32_t new_start[JT_TPL_MAX], new_end[JT_TPL_MAX], old_end[JT_TPL_MAX];
  uint8_t esc_of[JT_TPL_MAX], changed[JT_TPL_MAX];
  int64_t growth[JT_TPL_MAX]; /* total shift after hole h */
  size_t po = 0, pn = 0;
  if (len >= UINT32_MAX)
    return 0;
  for (size_t h = 0; h < j->ntpl; h++) {
    const struct jt_tok *o = &j->t[j->tpl[h]];
    size_t lit = o->start - po;
    if (pn + lit > len || memcmp(s + pn, j->prev + po, lit) != 0)
      return 0;
    pn += lit;
    size_t k = pn;
    int esc = 0;
    if (o->type == JT_STRING) {
      if (k >= len || s[k] != '"' || scan_string(s, len, &k, &esc) != 0)
        return 0;
    } else if (o->type == JT_NUMBER) {
      if (scan_number(s, len, &k) != 0)
        return 0;
    } else { /* true, false, null: the same word or nothing */
      size_t n = o->end - o->start;
      if (pn + n > len || memcmp(s + pn, j->prev + o->start, n) != 0)
        return 0;
      k = pn + n;
    }
    changed[h] = k - pn != o->end - o->start ||
                 memcmp(s + pn, j->prev + o->start, k - pn) != 0;
    new_start[h] = (uint32_t)pn;
    new_end[h] = (uint32_t)k;
    old_end[h] = o->end;
    esc_of[h] = (uint8_t)esc;
    growth[h] = (int64_t)k - (int64_t)o->end;
    pn = k;
    po = o->end;
  }
  size_t tail = j->prev_len - po;
  if ((j->prefix ? len - pn < tail : len - pn != tail) ||
      memcmp(s + pn, j->prev + po, tail) != 0)
    return 0;
  j->used = pn + tail;
  /* The text is the previous one with the holes refilled. Tokens and
   * checkpoints come in order of position: the shift at a start grows as
   * holes are passed; a container's end looks it up (most enclose every
   * hole: the whole growth); past the last hole everything moves alike. */
  size_t h = 0, past = 0, i = 0;
  int64_t shift = 0;
  uint32_t last_end = j->ntpl ? old_end[j->ntpl - 1] : 0;
  int64_t total = j->ntpl ? growth[j->ntpl - 1] : 0;
#define MOVED_END(e)                                                           \
  ((e)-1 >= last_end ? (uint32_t)((int64_t)(e) + total)                        \
                     : (uint32_t)moved_pos(j, old_end, growth, (e)-1) + 1)
  if (j->ntpl) {
    /* before the first hole only the containers around it change */
    uint32_t first_at = new_start[0]; /* == its old start: bytes before agree */
    for (; i < j->tpl[0]; i++)
      if (j->t[i].end > first_at)
        j->t[i].end = MOVED_END(j->t[i].end);
  } else {
    i = j->prev_n; /* the same text */
  }
  for (; i < j->prev_n; i++) {
    struct jt_tok *t = &j->t[i];
    if (h < j->ntpl && j->tpl[h] == i) {
      t->start = new_start[h];
      t->end = new_end[h];
      t->escaped = esc_of[h];
      h++;
      if (h == j->ntpl)
        break;
      continue;
    }
    while (past < j->ntpl && old_end[past] <= t->start)
      shift = growth[past++];
    uint32_t start = (uint32_t)((int64_t)t->start + shift);
    if (t->type == JT_OBJECT || t->type == JT_ARRAY)
      t->end = MOVED_END(t->end);
    else
      t->end = start + (t->end - t->start);
    t->start = start;
  }
#undef MOVED_END
  /* after the last hole: one shift for all (modulo 2^32 adds back right) */
  uint32_t sh = (uint32_t)total;
  for (i++; i < j->prev_n; i++) {
    j->t[i].start += sh;
    j->t[i].end += sh;
  }
  past = 0;
  shift = 0;
  for (size_t c = 0; c < j->nck; c++) {
    while (past < j->ntpl && old_end[past] <= j->ck[c].pos)
      shift = growth[past++];
    j->ck[c].pos = (uint32_t)((int64_t)j->ck[c].pos + shift);
  }
  j->s = s;
  j->len = len;
  j->n = j->prev_n;
  /* What was read anew: the holes whose bytes changed, as ranges. They
   * are the next template too: a hole that kept its bytes is dropped, so
   * that the template comes down to the values that do vary. */
  size_t kept = 0;
  j->nfresh = 0;
  for (size_t k = 0; k < j->ntpl; k++) {
    if (!changed[k])
      continue;
    uint32_t t = j->tpl[k];
    j->tpl[kept++] = t;
    if (j->nfresh < 0)
      continue;
    if (j->nfresh && j->fresh[j->nfresh - 1][1] == t) {
      j->fresh[j->nfresh - 1][1]++;
    } else if (j->nfresh == JT_FRESH_MAX) {
      j->nfresh = -1;
    } else {
      j->fresh[j->nfresh][0] = t;
      j->fresh[j->nfresh][1] = t + 1;
      j->nfresh++;
    }
  }
  j->ntpl = kept;
  return 1;
}

static int parse(struct jt *j, const char *s, size_t len) {
  /* The memo starts with a jt's second text: one-shot parses skip it. */
  int memo = j->parses++ > 0 && s && (j->prefix || len <= JT_MEMO_MAX);
  if (memo && j->prev_ok && j->have_tpl && refill(j, s, len)) {
    remember(j, s, j->used, j->used <= JT_MEMO_MAX);
    return 0;
  }
  int r = tokenize(j, s, len, memo);
  if (memo) {
    /* A number alone ends where the next byte is not a digit: with more
     * text after it, its end is not in its own bytes, so the next value
     * cannot be matched against them. (Containers and strings end at
     * their own closing byte.) */
    int keep = r == 0 && j->used <= JT_MEMO_MAX &&
               !(j->prefix && j->t[0].type == JT_NUMBER);
    remember(j, s, keep ? j->used : 0, keep);
    j->prev_n = j->n;
    set_template(j, j->prev_ok);
  } else {
    j->prev_ok = 0;
    j->have_tpl = 0;
  }
  return r;
}

int jt_parse(struct jt *j, const char *s, size_t len) {
  j->prefix = 0;
  return parse(j, s, len);
}

int jt_parse_value(struct jt *j, const char *s, size_t len, size_t *used) {
  j->prefix = 1;
  int r = parse(j, s, len);
  j->prefix = 0;
  *used = r == 0 ? j->used : 0;
  return r;
}

/* Short key compares: a loop the compiler keeps inline beats a call. */
static inline int same(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

int jt_type(const struct jt *j, int i) {
  return (i >= 0 && (size_t)i < j->n) ? j->t[i].type : 0;
}

int jt_eq(const struct jt *j, int i, const char *lit) {
  if (jt_type(j, i) != JT_STRING)
    return 0;
  const struct jt_tok *t = &j->t[i];
  size_t n = t->end - t->start - 2;
  if (!t->escaped)
    return strlen(lit) == n && memcmp(j->s + t->start + 1, lit, n) == 0;
  char buf[256];
  return jt_strbuf(j, i, buf, sizeof buf) && strcmp(buf, lit) == 0;
}

int jt_get(const struct jt *j, int obj, const char *key) {
  return jt_getn(j, obj, key, strlen(key));
}

int jt_getn(const struct jt *j, int obj, const char *key, size_t klen) {
  if (jt_type(j, obj) != JT_OBJECT)
    return -1;
  uint32_t end = j->t[obj].next;
  for (uint32_t k = (uint32_t)obj + 1; k < end; k = j->t[k + 1].next) {
    const struct jt_tok *t = &j->t[k];
    /* keys are almost never escaped: compare the raw text first */
    const char *raw = j->s + t->start + 1;
    int hit = t->escaped
                  ? jt_eq(j, (int)k, key)
                  : (t->end - t->start - 2 == klen && same(raw, key, klen));
    if (hit)
      return j->t[k + 1].type == JT_NULL ? -1 : (int)k + 1;
  }
  return -1;
}

/* The signature of a member name (as JT_KEY computes it for keys): its
 * first eight bytes, zero-padded, with its length in the top byte. Names
 * with different signatures differ. */
static inline uint64_t name_sig(const struct jt *j, const char *p, size_t n) {
  uint64_t w = 0;
  if (p + 8 <= j->s + j->len) {
    memcpy(&w, p, 8);
    if (n < 8)
      w &= (1ull << (8 * n)) - 1; /* n == 0 gives 0 */
  } else {
    for (size_t i = 0; i < n && i < 8; i++)
      w |= (uint64_t)(unsigned char)p[i] << (8 * i);
  }
  return w ^ ((uint64_t)n << 56);
}

void jt_pick(const struct jt *j, int obj, const struct jt_key *keys,
             size_t nkeys, int *out) {
  /* Runs several times per stream event: each member name is compared
   * with the wanted keys by one word (signature), bytes only on a match,
   * starting from the key after the last found (members mostly come in
   * the order the keys are listed); the walk stops once every key is
   * found. */
  for (size_t i = 0; i < nkeys; i++)
    out[i] = -1;
  if (jt_type(j, obj) != JT_OBJECT || nkeys == 0)
    return;
  size_t missing = nkeys;
  uint32_t end = j->t[obj].next;
  for (uint32_t k = (uint32_t)obj + 1; k < end && missing;
       k = j->t[k + 1].next) {
    const struct jt_tok *t = &j->t[k];
    if (j->t[k + 1].type == JT_NULL)
      continue;
    const char *raw = j->s + t->start + 1;
    size_t n = t->end - t->start - 2;
    if (t->escaped) {
      for (size_t i = 0; i < nkeys; i++)
        if (out[i] < 0 && jt_eq(j, (int)k, keys[i].name)) {
          out[i] = (int)k + 1;
          missing--;
          break;
        }
      continue;
    }
    uint64_t ms = name_sig(j, raw, n);
    for (size_t i = 0; i < nkeys; i++) {
      if (keys[i].sig != ms || out[i] >= 0)
        continue;
      if (n <= 8 || same(raw + 8, keys[i].name + 8, n - 8)) {
        out[i] = (int)k + 1;
        missing--;
        break;
      }
    }
  }
}

/* keys[i] for member name token k, -1 for none, -2 for an escaped name
 * (not compared: taken for read). */
static int key_of(const struct jt *j, uint32_t k, const struct jt_key *keys,
                  size_t nkeys) {
  const struct jt_tok *t = &j->t[k];
  if (t->escaped)
    return -2;
  const char *raw = j->s + t->start + 1;
  size_t n = t->end - t->start - 2;
  uint64_t ms = name_sig(j, raw, n);
  for (size_t i = 0; i < nkeys; i++)
    if (keys[i].sig == ms && (n <= 8 || same(raw + 8, keys[i].name + 8, n - 8)))
      return (int)i;
  return -1;
}

int jt_repeats(const struct jt *j, int tok, int obj, const struct jt_key *keys,
               size_t nkeys, unsigned allow, unsigned *touched) {
  if (touched)
    *touched = 0;
  int nf = j->nfresh;
  if (nf < 0 || jt_type(j, obj) != JT_OBJECT)
    return 0;
  uint32_t end = j->t[obj].next;
  for (int f = 0; f < nf; f++) {
    uint32_t a = j->fresh[f][0], b = j->fresh[f][1];
    if (tok >= 0 && a == (uint32_t)tok && b == a + 1)
      continue;
    int ok = 0;
    for (uint32_t k = (uint32_t)obj + 1; k < end; k = j->t[k + 1].next) {
      uint32_t v = k + 1;
      if (a < v)
        break; /* the range begins at a member name or before */
      if (b > j->t[v].next)
        continue;
      int which = key_of(j, k, keys, nkeys);
      if (which == -1) {
        ok = 1;
      } else if (which >= 0 && which < 32 && ((allow >> which) & 1)) {
        ok = 1;
        if (touched)
          *touched |= 1u << which;
      }
      break;
    }
    if (!ok)
      return 0;
  }
  return 1;
}

int jt_first(const struct jt *j, int arr) {
  if (jt_type(j, arr) != JT_ARRAY)
    return -1;
  uint32_t first = (uint32_t)arr + 1;
  return first < j->t[arr].next ? (int)first : -1;
}

int jt_after(const struct jt *j, int arr, int el) {
  if (jt_type(j, arr) != JT_ARRAY || el < 0)
    return -1;
  uint32_t nx = j->t[el].next;
  return nx < j->t[arr].next ? (int)nx : -1;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return c - 'A' + 10;
}

static unsigned hex4(const char *p) {
  return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 |
                    hexval(p[3]));
}

static size_t utf8_encode(unsigned cp, char *out) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

long jt_str(const struct jt *j, int i, struct dynbuf *out) {
  if (jt_type(j, i) != JT_STRING)
    return -1;
  const struct jt_tok *t = &j->t[i];
  const char *p = j->s + t->start + 1, *e = j->s + t->end - 1;
  size_t before = out->len;
  if (!t->escaped) {
    dynbuf_add(out, p, (size_t)(e - p));
    return (long)(out->len - before);
  }
  /* escapes were validated by jt_parse */
  while (p < e) {
    const char *bs = memchr(p, '\\', (size_t)(e - p));
    const char *run_end = bs ? bs : e;
    dynbuf_add(out, p, (size_t)(run_end - p));
    if (!bs)
      break;
    char c = bs[1], enc[4];
    size_t n = 1;
    p = bs + 2;
    switch (c) {
    case 'b':
      enc[0] = '\b';
      break;
    case 'f':
      enc[0] = '\f';
      break;
    case 'n':
      enc[0] = '\n';
      break;
    case 'r':
      enc[0] = '\r';
      break;
    case 't':
      enc[0] = '\t';
      break;
    case 'u': {
      unsigned cp = hex4(bs + 2);
      p = bs + 6;
      if (cp >= 0xD800 && cp <= 0xDBFF && e - p >= 6 && p[0] == '\\' &&
          p[1] == 'u') {
        unsigned lo = hex4(p + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          p += 6;
        }
      }
      if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD; /* NUL would end a C string; lone surrogates */
      n = utf8_encode(cp, enc);
      break;
    }
    default: /* '"', '\\', '/' */
      enc[0] = c;
      break;
    }
    dynbuf_add(out, enc, n);
  }
  return (long)(out->len - before);
}

const char *jt_strbuf(const struct jt *j, int i, char *buf, size_t cap) {
  if (jt_type(j, i) != JT_STRING || cap == 0)
    return NULL;
  const struct jt_tok *t = &j->t[i];
  if (!t->escaped) {
    size_t n = t->end - t->start - 2;
    if (n >= cap)
      return NULL;
    memcpy(buf, j->s + t->start + 1, n);
    buf[n] = '\0';
    return buf;
  }
  struct dynbuf b;
  dynbuf_init(&b, cap - 1);
  jt_str(j, i, &b);
  const char *r = NULL;
  if (!b.truncated && !b.oom) {
    memcpy(buf, b.ptr ? b.ptr : "", b.len + 1);
    r = buf;
  }
  dynbuf_free(&b);
  return r;
}

int jt_count(const struct jt *j, int i, int64_t *out) {
  if (jt_type(j, i) != JT_NUMBER)
    return 0;
  const struct jt_tok *t = &j->t[i];
  const char *p = j->s + t->start, *e = j->s + t->end;
  int neg = *p == '-';
  p += neg;
  /* Whole numbers by hand: strtod would follow the process locale, which
   * the traced program may have set to a decimal comma. */
  int64_t v = 0;
  int ndig = 0;
  for (; p < e && *p >= '0' && *p <= '9'; p++) {
    if (++ndig > 16) /* past 2^53 for sure; and no int64 overflow */
      return 0;
    v = v * 10 + (*p - '0');
  }
  if (v > 9007199254740992LL)
    return 0;
  if (p < e && *p == '.')
    for (p++; p < e && *p == '0'; p++)
      ;
  if (p != e) /* a fraction that is not zero, or an exponent */
    return 0;
  if (neg && v != 0)
    return 0;
  *out = v;
  return 1;
}

cJSON *jt_cjson(const struct jt *j, int i) {
  if (jt_type(j, i) == 0)
    return NULL;
  const struct jt_tok *t = &j->t[i];
  return at_json_read(j->s + t->start, t->end - t->start, NULL);
}
