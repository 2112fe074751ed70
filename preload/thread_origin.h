/* thread_origin: where each thread came from (thread ancestry).
 *
 * The pthread_create hook (hooks/pthread_create.c) wraps the start routine:
 * before the new thread runs the app's code it records, in its own TLS, a
 * node holding its struct at_thread_origin (the creating thread's id, the
 * time, and the creator's call stack at pthread_create) and a reference
 * to the creator's own node. Nodes are reference counted: a node lives
 * while its thread runs or a descendant thread still points at it, so a
 * nested thread tree stays reconstructable after a middle thread exits.
 *
 * The core learns a thread's origin from one AT_CAPTURE_THREAD capture,
 * submitted at the thread's first capture (at_thread_announce), preceded
 * by one for each ancestor not announced yet, outermost first. Exchange
 * captures do not carry the origin (docs/nesting.md). */
#ifndef AT_THREAD_ORIGIN_H
#define AT_THREAD_ORIGIN_H

#include <pthread.h>

/* The creation path, called by the pthread_create hook: when capture is
 * on, wraps start/arg so that the new thread records its origin; then
 * calls the real pthread_create. Returns its result unchanged. */
int at_thread_create(pthread_t *t, const pthread_attr_t *attr,
                     void *(*start)(void *), void *arg);

/* Before a capture of this thread is submitted (app's thread): submit the
 * AT_CAPTURE_THREAD events of this thread and its ancestors, once. One TLS
 * load after the first call. */
void at_thread_announce(void);

/* In a fork()ed child: the surviving thread's origin belongs to the
 * parent process (its ids are the parent's threads); forget it. */
void at_thread_origin_forked(void);

#endif
