/* SPDX-License-Identifier: MIT */
/*
 * A workload without frame pointers (built -O2 -fomit-frame-pointer, as
 * distribution binaries are), for the DWARF unwinder: main -> run ->
 * recurse, which goes DEPTH levels down through libnofp.so and back
 * (recurse -> lib_step -> recurse -> ...) before a hot leaf. Every sample
 * should show the whole chain: main;run;recurse;lib_step;...;hot_leaf.
 *
 * usage: nofp [SECONDS] [DEPTH]   (default: 5 s, depth 40)
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

int lib_step(int n, int (*next)(int));

static volatile uint64_t sink;

__attribute__((noinline)) int hot_leaf(void)
{
	for (uint64_t i = 0; i < 20000; i++)
		sink = sink * 6364136223846793005ull + i;
	return (int)(sink & 1);
}

__attribute__((noinline)) int recurse(int n)
{
	if (n <= 0)
		return hot_leaf() + 1;
	return lib_step(n - 1, recurse) + 1; /* + 1: no tail call */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) int run(double seconds, int depth)
{
	double end = now() + seconds;
	int r = 0;

	while (now() < end)
		for (int k = 0; k < 64; k++)
			r += recurse(depth);
	return r;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5;
	int depth = argc > 2 ? atoi(argv[2]) : 40;

	return run(seconds, depth) == 42;
}
