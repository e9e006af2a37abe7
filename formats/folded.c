/* SPDX-License-Identifier: MIT */
#include "folded.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/arena.h"
#include "../lib/hmap.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"

/* xxHash compiled in here, so the hash of each frame is inlined. */
#define XXH_INLINE_ALL
#include <xxhash.h>

struct line {
	const char *text; /* in the writer's arena: growing never copies */
	size_t len;
	int64_t count;
};

void folded_add_frame(struct strbuf *sb, const char *name)
{
	size_t clean = strcspn(name, ";\n\r\t");

	if (!*name) {
		strbuf_adds(sb, "[unknown]");
		return;
	}
	/* Almost every name needs nothing replaced. */
	strbuf_add(sb, name, clean);
	for (const char *c = name + clean; *c; c++) {
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

static int cmp_lines(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->text, y->text, n);

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

int folded_write(const struct profile *p, int value_index, FILE *out)
{
	struct strbuf cur = STRBUF_INIT;
	struct arena text = ARENA_INIT;
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
			    !memcmp(lines[k].text, cur.buf, cur.len))
				break;
		if (k != HMAP_NONE) {
			lines[k].count = profile_value_add(lines[k].count, v);
			continue;
		}
		ALLOC_GROW(lines, nlines + 1, alloc);
		lines[nlines] = (struct line){
			arena_memdup(&text, cur.buf, cur.len), cur.len, v };
		hmap_insert(&idx, h, (uint32_t)nlines++);
	}

	if (nlines)
		qsort(lines, nlines, sizeof(*lines), cmp_lines);
	for (size_t i = 0; i < nlines; i++) {
		fwrite(lines[i].text, 1, lines[i].len, out);
		fprintf(out, " %lld\n", (long long)lines[i].count);
	}
	if (ferror(out))
		err = -EIO;

	free(lines);
	hmap_release(&idx);
	arena_release(&text);
	strbuf_release(&cur);
	return err;
}

/* ---- reading ---- */

/* A plain frame's text (suffix included) and its location, in one slot of
 * an open-addressing table: frames repeat across stacks millions of times
 * and a lookup should cost a hash and one comparison. */
struct frame_slot {
	uint64_t hash;
	const char *text; /* in the input */
	uint32_t len;
	uint32_t loc;     /* location id; 0: empty slot */
};

/* One distinct stack: its hash, its sample and the count of the lines
 * seen so far, in one slot, so a repeated line costs one cache miss. */
struct stack_slot {
	uint64_t lo, hi;
	int64_t count;
	size_t sample; /* + 1; 0: empty slot */
};

/* A frame of the stack being parsed. */
struct token {
	const char *s;
	uint32_t len;   /* without the kind suffix */
	uint32_t full;  /* with it */
	uint8_t kind;
	bool inlined;
};

struct folded_reader {
	struct profile *p;
	struct frame_slot *frames;
	size_t frames_mask, nframes;
	/*
	 * Whole stack text -> its sample, for repeated lines, which are
	 * common: they are parsed once and only counted again. A stack is
	 * known by the 128-bit hash of its text (the chance that two of a
	 * billion stacks collide is below 10^-20), so repeats cost no
	 * comparison of text spread over the whole input.
	 */
	struct stack_slot *stacks; /* open addressing on `lo` */
	size_t stacks_mask, nstacks;
	uint64_t *locpool;
	size_t nlocpool, locpool_alloc;
	struct token *toks;
	size_t toks_alloc;
	struct profile_line *lines;
	size_t lines_alloc;
};

/* "name_[k]": the kind the suffix gives, and the length without it. */
static void classify(struct token *t)
{
	const char *s = t->s;
	uint32_t n = t->full;

	t->len = n;
	t->kind = FRAME_USER;
	t->inlined = false;
	if (n >= 4 && s[n - 4] == '_' && s[n - 3] == '[' && s[n - 1] == ']') {
		switch (s[n - 2]) {
		case 'k':
			t->kind = FRAME_KERNEL;
			t->len = n - 4;
			break;
		case 'j':
			t->kind = FRAME_JIT;
			t->len = n - 4;
			break;
		case 'i':
			t->inlined = true;
			t->len = n - 4;
			break;
		}
	}
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

static void grow_frames(struct folded_reader *r)
{
	size_t old = r->frames ? r->frames_mask + 1 : 0;
	size_t cap = old ? old * 2 : 64;
	struct frame_slot *t = xcalloc(cap, sizeof(*t));

	for (size_t i = 0; i < old; i++) {
		size_t pos;

		if (!r->frames[i].loc)
			continue;
		pos = r->frames[i].hash & (cap - 1);
		while (t[pos].loc)
			pos = (pos + 1) & (cap - 1);
		t[pos] = r->frames[i];
	}
	free(r->frames);
	r->frames = t;
	r->frames_mask = cap - 1;
}

/* The location of a plain (not inlined) frame, cached by its text. */
static uint64_t plain_location(struct folded_reader *r, const struct token *t)
{
	uint64_t h = XXH3_64bits(t->s, t->full);
	struct profile_line line = { 0 };
	struct frame_slot *f;
	size_t pos;

	if (!r->frames || (r->nframes + 1) * 2 > r->frames_mask + 1)
		grow_frames(r);
	for (pos = h & r->frames_mask; r->frames[pos].loc;
	     pos = (pos + 1) & r->frames_mask) {
		f = &r->frames[pos];
		if (f->hash == h && f->len == t->full &&
		    !memcmp(f->text, t->s, t->full))
			return f->loc;
	}
	line.function_id = function_for(r, t->s, t->len);
	f = &r->frames[pos];
	f->hash = h;
	f->text = t->s;
	f->len = t->full;
	f->loc = (uint32_t)profile_add_location(r->p, 0, 0, t->kind, &line, 1);
	r->nframes++;
	return f->loc;
}

/*
 * Parse one stack "a;b;c" into leaf-first location ids in r->locpool;
 * returns how many, or -1 when too deep.
 */
static long parse_stack(struct folded_reader *r, const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	size_t n = 0;

	/* Split once; the kind suffixes say which frames group together. */
	for (;;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *fe = semi ? semi : end;

		if (n == FOLDED_MAX_DEPTH)
			return -1;
		ALLOC_GROW(r->toks, n + 1, r->toks_alloc);
		r->toks[n].s = p;
		r->toks[n].full = (uint32_t)(fe - p);
		classify(&r->toks[n++]);
		if (!semi)
			break;
		p = semi + 1;
	}
	ALLOC_GROW(r->locpool, n, r->locpool_alloc);
	r->nlocpool = 0;
	/* Root to leaf. A plain frame followed by inlined ones is one
	 * location: its lines are the inlined frames, innermost first, then
	 * the plain frame. Stored leaf first, as samples want. */
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		uint64_t loc;

		while (j < n && r->toks[j].inlined)
			j++;
		if (j == i + 1 || r->toks[i].inlined) {
			loc = plain_location(r, &r->toks[i]);
			j = i + 1;
		} else {
			size_t nl = j - i;

			ALLOC_GROW(r->lines, nl, r->lines_alloc);
			for (size_t k = 0; k < nl; k++) {
				const struct token *t = &r->toks[j - 1 - k];

				r->lines[k] = (struct profile_line){
					.function_id = function_for(r, t->s, t->len) };
			}
			loc = profile_add_location(r->p, 0, 0, r->toks[i].kind,
						   r->lines, (uint32_t)nl);
		}
		r->locpool[r->nlocpool++] = loc;
		i = j;
	}
	for (size_t i = 0, k = r->nlocpool - 1; i < k; i++, k--) {
		uint64_t tmp = r->locpool[i];

		r->locpool[i] = r->locpool[k];
		r->locpool[k] = tmp;
	}
	return (long)r->nlocpool;
}

/* The slot of the stack hashed (lo, hi): its own, or the empty one where
 * it goes (the table grows first when half full). */
static struct stack_slot *find_stack(struct folded_reader *r, uint64_t lo,
				     uint64_t hi)
{
	size_t pos;

	if ((r->nstacks + 1) * 2 > r->stacks_mask + 1 || !r->stacks) {
		size_t old = r->stacks ? r->stacks_mask + 1 : 0;
		size_t cap = old ? old * 2 : 256;
		struct stack_slot *t = xcalloc(cap, sizeof(*t));

		for (size_t i = 0; i < old; i++) {
			if (!r->stacks[i].sample)
				continue;
			pos = r->stacks[i].lo & (cap - 1);
			while (t[pos].sample)
				pos = (pos + 1) & (cap - 1);
			t[pos] = r->stacks[i];
		}
		free(r->stacks);
		r->stacks = t;
		r->stacks_mask = cap - 1;
	}
	pos = lo & r->stacks_mask;
	while (r->stacks[pos].sample &&
	       (r->stacks[pos].lo != lo || r->stacks[pos].hi != hi))
		pos = (pos + 1) & r->stacks_mask;
	return &r->stacks[pos];
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
		struct stack_slot *slot;

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
		XXH128_hash_t h128 = XXH3_128bits(line, stack_len);

		h = h128.low64;
		hi = h128.high64;
		slot = find_stack(&r, h, hi);
		if (slot->sample) {
			slot->count = profile_value_add(slot->count, count);
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
		slot->lo = h;
		slot->hi = hi;
		slot->count = 0;
		slot->sample = 1 + profile_add_sample(r.p, r.locpool, (uint32_t)n,
						      &count, NULL, 0);
		r.nstacks++;
	}
	/* The counts of repeated lines, into their samples. */
	for (size_t i = 0; !e && r.stacks && i <= r.stacks_mask; i++)
		if (r.stacks[i].sample) {
			int64_t *v = &r.p->samples[r.stacks[i].sample - 1].values[0];

			*v = profile_value_add(*v, r.stacks[i].count);
		}
	free(r.frames);
	free(r.stacks);
	free(r.locpool);
	free(r.toks);
	free(r.lines);

	if (e) {
		profile_free(r.p);
		return e;
	}
	*out = r.p;
	return 0;
}
