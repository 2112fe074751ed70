/* decode: the content-coding chain (see decode.h). One function per
 * library; every loop ends because each turn either consumes input or
 * produces output, and output is bounded by the sink or by max_out. */
#include "decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

/* How far an intermediate stage may run past max_out before it is stopped:
 * a later stage's output is rarely smaller than its input. */
#define WIRE_DEC_SLACK ((size_t)1 << 20)

/* RFC 9659 §3: HTTP zstd decoders need not accept windows over 8 MiB. */
#define WIRE_ZSTD_WINDOW_LOG_MAX 23

static const char *coding_name(int coding) {
  switch (coding) {
  case WIRE_CODING_GZIP:
    return "gzip";
  case WIRE_CODING_DEFLATE:
    return "deflate";
  case WIRE_CODING_BR:
    return "br";
  case WIRE_CODING_ZSTD:
    return "zstd";
  }
  return "?";
}

int wire_coding_lookup(const char *name, size_t len) {
  static const struct {
    const char *name;
    int coding;
  } table[] = {{"gzip", WIRE_CODING_GZIP},       {"x-gzip", WIRE_CODING_GZIP},
               {"deflate", WIRE_CODING_DEFLATE}, {"br", WIRE_CODING_BR},
               {"zstd", WIRE_CODING_ZSTD},       {"identity", 0}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strlen(table[i].name) == len && !strncasecmp(name, table[i].name, len))
      return table[i].coding;
  return -1;
}

void wire_decoder_init(struct wire_decoder *d, wire_sink_fn sink, void *arg,
                       size_t max_out) {
  memset(d, 0, sizeof *d);
  d->sink = sink;
  d->arg = arg;
  d->max_out = max_out;
}

static int fail(struct wire_decoder *d, const char *what, const char *msg) {
  if (!d->failed)
    snprintf(d->error, sizeof d->error, "%s: %s", what,
             msg ? msg : "invalid data");
  d->failed = 1;
  return -1;
}

int wire_decoder_add(struct wire_decoder *d, const char *name, size_t len) {
  int c = wire_coding_lookup(name, len);
  if (c == 0)
    return 0;
  if (c < 0) {
    char shown[40];
    snprintf(shown, sizeof shown, "%.*s", len > 32 ? 32 : (int)len, name);
    return fail(d, "unknown content coding", shown);
  }
  if (d->nstages == WIRE_DEC_MAX_STAGES)
    return fail(d, "content codings", "more than 4 stacked");
  /* The last coding applied is the first undone. */
  memmove(&d->st[1], &d->st[0], (size_t)d->nstages * sizeof d->st[0]);
  memset(&d->st[0], 0, sizeof d->st[0]);
  d->st[0].coding = c;
  d->nstages++;
  size_t used = strlen(d->names);
  snprintf(d->names + used, sizeof d->names - used, "%s%s", used ? ", " : "",
           coding_name(c));
  return 0;
}

static int stage_feed(struct wire_decoder *d, int i, const char *in, size_t n);

/* Hand n bytes produced by stage i to the next stage or to the sink. */
static int emit(struct wire_decoder *d, int i, const char *p, size_t n) {
  if (n == 0)
    return 0;
  struct wire_dec_stage *s = &d->st[i];
  s->total_out += n;
  if (i + 1 < d->nstages) {
    if (d->max_out && s->total_out > d->max_out + WIRE_DEC_SLACK) {
      d->stopped = 1;
      return 1;
    }
    return stage_feed(d, i + 1, p, n);
  }
  if (d->sink(d->arg, p, n)) {
    d->stopped = 1;
    return 1;
  }
  return 0;
}

/* ---- zlib: gzip, deflate ---------------------------------------------- */

static int zlib_start(struct wire_decoder *d, struct wire_dec_stage *s) {
  z_stream *z = calloc(1, sizeof *z);
  if (!z)
    return fail(d, coding_name(s->coding), "out of memory");
  int bits = s->coding == WIRE_CODING_GZIP ? 15 + 16 : (s->zlib ? 15 : -15);
  if (inflateInit2(z, bits) != Z_OK) {
    free(z);
    return fail(d, coding_name(s->coding), "out of memory");
  }
  s->state = z;
  s->started = 1;
  return 0;
}

static int zlib_run(struct wire_decoder *d, int i, const char *in, size_t n) {
  struct wire_dec_stage *s = &d->st[i];
  z_stream *z = s->state;
  if (s->ended) {
    if (s->coding != WIRE_CODING_GZIP)
      return 0;      /* bytes after the end of a deflate stream are ignored */
    inflateReset(z); /* another gzip member follows (RFC 1952 §2.2) */
    s->ended = 0;
  }
  z->next_in = (Bytef *)(uintptr_t)in;
  z->avail_in = (uInt)n;
  for (;;) {
    z->next_out = (Bytef *)s->out;
    z->avail_out = WIRE_DEC_OUT;
    int r = inflate(z, Z_NO_FLUSH);
    size_t got = WIRE_DEC_OUT - z->avail_out;
    int rc = emit(d, i, s->out, got);
    if (rc)
      return rc;
    if (r == Z_STREAM_END) {
      s->ended = 1;
      if (z->avail_in == 0 || s->coding != WIRE_CODING_GZIP)
        return 0;
      inflateReset(z);
      s->ended = 0;
      continue;
    }
    if (r == Z_NEED_DICT)
      return fail(d, coding_name(s->coding), "needs a preset dictionary");
    if (r != Z_OK && r != Z_BUF_ERROR)
      return fail(d, coding_name(s->coding), z->msg);
    if (z->avail_out != 0 || (r == Z_BUF_ERROR && got == 0))
      return 0; /* all input taken and all output out, or no progress */
  }
}

static int zlib_feed(struct wire_decoder *d, int i, const char *in, size_t n) {
  struct wire_dec_stage *s = &d->st[i];
  if (!s->started && s->coding == WIRE_CODING_DEFLATE) {
    /* "deflate" is zlib-wrapped by the RFC, raw by many servers: a zlib
     * header is CM=8, CINFO <= 7 and a multiple of 31 (RFC 1950 §2.2). */
    while (s->nhdr < 2 && n > 0) {
      s->hdr[s->nhdr++] = (unsigned char)*in++;
      n--;
    }
    if (s->nhdr < 2)
      return 0;
    unsigned h = (unsigned)s->hdr[0] << 8 | s->hdr[1];
    s->zlib = (s->hdr[0] & 0x0f) == 8 && (s->hdr[0] >> 4) <= 7 && h % 31 == 0;
    if (zlib_start(d, s))
      return -1;
    int rc = zlib_run(d, i, (const char *)s->hdr, 2);
    if (rc || n == 0)
      return rc;
  } else if (!s->started && zlib_start(d, s)) {
    return -1;
  }
  return zlib_run(d, i, in, n);
}

/* ---- brotli --------------------------------------------------------- */

static int br_feed(struct wire_decoder *d, int i, const char *in, size_t n) {
  struct wire_dec_stage *s = &d->st[i];
  if (!s->started) {
    s->state = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (!s->state)
      return fail(d, "br", "out of memory");
    s->started = 1;
  }
  if (s->ended)
    return 0; /* bytes after the end of the stream are ignored */
  size_t avail_in = n;
  const uint8_t *next_in = (const uint8_t *)in;
  for (;;) {
    size_t avail_out = WIRE_DEC_OUT;
    uint8_t *next_out = (uint8_t *)s->out;
    BrotliDecoderResult r = BrotliDecoderDecompressStream(
        s->state, &avail_in, &next_in, &avail_out, &next_out, NULL);
    int rc = emit(d, i, s->out, WIRE_DEC_OUT - avail_out);
    if (rc)
      return rc;
    if (r == BROTLI_DECODER_RESULT_SUCCESS) {
      s->ended = 1;
      return 0;
    }
    if (r == BROTLI_DECODER_RESULT_ERROR)
      return fail(
          d, "br",
          BrotliDecoderErrorString(BrotliDecoderGetErrorCode(s->state)));
    if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
      return 0;
    /* NEEDS_MORE_OUTPUT: the buffer was filled and handed on; go again. */
  }
}

/* ---- zstd ----------------------------------------------------------- */

/* libzstd does not report the output of a call that ends in an error, so
 * the input is handed over in the sizes the decoder asks for (its return
 * value: about one block at a time). Then a damaged block loses only its
 * own output, never the blocks before it that came in the same read. */
#define ZSTD_FIRST_HINT 5 /* magic number + frame header descriptor */
#define ZSTD_BLOCK_HEADER 3

static int zstd_feed(struct wire_decoder *d, int i, const char *in, size_t n) {
  struct wire_dec_stage *s = &d->st[i];
  if (!s->started) {
    ZSTD_DCtx *z = ZSTD_createDCtx();
    if (!z)
      return fail(d, "zstd", "out of memory");
    ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, WIRE_ZSTD_WINDOW_LOG_MAX);
    s->state = z;
    s->started = 1;
  }
  ZSTD_inBuffer ib = {in, 0, 0};
  for (;;) {
    /* The hint covers the next block and the header of the one after:
     * leave that header to the next call. */
    size_t hint = s->hint > ZSTD_BLOCK_HEADER ? s->hint - ZSTD_BLOCK_HEADER
                  : s->hint                   ? s->hint
                                              : ZSTD_FIRST_HINT;
    ib.size = n - ib.pos > hint ? ib.pos + hint : n;
    ZSTD_outBuffer ob = {s->out, WIRE_DEC_OUT, 0};
    size_t before = ib.pos;
    size_t r = ZSTD_decompressStream(s->state, &ob, &ib);
    if (ZSTD_isError(r))
      return fail(d, "zstd", ZSTD_getErrorName(r));
    int rc = emit(d, i, s->out, ob.pos);
    if (rc)
      return rc;
    if (ib.pos != before || ob.pos) {
      s->ended = r == 0; /* 0: a frame was completely decoded and flushed */
      s->hint = r;
    } else if (ib.pos < n) {
      return fail(d, "zstd", "decoder made no progress");
    }
    if (ob.pos < ob.size && ib.pos == n)
      return 0;
    if (ob.pos == 0 && ib.pos == before)
      return 0;
  }
}

/* ---- the chain ------------------------------------------------------ */

static int stage_feed(struct wire_decoder *d, int i, const char *in, size_t n) {
  struct wire_dec_stage *s = &d->st[i];
  if (n == 0)
    return 0;
  if (!s->out) {
    s->out = malloc(WIRE_DEC_OUT);
    if (!s->out)
      return fail(d, coding_name(s->coding), "out of memory");
  }
  switch (s->coding) {
  case WIRE_CODING_GZIP:
  case WIRE_CODING_DEFLATE:
    return zlib_feed(d, i, in, n);
  case WIRE_CODING_BR:
    return br_feed(d, i, in, n);
  default:
    return zstd_feed(d, i, in, n);
  }
}

int wire_decoder_feed(struct wire_decoder *d, const char *p, size_t n) {
  if (d->failed)
    return -1;
  if (d->stopped)
    return 1;
  if (d->nstages == 0) {
    if (n && d->sink(d->arg, p, n)) {
      d->stopped = 1;
      return 1;
    }
    return 0;
  }
  /* zlib counts input in uInt: hand it over in slices it can hold. */
  const size_t slice = (size_t)1 << 30;
  for (size_t off = 0; off < n; off += slice) {
    int rc = stage_feed(d, 0, p + off, n - off < slice ? n - off : slice);
    if (rc)
      return rc;
  }
  return 0;
}

int wire_decoder_finish(struct wire_decoder *d) {
  if (d->failed)
    return -1;
  if (d->stopped)
    return 0; /* cut on purpose: the caller knows it is truncated */
  for (int i = 0; i < d->nstages; i++) {
    const struct wire_dec_stage *s = &d->st[i];
    if ((s->started && !s->ended) || (!s->started && s->nhdr))
      return fail(d, coding_name(s->coding), "stream ends early");
  }
  return 0;
}

void wire_decoder_free(struct wire_decoder *d) {
  for (int i = 0; i < d->nstages; i++) {
    struct wire_dec_stage *s = &d->st[i];
    if (s->state) {
      switch (s->coding) {
      case WIRE_CODING_GZIP:
      case WIRE_CODING_DEFLATE:
        inflateEnd(s->state);
        free(s->state);
        break;
      case WIRE_CODING_BR:
        BrotliDecoderDestroyInstance(s->state);
        break;
      default:
        ZSTD_freeDCtx(s->state);
      }
    }
    free(s->out);
    s->state = NULL;
    s->out = NULL;
  }
  d->nstages = 0;
}
