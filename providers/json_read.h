/* json_read: JSON text → cJSON tree, fast (see json_read.c for why).
 * The result is an ordinary cJSON tree: free it with cJSON_Delete (except
 * for an arena's trees: see at_json_read_arena). */
#ifndef AT_JSON_READ_H
#define AT_JSON_READ_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Parse the first JSON value of text[0..len) (leading whitespace and a
 * UTF-8 BOM skipped) as cJSON_ParseWithLengthOpts would. *end (when end is
 * not NULL) is set just past the value. NULL when the text does not start
 * with a JSON value, nests deeper than 1000 levels, or memory ran out. */
cJSON *at_json_read(const char *text, size_t len, const char **end);

/* Memory for trees that are only read, then dropped all at once. Start
 * one zeroed; it may hold any number of trees. */
struct at_json_block;
struct at_json_arena {
  struct at_json_block *head;
  size_t next_cap; /* size of the next block (0: chosen on first use) */
};

/* at_json_read into the arena a: the tree's nodes and strings are a's
 * memory, so the tree must never reach cJSON_Delete, never be changed
 * (no node added, detached or replaced) and never be linked into another
 * tree: it is freed, with everything else in a, by at_json_arena_free
 * (also after a failure, NULL). */
cJSON *at_json_read_arena(const char *text, size_t len, const char **end,
                          struct at_json_arena *a);
void at_json_arena_free(struct at_json_arena *a);

#endif
