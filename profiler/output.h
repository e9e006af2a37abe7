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

#include "../formats/profile.h"

enum output_format {
	OUTPUT_FOLDED,
};

/* The suffixes accepted, for messages: ".folded". */
extern const char output_suffixes[];

/* The format for `path` by its suffix ("-" is folded). 0 or -EINVAL. */
int output_format_for(const char *path, enum output_format *fmt);

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
int output_open(struct output *o, const char *path);
/* Write `p` in the output's format. 0 or negative errno. */
int output_write(struct output *o, const struct profile *p);
/* Flush, close and rename into place. 0 or negative errno (logged). */
int output_commit(struct output *o);
/* Remove the temporary file; safe after commit and on a closed output. */
void output_abort(struct output *o);

#endif
