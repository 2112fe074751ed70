/* capture: a capture's own strings, and freeing it. Linked into both the
 * shim (which drops captures it cannot queue, and whose worker gives the
 * parsed ones back to the buffer pool, bufpool.c) and the core. */
#include "capture.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

char *at_capture_set_str(struct at_capture *c, const char *s) {
  size_t n = strlen(s) + 1;
  if (n <= sizeof c->strs - c->strs_used) {
    char *p = c->strs + c->strs_used;
    memcpy(p, s, n);
    c->strs_used += n;
    return p;
  }
  return strdup(s);
}

static void free_unless_inside(struct at_capture *c, char *p) {
  uintptr_t at = (uintptr_t)p, room = (uintptr_t)c->strs;
  if (at < room || at >= room + sizeof c->strs)
    free(p);
}

void at_capture_free_strings(struct at_capture *c) {
  free_unless_inside(c, c->method);
  free_unless_inside(c, c->url);
  free_unless_inside(c, c->error_msg);
  free(c->conn);
  c->method = c->url = c->error_msg = NULL;
  c->conn = NULL;
}

void at_capture_free(struct at_capture *c) {
  if (!c)
    return;
  at_capture_free_strings(c);
  free(c->req_headers);
  free(c->req_body);
  free(c->resp_headers);
  free(c->resp_body);
  free(c);
}
