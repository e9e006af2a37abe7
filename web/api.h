/* SPDX-License-Identifier: MIT */
/*
 * api: what `smolder serve` answers, independent of the HTTP library.
 *
 * The server hands each request over as (method, path, query parameters,
 * body) and sends back what api_handle() fills in. Everything reads and
 * writes one store (profiler/store.h), the agent's format:
 *
 *   POST /ingest                 Pyroscope-compatible ingest (ingest.h);
 *                                answers {"window": FILE, "samples": N};
 *                                the same upload again (same body, name,
 *                                times) is answered as stored, and not
 *                                stored twice (a client's retry); one
 *                                without samples is taken, not stored
 *                                ("window": null)
 *   GET  /api/services           services seen in [from, until)
 *   GET  /api/labels             label names and their values
 *   GET  /api/profile            the merged profile of a selection,
 *                                format=json (the page's tree), pprof,
 *                                folded or svg
 *   GET  /api/timeline           samples over time, `points` buckets
 *   GET  /api/diff               two selections, json or svg
 *   GET  /api/windows            the windows of a selection
 *   GET  /, /app.js, /app.css    the page, from memory
 *
 * A selection is `query=SERVICE{k=v,...}` (service optional), `from` and
 * `until` (Unix seconds or ms, "now", "now-1h", RFC 3339; the last hour by
 * default), or `window=FILE` for exactly one stored window. A diff's base
 * selection takes the same keys prefixed with "base_"; what it does not
 * give it takes from the comparison.
 *
 * Errors are JSON {"error": "one line"} with 400 (a bad request), 404,
 * 405, 413 (too large), 503 (the store cannot take the write) or 500.
 * api_handle is safe to call from many threads at once.
 */
#ifndef SMOLDER_API_H
#define SMOLDER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct api_opts {
	const char *store_dir;
	size_t max_raw;      /* decompressed body cap, bytes */
	uint64_t cache_bytes; /* decoded windows kept in memory */
	int64_t retention_ns; /* windows older than this are deleted; 0: kept */
	uint64_t max_store;   /* bytes; 0: no cap */
};

struct api;

/* Open the store (writable; read-only when another process, such as an
 * agent, holds it). *out or a negative errno after logging. */
int api_new(const struct api_opts *o, struct api **out);
void api_free(struct api *a);
/* Start a thread that sums the last hour's windows ahead of the queries
 * (while uploads arrive, every `every_s` seconds; 0: 10), so that views
 * find them made. Stopped by api_free. 0 or -errno. */
int api_start_warmer(struct api *a, unsigned every_s);
/* Whether ingest is possible (the store is ours to write). */
bool api_writable(const struct api *a);

struct api_param {
	const char *key, *value;
};

struct api_request {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* decoded, without the query string */
	const struct api_param *params;
	size_t nparams;
	const uint8_t *body;
	size_t len;
	int64_t now_ns;     /* 0: the clock */
};

struct api_response {
	int status;
	const char *content_type;   /* static */
	char *body;                 /* owned; api_response_release */
	size_t len;
	const uint8_t *static_body; /* borrowed instead of body: the page */
	char disposition[160];      /* Content-Disposition, or "" */
};

/* Answer one request: *resp is always filled (an error is a response). */
void api_handle(struct api *a, const struct api_request *req,
		struct api_response *resp);
void api_response_release(struct api_response *resp);

/* Counters, for the server's own status line. */
struct api_stats {
	uint64_t ingested, ingest_rejected, ingest_duplicates, ingest_bytes;
	uint64_t queries;
	uint64_t cache_hits, cache_misses, windows_unreadable;
	uint64_t sums_cached, sums_built; /* buckets' sums found, made */
};
void api_get_stats(struct api *a, struct api_stats *out);

#endif
