/* SPDX-License-Identifier: MIT */
/*
 * stackcopy: user stacks unwound in userspace from copies (the way perf
 * --call-graph dwarf works): the BPF program sends a sample's user
 * registers and a slice of its stack, and libdw's unwinder (its CFI
 * interpreter, frame pointers where there is no CFI) walks it with the
 * process's objects. The reference for the BPF walker, `--unwind=copy`,
 * and the path of the first samples of a process whose tables are not
 * loaded yet.
 *
 * Copies are queued as they arrive and unwound once the process events
 * before them have been handled (their mappings read), then aggregated
 * like the kernel's counts.
 */
#ifndef SMOLDER_STACKCOPY_H
#define SMOLDER_STACKCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "../bpf/profile.h"
#include "proctrack.h"

struct stackcopy;

struct stackcopy_stats {
	uint64_t samples;    /* copies received */
	uint64_t bytes;      /* stack bytes received */
	uint64_t complete;   /* unwound to the outermost frame */
	uint64_t cut;        /* unwinding stopped early (shown [truncated]) */
	uint64_t no_process; /* of instances whose mappings were not read */
	uint64_t unwind_ns;  /* time spent unwinding */
};

/* `procs` is borrowed and must outlive it. Never NULL. */
struct stackcopy *stackcopy_new(struct proctrack *procs);
void stackcopy_free(struct stackcopy *c);

/* Queue a copy (`rec` is borrowed; what is needed is copied). */
void stackcopy_queue(struct stackcopy *c, const struct sm_stack_copy *rec,
		     size_t size);
/* Copies waiting past this many are unwound at once, whatever it costs. */
#define STACKCOPY_MAX_PENDING 2048

/*
 * Unwind queued copies, for about `budget_ns` (0: all of them), so that
 * reading the ring buffer, where new processes are announced, never waits
 * long. Call after proctrack_flush. Returns true while copies wait.
 */
bool stackcopy_process(struct stackcopy *c, uint64_t budget_ns);
/* The mappings of instance `inst` were read again: what libdw knows of
 * them is rebuilt at the next copy. */
/* Forget instances that ended and have nothing left to unwind. */
void stackcopy_gc(struct stackcopy *c);
/* Whether copies of map set `set` wait to be unwound. */
bool stackcopy_pending(const struct stackcopy *c, unsigned set);
void stackcopy_remap(struct stackcopy *c, uint32_t inst);
/* Instance `inst` ended: free what unwinding it needed. */
void stackcopy_forget(struct stackcopy *c, uint32_t inst);

/* Each aggregated sample of map set `set` (the window its copy was taken
 * in; always 0 without windows), which is then emptied: its key (ustack
 * is the user stack's hash, and flags say SAMPLE_USTACK_TRUNCATED when
 * unwinding stopped early), count, and user stack, leaf first. Arguments
 * are borrowed for the call. */
typedef void (*stackcopy_fn)(const struct sample_key *key, uint64_t count,
			     const __u64 *ustack, uint32_t len, void *ctx);
void stackcopy_take(struct stackcopy *c, unsigned set, stackcopy_fn fn,
		    void *ctx);

void stackcopy_stats(const struct stackcopy *c, struct stackcopy_stats *out);

#endif
