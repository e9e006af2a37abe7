/* SPDX-License-Identifier: MIT */
/* clock: the time now, in nanoseconds. */
#ifndef SMOLDER_CLOCK_H
#define SMOLDER_CLOCK_H

#include <stdint.h>
#include <time.h>

/* The time of clock `clk` (CLOCK_MONOTONIC, CLOCK_REALTIME...) in ns. */
static inline uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
