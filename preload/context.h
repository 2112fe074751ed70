/* context: what a child process inherits (process ancestry).
 *
 * At every exec*, posix_spawn* and system() of a traced process, and at
 * fork(), the shim decides where the child's work nests and says so in the
 * child's environment: TRACEPARENT=00-<trace>-<span>-01 (W3C) and
 * AUTOTRACE_TRACE_ID=<trace>, plus the session, user, trace name and tags
 * when the child's environment lacks them. The rule (docs/nesting.md,
 * "Context propagation"):
 *
 *  1. This process writes spans (it has captured: its worker runs). A new
 *     span id S is allocated for the spawn, an AT_CAPTURE_SPAWN capture
 *     (thread, time, call stack, S, program) is queued so the core can
 *     write that span, and the child nests under S. When exec replaces
 *     this process, the queue is drained and the process span written
 *     first (exec skips atexit). In a vfork()ed child (no malloc, no locks)
 *     the spawn is recorded in a fixed slot that the parent queues later.
 *  2. It has an identity but writes nothing (a fork()ed child that has not
 *     captured): the child nests where this process would have.
 *  3. It has no identity and no context from its environment: its trace id
 *     is fixed now and the child joins that trace (as a root: nothing may
 *     point at a span that might never be written).
 *  4. Otherwise (no capture yet, context inherited): the environment is
 *     passed unchanged: the child nests where this process would have.
 *
 * The environment is only changed when the child's own environment still
 * preloads the shim (a child run with `env -i` or a cleaned environment
 * is left exactly as the app built it), and never when the app set its own
 * TRACEPARENT or AUTOTRACE_TRACE_ID for the child (explicit context wins).
 * The caller's environ and argv are never modified. */
#ifndef AT_CONTEXT_H
#define AT_CONTEXT_H

#include <stddef.h>

#include "capture.h"

/* Pointer slots kept inline for the child's environment; larger ones use
 * one anonymous mapping (mmap is safe in a vfork child, malloc is not). */
#define AT_ENV_INLINE 512
#define AT_ENV_STRINGS 6144

struct at_spawn {
  char **envp; /* what to pass to the real call: the caller's, or ours */
  char **map;  /* our pointer array when mmap()ed */
  size_t map_len;
  char *inline_ptrs[AT_ENV_INLINE];
  char strings[AT_ENV_STRINGS];
  struct at_capture *capture; /* the AT_CAPTURE_SPAWN to queue, or NULL */
};

/* Called once by at_init: fork handlers, this process's pid. */
void at_context_init(void);

/* Decide the child's context and build its environment from envp.
 * program: the child's argv[0]. Allocation-free when called in a vfork()ed
 * child. */
void at_spawn_prepare(struct at_spawn *sp, char *const envp[],
                      const char *program);

/* exec only, right before the real call: queue the spawn and drain the
 * queue, writing this process's span (its image ends at a successful
 * exec). When the exec then fails, capture stays off for this process:
 * its span was already written. */
void at_spawn_before_exec(struct at_spawn *sp);

/* After the real call: queue the spawn when the child was started (ok),
 * drop it otherwise; release the environment. */
void at_spawn_finish(struct at_spawn *sp, int ok);

/* On the app's thread before a capture of it is queued: announce the
 * thread's origin (thread_origin.h) and queue the spawns recorded by
 * vfork()ed children. Cheap when there is nothing to do. */
void at_context_capture_begins(void);

/* Queue the spawns recorded by vfork()ed children (also run at exit). */
void at_context_collect_pending(void);

#endif
