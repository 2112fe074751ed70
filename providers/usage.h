/* usage: token counts as the provider reported them, and the two shapes the
 * record carries: `usage` (inclusive, the provider's view) and
 * `usage_details` (Langfuse's exclusive buckets). See record-schema.md. */
#ifndef AT_USAGE_H
#define AT_USAGE_H

#include <stdint.h>

#include <cjson/cJSON.h>

enum {
  AT_U_INPUT = 1u << 0,       /* all input, cached and cache-written incl. */
  AT_U_OUTPUT = 1u << 1,      /* all output, reasoning included */
  AT_U_CACHE_READ = 1u << 2,  /* input served from the prompt cache */
  AT_U_CACHE_WRITE = 1u << 3, /* input written to the prompt cache */
  AT_U_REASONING = 1u << 4,   /* output spent on reasoning */
  AT_U_TOTAL = 1u << 5,       /* the provider's own total */

  AT_U_CACHE_WRITE_1H = 1u << 6, /* the cache writes kept 1 hour */
  AT_U_INPUT_AUDIO = 1u << 7,    /* input that was audio */
  AT_U_OUTPUT_AUDIO = 1u << 8    /* output that was audio */
};

struct at_usage {
  unsigned has; /* AT_U_* bits: which counts the provider gave */
  int64_t input, output, cache_read, cache_write, reasoning, total;
  int64_t cache_write_1h, input_audio, output_audio;
};

/* Record one count (field is one AT_U_* bit). */
void at_usage_set(struct at_usage *u, unsigned field, int64_t v);

/* 1 when any count is known. */
int at_usage_any(const struct at_usage *u);

/* The record's `usage` object (inclusive counts, as reported; total_tokens
 * is input + output when the provider gave no total). NULL when nothing is
 * known or on allocation failure. */
cJSON *at_usage_inclusive_json(const struct at_usage *u);

/* The record's `usage_details` object: input (minus cache reads, cache
 * writes and audio), input_cached_tokens, input_cache_creation (writes
 * not known to be kept 1 hour), input_cache_creation_1h,
 * input_audio_tokens, output (minus reasoning and audio),
 * output_reasoning_tokens, output_audio_tokens, total (sum of the
 * buckets). All but input and output appear only when non-zero. NULL when
 * no input or output count is known. */
cJSON *at_usage_details_json(const struct at_usage *u);

#endif
