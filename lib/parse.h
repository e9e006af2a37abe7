/* SPDX-License-Identifier: MIT */
/* parse: strict number parsing for command-line values. */
#ifndef SMOLDER_PARSE_H
#define SMOLDER_PARSE_H

#include <stdbool.h>

/* A decimal integer in [min, max], nothing else around it. 0 or -EINVAL. */
int parse_long(const char *s, long min, long max, long *out);
/*
 * A positive duration: a decimal number of seconds, or with a unit suffix
 * "ms", "s", "m" or "h" ("0.5", "10s", "2m"). 0 or -EINVAL.
 */
int parse_duration(const char *s, double *seconds);

#endif
