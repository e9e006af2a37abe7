/* SPDX-License-Identifier: MIT */
#include "ingest.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/folded.h"
#include "../formats/gz.h"
#include "../formats/profile.h"
#include "../lib/parse.h"
#include "../lib/utf8.h"
#include "../lib/xalloc.h"

/* Profile-type suffixes Pyroscope clients put after the service name. */
static const char *const type_suffixes[] = {
	".cpu", ".itimer", ".wall", ".samples", NULL,
};

void series_release(struct series *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static bool valid_key(const char *k)
{
	if (!*k || strlen(k) > INGEST_MAX_KEY ||
	    !(isalpha((unsigned char)*k) || *k == '_'))
		return false;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '.')
			return false;
	return true;
}

/* Printable UTF-8 without control characters. */
static bool valid_text(const char *v, size_t max)
{
	size_t n = strlen(v);

	if (n > max || !utf8_valid(v, n))
		return false;
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return true;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

int series_parse(const char *in, bool allow_empty, struct series *out,
		 struct format_error *err)
{
	char *s, *brace, *p, *name;

	memset(out, 0, sizeof(*out));
	if (!in)
		in = "";
	if (strlen(in) > INGEST_MAX_NAME) {
		format_error_set(err, "name: longer than %d bytes", INGEST_MAX_NAME);
		return -EINVAL;
	}
	out->buf = s = xstrdup(in);
	brace = strchr(s, '{');
	if (brace) {
		size_t n = strlen(brace);

		if (brace[n - 1] != '}') {
			format_error_set(err, "name: '{' without a closing '}'");
			goto fail;
		}
		brace[n - 1] = '\0';
		*brace++ = '\0';
	}
	name = trim(s);
	for (const char *const *suf = type_suffixes; *suf; suf++) {
		size_t n = strlen(name), sl = strlen(*suf);

		if (n > sl && !strcmp(name + n - sl, *suf)) {
			name[n - sl] = '\0';
			break;
		}
	}
	/* Labels: k=v or k="v" (with \" and \\ inside), comma separated. */
	for (p = brace; p && *p;) {
		char *key, *val, *w;

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		key = p;
		while (*p && *p != '=' && *p != ',')
			p++;
		if (*p != '=') {
			format_error_set(err, "name: label '%.*s' has no '='",
					 (int)(p - key), key);
			goto fail;
		}
		*p++ = '\0';
		key = trim(key);
		while (*p == ' ')
			p++;
		if (*p == '"') {
			val = w = ++p;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				*w++ = *p++;
			}
			if (*p != '"') {
				format_error_set(err, "name: unterminated quote"
						 " in label '%s'", key);
				goto fail;
			}
			p++;
			*w = '\0';
			while (*p == ' ')
				p++;
			if (*p && *p != ',') {
				format_error_set(err, "name: text after the"
						 " quoted value of '%s'", key);
				goto fail;
			}
			if (*p)
				p++;
		} else {
			val = p;
			while (*p && *p != ',')
				p++;
			if (*p)
				*p++ = '\0';
			val = trim(val);
		}
		if (!valid_key(key)) {
			format_error_set(err, "name: invalid label name '%s'"
					 " (letters, digits, '_' and '.')", key);
			goto fail;
		}
		if (!valid_text(val, INGEST_MAX_VALUE)) {
			format_error_set(err, "name: the value of label '%s' is"
					 " not printable UTF-8 of at most %d bytes",
					 key, INGEST_MAX_VALUE);
			goto fail;
		}
		if (!strcmp(key, "__name__"))
			continue;
		if (!strcmp(key, INGEST_SERVICE_LABEL)) {
			if (*name && strcmp(name, val)) {
				format_error_set(err, "name: service '%s' and"
						 " service_name '%s' differ",
						 name, val);
				goto fail;
			}
			name = val;
			continue;
		}
		for (size_t i = 0; i < out->nlabels; i++)
			if (!strcmp(out->keys[i], key)) {
				format_error_set(err, "name: label '%s' given"
						 " twice", key);
				goto fail;
			}
		if (out->nlabels == INGEST_MAX_LABELS) {
			format_error_set(err, "name: more than %d labels",
					 INGEST_MAX_LABELS);
			goto fail;
		}
		out->keys[out->nlabels] = key;
		out->values[out->nlabels++] = val;
	}
	if (!*name && !allow_empty) {
		format_error_set(err, "name: no service name (expected"
				 " name=SERVICE{key=value,...})");
		goto fail;
	}
	if (!valid_text(name, 255) || strpbrk(name, "{}=,\"")) {
		format_error_set(err, "name: invalid service name '%s'", name);
		goto fail;
	}
	out->service = name;
	return 0;
fail:
	series_release(out);
	return -EINVAL;
}

int ingest_parse_time(const char *s, int64_t now_ns, int64_t *out)
{
	char *end;
	long long v;
	int64_t t;

	if (!s || !*s)
		return -EINVAL;
	if (!strncmp(s, "now-", 4))
		s += 3;
	if (isdigit((unsigned char)*s)) {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (!*end && !errno && v >= 0) {
			/* Seconds below 1e10, then ms, µs, ns. */
			int64_t scale = v < 10000000000LL ? 1000000000 :
					v < 10000000000000LL ? 1000000 :
					v < 10000000000000000LL ? 1000 : 1;

			if (v > INGEST_TIME_MAX / scale)
				return -EINVAL;
			*out = (int64_t)v * scale;
			return 0;
		}
	}
	if (parse_time(s, now_ns, &t) || t < 0 || t > INGEST_TIME_MAX)
		return -EINVAL;
	*out = t;
	return 0;
}

/* The first sample type's values, in samples/count, with a cpu/nanoseconds
 * column at `rate` Hz beside them: what a folded body means. 0, or -ERANGE
 * when a count is too large for its time in ns. */
static int add_cpu_column(struct profile *p, long rate)
{
	int c = profile_sample_type_index(p, "samples");
	int e;

	if (c < 0 || profile_sample_type_index(p, "cpu") >= 0)
		return 0;
	if ((e = profile_add_scaled_type(p, "cpu", "nanoseconds", c,
					 1000000000 / rate)))
		return e;
	p->period_type.type = profile_string(p, "cpu");
	p->period_type.unit = profile_string(p, "nanoseconds");
	p->period = 1000000000 / rate;
	return 0;
}

int ingest_decode(const struct ingest_params *q, const uint8_t *body,
		  size_t len, size_t max_raw, int64_t now_ns,
		  struct ingest_result *out, struct format_error *err)
{
	struct series ser;
	struct profile *p = NULL;
	uint8_t *raw = NULL;
	struct format_error perr = { { 0 } };
	enum profile_format want = FORMAT_UNKNOWN, got;
	const char *kv[2 * (INGEST_MAX_LABELS + 2)];
	size_t nkv = 0;
	long rate = INGEST_DEFAULT_RATE;
	int64_t from, until;
	int e;

	memset(out, 0, sizeof(*out));
	if (q->format && *q->format) {
		if (!strcmp(q->format, "pprof"))
			want = FORMAT_PPROF;
		else if (!strcmp(q->format, "folded"))
			want = FORMAT_FOLDED;
		else {
			format_error_set(err, "format: '%.64s' is not supported"
					 " (pprof or folded)", q->format);
			return -EINVAL;
		}
	}
	if (q->sample_rate && *q->sample_rate &&
	    parse_long(q->sample_rate, 1, 1000000, &rate)) {
		format_error_set(err, "sampleRate: '%.64s' is not a rate in Hz"
				 " (1 to 1000000)", q->sample_rate);
		return -EINVAL;
	}
	if (q->spy_name && !valid_text(q->spy_name, 128)) {
		format_error_set(err, "spyName: not printable UTF-8 of at most"
				 " 128 bytes");
		return -EINVAL;
	}
	until = now_ns;
	if (q->until && ingest_parse_time(q->until, now_ns, &until)) {
		format_error_set(err, "until: '%.64s' is not a time", q->until);
		return -EINVAL;
	}
	from = until - 10 * (int64_t)1000000000;
	if (q->from && ingest_parse_time(q->from, now_ns, &from)) {
		format_error_set(err, "from: '%.64s' is not a time", q->from);
		return -EINVAL;
	}
	if (from > until) {
		format_error_set(err, "from is after until");
		return -EINVAL;
	}
	if (!len) {
		format_error_set(err, "the body is empty");
		return -EINVAL;
	}
	if ((e = series_parse(q->name, false, &ser, err)))
		return e;
	/* format_detect calls any gzip stream pprof: look inside, so that
	 * gzipped folded stacks are told apart (and get their cpu column). */
	if (gz_is_gzip(body, len)) {
		size_t bad_at = 0;

		e = gz_decompress(body, len, max_raw, &raw, &len, &bad_at);
		if (e == -EFBIG)
			format_error_set(err, "gzip: the data expands past %zu %s",
					 max_raw >= 1u << 20 ? max_raw >> 20 : max_raw >> 10,
					 max_raw >= 1u << 20 ? "MiB" : "KiB");
		else if (e)
			format_error_set(err, "gzip: corrupt or truncated data"
					 " (at byte %zu)", bad_at);
		if (e) {
			series_release(&ser);
			return e == -EFBIG ? -EFBIG : -EINVAL;
		}
		body = raw;
	}
	got = format_detect(body, len);
	if (want && got && got != want) {
		format_error_set(err, "format=%s, but the body is %s", q->format,
				 format_name(got));
		goto refuse;
	}
	if (got == FORMAT_UNKNOWN && want != FORMAT_PPROF &&
	    !memchr(body, 0, len < 4096 ? len : 4096)) {
		/* Text that is not quite folded: the folded reader names the
		 * line at fault. */
		e = folded_read((const char *)body, len, &p, &perr);
		if (e) {
			format_error_set(err, "folded: %s", perr.msg);
			series_release(&ser);
			return -EINVAL;
		}
		got = FORMAT_FOLDED;
		goto decoded;
	}
	if (got != FORMAT_PPROF && got != FORMAT_FOLDED) {
		format_error_set(err, "the body is %s, not pprof or folded stacks",
				 got ? format_name(got) : "no profile");
		goto refuse;
	}
	e = profile_read_max(body, len, max_raw, &p, &perr);
	free(raw);
	raw = NULL;
	if (e) {
		size_t fl = strlen(format_name(got));

		if (!strncmp(perr.msg, format_name(got), fl))
			format_error_set(err, "%s", perr.msg);
		else
			format_error_set(err, "%s: %s", format_name(got), perr.msg);
		series_release(&ser);
		return e == -EFBIG ? -EFBIG : -EINVAL;
	}
decoded:
	/* Counts alone (folded, or pprof with samples/count only) become
	 * CPU time at the sample rate, as the agent's windows are. */
	if (p->nsample_types == 1 && add_cpu_column(p, rate)) {
		format_error_set(err, "%s: a count is too large to be"
				 " a time in ns at %ld Hz", format_name(got), rate);
		goto bad;
	}
	kv[nkv++] = INGEST_SERVICE_LABEL;
	kv[nkv++] = ser.service;
	for (size_t i = 0; i < ser.nlabels; i++) {
		kv[nkv++] = ser.keys[i];
		kv[nkv++] = ser.values[i];
	}
	if (q->spy_name && *q->spy_name) {
		kv[nkv++] = "spy_name";
		kv[nkv++] = q->spy_name;
	}
	profile_set_labels(p, kv, nkv / 2);
	/* The window: the request's, or, when it names neither end, the
	 * profile's own if it has a sane one. The profile is stamped with
	 * it, so that the store's index and the file agree. */
	if (!q->from && !q->until && p->time_nanos > 0 &&
	    p->time_nanos <= INGEST_TIME_MAX && p->duration_nanos >= 0 &&
	    p->duration_nanos <= INGEST_TIME_MAX - p->time_nanos) {
		from = p->time_nanos;
		until = from + (p->duration_nanos ? p->duration_nanos :
				10 * (int64_t)1000000000);
	}
	if (until <= from)
		until = from + 1;
	p->time_nanos = from;
	p->duration_nanos = until - from;
	out->p = p;
	out->start_ns = from;
	out->end_ns = until;
	snprintf(out->service, sizeof(out->service), "%s", ser.service);
	series_release(&ser);
	return 0;
bad:
	profile_free(p);
refuse:
	free(raw);
	series_release(&ser);
	return -EINVAL;
}
