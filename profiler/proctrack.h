/* SPDX-License-Identifier: MIT */
/*
 * proctrack: the process instances seen while sampling, and their captured
 * mappings.
 *
 * The BPF program numbers each process image it samples (an "instance": a
 * pid between two execs) and announces it once. For each announcement we
 * read /proc/PID/maps at once, while the process still lives, and keep the
 * capture after the process exits; samples name their instance, so each
 * resolves against the image that produced it.
 */
#ifndef SMOLDER_PROCTRACK_H
#define SMOLDER_PROCTRACK_H

#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "../bpf/profile.h"
#include "../symbolizer/symbolizer.h"

struct proctrack;

struct proctrack_stats {
	uint64_t instances; /* announced */
	uint64_t captured;  /* mappings read */
	uint64_t missed;    /* gone (exited or exec'd) before they were read */
	uint64_t refreshed; /* mappings read again after new code was mapped */
	uint64_t freed;     /* ended instances forgotten by proctrack_gc */
	uint64_t from_snapshot; /* captures and refreshes from a snapshot
				   taken at announcement (the process was
				   gone by the time its turn came) */
};

/* `sym` is borrowed and must outlive the tracker. Never NULL. */
struct proctrack *proctrack_new(struct symbolizer *sym);
void proctrack_free(struct proctrack *t);

/* Told of instances as their mappings are read and as they end. */
struct proctrack_listener {
	/* The mappings of a live instance were read (or read again). */
	void (*captured)(void *ctx, uint32_t tgid, uint32_t inst,
			 struct sym_proc *sp);
	/* The instance exec'd or exited. */
	void (*ended)(void *ctx, uint32_t tgid, uint32_t inst);
	void *ctx;
};
/* Set (or with NULL, clear) the listener; it is copied. */
void proctrack_set_listener(struct proctrack *t,
			    const struct proctrack_listener *l);

/* Queue an event; cheap, for the ring buffer callback. */
void proctrack_event(struct proctrack *t, const struct sm_proc_event *e);
/* proctrack_event with the process's mappings as they were when the event
 * was read (NEW, MMAP), used if the process is gone when its turn comes.
 * Takes *snap over (leaves it empty); snap may be NULL. */
void proctrack_event_snap(struct proctrack *t, const struct sm_proc_event *e,
			  struct sym_snapshot *snap);
/* Act on queued events: read the mappings of new instances. */
void proctrack_flush(struct proctrack *t);
/*
 * Read again the mappings of instances that still live, to cover code
 * mapped after they were first seen (dlopen). For the end of a recording.
 */
void proctrack_refresh(struct proctrack *t);

/* The executable's path of instance `inst` (read with its mappings), or
 * NULL. Borrowed until the instance is freed by proctrack_gc. */
const char *proctrack_exe(struct proctrack *t, uint32_t inst);
/*
 * Forget instances that ended before the previous call: their samples
 * were all read since (call it once per window, after the window is
 * written). Keeps memory bounded by the live processes of two windows.
 */
void proctrack_gc(struct proctrack *t);
/* Instances held now. */
size_t proctrack_live(const struct proctrack *t);

/* The captured mappings of instance `inst`, or NULL when unknown or missed. */
struct sym_proc *proctrack_lookup(struct proctrack *t, uint32_t inst);
void proctrack_stats(const struct proctrack *t, struct proctrack_stats *out);

#endif
