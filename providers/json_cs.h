/* json_cs: add members to a cJSON object under keys that are string
 * literals (or any string that outlives the tree).
 *
 * cJSON_AddStringToObject and friends copy the key into a malloc()ed
 * string that cJSON_Delete frees again: a record has about a hundred keys,
 * all literals, so that was a hundred malloc/free pairs per record on the
 * writer thread. These use cJSON_AddItemToObjectCS, which points at the
 * key instead (the node is flagged so that cJSON never frees it, and
 * cJSON_Duplicate shares it). The printed text is the same.
 *
 * Each returns the new item, or NULL when it could not be allocated (the
 * item is then freed), like cJSON_Add*ToObject. */
#ifndef AT_JSON_CS_H
#define AT_JSON_CS_H

#include <cjson/cJSON.h>

#include "json_node.h"

static inline cJSON *at_cs_add(cJSON *obj, const char *key, cJSON *item) {
  if (!item)
    return NULL;
  if (!cJSON_AddItemToObjectCS(obj, key, item)) {
    cJSON_Delete(item);
    return NULL;
  }
  return item;
}

static inline cJSON *at_cs_str(cJSON *obj, const char *key, const char *s) {
  return at_cs_add(obj, key, at_node_string(s));
}

static inline cJSON *at_cs_num(cJSON *obj, const char *key, double v) {
  return at_cs_add(obj, key, at_node_number(v));
}

static inline cJSON *at_cs_bool(cJSON *obj, const char *key, int v) {
  return at_cs_add(obj, key, at_node_bool(v));
}

static inline cJSON *at_cs_obj(cJSON *obj, const char *key) {
  return at_cs_add(obj, key, at_node_object());
}

static inline cJSON *at_cs_arr(cJSON *obj, const char *key) {
  return at_cs_add(obj, key, at_node_array());
}

#endif
