/* Stack capture on the app's thread (preload/stack.c) and symbolization in
 * the core (preload/core_symbolize.c): captured addresses must name the
 * known call chain in order, with and without frame pointers. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chains.h"
#include "preload/capture.h"
#include "preload/core_symbolize.h"
#include "preload/stack.h"

static const char *fn_at(uintptr_t pc) {
  struct at_frame f;
  if (core_symbolize(pc, &f) != 0 || !f.function)
    return "?";
  return f.function;
}

/* The names of the first n frames, for failure messages. */
static void describe(const uintptr_t *pcs, unsigned n, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (unsigned i = 0; i < n && used + 2 < len; i++)
    used += (size_t)snprintf(buf + used, len - used, "%s ", fn_at(pcs[i]));
}

/* Starting at out[0]: inner, middle, outer, then expect_chain and the
 * test itself. */
static void expect_chain(const char *prefix,
                         unsigned (*outer)(uintptr_t *, unsigned),
                         const char *caller) {
  uintptr_t pcs[AT_STACK_MAX];
  unsigned n = outer(pcs, AT_STACK_MAX);
  char names[2048];
  describe(pcs, n, names, sizeof names);
  cr_assert_geq(n, 4, "only %u frames: %s", n, names);
  const char *want[3] = {"inner", "middle", "outer"};
  for (int i = 0; i < 3; i++) {
    char full[64];
    snprintf(full, sizeof full, "%s_%s", prefix, want[i]);
    cr_expect_str_eq(fn_at(pcs[i]), full, "frame %d; stack: %s", i, names);
  }
  cr_expect_str_eq(fn_at(pcs[3]), "expect_chain", "stack: %s", names);
  cr_expect_str_eq(fn_at(pcs[4]), caller, "stack: %s", names);
  /* And on, through Criterion's runner, to main's caller in libc. */
  cr_expect_geq(n, 6, "stack: %s", names);
  struct at_frame f;
  cr_assert_eq(core_symbolize(pcs[0], &f), 0);
  cr_expect_eq(f.is_app, 1, "the test binary is the program's own code");
  cr_expect_not_null(strstr(f.module, "unit_stack"), "module %s", f.module);
}

__attribute__((noinline)) static void run_nofp(void) {
  expect_chain("nofp", nofp_outer, "run_nofp");
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void run_fp(void) {
  expect_chain("fp", fp_outer, "run_fp");
  __asm__ volatile("" ::: "memory");
}

Test(stack, chain_without_frame_pointers) {
  run_nofp();
}

Test(stack, chain_with_frame_pointers) {
  run_fp();
}

/* A return address in a ".cold" part (GCC's hot/cold splitting, on at
 * -O2): its FDE is not the function's, and the unwinder must still reach
 * the split function's caller and on. The hot call is checked too, and
 * that the compiler did split: the cold call's return address must be in
 * "<prefix>_step.cold", else the test proves nothing. */
static void expect_cold_chain(const char *prefix,
                              unsigned (*outer)(uintptr_t *, unsigned, int),
                              int rare, const char *caller) {
  uintptr_t pcs[AT_STACK_MAX];
  unsigned n = outer(pcs, AT_STACK_MAX, rare);
  char names[2048], want[64];
  describe(pcs, n, names, sizeof names);
  cr_assert_geq(n, 4, "only %u frames: %s", n, names);
  snprintf(want, sizeof want, rare ? "%s_step.cold" : "%s_step", prefix);
  cr_expect_str_eq(fn_at(pcs[0]), want, "stack: %s", names);
  snprintf(want, sizeof want, "%s_outer", prefix);
  cr_expect_str_eq(fn_at(pcs[1]), want, "stack: %s", names);
  cr_expect_str_eq(fn_at(pcs[2]), "expect_cold_chain", "stack: %s", names);
  cr_expect_str_eq(fn_at(pcs[3]), caller, "stack: %s", names);
  cr_expect_geq(n, 5, "stack: %s", names);
}

__attribute__((noinline)) static void run_cold(int rare) {
  expect_cold_chain("cold", cold_outer, rare, "run_cold");
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void run_cold_fp(int rare) {
  expect_cold_chain("coldfp", coldfp_outer, rare, "run_cold_fp");
  __asm__ volatile("" ::: "memory");
}

Test(stack, call_from_a_cold_part) {
  run_cold(1);
  run_cold(0);
  run_cold(1); /* warm: the rules now come from the cache */
}

Test(stack, call_from_a_cold_part_with_frame_pointers) {
  run_cold_fp(1);
  run_cold_fp(0);
  run_cold_fp(1);
}

Test(stack, bounded_by_max) {
  uintptr_t pcs[3] = {0, 0, 0};
  cr_expect_eq(nofp_outer(pcs, 2), 2);
  cr_expect_str_eq(fn_at(pcs[0]), "nofp_inner");
  cr_expect_eq(pcs[2], 0, "wrote past max");
  cr_expect_eq(nofp_outer(pcs, 0), 0);
}

/* Through libc: qsort calls our comparator, which captures. The frames
 * in between are libc's (not the program's), and the walk goes on past
 * them to the caller of qsort. */
static uintptr_t qsort_pcs[AT_STACK_MAX];
static unsigned qsort_n;

static int cmp_and_capture(const void *a, const void *b) {
  if (!qsort_n)
    qsort_n = at_stack_capture(qsort_pcs, AT_STACK_MAX);
  return *(const int *)a - *(const int *)b;
}

__attribute__((noinline)) static void sort_something(void) {
  int v[4] = {3, 1, 2, 0};
  qsort(v, 4, sizeof v[0], cmp_and_capture);
  __asm__ volatile("" ::: "memory");
}

Test(stack, through_libc_frames) {
  sort_something();
  char names[2048];
  describe(qsort_pcs, qsort_n, names, sizeof names);
  int saw_libc = 0, saw_caller = 0;
  for (unsigned i = 0; i < qsort_n; i++) {
    struct at_frame f;
    if (core_symbolize(qsort_pcs[i], &f) != 0)
      continue;
    if (strstr(f.module, "libc.so")) {
      saw_libc = 1;
      cr_expect_eq(f.is_app, 0, "libc frame marked as the app's");
    }
    if (f.function && !strcmp(f.function, "sort_something"))
      saw_caller = 1;
  }
  cr_expect(saw_libc, "no libc frame: %s", names);
  cr_expect(saw_caller, "did not get past qsort to its caller: %s", names);
}

/* A new thread: its bounds come from pthread_getattr_np. */
static void *thread_capture(void *p) {
  unsigned *n = p;
  uintptr_t pcs[AT_STACK_MAX];
  *n = nofp_outer(pcs, AT_STACK_MAX);
  return fn_at(pcs[0]) && !strcmp(fn_at(pcs[0]), "nofp_inner") ? p : NULL;
}

Test(stack, on_a_new_thread) {
  pthread_t t;
  unsigned n = 0;
  void *r = NULL;
  cr_assert_eq(pthread_create(&t, NULL, thread_capture, &n), 0);
  pthread_join(t, &r);
  cr_expect_eq(r, &n, "frames on the thread: %u", n);
  cr_expect_geq(n, 4);
}

/* On a signal's alternate stack the thread's bounds do not hold: nothing
 * is captured, and nothing crashes. On the normal stack a handler's
 * capture stops at the signal frame. */
static volatile unsigned sig_n = 99;

static void on_signal(int sig) {
  (void)sig;
  uintptr_t pcs[AT_STACK_MAX];
  sig_n = at_stack_capture(pcs, AT_STACK_MAX);
}

Test(stack, alternate_signal_stack) {
  uintptr_t warm[4];
  at_stack_capture(warm, 4); /* this thread's bounds are known */
  static char alt[64 * 1024];
  stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
  cr_assert_eq(sigaltstack(&ss, NULL), 0);
  struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_ONSTACK};
  sigemptyset(&sa.sa_mask);
  cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
  raise(SIGUSR1);
  cr_expect_eq(sig_n, 0, "captured %u frames on the alternate stack", sig_n);
  sa.sa_flags = 0;
  sigaction(SIGUSR1, &sa, NULL);
  sig_n = 99;
  raise(SIGUSR1);
  cr_expect(sig_n >= 1 && sig_n < AT_STACK_MAX, "%u frames", sig_n);
}

/* ---- core_symbolize on a shared object with and without .symtab ---- */

static void lib_path(const char *name, char *out, size_t len) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  cr_assert_gt(n, 0);
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  cr_assert_not_null(slash);
  *slash = '\0';
  snprintf(out, len, "%s/%s", exe, name);
}

static void check_lib(const char *name, int stripped) {
  char path[PATH_MAX + 64];
  lib_path(name, path, sizeof path);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  cr_assert_not_null(h, "dlopen %s: %s", path, dlerror());
  void *pub = dlsym(h, "symtest_public");
  uintptr_t (*hidden_addr)(void) =
      (uintptr_t(*)(void))(uintptr_t)dlsym(h, "symtest_hidden_addr");
  cr_assert(pub && hidden_addr);
  uintptr_t hid = hidden_addr();

  struct at_frame f;
  cr_assert_eq(core_symbolize((uintptr_t)pub + 1, &f), 0);
  cr_expect_str_eq(f.function ? f.function : "(null)", "symtest_public");
  cr_expect_eq(f.offset, 1);
  cr_expect_not_null(strstr(f.module, name), "module %s", f.module);
  cr_expect_eq(f.is_app, 1);

  cr_assert_eq(core_symbolize(hid + 2, &f), 0);
  if (stripped) {
    /* A static function of a stripped object: module + offset only. */
    cr_expect_null(f.function, "got %s", f.function);
    Dl_info info;
    cr_assert(dladdr(pub, &info));
    cr_expect_eq(f.offset, hid + 2 - (uintptr_t)info.dli_fbase);
  } else {
    cr_expect_str_eq(f.function ? f.function : "(null)", "symtest_hidden");
    cr_expect_eq(f.offset, 2);
  }
  /* Cached: the same answer again. */
  struct at_frame g;
  cr_assert_eq(core_symbolize(hid + 2, &g), 0);
  cr_expect_eq(g.offset, f.offset);
  cr_expect_eq(g.function, f.function);
}

Test(symbolize, with_symtab) {
  check_lib("libsymtest.so", 0);
}

Test(symbolize, stripped) {
  check_lib("libsymtest-stripped.so", 1);
}

Test(symbolize, libraries_are_not_the_app) {
  struct at_frame f;
  cr_assert_eq(core_symbolize((uintptr_t)(void *)strlen + 1, &f), 0);
  cr_expect_eq(f.is_app, 0, "%s", f.module);
  cr_assert_eq(core_symbolize((uintptr_t)(void *)pthread_create + 1, &f), 0);
  cr_expect_eq(f.is_app, 0, "%s", f.module);
}

Test(symbolize, unknown_address_and_reset) {
  struct at_frame f;
  cr_expect_eq(core_symbolize(16, &f), -1);
  cr_expect_str_eq(f.module, "");
  cr_expect_null(f.function);
  core_symbolize_reset();
  cr_assert_eq(core_symbolize((uintptr_t)(void *)run_fp + 1, &f), 0);
  cr_expect_str_eq(f.function ? f.function : "(null)", "run_fp");
}
