/* url: split a URL into its parts without copying or allocating.
 *
 * Implemented in registry.c because the shim needs it on the application's
 * thread (libc only, no allocation); redact.c and parse.c reuse it. */
#ifndef AT_URL_H
#define AT_URL_H

#include <stddef.h>

struct at_url {
  const char *scheme; /* "https"; length 0 when the URL has none */
  size_t scheme_len;
  const char *userinfo; /* "user:pw" before '@'; NULL when absent */
  size_t userinfo_len;
  const char *host; /* without IPv6 brackets, case as given */
  size_t host_len;
  int ipv6;          /* host was written in brackets */
  int port;          /* explicit port, else the scheme's default */
  int port_explicit; /* 1 when the URL named a port */
  const char *path;  /* from the first '/' up to '?' or '#'; "" if none */
  size_t path_len;
  const char *query; /* after '?' up to '#'; NULL when absent */
  size_t query_len;
  const char *authority; /* everything between "//" and the path */
  size_t authority_len;
};

/* Split url. A URL without "scheme://" is read as http, the way libcurl
 * guesses. Returns 0, or -1 for something that is not an http(s) URL with a
 * host (other schemes, empty host, bad port, unterminated '['). */
int at_url_split(const char *url, struct at_url *u);

#endif
