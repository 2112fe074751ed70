/* json_write: cJSON tree → compact JSON text, fast (see json_write.c). */
#ifndef AT_JSON_WRITE_H
#define AT_JSON_WRITE_H

#include <cjson/cJSON.h>

#include "dynbuf.h"

/* Append v as compact JSON — the bytes cJSON_PrintUnformatted(v) would
 * give — to b. Returns 0, or -1 when v holds an invalid node, memory ran
 * out, or b's cap cut the text (b then holds a partial text). */
int at_json_write(struct dynbuf *b, const cJSON *v);

#endif
