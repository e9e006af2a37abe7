/* SPDX-License-Identifier: MIT */
/*
 * flamegraph: interactive SVG flame graphs from the profile model.
 *
 * The SVG is self-contained (its script embedded, nothing fetched) and
 * behaves as flamegraph.pl's does: click a frame to zoom, "Reset Zoom",
 * "Search" by regular expression with the matched share, tooltips and a
 * details line. Frames are merged by name and kind along each path and
 * ordered by name, so equal profiles give equal bytes; colours come from a
 * hash of the function name, so a function keeps its colour across graphs.
 * Frames narrower than the minimum width are merged into one visible
 * remainder frame per parent, so nothing vanishes from the totals.
 */
#ifndef SMOLDER_FLAMEGRAPH_H
#define SMOLDER_FLAMEGRAPH_H

#include <stdbool.h>
#include <stdio.h>

#include "profile.h"

enum fg_palette {
	FG_PALETTE_KIND = 0, /* by frame kind: user, kernel, JIT, inlined */
	FG_PALETTE_HOT,      /* flamegraph.pl's default reds and yellows */
	FG_PALETTE_MEM,
	FG_PALETTE_IO,
	FG_PALETTE_RED,
	FG_PALETTE_GREEN,
	FG_PALETTE_BLUE,
	FG_PALETTE_AQUA,
	FG_PALETTE_YELLOW,
	FG_PALETTE_PURPLE,
	FG_PALETTE_ORANGE,
};

/* The palette called `name`, or -1. */
int fg_palette_from_name(const char *name);
/* Names of the palettes, for help and messages: "kind, hot, ...". */
extern const char fg_palette_names[];

struct fg_opts {
	const char *title;      /* NULL: "Flame Graph" / "Icicle Graph" ... */
	const char *subtitle;   /* NULL: none */
	unsigned width;         /* pixels; 0: 1200 */
	unsigned frame_height;  /* pixels; 0: 16 */
	unsigned font_size;     /* pixels; 0: 12 */
	double min_width;       /* pixels; < 0: 0.1 */
	bool icicle;            /* root at the top */
	bool reverse;           /* stacks leaf first: merge by leaf */
	bool flamechart;        /* keep sample order, merge only neighbours */
	enum fg_palette palette;
	int value_index;        /* sample type drawn; -1: the default type */
	bool colorblind;        /* diff: orange/blue instead of red/blue */
};

/* Draw `p`. 0, -EINVAL (bad options) or -EIO (the stream failed). */
int flamegraph_write(const struct profile *p, const struct fg_opts *o,
		     FILE *f);

/*
 * Draw a differential flame graph: the shape of `new` (of `base` with
 * `negate`), each frame coloured by the change of its share of the total
 * from `base` to `new`: red where it grew, blue where it shrank, stronger
 * for larger changes. Both are normalised to their totals first.
 */
int flamegraph_diff_write(const struct profile *base, const struct profile *new,
			  bool negate, const struct fg_opts *o, FILE *f);

/*
 * The merged tree as JSON, for the web page to draw:
 *
 *   {"version":1, "type":"cpu", "unit":"nanoseconds", "total":T,
 *    "stride":4, "names":["all", ...],
 *    "nodes":[depth, name, kind, value, ...]}
 *
 * Nodes in preorder, children by name; `name` indexes `names`, `kind` is
 * an enum frame_kind, node 0 is the root "all". With a `base` (a diff),
 * the tree is the union of both, "baseTotal" is base's total and each
 * node has a fifth number, its value in base (a frame only in base has
 * value 0, one only in p base value 0). 0, -EINVAL or -EIO.
 */
int flamegraph_json_write(const struct profile *base, const struct profile *p,
			  int value_index, FILE *f);

#endif
