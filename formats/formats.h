/* SPDX-License-Identifier: MIT */
/*
 * formats: what every reader and writer shares: the list of formats,
 * recognising one by content, and reading any of them into the profile
 * model.
 */
#ifndef SMOLDER_FORMATS_H
#define SMOLDER_FORMATS_H

#include <stdarg.h>
#include <stdbool.h>
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
 * A zstd stream is recognised by what its first 64 KiB decompress to;
 * FORMAT_UNKNOWN when they do not decompress.
 */
enum profile_format format_detect(const uint8_t *data, size_t len);

/*
 * Read a profile in any supported format (detected by content) into *out
 * (caller frees with profile_free). Any of them may come compressed with
 * zstd or gzip (or gzip inside zstd), decompressed in memory up to
 * GZ_MAX_OUTPUT. Returns 0, or a negative errno with a message in *err.
 */
int profile_read(const uint8_t *data, size_t len, struct profile **out,
		 struct format_error *err);

/* The same with a cap on what decompression may produce (-EFBIG past it),
 * for input from the network. */
int profile_read_max(const uint8_t *data, size_t len, size_t max,
		     struct profile **out, struct format_error *err);

/* A whole input file in memory: mapped when it is a regular file (no copy,
 * no page zeroing), read otherwise (pipes, standard input). */
struct input_data {
	uint8_t *data;
	size_t len;
	bool mapped;
};

/*
 * Read the whole file at `path` ("-": standard input). Refuses a pipe that
 * gives more than GZ_MAX_OUTPUT (-EFBIG). 0 or -errno. A mapped file that shrinks while
 * it is read raises SIGBUS; callers that map files handle it.
 */
int input_data_read(const char *path, struct input_data *in);
void input_data_release(struct input_data *in);

#endif
