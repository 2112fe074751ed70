/* pthread_create: thread ancestry (preload/thread_origin.h). */
#include <pthread.h>

#include "preload/thread_origin.h"

__attribute__((visibility("default"))) int
pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*start)(void *),
               void *arg) {
  return at_thread_create(t, attr, start, arg);
}
