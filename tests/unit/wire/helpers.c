#include "helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

static void take_all(struct wire_conn *c, struct run *r) {
  struct wire_exchange *x;
  while ((x = wire_conn_next(c))) {
    cr_assert_lt(r->n, RUN_MAX);
    r->x[r->n] = x;
    r->desc[r->n] = describe(x);
    r->n++;
  }
}

void run_script(const struct step *s, size_t n, size_t split,
                const struct wire_limits *lim, wire_interest_fn f, void *arg,
                struct run *r) {
  memset(r, 0, sizeof *r);
  struct wire_conn *c = wire_conn_new(lim, f, arg);
  cr_assert(c);
  int64_t t = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i].dir == W_CLOSE) {
      wire_conn_close(c, ++t, s[i].p);
      take_all(c, r);
      continue;
    }
    size_t len = s[i].n ? s[i].n : strlen(s[i].p);
    size_t step = split ? split : (len ? len : 1);
    for (size_t off = 0; off < len; off += step) {
      size_t k = len - off < step ? len - off : step;
      r->taken_end =
          wire_conn_feed(c, (enum wire_dir)s[i].dir, s[i].p + off, k, ++t);
      r->feeds++;
      take_all(c, r);
    }
  }
  const char *why;
  r->state = wire_conn_state(c, &why);
  snprintf(r->reason, sizeof r->reason, "%s", why);
  r->stats = *wire_conn_stats(c);
  wire_conn_free(c);
}

void run_free(struct run *r) {
  for (int i = 0; i < r->n; i++) {
    wire_exchange_free(r->x[i]);
    free(r->desc[i]);
  }
  r->n = 0;
}

void check_splits(const struct step *s, size_t n, const struct wire_limits *lim,
                  wire_interest_fn f, void *arg, struct run *r) {
  static const size_t splits[] = {1, 2, 7};
  run_script(s, n, 0, lim, f, arg, r);
  for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
    struct run o;
    run_script(s, n, splits[k], lim, f, arg, &o);
    cr_assert_eq(o.n, r->n, "split %zu: %d exchanges, whole: %d", splits[k],
                 o.n, r->n);
    for (int i = 0; i < r->n; i++)
      cr_assert_str_eq(o.desc[i], r->desc[i],
                       "split %zu, exchange %d:\n%s\n---- whole:\n%s",
                       splits[k], i, o.desc[i], r->desc[i]);
    cr_assert_eq(o.state, r->state, "split %zu", splits[k]);
    cr_assert_str_eq(o.reason, r->reason, "split %zu", splits[k]);
    cr_assert_eq(o.stats.skipped, r->stats.skipped);
    cr_assert_eq(o.stats.unmatched, r->stats.unmatched);
    run_free(&o);
  }
}

char *describe(const struct wire_exchange *x) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  cr_assert(f);
  fprintf(f, "%s %s host=%s status=%d interest=%d flags=%#x\n", x->method,
          x->target, x->host, x->status, x->interest, x->flags);
  fprintf(f, "partial=%d reason=%s\n", x->partial, x->reason);
  fprintf(f, "req_head=[%.*s]\nreq_fields=[%.*s]\n", (int)x->req_head_len,
          x->req_head, (int)x->req_fields_len, x->req_fields);
  fprintf(f, "req_body=%zu:[%.*s] trunc=%d coding=%s\n", x->req_body_len,
          (int)x->req_body_len, x->req_body, x->req_body_truncated,
          x->req_coding);
  fprintf(f, "resp_headers=[%.*s]\n", (int)x->resp_headers_len,
          x->resp_headers);
  fprintf(f, "resp_body=%zu:[%.*s] trunc=%d coding=%s\n", x->resp_body_len,
          (int)(x->resp_body_len > 4096 ? 4096 : x->resp_body_len),
          x->resp_body, x->resp_body_truncated, x->resp_coding);
  fclose(f);
  return out;
}

char *concat(const char *a, size_t an, const char *b, size_t bn, size_t *n) {
  char *p = malloc(an + bn + 1);
  cr_assert(p);
  memcpy(p, a, an);
  memcpy(p + an, b, bn);
  p[an + bn] = '\0';
  *n = an + bn;
  return p;
}

static int zlib_bits(const char *kind) {
  if (!strcmp(kind, "gzip"))
    return 15 + 16;
  if (!strcmp(kind, "zlib"))
    return 15;
  return -15; /* raw */
}

char *compress_with(const char *kind, const char *in, size_t n, size_t *out_n) {
  if (!strcmp(kind, "br")) {
    size_t cap = BrotliEncoderMaxCompressedSize(n) + 16;
    uint8_t *out = malloc(cap);
    cr_assert(out);
    cr_assert(BrotliEncoderCompress(n > 65536 ? 5 : BROTLI_DEFAULT_QUALITY,
                                    BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC,
                                    n, (const uint8_t *)in, &cap, out));
    *out_n = cap;
    return (char *)out;
  }
  if (!strcmp(kind, "zstd")) {
    size_t cap = ZSTD_compressBound(n);
    char *out = malloc(cap);
    cr_assert(out);
    size_t r = ZSTD_compress(out, cap, in, n, 3);
    cr_assert(!ZSTD_isError(r));
    *out_n = r;
    return out;
  }
  /* the zlib family */
  z_stream z;
  memset(&z, 0, sizeof z);
  cr_assert_eq(
      deflateInit2(&z, 9, Z_DEFLATED, zlib_bits(kind), 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  size_t cap = deflateBound(&z, (uLong)n) + 16;
  char *out = malloc(cap);
  cr_assert(out);
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)n;
  z.next_out = (Bytef *)out;
  z.avail_out = (uInt)cap;
  cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
  *out_n = cap - z.avail_out;
  deflateEnd(&z);
  return out;
}

void compress_pieces(const char *kind, const char *const *pieces, size_t k,
                     char **parts, size_t *part_n) {
  size_t cap = 1 << 16;
  if (!strcmp(kind, "br")) {
    BrotliEncoderState *e = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    cr_assert(e);
    for (size_t i = 0; i < k; i++) {
      parts[i] = malloc(cap);
      size_t avail_in = strlen(pieces[i]), avail_out = cap;
      const uint8_t *next_in = (const uint8_t *)pieces[i];
      uint8_t *next_out = (uint8_t *)parts[i];
      BrotliEncoderOperation op =
          i + 1 == k ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH;
      for (int turns = 0; turns < 100; turns++) {
        cr_assert(BrotliEncoderCompressStream(e, op, &avail_in, &next_in,
                                              &avail_out, &next_out, NULL));
        if (avail_in == 0 && !BrotliEncoderHasMoreOutput(e) &&
            (op == BROTLI_OPERATION_FLUSH || BrotliEncoderIsFinished(e)))
          break;
      }
      part_n[i] = cap - avail_out;
    }
    BrotliEncoderDestroyInstance(e);
    return;
  }
  if (!strcmp(kind, "zstd")) {
    ZSTD_CCtx *z = ZSTD_createCCtx();
    cr_assert(z);
    ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
    for (size_t i = 0; i < k; i++) {
      parts[i] = malloc(cap);
      ZSTD_inBuffer ib = {pieces[i], strlen(pieces[i]), 0};
      ZSTD_outBuffer ob = {parts[i], cap, 0};
      ZSTD_EndDirective op = i + 1 == k ? ZSTD_e_end : ZSTD_e_flush;
      size_t left;
      int turns = 0;
      do {
        left = ZSTD_compressStream2(z, &ob, &ib, op);
        cr_assert(!ZSTD_isError(left));
      } while (left && ++turns < 100);
      part_n[i] = ob.pos;
    }
    ZSTD_freeCCtx(z);
    return;
  }
  z_stream z;
  memset(&z, 0, sizeof z);
  cr_assert_eq(
      deflateInit2(&z, 6, Z_DEFLATED, zlib_bits(kind), 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  for (size_t i = 0; i < k; i++) {
    parts[i] = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)pieces[i];
    z.avail_in = (uInt)strlen(pieces[i]);
    z.next_out = (Bytef *)parts[i];
    z.avail_out = (uInt)cap;
    int r = deflate(&z, i + 1 == k ? Z_FINISH : Z_SYNC_FLUSH);
    cr_assert(r == Z_OK || r == Z_STREAM_END);
    part_n[i] = cap - z.avail_out;
  }
  deflateEnd(&z);
}
