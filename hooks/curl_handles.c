/* curl_handles: CURL* -> per-handle state, a chained hash under one mutex.
 * A thread-local one-entry cache serves the common pattern of many setopt
 * calls on one handle in a row; a global generation number invalidates
 * every cache whenever any state is freed, so a stale entry can never
 * point at freed memory. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "curl_hooks.h"
#include "preload/runtime.h"

#define AT_BUCKETS 1024

struct at_curl_real at_curl_real;

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static struct at_curl_handle *buckets[AT_BUCKETS];
static unsigned long table_gen;

static AT_TLS CURL *cache_easy;
static AT_TLS struct at_curl_handle *cache_state;
static AT_TLS unsigned long cache_gen;

/* The table lock must not be copied into a fork()ed child while another
 * thread holds it: hold it across fork(). */
static void table_prepare(void) {
  pthread_mutex_lock(&table_mu);
}
static void table_parent(void) {
  pthread_mutex_unlock(&table_mu);
}
static void table_child(void) {
  pthread_mutex_init(&table_mu, NULL);
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) {
  pthread_atfork(table_prepare, table_parent, table_child);
}

static size_t bucket_of(CURL *easy) {
  uintptr_t x = (uintptr_t)easy;
  x ^= x >> 17;
  x *= 0x9E3779B97F4A7C15ull;
  return (size_t)(x >> 40) % AT_BUCKETS;
}

static void init_state(struct at_curl_handle *st, CURL *easy) {
  memset(st, 0, sizeof *st);
  st->easy = easy;
  st->postfieldsize = -1;
}

struct at_curl_handle *at_curl_handle_get(CURL *easy, int create) {
  if (!easy)
    return NULL;
  unsigned long gen = __atomic_load_n(&table_gen, __ATOMIC_ACQUIRE);
  if (cache_easy == easy && cache_gen == gen && cache_state)
    return cache_state;
  size_t b = bucket_of(easy);
  if (create)
    pthread_once(&atfork_once, register_atfork);
  pthread_mutex_lock(&table_mu);
  struct at_curl_handle *st = buckets[b];
  while (st && st->easy != easy)
    st = st->next;
  if (!st && create) {
    st = malloc(sizeof *st);
    if (st) {
      init_state(st, easy);
      st->next = buckets[b];
      buckets[b] = st;
    }
  }
  gen = table_gen;
  pthread_mutex_unlock(&table_mu);
  if (st) {
    cache_easy = easy;
    cache_state = st;
    cache_gen = gen;
  }
  return st;
}

struct at_curl_handle *at_curl_handle_take(CURL *easy) {
  size_t b = bucket_of(easy);
  pthread_mutex_lock(&table_mu);
  struct at_curl_handle **pp = &buckets[b];
  while (*pp && (*pp)->easy != easy)
    pp = &(*pp)->next;
  struct at_curl_handle *st = *pp;
  if (st) {
    *pp = st->next;
    __atomic_add_fetch(&table_gen, 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&table_mu);
  if (cache_easy == easy)
    cache_easy = NULL;
  return st;
}

static void free_exchange_buffers(struct at_curl_handle *st) {
  free(st->capture);
  st->capture = NULL;
  dynbuf_free(&st->req_headers);
  dynbuf_free(&st->req_body);
  dynbuf_free(&st->resp_headers);
  dynbuf_free(&st->resp_body);
}

void at_curl_handle_clear_options(struct at_curl_handle *st) {
  free(st->url);
  free(st->copypostfields);
  free_exchange_buffers(st);
  /* `next` belongs to the table: other threads relink it under the lock. */
  pthread_mutex_lock(&table_mu);
  struct at_curl_handle *next = st->next;
  init_state(st, st->easy);
  st->next = next;
  pthread_mutex_unlock(&table_mu);
}

void at_curl_handle_free(struct at_curl_handle *st) {
  if (!st)
    return;
  free(st->url);
  free(st->copypostfields);
  free_exchange_buffers(st);
  free(st);
}
