/* SPDX-License-Identifier: MIT */
/*
 * speedscope: the JSON file format of the speedscope viewer
 * (https://www.speedscope.app/file-format-schema.json).
 */
#ifndef SMOLDER_SPEEDSCOPE_H
#define SMOLDER_SPEEDSCOPE_H

#include <stddef.h>
#include <stdio.h>

#include "formats.h"
#include "profile.h"

/*
 * Write one "sampled" profile per sample type, stacks root first with the
 * thread name as the root frame (as in folded output), the default sample
 * type active. 0, or -EIO when the stream fails.
 */
int speedscope_write(const struct profile *p, const char *name, FILE *f);
/*
 * Read the active profile of a speedscope file ("sampled" or "evented")
 * into a new profile with one sample type. 0, or -EINVAL with the JSON
 * line and column, or the field, in *err.
 */
int speedscope_read(const char *data, size_t len, struct profile **out,
		    struct format_error *err);

#endif
