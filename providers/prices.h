/* prices: what an LLM call cost, from a built-in table of list prices and
 * the user's own file (AUTOTRACE_PRICES). Table, matching rules, tiers and
 * file format: docs/prices.md. */
#ifndef AT_PRICES_H
#define AT_PRICES_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* One price entry (the standard tier). Prices are USD per token; a
 * negative price means "not given": cached input and cache writes then
 * cost as input, reasoning as output. The built-in table in prices.c is a
 * list of these, one line per model (see the comment above it). */
struct at_price {
  const char *name; /* lowercase model name, or prefix for file "match" */
  double input, input_cached, input_cache_creation, output, output_reasoning;
  const char *date; /* when the price was taken, "YYYY-MM-DD"; may be "" */
};

/* The price entry for a model name (any case) that any provider serves,
 * or NULL. Same as at_price_lookup_for(model, NULL, from_file). */
const struct at_price *at_price_lookup(const char *model, int *from_file);

/* The price entry for a model name as served by `provider` (the record's
 * provider, "groq"; NULL: entries for any provider only). Order: the
 * file's entries, then the built-in ones; within each, entries for this
 * provider before entries for any provider; then the exact name, then the
 * name followed by date/version tokens (longest entry first), then (file
 * only) "match" prefixes. docs/prices.md has the rules and examples.
 * *from_file (if given) says which table answered. Loads AUTOTRACE_PRICES
 * on first use. */
const struct at_price *
at_price_lookup_for(const char *model, const char *provider, int *from_file);

/* What to price: one observation. */
struct at_cost_query {
  const char *model;             /* as the provider spelled it */
  const char *provider;          /* the record's provider; may be NULL */
  const cJSON *usage_details;    /* the record's exclusive buckets */
  const cJSON *model_parameters; /* request parameters; may be NULL */
  const cJSON *metadata;         /* response facts; may be NULL */
};

#define AT_COST_SOURCE_MAX 1200
#define AT_COST_TIER_MAX 64
#define AT_COST_UNPRICED_MAX 256

struct at_cost {
  cJSON *details; /* cost_details: USD per bucket and "total" */
  /* "builtin:gpt-4o-mini@2026-08-22" or "file:/path#name" */
  char source[AT_COST_SOURCE_MAX];
  /* the pricing tier used: "standard", "flex", "priority",
   * "large_context", "flex_large_context", ... */
  char tier[AT_COST_TIER_MAX];
  /* buckets that hold tokens but have no price, comma-separated
   * ("input_audio_tokens"); "" when every bucket was priced */
  char unpriced[AT_COST_UNPRICED_MAX];
};

/* Cost of a call. The tier is chosen from the entry's tiers in order: the
 * first whose conditions all hold (an attribute such as service_tier, read
 * from metadata, else model_parameters; all input tokens above a
 * threshold), else the standard prices. Each bucket of usage_details
 * (input, input_cached_tokens, input_cache_creation,
 * input_cache_creation_1h, input_audio_tokens, output,
 * output_reasoning_tokens, output_audio_tokens) costs its count times its
 * price; "total" is the sum. Returns 1 and fills *out (out->details is a
 * new object for the caller); 0 when the model has no price or no bucket
 * could be priced (nothing allocated); -1 on allocation failure. */
int at_cost_compute(const struct at_cost_query *q, struct at_cost *out);

/* The same for a model served by any provider, standard tier: kept for
 * callers that have nothing else. source gets out.source. */
int at_price_cost(const char *model, const cJSON *usage_details,
                  cJSON **cost_out, char *source, size_t source_len);

/* Load a price file now, replacing entries from any earlier file. Returns
 * the number of entries accepted, or -1 when the file is missing or broken
 * (entries that were valid are still used; err says what was wrong). */
int at_prices_load_file(const char *path, char *err, size_t errlen);

/* The problem with the AUTOTRACE_PRICES file, or NULL when there is none
 * (or no file). Parsers copy it into metadata.prices_error. */
const char *at_prices_error(void);

/* Forget file entries and the lazy-load state (tests). */
void at_prices_reset(void);

#endif
