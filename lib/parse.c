/* SPDX-License-Identifier: MIT */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

struct unit {
	const char *name;
	double scale;
};

/* A non-negative decimal number with one of `units` as its suffix, scaled:
 * the value in *out, or -EINVAL. */
static int parse_scaled(const char *s, const struct unit *units, size_t n,
			double *out)
{
	char *end;
	double v;

	if (!s || !*s || *s == ' ' || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(end, units[i].name)) {
			*out = v * units[i].scale;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_duration(const char *s, double *seconds)
{
	static const struct unit units[] = {
		{ "", 1 }, { "s", 1 }, { "ms", 0.001 }, { "m", 60 },
		{ "h", 3600 }, { "d", 86400 },
	};
	double v;

	if (parse_scaled(s, units, sizeof(units) / sizeof(units[0]), &v) ||
	    !(v > 0) || v > 1e9)
		return -EINVAL;
	*seconds = v;
	return 0;
}

int parse_size(const char *s, uint64_t *bytes)
{
	static const struct unit units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1024.0 }, { "KB", 1024.0 }, { "KiB", 1024.0 },
		{ "M", 1048576.0 }, { "MB", 1048576.0 }, { "MiB", 1048576.0 },
		{ "G", 1073741824.0 }, { "GB", 1073741824.0 },
		{ "GiB", 1073741824.0 },
		{ "T", 1099511627776.0 }, { "TB", 1099511627776.0 },
		{ "TiB", 1099511627776.0 },
	};
	double v;

	if (parse_scaled(s, units, sizeof(units) / sizeof(units[0]), &v) ||
	    !(v >= 1) || v > 9e18)
		return -EINVAL;
	*bytes = (uint64_t)v;
	return 0;
}

/* The last whole second int64 nanoseconds hold, either side of 1970. */
#define TIME_MAX_S (INT64_MAX / 1000000000 - 1)

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int parse_time(const char *s, int64_t now_ns, int64_t *out)
{
	unsigned y, mo, d, h, mi, sec;
	double frac = 0, rel;
	int n = 0;
	const char *p;

	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "now")) {
		*out = now_ns;
		return 0;
	}
	if (s[0] == '-') {
		if (parse_duration(s + 1, &rel))
			return -EINVAL;
		*out = now_ns - (int64_t)(rel * 1e9);
		return 0;
	}
	if (s[0] == '@') {
		char *end;
		double v;

		errno = 0;
		v = strtod(s + 1, &end);
		if (errno || end == s + 1 || *end || !isfinite(v) || v < 0 ||
		    v > 9e9)
			return -EINVAL;
		*out = (int64_t)(v * 1e9);
		return 0;
	}
	if (sscanf(s, "%4u-%2u-%2u%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -EINVAL;
	p = s + 10;
	h = mi = sec = 0;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		n = 0;
		if (sscanf(p + 1, "%2u:%2u:%2u%n", &h, &mi, &sec, &n) != 3 ||
		    n != 8)
			return -EINVAL;
		p += 9;
		if (*p == '.') {
			/* Digits only: strtod would take "e9" or "inf" too. */
			double scale = 0.1;

			if (!isdigit((unsigned char)*++p))
				return -EINVAL;
			for (; isdigit((unsigned char)*p); p++, scale /= 10)
				frac += (*p - '0') * scale;
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -EINVAL;
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;

	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		unsigned oh, om;
		int sign = *p == '-' ? -1 : 1;

		n = 0;
		if (sscanf(p + 1, "%2u:%2u%n", &oh, &om, &n) != 2 || n != 5 ||
		    oh > 23 || om > 59)
			return -EINVAL;
		t -= sign * (int64_t)(oh * 3600 + om * 60);
		p += 6;
	} else if (!*p) {
		/* No offset: the local time zone. */
		struct tm tm = { .tm_year = (int)y - 1900, .tm_mon = (int)mo - 1,
				 .tm_mday = (int)d, .tm_hour = (int)h,
				 .tm_min = (int)mi, .tm_sec = (int)sec,
				 .tm_isdst = -1 };
		time_t lt = mktime(&tm);

		if (lt == (time_t)-1)
			return -EINVAL;
		t = lt;
	}
	/* Only what int64 nanoseconds hold: 1677 to 2262. */
	if (*p || t < -TIME_MAX_S || t > TIME_MAX_S)
		return -EINVAL;
	*out = t * 1000000000 + (int64_t)(frac * 1e9);
	return 0;
}
