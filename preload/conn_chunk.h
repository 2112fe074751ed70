/* conn_chunk: bytes of one watched connection, in order, as the app thread
 * hands them to the worker (docs/capture-tls.md).
 *
 * The TLS and socket hooks copy what the application actually wrote and
 * read on a connection they track, each piece with its arrival time, into
 * a per-connection chunk. A chunk travels to the worker inside an
 * at_capture of kind AT_CAPTURE_CONN_BYTES, and the core feeds its records
 * to that connection's wire_conn (wire/conn.h) or wire_h2 (wire/h2.h) in
 * order. Chunks of one connection are numbered: a gap (a chunk dropped
 * because the queue was full) tells the core that it can no longer follow
 * the connection. */
#ifndef AT_CONN_CHUNK_H
#define AT_CONN_CHUNK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Where the bytes were seen (the record's metadata.capture). */
enum at_conn_path {
  AT_CONN_OPENSSL = 1, /* SSL_write / SSL_read */
  AT_CONN_GNUTLS = 2,  /* gnutls_record_send / _recv */
  AT_CONN_SOCKET = 3   /* send/recv/write/read on a TCP socket */
};

/* Record types inside a chunk. */
enum at_conn_rec {
  AT_REC_OUT = 0,  /* bytes the application wrote (requests) */
  AT_REC_IN = 1,   /* bytes it read (responses) */
  AT_REC_CLOSE = 2 /* the connection ended; the bytes are the reason ("" for
                      an orderly end) */
};

/* Chunk flags */
/* The connection speaks HTTP/2 (ALPN "h2" or the preface): the core
 * decodes it with wire_h2 instead of wire_conn. */
#define AT_CHUNK_H2 0x1

/* One record: this header, then len bytes, padded to 8. */
struct at_conn_rec_hdr {
  uint32_t type; /* enum at_conn_rec */
  uint32_t len;
  int64_t t_ns; /* wall clock when the call returned */
};

#define AT_CONN_HOST_MAX 256

struct at_conn_chunk {
  uint64_t conn_id; /* process-unique, never reused */
  uint32_t seq;     /* 0, 1, 2, ... per connection */
  uint16_t path;    /* enum at_conn_path */
  uint16_t flags;   /* AT_CHUNK_* */
  /* "https" or "http", and the host for a request without a Host field:
   * the TLS server name, else the peer address ("127.0.0.1:11434"). */
  char scheme[8];
  char host[AT_CONN_HOST_MAX];
  size_t len, cap; /* bytes of records used / allocated in data */
  unsigned char data[];
};

static inline size_t at_conn_rec_size(size_t n) {
  return sizeof(struct at_conn_rec_hdr) + ((n + 7) & ~(size_t)7);
}

/* Walk the records: *off starts at 0. Returns 0 and fills h/p, or -1 at
 * the end (or on a record that does not fit: a bug, never data). */
static inline int at_conn_chunk_next(const struct at_conn_chunk *c, size_t *off,
                                     struct at_conn_rec_hdr *h,
                                     const unsigned char **p) {
  if (*off + sizeof *h > c->len)
    return -1;
  memcpy(h, c->data + *off, sizeof *h);
  if (at_conn_rec_size(h->len) > c->len - *off)
    return -1;
  *p = c->data + *off + sizeof *h;
  *off += at_conn_rec_size(h->len);
  return 0;
}

#endif
