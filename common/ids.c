#include "ids.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void fill_random(unsigned char *p, size_t n) {
  ssize_t got = getrandom(p, n, GRND_NONBLOCK);
  if (got == (ssize_t)n)
    return;
  /* Entropy pool not ready (very early boot): fall back to a mix of time,
   * pid and address bits. Ids only need to be unique, not secret. */
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  unsigned long long x =
      (unsigned long long)ts.tv_nsec ^ ((unsigned long long)ts.tv_sec << 20) ^
      ((unsigned long long)getpid() << 40) ^ (unsigned long long)(size_t)p;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (unsigned char)x;
  }
}

/* Ids are drawn from a per-thread pool of random bytes refilled 256 at a
 * time: one getrandom() per 32 span ids instead of one each. A fork()ed
 * child must not replay its parent's pool: it is emptied there. */
#define AT_POOL_BYTES 256
static __thread unsigned char pool[AT_POOL_BYTES];
static __thread size_t pool_left;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_forget(void) {
  pool_left = 0;
}

static void pool_register(void) {
  pthread_atfork(NULL, NULL, pool_forget);
}

static void take_random(unsigned char *p, size_t n) {
  pthread_once(&pool_once, pool_register);
  if (pool_left < n) {
    fill_random(pool, AT_POOL_BYTES);
    pool_left = AT_POOL_BYTES;
  }
  memcpy(p, pool + AT_POOL_BYTES - pool_left, n);
  memset(pool + AT_POOL_BYTES - pool_left, 0, n); /* used bytes are gone */
  pool_left -= n;
}

static void random_hex(char *out, size_t bytes) {
  static const char hex[] = "0123456789abcdef";
  unsigned char raw[16];
  take_random(raw, bytes);
  int nonzero = 0;
  for (size_t i = 0; i < bytes; i++)
    nonzero |= raw[i];
  if (!nonzero)
    raw[bytes - 1] = 1;
  for (size_t i = 0; i < bytes; i++) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  out[2 * bytes] = '\0';
}

void at_new_trace_id(char *out) {
  random_hex(out, AT_TRACE_ID_HEX / 2);
}

void at_new_span_id(char *out) {
  random_hex(out, AT_SPAN_ID_HEX / 2);
}

int at_valid_hex_id(const char *s, unsigned n) {
  int nonzero = 0;
  for (unsigned i = 0; i < n; i++) {
    if (!isxdigit((unsigned char)s[i]))
      return 0;
    if (s[i] != '0')
      nonzero = 1;
  }
  return s[n] == '\0' && nonzero;
}

static int hex_run(const char *s, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    if (!isxdigit((unsigned char)s[i]))
      return 0;
  return 1;
}

int at_parse_traceparent(const char *tp, char *trace_id, char *span_id) {
  /* version(2) '-' trace(32) '-' span(16) '-' flags(2) */
  if (!tp || strlen(tp) < 55)
    return -1;
  if (!hex_run(tp, 2) || tp[2] != '-' || !hex_run(tp + 3, 32) ||
      tp[35] != '-' || !hex_run(tp + 36, 16) || tp[52] != '-' ||
      !hex_run(tp + 53, 2))
    return -1;
  if (tp[0] == 'f' && tp[1] == 'f')
    return -1; /* version ff is forbidden */
  if (strlen(tp) > 55 && tp[55] != '-')
    return -1; /* only future versions may append fields */
  char t[33], s[17];
  for (int i = 0; i < 32; i++)
    t[i] = (char)tolower((unsigned char)tp[3 + i]);
  t[32] = '\0';
  for (int i = 0; i < 16; i++)
    s[i] = (char)tolower((unsigned char)tp[36 + i]);
  s[16] = '\0';
  if (!at_valid_hex_id(t, 32) || !at_valid_hex_id(s, 16))
    return -1;
  memcpy(trace_id, t, 33);
  memcpy(span_id, s, 17);
  return 0;
}
