/* SPDX-License-Identifier: MIT */
/*
 * sampler: the BPF side of sampling, and the only module that talks to
 * libbpf. It loads bpf/profile.bpf.c, opens one cpu-clock perf event per
 * online CPU, hands process events to a callback while sampling runs, and
 * drains the aggregated stacks once it stops.
 *
 * Life cycle: sampler_open → sampler_add_target* → sampler_start →
 * (sampler_poll)* → sampler_stop → sampler_drain → sampler_free.
 */
#ifndef SMOLDER_SAMPLER_H
#define SMOLDER_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "../bpf/profile.h"

struct sampler;

struct sampler_opts {
	unsigned freq_hz;        /* 1..10000 */
	bool kernel_stacks;
	bool user_stacks;
	bool filter_targets;     /* only processes added by sampler_add_target */
	bool follow_children;    /* targets' new child processes become targets */
	uint32_t max_stacks;     /* `stacks` map size; 0: default */
	uint32_t max_counts;     /* `counts` map size; 0: default */
	bool dwarf_unwind;       /* walk user stacks with unwind tables */
	uint32_t unwind_rows;    /* room for table rows; 0: default */
	/* Send samples with a copy of the user stack (sampler_poll's
	 * copy_fn): never, for processes without tables yet, or always. */
	enum { COPY_NEVER, COPY_NO_TABLES, COPY_ALWAYS } copy_stacks;
	uint32_t copy_bytes;     /* bytes of stack per copy, a multiple of
				    4096 up to SM_COPY_MAX_BYTES; 0: 16 KiB */
	uint32_t copy_burst;     /* copies the ring buffer holds at once;
				    0: 256 */
	/* Only tasks in these cgroups (v2 directories) and their
	 * descendants, filtered in BPF; with filter_targets, tasks that
	 * either filter lets in. At most SM_MAX_CGROUPS. */
	const char *const *cgroups;
	size_t ncgroups;
	/* Two sets of aggregation maps, for sampler_switch_window. */
	bool windows;
};

#define SAMPLER_DEFAULT_UNWIND_ROWS (1u << 21)

/* Route libbpf's messages through the log module (once, before open). */
void sampler_setup_logging(void);

/*
 * Load the BPF programs (nothing is attached yet). Returns 0 and sets *out
 * (caller owns; free with sampler_free), or a negative errno after logging
 * what went wrong.
 */
int sampler_open(const struct sampler_opts *opts, struct sampler **out);
/* Sample process `tgid` (only with filter_targets). 0 or negative errno. */
int sampler_add_target(struct sampler *s, uint32_t tgid);
/*
 * Attach to every online CPU and the process tracepoints: sampling starts.
 * Returns 0, or a negative errno after logging a message naming the cause.
 */
int sampler_start(struct sampler *s);
/* Detach from the CPUs: no sample is taken after this returns. */
void sampler_stop(struct sampler *s);
/* Number of CPUs sampled (after sampler_start). */
unsigned sampler_ncpus(const struct sampler *s);

/* An fd that becomes readable when process events are waiting. */
int sampler_events_fd(const struct sampler *s);
typedef void (*sampler_event_fn)(const struct sm_proc_event *e, void *ctx);
/* A sample with a copy of its user stack; `size` bytes at `rec`, which is
 * borrowed for the call only. */
typedef void (*sampler_copy_fn)(const struct sm_stack_copy *rec, size_t size,
				void *ctx);
#define SAMPLER_COPY_BATCH 256

/* Hand every waiting process event to `fn`, and stack copy to `copy_fn`,
 * in the order they were made, without blocking. Returns 0 when all were
 * handed, 1 when it stopped after SAMPLER_COPY_BATCH copies with more
 * waiting, or a negative errno. */
int sampler_poll(struct sampler *s, sampler_event_fn fn,
		 sampler_copy_fn copy_fn, void *ctx);

/* sampler_poll, but wait up to timeout_ms for something to arrive (or for
 * a wake fd to become readable). Only one thread may poll a sampler. */
int sampler_poll_wait(struct sampler *s, int timeout_ms, sampler_event_fn fn,
		      sampler_copy_fn copy_fn, void *ctx);
/* Make sampler_poll_wait return when `fd` becomes readable (the caller
 * reads it). 0 or negative errno. */
int sampler_add_wake_fd(struct sampler *s, int fd);

/*
 * DWARF unwinding (dwarf_unwind): the rows every process's mappings point
 * into, mapped into our memory (writes are seen by the BPF program at
 * once); *capacity is their number. NULL without dwarf_unwind.
 */
struct unw_row *sampler_unw_rows(struct sampler *s, uint32_t *capacity);
/* Point process `tgid` at its mappings' tables; 0 or negative errno
 * (-E2BIG: the table of processes is full). */
int sampler_unw_set_proc(struct sampler *s, uint32_t tgid,
			 const struct unw_proc *p);
/* Forget process `tgid`'s tables; 0, or -ENOENT when it had none. */
int sampler_unw_del_proc(struct sampler *s, uint32_t tgid);

/* Sum of the per-CPU counters, indexed by enum counter. */
int sampler_counters(struct sampler *s, uint64_t out[CNT__MAX]);

/*
 * One aggregated sample: the key, its count, and its stacks (leaf first;
 * NULL/0 when absent or lost). Arrays are borrowed for the call only.
 */
struct sampler_sample {
	const struct sample_key *key;
	uint64_t count;
	const __u64 *kstack;
	uint32_t kstack_len;
	const __u64 *ustack;
	uint32_t ustack_len;  /* up to MAX_USTACK_DEPTH */
};
typedef void (*sampler_sample_fn)(const struct sampler_sample *smp, void *ctx);

struct sampler_drain_stats {
	uint64_t keys;           /* distinct entries read */
	uint64_t stacks;         /* distinct stacks read */
	uint64_t missing_stacks; /* referenced but absent stacks */
	uint64_t bad_stacks;     /* stacks whose content does not match the key */
};

/*
 * The kernel stack stored under `hash` (a sample_key.kstack), leaf first:
 * copied into ip[MAX_STACK_DEPTH]. Returns its length, or a negative errno
 * (-ENOENT: not stored, -EBADMSG: it does not match its hash).
 */
int sampler_kernel_stack(struct sampler *s, uint64_t hash, __u64 *ip);

/* Read every aggregated sample (after sampler_stop). 0 or negative errno. */
int sampler_drain(struct sampler *s, sampler_sample_fn fn, void *ctx,
		  struct sampler_drain_stats *stats);

/*
 * Windows (opts.windows): samples go to one of two sets of maps. Switch
 * the BPF program to the other set, and wait until no sample is still
 * being written into the one it leaves, whose number (0 or 1) goes to
 * *closed. Samples taken meanwhile go to the new set: none is lost or
 * counted twice. Returns 0 or a negative errno (-ETIMEDOUT when a CPU
 * seemed to stay inside the program for a second).
 */
int sampler_switch_window(struct sampler *s, unsigned *closed);
/* Read every sample of set `set` (closed by sampler_switch_window), then
 * empty it for its next turn. Stack copies of that set need their
 * kernel stacks read (sampler_kernel_stack_in) before. 0 or negative errno. */
int sampler_drain_window(struct sampler *s, unsigned set,
			 sampler_sample_fn fn, void *ctx,
			 struct sampler_drain_stats *stats);
/* sampler_kernel_stack for set `set`. */
int sampler_kernel_stack_in(struct sampler *s, unsigned set, uint64_t hash,
			    __u64 *ip);

void sampler_free(struct sampler *s);

#endif
