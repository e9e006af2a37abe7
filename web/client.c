/* SPDX-License-Identifier: MIT */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/gz.h"
#include "../formats/pprof.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"

void client_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

size_t client_split(const struct profile *p, size_t max_samples,
		    size_t max_raw, struct profile ***out)
{
	struct profile **parts = NULL;
	size_t n = 0, alloc = 0, per;
	uint8_t *raw = NULL;
	size_t raw_len = 0;

	/* Samples per part: by count, and by the encoded size of the whole
	 * spread evenly (with room to spare, as the shared tables repeat in
	 * every part). */
	per = max_samples ? max_samples : p->nsamples;
	if (max_raw && !pprof_encode(p, &raw, &raw_len) && raw_len > max_raw) {
		size_t k = (raw_len + max_raw / 2 - 1) / (max_raw / 2);
		size_t by_size = (p->nsamples + k - 1) / k;

		if (by_size < per)
			per = by_size;
	}
	free(raw);
	if (!per)
		per = 1;
	for (size_t first = 0; first < p->nsamples || !n; first += per) {
		size_t cnt = p->nsamples - first < per ? p->nsamples - first : per;
		struct profile *part = profile_new();

		if (p->nsamples)
			profile_merge_range(part, p, first, cnt);
		else
			profile_merge(part, p, NULL, 0, NULL);
		ALLOC_GROW(parts, n + 1, alloc);
		parts[n++] = part;
		if (!p->nsamples)
			break;
	}
	*out = parts;
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct strbuf *sb = arg;

	if (sb->len < 4096)
		strbuf_add(sb, data, size * nmemb);
	return size * nmemb;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	volatile int *abort = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return abort && *abort;
}

/* "http://h:4100" -> "http://h:4100/ingest"; an /ingest URL as it is. */
static void ingest_url(struct strbuf *sb, const char *url)
{
	size_t n = strlen(url);
	const char *q = strchr(url, '?');

	if (q)
		n = (size_t)(q - url);
	while (n && url[n - 1] == '/')
		n--;
	strbuf_add(sb, url, n);
	if (n < 7 || strncmp(url + n - 7, "/ingest", 7))
		strbuf_adds(sb, "/ingest");
}

/* The server's reason from a JSON error body ({"error": ...}, as ours and
 * Pyroscope's are), or the body's first line. */
static void reason(const struct strbuf *body, char *out, size_t n)
{
	const char *b = body->buf ? body->buf : "", *e;
	json_t *o = json_loadb(b, body->len, 0, NULL);
	const char *msg = json_string_value(json_object_get(o, "error"));

	if (msg) {
		snprintf(out, n, "%.300s", msg);
	} else {
		e = strchr(b, '\n');
		snprintf(out, n, "%.*s", (int)(e ? (e - b > 300 ? 300 : e - b)
					      : (int)strnlen(b, 300)), b);
	}
	json_decref(o);
}

static int send_one(CURL *c, const struct client_opts *o, const char *name,
		    int64_t from_ns, int64_t until_ns, const struct profile *p,
		    struct client_result *res)
{
	struct strbuf url = STRBUF_INIT, body = STRBUF_INIT, auth = STRBUF_INIT;
	struct curl_slist *hdrs = NULL;
	uint8_t *raw = NULL, *gz = NULL;
	size_t raw_len, gz_len;
	char *ename;
	CURLcode cc;
	int err = 0;

	if (pprof_encode(p, &raw, &raw_len) || gz_compress(raw, raw_len, &gz, &gz_len)) {
		free(raw);
		snprintf(res->msg, sizeof(res->msg), "cannot encode the profile");
		return -EINVAL;
	}
	free(raw);
	ingest_url(&url, o->url);
	ename = curl_easy_escape(c, name, 0);
	strbuf_addf(&url, "?name=%s&from=%" PRId64 "&until=%" PRId64
		    "&format=pprof&spyName=smolder", ename ? ename : "",
		    from_ns / 1000000000, (until_ns + 999999999) / 1000000000);
	curl_free(ename);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (o->token) {
		strbuf_addf(&auth, "Authorization: Bearer %s", o->token);
		hdrs = curl_slist_append(hdrs, auth.buf);
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url.buf);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, gz);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)gz_len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(o->timeout_s ? o->timeout_s : 30));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "smolder/" SMOLDER_VERSION);
	if (o->abort) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)o->abort);
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		res->status = 0;
		snprintf(res->msg, sizeof(res->msg), "%s: %s", o->url,
			 curl_easy_strerror(cc));
		err = -EIO;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
		if (res->status >= 200 && res->status < 300) {
			res->msg[0] = '\0';
		} else {
			char why[320];

			reason(&body, why, sizeof(why));
			snprintf(res->msg, sizeof(res->msg), "%s answered %ld: %s",
				 o->url, res->status, why);
			err = res->status == 429 || res->status == 408 ||
					      res->status >= 500
				      ? -EAGAIN
				      : -EINVAL;
		}
	}
	curl_slist_free_all(hdrs);
	strbuf_release(&url);
	strbuf_release(&body);
	strbuf_release(&auth);
	free(gz);
	return err;
}

int client_send(const struct client_opts *o, const char *name,
		int64_t from_ns, int64_t until_ns, const struct profile *p,
		struct client_result *res)
{
	struct profile **parts;
	size_t n = client_split(p, CLIENT_MAX_SAMPLES, CLIENT_MAX_RAW, &parts);
	CURL *c = curl_easy_init();
	int err = 0;

	memset(res, 0, sizeof(*res));
	if (!c) {
		snprintf(res->msg, sizeof(res->msg), "cannot start libcurl");
		err = -ENOMEM;
	}
	res->total = (unsigned)n;
	for (size_t i = 0; i < n; i++) {
		if (!err && i < o->skip) {
			res->parts++;
		} else if (!err) {
			err = send_one(c, o, name, from_ns, until_ns, parts[i], res);
			if (!err)
				res->parts++;
		}
		profile_free(parts[i]);
	}
	free(parts);
	if (c)
		curl_easy_cleanup(c);
	return err;
}
