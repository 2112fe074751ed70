/* bufpool: capture buffers kept for the next exchange (see bufpool.h). */
#include "bufpool.h"

#include <pthread.h>
#include <stdlib.h>

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  char *p;
  size_t cap;
} slot[AT_BUFPOOL_SLOTS];
static size_t nslots, nbytes;

char *at_bufpool_get(size_t want, size_t *cap) {
  char *p = NULL;
  pthread_mutex_lock(&pool_mu);
  size_t best = nslots;
  for (size_t i = 0; i < nslots; i++)
    if (slot[i].cap >= want && (best == nslots || slot[i].cap < slot[best].cap))
      best = i;
  if (best < nslots) {
    p = slot[best].p;
    *cap = slot[best].cap;
    nbytes -= slot[best].cap;
    slot[best] = slot[--nslots];
  }
  pthread_mutex_unlock(&pool_mu);
  return p;
}

void at_bufpool_put(char *p, size_t cap) {
  if (!p)
    return;
  if (cap >= AT_BUFPOOL_MIN_BUF && cap <= AT_BUFPOOL_MAX_BUF) {
    pthread_mutex_lock(&pool_mu);
    if (nslots < AT_BUFPOOL_SLOTS && nbytes + cap <= AT_BUFPOOL_BYTES) {
      slot[nslots].p = p;
      slot[nslots].cap = cap;
      nslots++;
      nbytes += cap;
      p = NULL;
    }
    pthread_mutex_unlock(&pool_mu);
  }
  free(p);
}

size_t at_bufpool_count(void) {
  pthread_mutex_lock(&pool_mu);
  size_t n = nslots;
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
