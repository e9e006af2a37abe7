/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "../../formats/folded.h"
#include "../../formats/profile.h"
#include "../../lib/strbuf.h"
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

int main(void)
{
	RUN(interns_strings);
	RUN(dedups_functions_locations_mappings);
	RUN(merges_samples);
	RUN(takes_empty_samples);
	RUN(writes_folded);
	RUN(sanitizes_frames);
	HARNESS_END();
}
