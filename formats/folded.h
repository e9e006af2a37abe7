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

#include <stdio.h>

#include "profile.h"

/*
 * Write `p` to `out`: the sample values in column `value_index` summed per
 * distinct line, lines sorted bytewise so equal profiles give equal bytes.
 * Samples whose value is zero are left out. Returns 0 or a negative errno
 * (-EIO when the stream reports an error).
 */
int folded_write(const struct profile *p, int value_index, FILE *out);

/*
 * Append the folded form of frame name `name` to `sb`: separators and line
 * breaks that would corrupt the format (';', '\n', '\r') become spaces or
 * ':' and invalid characters are kept as they are.
 */
struct strbuf;
void folded_add_frame(struct strbuf *sb, const char *name);

#endif
