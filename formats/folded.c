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

static void add_location(struct strbuf *sb, const struct profile *p,
			 const struct profile_location *loc)
{
	if (!loc->nlines) {
		strbuf_addc(sb, ';');
		strbuf_addf(sb, "[unknown+0x%llx]", (unsigned long long)loc->address);
		strbuf_adds(sb, suffix_for(loc->kind));
		return;
	}
	/* Lines are innermost first; folded stacks read root to leaf. */
	for (uint32_t j = loc->nlines; j-- > 0;) {
		const struct profile_function *f =
			profile_function(p, loc->lines[j].function_id);

		strbuf_addc(sb, ';');
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
		folded_add_frame(&cur, root ? root : "");
		for (uint32_t j = s->nlocations; j-- > 0;) {
			const struct profile_location *loc =
				profile_location(p, s->location_ids[j]);

			if (loc)
				add_location(&cur, p, loc);
		}

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
