/* spawn_bench: run a command N times with and N times without the shim,
 * interleaved, and compare wall time and CPU time.
 *
 *   spawn_bench [-n N] [--warmup W] --shim PATH [--spool-base DIR]
 *               [--out-dir DIR] [--shim-env K=V]... [--timeout S]
 *               -- COMMAND [ARG...]
 *
 * Pair i runs COMMAND once plain (LD_PRELOAD removed from the environment)
 * and once with LD_PRELOAD=PATH; even pairs run plain first, odd pairs run
 * the shim first, so that drift and noise hit both sides alike. Each run is
 * timed with CLOCK_MONOTONIC from before fork() to after wait4() returns,
 * and its CPU time (user+sys of the whole child, every thread included,
 * exit-time work included) comes from wait4's rusage.
 *
 *   --spool-base DIR  shim runs get AUTOTRACE_SPOOL=DIR/shim-<i> (created)
 *   --out-dir DIR     the child's stdout goes to DIR/{plain,shim}-<i>.out
 *                     (default /dev/null); stderr is left alone
 *   --shim-env K=V    extra environment for the shim runs only
 *   --timeout S       a run taking longer is killed (SIGALRM) -> failure
 *   --warmup W        W pairs first, not counted (default 3)
 *
 * COMMAND is a path (no PATH search). Prints, on stdout:
 *   plain runs=N wall_median_us=.. wall_mean_us=.. cpu_median_us=..
 *         cpu_mean_us=..
 *   shim  runs=N ...
 *   ratio_wall_median=.. ratio_wall_mean=.. delta_cpu_median_us=..
 *   delta_cpu_mean_us=.. delta_wall_median_us=..
 * Exit status 0 when every run exited 0, 1 otherwise, 2 for usage. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_ENV 4096
#define MAX_RUNS 100000

struct sample {
  double wall_us, cpu_us;
};

static double mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double tv_us(struct timeval tv) {
  return (double)tv.tv_sec * 1e6 + (double)tv.tv_usec;
}

/* Run argv once with envp. Returns 0 when it exited 0. */
static int run_once(char **argv, char **envp, const char *out_path,
                    unsigned timeout_s, struct sample *s) {
  double t0 = mono_us();
  pid_t pid = fork();
  if (pid < 0) {
    perror("spawn_bench: fork");
    return -1;
  }
  if (pid == 0) {
    int fd = open(out_path ? out_path : "/dev/null",
                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      if (fd != 1)
        close(fd);
    }
    alarm(timeout_s); /* survives execve: bounds the run */
    execve(argv[0], argv, envp);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  pid_t w;
  do
    w = wait4(pid, &status, 0, &ru);
  while (w < 0 && errno == EINTR);
  double t1 = mono_us();
  if (w != pid)
    return -1;
  s->wall_us = t1 - t0;
  s->cpu_us = tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  if (WIFSIGNALED(status))
    fprintf(stderr, "spawn_bench: %s killed by signal %d\n", argv[0],
            WTERMSIG(status));
  else
    fprintf(stderr, "spawn_bench: %s exited %d\n", argv[0],
            WEXITSTATUS(status));
  return -1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double mean(const double *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += v[i];
  return s / (double)n;
}

struct summary {
  double wall_med, wall_mean, cpu_med, cpu_mean;
};

static void summarise(const char *name, const struct sample *s, size_t n,
                      struct summary *out) {
  double *w = malloc(n * sizeof *w), *c = malloc(n * sizeof *c);
  if (!w || !c) {
    fprintf(stderr, "spawn_bench: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++) {
    w[i] = s[i].wall_us;
    c[i] = s[i].cpu_us;
  }
  out->wall_mean = mean(w, n);
  out->cpu_mean = mean(c, n);
  out->wall_med = median(w, n);
  out->cpu_med = median(c, n);
  printf("%-5s runs=%zu wall_median_us=%.1f wall_mean_us=%.1f "
         "wall_min_us=%.1f cpu_median_us=%.1f cpu_mean_us=%.1f\n",
         name, n, out->wall_med, out->wall_mean, w[0], out->cpu_med,
         out->cpu_mean);
  free(w);
  free(c);
}

static int usage(void) {
  fprintf(stderr, "usage: spawn_bench [-n N] [--warmup W] --shim PATH "
                  "[--spool-base DIR] [--out-dir DIR] [--shim-env K=V]... "
                  "[--timeout S] -- COMMAND [ARG...]\n");
  return 2;
}

int main(int argc, char **argv) {
  long n = 300, warmup = 3;
  unsigned timeout_s = 60;
  const char *shim = NULL, *spool_base = NULL, *out_dir = NULL;
  const char *shim_env[16];
  int nshim_env = 0;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (i + 1 >= argc)
      return usage();
    if (strcmp(a, "-n") == 0)
      n = atol(argv[++i]);
    else if (strcmp(a, "--warmup") == 0)
      warmup = atol(argv[++i]);
    else if (strcmp(a, "--shim") == 0)
      shim = argv[++i];
    else if (strcmp(a, "--spool-base") == 0)
      spool_base = argv[++i];
    else if (strcmp(a, "--out-dir") == 0)
      out_dir = argv[++i];
    else if (strcmp(a, "--timeout") == 0)
      timeout_s = (unsigned)atol(argv[++i]);
    else if (strcmp(a, "--shim-env") == 0 && nshim_env < 16)
      shim_env[nshim_env++] = argv[++i];
    else
      return usage();
  }
  if (i >= argc || !shim || n < 1 || n > MAX_RUNS || warmup < 0)
    return usage();
  char **cmd = argv + i;

  /* Plain environment: ours minus LD_PRELOAD and AUTOTRACE_SPOOL. The shim
   * environment adds LD_PRELOAD, the extras, and a spool slot. */
  static char *plain_env[MAX_ENV], *shim_envp[MAX_ENV];
  int np = 0;
  for (char **e = environ; *e && np < MAX_ENV - 24; e++)
    if (strncmp(*e, "LD_PRELOAD=", 11) != 0 &&
        strncmp(*e, "AUTOTRACE_SPOOL=", 16) != 0)
      plain_env[np++] = *e;
  plain_env[np] = NULL;
  memcpy(shim_envp, plain_env, (size_t)np * sizeof *plain_env);
  int ns = np;
  static char preload[4200], spool_var[4200];
  snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim);
  shim_envp[ns++] = preload;
  for (int k = 0; k < nshim_env; k++)
    shim_envp[ns++] = (char *)shim_env[k];
  int spool_slot = -1;
  if (spool_base) {
    mkdir(spool_base, 0755);
    spool_slot = ns;
    shim_envp[ns++] = spool_var;
  }
  shim_envp[ns] = NULL;

  struct sample *ps = calloc((size_t)n, sizeof *ps);
  struct sample *ss = calloc((size_t)n, sizeof *ss);
  if (!ps || !ss)
    return 1;
  int failed = 0;
  char out_path[4200];
  for (long k = -warmup; k < n; k++) {
    for (int side = 0; side < 2; side++) {
      int use_shim = (k & 1) ? side == 0 : side == 1;
      struct sample s;
      const char *out = NULL;
      if (out_dir && k >= 0) {
        snprintf(out_path, sizeof out_path, "%s/%s-%ld.out", out_dir,
                 use_shim ? "shim" : "plain", k);
        out = out_path;
      }
      if (use_shim && spool_slot >= 0) {
        snprintf(spool_var, sizeof spool_var, "AUTOTRACE_SPOOL=%s/shim-%ld",
                 spool_base, k < 0 ? -k + 1000000 : k);
        mkdir(spool_var + strlen("AUTOTRACE_SPOOL="), 0755);
      }
      if (run_once(cmd, use_shim ? shim_envp : plain_env, out, timeout_s, &s) !=
          0)
        failed = 1;
      if (k >= 0)
        (use_shim ? ss : ps)[k] = s;
    }
    if (failed)
      break;
  }
  if (failed) {
    fprintf(stderr, "spawn_bench: a run failed\n");
    return 1;
  }
  struct summary p, s;
  summarise("plain", ps, (size_t)n, &p);
  summarise("shim", ss, (size_t)n, &s);
  printf("ratio_wall_median=%.4f ratio_wall_mean=%.4f "
         "delta_wall_median_us=%.1f delta_cpu_median_us=%.1f "
         "delta_cpu_mean_us=%.1f\n",
         s.wall_med / p.wall_med, s.wall_mean / p.wall_mean,
         s.wall_med - p.wall_med, s.cpu_med - p.cpu_med,
         s.cpu_mean - p.cpu_mean);
  free(ps);
  free(ss);
  return 0;
}
