/* Known call chains for the stack capture tests: outer → middle → inner →
 * at_stack_capture, built once with and once without frame pointers
 * (Makefile: per-object CFLAGS). middle is static in both. */
#ifndef AT_TEST_CHAINS_H
#define AT_TEST_CHAINS_H

#include <stdint.h>

unsigned nofp_outer(uintptr_t *out, unsigned max);
unsigned fp_outer(uintptr_t *out, unsigned max);

/* outer → step, where step is split into hot and ".cold" parts and calls
 * at_stack_capture from the cold part when rare is set (chain_cold.c). */
unsigned cold_outer(uintptr_t *out, unsigned max, int rare);
unsigned coldfp_outer(uintptr_t *out, unsigned max, int rare);

#endif
