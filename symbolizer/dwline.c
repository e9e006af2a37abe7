/* SPDX-License-Identifier: MIT */
/*
 * DWARF line programs (.debug_line, versions 2 to 5) decoded into rows.
 *
 * Written here rather than taken from libdw because of speed: in elfutils
 * 0.188, dwarf_getsrclines allocates a node per row, sorts them all with
 * a merge sort and builds a Dwarf_Line for each, about 15 MB of line
 * program a second here. It was half of the time of a cold symbolization
 * of a large C++ program (10 MB of line programs). This decoder writes
 * rows straight into one array, at several times that speed. Anything it
 * does not know (a vendor's form in a version 5 header, a header that does
 * not add up) makes it give up, and the caller uses libdw instead.
 *
 * Row by row it agrees with libdw's (test_dwline checks every unit of
 * several objects, DWARF 4 and 5, against dwarf_getsrclines).
 */
#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xalloc.h"
#include "dwread.h"
#include "symbolizer_internal.h"

/*
 * One attribute of a version 5 directory or file entry: a string (path) or
 * a number (directory index; time stamps, sizes and MD5s are read and
 * dropped). False on a form it cannot use: strx forms need the unit's
 * string offsets, libdw's job.
 */
static bool read_form(struct cursor *c, uint64_t form,
		      const struct dwr_unit *f, const struct dwl_sections *secs,
		      const char **str, uint64_t *num)
{
	uint64_t v;

	*str = NULL;
	*num = 0;
	if (form > UINT32_MAX || !dwr_value(c, (uint32_t)form, f, 0, &v))
		return false;
	switch (form) {
	case DW_FORM_string:
		*str = (const char *)(uintptr_t)v;
		return true;
	case DW_FORM_line_strp:
		*str = sec_str(&secs->line_str, v);
		return *str != NULL;
	case DW_FORM_strp:
		*str = sec_str(&secs->str, v);
		return *str != NULL;
	case DW_FORM_udata: case DW_FORM_data1: case DW_FORM_data2:
	case DW_FORM_data4: case DW_FORM_data8: case DW_FORM_data16:
	case DW_FORM_block:
		*num = v;
		return true;
	default:
		return false;
	}
}

/* The version 5 directory or file table: a format, then the entries. */
static bool read_v5_table(struct cursor *c, const struct dwr_unit *f,
			  const struct dwl_sections *secs, bool files,
			  struct dwl_table *t)
{
	uint8_t nfmt = (uint8_t)rd(c, 1);
	uint64_t fmt[2 * 16], n;

	if (nfmt > 16)
		return false;
	for (unsigned i = 0; i < 2u * nfmt; i++)
		fmt[i] = uleb(c);
	n = uleb(c);
	if (c->bad || n > (uint64_t)(c->end - c->p))
		return false; /* each entry takes a byte at least */
	for (uint64_t k = 0; k < n; k++) {
		const char *path = NULL;
		uint64_t dir = 0;

		for (unsigned i = 0; i < nfmt; i++) {
			const char *s;
			uint64_t v;

			if (!read_form(c, fmt[2 * i + 1], f, secs, &s, &v))
				return false;
			if (fmt[2 * i] == DW_LNCT_path)
				path = s;
			else if (fmt[2 * i] == DW_LNCT_directory_index)
				dir = v;
		}
		if (c->bad)
			return false;
		if (files) {
			ALLOC_GROW(t->files, t->nfiles + 1, t->files_cap);
			t->files[t->nfiles++] = (struct dwl_file){
				.name = path, .dir = dir };
		} else {
			ALLOC_GROW(t->dirs, t->ndirs + 1, t->dirs_cap);
			t->dirs[t->ndirs++] = path;
		}
	}
	return true;
}

static void add_row(struct dwl_table *t, uint64_t addr, uint64_t file,
		    int64_t line, uint64_t column, bool end)
{
	ALLOC_GROW(t->rows, t->nrows + 1, t->rows_cap);
	t->rows[t->nrows++] = (struct dwl_row){
		.addr = addr,
		.file = file > UINT32_MAX ? UINT32_MAX : (uint32_t)file,
		.line = line > 0 && line <= UINT32_MAX ? (uint32_t)line : 0,
		.column = column < 65536 ? (uint16_t)column : 0,
		.end_sequence = end,
	};
}

int dwl_read(const struct dwl_sections *secs, uint64_t offset,
	     const char *comp_dir, struct dwl_table *t)
{
	const struct dwl_section *line = &secs->line;
	struct cursor c, prog;
	uint64_t unit_len, header_len;
	bool offset64 = false;
	uint16_t version;
	uint8_t addr_size = 8, min_inst, max_ops = 1, line_range, opcode_base;
	int8_t line_base;
	uint8_t std_len[256] = { 0 };

	struct dwl_row *keep = t->rows;
	size_t keep_cap = t->rows_cap;

	memset(t, 0, sizeof(*t));
	t->rows = keep;
	t->rows_cap = keep_cap;
	if (!line->data || offset >= line->size)
		goto invalid;
	c = (struct cursor){ .p = line->data + offset,
			     .end = line->data + line->size };
	unit_len = rd(&c, 4);
	if (unit_len == 0xffffffff) {
		offset64 = true;
		unit_len = rd(&c, 8);
	} else if (unit_len >= 0xfffffff0) {
		goto invalid;
	}
	if (c.bad || unit_len > (uint64_t)(c.end - c.p))
		goto invalid;
	c.end = c.p + unit_len;
	version = (uint16_t)rd(&c, 2);
	if (version < 2 || version > 5)
		goto invalid;
	if (version >= 5) {
		addr_size = (uint8_t)rd(&c, 1);
		rd(&c, 1); /* segment selector size */
	}
	header_len = rd(&c, offset64 ? 8 : 4);
	if (c.bad || header_len > (uint64_t)(c.end - c.p))
		goto invalid;
	prog = (struct cursor){ .p = c.p + header_len, .end = c.end };
	c.end = c.p + header_len;
	min_inst = (uint8_t)rd(&c, 1);
	if (version >= 4)
		max_ops = (uint8_t)rd(&c, 1);
	rd(&c, 1); /* default_is_stmt: every row is kept */
	line_base = (int8_t)rd(&c, 1);
	line_range = (uint8_t)rd(&c, 1);
	opcode_base = (uint8_t)rd(&c, 1);
	if (c.bad || !line_range || !max_ops || !opcode_base ||
	    (addr_size != 4 && addr_size != 8))
		goto invalid;
	for (unsigned i = 1; i < opcode_base; i++)
		std_len[i] = (uint8_t)rd(&c, 1);

	if (version >= 5) {
		struct dwr_unit f = { version, addr_size, offset64 };

		if (!read_v5_table(&c, &f, secs, false, t) ||
		    !read_v5_table(&c, &f, secs, true, t))
			goto invalid;
	} else {
		/* Directory 0 and file 0 are implicit: the unit's own
		 * compilation directory, and no file. */
		ALLOC_GROW(t->dirs, 1, t->dirs_cap);
		t->dirs[t->ndirs++] = comp_dir;
		for (;;) {
			const char *s = cstr(&c);

			if (!s)
				goto invalid;
			if (!*s)
				break;
			ALLOC_GROW(t->dirs, t->ndirs + 1, t->dirs_cap);
			t->dirs[t->ndirs++] = s;
		}
		ALLOC_GROW(t->files, 1, t->files_cap);
		t->files[t->nfiles++] = (struct dwl_file){ NULL, 0 };
		for (;;) {
			const char *s = cstr(&c);
			uint64_t dir;

			if (!s)
				goto invalid;
			if (!*s)
				break;
			dir = uleb(&c);
			uleb(&c); /* time stamp */
			uleb(&c); /* size */
			ALLOC_GROW(t->files, t->nfiles + 1, t->files_cap);
			t->files[t->nfiles++] = (struct dwl_file){ s, dir };
		}
		if (c.bad)
			goto invalid;
	}

	/* The line program: the state machine of DWARF 5, section 6.2. */
	uint64_t addr = 0, file = 1, column = 0;
	int64_t lineno = 1;
	unsigned op_index = 0;

	while (prog.p < prog.end && !prog.bad) {
		uint8_t op = (uint8_t)rd(&prog, 1);

		if (op >= opcode_base) {
			unsigned adj = op - opcode_base;
			uint64_t adv = adj / line_range;

			addr += min_inst * ((op_index + adv) / max_ops);
			op_index = (unsigned)((op_index + adv) % max_ops);
			lineno += line_base + (int)(adj % line_range);
			add_row(t, addr, file, lineno, column, false);
			continue;
		}
		switch (op) {
		case 0: { /* extended */
			uint64_t len = uleb(&prog);
			const uint8_t *next;
			uint8_t sub;

			if (prog.bad || !len || len > (uint64_t)(prog.end - prog.p))
				goto invalid;
			next = prog.p + len;
			sub = (uint8_t)rd(&prog, 1);
			switch (sub) {
			case DW_LNE_end_sequence:
				add_row(t, addr, file, lineno, column, true);
				addr = 0;
				file = 1;
				lineno = 1;
				column = 0;
				op_index = 0;
				break;
			case DW_LNE_set_address:
				if (len - 1 != 4 && len - 1 != 8)
					goto invalid;
				addr = rd(&prog, (size_t)len - 1);
				op_index = 0;
				break;
			case DW_LNE_define_file: {
				struct cursor f = { .p = prog.p, .end = next };
				const char *s = cstr(&f);
				uint64_t dir = uleb(&f);

				if (f.bad || !s)
					goto invalid;
				ALLOC_GROW(t->files, t->nfiles + 1, t->files_cap);
				t->files[t->nfiles++] = (struct dwl_file){ s, dir };
				break;
			}
			default: /* discriminators, vendors' operations */
				break;
			}
			prog.p = next;
			break;
		}
		case DW_LNS_copy:
			add_row(t, addr, file, lineno, column, false);
			break;
		case DW_LNS_advance_pc: {
			uint64_t adv = uleb(&prog);

			addr += min_inst * ((op_index + adv) / max_ops);
			op_index = (unsigned)((op_index + adv) % max_ops);
			break;
		}
		case DW_LNS_advance_line:
			lineno += sleb(&prog);
			break;
		case DW_LNS_set_file:
			file = uleb(&prog);
			break;
		case DW_LNS_set_column:
			column = uleb(&prog);
			break;
		case DW_LNS_negate_stmt:
		case DW_LNS_set_basic_block:
		case DW_LNS_set_prologue_end:
		case DW_LNS_set_epilogue_begin:
			break;
		case DW_LNS_const_add_pc: {
			uint64_t adv = (255u - opcode_base) / line_range;

			addr += min_inst * ((op_index + adv) / max_ops);
			op_index = (unsigned)((op_index + adv) % max_ops);
			break;
		}
		case DW_LNS_fixed_advance_pc:
			addr += rd(&prog, 2);
			op_index = 0;
			break;
		default:
			/* An opcode this version does not define (or
			 * DW_LNS_set_isa): skip its operands, whose number the
			 * header gives. */
			for (unsigned i = 0; i < std_len[op]; i++)
				uleb(&prog);
			break;
		}
	}
	if (prog.bad)
		goto invalid;
	return 0;
invalid:
	dwl_release(t);
	return -EINVAL;
}

static int cmp_row(const struct dwl_row *x, const struct dwl_row *y)
{
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* A sequence that ends where the next starts: the end first, so
	 * the address belongs to the new sequence. */
	if (x->end_sequence != y->end_sequence)
		return x->end_sequence ? -1 : 1;
	return 0;
}

struct row_tmp {
	struct dwl_row row;
	size_t order;
};

static int cmp_row_tmp(const void *a, const void *b)
{
	const struct row_tmp *x = a, *y = b;
	int c = cmp_row(&x->row, &y->row);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Sort rows by address, end rows first among equals, keeping the line
 * program's order among rows that compare equal: what a stable sort of
 * every row gives, as libdw sorts them.
 *
 * A line program is a list of sequences (a run of rows ending with an end
 * row), each in address order already, each a function or a section of
 * code; a C++ program's are in no particular order (one per inline
 * function's COMDAT section). So the sequences are sorted, not the rows
 * (about 2 million of them in a large program): sequences that share
 * addresses (the linker's discarded copies, all at 0) or that are not in
 * order themselves fall into one cluster, whose rows are sorted together;
 * the clusters are disjoint and come out one after the other.
 */
struct row_seq {
	uint64_t lo, hi;     /* lowest and highest address of its rows */
	size_t first, n;     /* its rows */
	bool sorted;         /* its rows are in order already */
	bool normal_at_hi;   /* a row at hi that is not an end row */
	bool end_at_lo;      /* an end row at lo: a sequence of no length */
};

static int cmp_seq(const void *a, const void *b)
{
	const struct row_seq *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

static void sort_cluster(const struct dwl_row *rows, const struct row_seq *seqs,
			 size_t nseqs, struct dwl_row *out)
{
	size_t n = 0, k = 0;
	struct row_tmp *tmp;

	for (size_t i = 0; i < nseqs; i++)
		n += seqs[i].n;
	tmp = xmalloc(n * sizeof(*tmp));
	for (size_t i = 0; i < nseqs; i++)
		for (size_t j = 0; j < seqs[i].n; j++)
			tmp[k++] = (struct row_tmp){ rows[seqs[i].first + j],
						     seqs[i].first + j };
	qsort(tmp, n, sizeof(*tmp), cmp_row_tmp);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[i].row;
	free(tmp);
}

const struct dwl_row *dwl_sort_rows(const struct dwl_row *rows, size_t n,
				    struct dwl_row *out)
{
	struct row_seq *seqs = NULL;
	size_t nseqs = 0, cap = 0, out_n = 0;
	bool in_order = true;

	if (n < 2)
		return rows;
	for (size_t i = 0; i < n;) {
		struct row_seq q = { .lo = rows[i].addr, .hi = rows[i].addr,
				     .first = i, .sorted = true };
		size_t j = i;

		for (; j < n; j++) {
			if (j > i && cmp_row(&rows[j - 1], &rows[j]) > 0)
				q.sorted = false;
			if (rows[j].addr < q.lo)
				q.lo = rows[j].addr;
			if (rows[j].addr > q.hi)
				q.hi = rows[j].addr;
			if (rows[j].end_sequence)
				break;
		}
		q.n = (j < n ? j + 1 : j) - i;
		for (size_t k = i; k < i + q.n; k++) {
			if (rows[k].addr == q.hi && !rows[k].end_sequence)
				q.normal_at_hi = true;
			if (rows[k].addr == q.lo && rows[k].end_sequence)
				q.end_at_lo = true;
		}
		ALLOC_GROW(seqs, nseqs + 1, cap);
		seqs[nseqs++] = q;
		i += q.n;
	}
	qsort(seqs, nseqs, sizeof(*seqs), cmp_seq);
	for (size_t i = 0; i < nseqs;) {
		uint64_t hi = seqs[i].hi;
		bool normal_at_hi = seqs[i].normal_at_hi, alone = seqs[i].sorted;
		size_t j = i + 1;

		/* Rows of the next sequence come after all of this cluster's
		 * unless they share an address where the sort would
		 * interleave them: rows that are not end rows on both sides,
		 * or end rows on both (the cluster's at its highest address,
		 * and any sequence of no length starting there). */
		for (; j < nseqs; j++) {
			const struct row_seq *q = &seqs[j];

			if (q->lo > hi)
				break;
			if (q->lo == hi && !normal_at_hi) {
				bool ends_there = false;

				for (size_t k = j; k < nseqs && seqs[k].lo == hi; k++)
					ends_there |= seqs[k].end_at_lo;
				if (!ends_there)
					break;
			}
			alone = false;
			if (q->hi > hi) {
				hi = q->hi;
				normal_at_hi = q->normal_at_hi;
			} else if (q->hi == hi) {
				normal_at_hi |= q->normal_at_hi;
			}
		}
		if (alone) {
			memcpy(out + out_n, rows + seqs[i].first,
			       seqs[i].n * sizeof(*out));
			in_order &= seqs[i].first == out_n;
			out_n += seqs[i].n;
		} else {
			in_order = false;
			sort_cluster(rows, seqs + i, j - i, out + out_n);
			for (size_t k = i; k < j; k++)
				out_n += seqs[k].n;
		}
		i = j;
	}
	free(seqs);
	return in_order ? rows : out;
}

void dwl_release(struct dwl_table *t)
{
	free(t->rows);
	free(t->files);
	free(t->dirs);
	memset(t, 0, sizeof(*t));
}

char *dwl_join(const char *dir, const char *name)
{
	size_t ld, ln;
	char *p;

	if (name[0] == '/' || !dir || !*dir)
		return xstrdup(name);
	ld = strlen(dir);
	ln = strlen(name);
	p = xmalloc(ld + ln + 2);
	memcpy(p, dir, ld);
	p[ld] = '/';
	memcpy(p + ld + 1, name, ln + 1);
	return p;
}

char *dwl_path(const struct dwl_table *t, uint64_t file)
{
	const struct dwl_file *f;

	if (file >= t->nfiles || !t->files[file].name)
		return NULL;
	f = &t->files[file];
	return dwl_join(f->dir < t->ndirs ? t->dirs[f->dir] : NULL, f->name);
}
