/* SPDX-License-Identifier: MIT */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../formats/flamegraph.h"
#include "../formats/folded.h"
#include "../formats/pprof.h"
#include "../formats/profile.h"
#include "../lib/clock.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/parse.h"
#include "../lib/strbuf.h"
#include "../lib/utf8.h"
#include "../lib/xalloc.h"
#include "../profiler/store.h"
#include "assets.h"
#include "ingest.h"

#define MAX_POINTS 2000
#define DEFAULT_POINTS 120
#define MAX_LIST 10000       /* windows listed */
#define MAX_LABEL_VALUES 1000 /* values of one label listed */
#define RETAIN_EVERY_NS (60 * (int64_t)1000000000)

/* A decoded window, shared by the queries that use it. */
struct cached {
	char *file;
	uint64_t bytes; /* the file's size: a replaced file is another key */
	struct profile *p;
	uint64_t cost;  /* estimate of its memory */
	uint64_t tick;  /* last use */
	unsigned refs;
};

struct api {
	pthread_mutex_t lock;
	char *dir;
	int dirfd;
	struct store *st;
	bool writable;
	struct timespec index_mtime; /* read-only: when to re-read */
	off_t index_size;
	int64_t retention_ns, last_retain_ns;
	uint64_t max_store, max_raw;
	/* cache of decoded windows */
	struct cached *cache;
	size_t ncache, cache_alloc;
	uint64_t cache_bytes, cache_max, tick;
	struct api_stats stats;
	/* the warmer: sums of the last hour made before anyone asks */
	pthread_t warmer;
	bool warmer_started, stopping;
	pthread_cond_t wake;
	uint64_t ingests; /* uploads stored, for the warmer to notice */
	unsigned warm_every_s;
};

/* A copy of a store entry, usable without the lock. */
struct sel_entry {
	char *file;
	int64_t start_ns, end_ns;
	uint64_t bytes, samples;
	char **labels;
	size_t nlabels;
};

struct selection {
	char *text; /* the query as given, or NULL */
	struct series ser;
	struct profile_label_filter filters[INGEST_MAX_LABELS + 1];
	size_t nfilters;
	int64_t from, until;
	const char *window;
};

/* ---- responses ---- */

static void respond(struct api_response *r, int status, const char *type,
		    char *body, size_t len)
{
	r->status = status;
	r->content_type = type;
	r->body = body;
	r->len = len;
}

static void respond_json(struct api_response *r, int status,
			 struct strbuf *sb)
{
	size_t len = sb->len;

	respond(r, status, "application/json", strbuf_detach(sb), len);
}

static void fail(struct api_response *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct api_response *r, int status, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT, msg = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	strbuf_adds(&sb, "{\"error\":");
	json_add_str(&sb, msg.buf ? msg.buf : "");
	strbuf_adds(&sb, "}\n");
	strbuf_release(&msg);
	respond_json(r, status, &sb);
}

void api_response_release(struct api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

/* ---- parameters ---- */

static const char *param(const struct api_request *req, const char *key)
{
	for (size_t i = 0; i < req->nparams; i++)
		if (!strcmp(req->params[i].key, key))
			return req->params[i].value ? req->params[i].value : "";
	return NULL;
}

static const char *param_pfx(const struct api_request *req, const char *pfx,
			     const char *key)
{
	char k[64];

	snprintf(k, sizeof(k), "%s%s", pfx, key);
	return param(req, k);
}

static void selection_release(struct selection *s)
{
	free(s->text);
	series_release(&s->ser);
}

/* The selection given by the keys with prefix `pfx` ("" or "base_"),
 * falling back on `dflt` for what they lack. 0, or -EINVAL with the
 * reason in err. */
static int selection_parse(const struct api_request *req, const char *pfx,
			   const struct selection *dflt, int64_t now,
			   struct selection *s, struct format_error *err)
{
	const char *q = param_pfx(req, pfx, "query");
	const char *from = param_pfx(req, pfx, "from");
	const char *until = param_pfx(req, pfx, "until");
	int e;

	memset(s, 0, sizeof(*s));
	s->window = param_pfx(req, pfx, "window");
	if (!s->window && dflt && !q && !from && !until)
		s->window = dflt->window;
	if (!q && dflt)
		q = dflt->text;
	/* Without a window the default range is the last hour. */
	s->until = dflt ? dflt->until : now;
	if (until && ingest_parse_time(until, now, &s->until)) {
		format_error_set(err, "%suntil: '%.64s' is not a time", pfx, until);
		return -EINVAL;
	}
	s->from = dflt ? dflt->from : s->until - 3600 * (int64_t)1000000000;
	if (from && ingest_parse_time(from, now, &s->from)) {
		format_error_set(err, "%sfrom: '%.64s' is not a time", pfx, from);
		return -EINVAL;
	}
	if (s->from >= s->until) {
		format_error_set(err, "%sfrom is not before %suntil", pfx, pfx);
		return -EINVAL;
	}
	if ((e = series_parse(q ? q : "", true, &s->ser, err)))
		return e;
	s->text = q ? xstrdup(q) : NULL;
	if (*s->ser.service)
		s->filters[s->nfilters++] = (struct profile_label_filter){
			INGEST_SERVICE_LABEL, s->ser.service };
	for (size_t i = 0; i < s->ser.nlabels; i++)
		s->filters[s->nfilters++] = (struct profile_label_filter){
			s->ser.keys[i], s->ser.values[i] };
	return 0;
}

/* ---- sample counts: between 0 and INT64_MAX, which JSON readers such
 * as jansson take, whatever values an upload held ---- */

static uint64_t samples_of(const struct profile *p)
{
	int c = profile_sample_type_index(p, "samples");
	int64_t t = profile_total(p, c >= 0 ? c : profile_value_index(p, -1));

	return t > 0 ? (uint64_t)t : 0;
}

/* a + b, with a <= INT64_MAX, held there. */
static uint64_t samples_add(uint64_t a, uint64_t b)
{
	uint64_t s = a + (b > INT64_MAX ? INT64_MAX : b);

	return s > INT64_MAX ? INT64_MAX : s;
}

/* ---- the store ---- */

/* Read-only: open the store again when its index changed (the agent that
 * owns it wrote a window). Called with the lock held. */
static void refresh(struct api *a)
{
	struct stat sb;
	struct store *st;

	if (a->writable || fstatat(a->dirfd, STORE_INDEX, &sb, 0))
		return;
	if (a->st && sb.st_size == a->index_size &&
	    sb.st_mtim.tv_sec == a->index_mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == a->index_mtime.tv_nsec)
		return;
	if (store_open(a->dir, false, &st))
		return;
	store_close(a->st);
	a->st = st;
	a->index_size = sb.st_size;
	a->index_mtime = sb.st_mtim;
}

static bool entry_wanted(const struct store_entry *e, const struct selection *s)
{
	if (s->window)
		return !strcmp(e->file, s->window);
	if (e->end_ns <= s->from || e->start_ns >= s->until)
		return false;
	for (size_t i = 0; i < s->nfilters; i++)
		if (!store_entry_may_match(e, s->filters[i].key,
					   s->filters[i].value))
			return false;
	return true;
}

static void sel_entries_free(struct sel_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].file);
		for (size_t j = 0; j < v[i].nlabels; j++)
			free(v[i].labels[j]);
		free(v[i].labels);
	}
	free(v);
}

/* Copies of the entries a selection wants, in time order. */
static struct sel_entry *select_entries(struct api *a, const struct selection *s,
					size_t *n)
{
	struct sel_entry *v = NULL;
	size_t alloc = 0;

	*n = 0;
	pthread_mutex_lock(&a->lock);
	refresh(a);
	for (size_t i = 0; a->st && i < store_count(a->st); i++) {
		const struct store_entry *e = store_get(a->st, i);
		struct sel_entry *c;

		if (!entry_wanted(e, s))
			continue;
		ALLOC_GROW(v, *n + 1, alloc);
		c = &v[(*n)++];
		c->file = xstrdup(e->file);
		c->start_ns = e->start_ns;
		c->end_ns = e->end_ns;
		c->bytes = e->bytes;
		c->samples = samples_add(0, e->samples);
		c->nlabels = e->nlabels;
		c->labels = xcalloc(e->nlabels ? e->nlabels : 1, sizeof(char *));
		for (size_t j = 0; j < e->nlabels; j++)
			c->labels[j] = xstrdup(e->labels[j]);
	}
	pthread_mutex_unlock(&a->lock);
	return v;
}

/* ---- the cache of decoded windows ---- */

/* 0: a window; 1: a minute's sum; 2: a 10 minutes' sum. */
static int cache_class(const char *key)
{
	if (key[0] != '\x01')
		return 0;
	return !strncmp(key, "\x01bucket 1 ", 10) ? 1 : 2;
}

static void cache_evict(struct api *a)
{
	while (a->cache_bytes > a->cache_max) {
		size_t victim = SIZE_MAX;

		/* Decoded windows go first, then the minutes' sums (needed
		 * only to build their 10 minutes'), then the 10 minutes',
		 * each class least recently used first. */
		for (int pass = 0; pass < 3 && victim == SIZE_MAX; pass++)
			for (size_t i = 0; i < a->ncache; i++)
				if (!a->cache[i].refs &&
				    cache_class(a->cache[i].file) == pass &&
				    (victim == SIZE_MAX ||
				     a->cache[i].tick < a->cache[victim].tick))
					victim = i;
		if (victim == SIZE_MAX)
			return;
		a->cache_bytes -= a->cache[victim].cost;
		free(a->cache[victim].file);
		profile_free(a->cache[victim].p);
		a->cache[victim] = a->cache[--a->ncache];
	}
}

/* A cached profile under `key` (shared: release with window_put), or
 * NULL. Called with the lock held. */
static struct profile *cache_find(struct api *a, const char *key,
				  uint64_t bytes)
{
	for (size_t i = 0; i < a->ncache; i++) {
		struct cached *c = &a->cache[i];

		if (c->bytes == bytes && !strcmp(c->file, key)) {
			c->refs++;
			c->tick = ++a->tick;
			return c->p;
		}
	}
	return NULL;
}

/* Keep `p` under `key` (taking it) and return the shared copy: `p`, or
 * the one another thread put there meanwhile (then `p` is freed). */
static struct profile *cache_add(struct api *a, const char *key,
				 uint64_t bytes, struct profile *p,
				 uint64_t cost)
{
	struct profile *had;
	struct cached *c;

	pthread_mutex_lock(&a->lock);
	if ((had = cache_find(a, key, bytes))) {
		pthread_mutex_unlock(&a->lock);
		profile_free(p);
		return had;
	}
	ALLOC_GROW(a->cache, a->ncache + 1, a->cache_alloc);
	c = &a->cache[a->ncache++];
	c->file = xstrdup(key);
	c->bytes = bytes;
	c->p = p;
	c->cost = cost;
	c->tick = ++a->tick;
	c->refs = 1;
	a->cache_bytes += c->cost;
	pthread_mutex_unlock(&a->lock);
	return p;
}

/* What a decoded profile takes in memory, about. */
static uint64_t profile_cost(const struct profile *p)
{
	uint64_t c = p->nsamples * (64 + 8 * 24) + p->nlocations * 64 +
		     p->nfunctions * 48 + p->nstrings * 48;

	for (size_t i = 0; i < p->nsamples; i++)
		c += p->samples[i].nlocations * 8 + p->samples[i].nlabels * 32;
	return c;
}

/* The decoded window (release with window_put), or NULL when it cannot
 * be read (gone since it was selected, or damaged). `keep`: cache it; a
 * window read to build a bucket's sum is not needed again. */
static struct profile *window_get(struct api *a, const struct sel_entry *e,
				  bool keep)
{
	struct profile *p = NULL;
	struct format_error err;

	pthread_mutex_lock(&a->lock);
	p = cache_find(a, e->file, e->bytes);
	if (p)
		a->stats.cache_hits++;
	else
		a->stats.cache_misses++;
	pthread_mutex_unlock(&a->lock);
	if (p)
		return p;
	if (store_read_at(a->dirfd, e->file, &p, &err)) {
		log_warn("window '%s': %s", e->file, err.msg);
		pthread_mutex_lock(&a->lock);
		a->stats.windows_unreadable++;
		pthread_mutex_unlock(&a->lock);
		return NULL;
	}
	return keep ? cache_add(a, e->file, e->bytes, p, profile_cost(p)) : p;
}

/* Release a profile from window_get or cache_find (freed when it is not
 * in the cache). */
static void window_put(struct api *a, struct profile *p)
{
	bool cached = false;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->ncache; i++)
		if (a->cache[i].p == p) {
			a->cache[i].refs--;
			cached = true;
			break;
		}
	cache_evict(a);
	pthread_mutex_unlock(&a->lock);
	if (!cached)
		profile_free(p);
}

/* ---- queries ---- */

/*
 * A merged hour is the sum of 360 windows per host, and merging one costs
 * a look-up of each of its locations and functions in the result: seconds
 * for a fleet. So windows are summed once per bucket of time and the sums
 * kept: a bucket of BUCKET0_S (wholly inside the range) is the sum of its
 * BUCKET1_S buckets, which are sums of windows. A bucket's key holds the
 * selection's filters and which windows it holds (names and sizes): a
 * window that arrives late makes another key, never a stale sum. Only
 * the range's ragged edges are merged window by window.
 */
#define BUCKET0_S 600
#define BUCKET1_S 60
#define MIN_ROLLUP 16 /* fewer windows than this: merged one by one */

/* The labels a flame graph or folded output uses (its first frame). */
static const char *const view_labels[] = { LABEL_THREAD_NAME, LABEL_COMM, NULL };

struct merged {
	struct profile *p;
	size_t windows, unreadable, other_types;
	uint64_t samples;
};

struct merge_job {
	struct api *a;
	const struct selection *s;
	const char *const *keep; /* labels kept; NULL: all */
	struct merged *m;
};

/* Merge windows v[0..n) (filtered) into dst; `keep`: cache them. */
static void merge_windows(const struct merge_job *j, struct profile *dst,
			  const struct sel_entry *v, size_t n, bool keep)
{
	const struct selection *s = j->s;

	for (size_t i = 0; i < n; i++) {
		struct profile *w = window_get(j->a, &v[i], keep);

		if (!w) {
			j->m->unreadable++;
			continue;
		}
		if (profile_merge_keep(dst, w, s->window ? NULL : s->filters,
				       s->window ? 0 : s->nfilters, j->keep, NULL))
			j->m->other_types++;
		else
			j->m->windows++;
		window_put(j->a, w);
	}
}

static void merge_bucket(const struct merge_job *j, struct profile *dst,
			 int level, int64_t start, const struct sel_entry *v,
			 size_t n);

/* Merge v[0..n) into dst: runs of windows that fill a whole bucket of
 * the level's size as one bucket, the rest one by one (or, for level 0,
 * through the finer level). */
static void merge_range(const struct merge_job *j, struct profile *dst,
			int level, int64_t from, int64_t until,
			const struct sel_entry *v, size_t n)
{
	int64_t size = (level == 0 ? BUCKET0_S : BUCKET1_S) * (int64_t)1000000000;
	size_t i = 0;

	while (i < n) {
		int64_t b = v[i].start_ns - ((v[i].start_ns % size) + size) % size;
		size_t k = i;

		while (k < n && v[k].start_ns >= b && v[k].start_ns < b + size)
			k++;
		if (b >= from && b + size <= until && k - i >= MIN_ROLLUP)
			merge_bucket(j, dst, level, b, v + i, k - i);
		else if (level == 0)
			merge_range(j, dst, 1, from, until, v + i, k - i);
		else
			merge_windows(j, dst, v + i, k - i, true);
		i = k;
	}
}

static void merge_bucket(const struct merge_job *j, struct profile *dst,
			 int level, int64_t start, const struct sel_entry *v,
			 size_t n)
{
	struct strbuf key = STRBUF_INIT;
	uint64_t h = 0;
	struct profile *sum;

	for (size_t i = 0; i < n; i++)
		h = hash_combine(h, hash_combine(hash_str(v[i].file), v[i].bytes));
	strbuf_addf(&key, "\x01bucket %d %" PRId64 " %zu %016" PRIx64 " %s",
		    level, start, n, h, j->keep ? "view" : "all");
	for (size_t i = 0; i < j->s->nfilters; i++)
		strbuf_addf(&key, " %s=%s", j->s->filters[i].key,
			    j->s->filters[i].value);
	pthread_mutex_lock(&j->a->lock);
	sum = cache_find(j->a, key.buf, 0);
	if (sum)
		j->a->stats.sums_cached++;
	else
		j->a->stats.sums_built++;
	pthread_mutex_unlock(&j->a->lock);
	if (!sum) {
		sum = profile_new();
		if (level == 0)
			merge_range(j, sum, 1, start,
				    start + BUCKET0_S * (int64_t)1000000000, v, n);
		else
			merge_windows(j, sum, v, n, false);
		sum = cache_add(j->a, key.buf, 0, sum, profile_cost(sum));
	} else {
		j->m->windows += n;
	}
	if (sum->nsample_types && profile_merge(dst, sum, NULL, 0, NULL))
		j->m->other_types++;
	window_put(j->a, sum);
	strbuf_release(&key);
}

/* The merged profile of a selection; `all_labels`: keep every label (for
 * pprof), else only what a flame graph draws. */
static void merge_selection(struct api *a, const struct selection *s,
			    bool all_labels, struct merged *m)
{
	struct merge_job j = { a, s, all_labels ? NULL : view_labels, m };
	struct sel_entry *v;
	size_t n;
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	struct api_stats before, after;

	api_get_stats(a, &before);
	memset(m, 0, sizeof(*m));
	m->p = profile_new();
	v = select_entries(a, s, &n);
	if (s->window)
		merge_windows(&j, m->p, v, n, true);
	else
		merge_range(&j, m->p, 0, s->from, s->until, v, n);
	sel_entries_free(v, n);
	if (!m->p->nsample_types) {
		const char *types[] = { "samples", "cpu" };
		const char *units[] = { "count", "nanoseconds" };

		profile_set_sample_types(m->p, types, units, 2);
	}
	m->samples = samples_of(m->p);
	if (!m->p->time_nanos && !s->window) {
		m->p->time_nanos = s->from;
		m->p->duration_nanos = s->until - s->from;
	}
	api_get_stats(a, &after);
	log_debug("merged %zu windows in %.1f ms: %" PRIu64 " sums cached, %"
		  PRIu64 " built, %" PRIu64 " windows decoded, cache %" PRIu64
		  " MB of %" PRIu64, m->windows,
		  (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e6,
		  after.sums_cached - before.sums_cached,
		  after.sums_built - before.sums_built,
		  after.cache_misses - before.cache_misses,
		  a->cache_bytes >> 20, a->cache_max >> 20);
}

static void merged_meta(struct strbuf *sb, const struct merged *m)
{
	strbuf_addf(sb, "\"windows\":%zu,\"unreadable\":%zu,\"otherTypes\":%zu,"
		    "\"samples\":%" PRIu64, m->windows, m->unreadable,
		    m->other_types, m->samples);
}

/* Write a profile in `format` into the response. */
static void respond_profile(struct api_response *r, const struct profile *p,
			    const struct profile *base, const char *format,
			    const struct merged *meta, const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *type = "application/json";
	int err = 0;

	if (!f) {
		fail(r, 500, "out of memory");
		return;
	}
	if (!format || !strcmp(format, "json")) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_adds(&sb, "{");
		merged_meta(&sb, meta);
		strbuf_adds(&sb, ",\"flame\":");
		fwrite(sb.buf, 1, sb.len, f);
		strbuf_release(&sb);
		err = flamegraph_json_write(base, p, -1, f);
		fputs("}\n", f);
	} else if (!strcmp(format, "svg")) {
		struct fg_opts o = { .min_width = -1, .value_index = -1 };

		type = "image/svg+xml";
		err = base ? flamegraph_diff_write(base, p, false, &o, f)
			   : flamegraph_write(p, &o, f);
		snprintf(r->disposition, sizeof(r->disposition),
			 "inline; filename=\"%s.svg\"", name);
	} else if (!strcmp(format, "folded") && !base) {
		type = "text/plain; charset=utf-8";
		/* Counts, as folded files hold (and smolder query writes). */
		int c = profile_sample_type_index(p, "samples");

		err = folded_write(p, c >= 0 ? c : profile_value_index(p, -1), f);
		snprintf(r->disposition, sizeof(r->disposition),
			 "attachment; filename=\"%s.folded\"", name);
	} else if (!strcmp(format, "pprof") && !base) {
		type = "application/octet-stream";
		err = pprof_write(p, f, true);
		snprintf(r->disposition, sizeof(r->disposition),
			 "attachment; filename=\"%s.pb.gz\"", name);
	} else {
		fclose(f);
		free(buf);
		fail(r, 400, "format: '%.32s' is not one of json, svg%s", format,
		     base ? "" : ", folded, pprof");
		return;
	}
	if (fclose(f) || err) {
		free(buf);
		fail(r, 500, "cannot write the profile: %s", strerror(err ? -err : EIO));
		return;
	}
	respond(r, 200, type, buf, len);
}

static int64_t now_of(const struct api_request *req)
{
	return req->now_ns ? req->now_ns : (int64_t)clock_ns(CLOCK_REALTIME);
}

static void get_profile(struct api *a, const struct api_request *req,
			struct api_response *r)
{
	struct selection s;
	struct format_error err;
	struct merged m;

	if (selection_parse(req, "", NULL, now_of(req), &s, &err)) {
		fail(r, 400, "%s", err.msg);
		return;
	}
	{
		const char *f = param(req, "format");

		merge_selection(a, &s, f && !strcmp(f, "pprof"), &m);
	}
	respond_profile(r, m.p, NULL, param(req, "format"), &m,
			*s.ser.service ? s.ser.service : "profile");
	profile_free(m.p);
	selection_release(&s);
}

static void get_diff(struct api *a, const struct api_request *req,
		     struct api_response *r)
{
	struct selection s, b;
	struct format_error err;
	struct merged m, mb;
	int64_t now = now_of(req);

	if (selection_parse(req, "", NULL, now, &s, &err)) {
		fail(r, 400, "%s", err.msg);
		return;
	}
	if (selection_parse(req, "base_", &s, now, &b, &err)) {
		selection_release(&s);
		fail(r, 400, "%s", err.msg);
		return;
	}
	merge_selection(a, &b, false, &mb);
	merge_selection(a, &s, false, &m);
	if (mb.p->nsample_types != m.p->nsample_types)
		fail(r, 400, "the two selections hold different profile types");
	else
		respond_profile(r, m.p, mb.p, param(req, "format"), &m, "diff");
	profile_free(m.p);
	profile_free(mb.p);
	selection_release(&s);
	selection_release(&b);
}

/* The value of label `key` in an entry's sorted "k=v" list, if only one. */
/* The value in an index label "key=value" when its key is `key`, or NULL. */
static const char *label_value(const char *kv, const char *key)
{
	size_t kl = strlen(key);

	return !strncmp(kv, key, kl) && kv[kl] == '=' ? kv + kl + 1 : NULL;
}

static const char *entry_label(const struct sel_entry *e, const char *key,
			       size_t *count)
{
	const char *found = NULL, *v;

	*count = 0;
	for (size_t i = 0; i < e->nlabels; i++)
		if ((v = label_value(e->labels[i], key))) {
			if (!found)
				found = v;
			(*count)++;
		}
	return found;
}

static void get_timeline(struct api *a, const struct api_request *req,
			 struct api_response *r)
{
	struct selection s;
	struct format_error err;
	struct sel_entry *v;
	const char *pts = param(req, "points");
	long npoints = DEFAULT_POINTS;
	int64_t step, *sum;
	struct strbuf sb = STRBUF_INIT;
	size_t n;

	if (pts && parse_long(pts, 1, MAX_POINTS, &npoints)) {
		fail(r, 400, "points: '%.32s' is not 1 to %d", pts, MAX_POINTS);
		return;
	}
	if (selection_parse(req, "", NULL, now_of(req), &s, &err)) {
		fail(r, 400, "%s", err.msg);
		return;
	}
	step = (s.until - s.from + npoints - 1) / npoints;
	if (step < 1000000)
		step = 1000000;
	npoints = (long)((s.until - s.from + step - 1) / step);
	sum = xcalloc((size_t)npoints, sizeof(*sum));
	v = select_entries(a, &s, &n);
	for (size_t i = 0; i < n; i++) {
		int64_t t = v[i].start_ns < s.from ? s.from : v[i].start_ns;
		long b = (long)((t - s.from) / step);
		size_t nsvc;
		uint64_t samples = 0;

		if (b >= npoints)
			b = npoints - 1;
		entry_label(&v[i], INGEST_SERVICE_LABEL, &nsvc);
		/* The index's count is exact when nothing but the service
		 * filters and the window holds one service. */
		if (s.nfilters == 0 ||
		    (s.nfilters == 1 && *s.ser.service && nsvc == 1)) {
			samples = v[i].samples;
		} else {
			struct profile *w = window_get(a, &v[i], true);
			struct profile *tmp;

			if (!w)
				continue;
			tmp = profile_new();
			if (!profile_merge(tmp, w, s.filters, s.nfilters, NULL)) {
				samples = samples_of(tmp);
			}
			profile_free(tmp);
			window_put(a, w);
		}
		sum[b] = (int64_t)samples_add((uint64_t)sum[b], samples);
	}
	sel_entries_free(v, n);
	strbuf_addf(&sb, "{\"fromMs\":%" PRId64 ",\"stepMs\":%.3f,\"samples\":[",
		    s.from / 1000000, (double)step / 1e6);
	for (long i = 0; i < npoints; i++)
		strbuf_addf(&sb, "%s%" PRId64, i ? "," : "", sum[i]);
	strbuf_adds(&sb, "]}\n");
	free(sum);
	selection_release(&s);
	respond_json(r, 200, &sb);
}

struct count {
	char *name;
	uint64_t windows, samples;
	int64_t last_ns;
};

static int cmp_count(const void *x, const void *y)
{
	return strcmp(((const struct count *)x)->name,
		      ((const struct count *)y)->name);
}

static struct count *count_add(struct count **v, size_t *n, size_t *alloc,
			       const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].name, name))
			return &(*v)[i];
	ALLOC_GROW(*v, *n + 1, *alloc);
	(*v)[*n] = (struct count){ .name = xstrdup(name) };
	return &(*v)[(*n)++];
}

static void get_services(struct api *a, const struct api_request *req,
			 struct api_response *r)
{
	struct selection s;
	struct format_error err;
	struct sel_entry *v;
	struct count *c = NULL;
	size_t n, nc = 0, ca = 0;
	struct strbuf sb = STRBUF_INIT;

	if (selection_parse(req, "", NULL, now_of(req), &s, &err)) {
		fail(r, 400, "%s", err.msg);
		return;
	}
	v = select_entries(a, &s, &n);
	for (size_t i = 0; i < n; i++) {
		size_t any = 0;

		/* Each service the window holds; "" when it names none. */
		for (size_t j = 0; j <= v[i].nlabels; j++) {
			const char *svc = j < v[i].nlabels
				? label_value(v[i].labels[j], INGEST_SERVICE_LABEL)
				: any ? NULL : "";
			struct count *e;

			if (!svc)
				continue;
			e = count_add(&c, &nc, &ca, svc);
			e->windows++;
			e->samples = samples_add(e->samples, v[i].samples);
			if (v[i].end_ns > e->last_ns)
				e->last_ns = v[i].end_ns;
			any++;
		}
	}
	sel_entries_free(v, n);
	if (nc)
		qsort(c, nc, sizeof(*c), cmp_count);
	strbuf_adds(&sb, "{\"services\":[");
	for (size_t i = 0; i < nc; i++) {
		strbuf_adds(&sb, i ? ",{\"name\":" : "{\"name\":");
		json_add_str(&sb, c[i].name);
		strbuf_addf(&sb, ",\"windows\":%" PRIu64 ",\"samples\":%" PRIu64
			    ",\"lastMs\":%" PRId64 "}", c[i].windows, c[i].samples,
			    c[i].last_ns / 1000000);
		free(c[i].name);
	}
	strbuf_adds(&sb, "]}\n");
	free(c);
	selection_release(&s);
	respond_json(r, 200, &sb);
}

static int cmp_strp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void get_labels(struct api *a, const struct api_request *req,
		       struct api_response *r)
{
	struct selection s;
	struct format_error err;
	struct sel_entry *v;
	char **all = NULL;
	size_t n, nall = 0, alloc = 0, values = 0;
	struct strbuf sb = STRBUF_INIT;
	const char *prev_key = NULL;
	size_t prev_len = 0;

	if (selection_parse(req, "", NULL, now_of(req), &s, &err)) {
		fail(r, 400, "%s", err.msg);
		return;
	}
	v = select_entries(a, &s, &n);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < v[i].nlabels; j++) {
			ALLOC_GROW(all, nall + 1, alloc);
			all[nall++] = v[i].labels[j];
		}
	if (nall)
		qsort(all, nall, sizeof(*all), cmp_strp);
	strbuf_adds(&sb, "{\"labels\":{");
	for (size_t i = 0; i < nall; i++) {
		const char *eq = strchr(all[i], '=');
		size_t kl;

		if (!eq || (i && !strcmp(all[i], all[i - 1])))
			continue;
		kl = (size_t)(eq - all[i]);
		if (!prev_key || kl != prev_len || strncmp(prev_key, all[i], kl)) {
			char *key = xstrndup(all[i], kl);

			strbuf_adds(&sb, prev_key ? "]," : "");
			json_add_str(&sb, key);
			strbuf_adds(&sb, ":[");
			free(key);
			prev_key = all[i];
			prev_len = kl;
			values = 0;
		} else if (values >= MAX_LABEL_VALUES) {
			continue;
		} else {
			strbuf_addc(&sb, ',');
		}
		json_add_str(&sb, eq + 1);
		values++;
	}
	strbuf_adds(&sb, prev_key ? "]}}\n" : "}}\n");
	free(all);
	sel_entries_free(v, n);
	selection_release(&s);
	respond_json(r, 200, &sb);
}

static void get_windows(struct api *a, const struct api_request *req,
			struct api_response *r)
{
	struct selection s;
	struct format_error err;
	struct sel_entry *v;
	size_t n;
	struct strbuf sb = STRBUF_INIT;

	if (selection_parse(req, "", NULL, now_of(req), &s, &err)) {
		fail(r, 400, "%s", err.msg);
		return;
	}
	v = select_entries(a, &s, &n);
	strbuf_addf(&sb, "{\"count\":%zu,\"windows\":[", n);
	for (size_t i = 0; i < n && i < MAX_LIST; i++) {
		strbuf_adds(&sb, i ? ",{\"window\":" : "{\"window\":");
		json_add_str(&sb, v[i].file);
		strbuf_addf(&sb, ",\"fromMs\":%" PRId64 ",\"untilMs\":%" PRId64
			    ",\"samples\":%" PRIu64 ",\"bytes\":%" PRIu64
			    ",\"labels\":[", v[i].start_ns / 1000000,
			    v[i].end_ns / 1000000, v[i].samples, v[i].bytes);
		for (size_t j = 0; j < v[i].nlabels; j++) {
			if (j)
				strbuf_addc(&sb, ',');
			json_add_str(&sb, v[i].labels[j]);
		}
		strbuf_adds(&sb, "]}");
	}
	strbuf_adds(&sb, "]}\n");
	sel_entries_free(v, n);
	selection_release(&s);
	respond_json(r, 200, &sb);
}

static void post_ingest(struct api *a, const struct api_request *req,
			struct api_response *r)
{
	struct ingest_params q = {
		.name = param(req, "name"),
		.from = param(req, "from"),
		.until = param(req, "until"),
		.format = param(req, "format"),
		.sample_rate = param(req, "sampleRate"),
		.spy_name = param(req, "spyName"),
	};
	struct ingest_result res;
	struct format_error err;
	char name[STORE_NAME_MAX];
	int64_t now = now_of(req);
	struct strbuf sb = STRBUF_INIT;
	const struct store_entry *dup;
	struct store_prepared pp;
	uint64_t samples, digest;
	int e;

	if (!a->writable) {
		fail(r, 503, "this server's store is read-only (another process"
		     " writes it)");
		return;
	}
	e = ingest_decode(&q, req->body, req->len, a->max_raw, now, &res, &err);
	if (e) {
		pthread_mutex_lock(&a->lock);
		a->stats.ingest_rejected++;
		pthread_mutex_unlock(&a->lock);
		fail(r, e == -EFBIG ? 413 : 400, "%s", err.msg);
		return;
	}
	samples = samples_of(res.p);
	if (!res.p->nsamples) {
		/* Nothing to look at, and nothing to find it by (the index's
		 * labels come from samples): taken, not stored. */
		profile_free(res.p);
		strbuf_adds(&sb, "{\"window\":null,\"samples\":0}\n");
		respond_json(r, 200, &sb);
		return;
	}
	/* A retry of an upload already stored (its answer was lost) is
	 * taken again, and stored once. Only uploads that say their time:
	 * without it, the same profile twice is two moments. */
	digest = 0;
	if (q.from && q.until) {
		static const char *const keys[] = { "name", "from", "until",
						    "format", "sampleRate" };

		digest = hash_bytes(req->body, req->len);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			const char *v = param(req, keys[i]);

			digest = hash_combine(digest, v ? hash_str(v) : 0);
		}
		digest |= 1;
	}
	/* Encoding and compressing need no lock; naming, writing and
	 * indexing do. */
	if ((e = store_prepare(res.p, res.start_ns, res.end_ns, digest, &pp))) {
		profile_free(res.p);
		fail(r, 500, "cannot encode the profile: %s", strerror(-e));
		return;
	}
	pthread_mutex_lock(&a->lock);
	dup = digest ? store_find_digest(a->st, digest) : NULL;
	if (dup) {
		snprintf(name, sizeof(name), "%s", dup->file);
		a->stats.ingest_duplicates++;
		pthread_mutex_unlock(&a->lock);
		profile_free(res.p);
		store_prepared_release(&pp);
		strbuf_adds(&sb, "{\"window\":");
		json_add_str(&sb, name);
		strbuf_addf(&sb, ",\"duplicate\":true,\"samples\":%" PRIu64 "}\n",
			    samples);
		respond_json(r, 200, &sb);
		return;
	}
	e = store_commit(a->st, &pp, name);
	if (!e) {
		a->ingests++;
		a->stats.ingested++;
		a->stats.ingest_bytes += req->len;
	}
	if (!e && (a->retention_ns || a->max_store) &&
	    now - a->last_retain_ns >= RETAIN_EVERY_NS) {
		a->last_retain_ns = now;
		store_retain(a->st, now, a->retention_ns, a->max_store);
	}
	pthread_mutex_unlock(&a->lock);
	profile_free(res.p);
	store_prepared_release(&pp);
	if (e) {
		fail(r, e == -ENOSPC ? 507 : 503, "cannot store the profile: %s",
		     strerror(-e));
		return;
	}
	strbuf_adds(&sb, "{\"window\":");
	json_add_str(&sb, name);
	strbuf_addf(&sb, ",\"service\":");
	json_add_str(&sb, res.service);
	strbuf_addf(&sb, ",\"samples\":%" PRIu64 "}\n", samples);
	respond_json(r, 200, &sb);
}

static bool serve_asset(const char *path, struct api_response *r)
{
	const struct asset *as = asset_find(path);

	if (!as)
		return false;
	r->status = 200;
	r->content_type = as->type;
	r->static_body = as->data;
	r->len = as->len;
	return true;
}

void api_handle(struct api *a, const struct api_request *req,
		struct api_response *r)
{
	static const struct {
		const char *path;
		void (*get)(struct api *, const struct api_request *,
			    struct api_response *);
	} routes[] = {
		{ "/api/profile", get_profile },
		{ "/api/diff", get_diff },
		{ "/api/timeline", get_timeline },
		{ "/api/services", get_services },
		{ "/api/labels", get_labels },
		{ "/api/windows", get_windows },
	};
	bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");

	memset(r, 0, sizeof(*r));
	if (!strcmp(req->path, "/ingest")) {
		if (strcmp(req->method, "POST"))
			fail(r, 405, "/ingest takes POST");
		else
			post_ingest(a, req, r);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(req->path, routes[i].path)) {
			if (!get) {
				fail(r, 405, "%s takes GET", routes[i].path);
				return;
			}
			pthread_mutex_lock(&a->lock);
			a->stats.queries++;
			pthread_mutex_unlock(&a->lock);
			routes[i].get(a, req, r);
			return;
		}
	if (get && serve_asset(req->path, r))
		return;
	fail(r, 404, "no such page");
}

/*
 * The warmer: every few seconds while windows arrive, the last hour's
 * view is merged for every service and for all of them, and dropped:
 * what stays is the cache of sums, so that the first person to look finds
 * them made and waits for the edges only.
 */
#define WARM_MAX_SERVICES 32

static void warm(struct api *a)
{
	int64_t now = (int64_t)clock_ns(CLOCK_REALTIME);
	struct selection all = { .from = now - 3600 * (int64_t)1000000000,
				 .until = now };
	struct sel_entry *v;
	char *names[WARM_MAX_SERVICES];
	size_t n, nn = 0;
	struct merged m;

	v = select_entries(a, &all, &n);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nlabels; k++) {
			const char *svc = label_value(v[i].labels[k],
						      INGEST_SERVICE_LABEL);
			size_t j = 0;

			if (!svc)
				continue;
			while (j < nn && strcmp(names[j], svc))
				j++;
			if (j == nn && nn < WARM_MAX_SERVICES)
				names[nn++] = xstrdup(svc);
		}
	sel_entries_free(v, n);
	merge_selection(a, &all, false, &m);
	profile_free(m.p);
	for (size_t i = 0; i < nn; i++) {
		struct selection s = all;

		s.nfilters = 1;
		s.filters[0] = (struct profile_label_filter){ INGEST_SERVICE_LABEL,
							      names[i] };
		merge_selection(a, &s, false, &m);
		profile_free(m.p);
		free(names[i]);
	}
}

static void *warmer(void *arg)
{
	struct api *a = arg;
	uint64_t seen = UINT64_MAX;

	for (;;) {
		struct timespec ts;
		uint64_t now_ingests;
		bool stop;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += a->warm_every_s;
		pthread_mutex_lock(&a->lock);
		if (!a->stopping)
			pthread_cond_timedwait(&a->wake, &a->lock, &ts);
		stop = a->stopping;
		now_ingests = a->ingests;
		refresh(a);
		/* A store another process writes changes under us: warm it
		 * every time; ours when uploads came. */
		if (!a->writable)
			now_ingests = (uint64_t)a->index_size;
		pthread_mutex_unlock(&a->lock);
		if (stop)
			break;
		if (now_ingests == seen)
			continue;
		seen = now_ingests;
		warm(a);
	}
	return NULL;
}

int api_new(const struct api_opts *o, struct api **out)
{
	struct api *a = xcalloc(1, sizeof(*a));
	int err;

	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	a->dir = xstrdup(o->store_dir);
	a->max_raw = o->max_raw;
	a->cache_max = o->cache_bytes;
	a->retention_ns = o->retention_ns;
	a->max_store = o->max_store;
	a->dirfd = -1;
	err = store_open(a->dir, true, &a->st);
	if (err == -EBUSY) {
		log_warn("store '%s' is held by another process (an agent?):"
			 " serving it read-only, ingest is off", a->dir);
		err = store_open(a->dir, false, &a->st);
	} else if (!err) {
		a->writable = true;
	}
	if (err)
		goto fail;
	a->dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->dirfd < 0) {
		err = -errno;
		log_err("cannot open '%s': %s", a->dir, strerror(errno));
		goto fail;
	}
	if (!a->writable) {
		struct stat sb;

		if (!fstatat(a->dirfd, STORE_INDEX, &sb, 0)) {
			a->index_size = sb.st_size;
			a->index_mtime = sb.st_mtim;
		}
	}
	*out = a;
	return 0;
fail:
	api_free(a);
	return err;
}

bool api_writable(const struct api *a)
{
	return a->writable;
}

int api_start_warmer(struct api *a, unsigned every_s)
{
	a->warm_every_s = every_s ? every_s : 10;
	int err = -pthread_create(&a->warmer, NULL, warmer, a);

	if (!err)
		a->warmer_started = true;
	return err;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	if (a->warmer_started) {
		pthread_mutex_lock(&a->lock);
		a->stopping = true;
		pthread_cond_broadcast(&a->wake);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->warmer, NULL);
	}
	store_close(a->st);
	if (a->dirfd >= 0)
		close(a->dirfd);
	for (size_t i = 0; i < a->ncache; i++) {
		free(a->cache[i].file);
		profile_free(a->cache[i].p);
	}
	free(a->cache);
	free(a->dir);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->wake);
	free(a);
}

void api_get_stats(struct api *a, struct api_stats *out)
{
	pthread_mutex_lock(&a->lock);
	*out = a->stats;
	pthread_mutex_unlock(&a->lock);
}
