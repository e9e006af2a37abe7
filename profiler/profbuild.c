/* SPDX-License-Identifier: MIT */
#include "profbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hmap.h"
#include "../lib/xalloc.h"

#define KERNEL_INST 0 /* instance numbers from BPF start at 1 */
#define LOC_UNKNOWN_MAPPING 1u
#define LOC_UNRESOLVED 2u

struct cached_loc {
	uint64_t addr; /* the address symbolized (return addresses minus 1) */
	uint64_t loc_id;
	uint32_t inst;
	uint32_t flags; /* LOC_* */
};

struct profbuild {
	struct profile *p;
	struct symbolizer *sym;
	struct proctrack *procs;
	uint64_t period_ns;

	struct cached_loc *locs;
	size_t nlocs, locs_alloc;
	struct hmap loc_idx;

	struct hmap tgid_idx; /* set of tgids seen */
	uint32_t *tgids;
	size_t ntgids, tgids_alloc;

	uint64_t kernel_mapping;
	uint64_t truncated_loc, klost_loc, ulost_loc;
	int64_t key_pid, key_tid, key_comm, key_thread;

	uint64_t *stack; /* location ids of the sample being built */
	size_t stack_alloc;

	profbuild_label_fn label_fn;
	void *label_ctx;

	struct profbuild_stats stats;
};

struct profbuild *profbuild_new(struct symbolizer *sym, struct proctrack *procs,
				uint64_t period_ns)
{
	static const char *const types[] = { "samples", "cpu" };
	static const char *const units[] = { "count", "nanoseconds" };
	struct profbuild *b = xcalloc(1, sizeof(*b));

	b->p = profile_new();
	b->sym = sym;
	b->procs = procs;
	b->period_ns = period_ns;
	profile_set_sample_types(b->p, types, units, 2);
	b->p->period_type.type = profile_string(b->p, "cpu");
	b->p->period_type.unit = profile_string(b->p, "nanoseconds");
	b->p->period = (int64_t)period_ns;
	b->p->default_sample_type = profile_string(b->p, "cpu");

	b->key_pid = profile_string(b->p, LABEL_PID);
	b->key_tid = profile_string(b->p, LABEL_TID);
	b->key_comm = profile_string(b->p, LABEL_COMM);
	b->key_thread = profile_string(b->p, LABEL_THREAD_NAME);
	return b;
}

void profbuild_free(struct profbuild *b)
{
	if (!b)
		return;
	profile_free(b->p);
	free(b->locs);
	hmap_release(&b->loc_idx);
	free(b->tgids);
	hmap_release(&b->tgid_idx);
	free(b->stack);
	free(b);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

/* Turn one symbolizer result into a location of the profile. */
static uint64_t make_location(struct profbuild *b, const struct sym_result *r,
			      uint64_t addr, uint32_t *flags)
{
	struct profile_line lines[SYM_MAX_FRAMES];
	uint64_t mapping_id = 0;
	uint32_t nlines = 0;
	char name[512];

	*flags = 0;
	if (r->kind == FRAME_KERNEL) {
		if (!b->kernel_mapping) {
			struct profile_mapping km = {
				.memory_limit = UINT64_MAX,
				.filename = profile_string(b->p, "[kernel.kallsyms]"),
				.has_functions = true,
			};

			b->kernel_mapping = profile_add_mapping(b->p, &km);
		}
		mapping_id = b->kernel_mapping;
	} else if (r->mapping) {
		const struct sym_mapping *m = r->mapping;
		struct profile_mapping pm = {
			.memory_start = m->start,
			.memory_limit = m->end,
			.file_offset = m->offset,
			.filename = profile_string(b->p, m->path),
			.build_id = profile_string(b->p, m->build_id ? m->build_id : ""),
			.has_functions = r->status == SYM_OK,
			.has_filenames = r->status == SYM_OK && r->frames[0].file,
			.has_line_numbers = r->status == SYM_OK && r->frames[0].line,
			.has_inline_frames = r->status == SYM_OK && r->nframes > 1,
		};

		mapping_id = profile_add_mapping(b->p, &pm);
	}

	if (r->status == SYM_OK) {
		for (uint32_t i = 0; i < r->nframes; i++) {
			const struct sym_frame *f = &r->frames[i];
			const char *fname = f->name;

			/* Kernel module code reads "func [module]", as in
			 * /proc/kallsyms. */
			if (r->kind == FRAME_KERNEL && r->module &&
			    r->module[0] != '[') {
				snprintf(name, sizeof(name), "%s [%s]", f->name,
					 r->module);
				fname = name;
			}
			lines[nlines++] = (struct profile_line){
				.function_id = profile_add_function(
					b->p, fname,
					f->system_name != f->name ? f->system_name
								  : NULL,
					f->file, f->start_line),
				.line = f->line,
				.column = f->column,
			};
		}
	} else {
		if (r->status == SYM_NO_MAPPING) {
			snprintf(name, sizeof(name), "[unknown]");
			*flags |= LOC_UNKNOWN_MAPPING;
		} else {
			/* A pseudo-file such as [vdso] loses its own brackets:
			 * [vdso+0x7bd], not [[vdso]+0x7bd]. */
			const char *m = base_name(r->module);
			int mlen = (int)strlen(m);

			if (mlen >= 2 && m[0] == '[' && m[mlen - 1] == ']') {
				m++;
				mlen -= 2;
			}
			snprintf(name, sizeof(name), "[%.*s+0x%llx]", mlen, m,
				 (unsigned long long)r->module_offset);
			*flags |= LOC_UNRESOLVED;
		}
		lines[nlines++] = (struct profile_line){
			.function_id = profile_add_function(b->p, name, NULL,
							    NULL, 0),
		};
	}
	return profile_add_location(b->p, mapping_id, addr, r->kind, lines,
				    nlines);
}

/*
 * The location of frame `i` of a stack (0 is the leaf; the others are return
 * addresses, resolved and stored as the address before them).
 */
static uint64_t frame_location(struct profbuild *b, uint32_t inst,
			       struct sym_proc *sp, uint64_t ip, bool is_return,
			       uint32_t *flags)
{
	uint64_t addr = is_return ? ip - 1 : ip;
	uint64_t h = hash_combine(inst, addr);
	struct sym_result r;
	struct cached_loc *c;
	size_t pos;

	for (uint32_t i = hmap_first(&b->loc_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&b->loc_idx, h, &pos)) {
		c = &b->locs[i];
		if (c->inst == inst && c->addr == addr) {
			*flags = c->flags;
			return c->loc_id;
		}
	}
	if (inst == KERNEL_INST)
		symbolize_kernel(b->sym, ip, is_return, &r);
	else
		symbolize_user(b->sym, sp, ip, is_return, &r);

	ALLOC_GROW(b->locs, b->nlocs + 1, b->locs_alloc);
	c = &b->locs[b->nlocs];
	c->inst = inst;
	c->addr = addr;
	c->loc_id = make_location(b, &r, addr, &c->flags);
	*flags = c->flags;
	hmap_insert(&b->loc_idx, h, (uint32_t)b->nlocs++);
	return c->loc_id;
}

/* A frame that stands for what is missing, so it shows and is not lost:
 * frames cut off a too deep stack, or a stack the kernel could not give
 * or store. */
static uint64_t marker_location(struct profbuild *b, uint64_t *cache,
				const char *name, enum frame_kind kind)
{
	if (!*cache) {
		struct profile_line l = {
			.function_id = profile_add_function(b->p, name, NULL,
							    NULL, 0),
		};

		*cache = profile_add_location(b->p, 0, 0, kind, &l, 1);
	}
	return *cache;
}

static void push(struct profbuild *b, size_t *n, uint64_t loc)
{
	ALLOC_GROW(b->stack, *n + 1, b->stack_alloc);
	b->stack[(*n)++] = loc;
}

static void note_tgid(struct profbuild *b, uint32_t tgid)
{
	size_t pos;

	if (!tgid)
		return;
	for (uint32_t i = hmap_first(&b->tgid_idx, tgid, &pos); i != HMAP_NONE;
	     i = hmap_next(&b->tgid_idx, tgid, &pos))
		if (b->tgids[i] == tgid)
			return;
	ALLOC_GROW(b->tgids, b->ntgids + 1, b->tgids_alloc);
	b->tgids[b->ntgids] = tgid;
	hmap_insert(&b->tgid_idx, tgid, (uint32_t)b->ntgids++);
	b->stats.processes++;
}

static int64_t comm_string(struct profbuild *b, const char *comm, uint32_t tgid)
{
	char buf[SM_COMM_LEN + 1];

	if (!tgid)
		return profile_string(b->p, IDLE_TASK_NAME);
	memcpy(buf, comm, SM_COMM_LEN);
	buf[SM_COMM_LEN] = '\0';
	return profile_string(b->p, buf);
}

void profbuild_add(struct profbuild *b, const struct sampler_sample *smp)
{
	const struct sample_key *k = smp->key;
	struct sym_proc *sp = NULL;
	uint32_t flags = 0, f;
	size_t n = 0;

	if (smp->ustack_len) {
		sp = proctrack_lookup(b->procs, k->inst);
		if (!sp)
			b->stats.no_process += smp->count;
	}
	for (uint32_t i = 0; i < smp->kstack_len; i++) {
		push(b, &n, frame_location(b, KERNEL_INST, NULL, smp->kstack[i],
					   i > 0, &f));
		flags |= f;
	}
	if ((k->flags & SAMPLE_KSTACK_TRUNCATED) && smp->kstack_len)
		push(b, &n, marker_location(b, &b->truncated_loc, "[truncated]",
					    FRAME_USER));
	if ((k->flags & SAMPLE_KSTACK_LOST) || (k->kstack && !smp->kstack))
		push(b, &n, marker_location(b, &b->klost_loc,
					    "[kernel stack lost]", FRAME_KERNEL));
	for (uint32_t i = 0; i < smp->ustack_len; i++) {
		push(b, &n, frame_location(b, k->inst, sp, smp->ustack[i], i > 0,
					   &f));
		flags |= f;
	}
	if ((k->flags & SAMPLE_USTACK_TRUNCATED) && smp->ustack_len)
		push(b, &n, marker_location(b, &b->truncated_loc, "[truncated]",
					    FRAME_USER));
	if ((k->flags & (SAMPLE_USTACK_LOST | SAMPLE_USTACK_ERROR)) ||
	    (k->ustack && !smp->ustack))
		push(b, &n, marker_location(b, &b->ulost_loc,
					    "[user stack lost]", FRAME_USER));
	if (k->flags & (SAMPLE_KSTACK_TRUNCATED | SAMPLE_USTACK_TRUNCATED))
		b->stats.truncated += smp->count;
	if ((k->kstack && !smp->kstack) || (k->ustack && !smp->ustack))
		b->stats.stack_lost += smp->count;
	if (flags & LOC_UNKNOWN_MAPPING)
		b->stats.unknown_mapping += smp->count;
	if (flags & LOC_UNRESOLVED)
		b->stats.unresolved += smp->count;

	struct profile_label labels[4 + PROFBUILD_MAX_LABELS] = {
		{ .key = b->key_pid, .num = k->tgid },
		{ .key = b->key_tid, .num = k->pid },
		{ .key = b->key_comm, .str = comm_string(b, k->pcomm, k->tgid) },
		{ .key = b->key_thread, .str = comm_string(b, k->comm, k->tgid) },
	};
	int64_t values[2] = {
		(int64_t)smp->count,
		(int64_t)(smp->count * b->period_ns),
	};
	uint32_t nlabels = 4;

	if (b->label_fn) {
		const char *keys[PROFBUILD_MAX_LABELS], *vals[PROFBUILD_MAX_LABELS];
		unsigned extra = b->label_fn(b->label_ctx, k, keys, vals);

		for (unsigned i = 0; i < extra && i < PROFBUILD_MAX_LABELS; i++) {
			if (!vals[i] || !*vals[i])
				continue;
			labels[nlabels].key = profile_string(b->p, keys[i]);
			labels[nlabels++].str = profile_string(b->p, vals[i]);
		}
	}
	profile_add_sample(b->p, b->stack, (uint32_t)n, values, labels, nlabels);
	b->stats.samples += smp->count;
	note_tgid(b, k->tgid);
}

void profbuild_set_labeler(struct profbuild *b, profbuild_label_fn fn,
			   void *ctx)
{
	b->label_fn = fn;
	b->label_ctx = ctx;
}

struct profile *profbuild_finish(struct profbuild *b)
{
	struct profile *p = b->p;

	b->p = NULL;
	return p;
}

void profbuild_stats(const struct profbuild *b, struct profbuild_stats *out)
{
	*out = b->stats;
}
