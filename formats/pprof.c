/* SPDX-License-Identifier: MIT */
#include "pprof.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hmap.h"
#include "../lib/strbuf.h"
#include "../lib/utf8.h"
#include "../lib/xalloc.h"
#include "gz.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile PbProfile;
typedef Perftools__Profiles__ValueType PbValueType;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Label PbLabel;
typedef Perftools__Profiles__Mapping PbMapping;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Line PbLine;
typedef Perftools__Profiles__Function PbFunction;

/* ---- writing ---- */

/* The output string table: the model's strings made valid UTF-8, without
 * duplicates (repair can make two strings equal), plus any we add. */
struct out_strings {
	char **s;
	size_t n, alloc;
	struct hmap idx;
	int64_t *map; /* model index -> output index */
};

static int64_t out_string(struct out_strings *t, const char *s, size_t len)
{
	uint64_t h = hash_bytes(s, len);
	size_t pos;

	for (uint32_t i = hmap_first(&t->idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&t->idx, h, &pos))
		if (strlen(t->s[i]) == len && !memcmp(t->s[i], s, len))
			return i;
	ALLOC_GROW(t->s, t->n + 1, t->alloc);
	t->s[t->n] = xstrndup(s, len);
	hmap_insert(&t->idx, h, (uint32_t)t->n);
	return (int64_t)t->n++;
}

static void build_strings(struct out_strings *t, const struct profile *p)
{
	struct strbuf sb = STRBUF_INIT;

	t->map = xcalloc(p->nstrings, sizeof(*t->map));
	out_string(t, "", 0);
	for (size_t i = 0; i < p->nstrings; i++) {
		const char *s = p->strings[i];
		size_t len = strlen(s);

		if (utf8_valid(s, len)) {
			t->map[i] = out_string(t, s, len);
		} else {
			strbuf_reset(&sb);
			utf8_repair(&sb, s, len);
			t->map[i] = out_string(t, sb.buf, sb.len);
		}
	}
	strbuf_release(&sb);
}

static void free_strings(struct out_strings *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	free(t->map);
	hmap_release(&t->idx);
}

static int64_t S(const struct out_strings *t, int64_t model_idx)
{
	return model_idx > 0 ? t->map[model_idx] : 0;
}

/* The id of the model's mapping called `name`, or 0. */
static uint64_t mapping_named(const struct profile *p, const char *name)
{
	for (size_t i = 0; i < p->nmappings; i++)
		if (!strcmp(profile_str(p, p->mappings[i].filename), name))
			return p->mappings[i].id;
	return 0;
}

int pprof_encode(const struct profile *p, uint8_t **out, size_t *len)
{
	PbProfile pb = PERFTOOLS__PROFILES__PROFILE__INIT;
	PbValueType period_type = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	struct out_strings st = { 0 };
	uint64_t kernel_map = 0, jit_map = 0;
	size_t nmaps = p->nmappings, nlines = 0, nlabels = 0;
	bool need_kernel = false, need_jit = false;

	build_strings(&st, p);

	/* Kernel and JIT frames without a mapping (from folded input) get
	 * one, so that the kind survives the trip through pprof. */
	for (size_t i = 0; i < p->nlocations; i++) {
		const struct profile_location *l = &p->locations[i];

		nlines += l->nlines;
		if (l->mapping_id)
			continue;
		need_kernel |= l->kind == FRAME_KERNEL;
		need_jit |= l->kind == FRAME_JIT;
	}
	if (need_kernel && !(kernel_map = mapping_named(p, PPROF_KERNEL_MAPPING)))
		kernel_map = ++nmaps;
	if (need_jit && !(jit_map = mapping_named(p, PPROF_JIT_MAPPING)))
		jit_map = ++nmaps;

	PbValueType *vts = xcalloc(p->nsample_types + 1, sizeof(*vts));
	PbValueType **vtp = xcalloc(p->nsample_types + 1, sizeof(*vtp));

	for (size_t i = 0; i < p->nsample_types; i++) {
		perftools__profiles__value_type__init(&vts[i]);
		vts[i].type = S(&st, p->sample_types[i].type);
		vts[i].unit = S(&st, p->sample_types[i].unit);
		vtp[i] = &vts[i];
	}
	pb.n_sample_type = p->nsample_types;
	pb.sample_type = vtp;

	for (size_t i = 0; i < p->nsamples; i++)
		nlabels += p->samples[i].nlabels;
	PbSample *ss = xcalloc(p->nsamples + 1, sizeof(*ss));
	PbSample **ssp = xcalloc(p->nsamples + 1, sizeof(*ssp));
	PbLabel *ls = xcalloc(nlabels + 1, sizeof(*ls));
	PbLabel **lsp = xcalloc(nlabels + 1, sizeof(*lsp));
	size_t li = 0;

	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];

		perftools__profiles__sample__init(&ss[i]);
		ss[i].n_location_id = s->nlocations;
		ss[i].location_id = s->location_ids;
		ss[i].n_value = p->nsample_types;
		ss[i].value = s->values;
		ss[i].n_label = s->nlabels;
		ss[i].label = &lsp[li];
		for (uint32_t j = 0; j < s->nlabels; j++, li++) {
			const struct profile_label *l = &s->labels[j];

			perftools__profiles__label__init(&ls[li]);
			ls[li].key = S(&st, l->key);
			ls[li].str = S(&st, l->str);
			ls[li].num = l->num;
			ls[li].num_unit = S(&st, l->num_unit);
			lsp[li] = &ls[li];
		}
		ssp[i] = &ss[i];
	}
	pb.n_sample = p->nsamples;
	pb.sample = ssp;

	PbMapping *ms = xcalloc(nmaps + 1, sizeof(*ms));
	PbMapping **msp = xcalloc(nmaps + 1, sizeof(*msp));

	for (size_t i = 0; i < nmaps; i++) {
		perftools__profiles__mapping__init(&ms[i]);
		ms[i].id = i + 1;
		msp[i] = &ms[i];
		if (i < p->nmappings) {
			const struct profile_mapping *m = &p->mappings[i];

			ms[i].memory_start = m->memory_start;
			ms[i].memory_limit = m->memory_limit;
			ms[i].file_offset = m->file_offset;
			ms[i].filename = S(&st, m->filename);
			ms[i].build_id = S(&st, m->build_id);
			ms[i].has_functions = m->has_functions;
			ms[i].has_filenames = m->has_filenames;
			ms[i].has_line_numbers = m->has_line_numbers;
			ms[i].has_inline_frames = m->has_inline_frames;
		} else {
			const char *name = i + 1 == kernel_map ? PPROF_KERNEL_MAPPING
							       : PPROF_JIT_MAPPING;

			ms[i].filename = out_string(&st, name, strlen(name));
			ms[i].has_functions = true;
		}
	}
	pb.n_mapping = nmaps;
	pb.mapping = msp;

	PbLocation *locs = xcalloc(p->nlocations + 1, sizeof(*locs));
	PbLocation **locp = xcalloc(p->nlocations + 1, sizeof(*locp));
	PbLine *lines = xcalloc(nlines + 1, sizeof(*lines));
	PbLine **linep = xcalloc(nlines + 1, sizeof(*linep));
	size_t ki = 0;

	for (size_t i = 0; i < p->nlocations; i++) {
		const struct profile_location *l = &p->locations[i];

		perftools__profiles__location__init(&locs[i]);
		locs[i].id = l->id;
		locs[i].mapping_id = l->mapping_id;
		if (!l->mapping_id && l->kind == FRAME_KERNEL)
			locs[i].mapping_id = kernel_map;
		else if (!l->mapping_id && l->kind == FRAME_JIT)
			locs[i].mapping_id = jit_map;
		locs[i].address = l->address;
		locs[i].is_folded = l->is_folded;
		locs[i].n_line = l->nlines;
		locs[i].line = &linep[ki];
		for (uint32_t j = 0; j < l->nlines; j++, ki++) {
			perftools__profiles__line__init(&lines[ki]);
			lines[ki].function_id = l->lines[j].function_id;
			lines[ki].line = l->lines[j].line;
			lines[ki].column = l->lines[j].column;
			linep[ki] = &lines[ki];
		}
		locp[i] = &locs[i];
	}
	pb.n_location = p->nlocations;
	pb.location = locp;

	PbFunction *fs = xcalloc(p->nfunctions + 1, sizeof(*fs));
	PbFunction **fsp = xcalloc(p->nfunctions + 1, sizeof(*fsp));

	for (size_t i = 0; i < p->nfunctions; i++) {
		const struct profile_function *f = &p->functions[i];

		perftools__profiles__function__init(&fs[i]);
		fs[i].id = f->id;
		fs[i].name = S(&st, f->name);
		fs[i].system_name = S(&st, f->system_name);
		fs[i].filename = S(&st, f->filename);
		fs[i].start_line = f->start_line;
		fsp[i] = &fs[i];
	}
	pb.n_function = p->nfunctions;
	pb.function = fsp;

	int64_t *comments = xcalloc(p->ncomments + 1, sizeof(*comments));

	for (size_t i = 0; i < p->ncomments; i++)
		comments[i] = S(&st, p->comments[i]);
	pb.n_comment = p->ncomments;
	pb.comment = comments;

	pb.drop_frames = S(&st, p->drop_frames);
	pb.keep_frames = S(&st, p->keep_frames);
	pb.time_nanos = p->time_nanos;
	pb.duration_nanos = p->duration_nanos;
	if (p->period_type.type || p->period_type.unit) {
		period_type.type = S(&st, p->period_type.type);
		period_type.unit = S(&st, p->period_type.unit);
		pb.period_type = &period_type;
	}
	pb.period = p->period;
	pb.default_sample_type = S(&st, p->default_sample_type);
	/* Last: the synthetic mapping names may have grown the table. */
	pb.n_string_table = st.n;
	pb.string_table = st.s;

	*len = protobuf_c_message_get_packed_size(&pb.base);
	*out = xmalloc(*len ? *len : 1);
	protobuf_c_message_pack(&pb.base, *out);

	free(vts);
	free(vtp);
	free(ss);
	free(ssp);
	free(ls);
	free(lsp);
	free(ms);
	free(msp);
	free(locs);
	free(locp);
	free(lines);
	free(linep);
	free(fs);
	free(fsp);
	free(comments);
	free_strings(&st);
	return 0;
}

int pprof_write(const struct profile *p, FILE *f, bool gzip)
{
	uint8_t *raw, *gz = NULL;
	size_t len, gzlen;
	int err = pprof_encode(p, &raw, &len);

	if (err)
		return err;
	if (gzip) {
		err = gz_compress(raw, len, &gz, &gzlen);
		if (!err && fwrite(gz, 1, gzlen, f) != gzlen)
			err = -EIO;
	} else if (fwrite(raw, 1, len, f) != len) {
		err = -EIO;
	}
	free(raw);
	free(gz);
	return err;
}

/* ---- reading ---- */

struct id_map {
	struct hmap idx;
	uint64_t *from, *to;
	size_t n, alloc;
};

static int id_map_add(struct id_map *m, uint64_t from, uint64_t to)
{
	size_t pos;

	for (uint32_t i = hmap_first(&m->idx, from, &pos); i != HMAP_NONE;
	     i = hmap_next(&m->idx, from, &pos))
		if (m->from[i] == from)
			return -EEXIST;
	ALLOC_GROW(m->from, m->n + 1, m->alloc);
	m->to = xreallocarray(m->to, m->alloc, sizeof(*m->to));
	m->from[m->n] = from;
	m->to[m->n] = to;
	hmap_insert(&m->idx, from, (uint32_t)m->n++);
	return 0;
}

static uint64_t id_map_get(const struct id_map *m, uint64_t from)
{
	size_t pos;

	for (uint32_t i = hmap_first(&m->idx, from, &pos); i != HMAP_NONE;
	     i = hmap_next(&m->idx, from, &pos))
		if (m->from[i] == from)
			return m->to[i];
	return 0;
}

static void id_map_release(struct id_map *m)
{
	free(m->from);
	free(m->to);
	hmap_release(&m->idx);
}

struct reader {
	const PbProfile *pb;
	struct profile *p;
	struct format_error *err;
	int64_t *strmap; /* input string index -> model index */
	struct id_map funcs, maps, locs;
	enum frame_kind *map_kind; /* by model mapping id */
};

/* Model string index for input index `i`, or -1 (error set) when out of
 * range. */
static int64_t in_str(struct reader *r, int64_t i, const char *what,
		      uint64_t id)
{
	if (i < 0 || (size_t)i >= r->pb->n_string_table) {
		format_error_set(r->err, "pprof: %s %llu: string index %lld is"
				 " outside the string table (%zu strings)",
				 what, (unsigned long long)id, (long long)i,
				 r->pb->n_string_table);
		return -1;
	}
	return r->strmap[i];
}

static enum frame_kind kind_of_mapping(const char *name)
{
	if (!strncmp(name, "[kernel", 7) || !strcmp(name, "[vmlinux]") ||
	    !strncmp(name, "/boot/vmlinux", 13))
		return FRAME_KERNEL;
	if (!strcmp(name, PPROF_JIT_MAPPING) || !strncmp(name, "//anon", 6) ||
	    !strncmp(name, "[anon", 5) || strstr(name, "/perf-") ||
	    !strncmp(name, "perf-", 5))
		return FRAME_JIT;
	return FRAME_USER;
}

static int read_strings(struct reader *r)
{
	const PbProfile *pb = r->pb;

	if (!pb->n_string_table || pb->string_table[0][0]) {
		format_error_set(r->err, "pprof: string_table[0] must be the"
				 " empty string");
		return -EINVAL;
	}
	r->strmap = xcalloc(pb->n_string_table, sizeof(*r->strmap));
	for (size_t i = 0; i < pb->n_string_table; i++)
		r->strmap[i] = profile_string(r->p, pb->string_table[i]);
	return 0;
}

static int read_functions(struct reader *r)
{
	for (size_t i = 0; i < r->pb->n_function; i++) {
		const PbFunction *f = r->pb->function[i];
		int64_t name = in_str(r, f->name, "function", f->id);
		int64_t sys = in_str(r, f->system_name, "function", f->id);
		int64_t file = in_str(r, f->filename, "function", f->id);
		uint64_t id;

		if (name < 0 || sys < 0 || file < 0)
			return -EINVAL;
		if (!f->id) {
			format_error_set(r->err, "pprof: function #%zu has id 0", i);
			return -EINVAL;
		}
		id = profile_add_function(r->p, profile_str(r->p, name),
					  profile_str(r->p, sys),
					  profile_str(r->p, file), f->start_line);
		if (id_map_add(&r->funcs, f->id, id)) {
			format_error_set(r->err, "pprof: function id %llu appears"
					 " twice", (unsigned long long)f->id);
			return -EINVAL;
		}
	}
	return 0;
}

static int read_mappings(struct reader *r)
{
	r->map_kind = xcalloc(r->pb->n_mapping + 1, sizeof(*r->map_kind));
	for (size_t i = 0; i < r->pb->n_mapping; i++) {
		const PbMapping *m = r->pb->mapping[i];
		struct profile_mapping pm = {
			.memory_start = m->memory_start,
			.memory_limit = m->memory_limit,
			.file_offset = m->file_offset,
			.filename = in_str(r, m->filename, "mapping", m->id),
			.build_id = in_str(r, m->build_id, "mapping", m->id),
			.has_functions = m->has_functions,
			.has_filenames = m->has_filenames,
			.has_line_numbers = m->has_line_numbers,
			.has_inline_frames = m->has_inline_frames,
		};
		uint64_t id;

		if (pm.filename < 0 || pm.build_id < 0)
			return -EINVAL;
		if (!m->id) {
			format_error_set(r->err, "pprof: mapping #%zu has id 0", i);
			return -EINVAL;
		}
		id = profile_add_mapping(r->p, &pm);
		if (id_map_add(&r->maps, m->id, id)) {
			format_error_set(r->err, "pprof: mapping id %llu appears"
					 " twice", (unsigned long long)m->id);
			return -EINVAL;
		}
		if (id <= r->pb->n_mapping)
			r->map_kind[id] =
				kind_of_mapping(profile_str(r->p, pm.filename));
	}
	return 0;
}

static int read_locations(struct reader *r)
{
	struct profile_line *lines = NULL;
	size_t alloc = 0;
	int err = 0;

	for (size_t i = 0; i < r->pb->n_location && !err; i++) {
		const PbLocation *l = r->pb->location[i];
		enum frame_kind kind = FRAME_USER;
		uint64_t mapping = 0, id;

		if (!l->id) {
			format_error_set(r->err, "pprof: location #%zu has id 0", i);
			err = -EINVAL;
			break;
		}
		if (l->mapping_id) {
			mapping = id_map_get(&r->maps, l->mapping_id);
			if (!mapping) {
				format_error_set(r->err, "pprof: location %llu:"
						 " no mapping with id %llu",
						 (unsigned long long)l->id,
						 (unsigned long long)l->mapping_id);
				err = -EINVAL;
				break;
			}
			kind = r->map_kind[mapping];
		}
		ALLOC_GROW(lines, l->n_line + 1, alloc);
		for (size_t j = 0; j < l->n_line; j++) {
			const PbLine *ln = l->line[j];
			uint64_t f = id_map_get(&r->funcs, ln->function_id);

			if (!f) {
				format_error_set(r->err, "pprof: location %llu:"
						 " no function with id %llu",
						 (unsigned long long)l->id,
						 (unsigned long long)ln->function_id);
				err = -EINVAL;
				break;
			}
			lines[j] = (struct profile_line){ f, ln->line, ln->column };
		}
		if (err)
			break;
		id = profile_add_location(r->p, mapping, l->address, kind, lines,
					  (uint32_t)l->n_line);
		if (l->is_folded)
			r->p->locations[id - 1].is_folded = true;
		if (id_map_add(&r->locs, l->id, id)) {
			format_error_set(r->err, "pprof: location id %llu appears"
					 " twice", (unsigned long long)l->id);
			err = -EINVAL;
		}
	}
	free(lines);
	return err;
}

static int read_samples(struct reader *r)
{
	const PbProfile *pb = r->pb;
	uint64_t *locs = NULL;
	struct profile_label *labels = NULL;
	size_t locs_alloc = 0, labels_alloc = 0;
	int err = 0;

	for (size_t i = 0; i < pb->n_sample && !err; i++) {
		const PbSample *s = pb->sample[i];

		if (s->n_value != pb->n_sample_type) {
			format_error_set(r->err, "pprof: sample #%zu has %zu"
					 " values for %zu sample types", i,
					 s->n_value, pb->n_sample_type);
			err = -EINVAL;
			break;
		}
		ALLOC_GROW(locs, s->n_location_id + 1, locs_alloc);
		ALLOC_GROW(labels, s->n_label + 1, labels_alloc);
		for (size_t j = 0; j < s->n_location_id; j++) {
			locs[j] = id_map_get(&r->locs, s->location_id[j]);
			if (!locs[j]) {
				format_error_set(r->err, "pprof: sample #%zu: no"
						 " location with id %llu", i,
						 (unsigned long long)s->location_id[j]);
				err = -EINVAL;
				break;
			}
		}
		for (size_t j = 0; j < s->n_label && !err; j++) {
			const PbLabel *l = s->label[j];

			labels[j] = (struct profile_label){
				.key = in_str(r, l->key, "sample", i),
				.str = in_str(r, l->str, "sample", i),
				.num = l->num,
				.num_unit = in_str(r, l->num_unit, "sample", i),
			};
			if (labels[j].key < 0 || labels[j].str < 0 ||
			    labels[j].num_unit < 0)
				err = -EINVAL;
		}
		if (err)
			break;
		profile_add_sample(r->p, locs, (uint32_t)s->n_location_id,
				   s->value, labels, (uint32_t)s->n_label);
	}
	free(locs);
	free(labels);
	return err;
}

static int read_header(struct reader *r)
{
	const PbProfile *pb = r->pb;
	const char **types = xcalloc(pb->n_sample_type + 1, sizeof(*types));
	const char **units = xcalloc(pb->n_sample_type + 1, sizeof(*units));
	int err = 0;

	for (size_t i = 0; i < pb->n_sample_type && !err; i++) {
		int64_t t = in_str(r, pb->sample_type[i]->type, "sample type", i);
		int64_t u = in_str(r, pb->sample_type[i]->unit, "sample type", i);

		if (t < 0 || u < 0)
			err = -EINVAL;
		else {
			types[i] = profile_str(r->p, t);
			units[i] = profile_str(r->p, u);
		}
	}
	if (!err)
		profile_set_sample_types(r->p, types, units, pb->n_sample_type);
	free(types);
	free(units);
	if (err)
		return err;

	int64_t drop = in_str(r, pb->drop_frames, "field", 7);
	int64_t keep = in_str(r, pb->keep_frames, "field", 8);
	int64_t def = in_str(r, pb->default_sample_type, "field", 14);

	if (drop < 0 || keep < 0 || def < 0)
		return -EINVAL;
	r->p->drop_frames = drop;
	r->p->keep_frames = keep;
	r->p->default_sample_type = def;
	r->p->time_nanos = pb->time_nanos;
	r->p->duration_nanos = pb->duration_nanos;
	r->p->period = pb->period;
	if (pb->period_type) {
		int64_t t = in_str(r, pb->period_type->type, "period type", 0);
		int64_t u = in_str(r, pb->period_type->unit, "period type", 0);

		if (t < 0 || u < 0)
			return -EINVAL;
		r->p->period_type.type = t;
		r->p->period_type.unit = u;
	}
	for (size_t i = 0; i < pb->n_comment; i++) {
		int64_t c = in_str(r, pb->comment[i], "comment", i);

		if (c < 0)
			return -EINVAL;
		profile_add_comment(r->p, profile_str(r->p, c));
	}
	return 0;
}

int pprof_read(const uint8_t *data, size_t len, struct profile **out,
	       struct format_error *err)
{
	struct reader r = { .err = err };
	uint8_t *raw = NULL;
	size_t rawlen = len, bad_at = 0;
	PbProfile *pb;
	int e;

	if (gz_is_gzip(data, len)) {
		e = gz_decompress(data, len, GZ_MAX_OUTPUT, &raw, &rawlen, &bad_at);
		if (e == -EFBIG) {
			format_error_set(err, "gzip: the data expands past %llu"
					 " MiB", GZ_MAX_OUTPUT >> 20);
			return e;
		}
		if (e) {
			format_error_set(err, "gzip: corrupt or truncated data"
					 " (at byte %zu of %zu)", bad_at, len);
			return e;
		}
		data = raw;
	}
	pb = (PbProfile *)protobuf_c_message_unpack(
		&perftools__profiles__profile__descriptor, NULL, rawlen, data);
	free(raw);
	if (!pb) {
		format_error_set(err, "pprof: not a valid profile protobuf"
				 " (%zu bytes: corrupt, truncated, or another"
				 " format)", rawlen);
		return -EINVAL;
	}
	r.pb = pb;
	r.p = profile_new();
	e = read_strings(&r);
	if (!e)
		e = read_header(&r);
	if (!e)
		e = read_functions(&r);
	if (!e)
		e = read_mappings(&r);
	if (!e)
		e = read_locations(&r);
	if (!e)
		e = read_samples(&r);
	protobuf_c_message_free_unpacked(&pb->base, NULL);
	free(r.strmap);
	free(r.map_kind);
	id_map_release(&r.funcs);
	id_map_release(&r.maps);
	id_map_release(&r.locs);
	if (e) {
		profile_free(r.p);
		return e;
	}
	*out = r.p;
	return 0;
}
