/* thread_bench: create and join N threads, one after the other: the
 * pthread_create hook's cost for a program that makes many threads and
 * never talks to an LLM. Run by bench/run.sh through spawn_bench, with
 * and without the shim.
 *
 *   thread_bench [-n N]      (default 2000) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *work(void *p) {
  return p;
}

int main(int argc, char **argv) {
  long n = 2000;
  if (argc == 3 && !strcmp(argv[1], "-n"))
    n = atol(argv[2]);
  else if (argc != 1) {
    fprintf(stderr, "usage: thread_bench [-n N]\n");
    return 2;
  }
  for (long i = 0; i < n; i++) {
    pthread_t t;
    void *r;
    if (pthread_create(&t, NULL, work, (void *)i) != 0)
      return 1;
    pthread_join(t, &r);
    if (r != (void *)i)
      return 1;
  }
  return 0;
}
