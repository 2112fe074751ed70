#include "jsonout.h"

#include <stdlib.h>
#include <string.h>

char *json_pretty(const cJSON *v) {
  char *s = cJSON_Print(v);
  if (!s)
    return NULL;
  /* cJSON indents with tabs and puts a tab after each colon. It escapes
   * tabs inside strings, so every raw tab is layout: one after a colon
   * becomes a space, one of an indent two spaces. */
  size_t tabs = 0, n = 0;
  for (; s[n]; n++)
    tabs += s[n] == '\t';
  char *out = malloc(n + tabs + 1);
  if (!out) {
    free(s);
    return NULL;
  }
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '\t') {
      out[o++] = s[i];
    } else if (i > 0 && s[i - 1] == ':') {
      out[o++] = ' ';
    } else {
      out[o++] = ' ';
      out[o++] = ' ';
    }
  }
  out[o] = '\0';
  free(s);
  return out;
}

int json_write(FILE *f, const cJSON *v, int pretty) {
  char *s = pretty ? json_pretty(v) : cJSON_PrintUnformatted(v);
  if (!s)
    return -1;
  int rc = fputs(s, f) < 0 || fputc('\n', f) == EOF ? -1 : 0;
  free(s);
  return rc;
}
