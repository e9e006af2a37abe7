/* SPDX-License-Identifier: MIT */
/*
 * The SVG is written by hand: it is a flat list of rectangles and labels,
 * and building a DOM with a library would cost more than the drawing.
 */
#include "flamegraph.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hmap.h"
#include "../lib/strbuf.h"
#include "../lib/utf8.h"
#include "../lib/xalloc.h"
#include "flamegraph_js.h"

#define KIND_INLINED 4 /* a frame kind only the flame graph knows */
#define NONE UINT32_MAX

const char fg_palette_names[] =
	"kind, hot, mem, io, red, green, blue, aqua, yellow, purple, orange";

int fg_palette_from_name(const char *name)
{
	static const char *const names[] = {
		"kind", "hot", "mem", "io", "red", "green", "blue", "aqua",
		"yellow", "purple", "orange",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -1;
}

/* ---- the frame tree ---- */

/*
 * Built without any hash lookups: every sample becomes a list of (name,
 * kind) from the root, the lists are sorted, and the trie is laid down in
 * one pass that only compares each list with the one before it. Sorting
 * costs less than a hash probe per frame, and the pass walks memory in
 * order. A flame chart skips the sort: comparing with the previous sample
 * then merges only neighbours, which is what keeps time order.
 */
struct tree {
	/* names, interned */
	char **names;
	size_t nnames, names_alloc;
	struct hmap name_idx;
	/* nodes; 0 is the root of the drawn profile */
	uint32_t *name, *parent, *depth;
	uint8_t *kind;
	int64_t *value, *other;
	/* children too narrow to draw, dropped while building */
	int64_t *small_value;
	uint32_t *small_count;
	size_t n, alloc;
	/* children in drawing order (after tree_sort) */
	uint32_t *child_start, *children;
	uint32_t max_depth;
};

static uint32_t intern(struct tree *t, const char *s)
{
	uint64_t h = hash_str(s);
	size_t pos;

	for (uint32_t i = hmap_first(&t->name_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&t->name_idx, h, &pos))
		if (!strcmp(t->names[i], s))
			return i;
	ALLOC_GROW(t->names, t->nnames + 1, t->names_alloc);
	t->names[t->nnames] = xstrdup(s);
	hmap_insert(&t->name_idx, h, (uint32_t)t->nnames);
	return (uint32_t)t->nnames++;
}

static uint32_t new_node(struct tree *t, uint32_t parent, uint32_t name,
			 uint8_t kind)
{
	uint32_t i = (uint32_t)t->n;

	if (t->n == t->alloc) {
		size_t a = t->alloc ? t->alloc * 2 : 1024;

		t->name = xreallocarray(t->name, a, sizeof(*t->name));
		t->parent = xreallocarray(t->parent, a, sizeof(*t->parent));
		t->depth = xreallocarray(t->depth, a, sizeof(*t->depth));
		t->kind = xreallocarray(t->kind, a, sizeof(*t->kind));
		t->value = xreallocarray(t->value, a, sizeof(*t->value));
		t->other = xreallocarray(t->other, a, sizeof(*t->other));
		t->small_value = xreallocarray(t->small_value, a,
					       sizeof(*t->small_value));
		t->small_count = xreallocarray(t->small_count, a,
					       sizeof(*t->small_count));
		t->alloc = a;
	}
	t->name[i] = name;
	t->parent[i] = parent;
	t->depth[i] = parent == NONE ? 0 : t->depth[parent] + 1;
	t->kind[i] = kind;
	t->value[i] = 0;
	t->other[i] = 0;
	t->small_value[i] = 0;
	t->small_count[i] = 0;
	if (t->depth[i] > t->max_depth)
		t->max_depth = t->depth[i];
	t->n++;
	return i;
}

static void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->nnames; i++)
		free(t->names[i]);
	free(t->names);
	hmap_release(&t->name_idx);
	free(t->name);
	free(t->parent);
	free(t->depth);
	free(t->kind);
	free(t->value);
	free(t->other);
	free(t->small_value);
	free(t->small_count);
	free(t->child_start);
	free(t->children);
}

/* Every sample of a profile as frame lists, root first, in one pool. */
struct stacks {
	uint32_t *name;
	uint8_t *kind;
	size_t n, alloc;
	struct stack_ref {
		size_t off;
		uint32_t len;
		int64_t value;
	} *refs;
	size_t nrefs, refs_alloc;
};

static void st_push(struct stacks *st, uint32_t name, uint8_t kind)
{
	if (st->n == st->alloc) {
		st->alloc = st->alloc ? st->alloc * 2 : 4096;
		st->name = xreallocarray(st->name, st->alloc, sizeof(*st->name));
		st->kind = xreallocarray(st->kind, st->alloc, sizeof(*st->kind));
	}
	st->name[st->n] = name;
	st->kind[st->n++] = kind;
}

static void stacks_release(struct stacks *st)
{
	free(st->name);
	free(st->kind);
	free(st->refs);
}

/* Map a profile's string indexes to tree names, and each location to its
 * frames (root side first), cached per profile: a location recurs in many
 * samples and is looked at once. */
struct name_cache {
	uint32_t *map;
	size_t n;
	uint32_t *loc_start; /* location id -> first frame + 1; 0: not yet */
	uint32_t *loc_len;
	uint32_t *fname;     /* the frames of every location seen */
	uint8_t *fkind;
	size_t nf, falloc;
};

static void nc_push(struct name_cache *nc, uint32_t name, uint8_t kind)
{
	if (nc->nf == nc->falloc) {
		nc->falloc = nc->falloc ? nc->falloc * 2 : 1024;
		nc->fname = xreallocarray(nc->fname, nc->falloc, sizeof(*nc->fname));
		nc->fkind = xreallocarray(nc->fkind, nc->falloc, sizeof(*nc->fkind));
	}
	nc->fname[nc->nf] = name;
	nc->fkind[nc->nf++] = kind;
}

static void nc_release(struct name_cache *nc)
{
	free(nc->map);
	free(nc->loc_start);
	free(nc->loc_len);
	free(nc->fname);
	free(nc->fkind);
}

static uint32_t tree_name(struct tree *t, struct name_cache *nc,
			  const struct profile *p, int64_t str)
{
	if (str < 0 || (size_t)str >= nc->n)
		return intern(t, "");
	if (nc->map[str] == NONE)
		nc->map[str] = intern(t, p->strings[str]);
	return nc->map[str];
}

static void sample_frames(struct tree *t, struct name_cache *nc,
			  const struct profile *p,
			  const struct profile_sample *s, bool reverse,
			  struct stacks *st)
{
	const char *root = profile_sample_label_str(p, s, LABEL_THREAD_NAME);
	size_t start = st->n;

	if (!root)
		root = profile_sample_label_str(p, s, LABEL_COMM);
	if (root)
		st_push(st, intern(t, root), FRAME_USER);
	for (uint32_t j = s->nlocations; j-- > 0;) {
		uint64_t id = s->location_ids[j];
		const struct profile_location *l;

		if (!id || id > p->nlocations)
			continue;
		if (!nc->loc_start[id]) {
			l = &p->locations[id - 1];
			nc->loc_start[id] = (uint32_t)nc->nf + 1;
			if (!l->nlines) {
				char buf[40];

				snprintf(buf, sizeof(buf), "[unknown+0x%" PRIx64 "]",
					 l->address);
				nc_push(nc, intern(t, buf), l->kind);
			}
			for (uint32_t k = l->nlines; k-- > 0;) {
				const struct profile_function *f =
					profile_function(p, l->lines[k].function_id);
				uint32_t nm = f ? tree_name(t, nc, p, f->name)
						: intern(t, "[unknown]");

				nc_push(nc, nm, k + 1 < l->nlines ? KIND_INLINED
								: l->kind);
			}
			nc->loc_len[id] = (uint32_t)(nc->nf - (nc->loc_start[id] - 1));
		}
		for (uint32_t k = 0; k < nc->loc_len[id]; k++)
			st_push(st, nc->fname[nc->loc_start[id] - 1 + k],
				nc->fkind[nc->loc_start[id] - 1 + k]);
	}
	if (reverse) {
		for (size_t i = start, j = st->n ? st->n - 1 : 0; i < j; i++, j--) {
			uint32_t tn = st->name[i];
			uint8_t tk = st->kind[i];

			st->name[i] = st->name[j];
			st->kind[i] = st->kind[j];
			st->name[j] = tn;
			st->kind[j] = tk;
		}
	}
}

/* qsort_r comparators: the server draws graphs on several threads. */
static int cmp_stacks(const void *a, const void *b, void *arg)
{
	const struct stacks *sort_stacks = arg;
	const struct stack_ref *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t nx = sort_stacks->name[x->off + i];
		uint32_t ny = sort_stacks->name[y->off + i];
		uint8_t kx = sort_stacks->kind[x->off + i];
		uint8_t ky = sort_stacks->kind[y->off + i];

		if (nx != ny)
			return nx < ny ? -1 : 1;
		if (kx != ky)
			return kx < ky ? -1 : 1;
	}
	return (x->len > y->len) - (x->len < y->len);
}

/*
 * A node whose samples are all in (its path has just been left) is done:
 * when it is too narrow to draw, drop it with its subtree (the last nodes
 * made) and count it in its parent's remainder.
 */
static void close_node(struct tree *t, uint32_t node, double min_value)
{
	uint32_t parent = t->parent[node];

	if (parent == NONE)
		return;
	/* Values are summed upwards as nodes close: a sample adds to its
	 * leaf only. */
	t->value[parent] = profile_value_add(t->value[parent], t->value[node]);
	if ((double)t->value[node] >= min_value)
		return;
	t->small_value[parent] = profile_value_add(t->small_value[parent],
						   t->value[node]);
	t->small_count[parent]++;
	t->n = node;
}

/*
 * Add the samples of `p` (column vi) under a new root; returns the root.
 * *total gets the sum of the (positive) values. With `min_width` > 0,
 * nodes narrower than that many pixels in a graph `width` pixels wide are
 * dropped as the tree is built (their parents count them), so huge
 * profiles cost what is drawn, not what was sampled.
 */
static uint32_t add_profile(struct tree *t, const struct profile *p, int vi,
			    bool reverse, bool sorted, double min_width,
			    unsigned width, int64_t *total)
{
	struct name_cache nc = {
		.map = xcalloc(p->nstrings + 1, sizeof(uint32_t)),
		.n = p->nstrings,
		.loc_start = xcalloc(p->nlocations + 1, sizeof(uint32_t)),
		.loc_len = xcalloc(p->nlocations + 1, sizeof(uint32_t)),
	};
	struct stacks st = { 0 };
	uint32_t root = new_node(t, NONE, intern(t, "all"), FRAME_USER);
	uint32_t *path = NULL;
	size_t path_alloc = 0;
	const struct stack_ref *prev = NULL;

	*total = 0;
	for (size_t i = 0; i < nc.n; i++)
		nc.map[i] = NONE;
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		size_t off = st.n;

		if (s->values[vi] <= 0)
			continue;
		*total = profile_value_add(*total, s->values[vi]);
		sample_frames(t, &nc, p, s, reverse, &st);
		ALLOC_GROW(st.refs, st.nrefs + 1, st.refs_alloc);
		st.refs[st.nrefs++] = (struct stack_ref){ off, (uint32_t)(st.n - off),
							  s->values[vi] };
	}
	nc_release(&nc);
	if (sorted && st.nrefs > 1) {
		qsort_r(st.refs, st.nrefs, sizeof(*st.refs), cmp_stacks, &st);
	}
	/* Pixels per unit, and the least value drawn. */
	double min_value = min_width > 0 && *total > 0 && width > 20
				   ? min_width / ((double)(width - 20) / (double)*total)
				   : 0;

	/* Lay the trie down, each list against the one before it; nodes
	 * whose samples are all in are closed on the way. */
	for (size_t i = 0; i < st.nrefs; i++) {
		const struct stack_ref *r = &st.refs[i];
		uint32_t same = 0;

		if (prev) {
			uint32_t n = prev->len < r->len ? prev->len : r->len;

			while (same < n && st.name[prev->off + same] == st.name[r->off + same] &&
			       st.kind[prev->off + same] == st.kind[r->off + same])
				same++;
			for (uint32_t k = prev->len; k-- > same;)
				close_node(t, path[k], min_value);
		}
		ALLOC_GROW(path, (size_t)r->len + 1, path_alloc);
		for (uint32_t k = same; k < r->len; k++)
			path[k] = new_node(t, k ? path[k - 1] : root,
					   st.name[r->off + k], st.kind[r->off + k]);
		if (r->len)
			t->value[path[r->len - 1]] = profile_value_add(
				t->value[path[r->len - 1]], r->value);
		else
			t->value[root] = profile_value_add(t->value[root], r->value);
		prev = r;
	}
	for (uint32_t k = prev ? prev->len : 0; k-- > 0;)
		close_node(t, path[k], min_value);
	free(path);
	stacks_release(&st);
	return root;
}

static int cmp_children(const void *a, const void *b, void *arg)
{
	const struct tree *sort_tree = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = strcmp(sort_tree->names[sort_tree->name[x]],
		       sort_tree->names[sort_tree->name[y]]);

	if (c)
		return c;
	return (int)sort_tree->kind[x] - (int)sort_tree->kind[y];
}

/* Lay children out in arrays (CSR); sorted by name unless a flame chart. */
static void tree_sort(struct tree *t, bool by_name)
{
	uint32_t *fill;

	t->child_start = xcalloc(t->n + 1, sizeof(*t->child_start));
	t->children = xcalloc(t->n ? t->n : 1, sizeof(*t->children));
	for (size_t i = 0; i < t->n; i++)
		if (t->parent[i] != NONE)
			t->child_start[t->parent[i] + 1]++;
	for (size_t i = 0; i < t->n; i++)
		t->child_start[i + 1] += t->child_start[i];
	fill = xcalloc(t->n + 1, sizeof(*fill));
	/* Nodes were created in input order: a flame chart's order. */
	for (size_t i = 0; i < t->n; i++) {
		uint32_t par = t->parent[i];

		if (par != NONE)
			t->children[t->child_start[par] + fill[par]++] = (uint32_t)i;
	}
	free(fill);
	if (!by_name)
		return;
	for (size_t i = 0; i < t->n; i++) {
		uint32_t n = t->child_start[i + 1] - t->child_start[i];

		if (n > 1)
			qsort_r(t->children + t->child_start[i], n,
			      sizeof(*t->children), cmp_children, t);
	}
}

/*
 * For a diff: give each node under `a` the value of the node at the same
 * path under `b` (0 where there is none), walking both sorted child lists
 * together.
 */
static void match_trees(struct tree *t, uint32_t a, uint32_t b)
{
	uint32_t i = t->child_start[a], ie = t->child_start[a + 1];
	uint32_t j = t->child_start[b], je = t->child_start[b + 1];

	t->other[a] = t->value[b];
	while (i < ie && j < je) {
		int c = cmp_children(&t->children[i], &t->children[j], t);

		if (c < 0) {
			i++;
		} else if (c > 0) {
			j++;
		} else {
			match_trees(t, t->children[i], t->children[j]);
			i++;
			j++;
		}
	}
}

/* ---- colours ---- */

struct rgb {
	int r, g, b;
};

/* Three values in [0, 1) from the name, weighted to its first characters
 * as flamegraph.pl's --hash is, so similar names get similar colours. */
static void name_hash(const char *name, double v[3])
{
	uint64_t h = hash_str(name);

	v[0] = (double)(h & 0xffff) / 65536.0;
	v[1] = (double)((h >> 16) & 0xffff) / 65536.0;
	v[2] = (double)((h >> 32) & 0xffff) / 65536.0;
}

static struct rgb palette_color(enum fg_palette pal, const char *name)
{
	double v[3];

	name_hash(name, v);
	switch (pal) {
	case FG_PALETTE_MEM:
		return (struct rgb){ 0, 190 + (int)(50 * v[1]), (int)(210 * v[0]) };
	case FG_PALETTE_IO:
		return (struct rgb){ 80 + (int)(60 * v[0]), 80 + (int)(60 * v[0]),
				     190 + (int)(55 * v[1]) };
	case FG_PALETTE_RED:
		return (struct rgb){ 200 + (int)(55 * v[0]), 50 + (int)(80 * v[0]),
				     50 + (int)(80 * v[0]) };
	case FG_PALETTE_GREEN:
		return (struct rgb){ 50 + (int)(60 * v[0]), 200 + (int)(55 * v[0]),
				     50 + (int)(60 * v[0]) };
	case FG_PALETTE_BLUE:
		return (struct rgb){ 80 + (int)(60 * v[0]), 80 + (int)(60 * v[0]),
				     205 + (int)(50 * v[0]) };
	case FG_PALETTE_AQUA:
		return (struct rgb){ 50 + (int)(60 * v[0]), 165 + (int)(55 * v[0]),
				     165 + (int)(55 * v[0]) };
	case FG_PALETTE_YELLOW:
		return (struct rgb){ 175 + (int)(55 * v[0]), 175 + (int)(55 * v[0]),
				     50 + (int)(20 * v[0]) };
	case FG_PALETTE_PURPLE:
		return (struct rgb){ 190 + (int)(65 * v[0]), 80 + (int)(60 * v[0]),
				     190 + (int)(65 * v[0]) };
	case FG_PALETTE_ORANGE:
		return (struct rgb){ 190 + (int)(65 * v[0]), 90 + (int)(65 * v[0]), 0 };
	case FG_PALETTE_HOT:
	case FG_PALETTE_KIND:
	default:
		return (struct rgb){ 205 + (int)(50 * v[2]), (int)(230 * v[0]),
				     (int)(55 * v[1]) };
	}
}

static struct rgb frame_color(enum fg_palette pal, const char *name, uint8_t kind)
{
	if (pal != FG_PALETTE_KIND)
		return palette_color(pal, name);
	switch (kind) {
	case FRAME_KERNEL:
		return palette_color(FG_PALETTE_ORANGE, name);
	case FRAME_JIT:
		return palette_color(FG_PALETTE_GREEN, name);
	case FRAME_INTERP:
		return palette_color(FG_PALETTE_BLUE, name);
	case KIND_INLINED:
		return palette_color(FG_PALETTE_AQUA, name);
	default:
		return palette_color(FG_PALETTE_HOT, name);
	}
}

/* ---- drawing ---- */

struct draw {
	const struct tree *t;
	const struct fg_opts *o;
	struct strbuf sb;
	FILE *f;
	double scale; /* pixels per unit */
	int64_t total, other_total;
	bool diff;
	bool negate; /* the drawn profile is BASE, the other NEW */
	double max_delta;
	unsigned height;
	unsigned ypad_top, ypad_bottom;
	const char *unit;
	bool time_unit; /* values are nanoseconds */
	int err;
};

static void flush(struct draw *d, bool force)
{
	if (d->sb.len && (force || d->sb.len > (1u << 20))) {
		if (fwrite(d->sb.buf, 1, d->sb.len, d->f) != d->sb.len)
			d->err = -EIO;
		strbuf_reset(&d->sb);
	}
}

/* XML text: escaped, valid UTF-8, no control characters. */
static void add_xml(struct strbuf *sb, const char *s)
{
	struct strbuf fixed = STRBUF_INIT;
	size_t len = strlen(s);

	if (!utf8_valid(s, len)) {
		utf8_repair(&fixed, s, len);
		s = fixed.buf;
	}
	for (; *s; s++) {
		switch (*s) {
		case '&':
			strbuf_adds(sb, "&amp;");
			break;
		case '<':
			strbuf_adds(sb, "&lt;");
			break;
		case '>':
			strbuf_adds(sb, "&gt;");
			break;
		case '"':
			strbuf_adds(sb, "&quot;");
			break;
		default:
			strbuf_addc(sb, (unsigned char)*s < 0x20 ? ' ' : *s);
		}
	}
	strbuf_release(&fixed);
}

/* "1,234,567" */
static void add_count(struct strbuf *sb, int64_t v)
{
	char digits[32];
	int n = snprintf(digits, sizeof(digits), "%" PRId64, v);

	for (int i = 0; i < n; i++) {
		strbuf_addc(sb, digits[i]);
		if (digits[i] != '-' && (n - i - 1) % 3 == 0 && i != n - 1)
			strbuf_addc(sb, ',');
	}
}

/* A value as people read it: samples, or time for nanoseconds. */
static void add_value(struct draw *d, int64_t v)
{
	if (d->time_unit) {
		double s = (double)v / 1e9;

		if (s >= 1)
			strbuf_addf(&d->sb, "%.2f s", s);
		else
			strbuf_addf(&d->sb, "%.2f ms", s * 1e3);
	} else {
		add_count(&d->sb, v);
		strbuf_addc(&d->sb, ' ');
		strbuf_adds(&d->sb, d->unit);
	}
}

static double pct(int64_t v, int64_t total)
{
	return total > 0 ? 100.0 * (double)v / (double)total : 0;
}

static struct rgb diff_color(const struct draw *d, double delta)
{
	double t = d->max_delta > 0 ? fabs(delta) / d->max_delta : 0;
	int c = (int)lround(250 - 190 * t);

	if (delta > 0)
		return d->o->colorblind ? (struct rgb){ 250, 250 - (int)lround(110 * t), c }
					: (struct rgb){ 250, c, c };
	if (delta < 0)
		return (struct rgb){ c, c, 250 };
	return (struct rgb){ 250, 250, 250 };
}

/* NEW's share minus BASE's, in percentage points, for drawn and other
 * values; 0 when not a diff. */
static double share_delta(const struct draw *d, int64_t drawn, int64_t other)
{
	double a = pct(drawn, d->total), b = pct(other, d->other_total);

	if (!d->diff)
		return 0;
	return d->negate ? b - a : a - b;
}

static double node_delta(const struct draw *d, uint32_t n)
{
	return share_delta(d, d->t->value[n], d->t->other[n]);
}

static void emit_frame(struct draw *d, const char *name, uint8_t kind,
		       int64_t start, int64_t value, uint32_t depth,
		       bool remainder, uint32_t nmerged, double delta,
		       int64_t other)
{
	const struct fg_opts *o = d->o;
	double x = 10 + (double)start * d->scale;
	double w = (double)value * d->scale;
	unsigned fh = o->frame_height;
	double y = o->icicle ? (double)(d->ypad_top + depth * fh)
			     : (double)(d->height - d->ypad_bottom - (depth + 1) * fh);
	struct rgb c;
	size_t chars;

	strbuf_addf(&d->sb, "<g class=\"f%s\" data-s=\"%" PRId64 "\" data-v=\"%"
		    PRId64 "\" data-d=\"%u\"><title>", remainder ? " r" : "",
		    start, value, depth);
	if (remainder) {
		strbuf_addf(&d->sb, "%u frames too narrow to draw", nmerged);
	} else {
		add_xml(&d->sb, name);
	}
	strbuf_adds(&d->sb, " (");
	if (d->diff) {
		double pd = pct(value, d->total), po = pct(other, d->other_total);
		double pnew = d->negate ? po : pd, pbase = d->negate ? pd : po;

		strbuf_addf(&d->sb, "base %.2f%%, new %.2f%%, %+.2f pts",
			    pbase, pnew, pnew - pbase);
		if (!other && !remainder)
			strbuf_adds(&d->sb, ", not in the other profile");
	} else {
		add_value(d, value);
		strbuf_addf(&d->sb, ", %.2f%%", pct(value, d->total));
	}
	strbuf_adds(&d->sb, ")</title>");

	if (remainder)
		c = (struct rgb){ 200, 200, 200 };
	else if (d->diff)
		c = diff_color(d, delta);
	else
		c = frame_color(o->palette, name, kind);
	strbuf_addf(&d->sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%u\""
		    " fill=\"rgb(%d,%d,%d)\" rx=\"2\" ry=\"2\"/>", x, y, w, fh - 1,
		    c.r, c.g, c.b);
	/* Label: what fits, cut with "..". */
	chars = (size_t)(w / (o->font_size * 0.59));
	strbuf_addf(&d->sb, "<text x=\"%.1f\" y=\"%.1f\">", x + 3,
		    y + fh / 2.0 + o->font_size / 2.0 - 2);
	if (chars >= 3 && !remainder) {
		size_t len = strlen(name);

		if (len <= chars) {
			add_xml(&d->sb, name);
		} else {
			/* Cut on a character boundary. */
			size_t cut = chars - 2;

			while (cut > 0 && ((unsigned char)name[cut] & 0xc0) == 0x80)
				cut--;
			char *part = xstrndup(name, cut);

			add_xml(&d->sb, part);
			free(part);
			strbuf_adds(&d->sb, "..");
		}
	}
	strbuf_adds(&d->sb, "</text></g>\n");
	flush(d, false);
}

/* Draw node n at `start`, then its children; small children merge. */
static void draw_node(struct draw *d, uint32_t n, int64_t start)
{
	const struct tree *t = d->t;
	uint32_t a = t->child_start[n], b = t->child_start[n + 1];
	int64_t x = start, small = 0, small_other = 0;
	uint32_t nsmall = 0;
	double minw = d->o->min_width;

	emit_frame(d, n ? t->names[t->name[n]] : "all", t->kind[n], start,
		   t->value[n], t->depth[n], false, 0, node_delta(d, n),
		   t->other[n]);
	for (uint32_t i = a; i < b; i++) {
		uint32_t c = t->children[i];

		if ((double)t->value[c] * d->scale < minw) {
			small = profile_value_add(small, t->value[c]);
			small_other = profile_value_add(small_other, t->other[c]);
			nsmall++;
			continue;
		}
		draw_node(d, c, x);
		x = profile_value_add(x, t->value[c]);
	}
	small = profile_value_add(small, t->small_value[n]);
	nsmall += t->small_count[n];
	if (nsmall && (double)small * d->scale >= minw)
		emit_frame(d, "", 0, x, small, t->depth[n] + 1, true, nsmall,
			   share_delta(d, small, small_other), small_other);
}

/* The largest change of share drawn, for the colour scale. */
static void scan_delta(struct draw *d, uint32_t n)
{
	const struct tree *t = d->t;
	double delta = fabs(node_delta(d, n));

	if (delta > d->max_delta)
		d->max_delta = delta;
	for (uint32_t i = t->child_start[n]; i < t->child_start[n + 1]; i++) {
		uint32_t c = t->children[i];

		if ((double)t->value[c] * d->scale >= d->o->min_width)
			scan_delta(d, c);
	}
}

static const char style[] =
	"<style type=\"text/css\">\n"
	"text { font-family: Verdana, sans-serif; fill: rgb(0,0,0); }\n"
	"#title { text-anchor: middle; font-size: 17px; }\n"
	"#subtitle { text-anchor: middle; fill: rgb(160,160,160); }\n"
	"#search, #unzoom { cursor: pointer; opacity: 0.5; }\n"
	"#search:hover, #search.show, #unzoom:hover { opacity: 1; }\n"
	"#matched { text-anchor: end; }\n"
	"#frames > g.f:hover rect { stroke: black; stroke-width: 0.5; cursor: pointer; }\n"
	"g.f text { pointer-events: none; }\n"
	".hide { display: none; }\n"
	".parent { opacity: 0.5; }\n"
	"</style>\n";

static int draw(struct tree *t, size_t shape_nodes, const struct profile *p,
		int vi, int64_t total, int64_t other_total, bool diff, bool negate,
		const struct fg_opts *in, FILE *f)
{
	struct fg_opts o = *in;
	struct draw d = { .t = t, .o = &o, .sb = STRBUF_INIT, .f = f,
			  .total = total, .other_total = other_total,
			  .diff = diff, .negate = negate };
	const char *unit = profile_str(p, p->sample_types[vi].unit);
	const char *type = profile_str(p, p->sample_types[vi].type);
	unsigned depth;

	if (!o.width)
		o.width = 1200;
	if (!o.frame_height)
		o.frame_height = 16;
	if (!o.font_size)
		o.font_size = 12;
	if (o.min_width < 0)
		o.min_width = 0.1;
	if (o.width < 100 || o.frame_height < 4 || o.font_size < 4)
		return -EINVAL;
	if (!o.title)
		o.title = diff ? "Differential Flame Graph" :
			  o.flamechart ? "Flame Chart" :
			  o.icicle ? "Icicle Graph" : "Flame Graph";
	d.time_unit = !strcmp(unit, "nanoseconds");
	d.unit = !strcmp(unit, "count") ? type : unit;
	d.scale = total > 0 ? (double)(o.width - 20) / (double)total : 0;

	/* Height: only the depths that have something wide enough (in the
	 * drawn tree: its nodes are the first `shape_nodes`). */
	depth = 0;
	for (size_t i = 0; i < shape_nodes; i++)
		if ((double)t->value[i] * d.scale >= o.min_width &&
		    t->depth[i] + 1 > depth)
			depth = t->depth[i] + 1;
	d.ypad_top = o.font_size * 3 + (o.subtitle ? o.font_size * 2 : 0);
	d.ypad_bottom = o.font_size * 2 + 10;
	d.height = d.ypad_top + d.ypad_bottom + (depth + 1) * o.frame_height;
	if (diff)
		scan_delta(&d, 0);

	strbuf_addf(&d.sb,
		    "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		    "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\""
		    " \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
		    "<svg version=\"1.1\" width=\"%u\" height=\"%u\""
		    " viewBox=\"0 0 %u %u\" onload=\"init(evt)\""
		    " xmlns=\"http://www.w3.org/2000/svg\""
		    " xmlns:xlink=\"http://www.w3.org/1999/xlink\""
		    " data-xpad=\"10\" data-total=\"%" PRId64 "\""
		    " data-fontsize=\"%u\" data-icicle=\"%d\">\n",
		    o.width, d.height, o.width, d.height, total, o.font_size,
		    o.icicle ? 1 : 0);
	strbuf_addf(&d.sb,
		    "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\""
		    " x1=\"0\" x2=\"0\"><stop stop-color=\"%s\" offset=\"5%%\"/>"
		    "<stop stop-color=\"%s\" offset=\"95%%\"/></linearGradient>"
		    "</defs>\n", diff ? "#eeeeee" : "#eeeeee",
		    diff ? "#e0e0ff" : "#eeeeb0");
	strbuf_adds(&d.sb, style);
	strbuf_adds(&d.sb, "<script type=\"text/ecmascript\"><![CDATA[\n");
	strbuf_add(&d.sb, flamegraph_js, flamegraph_js_len);
	strbuf_adds(&d.sb, "]]></script>\n");
	strbuf_addf(&d.sb, "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\""
		    " fill=\"url(#background)\"/>\n");
	strbuf_addf(&d.sb, "<text id=\"title\" x=\"%u\" y=\"%u\">", o.width / 2,
		    o.font_size * 2);
	add_xml(&d.sb, o.title);
	strbuf_adds(&d.sb, "</text>\n");
	if (o.subtitle) {
		strbuf_addf(&d.sb, "<text id=\"subtitle\" x=\"%u\" y=\"%u\">",
			    o.width / 2, o.font_size * 4);
		add_xml(&d.sb, o.subtitle);
		strbuf_adds(&d.sb, "</text>\n");
	}
	strbuf_addf(&d.sb, "<text id=\"details\" x=\"10\" y=\"%u\"> </text>\n",
		    d.height - o.font_size / 2 - 5);
	strbuf_addf(&d.sb, "<text id=\"unzoom\" class=\"hide\" x=\"10\" y=\"%u\">"
		    "Reset Zoom</text>\n", o.font_size * 2);
	strbuf_addf(&d.sb, "<text id=\"search\" x=\"%u\" y=\"%u\">Search</text>\n",
		    o.width - 110, o.font_size * 2);
	strbuf_addf(&d.sb, "<text id=\"matched\" x=\"%u\" y=\"%u\"> </text>\n",
		    o.width - 10, d.height - o.font_size / 2 - 5);
	strbuf_adds(&d.sb, "<g id=\"frames\">\n");
	if (total > 0)
		draw_node(&d, 0, 0);
	strbuf_adds(&d.sb, "</g>\n</svg>\n");
	flush(&d, true);
	strbuf_release(&d.sb);
	if (!d.err && (fflush(f) || ferror(f)))
		d.err = -EIO;
	return d.err;
}

int flamegraph_write(const struct profile *p, const struct fg_opts *o, FILE *f)
{
	struct tree t = { 0 };
	int vi = profile_value_index(p, o->value_index), err;
	int64_t total;

	if (vi < 0)
		return -EINVAL;
	add_profile(&t, p, vi, o->reverse, !o->flamechart,
		    o->min_width < 0 ? 0.1 : o->min_width, o->width ? o->width : 1200,
		    &total);
	tree_sort(&t, !o->flamechart);
	err = draw(&t, t.n, p, vi, total, 0, false, false, o, f);
	tree_release(&t);
	return err;
}

int flamegraph_diff_write(const struct profile *base, const struct profile *new,
			  bool negate, const struct fg_opts *o, FILE *f)
{
	struct tree t = { 0 };
	const struct profile *shape = negate ? base : new;
	const struct profile *other = negate ? new : base;
	int vs = profile_value_index(shape, o->value_index);
	int vo = profile_value_index(other, o->value_index);
	int64_t ts, to;
	uint32_t other_root;
	size_t shape_nodes;
	int err;

	if (vs < 0 || vo < 0)
		return -EINVAL;
	/* Whole trees: a frame too narrow in one may be wide in the other. */
	add_profile(&t, shape, vs, o->reverse, true, 0, 0, &ts);
	shape_nodes = t.n;
	other_root = add_profile(&t, other, vo, o->reverse, true, 0, 0, &to);
	tree_sort(&t, true);
	match_trees(&t, 0, other_root);
	err = draw(&t, shape_nodes, shape, vs, ts, to, true, negate, o, f);
	tree_release(&t);
	return err;
}

/* ---- the tree as JSON, for the web page ---- */

struct json_pair {
	uint32_t a, b, depth; /* a: node of the drawn profile; b: of the base */
};

/* Children of a and of b, matched by (name, kind), in name order. */
static void push_children(const struct tree *t, uint32_t a, uint32_t b,
			  uint32_t depth, struct json_pair **stk, size_t *n,
			  size_t *alloc)
{
	uint32_t i = a == NONE ? 0 : t->child_start[a];
	uint32_t ie = a == NONE ? 0 : t->child_start[a + 1];
	uint32_t j = b == NONE ? 0 : t->child_start[b];
	uint32_t je = b == NONE ? 0 : t->child_start[b + 1];
	size_t first = *n;

	while (i < ie || j < je) {
		struct json_pair pr = { NONE, NONE, depth };
		int c = i == ie ? 1 : j == je ? -1 :
			cmp_children(&t->children[i], &t->children[j], (void *)t);

		if (c <= 0)
			pr.a = t->children[i++];
		if (c >= 0)
			pr.b = t->children[j++];
		ALLOC_GROW(*stk, *n + 1, *alloc);
		(*stk)[(*n)++] = pr;
	}
	/* Reverse, so that the first child is popped first. */
	for (size_t x = first, y = *n; x + 1 < y; x++, y--) {
		struct json_pair tmp = (*stk)[x];

		(*stk)[x] = (*stk)[y - 1];
		(*stk)[y - 1] = tmp;
	}
}

static int json_tree(struct tree *t, uint32_t base_root, const struct profile *p,
		     int vi, int64_t total, int64_t base_total, FILE *f)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_pair *stk = NULL;
	size_t n = 0, alloc = 0, emitted = 0;
	bool diff = base_root != NONE;

	strbuf_adds(&sb, "{\"version\":1,\"type\":");
	json_add_str(&sb, profile_str(p, p->sample_types[vi].type));
	strbuf_adds(&sb, ",\"unit\":");
	json_add_str(&sb, profile_str(p, p->sample_types[vi].unit));
	strbuf_addf(&sb, ",\"total\":%" PRId64, total);
	if (diff)
		strbuf_addf(&sb, ",\"baseTotal\":%" PRId64, base_total);
	strbuf_addf(&sb, ",\"stride\":%d,\"names\":[", diff ? 5 : 4);
	for (size_t i = 0; i < t->nnames; i++) {
		if (i)
			strbuf_addc(&sb, ',');
		json_add_str(&sb, t->names[i]);
		if (sb.len > (1 << 16)) {
			fwrite(sb.buf, 1, sb.len, f);
			strbuf_reset(&sb);
		}
	}
	/* Nodes in preorder: depth, name, kind, value[, base value]. */
	strbuf_adds(&sb, "],\"nodes\":[");
	ALLOC_GROW(stk, 1, alloc);
	stk[n++] = (struct json_pair){ t->n ? 0 : NONE, base_root, 0 };
	while (n) {
		struct json_pair pr = stk[--n];
		uint32_t node = pr.a != NONE ? pr.a : pr.b;

		if (node == NONE)
			continue;
		strbuf_addf(&sb, "%s%u,%u,%u,%" PRId64, emitted++ ? "," : "",
			    pr.depth, t->name[node], t->kind[node],
			    pr.a != NONE ? t->value[pr.a] : 0);
		if (diff)
			strbuf_addf(&sb, ",%" PRId64,
				    pr.b != NONE ? t->value[pr.b] : 0);
		if (sb.len > (1 << 16)) {
			fwrite(sb.buf, 1, sb.len, f);
			strbuf_reset(&sb);
		}
		push_children(t, pr.a, pr.b, pr.depth + 1, &stk, &n, &alloc);
	}
	strbuf_adds(&sb, "]}\n");
	fwrite(sb.buf, 1, sb.len, f);
	strbuf_release(&sb);
	free(stk);
	return fflush(f) || ferror(f) ? -EIO : 0;
}

int flamegraph_json_write(const struct profile *base, const struct profile *p,
			  int value_index, FILE *f)
{
	struct tree t = { 0 };
	int vi = profile_value_index(p, value_index), vb = -1, err;
	int64_t total, base_total = 0;
	uint32_t base_root = NONE;

	if (vi < 0)
		return -EINVAL;
	if (base && (vb = profile_value_index(base, value_index)) < 0)
		return -EINVAL;
	add_profile(&t, p, vi, false, true, 0, 0, &total);
	if (base)
		base_root = add_profile(&t, base, vb, false, true, 0, 0,
					&base_total);
	tree_sort(&t, true);
	err = json_tree(&t, base_root, p, vi, total, base_total, f);
	tree_release(&t);
	return err;
}
