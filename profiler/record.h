/* SPDX-License-Identifier: MIT */
/*
 * record: one sampling session, from loading BPF to a finished profile.
 *
 * Samples every CPU (or only some processes, or a command and its
 * children) until the duration ends, a signal arrives, the command exits
 * or every target process has exited; then drains, symbolizes and returns
 * the profile with every counter of what was lost on the way.
 */
#ifndef SMOLDER_RECORD_H
#define SMOLDER_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/profile.h"
#include "session.h"

enum unwind_mode {
	UNWIND_DWARF = 0, /* CFI tables walked in BPF (frame pointers
			     where an object has none) */
	UNWIND_FP,        /* frame pointers only */
	UNWIND_COPY,      /* stack copies unwound in userspace (libdw) */
};

struct record_opts {
	unsigned freq_hz;
	double duration_s;      /* <= 0: until a signal or the command exits */
	bool kernel_stacks;
	bool user_stacks;
	const int *pids;        /* processes (tgids) to sample; NULL: all */
	size_t npids;
	char *const *cmd;       /* command to start and sample, or NULL */
	uint32_t max_stacks;    /* 0: default */
	uint32_t max_counts;    /* 0: default */
	enum unwind_mode unwind;
	uint32_t unwind_rows;   /* 0: default */
	uint32_t copy_bytes;    /* stack bytes per copy; 0: default */
};

enum record_stop {
	STOP_DURATION,
	STOP_SIGNAL,
	STOP_COMMAND_EXITED,
	STOP_TARGETS_EXITED,
};

struct record_result {
	struct profile *profile; /* caller owns (profile_free) */
	uint64_t counters[CNT__MAX];
	struct profbuild_stats build;
	struct proctrack_stats procs;
	struct sampler_drain_stats drain;
	struct sym_stats sym;
	struct unwinder_stats unwind;
	struct stackcopy_stats copies;
	const char *kernel_problem; /* why kernel frames are unresolved, or NULL */
	double duration_s;
	unsigned ncpus;
	enum record_stop stop;
	int stop_signal;
	bool cmd_ran;     /* the command was started */
	int cmd_status;   /* its exit code, 128 + signal when killed */
};

/*
 * Run a session. SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked from here
 * on (they end the session, and must not cut short the writing of its
 * result). Returns 0 with *res filled, or a negative errno after
 * logging the cause; -ENOEXEC when the command could not be started (its
 * exit status should then be 127, as a shell would give).
 */
int record_run(const struct record_opts *o, struct record_result *res);
/* Free what record_run left in *res. */
void record_result_release(struct record_result *res);

#endif
