/* exec*: the new program inherits this process's context through its
 * environment (preload/context.h). Every variant ends in the real execve,
 * execvpe or fexecve with the environment we built; argv and the caller's
 * environ are never touched. These hooks may run in a vfork()ed child:
 * nothing here allocates or locks on that path. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include "preload/context.h"
#include "preload/symbols.h"

#define AT_EXPORT __attribute__((visibility("default")))

extern char **environ;

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);

static void *real_execve, *real_execvpe, *real_fexecve;

/* glibc declares these arguments nonnull, and the compiler would drop our
 * checks; an app may still pass NULL (the kernel then answers EFAULT). */
static void *opaque(const void *p) {
  __asm__("" : "+r"(p));
  return (void *)p;
}

/* The shapes of the real calls that end every variant. */
enum { VIA_EXECVE, VIA_EXECVPE };

static int run(int via, const char *file, char *const argv[],
               char *const envp[], void *self) {
  execve_fn fn = (execve_fn)(via == VIA_EXECVE
                                 ? at_resolve(&real_execve, "execve", self)
                                 : at_resolve(&real_execvpe, "execvpe", self));
  if (!fn) {
    errno = ENOSYS;
    return -1;
  }
  struct at_spawn sp;
  char *const *av = opaque(argv);
  at_spawn_prepare(&sp, opaque(envp), av && av[0] ? av[0] : file);
  at_spawn_before_exec(&sp);
  int rc = fn(file, argv, sp.envp);
  at_spawn_finish(&sp, 0); /* only reached when the exec failed */
  return rc;
}

AT_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  return run(VIA_EXECVE, path, argv, envp, (void *)execve);
}

AT_EXPORT int execv(const char *path, char *const argv[]) {
  return run(VIA_EXECVE, path, argv, environ, (void *)execv);
}

AT_EXPORT int execvpe(const char *file, char *const argv[],
                      char *const envp[]) {
  return run(VIA_EXECVPE, file, argv, envp, (void *)execvpe);
}

AT_EXPORT int execvp(const char *file, char *const argv[]) {
  return run(VIA_EXECVPE, file, argv, environ, (void *)execvp);
}

AT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  fexecve_fn fn =
      (fexecve_fn)at_resolve(&real_fexecve, "fexecve", (void *)fexecve);
  if (!fn) {
    errno = ENOSYS;
    return -1;
  }
  struct at_spawn sp;
  char *const *av = opaque(argv);
  at_spawn_prepare(&sp, envp, av && av[0] ? av[0] : NULL);
  at_spawn_before_exec(&sp);
  int rc = fn(fd, argv, sp.envp);
  at_spawn_finish(&sp, 0);
  return rc;
}

/* execl, execlp, execle: collect the list into an array on the stack, as
 * glibc does (no malloc: these are called after vfork too). */
static size_t count_args(const char *arg, va_list ap) {
  size_t n = 1;
  while (arg && va_arg(ap, const char *))
    n++;
  return n + 1; /* with the terminating NULL */
}

/* Fill argv[0..n) from arg and ap; consumes the terminating NULL. */
static void collect_args(char **argv, size_t n, const char *arg, va_list ap) {
  argv[0] = (char *)arg;
  for (size_t i = 1; i < n; i++)
    argv[i] = arg ? va_arg(ap, char *) : NULL;
  argv[n - 1] = NULL;
}

AT_EXPORT int execl(const char *path, const char *arg, ...) {
  const char *a = opaque(arg);
  va_list ap;
  va_start(ap, arg);
  size_t n = count_args(a, ap);
  va_end(ap);
  char *argv[n];
  va_start(ap, arg);
  collect_args(argv, n, a, ap);
  va_end(ap);
  return run(VIA_EXECVE, path, argv, environ, (void *)execl);
}

AT_EXPORT int execlp(const char *file, const char *arg, ...) {
  const char *a = opaque(arg);
  va_list ap;
  va_start(ap, arg);
  size_t n = count_args(a, ap);
  va_end(ap);
  char *argv[n];
  va_start(ap, arg);
  collect_args(argv, n, a, ap);
  va_end(ap);
  return run(VIA_EXECVPE, file, argv, environ, (void *)execlp);
}

AT_EXPORT int execle(const char *path, const char *arg, ...) {
  const char *a = opaque(arg);
  va_list ap;
  va_start(ap, arg);
  size_t n = count_args(a, ap);
  va_end(ap);
  char *argv[n];
  va_start(ap, arg);
  collect_args(argv, n, a, ap);
  char **envp = va_arg(ap, char **); /* after the NULL that ends the list */
  va_end(ap);
  return run(VIA_EXECVE, path, argv, envp, (void *)execle);
}
