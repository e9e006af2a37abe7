/* SPDX-License-Identifier: MIT */
/* parse: strict number parsing for command-line values. */
#ifndef SMOLDER_PARSE_H
#define SMOLDER_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* A decimal integer in [min, max], nothing else around it. 0 or -EINVAL. */
int parse_long(const char *s, long min, long max, long *out);
/*
 * A positive duration: a decimal number of seconds, or with a unit suffix
 * "ms", "s", "m", "h" or "d" ("0.5", "10s", "2m", "7d"). 0 or -EINVAL.
 */
int parse_duration(const char *s, double *seconds);

/* A size such as "512M", "1.5GiB", "4096" (bytes; K, M, G, T are powers
 * of 1024, with or without "B"/"iB"). 0 or -EINVAL. */
int parse_size(const char *s, uint64_t *bytes);

/*
 * A point in time, in ns since the Unix epoch: "now", "-1h" (that long
 * before now_ns; units as parse_duration), "@1700000000" (Unix seconds),
 * or RFC 3339 "2026-12-02T05:00:00Z" (fraction and "+01:00" offsets
 * allowed; without an offset, local time; a date alone is its midnight).
 * 0 or -EINVAL.
 */
int parse_time(const char *s, int64_t now_ns, int64_t *out);

#endif
