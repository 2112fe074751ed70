/* fuzz_eventstream: libFuzzer target for the AWS event-stream decoder.
 *
 * Input: byte 0 picks the piece size for the second pass (1 + byte % 64;
 * 0 means the whole input at once as well), byte 1 the message size cap
 * (64 << (byte % 8)), the rest is the stream. The input is decoded whole,
 * then fed in pieces; the two must agree on every message (offsets,
 * payload, event type), on the counts and on how the stream ended. Every
 * delivered message's header block is walked to its end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/eventstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_KEEP 4096

struct trace {
  size_t n;
  size_t offset[MAX_KEEP], end[MAX_KEEP];
  uint32_t payload_crc[MAX_KEEP], type_crc[MAX_KEEP];
};

static int on_message(const struct at_es_message *m, void *arg) {
  struct trace *t = arg;
  /* the message lies within what was fed, and its parts within it */
  if (m->end_offset <= m->offset ||
      m->end_offset - m->offset <
          AT_ES_OVERHEAD + m->headers_len + m->payload_len)
    abort();
  size_t pos = 0;
  struct at_es_header h;
  int r;
  size_t guard = 0;
  while ((r = at_es_header_next(m->headers, m->headers_len, &pos, &h)) == 1) {
    if (pos > m->headers_len || ++guard > m->headers_len)
      abort();
    if (h.value && (h.value < m->headers ||
                    h.value + h.value_len > m->headers + m->headers_len))
      abort();
  }
  if (r != 0) /* delivered messages have well-formed headers */
    abort();
  if (t->n < MAX_KEEP) {
    t->offset[t->n] = m->offset;
    t->end[t->n] = m->end_offset;
    t->payload_crc[t->n] = at_crc32(0, m->payload, m->payload_len);
    t->type_crc[t->n] =
        at_crc32(0, m->event_type.p ? m->event_type.p : "", m->event_type.len);
  }
  t->n++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t step = 1 + data[0] % 64;
  size_t cap = (size_t)64 << (data[1] % 8);
  data += 2;
  size -= 2;
  /* an exact-size copy so that ASan sees any read past the end */
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf)
    abort();
  if (size)
    memcpy(buf, data, size);

  static struct trace a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  struct at_es whole, split;
  at_es_parse(&whole, buf, size, cap, on_message, &a);
  at_es_init(&split, cap, on_message, &b);
  for (size_t i = 0; i < size; i += step)
    at_es_feed(&split, buf + i, size - i < step ? size - i : step);
  at_es_finish(&split);

  if (a.n != b.n || whole.messages != split.messages ||
      whole.bad_headers != split.bad_headers ||
      whole.oversize != split.oversize || whole.failed != split.failed ||
      whole.truncated != split.truncated || whole.offset != size ||
      split.offset != size || strcmp(whole.error, split.error) != 0)
    abort();
  for (size_t i = 0; i < a.n && i < MAX_KEEP; i++)
    if (a.offset[i] != b.offset[i] || a.end[i] != b.end[i] ||
        a.payload_crc[i] != b.payload_crc[i] || a.type_crc[i] != b.type_crc[i])
      abort();
  /* a stream that starts with a message sniffs as one */
  if (a.n && a.offset[0] == 0 && !at_es_sniff(buf, size))
    abort();
  at_es_free(&whole);
  at_es_free(&split);
  free(buf);
  return 0;
}
