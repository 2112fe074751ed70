/* stack_bench: the cost of taking the app thread's call stack at the start
 * of an exchange, by method, at a given depth.
 *
 *   stack_bench [-n N] [--runs R] [--depth D]
 *
 * Builds a chain of D frames (compiled at -O2, so without frame pointers,
 * as application code usually is), and at its bottom times N captures per
 * run, R runs, with CLOCK_MONOTONIC:
 *   ours       preload/stack.c, warm (every frame's rule cached)
 *   ours_first the first capture of the process (rules looked up), once
 *   fp         a frame-pointer walk (fast, and wrong here: it stops or
 *              wanders, see frames=)
 *   backtrace  glibc backtrace() (libgcc's unwinder, .eh_frame, no cache)
 * Prints one line per method: "method=M frames=F ns_median=X ns_min=Y". */
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "preload/stack.h"

#define MAX_FRAMES 64
#define MAX_RUNS 101

static long n_iter = 20000;
static int runs = 11;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

enum { M_OURS, M_FP, M_BT };

static unsigned once(int m, uintptr_t *pcs) {
  switch (m) {
  case M_OURS:
    return at_stack_capture(pcs, MAX_FRAMES);
  case M_FP:
    return at_stack_capture_fp(pcs, MAX_FRAMES);
  default:
    return (unsigned)backtrace((void **)pcs, MAX_FRAMES);
  }
}

static void measure(int m, const char *name) {
  uintptr_t pcs[MAX_FRAMES];
  double per[MAX_RUNS];
  unsigned frames = 0;
  for (int r = 0; r < runs; r++) {
    double t0 = now_ns();
    for (long i = 0; i < n_iter; i++)
      frames = once(m, pcs);
    per[r] = (now_ns() - t0) / (double)n_iter;
  }
  qsort(per, (size_t)runs, sizeof per[0], cmp_d);
  printf("method=%s frames=%u ns_median=%.1f ns_min=%.1f\n", name, frames,
         per[runs / 2], per[0]);
}

static void bottom(void) {
  uintptr_t pcs[MAX_FRAMES];
  double t0 = now_ns();
  unsigned n = at_stack_capture(pcs, MAX_FRAMES);
  printf("method=ours_first frames=%u ns_median=%.1f ns_min=%.1f\n", n,
         now_ns() - t0, now_ns() - t0);
  measure(M_OURS, "ours");
  measure(M_FP, "fp");
  measure(M_BT, "backtrace");
}

/* Each level does work after the call, so that none becomes a jump. */
__attribute__((noinline)) static int chain(int d, int v) {
  if (d <= 0) {
    bottom();
    return v;
  }
  int r = chain(d - 1, v * 3 + 1);
  __asm__ volatile("" ::: "memory");
  return r ^ d;
}

int main(int argc, char **argv) {
  int depth = 30;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc)
      n_iter = atol(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--depth") && i + 1 < argc)
      depth = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: stack_bench [-n N] [--runs R] [--depth D]\n");
      return 2;
    }
  }
  if (runs < 1 || runs > MAX_RUNS || n_iter < 1 || depth < 0 || depth > 60) {
    fprintf(stderr, "stack_bench: bad arguments\n");
    return 2;
  }
  return chain(depth, 1) == -12345;
}
