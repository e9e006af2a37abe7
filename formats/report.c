/* SPDX-License-Identifier: MIT */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hmap.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"

struct row {
	char *name;
	int64_t flat, cum;
	size_t stamp; /* last sample counted in cum, + 1 */
	/* diff */
	int64_t flat2, cum2;
	size_t stamp2;
	double sort_key;
};

struct table {
	struct row *rows;
	size_t n, alloc;
	struct hmap idx;
	bool lines;
};

static struct row *row_for(struct table *t, const char *name)
{
	uint64_t h = hash_str(name);
	size_t pos;

	for (uint32_t i = hmap_first(&t->idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&t->idx, h, &pos))
		if (!strcmp(t->rows[i].name, name))
			return &t->rows[i];
	ALLOC_GROW(t->rows, t->n + 1, t->alloc);
	memset(&t->rows[t->n], 0, sizeof(t->rows[t->n]));
	t->rows[t->n].name = xstrdup(name);
	hmap_insert(&t->idx, h, (uint32_t)t->n);
	return &t->rows[t->n++];
}

static void line_name(struct strbuf *sb, const struct profile *p,
		      const struct profile_line *l, bool with_line)
{
	const struct profile_function *f = profile_function(p, l->function_id);

	strbuf_reset(sb);
	strbuf_adds(sb, f ? profile_str(p, f->name) : "[unknown]");
	if (with_line && f) {
		const char *file = profile_str(p, f->filename);

		if (*file || l->line)
			strbuf_addf(sb, " %s:%" PRId64, *file ? file : "?", l->line);
	}
}

/* Add `p` (column vi) to the table: into flat/cum, or flat2/cum2. */
static int64_t tally(struct table *t, const struct profile *p, int vi,
		     bool second)
{
	struct strbuf sb = STRBUF_INIT;
	int64_t total = 0;

	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		int64_t v = s->values[vi];
		bool leaf = true;

		if (!v)
			continue;
		total = profile_value_add(total, v);
		for (uint32_t j = 0; j < s->nlocations; j++) {
			const struct profile_location *l =
				profile_location(p, s->location_ids[j]);
			uint32_t nl = l ? l->nlines : 0;

			if (l && !nl) {
				strbuf_reset(&sb);
				strbuf_addf(&sb, "[unknown+0x%" PRIx64 "]", l->address);
			}
			for (uint32_t k = 0; k < (nl ? nl : 1); k++) {
				struct row *r;

				if (nl)
					line_name(&sb, p, &l->lines[k], t->lines);
				else if (!l)
					continue;
				r = row_for(t, sb.buf);
				if (second) {
					if (leaf)
						r->flat2 = profile_value_add(r->flat2, v);
					if (r->stamp2 != i + 1) {
						r->cum2 = profile_value_add(r->cum2, v);
						r->stamp2 = i + 1;
					}
				} else {
					if (leaf)
						r->flat = profile_value_add(r->flat, v);
					if (r->stamp != i + 1) {
						r->cum = profile_value_add(r->cum, v);
						r->stamp = i + 1;
					}
				}
				leaf = false;
			}
		}
	}
	strbuf_release(&sb);
	return total;
}

static void table_release(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->rows[i].name);
	free(t->rows);
	hmap_release(&t->idx);
}

/* A value as pprof prints it: "2.23s", "990ms", "10us", or a number. */
static void fmt_value(char *buf, size_t n, int64_t v, bool ns)
{
	double d = (double)v;

	if (!ns) {
		snprintf(buf, n, "%" PRId64, v);
		return;
	}
	if (v == 0)
		snprintf(buf, n, "0");
	else if (fabs(d) >= 1e9)
		snprintf(buf, n, "%.2fs", d / 1e9);
	else if (fabs(d) >= 1e6)
		snprintf(buf, n, "%.2fms", d / 1e6);
	else if (fabs(d) >= 1e3)
		snprintf(buf, n, "%.2fus", d / 1e3);
	else
		snprintf(buf, n, "%" PRId64 "ns", v);
}

static const struct table *cmp_table;
static bool cmp_cum;

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int64_t kx = cmp_cum ? x->cum : x->flat, ky = cmp_cum ? y->cum : y->flat;

	if (kx != ky)
		return kx > ky ? -1 : 1;
	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	return strcmp(x->name, y->name);
}

int report_write(const struct profile *p, const struct report_opts *o, FILE *f)
{
	struct table t = { .lines = o->lines };
	int vi = profile_value_index(p, o->value_index);
	bool ns;
	int64_t total, sum = 0, shown = 0;
	size_t nrows;
	char a[32], b[32];

	if (vi < 0)
		return -EINVAL;
	ns = !strcmp(profile_str(p, p->sample_types[vi].unit), "nanoseconds");
	total = tally(&t, p, vi, false);
	cmp_table = &t;
	cmp_cum = o->cum;
	if (t.n)
		qsort(t.rows, t.n, sizeof(*t.rows), cmp_rows);
	nrows = o->top > 0 && (size_t)o->top < t.n ? (size_t)o->top : t.n;
	for (size_t i = 0; i < nrows; i++)
		shown = profile_value_add(shown, t.rows[i].flat);
	fmt_value(a, sizeof(a), shown, ns);
	fmt_value(b, sizeof(b), total, ns);
	fprintf(f, "Type: %s\n", profile_str(p, p->sample_types[vi].type));
	fprintf(f, "Showing nodes accounting for %s, %.2f%% of %s total\n", a,
		total ? 100.0 * (double)shown / (double)total : 0.0, b);
	if (nrows < t.n)
		fprintf(f, "Dropped %zu nodes\n", t.n - nrows);
	fprintf(f, "%10s %6s %6s %10s %6s\n", "flat", "flat%", "sum%", "cum", "cum%");
	for (size_t i = 0; i < nrows; i++) {
		const struct row *r = &t.rows[i];

		sum = profile_value_add(sum, r->flat);
		fmt_value(a, sizeof(a), r->flat, ns);
		fmt_value(b, sizeof(b), r->cum, ns);
		fprintf(f, "%10s %5.2f%% %5.2f%% %10s %5.2f%%  %s\n", a,
			total ? 100.0 * (double)r->flat / (double)total : 0.0,
			total ? 100.0 * (double)sum / (double)total : 0.0, b,
			total ? 100.0 * (double)r->cum / (double)total : 0.0,
			r->name);
	}
	table_release(&t);
	return ferror(f) ? -EIO : 0;
}

static int cmp_delta(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->sort_key != y->sort_key)
		return x->sort_key > y->sort_key ? -1 : 1;
	return strcmp(x->name, y->name);
}

int report_diff_write(const struct profile *base, const struct profile *new,
		      const struct report_opts *o, FILE *f)
{
	struct table t = { .lines = o->lines };
	int vb = profile_value_index(base, o->value_index);
	int vn = profile_value_index(new, o->value_index);
	int64_t tb, tn;
	size_t nrows;

	if (vb < 0 || vn < 0)
		return -EINVAL;
	tb = tally(&t, base, vb, false);
	tn = tally(&t, new, vn, true);
	for (size_t i = 0; i < t.n; i++) {
		struct row *r = &t.rows[i];
		double dflat = (tn ? 100.0 * (double)r->flat2 / (double)tn : 0) -
			       (tb ? 100.0 * (double)r->flat / (double)tb : 0);
		double dcum = (tn ? 100.0 * (double)r->cum2 / (double)tn : 0) -
			      (tb ? 100.0 * (double)r->cum / (double)tb : 0);

		r->sort_key = o->cum ? fabs(dcum) :
				       fmax(fabs(dflat), fabs(dcum));
	}
	if (t.n)
		qsort(t.rows, t.n, sizeof(*t.rows), cmp_delta);
	nrows = o->top > 0 && (size_t)o->top < t.n ? (size_t)o->top : t.n;
	fprintf(f, "Shares of each total (base %" PRId64 ", new %" PRId64
		" %s); change in percentage points\n", tb, tn,
		profile_str(new, new->sample_types[vn].unit));
	fprintf(f, "%9s %9s %8s %9s %9s %8s  %s\n", "flat base", "flat new",
		"change", "cum base", "cum new", "change", "function");
	for (size_t i = 0; i < nrows; i++) {
		const struct row *r = &t.rows[i];
		double fb = tb ? 100.0 * (double)r->flat / (double)tb : 0;
		double fn = tn ? 100.0 * (double)r->flat2 / (double)tn : 0;
		double cb = tb ? 100.0 * (double)r->cum / (double)tb : 0;
		double cn = tn ? 100.0 * (double)r->cum2 / (double)tn : 0;

		if (r->sort_key == 0 && i > 0)
			break; /* nothing changed from here on */
		fprintf(f, "%8.2f%% %8.2f%% %+8.2f %8.2f%% %8.2f%% %+8.2f  %s%s\n",
			fb, fn, fn - fb, cb, cn, cn - cb, r->name,
			!r->cum ? " (new)" : !r->cum2 ? " (gone)" : "");
	}
	table_release(&t);
	return ferror(f) ? -EIO : 0;
}
