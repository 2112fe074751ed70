/* json_node: cJSON nodes from a per-thread cache, for the record trees.
 *
 * A record is ~100 nodes, built, printed and deleted for every exchange on
 * the writer thread. glibc's tcache holds 7 chunks of a size; past that,
 * every malloc() and free() of a node takes the arena's fast bins, with
 * atomic operations in a threaded process: malloc and free were about a
 * quarter of the writer's instructions (callgrind, 1 KB exchanges).
 * at_json_delete() keeps the node structs of a deleted tree for the next
 * at_node_*() calls instead of freeing them.
 *
 * Every node here is allocated with cJSON_malloc() and every node (ours or
 * made by cJSON's own functions) is freed with cJSON_free() in the end, so
 * trees may mix both and cJSON_Delete() stays correct on any of them. */
#ifndef AT_JSON_NODE_H
#define AT_JSON_NODE_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Nodes kept per thread at most (64 bytes each). */
#define AT_NODE_CACHE 1024

/* A zeroed node (NULL when out of memory). */
cJSON *at_node_new(void);

/* The counterparts of cJSON_CreateObject, _CreateArray, _CreateNumber,
 * _CreateBool, _CreateNull and _CreateString (which copies s). */
cJSON *at_node_object(void);
cJSON *at_node_array(void);
cJSON *at_node_number(double v);
cJSON *at_node_bool(int v);
cJSON *at_node_null(void);
cJSON *at_node_string(const char *s);

/* Set a number node's value as cJSON does: valuedouble, and valueint
 * saturated to the int range. */
void at_node_set_number(cJSON *node, double v);

/* What cJSON_Delete does (the strings are freed, references and constant
 * keys left alone), with the node structs kept for reuse. Iterative: a
 * deep tree does not deepen the stack. */
void at_json_delete(cJSON *item);

/* Nodes in this thread's cache (tests). */
size_t at_node_cached(void);

#endif
