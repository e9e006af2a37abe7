/* SPDX-License-Identifier: MIT */
/*
 * folded: Brendan Gregg's collapsed-stack format, one stack per line:
 *
 *	comm;root;caller;leaf 123
 *
 * The first frame is the thread name (as perf script and stackcollapse-perf
 * give it), then frames from the root to the leaf, then a space and the
 * count. Frames are annotated by kind as flamegraph.pl expects: kernel
 * frames end in "_[k]", JIT frames in "_[j]", and inlined frames (every
 * line of a location but its outermost) in "_[i]".
 */
#ifndef SMOLDER_FOLDED_H
#define SMOLDER_FOLDED_H

#include <stddef.h>
#include <stdio.h>

#include "formats.h"
#include "profile.h"

/* Limits that keep a hostile input from exhausting memory or time. */
#define FOLDED_MAX_DEPTH 65536       /* frames in one stack */
#define FOLDED_MAX_LINE (64u << 20)  /* bytes in one line */

/*
 * Write `p` to `out`: the sample values in column `value_index` summed per
 * distinct line, lines sorted bytewise so equal profiles give equal bytes.
 * Samples whose value is zero are left out. Returns 0 or a negative errno
 * (-EIO when the stream reports an error).
 */
int folded_write(const struct profile *p, int value_index, FILE *out);

/*
 * Read collapsed stacks into a new profile (*out; caller frees): one
 * sample type, samples/count; every frame, the first included, becomes a
 * frame (folded files carry no labels). "_[k]", "_[j]" and "_[i]"
 * suffixes set the frame kind and group inlined frames into the location of
 * the frame they were inlined into. Blank lines and lines starting with '#'
 * are skipped. Returns 0, or -EINVAL with the line number and the problem
 * in *err.
 */
int folded_read(const char *data, size_t len, struct profile **out,
		struct format_error *err);
/* folded_read with the input read in `nparts` parts (1..8) on as many
 * threads, whatever its size: the profile must be the same (tests). */
int folded_read_parts(const char *data, size_t len, size_t nparts,
		      struct profile **out, struct format_error *err);

/*
 * Append the folded form of frame name `name` to `sb`: separators and line
 * breaks that would corrupt the format (';', '\n', '\r') become spaces or
 * ':' and invalid characters are kept as they are.
 */
struct strbuf;
void folded_add_frame(struct strbuf *sb, const char *name);

#endif
