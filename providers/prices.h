/* prices: what an LLM call cost, from a built-in table of list prices and
 * the user's own file (AUTOTRACE_PRICES). Table, matching rules and file
 * format: docs/prices.md. */
#ifndef AT_PRICES_H
#define AT_PRICES_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* One price entry. Prices are USD per token; a negative price means "not
 * given": cached input and cache writes then cost as input, reasoning as
 * output. */
struct at_price {
  const char *name; /* lowercase model name, or prefix for file "match" */
  double input, input_cached, input_cache_creation, output, output_reasoning;
  const char *date; /* when the price was taken, "YYYY-MM-DD"; may be "" */
};

/* The price entry for a model name (any case), or NULL. Order: the file's
 * "model" entries, the file's "match" prefixes, then the built-in table;
 * see docs/prices.md for how dated names ("gpt-4o-mini-2024-07-18") and
 * provider prefixes ("openai/", Bedrock's "us.anthropic.") are matched.
 * *from_file (if given) says which table answered. Loads AUTOTRACE_PRICES
 * on first use. */
const struct at_price *at_price_lookup(const char *model, int *from_file);

/* Cost of a call: for each bucket of usage_details (input,
 * input_cached_tokens, input_cache_creation, output,
 * output_reasoning_tokens) its price times its count, plus "total". Returns
 * 1 with a new object in *cost_out and the entry's name in source
 * ("builtin:gpt-4o-mini@2026-08-22" or "file:/path#name"); 0 when the
 * model has no price or usage_details has no bucket (nothing allocated);
 * -1 on allocation failure. */
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
