/* fuzz_decode: libFuzzer target for the content decoders.
 *
 * Byte 0: bits 0-1 and 2-3 pick up to two codings (gzip, deflate, br,
 * zstd), bit 4 whether there are two, bit 5 the mode; byte 1 a piece size.
 *  - decode mode: the rest is taken as compressed data and decoded whole
 *    and in pieces; output must stay under the cap, and when neither run
 *    fails the two outputs must be equal.
 *  - round-trip mode (one coding): the rest is compressed with the real
 *    encoder, decoded in pieces, and must come back byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include "wire/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (1u << 20)

static const char *const NAMES[] = {"gzip", "deflate", "br", "zstd"};

struct out {
  char *buf;
  size_t n;
};

static int sink(void *arg, const char *p, size_t n) {
  struct out *o = arg;
  if (n == 0)
    abort();
  size_t k = n > CAP - o->n ? CAP - o->n : n;
  memcpy(o->buf + o->n, p, k);
  o->n += k;
  return o->n >= CAP;
}

/* Returns the decoder's verdict: -1 failed, 1 stopped, 0 fine. */
static int decode(const int *codings, int k, const uint8_t *p, size_t n,
                  size_t step, struct out *o) {
  struct wire_decoder d;
  o->n = 0;
  wire_decoder_init(&d, sink, o, CAP);
  for (int i = 0; i < k; i++)
    if (wire_decoder_add(&d, NAMES[codings[i]], strlen(NAMES[codings[i]])))
      abort();
  int r = 0;
  for (size_t off = 0; off < n && r == 0; off += step)
    r = wire_decoder_feed(&d, (const char *)p + off,
                          n - off < step ? n - off : step);
  if (r == 0)
    r = wire_decoder_finish(&d);
  if (o->n > CAP)
    abort();
  wire_decoder_free(&d);
  return r;
}

static uint8_t *encode(int coding, const uint8_t *p, size_t n, size_t *out_n) {
  size_t cap = n + n / 2 + 1024;
  uint8_t *out = malloc(cap);
  if (!out)
    return NULL;
  if (coding == 2) {
    if (!BrotliEncoderCompress(4, 18, BROTLI_MODE_GENERIC, n, p, &cap, out)) {
      free(out);
      return NULL;
    }
    *out_n = cap;
    return out;
  }
  if (coding == 3) {
    size_t r = ZSTD_compress(out, cap, p, n, 1);
    if (ZSTD_isError(r)) {
      free(out);
      return NULL;
    }
    *out_n = r;
    return out;
  }
  z_stream z;
  memset(&z, 0, sizeof z);
  /* deflate alternates between zlib-wrapped and raw with the length */
  int bits = coding == 0 ? 31 : (n % 2 ? 15 : -15);
  if (deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    free(out);
    return NULL;
  }
  z.next_in = (Bytef *)(uintptr_t)p;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int r = deflate(&z, Z_FINISH);
  *out_n = cap - z.avail_out;
  deflateEnd(&z);
  if (r != Z_STREAM_END) {
    free(out);
    return NULL;
  }
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  int codings[2] = {data[0] & 3, (data[0] >> 2) & 3};
  int k = (data[0] & 0x10) ? 2 : 1;
  int roundtrip = (data[0] & 0x20) != 0;
  size_t step = 1 + data[1] % 64;
  const uint8_t *p = data + 2;
  size_t n = size - 2;
  static struct out a, b;
  if (!a.buf) {
    a.buf = malloc(CAP);
    b.buf = malloc(CAP);
    if (!a.buf || !b.buf)
      abort();
  }
  if (roundtrip) {
    size_t zn;
    uint8_t *z = encode(codings[0], p, n, &zn);
    if (!z)
      return 0;
    int r = decode(codings, 1, z, zn, step, &a);
    free(z);
    if (r != 0 || a.n != n || (n && memcmp(a.buf, p, n)))
      abort();
    return 0;
  }
  int ra = decode(codings, k, p, n, n ? n : 1, &a);
  int rb = decode(codings, k, p, n, step, &b);
  if (ra >= 0 && rb >= 0 &&
      (ra != rb || a.n != b.n || memcmp(a.buf, b.buf, a.n)))
    abort();
  return 0;
}
