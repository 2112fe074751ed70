/* record: typed, defensive reads of observation records
 * (docs/record-schema.md).
 *
 * Records come from other processes and other versions: any key may be
 * missing or of the wrong type. Every accessor here treats a wrong type as
 * absent, so callers never crash and never print garbage. */
#ifndef AT_CLI_RECORD_H
#define AT_CLI_RECORD_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* The string at key, or NULL when absent, not a string, or empty. */
const char *rec_str(const cJSON *o, const char *key);

/* The object / array at key, or NULL. */
const cJSON *rec_obj(const cJSON *o, const char *key);
const cJSON *rec_arr(const cJSON *o, const char *key);

/* A time in Unix ns (a decimal string; a JSON number is tolerated).
 * Returns 0 and sets *out, or -1. */
int rec_ns(const cJSON *o, const char *key, int64_t *out);

/* A non-negative whole number (token counts, ports, pids). Returns 0 and
 * sets *out, or -1 when absent, fractional, negative or out of range. */
int rec_u64(const cJSON *o, const char *key, uint64_t *out);

/* Any finite number. Returns 0 and sets *out, or -1. */
int rec_num(const cJSON *o, const char *key, double *out);

/* 1 for true, 0 for false, -1 when absent or not a boolean. */
int rec_bool(const cJSON *o, const char *key);

/* Is this a usable record: an object whose id is 16 hex digits and whose
 * trace_id is 32? Everything else is optional. */
int rec_valid(const cJSON *rec);

/* Is this an LLM call (type generation or embedding)? Only these carry
 * usage and cost; process spans keep aggregates in metadata instead. */
int rec_is_llm(const cJSON *rec);

/* The model that answered, else the one asked for; NULL when unknown. */
const char *rec_model(const cJSON *rec);

/* Token counts from `usage` (the provider's inclusive counts). Each output
 * is set to -1 when the record does not say. total falls back to
 * input + output when both are known. */
struct rec_tokens {
  int64_t input, output, total;
};
void rec_tokens(const cJSON *rec, struct rec_tokens *t);

/* cost_details.total in USD. Returns 0 and sets *usd, or -1 when the
 * record has no price. */
int rec_cost(const cJSON *rec, double *usd);

/* A one-line preview of what the observation produced, into buf: the first
 * line of the first text part of the output, or the first tool call as
 * `→ name(arguments)`. An empty string when there is nothing to show. The
 * result is whole UTF-8; the caller cuts it to the width it has. */
void rec_preview(const cJSON *rec, char *buf, size_t len);

#endif
