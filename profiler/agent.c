/* SPDX-License-Identifier: MIT */
#include "agent.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../lib/clock.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/parse.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"
#include "../web/ingest.h"
#include "../web/token.h"
#include "cgroupinfo.h"
#include "push.h"
#include "store.h"

#define MAX_FREQ 10000

/* ---- configuration ---- */

void agent_config_init(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	c->store = xstrdup(AGENT_DEFAULT_STORE);
	c->window_s = AGENT_DEFAULT_WINDOW_S;
	c->freq_hz = AGENT_DEFAULT_FREQ;
	c->retention_s = AGENT_DEFAULT_RETENTION_S;
	c->max_store_bytes = AGENT_DEFAULT_MAX_STORE;
	c->unwind = UNWIND_DWARF;
	c->unwind_rows = AGENT_DEFAULT_UNWIND_ROWS;
	c->symbol_cache = AGENT_DEFAULT_SYMBOL_CACHE;
	c->kernel_stacks = true;
	c->user_stacks = true;
	c->service = xstrdup(AGENT_DEFAULT_SERVICE);
	c->push_spool_bytes = PUSH_DEFAULT_SPOOL;
}

void agent_config_release(struct agent_config *c)
{
	free(c->store);
	free(c->pids);
	for (size_t i = 0; i < c->ncgroups; i++)
		free(c->cgroups[i]);
	free(c->cgroups);
	free(c->hostname);
	free(c->status_file);
	free(c->service);
	free(c->push_url);
	free(c->push_token_file);
	memset(c, 0, sizeof(*c));
}

/* Copy the values of the keys in `keys` from src to dst. */
static void config_take(struct agent_config *dst,
			const struct agent_config *src, unsigned keys)
{
	if (keys & AK_STORE) {
		free(dst->store);
		dst->store = xstrdup(src->store);
	}
	if (keys & AK_WINDOW)
		dst->window_s = src->window_s;
	if (keys & AK_FREQ)
		dst->freq_hz = src->freq_hz;
	if (keys & AK_RETENTION)
		dst->retention_s = src->retention_s;
	if (keys & AK_MAX_STORE)
		dst->max_store_bytes = src->max_store_bytes;
	if (keys & AK_PID) {
		free(dst->pids);
		dst->npids = src->npids;
		dst->pids = xcalloc(src->npids + 1, sizeof(int));
		if (src->npids)
			memcpy(dst->pids, src->pids, src->npids * sizeof(int));
	}
	if (keys & AK_CGROUP) {
		for (size_t i = 0; i < dst->ncgroups; i++)
			free(dst->cgroups[i]);
		free(dst->cgroups);
		dst->ncgroups = src->ncgroups;
		dst->cgroups = xcalloc(src->ncgroups + 1, sizeof(char *));
		for (size_t i = 0; i < src->ncgroups; i++)
			dst->cgroups[i] = xstrdup(src->cgroups[i]);
	}
	if (keys & AK_UNWIND)
		dst->unwind = src->unwind;
	if (keys & AK_UNWIND_ROWS)
		dst->unwind_rows = src->unwind_rows;
	if (keys & AK_SYMBOL_CACHE)
		dst->symbol_cache = src->symbol_cache;
	if (keys & AK_KERNEL)
		dst->kernel_stacks = src->kernel_stacks;
	if (keys & AK_USER)
		dst->user_stacks = src->user_stacks;
	if (keys & AK_HOSTNAME) {
		free(dst->hostname);
		dst->hostname = src->hostname ? xstrdup(src->hostname) : NULL;
	}
	if (keys & AK_SERVICE) {
		free(dst->service);
		dst->service = xstrdup(src->service);
	}
	if (keys & AK_PUSH) {
		free(dst->push_url);
		dst->push_url = src->push_url ? xstrdup(src->push_url) : NULL;
	}
	if (keys & AK_PUSH_TOKEN) {
		free(dst->push_token_file);
		dst->push_token_file = src->push_token_file ?
			xstrdup(src->push_token_file) : NULL;
	}
	if (keys & AK_PUSH_SPOOL)
		dst->push_spool_bytes = src->push_spool_bytes;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") ||
	    !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") ||
		 !strcmp(v, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static bool is_cgroup2_dir(const char *path)
{
	struct statfs fs;
	struct stat sb;

	return !stat(path, &sb) && S_ISDIR(sb.st_mode) && !statfs(path, &fs) &&
	       fs.f_type == CGROUP2_SUPER_MAGIC;
}

/* A cgroup v2 directory, given as a path or relative to the cgroup2
 * mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
static char *resolve_cgroup(const char *arg)
{
	struct cgroupinfo *ci;
	char path[PATH_MAX];
	const char *root;
	char *out = NULL;

	if (arg[0] == '/' && is_cgroup2_dir(arg))
		return xstrdup(arg);
	ci = cgroupinfo_new(NULL);
	root = cgroupinfo_root(ci);
	if (root) {
		snprintf(path, sizeof(path), "%s%s%s", root,
			 arg[0] == '/' ? "" : "/", arg);
		if (is_cgroup2_dir(path))
			out = xstrdup(path);
	}
	cgroupinfo_free(ci);
	return out;
}

int agent_config_set(struct agent_config *c, const char *key,
		     const char *v, unsigned *set, char *err, size_t errlen)
{
	double d;
	long l;

	*set = 0;
	if (!strcmp(key, "store")) {
		if (!*v)
			goto bad;
		free(c->store);
		c->store = xstrdup(v);
		*set = AK_STORE;
	} else if (!strcmp(key, "window")) {
		if (parse_duration(v, &d) || d < 1 || d > 3600) {
			snprintf(err, errlen, "invalid window '%s' (expected"
				 " 1s to 1h, such as 10 or 30s)", v);
			return -EINVAL;
		}
		c->window_s = d;
		*set = AK_WINDOW;
	} else if (!strcmp(key, "freq") || !strcmp(key, "frequency")) {
		if (parse_long(v, 1, MAX_FREQ, &l)) {
			snprintf(err, errlen, "invalid frequency '%s' (expected"
				 " 1..%d Hz)", v, MAX_FREQ);
			return -EINVAL;
		}
		c->freq_hz = (unsigned)l;
		*set = AK_FREQ;
	} else if (!strcmp(key, "retention")) {
		if (!strcmp(v, "0") || !strcmp(v, "none")) {
			c->retention_s = 0;
		} else if (parse_duration(v, &d) || d < 1) {
			snprintf(err, errlen, "invalid retention '%s' (expected"
				 " an age such as 12h or 7d, or none)", v);
			return -EINVAL;
		} else {
			c->retention_s = d;
		}
		*set = AK_RETENTION;
	} else if (!strcmp(key, "max-store-size")) {
		uint64_t b;

		if (!strcmp(v, "0") || !strcmp(v, "none")) {
			c->max_store_bytes = 0;
		} else if (parse_size(v, &b) || b < 4096) {
			snprintf(err, errlen, "invalid store size '%s' (expected"
				 " at least 4K, such as 512M or 2G, or none)", v);
			return -EINVAL;
		} else {
			c->max_store_bytes = b;
		}
		*set = AK_MAX_STORE;
	} else if (!strcmp(key, "pid")) {
		char *copy = xstrdup(v), *save = NULL;

		for (char *t = strtok_r(copy, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			if (parse_long(t, 1, 0x3fffffff, &l)) {
				snprintf(err, errlen, "invalid pid '%s'", t);
				free(copy);
				return -EINVAL;
			}
			c->pids = xreallocarray(c->pids, c->npids + 1,
						sizeof(int));
			c->pids[c->npids++] = (int)l;
		}
		free(copy);
		*set = AK_PID;
	} else if (!strcmp(key, "cgroup")) {
		char *path = resolve_cgroup(v);

		if (!path) {
			snprintf(err, errlen, "'%s' is not a cgroup: no such"
				 " directory in the cgroup v2 mount (give its"
				 " path, or one relative to the mount)", v);
			return -EINVAL;
		}
		if (c->ncgroups == SM_MAX_CGROUPS) {
			free(path);
			snprintf(err, errlen, "at most %d cgroups",
				 SM_MAX_CGROUPS);
			return -EINVAL;
		}
		c->cgroups = xreallocarray(c->cgroups, c->ncgroups + 1,
					   sizeof(char *));
		c->cgroups[c->ncgroups++] = path;
		*set = AK_CGROUP;
	} else if (!strcmp(key, "unwind")) {
		if (!strcmp(v, "dwarf"))
			c->unwind = UNWIND_DWARF;
		else if (!strcmp(v, "fp"))
			c->unwind = UNWIND_FP;
		else if (!strcmp(v, "copy"))
			c->unwind = UNWIND_COPY;
		else {
			snprintf(err, errlen, "invalid unwind mode '%s'"
				 " (expected dwarf, fp or copy)", v);
			return -EINVAL;
		}
		*set = AK_UNWIND;
	} else if (!strcmp(key, "max-symbol-cache")) {
		uint64_t b;

		if (parse_size(v, &b) || b < (1u << 20)) {
			snprintf(err, errlen, "invalid max-symbol-cache '%s'"
				 " (expected at least 1M, such as 32M)", v);
			return -EINVAL;
		}
		c->symbol_cache = (size_t)b;
		*set = AK_SYMBOL_CACHE;
	} else if (!strcmp(key, "max-unwind-rows")) {
		if (parse_long(v, 1024, 1 << 26, &l)) {
			snprintf(err, errlen, "invalid max-unwind-rows '%s'"
				 " (expected 1024..67108864)", v);
			return -EINVAL;
		}
		c->unwind_rows = (uint32_t)l;
		*set = AK_UNWIND_ROWS;
	} else if (!strcmp(key, "kernel") || !strcmp(key, "user")) {
		bool b;

		if (parse_bool(v, &b)) {
			snprintf(err, errlen, "invalid value '%s' for %s"
				 " (expected yes or no)", v, key);
			return -EINVAL;
		}
		if (key[0] == 'k') {
			c->kernel_stacks = b;
			*set = AK_KERNEL;
		} else {
			c->user_stacks = b;
			*set = AK_USER;
		}
	} else if (!strcmp(key, "hostname")) {
		if (!*v)
			goto bad;
		free(c->hostname);
		c->hostname = xstrdup(v);
		*set = AK_HOSTNAME;
	} else if (!strcmp(key, "service")) {
		struct series ser;
		struct format_error fe;

		if (series_parse(v, false, &ser, &fe) || ser.nlabels ||
		    strcmp(ser.service, v)) {
			snprintf(err, errlen, "invalid service name '%s'"
				 " (printable, without {}=,\")", v);
			series_release(&ser);
			return -EINVAL;
		}
		series_release(&ser);
		free(c->service);
		c->service = xstrdup(v);
		*set = AK_SERVICE;
	} else if (!strcmp(key, "push")) {
		free(c->push_url);
		c->push_url = NULL;
		if (*v && strcmp(v, "none")) {
			if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
				snprintf(err, errlen, "invalid push URL '%s'"
					 " (http:// or https://, or none)", v);
				return -EINVAL;
			}
			c->push_url = xstrdup(v);
		}
		*set = AK_PUSH;
	} else if (!strcmp(key, "push-token-file")) {
		if (!*v)
			goto bad;
		free(c->push_token_file);
		c->push_token_file = xstrdup(v);
		*set = AK_PUSH_TOKEN;
	} else if (!strcmp(key, "push-spool-size")) {
		uint64_t b;

		if (parse_size(v, &b) || b < (16u << 10)) {
			snprintf(err, errlen, "invalid push-spool-size '%s'"
				 " (expected at least 16K, such as 256M)", v);
			return -EINVAL;
		}
		c->push_spool_bytes = b;
		*set = AK_PUSH_SPOOL;
	} else {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen, "empty value for %s", key);
	return -EINVAL;
}

int agent_config_load(struct agent_config *c, const char *path,
		      unsigned skip)
{
	FILE *f = fopen(path, "re");
	struct agent_config fresh;
	unsigned seen = 0;
	char line[4096];
	int lineno = 0, err = 0;

	if (!f) {
		err = -errno;
		log_err("cannot open config '%s': %s", path, strerror(-err));
		return err;
	}
	/* Lists (pid, cgroup) in the file replace the current ones whole. */
	agent_config_init(&fresh);
	while (fgets(line, sizeof(line), f)) {
		char *k = line, *v, *end, msg[512];
		unsigned bit;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			log_err("%s:%d: line too long", path, lineno);
			err = -EINVAL;
			break;
		}
		while (isspace((unsigned char)*k))
			k++;
		if (!*k || *k == '#')
			continue;
		for (end = k + strlen(k); end > k &&
		     isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		v = k + strcspn(k, " \t=");
		if (*v) {
			*v++ = '\0';
			while (isspace((unsigned char)*v) || *v == '=')
				v++;
		}
		if (!*v) {
			log_err("%s:%d: '%s' has no value", path, lineno, k);
			err = -EINVAL;
			break;
		}
		if (agent_config_set(&fresh, k, v, &bit, msg, sizeof(msg))) {
			log_err("%s:%d: %s", path, lineno, msg);
			err = -EINVAL;
			break;
		}
		seen |= bit;
	}
	fclose(f);
	if (!err)
		config_take(c, &fresh, seen & ~skip);
	agent_config_release(&fresh);
	return err;
}

/* ---- labels ---- */

struct cg_labels {
	uint64_t id;
	char *path, *container, *unit;
};

struct labeler {
	struct cgroupinfo *cgi;
	struct proctrack *procs;
	const char *host;
	const char *service; /* the agent's config's; set at each cut */
	struct cg_labels *cgs;
	size_t ncgs, cgs_alloc;
	struct hmap cg_idx;
};

#define MAX_CACHED_CGROUPS 4096

static const struct cg_labels *cgroup_labels(struct labeler *lb, uint64_t id)
{
	struct cg_labels *e;
	char buf[256];
	const char *path;
	size_t pos;

	for (uint32_t i = hmap_first(&lb->cg_idx, id, &pos); i != HMAP_NONE;
	     i = hmap_next(&lb->cg_idx, id, &pos))
		if (lb->cgs[i].id == id)
			return &lb->cgs[i];
	path = cgroupinfo_path(lb->cgi, id);
	if (!path)
		return NULL; /* looked up again later: it may appear */
	if (lb->ncgs == MAX_CACHED_CGROUPS) {
		/* Start over rather than grow without bound. */
		for (size_t i = 0; i < lb->ncgs; i++) {
			free(lb->cgs[i].path);
			free(lb->cgs[i].container);
			free(lb->cgs[i].unit);
		}
		lb->ncgs = 0;
		hmap_release(&lb->cg_idx);
		hmap_init(&lb->cg_idx);
	}
	ALLOC_GROW(lb->cgs, lb->ncgs + 1, lb->cgs_alloc);
	e = &lb->cgs[lb->ncgs];
	e->id = id;
	e->path = xstrdup(path);
	e->container = cgroup_container_id(path, buf, sizeof(buf), NULL) ?
			       xstrdup(buf) : NULL;
	e->unit = cgroup_systemd_unit(path, buf, sizeof(buf)) ? xstrdup(buf)
							     : NULL;
	hmap_insert(&lb->cg_idx, id, (uint32_t)lb->ncgs);
	return &lb->cgs[lb->ncgs++];
}

static void labeler_release(struct labeler *lb)
{
	for (size_t i = 0; i < lb->ncgs; i++) {
		free(lb->cgs[i].path);
		free(lb->cgs[i].container);
		free(lb->cgs[i].unit);
	}
	free(lb->cgs);
	hmap_release(&lb->cg_idx);
	cgroupinfo_free(lb->cgi);
}

static unsigned label_sample(void *ctx, const struct sample_key *k,
			     const char **keys, const char **vals)
{
	struct labeler *lb = ctx;
	const struct cg_labels *cg = k->cgroup_id ? cgroup_labels(lb, k->cgroup_id)
						  : NULL;
	unsigned n = 0;

	keys[n] = "host";
	vals[n++] = lb->host;
	keys[n] = INGEST_SERVICE_LABEL;
	vals[n++] = lb->service;
	keys[n] = "exe";
	vals[n++] = k->inst ? proctrack_exe(lb->procs, k->inst) : NULL;
	if (cg) {
		keys[n] = "cgroup";
		vals[n++] = cg->path;
		keys[n] = "container_id";
		vals[n++] = cg->container;
		keys[n] = "systemd_unit";
		vals[n++] = cg->unit;
	}
	return n;
}

/* ---- status ---- */

static const char *const counter_names[CNT__MAX] = {
	[CNT_SAMPLES] = "samples_taken",
	[CNT_RECORDED] = "samples_counted_in_kernel",
	[CNT_COUNTS_FULL] = "dropped_counts_map_full",
	[CNT_STACKS_FULL] = "stacks_lost_map_full",
	[CNT_STACK_COLLISION] = "stacks_lost_collision",
	[CNT_KSTACK_TRUNC] = "kernel_stacks_truncated",
	[CNT_USTACK_TRUNC] = "user_stacks_truncated",
	[CNT_KSTACK_ERR] = "kernel_stacks_unreadable",
	[CNT_USTACK_ERR] = "user_stacks_unreadable",
	[CNT_EVENTS_LOST] = "process_events_lost",
	[CNT_PROCS_FULL] = "process_table_full",
	[CNT_TARGETS_FULL] = "children_not_followed",
	[CNT_UNW_NO_TABLES] = "samples_before_unwind_tables",
	[CNT_UNW_UNSUPPORTED] = "stacks_cut_unsupported_rule",
	[CNT_UNW_FAILED] = "stacks_cut_unreadable_frame",
	[CNT_UNW_STALE] = "walks_met_new_code",
	[CNT_UNW_WALKED] = "stacks_walked_in_kernel",
	[CNT_COPIED] = "samples_sent_with_stack_copy",
	[CNT_COPIES_LOST] = "stack_copies_lost",
};

struct agent_stats {
	uint64_t windows_written;
	uint64_t windows_dropped;   /* could not be written */
	uint64_t disk_full;         /* of which: the disk was full */
	uint64_t samples;           /* samples in written windows */
	uint64_t samples_dropped;   /* samples in dropped windows */
	uint64_t windows_deleted;   /* by retention */
	uint64_t switch_timeouts;
	uint64_t stacks_lost;       /* referenced stacks missing at drain */
	uint64_t counters[CNT__MAX];
	uint64_t unknown_mapping, unresolved, no_process;
	uint64_t copies_cut;
	uint64_t sessions;          /* sampler (re)starts */
	uint64_t reloads;
	double last_window_ms;      /* time to cut, build and write it */
};

static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long size = 0, res = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

struct agent {
	struct agent_config cfg;
	const struct agent_config *flags;
	unsigned flags_set;
	const char *config_path;
	char host[256];

	struct store *store;
	struct pusher *push;
	struct session s;
	bool running;
	struct labeler lb;
	uint64_t counters_base[CNT__MAX]; /* at the session's last cut */

	int epfd, sigfd, timerfd;
	int64_t window_start_ns;   /* CLOCK_REALTIME */
	uint64_t started_ns, started_mono;
	struct agent_stats st;
	struct sym_stats sym;
	struct unwinder_stats unw;
	struct proctrack_stats procs;
};

static void write_status(struct agent *a)
{
	json_t *o = json_object(), *c = json_object(), *d = json_object();
	struct rusage ru;
	double cpu = 0, up = (double)(clock_ns(CLOCK_MONOTONIC) -
				      a->started_mono) / 1e9;
	char path[PATH_MAX], *text;
	int dfd;

	if (!getrusage(RUSAGE_SELF, &ru))
		cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "host", json_string(a->host));
	json_object_set_new(o, "started", json_integer((json_int_t)a->started_ns));
	json_object_set_new(o, "updated",
			    json_integer((json_int_t)clock_ns(CLOCK_REALTIME)));
	json_object_set_new(o, "uptime_s", json_real(up));
	json_object_set_new(o, "frequency_hz", json_integer(a->cfg.freq_hz));
	json_object_set_new(o, "window_s", json_real(a->cfg.window_s));
	json_object_set_new(o, "windows_written",
			    json_integer((json_int_t)a->st.windows_written));
	json_object_set_new(o, "windows_dropped",
			    json_integer((json_int_t)a->st.windows_dropped));
	json_object_set_new(o, "windows_dropped_disk_full",
			    json_integer((json_int_t)a->st.disk_full));
	json_object_set_new(o, "windows_deleted_by_retention",
			    json_integer((json_int_t)a->st.windows_deleted));
	json_object_set_new(o, "samples",
			    json_integer((json_int_t)a->st.samples));
	json_object_set_new(o, "samples_in_dropped_windows",
			    json_integer((json_int_t)a->st.samples_dropped));
	json_object_set_new(o, "store_windows",
			    json_integer((json_int_t)store_count(a->store)));
	json_object_set_new(o, "store_bytes",
			    json_integer((json_int_t)store_bytes(a->store)));
	json_object_set_new(o, "cpu_s", json_real(cpu));
	json_object_set_new(o, "cpu_share", json_real(up > 0 ? cpu / up : 0));
	json_object_set_new(o, "rss_bytes", json_integer((json_int_t)rss_bytes()));
	json_object_set_new(o, "max_rss_bytes",
			    json_integer((json_int_t)ru.ru_maxrss * 1024));
	json_object_set_new(o, "last_window_ms", json_real(a->st.last_window_ms));
	for (int i = 0; i < CNT__MAX; i++)
		if (counter_names[i])
			json_object_set_new(c, counter_names[i],
					    json_integer((json_int_t)a->st.counters[i]));
	json_object_set_new(o, "bpf", c);
	json_object_set_new(d, "stacks_lost_at_drain",
			    json_integer((json_int_t)a->st.stacks_lost));
	json_object_set_new(d, "samples_unknown_mapping",
			    json_integer((json_int_t)a->st.unknown_mapping));
	json_object_set_new(d, "samples_unresolved_frames",
			    json_integer((json_int_t)a->st.unresolved));
	json_object_set_new(d, "samples_of_unread_processes",
			    json_integer((json_int_t)a->st.no_process));
	json_object_set_new(d, "copied_stacks_cut",
			    json_integer((json_int_t)a->st.copies_cut));
	json_object_set_new(d, "processes_missed",
			    json_integer((json_int_t)a->procs.missed));
	json_object_set_new(d, "processes_forgotten",
			    json_integer((json_int_t)a->procs.freed));
	json_object_set_new(d, "unwind_tables_evicted",
			    json_integer((json_int_t)a->unw.evicted));
	json_object_set_new(d, "unwind_tables_no_room",
			    json_integer((json_int_t)a->unw.no_room));
	json_object_set_new(d, "symbol_objects_evicted",
			    json_integer((json_int_t)a->sym.objects_evicted));
	json_object_set_new(o, "symbol_cache_bytes",
			    json_integer((json_int_t)a->sym.cache_bytes));
	json_object_set_new(d, "window_switch_timeouts",
			    json_integer((json_int_t)a->st.switch_timeouts));
	json_object_set_new(o, "dropped", d);
	{
		json_t *u = json_object();

		json_object_set_new(u, "tables_loaded", json_integer((json_int_t)a->unw.tables));
		json_object_set_new(u, "rows_used", json_integer((json_int_t)a->unw.rows_used));
		json_object_set_new(u, "rows_peak", json_integer((json_int_t)a->unw.rows_peak));
		json_object_set_new(u, "rows_capacity", json_integer((json_int_t)a->unw.rows_capacity));
		json_object_set_new(u, "tables_evicted", json_integer((json_int_t)a->unw.evicted));
		json_object_set_new(o, "unwind", u);
	}
	json_object_set_new(o, "service", json_string(a->cfg.service));
	if (a->push) {
		struct push_stats ps;
		json_t *u = json_object();

		pusher_stats(a->push, &ps);
		json_object_set_new(u, "url", json_string(a->cfg.push_url));
		json_object_set_new(u, "windows_sent", json_integer((json_int_t)ps.sent));
		json_object_set_new(u, "uploads", json_integer((json_int_t)ps.parts));
		json_object_set_new(u, "attempts_failed",
				    json_integer((json_int_t)ps.attempts_failed));
		json_object_set_new(u, "windows_refused", json_integer((json_int_t)ps.refused));
		json_object_set_new(u, "windows_dropped_spool_full",
				    json_integer((json_int_t)ps.dropped_spool_full));
		json_object_set_new(u, "windows_dropped_unreadable",
				    json_integer((json_int_t)ps.dropped_unreadable));
		json_object_set_new(u, "windows_older_than_an_hour",
				    json_integer((json_int_t)ps.too_old));
		json_object_set_new(u, "spool_windows", json_integer((json_int_t)ps.spool_windows));
		json_object_set_new(u, "spool_bytes", json_integer((json_int_t)ps.spool_bytes));
		json_object_set_new(u, "last_success", json_integer((json_int_t)ps.last_success_ns));
		json_object_set_new(u, "last_error", json_string(ps.last_error));
		json_object_set_new(o, "push", u);
	}
	json_object_set_new(o, "sessions", json_integer((json_int_t)a->st.sessions));
	json_object_set_new(o, "reloads", json_integer((json_int_t)a->st.reloads));
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return;
	snprintf(path, sizeof(path), "%s", a->cfg.store);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		size_t len = strlen(text);

		text[len] = '\n'; /* json_dumps leaves room for the NUL */
		if (store_write_file(dfd, "status.json", text, len + 1))
			log_debug("cannot write the status file");
		close(dfd);
	}
	free(text);
}

/* ---- windows ---- */

static void add_counters(struct agent *a)
{
	uint64_t now[CNT__MAX];

	if (sampler_counters(a->s.sampler, now))
		return;
	for (int i = 0; i < CNT__MAX; i++) {
		a->st.counters[i] += now[i] - a->counters_base[i];
		a->counters_base[i] = now[i];
	}
}

/*
 * Close the window in progress: switch map sets, read the closed one
 * into a profile with labels, write it to the store, apply retention.
 */
static void cut_window(struct agent *a)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	int64_t end_ns;
	struct sampler_drain_stats ds;
	struct profbuild_stats bs;
	struct stackcopy_stats cs;
	struct profbuild *pb;
	struct profile *p;
	unsigned set;
	int err;

	err = sampler_switch_window(a->s.sampler, &set);
	end_ns = (int64_t)clock_ns(CLOCK_REALTIME);
	if (err == -ETIMEDOUT) {
		a->st.switch_timeouts++;
		log_warn("a CPU stayed in the sampling program for a second;"
			 " reading the window anyway");
	} else if (err) {
		log_err("cannot switch windows: %s", strerror(-err));
		return;
	}
	/* Every copy the closed set's samples sent, and every process they
	 * announced. */
	session_finish_set(&a->s, set);
	add_counters(a);

	a->lb.service = a->cfg.service; /* a reload may have replaced it */
	pb = profbuild_new(a->s.sym, a->s.procs, 1000000000ull / a->cfg.freq_hz);
	profbuild_set_labeler(pb, label_sample, &a->lb);
	err = session_collect(&a->s, set, true, pb, &ds);
	profbuild_stats(pb, &bs);
	p = profbuild_finish(pb);
	profbuild_free(pb);
	p->time_nanos = a->window_start_ns;
	p->duration_nanos = end_ns - a->window_start_ns;
	a->st.stacks_lost += ds.missing_stacks + ds.bad_stacks;
	a->st.unknown_mapping += bs.unknown_mapping;
	a->st.unresolved += bs.unresolved;
	a->st.no_process += bs.no_process;

	if (!err) {
		if (a->push)
			pusher_enqueue(a->push, p, a->window_start_ns, end_ns);
		err = store_write(a->store, p, a->window_start_ns, end_ns, 0, NULL);
		if (err == -ENOSPC || err == -EDQUOT) {
			a->st.disk_full++;
			log_warn("the disk is full: window dropped (%" PRIu64
				 " so far); deleting the oldest windows to make"
				 " room", a->st.disk_full);
			/* Make room for the next ones, oldest first. */
			if (store_count(a->store) > 1)
				store_retain(a->store, end_ns, 0,
					     store_bytes(a->store) * 9 / 10);
		}
	}
	if (err) {
		a->st.windows_dropped++;
		a->st.samples_dropped += bs.samples;
	} else {
		a->st.windows_written++;
		a->st.samples += bs.samples;
	}
	profile_free(p);
	a->window_start_ns = end_ns;

	err = store_retain(a->store, end_ns,
			   (int64_t)(a->cfg.retention_s * 1e9),
			   a->cfg.max_store_bytes);
	if (err > 0)
		a->st.windows_deleted += (uint64_t)err;

	/* Processes that ended before the previous cut have no samples left;
	 * symbols of objects not used lately go past the cache's cap. */
	proctrack_gc(a->s.procs);
	symbolizer_trim(a->s.sym, a->cfg.symbol_cache);
	if (a->s.unwinder)
		unwinder_gc(a->s.unwinder);
	if (a->s.copies)
		stackcopy_gc(a->s.copies);
	if (a->s.copies) {
		stackcopy_stats(a->s.copies, &cs);
		a->st.copies_cut = cs.cut;
	}
	proctrack_stats(a->s.procs, &a->procs);
	symbolizer_stats(a->s.sym, &a->sym);
	if (a->s.unwinder)
		unwinder_stats(a->s.unwinder, &a->unw);
	/* Building a window and tables frees as much as it takes: give it
	 * back, so the agent's memory is what it holds, not its peak. */
	malloc_trim(0);
	a->st.last_window_ms = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e6;
	log_debug("window: %" PRIu64 " samples, %.1f ms to write",
		  bs.samples, a->st.last_window_ms);
	write_status(a);
}

static int start_session(struct agent *a)
{
	struct sampler_opts so = {
		.freq_hz = a->cfg.freq_hz,
		.kernel_stacks = a->cfg.kernel_stacks,
		.user_stacks = a->cfg.user_stacks,
		.filter_targets = a->cfg.npids > 0,
		.dwarf_unwind = a->cfg.user_stacks && a->cfg.unwind == UNWIND_DWARF,
		.copy_stacks = !a->cfg.user_stacks ? COPY_NEVER :
			       a->cfg.unwind == UNWIND_DWARF ? COPY_NO_TABLES :
			       a->cfg.unwind == UNWIND_COPY ? COPY_ALWAYS :
							      COPY_NEVER,
		.cgroups = (const char *const *)a->cfg.cgroups,
		.ncgroups = a->cfg.ncgroups,
		.windows = true,
	};
	/* A window holds at most F x CPUs x seconds samples: size the maps
	 * (preallocated, two sets) for twice that, not for a long record. */
	double per_window = (double)a->cfg.freq_hz * a->cfg.window_s *
			    (double)sysconf(_SC_NPROCESSORS_CONF) * 2;
	uint32_t room = 1024;

	while (room < per_window && room < (1u << 20))
		room <<= 1;
	so.max_counts = room;
	so.max_stacks = room;
	/* Half a second of copies on every CPU, and rows for a typical host
	 * (evicted least recently used past that): the ring buffer and the
	 * rows are mapped into the agent, and count in its memory. */
	so.copy_burst = (uint32_t)(per_window / 2 / a->cfg.window_s / 2) + 16;
	so.unwind_rows = a->cfg.unwind_rows;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
	int err;

	if ((err = session_open(&a->s, &so)))
		return err;
	for (size_t i = 0; i < a->cfg.npids; i++)
		if ((err = sampler_add_target(a->s.sampler,
					      (uint32_t)a->cfg.pids[i]))) {
			log_err("cannot add process %d: %s", a->cfg.pids[i],
				strerror(-err));
			goto fail;
		}
	if ((err = session_start(&a->s)))
		goto fail;
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, session_fd(&a->s), &ev)) {
		err = -errno;
		goto fail;
	}
	memset(a->counters_base, 0, sizeof(a->counters_base));
	a->lb.procs = a->s.procs;
	a->window_start_ns = (int64_t)clock_ns(CLOCK_REALTIME);
	a->running = true;
	a->st.sessions++;
	log_info("sampling %u CPUs at %u Hz in %g s windows into '%s'",
		 sampler_ncpus(a->s.sampler), a->cfg.freq_hz, a->cfg.window_s,
		 a->cfg.store);
	return 0;
fail:
	session_close(&a->s);
	return err;
}

static void stop_session(struct agent *a)
{
	if (!a->running)
		return;
	/* Stopped first: the last window then holds every sample taken. */
	sampler_stop(a->s.sampler);
	cut_window(a);
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, session_fd(&a->s), NULL);
	session_close(&a->s);
	a->running = false;
}

static int arm_timer(struct agent *a)
{
	double w = a->cfg.window_s;
	struct itimerspec its = {
		.it_value.tv_sec = (time_t)w,
		.it_value.tv_nsec = (long)((w - (double)(time_t)w) * 1e9),
	};

	its.it_interval = its.it_value;
	return timerfd_settime(a->timerfd, 0, &its, NULL) ? -errno : 0;
}

/* Sampling settings differ: the sampler must be opened again. */
static bool sampling_changed(const struct agent_config *x,
			     const struct agent_config *y)
{
	if (x->freq_hz != y->freq_hz || x->unwind != y->unwind ||
	    x->unwind_rows != y->unwind_rows ||
	    x->kernel_stacks != y->kernel_stacks ||
	    x->user_stacks != y->user_stacks || x->npids != y->npids ||
	    x->ncgroups != y->ncgroups)
		return true;
	for (size_t i = 0; i < x->npids; i++)
		if (x->pids[i] != y->pids[i])
			return true;
	for (size_t i = 0; i < x->ncgroups; i++)
		if (strcmp(x->cgroups[i], y->cgroups[i]))
			return true;
	return false;
}

/* Start sending windows when configured. 0 or -errno (logged). */
static int start_push(struct agent *a)
{
	struct push_opts po = { .url = a->cfg.push_url,
				.spool_max = a->cfg.push_spool_bytes };
	char spool[PATH_MAX], series[600], *token = NULL;
	int err;

	if (!a->cfg.push_url)
		return 0;
	if (a->cfg.push_token_file &&
	    !(token = token_read(a->cfg.push_token_file, 1)))
		return -EINVAL;
	snprintf(spool, sizeof(spool), "%s/" PUSH_SPOOL_DIR, a->cfg.store);
	snprintf(series, sizeof(series), "%s{host=\"%s\"}", a->cfg.service,
		 a->host);
	po.token = token;
	po.spool_dir = spool;
	po.series = series;
	err = pusher_new(&po, &a->push);
	free(token);
	if (!err)
		log_info("pushing windows to %s as %s", a->cfg.push_url, series);
	return err;
}

static bool push_changed(const struct agent_config *x,
			 const struct agent_config *y)
{
	return !!x->push_url != !!y->push_url ||
	       (x->push_url && strcmp(x->push_url, y->push_url)) ||
	       !!x->push_token_file != !!y->push_token_file ||
	       (x->push_token_file &&
		strcmp(x->push_token_file, y->push_token_file)) ||
	       x->push_spool_bytes != y->push_spool_bytes ||
	       strcmp(x->service, y->service);
}

static void reload(struct agent *a)
{
	struct agent_config next, pushed;

	a->st.reloads++;
	if (!a->config_path) {
		log_info("SIGHUP: no config file to read again");
		return;
	}
	agent_config_init(&next);
	config_take(&next, &a->cfg, ~0u);
	if (agent_config_load(&next, a->config_path, a->flags_set)) {
		log_warn("config '%s' not applied; going on as before",
			 a->config_path);
		agent_config_release(&next);
		return;
	}
	if (strcmp(next.store, a->cfg.store))
		log_warn("the store cannot change while running (restart the"
			 " agent); still writing to '%s'", a->cfg.store);
	config_take(&next, &a->cfg, AK_STORE);
	agent_config_init(&pushed);
	config_take(&pushed, &a->cfg, ~0u);
	if (sampling_changed(&next, &a->cfg)) {
		struct agent_config old = a->cfg;

		stop_session(a);
		a->cfg = next;
		if (start_session(a)) {
			log_warn("the new settings do not sample; going back"
				 " to the previous ones");
			a->cfg = old;
			agent_config_release(&next);
			agent_config_release(&pushed);
			if (start_session(a))
				log_err("cannot sample any more");
			return;
		}
		agent_config_release(&old);
	} else {
		agent_config_release(&a->cfg);
		a->cfg = next;
	}
	if (push_changed(&a->cfg, &pushed)) {
		pusher_free(a->push);
		a->push = NULL;
		if (start_push(a))
			log_warn("windows are not pushed until the push settings"
				 " work");
	}
	agent_config_release(&pushed);
	if (arm_timer(a))
		log_warn("cannot set the window timer: %s", strerror(errno));
	log_info("config '%s' read: %u Hz, %g s windows", a->config_path,
		 a->cfg.freq_hz, a->cfg.window_s);
	write_status(a);
}

/* Objects are kept open so that exited processes still resolve. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int agent_run(const struct agent_config *flags, unsigned flags_set,
	      const char *config_path)
{
	struct agent *a = xcalloc(1, sizeof(*a));
	struct epoll_event ev;
	bool busy = false, done = false;
	sigset_t mask;
	int err;

	a->flags = flags;
	a->flags_set = flags_set;
	a->config_path = config_path;
	a->epfd = a->sigfd = a->timerfd = -1;
	agent_config_init(&a->cfg);
	if (config_path && (err = agent_config_load(&a->cfg, config_path,
						    flags_set)))
		goto out;
	config_take(&a->cfg, flags, flags_set);
	if (a->cfg.hostname)
		snprintf(a->host, sizeof(a->host), "%s", a->cfg.hostname);
	else if (gethostname(a->host, sizeof(a->host) - 1))
		snprintf(a->host, sizeof(a->host), "unknown");
	a->lb.host = a->host;
	a->lb.cgi = cgroupinfo_new(NULL);
	raise_fd_limit();
	a->started_ns = clock_ns(CLOCK_REALTIME);
	a->started_mono = clock_ns(CLOCK_MONOTONIC);

	if ((err = store_open(a->cfg.store, true, &a->store)))
		goto out;
	{
		struct store_repair r;

		store_repair_stats(a->store, &r);
		if (r.bad_lines || r.missing_files || r.unindexed ||
		    r.unreadable || r.temp_removed)
			log_warn("store '%s' repaired: %" PRIu64 " torn index"
				 " lines, %" PRIu64 " lines without a file,"
				 " %" PRIu64 " windows indexed again, %" PRIu64
				 " unreadable windows, %" PRIu64 " temporary"
				 " files removed", a->cfg.store, r.bad_lines,
				 r.missing_files, r.unindexed, r.unreadable,
				 r.temp_removed);
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	a->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->sigfd < 0 || a->epfd < 0 || a->timerfd < 0) {
		err = -errno;
		log_err("cannot set up the event loop: %s", strerror(-err));
		goto out;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 2 };
	epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->sigfd, &ev);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 3 };
	epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->timerfd, &ev);

	/* After the signal mask: the push thread inherits it. */
	if ((err = start_push(a)))
		goto out;
	if ((err = start_session(a)))
		goto out;
	if ((err = arm_timer(a))) {
		log_err("cannot set the window timer: %s", strerror(-err));
		goto out;
	}
	write_status(a);

	while (!done) {
		struct epoll_event evs[8];
		int n = epoll_wait(a->epfd, evs, 8, busy ? 0 : -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			log_err("epoll_wait: %s", strerror(-err));
			break;
		}
		if (!n && busy && a->running)
			busy = session_work(&a->s);
		for (int i = 0; i < n && !done; i++) {
			uint32_t tag = evs[i].data.u32;

			if (tag == 1 && a->running) {
				busy = session_events(&a->s, false);
			} else if (tag == 3) {
				uint64_t ticks;

				if (read(a->timerfd, &ticks, sizeof(ticks)) < 0)
					continue;
				if (a->running)
					cut_window(a);
			} else if (tag == 2) {
				struct signalfd_siginfo si;

				if (read(a->sigfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					if (a->running)
						cut_window(a);
					reload(a);
				} else if (si.ssi_signo != SIGPIPE) {
					log_info("signal %d: writing the last"
						 " window", (int)si.ssi_signo);
					done = true;
				}
			}
		}
	}
	stop_session(a);
	/* A moment for the last window to go out; what does not stays in
	 * the spool for the next start. */
	if (a->push && !pusher_flush(a->push, 3000))
		log_info("push: windows left in the spool are sent at the next"
			 " start");
	write_status(a);
	log_info("stopped: %" PRIu64 " windows written, %" PRIu64
		 " dropped, %" PRIu64 " samples", a->st.windows_written,
		 a->st.windows_dropped, a->st.samples);
	err = 0;
out:
	if (a->running)
		session_close(&a->s);
	pusher_free(a->push);
	labeler_release(&a->lb);
	store_close(a->store);
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->sigfd >= 0)
		close(a->sigfd);
	if (a->timerfd >= 0)
		close(a->timerfd);
	agent_config_release(&a->cfg);
	free(a);
	return err;
}

int agent_print_status(const char *dir)
{
	char path[PATH_MAX], lock[PATH_MAX];
	json_error_t jerr;
	json_t *o, *v;
	const char *k;
	bool alive = false;
	int fd;

	snprintf(path, sizeof(path), "%s/status.json", dir);
	o = json_load_file(path, 0, &jerr);
	if (!o) {
		log_err("no agent status in '%s': %s", dir, jerr.text);
		return -ENOENT;
	}
	/* The agent holds the store's lock while it runs. */
	snprintf(lock, sizeof(lock), "%s/lock", dir);
	fd = open(lock, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		alive = flock(fd, LOCK_SH | LOCK_NB) != 0;
		close(fd);
	}
	printf("agent:       %s (pid %" JSON_INTEGER_FORMAT ")\n",
	       alive ? "running" : "not running",
	       json_integer_value(json_object_get(o, "pid")));
	printf("host:        %s\n", json_string_value(json_object_get(o, "host")));
	printf("uptime:      %.0f s\n",
	       json_number_value(json_object_get(o, "uptime_s")));
	printf("sampling:    %" JSON_INTEGER_FORMAT " Hz, %.0f s windows\n",
	       json_integer_value(json_object_get(o, "frequency_hz")),
	       json_number_value(json_object_get(o, "window_s")));
	printf("windows:     %" JSON_INTEGER_FORMAT " written, %"
	       JSON_INTEGER_FORMAT " dropped (%" JSON_INTEGER_FORMAT
	       " disk full), %" JSON_INTEGER_FORMAT " deleted by retention\n",
	       json_integer_value(json_object_get(o, "windows_written")),
	       json_integer_value(json_object_get(o, "windows_dropped")),
	       json_integer_value(json_object_get(o, "windows_dropped_disk_full")),
	       json_integer_value(json_object_get(o, "windows_deleted_by_retention")));
	printf("samples:     %" JSON_INTEGER_FORMAT "\n",
	       json_integer_value(json_object_get(o, "samples")));
	printf("store:       %" JSON_INTEGER_FORMAT " windows, %.1f MiB\n",
	       json_integer_value(json_object_get(o, "store_windows")),
	       (double)json_integer_value(json_object_get(o, "store_bytes")) /
		       (1 << 20));
	printf("agent cost:  %.3f s CPU (%.3f%% of one CPU), RSS %.1f MiB"
	       " (peak %.1f MiB)\n",
	       json_number_value(json_object_get(o, "cpu_s")),
	       100 * json_number_value(json_object_get(o, "cpu_share")),
	       (double)json_integer_value(json_object_get(o, "rss_bytes")) /
		       (1 << 20),
	       (double)json_integer_value(json_object_get(o, "max_rss_bytes")) /
		       (1 << 20));
	printf("drops and counts:\n");
	json_object_foreach(json_object_get(o, "bpf"), k, v)
		printf("  %-36s %" JSON_INTEGER_FORMAT "\n", k,
		       json_integer_value(v));
	json_object_foreach(json_object_get(o, "dropped"), k, v)
		printf("  %-36s %" JSON_INTEGER_FORMAT "\n", k,
		       json_integer_value(v));
	json_decref(o);
	return fflush(stdout) ? -errno : 0;
}
