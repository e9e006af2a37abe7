/* SPDX-License-Identifier: MIT */
/*
 * Process churn: starts RATE short-lived processes a second for SECONDS,
 * each a fresh exec of this program that burns about MS milliseconds of
 * CPU in churn_burn and exits. A profiler must read each one's mappings
 * while it lives to resolve its samples to churn_burn.
 *
 * usage: churn RATE SECONDS [MS]      (the parent)
 *        churn --child MS             (one short-lived process)
 * Prints the number of processes started.
 */
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static volatile uint64_t sink;

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void churn_burn(double seconds)
{
	double end = cpu_now() + seconds;

	while (cpu_now() < end)
		for (int i = 0; i < 20000; i++)
			sink += (uint64_t)i * 7;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--child")) {
		churn_burn(atof(argv[2]) / 1000);
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: churn RATE SECONDS [MS]\n");
		return 2;
	}
	double rate = atof(argv[1]), seconds = atof(argv[2]);
	const char *ms = argc > 3 ? argv[3] : "20";
	/* The real path, so that each child's comm is "churn". */
	static char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *child[] = { self, "--child", (char *)ms, NULL };
	struct sigaction sa = { .sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT };
	double t0 = now(), next = t0;
	long started = 0;

	if (n <= 0)
		return 1;
	self[n] = '\0';
	sigaction(SIGCHLD, &sa, NULL); /* children reap themselves */
	while (now() - t0 < seconds) {
		pid_t pid;
		double wait;

		if (posix_spawn(&pid, self, NULL, NULL, child,
				environ) == 0)
			started++;
		next += 1 / rate;
		wait = next - now();
		if (wait > 0)
			usleep((useconds_t)(wait * 1e6));
	}
	/* Let the last ones finish. */
	usleep((useconds_t)(atof(ms) * 4000));
	printf("%ld\n", started);
	return 0;
}
