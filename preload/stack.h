/* stack: the calling thread's return addresses, taken on the app's thread.
 *
 * Application code is usually built without frame pointers, so walking the
 * rbp chain alone gives wrong stacks. This is a small DWARF CFI unwinder
 * (x86-64): for each return address it finds the frame's rule (where the
 * canonical frame address is, where the return address and rbp were saved)
 * in the module's .eh_frame, through .eh_frame_hdr's sorted table, and
 * caches that rule per address in a fixed, lock-free table. A warm capture
 * is a hash lookup and two loads per frame (docs/benchmarks.md: well under
 * the 2 µs per exchange budget for 30-40 frames); a cold one parses the
 * frame's CIE and FDE once.
 *
 * Never crashes, never allocates, never locks on the warm path: every read
 * of the stack is checked against the thread's stack bounds, every read of
 * unwind data against its module's mapping; code without unwind data is
 * walked through rbp only while the chain stays on the stack. A capture on
 * a signal's alternate stack returns nothing. Unknown architectures return
 * nothing (nstack 0). */
#ifndef AT_STACK_H
#define AT_STACK_H

#include <stdint.h>

/* Fill out[0..max) with return addresses, innermost first, starting with
 * the caller of at_stack_capture. Returns how many were written. The first
 * call on a thread looks up its stack bounds (pthread_getattr_np). */
unsigned at_stack_capture(uintptr_t *out, unsigned max);

/* The same, for contexts where malloc and locks are forbidden (a vfork()ed
 * child): returns 0 when the thread's bounds are not known yet. */
unsigned at_stack_capture_nomalloc(uintptr_t *out, unsigned max);

/* Frame-pointer-only walk, for comparison in the benchmark. */
unsigned at_stack_capture_fp(uintptr_t *out, unsigned max);

#endif
