/* SPDX-License-Identifier: MIT */
/*
 * A multi-threaded workload: main starts N threads (named "spinner-K") that
 * each run thread_main -> thread_spin, then waits.
 *
 * usage: threads N [SECONDS]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds;
static volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void thread_spin(void)
{
	for (uint64_t i = 0; i < 100000; i++)
		sink += i;
}

__attribute__((noinline)) void *thread_main(void *arg)
{
	double end = now() + seconds;

	(void)arg;
	while (seconds <= 0 || now() < end)
		thread_spin();
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2;
	pthread_t t[64];

	seconds = argc > 2 ? atof(argv[2]) : 0;
	if (n < 1 || n > 64)
		return 2;
	for (int i = 0; i < n; i++) {
		char name[16];

		if (pthread_create(&t[i], NULL, thread_main, NULL))
			return 1;
		snprintf(name, sizeof(name), "spinner-%d", i);
		pthread_setname_np(t[i], name);
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
