/* SPDX-License-Identifier: MIT */
#include "folded.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
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

/*
 * Reading runs in three steps, the first two on as many threads as there
 * are CPUs (up to 8), so that a big input costs what its distinct stacks
 * cost, spread over the machine:
 *  1. The input is split at line ends into parts, each read into its own
 *     table of distinct stacks with the sum of their counts; the tables
 *     are then merged in input order.
 *  2. The distinct stacks are split into slices, and each slice's stacks
 *     into frames: each distinct frame text of a slice gets a number, and
 *     a stack becomes a list of numbers.
 *  3. On one thread, each slice's frame texts are looked up once in the
 *     profile's, and each stack becomes a sample.
 * The profile is the same whatever the number of threads.
 */

/* One distinct stack: its hash, the sum of its lines' counts and its
 * place in the list of distinct stacks, in one slot, so a repeated line
 * costs one cache miss (which the reader prefetches). */
struct stack_slot {
	uint64_t lo, hi;
	int64_t count;
	uint32_t idx; /* + 1; 0: empty slot */
};

/* A distinct stack's text, in the order stacks first appear. */
struct stack_text {
	const char *s;
	uint32_t len;
	uint32_t slot; /* its slot, once the table is done growing */
};

/*
 * Stacks are told apart by the 128-bit hash of their text (the chance that
 * two of a billion stacks collide is below 10^-20), so repeats cost no
 * comparison of text spread over the whole input.
 */
struct stack_table {
	struct stack_slot *slots; /* open addressing on `lo` */
	size_t mask, n;
	struct stack_text *texts;
	size_t texts_alloc;
};

/* A distinct frame text (kind suffix included), in the input. */
struct ftext {
	const char *s;
	uint32_t full;
	uint64_t hash;
};

/* Distinct frame texts, numbered from 0 in the order they come. */
struct frame_table {
	uint32_t *slots; /* number + 1; 0: empty */
	size_t mask;
	struct ftext *texts;
	size_t n, alloc;
};

/* The number of the frame text s[full] (hash h), new or not. */
static uint32_t frame_number(struct frame_table *t, const char *s,
			     uint32_t full, uint64_t h)
{
	size_t pos;

	if (!t->slots || (t->n + 1) * 2 > t->mask + 1) {
		size_t cap = t->slots ? (t->mask + 1) * 2 : 256;

		free(t->slots);
		t->slots = xcalloc(cap, sizeof(*t->slots));
		t->mask = cap - 1;
		for (size_t i = 0; i < t->n; i++) {
			pos = t->texts[i].hash & t->mask;
			while (t->slots[pos])
				pos = (pos + 1) & t->mask;
			t->slots[pos] = (uint32_t)i + 1;
		}
	}
	for (pos = h & t->mask; t->slots[pos]; pos = (pos + 1) & t->mask) {
		const struct ftext *f = &t->texts[t->slots[pos] - 1];

		if (f->hash == h && f->full == full && !memcmp(f->s, s, full))
			return t->slots[pos] - 1;
	}
	ALLOC_GROW(t->texts, t->n + 1, t->alloc);
	t->texts[t->n] = (struct ftext){ s, full, h };
	t->slots[pos] = (uint32_t)++t->n;
	return (uint32_t)t->n - 1;
}

static void frame_table_release(struct frame_table *t)
{
	free(t->slots);
	free(t->texts);
}

/* Step 2: a slice of the distinct stacks, split into frame numbers. */
struct slice {
	const struct stack_text *stacks;
	size_t nstacks;
	struct frame_table frames;
	uint32_t *nums;  /* every stack's frame numbers, root first */
	size_t nnums, nums_alloc;
	size_t *ends;    /* stack k's numbers end at nums[ends[k]] */
	size_t too_deep; /* 1 + the first stack with too many frames; 0 */
};

static void split_slice(struct slice *sl)
{
	sl->ends = xreallocarray(NULL, sl->nstacks ? sl->nstacks : 1, sizeof(*sl->ends));
	for (size_t k = 0; k < sl->nstacks; k++) {
		const char *p = sl->stacks[k].s, *end = p + sl->stacks[k].len;
		size_t n = 0;

		for (;;) {
			const char *semi = memchr(p, ';', (size_t)(end - p));
			const char *fe = semi ? semi : end;
			uint32_t full = (uint32_t)(fe - p);

			if (n++ == FOLDED_MAX_DEPTH) {
				sl->too_deep = k + 1;
				return;
			}
			ALLOC_GROW(sl->nums, sl->nnums + 1, sl->nums_alloc);
			sl->nums[sl->nnums++] = frame_number(&sl->frames, p, full,
							     XXH3_64bits(p, full));
			if (!semi)
				break;
			p = semi + 1;
		}
		sl->ends[k] = sl->nnums;
	}
}

static void *split_slice_thread(void *arg)
{
	split_slice(arg);
	return NULL;
}

/* What step 3 knows of a distinct frame text of the whole input. */
struct frame_info {
	uint64_t function_id;
	uint64_t loc;  /* its location as a plain frame; 0: not made yet */
	uint8_t kind;
	bool inlined;
};

struct folded_reader {
	struct profile *p;
	struct frame_table frames;
	struct frame_info *info;
	size_t info_alloc;
	uint64_t *locpool;
	size_t nlocpool, locpool_alloc;
	uint32_t *cur; /* the stack being added, as numbers in `frames` */
	size_t cur_alloc;
	struct profile_line *lines;
	size_t lines_alloc;
};

/* The number in r->frames of a frame text, learning about a new one:
 * the kind its suffix ("_[k]", "_[j]", "_[i]") gives and its function. */
static uint32_t frame_info_for(struct folded_reader *r, const struct ftext *f)
{
	size_t before = r->frames.n;
	uint32_t i = frame_number(&r->frames, f->s, f->full, f->hash);
	const char *s = f->s;
	uint32_t n = f->full, len = n;
	struct frame_info *fi;
	char small[256], *name;

	if (r->frames.n == before)
		return i;
	ALLOC_GROW(r->info, r->frames.n, r->info_alloc);
	fi = &r->info[i];
	*fi = (struct frame_info){ .kind = FRAME_USER };
	if (n >= 4 && s[n - 4] == '_' && s[n - 3] == '[' && s[n - 1] == ']') {
		switch (s[n - 2]) {
		case 'k':
			fi->kind = FRAME_KERNEL;
			len = n - 4;
			break;
		case 'j':
			fi->kind = FRAME_JIT;
			len = n - 4;
			break;
		case 'i':
			fi->inlined = true;
			len = n - 4;
			break;
		}
	}
	name = len < sizeof(small) ? small : xmalloc(len + 1);
	memcpy(name, s, len);
	name[len] = '\0';
	fi->function_id = profile_add_function(r->p, name, NULL, NULL, 0);
	if (name != small)
		free(name);
	return i;
}

/*
 * Add the stack r->cur[0..n) (root first) as a sample with `count`. A
 * plain frame followed by inlined ones is one location: its lines are the
 * inlined frames, innermost first, then the plain frame.
 */
static void add_stack(struct folded_reader *r, size_t n, int64_t count)
{
	const uint32_t *c = r->cur;

	ALLOC_GROW(r->locpool, n, r->locpool_alloc);
	r->nlocpool = 0;
	for (size_t i = 0; i < n;) {
		struct frame_info *fi = &r->info[c[i]];
		size_t j = i + 1;
		uint64_t loc;

		while (j < n && r->info[c[j]].inlined)
			j++;
		if (j == i + 1 || fi->inlined) {
			if (!fi->loc) {
				struct profile_line line = {
					.function_id = fi->function_id };

				fi->loc = profile_add_location(r->p, 0, 0, fi->kind,
							       &line, 1);
			}
			loc = fi->loc;
			j = i + 1;
		} else {
			size_t nl = j - i;

			ALLOC_GROW(r->lines, nl, r->lines_alloc);
			for (size_t k = 0; k < nl; k++)
				r->lines[k] = (struct profile_line){
					.function_id = r->info[c[j - 1 - k]].function_id };
			loc = profile_add_location(r->p, 0, 0, fi->kind, r->lines,
						   (uint32_t)nl);
		}
		r->locpool[r->nlocpool++] = loc;
		i = j;
	}
	/* Samples want the leaf first. */
	for (size_t i = 0, k = r->nlocpool - 1; i < k; i++, k--) {
		uint64_t tmp = r->locpool[i];

		r->locpool[i] = r->locpool[k];
		r->locpool[k] = tmp;
	}
	profile_add_sample(r->p, r->locpool, (uint32_t)r->nlocpool, &count,
			   NULL, 0);
}

/* Run fn on each of n items of `size` bytes: the first on this thread,
 * the others on threads of their own (or here, when one cannot start). */
static void run_all(void *(*fn)(void *), void *items, size_t size, size_t n)
{
	pthread_t tids[8];
	bool started[8] = { false };

	for (size_t i = 1; i < n && i < 8; i++)
		started[i] = !pthread_create(&tids[i], NULL, fn,
					     (char *)items + i * size);
	fn(items);
	for (size_t i = 1; i < n; i++) {
		if (i < 8 && started[i])
			pthread_join(tids[i], NULL);
		else
			fn((char *)items + i * size);
	}
}

/* Make room for `more` new stacks: the table grows when half full. */
static void table_reserve(struct stack_table *t, size_t more)
{
	size_t old = t->slots ? t->mask + 1 : 0, cap = old ? old : 256;

	if (t->slots && (t->n + more) * 2 <= old)
		return;
	while ((t->n + more) * 2 > cap)
		cap *= 2;
	/* Written, not calloc'ed: a prefetch would map calloc's untouched
	 * pages to the zero page, and the first store to each would then
	 * copy it and flush the TLBs of every thread's CPU. */
	struct stack_slot *n = xreallocarray(NULL, cap, sizeof(*n));

	memset(n, 0, cap * sizeof(*n));
	for (size_t i = 0; i < old; i++) {
		size_t pos;

		if (!t->slots[i].idx)
			continue;
		pos = t->slots[i].lo & (cap - 1);
		while (n[pos].idx)
			pos = (pos + 1) & (cap - 1);
		n[pos] = t->slots[i];
	}
	free(t->slots);
	t->slots = n;
	t->mask = cap - 1;
}

/* Count `count` more of the stack hashed (lo, hi) whose text is s[len]:
 * a new stack goes to the end of the list. Room must have been made. */
static void table_add(struct stack_table *t, uint64_t lo, uint64_t hi,
		      int64_t count, const char *s, uint32_t len)
{
	size_t pos = lo & t->mask;
	struct stack_slot *slot;

	while (t->slots[pos].idx &&
	       (t->slots[pos].lo != lo || t->slots[pos].hi != hi))
		pos = (pos + 1) & t->mask;
	slot = &t->slots[pos];
	if (slot->idx) {
		slot->count = profile_value_add(slot->count, count);
		return;
	}
	ALLOC_GROW(t->texts, t->n + 1, t->texts_alloc);
	t->texts[t->n] = (struct stack_text){ .s = s, .len = len };
	*slot = (struct stack_slot){ lo, hi, count, (uint32_t)++t->n };
}

/* Once a table is done growing, each text learns its slot. */
static void table_link(struct stack_table *t)
{
	for (size_t i = 0; t->slots && i <= t->mask; i++)
		if (t->slots[i].idx)
			t->texts[t->slots[i].idx - 1].slot = (uint32_t)i;
}

static void table_release(struct stack_table *t)
{
	free(t->slots);
	free(t->texts);
}

/* One part of the input, read on its own thread. */
struct part {
	const char *start, *end;
	size_t first_line; /* line number of the line before `start` */
	struct stack_table tab;
	size_t lines;      /* lines read */
	int err;
	struct format_error fe;
};

/* A line's stack, between finding it and adding it. */
struct pending {
	const char *s;
	uint32_t len;
	int64_t count;
	XXH128_hash_t h;
};

#define BATCH 16

/*
 * Read the lines of a part into its table. Lines are taken BATCH at a
 * time: each line's slot is prefetched as soon as its hash is known, so
 * the table's cache misses overlap instead of following one another.
 */
static void read_part(struct part *pt)
{
	const char *p = pt->start, *end = pt->end;
	struct pending batch[BATCH];
	size_t lineno = pt->first_line;
	struct format_error *err = &pt->fe;
	int e = 0;

	while (p < end && !e) {
		size_t nb = 0;

		table_reserve(&pt->tab, BATCH);
		while (nb < BATCH && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *line = p, *le = nl ? nl : end, *sp;
			size_t stack_len;
			int64_t count = 0;

			p = nl ? nl + 1 : end;
			lineno++;
			while (le > line && (le[-1] == '\r' || le[-1] == ' ' ||
					     le[-1] == '\t'))
				le--;
			if (le == line || line[0] == '#')
				continue;
			if ((size_t)(le - line) > FOLDED_MAX_LINE) {
				format_error_set(err, "folded: line %zu is longer"
						 " than %u MiB", lineno,
						 FOLDED_MAX_LINE >> 20);
				e = -EINVAL;
				break;
			}
			/* The count: digits after the last space. */
			sp = le;
			while (sp > line && sp[-1] != ' ')
				sp--;
			if (sp == line || sp == le) {
				format_error_set(err, "folded: line %zu: no count"
						 " at the end (expected"
						 " 'frame;frame;... COUNT')", lineno);
				e = -EINVAL;
				break;
			}
			for (const char *c = sp; c < le; c++) {
				if (*c < '0' || *c > '9' ||
				    count > (INT64_MAX - (*c - '0')) / 10) {
					format_error_set(err, "folded: line %zu:"
							 " bad count '%.*s' (expected"
							 " a whole number)", lineno,
							 (int)(le - sp > 40 ? 40 : le - sp),
							 sp);
					e = -EINVAL;
					break;
				}
				count = count * 10 + (*c - '0');
			}
			if (e)
				break;
			stack_len = (size_t)(sp - 1 - line);
			while (stack_len && line[stack_len - 1] == ' ')
				stack_len--;
			if (!count)
				continue;
			batch[nb] = (struct pending){
				.s = line, .len = (uint32_t)stack_len,
				.count = count, .h = XXH3_128bits(line, stack_len),
			};
			__builtin_prefetch(&pt->tab.slots[batch[nb].h.low64 &
							   pt->tab.mask]);
			nb++;
		}
		for (size_t i = 0; i < nb; i++)
			table_add(&pt->tab, batch[i].h.low64, batch[i].h.high64,
				  batch[i].count, batch[i].s, batch[i].len);
	}
	pt->lines = lineno - pt->first_line;
	pt->err = e;
	table_link(&pt->tab);
}

static void *read_part_thread(void *arg)
{
	read_part(arg);
	return NULL;
}

/* How many parts to read `len` bytes in: one per CPU this thread may run
 * on (up to 8), each at least 4 MiB. */
static size_t parts_for(size_t len)
{
	cpu_set_t set;
	size_t cpus = 1, n;

	if (!sched_getaffinity(0, sizeof(set), &set))
		cpus = (size_t)CPU_COUNT(&set);
	n = len / (4u << 20);
	if (n > cpus)
		n = cpus;
	if (n > 8)
		n = 8;
	return n ? n : 1;
}

int folded_read_parts(const char *data, size_t len, size_t nparts,
		      struct profile **out, struct format_error *err)
{
	static const char *const types[] = { "samples" };
	static const char *const units[] = { "count" };
	struct folded_reader r = { 0 };
	struct part parts[8];
	struct slice slices[8];
	size_t lines = 0;
	struct stack_table *all;
	int e = 0;

	nparts = nparts < 1 ? 1 : nparts > 8 ? 8 : nparts;
	/* Step 1. Split at line ends; a part may be empty when lines are
	 * long. */
	memset(parts, 0, sizeof(parts));
	for (size_t i = 0; i < nparts; i++) {
		const char *s = i ? parts[i - 1].end : data;
		const char *cut = data + len / nparts * (i + 1), *nl;

		if (i + 1 == nparts) {
			cut = data + len;
		} else if (cut <= s) {
			cut = s;
		} else {
			nl = memchr(cut - 1, '\n', (size_t)(data + len - (cut - 1)));
			cut = nl ? nl + 1 : data + len;
		}
		parts[i].start = s;
		parts[i].end = cut;
	}
	run_all(read_part_thread, parts, sizeof(parts[0]), nparts);

	/* The first part in error is the error, told with its line number
	 * in the whole input: read again knowing the lines before it. */
	for (size_t i = 0; i < nparts && !e; i++) {
		if (parts[i].err) {
			struct part again = parts[i];

			memset(&again.tab, 0, sizeof(again.tab));
			again.first_line = lines;
			read_part(&again);
			table_release(&again.tab);
			format_error_set(err, "%s", again.fe.msg);
			e = again.err;
		}
		lines += parts[i].lines;
	}
	/* The other parts' stacks into the first part's table, in order. */
	all = &parts[0].tab;
	for (size_t i = 1; i < nparts && !e; i++) {
		const struct stack_table *t = &parts[i].tab;

		table_reserve(all, t->n);
		for (size_t k = 0; k < t->n; k++) {
			const struct stack_slot *sl = &t->slots[t->texts[k].slot];

			table_add(all, sl->lo, sl->hi, sl->count, t->texts[k].s,
				  t->texts[k].len);
		}
	}
	for (size_t i = 1; i < nparts; i++)
		table_release(&parts[i].tab);
	if (e) {
		table_release(all);
		return e;
	}
	table_link(all);

	/* Step 2. */
	memset(slices, 0, sizeof(slices));
	for (size_t i = 0; i < nparts; i++) {
		size_t from = all->n * i / nparts, to = all->n * (i + 1) / nparts;

		slices[i].stacks = all->n ? all->texts + from : NULL;
		slices[i].nstacks = to - from;
	}
	run_all(split_slice_thread, slices, sizeof(slices[0]), nparts);

	/* Step 3. */
	r.p = profile_new();
	profile_set_sample_types(r.p, types, units, 1);
	for (size_t i = 0; i < nparts && !e; i++) {
		struct slice *sl = &slices[i];
		uint32_t *map = xreallocarray(NULL, sl->frames.n ? sl->frames.n : 1,
					     sizeof(*map));
		size_t upto = sl->too_deep ? sl->too_deep - 1 : sl->nstacks;

		for (size_t f = 0; f < sl->frames.n; f++)
			map[f] = frame_info_for(&r, &sl->frames.texts[f]);
		for (size_t k = 0, at = 0; k < upto; k++) {
			size_t n = sl->ends[k] - at;

			ALLOC_GROW(r.cur, n, r.cur_alloc);
			for (size_t f = 0; f < n; f++)
				r.cur[f] = map[sl->nums[at + f]];
			at = sl->ends[k];
			add_stack(&r, n, all->slots[sl->stacks[k].slot].count);
		}
		free(map);
		if (sl->too_deep) {
			/* Said with its line number: this is rare. */
			size_t lineno = 1;

			for (const char *c = data; c < sl->stacks[upto].s; c++)
				lineno += *c == '\n';
			format_error_set(err, "folded: line %zu: more than %d"
					 " frames", lineno, FOLDED_MAX_DEPTH);
			e = -EINVAL;
		}
	}
	for (size_t i = 0; i < nparts; i++) {
		frame_table_release(&slices[i].frames);
		free(slices[i].nums);
		free(slices[i].ends);
	}
	table_release(all);
	frame_table_release(&r.frames);
	free(r.info);
	free(r.locpool);
	free(r.cur);
	free(r.lines);
	if (e) {
		profile_free(r.p);
		return e;
	}
	*out = r.p;
	return 0;
}

int folded_read(const char *data, size_t len, struct profile **out,
		struct format_error *err)
{
	return folded_read_parts(data, len, parts_for(len), out, err);
}
