/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "../../formats/folded.h"
#include "../../formats/pprof.h"
#include "../../formats/profile.h"
#include "../../lib/strbuf.h"
#include "../../lib/xalloc.h"
#include "harness.h"

static void interns_strings(void)
{
	struct profile *p = profile_new();

	CHECK_STR(p->strings[0], "");
	CHECK_EQ(profile_string(p, ""), 0);
	int64_t a = profile_string(p, "alpha");

	CHECK(a > 0);
	CHECK_EQ(profile_string(p, "alpha"), a);
	CHECK(profile_string(p, "beta") != a);
	CHECK_STR(profile_str(p, a), "alpha");
	CHECK_STR(profile_str(p, 9999), "");
	CHECK_STR(profile_str(p, -1), "");
	/* Many strings: the index keeps working as it grows. */
	for (int i = 0; i < 5000; i++) {
		char buf[32];

		snprintf(buf, sizeof(buf), "s%d", i);
		CHECK_EQ(profile_string(p, buf), profile_string(p, buf));
	}
	CHECK_EQ(p->nstrings, 5003);
	profile_free(p);
}

static void dedups_functions_locations_mappings(void)
{
	struct profile *p = profile_new();
	uint64_t f1 = profile_add_function(p, "main", NULL, "a.c", 3);
	uint64_t f2 = profile_add_function(p, "main", NULL, "b.c", 3);
	struct profile_mapping m = {
		.memory_start = 0x1000, .memory_limit = 0x2000,
		.filename = profile_string(p, "/bin/x"),
	};
	uint64_t m1 = profile_add_mapping(p, &m), m2;
	struct profile_line l = { .function_id = f1, .line = 7 };

	CHECK_EQ(f1, 1);
	CHECK_EQ(f2, 2);
	CHECK_EQ(profile_add_function(p, "main", NULL, "a.c", 3), f1);
	CHECK_STR(profile_str(p, profile_function(p, f1)->system_name), "main");
	m.has_functions = true;
	m2 = profile_add_mapping(p, &m);
	CHECK_EQ(m1, m2);
	CHECK(profile_mapping(p, m1)->has_functions);
	CHECK(profile_mapping(p, 0) == NULL);
	CHECK(profile_mapping(p, 2) == NULL);

	uint64_t l1 = profile_add_location(p, m1, 0x1234, FRAME_USER, &l, 1);

	CHECK_EQ(profile_add_location(p, m1, 0x1234, FRAME_USER, &l, 1), l1);
	CHECK(profile_add_location(p, m1, 0x1234, FRAME_KERNEL, &l, 1) != l1);
	CHECK(profile_add_location(p, m1, 0x1235, FRAME_USER, &l, 1) != l1);
	CHECK_EQ(profile_location(p, l1)->id, l1);
	CHECK_EQ(profile_location(p, l1)->lines[0].line, 7);
	profile_free(p);
}

/* A small hand-made profile: two threads, kernel and inlined frames. */
static struct profile *sample_profile(void)
{
	static const char *const types[] = { "samples", "cpu" };
	static const char *const units[] = { "count", "nanoseconds" };
	struct profile *p = profile_new();
	int64_t k_comm = profile_string(p, LABEL_COMM);
	int64_t k_thread = profile_string(p, LABEL_THREAD_NAME);
	uint64_t fmain = profile_add_function(p, "main", NULL, NULL, 0);
	uint64_t fwork = profile_add_function(p, "work", NULL, NULL, 0);
	uint64_t finl = profile_add_function(p, "helper;odd\nname", NULL, NULL, 0);
	uint64_t fk = profile_add_function(p, "vfs_write", NULL, NULL, 0);
	struct profile_line lmain = { fmain, 0, 0 };
	struct profile_line lwork[2] = { { finl, 0, 0 }, { fwork, 0, 0 } };
	struct profile_line lk = { fk, 0, 0 };
	uint64_t locmain = profile_add_location(p, 0, 1, FRAME_USER, &lmain, 1);
	uint64_t locwork = profile_add_location(p, 0, 2, FRAME_USER, lwork, 2);
	uint64_t lock = profile_add_location(p, 0, 3, FRAME_KERNEL, &lk, 1);
	uint64_t s1[] = { locwork, locmain };
	uint64_t s2[] = { lock, locwork, locmain };
	struct profile_label la[2] = {
		{ .key = k_comm, .str = profile_string(p, "app") },
		{ .key = k_thread, .str = profile_string(p, "worker") },
	};
	struct profile_label lb[2] = {
		{ .key = k_comm, .str = profile_string(p, "app") },
		{ .key = k_thread, .str = profile_string(p, "app") },
	};
	int64_t v3[2] = { 3, 30 }, v2[2] = { 2, 20 }, v0[2] = { 0, 0 };

	profile_set_sample_types(p, types, units, 2);
	profile_add_sample(p, s1, 2, v3, la, 2);
	profile_add_sample(p, s1, 2, v2, la, 2); /* merges with the first */
	profile_add_sample(p, s2, 3, v2, lb, 2);
	profile_add_sample(p, s1, 2, v2, lb, 2);
	profile_add_sample(p, s2, 3, v0, la, 2); /* zero: not written */
	return p;
}

static void merges_samples(void)
{
	struct profile *p = sample_profile();

	CHECK_EQ(p->nsamples, 4);
	CHECK_EQ(p->samples[0].values[0], 5);
	CHECK_EQ(p->samples[0].values[1], 50);
	CHECK_EQ(profile_total(p, 0), 9);
	CHECK_EQ(profile_total(p, 1), 90);
	CHECK_EQ(profile_sample_type_index(p, "cpu"), 1);
	CHECK_EQ(profile_sample_type_index(p, "nope"), -1);
	CHECK_STR(profile_sample_label_str(p, &p->samples[0], LABEL_THREAD_NAME),
		  "worker");
	CHECK(profile_sample_label_str(p, &p->samples[0], "nope") == NULL);
	profile_free(p);
}

/* Samples without any location (a stack that was not taken) are legal. */
static void takes_empty_samples(void)
{
	static const char *const types[] = { "samples" };
	static const char *const units[] = { "count" };
	struct profile *p = profile_new();
	int64_t one = 1;

	profile_set_sample_types(p, types, units, 1);
	profile_add_sample(p, NULL, 0, &one, NULL, 0);
	profile_add_sample(p, NULL, 0, &one, NULL, 0);
	CHECK_EQ(p->nsamples, 1);
	CHECK_EQ(p->samples[0].values[0], 2);
	profile_free(p);
}

/* A column scaled from another: refused whole when a product overflows. */
static void adds_scaled_types(void)
{
	static const char *const types[] = { "samples" };
	static const char *const units[] = { "count" };
	struct profile *p = profile_new();
	int64_t v = 3, big = INT64_MAX / 1000;
	uint64_t a = 1, b = 2;

	profile_set_sample_types(p, types, units, 1);
	profile_add_sample(p, &a, 1, &v, NULL, 0);
	profile_add_sample(p, &b, 1, &big, NULL, 0);
	CHECK_EQ(profile_add_scaled_type(p, "cpu", "nanoseconds", 0, 10000000),
		 -ERANGE);
	CHECK_EQ(p->nsample_types, 1);
	CHECK_EQ(p->samples[0].values[0], 3);
	CHECK_EQ(profile_add_scaled_type(p, "cpu", "nanoseconds", 0, 1000), 0);
	CHECK_EQ(p->nsample_types, 2);
	CHECK_EQ(p->samples[0].values[1], 3000);
	CHECK_EQ(p->samples[1].values[1], big * 1000);
	CHECK_EQ(profile_add_scaled_type(p, "cpu", "nanoseconds", 0, 1), -EINVAL);
	profile_free(p);
}

/* Values from an upload may be anything: sums stop at the int64 limits. */
static void saturates_sums(void)
{
	static const char *const types[] = { "samples" };
	static const char *const units[] = { "count" };
	struct profile *p = profile_new();
	int64_t max = INT64_MAX, min = INT64_MIN, one = 1;
	uint64_t a = 1, b = 2;

	profile_set_sample_types(p, types, units, 1);
	profile_add_sample(p, &a, 1, &max, NULL, 0);
	profile_add_sample(p, &a, 1, &max, NULL, 0);
	CHECK_EQ(p->samples[0].values[0], INT64_MAX);
	profile_add_sample(p, &b, 1, &one, NULL, 0);
	CHECK_EQ(profile_total(p, 0), INT64_MAX);
	CHECK_EQ(profile_value_add(min, -1), INT64_MIN);
	CHECK_EQ(profile_value_add(min, max), -1);
	CHECK_EQ(profile_value_add(3, -5), -2);
	profile_free(p);
}

static void writes_folded(void)
{
	struct profile *p = sample_profile();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(folded_write(p, 0, f), 0);
	fclose(f);
	CHECK_STR(buf,
		  "app;main;work;helper:odd name_[i] 2\n"
		  "app;main;work;helper:odd name_[i];vfs_write_[k] 2\n"
		  "worker;main;work;helper:odd name_[i] 5\n");
	free(buf);

	f = open_memstream(&buf, &len);
	CHECK_EQ(folded_write(p, 1, f), 0);
	fclose(f);
	CHECK(strstr(buf, "worker;main;work;helper:odd name_[i] 50\n") != NULL);
	free(buf);

	f = open_memstream(&buf, &len);
	CHECK_EQ(folded_write(p, 2, f), -EINVAL);
	fclose(f);
	free(buf);
	profile_free(p);
}

static void sanitizes_frames(void)
{
	struct strbuf sb = STRBUF_INIT;

	folded_add_frame(&sb, "a;b\tc\r\nd");
	CHECK_STR(sb.buf, "a:b c  d");
	strbuf_reset(&sb);
	folded_add_frame(&sb, "");
	CHECK_STR(sb.buf, "[unknown]");
	strbuf_release(&sb);
}


static char *folded_of(const struct profile *p, int vi)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(folded_write(p, vi, f), 0);
	fclose(f);
	return buf;
}

/*
 * A profile of one process: `stacks` are root first, ';'-separated, one
 * sample each with `values[i]` samples and 10x that in cpu; frames are
 * in /bin/<comm>, with pid and tid numeric labels and comm and
 * thread_name string ones. `pad` strings go in first, so that two such
 * profiles number their strings differently.
 */
static struct profile *process_profile(const char *comm, int64_t pid, int pad,
				       const char *const *stacks,
				       const int64_t *values, size_t n)
{
	static const char *const types[] = { "samples", "cpu" };
	static const char *const units[] = { "count", "nanoseconds" };
	struct profile *p = profile_new();
	char path[64];

	for (int i = 0; i < pad; i++) {
		snprintf(path, sizeof(path), "pad%d", i);
		profile_string(p, path);
	}
	snprintf(path, sizeof(path), "/bin/%s", comm);
	struct profile_mapping m = {
		.memory_start = 0x400000, .memory_limit = 0x500000,
		.filename = profile_string(p, path),
		.build_id = profile_string(p, "abcdef"),
		.has_functions = true,
	};
	uint64_t mid = profile_add_mapping(p, &m);
	struct profile_label labels[4] = {
		{ .key = profile_string(p, LABEL_PID), .num = pid },
		{ .key = profile_string(p, LABEL_TID), .num = pid + 1,
		  .num_unit = profile_string(p, "id") },
		{ .key = profile_string(p, LABEL_COMM), .str = profile_string(p, comm) },
		{ .key = profile_string(p, LABEL_THREAD_NAME),
		  .str = profile_string(p, comm) },
	};

	profile_set_sample_types(p, types, units, 2);
	p->period_type.type = profile_string(p, "cpu");
	p->period_type.unit = profile_string(p, "nanoseconds");
	p->period = 10;
	p->default_sample_type = profile_string(p, "cpu");
	for (size_t i = 0; i < n; i++) {
		char *copy = xstrdup(stacks[i]), *save = NULL;
		uint64_t locs[16];
		uint32_t nlocs = 0;

		/* Root first in the text, leaf first in the sample. */
		for (char *f = strtok_r(copy, ";", &save); f && nlocs < 16;
		     f = strtok_r(NULL, ";", &save)) {
			struct profile_line l = {
				profile_add_function(p, f, NULL, "src.c", 1), 7, 0,
			};

			memmove(locs + 1, locs, nlocs * sizeof(*locs));
			locs[0] = profile_add_location(p, mid, 0x400000 + hash_str(f) % 0x1000,
						       FRAME_USER, &l, 1);
			nlocs++;
		}
		int64_t v[2] = { values[i], values[i] * 10 };

		profile_add_sample(p, locs, nlocs, v, labels, 4);
		free(copy);
	}
	return p;
}

static void merges_profiles(void)
{
	static const char *const sa[] = { "main;work;leaf", "main;idle" };
	static const char *const sb[] = { "main;other", "main;work;leaf",
					  "main;work" };
	static const int64_t va[] = { 3, 1 }, vb[] = { 2, 4, 5 };
	struct profile *a = process_profile("app", 10, 0, sa, va, 2);
	struct profile *b = process_profile("app", 10, 7, sb, vb, 3);
	struct profile *dst = profile_new();
	uint64_t n = 99;
	char *out;

	CHECK_EQ(profile_merge(dst, a, NULL, 0, &n), 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(profile_merge(dst, b, NULL, 0, &n), 0);
	CHECK_EQ(n, 3);
	out = folded_of(dst, 0);
	CHECK_STR(out, "app;main;idle 1\n"
		       "app;main;other 2\n"
		       "app;main;work 5\n"
		       "app;main;work;leaf 7\n");
	free(out);
	out = folded_of(dst, 1);
	CHECK(strstr(out, "app;main;work;leaf 70\n") != NULL);
	free(out);
	/* The shared stack is one sample, one set of locations, one mapping. */
	CHECK_EQ(dst->nsamples, 4);
	CHECK_EQ(dst->nlocations, 5);
	CHECK_EQ(dst->nfunctions, 5);
	CHECK_EQ(dst->nmappings, 1);
	CHECK_EQ(profile_total(dst, 0), 15);
	CHECK_EQ(profile_total(dst, 1), 150);
	CHECK_STR(profile_str(dst, dst->mappings[0].build_id), "abcdef");
	CHECK_STR(profile_str(dst, dst->default_sample_type), "cpu");
	CHECK_EQ(dst->period, 10);

	/* Labels keep their kind and units. */
	const struct profile_sample *s = &dst->samples[0];

	CHECK_EQ(s->nlabels, 4);
	CHECK_STR(profile_str(dst, s->labels[0].key), LABEL_PID);
	CHECK_EQ(s->labels[0].str, 0);
	CHECK_EQ(s->labels[0].num, 10);
	CHECK_EQ(s->labels[1].num, 11);
	CHECK_STR(profile_str(dst, s->labels[1].num_unit), "id");
	CHECK_STR(profile_sample_label_str(dst, s, LABEL_COMM), "app");

	/* Again: values add up, nothing else grows. */
	size_t nstrings = dst->nstrings;

	CHECK_EQ(profile_merge(dst, a, NULL, 0, NULL), 0);
	CHECK_EQ(profile_total(dst, 0), 19);
	CHECK_EQ(dst->nsamples, 4);
	CHECK_EQ(dst->nlocations, 5);
	CHECK_EQ(dst->nstrings, nstrings);

	/* Another process: its own mapping, samples apart by labels. */
	struct profile *c = process_profile("db", 20, 3, sa, va, 2);

	CHECK_EQ(profile_merge(dst, c, NULL, 0, &n), 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(dst->nsamples, 6);
	CHECK_EQ(dst->nmappings, 2);
	CHECK_EQ(profile_total(dst, 0), 23);
	profile_free(c);
	profile_free(a);
	profile_free(b);
	profile_free(dst);
}

static bool same_pprof(const struct profile *p, const struct profile *q)
{
	uint8_t *a, *b;
	size_t alen, blen;
	bool same;

	CHECK_EQ(pprof_encode(p, &a, &alen), 0);
	CHECK_EQ(pprof_encode(q, &b, &blen), 0);
	same = alen == blen && !memcmp(a, b, alen);
	free(a);
	free(b);
	return same;
}

static void merge_into_empty_copies(void)
{
	static const char *const sa[] = { "main;work;leaf", "main;idle" };
	static const int64_t va[] = { 3, 1 };
	struct profile *src = process_profile("app", 10, 2, sa, va, 2);
	struct profile *hand = sample_profile(), *dst = profile_new(), *rd = NULL;
	struct format_error err = { "" };
	struct profile_line l = { 0, 0, 0 };
	uint8_t *enc;
	size_t len;
	uint64_t n;

	/* Everything a profile can hold: unused elements, folded frames,
	 * comments, drop/keep frames, a time range. */
	profile_add_function(src, "unused", "_Z6unusedv", "u.c", 9);
	l.function_id = profile_add_function(src, "folded", NULL, NULL, 0);
	src->locations[profile_add_location(src, 0, 0x99, FRAME_KERNEL, &l, 1) - 1]
		.is_folded = true;
	profile_add_comment(src, "smolder record -a");
	src->drop_frames = profile_string(src, "^runtime\\.");
	src->keep_frames = profile_string(src, "^main$");
	src->time_nanos = 1700000000000000000;
	src->duration_nanos = 5000000000;

	CHECK_EQ(profile_merge(dst, src, NULL, 0, &n), 0);
	CHECK_EQ(n, src->nsamples);
	CHECK(same_pprof(dst, src));
	CHECK_EQ(dst->nfunctions, src->nfunctions);
	CHECK_EQ(dst->nlocations, src->nlocations);
	CHECK(dst->locations[src->nlocations - 1].is_folded);
	CHECK_EQ(dst->time_nanos, src->time_nanos);
	CHECK_EQ(dst->duration_nanos, src->duration_nanos);
	profile_free(dst);

	/* The hand-made one, with inlined frames and a zero sample. */
	dst = profile_new();
	CHECK_EQ(profile_merge(dst, hand, NULL, 0, &n), 0);
	CHECK_EQ(n, 4);
	CHECK(same_pprof(dst, hand));
	profile_free(dst);

	/* A profile read back from pprof. */
	CHECK_EQ(pprof_encode(src, &enc, &len), 0);
	CHECK_EQ(pprof_read(enc, len, &rd, &err), 0);
	free(enc);
	dst = profile_new();
	CHECK(rd != NULL);
	if (rd) {
		CHECK_EQ(profile_merge(dst, rd, NULL, 0, NULL), 0);
		CHECK(same_pprof(dst, rd));
		profile_free(rd);
	}
	profile_free(dst);
	profile_free(hand);
	profile_free(src);
}

static void merges_filtered(void)
{
	static const char *const sa[] = { "main;work;leaf", "main;idle" };
	static const char *const sb[] = { "main;other", "main;work" };
	static const int64_t va[] = { 3, 1 }, vb[] = { 2, 5 };
	struct profile *a = process_profile("app", 10, 0, sa, va, 2);
	struct profile *b = process_profile("db", 20, 0, sb, vb, 2);
	struct profile *all = profile_new();
	static const struct {
		struct profile_label_filter f[2];
		size_t n;
		uint64_t want, total;
	} cases[] = {
		{ { { LABEL_COMM, "app" } }, 1, 2, 4 },
		{ { { LABEL_COMM, "db" } }, 1, 2, 7 },
		{ { { LABEL_PID, "20" } }, 1, 2, 7 },
		{ { { LABEL_TID, "11" } }, 1, 2, 4 },
		{ { { LABEL_COMM, "app" }, { LABEL_PID, "10" } }, 2, 2, 4 },
		{ { { LABEL_COMM, "app" }, { LABEL_PID, "20" } }, 2, 0, 0 },
		{ { { LABEL_THREAD_NAME, "db" }, { LABEL_COMM, "db" } }, 2, 2, 7 },
		{ { { LABEL_PID, "020" } }, 1, 0, 0 },
		{ { { LABEL_PID, "20x" } }, 1, 0, 0 },
		{ { { LABEL_PID, "" } }, 1, 0, 0 },
		{ { { LABEL_COMM, "nope" } }, 1, 0, 0 },
		{ { { "nokey", "app" } }, 1, 0, 0 },
		{ { { LABEL_COMM, "10" } }, 1, 0, 0 }, /* "10" is a pid, not a comm */
	};

	CHECK_EQ(profile_merge(all, a, NULL, 0, NULL), 0);
	CHECK_EQ(profile_merge(all, b, NULL, 0, NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct profile *dst = profile_new();
		uint64_t n = 99;

		CHECK_EQ(profile_merge(dst, all, cases[i].f, cases[i].n, &n), 0);
		if (n != cases[i].want)
			fprintf(stderr, "    case %zu\n", i);
		CHECK_EQ(n, cases[i].want);
		CHECK_EQ(profile_total(dst, 0), cases[i].total);
		profile_free(dst);
	}

	/* Only what the chosen samples use comes over. */
	struct profile *dst = profile_new();
	static const struct profile_label_filter pid20 = { LABEL_PID, "20" };
	char *out;

	CHECK_EQ(profile_merge(dst, all, &pid20, 1, NULL), 0);
	out = folded_of(dst, 0);
	CHECK_STR(out, "db;main;other 2\ndb;main;work 5\n");
	free(out);
	CHECK_EQ(dst->nlocations, 3);
	CHECK_EQ(dst->nmappings, 1);
	CHECK_STR(profile_str(dst, dst->mappings[0].filename), "/bin/db");
	CHECK_EQ(profile_string(dst, "leaf"), (int64_t)dst->nstrings - 1);
	profile_free(dst);
	profile_free(all);
	profile_free(a);
	profile_free(b);
}

static void refuses_other_sample_types(void)
{
	static const char *const sa[] = { "main;work" };
	static const int64_t va[] = { 3 };
	static const char *const t1[] = { "samples" }, *const u1[] = { "count" };
	static const char *const t2[] = { "samples", "cpu" };
	static const char *const u2[] = { "count", "microseconds" };
	static const char *const u3[] = { "count", "nanoseconds" };
	struct profile *src = process_profile("app", 10, 0, sa, va, 1);
	struct profile *others[4];
	int64_t one = 1;

	others[0] = profile_new();
	profile_set_sample_types(others[0], t1, u1, 1);
	others[1] = profile_new();
	profile_set_sample_types(others[1], t2, u2, 2);
	others[2] = profile_new();
	profile_set_sample_types(others[2], u3, t2, 2); /* swapped */
	others[3] = profile_new(); /* samples, but no types */
	profile_add_sample(others[3], NULL, 0, &one, NULL, 0);
	for (size_t i = 0; i < ARRAY_SIZE(others); i++) {
		struct profile *dst = others[i];
		uint64_t n = 99;

		if (i < 3)
			profile_add_sample(dst, NULL, 0, (int64_t[]){ 1, 2 }, NULL, 0);
		dst->time_nanos = 5;
		size_t nstrings = dst->nstrings;
		uint8_t *before, *after;
		size_t blen, alen;

		CHECK_EQ(pprof_encode(dst, &before, &blen), 0);
		CHECK_EQ(profile_merge(dst, src, NULL, 0, &n), -EINVAL);
		CHECK_EQ(n, 99);
		CHECK_EQ(dst->nstrings, nstrings);
		CHECK_EQ(dst->nsamples, 1);
		CHECK_EQ(dst->time_nanos, 5);
		CHECK_EQ(pprof_encode(dst, &after, &alen), 0);
		CHECK(alen == blen && !memcmp(before, after, alen));
		free(before);
		free(after);
		profile_free(dst);
	}
	profile_free(src);
}

static void merges_time_ranges(void)
{
	static const struct {
		int64_t t1, d1, t2, d2, t, d;
	} cases[] = {
		{ 100, 50, 120, 100, 100, 120 }, /* overlapping */
		{ 100, 10, 200, 10, 100, 110 },  /* apart */
		{ 300, 10, 100, 10, 100, 210 },  /* src first */
		{ 0, 0, 100, 10, 100, 10 },      /* into a new one */
		{ 100, 10, 0, 30, 100, 30 },     /* src has no start */
		{ 0, 20, 0, 30, 0, 30 },         /* neither has */
		{ INT64_MAX - 5, INT64_MAX, -5, 10, -5, INT64_MAX }, /* nonsense */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct profile *dst = profile_new(), *src = profile_new();

		dst->time_nanos = cases[i].t1;
		dst->duration_nanos = cases[i].d1;
		src->time_nanos = cases[i].t2;
		src->duration_nanos = cases[i].d2;
		CHECK_EQ(profile_merge(dst, src, NULL, 0, NULL), 0);
		CHECK_EQ(dst->time_nanos, cases[i].t);
		CHECK_EQ(dst->duration_nanos, cases[i].d);
		profile_free(dst);
		profile_free(src);
	}
}

int main(void)
{
	RUN(interns_strings);
	RUN(dedups_functions_locations_mappings);
	RUN(merges_samples);
	RUN(takes_empty_samples);
	RUN(adds_scaled_types);
	RUN(saturates_sums);
	RUN(writes_folded);
	RUN(sanitizes_frames);
	RUN(merges_profiles);
	RUN(merge_into_empty_copies);
	RUN(merges_filtered);
	RUN(refuses_other_sample_types);
	RUN(merges_time_ranges);
	HARNESS_END();
}
