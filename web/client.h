/* SPDX-License-Identifier: MIT */
/*
 * client: sending profiles to a Pyroscope-compatible `POST /ingest`
 * (smolder serve, Grafana Pyroscope), through libcurl.
 *
 * What Pyroscope enforces by default is respected here, so that nothing
 * is refused for a reason the sender could have avoided: every upload has
 * a service name, every string is valid UTF-8 (the pprof writer repairs
 * them), and a profile with more than CLIENT_MAX_SAMPLES samples or
 * CLIENT_MAX_RAW uncompressed bytes is sent as several uploads.
 */
#ifndef SMOLDER_CLIENT_H
#define SMOLDER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "../formats/profile.h"

#define CLIENT_MAX_SAMPLES 16000
#define CLIENT_MAX_RAW (4u << 20)

struct client_opts {
	const char *url;     /* server base URL, or its /ingest URL */
	const char *token;   /* "Authorization: Bearer"; NULL: none */
	unsigned timeout_s;  /* whole request; 0: 30 */
	unsigned skip;       /* parts accepted by an earlier try: not sent */
	volatile int *abort; /* set (by another thread) to give up; NULL */
};

struct client_result {
	long status;     /* HTTP status; 0: no answer (connection failed) */
	char msg[512];   /* what went wrong, one line; the server's reason */
	unsigned parts;  /* parts accepted, skipped ones included: where a
			  * retry starts (client_opts.skip) */
	unsigned total;  /* parts in all */
};

/*
 * Send `p` as the series `name` ("SERVICE{k=v,...}") for the time range
 * [from_ns, until_ns), split as needed. Returns 0 when every part was
 * accepted; -EIO (no answer: worth retrying), -EAGAIN (the server is
 * overloaded or failing: 429, 5xx; worth retrying), or -EINVAL (refused:
 * 4xx; retrying will not help). res->msg says why.
 */
int client_send(const struct client_opts *o, const char *name,
		int64_t from_ns, int64_t until_ns, const struct profile *p,
		struct client_result *res);

/*
 * Split `p` into parts of at most max_samples samples and (about)
 * max_raw encoded bytes each. Returns the number of parts in *out (caller
 * frees each with profile_free, and the array); one part is a copy.
 */
size_t client_split(const struct profile *p, size_t max_samples,
		    size_t max_raw, struct profile ***out);

/* Call once before any thread uses the client. */
void client_global_init(void);

#endif
