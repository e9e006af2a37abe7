/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: what `smolder serve` takes from the network. The input
 * is a request: "key=value" lines (query parameters), a blank line, then
 * the body. For example
 *
 *   name=app.cpu{host=h1,env="a b"}
 *   from=1699999990
 *   until=1700000000
 *
 *   main;work;leaf 12
 *
 * It goes through the pieces one by one (series_parse on `name` and
 * `query`, ingest_parse_time on `from` and `until`, ingest_decode with a
 * 1 MiB cap on decompression), then through api_handle itself: POST
 * /ingest into a store, and the GET /api/... queries over it that the same
 * parameters select (the ingested window, unless the input says otherwise).
 *
 * The store lives in a directory made once per process (on tmpfs when
 * there is one, so that fsync costs nothing), removed at exit; each input
 * gets it empty, so that a crash replays from its input alone (a crash
 * leaves the directory behind, with what the input stored). Invariants checked: every
 * failure says why, every answer is a known status with a body, no answer
 * is a 500, every JSON answer parses, and the store is consistent after
 * the requests and after a repair (its index deleted, then opened).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../../formats/profile.h"
#include "../../lib/log.h"
#include "../../profiler/store.h"
#include "../../web/api.h"
#include "../../web/ingest.h"

#define MAX_RAW (1u << 20)
#define MAX_PARAMS 16
/* 2023-11-14T22:13:20Z: "now" for every request, so that runs repeat. */
#define NOW_NS (1700000000 * (int64_t)1000000000)

static char store_dir[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Unlink every file of the store directory (it holds no subdirectory). */
static void empty_store(void)
{
	DIR *d = opendir(store_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

static void remove_store(void)
{
	empty_store();
	rmdir(store_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) ? getenv("TMPDIR") : "/dev/shm";

	(void)argc;
	(void)argv;
	snprintf(store_dir, sizeof(store_dir), "%.32s/smolder-fuzz-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(store_dir)) {
		perror("mkdtemp");
		abort();
	}
	atexit(remove_store);
	/* Warnings about odd requests are expected; errors are not. */
	log_set_level(LOG_ERROR);
	return 0;
}

struct input {
	char *text; /* a copy of the header, cut into strings */
	struct api_param params[MAX_PARAMS];
	size_t nparams;
	const uint8_t *body;
	size_t len;
};

/* Header lines up to the first blank one (or the end) become parameters;
 * a line without '=' is a key with an empty value, as in a URL. */
static void split(const uint8_t *data, size_t size, struct input *in)
{
	const uint8_t *sep = memmem(data, size, "\n\n", 2);
	size_t hlen = sep ? (size_t)(sep - data) : size;
	char *line, *next;

	memset(in, 0, sizeof(*in));
	in->text = malloc(hlen + 1);
	if (!in->text)
		abort();
	memcpy(in->text, data, hlen);
	in->text[hlen] = '\0';
	in->body = sep ? sep + 2 : data + size;
	in->len = sep ? size - hlen - 2 : 0;
	for (line = in->text; line && in->nparams < MAX_PARAMS; line = next) {
		char *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!*line)
			continue;
		eq = strchr(line, '=');
		if (eq)
			*eq++ = '\0';
		in->params[in->nparams++] = (struct api_param){ line, eq ? eq : "" };
	}
}

static const char *get(const struct input *in, const char *key)
{
	for (size_t i = 0; i < in->nparams; i++)
		if (!strcmp(in->params[i].key, key))
			return in->params[i].value;
	return NULL;
}

static void check_series(const char *s, bool allow_empty)
{
	struct series ser;
	struct format_error err = { "" };

	if (series_parse(s, allow_empty, &ser, &err)) {
		if (!err.msg[0])
			abort();
		return;
	}
	if (!ser.service || (!allow_empty && !*ser.service) ||
	    ser.nlabels > INGEST_MAX_LABELS)
		abort();
	for (size_t i = 0; i < ser.nlabels; i++)
		if (!*ser.keys[i] || strlen(ser.values[i]) > INGEST_MAX_VALUE)
			abort();
	series_release(&ser);
}

static void check_time(const char *s)
{
	int64_t t;

	if (s)
		ingest_parse_time(s, NOW_NS, &t);
}

static void check_decode(const struct input *in)
{
	struct ingest_params q = {
		.name = get(in, "name"),
		.from = get(in, "from"),
		.until = get(in, "until"),
		.format = get(in, "format"),
		.sample_rate = get(in, "sampleRate"),
		.spy_name = get(in, "spyName"),
	};
	struct ingest_result res;
	struct format_error err = { "" };
	int e = ingest_decode(&q, in->body, in->len, MAX_RAW, NOW_NS, &res, &err);

	if (e) {
		if ((e != -EINVAL && e != -EFBIG) || !err.msg[0] || res.p)
			abort();
		return;
	}
	if (!res.p || res.start_ns >= res.end_ns || !res.service[0])
		abort();
	profile_free(res.p);
}

/* One request through api_handle; returns the status. The override, if
 * any, replaces (or adds) one parameter. */
static int request(struct api *a, const char *method, const char *path,
		   const struct input *in, const char *key, const char *value,
		   json_t **json)
{
	struct api_param params[MAX_PARAMS + 1];
	size_t n = 0;
	struct api_request req = {
		.method = method, .path = path, .params = params,
		.body = in->body, .len = in->len, .now_ns = NOW_NS,
	};
	struct api_response r;
	int status;

	for (size_t i = 0; i < in->nparams; i++)
		if (!key || strcmp(in->params[i].key, key))
			params[n++] = in->params[i];
	if (key)
		params[n++] = (struct api_param){ key, value };
	req.nparams = n;
	api_handle(a, &req, &r);
	status = r.status;
	switch (status) {
	case 200: case 400: case 404: case 405: case 413: case 503: case 507:
		break;
	default:
		/* 500 is a fault of ours, not of the request. */
		fprintf(stderr, "%s %s: status %d: %.*s\n", method, path,
			status, (int)r.len, r.body ? r.body : "");
		abort();
	}
	if (!r.content_type || (r.len && !r.body && !r.static_body) ||
	    (r.body && r.static_body))
		abort();
	if (!strcmp(r.content_type, "application/json")) {
		json_error_t jerr;
		json_t *j = json_loadb(r.body, r.len, 0, &jerr);

		if (!j) {
			fprintf(stderr, "%s %s: invalid JSON (%s at %d): %.*s\n",
				method, path, jerr.text, jerr.position,
				(int)r.len, r.body);
			abort();
		}
		if (json)
			*json = j;
		else
			json_decref(j);
	}
	api_response_release(&r);
	return status;
}

/*
 * What the ingest left must be a consistent store (each index line agrees
 * with its file), and one that opening repairs: without its index, every
 * window is indexed again from the file itself.
 */
static void check_store(void)
{
	struct api_opts o = { .store_dir = store_dir, .max_raw = MAX_RAW };
	struct input none = { .nparams = 0 };
	size_t nfiles = 0, unindexed = 0;
	char index[sizeof(store_dir) + sizeof("/" STORE_INDEX)];
	struct api *a;

	if (store_check(store_dir, &nfiles, &unindexed) || unindexed) {
		fprintf(stderr, "the store is not consistent after the requests\n");
		abort();
	}
	if (!nfiles)
		return;
	snprintf(index, sizeof(index), "%s/" STORE_INDEX, store_dir);
	unlink(index);
	if (api_new(&o, &a))
		abort();
	request(a, "GET", "/api/windows", &none, "from", "0", NULL);
	api_free(a);
	if (store_check(store_dir, &nfiles, &unindexed) || unindexed) {
		fprintf(stderr, "the store is not consistent after a repair\n");
		abort();
	}
}

static void check_api(const struct input *in)
{
	static const char *const queries[] = {
		"/api/timeline", "/api/services", "/api/labels", "/api/windows",
		"/api/diff",
	};
	struct api_opts o = {
		.store_dir = store_dir, .max_raw = MAX_RAW,
		.cache_bytes = 16u << 20,
	};
	const char *query = get(in, "query"), *path = get(in, "path");
	json_t *ingested = NULL;
	struct api *a;

	if (api_new(&o, &a)) {
		fprintf(stderr, "cannot open the store '%s'\n", store_dir);
		abort();
	}
	request(a, "POST", "/ingest", in, NULL, NULL, &ingested);
	/* Select what was just ingested: the ingest's name is the query,
	 * unless the input gives one. */
	if (!query)
		query = get(in, "name");
	request(a, "GET", "/api/profile", in, "query", query ? query : "", NULL);
	request(a, "GET", "/api/profile", in, "format", "json", NULL);
	request(a, "GET", "/api/profile", in, "format", "svg", NULL);
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
		request(a, "GET", queries[i], in, NULL, NULL, NULL);
	/* Exactly the window stored, by its name. */
	if (ingested) {
		const char *w = json_string_value(json_object_get(ingested,
								  "window"));

		if (w) {
			request(a, "GET", "/api/profile", in, "window", w, NULL);
			request(a, "GET", "/api/diff", in, "base_window", w, NULL);
		}
		json_decref(ingested);
	}
	if (path)
		request(a, in->len ? "POST" : "GET", path, in, NULL, NULL, NULL);
	api_free(a);
	check_store();
	empty_store();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;

	split(data, size, &in);
	check_series(get(&in, "name"), false);
	check_series(get(&in, "name"), true);
	check_series(get(&in, "query"), true);
	check_time(get(&in, "from"));
	check_time(get(&in, "until"));
	check_decode(&in);
	check_api(&in);
	free(in.text);
	return 0;
}
