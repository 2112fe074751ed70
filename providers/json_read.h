/* json_read: JSON text → cJSON tree, fast (see json_read.c for why).
 * The result is an ordinary cJSON tree: free it with cJSON_Delete. */
#ifndef AT_JSON_READ_H
#define AT_JSON_READ_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Parse the first JSON value of text[0..len) (leading whitespace and a
 * UTF-8 BOM skipped) as cJSON_ParseWithLengthOpts would. *end (when end is
 * not NULL) is set just past the value. NULL when the text does not start
 * with a JSON value, nests deeper than 1000 levels, or memory ran out. */
cJSON *at_json_read(const char *text, size_t len, const char **end);

#endif
