/* prices: routing prefixes, provider-scoped entries, tiers (service tier,
 * long context), 1-hour cache writes, audio, and the precedence rules of
 * the price file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "providers/prices.h"

static const char *entry_for(const char *model, const char *provider) {
  const struct at_price *p = at_price_lookup_for(model, provider, NULL);
  return p ? p->name : NULL;
}

#define EXPECT_ENTRY_FOR(model, provider, want)                                \
  do {                                                                         \
    const char *got_ = entry_for(model, provider);                             \
    cr_expect(got_ && !strcmp(got_, want), "%s (%s) -> %s, want %s", model,    \
              provider ? provider : "any", got_ ? got_ : "(none)", want);      \
  } while (0)

#define EXPECT_NONE_FOR(model, provider)                                       \
  do {                                                                         \
    const char *got_ = entry_for(model, provider);                             \
    cr_expect_null(got_, "%s (%s) should have no price, got %s", model,        \
                   provider ? provider : "any", got_);                         \
  } while (0)

static cJSON *json(const char *text) {
  cJSON *j = cJSON_Parse(text);
  cr_assert_not_null(j, "bad test JSON: %s", text);
  return j;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  cr_assert(cJSON_IsNumber(v), "%s missing", k);
  return v->valuedouble;
}

/* Price `usage` for model with optional params/metadata (JSON text or
 * NULL); returns at_cost_compute's result. */
static int cost_of(const char *model, const char *provider, const char *usage,
                   const char *params, const char *meta, struct at_cost *c) {
  cJSON *u = json(usage);
  cJSON *p = params ? json(params) : NULL;
  cJSON *m = meta ? json(meta) : NULL;
  struct at_cost_query q = {model, provider, u, p, m};
  int r = at_cost_compute(&q, c);
  cJSON_Delete(u);
  cJSON_Delete(p);
  cJSON_Delete(m);
  return r;
}

Test(prices_match, routing_prefixes_and_spellings) {
  /* OpenRouter's vendor/model ids name the vendor's model */
  EXPECT_ENTRY_FOR("anthropic/claude-sonnet-4.5", NULL, "claude-sonnet-4-5");
  EXPECT_ENTRY_FOR("anthropic/claude-3.7-sonnet", NULL, "claude-3-7-sonnet");
  EXPECT_ENTRY_FOR("openai/gpt-4.1-mini", "openrouter", "gpt-4.1-mini");
  EXPECT_ENTRY_FOR("google/gemini-2.5-pro", NULL, "gemini-2.5-pro");
  EXPECT_ENTRY_FOR("x-ai/grok-4", NULL, "grok-4");
  EXPECT_ENTRY_FOR("deepseek/deepseek-v4-pro", NULL, "deepseek-v4-pro");
  /* Gemini API and Vertex AI resource names */
  EXPECT_ENTRY_FOR("models/gemini-2.5-flash", NULL, "gemini-2.5-flash");
  EXPECT_ENTRY_FOR("publishers/google/models/gemini-2.5-flash", NULL,
                   "gemini-2.5-flash");
  EXPECT_ENTRY_FOR("gemini-2.0-flash-001", NULL, "gemini-2.0-flash");
  EXPECT_ENTRY_FOR("gemini-2.0-flash@001", NULL, "gemini-2.0-flash");
  /* Bedrock: cross-region prefixes and ARNs */
  EXPECT_ENTRY_FOR("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", NULL,
                   "claude-3-7-sonnet");
  EXPECT_ENTRY_FOR("global.anthropic.claude-sonnet-4-5-20250929-v1:0", NULL,
                   "claude-sonnet-4-5");
  EXPECT_ENTRY_FOR("arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                   "us.anthropic.claude-sonnet-4-20250514-v1:0",
                   NULL, "claude-sonnet-4");
  /* Azure */
  EXPECT_ENTRY_FOR("gpt-35-turbo", NULL, "gpt-3.5-turbo");
  EXPECT_ENTRY_FOR("gpt-35-turbo-0125", NULL, "gpt-3.5-turbo");
  EXPECT_ENTRY_FOR("gpt-5.2_2025-12-11", NULL, "gpt-5.2");
  EXPECT_ENTRY_FOR("gpt-5.2-chat", NULL, "gpt-5.2-chat");
  EXPECT_ENTRY_FOR("gpt-5-chat-latest", NULL, "gpt-5-chat");
  /* version tokens of other vendors */
  EXPECT_ENTRY_FOR("command-r-plus-08-2024", NULL, "command-r-plus");
  EXPECT_ENTRY_FOR("command-a-03-2025", NULL, "command-a");
  EXPECT_ENTRY_FOR("mistral-large-latest", NULL, "mistral-large");
  EXPECT_ENTRY_FOR("mistral-large-2411", NULL, "mistral-large-2411");
  EXPECT_ENTRY_FOR("mistral-small-2506", NULL, "mistral-small");
  EXPECT_ENTRY_FOR("codestral-2501", NULL, "codestral");
  EXPECT_ENTRY_FOR("grok-4-0709", NULL, "grok-4");
  EXPECT_ENTRY_FOR("grok-4-fast", NULL, "grok-4-fast");
  EXPECT_ENTRY_FOR("claude-4-5-haiku@20251001", NULL, "claude-4-5-haiku");
  EXPECT_NONE_FOR("grok-4-heavy", NULL);
  EXPECT_NONE_FOR("meta-llama/llama-3.3-70b-instruct", "openrouter");
}

Test(prices_match, hosted_models_are_priced_for_their_host_only) {
  EXPECT_ENTRY_FOR("llama-3.3-70b-versatile", "groq",
                   "llama-3.3-70b-versatile");
  EXPECT_ENTRY_FOR("llama-3.3-70b-versatile", "Groq",
                   "llama-3.3-70b-versatile");
  EXPECT_NONE_FOR("llama-3.3-70b-versatile", NULL);
  EXPECT_NONE_FOR("llama-3.3-70b-versatile", "together");
  /* the same open model at two hosts */
  EXPECT_ENTRY_FOR("openai/gpt-oss-120b", "groq", "openai/gpt-oss-120b");
  EXPECT_ENTRY_FOR("gpt-oss-120b", "cerebras", "gpt-oss-120b");
  EXPECT_NONE_FOR("openai/gpt-oss-120b", "openrouter");
  EXPECT_ENTRY_FOR("meta-llama/Llama-3.3-70B-Instruct-Turbo", "together",
                   "meta-llama/llama-3.3-70b-instruct-turbo");
  EXPECT_ENTRY_FOR("accounts/fireworks/models/gpt-oss-20b", "fireworks",
                   "accounts/fireworks/models/gpt-oss-20b");
  /* a host still gets the vendors' models */
  EXPECT_ENTRY_FOR("gpt-4o-mini", "groq", "gpt-4o-mini");

  struct at_cost c;
  cr_assert_eq(cost_of("llama3-8b-8192", "groq",
                       "{\"input\":1000000,\"output\":1000000}", NULL, NULL,
                       &c),
               1);
  cr_expect_str_eq(c.source, "builtin:groq:llama3-8b-8192@2025-08-12");
  cr_expect_float_eq(num(c.details, "total"), 0.05 + 0.08, 1e-12);
  cJSON_Delete(c.details);
}

Test(prices_tiers, openai_service_tier) {
  const char *u = "{\"input\":1000000,\"input_cached_tokens\":1000000,"
                  "\"output\":1000000,\"total\":3000000}";
  struct at_cost c;
  /* the response's word (metadata) decides */
  cr_assert_eq(cost_of("gpt-5-2025-08-07", "openai", u, NULL,
                       "{\"service_tier\":\"flex\"}", &c),
               1);
  cr_expect_str_eq(c.tier, "flex");
  cr_expect_float_eq(num(c.details, "input"), 0.625, 1e-9);
  cr_expect_float_eq(num(c.details, "input_cached_tokens"), 0.0625, 1e-9);
  cr_expect_float_eq(num(c.details, "output"), 5.0, 1e-9);
  cJSON_Delete(c.details);
  /* the request's when the response said nothing */
  cr_assert_eq(cost_of("gpt-5", "openai", u, "{\"service_tier\":\"priority\"}",
                       "{}", &c),
               1);
  cr_expect_str_eq(c.tier, "priority");
  cr_expect_float_eq(num(c.details, "output"), 20.0, 1e-9);
  cJSON_Delete(c.details);
  /* asked for priority, served at default: standard prices */
  cr_assert_eq(cost_of("gpt-5", "openai", u, "{\"service_tier\":\"priority\"}",
                       "{\"service_tier\":\"default\"}", &c),
               1);
  cr_expect_str_eq(c.tier, "standard");
  cr_expect_float_eq(num(c.details, "output"), 10.0, 1e-9);
  cJSON_Delete(c.details);
  /* case does not matter; a model without tiers stays standard */
  cr_assert_eq(cost_of("gpt-4o-mini", "openai", u, NULL,
                       "{\"service_tier\":\"PRIORITY\"}", &c),
               1);
  cr_expect_str_eq(c.tier, "priority");
  cJSON_Delete(c.details);
  cr_assert_eq(cost_of("gpt-3.5-turbo", "openai", u, NULL,
                       "{\"service_tier\":\"flex\"}", &c),
               1);
  cr_expect_str_eq(c.tier, "standard");
  cJSON_Delete(c.details);
}

Test(prices_tiers, long_context_counts_all_input) {
  struct at_cost c;
  /* Claude Sonnet 4.5 over 200K input tokens, most of them cache reads:
   * the whole request at the long-context prices */
  cr_assert_eq(cost_of("claude-sonnet-4-5-20250929", "anthropic",
                       "{\"input\":1000,\"input_cached_tokens\":200000,"
                       "\"input_cache_creation\":10,"
                       "\"input_cache_creation_1h\":10,\"output\":1000}",
                       NULL, NULL, &c),
               1);
  cr_expect_str_eq(c.tier, "large_context");
  cr_expect_float_eq(num(c.details, "input"), 1000 * 6e-6, 1e-12);
  cr_expect_float_eq(num(c.details, "input_cached_tokens"), 200000 * 0.6e-6,
                     1e-12);
  cr_expect_float_eq(num(c.details, "input_cache_creation"), 10 * 7.5e-6,
                     1e-12);
  cr_expect_float_eq(num(c.details, "input_cache_creation_1h"), 10 * 12e-6,
                     1e-12);
  cr_expect_float_eq(num(c.details, "output"), 1000 * 22.5e-6, 1e-12);
  cJSON_Delete(c.details);
  /* exactly at the threshold: standard */
  cr_assert_eq(cost_of("claude-sonnet-4-5", "anthropic",
                       "{\"input\":200000,\"output\":10}", NULL, NULL, &c),
               1);
  cr_expect_str_eq(c.tier, "standard");
  cr_expect_float_eq(num(c.details, "input"), 200000 * 3e-6, 1e-12);
  cJSON_Delete(c.details);
  /* Gemini 2.5 Pro */
  cr_assert_eq(cost_of("gemini-2.5-pro", "gcp.gemini",
                       "{\"input\":250000,\"output\":100}", NULL, NULL, &c),
               1);
  cr_expect_str_eq(c.tier, "large_context");
  cr_expect_float_eq(num(c.details, "input"), 250000 * 2.5e-6, 1e-12);
  cr_expect_float_eq(num(c.details, "output"), 100 * 15e-6, 1e-12);
  cJSON_Delete(c.details);
}

Test(prices_tiers, combined_tiers_follow_the_table_order) {
  const char *big = "{\"input\":300000,\"output\":1000}";
  struct at_cost c;
  cr_assert_eq(cost_of("gpt-5.4", "openai", big, NULL,
                       "{\"service_tier\":\"flex\"}", &c),
               1);
  cr_expect_str_eq(c.tier, "flex_large_context");
  cr_expect_float_eq(num(c.details, "output"), 1000 * 11.25e-6, 1e-12);
  cJSON_Delete(c.details);
  cr_assert_eq(cost_of("gpt-5.4-2026-03-05", "openai", big, NULL,
                       "{\"service_tier\":\"priority\"}", &c),
               1);
  cr_expect_str_eq(c.tier, "priority"); /* Langfuse has no priority+long */
  cJSON_Delete(c.details);
  cr_assert_eq(cost_of("gpt-5.4", "openai", big, NULL, NULL, &c), 1);
  cr_expect_str_eq(c.tier, "large_context");
  cr_expect_float_eq(num(c.details, "input"), 300000 * 5e-6, 1e-12);
  cJSON_Delete(c.details);
  /* Anthropic's priority tier has no list price: standard, said so */
  cr_assert_eq(cost_of("claude-haiku-4-5", "anthropic",
                       "{\"input\":10,\"output\":10}", NULL,
                       "{\"service_tier\":\"priority\"}", &c),
               1);
  cr_expect_str_eq(c.tier, "standard");
  cJSON_Delete(c.details);
  /* fast mode is a request parameter */
  cr_assert_eq(cost_of("claude-opus-4-8", "anthropic",
                       "{\"input\":10,\"output\":10}", "{\"speed\":\"fast\"}",
                       NULL, &c),
               1);
  cr_expect_str_eq(c.tier, "fast");
  cr_expect_float_eq(num(c.details, "output"), 10 * 50e-6, 1e-12);
  cJSON_Delete(c.details);
}

Test(prices_tiers, audio_and_unpriced_buckets) {
  struct at_cost c;
  cr_assert_eq(cost_of("gpt-4o-audio-preview", "openai",
                       "{\"input\":100,\"input_audio_tokens\":50,"
                       "\"output\":10,\"output_audio_tokens\":20}",
                       NULL, NULL, &c),
               1);
  cr_expect_float_eq(num(c.details, "input_audio_tokens"), 50 * 100e-6, 1e-12);
  cr_expect_float_eq(num(c.details, "output_audio_tokens"), 20 * 200e-6, 1e-12);
  cr_expect_str_eq(c.unpriced, "");
  cJSON_Delete(c.details);
  /* audio sent to a model without an audio price: not priced as text,
   * and named */
  cr_assert_eq(cost_of("gpt-4o", "openai",
                       "{\"input\":100,\"input_audio_tokens\":50,"
                       "\"input_image_tokens\":3,\"output\":10,"
                       "\"output_audio_tokens\":0,\"total\":163}",
                       NULL, NULL, &c),
               1);
  cr_expect_null(cJSON_GetObjectItem(c.details, "input_audio_tokens"));
  cr_expect_str_eq(c.unpriced, "input_audio_tokens,input_image_tokens");
  cr_expect_float_eq(num(c.details, "total"), 100 * 2.5e-6 + 10 * 10e-6, 1e-12);
  cJSON_Delete(c.details);
  /* 1-hour cache writes */
  cr_assert_eq(cost_of("claude-sonnet-4-20250514", "anthropic",
                       "{\"input\":17,\"input_cache_creation_1h\":2056,"
                       "\"output\":100}",
                       NULL, NULL, &c),
               1);
  cr_expect_float_eq(num(c.details, "input_cache_creation_1h"), 2056 * 6e-6,
                     1e-12);
  cJSON_Delete(c.details);
  /* nothing priceable: no cost at all */
  cr_expect_eq(
      cost_of("gpt-4o", "openai", "{\"input_audio_tokens\":5}", NULL, NULL, &c),
      0);
  cr_expect_null(c.details);
  cr_expect_eq(cost_of("no-such-model", NULL, "{\"input\":5}", NULL, NULL, &c),
               0);
}

static char *write_tmp(const char *content) {
  char *path = strdup("/tmp/autotrace-prices-XXXXXX");
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
  close(fd);
  return path;
}

Test(prices_file, precedence_provider_date_tiers) {
  char *path = write_tmp(
      "[{\"model\":\"house-llm\",\"input\":1,\"output\":1,\"per\":1000000,"
      "\"date\":\"2026-01-01\"},"
      " {\"model\":\"house-llm\",\"input\":2,\"output\":2,\"per\":1000000,"
      "\"date\":\"2026-06-01\"},"
      " {\"model\":\"house-llm\",\"input\":9,\"output\":9,\"per\":1000000},"
      " {\"model\":\"house-llm\",\"provider\":\"vllm\",\"input\":5,"
      "\"output\":5,\"per\":1000000},"
      " {\"model\":\"gpt-4o\",\"input\":7e-6,\"output\":7e-6,"
      "\"input_audio\":1e-5,\"input_cache_creation_1h\":2e-6,"
      "\"tiers\":[{\"name\":\"cheap\",\"when\":{\"service_tier\":"
      "[\"flex\",\"batch\"]},\"input\":1e-6},"
      "{\"name\":\"long\",\"when\":{\"input_tokens_gt\":100},"
      "\"input\":3e-6,\"output\":4e-6}]},"
      " {\"match\":\"claude-\",\"input\":1e-6,\"output\":1e-6}]");
  char err[256];
  cr_assert_eq(at_prices_load_file(path, err, sizeof err), 6, "%s", err);

  const struct at_price *p = at_price_lookup_for("house-llm", NULL, NULL);
  cr_assert_not_null(p);
  cr_expect_float_eq(p->input, 2e-6, 1e-15); /* the newest date */
  p = at_price_lookup_for("house-llm-20260601", "vllm", NULL);
  cr_expect_float_eq(p->input, 5e-6, 1e-15); /* this provider's own */

  struct at_cost c;
  cr_assert_eq(cost_of("house-llm", "vllm", "{\"input\":1}", NULL, NULL, &c),
               1);
  char want[1200];
  snprintf(want, sizeof want, "file:%s#vllm:house-llm", path);
  cr_expect_str_eq(c.source, want);
  cJSON_Delete(c.details);

  /* the file's tiers; a tier's missing prices are the entry's */
  cr_assert_eq(cost_of("gpt-4o-2024-11-20", "openai",
                       "{\"input\":10,\"output\":10,\"input_audio_tokens\":1}",
                       "{\"service_tier\":\"batch\"}", NULL, &c),
               1);
  cr_expect_str_eq(c.tier, "cheap");
  cr_expect_float_eq(num(c.details, "input"), 10e-6, 1e-15);
  cr_expect_float_eq(num(c.details, "output"), 70e-6, 1e-15);
  cr_expect_float_eq(num(c.details, "input_audio_tokens"), 1e-5, 1e-15);
  cJSON_Delete(c.details);
  cr_assert_eq(cost_of("gpt-4o", "openai", "{\"input\":101,\"output\":1}", NULL,
                       NULL, &c),
               1);
  cr_expect_str_eq(c.tier, "long");
  cr_expect_float_eq(num(c.details, "output"), 4e-6, 1e-15);
  cJSON_Delete(c.details);
  /* a file prefix beats a built-in exact name */
  cr_expect_str_eq(entry_for("claude-sonnet-4-5", NULL), "claude-");
  /* a 1h write with no 1h price in the entry is named, not guessed */
  cr_assert_eq(cost_of("claude-opus-4-1", "anthropic",
                       "{\"input\":1,\"input_cache_creation_1h\":5}", NULL,
                       NULL, &c),
               1);
  cr_expect_str_eq(c.unpriced, "input_cache_creation_1h");
  cJSON_Delete(c.details);
  at_prices_reset();
  unlink(path);
  free(path);
}

Test(prices_file, bad_tiers_are_reported) {
  static const char *const bad[] = {
      "[{\"model\":\"m\",\"input\":1,\"tiers\":{}}]",
      "[{\"model\":\"m\",\"input\":1,\"tiers\":[{\"when\":{\"a\":\"b\"}}]}]",
      "[{\"model\":\"m\",\"input\":1,\"tiers\":[{\"name\":\"t\"}]}]",
      "[{\"model\":\"m\",\"input\":1,\"tiers\":[{\"name\":\"t\",\"when\":{}}]}"
      "]",
      "[{\"model\":\"m\",\"input\":1,\"tiers\":[{\"name\":\"t\",\"when\":"
      "{\"a\":\"x\",\"b\":\"y\"}}]}]",
      "[{\"model\":\"m\",\"input\":1,\"tiers\":[{\"name\":\"t\",\"when\":"
      "{\"input_tokens_gt\":-5}}]}]",
      "[{\"model\":\"m\",\"input\":1,\"tiers\":[{\"name\":\"t\",\"when\":"
      "{\"service_tier\":[]}}]}]",
      "[{\"model\":\"m\",\"input\":1,\"tiers\":[{\"name\":\"t\",\"when\":"
      "{\"service_tier\":[1]}}]}]",
      "[{\"model\":\"m\",\"input\":1,\"tiers\":[{\"name\":\"t\",\"when\":"
      "{\"service_tier\":\"a|b\"}}]}]",
      "[{\"model\":\"m\",\"input\":1,\"tiers\":[{\"name\":\"t\",\"when\":"
      "{\"service_tier\":\"flex\"},\"input\":-1}]}]",
      "[{\"model\":\"m\",\"input\":1,\"provider\":7}]",
      "[{\"model\":\"m\",\"input\":1,\"input_audio\":\"x\"}]",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *path = write_tmp(bad[i]);
    char err[256];
    cr_expect_eq(at_prices_load_file(path, err, sizeof err), -1, "%s", bad[i]);
    cr_expect(strstr(err, "entry 0") != NULL, "%s: %s", bad[i], err);
    cr_expect_null(entry_for("m", NULL), "%s", bad[i]);
    unlink(path);
    free(path);
  }
  at_prices_reset();
}

/* ---- through at_parse_exchange ------------------------------------------ */

Test(prices_record, tier_and_unpriced_in_the_record) {
  struct at_exchange ex = fx_exchange(
      "https://api.openai.com/v1/chat/completions",
      "{\"model\":\"gpt-5-mini\",\"service_tier\":\"flex\",\"messages\":[]}",
      "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":"
      "\"gpt-5-mini-2025-08-07\",\"service_tier\":\"flex\",\"choices\":[{"
      "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},"
      "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1000,"
      "\"completion_tokens\":100,\"total_tokens\":1100}}",
      200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "cost_tier"), "flex");
  cr_expect_str_eq(jstr(r, "cost_source"), "builtin:gpt-5-mini@2026-08-22");
  cr_expect_float_eq(jnum(r, "cost_details.total"),
                     1000 * 0.125e-6 + 100 * 1.0e-6, 1e-12);
  cr_expect_null(jget(r, "metadata.cost_unpriced"));
  cJSON_Delete(r);

  ex = fx_exchange(
      "https://api.anthropic.com/v1/messages",
      "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"messages\":[]}",
      "{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
      "\"claude-sonnet-4-5-20250929\",\"content\":[{\"type\":\"text\","
      "\"text\":\"ok\"}],\"stop_reason\":\"end_turn\",\"usage\":{"
      "\"input_tokens\":1000,\"cache_read_input_tokens\":250000,"
      "\"cache_creation_input_tokens\":300,\"cache_creation\":{"
      "\"ephemeral_5m_input_tokens\":100,\"ephemeral_1h_input_tokens\":200},"
      "\"output_tokens\":50,\"service_tier\":\"standard\"}}",
      200, NULL);
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "cost_tier"), "large_context");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 251300);
  cr_expect_eq(jnum(r, "usage_details.input_cache_creation"), 100);
  cr_expect_eq(jnum(r, "usage_details.input_cache_creation_1h"), 200);
  cr_expect_float_eq(jnum(r, "cost_details.input_cache_creation_1h"),
                     200 * 12e-6, 1e-12);
  cr_expect_float_eq(jnum(r, "cost_details.input_cached_tokens"),
                     250000 * 0.6e-6, 1e-12);
  cJSON_Delete(r);
}
