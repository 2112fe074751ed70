/* core_nest: the core's glue to the nesting engine (nest/nest.h).
 *
 * The consume loop hands each parsed record, and each thread or spawn
 * event, to the engine; what the engine closes comes out as spool
 * records, and what it opens or finishes as open-marker additions and
 * deletions, collected here into the batch the core commits. Call stacks
 * are symbolized here, on the worker thread, through core_symbolize()
 * when the core has it (a weak reference: a core built without the
 * symbolizer nests from the conversation alone). */
#ifndef AT_CORE_NEST_H
#define AT_CORE_NEST_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "common/dynbuf.h"
#include "config.h"
#include "core_process.h"
#include "spool/spool.h"

/* What one commit carries, built up by the engine's output. */
struct core_batch {
  /* The records, printed one after the other into text (kept from batch
   * to batch: no allocation per record). texts[i] points into it once
   * core_nest_batch() returns; offs[i] is where record i starts. */
  struct dynbuf text;
  const char **texts;
  size_t *offs, *lens;
  size_t ntexts;
  size_t text_bytes;            /* the sum of lens */
  size_t last_len;              /* the last record's length */
  struct spool_open_mark *adds; /* json owned (cJSON_free) */
  size_t nadds;
  char (*dels)[17];
  size_t ndels;
  size_t cap_texts, cap_adds, cap_dels;
  uint64_t dropped_oom; /* records lost to a failed allocation */
};

/* Set up the engine for this process (idempotent until finish). */
int core_nest_start(const struct core_process *p, const struct at_config *cfg);

/* A parsed exchange (rec is the engine's from now on). */
void core_nest_exchange(const struct at_capture *c, cJSON *rec);

/* A thread or spawn capture. */
void core_nest_event(const struct at_capture *c);

/* Close what has been idle too long. */
void core_nest_tick(int64_t now_ns);

/* Process exit: close everything; the engine is gone afterwards. */
void core_nest_finish(int64_t now_ns);

/* In a fork()ed child: forget the parent's state without writing. */
void core_nest_forget(void);

/* The batch so far; reset empties it (frees what it holds). */
struct core_batch *core_nest_batch(void);
void core_nest_batch_reset(void);

/* Counters of the engine's bounds, as deltas since the last call. */
struct core_nest_counters {
  uint64_t conversations_evicted, traces_evicted, idle_closed, threads_evicted;
};
void core_nest_take_counters(struct core_nest_counters *d);

#endif
