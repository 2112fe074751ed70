/* The tree view and the JSON of `show`, on traces built in memory. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/term.h"
#include "helpers.h"

#define T1 "0af7651916cd43dd8448eb211c80319c"

/* A chain of n spans, each the child of the one before. */
static void chain(struct trace_set *ts, int n) {
  trace_set_init(ts);
  for (int i = 0; i < n; i++) {
    char buf[512], parent[64] = "";
    if (i)
      snprintf(parent, sizeof parent, "\"parent_id\":\"%016x\",", i);
    snprintf(buf, sizeof buf,
             "{\"id\":\"%016x\",\"trace_id\":\"" T1 "\",%s\"type\":\"span\","
             "\"name\":\"step %d\",\"start_ns\":\"%d\",\"end_ns\":\"%d\"}",
             i + 1, parent, i, 1000 + i, 100000 - i);
    cr_assert_eq(trace_set_add_record(ts, th_json(buf), (uint64_t)i + 1), 0);
  }
  cr_assert_eq(trace_set_finish(ts), 0);
}

static char *render(const struct trace *t, int color) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  show_render(f, t, color, 0);
  fclose(f);
  return buf;
}

Test(show, deep_trees_stay_within_the_width) {
  struct trace_set ts;
  chain(&ts, 60);
  char *out = render(&ts.traces[0], 0);
  cr_expect(strstr(out, "[depth 17] span step 17") != NULL,
            "levels past 16 are marked, not indented further");
  for (char *l = out; *l;) {
    char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l) : strlen(l);
    cr_expect_leq(term_cols(l, n), 100, "too wide: %.*s", (int)n, l);
    l += n + (nl != NULL);
  }
  free(out);
  trace_set_free(&ts);
}

Test(show, json_nesting_stops_at_depth_100) {
  struct trace_set ts;
  chain(&ts, 150);
  cJSON *j = show_json(&ts.traces[0]);
  cr_assert_not_null(j);
  const cJSON *n =
      cJSON_GetArrayItem(cJSON_GetObjectItem(j, "observations"), 0);
  int depth = 0;
  const cJSON *kids;
  while ((kids = cJSON_GetObjectItem(n, "children")) != NULL) {
    depth++;
    if (cJSON_GetArraySize(kids) > 1) {
      cr_expect_eq(cJSON_GetArraySize(kids), 50,
                   "the deeper ones hang at the cap");
      break;
    }
    n = cJSON_GetArrayItem(kids, 0);
  }
  cr_expect_eq(depth, 100);
  char *s = cJSON_PrintUnformatted(j);
  cJSON *back = cJSON_Parse(s);
  cr_expect_not_null(back, "the output parses back");
  cJSON_Delete(back);
  free(s);
  cJSON_Delete(j);
  trace_set_free(&ts);
}

Test(show, long_answers_are_cut_with_an_ellipsis) {
  struct trace_set ts;
  trace_set_init(&ts);
  char buf[2048];
  snprintf(buf, sizeof buf,
           "{\"id\":\"1111111111111111\",\"trace_id\":\"" T1 "\","
           "\"type\":\"generation\",\"name\":\"chat gpt-4o\","
           "\"start_ns\":\"1000\",\"end_ns\":\"2000000\","
           "\"output\":[{\"parts\":[{\"type\":\"text\",\"content\":\"%s\"}]}]}",
           "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac"
           "\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe6\x97\xa5"
           "\xe6\x9c\xac\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
           "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac"
           "\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe6\x97\xa5"
           "\xe6\x9c\xac\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
           "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac"
           "\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
  cr_assert_eq(trace_set_add_record(&ts, th_json(buf), 1), 0);
  cr_assert_eq(trace_set_finish(&ts), 0);
  char *out = render(&ts.traces[0], 1);
  /* The tree's only line is the last one. */
  char *end = out + strlen(out) - 1;
  cr_assert_eq(*end, '\n');
  char *line = end;
  while (line > out && line[-1] != '\n')
    line--;
  cr_expect(strstr(line, "\xe2\x80\xa6\"") != NULL &&
                strstr(line, "\xe2\x80\xa6\"") < end,
            "cut, with an ellipsis: %s", line);
  /* Measure without the escapes: drop ESC [ ... m sequences. */
  char plain[1024];
  size_t o = 0;
  for (char *p = out; p < end && o < sizeof plain - 1; p++) {
    if (*p == '\033') {
      while (p < end && *p != 'm')
        p++;
      continue;
    }
    plain[o++] = *p;
  }
  plain[o] = '\0';
  char *pl = strrchr(plain, '\n');
  pl = pl ? pl + 1 : plain;
  cr_expect_leq(term_cols(pl, strlen(pl)), 100, "%s", pl);
  cr_expect_geq(term_cols(pl, strlen(pl)), 98, "the room is used: %s", pl);
  free(out);
  trace_set_free(&ts);
}
