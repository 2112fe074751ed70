/* eventstream: CRC-32, framing, headers, cuts and damage, incremental
 * feeding. Fixtures: the .es files in tests/fixtures/providers/bedrock/
 * (written by make_streams.py there). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "providers/eventstream.h"

#define MAX_SEEN 64

struct seen {
  size_t n;
  char type[MAX_SEEN][40];
  char mtype[MAX_SEEN][16];
  size_t offset[MAX_SEEN], end[MAX_SEEN], payload_len[MAX_SEEN];
  char payload0[256];
  int stop_after; /* 0: never */
};

static void copy_str(char *dst, size_t cap, struct at_es_str s) {
  size_t n = s.len < cap - 1 ? s.len : cap - 1;
  if (s.p)
    memcpy(dst, s.p, n);
  dst[s.p ? n : 0] = '\0';
}

static int record(const struct at_es_message *m, void *arg) {
  struct seen *s = arg;
  if (s->n < MAX_SEEN) {
    copy_str(s->type[s->n], sizeof s->type[0], m->event_type);
    copy_str(s->mtype[s->n], sizeof s->mtype[0], m->message_type);
    s->offset[s->n] = m->offset;
    s->end[s->n] = m->end_offset;
    s->payload_len[s->n] = m->payload_len;
    if (s->n == 0) {
      size_t k = m->payload_len < 255 ? m->payload_len : 255;
      memcpy(s->payload0, m->payload, k);
      s->payload0[k] = '\0';
    }
  }
  s->n++;
  return s->stop_after && s->n >= (size_t)s->stop_after;
}

static char *fixture(const char *name, size_t *len) {
  char path[128];
  snprintf(path, sizeof path, "bedrock/%s", name);
  return fx_read(path, len);
}

/* A message built here: one string header per (name, value) pair. */
static size_t build(unsigned char *out, const char *const *hdrs, size_t nh,
                    const char *payload, size_t plen) {
  size_t h = 12;
  for (size_t i = 0; i < nh; i += 2) {
    size_t nl = strlen(hdrs[i]), vl = strlen(hdrs[i + 1]);
    out[h++] = (unsigned char)nl;
    memcpy(out + h, hdrs[i], nl);
    h += nl;
    out[h++] = 7;
    out[h++] = (unsigned char)(vl >> 8);
    out[h++] = (unsigned char)vl;
    memcpy(out + h, hdrs[i + 1], vl);
    h += vl;
  }
  memcpy(out + h, payload, plen);
  size_t total = h + plen + 4, hl = h - 12;
  unsigned char pre[8] = {
      (unsigned char)(total >> 24), (unsigned char)(total >> 16),
      (unsigned char)(total >> 8),  (unsigned char)total,
      (unsigned char)(hl >> 24),    (unsigned char)(hl >> 16),
      (unsigned char)(hl >> 8),     (unsigned char)hl};
  memcpy(out, pre, 8);
  uint32_t c = at_crc32(0, out, 8);
  for (int i = 0; i < 4; i++)
    out[8 + i] = (unsigned char)(c >> (24 - 8 * i));
  c = at_crc32(0, out, total - 4);
  for (int i = 0; i < 4; i++)
    out[total - 4 + i] = (unsigned char)(c >> (24 - 8 * i));
  return total;
}

Test(eventstream, crc32_known_values) {
  cr_expect_eq(at_crc32(0, "123456789", 9), 0xCBF43926u);
  cr_expect_eq(at_crc32(0, "", 0), 0u);
  cr_expect_eq(at_crc32(0, "The quick brown fox jumps over the lazy dog", 43),
               0x414FA339u);
  /* continued in pieces, the same */
  uint32_t c = at_crc32(0, "1234", 4);
  cr_expect_eq(at_crc32(c, "56789", 5), 0xCBF43926u);
}

Test(eventstream, whole_stream_types_offsets_payloads) {
  size_t len;
  char *body = fixture("converse_stream.es", &len);
  struct seen s = {0};
  struct at_es d;
  at_es_parse(&d, body, len, 1 << 20, record, &s);
  cr_expect_str_eq(d.error, "");
  cr_expect_eq(d.messages, 15);
  cr_assert_eq(s.n, 15);
  cr_expect_str_eq(s.type[0], "messageStart");
  cr_expect_str_eq(s.mtype[0], "event");
  cr_expect_str_eq(s.payload0, "{\"role\":\"assistant\",\"p\":\"ab\"}");
  cr_expect_str_eq(s.type[1], "contentBlockDelta");
  cr_expect_str_eq(s.type[8], "contentBlockStart");
  cr_expect_str_eq(s.type[13], "messageStop");
  cr_expect_str_eq(s.type[14], "metadata");
  cr_expect_eq(s.offset[0], 0);
  for (size_t i = 1; i < s.n; i++)
    cr_expect_eq(s.offset[i], s.end[i - 1], "message %zu", i);
  cr_expect_eq(s.end[14], len);
  cr_expect_eq(d.offset, len);
  cr_expect_not(d.truncated);
  at_es_free(&d);
  free(body);
}

/* Fed one byte at a time, or in uneven pieces: the same messages at the
 * same offsets. */
Test(eventstream, split_feeds_change_nothing) {
  size_t len;
  char *body = fixture("converse_stream.es", &len);
  struct seen whole = {0};
  struct at_es d;
  at_es_parse(&d, body, len, 1 << 20, record, &whole);
  at_es_free(&d);
  static const size_t steps[] = {1, 2, 3, 7, 11, 12, 13, 100, 4096};
  for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
    struct seen s = {0};
    at_es_init(&d, 1 << 20, record, &s);
    for (size_t i = 0; i < len; i += steps[k])
      at_es_feed(&d, body + i, len - i < steps[k] ? len - i : steps[k]);
    at_es_finish(&d);
    cr_expect_str_eq(d.error, "", "step %zu", steps[k]);
    cr_assert_eq(s.n, whole.n, "step %zu", steps[k]);
    for (size_t i = 0; i < s.n; i++) {
      cr_expect_str_eq(s.type[i], whole.type[i]);
      cr_expect_eq(s.offset[i], whole.offset[i]);
      cr_expect_eq(s.end[i], whole.end[i]);
      cr_expect_eq(s.payload_len[i], whole.payload_len[i]);
    }
    cr_expect_str_eq(s.payload0, whole.payload0);
    at_es_free(&d);
  }
  free(body);
}

Test(eventstream, cut_stream_keeps_what_came) {
  size_t len;
  char *body = fixture("converse_stream_cut.es", &len);
  struct seen s = {0};
  struct at_es d;
  at_es_parse(&d, body, len, 1 << 20, record, &s);
  cr_expect_eq(s.n, 6);
  cr_expect(d.truncated);
  cr_expect(strstr(d.error, "ended inside a message") != NULL, "%s", d.error);
  at_es_free(&d);
  /* cut inside a prelude */
  struct seen s2 = {0};
  at_es_parse(&d, body, s.end[0] + 5, 1 << 20, record, &s2);
  cr_expect_eq(s2.n, 1);
  cr_expect(d.truncated);
  cr_expect(strstr(d.error, "prelude (5 bytes)") != NULL, "%s", d.error);
  at_es_free(&d);
  free(body);
}

Test(eventstream, damaged_message_crc_stops_there) {
  size_t len;
  char *body = fixture("converse_stream_badcrc.es", &len);
  struct seen s = {0};
  struct at_es d;
  at_es_parse(&d, body, len, 1 << 20, record, &s);
  cr_expect_eq(s.n, 8);
  cr_expect(d.failed);
  cr_expect(strstr(d.error, "message CRC mismatch at byte") != NULL, "%s",
            d.error);
  cr_expect_eq(d.offset, len);
  at_es_free(&d);
  free(body);
}

Test(eventstream, damaged_prelude_and_impossible_lengths) {
  unsigned char buf[256];
  static const char *const h[] = {":message-type", "event", ":event-type", "x"};
  size_t n = build(buf, h, 4, "{}", 2);
  struct seen s = {0};
  struct at_es d;
  at_es_parse(&d, buf, n, 1 << 20, record, &s);
  cr_expect_eq(s.n, 1);
  cr_expect_str_eq(d.error, "");
  at_es_free(&d);

  buf[3] ^= 1; /* total length: the prelude CRC no longer checks */
  s.n = 0;
  at_es_parse(&d, buf, n, 1 << 20, record, &s);
  cr_expect_eq(s.n, 0);
  cr_expect(d.failed);
  cr_expect(strstr(d.error, "prelude CRC mismatch at byte 0") != NULL);
  cr_expect_not(at_es_sniff(buf, n));
  at_es_free(&d);

  /* a prelude with a good CRC but headers longer than the message */
  unsigned char bad[16] = {0, 0, 0, 16, 0, 0, 0, 9};
  uint32_t c = at_crc32(0, bad, 8);
  for (int i = 0; i < 4; i++)
    bad[8 + i] = (unsigned char)(c >> (24 - 8 * i));
  at_es_parse(&d, bad, sizeof bad, 1 << 20, record, &s);
  cr_expect(d.failed);
  cr_expect(strstr(d.error, "impossible lengths") != NULL, "%s", d.error);
  cr_expect_not(at_es_sniff(bad, sizeof bad));
  at_es_free(&d);
}

Test(eventstream, every_header_type) {
  size_t len;
  char *body = fixture("converse_stream_odd_headers.es", &len);
  struct seen s = {0};
  struct at_es d;
  at_es_parse(&d, body, len, 1 << 20, record, &s);
  cr_expect_str_eq(d.error, "");
  cr_assert_eq(s.n, 12);
  cr_expect_str_eq(s.type[1], "futureEvent");
  at_es_free(&d);
  /* walk the second message's header block by hand */
  const char *m = body + s.offset[1];
  size_t hl = (size_t)(unsigned char)m[4] << 24 |
              (size_t)(unsigned char)m[5] << 16 |
              (size_t)(unsigned char)m[6] << 8 | (unsigned char)m[7];
  struct at_es_header h;
  size_t pos = 0;
  int64_t nums[16];
  int types[16], k = 0;
  while (at_es_header_next(m + 12, hl, &pos, &h) == 1 && k < 16) {
    types[k] = h.type;
    nums[k] = h.num;
    if (h.type == AT_ES_BYTES)
      cr_expect(h.value_len == 3 && !memcmp(h.value, "\0\1\2", 3));
    if (h.type == AT_ES_UUID)
      cr_expect(h.value_len == 16 && h.value[15] == 15);
    k++;
  }
  cr_assert_eq(k, 11);
  cr_expect_eq(pos, hl);
  cr_expect_eq(types[2], AT_ES_TRUE);
  cr_expect_eq(nums[2], 1);
  cr_expect_eq(types[3], AT_ES_FALSE);
  cr_expect_eq(nums[3], 0);
  cr_expect_eq(nums[4], -3);
  cr_expect_eq(nums[5], -300);
  cr_expect_eq(nums[6], 70000);
  cr_expect_eq(nums[7], (int64_t)1 << 40);
  cr_expect_eq(types[9], AT_ES_TIMESTAMP);
  cr_expect_eq(nums[9], 1700000000000);
  free(body);
}

Test(eventstream, malformed_headers) {
  struct at_es_header h;
  size_t pos = 0;
  /* empty name */
  cr_expect_eq(at_es_header_next("\0\7\0\0", 4, &pos, &h), -1);
  /* unknown type 12 */
  pos = 0;
  cr_expect_eq(at_es_header_next("\1a\14", 3, &pos, &h), -1);
  /* a string that runs past the block */
  pos = 0;
  cr_expect_eq(at_es_header_next("\1a\7\0\5ab", 7, &pos, &h), -1);
  /* a name that runs past the block */
  pos = 0;
  cr_expect_eq(at_es_header_next("\11ab", 3, &pos, &h), -1);
  /* a long without its 8 bytes */
  pos = 0;
  cr_expect_eq(at_es_header_next("\1a\5\0\0\0", 6, &pos, &h), -1);
  /* the end */
  pos = 3;
  cr_expect_eq(at_es_header_next("\1a\0", 3, &pos, &h), 0);

  /* a message whose headers do not parse is skipped; the next one is
   * still read */
  unsigned char buf[512];
  static const char *const ok[] = {":event-type", "good"};
  size_t n1 = build(buf, ok, 2, "{}", 2);
  size_t n2 = build(buf + n1, ok, 2, "{}", 2);
  buf[n1 + 12] = 0; /* empty header name */
  uint32_t c = at_crc32(0, buf + n1, n2 - 4);
  for (int i = 0; i < 4; i++)
    buf[n1 + n2 - 4 + i] = (unsigned char)(c >> (24 - 8 * i));
  size_t n3 = build(buf + n1 + n2, ok, 2, "{}", 2);
  struct seen s = {0};
  struct at_es d;
  at_es_parse(&d, buf, n1 + n2 + n3, 1 << 20, record, &s);
  cr_expect_eq(s.n, 2);
  cr_expect_eq(d.bad_headers, 1);
  cr_expect(strstr(d.error, "malformed headers") != NULL, "%s", d.error);
  cr_expect_not(d.failed);
  at_es_free(&d);
}

Test(eventstream, oversize_messages_are_skipped) {
  unsigned char buf[4096];
  static const char *const h[] = {":event-type", "big"};
  char payload[1000];
  memset(payload, 'x', sizeof payload);
  size_t n1 = build(buf, h, 2, "{}", 2);
  size_t n2 = build(buf + n1, h, 2, payload, sizeof payload);
  size_t n3 = build(buf + n1 + n2, h, 2, "{}", 2);
  size_t total = n1 + n2 + n3;
  for (size_t step = 1; step <= total; step = step * 3 + 1) {
    struct seen s = {0};
    struct at_es d;
    at_es_init(&d, 200, record, &s);
    for (size_t i = 0; i < total; i += step)
      at_es_feed(&d, buf + i, total - i < step ? total - i : step);
    at_es_finish(&d);
    cr_expect_eq(s.n, 2, "step %zu", step);
    cr_expect_eq(d.oversize, 1);
    cr_expect_eq(s.offset[1], n1 + n2);
    cr_expect(strstr(d.error, "larger than 200 bytes") != NULL);
    cr_expect_not(d.truncated);
    at_es_free(&d);
  }
}

Test(eventstream, callback_can_stop) {
  size_t len;
  char *body = fixture("converse_stream.es", &len);
  struct seen s = {.stop_after = 3};
  struct at_es d;
  at_es_parse(&d, body, len, 1 << 20, record, &s);
  cr_expect_eq(s.n, 3);
  cr_expect(d.stopped);
  cr_expect_str_eq(d.error, "");
  at_es_free(&d);
  free(body);
}

Test(eventstream, sniff) {
  size_t len;
  char *body = fixture("invoke_llama_stream.es", &len);
  cr_expect(at_es_sniff(body, len));
  cr_expect_not(at_es_sniff(body, 11));
  cr_expect_not(at_es_sniff("{\"output\":{\"message\":{}}}", 25));
  cr_expect_not(at_es_sniff("", 0));
  free(body);
}

Test(eventstream, exception_message_type) {
  size_t len;
  char *body = fixture("converse_stream_exception.es", &len);
  struct seen s = {0};
  struct at_es d;
  at_es_parse(&d, body, len, 1 << 20, record, &s);
  cr_assert_eq(s.n, 7);
  cr_expect_str_eq(s.mtype[6], "exception");
  cr_expect_str_eq(s.type[6], "");
  at_es_free(&d);
  free(body);
}
