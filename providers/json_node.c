/* json_node: cJSON nodes from a per-thread cache (json_node.h). */
#include "json_node.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

/* The cache is a list linked through the nodes' own `next`. */
static __thread struct {
  cJSON *head;
  size_t n;
  int registered; /* the exit destructor knows this thread */
} cache;

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int exit_key_ok;

/* At thread exit: the cached nodes go back to the allocator (a writer
 * thread that ends must not leave them behind). */
static void drain(void *unused) {
  (void)unused;
  while (cache.head) {
    cJSON *next = cache.head->next;
    cJSON_free(cache.head);
    cache.head = next;
  }
  cache.n = 0;
  cache.registered = 0;
}

static void make_key(void) {
  exit_key_ok = pthread_key_create(&exit_key, drain) == 0;
}

static void keep(cJSON *node) {
  if (cache.n >= AT_NODE_CACHE) {
    cJSON_free(node);
    return;
  }
  if (!cache.registered) {
    pthread_once(&exit_once, make_key);
    /* Without the key the nodes could not be given back at thread exit:
     * free instead of keeping. */
    if (!exit_key_ok || pthread_setspecific(exit_key, &cache) != 0) {
      cJSON_free(node);
      return;
    }
    cache.registered = 1;
  }
  node->next = cache.head;
  cache.head = node;
  cache.n++;
}

cJSON *at_node_new(void) {
  cJSON *node = cache.head;
  if (node) {
    cache.head = node->next;
    cache.n--;
  } else {
    node = cJSON_malloc(sizeof *node);
    if (!node)
      return NULL;
  }
  memset(node, 0, sizeof *node);
  return node;
}

static cJSON *typed(int type) {
  cJSON *node = at_node_new();
  if (node)
    node->type = type;
  return node;
}

cJSON *at_node_object(void) {
  return typed(cJSON_Object);
}

cJSON *at_node_array(void) {
  return typed(cJSON_Array);
}

cJSON *at_node_null(void) {
  return typed(cJSON_NULL);
}

cJSON *at_node_bool(int v) {
  return typed(v ? cJSON_True : cJSON_False);
}

void at_node_set_number(cJSON *node, double v) {
  node->valuedouble = v;
  if (v >= INT_MAX)
    node->valueint = INT_MAX;
  else if (v <= (double)INT_MIN)
    node->valueint = INT_MIN;
  else
    node->valueint = (int)v;
}

cJSON *at_node_number(double v) {
  cJSON *node = typed(cJSON_Number);
  if (node)
    at_node_set_number(node, v);
  return node;
}

cJSON *at_node_string(const char *s) {
  if (!s)
    return NULL; /* cJSON_CreateString(NULL) fails too */
  size_t n = strlen(s);
  char *copy = cJSON_malloc(n + 1);
  if (!copy)
    return NULL;
  memcpy(copy, s, n + 1);
  cJSON *node = typed(cJSON_String);
  if (!node) {
    cJSON_free(copy);
    return NULL;
  }
  node->valuestring = copy;
  return node;
}

void at_json_delete(cJSON *item) {
  while (item) {
    /* A node's children go in front of its next sibling: the tree is
     * taken apart as one list, each node visited once. */
    if (!(item->type & cJSON_IsReference) && item->child) {
      cJSON *tail = item->child;
      while (tail->next)
        tail = tail->next;
      tail->next = item->next;
      item->next = item->child;
      item->child = NULL;
    }
    cJSON *next = item->next;
    if (!(item->type & cJSON_IsReference) && item->valuestring)
      cJSON_free(item->valuestring);
    if (!(item->type & cJSON_StringIsConst) && item->string)
      cJSON_free(item->string);
    keep(item);
    item = next;
  }
}

size_t at_node_cached(void) {
  return cache.n;
}
