/* upload_config.c and upload_send.c: targets from the environment, the
 * credentials file, retention and header syntax, and the decision an HTTP
 * answer leads to. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/upload.h"
#include "cli/upload_env.h"
#include "helpers.h"

static void clear_env(void) {
  static const char *const vars[] = {
      AT_ENV_LANGFUSE_PUBLIC_KEY, AT_ENV_LANGFUSE_SECRET_KEY,
      AT_ENV_LANGFUSE_HOST,       AT_ENV_LANGFUSE_BASE_URL,
      AT_ENV_OTLP_ENDPOINT,       AT_ENV_OTLP_TRACES_ENDPOINT,
      AT_ENV_OTLP_HEADERS,        AT_ENV_OTLP_TRACES_HEADERS,
      AT_ENV_OTLP_COMPRESSION,    AT_ENV_OTLP_TRACES_COMPRESSION,
      AT_ENV_RETENTION,           AT_ENV_OTEL_RESOURCE_ATTRIBUTES,
      AT_ENV_OTEL_SERVICE_NAME,   "XDG_CONFIG_HOME"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
    unsetenv(vars[i]);
}

static const char *header(const struct upload_target *t, const char *name) {
  for (size_t i = 0; i < t->nheaders; i++)
    if (strcasecmp(t->headers[i].name, name) == 0)
      return t->headers[i].value;
  return NULL;
}

/* ---- retention, sizes, headers ---- */

Test(upload_config, retention_syntax) {
  int64_t age;
  uint64_t bytes;
  char err[256];
  cr_assert_eq(upload_parse_retention(NULL, &age, &bytes, err, sizeof err), 0);
  cr_expect_eq(age, 7LL * 86400 * 1000000000LL,
               "default " AT_DEFAULT_RETENTION);
  cr_expect_eq(bytes, 1ull << 30);
  cr_assert_eq(
      upload_parse_retention(" 1GB , 12h", &age, &bytes, err, sizeof err), 0,
      "%s", err);
  cr_expect_eq(age, 12LL * 3600 * 1000000000LL);
  cr_expect_eq(bytes, 1000000000ull);
  cr_assert_eq(upload_parse_retention("500M", &age, &bytes, err, sizeof err),
               0);
  cr_expect_eq(age, 0, "no age bound");
  cr_expect_eq(bytes, 500ull << 20);
  cr_assert_eq(upload_parse_retention("2w,none", &age, &bytes, err, sizeof err),
               0);
  cr_expect_eq(age, 14LL * 86400 * 1000000000LL);
  cr_expect_eq(bytes, 0, "none: no size bound");
  cr_expect_eq(upload_parse_retention("7x", &age, &bytes, err, sizeof err), -1);
  cr_expect(strstr(err, AT_ENV_RETENTION) && strstr(err, "7x"), "%s", err);
  cr_expect_eq(upload_parse_retention("7d,8d", &age, &bytes, err, sizeof err),
               -1, "two ages");
  uint64_t v;
  cr_expect_eq(upload_parse_size("512KiB", &v), 0);
  cr_expect_eq(v, 512 * 1024);
  cr_expect_eq(upload_parse_size("4m", &v), 0);
  cr_expect_eq(v, 4u << 20);
  cr_expect_eq(upload_parse_size("4Q", &v), -1);
  cr_expect_eq(upload_parse_size("-1", &v), -1);
  cr_expect_eq(upload_parse_size("99999999999T", &v), -1, "overflow");
}

Test(upload_config, otel_header_syntax) {
  struct upload_header *h = NULL;
  size_t n = 0;
  cr_assert_eq(upload_parse_headers(" api-key = s%3Dcr%20et ,x-b=2,", &h, &n),
               0);
  cr_assert_eq(n, 2);
  cr_expect_str_eq(h[0].name, "api-key");
  cr_expect_str_eq(h[0].value, "s=cr et", "percent-decoded, trimmed");
  cr_expect_eq(h[0].secret, 1, "values from the environment are secret");
  cr_expect_str_eq(h[1].name, "x-b");
  cr_expect_eq(upload_parse_headers("novalue", &h, &n), -1);
  cr_expect_eq(upload_parse_headers("a=b%0d%0aX-Injected: y", &h, &n), -1,
               "no header injection through a decoded line break");
  cr_expect_eq(upload_parse_headers("bad name=x", &h, &n), -1);
  cr_expect_eq(upload_parse_headers("", &h, &n), 0);
  for (size_t i = 0; i < n; i++) {
    free(h[i].name);
    free(h[i].value);
  }
  free(h);
  cJSON *a = upload_parse_resource_attrs("deployment.environment=prod,"
                                         "service.name=agent%2C1");
  cr_assert_not_null(a);
  cr_expect_str_eq(cJSON_GetObjectItem(a, "service.name")->valuestring,
                   "agent,1");
  cJSON_Delete(a);
}

Test(upload_config, base64) {
  static const char *const v[][2] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"pk-lf-1:sk-lf-2", "cGstbGYtMTpzay1sZi0y"}};
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    char *b = upload_base64(v[i][0], strlen(v[i][0]));
    cr_expect_str_eq(b, v[i][1]);
    free(b);
  }
}

/* ---- targets ---- */

Test(upload_config, langfuse_target_from_the_environment) {
  clear_env();
  setenv(AT_ENV_LANGFUSE_PUBLIC_KEY, "pk-lf-1", 1);
  setenv(AT_ENV_LANGFUSE_SECRET_KEY, "sk-lf-2", 1);
  struct upload_target *t;
  size_t n;
  char err[512];
  cr_assert_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), 0,
               "%s", err);
  cr_assert_eq(n, 1);
  cr_expect_eq(t[0].kind, UP_LANGFUSE);
  cr_expect_str_eq(t[0].url,
                   "https://cloud.langfuse.com/api/public/otel/v1/traces",
                   "the EU cloud by default");
  cr_expect_str_eq(t[0].name, "langfuse https://cloud.langfuse.com/api/public/"
                              "otel/v1/traces");
  cr_expect_str_eq(header(&t[0], "Authorization"),
                   "Basic cGstbGYtMTpzay1sZi0y");
  cr_expect_str_eq(header(&t[0], "x-langfuse-ingestion-version"), "4");
  for (size_t i = 0; i < t[0].nheaders; i++)
    if (strcmp(t[0].headers[i].name, "Authorization") == 0)
      cr_expect_eq(t[0].headers[i].secret, 1);
  upload_targets_free(t, n);

  setenv(AT_ENV_LANGFUSE_BASE_URL, "http://127.0.0.1:3000/", 1);
  int kinds[] = {UP_LEGACY, UP_LANGFUSE};
  cr_assert_eq(upload_targets_from_env(kinds, 2, &t, &n, err, sizeof err), 0);
  cr_assert_eq(n, 2);
  cr_expect_str_eq(t[0].url, "http://127.0.0.1:3000/api/public/otel/v1/traces");
  cr_expect_str_eq(t[1].url, "http://127.0.0.1:3000/api/public/ingestion");
  cr_expect_null(header(&t[1], "x-langfuse-ingestion-version"));
  cr_expect_eq(t[1].batch_bytes, AT_LEGACY_BATCH_BYTES, "≤ 3.5 MB batches");
  upload_targets_free(t, n);
  /* LANGFUSE_HOST wins over LANGFUSE_BASE_URL. */
  setenv(AT_ENV_LANGFUSE_HOST, "https://us.cloud.langfuse.com", 1);
  cr_assert_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), 0);
  cr_expect_str_eq(t[0].url,
                   "https://us.cloud.langfuse.com/api/public/otel/v1/traces");
  upload_targets_free(t, n);
  setenv(AT_ENV_LANGFUSE_HOST, "ftp://x", 1);
  cr_expect_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), -1);
}

Test(upload_config, missing_keys_and_no_target_are_explained_without_secrets) {
  clear_env();
  struct upload_target *t;
  size_t n;
  char err[512];
  cr_assert_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), -1);
  cr_expect(strstr(err, AT_ENV_LANGFUSE_PUBLIC_KEY) &&
                strstr(err, AT_ENV_OTLP_ENDPOINT),
            "%s", err);
  setenv(AT_ENV_LANGFUSE_SECRET_KEY, "sk-very-secret", 1);
  cr_assert_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), -1);
  cr_expect(strstr(err, AT_ENV_LANGFUSE_PUBLIC_KEY), "%s", err);
  cr_expect_null(strstr(err, "sk-very-secret"), "the secret is never said");
}

Test(upload_config, otlp_target_follows_the_exporter_spec) {
  clear_env();
  setenv(AT_ENV_OTLP_ENDPOINT, "http://collector:4318/", 1);
  setenv(AT_ENV_OTLP_HEADERS, "x-api-key=abc,x-tenant=t1", 1);
  struct upload_target *t;
  size_t n;
  char err[512];
  cr_assert_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), 0,
               "%s", err);
  cr_assert_eq(n, 1);
  cr_expect_eq(t[0].kind, UP_OTLP);
  cr_expect_str_eq(t[0].url, "http://collector:4318/v1/traces",
                   "ENDPOINT gets /v1/traces");
  cr_expect_str_eq(header(&t[0], "x-api-key"), "abc");
  cr_expect_str_eq(header(&t[0], "x-tenant"), "t1");
  cr_expect_eq(t[0].gzip, -1, "gzip when large, by default");
  upload_targets_free(t, n);
  setenv(AT_ENV_OTLP_TRACES_ENDPOINT, "http://tempo:4318/custom/path", 1);
  setenv(AT_ENV_OTLP_COMPRESSION, "none", 1);
  cr_assert_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), 0);
  cr_expect_str_eq(t[0].url, "http://tempo:4318/custom/path",
                   "TRACES_ENDPOINT is used as is");
  cr_expect_eq(t[0].gzip, 0);
  upload_targets_free(t, n);
  /* Langfuse's OTLP endpoint through the OTEL_ variables still gets the
   * ingestion version header. */
  setenv(AT_ENV_OTLP_TRACES_ENDPOINT,
         "https://cloud.langfuse.com/api/public/otel/v1/traces", 1);
  cr_assert_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), 0);
  cr_expect_str_eq(header(&t[0], "x-langfuse-ingestion-version"), "4");
  upload_targets_free(t, n);
  setenv(AT_ENV_OTLP_HEADERS, "broken", 1);
  cr_expect_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), -1);
  cr_expect(strstr(err, AT_ENV_OTLP_HEADERS), "%s", err);
  /* Both configured: both targets. */
  clear_env();
  setenv(AT_ENV_OTLP_ENDPOINT, "http://127.0.0.1:4318", 1);
  setenv(AT_ENV_LANGFUSE_PUBLIC_KEY, "pk", 1);
  setenv(AT_ENV_LANGFUSE_SECRET_KEY, "sk", 1);
  cr_assert_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), 0);
  cr_expect_eq(n, 2);
  upload_targets_free(t, n);
  cr_expect_eq(upload_kind_parse("langfuse-legacy"), UP_LEGACY);
  cr_expect_eq(upload_kind_parse("otlp"), UP_OTLP);
  cr_expect_eq(upload_kind_parse("zipkin"), -1);
  /* Credentials in the URL are never part of the name (stats prints it). */
  clear_env();
  setenv(AT_ENV_OTLP_TRACES_ENDPOINT,
         "https://user:s3cret@otel.example:4318/v1/traces?token=abc", 1);
  cr_assert_eq(upload_targets_from_env(NULL, 0, &t, &n, err, sizeof err), 0);
  cr_expect_str_eq(t[0].name,
                   "otlp https://***@otel.example:4318/v1/traces?***");
  cr_expect_str_eq(t[0].url,
                   "https://user:s3cret@otel.example:4318/v1/traces?token=abc",
                   "sent as given");
  upload_targets_free(t, n);
}

/* ---- the credentials file ---- */

static char *write_file(const char *dir, const char *name, const char *text,
                        mode_t mode) {
  char *p = malloc(strlen(dir) + strlen(name) + 2);
  sprintf(p, "%s/%s", dir, name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  cr_assert_eq(chmod(p, mode), 0);
  return p;
}

Test(upload_config, credentials_file_must_be_private) {
  clear_env();
  char *dir = th_tmpdir();
  char *p = write_file(dir, "upload.env",
                       "# Langfuse\n"
                       "export LANGFUSE_PUBLIC_KEY=pk-from-file\n"
                       "LANGFUSE_SECRET_KEY=\"sk-from-file\"\n"
                       "\n"
                       "LANGFUSE_HOST='http://127.0.0.1:9'\n",
                       0644);
  char err[512];
  cr_expect_eq(upload_config_load(p, err, sizeof err), -1);
  cr_expect(strstr(err, "chmod 600") && strstr(err, "0644"), "%s", err);
  cr_expect_null(getenv(AT_ENV_LANGFUSE_PUBLIC_KEY), "nothing was read");
  cr_assert_eq(chmod(p, 0600), 0);
  setenv(AT_ENV_LANGFUSE_HOST, "http://from-env", 1);
  cr_assert_eq(upload_config_load(p, err, sizeof err), 0, "%s", err);
  cr_expect_str_eq(getenv(AT_ENV_LANGFUSE_PUBLIC_KEY), "pk-from-file");
  cr_expect_str_eq(getenv(AT_ENV_LANGFUSE_SECRET_KEY), "sk-from-file",
                   "quotes removed");
  cr_expect_str_eq(getenv(AT_ENV_LANGFUSE_HOST), "http://from-env",
                   "the environment wins");
  /* The default place: $XDG_CONFIG_HOME/autotrace/upload.env. */
  clear_env();
  setenv("XDG_CONFIG_HOME", dir, 1);
  cr_expect_eq(upload_config_load(NULL, err, sizeof err), 1, "none there");
  char sub[256];
  snprintf(sub, sizeof sub, "%s/autotrace", dir);
  mkdir(sub, 0700);
  free(write_file(sub, "upload.env", "OTEL_EXPORTER_OTLP_ENDPOINT=http://x\n",
                  0600));
  cr_expect_eq(upload_config_load(NULL, err, sizeof err), 0);
  cr_expect_str_eq(getenv(AT_ENV_OTLP_ENDPOINT), "http://x");
  free(write_file(dir, "bad.env", "not a pair\n", 0600));
  char bad[256];
  snprintf(bad, sizeof bad, "%s/bad.env", dir);
  cr_expect_eq(upload_config_load(bad, err, sizeof err), -1);
  cr_expect(strstr(err, ":1:"), "%s", err);
  snprintf(bad, sizeof bad, "%s/missing.env", dir);
  cr_expect_eq(upload_config_load(bad, err, sizeof err), -1,
               "an explicit path must exist");
  free(p);
  free(dir);
}

/* ---- answers -> decisions ---- */

static struct upload_decision decide(long status, const char *body,
                                     int64_t retry_after, unsigned attempt,
                                     size_t n) {
  struct upload_answer a = {status,
                            status == 0,
                            status == 0 ? "reset" : NULL,
                            body,
                            body ? strlen(body) : 0,
                            retry_after,
                            attempt > 1 && status >= 500 ? attempt - 1 : 0};
  struct upload_decision d;
  upload_decide(&a, UP_OTLP, attempt, n, &d);
  return d;
}

Test(upload_send, answers_map_to_the_otlp_rules) {
  struct upload_decision d = decide(200, "{}", -1, 1, 10);
  cr_expect_eq(d.verdict, UV_OK);
  cr_expect_eq(d.rejected, 0);
  d = decide(200,
             "{\"partialSuccess\":{\"rejectedSpans\":\"3\","
             "\"errorMessage\":\"too old\"}}",
             -1, 1, 10);
  cr_expect_eq(d.verdict, UV_OK, "partial success is final: never resent");
  cr_expect_eq(d.rejected, 3);
  cr_expect_str_eq(d.message, "too old");
  d = decide(202, "{\"id\":\"job\"}", -1, 1, 10);
  cr_expect_eq(d.verdict, UV_OK, "Langfuse: any 2xx");
  static const long retry[] = {429, 502, 503, 504};
  for (size_t i = 0; i < 4; i++) {
    d = decide(retry[i], "", -1, 1, 10);
    cr_expect_eq(d.verdict, UV_RETRY, "%ld", retry[i]);
    cr_expect(d.delay_ms >= 500 && d.delay_ms <= 1000, "%ld", d.delay_ms);
  }
  d = decide(429, "", 7000, 1, 10);
  cr_expect_eq(d.delay_ms, 7000, "Retry-After is honoured");
  d = decide(503, "", 0, 1, 10);
  cr_expect_geq(d.delay_ms, 250, "never a tight loop");
  d = decide(0, NULL, -1, 3, 10);
  cr_expect_eq(d.verdict, UV_RETRY, "no answer: retried");
  cr_expect(strstr(d.message, "reset"), "%s", d.message);
  d = decide(400, "{\"code\":3,\"message\":\"bad span id\"}", -1, 1, 10);
  cr_expect_eq(d.verdict, UV_PARK);
  cr_expect_str_eq(d.message, "HTTP 400: bad span id");
  d = decide(401, "Unauthorized\r\n", -1, 1, 10);
  cr_expect_eq(d.verdict, UV_PARK);
  cr_expect_str_eq(d.message, "HTTP 401: Unauthorized");
  d = decide(413, "", -1, 1, 10);
  cr_expect_eq(d.verdict, UV_SPLIT);
  d = decide(413, "", -1, 1, 1);
  cr_expect_eq(d.verdict, UV_PARK, "one record cannot be split");
  d = decide(500, "", -1, 1, 10);
  cr_expect_eq(d.verdict, UV_RETRY);
  d = decide(500, "", -1, AT_UPLOAD_5XX_ATTEMPTS, 10);
  cr_expect_eq(d.verdict, UV_PARK, "after repeated 500s");
  struct upload_answer other = {500, 0, NULL, "", 0, -1, 0};
  upload_decide(&other, UP_OTLP, 7, 10, &d);
  cr_expect_eq(d.verdict, UV_RETRY,
               "other failures before do not count towards the 500 limit");
  d = decide(302, "", -1, 1, 10);
  cr_expect_eq(d.verdict, UV_PARK, "redirects are not followed");
}

Test(upload_send, backoff_grows_with_jitter_and_is_capped) {
  for (unsigned a = 1; a < 12; a++) {
    int64_t lo = upload_backoff_ms(a, 0.0), hi = upload_backoff_ms(a, 0.999);
    int64_t full = AT_UPLOAD_RETRY_BASE_MS;
    for (unsigned i = 1; i < a; i++)
      full =
          full * 2 > AT_UPLOAD_RETRY_CAP_MS ? AT_UPLOAD_RETRY_CAP_MS : full * 2;
    cr_expect_eq(lo, full / 2, "attempt %u", a);
    cr_expect(hi <= full && hi > full * 9 / 10, "attempt %u: %ld", a, hi);
  }
  cr_expect_leq(upload_backoff_ms(1000, 0.999), AT_UPLOAD_RETRY_CAP_MS);
}

Test(upload_send, server_messages_are_printable_and_cut) {
  char out[16];
  upload_server_message("{\"error\":{\"message\":\"quota\"}}", 29, out,
                        sizeof out);
  cr_expect_str_eq(out, "quota");
  upload_server_message("line1\nline2\x01", 12, out, sizeof out);
  cr_expect_str_eq(out, "line1 line2");
  upload_server_message("0123456789abcdefghijkl", 22, out, sizeof out);
  cr_expect_eq(strlen(out), 15);
  upload_server_message("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9\xc3\xa9",
                        18, out, sizeof out);
  cr_expect_eq(strlen(out) % 2, 0, "not cut inside a UTF-8 sequence");
}
