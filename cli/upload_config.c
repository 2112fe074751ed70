/* upload_config: where `autotrace upload` sends, and with what credentials,
 * all from the environment (names in upload_env.h) and the optional 0600
 * credentials file. Nothing here prints a secret: errors name variables,
 * never their values. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "upload.h"
#include "upload_env.h"

const char *upload_kind_name(enum upload_kind k) {
  switch (k) {
  case UP_OTLP:
    return "otlp";
  case UP_LANGFUSE:
    return "langfuse";
  case UP_LEGACY:
    return "langfuse-legacy";
  }
  return "?";
}

int upload_kind_parse(const char *s) {
  if (!s)
    return -1;
  if (strcmp(s, "otlp") == 0 || strcmp(s, "otel") == 0)
    return UP_OTLP;
  if (strcmp(s, "langfuse") == 0)
    return UP_LANGFUSE;
  if (strcmp(s, "langfuse-legacy") == 0)
    return UP_LEGACY;
  return -1;
}

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

/* ---- "k=v,k=v" ---- */

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* A trimmed, percent-decoded copy of s[0..n). */
static char *decode(const char *s, size_t n) {
  while (n && isspace((unsigned char)*s)) {
    s++;
    n--;
  }
  while (n && isspace((unsigned char)s[n - 1]))
    n--;
  char *out = malloc(n + 1);
  if (!out)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
        (lo = hexval(s[i + 2])) >= 0) {
      out[k++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      out[k++] = s[i];
    }
  }
  out[k] = '\0';
  return out;
}

/* Calls fn(key, value, arg) for each entry; -1 on a malformed one. */
static int each_pair(const char *s, int (*fn)(char *, char *, void *),
                     void *arg) {
  if (!s)
    return 0;
  const char *p = s;
  for (size_t guard = 0; guard <= strlen(s) && *p; guard++) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', n);
    int blank = 1;
    for (size_t i = 0; i < n; i++)
      if (!isspace((unsigned char)p[i]))
        blank = 0;
    if (!blank) {
      if (!eq)
        return -1;
      char *k = decode(p, (size_t)(eq - p));
      char *v = decode(eq + 1, n - (size_t)(eq - p) - 1);
      if (!k || !v || !*k) {
        free(k);
        free(v);
        return -1;
      }
      if (fn(k, v, arg) != 0)
        return -1;
    }
    if (!end)
      break;
    p = end + 1;
  }
  return 0;
}

struct hdr_acc {
  struct upload_header **h;
  size_t *n;
};

static int add_header_kv(char *k, char *v, void *arg) {
  struct hdr_acc *a = arg;
  /* A header name is a token; a value has no line breaks. */
  for (char *c = k; *c; c++)
    if (!(isalnum((unsigned char)*c) || strchr("!#$%&'*+-.^_`|~", *c))) {
      free(k);
      free(v);
      return -1;
    }
  for (char *c = v; *c; c++)
    if (*c == '\r' || *c == '\n') {
      free(k);
      free(v);
      return -1;
    }
  struct upload_header *nh = realloc(*a->h, (*a->n + 1) * sizeof *nh);
  if (!nh) {
    free(k);
    free(v);
    return -1;
  }
  *a->h = nh;
  nh[*a->n] = (struct upload_header){k, v, 1};
  (*a->n)++;
  return 0;
}

int upload_parse_headers(const char *s, struct upload_header **h, size_t *n) {
  struct hdr_acc a = {h, n};
  return each_pair(s, add_header_kv, &a);
}

static int add_attr_kv(char *k, char *v, void *arg) {
  cJSON *o = arg;
  cJSON_DeleteItemFromObjectCaseSensitive(o, k);
  cJSON_AddStringToObject(o, k, v);
  free(k);
  free(v);
  return 0;
}

cJSON *upload_parse_resource_attrs(const char *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o || each_pair(s, add_attr_kv, o) != 0) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* ---- sizes and ages ---- */

int upload_parse_size(const char *s, uint64_t *out) {
  if (!s || !isdigit((unsigned char)*s))
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno)
    return -1;
  static const struct {
    const char *suffix;
    uint64_t mul;
  } units[] = {{"", 1},
               {"B", 1},
               {"K", 1024},
               {"KB", 1000},
               {"KIB", 1024},
               {"M", 1024 * 1024},
               {"MB", 1000 * 1000},
               {"MIB", 1024 * 1024},
               {"G", 1024ull * 1024 * 1024},
               {"GB", 1000ull * 1000 * 1000},
               {"GIB", 1024ull * 1024 * 1024},
               {"T", 1024ull * 1024 * 1024 * 1024},
               {"TB", 1000ull * 1000 * 1000 * 1000},
               {"TIB", 1024ull * 1024 * 1024 * 1024}};
  char suf[8];
  size_t n = strlen(end);
  if (n >= sizeof suf)
    return -1;
  for (size_t i = 0; i <= n; i++)
    suf[i] = (char)toupper((unsigned char)end[i]);
  for (size_t i = 0; i < sizeof units / sizeof *units; i++)
    if (strcmp(suf, units[i].suffix) == 0) {
      if (v > UINT64_MAX / units[i].mul)
        return -1;
      *out = v * units[i].mul;
      return 0;
    }
  return -1;
}

static int parse_age(const char *s, int64_t *out) {
  if (!isdigit((unsigned char)*s))
    return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || v < 0)
    return -1;
  int64_t mul;
  if (strcmp(end, "s") == 0)
    mul = 1;
  else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
    mul = 60;
  else if (strcmp(end, "h") == 0)
    mul = 3600;
  else if (strcmp(end, "d") == 0)
    mul = 86400;
  else if (strcmp(end, "w") == 0)
    mul = 7 * 86400;
  else
    return -1;
  if (v > INT64_MAX / (mul * 1000000000LL))
    return -1;
  *out = v * mul * 1000000000LL;
  return 0;
}

int upload_parse_retention(const char *s, int64_t *age_ns, uint64_t *bytes,
                           char *err, size_t errlen) {
  *age_ns = 0;
  *bytes = 0;
  if (!s || !*s)
    s = AT_DEFAULT_RETENTION;
  char buf[128];
  if (strlen(s) >= sizeof buf) {
    snprintf(err, errlen, "%s is too long", AT_ENV_RETENTION);
    return -1;
  }
  snprintf(buf, sizeof buf, "%s", s);
  int have_age = 0, have_size = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    while (isspace((unsigned char)*tok))
      tok++;
    char *e = tok + strlen(tok);
    while (e > tok && isspace((unsigned char)e[-1]))
      *--e = '\0';
    if (strcmp(tok, "none") == 0 || strcmp(tok, "off") == 0)
      continue;
    int64_t a;
    uint64_t b;
    if (!have_age && parse_age(tok, &a) == 0) {
      *age_ns = a;
      have_age = 1;
    } else if (!have_size && upload_parse_size(tok, &b) == 0) {
      *bytes = b;
      have_size = 1;
    } else {
      snprintf(err, errlen,
               "%s: cannot read '%s' (want an age such as 7d or 12h and a "
               "size such as 1GiB or 500M, comma-separated, or none)",
               AT_ENV_RETENTION, tok);
      return -1;
    }
  }
  return 0;
}

/* ---- the credentials file ---- */

int upload_config_load(const char *path, char *err, size_t errlen) {
  char def[4096];
  int explicit_path = path != NULL;
  if (!path) {
    const char *xdg = env("XDG_CONFIG_HOME");
    const char *home = env("HOME");
    if (xdg && *xdg == '/')
      snprintf(def, sizeof def, "%s/%s", xdg, AT_UPLOAD_CONFIG_NAME);
    else if (home)
      snprintf(def, sizeof def, "%s/.config/%s", home, AT_UPLOAD_CONFIG_NAME);
    else
      return 1;
    path = def;
  }
  /* fstat below judges the file itself, symlinked or not. */
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && !explicit_path)
      return 1;
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    snprintf(err, errlen, "%s is not a regular file", path);
    return -1;
  }
  if (st.st_mode & 077) {
    close(fd);
    snprintf(err, errlen,
             "refusing %s: it holds credentials but its mode is %04o; "
             "run: chmod 600 %s",
             path, (unsigned)(st.st_mode & 07777), path);
    return -1;
  }
  if (st.st_uid != geteuid()) {
    close(fd);
    snprintf(err, errlen, "refusing %s: it belongs to another user", path);
    return -1;
  }
  FILE *f = fdopen(fd, "r");
  if (!f) {
    close(fd);
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return -1;
  }
  char line[8192];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f) && lineno < 10000) {
    lineno++;
    char *p = line;
    while (isspace((unsigned char)*p))
      p++;
    char *e = p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1]))
      *--e = '\0';
    if (!*p || *p == '#')
      continue;
    if (strncmp(p, "export ", 7) == 0)
      p += 7;
    char *eq = strchr(p, '=');
    int ok = eq && eq > p;
    for (char *c = p; ok && c < eq; c++)
      ok = isalnum((unsigned char)*c) || *c == '_';
    if (!ok) {
      snprintf(err, errlen, "%s:%d: not KEY=VALUE", path, lineno);
      rc = -1;
      break;
    }
    *eq = '\0';
    char *v = eq + 1;
    size_t vl = strlen(v);
    if (vl >= 2 && ((v[0] == '"' && v[vl - 1] == '"') ||
                    (v[0] == '\'' && v[vl - 1] == '\''))) {
      v[vl - 1] = '\0';
      v++;
    }
    setenv(p, v, 0); /* the environment wins over the file */
  }
  /* Lines may hold secrets: leave nothing on the stack. */
  memset(line, 0, sizeof line);
  fclose(f);
  return rc;
}

/* ---- targets ---- */

static int valid_url(const char *u) {
  return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

/* base without trailing slashes + path. */
static char *join_url(const char *base, const char *path) {
  size_t n = strlen(base);
  while (n > 0 && base[n - 1] == '/')
    n--;
  size_t len = n + strlen(path) + 1;
  char *u = malloc(len);
  if (u)
    snprintf(u, len, "%.*s%s", (int)n, base, path);
  return u;
}

static int add_header(struct upload_target *t, const char *name,
                      const char *value, int secret) {
  struct upload_header *nh =
      realloc(t->headers, (t->nheaders + 1) * sizeof *nh);
  if (!nh)
    return -1;
  t->headers = nh;
  nh[t->nheaders].name = strdup(name);
  nh[t->nheaders].value = strdup(value);
  nh[t->nheaders].secret = secret;
  if (!nh[t->nheaders].name || !nh[t->nheaders].value) {
    free(nh[t->nheaders].name);
    free(nh[t->nheaders].value);
    return -1;
  }
  t->nheaders++;
  return 0;
}

char *upload_base64(const char *in, size_t len) {
  static const char tbl[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t olen = 4 * ((len + 2) / 3);
  char *out = malloc(olen + 1);
  if (!out)
    return NULL;
  const unsigned char *p = (const unsigned char *)in;
  size_t k = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < len)
      v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < len)
      v |= p[i + 2];
    out[k++] = tbl[(v >> 18) & 63];
    out[k++] = tbl[(v >> 12) & 63];
    out[k++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
    out[k++] = i + 2 < len ? tbl[v & 63] : '=';
  }
  out[k] = '\0';
  return out;
}

/* Compression: OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION gzip|none, else by
 * size. */
static int gzip_mode(void) {
  const char *c = env(AT_ENV_OTLP_TRACES_COMPRESSION);
  if (!c)
    c = env(AT_ENV_OTLP_COMPRESSION);
  if (c && strcmp(c, "gzip") == 0)
    return 1;
  if (c && strcmp(c, "none") == 0)
    return 0;
  return -1;
}

static int langfuse_target(struct upload_target *t, enum upload_kind kind,
                           char *err, size_t errlen) {
  const char *pk = env(AT_ENV_LANGFUSE_PUBLIC_KEY);
  const char *sk = env(AT_ENV_LANGFUSE_SECRET_KEY);
  if (!pk || !sk) {
    snprintf(err, errlen,
             "target %s needs %s and %s (in the environment or the "
             "credentials file)",
             upload_kind_name(kind), AT_ENV_LANGFUSE_PUBLIC_KEY,
             AT_ENV_LANGFUSE_SECRET_KEY);
    return -1;
  }
  const char *host = env(AT_ENV_LANGFUSE_HOST);
  if (!host)
    host = env(AT_ENV_LANGFUSE_BASE_URL);
  if (!host)
    host = AT_DEFAULT_LANGFUSE_HOST;
  if (!valid_url(host)) {
    snprintf(err, errlen, "%s must start with http:// or https://",
             env(AT_ENV_LANGFUSE_HOST) ? AT_ENV_LANGFUSE_HOST
                                       : AT_ENV_LANGFUSE_BASE_URL);
    return -1;
  }
  t->url = join_url(host, kind == UP_LEGACY ? AT_LANGFUSE_LEGACY_PATH
                                            : AT_LANGFUSE_OTLP_PATH);
  size_t cl = strlen(pk) + strlen(sk) + 2;
  char *cred = malloc(cl);
  if (!t->url || !cred) {
    free(cred);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  snprintf(cred, cl, "%s:%s", pk, sk);
  char *b64 = upload_base64(cred, strlen(cred));
  memset(cred, 0, cl);
  free(cred);
  if (!b64) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  size_t al = strlen(b64) + 7;
  char *auth = malloc(al);
  if (auth)
    snprintf(auth, al, "Basic %s", b64);
  memset(b64, 0, strlen(b64));
  free(b64);
  int rc = auth ? add_header(t, "Authorization", auth, 1) : -1;
  if (auth) {
    memset(auth, 0, strlen(auth));
    free(auth);
  }
  if (rc == 0 && kind == UP_LANGFUSE)
    rc = add_header(t, "x-langfuse-ingestion-version", "4", 0);
  if (rc == 0)
    rc = add_header(t, "x-langfuse-sdk-name", "autotrace", 0);
  if (rc != 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (kind == UP_LEGACY) {
    t->batch_bytes = AT_LEGACY_BATCH_BYTES;
    t->gzip = 0; /* the legacy route's body parser may not inflate */
  }
  return 0;
}

static int otlp_target(struct upload_target *t, char *err, size_t errlen) {
  const char *traces = env(AT_ENV_OTLP_TRACES_ENDPOINT);
  const char *base = env(AT_ENV_OTLP_ENDPOINT);
  if (traces) {
    if (!valid_url(traces)) {
      snprintf(err, errlen, "%s must start with http:// or https://",
               AT_ENV_OTLP_TRACES_ENDPOINT);
      return -1;
    }
    t->url = strdup(traces); /* used as is (the exporter spec) */
  } else {
    if (!base)
      base = AT_DEFAULT_OTLP_ENDPOINT;
    if (!valid_url(base)) {
      snprintf(err, errlen, "%s must start with http:// or https://",
               AT_ENV_OTLP_ENDPOINT);
      return -1;
    }
    t->url = join_url(base, AT_OTLP_TRACES_PATH);
  }
  if (!t->url) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  const char *hv = env(AT_ENV_OTLP_TRACES_HEADERS);
  const char *which = AT_ENV_OTLP_TRACES_HEADERS;
  if (!hv) {
    hv = env(AT_ENV_OTLP_HEADERS);
    which = AT_ENV_OTLP_HEADERS;
  }
  if (upload_parse_headers(hv, &t->headers, &t->nheaders) != 0) {
    snprintf(err, errlen,
             "%s: cannot read it (want key=value pairs separated by commas)",
             which);
    return -1;
  }
  /* The Langfuse OTLP endpoint reached through the OTEL_ variables still
   * wants its version header, or ingestion is delayed. */
  int has_version = 0;
  for (size_t i = 0; i < t->nheaders; i++)
    if (strcasecmp(t->headers[i].name, "x-langfuse-ingestion-version") == 0)
      has_version = 1;
  if (!has_version && strstr(t->url, AT_LANGFUSE_OTLP_PATH) &&
      add_header(t, "x-langfuse-ingestion-version", "4", 0) != 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}

char *upload_url_redacted(const char *url) {
  const char *p = strstr(url, "://");
  size_t len = strlen(url) + 16;
  char *out = malloc(len);
  if (!out)
    return NULL;
  if (!p) {
    snprintf(out, len, "%s", url);
    return out;
  }
  p += 3;
  /* user:password@ and a query string may carry secrets: neither is shown
   * nor stored (the cursor's name is printed by `autotrace stats`). */
  const char *end = p + strcspn(p, "/?#");
  const char *at = memchr(p, '@', (size_t)(end - p));
  size_t k = (size_t)(p - url);
  memcpy(out, url, k);
  if (at) {
    memcpy(out + k, "***@", 4);
    k += 4;
    p = at + 1;
  }
  size_t rest = strcspn(p, "?#");
  memcpy(out + k, p, rest);
  k += rest;
  if (p[rest] == '?') {
    memcpy(out + k, "?***", 4);
    k += 4;
  }
  out[k] = '\0';
  return out;
}

int upload_targets_from_env(const int *kinds, size_t nkinds,
                            struct upload_target **out, size_t *n, char *err,
                            size_t errlen) {
  *out = NULL;
  *n = 0;
  int want[3] = {0, 0, 0};
  if (nkinds) {
    for (size_t i = 0; i < nkinds; i++)
      if (kinds[i] >= 0 && kinds[i] < 3)
        want[kinds[i]] = 1;
  } else {
    if (env(AT_ENV_LANGFUSE_PUBLIC_KEY) || env(AT_ENV_LANGFUSE_SECRET_KEY))
      want[UP_LANGFUSE] = 1;
    if (env(AT_ENV_OTLP_ENDPOINT) || env(AT_ENV_OTLP_TRACES_ENDPOINT))
      want[UP_OTLP] = 1;
    if (!want[UP_LANGFUSE] && !want[UP_OTLP]) {
      snprintf(err, errlen,
               "nowhere to upload to: set %s and %s (Langfuse), or %s "
               "(any OpenTelemetry backend), or pass --target",
               AT_ENV_LANGFUSE_PUBLIC_KEY, AT_ENV_LANGFUSE_SECRET_KEY,
               AT_ENV_OTLP_ENDPOINT);
      return -1;
    }
  }
  struct upload_target *t = calloc(3, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  size_t k = 0;
  static const enum upload_kind order[] = {UP_LANGFUSE, UP_OTLP, UP_LEGACY};
  for (size_t i = 0; i < 3; i++) {
    enum upload_kind kind = order[i];
    if (!want[kind])
      continue;
    struct upload_target *x = &t[k++];
    x->kind = kind;
    x->gzip = gzip_mode();
    x->batch_spans = AT_UPLOAD_BATCH_SPANS;
    x->batch_bytes = AT_UPLOAD_BATCH_BYTES;
    int rc = kind == UP_OTLP ? otlp_target(x, err, errlen)
                             : langfuse_target(x, kind, err, errlen);
    if (rc == 0)
      x->shown_url = upload_url_redacted(x->url);
    if (rc == 0 && x->shown_url) {
      size_t nl = strlen(upload_kind_name(kind)) + strlen(x->shown_url) + 2;
      x->name = malloc(nl);
      if (x->name)
        snprintf(x->name, nl, "%s %s", upload_kind_name(kind), x->shown_url);
    }
    if (rc == 0 && (!x->name || strlen(x->name) > 500)) {
      snprintf(err, errlen, "the endpoint URL is too long");
      rc = -1;
    }
    if (rc != 0) {
      upload_targets_free(t, k);
      return -1;
    }
  }
  *out = t;
  *n = k;
  return 0;
}

void upload_targets_free(struct upload_target *t, size_t n) {
  if (!t)
    return;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < t[i].nheaders; j++) {
      if (t[i].headers[j].value)
        memset(t[i].headers[j].value, 0, strlen(t[i].headers[j].value));
      free(t[i].headers[j].name);
      free(t[i].headers[j].value);
    }
    free(t[i].headers);
    free(t[i].name);
    free(t[i].shown_url);
    if (t[i].url)
      memset(t[i].url, 0, strlen(t[i].url));
    free(t[i].url);
  }
  free(t);
}
