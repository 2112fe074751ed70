/* helpers for the CLI unit tests: temporary spools filled through the real
 * spool module, and capturing what a command prints. */
#ifndef AT_TEST_CLI_HELPERS_H
#define AT_TEST_CLI_HELPERS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* A fresh empty folder under /tmp; the path is malloc()ed. */
char *th_tmpdir(void);

/* Append records / markers / counters to the spool at dir (created when
 * missing). Each call is one committed batch. Return 0 on success. */
int th_spool_records(const char *dir, const char *const *json, size_t n);
int th_spool_marker(const char *dir, const char *span_id, const char *json);
int th_spool_counter(const char *dir, const char *name, uint64_t value);

/* Run fn(argc, argv) with stdout and stderr sent to files; returns the
 * exit status, *out and *err get the text (malloc()ed). */
int th_capture(int (*fn)(int, char **), int argc, char **argv, char **out,
               char **err);

/* A record in the schema, built from a format string, as text. The result
 * is a static buffer reused by the next call. */
const char *th_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse s or fail the test. */
cJSON *th_json(const char *s);

#endif
