/* SPDX-License-Identifier: MIT */
/*
 * A CPU-bound workload with a known shape: main -> run_workload, which
 * alternates between hot_a and hot_b, the same loop run 3 times as long in
 * hot_a. A profiler should see main;run_workload;hot_a and
 * main;run_workload;hot_b in a 3:1 ratio.
 *
 * Each round's length is drawn at random (hot_a always 3 times hot_b's):
 * a workload with a fixed period close to the sampling period would beat
 * with it, and the samples would fall in one function more than its share.
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

__attribute__((noinline)) void hot_a(uint64_t n)
{
	SPIN(3 * n);
}

__attribute__((noinline)) void hot_b(uint64_t n)
{
	SPIN(n);
}

/* xorshift64: a round length in [UNIT / 2, 3 * UNIT / 2). */
static uint64_t round_length(void)
{
	static uint64_t x = 88172645463325252ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return UNIT / 2 + x % UNIT;
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
			uint64_t n = round_length();

			hot_a(n);
			hot_b(n);
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
