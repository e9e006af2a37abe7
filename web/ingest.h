/* SPDX-License-Identifier: MIT */
/*
 * ingest: what arrives at a Pyroscope-compatible `POST /ingest`, checked
 * and turned into one profile ready for the store.
 *
 * The request names its series as `name=SERVICE{key=value,...}`:
 * SERVICE (a trailing ".cpu" or other profile-type suffix is dropped)
 * becomes the `service_name` label and every key=value another string
 * label, set on every sample. `from` and `until` are Unix seconds (ms or
 * ns are told apart by magnitude); the body is pprof (raw, gzipped or
 * zstd) or folded stacks, whose counts become samples/count and
 * cpu/nanoseconds at `sampleRate` (100 Hz unless given).
 *
 * Nothing here touches the network or the disk: the server feeds it
 * bytes, so the fuzz target can too.
 */
#ifndef SMOLDER_INGEST_H
#define SMOLDER_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "../formats/formats.h"
#include "../formats/profile.h"

#define INGEST_MAX_LABELS 32
#define INGEST_MAX_NAME 1024    /* bytes in `name` */
#define INGEST_MAX_KEY 128      /* bytes in a label key */
#define INGEST_MAX_VALUE 1024   /* bytes in a label value */
#define INGEST_SERVICE_LABEL "service_name"
#define INGEST_DEFAULT_RATE 100 /* Hz, for folded bodies */

/* A series: service and labels, all borrowed from one owned buffer. */
struct series {
	char *buf;
	const char *service;
	const char *keys[INGEST_MAX_LABELS];
	const char *values[INGEST_MAX_LABELS];
	size_t nlabels;
};

/*
 * Parse "SERVICE{k=v,k2=\"v 2\"}" (braces optional, values optionally
 * quoted; the Prometheus-style `{service_name="x",k=v}` with no name in
 * front works too). `allow_empty`: a missing service is not an error (a
 * query selecting every service). 0, or -EINVAL with the problem in *err.
 * Release with series_release().
 */
int series_parse(const char *s, bool allow_empty, struct series *out,
		 struct format_error *err);
void series_release(struct series *s);

/* What the request's query string said; NULL where absent. */
struct ingest_params {
	const char *name;
	const char *from, *until;
	const char *format;      /* pprof, folded (or absent: by content) */
	const char *sample_rate; /* Hz */
	const char *spy_name;    /* kept as the label "spy_name" */
};

struct ingest_result {
	struct profile *p; /* caller owns */
	int64_t start_ns, end_ns; /* also p's time_nanos and duration_nanos */
	char service[256];
};

/*
 * Decode and check one upload: `body` of `len` bytes, decompressed to at
 * most `max_raw` bytes. The window is [from, until): `now_ns` fills a
 * missing `until`, and `from` defaults to 10 s before it; a request that
 * gives neither takes the profile's own time range, if it has one. Returns
 * 0 with *out filled, or -EINVAL (a bad request: the reason in *err, one
 * line) or -EFBIG (the data expands past max_raw).
 */
int ingest_decode(const struct ingest_params *q, const uint8_t *body,
		  size_t len, size_t max_raw, int64_t now_ns,
		  struct ingest_result *out, struct format_error *err);

/* The latest time taken (in 2116): the span between two times, or a sum
 * of one and a span, never overflows. */
#define INGEST_TIME_MAX (INT64_MAX / 2)

/* Parse a time given as Unix seconds, ms, µs or ns (told apart by
 * magnitude), or as parse_time() takes it ("now", "now-1h", "-1h",
 * "@1700000000", RFC 3339), between 1970 and INGEST_TIME_MAX. 0 or
 * -EINVAL. */
int ingest_parse_time(const char *s, int64_t now_ns, int64_t *out);

#endif
