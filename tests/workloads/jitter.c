/* SPDX-License-Identifier: MIT */
/*
 * A JIT in miniature: a loop's machine code (x86-64) copied into anonymous
 * executable memory and run from there, described in /tmp/perf-PID.map the
 * way JIT compilers describe their code to profilers. A profiler should
 * name the samples in that memory jit_hot_loop.
 *
 * usage: jitter [SECONDS]   (default: run until killed)
 * Prints the code's address once the map is written. The map file is left
 * behind, as real JITs leave theirs; the caller removes it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const unsigned char loop_code[] = {
	0xb9, 0x00, 0x00, 0x08, 0x00, /* mov $0x80000, %ecx */
	0xff, 0xc9,                   /* 1: dec %ecx */
	0x75, 0xfc,                   /* jnz 1b */
	0xc3,                         /* ret */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 0, start = now();
	char path[64];
	void (*fn)(void);
	unsigned char *mem;
	FILE *f;

	/* One mmap with PROT_EXEC, as many JITs do: a profiler that tracks
	 * executable mappings sees it at once. */
	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("jitter: mmap");
		return 1;
	}
	/* Not at the start of the page, as a JIT's code rarely is. */
	memcpy(mem + 64, loop_code, sizeof(loop_code));
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "w");
	if (!f) {
		perror("jitter: perf map");
		return 1;
	}
	fprintf(f, "%lx %zx jit_hot_loop\n", (unsigned long)(mem + 64),
		sizeof(loop_code));
	fclose(f);
	printf("%lx\n", (unsigned long)(mem + 64));
	fflush(stdout);
	fn = (void (*)(void))(mem + 64);
	while (seconds <= 0 || now() - start < seconds)
		fn();
	return 0;
}
