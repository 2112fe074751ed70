/* azure: deployment and api-version from Azure OpenAI URLs (azure.h). */
#include "azure.h"

#include <string.h>

#include "json_util.h"
#include "url.h"

#define FIELD_MAX 256

static int is_azure(const char *provider) {
  return provider && strncmp(provider, "azure.", 6) == 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* s[0..n) with percent escapes decoded, cleaned to printable UTF-8 on one
 * line, into out; 0 when that leaves nothing. */
static int decode(const char *s, size_t n, char *out, size_t cap) {
  char raw[FIELD_MAX];
  size_t k = 0;
  for (size_t i = 0; i < n && k + 1 < sizeof raw; i++) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
        (lo = hexval(s[i + 2])) >= 0) {
      raw[k++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      raw[k++] = s[i];
    }
  }
  if (k == 0)
    return 0;
  at_utf8_clean(out, cap, raw, k, 1);
  for (char *p = out; *p; p++)
    if (*p == '\n' || *p == '\t')
      *p = ' '; /* one line, like the rest of metadata */
  return out[0] != '\0';
}

/* The path segment after `marker` ("/openai/deployments/"). */
static int segment_after(const struct at_url *u, const char *marker, char *out,
                         size_t cap) {
  size_t mlen = strlen(marker);
  const char *end = u->path + u->path_len;
  for (const char *q = u->path; q + mlen <= end; q++) {
    if (memcmp(q, marker, mlen) != 0)
      continue;
    const char *seg = q + mlen;
    const char *stop = memchr(seg, '/', (size_t)(end - seg));
    return decode(seg, (size_t)((stop ? stop : end) - seg), out, cap);
  }
  return 0;
}

/* The value of query parameter `key`. */
static int query_param(const struct at_url *u, const char *key, char *out,
                       size_t cap) {
  if (!u->query)
    return 0;
  size_t klen = strlen(key);
  const char *q = u->query, *end = u->query + u->query_len;
  while (q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    const char *stop = amp ? amp : end;
    if ((size_t)(stop - q) > klen && memcmp(q, key, klen) == 0 &&
        q[klen] == '=')
      return decode(q + klen + 1, (size_t)(stop - q) - klen - 1, out, cap);
    q = amp ? amp + 1 : end;
  }
  return 0;
}

void at_azure_annotate(struct at_obs *o, const char *provider) {
  struct at_url u;
  if (!o->ex || !o->ex->url || at_url_split(o->ex->url, &u) != 0)
    return;
  char buf[FIELD_MAX];
  int deployment = segment_after(&u, "/openai/deployments/", buf, sizeof buf);
  if (!deployment && !is_azure(provider))
    return;
  if (deployment)
    at_obs_meta_str(o, "azure_deployment", buf);
  if (query_param(&u, "api-version", buf, sizeof buf))
    at_obs_meta_str(o, "api_version", buf);
  if (!o->request_model && o->response_model)
    at_obs_set(o, &o->request_model, o->response_model);
}

const char *at_azure_provider(const char *provider, const char *url) {
  struct at_url u;
  if (!is_azure(provider) || !url || at_url_split(url, &u) != 0)
    return provider;
  if (u.path_len >= 8 && memcmp(u.path, "/models/", 8) == 0)
    return "azure.ai.inference";
  return provider;
}
