/* SPDX-License-Identifier: MIT */
/*
 * output: where a command's profile goes. The path's suffix picks the
 * format, and a file is written to a temporary name beside it and renamed
 * into place only once complete, so no reader ever sees half a profile.
 * "-" means standard output.
 */
#ifndef SMOLDER_OUTPUT_H
#define SMOLDER_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "../formats/flamegraph.h"
#include "../formats/profile.h"

enum output_format {
	OUTPUT_FOLDED,
	OUTPUT_PPROF_GZ,   /* .pb.gz, .pprof */
	OUTPUT_PPROF,      /* .pb: uncompressed */
	OUTPUT_SVG,        /* .svg */
	OUTPUT_SPEEDSCOPE, /* .json */
};

/* The suffixes accepted, for messages. */
extern const char output_suffixes[];

/* The format for `path` by its suffix. 0, or -EINVAL for an unknown one.
 * `dash` is the format "-" (standard output) stands for. */
int output_format_for(const char *path, enum output_format dash,
		      enum output_format *fmt);

struct output {
	char *path; /* final path; NULL for standard output */
	char *tmp;  /* temporary path while open */
	FILE *f;
	enum output_format format;
};

/*
 * Check that `path` can be written and create its temporary file now, so
 * that a bad path fails before any work is done. Returns 0, or a negative
 * errno after logging a message that names the path and the cause.
 */
int output_open(struct output *o, const char *path, enum output_format dash);
/* Write `p` in the output's format; `fg` (may be NULL) styles an SVG and
 * `name` names the profile where the format has a name. */
int output_write(struct output *o, const struct profile *p,
		 const struct fg_opts *fg, const char *name);
/* Flush, close and rename into place. 0 or negative errno (logged). */
int output_commit(struct output *o);
/* Remove the temporary file; safe after commit and on a closed output. */
void output_abort(struct output *o);

/* Read a profile in any format from `path` ("-": standard input), logging
 * what is wrong on failure. 0 or -errno. */
int input_load(const char *path, struct profile **out);

#endif
