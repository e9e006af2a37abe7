/* SPDX-License-Identifier: MIT */
/*
 * profile: the one in-memory profile model, shaped like pprof's.
 *
 * Every reader produces a `struct profile` and every writer consumes one;
 * nothing else represents a profile. The fields mirror pprof's
 * profile.proto (samples, locations, functions, mappings, labels, string
 * table), with two invariants that make the model cheap to use:
 *
 *  - ids are dense: mappings[i].id == i + 1, likewise for locations and
 *    functions, so an id is an index plus one and 0 means "none";
 *  - strings are interned: strings[0] is "", and each string appears once.
 *
 * Sample location lists are leaf first. A location's lines are innermost
 * first: lines[0] is the code at the address, lines[1..] the functions it
 * was inlined into, outermost last. Each location also records the kind of
 * code it is (user, kernel, JIT, interpreted), which pprof spells through
 * mapping names and the writers carry over.
 *
 * The adders below deduplicate: adding an equal function, mapping or
 * location returns the id of the existing one, and adding a sample whose
 * locations and labels equal an existing sample's adds the values to it.
 */
#ifndef SMOLDER_PROFILE_H
#define SMOLDER_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/arena.h"
#include "../lib/frame.h"
#include "../lib/hmap.h"

/* Well-known label keys on samples. */
#define LABEL_PID "pid"
#define LABEL_TID "tid"
#define LABEL_COMM "comm"               /* process name */
#define LABEL_THREAD_NAME "thread_name" /* thread name; first folded frame */

/* The name given to the idle task (pid 0), on every CPU. */
#define IDLE_TASK_NAME "[idle]"

struct profile_value_type {
	int64_t type; /* string index */
	int64_t unit; /* string index */
};

struct profile_label {
	int64_t key;      /* string index */
	int64_t str;      /* string index; 0 for a numeric label */
	int64_t num;
	int64_t num_unit; /* string index or 0 */
};

struct profile_line {
	uint64_t function_id;
	int64_t line;
	int64_t column;
};

struct profile_location {
	uint64_t id;
	uint64_t mapping_id; /* 0: none */
	uint64_t address;
	struct profile_line *lines; /* innermost first; owned by the arena */
	uint32_t nlines;
	uint8_t kind; /* enum frame_kind */
	bool is_folded;
};

struct profile_function {
	uint64_t id;
	int64_t name;        /* string index: the name people read */
	int64_t system_name; /* string index: the raw (mangled) name */
	int64_t filename;    /* string index */
	int64_t start_line;
};

struct profile_mapping {
	uint64_t id;
	uint64_t memory_start;
	uint64_t memory_limit;
	uint64_t file_offset;
	int64_t filename; /* string index */
	int64_t build_id; /* string index (hex) */
	bool has_functions;
	bool has_filenames;
	bool has_line_numbers;
	bool has_inline_frames;
};

struct profile_sample {
	uint64_t *location_ids; /* leaf first; owned by the arena */
	int64_t *values;        /* nsample_types values; owned by the arena */
	struct profile_label *labels;
	uint32_t nlocations;
	uint32_t nlabels;
};

struct profile {
	struct profile_value_type *sample_types;
	size_t nsample_types;

	struct profile_sample *samples;
	size_t nsamples, samples_alloc;
	struct profile_mapping *mappings;
	size_t nmappings, mappings_alloc;
	struct profile_location *locations;
	size_t nlocations, locations_alloc;
	struct profile_function *functions;
	size_t nfunctions, functions_alloc;
	char **strings; /* strings[0] == "" */
	size_t nstrings, strings_alloc;
	int64_t *comments; /* string indexes */
	size_t ncomments, comments_alloc;

	int64_t drop_frames, keep_frames; /* string indexes */
	int64_t time_nanos;
	int64_t duration_nanos;
	struct profile_value_type period_type;
	int64_t period;
	int64_t default_sample_type; /* string index */

	/* Private: storage and deduplication indexes. */
	struct arena arena;
	struct hmap string_idx, function_idx, mapping_idx, location_idx,
		sample_idx;
};

/* Caller owns the result; free with profile_free(). Never NULL. */
struct profile *profile_new(void);
void profile_free(struct profile *p);

/* Index of `s` in the string table, adding it if new. */
int64_t profile_string(struct profile *p, const char *s);
/* String at index `i`; "" for an index out of range. Borrowed from p. */
const char *profile_str(const struct profile *p, int64_t i);

/* Set the sample types from "type/unit" pairs; only on an empty profile. */
void profile_set_sample_types(struct profile *p, const char *const *types,
			      const char *const *units, size_t n);

/* Adders: return the id of the new or equal existing element. */
uint64_t profile_add_function(struct profile *p, const char *name,
			      const char *system_name, const char *filename,
			      int64_t start_line);
/* `m->id` is ignored; string fields are indexes into p's table. */
uint64_t profile_add_mapping(struct profile *p,
			     const struct profile_mapping *m);
/* `lines` is copied. */
uint64_t profile_add_location(struct profile *p, uint64_t mapping_id,
			      uint64_t address, enum frame_kind kind,
			      const struct profile_line *lines,
			      uint32_t nlines);
/* `locs` (leaf first), `values` (nsample_types) and `labels` are copied.
 * Returns the index of the sample that holds them (new or merged into). */
size_t profile_add_sample(struct profile *p, const uint64_t *locs,
			  uint32_t nlocs, const int64_t *values,
			  const struct profile_label *labels, uint32_t nlabels);
void profile_add_comment(struct profile *p, const char *comment);

/*
 * Set string label key=value on every sample, replacing any label with
 * that key (n pairs in `kv`: key0, value0, key1, ...). Samples that become
 * equal are merged. Labels stay sorted by key string within a sample.
 */
void profile_set_labels(struct profile *p, const char *const *kv, size_t n);

/*
 * Append a sample type (type/unit) whose values are column `from` times
 * `factor`; the new type becomes the default. -EINVAL when `from` is out of
 * range or the type exists already, -ERANGE when a product does not fit in
 * an int64; the profile is unchanged then.
 */
int profile_add_scaled_type(struct profile *p, const char *type,
			    const char *unit, int from, int64_t factor);

/* Element by id, or NULL for 0 or an id out of range. */
const struct profile_location *profile_location(const struct profile *p,
						uint64_t id);
const struct profile_function *profile_function(const struct profile *p,
						uint64_t id);
const struct profile_mapping *profile_mapping(const struct profile *p,
					      uint64_t id);

/* The sample's string label `key`, or NULL. Borrowed from p. */
const char *profile_sample_label_str(const struct profile *p,
				     const struct profile_sample *s,
				     const char *key);
/* a + b held at INT64_MAX or INT64_MIN rather than overflowing: values
 * come from files and uploads and may be anything, and every sum of them
 * (merged samples, totals, a flame graph's nodes) adds this way. */
static inline int64_t profile_value_add(int64_t a, int64_t b)
{
	int64_t s;

	if (__builtin_add_overflow(a, b, &s))
		return a > 0 ? INT64_MAX : INT64_MIN;
	return s;
}

/* Index of the sample type named `type`, or -1. */
int profile_sample_type_index(const struct profile *p, const char *type);
/*
 * The sample type to show: `requested` when it is a valid index (-1 when
 * it is out of range), else the profile's default_sample_type, else, by
 * pprof's rule, the last one; -1 when there is none.
 */
int profile_value_index(const struct profile *p, int requested);
/* Sum of column `idx` over all samples. */
int64_t profile_total(const struct profile *p, int idx);

/*
 * A condition on a sample's labels: one of its labels named `key` has
 * `value`. A string label matches when its text equals `value`, a numeric
 * one (pid, tid) when its decimal text does ("1234", not "01234").
 */
struct profile_label_filter {
	const char *key;
	const char *value;
};

/*
 * Add to `dst` every sample of `src` that matches all `nfilters` filters
 * (every sample when there are none), with all it refers to: locations
 * and their lines, functions, mappings, labels (string and numeric, units
 * included) and values. Elements equal to ones dst has are shared through
 * the adders above, so equal stacks sum. Without filters, every string,
 * function, mapping and location of src comes over, used or not, in src's
 * order, so that merging into a new profile copies src; with filters,
 * only what the matching samples use.
 *
 * A dst without sample types takes src's, with its period type, period
 * and default sample type; otherwise src's sample types must be dst's,
 * the same names and units in the same order, or the call returns
 * -EINVAL and leaves dst unchanged (so does a dst with samples but no
 * sample types, given a src with some). src's comments that dst lacks are
 * added, and its drop_frames and keep_frames where dst has none. dst's
 * time range grows to cover src's: time_nanos becomes the earlier start
 * (0 is no start, and a profile without one is taken to start with the
 * other), duration_nanos reaches the later end.
 *
 * Returns 0, and sets *merged_samples (when not NULL) to how many of
 * src's samples were added. `src` and `filters` are only read, and `src`
 * must not be `dst`. Each of src's strings, functions, mappings and
 * locations is looked up in dst once per call, however many samples use it.
 */
int profile_merge(struct profile *dst, const struct profile *src,
		  const struct profile_label_filter *filters, size_t nfilters,
		  uint64_t *merged_samples);

/* profile_merge, keeping on the merged samples only the labels whose
 * keys are in the NULL-terminated `keep_labels` (none when it is empty):
 * samples that differed only in the others become one. */
int profile_merge_keep(struct profile *dst, const struct profile *src,
		       const struct profile_label_filter *filters,
		       size_t nfilters, const char *const *keep_labels,
		       uint64_t *merged_samples);

/* Merge samples [first, first + count) of src, with only what they use.
 * 0 or -EINVAL (a range out of bounds, or sample types that differ). */
int profile_merge_range(struct profile *dst, const struct profile *src,
			size_t first, size_t count);

#endif
