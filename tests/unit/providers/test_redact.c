/* redact: secrets must never survive into a record. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/redact.h"

static void expect_url(const char *in, const char *want) {
  char *got = at_redact_url(in);
  cr_assert_not_null(got, "%s", in);
  cr_expect_str_eq(got, want, "redact(%s)", in);
  free(got);
}

Test(redact_url, query_secrets_replaced) {
  expect_url("https://generativelanguage.googleapis.com/v1beta/models/"
             "g:generateContent?key=AIzaSECRET&alt=sse",
             "https://generativelanguage.googleapis.com/v1beta/models/"
             "g:generateContent?key=REDACTED&alt=sse");
  expect_url("https://h/p?api_key=s1&API-KEY=s2&apikey=s3&access_token=s4"
             "&token=s5&sig=s6&signature=s7&X-Amz-Signature=s8"
             "&X-Amz-Credential=s9&X-Amz-Security-Token=s10&keep=1",
             "https://h/p?api_key=REDACTED&API-KEY=REDACTED&apikey=REDACTED"
             "&access_token=REDACTED&token=REDACTED&sig=REDACTED"
             "&signature=REDACTED&X-Amz-Signature=REDACTED"
             "&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED"
             "&keep=1");
  /* percent-encoded key names are recognised */
  expect_url("https://h/p?api%5Fkey=s1&k%65y=s2",
             "https://h/p?api%5Fkey=REDACTED&k%65y=REDACTED");
  /* Azure's api-version stays */
  expect_url("https://r.openai.azure.com/openai/deployments/d/chat/"
             "completions?api-version=2024-02-01",
             "https://r.openai.azure.com/openai/deployments/d/chat/"
             "completions?api-version=2024-02-01");
  /* a secret name with no value, empty values, repeated '&' */
  expect_url("https://h/?key&&token=&x=", "https://h/?key&&token=REDACTED&x=");
}

Test(redact_url, userinfo_and_fragment_removed) {
  expect_url("https://alice:hunter2@proxy.example:8443/v1/chat/completions",
             "https://proxy.example:8443/v1/chat/completions");
  expect_url("https://tok@h/x?y=1#access_token=abc", "https://h/x?y=1");
  expect_url("http://[::1]:8000/v1/x", "http://[::1]:8000/v1/x");
  expect_url("h.example/v1?token=t", "h.example/v1?token=REDACTED");
}

Test(redact_url, unsplittable_urls_still_redacted) {
  expect_url("ftp://u:p@h/x?token=t#frag", "ftp://u:p@h/x?token=REDACTED");
  expect_url("https:///nohost?key=k", "https:///nohost?key=REDACTED");
  cr_expect_null(at_redact_url(NULL));
}

Test(redact_url, long_query_no_overflow) {
  /* many tiny secret parameters grow the URL the most */
  size_t n = 4000;
  char *url = malloc(16 + n * 6 + 1);
  strcpy(url, "https://h/?");
  char *end = url + strlen(url);
  for (size_t i = 0; i < n; i++)
    end = stpcpy(end, i ? "&key=1" : "key=1");
  char *got = at_redact_url(url);
  cr_assert_not_null(got);
  cr_expect_null(strstr(got, "=1"));
  cr_expect(strstr(got, "key=REDACTED&key=REDACTED") != NULL);
  cr_expect_eq(strlen(got), strlen(url) + n * 7);
  free(got);
  free(url);
}

Test(redact_headers, secrets_replaced_names_lowercased) {
  const char *h = "Authorization: Bearer sk-live-AAAA\r\n"
                  "X-Api-Key: sk-ant-BBBB\r\n"
                  "api-key: azure-CCCC\r\n"
                  "x-goog-api-key: goog-DDDD\r\n"
                  "Cookie: session=EEEE\r\n"
                  "Proxy-Authorization: Basic FFFF\r\n"
                  "X-Amz-Security-Token: GGGG\r\n"
                  "X-Amz-Content-Sha256: abcdef\r\n"
                  "X-Custom-Token: HHHH\r\n"
                  "My-Secret-Header: IIII\r\n"
                  "X-Goog-Signature: JJJJ\r\n"
                  "Aws-Credential: KKKK\r\n"
                  "Openai-Apikey: LLLL\r\n"
                  "Content-Type: application/json\r\n"
                  "User-Agent: OpenAI/Python 1.0\r\n";
  cJSON *o = at_redact_headers(h, strlen(h));
  cr_assert_not_null(o);
  const char *secret[] = {
      "authorization",        "x-api-key",      "api-key",
      "x-goog-api-key",       "cookie",         "proxy-authorization",
      "x-amz-security-token", "x-custom-token", "my-secret-header",
      "x-goog-signature",     "aws-credential", "openai-apikey"};
  for (size_t i = 0; i < sizeof secret / sizeof *secret; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, secret[i]);
    cr_assert(cJSON_IsString(v), "%s missing", secret[i]);
    cr_expect_str_eq(v->valuestring, "[REDACTED]", "%s", secret[i]);
  }
  cr_expect_str_eq(
      cJSON_GetObjectItemCaseSensitive(o, "x-amz-content-sha256")->valuestring,
      "abcdef");
  cr_expect_str_eq(
      cJSON_GetObjectItemCaseSensitive(o, "content-type")->valuestring,
      "application/json");
  char *text = cJSON_PrintUnformatted(o);
  for (const char *s = "AAAA\0BBBB\0CCCC\0DDDD\0EEEE\0FFFF\0GGGG\0HHHH\0IIII\0"
                       "JJJJ\0KKKK\0LLLL\0";
       *s; s += strlen(s) + 1)
    cr_expect_null(strstr(text, s), "secret %s survived: %s", s, text);
  free(text);
  cJSON_Delete(o);
}

Test(redact_headers, last_block_only_and_rate_limits_kept) {
  const char *h = "HTTP/1.1 100 Continue\r\n\r\n"
                  "HTTP/1.1 200 OK\r\n"
                  "content-type: text/event-stream\r\n"
                  "x-ratelimit-remaining-tokens: 29000\r\n"
                  "x-ratelimit-reset-tokens: 6m0s\r\n"
                  "anthropic-ratelimit-tokens-reset: 2026-11-21T06:30:00Z\r\n"
                  "x-ratelimit-token-note: sk-abc\r\n"
                  "set-cookie: a=1\r\n"
                  "set-cookie: b=2\r\n"
                  "via: 1.1 a\r\n"
                  "Via: 1.1 b\r\n"
                  "bad header: x\r\n"
                  " folded: continuation\r\n"
                  "empty:\r\n"
                  "\r\n";
  cJSON *o = at_redact_headers(h, strlen(h));
  cr_assert_not_null(o);
  cr_expect_str_eq(cJSON_GetObjectItem(o, "content-type")->valuestring,
                   "text/event-stream");
  cr_expect_str_eq(
      cJSON_GetObjectItem(o, "x-ratelimit-remaining-tokens")->valuestring,
      "29000");
  cr_expect_str_eq(
      cJSON_GetObjectItem(o, "x-ratelimit-reset-tokens")->valuestring, "6m0s");
  cr_expect_str_eq(
      cJSON_GetObjectItem(o, "anthropic-ratelimit-tokens-reset")->valuestring,
      "2026-11-21T06:30:00Z");
  cr_expect_str_eq(
      cJSON_GetObjectItem(o, "x-ratelimit-token-note")->valuestring,
      "[REDACTED]");
  cr_expect_str_eq(cJSON_GetObjectItem(o, "set-cookie")->valuestring,
                   "[REDACTED]");
  cr_expect_str_eq(cJSON_GetObjectItem(o, "via")->valuestring, "1.1 a, 1.1 b");
  cr_expect_null(cJSON_GetObjectItem(o, "bad header"));
  cr_expect_null(cJSON_GetObjectItem(o, " folded"));
  cr_expect_str_eq(cJSON_GetObjectItem(o, "empty")->valuestring, "");
  cr_expect_eq(cJSON_GetArraySize(o), 8);
  cJSON_Delete(o);
}

Test(redact_headers, interim_block_not_used) {
  const char *h = "HTTP/1.1 301 Moved\r\nLocation: https://a/\r\n"
                  "X-Old: 1\r\n\r\nHTTP/2 200\r\nX-New: 2\r\n";
  cJSON *o = at_redact_headers(h, strlen(h));
  cr_expect_null(cJSON_GetObjectItem(o, "x-old"));
  cr_expect_null(cJSON_GetObjectItem(o, "location"));
  cr_expect_str_eq(cJSON_GetObjectItem(o, "x-new")->valuestring, "2");
  cJSON_Delete(o);
}

Test(redact_headers, binary_and_huge_values_bounded) {
  size_t n = 20000;
  char *h = malloc(n + 64);
  strcpy(h, "X-Big: ");
  memset(h + 7, 'v', n);
  strcpy(h + 7 + n, "\r\nX-Bin: \xff\xfe\x01ok\r\n");
  cJSON *o = at_redact_headers(h, strlen(h));
  cr_expect_eq(strlen(cJSON_GetObjectItem(o, "x-big")->valuestring), 8192);
  cr_expect_str_eq(cJSON_GetObjectItem(o, "x-bin")->valuestring, "?? ok");
  cJSON_Delete(o);
  free(h);
  /* no text at all */
  o = at_redact_headers(NULL, 0);
  cr_expect_eq(cJSON_GetArraySize(o), 0);
  cJSON_Delete(o);
  /* a header count cap */
  char *many = malloc(400 * 16);
  many[0] = '\0';
  for (int i = 0; i < 400; i++)
    sprintf(many + strlen(many), "h%d: v\r\n", i);
  o = at_redact_headers(many, strlen(many));
  cr_expect_eq(cJSON_GetArraySize(o), 256);
  cJSON_Delete(o);
  free(many);
}

Test(redact_names, rules) {
  cr_expect(at_redact_header_is_secret("AUTHORIZATION", 13, "x", 1));
  cr_expect(at_redact_header_is_secret("x-refresh-token", 15, "1", 1));
  cr_expect(!at_redact_header_is_secret("content-length", 14, "1", 1));
  cr_expect(
      !at_redact_header_is_secret("x-ratelimit-limit-tokens", 24, "30000", 5));
  cr_expect(at_redact_header_is_secret("x-ratelimit-limit-tokens", 24,
                                       "sk-proj-123", 11));
  cr_expect(at_redact_query_key_is_secret("Key", 3));
  cr_expect(at_redact_query_key_is_secret("client_secret", 13));
  cr_expect(!at_redact_query_key_is_secret("keys", 4));
  cr_expect(!at_redact_query_key_is_secret("api-version", 11));
}

/* The rules as first written (ten strstr() calls over a lowercased copy):
 * the single-pass matcher that replaced them must agree on every name. */
/* Lowercase s into buf (256 bytes: the names generated below are
 * shorter); 1 when it is one of the exact names. */
static int ref_lower_exact(const char *s, char *buf, const char *const *exact) {
  size_t len = strlen(s);
  for (size_t i = 0; i <= len; i++)
    buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  for (size_t i = 0; exact[i]; i++)
    if (!strcmp(buf, exact[i]))
      return 1;
  return 0;
}

static int ref_contains(const char *s, const char *const *list) {
  for (size_t i = 0; list[i]; i++)
    if (strstr(s, list[i]))
      return 1;
  return 0;
}

static int ref_header_secret(const char *name, const char *value) {
  static const char *const exact[] = {
      "authorization", "proxy-authorization",  "x-api-key",
      "api-key",       "x-goog-api-key",       "cookie",
      "set-cookie",    "x-amz-security-token", NULL};
  static const char *const parts[] = {"api-key",    "apikey",   "api_key",
                                      "token",      "secret",   "signature",
                                      "credential", "password", "authorization",
                                      "session",    NULL};
  char n[256];
  if (ref_lower_exact(name, n, exact))
    return 1;
  if (!ref_contains(n, parts))
    return 0;
  if (strstr(n, "ratelimit") || strstr(n, "token-count")) {
    int harmless = value[0] != '\0';
    for (const char *v = value; *v; v++)
      if (!strchr("0123456789.:-+ TZmsh", *v))
        harmless = 0;
    if (harmless)
      return 0;
  }
  return 1;
}

static int ref_query_secret(const char *key) {
  static const char *const exact[] = {
      "key", "sig", "auth", "code", "x-amz-security-token", NULL};
  static const char *const parts[] = {
      "api_key",  "api-key",   "apikey",     "token",         "secret",
      "password", "signature", "credential", "authorization", NULL};
  char k[256];
  return ref_lower_exact(key, k, exact) || ref_contains(k, parts);
}

Test(redact_names, single_pass_matches_the_word_list) {
  /* Names built from fragments of the words (and their near misses), in
   * both cases, so that partial matches at every offset are tried. */
  static const char *const frags[] = {"api",       "-key",
                                      "_key",      "key",
                                      "apikey",    "api-k",
                                      "tok",       "token",
                                      "en",        "secret",
                                      "secre",     "t",
                                      "sign",      "signature",
                                      "ature",     "credential",
                                      "cred",      "password",
                                      "pass",      "word",
                                      "auth",      "authorization",
                                      "ization",   "session",
                                      "sess",      "ion",
                                      "x-",        "-",
                                      "ratelimit", "token-count",
                                      "count",     "Cookie",
                                      "SET-",      "code",
                                      "sig",       "a",
                                      "s",         "c",
                                      "p",         "X-Goog-Api-Key",
                                      "proxy-",    "PROXY-"};
  const size_t nf = sizeof frags / sizeof frags[0];
  static const char *const values[] = {"30000", "6m0s", "sk-live-1", ""};
  unsigned seed = 12345;
  for (int round = 0; round < 20000; round++) {
    char name[200] = "";
    int parts = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
    for (int p = 0; p < parts; p++) {
      seed = seed * 1103515245u + 12345u;
      strcat(name, frags[(seed >> 16) % nf]);
    }
    seed = seed * 1103515245u + 12345u;
    const char *v = values[(seed >> 16) % 4];
    cr_assert_eq(at_redact_header_is_secret(name, strlen(name), v, strlen(v)),
                 ref_header_secret(name, v), "header %s: %s", name, v);
    cr_assert_eq(at_redact_query_key_is_secret(name, strlen(name)),
                 ref_query_secret(name), "query key %s", name);
  }
}
