/* SPDX-License-Identifier: MIT */
/* Parsed by hand: perf script's text is a fixed, line-oriented layout. */
#include "perfscript.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hmap.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"

#define PERF_MAX_DEPTH 65536

struct frame_key {
	size_t off, len; /* name in the text buffer */
	enum frame_kind kind;
	uint64_t loc;
};

struct ps_reader {
	struct profile *p;
	struct strbuf text;
	struct hmap idx;
	struct frame_key *keys;
	size_t nkeys, keys_alloc;
	uint64_t *locs;
	size_t nlocs, locs_alloc;
	int64_t k_comm, k_thread, k_pid, k_tid;
	/* the sample being read */
	bool in_sample;
	char comm[256];
	long pid, tid;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The decimal number at s[i..], within len (the text is not NUL-ended). */
static long number_at(const char *s, size_t i, size_t len)
{
	long v = 0;

	while (i < len && is_digit(s[i]) && v < 100000000000L)
		v = v * 10 + (s[i++] - '0');
	return v;
}

static uint64_t location_for(struct ps_reader *r, const char *name, size_t len,
			     enum frame_kind kind)
{
	uint64_t h = hash_combine(hash_bytes(name, len), kind);
	struct profile_line line = { 0 };
	char small[256], *copy;
	size_t pos;

	for (uint32_t i = hmap_first(&r->idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&r->idx, h, &pos))
		if (r->keys[i].kind == kind && r->keys[i].len == len &&
		    !memcmp(r->text.buf + r->keys[i].off, name, len))
			return r->keys[i].loc;
	copy = len < sizeof(small) ? small : xmalloc(len + 1);
	memcpy(copy, name, len);
	copy[len] = '\0';
	line.function_id = profile_add_function(r->p, copy, NULL, NULL, 0);
	if (copy != small)
		free(copy);
	ALLOC_GROW(r->keys, r->nkeys + 1, r->keys_alloc);
	r->keys[r->nkeys] = (struct frame_key){
		.off = r->text.len, .len = len, .kind = kind,
		.loc = profile_add_location(r->p, 0, 0, kind, &line, 1),
	};
	strbuf_add(&r->text, name, len);
	hmap_insert(&r->idx, h, (uint32_t)r->nkeys);
	return r->keys[r->nkeys++].loc;
}

/*
 * "comm  pid[/tid] [cpu] time: ..." where comm may hold spaces: it ends at
 * the first run of spaces followed by a number and then a space or '/'.
 */
static int parse_header(struct ps_reader *r, const char *s, size_t len)
{
	for (size_t i = 1; i < len; i++) {
		size_t j, k;

		if (!is_space(s[i]) || is_space(s[i - 1]))
			continue;
		j = i;
		while (j < len && is_space(s[j]))
			j++;
		k = j;
		while (k < len && is_digit(s[k]))
			k++;
		if (k == j || (k < len && !is_space(s[k]) && s[k] != '/'))
			continue;
		size_t clen = i < sizeof(r->comm) - 1 ? i : sizeof(r->comm) - 1;

		memcpy(r->comm, s, clen);
		r->comm[clen] = '\0';
		r->pid = number_at(s, j, len);
		r->tid = r->pid;
		if (k < len && s[k] == '/')
			r->tid = number_at(s, k + 1, len);
		return 0;
	}
	return -EINVAL;
}

static const char *base_name(const char *s, size_t len, size_t *blen)
{
	const char *b = s;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '/')
			b = s + i + 1;
	*blen = len - (size_t)(b - s);
	return b;
}

/* "\t  7f001234 sym+0x1b (/lib/x.so)" */
static int parse_frame(struct ps_reader *r, const char *s, size_t len)
{
	const char *e = s + len, *sym, *dso = NULL, *plus;
	size_t symlen, dsolen = 0;
	enum frame_kind kind = FRAME_USER;
	struct strbuf name = STRBUF_INIT;

	while (s < e && is_space(*s))
		s++;
	while (s < e && !is_space(*s)) /* the address */
		s++;
	while (s < e && is_space(*s))
		s++;
	sym = s;
	/* The object, in parentheses at the end. */
	if (e > sym && e[-1] == ')') {
		for (const char *q = e - 1; q > sym; q--)
			if (*q == '(' && is_space(q[-1])) {
				dso = q + 1;
				dsolen = (size_t)(e - 1 - dso);
				e = q - 1;
				break;
			}
	}
	while (e > sym && is_space(e[-1]))
		e--;
	symlen = (size_t)(e - sym);
	/* Drop the offset: "func+0x1b". */
	plus = NULL;
	for (const char *q = sym; q + 2 < sym + symlen; q++)
		if (q[0] == '+' && q[1] == '0' && q[2] == 'x')
			plus = q;
	if (plus)
		symlen = (size_t)(plus - sym);

	if (dso && ((dsolen >= 7 && !memcmp(dso, "[kernel", 7)) ||
		    memmem(dso, dsolen, "vmlinux", 7)))
		kind = FRAME_KERNEL;
	else if (dso && memmem(dso, dsolen, "/perf-", 6) &&
		 dsolen > 4 && !memcmp(dso + dsolen - 4, ".map", 4))
		kind = FRAME_JIT;

	if (!symlen || (symlen == 9 && !memcmp(sym, "[unknown]", 9))) {
		if (dso && dsolen && !(dsolen == 9 && !memcmp(dso, "[unknown]", 9))) {
			size_t blen;
			const char *b = base_name(dso, dsolen, &blen);

			strbuf_addc(&name, '[');
			if (blen && b[0] == '[' && b[blen - 1] == ']')
				strbuf_add(&name, b + 1, blen - 2);
			else
				strbuf_add(&name, b, blen);
			strbuf_addc(&name, ']');
		} else {
			strbuf_adds(&name, "[unknown]");
		}
	} else {
		strbuf_add(&name, sym, symlen);
	}
	if (r->nlocs >= PERF_MAX_DEPTH) {
		strbuf_release(&name);
		return -E2BIG;
	}
	ALLOC_GROW(r->locs, r->nlocs + 1, r->locs_alloc);
	r->locs[r->nlocs++] = location_for(r, name.buf, name.len, kind);
	strbuf_release(&name);
	return 0;
}

static void end_sample(struct ps_reader *r)
{
	struct profile_label labels[4];
	int64_t one = 1;
	int64_t comm;

	if (!r->in_sample)
		return;
	comm = profile_string(r->p, r->comm);
	labels[0] = (struct profile_label){ .key = r->k_pid, .num = r->pid };
	labels[1] = (struct profile_label){ .key = r->k_tid, .num = r->tid };
	labels[2] = (struct profile_label){ .key = r->k_comm, .str = comm };
	labels[3] = (struct profile_label){ .key = r->k_thread, .str = comm };
	profile_add_sample(r->p, r->locs, (uint32_t)r->nlocs, &one, labels, 4);
	r->nlocs = 0;
	r->in_sample = false;
}

int perf_script_read(const char *data, size_t len, struct profile **out,
		     struct format_error *err)
{
	static const char *const types[] = { "samples" };
	static const char *const units[] = { "count" };
	struct ps_reader r = { .text = STRBUF_INIT };
	const char *p = data, *end = data + len;
	size_t lineno = 0;
	int e = 0;

	r.p = profile_new();
	profile_set_sample_types(r.p, types, units, 1);
	r.k_comm = profile_string(r.p, LABEL_COMM);
	r.k_thread = profile_string(r.p, LABEL_THREAD_NAME);
	r.k_pid = profile_string(r.p, LABEL_PID);
	r.k_tid = profile_string(r.p, LABEL_TID);
	while (p < end && !e) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line = p;
		size_t n = (size_t)((nl ? nl : end) - p);

		p = nl ? nl + 1 : end;
		lineno++;
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
			n--;
		if (!n) {
			end_sample(&r);
			continue;
		}
		if (line[0] == '#')
			continue;
		if (!is_space(line[0])) {
			end_sample(&r);
			if (parse_header(&r, line, n)) {
				format_error_set(err, "perf script: line %zu: cannot"
						 " find the command and pid in the"
						 " sample header", lineno);
				e = -EINVAL;
				break;
			}
			r.in_sample = true;
			continue;
		}
		if (!r.in_sample) {
			format_error_set(err, "perf script: line %zu: a frame"
					 " line outside any sample", lineno);
			e = -EINVAL;
			break;
		}
		if (parse_frame(&r, line, n)) {
			format_error_set(err, "perf script: line %zu: more than"
					 " %d frames in one sample", lineno,
					 PERF_MAX_DEPTH);
			e = -EINVAL;
		}
	}
	if (!e)
		end_sample(&r);
	free(r.keys);
	free(r.locs);
	hmap_release(&r.idx);
	strbuf_release(&r.text);
	if (e) {
		profile_free(r.p);
		return e;
	}
	*out = r.p;
	return 0;
}
