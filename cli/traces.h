/* traces: load observation records from the spool and group them into
 * traces, each a tree of observations.
 *
 * A record's parent is its parent_id; records whose parent is not in the
 * trace are roots. Siblings are ordered by start time. Open-span markers
 * (spans started but not finished) join their trace too: a marker whose
 * process is still alive is "running"; one whose process is gone is closed
 * here, as the spool format asks readers to do: end = the latest end among
 * its descendants (its start when it has none), incomplete = true.
 *
 * Built for big traces: ids are found through a hash table and the tree is
 * built after one sort, so 10,000 observations cost milliseconds. */
#ifndef AT_CLI_TRACES_H
#define AT_CLI_TRACES_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct spool;

enum obs_state {
  OBS_DONE = 0,  /* a finished record */
  OBS_RUNNING,   /* an open marker of a live process */
  OBS_INCOMPLETE /* a marker of a dead process, or a record so marked */
};

#define OBS_NONE ((size_t)-1)

struct obs {
  cJSON *rec;     /* owned; a closed marker gets end_ns and incomplete */
  uint64_t seq;   /* spool sequence number; 0 for markers */
  const char *id; /* point into rec */
  const char *parent_id;
  const char *type;
  int64_t start_ns, end_ns; /* 0 when unknown */
  enum obs_state state;
  int marker; /* came from an open-span marker, not a finished record */
  long pid;   /* process.pid, 0 when unknown */
  /* The tree, as indices into trace.obs (OBS_NONE for none). */
  size_t parent, first_child, next_sibling;
  unsigned depth;
  size_t ord; /* private: arrival order, to keep sorting stable */
};

struct trace {
  char id[33];
  struct obs *obs;
  size_t nobs, cap;
  size_t first_root; /* roots are linked through next_sibling */
  size_t *order;     /* every index in depth-first pre-order (nobs) */
  /* Summary, filled by trace_set_finish(). */
  int64_t start_ns, end_ns; /* over all observations; 0 when unknown */
  const char *name;         /* trace_name, else the first root's name */
  const char *session_id, *user_id;
  size_t n_llm; /* generations + embeddings */
  size_t n_generations, n_embeddings;
  int64_t llm_ns; /* summed duration of LLM calls */
  uint64_t tokens_in, tokens_out, tokens_total;
  size_t n_with_tokens; /* LLM calls that reported usage */
  double cost_usd;
  size_t n_priced;   /* LLM calls with a cost */
  size_t n_unpriced; /* LLM calls with tokens but no price */
  size_t n_error, n_warning, n_running, n_incomplete;
  uint64_t max_seq;
};

/* What to load. A zero-initialised filter loads everything. */
struct trace_filter {
  const char *prefix;     /* only trace ids starting with this (lowercase) */
  const char *const *ids; /* or exactly these trace ids (n_ids of them) */
  size_t n_ids;
  uint64_t from_seq; /* only records with seq >= from_seq */
  int no_markers;    /* skip open-span markers */
};

/* Decides whether the process that wrote a marker still runs. Given the
 * pid and the marker's start time. The default, trace_pid_alive(), asks
 * the kernel and rejects pids reused by a process started later. */
typedef int (*trace_alive_fn)(long pid, int64_t start_ns);
int trace_pid_alive(long pid, int64_t start_ns);

struct trace_set {
  struct trace *traces; /* after finish: newest first */
  size_t ntraces, cap;
  size_t nrecords; /* records accepted */
  size_t nmarkers; /* markers accepted */
  size_t skipped;  /* unreadable records and markers, not loaded */
  trace_alive_fn alive;
  /* private: trace id -> index while loading */
  size_t *index;
  size_t index_cap;
};

void trace_set_init(struct trace_set *ts);
void trace_set_free(struct trace_set *ts);

/* Add one record (takes ownership of rec, even on failure). Returns 0,
 * 1 when skipped as unreadable, -1 on allocation failure. */
int trace_set_add_record(struct trace_set *ts, cJSON *rec, uint64_t seq);

/* Add one open-span marker (takes ownership). span_id is the marker's key,
 * used when the JSON itself carries no id. Same returns. */
int trace_set_add_marker(struct trace_set *ts, const char *span_id,
                         cJSON *marker);

/* Build the trees, close dead markers, compute summaries, sort the traces
 * newest first (by start time). Returns 0, or -1 on allocation failure. */
int trace_set_finish(struct trace_set *ts);

/* Load from an open spool through a filter, then finish. Returns 0 or -1
 * (an error was printed). */
int traces_load(struct spool *sp, const struct trace_filter *f,
                struct trace_set *ts);

/* The trace id of the newest record (or, when there are no records, of
 * the newest marker) into out (33 bytes). Returns 0, 1 when the spool
 * holds nothing, -1 on error (printed). */
int traces_newest_id(struct spool *sp, char *out);

/* Load the one trace that `arg` names: "last" (the trace of the newest
 * record) or a full trace id or a unique prefix of one. Returns 0 with
 * exactly one trace in ts; 1 when there is no such trace, it is ambiguous
 * or arg is malformed (explained on stderr); -1 on error. */
int traces_load_one(struct spool *sp, const char *arg, struct trace_set *ts);

/* Warn on stderr when unreadable records were skipped. */
void trace_set_warn_skipped(const struct trace_set *ts);

/* The trace's status word: "ERROR", "WARN", "open", "incomplete", "OK". */
const char *trace_status(const struct trace *t);

#endif
