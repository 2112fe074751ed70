/* jsonout: JSON to a stream, compact (one line, for jsonl and OTLP) or
 * pretty (two-space indentation, for people). */
#ifndef AT_CLI_JSONOUT_H
#define AT_CLI_JSONOUT_H

#include <cjson/cJSON.h>
#include <stdio.h>

/* Print v followed by a newline. Returns 0, or -1 on allocation or write
 * failure. */
int json_write(FILE *f, const cJSON *v, int pretty);

/* The pretty text (two-space indents), malloc()ed; NULL on failure. */
char *json_pretty(const cJSON *v);

#endif
