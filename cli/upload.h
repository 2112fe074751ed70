/* upload: the pieces of `autotrace upload` (cli/cmd_upload.c), each its own
 * file so that the unit tests can drive it:
 *
 *   upload_config.c   targets, credentials file, retention and header
 *                     syntax — everything read from the environment
 *   upload_batch.c    a batch = the records of a sequence range, turned
 *                     into the exact request body (deterministic)
 *   upload_legacy.c   records -> Langfuse's legacy {"batch":[...]} events,
 *                     and reading its 207 answer
 *   upload_send.c     one HTTP answer -> what to do (ack, retry, park)
 *   upload_markers.c  closing the open spans of processes that died
 *   upload_stats.c    the "upload" part of `autotrace stats`
 *   http_client.c     libcurl POST with gzip, timeouts, Retry-After
 *
 * The design and its guarantees are in docs/upload.md. */
#ifndef AT_CLI_UPLOAD_H
#define AT_CLI_UPLOAD_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "otlp.h"
#include "traces.h"

struct spool;

/* ---- targets (upload_config.c) ---- */

enum upload_kind { UP_OTLP = 0, UP_LANGFUSE, UP_LEGACY };

struct upload_header {
  char *name;
  char *value;
  int secret; /* never printed: --dry-run shows [REDACTED] */
};

struct upload_target {
  enum upload_kind kind;
  char *name; /* the cursor's name in the spool: "<kind> <shown_url>" */
  char *url;
  char *shown_url; /* url without user:password@ and query: printable */
  struct upload_header *headers;
  size_t nheaders;
  int gzip;           /* 1 always, 0 never, -1 when large */
  size_t batch_spans; /* at most this many records per request */
  size_t batch_bytes; /* and about this many bytes of body */
};

/* The word for a kind: "otlp", "langfuse", "langfuse-legacy". */
const char *upload_kind_name(enum upload_kind k);
/* Parse such a word; -1 when unknown. */
int upload_kind_parse(const char *s);

/* Build the targets of the given kinds (all that the environment
 * configures when nkinds is 0) from the environment. Returns 0, or -1 with
 * a message in err (missing keys, no target configured, a bad URL). */
int upload_targets_from_env(const int *kinds, size_t nkinds,
                            struct upload_target **out, size_t *n, char *err,
                            size_t errlen);
void upload_targets_free(struct upload_target *t, size_t n);

/* url with its user:password@ and query string replaced by "***": what
 * may be printed or stored. malloc()ed. */
char *upload_url_redacted(const char *url);

/* OTEL_EXPORTER_OTLP_HEADERS syntax: "k1=v1,k2=v2", values
 * percent-decoded, blanks around keys and values trimmed. Appends to *h
 * (secret = 1). Returns 0, or -1 when an entry has no '=' or an empty key. */
int upload_parse_headers(const char *s, struct upload_header **h, size_t *n);

/* OTEL_RESOURCE_ATTRIBUTES syntax (the same as headers) into a cJSON
 * object of strings. NULL on a syntax error. */
cJSON *upload_parse_resource_attrs(const char *s);

/* "7d,1GiB": an age (s, m, h, d, w) and a size (B, K/KB/KiB, M.., G.., T..),
 * comma-separated, either optional, "none" for no bound. Returns 0, or -1
 * with a message in err. */
int upload_parse_retention(const char *s, int64_t *age_ns, uint64_t *bytes,
                           char *err, size_t errlen);
/* A size such as "4M" or "512KiB"; -1 when malformed. */
int upload_parse_size(const char *s, uint64_t *out);

/* The credentials file: path, or the default
 * ${XDG_CONFIG_HOME:-$HOME/.config}/autotrace/upload.env when NULL. Sets
 * each KEY=VALUE not already in the environment. Returns 0 when read, 1
 * when there is no such file (only an error for an explicit path), -1
 * when refused (group/other may read it, another owner, a syntax error):
 * a message is in err. */
int upload_config_load(const char *path, char *err, size_t errlen);

/* ---- batches (upload_batch.c) ---- */

struct upload_batch {
  uint64_t first, last; /* the sequence range it covers */
  cJSON **recs;         /* the readable records, in seq order (owned) */
  uint64_t *seqs;       /* their sequence numbers */
  size_t n, cap;
  size_t unreadable; /* records in the range that are not records */
  size_t raw_bytes;  /* sum of the records' stored sizes */
  char *body;        /* the request body, exactly as sent */
  size_t len;
  cJSON *tree;       /* the OTLP tree the body was printed from */
  unsigned char *gz; /* the body gzipped, when a builder did it */
  size_t gz_len;
  /* Loaded but not parsed yet (upload_batch_load_raw): copies of the
   * stored records, parsed by a builder thread. */
  char **raw;
  size_t *raw_len;
  uint64_t *raw_seq;
  size_t nraw;
  /* Legacy only: for each event of the body, the index into recs it came
   * from (SIZE_MAX: a trace-create event), and its id. */
  size_t *event_rec;
  char **event_ids;
  size_t nevents;
};

/* Options every body is built with; a function of the configuration only,
 * never of the time, so that a batch rebuilt after a restart is the same
 * bytes. */
struct upload_build_opts {
  struct otlp_opts otlp;
  const cJSON *resource_attrs; /* extra resource attributes; may be NULL */
};
void upload_build_opts_init(struct upload_build_opts *o, char *host_buf,
                            size_t host_len, cJSON **attrs_owned);

/* Load records from `from` on. When to != 0, exactly the range
 * [from, to] (a batch being re-sent); else as many as fit max_spans and
 * about max_bytes of stored records (at least one). Returns 0 with b
 * filled (b->n may be 0 when the range holds only unreadable records), 1
 * when there is no record at or after from (and to == 0), or a negative
 * spool error. */
int upload_batch_load(struct spool *sp, uint64_t from, uint64_t to,
                      size_t max_spans, size_t max_bytes,
                      struct upload_batch *b);
/* The same selection as upload_batch_load with to == 0, but the records
 * are only copied (b->raw), for a builder thread to parse. */
int upload_batch_load_raw(struct spool *sp, uint64_t from, size_t max_spans,
                          size_t max_bytes, struct upload_batch *b);
/* Parse b->raw into b->recs (counting the unreadable), freeing the raw
 * copies. Returns 0, or -1 (out of memory). */
int upload_batch_parse(struct upload_batch *b);
/* Build b->body for the target's kind. Returns 0, or -1 (out of memory). */
int upload_batch_build(struct upload_batch *b, enum upload_kind kind,
                       const struct upload_build_opts *o);
void upload_batch_free(struct upload_batch *b);
/* Free the parsed records once the body is built (n and seqs stay). */
void upload_batch_drop_records(struct upload_batch *b);

/* ---- building ahead (upload_builder.c) ---- */

/* A helper thread that builds one batch's body while the main thread
 * sends the one before: submit hands a loaded batch over (it is moved:
 * *b is emptied; -1 when the builder is busy), take waits for it and
 * returns upload_batch_build's result (-2: nothing was submitted). */
struct upload_builder;
/* idle_class: the thread runs under SCHED_IDLE (only when a CPU has
 * nothing else to do). */
struct upload_builder *upload_builder_start(int idle_class);
int upload_builder_idle(struct upload_builder *w);
/* gzip: also gzip the body when it is gzip_min bytes or more (b->gz). */
int upload_builder_submit(struct upload_builder *w, struct upload_batch *b,
                          enum upload_kind kind,
                          const struct upload_build_opts *o, int gzip,
                          size_t gzip_min);
/* Hand a batch that was sent over to be freed on the builder's thread
 * (moved; freed here when the builder cannot take it). */
void upload_builder_dispose(struct upload_builder *w, struct upload_batch *b);
int upload_builder_take(struct upload_builder *w, struct upload_batch *out);
void upload_builder_stop(struct upload_builder *w);

/* ---- the legacy API (upload_legacy.c) ---- */

/* The {"batch":[...]} body of Langfuse's /api/public/ingestion for the
 * batch's records: per trace a trace-create, per record an
 * <type>-create event. Event ids are derived from the span and trace ids,
 * so a re-sent event has the same id and the server deduplicates it. */
int upload_legacy_build(struct upload_batch *b);

/* One event the server refused, from a 207 answer. */
struct legacy_error {
  size_t rec; /* index into b->recs; SIZE_MAX for a trace event */
  int status; /* per-event status */
  char message[256];
};
/* Read a 207 (or 2xx) answer. Returns the number of errors put in errs
 * (at most max), and sets *retry when an error says the server failed
 * (5xx, 429): the whole batch should then be sent again. -1 when the body
 * is not the documented {successes, errors}. */
int upload_legacy_parse(const struct upload_batch *b, const char *body,
                        size_t len, struct legacy_error *errs, size_t max,
                        int *retry, size_t *nerrors);

/* ---- one answer -> one decision (upload_send.c) ---- */

enum upload_verdict {
  UV_OK = 0, /* accepted (maybe partly: rejected > 0; final) */
  UV_RETRY,  /* try the same batch again later */
  UV_PARK,   /* refused for good: park it, go on */
  UV_SPLIT   /* 413: send fewer records at once */
};

struct upload_answer {
  long status;            /* HTTP status; 0 when no response came */
  int transport_error;    /* the request failed before an answer */
  const char *error_text; /* libcurl's words, when transport_error */
  const char *body;
  size_t len;
  int64_t retry_after_ms; /* -1 when absent */
  unsigned server_errors; /* 500-class answers this batch got before */
};

struct upload_decision {
  enum upload_verdict verdict;
  int64_t delay_ms;  /* UV_RETRY: wait at least this long */
  uint64_t rejected; /* OTLP partialSuccess.rejectedSpans */
  char message[512]; /* what the server (or libcurl) said */
};

/* Decide for an answer. attempt counts tries of this batch so far (1 for
 * the first: the backoff grows with it); n_records is the batch's size
 * (413 on one record parks). */
void upload_decide(const struct upload_answer *a, enum upload_kind kind,
                   unsigned attempt, size_t n_records,
                   struct upload_decision *d);

/* Exponential backoff with jitter for the attempt'th retry: between half
 * and all of min(cap, base * 2^(attempt-1)). rnd in [0, 1). */
int64_t upload_backoff_ms(unsigned attempt, double rnd);

/* The server's message from an error body: a JSON "message", "error" or
 * "errorMessage" field, else the text itself, made printable and cut. */
void upload_server_message(const char *body, size_t len, char *out,
                           size_t outlen);

/* ---- dead processes' open spans (upload_markers.c) ---- */

/* Close, in the spool, every open marker whose process is dead (the pid
 * is gone, or reused by a process that started after the span) and whose
 * span started grace_ns or more before now_ns (wall clock): the finished
 * record (end = the latest end below it, "incomplete": true) is appended
 * and the marker deleted in one transaction, so that it ships exactly once
 * through the cursors. Returns the number closed, or -1 on error
 * (printed). */
long upload_close_dead_markers(struct spool *sp, int64_t grace_ns,
                               int64_t now_ns, trace_alive_fn alive);

/* ---- stats (upload_stats.c) ---- */

/* Add "upload": {"targets": [...], "retention": ...} to a stats object. */
int upload_stats_collect(struct spool *sp, cJSON *stats);
void upload_stats_render(FILE *out, const cJSON *stats, int color);

/* ---- http (http_client.c) ---- */

struct http_client;
struct http_result {
  long status;     /* 0: no answer */
  int curl_code;   /* CURLE_OK when an answer came */
  char error[256]; /* libcurl's message when curl_code != 0 */
  char *body;      /* the answer, at most AT_UPLOAD_RESPONSE_MAX bytes */
  size_t len;
  int64_t retry_after_ms; /* -1: no Retry-After */
  size_t sent_bytes;      /* body bytes on the wire (after gzip) */
};
struct http_client *http_client_new(long timeout_ms, long connect_timeout_ms);
void http_client_free(struct http_client *c);
/* POST body to url with the headers (plus Content-Type: application/json
 * and, when gzip, Content-Encoding: gzip). gzip: 0 send as is, 1 gzip it
 * here, 2 body is gzip already. Returns 0 when the request was made
 * (whatever the answer, see r), -1 when it could not even be set up.
 * r->body is owned by the client until the next call. */
int http_post(struct http_client *c, const char *url,
              const struct upload_header *h, size_t nh, const char *body,
              size_t len, int gzip, struct http_result *r);

/* gzip (RFC 1952) of in: deterministic (no name, no time). Returns a
 * malloc()ed buffer, or NULL. level: zlib's 1..9. */
unsigned char *http_gzip(const char *in, size_t len, int level,
                         size_t *out_len);

/* Base64 of in (for Basic auth), malloc()ed. */
char *upload_base64(const char *in, size_t len);

/* The command. */
int cmd_upload(int argc, char **argv);

#endif
