/* identity: this process's trace id, process span id and parent span.
 *
 * The trace comes from TRACEPARENT (whose span becomes the parent), else
 * AUTOTRACE_TRACE_ID (set by `autotrace run` so that all its processes share
 * one trace), else a fresh id: one trace per process run. A fork()ed child
 * keeps the trace and gets a new process span under its parent's. */
#ifndef AT_IDENTITY_H
#define AT_IDENTITY_H

#include "config.h"

/* Assign the identity in cfg if not done yet. Cheap after the first call. */
void at_identity_assign(struct at_config *cfg);

/* In a fork()ed child: when the parent had an identity, the child's process
 * span becomes its child, starting now. */
void at_identity_forked(struct at_config *cfg, long long now_ns);

#endif
