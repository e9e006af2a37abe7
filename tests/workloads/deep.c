/* SPDX-License-Identifier: MIT */
/*
 * Many distinct stacks, some deeper than the kernel's 127-frame limit:
 * main -> run -> recurse(depth) ... -> leaf, with the depth cycling through
 * 1..MAXDEPTH, so a profiler sees MAXDEPTH distinct stacks.
 *
 * usage: deep MAXDEPTH [SECONDS]
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static volatile uint64_t sink;

__attribute__((noinline)) void leaf(void)
{
	for (int i = 0; i < 20000; i++)
		sink += (uint64_t)i;
}

__attribute__((noinline)) void recurse(int depth)
{
	if (depth <= 0)
		leaf();
	else
		recurse(depth - 1);
	__asm__ volatile("" ::: "memory"); /* no tail call */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void run(int maxdepth, double seconds)
{
	double end = now() + seconds;

	for (;;) {
		for (int d = 1; d <= maxdepth; d++)
			recurse(d);
		if (seconds > 0 && now() >= end)
			break;
	}
}

int main(int argc, char **argv)
{
	int maxdepth = argc > 1 ? atoi(argv[1]) : 200;

	run(maxdepth < 1 ? 1 : maxdepth, argc > 2 ? atof(argv[2]) : 0);
	return 0;
}
