/* http1: parse one HTTP/1.x header block (RFC 9112 §3, §4, §5, §6) into
 * what framing and capture need. No allocation: results are spans of the
 * caller's buffer.
 *
 * The block is the start line, the field lines and the empty line, as
 * received; CRLF or bare LF line ends. Parsing stops at the empty line or at
 * the end of the buffer (a last line with no LF is ignored), so a block cut
 * short can still be read for what it holds. Obsolete line folding is
 * joined to the field it continues. */
#ifndef WIRE_HTTP1_H
#define WIRE_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX_CODINGS 4

struct wire_span {
  const char *p;
  size_t n;
};

enum wire_head_result {
  WIRE_HEAD_OK = 0,
  WIRE_HEAD_BAD = -1, /* not an HTTP/1.x start line: see error */
  WIRE_HEAD_H2 = -2,  /* "PRI * HTTP/2.0": the HTTP/2 connection preface */
};

struct wire_head {
  /* start line */
  struct wire_span method, target; /* requests */
  int status;                      /* responses */
  int minor;                       /* HTTP/1.<minor> */
  /* the field lines after the start line, up to and without the empty
   * line */
  struct wire_span fields;
  int complete; /* the empty line was seen */

  struct wire_span host; /* first Host field, trimmed; n = 0 if none */
  struct wire_span upgrade;

  /* Content-Length: has_cl when present and valid; cl_error when present
   * and invalid or conflicting (RFC 9112 §6.3 item 5). */
  int has_cl;
  uint64_t content_length;
  const char *cl_error;

  /* Transfer-Encoding: te_present when the field is there; te_chunked
   * when its last coding is chunked; te_error for a chunked that is not
   * last in a request, or chunked applied twice. */
  int te_present;
  int te_chunked;
  const char *te_error;

  /* Codings to undo, in the order the sender applied them: the
   * Content-Encoding list, then the transfer codings before chunked.
   * codings_over: more than WIRE_MAX_CODINGS * 2 of them. */
  struct wire_span codings[WIRE_MAX_CODINGS * 2];
  int ncodings;
  int codings_over;

  int conn_close, conn_keep_alive, conn_upgrade; /* Connection tokens */
  int expect_continue;                           /* Expect: 100-continue */

  const char *error; /* static, with WIRE_HEAD_BAD */
};

/* Parse `len` bytes of a header block. is_request selects the start line
 * form. Returns a wire_head_result. */
int wire_http1_parse_head(const char *buf, size_t len, int is_request,
                          struct wire_head *h);

/* Quick sanity check on the first bytes of a message, before its first
 * line is complete: 0 when they can still start a request line (a method
 * token then SP) or a status line ("HTTP/"), -1 when they cannot. Looks at
 * no more than the first 24 bytes. */
int wire_http1_prefix_ok(const char *buf, size_t len, int is_request);

#endif
