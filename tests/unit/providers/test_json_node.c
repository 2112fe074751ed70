/* json_node: nodes from the per-thread cache behave as cJSON's own, and a
 * tree deleted by at_json_delete gives back exactly what cJSON_Delete
 * would (ASan reports a leak or a double free otherwise). */
#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "providers/json_node.h"

static void same_print(cJSON *ours, cJSON *theirs) {
  char *a = cJSON_PrintUnformatted(ours), *b = cJSON_PrintUnformatted(theirs);
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  cr_expect_str_eq(a, b);
  cJSON_free(a);
  cJSON_free(b);
}

Test(json_node, creators_like_cjsons) {
  cJSON *o = at_node_object(), *t = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "s", at_node_string("h\xc3\xa9llo \"q\""));
  cJSON_AddItemToObject(t, "s", cJSON_CreateString("h\xc3\xa9llo \"q\""));
  double nums[] = {0, -1.5, 1e300, -1e300, 2147483648.0, 42};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    cJSON *a = at_node_number(nums[i]), *b = cJSON_CreateNumber(nums[i]);
    cr_expect_eq(a->valueint, b->valueint, "valueint of %g", nums[i]);
    cJSON_AddItemToObject(o, "n", a);
    cJSON_AddItemToObject(t, "n", b);
  }
  cJSON_AddItemToObject(o, "t", at_node_bool(1));
  cJSON_AddItemToObject(t, "t", cJSON_CreateBool(1));
  cJSON_AddItemToObject(o, "f", at_node_bool(0));
  cJSON_AddItemToObject(t, "f", cJSON_CreateBool(0));
  cJSON_AddItemToObject(o, "z", at_node_null());
  cJSON_AddItemToObject(t, "z", cJSON_CreateNull());
  cJSON_AddItemToObject(o, "a", at_node_array());
  cJSON_AddItemToObject(t, "a", cJSON_CreateArray());
  cr_expect_null(at_node_string(NULL));
  same_print(o, t);
  at_json_delete(o);
  cJSON_Delete(t);
}

/* References and constant keys are left alone, owned strings and keys are
 * freed, nodes made by cJSON itself are taken too. */
Test(json_node, delete_frees_what_cjson_frees) {
  static char lit[] = "not ours to free";
  cJSON *borrowed = cJSON_CreateArray();
  cJSON_AddItemToArray(borrowed, cJSON_CreateString("inside a reference"));
  cJSON *root = at_node_object();
  cJSON_AddItemToObjectCS(root, "const-key", at_node_string("v"));
  cJSON_AddItemToObject(root, "copied-key", cJSON_CreateString("w"));
  cJSON_AddItemToObject(root, "ref", cJSON_CreateStringReference(lit));
  cJSON_AddItemReferenceToObject(root, "arr-ref", borrowed);
  cJSON *deep = root;
  for (int i = 0; i < 50; i++) {
    cJSON *next = i % 2 ? at_node_object() : cJSON_CreateObject();
    cJSON_AddItemToObject(deep, "d", next);
    cJSON_AddItemToObject(deep, "x", at_node_number(i));
    deep = next;
  }
  at_json_delete(root);
  cr_expect_str_eq(lit, "not ours to free");
  cr_expect_str_eq(borrowed->child->valuestring, "inside a reference");
  cJSON_Delete(borrowed);
  cr_expect_gt(at_node_cached(), 100);
}

/* A node from the cache is all zero, whatever it held before. */
Test(json_node, reused_nodes_are_clean) {
  cJSON *a = at_node_string("x");
  a->valueint = 7;
  a->type |= cJSON_StringIsConst;
  a->string = (char *)"k";
  at_json_delete(a);
  cr_assert_eq(at_node_cached(), 1);
  cJSON *b = at_node_new();
  cr_expect_eq(b, a, "the kept node comes back");
  static const cJSON zero;
  cr_expect(memcmp(b, &zero, sizeof zero) == 0);
  cr_assert_eq(at_node_cached(), 0);
  at_json_delete(b);
}

/* Bounded: past AT_NODE_CACHE nodes are freed. And depth does not
 * deepen the stack: a chain of 200,000 nested arrays (cJSON_Delete would
 * recurse as deep) is taken apart in a loop. */
Test(json_node, bounded_and_iterative) {
  cJSON *wide = at_node_array();
  for (int i = 0; i < AT_NODE_CACHE + 500; i++)
    cJSON_AddItemToArray(wide, at_node_number(i));
  at_json_delete(wide);
  cr_expect_eq(at_node_cached(), AT_NODE_CACHE);
  cJSON *top = at_node_array(), *cur = top;
  for (int i = 0; i < 200000; i++) {
    cJSON *next = at_node_array();
    cr_assert_not_null(next);
    cJSON_AddItemToArray(cur, next);
    cur = next;
  }
  at_json_delete(top);
  cr_expect_eq(at_node_cached(), AT_NODE_CACHE);
}

/* A thread's cache goes back to the allocator when the thread ends (ASan's
 * leak check sees to it). */
static void *fill_and_exit(void *arg) {
  (void)arg;
  cJSON *a = at_node_array();
  for (int i = 0; i < 300; i++)
    cJSON_AddItemToArray(a, at_node_string("kept"));
  at_json_delete(a);
  return (void *)(size_t)at_node_cached();
}

Test(json_node, thread_exit_gives_nodes_back) {
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, fill_and_exit, NULL), 0);
  void *kept;
  pthread_join(t, &kept);
  cr_expect_eq((size_t)kept, 301);
  cr_expect_eq(at_node_cached(), 0, "not this thread's");
}
