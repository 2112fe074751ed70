/* thread_origin: the pthread_create wrapper and origin announcements. */
#include "thread_origin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "common/clock.h"
#include "runtime.h"
#include "stack.h"
#include "symbols.h"
#include "worker.h"

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *,
                                 void *(*)(void *), void *);

struct origin_node {
  int refs;      /* the thread itself + each child node pointing here */
  int announced; /* its AT_CAPTURE_THREAD was submitted */
  int tid;       /* the thread this node describes; set by that thread */
  struct at_thread_origin origin;
  struct origin_node *parent; /* the creator's node (a reference) */
  void *(*start)(void *);     /* consumed by the new thread */
  void *arg;
};

static AT_TLS struct origin_node *self_node;
static AT_TLS int self_announced;
static pthread_key_t exit_key;
static int exit_key_ok;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static void *real_create;

static void node_unref(struct origin_node *n) {
  while (n && __atomic_sub_fetch(&n->refs, 1, __ATOMIC_ACQ_REL) == 0) {
    struct origin_node *parent = n->parent;
    free(n);
    n = parent;
  }
}

/* Thread exit, however it happens (return, pthread_exit, cancellation). */
static void on_thread_exit(void *p) {
  self_node = NULL;
  node_unref(p);
}

static void make_key(void) {
  exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

static void *trampoline(void *p) {
  struct origin_node *n = p;
  void *(*start)(void *) = n->start;
  void *arg = n->arg;
  /* n->tid is filled in by this thread when it first needs it (a capture
   * or a thread of its own): no gettid() for threads that never do. */
  self_node = n;
  if (pthread_setspecific(exit_key, n) != 0) {
    /* Without the key the node could not be released at exit: give up
     * this thread's origin rather than leak it. */
    self_node = NULL;
    node_unref(n);
  }
  return start(arg);
}

int at_thread_create(pthread_t *t, const pthread_attr_t *attr,
                     void *(*start)(void *), void *arg) {
  pthread_create_fn real = (pthread_create_fn)at_resolve(
      &real_create, "pthread_create", (void *)at_thread_create);
  if (!real)
    return EAGAIN;
  if (!start || !at_enabled())
    return real(t, attr, start, arg);
  int saved = errno;
  pthread_once(&key_once, make_key);
  struct origin_node *n = exit_key_ok ? malloc(sizeof *n) : NULL;
  if (!n) {
    errno = saved;
    return real(t, attr, start, arg);
  }
  n->refs = 1;
  n->announced = 0;
  n->tid = 0;
  n->origin.creator_tid = at_thread_id();
  if (self_node && !self_node->tid)
    self_node->tid = n->origin.creator_tid; /* read by our descendants */
  n->origin.created_ns = at_wall_ns();
  n->origin.nstack = at_stack_capture(n->origin.stack, AT_STACK_MAX);
  n->parent = self_node;
  if (n->parent)
    __atomic_add_fetch(&n->parent->refs, 1, __ATOMIC_RELAXED);
  n->start = start;
  n->arg = arg;
  errno = saved;
  int rc = real(t, attr, trampoline, n);
  if (rc != 0) {
    saved = errno;
    node_unref(n);
    errno = saved;
  }
  return rc;
}

void at_thread_announce(void) {
  if (self_announced)
    return;
  self_announced = 1;
  if (self_node && !self_node->tid)
    self_node->tid = at_thread_id();
  /* Ancestors first, so that the core meets a creator before its
   * children. A node whose event was submitted had its ancestors'
   * submitted with it: stop there. */
  struct origin_node *chain[64];
  unsigned depth = 0;
  for (struct origin_node *n = self_node; n && depth < 64; n = n->parent) {
    if (__atomic_exchange_n(&n->announced, 1, __ATOMIC_ACQ_REL))
      break;
    chain[depth++] = n;
  }
  while (depth > 0) {
    struct origin_node *n = chain[--depth];
    struct at_capture *c = calloc(1, sizeof *c);
    if (!c) {
      AT_COUNT(dropped_oom);
      continue;
    }
    c->kind = AT_CAPTURE_THREAD;
    c->tid = n->tid;
    c->t_ns = n->origin.created_ns;
    c->origin = n->origin;
    at_worker_submit(c);
  }
}

void at_thread_origin_forked(void) {
  /* The nodes stay allocated in the child (the parent's threads that
   * held references do not exist here): a bounded leak, never a free of
   * something still in use. */
  self_node = NULL;
  self_announced = 0;
  if (exit_key_ok)
    pthread_setspecific(exit_key, NULL);
}
