/* SPDX-License-Identifier: MIT */
#include "speedscope.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hmap.h"
#include "../lib/strbuf.h"
#include "../lib/utf8.h"
#include "../lib/xalloc.h"

/* ---- writing: by hand, streaming; a JSON library would hold the whole
 * document in memory a second time ---- */

/* Frame table: one frame per function, plus one per root label (thread
 * name), indexed densely. */
struct frames {
	uint32_t *by_function; /* function id -> frame index + 1 */
	struct hmap label_idx;
	int64_t *labels; /* string index per label frame */
	uint32_t *label_frame;
	size_t nlabels, labels_alloc;
	uint32_t n;
};

static uint32_t label_frame(struct frames *fr, int64_t str)
{
	size_t pos;

	for (uint32_t i = hmap_first(&fr->label_idx, (uint64_t)str, &pos);
	     i != HMAP_NONE; i = hmap_next(&fr->label_idx, (uint64_t)str, &pos))
		if (fr->labels[i] == str)
			return fr->label_frame[i];
	ALLOC_GROW(fr->labels, fr->nlabels + 1, fr->labels_alloc);
	fr->label_frame = xreallocarray(fr->label_frame, fr->labels_alloc,
					sizeof(*fr->label_frame));
	fr->labels[fr->nlabels] = str;
	fr->label_frame[fr->nlabels] = fr->n++;
	hmap_insert(&fr->label_idx, (uint64_t)str, (uint32_t)fr->nlabels);
	return fr->label_frame[fr->nlabels++];
}

static int64_t root_label(const struct profile *p, const struct profile_sample *s)
{
	for (const char *key = LABEL_THREAD_NAME; key;
	     key = strcmp(key, LABEL_COMM) ? LABEL_COMM : NULL)
		for (uint32_t i = 0; i < s->nlabels; i++)
			if (s->labels[i].str &&
			    !strcmp(profile_str(p, s->labels[i].key), key))
				return s->labels[i].str;
	return 0;
}

static const char *unit_name(const char *unit)
{
	static const char *const known[] = { "nanoseconds", "microseconds",
					     "milliseconds", "seconds", "bytes" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(unit, known[i]))
			return known[i];
	return "none";
}

int speedscope_write(const struct profile *p, const char *name, FILE *f)
{
	struct frames fr = { 0 };
	struct strbuf sb = STRBUF_INIT;
	int active = 0;

	fr.by_function = xcalloc(p->nfunctions + 1, sizeof(*fr.by_function));
	/* Number the frames in first-use order, so output is stable. */
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		int64_t root = root_label(p, s);

		if (root)
			label_frame(&fr, root);
		for (uint32_t j = s->nlocations; j-- > 0;) {
			const struct profile_location *l =
				profile_location(p, s->location_ids[j]);

			for (uint32_t k = l ? l->nlines : 0; k-- > 0;) {
				uint64_t fid = l->lines[k].function_id;

				if (fid <= p->nfunctions && !fr.by_function[fid])
					fr.by_function[fid] = ++fr.n;
			}
		}
	}

	strbuf_adds(&sb, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n");
	strbuf_adds(&sb, "\"shared\":{\"frames\":[\n");
	/* Frames in index order: label frames and function frames are
	 * interleaved by first use; emit by walking both maps. */
	const char **names = xcalloc(fr.n + 1, sizeof(*names));
	const struct profile_function **funcs = xcalloc(fr.n + 1, sizeof(*funcs));

	for (size_t i = 0; i < fr.nlabels; i++)
		names[fr.label_frame[i]] = profile_str(p, fr.labels[i]);
	for (size_t fid = 1; fid <= p->nfunctions; fid++)
		if (fr.by_function[fid]) {
			funcs[fr.by_function[fid] - 1] = profile_function(p, fid);
		}
	for (uint32_t i = 0; i < fr.n; i++) {
		strbuf_adds(&sb, i ? ",\n{\"name\":" : "{\"name\":");
		if (funcs[i]) {
			const char *file = profile_str(p, funcs[i]->filename);

			json_add_str(&sb, profile_str(p, funcs[i]->name));
			if (*file) {
				strbuf_adds(&sb, ",\"file\":");
				json_add_str(&sb, file);
			}
			if (funcs[i]->start_line > 0)
				strbuf_addf(&sb, ",\"line\":%" PRId64,
					    funcs[i]->start_line);
		} else {
			json_add_str(&sb, names[i] ? names[i] : "");
		}
		strbuf_addc(&sb, '}');
		if (sb.len > (1 << 20)) {
			fwrite(sb.buf, 1, sb.len, f);
			strbuf_reset(&sb);
		}
	}
	free(names);
	free(funcs);
	strbuf_adds(&sb, "]},\n\"profiles\":[");

	for (size_t t = 0; t < p->nsample_types; t++) {
		int64_t total = profile_total(p, (int)t);
		bool first = true;

		if (p->sample_types[t].type == p->default_sample_type)
			active = (int)t;
		strbuf_adds(&sb, t ? ",\n{\"type\":\"sampled\",\"name\":" :
				     "\n{\"type\":\"sampled\",\"name\":");
		json_add_str(&sb, profile_str(p, p->sample_types[t].type));
		strbuf_addf(&sb, ",\"unit\":\"%s\",\"startValue\":0,"
			    "\"endValue\":%" PRId64 ",\n\"samples\":[",
			    unit_name(profile_str(p, p->sample_types[t].unit)),
			    total);
		for (size_t i = 0; i < p->nsamples; i++) {
			const struct profile_sample *s = &p->samples[i];
			int64_t root = root_label(p, s);
			bool firstf = true;

			if (!s->values[t])
				continue;
			strbuf_adds(&sb, first ? "[" : ",[");
			first = false;
			if (root) {
				strbuf_addf(&sb, "%u", label_frame(&fr, root));
				firstf = false;
			}
			for (uint32_t j = s->nlocations; j-- > 0;) {
				const struct profile_location *l =
					profile_location(p, s->location_ids[j]);

				for (uint32_t k = l ? l->nlines : 0; k-- > 0;) {
					uint64_t fid = l->lines[k].function_id;

					if (fid > p->nfunctions || !fr.by_function[fid])
						continue;
					strbuf_addf(&sb, firstf ? "%u" : ",%u",
						    fr.by_function[fid] - 1);
					firstf = false;
				}
			}
			strbuf_addc(&sb, ']');
			if (sb.len > (1 << 20)) {
				fwrite(sb.buf, 1, sb.len, f);
				strbuf_reset(&sb);
			}
		}
		strbuf_adds(&sb, "],\n\"weights\":[");
		first = true;
		for (size_t i = 0; i < p->nsamples; i++) {
			if (!p->samples[i].values[t])
				continue;
			strbuf_addf(&sb, first ? "%" PRId64 : ",%" PRId64,
				    p->samples[i].values[t]);
			first = false;
			if (sb.len > (1 << 20)) {
				fwrite(sb.buf, 1, sb.len, f);
				strbuf_reset(&sb);
			}
		}
		strbuf_adds(&sb, "]}");
	}
	strbuf_addf(&sb, "],\n\"name\":");
	json_add_str(&sb, name ? name : "smolder profile");
	strbuf_addf(&sb, ",\"activeProfileIndex\":%d,\"exporter\":\"smolder\"}\n",
		    active);
	fwrite(sb.buf, 1, sb.len, f);
	strbuf_release(&sb);
	free(fr.by_function);
	free(fr.labels);
	free(fr.label_frame);
	hmap_release(&fr.label_idx);
	return ferror(f) ? -EIO : 0;
}

/* ---- reading ---- */

/* A JSON number as an integer in [0, 2^62]; false for anything else (not
 * a number, negative, not finite, too large). */
static bool json_uint(const json_t *v, int64_t *out)
{
	double d;

	if (!json_is_number(v))
		return false;
	d = json_number_value(v);
	if (!(d >= 0 && d <= 4611686018427387904.0))
		return false;
	*out = (int64_t)d;
	return true;
}

static const char *unit_to_type(const char *unit, const char **out_unit)
{
	if (!strcmp(unit, "none")) {
		*out_unit = "count";
		return "samples";
	}
	*out_unit = unit;
	return !strcmp(unit, "bytes") ? "space" : "cpu";
}

int speedscope_read(const char *data, size_t len, struct profile **out,
		    struct format_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(data, len, JSON_DECODE_INT_AS_REAL, &jerr);
	json_t *frames, *profiles, *prof, *samples, *weights, *v;
	uint64_t *locs = NULL, *stack = NULL;
	size_t nframes, idx, stack_alloc = 0, depth = 0;
	const char *unit, *type, *ptype;
	struct profile *p = NULL;
	int e = -EINVAL;

	if (!root) {
		format_error_set(err, "speedscope: invalid JSON at line %d,"
				 " column %d: %s", jerr.line, jerr.column,
				 jerr.text);
		return -EINVAL;
	}
	frames = json_object_get(json_object_get(root, "shared"), "frames");
	profiles = json_object_get(root, "profiles");
	if (!json_is_array(frames) || !json_is_array(profiles) ||
	    !json_array_size(profiles)) {
		format_error_set(err, "speedscope: no shared.frames or profiles"
				 " array");
		goto out;
	}
	v = json_object_get(root, "activeProfileIndex");
	{
		int64_t active = 0;

		idx = json_uint(v, &active) ? (size_t)active : 0;
	}
	prof = json_array_get(profiles, idx < json_array_size(profiles) ? idx : 0);
	ptype = json_string_value(json_object_get(prof, "type"));
	unit = json_string_value(json_object_get(prof, "unit"));
	if (!ptype || !unit) {
		format_error_set(err, "speedscope: the profile has no type or"
				 " unit");
		goto out;
	}

	p = profile_new();
	type = unit_to_type(unit, &unit);
	profile_set_sample_types(p, &type, &unit, 1);
	p->default_sample_type = profile_string(p, type);

	nframes = json_array_size(frames);
	locs = xcalloc(nframes + 1, sizeof(*locs));
	json_array_foreach(frames, idx, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *file = json_string_value(json_object_get(v, "file"));
		int64_t line = 0;
		struct profile_line pl = { 0 };

		json_uint(json_object_get(v, "line"), &line);
		if (!name) {
			format_error_set(err, "speedscope: frame %zu has no name",
					 idx);
			goto out;
		}
		pl.function_id = profile_add_function(p, name, NULL, file, line);
		pl.line = line;
		locs[idx] = profile_add_location(p, 0, 0, FRAME_USER, &pl, 1);
	}

	if (!strcmp(ptype, "sampled")) {
		samples = json_object_get(prof, "samples");
		weights = json_object_get(prof, "weights");
		if (!json_is_array(samples) || (weights && !json_is_array(weights))) {
			format_error_set(err, "speedscope: a sampled profile"
					 " needs a samples array");
			goto out;
		}
		json_array_foreach(samples, idx, v) {
			size_t n = json_array_size(v), j;
			json_t *fi;
			json_t *w = weights ? json_array_get(weights, idx) : NULL;
			int64_t value = 1;

			if (!json_is_array(v) || (weights && !json_uint(w, &value))) {
				format_error_set(err, "speedscope: sample %zu is"
						 " not a list of frames with a"
						 " weight", idx);
				goto out;
			}
			ALLOC_GROW(stack, n + 1, stack_alloc);
			json_array_foreach(v, j, fi) {
				int64_t d;

				if (!json_uint(fi, &d) || (uint64_t)d >= nframes) {
					format_error_set(err, "speedscope: sample"
							 " %zu refers to a frame"
							 " that does not exist", idx);
					goto out;
				}
				stack[n - 1 - j] = locs[(size_t)d]; /* leaf first */
			}
			profile_add_sample(p, stack, (uint32_t)n, &value, NULL, 0);
		}
	} else if (!strcmp(ptype, "evented")) {
		json_t *events = json_object_get(prof, "events");
		int64_t last = 0;

		if (!json_is_array(events)) {
			format_error_set(err, "speedscope: an evented profile"
					 " needs an events array");
			goto out;
		}
		json_array_foreach(events, idx, v) {
			const char *et = json_string_value(json_object_get(v, "type"));
			int64_t a, fd;

			if (!et || !json_uint(json_object_get(v, "at"), &a) ||
			    !json_uint(json_object_get(v, "frame"), &fd) ||
			    (uint64_t)fd >= nframes || a < last) {
				format_error_set(err, "speedscope: event %zu is"
						 " malformed or out of order", idx);
				goto out;
			}
			/* The time since the last event belongs to the stack
			 * that was open meanwhile. */
			if (depth && a > last) {
				int64_t value = a - last;
				uint64_t *leaf_first = xcalloc(depth, sizeof(*leaf_first));

				for (size_t k = 0; k < depth; k++)
					leaf_first[k] = stack[depth - 1 - k];
				profile_add_sample(p, leaf_first, (uint32_t)depth,
						   &value, NULL, 0);
				free(leaf_first);
			}
			last = a;
			if (!strcmp(et, "O")) {
				ALLOC_GROW(stack, depth + 1, stack_alloc);
				stack[depth++] = locs[(size_t)fd];
			} else if (!strcmp(et, "C") && depth) {
				depth--;
			}
		}
	} else {
		format_error_set(err, "speedscope: unknown profile type '%s'",
				 ptype);
		goto out;
	}
	e = 0;
out:
	free(locs);
	free(stack);
	json_decref(root);
	if (e) {
		profile_free(p);
		return e;
	}
	*out = p;
	return 0;
}
