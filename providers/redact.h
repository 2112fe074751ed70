/* redact: keep secrets out of observation records.
 *
 * Exchanges hold raw headers and URLs, API keys included; everything that
 * reaches a record goes through these functions first. The rules are listed
 * in docs/providers.md ("Redaction"). */
#ifndef AT_REDACT_H
#define AT_REDACT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define AT_REDACTED_HEADER "[REDACTED]"
#define AT_REDACTED_QUERY "REDACTED"

/* 1 when a header with this name (any case) carries a secret and its value
 * must be replaced. `value` lets rate-limit counters through: a header
 * such as x-ratelimit-remaining-tokens is kept when its value is a plain
 * number, duration or date. */
int at_redact_header_is_secret(const char *name, size_t name_len,
                               const char *value, size_t value_len);

/* 1 when a query parameter with this (already percent-decoded) name
 * carries a secret. */
int at_redact_query_key_is_secret(const char *key, size_t key_len);

/* A copy of url without userinfo and fragment, with the value of every
 * secret query parameter replaced by REDACTED. Returns a malloc()ed string
 * (the caller frees it), or NULL on allocation failure or NULL url. A URL
 * that cannot be split is returned with only its query redacted. */
char *at_redact_url(const char *url);

/* Parse "Name: value\r\n" header lines into a JSON object with lowercase
 * names and secrets replaced by "[REDACTED]". When the text holds several
 * header blocks (interim 100 responses, redirects), only the last block is
 * used. Status lines and lines without ':' are skipped; repeated names are
 * joined with ", ". Bounded: at most 256 headers and 8 KiB per value.
 * Returns NULL on allocation failure; an empty object for no headers. */
cJSON *at_redact_headers(const char *text, size_t len);

#endif
