/* SPDX-License-Identifier: MIT */
#include "folded.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hmap.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"

struct line {
	size_t off; /* into the text buffer */
	size_t len;
	int64_t count;
};

void folded_add_frame(struct strbuf *sb, const char *name)
{
	if (!*name) {
		strbuf_adds(sb, "[unknown]");
		return;
	}
	for (const char *c = name; *c; c++) {
		switch (*c) {
		case ';':
			strbuf_addc(sb, ':');
			break;
		case '\n':
		case '\r':
		case '\t':
			strbuf_addc(sb, ' ');
			break;
		default:
			strbuf_addc(sb, *c);
		}
	}
}

static const char *suffix_for(enum frame_kind kind)
{
	switch (kind) {
	case FRAME_KERNEL:
		return "_[k]";
	case FRAME_JIT:
		return "_[j]";
	default:
		return "";
	}
}

static void add_sep(struct strbuf *sb)
{
	if (sb->len)
		strbuf_addc(sb, ';');
}

static void add_location(struct strbuf *sb, const struct profile *p,
			 const struct profile_location *loc)
{
	if (!loc->nlines) {
		add_sep(sb);
		strbuf_addf(sb, "[unknown+0x%llx]", (unsigned long long)loc->address);
		strbuf_adds(sb, suffix_for(loc->kind));
		return;
	}
	/* Lines are innermost first; folded stacks read root to leaf. */
	for (uint32_t j = loc->nlines; j-- > 0;) {
		const struct profile_function *f =
			profile_function(p, loc->lines[j].function_id);

		add_sep(sb);
		folded_add_frame(sb, f ? profile_str(p, f->name) : "");
		if (j + 1 < loc->nlines) /* inlined into the line after it */
			strbuf_adds(sb, "_[i]");
		else
			strbuf_adds(sb, suffix_for(loc->kind));
	}
}

static const char *sort_text;

static int cmp_lines(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(sort_text + x->off, sort_text + y->off, n);

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

int folded_write(const struct profile *p, int value_index, FILE *out)
{
	struct strbuf text = STRBUF_INIT, cur = STRBUF_INIT;
	struct line *lines = NULL;
	size_t nlines = 0, alloc = 0;
	struct hmap idx = HMAP_INIT;
	int err = 0;

	if (value_index < 0 || (size_t)value_index >= p->nsample_types)
		return -EINVAL;

	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		int64_t v = s->values[value_index];
		const char *root;
		uint64_t h;
		size_t pos;
		uint32_t k;

		if (!v)
			continue;
		root = profile_sample_label_str(p, s, LABEL_THREAD_NAME);
		if (!root)
			root = profile_sample_label_str(p, s, LABEL_COMM);
		strbuf_reset(&cur);
		/* The thread name leads, as perf's collapsed stacks have it;
		 * stacks read from folded files carry it as a frame already. */
		if (root)
			folded_add_frame(&cur, root);
		for (uint32_t j = s->nlocations; j-- > 0;) {
			const struct profile_location *loc =
				profile_location(p, s->location_ids[j]);

			if (loc)
				add_location(&cur, p, loc);
		}
		if (!cur.len)
			strbuf_adds(&cur, "[unknown]");

		h = hash_bytes(cur.buf, cur.len);
		for (k = hmap_first(&idx, h, &pos); k != HMAP_NONE;
		     k = hmap_next(&idx, h, &pos))
			if (lines[k].len == cur.len &&
			    !memcmp(text.buf + lines[k].off, cur.buf, cur.len))
				break;
		if (k != HMAP_NONE) {
			lines[k].count += v;
			continue;
		}
		ALLOC_GROW(lines, nlines + 1, alloc);
		lines[nlines] = (struct line){ text.len, cur.len, v };
		strbuf_add(&text, cur.buf, cur.len);
		hmap_insert(&idx, h, (uint32_t)nlines++);
	}

	sort_text = text.buf;
	if (nlines)
		qsort(lines, nlines, sizeof(*lines), cmp_lines);
	sort_text = NULL;
	for (size_t i = 0; i < nlines; i++) {
		fwrite(text.buf + lines[i].off, 1, lines[i].len, out);
		fprintf(out, " %lld\n", (long long)lines[i].count);
	}
	if (ferror(out))
		err = -EIO;

	free(lines);
	hmap_release(&idx);
	strbuf_release(&text);
	strbuf_release(&cur);
	return err;
}

/* ---- reading ---- */

struct frame_ref {
	const char *text; /* the frame's text, in the input */
	size_t len;
	uint64_t loc;     /* its location, for frames not inlined */
};

struct folded_reader {
	struct profile *p;
	/* Frame text (suffix included) -> location id, for plain frames. */
	struct hmap frame_idx;
	struct frame_ref *frames;
	size_t nframes, frames_alloc;
	/*
	 * Whole stack text -> its sample, for repeated lines, which are
	 * common: they are parsed once and only counted again. A stack is
	 * known by the 128-bit hash of its text (the chance that two of a
	 * billion stacks collide is below 10^-20), so repeats cost no
	 * comparison of text spread over the whole input.
	 */
	struct hmap stack_idx;
	struct { uint64_t hi; size_t sample; } *stacks;
	size_t nstacks, stacks_alloc;
	uint64_t *locpool;
	size_t nlocpool, locpool_alloc;
};

static enum frame_kind suffix_kind(const char *s, size_t *len, bool *inlined)
{
	*inlined = false;
	if (*len >= 4 && s[*len - 4] == '_' && s[*len - 3] == '[' &&
	    s[*len - 1] == ']') {
		switch (s[*len - 2]) {
		case 'k':
			*len -= 4;
			return FRAME_KERNEL;
		case 'j':
			*len -= 4;
			return FRAME_JIT;
		case 'i':
			*len -= 4;
			*inlined = true;
			return FRAME_USER;
		}
	}
	return FRAME_USER;
}

static uint64_t function_for(struct folded_reader *r, const char *s, size_t len)
{
	char small[256], *name = len < sizeof(small) ? small : xmalloc(len + 1);
	uint64_t id;

	memcpy(name, s, len);
	name[len] = '\0';
	id = profile_add_function(r->p, name, NULL, NULL, 0);
	if (name != small)
		free(name);
	return id;
}

/* The location of a plain (not inlined) frame, cached by its text. */
static uint64_t plain_location(struct folded_reader *r, const char *s,
			       size_t len)
{
	uint64_t h = hash_bytes(s, len);
	size_t pos, n = len;
	bool inl;
	enum frame_kind kind;
	struct profile_line line = { 0 };

	for (uint32_t i = hmap_first(&r->frame_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&r->frame_idx, h, &pos))
		if (r->frames[i].len == len && !memcmp(r->frames[i].text, s, len))
			return r->frames[i].loc;
	kind = suffix_kind(s, &n, &inl);
	line.function_id = function_for(r, s, n);
	ALLOC_GROW(r->frames, r->nframes + 1, r->frames_alloc);
	r->frames[r->nframes] = (struct frame_ref){
		.text = s, .len = len,
		.loc = profile_add_location(r->p, 0, 0, kind, &line, 1),
	};
	hmap_insert(&r->frame_idx, h, (uint32_t)r->nframes);
	return r->frames[r->nframes++].loc;
}

/*
 * Parse one stack "a;b;c" into leaf-first location ids appended to
 * r->locpool; returns how many, or -1 when too deep.
 */
static long parse_stack(struct folded_reader *r, const char *s, size_t len)
{
	struct profile_line lines[64], *lp = lines;
	size_t start = r->nlocpool, nframes = 1, lines_alloc = 64;
	const char *p = s, *end = s + len;
	uint64_t tmp;

	for (const char *q = s; q < end; q++)
		nframes += *q == ';';
	if (nframes > FOLDED_MAX_DEPTH)
		return -1;
	/* Root to leaf. A plain frame followed by inlined ones is one
	 * location: its lines are the inlined frames, innermost first, then
	 * the plain frame. */
	while (p <= end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		size_t flen = (size_t)((semi ? semi : end) - p), n = flen;
		bool inl;
		enum frame_kind kind = suffix_kind(p, &n, &inl);
		const char *q;
		size_t ninl = 0;

		/* Count the inlined frames that follow this one. */
		q = semi ? semi + 1 : NULL;
		while (q && q <= end) {
			const char *s2 = memchr(q, ';', (size_t)(end - q));
			size_t l2 = (size_t)((s2 ? s2 : end) - q), n2 = l2;
			bool inl2;

			suffix_kind(q, &n2, &inl2);
			if (!inl2)
				break;
			ninl++;
			q = s2 ? s2 + 1 : NULL;
		}
		if (!ninl || inl) {
			ALLOC_GROW(r->locpool, r->nlocpool + 1, r->locpool_alloc);
			r->locpool[r->nlocpool++] = plain_location(r, p, flen);
			if (!semi)
				break;
			p = semi + 1;
			continue;
		}
		/* A group: the plain frame at p, then ninl inlined frames. */
		if (ninl + 1 > lines_alloc) {
			lines_alloc = ninl + 1;
			lp = lp == lines ? xcalloc(lines_alloc, sizeof(*lp))
					 : xreallocarray(lp, lines_alloc, sizeof(*lp));
		}
		lp[ninl] = (struct profile_line){ .function_id =
							  function_for(r, p, n) };
		q = semi + 1;
		for (size_t k = 0; k < ninl; k++) {
			const char *s2 = memchr(q, ';', (size_t)(end - q));
			size_t l2 = (size_t)((s2 ? s2 : end) - q), n2 = l2;
			bool inl2;

			suffix_kind(q, &n2, &inl2);
			lp[ninl - 1 - k] = (struct profile_line){
				.function_id = function_for(r, q, n2) };
			q = s2 ? s2 + 1 : end + 1;
		}
		tmp = profile_add_location(r->p, 0, 0, kind, lp,
					   (uint32_t)(ninl + 1));
		ALLOC_GROW(r->locpool, r->nlocpool + 1, r->locpool_alloc);
		r->locpool[r->nlocpool++] = tmp;
		if (q > end)
			break;
		p = q;
	}
	if (lp != lines)
		free(lp);
	/* Leaf first, as samples want. */
	for (size_t i = start, j = r->nlocpool - 1; i < j; i++, j--) {
		tmp = r->locpool[i];
		r->locpool[i] = r->locpool[j];
		r->locpool[j] = tmp;
	}
	return (long)(r->nlocpool - start);
}

int folded_read(const char *data, size_t len, struct profile **out,
		struct format_error *err)
{
	static const char *const types[] = { "samples" };
	static const char *const units[] = { "count" };
	struct folded_reader r = { 0 };
	const char *p = data, *end = data + len;
	size_t lineno = 0;
	int e = 0;

	r.p = profile_new();
	profile_set_sample_types(r.p, types, units, 1);
	while (p < end && !e) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line = p, *le = nl ? nl : end, *sp;
		size_t stack_len;
		int64_t count = 0;
		uint64_t h, hi;
		size_t pos;
		uint32_t k;

		p = nl ? nl + 1 : end;
		lineno++;
		while (le > line && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
			le--;
		if (le == line || line[0] == '#')
			continue;
		if ((size_t)(le - line) > FOLDED_MAX_LINE) {
			format_error_set(err, "folded: line %zu is longer than"
					 " %u MiB", lineno, FOLDED_MAX_LINE >> 20);
			e = -EINVAL;
			break;
		}
		/* The count: digits after the last space. */
		sp = le;
		while (sp > line && sp[-1] != ' ')
			sp--;
		if (sp == line || sp == le) {
			format_error_set(err, "folded: line %zu: no count at the"
					 " end (expected 'frame;frame;... COUNT')",
					 lineno);
			e = -EINVAL;
			break;
		}
		for (const char *c = sp; c < le && !e; c++) {
			if (*c < '0' || *c > '9' ||
			    count > (INT64_MAX - (*c - '0')) / 10) {
				format_error_set(err, "folded: line %zu: bad"
						 " count '%.*s' (expected a whole"
						 " number)", lineno,
						 (int)(le - sp > 40 ? 40 : le - sp), sp);
				e = -EINVAL;
				break;
			}
			count = count * 10 + (*c - '0');
		}
		if (e)
			break;
		stack_len = (size_t)(sp - 1 - line);
		while (stack_len && (line[stack_len - 1] == ' '))
			stack_len--;
		if (!count)
			continue;

		/* Repeated stacks (common) are parsed once. */
		hash128_bytes(line, stack_len, &h, &hi);
		for (k = hmap_first(&r.stack_idx, h, &pos); k != HMAP_NONE;
		     k = hmap_next(&r.stack_idx, h, &pos))
			if (r.stacks[k].hi == hi)
				break;
		if (k != HMAP_NONE) {
			r.p->samples[r.stacks[k].sample].values[0] += count;
			continue;
		}
		r.nlocpool = 0;
		long n = parse_stack(&r, line, stack_len);

		if (n < 0) {
			format_error_set(err, "folded: line %zu: more than %d"
					 " frames", lineno, FOLDED_MAX_DEPTH);
			e = -EINVAL;
			break;
		}
		ALLOC_GROW(r.stacks, r.nstacks + 1, r.stacks_alloc);
		r.stacks[r.nstacks].hi = hi;
		r.stacks[r.nstacks].sample = profile_add_sample(
			r.p, r.locpool, (uint32_t)n, &count, NULL, 0);
		hmap_insert(&r.stack_idx, h, (uint32_t)r.nstacks++);
	}
	free(r.frames);
	free(r.stacks);
	free(r.locpool);
	hmap_release(&r.frame_idx);
	hmap_release(&r.stack_idx);
	if (e) {
		profile_free(r.p);
		return e;
	}
	*out = r.p;
	return 0;
}
