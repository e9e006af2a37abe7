/* SPDX-License-Identifier: MIT */
#include "proctrack.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
	struct sym_proc *sp;
};

struct proctrack {
	struct symbolizer *sym;
	struct inst *insts;
	size_t n, alloc;
	struct hmap idx;
	struct sm_proc_event *queue;
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
	for (size_t i = 0; i < t->n; i++)
		sym_proc_free(t->insts[i].sp);
	free(t->insts);
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

static struct inst *find(struct proctrack *t, uint32_t inst)
{
	size_t pos;

	for (uint32_t i = hmap_first(&t->idx, inst, &pos); i != HMAP_NONE;
	     i = hmap_next(&t->idx, inst, &pos))
		if (t->insts[i].inst == inst)
			return &t->insts[i];
	return NULL;
}

void proctrack_event(struct proctrack *t, const struct sm_proc_event *e)
{
	ALLOC_GROW(t->queue, t->nqueue + 1, t->queue_alloc);
	t->queue[t->nqueue++] = *e;
}

void proctrack_flush(struct proctrack *t)
{
	size_t first_new = t->n;

	/* First record every event of the batch, so that an instance that
	 * already exec'd is not captured with its successor's mappings. */
	for (size_t q = 0; q < t->nqueue; q++) {
		const struct sm_proc_event *e = &t->queue[q];
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
			break;
		case SM_PROC_MMAP:
			if (in)
				in->stale = true;
			break;
		case SM_PROC_EXEC:
		case SM_PROC_EXIT:
			if (in) {
				if (!in->ended && t->listener.ended)
					t->listener.ended(t->listener.ctx,
							  in->tgid, in->inst);
				in->ended = true;
				in->execed |= e->type == SM_PROC_EXEC;
			}
			break;
		}
	}
	t->nqueue = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct inst *in = &t->insts[i];

		if (!in->stale)
			continue;
		in->stale = false;
		if (in->state == INST_CAPTURED && !in->ended) {
			t->stats.refreshed++;
			if (sym_proc_refresh(in->sp) == -ESRCH)
				in->ended = true;
			else if (t->listener.captured)
				t->listener.captured(t->listener.ctx, in->tgid,
						     in->inst, in->sp);
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
			in->ended = true;
	}
}

struct sym_proc *proctrack_lookup(struct proctrack *t, uint32_t inst)
{
	struct inst *in = find(t, inst);

	return in ? in->sp : NULL;
}

void proctrack_stats(const struct proctrack *t, struct proctrack_stats *out)
{
	*out = t->stats;
}
