/* The call chain built with frame pointers (see chains.h). */
#include "chains.h"
#include "preload/stack.h"

/* Each frame does work after the call, so that no call becomes a jump. */
__attribute__((noinline)) unsigned fp_inner(uintptr_t *out, unsigned max);
__attribute__((noinline)) unsigned fp_inner(uintptr_t *out, unsigned max) {
  volatile unsigned pad[8] = {0};
  unsigned n = at_stack_capture(out, max);
  return n + pad[n & 7];
}

__attribute__((noinline)) static unsigned fp_middle(uintptr_t *out,
                                                    unsigned max) {
  unsigned n = fp_inner(out, max);
  __asm__ volatile("" ::: "memory");
  return n;
}

__attribute__((noinline)) unsigned fp_outer(uintptr_t *out, unsigned max) {
  unsigned n = fp_middle(out, max);
  __asm__ volatile("" ::: "memory");
  return n;
}
