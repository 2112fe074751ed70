/* bufpool: capture buffers kept for the next exchange (see bufpool.h).
 *
 * Kept buffers sit on one free list per power-of-two size class, linked
 * through their own first bytes (a kept buffer's contents are dead), most
 * recently kept first: a get touches one or two list heads, never a scan
 * of the whole pool, and gets the buffer that was in use last (warmest in
 * the caches). A buffer of cap bytes is in class floor(log2(cap)), so every
 * buffer of a class above want's own holds want; want's own class is
 * searched (a few entries) for one big enough. */
#include "bufpool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

#define CLASS_MIN 8  /* 2^8 = AT_BUFPOOL_MIN_BUF */
#define CLASS_MAX 18 /* 2^18 = AT_BUFPOOL_MAX_BUF */
#define NCLASSES (CLASS_MAX - CLASS_MIN + 1)
/* Entries of want's own class looked at before moving up a class. */
#define SAME_CLASS_LOOKS 4

_Static_assert((1u << CLASS_MIN) == AT_BUFPOOL_MIN_BUF, "smallest class");
_Static_assert((1u << CLASS_MAX) == AT_BUFPOOL_MAX_BUF, "largest class");

/* What a kept buffer holds at its start while it waits. */
struct kept {
  struct kept *next;
  size_t cap;
};
_Static_assert(sizeof(struct kept) <= AT_BUFPOOL_MIN_BUF, "fits the smallest");

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kept *head[NCLASSES];
static unsigned nonempty; /* bit k: head[k] != NULL */
static size_t nkept, nbytes;

static unsigned class_of(size_t cap) {
  unsigned k = (unsigned)(63 - __builtin_clzll((unsigned long long)cap));
  return k - CLASS_MIN;
}

static char *take_locked(size_t want, size_t *cap) {
  if (want < AT_BUFPOOL_MIN_BUF)
    want = AT_BUFPOOL_MIN_BUF;
  if (want > AT_BUFPOOL_MAX_BUF)
    return NULL;
  unsigned k = class_of(want);
  struct kept **link = &head[k];
  for (int looks = 0; *link && looks < SAME_CLASS_LOOKS; looks++) {
    if ((*link)->cap >= want)
      goto found;
    link = &(*link)->next;
  }
  unsigned above = nonempty & ~((2u << k) - 1);
  if (!above)
    return NULL;
  k = (unsigned)__builtin_ctz(above);
  link = &head[k];
found:;
  struct kept *b = *link;
  *link = b->next;
  if (!head[k])
    nonempty &= ~(1u << k);
  nkept--;
  nbytes -= b->cap;
  *cap = b->cap;
  return (char *)b;
}

/* 0 when p was kept; the caller frees it otherwise. */
static int keep_locked(char *p, size_t cap) {
  if (nkept >= AT_BUFPOOL_SLOTS || nbytes + cap > AT_BUFPOOL_BYTES)
    return -1;
  unsigned k = class_of(cap);
  struct kept *b = (struct kept *)(void *)p;
  b->cap = cap;
  b->next = head[k];
  head[k] = b;
  nonempty |= 1u << k;
  nkept++;
  nbytes += cap;
  return 0;
}

static int keepable(const char *p, size_t cap) {
  return p && cap >= AT_BUFPOOL_MIN_BUF && cap <= AT_BUFPOOL_MAX_BUF &&
         ((uintptr_t)p & (_Alignof(struct kept) - 1)) == 0;
}

char *at_bufpool_get(size_t want, size_t *cap) {
  pthread_mutex_lock(&pool_mu);
  char *p = take_locked(want, cap);
  pthread_mutex_unlock(&pool_mu);
  return p;
}

void at_bufpool_get_n(size_t n, const size_t *want, char **out, size_t *cap) {
  pthread_mutex_lock(&pool_mu);
  for (size_t i = 0; i < n; i++)
    out[i] = take_locked(want[i], &cap[i]);
  pthread_mutex_unlock(&pool_mu);
}

void at_bufpool_put(char *p, size_t cap) {
  if (!p)
    return;
  if (keepable(p, cap)) {
    pthread_mutex_lock(&pool_mu);
    int kept = keep_locked(p, cap) == 0;
    pthread_mutex_unlock(&pool_mu);
    if (kept)
      return;
  }
  free(p);
}

struct at_capture *at_capture_alloc(void) {
  size_t cap;
  struct at_capture *c =
      (struct at_capture *)(void *)at_bufpool_get(sizeof *c, &cap);
  if (!c)
    return calloc(1, sizeof *c);
  memset(c, 0, sizeof *c);
  return c;
}

void at_capture_release(struct at_capture *c) {
  if (c->kind != AT_CAPTURE_EXCHANGE) {
    at_capture_free(c);
    return;
  }
  at_capture_free_strings(c);
  /* The four copies and the capture's own block (kept with the size of a
   * capture: the block may be bigger, a body buffer it was made from,
   * never smaller), under one lock. */
  char *give[5] = {c->req_headers, c->req_body, c->resp_headers, c->resp_body,
                   (char *)(void *)c};
  size_t caps[5] = {c->req_headers_cap, c->req_body_cap, c->resp_headers_cap,
                    c->resp_body_cap, sizeof *c};
  int keep[5];
  int any = 0;
  for (int i = 0; i < 5; i++)
    any |= keep[i] = keepable(give[i], caps[i]);
  if (any) {
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < 5; i++)
      if (keep[i] && keep_locked(give[i], caps[i]) == 0)
        give[i] = NULL;
    pthread_mutex_unlock(&pool_mu);
  }
  for (int i = 0; i < 5; i++)
    free(give[i]);
}

size_t at_bufpool_count(void) {
  pthread_mutex_lock(&pool_mu);
  size_t n = nkept;
  pthread_mutex_unlock(&pool_mu);
  return n;
}

void at_bufpool_atfork_prepare(void) {
  pthread_mutex_lock(&pool_mu);
}

void at_bufpool_atfork_parent(void) {
  pthread_mutex_unlock(&pool_mu);
}

void at_bufpool_atfork_child(void) {
  pthread_mutex_init(&pool_mu, NULL);
}
