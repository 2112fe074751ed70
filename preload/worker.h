/* worker: the one background thread per process that turns captures into
 * spool records.
 *
 * Hooks hand finished captures to at_worker_submit(), which only links them
 * into a bounded queue and signals: the app's thread never parses, never
 * touches LMDB and never waits for the worker. The first submission starts
 * the thread, which loads libautotrace-core.so (RTLD_LOCAL) and opens the
 * spool; at exit the queue is drained and the process span written. */
#ifndef AT_WORKER_H
#define AT_WORKER_H

#include "capture.h"

/* Queue a capture. Takes ownership: on a full queue or a failed worker the
 * capture is freed and counted as dropped. Never blocks on the worker. */
void at_worker_submit(struct at_capture *c);

/* 1 when this process's worker runs: it has captured, and its process
 * span will be written. */
int at_worker_running(void);

/* Fix this process's identity now (preload/identity.c), under the queue
 * lock. */
void at_worker_assign_identity(void);

/* Before an exec that replaces this process: stop capturing, drain the
 * queue and write the process span (bounded like exit). */
void at_worker_flush_before_exec(void);
/* Wake the worker: connection bytes are pending (hooks/conn.h). While
 * some are, the worker harvests them every AT_HARVEST_MS. */
void at_worker_poke(void);

/* Fork handlers (registered by at_init). */
void at_worker_atfork_prepare(void);
void at_worker_atfork_parent(void);
void at_worker_atfork_child(void);

#endif
