/* helpers: fixtures and JSON lookups for the providers unit tests. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Tests run from the repository root (make, tests/run.sh) or from
 * anywhere below the build folder: look upwards from both. */
static int find_dir(char *out, size_t cap) {
  static const char tail[] = "/tests/fixtures/providers";
  char base[2][PATH_MAX];
  if (!getcwd(base[0], sizeof base[0]))
    base[0][0] = '\0';
  ssize_t n = readlink("/proc/self/exe", base[1], sizeof base[1] - 1);
  base[1][n > 0 ? n : 0] = '\0';
  for (int b = 0; b < 2; b++) {
    size_t len = strlen(base[b]);
    /* Try base, then each parent, up to six levels. */
    for (int up = 0; up < 6 && len; up++) {
      if (len + sizeof tail <= cap) {
        memcpy(out, base[b], len);
        memcpy(out + len, tail, sizeof tail);
        if (access(out, R_OK) == 0)
          return 0;
      }
      while (len && base[b][len - 1] != '/')
        len--;
      if (len)
        len--; /* drop the slash */
    }
  }
  return -1;
}

char *fx_read(const char *name, size_t *len) {
  static char dir[PATH_MAX];
  if (!dir[0])
    cr_assert_eq(find_dir(dir, sizeof dir), 0, "fixture folder not found");
  char path[PATH_MAX + 256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open fixture %s", path);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)size + 1);
  cr_assert_not_null(buf);
  size_t got = fread(buf, 1, (size_t)size, f);
  fclose(f);
  buf[got] = '\0';
  if (len)
    *len = got;
  return buf;
}

struct at_exchange fx_exchange(const char *url, const char *req,
                               const char *resp, int status,
                               const char *resp_headers) {
  struct at_exchange ex;
  memset(&ex, 0, sizeof ex);
  ex.method = "POST";
  ex.url = url;
  ex.req_headers = "Content-Type: application/json\r\n"
                   "Authorization: Bearer sk-test-SECRET123\r\n";
  ex.req_headers_len = strlen(ex.req_headers);
  ex.req_body = req;
  ex.req_body_len = req ? strlen(req) : 0;
  ex.resp_body = resp;
  ex.resp_body_len = resp ? strlen(resp) : 0;
  ex.resp_headers = resp_headers;
  ex.resp_headers_len = resp_headers ? strlen(resp_headers) : 0;
  ex.status = status;
  ex.t_start_ns = 1000000000;
  ex.t_first_byte_ns = 1100000000;
  ex.t_end_ns = 1900000000;
  ex.capture_path = "curl";
  return ex;
}

cJSON *fx_parse(const struct at_exchange *ex) {
  const char *skip = NULL;
  cJSON *rec = at_parse_exchange(ex, NULL, NULL, &skip);
  cr_assert_not_null(rec, "at_parse_exchange returned NULL (%s)",
                     skip ? skip : "allocation failure");
  return rec;
}

cJSON *fx_run(const char *url, const char *req_fixture,
              const char *resp_fixture, int status, const char *resp_headers) {
  char *req = req_fixture ? fx_read(req_fixture, NULL) : NULL;
  char *resp = resp_fixture ? fx_read(resp_fixture, NULL) : NULL;
  struct at_exchange ex = fx_exchange(url, req, resp, status, resp_headers);
  cJSON *rec = fx_parse(&ex);
  free(req);
  free(resp);
  return rec;
}

const cJSON *jget(const cJSON *root, const char *path) {
  char key[256];
  const cJSON *cur = root;
  const char *p = path;
  while (cur && *p) {
    size_t n = strcspn(p, ".");
    if (n >= sizeof key)
      return NULL;
    memcpy(key, p, n);
    key[n] = '\0';
    p += n + (p[n] == '.');
    if (cJSON_IsArray(cur)) {
      char *end;
      long i = strtol(key, &end, 10);
      if (*end)
        return NULL;
      cur = cJSON_GetArrayItem(cur, (int)i);
    } else {
      cur = cJSON_GetObjectItemCaseSensitive(cur, key);
    }
  }
  return cur;
}

const char *jstr(const cJSON *root, const char *path) {
  const cJSON *v = jget(root, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

double jnum(const cJSON *root, const char *path) {
  const cJSON *v = jget(root, path);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

int jsize(const cJSON *root, const char *path) {
  const cJSON *v = jget(root, path);
  return (cJSON_IsArray(v) || cJSON_IsObject(v)) ? cJSON_GetArraySize(v) : -1;
}

char *fx_crlf(const char *s, size_t *len) {
  size_t n = strlen(s), lf = 0;
  for (size_t i = 0; i < n; i++)
    lf += s[i] == '\n';
  char *out = malloc(n + lf + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\n')
      out[o++] = '\r';
    out[o++] = s[i];
  }
  out[o] = '\0';
  if (len)
    *len = o;
  return out;
}
