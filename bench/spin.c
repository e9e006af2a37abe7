/* SPDX-License-Identifier: MIT */
/*
 * CPU-bound workload for bench/overhead: calls work() in a loop for SECONDS
 * seconds, then prints the number of calls per second on one line.
 *
 * usage: spin SECONDS
 *
 * The loop checks a flag set by SIGALRM rather than reading the clock, so
 * the measured loop is nothing but work() calls; the rate divides by the
 * elapsed CLOCK_MONOTONIC time from start to stop.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t stop;
static volatile uint64_t sink; /* keeps work()'s result live */

static void on_alarm(int sig)
{
	(void)sig;
	stop = 1;
}

/* About 100 ns of dependent integer multiplies and shifts per call. */
__attribute__((noinline)) uint64_t work(uint64_t x)
{
	for (int i = 0; i < 64; i++) {
		x ^= x >> 29;
		x *= 0xbf58476d1ce4e5b9ull;
		x += (uint64_t)i;
	}
	return x;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds, t0, t1;
	struct itimerval it = { 0 };
	struct sigaction sa = { 0 };
	uint64_t n = 0, x = 1;
	char *end;

	if (argc != 2 || (seconds = strtod(argv[1], &end)) <= 0 || *end) {
		fprintf(stderr, "usage: spin SECONDS\n");
		return 2;
	}
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	it.it_value.tv_sec = (time_t)seconds;
	it.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);

	t0 = now();
	setitimer(ITIMER_REAL, &it, NULL);
	while (!stop) {
		x = work(x);
		n++;
	}
	t1 = now();

	sink = x;
	printf("%.0f\n", (double)n / (t1 - t0));
	return 0;
}
