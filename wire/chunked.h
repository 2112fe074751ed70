/* chunked: the HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), decoded
 * incrementally.
 *
 * Feed the bytes that follow a message's header block in pieces of any
 * size. Chunk data is handed to a callback as spans of the input (never
 * copied, never one byte at a time); sizes, extensions and trailers are
 * parsed in place. The decoder stops right after the last chunk's trailer
 * section, so the bytes after it (the next message on a keep-alive
 * connection) are left to the caller. Memory: this struct, nothing else;
 * extensions and trailer fields are skipped, not stored, within bounds. */
#ifndef WIRE_CHUNKED_H
#define WIRE_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* A chunk-size line (size plus extensions) longer than this is an error. */
#define WIRE_CHUNK_LINE_MAX 4096

typedef void (*wire_data_fn)(void *arg, const char *p, size_t n);

struct wire_chunked {
  int state;
  uint64_t size;       /* size being read, then data left in the chunk */
  unsigned digits;     /* hex digits read of the size */
  size_t line;         /* bytes of the current size line */
  int semi;            /* a ';' started the extensions of the line */
  size_t trailer;      /* bytes of trailer section so far */
  size_t max_trailer;  /* bound on the trailer section */
  uint64_t data_total; /* chunk data bytes delivered */
  const char *error;   /* static message once the framing is broken */
};

void wire_chunked_init(struct wire_chunked *c, size_t max_trailer);

/* Consume up to n bytes; chunk data goes to cb(arg, ...). Returns the bytes
 * consumed: all n, unless the message ended (wire_chunked_done) or the
 * framing broke (c->error) within them. */
size_t wire_chunked_feed(struct wire_chunked *c, const char *p, size_t n,
                         wire_data_fn cb, void *arg);

int wire_chunked_done(const struct wire_chunked *c);

/* 1 while the decoder is inside a chunk's data (for "cut mid-chunk"). */
int wire_chunked_in_data(const struct wire_chunked *c);

#endif
