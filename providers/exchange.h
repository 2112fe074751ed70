/* exchange: one HTTP request/response pair as a capture path saw it.
 *
 * This is the only thing the capture side (hooks/, preload/) hands to the
 * parsers. It holds raw bytes exactly as sent and received (after transfer
 * decoding: the curl path sees decoded bodies), secrets included: it never
 * leaves the process. Parsers build the observation from it and redact as
 * they go (see redact.h). */
#ifndef AT_EXCHANGE_H
#define AT_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

/* Response bytes [0, offset) had arrived by t_ns. Parsers use the marks to
 * time the first output token of a streamed answer. */
struct at_chunk_mark {
  size_t offset;
  int64_t t_ns;
};

#define AT_MAX_CHUNK_MARKS 64

struct at_exchange {
  const char *method; /* "POST"; never NULL */
  const char *url;    /* full URL as requested, query string included */

  /* Header blocks as "Name: value\r\n" lines. resp_headers may hold several
   * blocks (100-continue, redirects): the last block is the final answer. */
  const char *req_headers;
  size_t req_headers_len;
  const char *resp_headers;
  size_t resp_headers_len;

  const char *req_body; /* may be NULL with req_body_len 0 */
  size_t req_body_len;
  int req_body_truncated; /* cut at AUTOTRACE_MAX_BODY */
  int req_body_unknown;   /* body was sent by a way we cannot see */

  const char *resp_body;
  size_t resp_body_len;
  int resp_body_truncated;

  int status; /* final HTTP status; 0 when no response arrived */

  /* Transport outcome: 0 when the transfer completed. Otherwise the capture
   * path's code (a CURLcode for the curl path) and its message, e.g. 28 /
   * "Operation timed out". An exchange that was abandoned (handle removed
   * or cleaned up mid-transfer) has transport_error -1. */
  int transport_error;
  const char *transport_error_msg;

  int64_t t_start_ns;      /* request issued (wall clock) */
  int64_t t_first_byte_ns; /* first response byte; 0 when none */
  int64_t t_end_ns;        /* transfer finished */

  struct at_chunk_mark marks[AT_MAX_CHUNK_MARKS];
  size_t nmarks;

  const char *capture_path; /* "curl", "openssl", ... */
};

#endif
