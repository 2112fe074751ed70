/* A call chain through a function GCC splits into hot and ".cold" parts
 * (see chains.h): cold_step calls at_stack_capture from its hot part or,
 * when asked, from its cold part, so that the return address the unwinder
 * starts from lies in "cold_step.cold", a separate FDE whose CFI must
 * restate the hot part's frame. Built twice (Makefile: per-object CFLAGS),
 * with and without frame pointers; COLD() names the two copies apart. */
#include "chains.h"
#include "preload/stack.h"

#ifndef COLD
#define COLD(name) cold_##name
#endif

volatile int COLD(sink);

/* Calling a cold function makes the block cold: GCC moves it out. */
__attribute__((noinline, cold)) static void COLD(note)(int x) {
  COLD(sink) = x;
}

__attribute__((noinline)) unsigned COLD(step)(uintptr_t *out, unsigned max,
                                              int rare);
__attribute__((noinline)) unsigned COLD(step)(uintptr_t *out, unsigned max,
                                              int rare) {
  volatile unsigned pad[8] = {0};
  unsigned n;
  if (__builtin_expect(rare, 0)) {
    COLD(note)(1);
    n = at_stack_capture(out, max);
    COLD(note)((int)n);
  } else {
    n = at_stack_capture(out, max);
  }
  return n + pad[n & 7];
}

__attribute__((noinline)) unsigned COLD(outer)(uintptr_t *out, unsigned max,
                                               int rare) {
  unsigned n = COLD(step)(out, max, rare);
  __asm__ volatile("" ::: "memory");
  return n;
}
