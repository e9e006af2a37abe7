/* SPDX-License-Identifier: MIT */
/*
 * A tiny test harness: CHECK* macros count passes and failures, RUN runs
 * one test function, and HARNESS_MAIN's closing line says
 * "<file>: N passed, N failed". The exit status is 1 if anything failed.
 */
#ifndef SMOLDER_TEST_HARNESS_H
#define SMOLDER_TEST_HARNESS_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int h_pass, h_fail;

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (cond) {                                                   \
			h_pass++;                                             \
		} else {                                                      \
			h_fail++;                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                             \
		}                                                             \
	} while (0)

#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		long long ca_ = (long long)(a), cb_ = (long long)(b);         \
		if (ca_ == cb_) {                                             \
			h_pass++;                                             \
		} else {                                                      \
			h_fail++;                                             \
			fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n",    \
				__FILE__, __LINE__, #a, #b, ca_, cb_);        \
		}                                                             \
	} while (0)

#define CHECK_STR(a, b)                                                       \
	do {                                                                  \
		const char *sa_ = (a), *sb_ = (b);                            \
		if (sa_ && sb_ && !strcmp(sa_, sb_)) {                        \
			h_pass++;                                             \
		} else {                                                      \
			h_fail++;                                             \
			fprintf(stderr, "%s:%d: %s == %s: \"%s\" != \"%s\"\n", \
				__FILE__, __LINE__, #a, #b,                   \
				sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");  \
		}                                                             \
	} while (0)

#define RUN(fn)                                                               \
	do {                                                                  \
		int f0_ = h_fail;                                             \
		fn();                                                         \
		fprintf(stderr, "  %-4s %s\n", h_fail == f0_ ? "ok" : "FAIL", \
			#fn);                                                 \
	} while (0)

#define HARNESS_END()                                                         \
	do {                                                                  \
		printf("%s: %d passed, %d failed\n", __FILE__, h_pass,        \
		       h_fail);                                               \
		return h_fail ? 1 : 0;                                        \
	} while (0)

/* Run a shell command made like printf's output: system()'s status. For
 * tests that build their fixtures. */
static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Write `text` to dir/name, or stop the test. */
static inline void write_file_in(const char *dir, const char *name,
				 const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

#endif
