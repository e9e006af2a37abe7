/* SPDX-License-Identifier: MIT */
#include "proctrack.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/xalloc.h"

enum inst_state { INST_PENDING, INST_CAPTURED, INST_MISSED };

struct inst {
	uint32_t inst, tgid;
	uint64_t start_boottime;
	enum inst_state state;
	bool ended;  /* exec'd or exited */
	bool execed;
	bool stale;  /* new code was mapped: read the mappings again */
	bool gc_marked; /* ended before the last proctrack_gc */
	struct sym_proc *sp;
	char *exe;   /* the executable's path, or NULL */
	struct sym_snapshot snap; /* the latest snapshot, until used */
	bool has_snap;
};

struct proctrack {
	struct symbolizer *sym;
	struct inst *insts;
	size_t n, alloc;
	struct hmap idx;
	struct queued {
		struct sm_proc_event e;
		struct sym_snapshot snap;
		bool has_snap;
	} *queue;
	size_t nqueue, queue_alloc;
	struct proctrack_stats stats;
	struct proctrack_listener listener;
};

struct proctrack *proctrack_new(struct symbolizer *sym)
{
	struct proctrack *t = xcalloc(1, sizeof(*t));

	t->sym = sym;
	return t;
}

void proctrack_free(struct proctrack *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		sym_proc_free(t->insts[i].sp);
		free(t->insts[i].exe);
		if (t->insts[i].has_snap)
			sym_snapshot_release(&t->insts[i].snap);
	}
	free(t->insts);
	for (size_t i = 0; i < t->nqueue; i++)
		if (t->queue[i].has_snap)
			sym_snapshot_release(&t->queue[i].snap);
	free(t->queue);
	hmap_release(&t->idx);
	free(t);
}

void proctrack_set_listener(struct proctrack *t,
			    const struct proctrack_listener *l)
{
	if (l)
		t->listener = *l;
	else
		memset(&t->listener, 0, sizeof(t->listener));
}

/* The path of process `tgid`'s executable; caller frees. NULL if gone. */
static char *read_exe(uint32_t tgid)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%u/exe", tgid);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return NULL;
	path[n] = '\0';
	return xstrdup(path);
}

static struct inst *find(struct proctrack *t, uint32_t inst)
{
	size_t pos;

	for (uint32_t i = hmap_first(&t->idx, inst, &pos); i != HMAP_NONE;
	     i = hmap_next(&t->idx, inst, &pos))
		if (t->insts[i].inst == inst)
			return &t->insts[i];
	return NULL;
}

/* The instance exec'd or exited: tell the listener, once. */
static void end_instance(struct proctrack *t, struct inst *in)
{
	if (!in->ended && t->listener.ended)
		t->listener.ended(t->listener.ctx, in->tgid, in->inst);
	in->ended = true;
}

void proctrack_event_snap(struct proctrack *t, const struct sm_proc_event *e,
			  struct sym_snapshot *snap)
{
	struct queued *q;

	ALLOC_GROW(t->queue, t->nqueue + 1, t->queue_alloc);
	q = &t->queue[t->nqueue++];
	q->e = *e;
	q->has_snap = snap != NULL;
	if (snap) {
		q->snap = *snap;
		memset(snap, 0, sizeof(*snap));
	}
}

void proctrack_event(struct proctrack *t, const struct sm_proc_event *e)
{
	proctrack_event_snap(t, e, NULL);
}

static void drop_snap(struct inst *in)
{
	if (in->has_snap)
		sym_snapshot_release(&in->snap);
	in->has_snap = false;
}

/* Keep `q`'s snapshot in `in`, the newest one winning. */
static void keep_snap(struct inst *in, struct queued *q)
{
	if (!q->has_snap)
		return;
	if (in && (!in->has_snap || q->snap.start_ticks == in->snap.start_ticks)) {
		if (in->has_snap)
			sym_snapshot_release(&in->snap);
		in->snap = q->snap;
		in->has_snap = true;
	} else {
		sym_snapshot_release(&q->snap);
	}
	q->has_snap = false;
}

void proctrack_flush(struct proctrack *t)
{
	size_t first_new = t->n;

	/* First record every event of the batch, so that an instance that
	 * already exec'd is not captured with its successor's mappings. */
	for (size_t q = 0; q < t->nqueue; q++) {
		const struct sm_proc_event *e = &t->queue[q].e;
		struct inst *in = find(t, e->inst);

		switch (e->type) {
		case SM_PROC_NEW:
			if (in || !e->inst)
				break;
			ALLOC_GROW(t->insts, t->n + 1, t->alloc);
			t->insts[t->n] = (struct inst){
				.inst = e->inst,
				.tgid = e->tgid,
				.start_boottime = e->start_boottime,
			};
			hmap_insert(&t->idx, e->inst, (uint32_t)t->n++);
			t->stats.instances++;
			keep_snap(&t->insts[t->n - 1], &t->queue[q]);
			break;
		case SM_PROC_MMAP:
			if (in)
				in->stale = true;
			keep_snap(in, &t->queue[q]);
			break;
		case SM_PROC_EXEC:
		case SM_PROC_EXIT:
			if (in) {
				end_instance(t, in);
				in->execed |= e->type == SM_PROC_EXEC;
			}
			break;
		}
		keep_snap(NULL, &t->queue[q]); /* not taken: released */
	}
	t->nqueue = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct inst *in = &t->insts[i];

		if (!in->stale)
			continue;
		in->stale = false;
		if (in->state == INST_CAPTURED && !in->ended) {
			bool gone;

			t->stats.refreshed++;
			gone = sym_proc_refresh(in->sp) == -ESRCH;
			/* Gone: what it mapped is in the snapshot taken as
			 * it mapped it, for the samples taken since. */
			if (gone && in->has_snap &&
			    !sym_proc_refresh_snapshot(in->sp, &in->snap))
				t->stats.from_snapshot++;
			if (t->listener.captured)
				t->listener.captured(t->listener.ctx, in->tgid,
						     in->inst, in->sp);
			if (gone)
				end_instance(t, in);
			drop_snap(in);
		}
	}

	/* Read every new instance's mappings first, while they live, and
	 * only then tell the listener, whose work may take longer. */
	for (size_t i = first_new; i < t->n; i++) {
		struct inst *in = &t->insts[i];

		if (in->state != INST_PENDING)
			continue;
		if (!in->execed)
			in->sp = sym_proc_capture(t->sym, (int)in->tgid,
						  in->start_boottime);
		if (in->sp) {
			in->exe = read_exe(in->tgid);
		} else if (in->has_snap) {
			/* Gone (or exec'd) already: its mappings as they
			 * were when it was announced. */
			in->sp = sym_proc_from_snapshot(t->sym, &in->snap);
			if (in->sp) {
				t->stats.from_snapshot++;
				in->exe = in->snap.exe ? xstrdup(in->snap.exe)
						       : NULL;
			}
		}
		drop_snap(in);
		if (in->sp) {
			in->state = INST_CAPTURED;
			t->stats.captured++;
		} else {
			log_debug("process %u was gone before its mappings"
				  " were read", in->tgid);
			in->state = INST_MISSED;
			t->stats.missed++;
		}
	}
	for (size_t i = first_new; i < t->n; i++) {
		struct inst *in = &t->insts[i];

		if (in->state == INST_CAPTURED && !in->ended &&
		    t->listener.captured)
			t->listener.captured(t->listener.ctx, in->tgid,
					     in->inst, in->sp);
	}
}

void proctrack_refresh(struct proctrack *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct inst *in = &t->insts[i];

		if (in->state == INST_CAPTURED && !in->ended &&
		    sym_proc_refresh(in->sp) == -ESRCH)
			end_instance(t, in);
	}
}

struct sym_proc *proctrack_lookup(struct proctrack *t, uint32_t inst)
{
	struct inst *in = find(t, inst);

	return in ? in->sp : NULL;
}

const char *proctrack_exe(struct proctrack *t, uint32_t inst)
{
	struct inst *in = find(t, inst);

	return in ? in->exe : NULL;
}

void proctrack_gc(struct proctrack *t)
{
	size_t kept = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct inst *in = &t->insts[i];

		if (in->ended && in->gc_marked) {
			sym_proc_free(in->sp);
			free(in->exe);
			drop_snap(in);
			t->stats.freed++;
			continue;
		}
		in->gc_marked = in->ended;
		t->insts[kept++] = *in;
	}
	if (kept == t->n)
		return;
	t->n = kept;
	hmap_release(&t->idx);
	hmap_init(&t->idx);
	for (size_t i = 0; i < t->n; i++)
		hmap_insert(&t->idx, t->insts[i].inst, (uint32_t)i);
}

size_t proctrack_live(const struct proctrack *t)
{
	return t->n;
}

void proctrack_stats(const struct proctrack *t, struct proctrack_stats *out)
{
	*out = t->stats;
}
