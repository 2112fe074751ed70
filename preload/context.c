/* context: process ancestry through the environment (see context.h). */
#include "context.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ids.h"
#include "runtime.h"
#include "stack.h"
#include "thread_origin.h"
#include "worker.h"

extern char **environ;
extern char *program_invocation_short_name;

/* This process's pid, kept by the fork handler. A hook that sees another
 * pid runs in a child that shares our memory: vfork(), or clone(CLONE_VM). */
static int ctx_pid;

static int in_shared_child(void) {
  return ctx_pid != 0 && getpid() != ctx_pid;
}

/* ---- spawns recorded by vfork()ed children ---- */

#define PENDING_SLOTS 16
enum { SLOT_FREE = 0, SLOT_WRITING, SLOT_READY };
static struct pending_spawn {
  int state;
  int tid;
  int64_t t_ns;
  char span_id[17];
  char program[64];
  uintptr_t stack[AT_STACK_MAX];
  unsigned nstack;
} pending[PENDING_SLOTS];
static int pending_any;

/* ---- fork: the parent's spawn span becomes the child's parent ---- */

static AT_TLS struct at_capture *fork_spawn;
static AT_TLS int fork_had_identity, fork_parent_wrote;
static AT_TLS char fork_saved_parent[17];

static size_t bounded_copy(char *dst, size_t cap, const char *src) {
  size_t n = 0;
  if (src)
    while (src[n] && n + 1 < cap) {
      dst[n] = src[n];
      n++;
    }
  dst[n] = '\0';
  return n;
}

static const char *short_name(const char *program) {
  if (!program || !*program)
    return "?";
  const char *slash = strrchr(program, '/');
  return slash && slash[1] ? slash + 1 : program;
}

static struct at_capture *new_spawn_capture(const char *program) {
  struct at_capture *c = calloc(1, sizeof *c);
  if (!c) {
    AT_COUNT(dropped_oom);
    return NULL;
  }
  c->kind = AT_CAPTURE_SPAWN;
  c->tid = at_thread_id();
  c->t_ns = at_wall_ns();
  c->nstack = at_stack_capture(c->stack, AT_STACK_MAX);
  at_new_span_id(c->span_id);
  c->method = strdup(short_name(program));
  if (!c->method) {
    free(c);
    AT_COUNT(dropped_oom);
    return NULL;
  }
  return c;
}

static void queue_spawn(struct at_capture *c) {
  at_context_capture_begins();
  at_worker_submit(c);
}

static void ctx_prepare(void) {
  fork_spawn = NULL;
  fork_had_identity = at_cfg.proc_span_id[0] != '\0';
  fork_parent_wrote = at_worker_running();
  memcpy(fork_saved_parent, at_cfg.proc_parent_id, 17);
  if (__atomic_load_n(&at_capture_on, __ATOMIC_RELAXED) && fork_parent_wrote)
    fork_spawn = new_spawn_capture(program_invocation_short_name);
}

static void ctx_parent(void) {
  struct at_capture *c = fork_spawn;
  fork_spawn = NULL;
  if (c)
    queue_spawn(c);
}

static void ctx_child(void) {
  ctx_pid = getpid();
  at_thread_origin_forked();
  for (unsigned i = 0; i < PENDING_SLOTS; i++)
    pending[i].state = SLOT_FREE; /* the parent queues its own */
  pending_any = 0;
  /* worker.c's child handler ran first (at_identity_forked): the child
   * has a new span under this process's. */
  if (fork_spawn) {
    memcpy(at_cfg.proc_parent_id, fork_spawn->span_id, 17);
    at_capture_free(fork_spawn);
    fork_spawn = NULL;
  } else if (fork_had_identity && !fork_parent_wrote) {
    /* The parent's span may never be written: nest where it would. */
    memcpy(at_cfg.proc_parent_id, fork_saved_parent, 17);
  }
}

void at_context_init(void) {
  ctx_pid = getpid();
  pthread_atfork(ctx_prepare, ctx_parent, ctx_child);
}

void at_context_collect_pending(void) {
  if (!__atomic_load_n(&pending_any, __ATOMIC_ACQUIRE))
    return;
  __atomic_store_n(&pending_any, 0, __ATOMIC_RELEASE);
  for (unsigned i = 0; i < PENDING_SLOTS; i++) {
    struct pending_spawn *p = &pending[i];
    if (__atomic_load_n(&p->state, __ATOMIC_ACQUIRE) != SLOT_READY)
      continue;
    struct at_capture *c = calloc(1, sizeof *c);
    if (c) {
      c->kind = AT_CAPTURE_SPAWN;
      c->tid = p->tid;
      c->t_ns = p->t_ns;
      memcpy(c->stack, p->stack, p->nstack * sizeof p->stack[0]);
      c->nstack = p->nstack;
      memcpy(c->span_id, p->span_id, 17);
      c->method = strdup(p->program);
    }
    __atomic_store_n(&p->state, SLOT_FREE, __ATOMIC_RELEASE);
    if (!c || !c->method) {
      free(c);
      AT_COUNT(dropped_oom);
      continue;
    }
    at_worker_submit(c);
  }
}

void at_context_capture_begins(void) {
  at_thread_announce();
  at_context_collect_pending();
}

/* In a vfork()ed child: record the spawn for the parent. Only stores,
 * atomics, a clock read and getrandom. Returns the slot or -1. */
static int record_pending(const char *program, char *span_out) {
  for (unsigned i = 0; i < PENDING_SLOTS; i++) {
    int expected = SLOT_FREE;
    if (!__atomic_compare_exchange_n(&pending[i].state, &expected, SLOT_WRITING,
                                     0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
      continue;
    struct pending_spawn *p = &pending[i];
    /* The parent's thread id from its cache (our TLS is that thread's):
     * never gettid() here, which would store the child's id in it. */
    p->tid = at_tid_cache;
    p->t_ns = at_wall_ns();
    p->nstack = at_stack_capture_nomalloc(p->stack, AT_STACK_MAX);
    at_new_span_id(p->span_id);
    bounded_copy(p->program, sizeof p->program, short_name(program));
    memcpy(span_out, p->span_id, 17);
    __atomic_store_n(&p->state, SLOT_READY, __ATOMIC_RELEASE);
    __atomic_store_n(&pending_any, 1, __ATOMIC_RELEASE);
    return (int)i;
  }
  return -1;
}

/* ---- the child's environment ---- */

static const char *env_get(char *const envp[], const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; envp[i]; i++)
    if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
      return envp[i] + n + 1;
  return NULL;
}

static int same_str(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

/* Append "NAME=value" to the string area; NULL when it does not fit. */
static char *put_var(char **area, size_t *left, const char *name, const char *a,
                     const char *b, const char *c) {
  const char *parts[5] = {name, "=", a, b, c};
  size_t need = 1;
  for (int i = 0; i < 5; i++)
    need += parts[i] ? strlen(parts[i]) : 0;
  if (need > *left)
    return NULL;
  char *start = *area, *p = start;
  for (int i = 0; i < 5; i++)
    if (parts[i]) {
      size_t n = strlen(parts[i]);
      memcpy(p, parts[i], n);
      p += n;
    }
  *p++ = '\0';
  *left -= (size_t)(p - start);
  *area = p;
  return start;
}

static int name_is(const char *entry, const char *name) {
  size_t n = strlen(name);
  return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* Build envp + our variables into sp. Returns 0, or -1 (sp->envp stays the
 * caller's) when nothing needs changing or it cannot be built. */
static int build_env(struct at_spawn *sp, char *const envp[], const char *trace,
                     const char *span) {
  char tp[60];
  if (span[0]) {
    memcpy(tp, "00-", 3);
    memcpy(tp + 3, trace, 32);
    tp[35] = '-';
    memcpy(tp + 36, span, 16);
    memcpy(tp + 52, "-01", 4);
  }
  const char *old_tp = env_get(envp, AT_ENV_TRACEPARENT);
  const char *old_tid = env_get(envp, AT_ENV_TRACE_ID);
  /* Explicit context wins: a value the app put in the child's environment
   * that is not the one it inherited is the app's own decision. (One it
   * left out is not: a hand-built environment that keeps LD_PRELOAD wants
   * the child traced, and it gets our context.) */
  if ((old_tp && !same_str(old_tp, getenv(AT_ENV_TRACEPARENT))) ||
      (old_tid && !same_str(old_tid, getenv(AT_ENV_TRACE_ID))))
    return -1;
  struct {
    const char *name, *value;
  } add[7];
  unsigned nadd = 0;
  int set_tp = span[0] && !same_str(old_tp, tp);
  int set_tid = !same_str(old_tid, trace);
  const struct {
    const char *name, *value;
  } attrs[5] = {{AT_ENV_SESSION_ID, at_cfg.session_id},
                {AT_ENV_USER_ID, at_cfg.user_id},
                {AT_ENV_TRACE_NAME, at_cfg.trace_name},
                {AT_ENV_TAGS, at_cfg.tags},
                {AT_ENV_METADATA, at_cfg.metadata}};
  for (int i = 0; i < 5; i++)
    if (attrs[i].value[0] && !env_get(envp, attrs[i].name)) {
      add[nadd].name = attrs[i].name;
      add[nadd].value = attrs[i].value;
      nadd++;
    }
  if (!set_tp && !set_tid && nadd == 0)
    return -1; /* already what the child should get: byte-identical */

  size_t count = 0;
  while (envp[count])
    count++;
  size_t slots = count + 8;
  char **out = sp->inline_ptrs;
  if (slots > AT_ENV_INLINE) {
    size_t len = slots * sizeof(char *);
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
      return -1;
    sp->map = m;
    sp->map_len = len;
    out = m;
  }
  char *area = sp->strings;
  size_t left = sizeof sp->strings;
  size_t n = 0;
  for (size_t i = 0; i < count; i++) {
    if ((set_tp && name_is(envp[i], AT_ENV_TRACEPARENT)) ||
        (set_tid && name_is(envp[i], AT_ENV_TRACE_ID)))
      continue; /* replaced below, in place of every copy */
    out[n++] = envp[i];
  }
  char *v;
  if (set_tp) {
    if (!(v = put_var(&area, &left, AT_ENV_TRACEPARENT, tp, NULL, NULL)))
      goto fail;
    out[n++] = v;
  }
  if (set_tid) {
    if (!(v = put_var(&area, &left, AT_ENV_TRACE_ID, trace, NULL, NULL)))
      goto fail;
    out[n++] = v;
  }
  for (unsigned i = 0; i < nadd; i++) {
    if (!(v = put_var(&area, &left, add[i].name, add[i].value, NULL, NULL)))
      goto fail;
    out[n++] = v;
  }
  out[n] = NULL;
  sp->envp = out;
  return 0;
fail:
  if (sp->map)
    munmap(sp->map, sp->map_len);
  sp->map = NULL;
  return -1;
}

static int preloads_shim(char *const envp[]) {
  const char *v = env_get(envp, "LD_PRELOAD");
  return v && strstr(v, "libautotrace.so") != NULL;
}

void at_spawn_prepare(struct at_spawn *sp, char *const envp[],
                      const char *program) {
  sp->envp = (char **)envp;
  sp->map = NULL;
  sp->map_len = 0;
  sp->capture = NULL;
  if (!__atomic_load_n(&at_initialized, __ATOMIC_ACQUIRE) ||
      !__atomic_load_n(&at_capture_on, __ATOMIC_RELAXED) || !envp ||
      !preloads_shim(envp))
    return;
  int saved = errno;
  int shared = in_shared_child();
  char trace[33] = "", span[17] = "";
  if (at_worker_running() && at_cfg.proc_span_id[0]) {
    memcpy(trace, at_cfg.proc_trace_id, 33);
    if (shared) {
      if (record_pending(program, span) < 0)
        memcpy(span, at_cfg.proc_span_id, 17); /* slots full: our span */
    } else {
      sp->capture = new_spawn_capture(program);
      memcpy(span, sp->capture ? sp->capture->span_id : at_cfg.proc_span_id,
             17);
    }
  } else if (at_cfg.proc_span_id[0]) {
    memcpy(trace, at_cfg.proc_trace_id, 33);
    memcpy(span, at_cfg.proc_parent_id, 17);
  } else if (!shared && !at_cfg.traceparent_trace_id[0] &&
             !at_cfg.trace_id[0]) {
    at_worker_assign_identity();
    memcpy(trace, at_cfg.proc_trace_id, 33);
  }
  if (trace[0] && build_env(sp, envp, trace, span) != 0 && sp->capture) {
    /* The child does not get our span (the app chose its own context, or
     * the environment could not be built): no spawn span for it. */
    at_capture_free(sp->capture);
    sp->capture = NULL;
  }
  errno = saved;
}

void at_spawn_before_exec(struct at_spawn *sp) {
  if (!sp->capture)
    return;
  int saved = errno;
  struct at_capture *c = sp->capture;
  sp->capture = NULL;
  queue_spawn(c);
  at_worker_flush_before_exec();
  errno = saved;
}

void at_spawn_finish(struct at_spawn *sp, int ok) {
  int saved = errno;
  if (sp->capture) {
    if (ok)
      queue_spawn(sp->capture);
    else
      at_capture_free(sp->capture);
    sp->capture = NULL;
  }
  if (sp->map)
    munmap(sp->map, sp->map_len);
  sp->map = NULL;
  errno = saved;
}
