/* fuzz_json: libFuzzer target for json_read and json_write against cJSON.
 *
 * The input is JSON text (or not). Whenever cJSON accepts it, json_read
 * must accept it too and build the same tree (compared as cJSON prints
 * them), and json_write must print exactly what cJSON prints. json_read
 * may accept what cJSON rejects only where it is deliberately lenient
 * (lone surrogate escapes, number runs longer than cJSON's 63-character
 * buffer), and rejects what cJSON takes only for a \u escape without four
 * hex digits (cJSON reads it as U+0000). Whatever it accepts must print to
 * JSON that reads back to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "providers/json_read.h"
#include "providers/json_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *ours_printed(const cJSON *v, size_t *len) {
  struct dynbuf b;
  dynbuf_init(&b, (size_t)1 << 26);
  if (at_json_write(&b, v) != 0)
    abort(); /* a tree json_read built must always print */
  return dynbuf_take(&b, len);
}

/* A backslash-u not followed by four hex digits anywhere in the input. */
static int has_bad_u_escape(const char *s, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] != '\\' || s[i + 1] != 'u')
      continue;
    for (size_t k = i + 2; k < i + 6; k++) {
      if (k >= n)
        return 1;
      char c = s[k];
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
            (c >= 'A' && c <= 'F')))
        return 1;
    }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  const char *end_ours = NULL, *end_theirs = NULL;
  cJSON *ours = at_json_read(text, size, &end_ours);
  cJSON *theirs = cJSON_ParseWithLengthOpts(text, size, &end_theirs, 0);
  if (theirs && !ours && !has_bad_u_escape(text, size))
    abort();
  if (ours) {
    if (end_ours < text || end_ours > text + size)
      abort();
    size_t len = 0;
    char *mine = ours_printed(ours, &len);
    char *cj = cJSON_PrintUnformatted(ours);
    if (!mine || !cj || strcmp(mine, cj) != 0 || strlen(mine) != len)
      abort();
    if (theirs) {
      char *want = cJSON_PrintUnformatted(theirs);
      if (!want || strcmp(want, mine) != 0)
        abort();
      cJSON_free(want);
    }
    /* Our own output reads back to itself. */
    cJSON *again = at_json_read(mine, len, NULL);
    if (!again)
      abort();
    size_t len2 = 0;
    char *mine2 = ours_printed(again, &len2);
    if (len2 != len || memcmp(mine, mine2, len) != 0)
      abort();
    free(mine2);
    cJSON_Delete(again);
    free(mine);
    cJSON_free(cj);
  }
  cJSON_Delete(ours);
  cJSON_Delete(theirs);
  return 0;
}
