/* decode: incremental content decoding (RFC 9110 §8.4: gzip, deflate;
 * RFC 7932: br; RFC 8878/9659: zstd), stacked codings included.
 *
 * A decoder is built from the codings in the order the sender applied them
 * (the order of the Content-Encoding header, then any transfer codings
 * other than chunked) and undoes them in reverse. Bytes are pushed through
 * the chain as they arrive and every stage hands its output on at once, so
 * a streamed answer comes out event by event and its arrival times stay
 * right. Decoded output goes to a sink; when the sink says "stop" (its cap
 * is reached: a decompression bomb ends there) the decoder stops.
 *
 * Memory: each stage owns a WIRE_DEC_OUT-byte output buffer plus its
 * library's state: zlib about 44 KiB (32 KiB window), brotli up to the
 * stream's window (at most 16 MiB, usually far less: the ring buffer is
 * sized to the stream), zstd at most 8 MiB of window (windowLogMax 23, the
 * RFC 9659 limit for HTTP) plus about 100 KiB of context. A frame that asks
 * for a larger zstd window is a decoding error. */
#ifndef WIRE_DECODE_H
#define WIRE_DECODE_H

#include <stddef.h>

#define WIRE_DEC_MAX_STAGES 4
#define WIRE_DEC_OUT 16384

enum wire_coding {
  WIRE_CODING_GZIP = 1, /* also "x-gzip" */
  WIRE_CODING_DEFLATE,  /* zlib-wrapped, or raw deflate (detected) */
  WIRE_CODING_BR,
  WIRE_CODING_ZSTD
};

/* Receives decoded bytes. Return 0 to go on, non-zero to stop decoding. */
typedef int (*wire_sink_fn)(void *arg, const char *p, size_t n);

struct wire_dec_stage {
  int coding;
  int started; /* library state initialised */
  int ended;   /* the compressed stream reached its end marker */
  int zlib;    /* deflate: 1 zlib-wrapped, 0 raw (decided on 2 bytes) */
  unsigned char hdr[2];
  size_t nhdr;      /* deflate: bytes held while deciding the wrapping */
  size_t total_out; /* bytes this stage produced (bounds intermediates) */
  size_t hint;      /* zstd: input size the decoder asked for next */
  void *state;      /* z_stream*, BrotliDecoderState*, ZSTD_DCtx* */
  char *out;        /* WIRE_DEC_OUT bytes */
};

struct wire_decoder {
  int nstages;
  struct wire_dec_stage st[WIRE_DEC_MAX_STAGES]; /* st[0] is undone first */
  wire_sink_fn sink;
  void *arg;
  size_t max_out; /* bound on any stage's total output (0: none) */
  int failed;     /* a decoding error happened: see error */
  int stopped;    /* the sink, or the output bound, stopped decoding */
  char names[48]; /* codings in the sender's order, e.g. "gzip, br" */
  char error[112];
};

/* Name a coding: returns the WIRE_CODING_* value, 0 for identity (nothing
 * to undo), -1 for a coding we cannot decode. Case-insensitive. */
int wire_coding_lookup(const char *name, size_t len);

/* Start an empty decoder (no stages: bytes go straight to the sink).
 * max_out bounds each stage's total output, so that a chain cannot spin on
 * output that never reaches the sink; pass the sink's own cap. */
void wire_decoder_init(struct wire_decoder *d, wire_sink_fn sink, void *arg,
                       size_t max_out);

/* Add one coding, in the order the sender applied it. Returns 0, or -1
 * (error set) for an unknown coding or more than WIRE_DEC_MAX_STAGES. */
int wire_decoder_add(struct wire_decoder *d, const char *name, size_t len);

/* Push n compressed bytes through. Returns 0 (all consumed), 1 (stopped:
 * the sink or the output bound; later feeds do nothing), or -1 (decoding
 * error: message in d->error; the output produced before it was kept). */
int wire_decoder_feed(struct wire_decoder *d, const char *p, size_t n);

/* The body ended: 0 when every stage saw the end of its stream (or got no
 * input at all), -1 when a stream was cut short (d->error says which). */
int wire_decoder_finish(struct wire_decoder *d);

void wire_decoder_free(struct wire_decoder *d);

#endif
