/* helpers: fixtures and JSON lookups shared by the providers unit tests. */
#ifndef AT_TEST_PROVIDERS_HELPERS_H
#define AT_TEST_PROVIDERS_HELPERS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "providers/providers.h"

/* Contents of tests/fixtures/providers/<name> (NUL-terminated, malloc()ed;
 * the test fails when it cannot be read). */
char *fx_read(const char *name, size_t *len);

/* An exchange with sane defaults: POST, status 200, t_start 1e9, first
 * byte 1.1e9, end 1.9e9, capture "curl". Body pointers may be NULL. */
struct at_exchange fx_exchange(const char *url, const char *req,
                               const char *resp, int status,
                               const char *resp_headers);

/* at_parse_exchange() on ex with the URL's own match; fails the test when
 * it returns NULL. */
cJSON *fx_parse(const struct at_exchange *ex);

/* Fixture request + fixture response through the parser. */
cJSON *fx_run(const char *url, const char *req_fixture,
              const char *resp_fixture, int status, const char *resp_headers);

/* A value by dotted path: "output.0.parts.1.arguments.city" (numbers index
 * arrays). NULL when absent. */
const cJSON *jget(const cJSON *root, const char *path);
const char *jstr(const cJSON *root, const char *path); /* NULL if absent */
double jnum(const cJSON *root, const char *path);      /* -1 if absent */
int jsize(const cJSON *root, const char *path);        /* -1 if absent */

/* Replace every "\n" with "\r\n" (malloc()ed). */
char *fx_crlf(const char *s, size_t *len);

#endif
