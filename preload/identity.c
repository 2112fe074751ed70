#include "identity.h"

#include <string.h>

#include "common/ids.h"

void at_identity_assign(struct at_config *cfg) {
  if (cfg->proc_span_id[0])
    return;
  if (cfg->traceparent_trace_id[0]) {
    memcpy(cfg->proc_trace_id, cfg->traceparent_trace_id, 33);
    memcpy(cfg->proc_parent_id, cfg->traceparent_span_id, 17);
  } else if (cfg->trace_id[0]) {
    memcpy(cfg->proc_trace_id, cfg->trace_id, 33);
    cfg->proc_parent_id[0] = '\0';
  } else {
    at_new_trace_id(cfg->proc_trace_id);
    cfg->proc_parent_id[0] = '\0';
  }
  at_new_span_id(cfg->proc_span_id);
}

void at_identity_forked(struct at_config *cfg, long long now_ns) {
  if (!cfg->proc_span_id[0])
    return; /* the parent never captured: the child decides on its own */
  memcpy(cfg->proc_parent_id, cfg->proc_span_id, 17);
  at_new_span_id(cfg->proc_span_id);
  cfg->process_start_ns = now_ns;
}
