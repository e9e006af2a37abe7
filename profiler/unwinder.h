/* SPDX-License-Identifier: MIT */
/*
 * unwinder: keeps the BPF walker's unwind tables (--unwind=dwarf).
 *
 * When a process instance is captured, each of its executable mappings
 * gets its object's table (built once per object by the symbolizer) loaded
 * into the rows the BPF program reads, and the process's mapping table
 * points at them. A table is loaded once whatever the number of processes
 * that map its object; tables no live process uses are evicted, least
 * recently used first, when room is needed. What does not fit is counted,
 * and those mappings are walked with frame pointers.
 */
#ifndef SMOLDER_UNWINDER_H
#define SMOLDER_UNWINDER_H

#include <stdbool.h>
#include <stdint.h>

#include "../symbolizer/symbolizer.h"
#include "sampler.h"

struct unwinder;

struct unwinder_stats {
	uint64_t procs;          /* process instances given tables */
	uint64_t tables;         /* tables loaded (an object once) */
	uint64_t rows_used;      /* rows loaded now */
	uint64_t rows_peak;      /* most rows loaded at once */
	uint32_t rows_capacity;
	uint64_t evicted;        /* tables evicted to make room */
	uint64_t no_room;        /* tables that did not fit */
	uint64_t mappings_over;  /* mappings past UNW_MAX_MAPPINGS per process */
	uint64_t procs_full;     /* processes the BPF table could not take */
};

/* `s` and `sym` are borrowed and must outlive the unwinder. NULL when the
 * sampler does not unwind with tables. */
struct unwinder *unwinder_new(struct sampler *s, struct symbolizer *sym);
void unwinder_free(struct unwinder *u);

/*
 * Give instance `inst` of process `tgid` its tables (again, after its
 * mappings changed): queued, done by unwinder_work. `sp` is borrowed and
 * must live as long as the unwinder.
 */
void unwinder_load(struct unwinder *u, uint32_t tgid, uint32_t inst,
		   struct sym_proc *sp);
/*
 * Do queued loads for about `budget_ns` (building a table can take tens
 * of milliseconds; meanwhile the process's samples are copied, and new
 * processes must still be seen at once). Returns true while work remains.
 */
bool unwinder_work(struct unwinder *u, uint64_t budget_ns);
/* Instance `inst` ended (exec or exit): its tables may go. */
void unwinder_unload(struct unwinder *u, uint32_t tgid, uint32_t inst);

/* Forget ended instances (their tables are unloaded already): keeps
 * memory bounded by the live processes. */
void unwinder_gc(struct unwinder *u);

void unwinder_stats(const struct unwinder *u, struct unwinder_stats *out);

#endif
