/* SPDX-License-Identifier: MIT */
/*
 * Spins in before_dlopen, then loads a library that was not mapped when
 * the process started (dlopen) and spins in its plugin_spin: a profiler
 * must resolve code mapped after it first saw the process.
 *
 * usage: dlopener LIBRARY SECONDS_BEFORE SECONDS_AFTER
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void before_dlopen(double seconds)
{
	double end = now() + seconds;

	while (now() < end)
		for (int i = 0; i < 100000; i++)
			sink += (uint64_t)i;
}

int main(int argc, char **argv)
{
	void (*spin)(double);
	void *h;

	if (argc < 4)
		return 2;
	before_dlopen(atof(argv[2]));
	h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	*(void **)&spin = dlsym(h, "plugin_spin");
	if (!spin)
		return 1;
	spin(atof(argv[3]));
	return 0;
}
