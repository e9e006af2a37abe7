/* SPDX-License-Identifier: MIT */
/* The library dlopener loads: plugin_spin -> plugin_leaf. */
#include <stdint.h>
#include <time.h>

static volatile uint64_t sink;

__attribute__((noinline)) void plugin_leaf(void)
{
	for (int i = 0; i < 100000; i++)
		sink += (uint64_t)i;
}

__attribute__((noinline)) void plugin_spin(double seconds)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		plugin_leaf();
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((double)(b.tv_sec - a.tv_sec) +
			 (double)(b.tv_nsec - a.tv_nsec) / 1e9 < seconds);
}
