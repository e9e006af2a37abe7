/* SPDX-License-Identifier: MIT */
/*
 * A CPU-bound workload with a known shape: main -> run_workload, which
 * alternates between hot_a and hot_b, the same loop run 3 times as long in
 * hot_a. A profiler should see main;run_workload;hot_a and
 * main;run_workload;hot_b in a 3:1 ratio.
 *
 * usage: ratio [SECONDS]   (default: run until killed)
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define UNIT 200000

static volatile uint64_t sink;

#define SPIN(n)                                                  \
	do {                                                     \
		for (uint64_t i = 0; i < (n); i++)               \
			sink = sink * 6364136223846793005ull + i; \
	} while (0)

__attribute__((noinline)) void hot_a(void)
{
	SPIN(3 * UNIT);
}

__attribute__((noinline)) void hot_b(void)
{
	SPIN(UNIT);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void run_workload(double seconds)
{
	double end = now() + seconds;

	for (;;) {
		for (int k = 0; k < 16; k++) {
			hot_a();
			hot_b();
		}
		if (seconds > 0 && now() >= end)
			break;
	}
}

int main(int argc, char **argv)
{
	run_workload(argc > 1 ? atof(argv[1]) : 0);
	return 0;
}
