/* capture: freeing a capture. Linked into both the shim (which drops
 * captures it cannot queue) and the core (which frees them once parsed). */
#include <stdlib.h>

#include "capture.h"

void at_capture_free(struct at_capture *c) {
  if (!c)
    return;
  free(c->method);
  free(c->url);
  free(c->req_headers);
  free(c->req_body);
  free(c->resp_headers);
  free(c->resp_body);
  free(c->error_msg);
  free(c->conn);
  free(c);
}
