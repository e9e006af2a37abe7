/* SPDX-License-Identifier: MIT */
/*
 * Spins in before_exec for a while, then replaces itself (same pid) with
 * another program: samples before and after the exec must each resolve
 * against their own image.
 *
 * usage: execer SECONDS PROGRAM [ARGS...]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void before_exec(double seconds)
{
	double end = now() + seconds;

	while (now() < end)
		for (int i = 0; i < 100000; i++)
			sink += (uint64_t)i;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	before_exec(atof(argv[1]));
	execv(argv[2], argv + 2);
	perror("execv");
	return 127;
}
