/* SPDX-License-Identifier: MIT */
/*
 * report: text tables of where the time goes, like `pprof -top`, and of
 * what changed between two profiles.
 */
#ifndef SMOLDER_REPORT_H
#define SMOLDER_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "profile.h"

struct report_opts {
	int top;         /* rows; 0: all */
	bool cum;        /* sort by cumulative instead of flat */
	bool lines;      /* one row per function and source line */
	int value_index; /* sample type; -1: the default */
};

/*
 * Flat (the function is the leaf) and cumulative (it is anywhere on the
 * stack, counted once per sample) values per function, biggest first:
 *
 *	      flat  flat%   sum%        cum   cum%
 *	     2.23s 74.43% 74.43%      2.23s 74.43%  hot_a
 *
 * Nanoseconds print as time, other units as numbers. 0 or -EIO / -EINVAL.
 */
int report_write(const struct profile *p, const struct report_opts *o,
		 FILE *f);

/*
 * Functions whose share of the total changed most between `base` and
 * `new` (each normalised to its own total): flat and cumulative share in
 * both, and the change in percentage points, the largest change first.
 */
int report_diff_write(const struct profile *base, const struct profile *new,
		      const struct report_opts *o, FILE *f);

#endif
