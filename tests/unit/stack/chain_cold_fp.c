/* chain_cold.c again, built with frame pointers (Makefile). */
#define COLD(name) coldfp_##name
#include "chain_cold.c"
