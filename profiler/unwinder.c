/* SPDX-License-Identifier: MIT */
#include "unwinder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/clock.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/xalloc.h"
#include "../symbolizer/unwtab.h"

/* A table loaded into the rows. */
struct loaded {
	uint32_t object; /* sym_unwind.object */
	uint32_t first, count;
	uint32_t refs;   /* live instances whose mappings use it */
	uint64_t used;   /* tick of the last load that used it */
	bool present;    /* in the rows now */
};

/* A live instance and the tables it holds. */
struct pinst {
	uint32_t inst, tgid;
	uint32_t *tabs; /* indexes into loaded[] */
	size_t ntabs;
	bool live;
};

struct range {
	uint32_t first, count;
};

struct job {
	uint32_t tgid, inst;
	struct sym_proc *sp;
	unsigned next; /* the next mapping whose table to build */
};

struct unwinder {
	struct sampler *s;
	struct symbolizer *sym;
	struct unw_row *rows;
	uint32_t cap;

	struct loaded *tabs;
	size_t ntabs, tabs_alloc;
	struct hmap tab_idx;

	struct pinst *insts;
	size_t ninsts, insts_alloc;
	struct hmap inst_idx;

	/* The instance whose tables each tgid holds in the BPF map. */
	struct { uint32_t tgid, inst; } *owners;
	size_t nowners, owners_alloc;
	struct hmap owner_idx;

	struct range *free_ranges; /* sorted by first, never adjacent */
	size_t nfree, free_alloc;

	struct job *jobs; /* a FIFO: [job_head, njobs) */
	size_t job_head, njobs, jobs_alloc;

	uint64_t tick;
	struct unw_proc *scratch;
	struct unwinder_stats st;
};

struct unwinder *unwinder_new(struct sampler *s, struct symbolizer *sym)
{
	struct unwinder *u;
	uint32_t cap;
	struct unw_row *rows = sampler_unw_rows(s, &cap);

	if (!rows)
		return NULL;
	u = xcalloc(1, sizeof(*u));
	u->s = s;
	u->sym = sym;
	u->rows = rows;
	u->cap = cap;
	u->st.rows_capacity = cap;
	u->scratch = xmalloc(sizeof(*u->scratch));
	ALLOC_GROW(u->free_ranges, 1, u->free_alloc);
	u->free_ranges[0] = (struct range){ 0, cap };
	u->nfree = 1;
	return u;
}

void unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->ninsts; i++)
		free(u->insts[i].tabs);
	free(u->insts);
	hmap_release(&u->inst_idx);
	free(u->tabs);
	hmap_release(&u->tab_idx);
	free(u->owners);
	hmap_release(&u->owner_idx);
	free(u->free_ranges);
	free(u->scratch);
	free(u->jobs);
	free(u);
}

/* First fit; the range is taken out of the free list. */
static bool take_range(struct unwinder *u, uint32_t count, uint32_t *first)
{
	for (size_t i = 0; i < u->nfree; i++) {
		struct range *r = &u->free_ranges[i];

		if (r->count < count)
			continue;
		*first = r->first;
		r->first += count;
		r->count -= count;
		if (!r->count) {
			memmove(r, r + 1, (u->nfree - i - 1) * sizeof(*r));
			u->nfree--;
		}
		return true;
	}
	return false;
}

static void give_range(struct unwinder *u, uint32_t first, uint32_t count)
{
	size_t i = 0;

	while (i < u->nfree && u->free_ranges[i].first < first)
		i++;
	ALLOC_GROW(u->free_ranges, u->nfree + 1, u->free_alloc);
	memmove(&u->free_ranges[i + 1], &u->free_ranges[i],
		(u->nfree - i) * sizeof(*u->free_ranges));
	u->free_ranges[i] = (struct range){ first, count };
	u->nfree++;
	/* Merge with the neighbours. */
	if (i + 1 < u->nfree &&
	    first + count == u->free_ranges[i + 1].first) {
		u->free_ranges[i].count += u->free_ranges[i + 1].count;
		memmove(&u->free_ranges[i + 1], &u->free_ranges[i + 2],
			(u->nfree - i - 2) * sizeof(*u->free_ranges));
		u->nfree--;
	}
	if (i > 0 && u->free_ranges[i - 1].first + u->free_ranges[i - 1].count ==
			     u->free_ranges[i].first) {
		u->free_ranges[i - 1].count += u->free_ranges[i].count;
		memmove(&u->free_ranges[i], &u->free_ranges[i + 1],
			(u->nfree - i - 1) * sizeof(*u->free_ranges));
		u->nfree--;
	}
}

/* Evict the least recently used table no live instance holds. */
static bool evict_one(struct unwinder *u)
{
	struct loaded *victim = NULL;

	for (size_t i = 0; i < u->ntabs; i++) {
		struct loaded *l = &u->tabs[i];

		if (l->present && !l->refs && (!victim || l->used < victim->used))
			victim = l;
	}
	if (!victim)
		return false;
	give_range(u, victim->first, victim->count);
	u->st.rows_used -= victim->count;
	victim->present = false;
	u->st.evicted++;
	return true;
}

/* The loaded table for `ui`, loading it if needed; NULL when it does not
 * fit even after evicting what no one uses. */
static struct loaded *get_table(struct unwinder *u, const struct sym_unwind *ui,
				uint32_t *index)
{
	struct loaded *l = NULL;
	size_t pos;
	uint32_t first;

	for (uint32_t i = hmap_first(&u->tab_idx, ui->object, &pos);
	     i != HMAP_NONE; i = hmap_next(&u->tab_idx, ui->object, &pos))
		if (u->tabs[i].object == ui->object) {
			l = &u->tabs[i];
			*index = i;
			break;
		}
	if (!l) {
		ALLOC_GROW(u->tabs, u->ntabs + 1, u->tabs_alloc);
		*index = (uint32_t)u->ntabs;
		l = &u->tabs[u->ntabs];
		*l = (struct loaded){ .object = ui->object };
		hmap_insert(&u->tab_idx, ui->object, (uint32_t)u->ntabs++);
	}
	l->used = ++u->tick;
	if (l->present)
		return l;
	if (!ui->table->nrows || ui->table->nrows > u->cap ||
	    ui->table->nrows > UNW_MAX_TABLE_ROWS) {
		u->st.no_room++;
		return NULL;
	}
	while (!take_range(u, ui->table->nrows, &first))
		if (!evict_one(u)) {
			u->st.no_room++;
			log_debug("no room for an unwind table of %u rows:"
				  " raise --unwind-rows", ui->table->nrows);
			return NULL;
		}
	memcpy(&u->rows[first], ui->table->rows,
	       (size_t)ui->table->nrows * sizeof(*ui->table->rows));
	l->first = first;
	l->count = ui->table->nrows;
	l->present = true;
	u->st.tables++;
	u->st.rows_used += l->count;
	if (u->st.rows_used > u->st.rows_peak)
		u->st.rows_peak = u->st.rows_used;
	return l;
}

static struct pinst *find_inst(struct unwinder *u, uint32_t inst)
{
	size_t pos;

	for (uint32_t i = hmap_first(&u->inst_idx, inst, &pos); i != HMAP_NONE;
	     i = hmap_next(&u->inst_idx, inst, &pos))
		if (u->insts[i].inst == inst)
			return &u->insts[i];
	return NULL;
}

/* The owner slot of `tgid`, made if missing. */
static uint32_t *owner(struct unwinder *u, uint32_t tgid)
{
	size_t pos;

	for (uint32_t i = hmap_first(&u->owner_idx, tgid, &pos); i != HMAP_NONE;
	     i = hmap_next(&u->owner_idx, tgid, &pos))
		if (u->owners[i].tgid == tgid)
			return &u->owners[i].inst;
	ALLOC_GROW(u->owners, u->nowners + 1, u->owners_alloc);
	u->owners[u->nowners].tgid = tgid;
	u->owners[u->nowners].inst = 0;
	hmap_insert(&u->owner_idx, tgid, (uint32_t)u->nowners);
	return &u->owners[u->nowners++].inst;
}

static void drop_refs(struct unwinder *u, struct pinst *pi)
{
	for (size_t i = 0; i < pi->ntabs; i++)
		u->tabs[pi->tabs[i]].refs--;
	free(pi->tabs);
	pi->tabs = NULL;
	pi->ntabs = 0;
}

void unwinder_load(struct unwinder *u, uint32_t tgid, uint32_t inst,
		   struct sym_proc *sp)
{
	if (u->job_head == u->njobs)
		u->job_head = u->njobs = 0;
	ALLOC_GROW(u->jobs, u->njobs + 1, u->jobs_alloc);
	u->jobs[u->njobs++] = (struct job){ tgid, inst, sp, 0 };
}

static void load_now(struct unwinder *u, uint32_t tgid, uint32_t inst,
		     struct sym_proc *sp);

bool unwinder_work(struct unwinder *u, uint64_t budget_ns)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);

	while (u->job_head < u->njobs) {
		struct job *j = &u->jobs[u->job_head];
		unsigned n;
		struct sym_unwind ui;

		if (!j->sp) { /* ended before its turn */
			u->job_head++;
			continue;
		}
		n = sym_proc_nmappings(j->sp);

		/* One object's table at a time (tens of milliseconds for a
		 * large one): built once, then found at once by load_now. */
		while (j->next < n) {
			sym_proc_unwind(j->sp, j->next++, &ui);
			if (clock_ns(CLOCK_MONOTONIC) - t0 >= budget_ns)
				return true;
		}
		u->job_head++;
		load_now(u, j->tgid, j->inst, j->sp);
		if (clock_ns(CLOCK_MONOTONIC) - t0 >= budget_ns)
			break;
	}
	return u->job_head < u->njobs;
}

static void load_now(struct unwinder *u, uint32_t tgid, uint32_t inst,
		     struct sym_proc *sp)
{
	struct unw_proc *p = u->scratch;
	struct pinst *pi = find_inst(u, inst);
	unsigned n = sym_proc_nmappings(sp);
	size_t tabs_alloc = 0;
	uint32_t *tabs = NULL;
	size_t ntabs = 0;
	int err;

	if (!pi) {
		ALLOC_GROW(u->insts, u->ninsts + 1, u->insts_alloc);
		pi = &u->insts[u->ninsts];
		*pi = (struct pinst){ .inst = inst, .tgid = tgid, .live = true };
		hmap_insert(&u->inst_idx, inst, (uint32_t)u->ninsts++);
		u->st.procs++;
	}
	if (!pi->live)
		return;

	memset(p, 0, sizeof(*p));
	p->inst = inst;
	for (unsigned i = 0; i < n; i++) {
		const struct sym_mapping *m = sym_proc_mapping(sp, i);
		struct unw_mapping *um;
		struct sym_unwind ui;
		struct loaded *l;
		uint32_t ti;

		if (p->nmaps == UNW_MAX_MAPPINGS) {
			u->st.mappings_over += n - i;
			p->flags |= UNW_PROC_PARTIAL;
			break;
		}
		um = &p->maps[p->nmaps++];
		um->start = m->start;
		um->end = m->end;
		if (sym_proc_unwind(sp, i, &ui) || !ui.table)
			continue; /* frame pointers */
		l = get_table(u, &ui, &ti);
		if (!l)
			continue;
		um->adj = ui.bias + ui.table->base;
		um->row_first = l->first;
		um->row_count = l->count;
		l->refs++;
		ALLOC_GROW(tabs, ntabs + 1, tabs_alloc);
		tabs[ntabs++] = ti;
	}
	/* The new references before the old ones go, so a reload keeps
	 * its tables in place. */
	drop_refs(u, pi);
	pi->tabs = tabs;
	pi->ntabs = ntabs;
	err = sampler_unw_set_proc(u->s, tgid, p);
	if (!err)
		*owner(u, tgid) = inst;
	if (err) {
		u->st.procs_full++;
		log_debug("cannot give process %u its unwind tables: %s", tgid,
			  strerror(-err));
	}
}

void unwinder_unload(struct unwinder *u, uint32_t tgid, uint32_t inst)
{
	struct pinst *pi = find_inst(u, inst);

	/* Its mappings may be freed from now on: no job may use them. */
	for (size_t i = u->job_head; i < u->njobs; i++)
		if (u->jobs[i].inst == inst)
			u->jobs[i].sp = NULL;
	if (!pi || !pi->live)
		return;
	pi->live = false;
	drop_refs(u, pi);
	/* The BPF program forgets a process's tables at exec and exit, but
	 * ours may have been written after that (a late capture): remove
	 * them unless a successor's are there now. */
	if (*owner(u, tgid) == inst) {
		*owner(u, tgid) = 0;
		sampler_unw_del_proc(u->s, tgid);
	}
}

void unwinder_gc(struct unwinder *u)
{
	size_t kept = 0;

	for (size_t i = 0; i < u->ninsts; i++)
		if (u->insts[i].live)
			u->insts[kept++] = u->insts[i];
	if (kept != u->ninsts) {
		u->ninsts = kept;
		hmap_release(&u->inst_idx);
		hmap_init(&u->inst_idx);
		for (size_t i = 0; i < u->ninsts; i++)
			hmap_insert(&u->inst_idx, u->insts[i].inst, (uint32_t)i);
	}
	kept = 0;
	for (size_t i = 0; i < u->nowners; i++)
		if (u->owners[i].inst)
			u->owners[kept++] = u->owners[i];
	if (kept != u->nowners) {
		u->nowners = kept;
		hmap_release(&u->owner_idx);
		hmap_init(&u->owner_idx);
		for (size_t i = 0; i < u->nowners; i++)
			hmap_insert(&u->owner_idx, u->owners[i].tgid, (uint32_t)i);
	}
}

void unwinder_stats(const struct unwinder *u, struct unwinder_stats *out)
{
	*out = u->st;
}
