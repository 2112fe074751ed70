#include "dynbuf.h"

#include <stdlib.h>
#include <string.h>

void dynbuf_init(struct dynbuf *b, size_t max) {
  memset(b, 0, sizeof(*b));
  b->max = max;
}

int dynbuf_add(struct dynbuf *b, const void *p, size_t n) {
  int cut = 0;
  if (b->len >= b->max) {
    if (n)
      b->truncated = 1;
    return n ? 1 : 0;
  }
  if (n > b->max - b->len) {
    n = b->max - b->len;
    cut = 1;
  }
  if (b->len + n + 1 > b->cap) {
    size_t want = b->cap ? b->cap : 256;
    while (want < b->len + n + 1)
      want *= 2;
    if (want > b->max + 1)
      want = b->max + 1;
    char *np = realloc(b->ptr, want);
    if (!np) {
      b->oom = 1;
      return -1;
    }
    b->ptr = np;
    b->cap = want;
  }
  if (n)
    memcpy(b->ptr + b->len, p, n);
  b->len += n;
  b->ptr[b->len] = '\0';
  if (cut)
    b->truncated = 1;
  return cut;
}

int dynbuf_reserve(struct dynbuf *b, size_t n) {
  size_t room = b->max - b->len;
  if (n > room)
    n = room;
  if (b->len + n + 1 <= b->cap)
    return 0;
  char *np = realloc(b->ptr, b->len + n + 1);
  if (!np)
    return -1;
  b->ptr = np;
  b->cap = b->len + n + 1;
  b->ptr[b->len] = '\0';
  return 0;
}

int dynbuf_addstr(struct dynbuf *b, const char *s) {
  return dynbuf_add(b, s, strlen(s));
}

void dynbuf_reset(struct dynbuf *b) {
  b->len = 0;
  b->truncated = 0;
  b->oom = 0;
  if (b->ptr)
    b->ptr[0] = '\0';
}

void dynbuf_adopt(struct dynbuf *b, char *p, size_t cap) {
  free(b->ptr);
  b->ptr = p;
  b->cap = cap;
  b->len = 0;
  b->truncated = 0;
  b->oom = 0;
  p[0] = '\0';
}

char *dynbuf_take(struct dynbuf *b, size_t *len) {
  char *p = b->ptr;
  if (len)
    *len = b->len;
  size_t max = b->max;
  dynbuf_init(b, max);
  return p;
}

void dynbuf_free(struct dynbuf *b) {
  free(b->ptr);
  dynbuf_init(b, b->max);
}
