/* conn_sniff: is the start of what an application writes on a connection
 * an LLM request? Pure functions, no state: the connection hooks
 * (hooks/conn.c) call them on the app's thread, so they only look at the
 * request line and, when that is not enough, the Host field — never at a
 * body. */
#ifndef AT_CONN_SNIFF_H
#define AT_CONN_SNIFF_H

#include <stddef.h>

#include "providers/providers.h"

enum at_sniff_result {
  AT_SNIFF_MORE = 0, /* a request line so far: more bytes needed */
  AT_SNIFF_REQUEST,  /* a request line (method and target filled) */
  AT_SNIFF_H2,       /* the HTTP/2 connection preface */
  AT_SNIFF_TLS,      /* a TLS handshake record */
  AT_SNIFF_OTHER     /* not the start of an HTTP/1.x request */
};

struct at_sniff_line {
  const char *method;
  size_t method_len;
  const char *target;
  size_t target_len;
  size_t line_len; /* bytes up to and including the LF; 0 when cut */
};

/* Look at the first n bytes written. With `final`, no more bytes will be
 * looked at (the sniff buffer is full): a line cut after its path (a '?'
 * has been seen) still counts as a request. */
enum at_sniff_result at_sniff_request_line(const char *p, size_t n, int final,
                                           struct at_sniff_line *l);

/* Find the Host field in p[0..n) (a header block, possibly cut). Returns
 * 1 and its value (trimmed) or 0. */
int at_sniff_find_host(const char *p, size_t n, const char **host,
                       size_t *hlen);

/* Is this request an LLM endpoint? The URL is scheme://host + target, host
 * being the Host field when given, else fallback (the TLS server name or
 * the peer address). Fills *m. */
int at_sniff_match(const struct at_sniff_line *l, const char *host, size_t hlen,
                   const char *scheme, const char *fallback,
                   struct at_match *m);

#endif
