/* autotrace run: start a program with the shim preloaded, wait for it, and
 * say in one line what it captured. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "common/ids.h"
#include "diag.h"
#include "fmt.h"
#include "preload/config.h"
#include "spool/spool.h"
#include "store.h"

#define SHIM_NAME "libautotrace.so"

static const char run_usage[] =
    "usage: autotrace run [--spool DIR] [--quiet] -- COMMAND [ARGS...]\n"
    "\n"
    "Run COMMAND with the autotrace shim preloaded (LD_PRELOAD), so that its\n"
    "calls to LLM providers are captured, then print a one-line summary on\n"
    "stderr. All processes of the run share one trace unless TRACEPARENT or\n"
    "AUTOTRACE_TRACE_ID is already set. Exits with COMMAND's status (128+N\n"
    "when a signal N ended it).\n"
    "\n"
    "  --spool DIR   capture into DIR (sets AUTOTRACE_SPOOL)\n"
    "  --quiet, -q   no summary line\n";

/* ---- finding the shim ---- */

static int readable_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

int run_find_shim(const char *exe_dir, char *out, size_t outlen, char *looked,
                  size_t looked_len) {
  char cand[2][PATH_MAX + 64];
  snprintf(cand[0], sizeof cand[0], "%s/" SHIM_NAME, exe_dir);
  snprintf(cand[1], sizeof cand[1], "%s/../lib/autotrace/" SHIM_NAME, exe_dir);
  for (int i = 0; i < 2; i++) {
    if (!readable_file(cand[i]))
      continue;
    /* The dynamic loader wants an absolute path it can open from any
     * working directory; resolve the "..". */
    char real[PATH_MAX];
    const char *p = realpath(cand[i], real) ? real : cand[i];
    if (strlen(p) >= outlen)
      return -1;
    memcpy(out, p, strlen(p) + 1);
    return 0;
  }
  snprintf(looked, looked_len, "%s, %s", cand[0], cand[1]);
  return -1;
}

char *run_preload_value(const char *shim, const char *existing) {
  if (!existing || !*existing)
    return strdup(shim);
  /* ld.so separates entries with colons or spaces. */
  size_t n = strlen(shim);
  for (const char *p = existing; *p;) {
    size_t len = strcspn(p, ": ");
    if (len == n && strncmp(p, shim, n) == 0)
      return strdup(existing);
    p += len;
    p += strspn(p, ": ");
  }
  size_t total = n + 1 + strlen(existing) + 1;
  char *v = malloc(total);
  if (v)
    snprintf(v, total, "%s:%s", shim, existing);
  return v;
}

/* ---- the summary ---- */

void run_totals_add(struct run_totals *rt, const struct trace *t) {
  rt->traces++;
  rt->generations += t->n_generations;
  rt->embeddings += t->n_embeddings;
  rt->tokens += t->tokens_total;
  rt->with_tokens += t->n_with_tokens;
  rt->cost_usd += t->cost_usd;
  rt->priced += t->n_priced;
  rt->unpriced += t->n_unpriced;
  rt->llm_ns += t->llm_ns;
  rt->incomplete += t->n_incomplete;
}

void run_summary_line(const struct run_totals *rt, const char *trace_id,
                      const char *spool_opt, char *buf, size_t len) {
  if (rt->generations + rt->embeddings == 0) {
    snprintf(buf, len,
             "autotrace: no LLM calls were captured \xe2\x80\x94 see README "
             "'What can be traced'");
    return;
  }
  char a[64], b[64], c[64], d[FMT_BUF], cost[FMT_BUF + 8], e[FMT_BUF];
  fmt_plural(rt->traces, "trace", "traces", a, sizeof a);
  fmt_plural(rt->generations, "generation", "generations", b, sizeof b);
  if (rt->embeddings) {
    size_t n = strlen(b);
    snprintf(b + n, sizeof b - n, ", ");
    fmt_plural(rt->embeddings, "embedding", "embeddings", b + n + 2,
               sizeof b - n - 2);
  }
  if (rt->with_tokens)
    fmt_plural(rt->tokens, "token", "tokens", c, sizeof c);
  else
    snprintf(c, sizeof c, "tokens unknown");
  if (!rt->priced)
    snprintf(cost, sizeof cost, "cost unknown");
  else
    snprintf(cost, sizeof cost, "%s%s", rt->unpriced ? "\xe2\x89\xa5" : "",
             fmt_cost(rt->cost_usd, d, sizeof d));
  /* The hint must work when pasted: repeat --spool, quoted if needed. */
  char hint[600];
  if (spool_opt && strpbrk(spool_opt, " \t'\"$`\\"))
    snprintf(hint, sizeof hint, "autotrace show --spool '%.400s' %.12s",
             spool_opt, trace_id);
  else if (spool_opt)
    snprintf(hint, sizeof hint, "autotrace show --spool %.400s %.12s",
             spool_opt, trace_id);
  else
    snprintf(hint, sizeof hint, "autotrace show %.12s", trace_id);
  snprintf(buf, len,
           "autotrace: %s, %s, %s, %s (%s in LLM calls) \xe2\x80\x94 see: %s",
           a, b, c, cost, fmt_duration(rt->llm_ns, e, sizeof e), hint);
}

/* ---- signals: the child gets what we get ---- */

static volatile sig_atomic_t child_pid;

static void forward(int sig, siginfo_t *si, void *uctx) {
  (void)uctx;
  /* A signal the terminal generated (Ctrl-C, Ctrl-\, hangup) went to the
   * whole foreground process group, the child included: sending it again
   * would deliver it twice. Forward only what a process sent to us. */
  if (si && si->si_code == SI_KERNEL)
    return;
  if (child_pid > 0)
    kill((pid_t)child_pid, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NFORWARDED (sizeof forwarded / sizeof *forwarded)

/* ---- the command ---- */

/* The trace ids this run's records will carry: the one we set, or the
 * ones the environment already gave (the shim prefers TRACEPARENT). */
struct run_ids {
  char ids[2][33];
  size_t n;
};

static void setup_trace(struct run_ids *ri, const char *argv0) {
  char tid[33], sid[17];
  const char *tp = getenv(AT_ENV_TRACEPARENT);
  const char *at = getenv(AT_ENV_TRACE_ID);
  ri->n = 0;
  if (tp && *tp && at_parse_traceparent(tp, tid, sid) == 0)
    memcpy(ri->ids[ri->n++], tid, 33);
  if (at && *at) {
    if (strlen(at) == 32 && at_valid_hex_id(at, 32)) {
      for (int i = 0; i <= 32; i++)
        ri->ids[ri->n][i] =
            (char)(at[i] >= 'A' && at[i] <= 'F' ? at[i] + 32 : at[i]);
      ri->n++;
    } else {
      cli_warn("ignoring malformed %s '%s' (want 32 hex digits)",
               AT_ENV_TRACE_ID, at);
    }
  }
  if (ri->n == 0) {
    at_new_trace_id(ri->ids[0]);
    ri->n = 1;
    setenv(AT_ENV_TRACE_ID, ri->ids[0], 1);
  }
  const char *name = getenv(AT_ENV_TRACE_NAME);
  if (!name || !*name) {
    const char *slash = strrchr(argv0, '/');
    setenv(AT_ENV_TRACE_NAME, slash ? slash + 1 : argv0, 1);
  }
}

static int exe_dir(char *out, size_t len) {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  char *slash = strrchr(buf, '/');
  if (!slash)
    return -1;
  *slash = '\0';
  if ((size_t)(slash - buf) >= len)
    return -1;
  memcpy(out, buf, (size_t)(slash - buf) + 1);
  return 0;
}

static uint64_t last_seq(const char *dir) {
  struct spool *sp;
  uint64_t seq = 0;
  if (cli_spool_open(dir, &sp) == 0) {
    if (spool_last_seq(sp, &seq) != SPOOL_OK)
      seq = 0;
    spool_close(sp);
  }
  return seq;
}

static void summarize(const char *dir, uint64_t from_seq,
                      const struct run_ids *ri, const char *spool_opt) {
  struct run_totals rt = {0};
  struct spool *sp;
  if (cli_spool_open(dir, &sp) == 0) {
    struct trace_set ts;
    trace_set_init(&ts);
    const char *ids[2] = {ri->ids[0], ri->ids[1]};
    struct trace_filter f = {0};
    f.ids = ids;
    f.n_ids = ri->n;
    f.from_seq = from_seq;
    if (traces_load(sp, &f, &ts) == 0)
      for (size_t i = 0; i < ts.ntraces; i++)
        run_totals_add(&rt, &ts.traces[i]);
    trace_set_free(&ts);
    spool_close(sp);
  }
  char line[1024];
  run_summary_line(&rt, ri->ids[0], spool_opt, line, sizeof line);
  fprintf(stderr, "%s\n", line);
}

int cmd_run(int argc, char **argv) {
  static const struct option opts[] = {{"spool", required_argument, NULL, 's'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *spool_opt = NULL;
  int quiet = 0;
  int c;
  optind = 0;
  /* "+": stop at the command, whose own options are its business. */
  while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      spool_opt = optarg;
      break;
    case 'q':
      quiet = 1;
      break;
    case 'h':
      fputs(run_usage, stdout);
      return CLI_OK;
    default:
      fputs(run_usage, stderr);
      return CLI_USAGE;
    }
  }
  if (optind >= argc) {
    cli_err("run needs a command: autotrace run -- COMMAND [ARGS...]");
    fputs(run_usage, stderr);
    return CLI_USAGE;
  }
  char **cmd = argv + optind;

  char dir[PATH_MAX], self[PATH_MAX], shim[PATH_MAX], looked[2 * PATH_MAX];
  if (cli_spool_dir(spool_opt, dir, sizeof dir) != 0)
    return CLI_FAIL;
  if (exe_dir(self, sizeof self) != 0 ||
      run_find_shim(self, shim, sizeof shim, looked, sizeof looked) != 0) {
    cli_err("cannot find %s (looked in: %s); is autotrace installed "
            "completely?",
            SHIM_NAME, looked[0] ? looked : "/proc/self/exe unreadable");
    return CLI_FAIL;
  }

  /* The child inherits all of this through exec; we never exec anything
   * else, so setting it in our own environment is the simplest way. The
   * spool is always set explicitly so that the summary reads the very
   * folder the shim writes, whatever HOME or XDG_STATE_HOME say. */
  char *preload = run_preload_value(shim, getenv("LD_PRELOAD"));
  if (!preload || setenv("LD_PRELOAD", preload, 1) != 0 ||
      setenv(AT_ENV_SPOOL, dir, 1) != 0) {
    free(preload);
    cli_err("cannot set up the environment: %s", strerror(errno));
    return CLI_FAIL;
  }
  free(preload);
  struct run_ids ri;
  setup_trace(&ri, cmd[0]);
  uint64_t seq0 = last_seq(dir);
  uint64_t from_seq = seq0 ? seq0 + 1 : 0;

  /* The child reports a failed exec through a close-on-exec pipe: EOF
   * means the command started. */
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    cli_err("pipe: %s", strerror(errno));
    return CLI_FAIL;
  }
  struct sigaction sa, old[NFORWARDED];
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = forward;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < NFORWARDED; i++)
    sigaction(forwarded[i], &sa, &old[i]);

  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    cli_err("fork: %s", strerror(errno));
    return CLI_FAIL;
  }
  if (pid == 0) {
    for (size_t i = 0; i < NFORWARDED; i++)
      sigaction(forwarded[i], &old[i], NULL);
    close(pfd[0]);
    execvp(cmd[0], cmd);
    int e = errno;
    ssize_t w = write(pfd[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  child_pid = pid;
  close(pfd[1]);
  int exec_errno = 0;
  ssize_t got;
  do
    got = read(pfd[0], &exec_errno, sizeof exec_errno);
  while (got < 0 && errno == EINTR);
  close(pfd[0]);

  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
    ;
  child_pid = 0;
  for (size_t i = 0; i < NFORWARDED; i++)
    sigaction(forwarded[i], &old[i], NULL);

  if (got == (ssize_t)sizeof exec_errno) {
    cli_err("cannot run %s: %s", cmd[0], strerror(exec_errno));
    return exec_errno == ENOENT ? 127 : 126;
  }
  if (!quiet)
    summarize(dir, from_seq, &ri, spool_opt);
  if (WIFEXITED(wstatus))
    return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus))
    return 128 + WTERMSIG(wstatus);
  return CLI_FAIL;
}
