/* SPDX-License-Identifier: MIT */
/* Ingest: series names, times, body decoding; the profile helpers under it;
 * splitting for upload. */
#include <errno.h>

#include "../../formats/folded.h"
#include "../../formats/gz.h"
#include "../../formats/pprof.h"
#include "../../formats/profile.h"
#include "../../web/client.h"
#include "../../web/ingest.h"
#include "harness.h"

#define NOW (1700000000 * (int64_t)1000000000)
#define SEC ((int64_t)1000000000)

static void series_names(void)
{
	struct series s;
	struct format_error err;

	CHECK_EQ(series_parse("app.cpu{env=prod, region = eu}", false, &s, &err), 0);
	CHECK_STR(s.service, "app");
	CHECK_EQ(s.nlabels, 2);
	CHECK_STR(s.keys[0], "env");
	CHECK_STR(s.values[0], "prod");
	CHECK_STR(s.keys[1], "region");
	CHECK_STR(s.values[1], "eu");
	series_release(&s);

	/* Quoted values with escapes and separators inside. */
	CHECK_EQ(series_parse("svc{a=\"x, \\\"y\\\"=z\",b=2}", false, &s, &err), 0);
	CHECK_STR(s.values[0], "x, \"y\"=z");
	CHECK_STR(s.values[1], "2");
	series_release(&s);

	/* Prometheus style: the service among the labels. */
	CHECK_EQ(series_parse("{service_name=\"web\",pod=p1}", false, &s, &err), 0);
	CHECK_STR(s.service, "web");
	CHECK_EQ(s.nlabels, 1);
	series_release(&s);

	/* Dots inside a name stay; only a type suffix goes. */
	CHECK_EQ(series_parse("my.app", false, &s, &err), 0);
	CHECK_STR(s.service, "my.app");
	series_release(&s);
	CHECK_EQ(series_parse("", true, &s, &err), 0);
	CHECK_STR(s.service, "");
	series_release(&s);

	static const char *const bad[] = {
		"", "{}", "x{a=b", "x{a}", "x{a b=c}", "x{1a=b}", "x{a=b,a=c}",
		"x{a=\"unterminated}", "x{a=\"v\"junk}", "x{service_name=y}",
		"a\tb", "x{a=\x01}", "x{a=\xff}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int e = series_parse(bad[i], false, &s, &err);

		CHECK_EQ(e, -EINVAL);
		if (!e) {
			fprintf(stderr, "  accepted: '%s'\n", bad[i]);
			series_release(&s);
		}
	}
}

static void times(void)
{
	int64_t now = 1800000000LL * 1000000000, t;

	CHECK_EQ(ingest_parse_time("1700000000", now, &t), 0);
	CHECK_EQ(t, 1700000000LL * 1000000000);
	CHECK_EQ(ingest_parse_time("1700000000123", now, &t), 0);
	CHECK_EQ(t, 1700000000123LL * 1000000);
	CHECK_EQ(ingest_parse_time("1700000000123456789", now, &t), 0);
	CHECK_EQ(t, 1700000000123456789LL);
	CHECK_EQ(ingest_parse_time("now-1h", now, &t), 0);
	CHECK_EQ(t, now - 3600LL * 1000000000);
	CHECK_EQ(ingest_parse_time("now", now, &t), 0);
	CHECK_EQ(t, now);
	CHECK_EQ(ingest_parse_time("2026-12-02T00:00:00Z", now, &t), 0);
	CHECK_EQ(ingest_parse_time("", now, &t), -EINVAL);
	CHECK_EQ(ingest_parse_time("12abc", now, &t), -EINVAL);
	CHECK_EQ(ingest_parse_time("99999999999999999999999", now, &t), -EINVAL);
}

static void decode_folded(void)
{
	static const char body[] = "main;a;b 3\nmain;c 2\n";
	struct ingest_params q = { .name = "svc{host=h1}", .from = "1000",
				   .until = "1010", .sample_rate = "50" };
	struct ingest_result r;
	struct format_error err;

	CHECK_EQ(ingest_decode(&q, (const uint8_t *)body, sizeof(body) - 1,
			       1 << 20, 0, &r, &err), 0);
	CHECK_STR(r.service, "svc");
	CHECK_EQ(r.start_ns, 1000LL * 1000000000);
	CHECK_EQ(r.end_ns, 1010LL * 1000000000);
	CHECK_EQ(r.p->nsample_types, 2);
	CHECK_EQ(profile_total(r.p, 0), 5);
	/* 50 Hz: 20 ms a sample. */
	CHECK_EQ(profile_total(r.p, 1), 5 * 20000000LL);
	CHECK_EQ(profile_value_index(r.p, -1), 1);
	for (size_t i = 0; i < r.p->nsamples; i++) {
		CHECK_STR(profile_sample_label_str(r.p, &r.p->samples[i], "service_name"),
			  "svc");
		CHECK_STR(profile_sample_label_str(r.p, &r.p->samples[i], "host"), "h1");
	}
	profile_free(r.p);
}

/* A gzip body expanding past the cap is -EFBIG; the same within it works. */
static void decode_caps(void)
{
	size_t n = 200000, gl;
	char *text = malloc(n + 1);
	uint8_t *gz;
	struct ingest_params q = { .name = "x" };
	struct ingest_result r;
	struct format_error err;

	for (size_t i = 0; i < n; i += 10)
		memcpy(text + i, "main;f 1\n\n", 10);
	CHECK_EQ(gz_compress((uint8_t *)text, n, &gz, &gl), 0);
	CHECK_EQ(ingest_decode(&q, gz, gl, 100000, 0, &r, &err), -EFBIG);
	CHECK_EQ(ingest_decode(&q, gz, gl, 1 << 20, 0, &r, &err), 0);
	CHECK_EQ(profile_total(r.p, 0), (long long)n / 10);
	profile_free(r.p);
	/* Truncated: -EINVAL, naming gzip. */
	CHECK_EQ(ingest_decode(&q, gz, gl / 2, 1 << 20, 0, &r, &err), -EINVAL);
	CHECK(strstr(err.msg, "gzip") != NULL);
	free(gz);
	free(text);
}

static void labels_replace_and_merge(void)
{
	struct profile *p = profile_new();
	const char *types[] = { "samples" }, *units[] = { "count" };
	uint64_t f = profile_add_function(p, "f", NULL, NULL, 0);
	struct profile_line line = { .function_id = f };
	uint64_t loc = profile_add_location(p, 0, 0x10, FRAME_USER, &line, 1);
	int64_t v = 2;
	struct profile_label l1[] = { { .key = profile_string(p, "host"),
					.str = profile_string(p, "a") } };
	struct profile_label l2[] = { { .key = profile_string(p, "host"),
					.str = profile_string(p, "b") } };
	const char *kv[] = { "host", "c", "env", "prod" };

	profile_set_sample_types(p, types, units, 1);
	profile_add_sample(p, &loc, 1, &v, l1, 1);
	profile_add_sample(p, &loc, 1, &v, l2, 1);
	CHECK_EQ(p->nsamples, 2);
	/* host=a and host=b both become host=c: one sample of 4. */
	profile_set_labels(p, kv, 2);
	CHECK_EQ(p->nsamples, 1);
	CHECK_EQ(p->samples[0].values[0], 4);
	CHECK_EQ(p->samples[0].nlabels, 2);
	CHECK_STR(profile_sample_label_str(p, &p->samples[0], "host"), "c");
	CHECK_STR(profile_sample_label_str(p, &p->samples[0], "env"), "prod");
	/* Adding a sample with the same labels still merges (the index was
	 * rebuilt). */
	{
		struct profile_label l[2] = {
			{ .key = profile_string(p, "env"), .str = profile_string(p, "prod") },
			{ .key = profile_string(p, "host"), .str = profile_string(p, "c") },
		};

		profile_add_sample(p, &loc, 1, &v, l, 2);
		CHECK_EQ(p->nsamples, 1);
		CHECK_EQ(p->samples[0].values[0], 6);
	}
	CHECK_EQ(profile_add_scaled_type(p, "cpu", "nanoseconds", 0, 10), 0);
	CHECK_EQ(p->samples[0].values[1], 60);
	CHECK_EQ(profile_add_scaled_type(p, "cpu", "nanoseconds", 0, 10), -EINVAL);
	CHECK_EQ(profile_add_scaled_type(p, "x", "y", 7, 10), -EINVAL);
	profile_free(p);
}

/* Splitting keeps every sample once and each part within its limits. */
static void split(void)
{
	struct profile *p = profile_new(), **parts;
	const char *types[] = { "samples" }, *units[] = { "count" };
	size_t n, total = 0;
	int64_t sum = 0;

	profile_set_sample_types(p, types, units, 1);
	for (int i = 0; i < 5000; i++) {
		char name[32];
		struct profile_line line;
		uint64_t loc;
		int64_t v = i + 1;

		snprintf(name, sizeof(name), "func_%d", i);
		line = (struct profile_line){ .function_id =
			profile_add_function(p, name, NULL, "file.c", 0) };
		loc = profile_add_location(p, 0, (uint64_t)i, FRAME_USER, &line, 1);
		profile_add_sample(p, &loc, 1, &v, NULL, 0);
	}
	n = client_split(p, 1200, 0, &parts);
	CHECK_EQ(n, 5);
	for (size_t i = 0; i < n; i++) {
		CHECK(parts[i]->nsamples <= 1200);
		total += parts[i]->nsamples;
		sum += profile_total(parts[i], 0);
		/* Each part holds only the functions its samples use. */
		CHECK_EQ(parts[i]->nfunctions, parts[i]->nsamples);
		profile_free(parts[i]);
	}
	free(parts);
	CHECK_EQ(total, 5000);
	CHECK_EQ(sum, 5000LL * 5001 / 2);
	/* By size: about 20 KB per part. */
	n = client_split(p, 100000, 40000, &parts);
	CHECK(n >= 3);
	total = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *raw;
		size_t len;

		CHECK_EQ(pprof_encode(parts[i], &raw, &len), 0);
		CHECK(len <= 40000);
		free(raw);
		total += parts[i]->nsamples;
		profile_free(parts[i]);
	}
	free(parts);
	CHECK_EQ(total, 5000);
	profile_free(p);
}

static void parses_series(void)
{
	struct format_error err = { "" };
	struct series s;

	CHECK_EQ(series_parse("app.cpu{host=h1, env=\"a \\\"b\\\"\"}", false, &s,
			      &err), 0);
	CHECK_STR(s.service, "app");
	CHECK_EQ(s.nlabels, 2);
	CHECK_STR(s.keys[0], "host");
	CHECK_STR(s.values[0], "h1");
	CHECK_STR(s.values[1], "a \"b\"");
	series_release(&s);
	CHECK_EQ(series_parse("{service_name=\"web\",__name__=cpu}", false, &s,
			      &err), 0);
	CHECK_STR(s.service, "web");
	CHECK_EQ(s.nlabels, 0);
	series_release(&s);
	CHECK_EQ(series_parse("", true, &s, &err), 0);
	CHECK_STR(s.service, "");
	series_release(&s);
	CHECK_EQ(series_parse("", false, &s, &err), -EINVAL);
	CHECK_EQ(series_parse("app{host=h1", false, &s, &err), -EINVAL);
	CHECK_EQ(series_parse("app{h=1,h=2}", false, &s, &err), -EINVAL);
	CHECK_EQ(series_parse("app{9x=1}", false, &s, &err), -EINVAL);
}

static void parses_times(void)
{
	int64_t t;

	CHECK_EQ(ingest_parse_time("1700000000", NOW, &t), 0);
	CHECK_EQ(t, NOW);
	CHECK_EQ(ingest_parse_time("1700000000000", NOW, &t), 0);
	CHECK_EQ(t, NOW);
	CHECK_EQ(ingest_parse_time("1700000000000000", NOW, &t), 0);
	CHECK_EQ(t, NOW);
	CHECK_EQ(ingest_parse_time("1700000000000000000", NOW, &t), 0);
	CHECK_EQ(t, NOW);
	CHECK_EQ(ingest_parse_time("now-1h", NOW, &t), 0);
	CHECK_EQ(t, NOW - 3600 * SEC);
	/* Past INGEST_TIME_MAX, in each unit, and before 1970. */
	CHECK_EQ(ingest_parse_time("9961999990", NOW, &t), -EINVAL);
	CHECK_EQ(ingest_parse_time("9999999999999", NOW, &t), -EINVAL);
	CHECK_EQ(ingest_parse_time("9223372036854775807", NOW, &t), -EINVAL);
	CHECK_EQ(ingest_parse_time("99999999999999999999", NOW, &t), -EINVAL);
	CHECK_EQ(ingest_parse_time("2200-01-01T00:00:00Z", NOW, &t), -EINVAL);
	CHECK_EQ(ingest_parse_time("1969-12-31T23:59:59Z", NOW, &t), -EINVAL);
}

static int decode(const char *name, const char *from, const char *until,
		  const char *format, const void *body, size_t len,
		  struct ingest_result *r)
{
	struct ingest_params q = { .name = name, .from = from, .until = until,
				   .format = format };
	struct format_error err = { "" };
	int e = ingest_decode(&q, body, len, 1 << 20, NOW, r, &err);

	if (e)
		CHECK(err.msg[0] != '\0');
	return e;
}

static void decodes_folded(void)
{
	static const char folded[] = "main;work 3\nmain;idle 1\n";
	struct ingest_result r;
	uint8_t *gz;
	size_t gzlen;

	CHECK_EQ(decode("app", "1699999990", "1700000000", NULL, folded,
			sizeof(folded) - 1, &r), 0);
	CHECK_EQ(r.start_ns, NOW - 10 * SEC);
	CHECK_EQ(r.end_ns, NOW);
	CHECK_EQ(r.p->time_nanos, r.start_ns);
	CHECK_EQ(r.p->duration_nanos, r.end_ns - r.start_ns);
	CHECK_EQ(profile_total(r.p, profile_sample_type_index(r.p, "cpu")),
		 4 * SEC / 100);
	profile_free(r.p);
	/* Gzipped, folded stacks are still folded stacks. */
	CHECK_EQ(gz_compress((const uint8_t *)folded, sizeof(folded) - 1, &gz,
			     &gzlen), 0);
	CHECK_EQ(decode("app", NULL, NULL, "folded", gz, gzlen, &r), 0);
	CHECK(r.p && profile_sample_type_index(r.p, "cpu") >= 0);
	profile_free(r.p);
	CHECK_EQ(decode("app", NULL, NULL, NULL, gz, gzlen, &r), 0);
	CHECK(r.p && profile_sample_type_index(r.p, "cpu") >= 0);
	profile_free(r.p);
	CHECK_EQ(decode("app", NULL, NULL, "pprof", gz, gzlen, &r), -EINVAL);
	CHECK_EQ(decode("app", NULL, NULL, NULL, gz, gzlen / 2, &r), -EINVAL);
	free(gz);
	/* A count whose time in ns does not fit in 64 bits. */
	CHECK_EQ(decode("app", NULL, NULL, NULL, "main 551700000000000\n", 21,
			&r), -EINVAL);
	CHECK_EQ(decode("app", NULL, NULL, NULL, "", 0, &r), -EINVAL);
}

/* Without from and until, a profile's own time range is the window. */
static void takes_the_profiles_time(void)
{
	static const char *const types[] = { "samples", "cpu" };
	static const char *const units[] = { "count", "nanoseconds" };
	struct profile *p = profile_new();
	struct profile_line line = { .line = 1 };
	struct ingest_result r;
	int64_t v[2] = { 1, 10000000 };
	uint64_t loc;
	uint8_t *pb;
	size_t len;

	profile_set_sample_types(p, types, units, 2);
	line.function_id = profile_add_function(p, "main", NULL, NULL, 0);
	loc = profile_add_location(p, 0, 0x1000, FRAME_USER, &line, 1);
	profile_add_sample(p, &loc, 1, v, NULL, 0);
	p->time_nanos = NOW - 600 * SEC;
	p->duration_nanos = 15 * SEC;
	CHECK_EQ(pprof_encode(p, &pb, &len), 0);
	profile_free(p);
	CHECK_EQ(decode("app", NULL, NULL, NULL, pb, len, &r), 0);
	CHECK_EQ(r.start_ns, NOW - 600 * SEC);
	CHECK_EQ(r.end_ns, NOW - 585 * SEC);
	profile_free(r.p);
	/* Given either end, the request's window; the profile says it too. */
	CHECK_EQ(decode("app", NULL, "1700000000", NULL, pb, len, &r), 0);
	CHECK_EQ(r.start_ns, NOW - 10 * SEC);
	CHECK_EQ(r.p->time_nanos, NOW - 10 * SEC);
	CHECK_EQ(r.p->duration_nanos, 10 * SEC);
	profile_free(r.p);
	CHECK_EQ(decode("app", "1700000000", "1700000000", NULL, pb, len, &r), 0);
	CHECK_EQ(r.end_ns, r.start_ns + 1);
	CHECK_EQ(r.p->duration_nanos, 1);
	profile_free(r.p);
	free(pb);
}

int main(void)
{
	RUN(series_names);
	RUN(times);
	RUN(decode_folded);
	RUN(decode_caps);
	RUN(labels_replace_and_merge);
	RUN(split);
	RUN(parses_series);
	RUN(parses_times);
	RUN(decodes_folded);
	RUN(takes_the_profiles_time);
	HARNESS_END();
}
