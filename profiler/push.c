/* SPDX-License-Identifier: MIT */
#include "push.h"

#include <dirent.h>
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

#include "../formats/formats.h"
#include "../formats/pprof.h"
#include "../formats/zst.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/xalloc.h"
#include "../web/client.h"
#include "store.h"

#define SUFFIX ".pb.zst"
#define PARTS_SUFFIX ".parts"
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

struct pusher {
	struct push_opts o;
	char *url, *token, *dir, *series;
	int dirfd;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	volatile int abort_request;
	bool busy; /* sending */
	struct push_stats st;
};

struct spooled {
	char *name;
	uint64_t bytes;
};

static int cmp_spooled(const void *a, const void *b)
{
	return strcmp(((const struct spooled *)a)->name,
		      ((const struct spooled *)b)->name);
}

/* The spool's windows, oldest first. */
static struct spooled *list_spool(struct pusher *p, size_t *n, uint64_t *bytes)
{
	struct spooled *v = NULL;
	size_t alloc = 0, sl = strlen(SUFFIX);
	int fd = openat(p->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	*n = 0;
	*bytes = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		struct stat sb;

		if (de->d_name[0] != 'w' || l <= sl ||
		    strcmp(de->d_name + l - sl, SUFFIX) ||
		    fstatat(p->dirfd, de->d_name, &sb, 0))
			continue;
		ALLOC_GROW(v, *n + 1, alloc);
		v[*n].name = xstrdup(de->d_name);
		v[*n].bytes = (uint64_t)sb.st_size;
		*bytes += (uint64_t)sb.st_size;
		(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmp_spooled);
	return v;
}

static void free_spool(struct spooled *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static void remove_window(struct pusher *p, const char *name)
{
	char parts[300];

	unlinkat(p->dirfd, name, 0);
	snprintf(parts, sizeof(parts), "%s" PARTS_SUFFIX, name);
	unlinkat(p->dirfd, parts, 0);
}

static unsigned read_parts(struct pusher *p, const char *name)
{
	char path[300], buf[32] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s" PARTS_SUFFIX, name);
	fd = openat(p->dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (unsigned)strtoul(buf, NULL, 10);
}

static void write_parts(struct pusher *p, const char *name, unsigned parts)
{
	char path[300], buf[32];

	snprintf(path, sizeof(path), "%s" PARTS_SUFFIX, name);
	snprintf(buf, sizeof(buf), "%u\n", parts);
	if (store_write_file(p->dirfd, path, buf, strlen(buf)))
		log_debug("push: cannot record the parts sent of '%s'", name);
}

static void update_spool_stats(struct pusher *p)
{
	size_t n;
	uint64_t bytes;
	struct spooled *v = list_spool(p, &n, &bytes);

	free_spool(v, n);
	pthread_mutex_lock(&p->lock);
	p->st.spool_windows = n;
	p->st.spool_bytes = bytes;
	pthread_mutex_unlock(&p->lock);
}

/* Wait up to ms, or until stopped or woken. Returns true when stopping. */
static bool nap(struct pusher *p, int ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&p->lock);
	if (!p->stop)
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	stop = p->stop;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

/* Send one spooled window. 0 (done: sent or dropped), or -EAGAIN (try
 * again later). */
static int send_window(struct pusher *p, const struct spooled *w)
{
	struct client_opts co = { .url = p->url, .token = p->token,
				  .timeout_s = p->o.timeout_s ? p->o.timeout_s : 15,
				  .abort = &p->abort_request };
	struct client_result res;
	struct profile *prof = NULL;
	struct format_error ferr;
	long long start, end;
	int64_t now = (int64_t)clock_ns(CLOCK_REALTIME);
	int err;

	if (sscanf(w->name, "w%lld-%lld", &start, &end) != 2 ||
	    store_read_at(p->dirfd, w->name, &prof, &ferr)) {
		log_warn("push: spooled window '%s' is damaged: dropped", w->name);
		remove_window(p, w->name);
		pthread_mutex_lock(&p->lock);
		p->st.dropped_unreadable++;
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	co.skip = read_parts(p, w->name);
	if (now - start > PUSH_TOO_OLD_NS && !co.skip) {
		pthread_mutex_lock(&p->lock);
		p->st.too_old++;
		pthread_mutex_unlock(&p->lock);
		log_warn("push: sending a window from %.0f minutes ago; Pyroscope"
			 " refuses profiles older than an hour by default",
			 (double)(now - start) / 60e9);
	}
	err = client_send(&co, p->series, start, end, prof, &res);
	profile_free(prof);
	pthread_mutex_lock(&p->lock);
	if (!err) {
		p->st.sent++;
		p->st.parts += res.parts - co.skip;
		p->st.last_success_ns = (int64_t)clock_ns(CLOCK_REALTIME);
		p->st.last_error[0] = '\0';
	} else if (err == -EINVAL) {
		p->st.refused++;
		snprintf(p->st.last_error, sizeof(p->st.last_error), "%s", res.msg);
	} else {
		p->st.attempts_failed++;
		p->st.parts += res.parts > co.skip ? res.parts - co.skip : 0;
		snprintf(p->st.last_error, sizeof(p->st.last_error), "%s", res.msg);
	}
	pthread_mutex_unlock(&p->lock);
	if (!err) {
		remove_window(p, w->name);
		return 0;
	}
	if (err == -EINVAL) {
		log_warn("push: window '%s' refused, dropped: %s", w->name, res.msg);
		remove_window(p, w->name);
		return 0;
	}
	if (res.parts > co.skip)
		write_parts(p, w->name, res.parts);
	log_debug("push: %s; trying again later", res.msg);
	return -EAGAIN;
}

static void *run(void *arg)
{
	struct pusher *p = arg;
	int backoff = 0;
	bool warned = false;

	for (;;) {
		size_t n;
		uint64_t bytes;
		struct spooled *v;
		int err;

		pthread_mutex_lock(&p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		p->busy = true;
		pthread_mutex_unlock(&p->lock);
		v = list_spool(p, &n, &bytes);
		err = n ? send_window(p, &v[0]) : 0;
		free_spool(v, n);
		update_spool_stats(p);
		pthread_mutex_lock(&p->lock);
		p->busy = false;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		if (err) {
			backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
			if (backoff > BACKOFF_MAX_MS)
				backoff = BACKOFF_MAX_MS;
			if (!warned) {
				struct push_stats st;

				pusher_stats(p, &st);
				log_warn("push: %s; windows wait in the spool",
					 st.last_error);
				warned = true;
			}
			if (nap(p, backoff))
				break;
			continue;
		}
		if (warned && backoff) {
			log_info("push: the server takes windows again");
			warned = false;
		}
		backoff = 0;
		if (!n && nap(p, 60000))
			break;
	}
	return NULL;
}

int pusher_enqueue(struct pusher *p, const struct profile *prof,
		   int64_t start_ns, int64_t end_ns)
{
	uint8_t *raw = NULL, *z = NULL;
	size_t raw_len, z_len, n;
	uint64_t bytes;
	struct spooled *v;
	char name[96];
	int err;

	if ((err = pprof_encode(prof, &raw, &raw_len)))
		return err;
	err = zst_compress(raw, raw_len, 3, &z, &z_len);
	free(raw);
	if (err)
		return err;
	if (z_len > p->o.spool_max) {
		free(z);
		pthread_mutex_lock(&p->lock);
		p->st.dropped_spool_full++;
		pthread_mutex_unlock(&p->lock);
		log_warn("push: the spool is full: a window of %zu bytes is"
			 " larger than its cap (%" PRIu64 " bytes), dropped",
			 z_len, p->o.spool_max);
		return -ENOSPC;
	}
	/* Make room first: the oldest go past the cap. */
	v = list_spool(p, &n, &bytes);
	for (size_t i = 0; i < n && bytes + z_len > p->o.spool_max; i++) {
		remove_window(p, v[i].name);
		bytes -= v[i].bytes;
		pthread_mutex_lock(&p->lock);
		p->st.dropped_spool_full++;
		pthread_mutex_unlock(&p->lock);
		log_warn("push: the spool is full (%" PRIu64 " bytes): oldest"
			 " window dropped", p->o.spool_max);
	}
	free_spool(v, n);
	snprintf(name, sizeof(name), "w%019" PRId64 "-%019" PRId64 SUFFIX,
		 start_ns, end_ns);
	err = store_write_file(p->dirfd, name, z, z_len);
	free(z);
	if (err) {
		log_warn("push: cannot spool the window: %s", strerror(-err));
		return err;
	}
	update_spool_stats(p);
	pthread_mutex_lock(&p->lock);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

bool pusher_flush(struct pusher *p, int timeout_ms)
{
	uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000;

	while (clock_ns(CLOCK_MONOTONIC) < deadline) {
		struct push_stats st;

		pusher_stats(p, &st);
		if (!st.spool_windows) {
			pthread_mutex_lock(&p->lock);
			bool idle = !p->busy;
			pthread_mutex_unlock(&p->lock);
			if (idle)
				return true;
		}
		usleep(20000);
	}
	return false;
}

void pusher_stats(struct pusher *p, struct push_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->st;
	pthread_mutex_unlock(&p->lock);
}

int pusher_new(const struct push_opts *o, struct pusher **out)
{
	struct pusher *p = xcalloc(1, sizeof(*p));
	pthread_condattr_t ca;
	int err;

	p->o = *o;
	p->dirfd = -1;
	p->url = xstrdup(o->url);
	p->token = o->token ? xstrdup(o->token) : NULL;
	p->dir = xstrdup(o->spool_dir);
	p->series = xstrdup(o->series);
	p->o.url = p->url;
	p->o.token = p->token;
	p->o.spool_dir = p->dir;
	p->o.series = p->series;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (mkdir(p->dir, 0700) && errno != EEXIST) {
		err = -errno;
		log_err("cannot create the push spool '%s': %s", p->dir,
			strerror(errno));
		goto fail;
	}
	p->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0) {
		err = -errno;
		log_err("cannot open the push spool '%s': %s", p->dir,
			strerror(errno));
		goto fail;
	}
	update_spool_stats(p);
	client_global_init();
	if ((err = -pthread_create(&p->thread, NULL, run, p))) {
		log_err("cannot start the push thread: %s", strerror(-err));
		goto fail;
	}
	p->started = true;
	*out = p;
	return 0;
fail:
	pusher_free(p);
	return err;
}

void pusher_free(struct pusher *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		p->abort_request = 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	if (p->dirfd >= 0)
		close(p->dirfd);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->url);
	free(p->token);
	free(p->dir);
	free(p->series);
	free(p);
}
