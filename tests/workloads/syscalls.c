/* SPDX-License-Identifier: MIT */
/*
 * A syscall-heavy workload: main -> write_loop -> do_write, which enters
 * the kernel with a raw write(2) to /dev/null, so most samples land in the
 * kernel's write path under these three user frames.
 *
 * usage: syscalls [SECONDS]   (default: run until killed)
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char buf[4096];

__attribute__((noinline)) long do_write(int fd)
{
	long ret;

	/* The syscall instruction sits in this frame-pointer function, so the
	 * user stack reads do_write <- write_loop <- main. */
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_write), "D"((long)fd), "S"(buf),
			   "d"((long)sizeof(buf))
			 : "rcx", "r11", "memory");
	return ret;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void write_loop(int fd, double seconds)
{
	double end = now() + seconds;

	for (;;) {
		for (int i = 0; i < 1000; i++)
			do_write(fd);
		if (seconds > 0 && now() >= end)
			break;
	}
}

int main(int argc, char **argv)
{
	int fd = open("/dev/null", O_WRONLY);

	if (fd < 0)
		return 1;
	write_loop(fd, argc > 1 ? atof(argv[1]) : 0);
	return 0;
}
