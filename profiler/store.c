/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../formats/pprof.h"
#include "../formats/zst.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"

const char *const store_unindexed_labels[] = {
	"tid", "thread_name", NULL,
};

#define LOCK_NAME "lock"
#define TEMP_PREFIX ".tmp-"
#define ZSTD_LEVEL 3

struct store {
	char *dir;
	int dirfd;
	int lockfd;
	bool writable;
	struct store_entry *ents;
	size_t n, alloc;
	uint64_t bytes;
	struct store_repair rep;
};

static void entry_release(struct store_entry *e)
{
	free(e->file);
	for (size_t i = 0; i < e->nlabels; i++)
		free(e->labels[i]);
	free(e->labels);
	memset(e, 0, sizeof(*e));
}

static bool indexed_key(const char *key)
{
	for (size_t i = 0; store_unindexed_labels[i]; i++)
		if (!strcmp(key, store_unindexed_labels[i]))
			return false;
	return true;
}

/* Keys with more than STORE_MAX_VALUES values in an entry keep "key=*"
 * instead of the values: any value may match. */
static void cap_values(struct store_entry *e)
{
	size_t out = 0;

	for (size_t i = 0; i < e->nlabels;) {
		const char *eq = strchr(e->labels[i], '=');
		size_t kl = eq ? (size_t)(eq - e->labels[i]) : strlen(e->labels[i]);
		size_t j = i + 1;

		while (j < e->nlabels && !strncmp(e->labels[j], e->labels[i], kl) &&
		       e->labels[j][kl] == '=')
			j++;
		if (j - i > STORE_MAX_VALUES) {
			char *star = xmalloc(kl + 3);

			memcpy(star, e->labels[i], kl);
			memcpy(star + kl, "=*", 3);
			for (size_t k = i; k < j; k++)
				free(e->labels[k]);
			e->labels[out++] = star;
		} else {
			for (size_t k = i; k < j; k++)
				e->labels[out++] = e->labels[k];
		}
		i = j;
	}
	e->nlabels = out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct indexed "key=value" labels and the sample count of `p`
 * (the samples column's total, held between 0 and INT64_MAX, which JSON
 * readers such as jansson take). */
static void summarize(const struct profile *p, struct store_entry *e)
{
	int col = profile_sample_type_index(p, "samples");
	int64_t total = 0;
	struct hmap seen = HMAP_INIT;
	size_t alloc = 0;
	/* Per string index: 0 unknown, 1 indexed key, 2 not. */
	uint8_t *kinds = xcalloc(p->nstrings ? p->nstrings : 1, 1);

	if (col < 0)
		col = 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];

		if (p->nsample_types)
			total = profile_value_add(total, s->values[col]);
		for (uint32_t l = 0; l < s->nlabels; l++) {
			const struct profile_label *lb = &s->labels[l];
			char num[32], *kv;
			const char *val;
			uint64_t h;
			size_t pos;
			bool dup = false;

			if (lb->key <= 0 || (size_t)lb->key >= p->nstrings)
				continue;
			if (!kinds[lb->key])
				kinds[lb->key] = indexed_key(p->strings[lb->key]) ? 1 : 2;
			if (kinds[lb->key] != 1)
				continue;
			if (lb->str) {
				val = profile_str(p, lb->str);
			} else {
				snprintf(num, sizeof(num), "%" PRId64, lb->num);
				val = num;
			}
			h = hash_combine(hash_str(p->strings[lb->key]),
					 hash_str(val));
			for (uint32_t j = hmap_first(&seen, h, &pos);
			     j != HMAP_NONE; j = hmap_next(&seen, h, &pos)) {
				const char *old = e->labels[j];
				size_t kl = strlen(p->strings[lb->key]);

				if (!strncmp(old, p->strings[lb->key], kl) &&
				    old[kl] == '=' && !strcmp(old + kl + 1, val)) {
					dup = true;
					break;
				}
			}
			if (dup)
				continue;
			kv = xmalloc(strlen(p->strings[lb->key]) + strlen(val) + 2);
			sprintf(kv, "%s=%s", p->strings[lb->key], val);
			ALLOC_GROW(e->labels, e->nlabels + 1, alloc);
			hmap_insert(&seen, h, (uint32_t)e->nlabels);
			e->labels[e->nlabels++] = kv;
		}
	}
	e->samples = total > 0 ? (uint64_t)total : 0;
	if (e->nlabels) /* NULL when there are none: qsort's is nonnull */
		qsort(e->labels, e->nlabels, sizeof(*e->labels), cmp_str);
	cap_values(e);
	hmap_release(&seen);
	free(kinds);
}

static char *entry_json(const struct store_entry *e)
{
	json_t *o = json_object(), *labels = json_array();
	char *s;

	for (size_t i = 0; i < e->nlabels; i++)
		json_array_append_new(labels, json_string(e->labels[i]));
	json_object_set_new(o, "file", json_string(e->file));
	json_object_set_new(o, "start", json_integer(e->start_ns));
	json_object_set_new(o, "end", json_integer(e->end_ns));
	json_object_set_new(o, "bytes", json_integer((json_int_t)e->bytes));
	json_object_set_new(o, "raw_bytes",
			    json_integer((json_int_t)e->raw_bytes));
	json_object_set_new(o, "samples", json_integer((json_int_t)e->samples));
	json_object_set_new(o, "labels", labels);
	if (e->digest) {
		char hex[20];

		snprintf(hex, sizeof(hex), "%016" PRIx64, e->digest);
		json_object_set_new(o, "digest", json_string(hex));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!s)
		s = xstrdup("{}"); /* out of memory: a line readers skip */
	return s;
}

static bool entry_from_json(const char *line, size_t len,
			    struct store_entry *e)
{
	json_t *o = json_loadb(line, len, 0, NULL), *labels, *v;
	const char *file;
	size_t i;

	memset(e, 0, sizeof(*e));
	if (!o)
		return false;
	file = json_string_value(json_object_get(o, "file"));
	labels = json_object_get(o, "labels");
	if (!file || !*file || strchr(file, '/') ||
	    !json_is_integer(json_object_get(o, "start")) ||
	    !json_is_integer(json_object_get(o, "end")) ||
	    !json_is_integer(json_object_get(o, "bytes")) ||
	    !json_is_array(labels)) {
		json_decref(o);
		return false;
	}
	e->file = xstrdup(file);
	e->start_ns = json_integer_value(json_object_get(o, "start"));
	e->end_ns = json_integer_value(json_object_get(o, "end"));
	e->bytes = (uint64_t)json_integer_value(json_object_get(o, "bytes"));
	e->raw_bytes =
		(uint64_t)json_integer_value(json_object_get(o, "raw_bytes"));
	e->samples = (uint64_t)json_integer_value(json_object_get(o, "samples"));
	v = json_object_get(o, "digest");
	if (json_is_string(v))
		e->digest = strtoull(json_string_value(v), NULL, 16);
	e->labels = xcalloc(json_array_size(labels) + 1, sizeof(char *));
	json_array_foreach(labels, i, v) {
		if (json_is_string(v))
			e->labels[e->nlabels++] = xstrdup(json_string_value(v));
	}
	json_decref(o);
	return true;
}

static bool is_window_name(const char *name)
{
	size_t n = strlen(name), sl = strlen(STORE_SUFFIX);

	return name[0] != '.' && n > sl && !strcmp(name + n - sl, STORE_SUFFIX);
}

static int read_profile_at(int dirfd, const char *file, struct profile **out,
			   struct format_error *err, uint64_t *size)
{
	struct input_data in;
	char path[PATH_MAX];
	int fd, r;

	fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		format_error_set(err, "cannot open: %s", strerror(errno));
		return -errno;
	}
	/* input_data_read takes a path: /proc/self/fd names the open file. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = input_data_read(path, &in);
	if (r) {
		close(fd);
		format_error_set(err, "cannot read: %s", strerror(-r));
		return r;
	}
	if (size)
		*size = in.len;
	r = profile_read(in.data, in.len, out, err);
	input_data_release(&in);
	close(fd);
	return r;
}

/* An entry for a window file the index lacks, from the file itself. */
static int entry_from_file(int dirfd, const char *file, struct store_entry *e)
{
	struct format_error err = { { 0 } };
	struct profile *p = NULL;
	uint64_t size = 0;
	int r = read_profile_at(dirfd, file, &p, &err, &size);

	memset(e, 0, sizeof(*e));
	if (r) {
		log_warn("window '%s' does not read as a profile: %s", file,
			 err.msg);
		return r;
	}
	e->file = xstrdup(file);
	e->start_ns = p->time_nanos;
	e->end_ns = p->time_nanos + p->duration_nanos;
	e->bytes = size;
	summarize(p, e);
	profile_free(p);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct store_entry *x = a, *y = b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return strcmp(x->file, y->file);
}

/* Read the whole index file; NULL/0 when there is none. */
static char *slurp_at(int dirfd, const char *name, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_add(&sb, buf, (size_t)n);
	close(fd);
	*len = sb.len;
	return strbuf_detach(&sb);
}

int store_write_file(int dirfd, const char *name, const void *data,
		     size_t len)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), TEMP_PREFIX "%d-%s", (int)getpid(), name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -ENOSPC;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(dirfd, tmp, dirfd, name))
		err = -errno;
	if (err) {
		unlinkat(dirfd, tmp, 0);
		return err;
	}
	return fsync(dirfd) ? -errno : 0;
}

static int rewrite_index_(struct store *st, bool quiet)
{
	struct strbuf sb = STRBUF_INIT;
	int err;

	for (size_t i = 0; i < st->n; i++) {
		char *line = entry_json(&st->ents[i]);

		strbuf_adds(&sb, line);
		strbuf_addc(&sb, '\n');
		free(line);
	}
	err = store_write_file(st->dirfd, STORE_INDEX, sb.buf ? sb.buf : "",
			       sb.len);
	strbuf_release(&sb);
	if (err && !quiet)
		log_err("cannot write the index of '%s': %s", st->dir,
			strerror(-err));
	return err;
}

static void add_entry(struct store *st, struct store_entry *e)
{
	ALLOC_GROW(st->ents, st->n + 1, st->alloc);
	st->ents[st->n++] = *e;
	st->bytes += e->bytes;
	memset(e, 0, sizeof(*e));
}

static int rewrite_index(struct store *st)
{
	return rewrite_index_(st, false);
}

/* Load the index and reconcile it with the directory's files. */
static int load(struct store *st)
{
	struct hmap by_name = HMAP_INIT;
	bool *listed = NULL;
	size_t len, nidx = 0, idx_alloc = 0;
	struct store_entry *idx = NULL;
	char *text = slurp_at(st->dirfd, STORE_INDEX, &len), *p, *end;
	bool changed = false;
	DIR *d;
	struct dirent *de;
	int dfd;

	/* The index's lines; the last may be torn by a crash. */
	for (p = text; p && p < text + len; p = end + 1) {
		struct store_entry e;

		end = memchr(p, '\n', (size_t)(text + len - p));
		if (!end)
			end = text + len;
		if (end == p)
			continue;
		st->rep.index_lines++;
		if (!entry_from_json(p, (size_t)(end - p), &e)) {
			st->rep.bad_lines++;
			changed = true;
			continue;
		}
		ALLOC_GROW(idx, nidx + 1, idx_alloc);
		hmap_insert(&by_name, hash_str(e.file), (uint32_t)nidx);
		idx[nidx++] = e;
	}
	free(text);
	listed = xcalloc(nidx + 1, sizeof(*listed));

	dfd = dup(st->dirfd);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		int err = -errno;

		if (dfd >= 0)
			close(dfd);
		log_err("cannot list '%s': %s", st->dir, strerror(-err));
		for (size_t i = 0; i < nidx; i++)
			entry_release(&idx[i]);
		free(idx);
		free(listed);
		hmap_release(&by_name);
		return err;
	}
	while ((de = readdir(d))) {
		struct store_entry e;
		struct stat sb;
		uint32_t found = HMAP_NONE;
		size_t pos;

		if (!strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX))) {
			if (st->writable && !unlinkat(st->dirfd, de->d_name, 0))
				st->rep.temp_removed++;
			continue;
		}
		if (!is_window_name(de->d_name))
			continue;
		for (uint32_t i = hmap_first(&by_name, hash_str(de->d_name), &pos);
		     i != HMAP_NONE;
		     i = hmap_next(&by_name, hash_str(de->d_name), &pos))
			if (!listed[i] && !strcmp(idx[i].file, de->d_name)) {
				found = i;
				break;
			}
		if (found != HMAP_NONE &&
		    !fstatat(st->dirfd, de->d_name, &sb, 0) &&
		    (uint64_t)sb.st_size == idx[found].bytes) {
			listed[found] = true;
			add_entry(st, &idx[found]);
			continue;
		}
		/* Not indexed, or not as it is now: read it. */
		changed = true;
		if (entry_from_file(st->dirfd, de->d_name, &e)) {
			st->rep.unreadable++;
			continue;
		}
		if (found != HMAP_NONE)
			listed[found] = true;
		else
			st->rep.unindexed++;
		add_entry(st, &e);
	}
	closedir(d);
	for (size_t i = 0; i < nidx; i++) {
		if (!listed[i]) {
			st->rep.missing_files++;
			changed = true;
		}
		entry_release(&idx[i]);
	}
	free(idx);
	free(listed);
	hmap_release(&by_name);
	if (st->n > 1)
		qsort(st->ents, st->n, sizeof(*st->ents), cmp_entry);
	if (st->writable && changed)
		return rewrite_index(st);
	return 0;
}

int store_open(const char *dir, bool writable, struct store **out)
{
	struct store *st = xcalloc(1, sizeof(*st));
	int err;

	st->dir = xstrdup(dir);
	st->lockfd = -1;
	st->writable = writable;
	if (writable && mkdir(dir, 0755) && errno != EEXIST) {
		err = -errno;
		log_err("cannot create the store '%s': %s", dir, strerror(-err));
		goto fail;
	}
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		err = -errno;
		log_err("cannot open the store '%s': %s", dir, strerror(-err));
		goto fail;
	}
	if (writable) {
		st->lockfd = openat(st->dirfd, LOCK_NAME,
				    O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (st->lockfd < 0) {
			err = -errno;
			log_err("cannot create '%s/" LOCK_NAME "': %s", dir,
				strerror(-err));
			goto fail;
		}
		if (flock(st->lockfd, LOCK_EX | LOCK_NB)) {
			err = errno == EWOULDBLOCK ? -EBUSY : -errno;
			log_err("the store '%s' is in use by another agent", dir);
			goto fail;
		}
	}
	if ((err = load(st)))
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return err;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		entry_release(&st->ents[i]);
	free(st->ents);
	if (st->lockfd >= 0)
		close(st->lockfd);
	if (st->dirfd >= 0)
		close(st->dirfd);
	free(st->dir);
	free(st);
}

size_t store_count(const struct store *st)
{
	return st->n;
}

const struct store_entry *store_get(const struct store *st, size_t i)
{
	return i < st->n ? &st->ents[i] : NULL;
}

uint64_t store_bytes(const struct store *st)
{
	return st->bytes;
}

void store_repair_stats(const struct store *st, struct store_repair *out)
{
	*out = st->rep;
}

/* A file name for a window starting at start_ns, new in the store. */
static void window_name(const struct store *st, int64_t start_ns, char *out,
			size_t n)
{
	time_t sec = (time_t)(start_ns / 1000000000);
	struct tm tm;
	char base[64];
	struct stat sb;

	gmtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%Y%m%dT%H%M%S", &tm);
	snprintf(out, n, "%s.%03dZ" STORE_SUFFIX, base,
		 (int)(start_ns / 1000000 % 1000));
	for (int i = 1; !fstatat(st->dirfd, out, &sb, 0); i++)
		snprintf(out, n, "%s.%03dZ-%d" STORE_SUFFIX, base,
			 (int)(start_ns / 1000000 % 1000), i);
}

/* Append one line to the index, whole or not at all. */
static int append_index(struct store *st, const char *line)
{
	int fd = openat(st->dirfd, STORE_INDEX,
			O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	size_t len = strlen(line);
	struct stat sb;
	char *buf;
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb)) {
		err = -errno;
		close(fd);
		return err;
	}
	buf = xmalloc(len + 1);
	memcpy(buf, line, len);
	buf[len] = '\n';
	do
		n = write(fd, buf, len + 1);
	while (n < 0 && errno == EINTR);
	free(buf);
	if (n != (ssize_t)len + 1) {
		err = n < 0 ? -errno : -ENOSPC;
		/* Cut a partial line off again; a reader skips one anyway. */
		if (ftruncate(fd, sb.st_size))
			log_debug("cannot truncate the index: %s",
				  strerror(errno));
	} else if (fdatasync(fd)) {
		err = -errno;
	}
	close(fd);
	return err;
}

int store_prepare(const struct profile *p, int64_t start_ns, int64_t end_ns,
		  uint64_t digest, struct store_prepared *out)
{
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = pprof_encode(p, &raw, &raw_len))) {
		log_err("cannot encode the window: %s", strerror(-err));
		return err;
	}
	err = zst_compress(raw, raw_len, ZSTD_LEVEL, &out->data, &out->len);
	free(raw);
	if (err) {
		log_err("cannot compress the window: %s", strerror(-err));
		return err;
	}
	out->e.digest = digest;
	out->e.start_ns = start_ns;
	out->e.end_ns = end_ns;
	out->e.bytes = out->len;
	out->e.raw_bytes = raw_len;
	summarize(p, &out->e);
	return 0;
}

void store_prepared_release(struct store_prepared *pp)
{
	free(pp->data);
	entry_release(&pp->e);
	memset(pp, 0, sizeof(*pp));
}

int store_commit(struct store *st, struct store_prepared *pp, char *name_out)
{
	char name[STORE_NAME_MAX], *line;
	int err;

	if (!st->writable)
		return -EROFS;
	window_name(st, pp->e.start_ns, name, sizeof(name));
	err = store_write_file(st->dirfd, name, pp->data, pp->len);
	if (err) {
		log_err("cannot write window '%s/%s': %s", st->dir, name,
			strerror(-err));
		return err;
	}
	if (name_out)
		snprintf(name_out, STORE_NAME_MAX, "%s", name);
	free(pp->data);
	pp->data = NULL;
	pp->e.file = xstrdup(name);
	line = entry_json(&pp->e);
	err = append_index(st, line);
	free(line);
	if (err) {
		/* The window is written; the next open indexes it. */
		log_warn("cannot index window '%s': %s", name, strerror(-err));
	}
	add_entry(st, &pp->e);
	memset(&pp->e, 0, sizeof(pp->e)); /* the store owns it now */
	/* Windows arrive in time order, but keep the invariant anyway. */
	if (st->n > 1 && cmp_entry(&st->ents[st->n - 2], &st->ents[st->n - 1]) > 0)
		qsort(st->ents, st->n, sizeof(*st->ents), cmp_entry);
	return 0;
}

int store_write(struct store *st, const struct profile *p, int64_t start_ns,
		int64_t end_ns, uint64_t digest, char *name_out)
{
	struct store_prepared pp;
	int err;

	if (!st->writable)
		return -EROFS;
	if ((err = store_prepare(p, start_ns, end_ns, digest, &pp)))
		return err;
	err = store_commit(st, &pp, name_out);
	store_prepared_release(&pp);
	return err;
}

int store_read(const struct store *st, const struct store_entry *e,
	       struct profile **out, struct format_error *err)
{
	return read_profile_at(st->dirfd, e->file, out, err, NULL);
}

const struct store_entry *store_find_digest(const struct store *st,
					   uint64_t digest)
{
	for (size_t i = st->n; digest && i-- > 0;)
		if (st->ents[i].digest == digest)
			return &st->ents[i];
	return NULL;
}

int store_read_at(int dirfd, const char *file, struct profile **out,
		  struct format_error *err)
{
	return read_profile_at(dirfd, file, out, err, NULL);
}

bool store_entry_may_match(const struct store_entry *e, const char *key,
			   const char *value)
{
	size_t kl = strlen(key);
	size_t lo = 0, hi = e->nlabels;
	char *want;
	bool found = false;

	if (!indexed_key(key))
		return true;
	want = xmalloc(kl + strlen(value) + 3);
	sprintf(want, "%s=*", key);
	for (size_t i = 0; i < e->nlabels; i++)
		if (!strcmp(e->labels[i], want)) {
			free(want);
			return true;
		}
	sprintf(want, "%s=%s", key, value);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(e->labels[mid], want);

		if (!c) {
			found = true;
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	free(want);
	return found;
}

int store_retain(struct store *st, int64_t now_ns, int64_t max_age_ns,
		 uint64_t max_bytes)
{
	size_t drop = 0;
	uint64_t bytes = st->bytes;
	int err;

	while (drop < st->n &&
	       ((max_age_ns > 0 && st->ents[drop].end_ns < now_ns - max_age_ns) ||
		(max_bytes > 0 && bytes > max_bytes))) {
		bytes -= st->ents[drop].bytes;
		drop++;
	}
	if (!drop)
		return 0;
	/* The index first: a crash before the files go leaves files the
	 * next open indexes, and this deletes again. */
	struct store_entry *gone = xmalloc(drop * sizeof(*gone));

	memcpy(gone, st->ents, drop * sizeof(*gone));
	memmove(st->ents, st->ents + drop, (st->n - drop) * sizeof(*st->ents));
	st->n -= drop;
	st->bytes = bytes;
	err = rewrite_index_(st, true);
	for (size_t i = 0; i < drop; i++) {
		if (unlinkat(st->dirfd, gone[i].file, 0) && errno != ENOENT)
			log_warn("cannot delete '%s/%s': %s", st->dir,
				 gone[i].file, strerror(errno));
		entry_release(&gone[i]);
	}
	free(gone);
	if (fsync(st->dirfd))
		log_debug("fsync '%s': %s", st->dir, strerror(errno));
	/* A full disk leaves no room for the new index until the files are
	 * gone: write it again now. (Meanwhile its extra lines name missing
	 * files, which readers skip and opening the store drops.) */
	if (err == -ENOSPC || err == -EDQUOT)
		err = rewrite_index(st);
	return err ? err : (int)drop;
}

int store_check(const char *dir, size_t *nfiles, size_t *unindexed)
{
	struct store *raw = xcalloc(1, sizeof(*raw));
	int problems = 0;
	size_t len;
	char *text, *p, *end;

	*nfiles = *unindexed = 0;
	raw->dir = xstrdup(dir);
	raw->lockfd = -1;
	raw->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (raw->dirfd < 0) {
		log_err("cannot open the store '%s': %s", dir, strerror(errno));
		store_close(raw);
		return 1;
	}
	/* What the files say (read-only load reads every unindexed file;
	 * here every file is read, whatever the index says). */
	text = slurp_at(raw->dirfd, STORE_INDEX, &len);
	DIR *d = fdopendir(dup(raw->dirfd));
	struct dirent *de;

	while (d && (de = readdir(d))) {
		struct store_entry fe, ie;
		bool in_index = false;

		if (!is_window_name(de->d_name))
			continue;
		(*nfiles)++;
		if (entry_from_file(raw->dirfd, de->d_name, &fe)) {
			problems++;
			continue;
		}
		for (p = text; p && p < text + len; p = end + 1) {
			end = memchr(p, '\n', (size_t)(text + len - p));
			if (!end)
				end = text + len;
			if (end == p || !entry_from_json(p, (size_t)(end - p), &ie))
				continue;
			if (!strcmp(ie.file, fe.file)) {
				in_index = true;
				if (ie.bytes != fe.bytes ||
				    ie.start_ns != fe.start_ns ||
				    ie.end_ns != fe.end_ns ||
				    ie.samples != fe.samples ||
				    ie.nlabels != fe.nlabels) {
					log_err("index line of '%s' disagrees"
						" with the file", fe.file);
					problems++;
				}
			}
			entry_release(&ie);
		}
		if (!in_index)
			(*unindexed)++;
		entry_release(&fe);
	}
	if (d)
		closedir(d);
	/* Every index line names a file. */
	for (p = text; p && p < text + len; p = end + 1) {
		struct store_entry ie;
		struct stat sb;

		end = memchr(p, '\n', (size_t)(text + len - p));
		if (!end)
			end = text + len;
		if (end == p)
			continue;
		if (!entry_from_json(p, (size_t)(end - p), &ie)) {
			log_err("index line does not parse: %.*s",
				(int)(end - p > 80 ? 80 : end - p), p);
			problems++;
			continue;
		}
		if (fstatat(raw->dirfd, ie.file, &sb, 0)) {
			log_err("index names '%s', which is missing", ie.file);
			problems++;
		}
		entry_release(&ie);
	}
	free(text);
	store_close(raw);
	return problems;
}
