/* SPDX-License-Identifier: MIT */
/*
 * formats: what every reader and writer shares: the list of formats,
 * recognising one by content, and reading any of them into the profile
 * model.
 */
#ifndef SMOLDER_FORMATS_H
#define SMOLDER_FORMATS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct profile;

enum profile_format {
	FORMAT_UNKNOWN = 0,
	FORMAT_PPROF,       /* protobuf, gzipped or not */
	FORMAT_FOLDED,      /* collapsed stacks */
	FORMAT_PERF_SCRIPT, /* `perf script` text */
	FORMAT_SPEEDSCOPE,  /* speedscope's JSON file format */
	FORMAT_SVG,         /* flame graph; written only */
};

const char *format_name(enum profile_format f);

/* A reader's error: one line naming the problem and where it is. */
struct format_error {
	char msg[512];
};

void format_error_set(struct format_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Recognise the format of `data` from its bytes, not its name: gzip or
 * protobuf is pprof, '{' is speedscope JSON, a header line followed by
 * indented frame lines is perf script, "frames count" lines are folded.
 */
enum profile_format format_detect(const uint8_t *data, size_t len);

/*
 * Read a profile in any supported format (detected by content) into *out
 * (caller frees with profile_free). Returns 0, or a negative errno with a
 * message in *err; `name` (a path, or "-") prefixes nothing, it is for the
 * caller's message.
 */
int profile_read(const uint8_t *data, size_t len, struct profile **out,
		 struct format_error *err);

/*
 * Read the whole file at `path` ("-": standard input) into *data (caller
 * frees). Refuses files over GZ_MAX_OUTPUT. 0 or -errno.
 */
int read_whole_file(const char *path, uint8_t **data, size_t *len);

#endif
