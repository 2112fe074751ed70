/* json_util: small helpers around cJSON and text, shared by the parsers.
 * Nothing here knows about observations (see obs.h for that). */
#ifndef AT_JSON_UTIL_H
#define AT_JSON_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The member `key` of obj (exact case), or NULL; NULL obj is fine. JSON
 * null counts as absent. */
const cJSON *at_json_get(const cJSON *obj, const char *key);

/* The string member `key`, or NULL when absent or not a string. */
const char *at_json_str(const cJSON *obj, const char *key);

/* 1 and *out when v is a number holding a whole value in [0, 2^53]. */
int at_json_count(const cJSON *v, int64_t *out);

/* Parse exactly one JSON value from s[0..len). NULL when it is not JSON
 * (or allocation failed). Trailing whitespace is allowed, trailing junk is
 * not. */
cJSON *at_json_parse(const char *s, size_t len);

/* Add a deep copy of v under key; no-op when v is NULL. Returns 0, or -1
 * when the copy could not be allocated. */
int at_json_add_copy(cJSON *obj, const char *key, const cJSON *v);

/* Add a string of n bytes (need not be NUL-terminated) under key, or
 * append it to an array when key is NULL. Returns the new item or NULL. */
cJSON *at_json_add_strn(cJSON *obj, const char *key, const char *s, size_t n);

/* The string node at_json_add_strn adds, not yet added anywhere (NULL when
 * out of memory). */
cJSON *at_json_strn(const char *s, size_t n);

/* Copy src[0..n) into dst (capacity cap >= 1, always NUL-terminated),
 * replacing every byte that is not part of valid UTF-8 by '?' and, when
 * `flatten` is set, control characters other than '\n' and '\t' by ' '.
 * Never splits a character; returns the length written. */
size_t at_utf8_clean(char *dst, size_t cap, const char *src, size_t n,
                     int flatten);

/* 1 when s[0..n) is entirely valid UTF-8. */
int at_utf8_valid(const char *s, size_t n);

/* Find the string value of top-level member `key` in a JSON object that
 * may be cut off anywhere (a truncated body). Copies it (escapes kept as
 * written, at most cap-1 bytes) and returns 1, or returns 0. Linear, no
 * allocation. */
int at_json_salvage_string(const char *body, size_t len, const char *key,
                           char *out, size_t cap);

/* Decoded size in bytes of base64 text (whitespace ignored, padding
 * understood). */
size_t at_base64_decoded_size(const char *s, size_t n);

#endif
