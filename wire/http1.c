/* http1: header block parsing; see http1.h. */
#include "http1.h"

#include <string.h>
#include <strings.h>

/* tchar (RFC 9110 §5.6.2) */
static int is_tchar(unsigned char c) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return 1;
  return c && memchr(extra, c, sizeof extra - 1) != NULL;
}

static int is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int span_is(struct wire_span s, const char *lower) {
  size_t n = strlen(lower);
  return s.n == n && !strncasecmp(s.p, lower, n);
}

/* A method is at most this long: anything longer is not HTTP we follow. */
#define METHOD_MAX 20

int wire_http1_prefix_ok(const char *buf, size_t len, int is_request) {
  if (!is_request) {
    size_t k = len < 5 ? len : 5;
    return memcmp(buf, "HTTP/", k) == 0 ? 0 : -1;
  }
  size_t k = len < METHOD_MAX + 1 ? len : METHOD_MAX + 1;
  for (size_t i = 0; i < k; i++) {
    if (buf[i] == ' ')
      return i > 0 ? 0 : -1;
    if (!is_tchar((unsigned char)buf[i]))
      return -1;
  }
  return len > METHOD_MAX ? -1 : 0;
}

/* Next element of a comma-separated list (RFC 9110 §5.6.1): trimmed, with
 * parameters (";q=...") cut off. Empty elements are skipped. Returns 0 when
 * the list is exhausted. */
static int list_next(const char **cur, const char *end, struct wire_span *out) {
  const char *p = *cur;
  while (p < end) {
    while (p < end && (is_ws((unsigned char)*p) || *p == ','))
      p++;
    if (p == end)
      break;
    const char *s = p;
    while (p < end && *p != ',')
      p++;
    const char *e = p;
    const char *semi = memchr(s, ';', (size_t)(e - s));
    if (semi)
      e = semi;
    while (e > s && is_ws((unsigned char)e[-1]))
      e--;
    if (e > s) {
      out->p = s;
      out->n = (size_t)(e - s);
      *cur = p;
      return 1;
    }
  }
  *cur = end;
  return 0;
}

static void content_length(struct wire_head *h, struct wire_span v) {
  const char *cur = v.p, *end = v.p + v.n;
  struct wire_span el;
  int any = 0;
  while (list_next(&cur, end, &el)) {
    any = 1;
    uint64_t x = 0;
    for (size_t i = 0; i < el.n; i++) {
      unsigned char c = (unsigned char)el.p[i];
      if (c < '0' || c > '9' || x > (UINT64_MAX >> 4)) {
        h->cl_error = "invalid Content-Length";
        return;
      }
      x = x * 10 + (uint64_t)(c - '0');
    }
    if (h->has_cl && x != h->content_length) {
      h->cl_error = "conflicting Content-Length values";
      return;
    }
    h->has_cl = 1;
    h->content_length = x;
  }
  if (!any)
    h->cl_error = "invalid Content-Length";
}

static void add_coding(struct wire_head *h, struct wire_span c) {
  if (h->ncodings == WIRE_MAX_CODINGS * 2) {
    h->codings_over = 1;
    return;
  }
  h->codings[h->ncodings++] = c;
}

/* Transfer-Encoding elements arrive in order over one or more fields;
 * te_chunked tracks whether the last one seen is chunked. */
static void transfer_encoding(struct wire_head *h, struct wire_span v,
                              struct wire_span *te, int *nte) {
  const char *cur = v.p, *end = v.p + v.n;
  struct wire_span el;
  h->te_present = 1;
  while (list_next(&cur, end, &el)) {
    if (h->te_chunked)
      h->te_error = "chunked is not the final transfer coding";
    h->te_chunked = span_is(el, "chunked");
    if (!h->te_chunked && *nte < WIRE_MAX_CODINGS)
      te[(*nte)++] = el;
    else if (!h->te_chunked)
      h->codings_over = 1;
  }
}

static void connection(struct wire_head *h, struct wire_span v) {
  const char *cur = v.p, *end = v.p + v.n;
  struct wire_span el;
  while (list_next(&cur, end, &el)) {
    if (span_is(el, "close"))
      h->conn_close = 1;
    else if (span_is(el, "keep-alive"))
      h->conn_keep_alive = 1;
    else if (span_is(el, "upgrade"))
      h->conn_upgrade = 1;
  }
}

static struct wire_span trim(const char *s, const char *e) {
  while (s < e && is_ws((unsigned char)*s))
    s++;
  while (e > s && is_ws((unsigned char)e[-1]))
    e--;
  struct wire_span r = {s, (size_t)(e - s)};
  return r;
}

static void field(struct wire_head *h, struct wire_span name,
                  struct wire_span v, struct wire_span *te, int *nte) {
  switch (name.n) {
  case 4:
    if (span_is(name, "host") && !h->host.p)
      h->host = v;
    break;
  case 6:
    if (span_is(name, "expect") && span_is(v, "100-continue"))
      h->expect_continue = 1;
    break;
  case 7:
    if (span_is(name, "upgrade"))
      h->upgrade = v;
    break;
  case 10:
    if (span_is(name, "connection"))
      connection(h, v);
    break;
  case 14:
    if (span_is(name, "content-length"))
      content_length(h, v);
    break;
  case 16:
    if (span_is(name, "content-encoding")) {
      const char *cur = v.p, *end = v.p + v.n;
      struct wire_span el;
      while (list_next(&cur, end, &el))
        add_coding(h, el);
    }
    break;
  case 17:
    if (span_is(name, "transfer-encoding"))
      transfer_encoding(h, v, te, nte);
    break;
  }
}

static int digit(char c) {
  return c >= '0' && c <= '9';
}

/* "HTTP/1.x" at p (8 bytes available): returns x, or -1. */
static int http1_version(const char *p) {
  if (memcmp(p, "HTTP/1.", 7) != 0 || !digit(p[7]))
    return -1;
  return p[7] - '0';
}

static int request_line(const char *s, const char *e, struct wire_head *h) {
  const char *sp = memchr(s, ' ', (size_t)(e - s));
  if (!sp || sp == s || sp - s > METHOD_MAX)
    goto bad;
  for (const char *q = s; q < sp; q++)
    if (!is_tchar((unsigned char)*q))
      goto bad;
  h->method.p = s;
  h->method.n = (size_t)(sp - s);
  const char *t = sp + 1;
  /* The version is the last word of the line. */
  const char *v = e;
  while (v > t && v[-1] != ' ')
    v--;
  if (v <= t + 1 || e - v != 8)
    goto bad;
  h->target.p = t;
  h->target.n = (size_t)(v - 1 - t);
  for (size_t i = 0; i < h->target.n; i++)
    if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f)
      goto bad;
  if (span_is(h->method, "pri") && h->target.n == 1 && t[0] == '*' &&
      memcmp(v, "HTTP/2.0", 8) == 0)
    return WIRE_HEAD_H2;
  h->minor = http1_version(v);
  if (h->minor < 0)
    goto bad;
  return WIRE_HEAD_OK;
bad:
  h->error = "not an HTTP/1.x request line";
  return WIRE_HEAD_BAD;
}

static int status_line(const char *s, const char *e, struct wire_head *h) {
  /* "HTTP/1.1 200 OK"; the reason phrase (and its SP) may be missing. */
  if (e - s < 12 || (h->minor = http1_version(s)) < 0 || s[8] != ' ' ||
      !digit(s[9]) || !digit(s[10]) || !digit(s[11]) ||
      (e - s > 12 && s[12] != ' ')) {
    h->error = "not an HTTP/1.x status line";
    return WIRE_HEAD_BAD;
  }
  h->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
  if (h->status < 100) {
    h->error = "invalid status code";
    return WIRE_HEAD_BAD;
  }
  return WIRE_HEAD_OK;
}

int wire_http1_parse_head(const char *buf, size_t len, int is_request,
                          struct wire_head *h) {
  memset(h, 0, sizeof *h);
  const char *end = buf + len;
  const char *nl = memchr(buf, '\n', len);
  if (!nl) {
    h->error = "no start line";
    return WIRE_HEAD_BAD;
  }
  const char *le = nl > buf && nl[-1] == '\r' ? nl - 1 : nl;
  int r = is_request ? request_line(buf, le, h) : status_line(buf, le, h);
  if (r != WIRE_HEAD_OK)
    return r;

  struct wire_span te[WIRE_MAX_CODINGS];
  int nte = 0;
  const char *p = nl + 1;
  h->fields.p = p;
  /* One field per turn; a line that starts with SP/HTAB continues the
   * previous field (obs-fold) and is taken with it. */
  while (p < end) {
    const char *lnl = memchr(p, '\n', (size_t)(end - p));
    if (!lnl)
      break; /* a last line cut short: not read */
    const char *lend = lnl > p && lnl[-1] == '\r' ? lnl - 1 : lnl;
    if (lend == p) {
      h->complete = 1;
      break;
    }
    const char *next = lnl + 1;
    while (next < end && (*next == ' ' || *next == '\t')) {
      const char *fnl = memchr(next, '\n', (size_t)(end - next));
      if (!fnl)
        break;
      lend = fnl > next && fnl[-1] == '\r' ? fnl - 1 : fnl;
      next = fnl + 1;
    }
    h->fields.n = (size_t)(next - h->fields.p);
    const char *colon = memchr(p, ':', (size_t)(lend - p));
    if (colon && colon > p) {
      struct wire_span name = {p, (size_t)(colon - p)};
      int ok = 1;
      for (size_t i = 0; i < name.n && ok; i++)
        ok = is_tchar((unsigned char)name.p[i]);
      if (ok)
        field(h, name, trim(colon + 1, lend), te, &nte);
    }
    p = next;
  }
  for (int i = 0; i < nte; i++)
    add_coding(h, te[i]);
  if (is_request && h->te_present && !h->te_chunked && !h->te_error)
    h->te_error = "request Transfer-Encoding does not end in chunked";
  return WIRE_HEAD_OK;
}
