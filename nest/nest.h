/* nest: the nesting engine. Turns the stream of one process's parsed LLM
 * calls (and its thread and child-process events) into the observation
 * tree the program actually ran: traces with a root per process, spans for
 * the program's own functions, tool observations between two calls of a
 * conversation, agent observations for sub-agents, sessions grouping the
 * traces of one conversation. The rules, with worked examples, are in
 * docs/nesting.md.
 *
 * A pure, single-threaded state machine: it reads no clock, no
 * environment, no file. The core feeds it on the worker thread; the unit
 * tests feed it directly. Output goes through a sink: finished records
 * (each observation once, complete, when it is closed) and open markers
 * (added when an observation that may have children opens, deleted when
 * its record is written; docs/spool-format.md, "Open markers").
 *
 * Memory is bounded by the limits in struct nest_opts; what happens past
 * them is counted in struct nest_stats and described in docs/nesting.md. */
#ifndef AT_NEST_H
#define AT_NEST_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct nest;

/* An application frame (already symbolized; the program's own code only),
 * outermost first. */
struct nest_frame {
  const char *function; /* never NULL */
  const char *module;   /* may be NULL */
};

struct nest_opts {
  /* Explicit context pins every observation of the process into one
   * trace (TRACEPARENT, AUTOTRACE_TRACE_ID, or a fork()ed parent's):
   * conversation turns then do not open traces of their own. */
  int pinned;
  /* The process span's ids (decided by the shim): in a pinned process the
   * root of its trace; otherwise the root of the first trace it opens. */
  char proc_trace_id[33];
  char proc_span_id[17];
  char proc_parent_id[17]; /* "" for none */
  int64_t proc_start_ns;
  char program[256]; /* the program's name: a root's name by default */
  /* Explicit trace-level attributes: when set, the engine leaves the
   * record's own (stamped by the caller) alone. */
  int explicit_session;
  int explicit_name;
  /* Limits; 0 takes the default. */
  size_t max_conversations; /* default 256 */
  size_t max_traces;        /* open traces, default 64 */
  size_t max_open;          /* open observations, default 1024 */
  size_t max_threads;       /* threads remembered, default 1024 */
  int64_t idle_ns;          /* close an idle trace or span, default 10 min */
};

struct nest_sink {
  void *ctx;
  /* A finished observation; the sink owns rec. */
  void (*record)(void *ctx, cJSON *rec);
  /* An observation opened (marker is borrowed) / its marker is done. */
  void (*open)(void *ctx, const char *id, const cJSON *marker);
  void (*close)(void *ctx, const char *id);
  /* Add the process and trace-level fields to a record the engine made
   * (v, kind, process, user_id, tags, explicit session and name). */
  void (*stamp)(void *ctx, cJSON *rec, int tid);
};

struct nest_stats {
  uint64_t conversations_evicted; /* forgotten past max_conversations */
  uint64_t traces_evicted;        /* closed early past max_traces/open */
  uint64_t idle_closed;           /* traces or spans closed for idleness */
  uint64_t threads_evicted;       /* forgotten past max_threads */
};

struct nest *nest_new(const struct nest_opts *opts,
                      const struct nest_sink *sink);
void nest_free(struct nest *n);

/* One parsed observation record (generation, embedding, retriever, ...),
 * already stamped by the caller. The engine takes rec, sets its id,
 * trace_id, parent_id (and session_id, trace_name unless explicit), and
 * hands it to the sink. tid: the calling thread. frames: the calling
 * thread's application frames at the call, outermost first (none: 0). */
void nest_call(struct nest *n, cJSON *rec, int tid,
               const struct nest_frame *frames, unsigned nframes);

/* Thread tid was created by creator_tid at t_ns (pthread_create). */
void nest_thread(struct nest *n, int tid, int creator_tid, int64_t t_ns);

/* Thread tid started a child process at t_ns, handing it span_id (16 hex)
 * as its parent through TRACEPARENT; program: its name. */
void nest_spawn(struct nest *n, int tid, int64_t t_ns, const char *span_id,
                const char *program);

/* Make sure the process's root exists (a process that captured only what
 * could not be parsed still leaves its process span). */
void nest_touch_process(struct nest *n, int64_t now_ns);

/* Close what has been idle longer than idle_ns. */
void nest_tick(struct nest *n, int64_t now_ns);

/* The process ends: close everything (the roots end at now_ns when
 * pinned, at their last child otherwise). */
void nest_finish(struct nest *n, int64_t now_ns);

void nest_get_stats(const struct nest *n, struct nest_stats *out);

#endif
