/* core_process: who this process is in the trace.
 *
 * Each traced process that captures anything gets one `span` observation,
 * the process span, under which its LLM calls nest. Its ids are decided by
 * the shim (preload/identity.c); this module adds what the core knows: the
 * program's name and path, and the fields every record carries. */
#ifndef AT_CORE_PROCESS_H
#define AT_CORE_PROCESS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "config.h"

struct core_process {
  char trace_id[33];
  char span_id[17];
  char parent_id[17]; /* "" for a root */
  int64_t start_ns;
  int pid, ppid; /* cached: both are system calls in glibc */
  char exe[1024];
  char name[256];
  cJSON *metadata; /* AUTOTRACE_METADATA parsed; NULL when unset or bad */
};

/* Set up the context from the configuration (first start). */
void core_process_init(struct core_process *p, const struct at_config *cfg);

/* Add the trace-level and process fields to a record: v, kind, trace_id,
 * session_id, user_id, trace_name, tags, trace_metadata, process. */
void core_process_stamp(const struct core_process *p,
                        const struct at_config *cfg, cJSON *rec, int tid);

#endif
