/* ctx_tool: starts children and threads in every way the context
 * propagation hooks cover, optionally after one LLM call, for the
 * integration tests (tests/integration/test_context.sh).
 *
 *   ctx_tool [--call URL --body-string S [-H 'N: v'] [--cacert F]] MODE ...
 *
 * MODE (the command runs to completion; its exit status is ours):
 *   exec CMD...        execv (this process becomes CMD)
 *   execvp CMD...      execvp
 *   execl PATH [A...]  execl with up to 3 arguments
 *   execle PATH [A...] execle with this process's environ
 *   fork-exec CMD...   fork(), execv in the child, waitpid
 *   vfork-exec CMD...  vfork(), execve in the child, waitpid
 *   spawn CMD...       posix_spawn; spawnp CMD...: posix_spawnp
 *   spawn-env VAR=VAL... -- CMD...
 *                      posix_spawn with exactly that environment
 *   system LINE        system(); prints "system=STATUS" on stderr
 *   popen LINE         popen() and pclose(), copying the output to stdout
 *   threads            pthread_create results: return values, arguments,
 *                      pthread_exit, cancellation, creation errors, printed
 *                      on stdout (must be the same with and without the
 *                      shim)
 *   nested             main creates thread A, A creates B, B makes the
 *                      --call; prints "main=T A=T B=T" (kernel thread ids)
 *                      on stderr
 * --call makes its call on the main thread before MODE (except nested). */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *call_url, *call_body, *cacert;
static const char *hdrs[8];
static int nhdrs;

static size_t sink(char *p, size_t s, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return s * n;
}

static int llm_call(void) {
  CURL *h = curl_easy_init();
  if (!h)
    return -1;
  struct curl_slist *l =
      curl_slist_append(NULL, "Content-Type: application/json");
  for (int i = 0; i < nhdrs; i++)
    l = curl_slist_append(l, hdrs[i]);
  curl_easy_setopt(h, CURLOPT_URL, call_url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, call_body);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
  if (cacert)
    curl_easy_setopt(h, CURLOPT_CAINFO, cacert);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  fprintf(stderr, "call status=%ld curlcode=%d\n", status, (int)rc);
  curl_slist_free_all(l);
  curl_easy_cleanup(h);
  return rc == CURLE_OK ? 0 : -1;
}

static int wait_child(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return 127;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- threads: behaviour that must not change under the shim ---- */

static void *ret_arg_plus_one(void *p) {
  return (void *)((long)p + 1);
}

static void *exits_early(void *p) {
  (void)p;
  pthread_exit((void *)7);
  return NULL;
}

static void *waits_forever(void *p) {
  (void)p;
  for (int i = 0; i < 6000; i++) /* bounded: 60 s */
    usleep(10000);               /* a cancellation point */
  return (void *)1;
}

static void *creates_grandchild(void *p) {
  pthread_t t;
  void *r = NULL;
  if (pthread_create(&t, NULL, ret_arg_plus_one, p) != 0)
    return (void *)-1;
  pthread_join(t, &r);
  return (void *)((long)r * 10);
}

static int threads_check(void) {
  pthread_t t;
  void *r;
  int rc = pthread_create(&t, NULL, ret_arg_plus_one, (void *)41);
  pthread_join(t, &r);
  printf("create=%d return=%ld\n", rc, (long)r);
  rc = pthread_create(&t, NULL, exits_early, NULL);
  pthread_join(t, &r);
  printf("create=%d pthread_exit=%ld\n", rc, (long)r);
  rc = pthread_create(&t, NULL, waits_forever, NULL);
  usleep(20000);
  int crc = pthread_cancel(t);
  pthread_join(t, &r);
  printf("create=%d cancel=%d canceled=%d\n", rc, crc, r == PTHREAD_CANCELED);
  rc = pthread_create(&t, NULL, creates_grandchild, (void *)1);
  pthread_join(t, &r);
  printf("create=%d nested=%ld\n", rc, (long)r);
  /* A detached thread, and many short ones. */
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  rc = pthread_create(&t, &a, ret_arg_plus_one, NULL);
  pthread_attr_destroy(&a);
  printf("detached create=%d\n", rc);
  long sum = 0;
  for (long i = 0; i < 200; i++) {
    if (pthread_create(&t, NULL, ret_arg_plus_one, (void *)i) != 0)
      break;
    pthread_join(t, &r);
    sum += (long)r;
  }
  printf("200 threads sum=%ld\n", sum);
  /* A stack that cannot be mapped: the same error either way. */
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, (size_t)1 << 46);
  rc = pthread_create(&t, &a, ret_arg_plus_one, NULL);
  if (rc == 0)
    pthread_join(t, NULL);
  pthread_attr_destroy(&a);
  printf("huge stack create=%d\n", rc);
  fflush(stdout);
  return 0;
}

/* ---- nested: main → A → B, and B calls the LLM ---- */

static pid_t tid_a, tid_b;

static void *thread_b(void *p) {
  (void)p;
  tid_b = gettid();
  return (void *)(long)llm_call();
}

static void *thread_a(void *p) {
  (void)p;
  tid_a = gettid();
  pthread_t t;
  void *r = (void *)-1;
  if (pthread_create(&t, NULL, thread_b, NULL) == 0)
    pthread_join(t, &r);
  return r;
}

static int nested(void) {
  pthread_t t;
  void *r = (void *)-1;
  if (pthread_create(&t, NULL, thread_a, NULL) == 0)
    pthread_join(t, &r);
  fprintf(stderr, "main=%d A=%d B=%d\n", (int)gettid(), (int)tid_a, (int)tid_b);
  return r == NULL ? 0 : 1;
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--call") && i + 1 < argc)
      call_url = argv[++i];
    else if (!strcmp(argv[i], "--body-string") && i + 1 < argc)
      call_body = argv[++i];
    else if (!strcmp(argv[i], "--cacert") && i + 1 < argc)
      cacert = argv[++i];
    else if (!strcmp(argv[i], "-H") && i + 1 < argc && nhdrs < 8)
      hdrs[nhdrs++] = argv[++i];
    else
      break;
  }
  if (i >= argc || (call_url && !call_body)) {
    fprintf(stderr, "usage: ctx_tool [--call URL --body-string S] MODE ...\n");
    return 2;
  }
  const char *mode = argv[i++];
  char **cmd = argv + i;
  int ncmd = argc - i;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (!strcmp(mode, "nested"))
    return nested();
  if (call_url && llm_call() != 0)
    return 1;
  fflush(NULL);
  if (!strcmp(mode, "threads"))
    return threads_check();
  if (ncmd < 1) {
    fprintf(stderr, "ctx_tool: %s needs a command\n", mode);
    return 2;
  }
  if (!strcmp(mode, "exec")) {
    execv(cmd[0], cmd);
  } else if (!strcmp(mode, "execvp")) {
    execvp(cmd[0], cmd);
  } else if (!strcmp(mode, "execl") || !strcmp(mode, "execle")) {
    /* The list must end right after the last argument: execle reads
     * envp from the slot after that NULL. */
    int le = mode[5] == 'e';
    char *a = ncmd > 1 ? cmd[1] : NULL, *b = ncmd > 2 ? cmd[2] : NULL,
         *c = ncmd > 3 ? cmd[3] : NULL;
    if (ncmd > 4) {
      fprintf(stderr, "ctx_tool: %s takes at most 3 arguments\n", mode);
      return 2;
    }
    if (!a)
      le ? execle(cmd[0], cmd[0], NULL, environ) : execl(cmd[0], cmd[0], NULL);
    else if (!b)
      le ? execle(cmd[0], cmd[0], a, NULL, environ)
         : execl(cmd[0], cmd[0], a, NULL);
    else if (!c)
      le ? execle(cmd[0], cmd[0], a, b, NULL, environ)
         : execl(cmd[0], cmd[0], a, b, NULL);
    else
      le ? execle(cmd[0], cmd[0], a, b, c, NULL, environ)
         : execl(cmd[0], cmd[0], a, b, c, NULL);
  } else if (!strcmp(mode, "fork-exec")) {
    pid_t pid = fork();
    if (pid == 0) {
      execv(cmd[0], cmd);
      _exit(127);
    }
    return pid < 0 ? 127 : wait_child(pid);
  } else if (!strcmp(mode, "vfork-exec")) {
    pid_t pid = vfork();
    if (pid == 0) {
      execve(cmd[0], cmd, environ);
      _exit(127);
    }
    return pid < 0 ? 127 : wait_child(pid);
  } else if (!strcmp(mode, "spawn") || !strcmp(mode, "spawnp")) {
    pid_t pid;
    int rc = mode[5] == 'p'
                 ? posix_spawnp(&pid, cmd[0], NULL, NULL, cmd, environ)
                 : posix_spawn(&pid, cmd[0], NULL, NULL, cmd, environ);
    if (rc != 0) {
      fprintf(stderr, "posix_spawn: %s\n", strerror(rc));
      return 127;
    }
    return wait_child(pid);
  } else if (!strcmp(mode, "spawn-env")) {
    int k = 0;
    while (k < ncmd && strcmp(cmd[k], "--") != 0)
      k++;
    if (k + 1 >= ncmd) {
      fprintf(stderr, "ctx_tool: spawn-env VAR=VAL... -- CMD...\n");
      return 2;
    }
    cmd[k] = NULL; /* the environment list ends here */
    pid_t pid;
    int rc = posix_spawn(&pid, cmd[k + 1], NULL, NULL, cmd + k + 1, cmd);
    if (rc != 0) {
      fprintf(stderr, "posix_spawn: %s\n", strerror(rc));
      return 127;
    }
    return wait_child(pid);
  } else if (!strcmp(mode, "system")) {
    int st = system(cmd[0]);
    fprintf(stderr, "system=%d\n", st);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  } else if (!strcmp(mode, "popen")) {
    FILE *f = popen(cmd[0], "r");
    if (!f)
      return 127;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
      fwrite(buf, 1, n, stdout);
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  } else {
    fprintf(stderr, "ctx_tool: unknown mode %s\n", mode);
    return 2;
  }
  perror("exec");
  return 127;
}
