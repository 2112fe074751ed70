/* prices: model name matching, cost per bucket, the user's price file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "providers/prices.h"

static const char *entry(const char *model) {
  const struct at_price *p = at_price_lookup(model, NULL);
  return p ? p->name : NULL;
}

#define EXPECT_ENTRY(model, want)                                              \
  do {                                                                         \
    const char *got_ = entry(model);                                           \
    cr_expect(got_ && !strcmp(got_, want), "%s -> %s, want %s", model,         \
              got_ ? got_ : "(none)", want);                                   \
  } while (0)

#define EXPECT_NO_ENTRY(model)                                                 \
  cr_expect_null(entry(model), "%s should have no price", model)

Test(prices, builtin_matching) {
  EXPECT_ENTRY("gpt-4o", "gpt-4o");
  EXPECT_ENTRY("gpt-4o-mini", "gpt-4o-mini");
  EXPECT_ENTRY("gpt-4o-mini-2024-07-18", "gpt-4o-mini");
  EXPECT_ENTRY("gpt-4o-2024-08-06", "gpt-4o");
  EXPECT_ENTRY("gpt-4o-2024-05-13", "gpt-4o-2024-05-13");
  EXPECT_ENTRY("GPT-4.1-Nano-2025-04-14", "gpt-4.1-nano");
  EXPECT_ENTRY("gpt-4.1", "gpt-4.1");
  EXPECT_ENTRY("gpt-5", "gpt-5");
  EXPECT_ENTRY("gpt-5-2025-08-07", "gpt-5");
  EXPECT_ENTRY("gpt-5-mini-2025-08-07", "gpt-5-mini");
  EXPECT_ENTRY("gpt-5.2-2025-12-11", "gpt-5.2");
  EXPECT_ENTRY("o1", "o1");
  EXPECT_ENTRY("o3-mini-2025-01-31", "o3-mini");
  EXPECT_ENTRY("o4-mini-2025-04-16", "o4-mini");
  EXPECT_ENTRY("gpt-3.5-turbo-0125", "gpt-3.5-turbo");
  EXPECT_ENTRY("gpt-3.5-turbo-1106", "gpt-3.5-turbo-1106");
  EXPECT_ENTRY("text-embedding-3-small", "text-embedding-3-small");
  EXPECT_ENTRY("text-embedding-ada-002", "text-embedding-ada-002");
  EXPECT_ENTRY("openai/gpt-4o-mini", "gpt-4o-mini");
  EXPECT_ENTRY("claude-3-haiku-20240307", "claude-3-haiku");
  EXPECT_ENTRY("claude-3-5-sonnet-20241022", "claude-3-5-sonnet");
  EXPECT_ENTRY("claude-3-5-sonnet-latest", "claude-3-5-sonnet");
  EXPECT_ENTRY("claude-3-7-sonnet-20250219", "claude-3-7-sonnet");
  EXPECT_ENTRY("claude-3-5-haiku-20241022", "claude-3-5-haiku");
  EXPECT_ENTRY("claude-sonnet-4-5", "claude-sonnet-4-5");
  EXPECT_ENTRY("claude-sonnet-4-5-20250929", "claude-sonnet-4-5");
  EXPECT_ENTRY("claude-sonnet-4-20250514", "claude-sonnet-4");
  EXPECT_ENTRY("claude-opus-4-1-20250805", "claude-opus-4-1");
  EXPECT_ENTRY("claude-opus-4-5-20251101", "claude-opus-4-5");
  EXPECT_ENTRY("claude-haiku-4-5-20251001", "claude-haiku-4-5");
  EXPECT_ENTRY("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5");
  EXPECT_ENTRY("us.anthropic.claude-3-5-sonnet-20241022-v2:0",
               "claude-3-5-sonnet");
  EXPECT_ENTRY("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku");
  EXPECT_ENTRY("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet");
  EXPECT_ENTRY("gpt-4o-audio-preview-2024-12-17", "gpt-4o-audio-preview");
  EXPECT_ENTRY("o1-preview-2024-09-12", "o1-preview");
  /* a suffix that is not a date or version does not borrow a price */
  EXPECT_NO_ENTRY("gpt-4o-minimal");
  EXPECT_NO_ENTRY("gpt-4o-mini-tts");
  EXPECT_NO_ENTRY("gpt-4o-realtime-preview");
  EXPECT_NO_ENTRY("o3-deep-research");
  EXPECT_NO_ENTRY("gpt-5-10");
  EXPECT_NO_ENTRY("claude-sonnet-4-7");
  EXPECT_NO_ENTRY("ft:gpt-4o-mini-2024-07-18:org::abc");
  EXPECT_NO_ENTRY("llama3-8b-8192");
  EXPECT_NO_ENTRY("");
  EXPECT_NO_ENTRY(NULL);
}

static cJSON *details(const char *json) {
  cJSON *d = cJSON_Parse(json);
  cr_assert_not_null(d);
  return d;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  cr_assert(cJSON_IsNumber(v), "%s missing", k);
  return v->valuedouble;
}

Test(prices, cost_per_bucket) {
  cJSON *d = details("{\"input\":176,\"input_cached_tokens\":1024,"
                     "\"output\":16,\"output_reasoning_tokens\":64,"
                     "\"total\":1280}");
  cJSON *cost = NULL;
  char src[128];
  cr_assert_eq(
      at_price_cost("gpt-4o-mini-2024-07-18", d, &cost, src, sizeof src), 1);
  cr_expect_str_eq(src, "builtin:gpt-4o-mini@2026-08-22");
  cr_expect_float_eq(num(cost, "input"), 176 * 0.15e-6, 1e-15);
  cr_expect_float_eq(num(cost, "input_cached_tokens"), 1024 * 0.075e-6, 1e-15);
  cr_expect_float_eq(num(cost, "output"), 16 * 0.6e-6, 1e-15);
  cr_expect_float_eq(num(cost, "output_reasoning_tokens"), 64 * 0.6e-6, 1e-15);
  cr_expect_float_eq(num(cost, "total"),
                     (176 * 0.15 + 1024 * 0.075 + 80 * 0.6) * 1e-6, 1e-15);
  /* printed without binary noise */
  char *txt = cJSON_PrintUnformatted(cost);
  cr_expect(strstr(txt, "\"input\":2.64e-05") != NULL, "%s", txt);
  free(txt);
  cJSON_Delete(cost);
  cJSON_Delete(d);
}

Test(prices, anthropic_cache_buckets) {
  cJSON *d = details("{\"input\":50,\"input_cached_tokens\":1000,"
                     "\"input_cache_creation\":200,\"output\":90,"
                     "\"total\":1340}");
  cJSON *cost = NULL;
  char src[128];
  cr_assert_eq(
      at_price_cost("claude-sonnet-4-5-20250929", d, &cost, src, sizeof src),
      1);
  cr_expect_float_eq(num(cost, "input"), 50 * 3e-6, 1e-15);
  cr_expect_float_eq(num(cost, "input_cached_tokens"), 1000 * 0.3e-6, 1e-15);
  cr_expect_float_eq(num(cost, "input_cache_creation"), 200 * 3.75e-6, 1e-15);
  cr_expect_float_eq(num(cost, "output"), 90 * 15e-6, 1e-15);
  cr_expect_float_eq(num(cost, "total"), (150 + 300 + 750 + 1350) * 1e-6,
                     1e-15);
  cJSON_Delete(cost);
  cJSON_Delete(d);
}

Test(prices, missing_cached_price_falls_back_to_input) {
  cJSON *d = details("{\"input\":10,\"input_cached_tokens\":10,\"total\":20}");
  cJSON *cost = NULL;
  cr_assert_eq(at_price_cost("gpt-3.5-turbo", d, &cost, NULL, 0), 1);
  cr_expect_float_eq(num(cost, "input_cached_tokens"), 10 * 0.5e-6, 1e-15);
  cJSON_Delete(cost);
  cJSON_Delete(d);
}

Test(prices, no_price_or_no_buckets_gives_nothing) {
  cJSON *d = details("{\"input\":10,\"output\":5,\"total\":15}");
  cJSON *cost = (cJSON *)1;
  cr_expect_eq(at_price_cost("my-local-llama", d, &cost, NULL, 0), 0);
  cr_expect_null(cost);
  cJSON *empty = details("{\"total\":15}");
  cr_expect_eq(at_price_cost("gpt-4o", empty, &cost, NULL, 0), 0);
  cr_expect_null(cost);
  cr_expect_eq(at_price_cost("gpt-4o", NULL, &cost, NULL, 0), 0);
  /* embeddings have no output price: output tokens cost nothing */
  cJSON *emb = details("{\"input\":1000000,\"output\":3,\"total\":1000003}");
  cr_assert_eq(at_price_cost("text-embedding-3-large", emb, &cost, NULL, 0), 1);
  cr_expect_float_eq(num(cost, "input"), 0.13, 1e-12);
  cr_expect_null(cJSON_GetObjectItem(cost, "output"));
  cr_expect_float_eq(num(cost, "total"), 0.13, 1e-12);
  cJSON_Delete(cost);
  cJSON_Delete(emb);
  cJSON_Delete(empty);
  cJSON_Delete(d);
}

static char *write_tmp(const char *content) {
  char *path = strdup("/tmp/autotrace-prices-XXXXXX");
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
  close(fd);
  return path;
}

Test(prices, file_overrides_and_adds) {
  char *path = write_tmp(
      "[{\"model\":\"gpt-4o-mini\",\"input\":1e-6,\"output\":2e-6,"
      "\"date\":\"2026-11-01\"},"
      " {\"match\":\"acme-\",\"input\":0.5,\"output\":1.5,\"per\":1000000},"
      " {\"match\":\"acme-big-\",\"input\":5e-6,\"output\":6e-6,"
      "\"input_cached\":1e-6,\"input_cache_creation\":7e-6,"
      "\"output_reasoning\":9e-6}]");
  char err[256];
  cr_assert_eq(at_prices_load_file(path, err, sizeof err), 3, "%s", err);
  cr_expect_null(at_prices_error());
  int from_file = 0;
  const struct at_price *p =
      at_price_lookup("gpt-4o-mini-2024-07-18", &from_file);
  cr_assert_not_null(p);
  cr_expect_eq(from_file, 1);
  cr_expect_float_eq(p->input, 1e-6, 1e-18);
  cr_expect_str_eq(p->date, "2026-11-01");
  p = at_price_lookup("ACME-small-v3", &from_file);
  cr_assert_not_null(p);
  cr_expect_float_eq(p->input, 0.5e-6, 1e-18); /* scaled by "per" */
  cr_expect_str_eq(at_price_lookup("acme-big-2", NULL)->name, "acme-big-");
  /* the built-in table still answers for the rest */
  p = at_price_lookup("gpt-4o", &from_file);
  cr_expect_eq(from_file, 0);
  cr_expect_str_eq(p->name, "gpt-4o");

  cJSON *d = details("{\"input\":1,\"input_cached_tokens\":1,"
                     "\"input_cache_creation\":1,\"output\":1,"
                     "\"output_reasoning_tokens\":1,\"total\":5}");
  cJSON *cost;
  char src[1200];
  cr_assert_eq(at_price_cost("acme-big-7", d, &cost, src, sizeof src), 1);
  char want[1200];
  snprintf(want, sizeof want, "file:%s#acme-big-", path);
  cr_expect_str_eq(src, want);
  cr_expect_float_eq(num(cost, "input_cache_creation"), 7e-6, 1e-15);
  cr_expect_float_eq(num(cost, "output_reasoning_tokens"), 9e-6, 1e-15);
  cr_expect_float_eq(num(cost, "total"), 28e-6, 1e-15);
  cJSON_Delete(cost);
  cJSON_Delete(d);
  unlink(path);
  free(path);
}

/* Lookups are remembered per thread (the same model is asked for again
 * and again): loading or dropping a price file must be seen at once, by
 * the lookup and by the cost's source. */
Test(prices, remembered_lookup_follows_the_file) {
  int from_file = -1;
  const struct at_price *p = at_price_lookup("gpt-4o-mini", &from_file);
  cr_assert_not_null(p);
  cr_expect_eq(from_file, 0);
  double builtin = p->input;
  cJSON *d = details("{\"input\":1000000,\"output\":0}");
  cJSON *cost;
  char src[1200];
  cr_assert_eq(at_price_cost("gpt-4o-mini", d, &cost, src, sizeof src), 1);
  cr_expect(strncmp(src, "builtin:", 8) == 0, "%s", src);
  cJSON_Delete(cost);

  char *path = write_tmp("[{\"model\":\"gpt-4o-mini\",\"input\":3e-6,"
                         "\"output\":4e-6}]");
  char err[256];
  cr_assert_eq(at_prices_load_file(path, err, sizeof err), 1, "%s", err);
  p = at_price_lookup("gpt-4o-mini", &from_file);
  cr_assert_not_null(p);
  cr_expect_eq(from_file, 1);
  cr_expect_float_eq(p->input, 3e-6, 1e-18);
  cr_assert_eq(at_price_cost("gpt-4o-mini", d, &cost, src, sizeof src), 1);
  char want[1200];
  snprintf(want, sizeof want, "file:%s#gpt-4o-mini", path);
  cr_expect_str_eq(src, want);
  cr_expect_float_eq(num(cost, "input"), 3.0, 1e-9);
  cJSON_Delete(cost);

  at_prices_reset();
  unsetenv("AUTOTRACE_PRICES");
  p = at_price_lookup("gpt-4o-mini", &from_file);
  cr_assert_not_null(p);
  cr_expect_eq(from_file, 0);
  cr_expect_float_eq(p->input, builtin, 1e-18);
  cr_assert_eq(at_price_cost("gpt-4o-mini", d, &cost, src, sizeof src), 1);
  cr_expect(strncmp(src, "builtin:", 8) == 0, "%s", src);
  cJSON_Delete(cost);
  cJSON_Delete(d);
  unlink(path);
  free(path);
}

Test(prices, broken_files_reported_not_fatal) {
  char err[256];
  cr_expect_eq(at_prices_load_file("/nonexistent/prices.json", err, sizeof err),
               -1);
  cr_expect(strstr(err, "cannot open") != NULL, "%s", err);
  cr_expect(at_prices_error() != NULL);
  cr_expect_str_eq(entry("gpt-4o"), "gpt-4o"); /* built-ins still work */

  char *bad = write_tmp("{not json");
  cr_expect_eq(at_prices_load_file(bad, err, sizeof err), -1);
  cr_expect(strstr(err, "not valid JSON") != NULL, "%s", err);
  unlink(bad);
  free(bad);

  char *obj = write_tmp("{\"model\":\"x\"}");
  cr_expect_eq(at_prices_load_file(obj, err, sizeof err), -1);
  cr_expect(strstr(err, "array") != NULL, "%s", err);
  unlink(obj);
  free(obj);

  /* bad entries are skipped, good ones kept */
  char *mixed = write_tmp("[{\"model\":\"m1\",\"input\":-1},"
                          " {\"model\":\"m2\"},"
                          " {\"model\":\"m3\",\"match\":\"m\",\"input\":1},"
                          " {\"input\":1},"
                          " 42,"
                          " {\"model\":\"m4\",\"input\":\"cheap\"},"
                          " {\"model\":\"m5\",\"input\":1,\"per\":0},"
                          " {\"model\":\"m6\",\"input\":1,\"date\":7},"
                          " {\"model\":\"good\",\"output\":2e-6}]");
  cr_expect_eq(at_prices_load_file(mixed, err, sizeof err), -1);
  cr_expect(strstr(err, "entry 0") != NULL, "%s", err);
  cr_expect_str_eq(at_prices_error(), err);
  cr_expect_str_eq(entry("good"), "good");
  cr_expect_null(entry("m1"));
  cr_expect_null(entry("m2"));
  unlink(mixed);
  free(mixed);
}

Test(prices, lazy_load_from_environment) {
  char *path = write_tmp("[{\"model\":\"env-model\",\"input\":3e-6}]");
  setenv("AUTOTRACE_PRICES", path, 1);
  at_prices_reset();
  cr_expect_str_eq(entry("env-model"), "env-model");
  cr_expect_null(at_prices_error());
  unlink(path);
  free(path);
  setenv("AUTOTRACE_PRICES", "/nonexistent/p.json", 1);
  at_prices_reset();
  cr_expect_str_eq(entry("gpt-4o"), "gpt-4o");
  cr_expect(at_prices_error() != NULL);
  unsetenv("AUTOTRACE_PRICES");
  at_prices_reset();
  cr_expect_null(at_prices_error());
}
