/* SPDX-License-Identifier: MIT */
/* Readers and writers: round trips, detection, and bad input. */
#include <errno.h>

#include "../../formats/folded.h"
#include "../../formats/formats.h"
#include "../../formats/gz.h"
#include "../../formats/perfscript.h"
#include "../../formats/pprof.h"
#include "../../formats/speedscope.h"
#include "../../lib/strbuf.h"
#include "../../lib/utf8.h"
#include "harness.h"

static char *to_folded(const struct profile *p, int vi)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(folded_write(p, vi, f), 0);
	fclose(f);
	return buf;
}

static struct profile *from_text(const char *text)
{
	struct format_error err = { "" };
	struct profile *p = NULL;
	int e = profile_read((const uint8_t *)text, strlen(text), &p, &err);

	if (e)
		fprintf(stderr, "    read error: %s\n", err.msg);
	return p;
}

static const char folded_in[] =
	"app;main;work;helper_[i];vfs_write_[k] 2\n"
	"app;main;work;helper_[i] 5\n"
	"# a comment\n"
	"\n"
	"app;main;jitted_[j] 1\n"
	"app;main;work;helper_[i] 3\n";

static void folded_round_trip(void)
{
	struct profile *p = from_text(folded_in);
	char *out;

	CHECK(p != NULL);
	if (!p)
		return;
	out = to_folded(p, 0);
	CHECK_STR(out, "app;main;jitted_[j] 1\n"
		       "app;main;work;helper_[i] 8\n"
		       "app;main;work;helper_[i];vfs_write_[k] 2\n");
	free(out);
	CHECK_EQ(profile_total(p, 0), 11);
	/* helper is inlined into work: one location, two lines. */
	int found = 0;

	for (size_t i = 0; i < p->nlocations; i++)
		if (p->locations[i].nlines == 2)
			found++;
	CHECK_EQ(found, 1);
	profile_free(p);
}

static void folded_errors(void)
{
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "a;b 1\na;b\n", "line 2: no count" },
		{ "a;b x1\n", "line 1: bad count 'x1'" },
		{ "a;b 12x\n", "line 1: bad count '12x'" },
		{ "a;b 99999999999999999999\n", "line 1: bad count" },
		{ "a;b -5\n", "line 1: bad count '-5'" },
		{ "justoneword\n", "line 1: no count" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct format_error err = { "" };
		struct profile *p = NULL;

		CHECK_EQ(folded_read(bad[i].in, strlen(bad[i].in), &p, &err), -EINVAL);
		CHECK(p == NULL);
		if (!strstr(err.msg, bad[i].msg))
			fprintf(stderr, "    got '%s', wanted '%s'\n", err.msg,
				bad[i].msg);
		CHECK(strstr(err.msg, bad[i].msg) != NULL);
	}

	/* Too deep. */
	struct strbuf sb = STRBUF_INIT;
	struct format_error err = { "" };
	struct profile *p = NULL;

	for (int i = 0; i <= FOLDED_MAX_DEPTH; i++)
		strbuf_adds(&sb, i ? ";f" : "f");
	strbuf_adds(&sb, " 1\n");
	CHECK_EQ(folded_read(sb.buf, sb.len, &p, &err), -EINVAL);
	CHECK(strstr(err.msg, "more than 65536 frames") != NULL);
	strbuf_release(&sb);
}

/* A seeded folded input: distinct stacks of all kinds (kernel, JIT,
 * inlined runs), repeated and shuffled, with comments, blank lines and
 * CRLF line ends. */
static void gen_folded(struct strbuf *sb, unsigned seed, int lines)
{
	static const char *const sfx[] = { "", "", "", "_[k]", "_[j]", "_[i]" };
	unsigned x = seed;

	for (int i = 0; i < lines; i++) {
		int stack, depth;

		x = x * 1103515245u + 12345u;
		if (x % 97 == 0) {
			strbuf_adds(sb, (x >> 8) % 2 ? "# a comment\n" : "\n");
			continue;
		}
		stack = (int)((x >> 8) % 300);
		depth = 1 + stack % 40;
		for (int d = 0; d < depth; d++)
			strbuf_addf(sb, "%sf%d%s", d ? ";" : "",
				    (stack * 7 + d * 13) % 50,
				    sfx[(stack + d) % 6]);
		strbuf_addf(sb, " %u%s\n", 1 + (x >> 16) % 100,
			    (x >> 20) % 5 ? "" : "\r");
	}
}

static char *read_parts_pprof(const struct strbuf *in, size_t nparts,
			      size_t *len, struct format_error *err)
{
	struct profile *p = NULL;
	uint8_t *buf = NULL;

	*len = 0;
	if (folded_read_parts(in->buf, in->len, nparts, &p, err))
		return NULL;
	CHECK_EQ(pprof_encode(p, &buf, len), 0);
	profile_free(p);
	return (char *)buf;
}

/* Read in 1 to 8 parts, the profile is the same, byte for byte, and an
 * error names the same line of the whole input. */
static void folded_parts(void)
{
	struct strbuf in = STRBUF_INIT, bad = STRBUF_INIT, deep = STRBUF_INIT;
	struct format_error err1 = { "" };
	size_t len1, at;
	char *one;

	gen_folded(&in, 7, 5000);
	one = read_parts_pprof(&in, 1, &len1, &err1);
	CHECK(one != NULL);
	for (size_t n = 2; n <= 8; n++) {
		struct format_error err = { "" };
		size_t len;
		char *other = read_parts_pprof(&in, n, &len, &err);

		CHECK(other != NULL && len == len1 && !memcmp(one, other, len1));
		free(other);
	}
	free(one);

	/* A bad count on line 4001, late in the input: the same message,
	 * with that line number, whatever part it falls in. */
	at = 0;
	for (int l = 0; l < 4000; l++)
		at = (size_t)(strchr(in.buf + at, '\n') - in.buf) + 1;
	strbuf_add(&bad, in.buf, at);
	strbuf_adds(&bad, "x;y 12z\n");
	strbuf_add(&bad, in.buf + at, in.len - at);
	for (size_t n = 1; n <= 8; n++) {
		struct format_error err = { "" };
		size_t len;

		CHECK(read_parts_pprof(&bad, n, &len, &err) == NULL);
		CHECK_STR(err.msg, "folded: line 4001: bad count '12z' (expected"
				   " a whole number)");
	}

	/* A stack too deep, on the line after the input. */
	strbuf_add(&deep, in.buf, in.len);
	for (int i = 0; i <= FOLDED_MAX_DEPTH; i++)
		strbuf_adds(&deep, i ? ";f" : "f");
	strbuf_adds(&deep, " 1\n");
	for (size_t n = 1; n <= 8; n++) {
		struct format_error err = { "" };
		size_t len;

		CHECK(read_parts_pprof(&deep, n, &len, &err) == NULL);
		CHECK_STR(err.msg, "folded: line 5001: more than 65536 frames");
	}
	strbuf_release(&in);
	strbuf_release(&bad);
	strbuf_release(&deep);
}

/* pprof: write, read back, and compare everything the model holds. */
static void pprof_round_trip(void)
{
	struct profile *p = from_text(folded_in), *q = NULL;
	struct format_error err = { "" };
	uint8_t *buf;
	size_t len;
	char *a, *b;

	CHECK(p != NULL);
	if (!p)
		return;
	p->period = 10101010;
	p->time_nanos = 1700000000000000000;
	p->duration_nanos = 5000000000;
	profile_add_comment(p, "a comment");
	CHECK_EQ(pprof_encode(p, &buf, &len), 0);
	CHECK_EQ(pprof_read(buf, len, &q, &err), 0);
	free(buf);
	CHECK(q != NULL);
	if (!q) {
		profile_free(p);
		return;
	}
	a = to_folded(p, 0);
	b = to_folded(q, 0);
	CHECK_STR(a, b);
	free(a);
	free(b);
	CHECK_EQ(q->period, 10101010);
	CHECK_EQ(q->time_nanos, 1700000000000000000);
	CHECK_EQ(q->duration_nanos, 5000000000);
	CHECK_EQ(q->ncomments, 1);
	CHECK_STR(profile_str(q, q->comments[0]), "a comment");
	/* The kernel and JIT frames got mappings that carry their kind. */
	bool kernel = false, jit = false;

	for (size_t i = 0; i < q->nlocations; i++) {
		const struct profile_mapping *m =
			profile_mapping(q, q->locations[i].mapping_id);

		if (q->locations[i].kind == FRAME_KERNEL)
			kernel = m && !strcmp(profile_str(q, m->filename),
					      PPROF_KERNEL_MAPPING);
		if (q->locations[i].kind == FRAME_JIT)
			jit = m && !strcmp(profile_str(q, m->filename),
					   PPROF_JIT_MAPPING);
	}
	CHECK(kernel);
	CHECK(jit);

	/* Gzipped, through the generic reader. */
	FILE *f;
	char *gzbuf = NULL;
	size_t gzlen = 0;

	f = open_memstream(&gzbuf, &gzlen);
	CHECK_EQ(pprof_write(p, f, true), 0);
	fclose(f);
	CHECK(gz_is_gzip((uint8_t *)gzbuf, gzlen));
	CHECK_EQ(format_detect((uint8_t *)gzbuf, gzlen), FORMAT_PPROF);
	profile_free(q);
	q = NULL;
	CHECK_EQ(profile_read((uint8_t *)gzbuf, gzlen, &q, &err), 0);
	CHECK(q && profile_total(q, 0) == 11);
	profile_free(q);

	/* Truncated: a clear error, never a crash. */
	for (size_t cut = 1; cut < gzlen; cut += gzlen / 13 + 1) {
		q = NULL;
		err.msg[0] = '\0';
		CHECK(profile_read((uint8_t *)gzbuf, cut, &q, &err) < 0);
		CHECK(q == NULL && err.msg[0]);
	}
	free(gzbuf);
	profile_free(p);
}

/* Invalid UTF-8 in names becomes U+FFFD; the string table stays unique. */
static void pprof_sanitizes_strings(void)
{
	static const char *const types[] = { "samples" };
	static const char *const units[] = { "count" };
	struct profile *p = profile_new(), *q = NULL;
	struct format_error err = { "" };
	uint8_t *buf;
	size_t len;
	int64_t one = 1;
	struct profile_line l1 = { profile_add_function(p, "bad\xff", NULL, NULL, 0), 0, 0 };
	struct profile_line l2 = { profile_add_function(p, "bad\xfe", NULL, NULL, 0), 0, 0 };
	uint64_t loc1 = profile_add_location(p, 0, 1, FRAME_USER, &l1, 1);
	uint64_t loc2 = profile_add_location(p, 0, 2, FRAME_USER, &l2, 1);

	profile_set_sample_types(p, types, units, 1);
	profile_add_sample(p, &loc1, 1, &one, NULL, 0);
	profile_add_sample(p, &loc2, 1, &one, NULL, 0);
	CHECK_EQ(pprof_encode(p, &buf, &len), 0);
	CHECK_EQ(pprof_read(buf, len, &q, &err), 0);
	free(buf);
	if (q) {
		size_t repaired = 0;

		for (size_t i = 0; i < q->nstrings; i++) {
			CHECK(utf8_valid(q->strings[i], strlen(q->strings[i])));
			repaired += !strcmp(q->strings[i], "bad\xef\xbf\xbd");
		}
		CHECK_EQ(repaired, 1);
	}
	profile_free(p);
	profile_free(q);
}

static void pprof_rejects_bad_references(void)
{
	struct format_error err = { "" };
	struct profile *q = NULL;
	/* string_table ["", "x"], one sample referring to location 9. */
	static const uint8_t pb[] = {
		0x12, 0x05, 0x0a, 0x01, 0x09, 0x12, 0x00, /* sample: loc 9 */
		0x32, 0x00,                               /* "" */
		0x32, 0x01, 'x',                          /* "x" */
	};
	static const uint8_t pb2[] = {
		0x32, 0x01, 'x', /* string_table[0] = "x" */
	};

	CHECK_EQ(pprof_read(pb, sizeof(pb), &q, &err), -EINVAL);
	if (!strstr(err.msg, "no location with id 9"))
		fprintf(stderr, "    got '%s'\n", err.msg);
	CHECK(strstr(err.msg, "no location with id 9") != NULL);
	CHECK_EQ(pprof_read(pb2, sizeof(pb2), &q, &err), -EINVAL);
	CHECK(strstr(err.msg, "string_table[0]") != NULL);
	CHECK_EQ(pprof_read((const uint8_t *)"\x0a\xff", 2, &q, &err), -EINVAL);
	CHECK(strstr(err.msg, "not a valid profile") != NULL);
}

static const char perf_in[] =
	"ratio  3739/3740  3767.002409:    1001001 cpu-clock:ppp: \n"
	"\t            116b hot_a+0x1b (/work/build/ratio)\n"
	"\t            1225 run_workload+0x55 (/work/build/ratio)\n"
	"\t           2724a [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
	"\n"
	"my prog 12 [001] 3767.003422:    1001001 cpu-clock:ppp: \n"
	"\tffffffff81234567 vfs_write+0x5 ([kernel.kallsyms])\n"
	"\t            7f00 [unknown] ([unknown])\n"
	"\t            7f10 jit_func+0x1 (/tmp/perf-12.map)\n"
	"\n"
	"ratio  3739/3740  3767.004425:    1001001 cpu-clock:ppp: \n"
	"\t            116b hot_a+0x1b (/work/build/ratio)\n"
	"\t            1225 run_workload+0x55 (/work/build/ratio)\n"
	"\t           2724a [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)\n";

static void reads_perf_script(void)
{
	struct profile *p;
	char *out;

	CHECK_EQ(format_detect((const uint8_t *)perf_in, strlen(perf_in)),
		 FORMAT_PERF_SCRIPT);
	p = from_text(perf_in);
	CHECK(p != NULL);
	if (!p)
		return;
	out = to_folded(p, 0);
	CHECK_STR(out, "my prog;jit_func_[j];[unknown];vfs_write_[k] 1\n"
		       "ratio;[libc.so.6];run_workload;hot_a 2\n");
	free(out);
	CHECK_EQ(p->samples[0].labels[0].num, 3739);
	CHECK_EQ(p->samples[0].labels[1].num, 3740);
	profile_free(p);

	struct format_error err = { "" };

	p = NULL;
	CHECK_EQ(perf_script_read("\t  1234 f (x)\n", 13, &p, &err), -EINVAL);
	CHECK(strstr(err.msg, "line 1") != NULL);
}

static void speedscope_round_trip(void)
{
	struct profile *p = from_text(folded_in), *q;
	char *buf = NULL, *a, *b;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(speedscope_write(p, "test \"profile\"", f), 0);
	fclose(f);
	CHECK_EQ(format_detect((uint8_t *)buf, len), FORMAT_SPEEDSCOPE);
	CHECK(strstr(buf, "\"name\":\"test \\\"profile\\\"\"") != NULL);
	q = from_text(buf);
	CHECK(q != NULL);
	if (q) {
		/* Kinds are not part of speedscope's format: compare names. */
		a = to_folded(p, 0);
		b = to_folded(q, 0);
		CHECK_EQ(profile_total(q, 0), 11);
		CHECK(strstr(b, "app;main;work;helper;vfs_write 2\n") != NULL);
		free(a);
		free(b);
	}
	free(buf);
	profile_free(p);
	profile_free(q);

	/* An evented profile. */
	static const char ev[] =
		"{\"shared\":{\"frames\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
		"\"profiles\":[{\"type\":\"evented\",\"unit\":\"nanoseconds\","
		"\"startValue\":0,\"endValue\":30,\"events\":["
		"{\"type\":\"O\",\"frame\":0,\"at\":0},"
		"{\"type\":\"O\",\"frame\":1,\"at\":10},"
		"{\"type\":\"C\",\"frame\":1,\"at\":25},"
		"{\"type\":\"C\",\"frame\":0,\"at\":30}]}]}";

	q = from_text(ev);
	CHECK(q != NULL);
	if (q) {
		a = to_folded(q, 0);
		CHECK_STR(a, "a 15\na;b 15\n");
		free(a);
		profile_free(q);
	}

	struct format_error err = { "" };

	q = NULL;
	CHECK_EQ(speedscope_read("{\"shared\": [1,", 14, &q, &err), -EINVAL);
	CHECK(strstr(err.msg, "invalid JSON at line 1") != NULL);
}

static void detects_formats(void)
{
	CHECK_EQ(format_detect((const uint8_t *)"a;b 1\n", 6), FORMAT_FOLDED);
	CHECK_EQ(format_detect((const uint8_t *)"\n\n# x\na 12\n", 11), FORMAT_FOLDED);
	CHECK_EQ(format_detect((const uint8_t *)"  {\"a\":1}", 9), FORMAT_SPEEDSCOPE);
	CHECK_EQ(format_detect((const uint8_t *)"hello world\n", 12), FORMAT_UNKNOWN);
	CHECK_EQ(format_detect((const uint8_t *)"", 0), FORMAT_UNKNOWN);
	CHECK_EQ(format_detect((const uint8_t *)"\x0a\x02\x08\x01", 4), FORMAT_PPROF);

	struct format_error err = { "" };
	struct profile *p = NULL;

	CHECK_EQ(profile_read((const uint8_t *)"hello world\n", 12, &p, &err), -EINVAL);
	CHECK(strstr(err.msg, "not a profile") != NULL);
	CHECK_EQ(profile_read((const uint8_t *)"", 0, &p, &err), -EINVAL);
	CHECK(strstr(err.msg, "empty") != NULL);
}

static void gzip_limits(void)
{
	uint8_t *zeros = calloc(1, 8 << 20), *gz, *out;
	size_t gzlen, outlen, bad;

	CHECK_EQ(gz_compress(zeros, 8 << 20, &gz, &gzlen), 0);
	CHECK(gzlen < 100000);
	/* A bomb: refused past the cap, whatever the compressed size. */
	CHECK_EQ(gz_decompress(gz, gzlen, 1 << 20, &out, &outlen, &bad), -EFBIG);
	CHECK_EQ(gz_decompress(gz, gzlen, 8 << 20, &out, &outlen, &bad), 0);
	CHECK_EQ(outlen, 8 << 20);
	free(out);
	CHECK_EQ(gz_decompress(gz, gzlen / 2, 8 << 20, &out, &outlen, &bad), -EINVAL);
	free(gz);
	free(zeros);
}

static void utf8_checks(void)
{
	struct strbuf sb = STRBUF_INIT;

	CHECK(utf8_valid("plain", 5));
	CHECK(utf8_valid("\xc3\xa9t\xc3\xa9", 6));
	CHECK(utf8_valid("\xf0\x9f\x94\xa5", 4));
	CHECK(!utf8_valid("\xff", 1));
	CHECK(!utf8_valid("\xc0\xaf", 2));         /* overlong */
	CHECK(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(!utf8_valid("\xe2\x82", 2));         /* truncated */
	utf8_repair(&sb, "a\xffz\xe2\x82", 5);
	CHECK_STR(sb.buf, "a\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd");
	strbuf_release(&sb);
}

int main(void)
{
	RUN(folded_round_trip);
	RUN(folded_errors);
	RUN(folded_parts);
	RUN(pprof_round_trip);
	RUN(pprof_sanitizes_strings);
	RUN(pprof_rejects_bad_references);
	RUN(reads_perf_script);
	RUN(speedscope_round_trip);
	RUN(detects_formats);
	RUN(gzip_limits);
	RUN(utf8_checks);
	HARNESS_END();
}
