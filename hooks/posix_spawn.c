/* posix_spawn, posix_spawnp: the child inherits this process's context
 * through the environment we pass (preload/context.h). The hook runs in
 * the parent, before the real call; glibc's child side is untouched. */
#include <errno.h>
#include <spawn.h>

#include "preload/context.h"
#include "preload/runtime.h"
#include "preload/symbols.h"

#define AT_EXPORT __attribute__((visibility("default")))

typedef int (*spawn_fn)(pid_t *, const char *,
                        const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[],
                        char *const[]);

static void *real_spawn, *real_spawnp;

static int run(spawn_fn fn, pid_t *pid, const char *file,
               const posix_spawn_file_actions_t *fa,
               const posix_spawnattr_t *attr, char *const argv[],
               char *const envp[]) {
  if (!fn)
    return ENOSYS;
  at_enabled(); /* the parent side: safe to initialise here, unlike exec */
  struct at_spawn sp;
  at_spawn_prepare(&sp, envp, argv && argv[0] ? argv[0] : file);
  int rc = fn(pid, file, fa, attr, argv, sp.envp);
  at_spawn_finish(&sp, rc == 0);
  return rc;
}

AT_EXPORT int posix_spawn(pid_t *pid, const char *path,
                          const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[],
                          char *const envp[]) {
  spawn_fn fn =
      (spawn_fn)at_resolve(&real_spawn, "posix_spawn", (void *)posix_spawn);
  return run(fn, pid, path, fa, attr, argv, envp);
}

AT_EXPORT int posix_spawnp(pid_t *pid, const char *file,
                           const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[],
                           char *const envp[]) {
  spawn_fn fn =
      (spawn_fn)at_resolve(&real_spawnp, "posix_spawnp", (void *)posix_spawnp);
  return run(fn, pid, file, fa, attr, argv, envp);
}

/* For system(): the real posix_spawn, not our hook. */
int at_real_posix_spawn(pid_t *pid, const char *path,
                        const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[],
                        char *const envp[]);
int at_real_posix_spawn(pid_t *pid, const char *path,
                        const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[],
                        char *const envp[]) {
  spawn_fn fn =
      (spawn_fn)at_resolve(&real_spawn, "posix_spawn", (void *)posix_spawn);
  return fn ? fn(pid, path, fa, attr, argv, envp) : ENOSYS;
}
