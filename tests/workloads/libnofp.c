/* SPDX-License-Identifier: MIT */
/* The library half of the nofp workload, also without frame pointers. */
#include <stdint.h>

static volatile uint64_t lib_sink;

__attribute__((noinline)) int lib_step(int n, int (*next)(int))
{
	char pad[64];

	/* A frame of its own, touched so it is not optimized away. */
	pad[n & 63] = (char)n;
	lib_sink += (uint64_t)pad[n & 63];
	return next(n) + 1; /* + 1: no tail call */
}

/* Tiny, called in a hot loop through the PLT: many samples land in the
 * PLT stub and in this function's first and last instructions. */
__attribute__((noinline)) uint64_t lib_tiny(uint64_t x)
{
	lib_sink += x;
	return lib_sink;
}
