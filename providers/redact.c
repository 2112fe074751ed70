/* redact: keep secrets out of observation records (rules: docs/providers.md,
 * "Redaction"). */
#include "redact.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "url.h"

#define MAX_HEADERS 256
#define MAX_HEADER_NAME 256
#define MAX_HEADER_VALUE 8192

static int lower(int c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Lowercase copy of s[0..n) into buf (cap bytes); 0 when it does not fit. */
static int lower_copy(char *buf, size_t cap, const char *s, size_t n) {
  if (n >= cap)
    return 0;
  for (size_t i = 0; i < n; i++)
    buf[i] = (char)lower((unsigned char)s[i]);
  buf[n] = '\0';
  return 1;
}

static int in_list(const char *s, const char *const *list) {
  for (size_t i = 0; list[i]; i++)
    if (strcmp(s, list[i]) == 0)
      return 1;
  return 0;
}

/* s[i..) starts with the literal lit (of length len)? */
#define HAS_AT(s, n, i, lit)                                                   \
  ((i) + sizeof(lit) - 1 <= (n) && memcmp((s) + (i), lit, sizeof(lit) - 1) == 0)

/* Does the lowercase name s[0..n) contain one of the words that mark a
 * secret? One pass, dispatching on the first letter of each word (this
 * runs for every header of every exchange: ten strstr() calls per name
 * were a tenth of the writer's time). `session` counts for headers, not
 * for query keys. */
static int has_secret_word(const char *s, size_t n, int session) {
  for (size_t i = 0; i < n; i++) {
    switch (s[i]) {
    case 'a':
      if (HAS_AT(s, n, i, "api-key") || HAS_AT(s, n, i, "api_key") ||
          HAS_AT(s, n, i, "apikey") || HAS_AT(s, n, i, "authorization"))
        return 1;
      break;
    case 't':
      if (HAS_AT(s, n, i, "token"))
        return 1;
      break;
    case 's':
      if (HAS_AT(s, n, i, "secret") || HAS_AT(s, n, i, "signature") ||
          (session && HAS_AT(s, n, i, "session")))
        return 1;
      break;
    case 'c':
      if (HAS_AT(s, n, i, "credential"))
        return 1;
      break;
    case 'p':
      if (HAS_AT(s, n, i, "password"))
        return 1;
      break;
    default:
      break;
    }
  }
  return 0;
}

/* Rate-limit headers (x-ratelimit-remaining-tokens: 29000, ...-reset: 6m0s,
 * anthropic-ratelimit-tokens-reset: 2026-01-01T00:00:00Z) and token counts
 * (Bedrock's x-amzn-bedrock-input-token-count: 16) name "tokens" but carry
 * counters. They are kept only when the value could not be a key. */
static int harmless_counter(const char *value, size_t n) {
  if (n == 0 || n > 64)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = value[i];
    if (!((c >= '0' && c <= '9') || c == '.' || c == ':' || c == '-' ||
          c == '+' || c == ' ' || c == 'T' || c == 'Z' || c == 'm' ||
          c == 's' || c == 'h'))
      return 0;
  }
  return 1;
}

/* The verdict for a header whose lowercased name is n[0..nlen). */
static int secret_lower(const char *n, size_t nlen, const char *value,
                        size_t value_len) {
  static const char *const exact[] = {
      "authorization", "proxy-authorization",  "x-api-key",
      "api-key",       "x-goog-api-key",       "cookie",
      "set-cookie",    "x-amz-security-token", NULL};
  if (in_list(n, exact))
    return 1;
  if (!has_secret_word(n, nlen, 1))
    return 0;
  if ((strstr(n, "ratelimit") || strstr(n, "token-count")) && value &&
      harmless_counter(value, value_len))
    return 0;
  return 1;
}

int at_redact_header_is_secret(const char *name, size_t name_len,
                               const char *value, size_t value_len) {
  char n[MAX_HEADER_NAME];
  /* A name too long to inspect is treated as secret: fail closed. */
  if (!lower_copy(n, sizeof n, name, name_len))
    return 1;
  return secret_lower(n, name_len, value, value_len);
}

int at_redact_query_key_is_secret(const char *key, size_t key_len) {
  static const char *const exact[] = {
      "key", "sig", "auth", "code", "x-amz-security-token", NULL};
  char k[MAX_HEADER_NAME];
  if (!lower_copy(k, sizeof k, key, key_len))
    return 1;
  return in_list(k, exact) || has_secret_word(k, key_len, 0);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Percent-decode a query key into buf so that "api%5Fkey" is recognised.
 * Returns the decoded length, or (size_t)-1 when it does not fit. */
static size_t decode_key(char *buf, size_t cap, const char *s, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (o + 1 >= cap)
      return (size_t)-1;
    int c = (unsigned char)s[i];
    if (c == '%' && i + 2 < n) {
      int h = hexval((unsigned char)s[i + 1]),
          l = hexval((unsigned char)s[i + 2]);
      if (h >= 0 && l >= 0) {
        c = h * 16 + l;
        i += 2;
      }
    } else if (c == '+') {
      c = ' ';
    }
    buf[o++] = (char)c;
  }
  return o;
}

/* Append query text q[0..n) to out (at *o) with secret values replaced. */
static void redact_query(char *out, size_t *o, const char *q, size_t n) {
  size_t i = 0;
  while (i <= n) {
    size_t j = i;
    while (j < n && q[j] != '&')
      j++;
    const char *param = q + i;
    size_t plen = j - i;
    const char *eq = memchr(param, '=', plen);
    size_t klen = eq ? (size_t)(eq - param) : plen;
    char kbuf[MAX_HEADER_NAME];
    size_t dlen = decode_key(kbuf, sizeof kbuf, param, klen);
    int secret =
        eq && (dlen == (size_t)-1 || at_redact_query_key_is_secret(kbuf, dlen));
    if (secret) {
      memcpy(out + *o, param, klen + 1); /* key and '=' */
      *o += klen + 1;
      memcpy(out + *o, AT_REDACTED_QUERY, strlen(AT_REDACTED_QUERY));
      *o += strlen(AT_REDACTED_QUERY);
    } else {
      memcpy(out + *o, param, plen);
      *o += plen;
    }
    if (j < n)
      out[(*o)++] = '&';
    i = j + 1;
  }
}

char *at_redact_url(const char *url) {
  if (!url)
    return NULL;
  size_t len = strlen(url);
  /* Each parameter grows by at most strlen("REDACTED"), and there are at
   * most len/2 + 1 parameters. */
  size_t cap = len + (len / 2 + 1) * strlen(AT_REDACTED_QUERY) + 1;
  char *out = malloc(cap);
  if (!out)
    return NULL;
  size_t o = 0;
  struct at_url u;
  if (at_url_split(url, &u) != 0) {
    /* Not a URL we can take apart: keep it, minus its query's secrets and
     * its fragment. */
    size_t head = strcspn(url, "?#");
    memcpy(out, url, head);
    o = head;
    if (url[head] == '?') {
      size_t qlen = strcspn(url + head + 1, "#");
      out[o++] = '?';
      redact_query(out, &o, url + head + 1, qlen);
    }
    out[o] = '\0';
    return out;
  }
  if (u.scheme_len) {
    memcpy(out, u.scheme, u.scheme_len);
    o = u.scheme_len;
    memcpy(out + o, "://", 3);
    o += 3;
  }
  /* The authority without "user:password@". */
  const char *hostport = u.authority;
  size_t hplen = u.authority_len;
  if (u.userinfo) {
    size_t skip = u.userinfo_len + 1;
    hostport += skip;
    hplen -= skip;
  }
  memcpy(out + o, hostport, hplen);
  o += hplen;
  memcpy(out + o, u.path, u.path_len);
  o += u.path_len;
  if (u.query) {
    out[o++] = '?';
    redact_query(out, &o, u.query, u.query_len);
  }
  out[o] = '\0';
  return out;
}

/* RFC 9110 tchar, as a table: looked up for every byte of every header
 * name. */
static unsigned char tchar[256];
static pthread_once_t tchar_once = PTHREAD_ONCE_INIT;

static void tchar_init(void) {
  for (int c = 0; c < 256; c++)
    tchar[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* 1 when v[0..n) is printable ASCII (or tabs): at_utf8_clean would copy
 * it unchanged. */
static int printable_ascii(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    if ((c < 0x20 && c != '\t') || c >= 0x7f)
      return 0;
  }
  return 1;
}

static void add_header(cJSON *obj, const char *name, size_t nlen,
                       const char *value, size_t vlen) {
  char lname[MAX_HEADER_NAME];
  if (!lower_copy(lname, sizeof lname, name, nlen))
    return; /* absurdly long name: not worth keeping */
  if (vlen > MAX_HEADER_VALUE)
    vlen = MAX_HEADER_VALUE;
  size_t cap =
      vlen > sizeof AT_REDACTED_HEADER ? vlen : sizeof AT_REDACTED_HEADER;
  /* Most values are short: no allocation for them. */
  char small[256];
  char *clean = cap < sizeof small ? small : malloc(cap + 1);
  if (!clean)
    return;
  if (secret_lower(lname, nlen, value, vlen))
    strcpy(clean, AT_REDACTED_HEADER);
  else if (printable_ascii(value, vlen)) {
    memcpy(clean, value, vlen); /* what cleaning would copy */
    clean[vlen] = '\0';
  } else
    at_utf8_clean(clean, vlen + 1, value, vlen, 1);

  cJSON *prev = cJSON_GetObjectItemCaseSensitive(obj, lname);
  if (cJSON_IsString(prev)) {
    /* Repeated header: "a, b", as HTTP allows for list-valued fields. */
    if (strcmp(prev->valuestring, AT_REDACTED_HEADER) != 0 &&
        strcmp(clean, AT_REDACTED_HEADER) != 0) {
      size_t pl = strlen(prev->valuestring), cl = strlen(clean);
      char *joined = malloc(pl + 2 + cl + 1);
      if (joined) {
        memcpy(joined, prev->valuestring, pl);
        memcpy(joined + pl, ", ", 2);
        memcpy(joined + pl + 2, clean, cl + 1);
        cJSON *item = cJSON_CreateString(joined);
        if (item)
          cJSON_ReplaceItemInObjectCaseSensitive(obj, lname, item);
        free(joined);
      }
    }
  } else {
    cJSON_AddStringToObject(obj, lname, clean);
  }
  if (clean != small)
    free(clean);
}

cJSON *at_redact_headers(const char *text, size_t len) {
  cJSON *obj = cJSON_CreateObject();
  if (!obj || !text)
    return obj;
  /* Start at the last status line: earlier blocks are interim responses
   * (100 Continue) or redirects. */
  size_t start = 0;
  for (size_t i = 0; i + 5 <= len;) {
    if (memcmp(text + i, "HTTP/", 5) == 0)
      start = i;
    const char *nl = memchr(text + i, '\n', len - i);
    if (!nl)
      break;
    i = (size_t)(nl - text) + 1;
  }
  pthread_once(&tchar_once, tchar_init);
  size_t count = 0;
  size_t i = start;
  while (i < len && count < MAX_HEADERS) {
    const char *line = text + i;
    const char *nl = memchr(line, '\n', len - i);
    size_t llen = nl ? (size_t)(nl - line) : len - i;
    i += llen + (nl ? 1 : 0);
    if (llen && line[llen - 1] == '\r')
      llen--;
    const char *colon = memchr(line, ':', llen);
    if (!colon || colon == line)
      continue; /* status line, blank line, or folded continuation */
    size_t nlen = (size_t)(colon - line);
    int ok = 1;
    for (size_t k = 0; k < nlen && ok; k++)
      ok = tchar[(unsigned char)line[k]];
    if (!ok)
      continue;
    const char *v = colon + 1;
    const char *vend = line + llen;
    while (v < vend && (*v == ' ' || *v == '\t'))
      v++;
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
      vend--;
    add_header(obj, line, nlen, v, (size_t)(vend - v));
    count++;
  }
  return obj;
}
