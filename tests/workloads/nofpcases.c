/* SPDX-License-Identifier: MIT */
/*
 * Hard cases for unwinders, without frame pointers (built like nofp):
 *
 *   nofpcases plt SECONDS     main -> run_plt, a hot loop calling lib_tiny
 *                             in libnofp.so through the PLT: samples at the
 *                             first and last instructions of a function,
 *                             and in the PLT stub, whose code is evicted
 *                             from the cache before each call: the tick
 *                             that arrives while it is fetched again is
 *                             taken with the pc at the stub
 *   nofpcases signal SECONDS  main -> run_signal -> interrupted, while a
 *                             SIGPROF handler (on_signal -> handler_work)
 *                             takes most of the time: stacks run through
 *                             the signal frame (__restore_rt)
 *   nofpcases vdso SECONDS    main -> run_vdso, a loop around
 *                             clock_gettime: samples in the vDSO
 */
#define _GNU_SOURCE
#include <elf.h>
#include <emmintrin.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

uint64_t lib_tiny(uint64_t x);

static volatile uint64_t sink;
static volatile sig_atomic_t stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int first_phdr(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	*(uintptr_t *)data = info->dlpi_addr; /* the executable comes first */
	return 1;
}

/* Where this program's PLT sections are, from its own section headers. */
static void find_plt(char **start, size_t *len)
{
	FILE *f = fopen("/proc/self/exe", "rb");
	Elf64_Ehdr eh;
	Elf64_Shdr sh[64], *str;
	char names[4096] = "";
	uintptr_t bias = 0;

	*start = NULL;
	*len = 0;
	if (!f || fread(&eh, sizeof(eh), 1, f) != 1 || eh.e_shnum > 64 ||
	    fseek(f, (long)eh.e_shoff, SEEK_SET) ||
	    fread(sh, sizeof(sh[0]), eh.e_shnum, f) != eh.e_shnum)
		goto out;
	str = &sh[eh.e_shstrndx];
	if (fseek(f, (long)str->sh_offset, SEEK_SET) ||
	    !fread(names, 1, sizeof(names) - 1, f))
		goto out;
	dl_iterate_phdr(first_phdr, &bias);
	for (int i = 0; i < eh.e_shnum; i++)
		if (sh[i].sh_name < sizeof(names) &&
		    !strncmp(names + sh[i].sh_name, ".plt", 4) &&
		    sh[i].sh_flags & SHF_EXECINSTR) {
			char *s = (char *)(bias + sh[i].sh_addr);

			if (!*start || s < *start)
				*start = s;
			if (s + sh[i].sh_size > *start + *len)
				*len = (size_t)(s + sh[i].sh_size - *start);
		}
out:
	if (f)
		fclose(f);
}

__attribute__((noinline)) void run_plt(double seconds)
{
	double end = now() + seconds;
	char *plt;
	size_t len;

	find_plt(&plt, &len);
	while (now() < end)
		for (uint64_t i = 0; i < 100000; i++) {
			for (size_t o = 0; o < len; o += 64)
				_mm_clflush(plt + o);
			sink += lib_tiny(i);
		}
}

__attribute__((noinline)) void handler_work(void)
{
	for (uint64_t i = 0; i < 300000; i++)
		sink = sink * 6364136223846793005ull + i;
}

__attribute__((noinline)) void on_signal(int sig)
{
	(void)sig;
	handler_work();
	sink++; /* no tail call */
}

__attribute__((noinline)) void interrupted(void)
{
	while (!stop)
		sink++;
}

static void on_alarm(int sig)
{
	(void)sig;
	stop = 1;
}

__attribute__((noinline)) void run_signal(double seconds)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	struct itimerval end = { { 0, 0 }, { (time_t)seconds,
		(suseconds_t)((seconds - (double)(time_t)seconds) * 1e6) } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGPROF, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_PROF, &it, NULL);
	setitimer(ITIMER_REAL, &end, NULL);
	interrupted();
	sink++;
}

__attribute__((noinline)) void run_vdso(double seconds)
{
	double end = now() + seconds;
	struct timespec ts;

	while (now() < end)
		for (int i = 0; i < 10000; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			sink += (uint64_t)ts.tv_nsec;
		}
}

int main(int argc, char **argv)
{
	double seconds = argc > 2 ? atof(argv[2]) : 5;

	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "plt"))
		run_plt(seconds);
	else if (!strcmp(argv[1], "signal"))
		run_signal(seconds);
	else if (!strcmp(argv[1], "vdso"))
		run_vdso(seconds);
	else
		return 2;
	return 0;
}
