/* SPDX-License-Identifier: MIT */
/*
 * push: the agent's windows, also sent to a Pyroscope-compatible server
 * (smolder serve, Grafana Pyroscope).
 *
 * Each window goes first into an on-disk spool (one zstd pprof file per
 * window, named by its time range so that names sort in time order);
 * a thread sends the oldest first and deletes it once the server took
 * it. When the server is down or slow the spool grows, up to its cap:
 * past it the oldest windows are dropped, and counted. A window split
 * into parts (client.h) records how many parts were taken, so a retry
 * sends only the rest; the server drops an upload it has already stored
 * (same bytes, same series and times), so a retry after a lost answer
 * stores nothing twice. The spool survives restarts.
 */
#ifndef SMOLDER_PUSH_H
#define SMOLDER_PUSH_H

#include <stdint.h>

#include "../formats/profile.h"

#define PUSH_SPOOL_DIR "push-spool"
#define PUSH_DEFAULT_SPOOL (256ull << 20)
#define PUSH_TOO_OLD_NS (3600 * (int64_t)1000000000)

struct push_opts {
	const char *url;
	const char *token;     /* NULL: none */
	const char *spool_dir; /* created if needed */
	uint64_t spool_max;    /* bytes */
	const char *series;    /* "SERVICE{host=...}" */
	unsigned timeout_s;    /* per request; 0: 15 */
};

struct push_stats {
	uint64_t sent;          /* windows the server took */
	uint64_t parts;         /* uploads they took */
	uint64_t attempts_failed; /* tries that found the server down or failing */
	uint64_t refused;       /* windows the server refused (4xx): dropped */
	uint64_t dropped_spool_full; /* windows dropped at the spool's cap */
	uint64_t dropped_unreadable; /* damaged spool files: dropped */
	uint64_t too_old;       /* windows older than an hour when sent */
	uint64_t spool_windows, spool_bytes;
	int64_t last_success_ns;
	char last_error[512];
};

struct pusher;

/* Start the sending thread. *out, or a negative errno after logging. */
int pusher_new(const struct push_opts *o, struct pusher **out);
/* Stop the thread (a request in flight is abandoned; its window stays in
 * the spool) and free. */
void pusher_free(struct pusher *p);

/* Spool window [start_ns, end_ns) for sending. 0 or -errno (logged). */
int pusher_enqueue(struct pusher *p, const struct profile *prof,
		   int64_t start_ns, int64_t end_ns);

void pusher_stats(struct pusher *p, struct push_stats *out);

/* Wait until the spool is empty or `timeout_ms` passed; true if empty. */
bool pusher_flush(struct pusher *p, int timeout_ms);

#endif
