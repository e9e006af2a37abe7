/* SPDX-License-Identifier: MIT */
#include "sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../lib/clock.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/xalloc.h"
#include "profile.skel.h"
#include "stackhash.h"

struct sampler {
	struct sampler_opts opts;
	struct profile_bpf *skel;
	struct ring_buffer *rb;
	int *perf_fds;
	struct bpf_link **links;
	unsigned ncpus;
	struct bpf_link *tp_links[5];
	bool running;

	struct unw_row *rows; /* unw_rows, mapped */
	size_t rows_bytes;
	uint32_t rows_cap;

	/* Set for the duration of one sampler_poll call. */
	sampler_event_fn event_fn;
	sampler_copy_fn copy_fn;
	void *event_ctx;
	unsigned polled_copies;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* libbpf's warnings explain failures we report ourselves; keep them
	 * for -v so a plain run prints one line per problem. */
	log_vmsg(level == LIBBPF_DEBUG ? LOG_DEBUG : LOG_INFO, fmt, ap);
	return 0;
}

void sampler_setup_logging(void)
{
	libbpf_set_print(libbpf_print);
}

static int on_ringbuf(void *ctx, void *data, size_t size)
{
	struct sampler *s = ctx;
	const __u32 *type = data;

	if (size >= sizeof(struct sm_stack_copy) && *type == SM_STACK_COPY) {
		if (s->copy_fn)
			s->copy_fn(data, size, s->event_ctx);
		/* Copies can arrive as fast as they are read: hand back a
		 * batch at a time, so the caller's loop keeps turning. The
		 * record is consumed all the same. */
		if (++s->polled_copies >= SAMPLER_COPY_BATCH)
			return -EAGAIN;
		return 0;
	}
	if (size < sizeof(struct sm_proc_event) || !s->event_fn)
		return 0;
	s->event_fn(data, s->event_ctx);
	return 0;
}

int sampler_open(const struct sampler_opts *opts, struct sampler **out)
{
	struct sampler *s = xcalloc(1, sizeof(*s));
	int err;

	s->opts = *opts;
	s->skel = profile_bpf__open();
	if (!s->skel) {
		err = -errno;
		log_err("cannot open the BPF program: %s", strerror(-err));
		goto fail;
	}
	s->skel->rodata->collect_kernel = opts->kernel_stacks;
	s->skel->rodata->collect_user = opts->user_stacks;
	s->skel->rodata->filter_targets = opts->filter_targets;
	s->skel->rodata->follow_children = opts->follow_children;
	if (opts->max_stacks) {
		bpf_map__set_max_entries(s->skel->maps.stacks, opts->max_stacks);
		bpf_map__set_max_entries(s->skel->maps.stacks2, opts->max_stacks);
	}
	if (opts->max_counts) {
		bpf_map__set_max_entries(s->skel->maps.counts, opts->max_counts);
		bpf_map__set_max_entries(s->skel->maps.counts2, opts->max_counts);
	}
	if (opts->ncgroups > SM_MAX_CGROUPS) {
		log_err("at most %d cgroups can be sampled", SM_MAX_CGROUPS);
		err = -E2BIG;
		goto fail;
	}
	s->skel->rodata->ncgroups = (__u32)opts->ncgroups;
	if (!opts->filter_targets) /* preallocated: room costs time and memory */
		bpf_map__set_max_entries(s->skel->maps.targets, 1);
	s->skel->rodata->dwarf_unwind = opts->dwarf_unwind;
	s->skel->rodata->copy_stacks = opts->copy_stacks;
	s->skel->rodata->self_tgid = (__u32)getpid();
	if (opts->copy_stacks) {
		uint32_t bytes = opts->copy_bytes ? opts->copy_bytes : 16384;

		s->skel->rodata->copy_bytes = bytes;
		/* Room for a burst of copies: copy_burst of them (256 by
		 * default, at least 4 MiB), a power of two. */
		size_t burst = opts->copy_burst ? opts->copy_burst : 256;
		size_t rb = opts->copy_burst ? 256u << 10 : 4u << 20;

		while (rb < burst * (bytes + 4096 + sizeof(struct sm_stack_copy)))
			rb <<= 1;
		bpf_map__set_max_entries(s->skel->maps.events, (uint32_t)rb);
	}
	if (opts->dwarf_unwind) {
		s->rows_cap = opts->unwind_rows ? opts->unwind_rows
						: SAMPLER_DEFAULT_UNWIND_ROWS;
		bpf_map__set_max_entries(s->skel->maps.unw_rows, s->rows_cap);
		if (opts->max_stacks) {
			bpf_map__set_max_entries(s->skel->maps.ustacks,
						 opts->max_stacks);
			bpf_map__set_max_entries(s->skel->maps.ustacks2,
						 opts->max_stacks);
		}
	} else {
		bpf_map__set_max_entries(s->skel->maps.ustacks, 1);
		bpf_map__set_max_entries(s->skel->maps.ustacks2, 1);
		bpf_map__set_max_entries(s->skel->maps.unw_procs, 1);
	}
	if (!opts->windows) {
		/* One set of maps is all a single recording uses. */
		bpf_map__set_max_entries(s->skel->maps.counts2, 1);
		bpf_map__set_max_entries(s->skel->maps.stacks2, 1);
		bpf_map__set_max_entries(s->skel->maps.ustacks2, 1);
	}
	bpf_program__set_autoload(s->skel->progs.on_fork, opts->follow_children);
	bpf_program__set_autoload(s->skel->progs.on_mmap_enter, opts->user_stacks);
	bpf_program__set_autoload(s->skel->progs.on_mmap_exit, opts->user_stacks);

	err = profile_bpf__load(s->skel);
	if (err) {
		log_err("cannot load the BPF program: %s (run with -v for the"
			" verifier's log)", strerror(-err));
		goto fail;
	}
	if (opts->dwarf_unwind) {
		long page = sysconf(_SC_PAGESIZE);

		s->rows_bytes = ((size_t)s->rows_cap * sizeof(struct unw_row) +
				 (size_t)page - 1) & ~((size_t)page - 1);
		s->rows = mmap(NULL, s->rows_bytes, PROT_READ | PROT_WRITE,
			       MAP_SHARED, bpf_map__fd(s->skel->maps.unw_rows), 0);
		if (s->rows == MAP_FAILED) {
			err = -errno;
			s->rows = NULL;
			log_err("cannot map the unwind table map: %s",
				strerror(-err));
			goto fail;
		}
	}
	for (size_t i = 0; i < opts->ncgroups; i++) {
		__u32 k = (__u32)i;
		int fd = open(opts->cgroups[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0 || bpf_map_update_elem(bpf_map__fd(s->skel->maps.cgroup_filter),
						  &k, &fd, BPF_ANY)) {
			err = -errno;
			log_err("cannot sample cgroup '%s': %s", opts->cgroups[i],
				strerror(-err));
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		close(fd); /* the map holds the cgroup */
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_ringbuf,
				 s, NULL);
	if (!s->rb) {
		err = -errno;
		log_err("cannot set up the BPF ring buffer: %s", strerror(-err));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	sampler_free(s);
	return err < 0 ? err : -EINVAL;
}

int sampler_add_target(struct sampler *s, uint32_t tgid)
{
	__u8 one = 1;

	if (bpf_map__update_elem(s->skel->maps.targets, &tgid, sizeof(tgid),
				 &one, sizeof(one), BPF_ANY))
		return -errno;
	return 0;
}

/* Parse a CPU list such as "0-3,8,10-11" into a bitmap of `max` bits. */
static int parse_cpu_list(const char *text, bool *cpus, unsigned max)
{
	const char *p = text;

	while (*p && *p != '\n') {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p)
			return -EINVAL;
		p = end;
		if (*p == '-') {
			b = strtoul(p + 1, &end, 10);
			if (end == p + 1 || b < a)
				return -EINVAL;
			p = end;
		}
		for (unsigned long c = a; c <= b && c < max; c++)
			cpus[c] = true;
		if (*p == ',')
			p++;
	}
	return 0;
}

static long read_sysctl_long(const char *path)
{
	char buf[64];
	long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static int open_cpu_clock(unsigned cpu, unsigned freq)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.freq = 1,
		.sample_freq = freq,
	};
	long fd = syscall(__NR_perf_event_open, &attr, -1, (int)cpu, -1,
			  PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

static int attach_tp(struct sampler *s, struct bpf_program *prog, int slot)
{
	s->tp_links[slot] = bpf_program__attach(prog);
	if (!s->tp_links[slot]) {
		int err = -errno;

		log_err("cannot attach to tracepoint '%s': %s",
			bpf_program__section_name(prog), strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Syscall tracepoints are found through tracefs, which a minimal system may
 * not have mounted; mount it where libbpf looks, as perf does.
 */
static void ensure_tracefs(void)
{
	struct stat st;

	if (!stat("/sys/kernel/tracing/events", &st) ||
	    !stat("/sys/kernel/debug/tracing/events", &st))
		return;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
		log_debug("cannot mount tracefs on /sys/kernel/tracing: %s",
			  strerror(errno));
}

/* Optional: without it, code mapped after a process is first sampled
 * resolves only if the process still lives when sampling ends. */
static void attach_mmap_tracking(struct sampler *s)
{
	ensure_tracefs();
	s->tp_links[3] = bpf_program__attach(s->skel->progs.on_mmap_enter);
	s->tp_links[4] = s->tp_links[3] ?
		bpf_program__attach(s->skel->progs.on_mmap_exit) : NULL;
	if (!s->tp_links[4]) {
		log_warn("cannot trace mmap (%s): code loaded by processes"
			 " that exit before sampling ends may stay unresolved",
			 strerror(errno));
		bpf_link__destroy(s->tp_links[3]);
		s->tp_links[3] = NULL;
	}
}

int sampler_start(struct sampler *s)
{
	enum { MAX_CPUS = 8192 };
	bool *online = xcalloc(MAX_CPUS, sizeof(*online));
	char buf[4096] = "";
	long max_rate;
	unsigned n = 0;
	FILE *f;
	int err = 0;

	/* Process tracking first, so no process is sampled unannounced. */
	if ((err = attach_tp(s, s->skel->progs.on_exec, 0)) ||
	    (err = attach_tp(s, s->skel->progs.on_exit, 1)))
		goto out;
	if (s->opts.follow_children &&
	    (err = attach_tp(s, s->skel->progs.on_fork, 2)))
		goto out;
	if (s->opts.user_stacks)
		attach_mmap_tracking(s);

	f = fopen("/sys/devices/system/cpu/online", "re");
	if (!f || !fgets(buf, sizeof(buf), f) ||
	    parse_cpu_list(buf, online, MAX_CPUS)) {
		err = -EIO;
		log_err("cannot read the online CPUs from"
			" '/sys/devices/system/cpu/online'");
		if (f)
			fclose(f);
		goto out;
	}
	fclose(f);

	max_rate = read_sysctl_long("/proc/sys/kernel/perf_event_max_sample_rate");
	if (max_rate > 0 && (long)s->opts.freq_hz > max_rate) {
		err = -EINVAL;
		log_err("-F %u exceeds kernel.perf_event_max_sample_rate (%ld):"
			" lower -F, or raise the sysctl", s->opts.freq_hz,
			max_rate);
		goto out;
	}

	s->perf_fds = xcalloc(MAX_CPUS, sizeof(*s->perf_fds));
	s->links = xcalloc(MAX_CPUS, sizeof(*s->links));
	for (unsigned cpu = 0; cpu < MAX_CPUS; cpu++) {
		int fd;

		if (!online[cpu])
			continue;
		fd = open_cpu_clock(cpu, s->opts.freq_hz);
		if (fd == -ENODEV)
			continue; /* went offline since we read the list */
		if (fd < 0) {
			err = fd;
			log_err("cannot open a cpu-clock perf event on CPU %u: %s%s",
				cpu, strerror(-err),
				err == -EACCES || err == -EPERM ?
					" (needs root or CAP_PERFMON)" : "");
			goto out;
		}
		s->links[n] = bpf_program__attach_perf_event(s->skel->progs.on_sample, fd);
		if (!s->links[n]) {
			err = -errno;
			close(fd);
			log_err("cannot attach the BPF program to CPU %u: %s",
				cpu, strerror(-err));
			goto out;
		}
		s->perf_fds[n++] = fd;
		s->ncpus = n;
	}
	if (!n) {
		err = -ENODEV;
		log_err("no online CPU could be sampled");
		goto out;
	}
	s->running = true;
out:
	free(online);
	if (err)
		sampler_stop(s);
	return err;
}

void sampler_stop(struct sampler *s)
{
	for (unsigned i = 0; i < s->ncpus; i++) {
		bpf_link__destroy(s->links[i]);
		close(s->perf_fds[i]);
	}
	free(s->links);
	free(s->perf_fds);
	s->links = NULL;
	s->perf_fds = NULL;
	s->running = false;
	/* The process tracepoints stay: events for processes sampled before
	 * the stop still arrive until sampler_free. */
}

unsigned sampler_ncpus(const struct sampler *s)
{
	return s->ncpus;
}

int sampler_events_fd(const struct sampler *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

int sampler_poll(struct sampler *s, sampler_event_fn fn,
		 sampler_copy_fn copy_fn, void *ctx)
{
	int n;

	s->event_fn = fn;
	s->copy_fn = copy_fn;
	s->event_ctx = ctx;
	s->polled_copies = 0;
	n = ring_buffer__consume(s->rb);
	s->event_fn = NULL;
	s->copy_fn = NULL;
	s->event_ctx = NULL;
	if (n == -EAGAIN)
		return 1;
	return n < 0 ? n : 0;
}

int sampler_poll_wait(struct sampler *s, int timeout_ms, sampler_event_fn fn,
		      sampler_copy_fn copy_fn, void *ctx)
{
	int n;

	s->event_fn = fn;
	s->copy_fn = copy_fn;
	s->event_ctx = ctx;
	s->polled_copies = 0;
	n = ring_buffer__poll(s->rb, timeout_ms);
	s->event_fn = NULL;
	s->copy_fn = NULL;
	s->event_ctx = NULL;
	if (n == -EAGAIN)
		return 1;
	return n < 0 && n != -EINTR ? n : 0;
}

int sampler_add_wake_fd(struct sampler *s, int fd)
{
	/* ring_buffer__poll takes each ready event's data as a ring index:
	 * 0, whose ring is then consumed once more, harmlessly. */
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = 0 };

	return epoll_ctl(ring_buffer__epoll_fd(s->rb), EPOLL_CTL_ADD, fd, &ev)
		       ? -errno : 0;
}

struct unw_row *sampler_unw_rows(struct sampler *s, uint32_t *capacity)
{
	*capacity = s->rows ? s->rows_cap : 0;
	return s->rows;
}

int sampler_unw_set_proc(struct sampler *s, uint32_t tgid,
			 const struct unw_proc *p)
{
	if (bpf_map__update_elem(s->skel->maps.unw_procs, &tgid, sizeof(tgid),
				 p, sizeof(*p), BPF_ANY))
		return -errno;
	return 0;
}

int sampler_unw_del_proc(struct sampler *s, uint32_t tgid)
{
	if (bpf_map__delete_elem(s->skel->maps.unw_procs, &tgid, sizeof(tgid), 0))
		return -errno;
	return 0;
}

int sampler_counters(struct sampler *s, uint64_t out[CNT__MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	int fd = bpf_map__fd(s->skel->maps.counters);

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = xcalloc((size_t)ncpu, sizeof(*vals));
	for (__u32 k = 0; k < CNT__MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			int err = -errno;

			free(vals);
			return err;
		}
		for (int c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

struct cached_stack {
	uint64_t hash;
	uint32_t len;
	__u64 *ip; /* NULL: absent or corrupt */
};

struct stack_cache {
	struct hmap idx;
	struct cached_stack *ents;
	size_t n, alloc;
};

/*
 * Read the stack stored under hash `h` in the map at `fd`, whose values
 * are `{ __u32 len; __u32 pad; __u64 ip[depth]; }`, and check it against
 * its key. Returns its length with *value set (caller frees; the frames
 * are 8 bytes in), -ENOENT when it is not stored, or -EBADMSG when it
 * does not match its hash.
 */
static int read_stack(int fd, uint32_t depth, uint64_t h, uint32_t **value)
{
	uint32_t *buf = xmalloc(8 + (size_t)depth * sizeof(__u64));
	const __u64 *ip = (const __u64 *)(buf + 2);
	uint64_t check = STACKHASH_SEED;

	if (bpf_map_lookup_elem(fd, &h, buf)) {
		free(buf);
		return -ENOENT;
	}
	if (buf[0] <= depth) {
		for (uint32_t i = 0; i < buf[0]; i++)
			check = stackhash_mix(check, ip[i]);
		if (stackhash_finish(check, buf[0]) == h) {
			*value = buf;
			return (int)buf[0];
		}
	}
	free(buf);
	return -EBADMSG;
}

/* The stack under hash `h` in the map at `fd`, read once. */
static const struct cached_stack *get_stack(struct stack_cache *c, int fd,
					    uint32_t depth, uint64_t h,
					    struct sampler_drain_stats *st)
{
	struct cached_stack e = { .hash = h };
	uint32_t *buf;
	size_t pos;
	int len;

	for (uint32_t i = hmap_first(&c->idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&c->idx, h, &pos))
		if (c->ents[i].hash == h)
			return &c->ents[i];
	len = read_stack(fd, depth, h, &buf);
	if (len == -ENOENT) {
		st->missing_stacks++;
	} else {
		st->stacks++;
		if (len < 0) {
			st->bad_stacks++;
		} else {
			e.len = (uint32_t)len;
			e.ip = (__u64 *)(buf + 2);
		}
	}
	ALLOC_GROW(c->ents, c->n + 1, c->alloc);
	c->ents[c->n] = e;
	hmap_insert(&c->idx, h, (uint32_t)c->n);
	return &c->ents[c->n++];
}

static void release_cache(struct stack_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->ents[i].ip)
			free((char *)c->ents[i].ip - 8);
	free(c->ents);
	hmap_release(&c->idx);
}

/* Map set `set`'s copy of a map. */
static struct bpf_map *pick(unsigned set, struct bpf_map *m0,
			    struct bpf_map *m1)
{
	return set ? m1 : m0;
}

int sampler_kernel_stack_in(struct sampler *s, unsigned set, uint64_t hash,
			    __u64 *ip)
{
	uint32_t *buf;
	int len = read_stack(bpf_map__fd(pick(set, s->skel->maps.stacks,
						     s->skel->maps.stacks2)),
			     MAX_STACK_DEPTH, hash, &buf);

	if (len < 0)
		return len;
	memcpy(ip, buf + 2, (size_t)len * sizeof(*ip));
	free(buf);
	return len;
}

int sampler_kernel_stack(struct sampler *s, uint64_t hash, __u64 *ip)
{
	return sampler_kernel_stack_in(s, 0, hash, ip);
}

/* Delete every key of a hash map (keys of `ksize` bytes). */
static int clear_map(int fd, size_t ksize)
{
	uint8_t *keys = NULL;
	size_t n = 0, alloc = 0;
	uint8_t *prev = NULL, *next = xmalloc(ksize);
	int err;

	/* Collect first: deleting while walking restarts the walk. */
	while (!(err = bpf_map_get_next_key(fd, prev, next))) {
		ALLOC_GROW(keys, (n + 1) * ksize, alloc);
		memcpy(keys + n * ksize, next, ksize);
		prev = keys + n * ksize;
		n++;
	}
	free(next);
	if (err != -ENOENT) {
		free(keys);
		return err;
	}
	err = 0;
	if (n) {
		__u32 count = (__u32)n;

		if (bpf_map_delete_batch(fd, keys, &count, NULL)) {
			/* Older kernels: one at a time. */
			err = 0;
			for (size_t i = 0; i < n; i++)
				if (bpf_map_delete_elem(fd, keys + i * ksize) &&
				    errno != ENOENT)
					err = -errno;
		}
	}
	free(keys);
	return err;
}

static int drain_set(struct sampler *s, unsigned set, sampler_sample_fn fn,
		     void *ctx, struct sampler_drain_stats *stats)
{
	int fd = bpf_map__fd(pick(set, s->skel->maps.counts,
				     s->skel->maps.counts2));
	int kfd = bpf_map__fd(pick(set, s->skel->maps.stacks,
				      s->skel->maps.stacks2));
	int ufd = bpf_map__fd(pick(set, s->skel->maps.ustacks,
				      s->skel->maps.ustacks2));
	struct stack_cache kcache = { 0 }, ucache = { 0 };
	struct sample_key key, next;
	void *prev = NULL;
	int err;

	memset(stats, 0, sizeof(*stats));
	while (!(err = bpf_map_get_next_key(fd, prev, &next))) {
		struct sampler_sample smp = { .key = &key };
		const struct cached_stack *t;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &smp.count))
			continue; /* cannot vanish while stopped; be safe */
		stats->keys++;
		if (key.kstack && (t = get_stack(&kcache, kfd, MAX_STACK_DEPTH,
						 key.kstack, stats)) && t->ip) {
			smp.kstack = t->ip;
			smp.kstack_len = t->len;
		}
		if (key.ustack && (key.flags & SAMPLE_USTACK_DWARF))
			t = get_stack(&ucache, ufd, MAX_USTACK_DEPTH, key.ustack,
				      stats);
		else if (key.ustack)
			t = get_stack(&kcache, kfd, MAX_STACK_DEPTH, key.ustack,
				      stats);
		else
			t = NULL;
		if (t && t->ip) {
			smp.ustack = t->ip;
			smp.ustack_len = t->len;
		}
		fn(&smp, ctx);
	}
	err = err == -ENOENT ? 0 : err;
	release_cache(&kcache);
	release_cache(&ucache);
	return err;
}

int sampler_drain(struct sampler *s, sampler_sample_fn fn, void *ctx,
		  struct sampler_drain_stats *stats)
{
	return drain_set(s, 0, fn, ctx, stats);
}

int sampler_drain_window(struct sampler *s, unsigned set,
			 sampler_sample_fn fn, void *ctx,
			 struct sampler_drain_stats *stats)
{
	int err = drain_set(s, set, fn, ctx, stats), e;

	/* Emptied even after an error: the set is used again next window. */
	e = clear_map(bpf_map__fd(pick(set, s->skel->maps.counts,
					  s->skel->maps.counts2)),
		      sizeof(struct sample_key));
	err = err ? err : e;
	e = clear_map(bpf_map__fd(pick(set, s->skel->maps.stacks,
					  s->skel->maps.stacks2)),
		      sizeof(__u64));
	err = err ? err : e;
	if (s->opts.dwarf_unwind) {
		e = clear_map(bpf_map__fd(pick(set, s->skel->maps.ustacks,
						  s->skel->maps.ustacks2)),
			      sizeof(__u64));
		err = err ? err : e;
	}
	return err;
}

/* How long a CPU may seem to stay inside the sampling program. */
#define SWITCH_WAIT_NS 1000000000ull

int sampler_switch_window(struct sampler *s, unsigned *closed)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(s->skel->maps.running);
	uint64_t *seen, *now, t0;
	__u32 zero = 0;
	unsigned old;
	int err = 0;

	if (!s->opts.windows)
		return -EINVAL;
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	old = __atomic_load_n(&s->skel->bss->window, __ATOMIC_RELAXED) & 1;
	/* The store, then a full fence, then the reads of `running`: the
	 * program's side is a locked add, then its read of `window`. */
	__atomic_store_n(&s->skel->bss->window, old ^ 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*closed = old;

	seen = xcalloc((size_t)ncpu, sizeof(*seen));
	now = xcalloc((size_t)ncpu, sizeof(*now));
	if (bpf_map_lookup_elem(fd, &zero, seen)) {
		err = -errno;
		goto out;
	}
	t0 = clock_ns(CLOCK_MONOTONIC);
	for (;;) {
		bool busy = false;

		for (int c = 0; c < ncpu; c++)
			busy |= (seen[c] & 1) != 0;
		if (!busy)
			break;
		if (clock_ns(CLOCK_MONOTONIC) - t0 > SWITCH_WAIT_NS) {
			err = -ETIMEDOUT;
			break;
		}
		usleep(100);
		if (bpf_map_lookup_elem(fd, &zero, now)) {
			err = -errno;
			break;
		}
		/* A CPU that moved on finished the run we saw. */
		for (int c = 0; c < ncpu; c++)
			if (now[c] != seen[c])
				seen[c] = 0;
	}
out:
	free(seen);
	free(now);
	return err;
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	if (s->running || s->links)
		sampler_stop(s);
	for (size_t i = 0; i < sizeof(s->tp_links) / sizeof(s->tp_links[0]); i++)
		bpf_link__destroy(s->tp_links[i]);
	ring_buffer__free(s->rb);
	if (s->rows)
		munmap(s->rows, s->rows_bytes);
	profile_bpf__destroy(s->skel);
	free(s);
}
