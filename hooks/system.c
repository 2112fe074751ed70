/* system: glibc's system() starts /bin/sh with its internal posix_spawn,
 * which no hook sees, and with environ, which we must not change. When the
 * child needs a context of its own (preload/context.h), this runs the
 * command exactly as glibc 2.36 does (sysdeps/posix/system.c): SIGINT and
 * SIGQUIT ignored while any system() runs, SIGCHLD blocked, the child
 * started by posix_spawn with the caller's signal mask and those two
 * signals reset to default unless they were ignored, waitpid retried on
 * EINTR, the child killed if the caller is cancelled, the same status and
 * errno. Otherwise (nothing to pass on) the real system() runs. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "preload/context.h"
#include "preload/runtime.h"
#include "preload/symbols.h"

#define AT_EXPORT __attribute__((visibility("default")))

extern char **environ;

int at_real_posix_spawn(pid_t *pid, const char *path,
                        const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[],
                        char *const envp[]);

typedef int (*system_fn)(const char *);
static void *real_system;

static pthread_mutex_t sys_mu = PTHREAD_MUTEX_INITIALIZER;
static int sys_refs;
static struct sigaction sys_intr, sys_quit;

static void release_signals(void) {
  pthread_mutex_lock(&sys_mu);
  if (--sys_refs == 0) {
    sigaction(SIGINT, &sys_intr, NULL);
    sigaction(SIGQUIT, &sys_quit, NULL);
  }
  pthread_mutex_unlock(&sys_mu);
}

static void on_cancel(void *p) {
  pid_t pid = *(pid_t *)p;
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  release_signals();
}

static int run_shell(const char *line, char *const envp[], int *spawned) {
  struct sigaction ign;
  ign.sa_handler = SIG_IGN;
  ign.sa_flags = 0;
  sigemptyset(&ign.sa_mask);
  pthread_mutex_lock(&sys_mu);
  if (sys_refs++ == 0) {
    sigaction(SIGINT, &ign, &sys_intr);
    sigaction(SIGQUIT, &ign, &sys_quit);
  }
  sigset_t reset;
  sigemptyset(&reset);
  if (sys_intr.sa_handler != SIG_IGN)
    sigaddset(&reset, SIGINT);
  if (sys_quit.sa_handler != SIG_IGN)
    sigaddset(&reset, SIGQUIT);
  pthread_mutex_unlock(&sys_mu);

  sigset_t chld, omask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &omask);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &omask);
  posix_spawnattr_setsigdefault(&attr, &reset);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  char *argv[] = {"sh", "-c", (char *)line, NULL};
  pid_t pid;
  int ret = at_real_posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, envp);
  posix_spawnattr_destroy(&attr);

  int status = -1;
  if (ret == 0) {
    *spawned = 1;
    pthread_cleanup_push(on_cancel, &pid);
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
      ;
    if (r != pid)
      status = -1;
    pthread_cleanup_pop(0);
  } else {
    status = 127 << 8; /* W_EXITCODE(127, 0) */
  }
  int saved = errno;
  release_signals();
  sigprocmask(SIG_SETMASK, &omask, NULL);
  errno = ret != 0 ? ret : saved;
  return status;
}

AT_EXPORT int system(const char *line) {
  system_fn real =
      (system_fn)at_resolve(&real_system, "system", (void *)system);
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  if (!line || !at_enabled())
    return real(line);
  struct at_spawn sp;
  at_spawn_prepare(&sp, environ, "sh");
  if (sp.envp == environ) {
    at_spawn_finish(&sp, 0);
    return real(line);
  }
  int spawned = 0;
  int status = run_shell(line, sp.envp, &spawned);
  at_spawn_finish(&sp, spawned);
  return status;
}
