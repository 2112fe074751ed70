/* conn_sniff: request-line sniffing (conn_sniff.h). */
#include "conn_sniff.h"

#include <string.h>

#define METHOD_MAX 20
#define URL_MAX 2048

static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n";

enum at_sniff_result at_sniff_request_line(const char *p, size_t n, int final,
                                           struct at_sniff_line *l) {
  memset(l, 0, sizeof *l);
  if (n == 0)
    return AT_SNIFF_MORE;
  if ((unsigned char)p[0] == 0x16)
    return AT_SNIFF_TLS; /* a ClientHello: TLS over this socket */
  size_t k = n < sizeof H2_PREFACE - 1 ? n : sizeof H2_PREFACE - 1;
  if (memcmp(p, H2_PREFACE, k) == 0)
    return k == sizeof H2_PREFACE - 1 ? AT_SNIFF_H2 : AT_SNIFF_MORE;
  size_t i = 0;
  while (i < n && p[i] >= 'A' && p[i] <= 'Z')
    i++;
  if (i == n)
    return i <= METHOD_MAX && !final ? AT_SNIFF_MORE : AT_SNIFF_OTHER;
  if (i == 0 || i > METHOD_MAX || p[i] != ' ')
    return AT_SNIFF_OTHER;
  l->method = p;
  l->method_len = i;
  size_t t0 = ++i;
  while (i < n && p[i] > ' ' && p[i] < 0x7f)
    i++;
  l->target = p + t0;
  l->target_len = i - t0;
  if (i == n) {
    if (final && l->target_len && memchr(l->target, '?', l->target_len))
      return AT_SNIFF_REQUEST; /* cut in its query: the path is whole */
    return final ? AT_SNIFF_OTHER : AT_SNIFF_MORE;
  }
  if (l->target_len == 0 || p[i] != ' ')
    return AT_SNIFF_OTHER;
  /* " HTTP/1.x" then CRLF or LF */
  static const char ver[] = " HTTP/1.";
  size_t j = 0;
  for (; j < sizeof ver - 1 && i + j < n; j++)
    if (p[i + j] != ver[j])
      return AT_SNIFF_OTHER;
  if (i + j == n)
    return final ? AT_SNIFF_OTHER : AT_SNIFF_MORE;
  i += j;
  if (p[i] < '0' || p[i] > '9')
    return AT_SNIFF_OTHER;
  i++;
  if (i < n && p[i] == '\r')
    i++;
  if (i == n)
    return final ? AT_SNIFF_OTHER : AT_SNIFF_MORE;
  if (p[i] != '\n')
    return AT_SNIFF_OTHER;
  l->line_len = i + 1;
  return AT_SNIFF_REQUEST;
}

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int at_sniff_find_host(const char *p, size_t n, const char **host,
                       size_t *hlen) {
  /* Field lines start after a LF; the first line is the request line. */
  for (size_t i = 0; i + 6 <= n; i++) {
    if (p[i] != '\n')
      continue;
    if (i + 1 < n && (p[i + 1] == '\n' || p[i + 1] == '\r'))
      return 0; /* the end of the header block */
    const char *f = p + i + 1;
    if (lower(f[0]) != 'h' || lower(f[1]) != 'o' || lower(f[2]) != 's' ||
        lower(f[3]) != 't' || f[4] != ':')
      continue;
    size_t s = i + 6, e;
    while (s < n && (p[s] == ' ' || p[s] == '\t'))
      s++;
    e = s;
    while (e < n && p[e] != '\r' && p[e] != '\n')
      e++;
    if (e == n)
      return 0; /* cut: not sure it is whole */
    while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
      e--;
    if (e == s)
      return 0;
    *host = p + s;
    *hlen = e - s;
    return 1;
  }
  return 0;
}

int at_sniff_match(const struct at_sniff_line *l, const char *host, size_t hlen,
                   const char *scheme, const char *fallback,
                   struct at_match *m) {
  char url[URL_MAX];
  size_t n;
  if (l->target_len >= 7 && (memcmp(l->target, "http://", 7) == 0 ||
                             memcmp(l->target, "https://", 8) == 0)) {
    if (l->target_len >= sizeof url)
      return 0;
    memcpy(url, l->target, l->target_len);
    n = l->target_len;
  } else {
    if (l->target_len == 0 || l->target[0] != '/')
      return 0; /* "*", or CONNECT's authority: not an API call */
    if (!host || !hlen) {
      host = fallback ? fallback : "";
      hlen = strlen(host);
    }
    size_t sl = strlen(scheme);
    if (hlen == 0 || sl + 3 + hlen + l->target_len >= sizeof url)
      return 0;
    memcpy(url, scheme, sl);
    memcpy(url + sl, "://", 3);
    memcpy(url + sl + 3, host, hlen);
    memcpy(url + sl + 3 + hlen, l->target, l->target_len);
    n = sl + 3 + hlen + l->target_len;
  }
  url[n] = '\0';
  return at_match_url(url, m);
}
