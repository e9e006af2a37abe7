/* SPDX-License-Identifier: MIT */
#include "profile.h"

#include <assert.h>
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
				s->values[v] += values[v];
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
		t += p->samples[i].values[idx];
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
