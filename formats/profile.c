/* SPDX-License-Identifier: MIT */
#include "profile.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xalloc.h"

struct profile *profile_new(void)
{
	struct profile *p = xcalloc(1, sizeof(*p));

	profile_string(p, "");
	return p;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	free(p->strings);
	free(p->sample_types);
	free(p->samples);
	free(p->mappings);
	free(p->locations);
	free(p->functions);
	free(p->comments);
	arena_release(&p->arena);
	hmap_release(&p->string_idx);
	hmap_release(&p->function_idx);
	hmap_release(&p->mapping_idx);
	hmap_release(&p->location_idx);
	hmap_release(&p->sample_idx);
	free(p);
}

int64_t profile_string(struct profile *p, const char *s)
{
	uint64_t h = hash_str(s);
	size_t pos;

	for (uint32_t i = hmap_first(&p->string_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&p->string_idx, h, &pos))
		if (!strcmp(p->strings[i], s))
			return i;
	ALLOC_GROW(p->strings, p->nstrings + 1, p->strings_alloc);
	p->strings[p->nstrings] = xstrdup(s);
	hmap_insert(&p->string_idx, h, (uint32_t)p->nstrings);
	return (int64_t)p->nstrings++;
}

const char *profile_str(const struct profile *p, int64_t i)
{
	if (i < 0 || (size_t)i >= p->nstrings)
		return "";
	return p->strings[i];
}

void profile_set_sample_types(struct profile *p, const char *const *types,
			      const char *const *units, size_t n)
{
	assert(p->nsamples == 0);
	free(p->sample_types);
	p->sample_types = xcalloc(n, sizeof(*p->sample_types));
	p->nsample_types = n;
	for (size_t i = 0; i < n; i++) {
		p->sample_types[i].type = profile_string(p, types[i]);
		p->sample_types[i].unit = profile_string(p, units[i]);
	}
}

uint64_t profile_add_function(struct profile *p, const char *name,
			      const char *system_name, const char *filename,
			      int64_t start_line)
{
	struct profile_function f = {
		.name = profile_string(p, name),
		.system_name = profile_string(p, system_name ? system_name : name),
		.filename = profile_string(p, filename ? filename : ""),
		.start_line = start_line,
	};
	uint64_t h = hash_bytes(&f.name, sizeof(f) - offsetof(struct profile_function, name));
	size_t pos;

	for (uint32_t i = hmap_first(&p->function_idx, h, &pos);
	     i != HMAP_NONE; i = hmap_next(&p->function_idx, h, &pos)) {
		const struct profile_function *o = &p->functions[i];

		if (o->name == f.name && o->system_name == f.system_name &&
		    o->filename == f.filename && o->start_line == f.start_line)
			return o->id;
	}
	ALLOC_GROW(p->functions, p->nfunctions + 1, p->functions_alloc);
	f.id = p->nfunctions + 1;
	p->functions[p->nfunctions] = f;
	hmap_insert(&p->function_idx, h, (uint32_t)p->nfunctions++);
	return f.id;
}

static uint64_t mapping_hash(const struct profile_mapping *m)
{
	uint64_t h = hash_combine(m->memory_start, m->memory_limit);

	h = hash_combine(h, m->file_offset);
	h = hash_combine(h, (uint64_t)m->filename);
	return hash_combine(h, (uint64_t)m->build_id);
}

uint64_t profile_add_mapping(struct profile *p,
			     const struct profile_mapping *m)
{
	uint64_t h = mapping_hash(m);
	size_t pos;

	for (uint32_t i = hmap_first(&p->mapping_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&p->mapping_idx, h, &pos)) {
		struct profile_mapping *o = &p->mappings[i];

		if (o->memory_start == m->memory_start &&
		    o->memory_limit == m->memory_limit &&
		    o->file_offset == m->file_offset &&
		    o->filename == m->filename && o->build_id == m->build_id) {
			/* What one caller learnt about the object holds for
			 * all: keep the strongest claims. */
			o->has_functions |= m->has_functions;
			o->has_filenames |= m->has_filenames;
			o->has_line_numbers |= m->has_line_numbers;
			o->has_inline_frames |= m->has_inline_frames;
			return o->id;
		}
	}
	ALLOC_GROW(p->mappings, p->nmappings + 1, p->mappings_alloc);
	p->mappings[p->nmappings] = *m;
	p->mappings[p->nmappings].id = p->nmappings + 1;
	hmap_insert(&p->mapping_idx, h, (uint32_t)p->nmappings++);
	return p->nmappings;
}

static uint64_t location_hash(uint64_t mapping_id, uint64_t address,
			      enum frame_kind kind,
			      const struct profile_line *lines, uint32_t nlines)
{
	uint64_t h = hash_combine(mapping_id, address);

	h = hash_combine(h, kind);
	if (nlines)
		h = hash_combine(h, hash_bytes(lines, nlines * sizeof(*lines)));
	return h;
}

uint64_t profile_add_location(struct profile *p, uint64_t mapping_id,
			      uint64_t address, enum frame_kind kind,
			      const struct profile_line *lines,
			      uint32_t nlines)
{
	uint64_t h = location_hash(mapping_id, address, kind, lines, nlines);
	struct profile_location *l;
	size_t pos;

	for (uint32_t i = hmap_first(&p->location_idx, h, &pos);
	     i != HMAP_NONE; i = hmap_next(&p->location_idx, h, &pos)) {
		l = &p->locations[i];
		if (l->mapping_id == mapping_id && l->address == address &&
		    l->kind == kind && l->nlines == nlines &&
		    (!nlines || !memcmp(l->lines, lines, nlines * sizeof(*lines))))
			return l->id;
	}
	ALLOC_GROW(p->locations, p->nlocations + 1, p->locations_alloc);
	l = &p->locations[p->nlocations];
	memset(l, 0, sizeof(*l));
	l->id = p->nlocations + 1;
	l->mapping_id = mapping_id;
	l->address = address;
	l->kind = (uint8_t)kind;
	l->nlines = nlines;
	l->lines = nlines ? arena_memdup(&p->arena, lines, nlines * sizeof(*lines))
			  : NULL;
	hmap_insert(&p->location_idx, h, (uint32_t)p->nlocations++);
	return l->id;
}

static uint64_t sample_hash(const uint64_t *locs, uint32_t nlocs,
			    const struct profile_label *labels,
			    uint32_t nlabels)
{
	uint64_t h = hash_bytes(locs, nlocs * sizeof(*locs));

	return hash_combine(h, nlabels ? hash_bytes(labels, nlabels * sizeof(*labels)) : 0);
}

size_t profile_add_sample(struct profile *p, const uint64_t *locs,
			  uint32_t nlocs, const int64_t *values,
			  const struct profile_label *labels, uint32_t nlabels)
{
	uint64_t h = sample_hash(locs, nlocs, labels, nlabels);
	struct profile_sample *s;
	size_t pos;

	for (uint32_t i = hmap_first(&p->sample_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&p->sample_idx, h, &pos)) {
		s = &p->samples[i];
		if (s->nlocations == nlocs && s->nlabels == nlabels &&
		    (!nlocs ||
		     !memcmp(s->location_ids, locs, nlocs * sizeof(*locs))) &&
		    (!nlabels ||
		     !memcmp(s->labels, labels, nlabels * sizeof(*labels)))) {
			for (size_t v = 0; v < p->nsample_types; v++)
				s->values[v] = profile_value_add(s->values[v],
								 values[v]);
			return i;
		}
	}
	ALLOC_GROW(p->samples, p->nsamples + 1, p->samples_alloc);
	s = &p->samples[p->nsamples];
	s->nlocations = nlocs;
	s->nlabels = nlabels;
	s->location_ids = arena_memdup(&p->arena, locs, nlocs * sizeof(*locs));
	s->values = arena_memdup(&p->arena, values,
				 p->nsample_types * sizeof(*values));
	s->labels = nlabels ? arena_memdup(&p->arena, labels,
					   nlabels * sizeof(*labels))
			    : NULL;
	hmap_insert(&p->sample_idx, h, (uint32_t)p->nsamples);
	return p->nsamples++;
}

void profile_add_comment(struct profile *p, const char *comment)
{
	ALLOC_GROW(p->comments, p->ncomments + 1, p->comments_alloc);
	p->comments[p->ncomments++] = profile_string(p, comment);
}

const struct profile_location *profile_location(const struct profile *p,
						uint64_t id)
{
	return id && id <= p->nlocations ? &p->locations[id - 1] : NULL;
}

const struct profile_function *profile_function(const struct profile *p,
						uint64_t id)
{
	return id && id <= p->nfunctions ? &p->functions[id - 1] : NULL;
}

const struct profile_mapping *profile_mapping(const struct profile *p,
					      uint64_t id)
{
	return id && id <= p->nmappings ? &p->mappings[id - 1] : NULL;
}

const char *profile_sample_label_str(const struct profile *p,
				     const struct profile_sample *s,
				     const char *key)
{
	for (uint32_t i = 0; i < s->nlabels; i++)
		if (s->labels[i].str &&
		    !strcmp(profile_str(p, s->labels[i].key), key))
			return profile_str(p, s->labels[i].str);
	return NULL;
}

int profile_sample_type_index(const struct profile *p, const char *type)
{
	for (size_t i = 0; i < p->nsample_types; i++)
		if (!strcmp(profile_str(p, p->sample_types[i].type), type))
			return (int)i;
	return -1;
}

int64_t profile_total(const struct profile *p, int idx)
{
	int64_t t = 0;

	if (idx < 0 || (size_t)idx >= p->nsample_types)
		return 0;
	for (size_t i = 0; i < p->nsamples; i++)
		t = profile_value_add(t, p->samples[i].values[idx]);
	return t;
}

int profile_value_index(const struct profile *p, int requested)
{
	if (requested >= 0)
		return (size_t)requested < p->nsample_types ? requested : -1;
	for (size_t i = 0; i < p->nsample_types; i++)
		if (p->default_sample_type &&
		    p->sample_types[i].type == p->default_sample_type)
			return (int)i;
	/* pprof's rule: the last sample type is the default. */
	return p->nsample_types ? (int)p->nsample_types - 1 : -1;
}

/* Index of `s` in p's string table, or -1: profile_string without adding. */
static int64_t string_find(const struct profile *p, const char *s)
{
	uint64_t h = hash_str(s);
	size_t pos;

	for (uint32_t i = hmap_first(&p->string_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&p->string_idx, h, &pos))
		if (!strcmp(p->strings[i], s))
			return i;
	return -1;
}

/*
 * profile_merge's state: src ids to dst ids, each found once and kept.
 * 0 is "not yet" (no dst id is 0, and only "" is dst string 0), and
 * scratch arrays for one location's lines and one sample's stack and
 * labels.
 */
struct merge {
	struct profile *dst;
	const struct profile *src;
	int64_t *strs;
	uint64_t *funcs, *maps, *locs;
	struct profile_line *lines;
	size_t lines_alloc;
	uint64_t *stack;
	size_t stack_alloc;
	struct profile_label *labels;
	size_t labels_alloc;
};

static int64_t merge_string(struct merge *m, int64_t i)
{
	if (i <= 0 || (size_t)i >= m->src->nstrings)
		return 0; /* "", as profile_str has it */
	if (!m->strs[i])
		m->strs[i] = profile_string(m->dst, m->src->strings[i]);
	return m->strs[i];
}

static uint64_t merge_function(struct merge *m, uint64_t id)
{
	const struct profile_function *f = profile_function(m->src, id);

	if (!f)
		return 0;
	if (!m->funcs[id - 1])
		m->funcs[id - 1] = profile_add_function(
			m->dst, profile_str(m->src, f->name),
			profile_str(m->src, f->system_name),
			profile_str(m->src, f->filename), f->start_line);
	return m->funcs[id - 1];
}

static uint64_t merge_mapping(struct merge *m, uint64_t id)
{
	const struct profile_mapping *sm = profile_mapping(m->src, id);

	if (!sm)
		return 0;
	if (!m->maps[id - 1]) {
		struct profile_mapping dm = *sm;

		dm.filename = merge_string(m, sm->filename);
		dm.build_id = merge_string(m, sm->build_id);
		m->maps[id - 1] = profile_add_mapping(m->dst, &dm);
	}
	return m->maps[id - 1];
}

static uint64_t merge_location(struct merge *m, uint64_t id)
{
	const struct profile_location *l = profile_location(m->src, id);
	uint64_t did;

	assert(l); /* a profile's samples refer to its own locations */
	if (!l)
		return 0;
	if (m->locs[id - 1])
		return m->locs[id - 1];
	ALLOC_GROW(m->lines, l->nlines, m->lines_alloc);
	for (uint32_t i = 0; i < l->nlines; i++) {
		m->lines[i] = l->lines[i];
		m->lines[i].function_id = merge_function(m, l->lines[i].function_id);
	}
	did = profile_add_location(m->dst, merge_mapping(m, l->mapping_id),
				   l->address, (enum frame_kind)l->kind,
				   m->lines, l->nlines);
	if (l->is_folded)
		m->dst->locations[did - 1].is_folded = true;
	return m->locs[id - 1] = did;
}

/* A filter in src's terms: string indexes, -1 for one src lacks. */
struct merge_filter {
	int64_t key, str;
	bool numeric; /* the value is the decimal text of `num` */
	int64_t num;
};

static void merge_filter_init(struct merge_filter *mf, const struct profile *src,
			      const struct profile_label_filter *f)
{
	char *end, text[32];

	mf->key = string_find(src, f->key);
	mf->str = string_find(src, f->value);
	errno = 0;
	mf->num = strtoll(f->value, &end, 10);
	snprintf(text, sizeof(text), "%" PRId64, mf->num);
	mf->numeric = !errno && !*end && !strcmp(text, f->value);
}

static bool merge_filters_match(const struct profile_sample *s,
				const struct merge_filter *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool ok = false;

		for (uint32_t j = 0; j < s->nlabels && !ok; j++) {
			const struct profile_label *l = &s->labels[j];

			if (l->key != f[i].key)
				continue;
			ok = l->str ? l->str == f[i].str
				    : f[i].numeric && l->num == f[i].num;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* src's sample types can be added to dst's: equal, or dst takes them. */
static bool merge_types_fit(const struct profile *dst,
			    const struct profile *src)
{
	if (!dst->nsample_types)
		return !dst->nsamples || !src->nsample_types;
	if (dst->nsample_types != src->nsample_types)
		return false;
	for (size_t i = 0; i < dst->nsample_types; i++) {
		const struct profile_value_type *d = &dst->sample_types[i];
		const struct profile_value_type *s = &src->sample_types[i];

		if (strcmp(profile_str(dst, d->type), profile_str(src, s->type)) ||
		    strcmp(profile_str(dst, d->unit), profile_str(src, s->unit)))
			return false;
	}
	return true;
}

static void merge_header(struct merge *m)
{
	struct profile *dst = m->dst;
	const struct profile *src = m->src;

	if (!dst->nsample_types) {
		size_t n = src->nsample_types;
		const char **types = xcalloc(n, sizeof(*types));
		const char **units = xcalloc(n, sizeof(*units));

		for (size_t i = 0; i < n; i++) {
			types[i] = profile_str(src, src->sample_types[i].type);
			units[i] = profile_str(src, src->sample_types[i].unit);
		}
		if (n)
			profile_set_sample_types(dst, types, units, n);
		free(types);
		free(units);
		dst->period_type.type = merge_string(m, src->period_type.type);
		dst->period_type.unit = merge_string(m, src->period_type.unit);
		dst->period = src->period;
		dst->default_sample_type = merge_string(m, src->default_sample_type);
	}
	if (!dst->drop_frames)
		dst->drop_frames = merge_string(m, src->drop_frames);
	if (!dst->keep_frames)
		dst->keep_frames = merge_string(m, src->keep_frames);
	for (size_t i = 0; i < src->ncomments; i++) {
		int64_t c = merge_string(m, src->comments[i]);
		size_t j = 0;

		while (j < dst->ncomments && dst->comments[j] != c)
			j++;
		if (j == dst->ncomments) {
			ALLOC_GROW(dst->comments, dst->ncomments + 1,
				   dst->comments_alloc);
			dst->comments[dst->ncomments++] = c;
		}
	}
}

/* dst's time range grows to cover src's; a profile without a start
 * (time_nanos 0) is taken to start with the other. In 128 bits: the
 * numbers come from files and may be anything. */
static void merge_time(struct profile *dst, const struct profile *src)
{
	__int128 s1 = dst->time_nanos ? dst->time_nanos : src->time_nanos;
	__int128 s2 = src->time_nanos ? src->time_nanos : s1;
	__int128 e1 = s1 + dst->duration_nanos, e2 = s2 + src->duration_nanos;
	__int128 start = s1 < s2 ? s1 : s2, end = e1 > e2 ? e1 : e2;
	__int128 d = end - start;

	dst->time_nanos = (int64_t)start;
	dst->duration_nanos = d > INT64_MAX ? INT64_MAX : d < 0 ? 0 : (int64_t)d;
}

static int merge_some(struct profile *dst, const struct profile *src,
		      const struct profile_label_filter *filters,
		      size_t nfilters, const char *const *keep_labels,
		      size_t first, size_t end, uint64_t *merged_samples)
{
	/* Per src string: 0 not looked at, 1 a label key kept, 2 dropped. */
	uint8_t *keep = keep_labels ? xcalloc(src->nstrings + 1, 1) : NULL;
	struct merge m = { .dst = dst, .src = src };
	struct merge_filter *mf;
	uint64_t added = 0;

	assert(dst != src);
	if (!merge_types_fit(dst, src))
		return -EINVAL;
	m.strs = xcalloc(src->nstrings, sizeof(*m.strs));
	m.funcs = xcalloc(src->nfunctions, sizeof(*m.funcs));
	m.maps = xcalloc(src->nmappings, sizeof(*m.maps));
	m.locs = xcalloc(src->nlocations, sizeof(*m.locs));
	mf = xcalloc(nfilters, sizeof(*mf));
	for (size_t i = 0; i < nfilters; i++)
		merge_filter_init(&mf[i], src, &filters[i]);
	if (!nfilters && !keep_labels && first == 0 && end == src->nsamples) {
		/* Everything, in src's order: into a new profile, a copy. */
		for (size_t i = 1; i < src->nstrings; i++)
			merge_string(&m, (int64_t)i);
		for (size_t i = 0; i < src->nfunctions; i++)
			merge_function(&m, i + 1);
		for (size_t i = 0; i < src->nmappings; i++)
			merge_mapping(&m, i + 1);
		for (size_t i = 0; i < src->nlocations; i++)
			merge_location(&m, i + 1);
	}
	merge_header(&m);

	for (size_t i = first; i < end; i++) {
		const struct profile_sample *s = &src->samples[i];
		uint32_t nl;

		if (!merge_filters_match(s, mf, nfilters))
			continue;
		ALLOC_GROW(m.stack, s->nlocations, m.stack_alloc);
		ALLOC_GROW(m.labels, s->nlabels, m.labels_alloc);
		for (uint32_t j = 0; j < s->nlocations; j++)
			m.stack[j] = merge_location(&m, s->location_ids[j]);
		nl = 0;
		for (uint32_t j = 0; j < s->nlabels; j++) {
			const struct profile_label *l = &s->labels[j];

			if (keep) {
				int64_t k = l->key;

				if (k < 0 || (size_t)k >= src->nstrings)
					continue;
				if (!keep[k]) {
					keep[k] = 2;
					for (size_t x = 0; keep_labels[x]; x++)
						if (!strcmp(keep_labels[x], src->strings[k]))
							keep[k] = 1;
				}
				if (keep[k] != 1)
					continue;
			}
			m.labels[nl++] = (struct profile_label){
				.key = merge_string(&m, l->key),
				.str = merge_string(&m, l->str),
				.num = l->num,
				.num_unit = merge_string(&m, l->num_unit),
			};
		}
		profile_add_sample(dst, m.stack, s->nlocations, s->values,
				   m.labels, nl);
		added++;
	}
	merge_time(dst, src);

	free(mf);
	free(keep);
	free(m.strs);
	free(m.funcs);
	free(m.maps);
	free(m.locs);
	free(m.lines);
	free(m.stack);
	free(m.labels);
	if (merged_samples)
		*merged_samples = added;
	return 0;
}

int profile_merge(struct profile *dst, const struct profile *src,
		  const struct profile_label_filter *filters, size_t nfilters,
		  uint64_t *merged_samples)
{
	return merge_some(dst, src, filters, nfilters, NULL, 0, src->nsamples,
			  merged_samples);
}

int profile_merge_keep(struct profile *dst, const struct profile *src,
		       const struct profile_label_filter *filters,
		       size_t nfilters, const char *const *keep_labels,
		       uint64_t *merged_samples)
{
	return merge_some(dst, src, filters, nfilters, keep_labels, 0,
			  src->nsamples, merged_samples);
}

int profile_merge_range(struct profile *dst, const struct profile *src,
			size_t first, size_t count)
{
	if (first > src->nsamples || count > src->nsamples - first)
		return -EINVAL;
	return merge_some(dst, src, NULL, 0, NULL, first, first + count, NULL);
}

static int cmp_label_key(const void *a, const void *b, void *arg)
{
	const struct profile *p = arg;
	const struct profile_label *x = a, *y = b;

	return strcmp(profile_str(p, x->key), profile_str(p, y->key));
}

void profile_set_labels(struct profile *p, const char *const *kv, size_t n)
{
	struct profile_sample *old = p->samples;
	size_t nold = p->nsamples;
	struct profile_label *labels = NULL;
	size_t labels_alloc = 0;
	int64_t *keys = xcalloc(n ? n : 1, sizeof(*keys));
	int64_t *vals = xcalloc(n ? n : 1, sizeof(*vals));

	for (size_t i = 0; i < n; i++) {
		keys[i] = profile_string(p, kv[2 * i]);
		vals[i] = profile_string(p, kv[2 * i + 1]);
	}
	/* Re-add every sample: the index hashes labels. */
	p->samples = NULL;
	p->nsamples = p->samples_alloc = 0;
	hmap_release(&p->sample_idx);
	hmap_init(&p->sample_idx);
	for (size_t i = 0; i < nold; i++) {
		const struct profile_sample *s = &old[i];
		size_t m = 0;

		ALLOC_GROW(labels, s->nlabels + n, labels_alloc);
		for (uint32_t j = 0; j < s->nlabels; j++) {
			size_t k = 0;

			while (k < n && keys[k] != s->labels[j].key)
				k++;
			if (k == n)
				labels[m++] = s->labels[j];
		}
		for (size_t k = 0; k < n; k++)
			labels[m++] = (struct profile_label){ .key = keys[k],
							      .str = vals[k] };
		qsort_r(labels, m, sizeof(*labels), cmp_label_key, p);
		profile_add_sample(p, s->location_ids, s->nlocations, s->values,
				   labels, (uint32_t)m);
	}
	free(old);
	free(labels);
	free(keys);
	free(vals);
}

int profile_add_scaled_type(struct profile *p, const char *type,
			    const char *unit, int from, int64_t factor)
{
	int64_t t;

	if (from < 0 || (size_t)from >= p->nsample_types ||
	    profile_sample_type_index(p, type) >= 0)
		return -EINVAL;
	for (size_t i = 0; i < p->nsamples; i++)
		if (__builtin_mul_overflow(p->samples[i].values[from], factor, &t))
			return -ERANGE;
	t = profile_string(p, type);
	p->sample_types = xreallocarray(p->sample_types, p->nsample_types + 1,
					sizeof(*p->sample_types));
	p->sample_types[p->nsample_types].type = t;
	p->sample_types[p->nsample_types].unit = profile_string(p, unit);
	for (size_t i = 0; i < p->nsamples; i++) {
		struct profile_sample *s = &p->samples[i];
		int64_t *v = arena_alloc(&p->arena,
					 (p->nsample_types + 1) * sizeof(*v));

		memcpy(v, s->values, p->nsample_types * sizeof(*v));
		v[p->nsample_types] = s->values[from] * factor;
		s->values = v;
	}
	p->nsample_types++;
	p->default_sample_type = t;
	return 0;
}
