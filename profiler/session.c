/* SPDX-License-Identifier: MIT */
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/xalloc.h"

/*
 * The reader thread. Everything that needs a process to be alive is done
 * here, the moment the ring buffer announces it: a snapshot of its
 * /proc/PID/maps (and of each later mapping of new code). The main thread,
 * which may be busy for a while building tables or symbolizing a window,
 * then captures processes from their snapshots even after they exited.
 * The reader touches nothing but the ring buffer, /proc and the queue.
 */
struct qitem {
	struct sm_proc_event e;     /* type 0: a stack copy */
	struct sym_snapshot snap;   /* NEW and MMAP: maps at announcement */
	bool has_snap;
	struct sm_stack_copy *copy; /* malloc'd */
	size_t copy_size;
};

struct reader {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int wake_fd;     /* tells the reader: stop, or drain now */
	int ready_fd;    /* tells the main thread: items are queued */
	bool stop;
	uint64_t drain_req, drain_done;
	struct qitem *q;
	size_t nq, qalloc;
	const char *proc_root;
	struct sampler *sampler;
	size_t pushed;   /* items queued by the current poll */
};

static void push(struct reader *r, struct qitem *it)
{
	pthread_mutex_lock(&r->mu);
	ALLOC_GROW(r->q, r->nq + 1, r->qalloc);
	r->q[r->nq++] = *it;
	pthread_mutex_unlock(&r->mu);
	r->pushed++;
}

static void reader_event(const struct sm_proc_event *e, void *ctx)
{
	struct reader *r = ctx;
	struct qitem it = { .e = *e };

	if (e->type == SM_PROC_NEW || e->type == SM_PROC_MMAP) {
		int err = sym_snapshot_take(r->proc_root, (int)e->tgid,
					    e->start_boottime, &it.snap);
		it.has_snap = !err;
		if (err)
			log_debug("cannot read the mappings of process %u: %s",
				  e->tgid, strerror(-err));
	}
	push(r, &it);
}

static void reader_copy(const struct sm_stack_copy *rec, size_t size, void *ctx)
{
	struct reader *r = ctx;
	struct qitem it = { .copy_size = size };

	it.copy = xmalloc(size);
	memcpy(it.copy, rec, size);
	push(r, &it);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t v;

	for (;;) {
		bool stop, drain;
		uint64_t want;

		r->pushed = 0;
		sampler_poll_wait(r->sampler, -1, reader_event, reader_copy, r);
		pthread_mutex_lock(&r->mu);
		stop = r->stop;
		want = r->drain_req;
		drain = want > r->drain_done;
		pthread_mutex_unlock(&r->mu);
		if (drain) {
			if (read(r->wake_fd, &v, sizeof(v)) < 0)
				v = 0;
			/* Everything in the ring buffer now. */
			while (sampler_poll(r->sampler, reader_event, reader_copy,
					    r) == 1)
				;
			pthread_mutex_lock(&r->mu);
			r->drain_done = want;
			pthread_cond_broadcast(&r->cv);
			pthread_mutex_unlock(&r->mu);
		}
		if (r->pushed) {
			v = 1;
			if (write(r->ready_fd, &v, sizeof(v)) < 0)
				log_debug("cannot wake the main thread");
		}
		if (stop)
			break;
	}
	return NULL;
}

static void qitem_release(struct qitem *it)
{
	if (it->has_snap)
		sym_snapshot_release(&it->snap);
	free(it->copy);
}

static void reader_stop(struct reader *r)
{
	uint64_t v = 1;

	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_mutex_unlock(&r->mu);
		if (write(r->wake_fd, &v, sizeof(v)) < 0)
			log_debug("cannot wake the reader");
		pthread_join(r->thread, NULL);
	}
	for (size_t i = 0; i < r->nq; i++)
		qitem_release(&r->q[i]);
	free(r->q);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	if (r->ready_fd >= 0)
		close(r->ready_fd);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}

/* ---- the main thread's side ---- */

static void on_captured(void *ctx, uint32_t tgid, uint32_t inst,
			struct sym_proc *sp)
{
	struct session *s = ctx;

	if (s->unwinder)
		unwinder_load(s->unwinder, tgid, inst, sp);
	if (s->copies)
		stackcopy_remap(s->copies, inst);
}

static void on_ended(void *ctx, uint32_t tgid, uint32_t inst)
{
	struct session *s = ctx;

	if (s->unwinder)
		unwinder_unload(s->unwinder, tgid, inst);
	if (s->copies)
		stackcopy_forget(s->copies, inst);
}

int session_open(struct session *s, const struct sampler_opts *so)
{
	struct sym_opts symo = { .unwind_tables = so->dwarf_unwind };
	struct proctrack_listener l = {
		.captured = on_captured,
		.ended = on_ended,
		.ctx = s,
	};
	int err;

	memset(s, 0, sizeof(*s));
	s->sym = symbolizer_new(&symo);
	s->procs = proctrack_new(s->sym);
	sampler_setup_logging();
	if ((err = sampler_open(so, &s->sampler))) {
		session_close(s);
		return err;
	}
	s->unwinder = unwinder_new(s->sampler, s->sym);
	if (so->copy_stacks != COPY_NEVER)
		s->copies = stackcopy_new(s->procs);
	proctrack_set_listener(s->procs, &l);
	s->reader = xcalloc(1, sizeof(*s->reader));
	pthread_mutex_init(&s->reader->mu, NULL);
	pthread_cond_init(&s->reader->cv, NULL);
	s->reader->sampler = s->sampler;
	s->reader->proc_root = "/proc";
	s->reader->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->reader->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->reader->wake_fd < 0 || s->reader->ready_fd < 0 ||
	    (err = sampler_add_wake_fd(s->sampler, s->reader->wake_fd))) {
		err = errno ? -errno : -EINVAL;
		log_err("cannot set up the event reader: %s", strerror(-err));
		session_close(s);
		return err;
	}
	return 0;
}

int session_start(struct session *s)
{
	int err = sampler_start(s->sampler);

	if (err)
		return err;
	err = pthread_create(&s->reader->thread, NULL, reader_main, s->reader);
	if (err) {
		log_err("cannot start the event reader: %s", strerror(err));
		sampler_stop(s->sampler);
		return -err;
	}
	s->reader->started = true;
	return 0;
}

int session_fd(const struct session *s)
{
	return s->reader->ready_fd;
}

void session_close(struct session *s)
{
	reader_stop(s->reader);
	stackcopy_free(s->copies);
	unwinder_free(s->unwinder);
	sampler_free(s->sampler);
	proctrack_free(s->procs);
	symbolizer_free(s->sym);
	memset(s, 0, sizeof(*s));
}

/* Hand what the reader queued to its modules; true if there was any. */
static bool take_queue(struct session *s)
{
	struct reader *r = s->reader;
	struct qitem *q;
	size_t n;
	uint64_t v;

	if (read(r->ready_fd, &v, sizeof(v)) < 0)
		v = 0; /* nothing signalled; the queue may still hold items */
	pthread_mutex_lock(&r->mu);
	q = r->q;
	n = r->nq;
	r->q = NULL;
	r->nq = r->qalloc = 0;
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < n; i++) {
		struct qitem *it = &q[i];

		if (it->copy) {
			if (s->copies)
				stackcopy_queue(s->copies, it->copy, it->copy_size);
		} else {
			/* proctrack takes the snapshot over. */
			proctrack_event_snap(s->procs, &it->e,
					     it->has_snap ? &it->snap : NULL);
			it->has_snap = false;
		}
		qitem_release(it);
	}
	free(q);
	proctrack_flush(s->procs);
	s->last_poll_ns = clock_ns(CLOCK_MONOTONIC);
	return n > 0;
}

/* Have the reader empty the ring buffer, and wait until it has. */
static void drain_ring(struct session *s)
{
	struct reader *r = s->reader;
	uint64_t v = 1, want;

	pthread_mutex_lock(&r->mu);
	want = ++r->drain_req;
	pthread_mutex_unlock(&r->mu);
	if (write(r->wake_fd, &v, sizeof(v)) < 0)
		log_debug("cannot wake the reader");
	pthread_mutex_lock(&r->mu);
	while (r->drain_done < want && r->started)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

/* How often long work stops to take in process announcements. */
#define KEEPALIVE_NS 2000000ull

/* Time for unwinding copies, and for loading unwind tables, between two
 * looks at the queue. */
#define WORK_SLICE_NS 5000000ull

void session_keepalive(struct session *s)
{
	if (clock_ns(CLOCK_MONOTONIC) - s->last_poll_ns >= KEEPALIVE_NS)
		take_queue(s);
}

bool session_work(struct session *s)
{
	bool more = false;

	/* Tables first: once a process has them, its samples stop coming as
	 * copies. */
	if (s->unwinder)
		more |= unwinder_work(s->unwinder, WORK_SLICE_NS);
	if (s->copies)
		more |= stackcopy_process(s->copies, WORK_SLICE_NS);
	return more;
}

bool session_events(struct session *s, bool all)
{
	if (all) {
		if (s->reader->started)
			drain_ring(s);
		take_queue(s);
		if (s->copies)
			stackcopy_process(s->copies, 0);
		return false;
	}
	take_queue(s);
	return session_work(s);
}

void session_finish_set(struct session *s, unsigned set)
{
	/* Everything the set's samples sent is in the ring buffer. */
	drain_ring(s);
	take_queue(s);
	while (s->copies && stackcopy_pending(s->copies, set)) {
		stackcopy_process(s->copies, KEEPALIVE_NS);
		session_keepalive(s);
	}
}

struct copy_drain {
	struct session *s;
	struct sampler *sampler;
	struct profbuild *pb;
	unsigned set;
	__u64 kstack[MAX_STACK_DEPTH];
};

static void on_sample(const struct sampler_sample *smp, void *ctx)
{
	struct copy_drain *cd = ctx;

	profbuild_add(cd->pb, smp);
	session_keepalive(cd->s);
}

/* A sample unwound in userspace: its kernel half is in the kernel's map. */
static void on_copied_sample(const struct sample_key *key, uint64_t count,
			     const __u64 *ustack, uint32_t len, void *ctx)
{
	struct copy_drain *cd = ctx;
	struct sampler_sample smp = {
		.key = key, .count = count, .ustack = ustack, .ustack_len = len,
	};
	int n = key->kstack ? sampler_kernel_stack_in(cd->sampler, cd->set,
						      key->kstack, cd->kstack)
			    : 0;

	if (n > 0) {
		smp.kstack = cd->kstack;
		smp.kstack_len = (uint32_t)n;
	}
	profbuild_add(cd->pb, &smp);
	session_keepalive(cd->s);
}

int session_collect(struct session *s, unsigned set, bool windows,
		    struct profbuild *pb, struct sampler_drain_stats *st)
{
	struct copy_drain *cd = xmalloc(sizeof(*cd));
	int err;

	cd->s = s;
	cd->sampler = s->sampler;
	cd->pb = pb;
	cd->set = set;
	/* Copies first: their kernel stacks are in the set's maps, which
	 * draining a window empties. */
	if (s->copies)
		stackcopy_take(s->copies, set, on_copied_sample, cd);
	err = windows ? sampler_drain_window(s->sampler, set, on_sample, cd, st)
		      : sampler_drain(s->sampler, on_sample, cd, st);
	free(cd);
	if (err)
		log_err("cannot read the samples: %s", strerror(-err));
	return err;
}
