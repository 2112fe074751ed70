/* capture: one exchange captured on the application's thread, handed to the
 * worker. The shim allocates it, fills the owned buffers, and queues it; the
 * core (on the worker thread) parses it and frees it with at_capture_free().
 * Both sides use the same libc allocator. */
#ifndef AT_CAPTURE_H
#define AT_CAPTURE_H

#include "providers/exchange.h"
#include "providers/providers.h"

struct at_capture {
  struct at_capture *next; /* queue link */
  struct at_exchange ex;   /* its pointers point into the buffers below */
  struct at_match match;   /* decided on the app's thread */
  int tid;                 /* thread that made the call */
  /* owned memory (free()d by at_capture_free) */
  char *method, *url, *req_headers, *req_body, *resp_headers, *resp_body;
  char *error_msg;
};

void at_capture_free(struct at_capture *c);

#endif
