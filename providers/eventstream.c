/* eventstream: AWS binary event stream decoder (see eventstream.h). */
#include "eventstream.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- CRC-32 ----------------------------------------------------------- */

/* Slicing-by-8 over the reflected IEEE polynomial 0xEDB88320: eight
 * 256-entry tables, built once (8 KiB), read 8 bytes a step. A byte at a
 * time costs a dependent table load per byte, most of a stream's parse. */
static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_tab[0][i] = c;
  }
  for (int t = 1; t < 8; t++)
    for (int i = 0; i < 256; i++)
      crc_tab[t][i] =
          (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xffu];
}

uint32_t at_crc32(uint32_t crc, const void *p, size_t n) {
  const unsigned char *b = p;
  pthread_once(&crc_once, crc_init);
  crc = ~crc;
  for (; n >= 8; n -= 8, b += 8) {
    uint32_t lo = crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 |
                         (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    crc = crc_tab[7][lo & 0xffu] ^ crc_tab[6][(lo >> 8) & 0xffu] ^
          crc_tab[5][(lo >> 16) & 0xffu] ^ crc_tab[4][lo >> 24] ^
          crc_tab[3][b[4]] ^ crc_tab[2][b[5]] ^ crc_tab[1][b[6]] ^
          crc_tab[0][b[7]];
  }
  while (n--)
    crc = crc_tab[0][(crc ^ *b++) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

/* ---- headers ---------------------------------------------------------- */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static uint64_t be64(const unsigned char *p) {
  return (uint64_t)be32(p) << 32 | be32(p + 4);
}

int at_es_header_next(const char *block, size_t len, size_t *pos,
                      struct at_es_header *h) {
  const unsigned char *b = (const unsigned char *)block;
  size_t i = *pos;
  if (i >= len)
    return 0;
  memset(h, 0, sizeof(*h));
  size_t name_len = b[i++];
  /* the name and the type byte must fit */
  if (name_len == 0 || name_len + 1 > len - i)
    return -1;
  h->name = block + i;
  h->name_len = name_len;
  i += name_len;
  h->type = b[i++];
  size_t need;
  switch (h->type) {
  case AT_ES_TRUE:
  case AT_ES_FALSE:
    h->num = h->type == AT_ES_TRUE;
    *pos = i;
    return 1;
  case AT_ES_BYTE:
    need = 1;
    break;
  case AT_ES_SHORT:
    need = 2;
    break;
  case AT_ES_INT:
    need = 4;
    break;
  case AT_ES_LONG:
  case AT_ES_TIMESTAMP:
    need = 8;
    break;
  case AT_ES_UUID:
    need = 16;
    break;
  case AT_ES_BYTES:
  case AT_ES_STRING:
    if (len - i < 2)
      return -1;
    need = (size_t)b[i] << 8 | b[i + 1];
    i += 2;
    break;
  default:
    return -1;
  }
  if (need > len - i)
    return -1;
  h->value = block + i;
  h->value_len = need;
  const unsigned char *v = b + i;
  switch (h->type) {
  case AT_ES_BYTE:
    h->num = (int8_t)v[0];
    break;
  case AT_ES_SHORT:
    h->num = (int16_t)(uint16_t)((unsigned)v[0] << 8 | v[1]);
    break;
  case AT_ES_INT:
    h->num = (int32_t)be32(v);
    break;
  case AT_ES_LONG:
  case AT_ES_TIMESTAMP:
    h->num = (int64_t)be64(v);
    break;
  default:
    break;
  }
  *pos = i + need;
  return 1;
}

int at_es_str_is(struct at_es_str s, const char *lit) {
  size_t n = strlen(lit);
  return s.p && s.len == n && memcmp(s.p, lit, n) == 0;
}

static int name_is(const struct at_es_header *h, const char *lit) {
  size_t n = strlen(lit);
  return h->name_len == n && memcmp(h->name, lit, n) == 0;
}

/* Fill m's header fields from its block; -1 when the block is malformed. */
static int pick_headers(struct at_es_message *m) {
  static const struct {
    const char *name;
    size_t off;
  } known[] = {
      {":message-type", offsetof(struct at_es_message, message_type)},
      {":event-type", offsetof(struct at_es_message, event_type)},
      {":exception-type", offsetof(struct at_es_message, exception_type)},
      {":error-code", offsetof(struct at_es_message, error_code)},
      {":error-message", offsetof(struct at_es_message, error_message)},
      {":content-type", offsetof(struct at_es_message, content_type)},
  };
  size_t pos = 0;
  struct at_es_header h;
  int r;
  /* bounded: each header consumes at least 3 bytes of the block */
  while ((r = at_es_header_next(m->headers, m->headers_len, &pos, &h)) == 1) {
    if (h.type != AT_ES_STRING || h.name[0] != ':')
      continue;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
      if (name_is(&h, known[k].name)) {
        struct at_es_str *s = (struct at_es_str *)((char *)m + known[k].off);
        s->p = h.value;
        s->len = h.value_len;
        break;
      }
    }
  }
  return r;
}

/* ---- framing ---------------------------------------------------------- */

static void set_error(struct at_es *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct at_es *d, const char *fmt, ...) {
  if (d->error[0])
    return; /* the first problem is the one worth reporting */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->error, sizeof d->error, fmt, ap);
  va_end(ap);
}

/* Check a prelude; returns the total length, or 0 when the framing is
 * lost (d->failed set). */
static size_t check_prelude(struct at_es *d, const unsigned char *p,
                            size_t at) {
  uint32_t total = be32(p), hlen = be32(p + 4);
  if (at_crc32(0, p, 8) != be32(p + 8)) {
    set_error(d, "event stream: prelude CRC mismatch at byte %zu", at);
    d->failed = 1;
    return 0;
  }
  if (total < AT_ES_OVERHEAD || hlen > total - AT_ES_OVERHEAD) {
    set_error(d,
              "event stream: message at byte %zu has impossible lengths "
              "(total %zu)",
              at, (size_t)total);
    d->failed = 1;
    return 0;
  }
  return total;
}

/* A whole message of `total` bytes at p, which started at stream offset
 * `at`: check its CRC, read its headers, hand it over. */
static void deliver(struct at_es *d, const char *p, size_t total, size_t at) {
  const unsigned char *b = (const unsigned char *)p;
  if (at_crc32(0, b, total - 4) != be32(b + total - 4)) {
    set_error(d, "event stream: message CRC mismatch at byte %zu", at);
    d->failed = 1;
    return;
  }
  struct at_es_message m;
  memset(&m, 0, sizeof m);
  size_t hlen = be32(b + 4);
  m.offset = at;
  m.end_offset = at + total;
  m.headers = p + 12;
  m.headers_len = hlen;
  m.payload = p + 12 + hlen;
  m.payload_len = total - AT_ES_OVERHEAD - hlen;
  if (pick_headers(&m) < 0) {
    d->bad_headers++;
    set_error(d, "event stream: malformed headers in the message at byte %zu",
              at);
    return;
  }
  d->messages++;
  if (d->cb && d->cb(&m, d->arg))
    d->stopped = 1;
}

void at_es_init(struct at_es *d, size_t max_message, at_es_cb cb, void *arg) {
  memset(d, 0, sizeof(*d));
  d->cb = cb;
  d->arg = arg;
  d->max_message = max_message < AT_ES_OVERHEAD ? AT_ES_OVERHEAD : max_message;
  dynbuf_init(&d->part, d->max_message);
}

/* Append up to `want` bytes of input to the partial message; returns the
 * number taken. */
static size_t take(struct at_es *d, const char *p, size_t n, size_t want) {
  size_t k = n < want ? n : want;
  if (dynbuf_add(&d->part, p, k) != 0) {
    set_error(d, "event stream: out of memory buffering a message");
    d->failed = 1;
  }
  d->offset += k;
  return k;
}

void at_es_feed(struct at_es *d, const void *data, size_t n) {
  const char *p = data;
  /* Bounded: every pass consumes input, or delivers or drops a message,
   * or stops decoding. */
  while (n > 0 && !d->failed && !d->stopped) {
    if (d->skip) {
      size_t k = n < d->skip ? n : d->skip;
      d->skip -= k;
      d->offset += k;
      p += k;
      n -= k;
      continue;
    }
    if (d->part.len == 0 && n >= 12) {
      size_t at = d->offset;
      size_t total = check_prelude(d, (const unsigned char *)p, at);
      if (!total)
        break;
      if (total > d->max_message) {
        d->oversize++;
        set_error(d,
                  "event stream: message at byte %zu larger than %zu bytes "
                  "skipped",
                  at, d->max_message);
        d->skip = total;
        continue;
      }
      if (n >= total) { /* whole: no copy */
        d->offset += total;
        deliver(d, p, total, at);
        p += total;
        n -= total;
        continue;
      }
      size_t k = take(d, p, n, n);
      p += k;
      n -= k;
      continue;
    }
    /* A message split across feeds. */
    if (d->part.len < 12) {
      size_t k = take(d, p, n, 12 - d->part.len);
      p += k;
      n -= k;
      if (d->part.len < 12)
        break;
    }
    size_t at = d->offset - d->part.len;
    size_t total = check_prelude(d, (const unsigned char *)d->part.ptr, at);
    if (!total)
      break;
    if (total > d->max_message) {
      d->oversize++;
      set_error(d,
                "event stream: message at byte %zu larger than %zu bytes "
                "skipped",
                at, d->max_message);
      d->skip = total - d->part.len;
      dynbuf_reset(&d->part);
      continue;
    }
    size_t k = take(d, p, n, total - d->part.len);
    p += k;
    n -= k;
    if (d->part.len == total && !d->failed) {
      deliver(d, d->part.ptr, total, at);
      dynbuf_reset(&d->part);
    }
  }
  d->offset += n; /* what was not read after a stop or a failure */
}

void at_es_finish(struct at_es *d) {
  if (d->failed || d->stopped)
    return;
  if (d->part.len || d->skip) {
    d->truncated = 1;
    if (d->part.len >= 12) {
      size_t total = be32((const unsigned char *)d->part.ptr);
      set_error(d, "event stream ended inside a message (%zu of %zu bytes)",
                d->part.len, total);
    } else if (d->part.len) {
      set_error(d, "event stream ended inside a message prelude (%zu bytes)",
                d->part.len);
    } else {
      set_error(d,
                "event stream ended %zu bytes before the end of a skipped "
                "message",
                d->skip);
    }
  }
}

void at_es_free(struct at_es *d) {
  dynbuf_free(&d->part);
}

void at_es_parse(struct at_es *d, const void *p, size_t n, size_t max_message,
                 at_es_cb cb, void *arg) {
  at_es_init(d, max_message, cb, arg);
  at_es_feed(d, p, n);
  at_es_finish(d);
}

int at_es_sniff(const void *p, size_t n) {
  const unsigned char *b = p;
  if (n < 12)
    return 0;
  uint32_t total = be32(b), hlen = be32(b + 4);
  return total >= AT_ES_OVERHEAD && hlen <= total - AT_ES_OVERHEAD &&
         at_crc32(0, b, 8) == be32(b + 8);
}
