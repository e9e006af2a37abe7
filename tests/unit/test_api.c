/* SPDX-License-Identifier: MIT */
/*
 * The server's request handling without HTTP: ingest into a store in a
 * temporary directory, then queries; merged sums of buckets of time must
 * equal the window-by-window merge, cached or not, filtered or not.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../../formats/folded.h"
#include "../../formats/formats.h"
#include "../../formats/profile.h"
#include "../../lib/strbuf.h"
#include "../../profiler/store.h"
#include "../../web/api.h"
#include "harness.h"

static const int64_t NOW = 1800000000LL * 1000000000;

static int request(struct api *a, const char *method, const char *path,
		   const struct api_param *params, size_t n, const char *body,
		   struct strbuf *out)
{
	struct api_request req = { .method = method, .path = path,
				   .params = params, .nparams = n,
				   .body = (const uint8_t *)body,
				   .len = body ? strlen(body) : 0,
				   .now_ns = NOW };
	struct api_response r;

	api_handle(a, &req, &r);
	strbuf_reset(out);
	strbuf_add(out, r.body ? (const void *)r.body : (const void *)r.static_body,
		   r.len);
	api_response_release(&r);
	return r.status;
}

/* Folded stacks of window w of host h: pseudo-random, reproducible. */
static void window_body(struct strbuf *sb, int h, int w)
{
	uint32_t x = (uint32_t)(h * 1000 + w) * 2654435761u + 1;

	strbuf_reset(sb);
	for (int i = 0; i < 30; i++) {
		int depth;

		x = x * 1103515245 + 12345;
		depth = 2 + (int)(x >> 28) % 8;
		strbuf_adds(sb, "main");
		for (int d = 0; d < depth; d++) {
			x = x * 1103515245 + 12345;
			strbuf_addf(sb, ";f%u", (x >> 16) % (20 + 15 * d));
		}
		strbuf_addf(sb, " %u\n", 1 + (x >> 8) % 9);
	}
}

/* A server over a new store in a temporary directory (`dir`, a mkdtemp
 * template, gets its name). */
static struct api *open_store(char *dir, size_t max_raw, uint64_t cache)
{
	struct api_opts o = { .store_dir = dir, .max_raw = max_raw,
			      .cache_bytes = cache };
	struct api *a = NULL;

	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ(api_new(&o, &a), 0);
	return a;
}

static void close_store(struct api *a, const char *dir)
{
	char cmd[128];

	api_free(a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ(system(cmd), 0);
}

/* POST /ingest of `body` as series `name` over [from, until) seconds;
 * the status. */
static int ingest(struct api *a, const char *name, int64_t from,
		  int64_t until, const char *body, struct strbuf *out)
{
	char f[32], u[32];
	struct api_param p[] = { { "name", name }, { "from", f }, { "until", u } };

	snprintf(f, sizeof(f), "%lld", (long long)from);
	snprintf(u, sizeof(u), "%lld", (long long)until);
	return request(a, "POST", "/ingest", p, 3, body, out);
}

/* Folded text of the window-by-window merge of every window of the store
 * overlapping [from, until) with service_name=roll (and host, if given). */
static char *reference(const char *dir, int64_t from, int64_t until,
		       const char *host)
{
	struct store *st;
	struct profile *m = profile_new();
	struct profile_label_filter f[2] = { { "service_name", "roll" },
					     { "host", host } };
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	if (store_open(dir, false, &st))
		return NULL;
	for (size_t i = 0; i < store_count(st); i++) {
		const struct store_entry *e = store_get(st, i);
		struct profile *p;
		struct format_error err;

		if (e->end_ns <= from || e->start_ns >= until ||
		    store_read(st, e, &p, &err))
			continue;
		profile_merge(m, p, f, host ? 2 : 1, NULL);
		profile_free(p);
	}
	store_close(st);
	folded_write(m, profile_sample_type_index(m, "samples"), out);
	fclose(out);
	profile_free(m);
	return buf;
}

static void rollups(void)
{
	char dir[] = "/tmp/smolder-test-api.XXXXXX";
	struct api *a = open_store(dir, 1 << 20, 64 << 20);
	struct strbuf body = STRBUF_INIT, out = STRBUF_INIT;
	/* From a 10-minute boundary two hours before NOW. */
	int64_t t0 = (NOW / 1000000000 - 7200) / 600 * 600;
	int ok = 0;

	for (int h = 0; h < 3; h++)
		for (int w = 0; w < 75; w++) {
			char name[32];

			snprintf(name, sizeof(name), "roll{host=h%d}", h);
			window_body(&body, h, w);
			ok += ingest(a, name, t0 + 10 * w, t0 + 10 * w + 10,
				     body.buf, &out) == 200;
		}
	CHECK_EQ(ok, 225);

	/* Ranges: a whole 10 minutes and whole minutes with ragged edges; one
	 * inside a minute; all of it. Each asked twice (the second from the
	 * cache), with and without a host filter. */
	static const int ranges[][2] = { { 0, 690 }, { 25, 735 }, { 130, 155 },
					 { -100, 900 }, { 600, 660 } };
	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++)
		for (int hf = 0; hf < 2; hf++) {
			char from[32], until[32];
			const char *q = hf ? "roll{host=h1}" : "roll";
			struct api_param p[] = { { "query", q }, { "from", from },
						 { "until", until },
						 { "format", "folded" } };
			int64_t f = t0 + ranges[r][0], u = t0 + ranges[r][1];
			char *want;

			snprintf(from, sizeof(from), "%lld", (long long)f);
			snprintf(until, sizeof(until), "%lld", (long long)u);
			want = reference(dir, f * 1000000000, u * 1000000000,
					 hf ? "h1" : NULL);
			CHECK(want && *want);
			for (int again = 0; again < 2; again++) {
				CHECK_EQ(request(a, "GET", "/api/profile", p, 4,
						 NULL, &out), 200);
				CHECK(out.buf && want && !strcmp(out.buf, want));
				if (!out.buf || !want || strcmp(out.buf, want))
					fprintf(stderr, "  range %zu host %d try %d"
						" differs\n", r, hf, again);
			}
			free(want);
		}

	/* A window arriving late in a bucket already summed is counted. */
	{
		struct api_param q[] = { { "query", "roll" }, { "from", "" },
					 { "until", "" }, { "format", "folded" } };
		char qf[32], qu[32];
		char *want;

		snprintf(qf, sizeof(qf), "%lld", (long long)t0);
		snprintf(qu, sizeof(qu), "%lld", (long long)(t0 + 690));
		q[1].value = qf;
		q[2].value = qu;
		CHECK_EQ(ingest(a, "roll{host=h9}", t0 + 5, t0 + 15,
				"main;late 1000\n", &out), 200);
		want = reference(dir, t0 * 1000000000, (t0 + 690) * 1000000000, NULL);
		CHECK_EQ(request(a, "GET", "/api/profile", q, 4, NULL, &out), 200);
		CHECK(out.buf && want && !strcmp(out.buf, want));
		CHECK(out.buf && strstr(out.buf, "main;late 1000"));
		free(want);
	}
	{
		struct api_stats st;

		api_get_stats(a, &st);
		CHECK(st.sums_built > 0);
		CHECK(st.sums_cached > 0);
	}
	close_store(a, dir);
	strbuf_release(&body);
	strbuf_release(&out);
}

/* Requests that must fail, and leave the store as it was. */
static void refusals(void)
{
	char dir[] = "/tmp/smolder-test-api.XXXXXX";
	struct api *a = open_store(dir, 1 << 16, 1 << 20);
	struct strbuf out = STRBUF_INIT;
	struct api_param noname[] = { { "from", "1" } };
	struct api_param bad[] = { { "name", "x{" } };
	struct api_param ok[] = { { "name", "x" } };
	struct api_param win[] = { { "window", "../../etc/passwd" },
				   { "format", "folded" } };

	CHECK_EQ(request(a, "POST", "/ingest", noname, 1, "main;a 1\n", &out), 400);
	CHECK_EQ(request(a, "POST", "/ingest", bad, 1, "main;a 1\n", &out), 400);
	CHECK_EQ(request(a, "POST", "/ingest", ok, 1, "main;a x\n", &out), 400);
	CHECK(out.buf && strstr(out.buf, "line 1"));
	CHECK_EQ(request(a, "GET", "/ingest", ok, 1, NULL, &out), 405);
	CHECK_EQ(request(a, "GET", "/../etc/passwd", NULL, 0, NULL, &out), 404);
	CHECK_EQ(request(a, "GET", "/api/profile", win, 2, NULL, &out), 200);
	CHECK_EQ(out.len, 0);
	CHECK_EQ(request(a, "POST", "/ingest", ok, 1, "main;a 1\n", &out), 200);
	/* Zero counts: taken, not stored. */
	CHECK_EQ(request(a, "POST", "/ingest", ok, 1, "main;b 0\n", &out), 200);
	CHECK(out.buf && strstr(out.buf, "\"window\":null"));
	CHECK_EQ(request(a, "GET", "/api/windows", NULL, 0, NULL, &out), 200);
	CHECK(out.buf && strstr(out.buf, "\"count\":1"));
	close_store(a, dir);
	strbuf_release(&out);
}

/* The warmer sums the last hour before anyone asks. */
static void warmer(void)
{
	char dir[] = "/tmp/smolder-test-api.XXXXXX";
	struct api *a = open_store(dir, 1 << 20, 64 << 20);
	struct strbuf body = STRBUF_INIT, out = STRBUF_INIT;
	struct api_stats st = { 0 };
	int64_t now = (int64_t)time(NULL) / 60 * 60;
	int ok = 0;

	CHECK_EQ(api_start_warmer(a, 1), 0);
	/* 4 minutes of 2 s windows, ending a minute ago. */
	for (int w = 0; w < 120; w++) {
		window_body(&body, 1, w);
		ok += ingest(a, "warm", now - 300 + 2 * w, now - 298 + 2 * w,
			     body.buf, &out) == 200;
	}
	CHECK_EQ(ok, 120);
	for (int i = 0; i < 50 && st.sums_built < 4; i++) {
		usleep(100000);
		api_get_stats(a, &st);
	}
	CHECK(st.sums_built >= 4);
	CHECK_EQ(st.queries, 0);
	close_store(a, dir);
	strbuf_release(&body);
	strbuf_release(&out);
}

int main(void)
{
	RUN(rollups);
	RUN(warmer);
	RUN(refusals);
	HARNESS_END();
}
