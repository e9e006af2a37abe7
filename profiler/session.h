/* SPDX-License-Identifier: MIT */
/*
 * session: the parts every sampling command runs together — the BPF
 * sampler, the symbolizer, process tracking, unwind tables and stack
 * copies — and the event handling that keeps them in step. `record` runs
 * one session to the end; `agent` cuts it into windows.
 *
 * Life cycle: session_open → sampler_add_target* (on s->sampler) →
 * session_start → session_events / session_work from the caller's loop
 * (when session_fd is readable, and while work remains) → session_collect
 * (once, or per window) → session_close.
 *
 * A reader thread consumes the ring buffer and reads each new process's
 * mappings the moment it is announced; the caller's thread does the rest.
 */
#ifndef SMOLDER_SESSION_H
#define SMOLDER_SESSION_H

#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>

#include "proctrack.h"
#include "profbuild.h"
#include "sampler.h"
#include "stackcopy.h"
#include "unwinder.h"

struct reader;

struct session {
	struct symbolizer *sym;
	struct proctrack *procs;
	struct sampler *sampler;
	struct unwinder *unwinder; /* NULL without dwarf unwinding */
	struct stackcopy *copies;  /* NULL without stack copies */
	struct reader *reader;
	uint64_t last_poll_ns;
};

/* Open every part (nothing samples yet). 0, or a negative errno after
 * logging the cause; *s is then released. */
int session_open(struct session *s, const struct sampler_opts *so);
/* Start sampling, and the reader thread. 0 or a negative errno (logged). */
int session_start(struct session *s);
/* Readable when process events or stack copies wait for session_events. */
int session_fd(const struct session *s);
/* Close and free every part; *s may be partly open. */
void session_close(struct session *s);

/*
 * Hand waiting process events and stack copies to their modules (a batch,
 * or with `all` every one, and then unwind every copy), then, without
 * `all`, work for a while. Returns true while work remains (call
 * session_work again soon).
 */
bool session_events(struct session *s, bool all);
/* Unwind copies and load tables for a slice of time; true while work
 * remains. */
bool session_work(struct session *s);

/*
 * Read waiting process announcements (not more often than every 2 ms),
 * and read the new processes' mappings: call it often during long work.
 */
void session_keepalive(struct session *s);
/*
 * After sampler_switch_window closed `set`: take in what its samples sent
 * (process events, stack copies) and unwind its copies, reading process
 * announcements meanwhile. Then session_collect.
 */
void session_finish_set(struct session *s, unsigned set);

/*
 * Add the samples of map set `set` to `pb`: those unwound from copies,
 * then those counted in the kernel. With `windows`, the set is emptied
 * for its next turn; else it must not be sampling any more. Call
 * session_events(s, true) before, so every copy is in. 0 or a negative
 * errno (logged).
 */
int session_collect(struct session *s, unsigned set, bool windows,
		    struct profbuild *pb, struct sampler_drain_stats *st);

#endif
