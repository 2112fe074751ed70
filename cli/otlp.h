/* otlp: observation records -> an OTLP/HTTP JSON ExportTraceServiceRequest.
 *
 * The exact body `autotrace export --format otlp` prints and the uploader
 * POSTs to /v1/traces: OpenTelemetry GenAI attributes (gen_ai.*) for any
 * backend, plus the langfuse.* attributes Langfuse reads first. The JSON
 * follows the OTLP/HTTP rules, not plain proto3 JSON: hex trace and span
 * ids, 64-bit integers (times, intValue) as decimal strings, enums as
 * integers, attributes as lists of {key, value:{<type>Value}}.
 *
 * Spans are grouped into one resourceSpans entry per process (pid and
 * executable), in the order the processes first appear. Trace-level
 * attributes (session.id, user.id, langfuse.trace.name, .tags) are copied
 * onto every span of their trace: Langfuse v4 filters on the span's own. */
#ifndef AT_CLI_OTLP_H
#define AT_CLI_OTLP_H

#include <cjson/cJSON.h>
#include <stddef.h>

struct otlp_opts {
  /* service.name for every resource; NULL or "" derives it per process:
   * the trace name, else the program's basename, else "unknown_service".
   * Callers pass $OTEL_SERVICE_NAME here. */
  const char *service_name;
  /* host.name; NULL leaves it out. */
  const char *host_name;
};

/* Fill opts from the environment (OTEL_SERVICE_NAME) and the host name.
 * host_buf must outlive opts. */
void otlp_opts_from_env(struct otlp_opts *opts, char *host_buf,
                        size_t host_len);

/* Build the request from n records (docs/record-schema.md). Records that
 * lack a valid id or trace_id are left out. Returns a new cJSON tree the
 * caller deletes, or NULL on allocation failure. */
cJSON *otlp_request_from_records(const cJSON *const *records, size_t n,
                                 const struct otlp_opts *opts);

/* One span from one record; trace_attrs (may be NULL) is a record whose
 * session_id / user_id / trace_name / tags fill in what rec lacks.
 * NULL when the record has no valid ids or on allocation failure. */
cJSON *otlp_span_from_record(const cJSON *rec, const cJSON *trace_attrs);

#endif
