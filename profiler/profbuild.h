/* SPDX-License-Identifier: MIT */
/*
 * profbuild: drained BPF samples into the profile model.
 *
 * Each distinct address is symbolized once per process instance (kernel
 * addresses once), turned into a location with its mapping and functions,
 * and each sample becomes a profile sample with [samples/count,
 * cpu/nanoseconds] values and pid, tid, comm and thread_name labels.
 * Whatever could not be resolved stays in the profile as a visible frame
 * ("[libx.so+0x1f3]", "[unknown]", "[truncated]") and is counted.
 */
#ifndef SMOLDER_PROFBUILD_H
#define SMOLDER_PROFBUILD_H

#include <stdint.h>

#include "../formats/profile.h"
#include "../symbolizer/symbolizer.h"
#include "proctrack.h"
#include "sampler.h"

struct profbuild;

struct profbuild_stats {
	uint64_t samples;          /* samples added */
	uint64_t processes;        /* distinct tgids, the idle task excluded */
	uint64_t unknown_mapping;  /* samples with a user frame no mapping covers */
	uint64_t unresolved;       /* samples with a frame no symbol covers */
	uint64_t truncated;        /* samples whose stack hit the depth limit */
	uint64_t stack_lost;       /* samples whose wanted stack was not stored */
	uint64_t no_process;       /* samples of instances whose maps were missed */
};

/* Borrowed arguments must outlive the builder. Never NULL. */
struct profbuild *profbuild_new(struct symbolizer *sym, struct proctrack *procs,
				uint64_t period_ns);
void profbuild_add(struct profbuild *b, const struct sampler_sample *smp);

/*
 * More string labels for every sample: `fn` fills keys[i] and values[i]
 * (borrowed until it is called again; an empty or NULL value is left out)
 * and returns how many, at most PROFBUILD_MAX_LABELS.
 */
#define PROFBUILD_MAX_LABELS 8
typedef unsigned (*profbuild_label_fn)(void *ctx, const struct sample_key *k,
				       const char **keys, const char **values);
void profbuild_set_labeler(struct profbuild *b, profbuild_label_fn fn,
			   void *ctx);
/* The finished profile; caller owns it (profile_free). Ends the builder's
 * use: only profbuild_stats and profbuild_free may follow. */
struct profile *profbuild_finish(struct profbuild *b);
void profbuild_stats(const struct profbuild *b, struct profbuild_stats *out);
void profbuild_free(struct profbuild *b);

#endif
