/* bufpool: capture buffers kept for the next exchange (see bufpool.h). */
#include "bufpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

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
  at_bufpool_put(c->req_headers, c->req_headers_cap);
  at_bufpool_put(c->req_body, c->req_body_cap);
  at_bufpool_put(c->resp_headers, c->resp_headers_cap);
  at_bufpool_put(c->resp_body, c->resp_body_cap);
  c->req_headers = c->req_body = c->resp_headers = c->resp_body = NULL;
  if (c->kind != AT_CAPTURE_EXCHANGE) {
    at_capture_free(c);
    return;
  }
  free(c->method);
  free(c->url);
  free(c->error_msg);
  free(c->conn);
  /* Kept with the size of a capture: the block may be bigger (a body
   * buffer it was made from), never smaller. */
  at_bufpool_put((char *)(void *)c, sizeof *c);
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
