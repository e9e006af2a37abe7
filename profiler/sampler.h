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
};

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
/* Hand every waiting process event to `fn`, without blocking. */
int sampler_poll(struct sampler *s, sampler_event_fn fn, void *ctx);

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
	uint32_t ustack_len;
};
typedef void (*sampler_sample_fn)(const struct sampler_sample *smp, void *ctx);

struct sampler_drain_stats {
	uint64_t keys;           /* distinct entries read */
	uint64_t stacks;         /* distinct stacks read */
	uint64_t missing_stacks; /* referenced but absent stacks */
	uint64_t bad_stacks;     /* stacks whose content does not match the key */
};

/* Read every aggregated sample (after sampler_stop). 0 or negative errno. */
int sampler_drain(struct sampler *s, sampler_sample_fn fn, void *ctx,
		  struct sampler_drain_stats *stats);

void sampler_free(struct sampler *s);

#endif
