/* SPDX-License-Identifier: MIT */
/*
 * DWARF: functions, file:line:column and inlined frames for an address.
 *
 * libdw parses the sections (DWARF 4 and 5, compressed sections, the line
 * programs, abbreviations and attribute forms); the indexes over what it
 * parses are our own, because libdw's address look-ups are too slow for a
 * profiler: dwarf_addrdie needs .debug_aranges (clang and rustc emit none),
 * dwfl_module_addrinfo scans the symbol table per call, and
 * dwarf_getscopes walks the unit's DIE tree again for every address.
 *
 * The indexes, built lazily:
 *   - a sorted array of the address ranges of every compilation unit;
 *   - per unit, on its first look-up: the line table as a sorted array, and
 *     the functions and inlined instances flattened into disjoint address
 *     segments, each naming the innermost function or inlined instance that
 *     covers it; instances point to the one they were inlined into, so the
 *     whole inline chain of an address is one binary search away.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/xalloc.h"
#include "symbolizer_internal.h"

#define NO_NODE UINT32_MAX
/* The most rows of the line decoder's arrays kept for the next unit (24
 * bytes each). */
#define LINE_ROWS_KEPT (1u << 18)
#define MAX_DEPTH 128
/* How deep the DIE tree is walked (the walk recurses once per level).
 * Namespaces, classes, functions, blocks and inline chains nest a few
 * dozen deep in real code; hostile DWARF can nest a DIE per byte and
 * would exhaust the stack. */
#define MAX_NESTING 256

struct dw_node {
	const char *name;      /* linkage name if any, else DW_AT_name */
	const char *call_file; /* inlined instances: where the call was */
	uint32_t call_line, call_column;
	uint32_t parent; /* the instance or function it was inlined into */
	uint32_t decl_line;
	uint64_t entry; /* lowest address */
};

struct dw_seg {
	uint64_t lo, hi;
	uint32_t node;
};

struct dw_row {
	uint64_t addr;
	const char *file;
	uint32_t line;
	uint16_t column;
	uint16_t end_sequence;
};

struct path_fix {
	const char *raw, *full;
};

struct dw_cu {
	Dwarf_Die die;
	uint64_t unit_off; /* its header in .debug_info */
	bool built;
	const char *comp_dir; /* absolute or relative; NULL when unknown */
	struct path_fix *paths; /* relative names joined to comp_dir */
	size_t npaths, paths_cap;
	struct dw_node *nodes;
	size_t nnodes;
	struct dw_seg *segs;
	size_t nsegs;
	struct dw_row *rows;
	size_t nrows;
	/* The line table's file names by number, when dwl_read decoded it
	 * (else libdw's Dwarf_Files names them). */
	const char **files;
	size_t nfiles;
};

/*
 * What a DIE an instance refers to (its abstract origin, or the
 * declaration a definition specifies) names, with the references it
 * follows in turn: read once per referenced DIE, as an inline function
 * inlined in a hundred places is a hundred instances of one origin.
 */
struct origin_names {
	uint64_t offset; /* of the referenced DIE */
	const char *linkage, *mips, *name; /* copies (own) */
	uint32_t decl_line;
};

struct dw_range {
	uint64_t lo, hi;
	uint32_t cu;
};

struct dwarf_index {
	int fd;
	/* Copies of every name and path handed out: results must not point
	 * into the file's mapping, which can go away (see symbolizer.c). */
	struct arena arena;
	struct hmap str_idx; /* by the address of the string in the file */
	const char **strs;   /* pairs: original, copy */
	size_t nstrs, strs_cap;
	struct hmap origin_idx; /* by the referenced DIE's offset */
	struct origin_names *origins;
	size_t norigins, origins_cap;
	struct hmap path_idx; /* paths made here, by their contents */
	const char **paths;
	size_t npaths, paths_cap;
	bool libdw_only; /* dwarf_index_use_libdw */
	struct dwarf_index_counts counts;
	struct dwl_sections secs; /* for dwl_read */
	/* dwl_read's and dwl_sort_rows's arrays, used again unit after unit */
	struct dwl_row *line_rows, *line_out;
	size_t line_rows_cap, line_out_cap;
	struct dwi_sections isecs; /* for dwinfo.c */
	Elf *elf;
	Dwarf *dw;
	struct dw_cu *cus;
	size_t ncus;
	struct dw_range *ranges;
	size_t nranges;
	size_t bytes; /* memory held by the indexes, for statistics */
};

static bool usable_range(uint64_t lo, uint64_t hi)
{
	/* Ranges of code the linker dropped start at 0 or at -1/-2
	 * ("tombstones"); they cover nothing that runs. */
	return lo < hi && lo != 0 && lo < UINT64_MAX - 1;
}

static int cmp_range(const void *a, const void *b)
{
	const struct dw_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi > y->hi ? -1 : 1;
	return x->cu < y->cu ? -1 : x->cu > y->cu;
}

static void add_range(struct dwarf_index *d, size_t *cap, uint64_t lo,
		      uint64_t hi, uint32_t cu)
{
	if (!usable_range(lo, hi))
		return;
	ALLOC_GROW(d->ranges, d->nranges + 1, *cap);
	d->ranges[d->nranges++] = (struct dw_range){ lo, hi, cu };
}

/* A unit without ranges of its own (some assemblers' output) still has a
 * line table: its sequences say which code it describes. */
static void ranges_from_lines(struct dwarf_index *d, size_t *cap,
			      Dwarf_Die *cudie, uint32_t cu)
{
	Dwarf_Lines *lines;
	size_t n;
	uint64_t start = 0;
	bool open = false;

	if (dwarf_getsrclines(cudie, &lines, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		Dwarf_Line *l = dwarf_onesrcline(lines, i);
		Dwarf_Addr a;
		bool end;

		if (!l || dwarf_lineaddr(l, &a) || dwarf_lineendsequence(l, &end))
			continue;
		if (!open) {
			start = a;
			open = true;
		}
		if (end) {
			add_range(d, cap, start, a, cu);
			open = false;
		}
	}
}

/* The sections dwline.c and dwinfo.c read. libdw has
 * decompressed compressed ones in place (SHF_COMPRESSED cleared); a
 * section still compressed (.zdebug_*) is left to libdw. */
static void find_line_sections(struct dwarf_index *d)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(d->elf, &shstrndx))
		return;
	const struct {
		const char *name;
		struct dwl_section *to;
	} want[] = {
		{ ".debug_line", &d->secs.line },
		{ ".debug_line_str", &d->secs.line_str },
		{ ".debug_str", &d->secs.str },
		{ ".debug_info", &d->isecs.info },
		{ ".debug_abbrev", &d->isecs.abbrev },
		{ ".debug_str_offsets", &d->isecs.str_offsets },
		{ ".debug_addr", &d->isecs.addr },
		{ ".debug_ranges", &d->isecs.ranges },
		{ ".debug_rnglists", &d->isecs.rnglists },
	};

	while ((scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
		    (sh.sh_flags & SHF_COMPRESSED) ||
		    !(name = elf_strptr(d->elf, shstrndx, sh.sh_name)))
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(want); i++)
			if (!strcmp(name, want[i].name) &&
			    (data = elf_getdata(scn, NULL)) && data->d_buf)
				*want[i].to = (struct dwl_section){ data->d_buf,
								    data->d_size };
	}
	d->isecs.str = d->secs.str;
	d->isecs.line_str = d->secs.line_str;
}

/* Where to find the unit's header, for dwinfo.c. */
static uint64_t unit_offset(Dwarf_Die *cudie)
{
	return dwarf_dieoffset(cudie) - dwarf_cuoffset(cudie);
}

struct dwarf_index *dwarf_index_open(int fd)
{
	struct dwarf_index *d;
	size_t rcap = 0, cucap = 0;
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	uint8_t unit_type;
	Dwarf_Half version;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	d->fd = dup(fd);
	if (d->fd < 0)
		goto fail;
	d->elf = elf_begin(d->fd, ELF_C_READ_MMAP, NULL);
	if (!d->elf)
		goto fail;
	d->dw = dwarf_begin_elf(d->elf, DWARF_C_READ, NULL);
	if (!d->dw)
		goto fail;
	find_line_sections(d);

	/* No sub-DIE: asked for one, libdw opens the split unit a skeleton
	 * names (DW_AT_dwo_name, a path the object chooses, in blocking
	 * mode: a FIFO there would hang us). Skeletons are skipped anyway. */
	while (dwarf_get_units(d->dw, cu, &cu, &version, &unit_type, &cudie,
			       NULL) == 0) {
		uint32_t idx = (uint32_t)d->ncus;
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;
		size_t before = d->nranges;

		if (unit_type != DW_UT_compile && unit_type != DW_UT_partial)
			continue;
		if (dwarf_tag(&cudie) != DW_TAG_compile_unit &&
		    dwarf_tag(&cudie) != DW_TAG_partial_unit)
			continue;
		ALLOC_GROW(d->cus, d->ncus + 1, cucap);
		d->cus[d->ncus++] = (struct dw_cu){
			.die = cudie, .unit_off = unit_offset(&cudie) };
		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0)
			add_range(d, &rcap, lo, hi, idx);
		if (d->nranges == before)
			ranges_from_lines(d, &rcap, &cudie, idx);
	}
	if (!d->ncus)
		goto fail;
	if (d->nranges)
		qsort(d->ranges, d->nranges, sizeof(*d->ranges), cmp_range);
	d->bytes = d->ncus * sizeof(*d->cus) + d->nranges * sizeof(*d->ranges);
	return d;
fail:
	dwarf_index_free(d);
	return NULL;
}

void dwarf_index_free(struct dwarf_index *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->ncus; i++) {
		free(d->cus[i].nodes);
		free(d->cus[i].segs);
		free(d->cus[i].rows);
		free(d->cus[i].paths);
		free(d->cus[i].files);
	}
	arena_release(&d->arena);
	hmap_release(&d->str_idx);
	free(d->strs);
	hmap_release(&d->path_idx);
	free(d->paths);
	hmap_release(&d->origin_idx);
	free(d->origins);
	free(d->line_rows);
	free(d->line_out);
	free(d->cus);
	free(d->ranges);
	if (d->dw)
		dwarf_end(d->dw);
	if (d->elf)
		elf_end(d->elf);
	if (d->fd >= 0)
		close(d->fd);
	free(d);
}

void dwarf_index_use_libdw(struct dwarf_index *d)
{
	d->libdw_only = true;
}

void dwarf_index_counts(const struct dwarf_index *d,
			struct dwarf_index_counts *n)
{
	*n = d->counts;
}

size_t dwarf_index_bytes(const struct dwarf_index *d)
{
	if (!d)
		return 0;
	/* The line decoder's arrays kept for the next unit, and the names
	 * of origins, count too. */
	return d->bytes +
	       (d->line_rows_cap + d->line_out_cap) * sizeof(struct dwl_row) +
	       d->origins_cap * sizeof(*d->origins);
}

/* ---- one unit: line table ---- */

/* Our copy of a string libdw returned from the mapped file; units share
 * most of their names (inlined library functions), so one copy each. */
static const char *own(struct dwarf_index *d, const char *p)
{
	uint64_t h;
	size_t pos;

	if (!p)
		return NULL;
	h = hash_combine((uint64_t)(uintptr_t)p, 1);
	for (uint32_t i = hmap_first(&d->str_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&d->str_idx, h, &pos))
		if (d->strs[2 * i] == p)
			return d->strs[2 * i + 1];
	ALLOC_GROW(d->strs, 2 * d->nstrs + 2, d->strs_cap);
	d->strs[2 * d->nstrs] = p;
	d->strs[2 * d->nstrs + 1] = arena_strdup(&d->arena, p);
	hmap_insert(&d->str_idx, h, (uint32_t)d->nstrs);
	return d->strs[2 * d->nstrs++ + 1];
}

/* A path made here (a file name joined to its directories), one copy of
 * each in the index's arena. Takes `p` (malloc'ed). */
static const char *intern_path(struct dwarf_index *d, char *p)
{
	uint64_t h = hash_str(p);
	size_t pos;
	char *copy;

	for (uint32_t i = hmap_first(&d->path_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&d->path_idx, h, &pos))
		if (!strcmp(d->paths[i], p)) {
			free(p);
			return d->paths[i];
		}
	copy = arena_strdup(&d->arena, p);
	free(p);
	ALLOC_GROW(d->paths, d->npaths + 1, d->paths_cap);
	d->paths[d->npaths] = copy;
	hmap_insert(&d->path_idx, h, (uint32_t)d->npaths++);
	return copy;
}

/*
 * libdw joins a file name to its directory entry but leaves the result
 * relative when the directory is (glibc's "../sysdeps/..." under a
 * comp_dir of "./io"). Like llvm-symbolizer and addr2line, put the unit's
 * compilation directory in front. Units name few files; consecutive
 * look-ups are mostly for the same one.
 */
static const char *full_path(struct dwarf_index *d, struct dw_cu *c,
			     const char *raw)
{
	const char *p;

	if (!raw)
		return NULL;
	if (c->npaths && c->paths[c->npaths - 1].raw == raw)
		return c->paths[c->npaths - 1].full;
	for (size_t i = 0; i < c->npaths; i++)
		if (c->paths[i].raw == raw)
			return c->paths[i].full;
	if (raw[0] == '/' || !c->comp_dir)
		p = own(d, raw);
	else
		p = intern_path(d, dwl_join(c->comp_dir, raw));
	ALLOC_GROW(c->paths, c->npaths + 1, c->paths_cap);
	c->paths[c->npaths++] = (struct path_fix){ raw, p };
	return p;
}

/* The unit's line table through dwl_read; false to ask libdw. */
static bool build_rows_own(struct dwarf_index *d, struct dw_cu *c)
{
	Dwarf_Attribute attr;
	Dwarf_Word off;
	struct dwl_table t = { .rows = d->line_rows,
			       .rows_cap = d->line_rows_cap };
	const struct dwl_row *sorted;

	if (d->libdw_only || !d->secs.line.data ||
	    !dwarf_attr(&c->die, DW_AT_stmt_list, &attr) ||
	    dwarf_formudata(&attr, &off))
		return false;
	d->line_rows = NULL;
	d->line_rows_cap = 0;
	if (dwl_read(&d->secs, off, c->comp_dir, &t))
		return false;
	c->files = xcalloc(t.nfiles ? t.nfiles : 1, sizeof(*c->files));
	c->nfiles = t.nfiles;
	for (size_t i = 0; i < t.nfiles; i++) {
		char *p = dwl_path(&t, i);

		/* Relative still: under the compilation directory, as
		 * full_path does for libdw's names. */
		if (p && p[0] != '/' && c->comp_dir) {
			char *q = dwl_join(c->comp_dir, p);

			free(p);
			p = q;
		}
		c->files[i] = p ? intern_path(d, p) : NULL;
	}
	if (t.nrows > d->line_out_cap) {
		free(d->line_out);
		d->line_out_cap = t.rows_cap;
		d->line_out = xmalloc(d->line_out_cap * sizeof(*d->line_out));
	}
	sorted = dwl_sort_rows(t.rows, t.nrows, d->line_out);
	c->rows = xmalloc((t.nrows ? t.nrows : 1) * sizeof(*c->rows));
	for (size_t i = 0; i < t.nrows; i++) {
		const struct dwl_row *r = &sorted[i];

		c->rows[i] = (struct dw_row){
			.addr = r->addr,
			.file = r->file < t.nfiles ? c->files[r->file] : NULL,
			.line = r->line,
			.column = r->column,
			.end_sequence = r->end_sequence,
		};
	}
	c->nrows = t.nrows;
	/* As libdw does: the highest row ends a sequence, whether or not
	 * the program said so, so that nothing past it has a line. */
	if (c->nrows)
		c->rows[c->nrows - 1].end_sequence = 1;
	/* The arrays, for the next unit, unless huge. */
	if (t.rows_cap <= LINE_ROWS_KEPT) {
		d->line_rows = t.rows;
		d->line_rows_cap = t.rows_cap;
		t.rows = NULL;
	}
	if (d->line_out_cap > LINE_ROWS_KEPT) {
		free(d->line_out);
		d->line_out = NULL;
		d->line_out_cap = 0;
	}
	dwl_release(&t);
	return true;
}

static void build_rows(struct dwarf_index *d, struct dw_cu *c)
{
	Dwarf_Lines *lines;
	size_t n, k = 0;

	if (build_rows_own(d, c)) {
		d->counts.rows_own++;
		return;
	}
	d->counts.rows_libdw++;
	if (dwarf_getsrclines(&c->die, &lines, &n) || !n)
		return;
	c->rows = xmalloc(n * sizeof(*c->rows));
	for (size_t i = 0; i < n; i++) {
		Dwarf_Line *l = dwarf_onesrcline(lines, i);
		Dwarf_Addr a;
		int line = 0, col = 0;
		bool end = false;

		if (!l || dwarf_lineaddr(l, &a))
			continue;
		dwarf_lineno(l, &line);
		dwarf_linecol(l, &col);
		dwarf_lineendsequence(l, &end);
		c->rows[k] = (struct dw_row){
			.addr = a,
			.file = full_path(d, c, dwarf_linesrc(l, NULL, NULL)),
			.line = line > 0 ? (uint32_t)line : 0,
			.column = col > 0 && col < 65536 ? (uint16_t)col : 0,
			.end_sequence = end,
		};
		k++;
	}
	/* libdw sorts them as dwl_sort_rows does: by address, end rows
	 * first among equals, the last one an end row. */
	c->nrows = k;
}

/* ---- one unit: functions and inlined instances ---- */

struct node_range {
	uint64_t lo, hi;
	uint32_t node;
	uint32_t depth;
};

struct builder {
	struct dwarf_index *d;
	struct dw_cu *c;
	size_t nodes_cap;
	struct node_range *ranges;
	size_t nranges, ranges_cap;
	Dwarf_Files *files;
	size_t nfiles;
};

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *s;

	if ((dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	     dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr)) &&
	    (s = dwarf_formstring(&attr)) && *s)
		return s;
	s = dwarf_diename(die);
	return s && *s ? s : NULL;
}

static uint32_t attr_udata(Dwarf_Attribute *attr)
{
	Dwarf_Word w;

	if (dwarf_formudata(attr, &w))
		return 0;
	return w > UINT32_MAX ? 0 : (uint32_t)w;
}

/*
 * The attributes of a DIE that the index reads (the DWI_* slots dwinfo.c
 * reads too), found in one pass over them (dwarf_getattrs), where asking
 * dwarf_attr for each would go over the DIE's attributes a dozen times.
 */
struct die_attrs {
	Dwarf_Attribute a[DWI_N];
	unsigned have; /* bit i: a[i] was found */
};

static int collect_attr(Dwarf_Attribute *attr, void *arg)
{
	struct die_attrs *da = arg;
	int i = dwi_attr_slot(dwarf_whatattr(attr));

	if (i >= 0 && !(da->have & (1u << i))) {
		da->a[i] = *attr;
		da->have |= 1u << i;
	}
	return DWARF_CB_OK;
}

#define HAS(da, i) ((da)->have & (1u << (i)))

static const char *attr_string(struct die_attrs *da, int i)
{
	const char *s = HAS(da, i) ? dwarf_formstring(&da->a[i]) : NULL;

	return s && *s ? s : NULL;
}

/* The names the DIE at `off` in .debug_info gives, or NULL when libdw
 * finds no DIE there. */
static const struct origin_names *origin_names_at(struct dwarf_index *d,
						   uint64_t off)
{
	Dwarf_Die die;
	Dwarf_Attribute attr;
	uint64_t h;
	size_t pos;
	struct origin_names *o;
	int decl = 0;

	h = hash_combine(off, 3);
	for (uint32_t i = hmap_first(&d->origin_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&d->origin_idx, h, &pos))
		if (d->origins[i].offset == off)
			return &d->origins[i];
	if (!dwarf_offdie(d->dw, off, &die))
		return NULL;
	ALLOC_GROW(d->origins, d->norigins + 1, d->origins_cap);
	o = &d->origins[d->norigins];
	*o = (struct origin_names){ .offset = off };
	if (dwarf_attr_integrate(&die, DW_AT_linkage_name, &attr))
		o->linkage = own(d, dwarf_formstring(&attr));
	if (dwarf_attr_integrate(&die, DW_AT_MIPS_linkage_name, &attr))
		o->mips = own(d, dwarf_formstring(&attr));
	o->name = own(d, dwarf_diename(&die));
	if (!dwarf_decl_line(&die, &decl) && decl > 0)
		o->decl_line = (uint32_t)decl;
	hmap_insert(&d->origin_idx, h, (uint32_t)d->norigins++);
	return o;
}

static const struct origin_names *origin_names(struct dwarf_index *d,
						Dwarf_Attribute *ref)
{
	Dwarf_Die die;

	if (!dwarf_formref_die(ref, &die))
		return NULL;
	return origin_names_at(d, dwarf_dieoffset(&die));
}

static bool nonempty(const char *s)
{
	return s && *s;
}

/* The name a node takes, as die_name would find it: the DIE's own linkage
 * name (strings in the file), else its origin's; then the MIPS linkage
 * names; then the plain names. */
static const char *pick_name(struct dwarf_index *d, const char *linkage,
			     const char *mips, const char *name,
			     const struct origin_names *o)
{
	return nonempty(linkage)	    ? own(d, linkage) :
	       o && nonempty(o->linkage) ? o->linkage :
	       nonempty(mips)	    ? own(d, mips) :
	       o && nonempty(o->mips)    ? o->mips :
	       nonempty(name)	    ? own(d, name) :
	       o && nonempty(o->name)    ? o->name :
					    NULL;
}

/* The file an inlined instance was called from: number `file` of the
 * unit's line table. */
static const char *call_file(struct builder *b, uint32_t file)
{
	struct dw_cu *c = b->c;

	if (c->files)
		return file < c->nfiles ? c->files[file] : NULL;
	if (b->files && file < b->nfiles)
		return full_path(b->d, c,
				 dwarf_filesrc(b->files, file, NULL, NULL));
	return NULL;
}

/* The name and declaration line of a DIE as die_name and dwarf_decl_line
 * give them (its own attributes first, then what its abstract origin or
 * else its specification says), from its attributes collected. */
static const char *node_name(struct dwarf_index *d, Dwarf_Die *die,
			     struct die_attrs *da, uint32_t *decl_line)
{
	const struct origin_names *o = NULL;

	if (HAS(da, DWI_ORIGIN))
		o = origin_names(d, &da->a[DWI_ORIGIN]);
	else if (HAS(da, DWI_SPEC))
		o = origin_names(d, &da->a[DWI_SPEC]);
	if (!o && (HAS(da, DWI_ORIGIN) || HAS(da, DWI_SPEC))) {
		/* A reference libdw cannot follow: as before, through it. */
		int decl = 0;

		*decl_line = !dwarf_decl_line(die, &decl) && decl > 0 ?
				     (uint32_t)decl : 0;
		return own(d, die_name(die));
	}
	*decl_line = HAS(da, DWI_DECL_LINE) ? attr_udata(&da->a[DWI_DECL_LINE]) :
		     o			    ? o->decl_line :
					      0;
	return pick_name(d, attr_string(da, DWI_LINKAGE),
			 attr_string(da, DWI_MIPS), attr_string(da, DWI_NAME), o);
}

static bool addr_form(unsigned form)
{
	return form == DW_FORM_addr || form == DW_FORM_addrx ||
	       form == DW_FORM_addrx1 || form == DW_FORM_addrx2 ||
	       form == DW_FORM_addrx3 || form == DW_FORM_addrx4 ||
	       form == DW_FORM_GNU_addr_index;
}

static void add_range_of(struct builder *b, uint64_t lo, uint64_t hi,
			 uint32_t idx, uint32_t depth, uint64_t *entry)
{
	if (!usable_range(lo, hi))
		return;
	ALLOC_GROW(b->ranges, b->nranges + 1, b->ranges_cap);
	b->ranges[b->nranges++] = (struct node_range){ lo, hi, idx, depth };
	if (lo < *entry)
		*entry = lo;
}

static uint32_t add_node(struct builder *b, Dwarf_Die *die, uint32_t parent,
			 uint32_t depth, bool inlined)
{
	struct dw_cu *c = b->c;
	uint32_t idx = (uint32_t)c->nnodes;
	struct dw_node *n;
	struct die_attrs da;
	uint64_t entry = UINT64_MAX;
	Dwarf_Addr lo, hi;

	da.have = 0;
	dwarf_getattrs(die, collect_attr, &da, 0);
	/* Its code: low_pc and high_pc (an address, or a length) as
	 * dwarf_ranges reads them, else its range list, through libdw. */
	if (HAS(&da, DWI_LOW_PC) && HAS(&da, DWI_HIGH_PC)) {
		Dwarf_Word len;

		if (!dwarf_formaddr(&da.a[DWI_LOW_PC], &lo)) {
			if (addr_form(dwarf_whatform(&da.a[DWI_HIGH_PC]))) {
				if (!dwarf_formaddr(&da.a[DWI_HIGH_PC], &hi))
					add_range_of(b, lo, hi, idx, depth, &entry);
			} else if (!dwarf_formudata(&da.a[DWI_HIGH_PC], &len)) {
				add_range_of(b, lo, lo + len, idx, depth, &entry);
			}
		}
	} else if (HAS(&da, DWI_RANGES)) {
		Dwarf_Addr base;
		ptrdiff_t off = 0;

		while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0)
			add_range_of(b, lo, hi, idx, depth, &entry);
	}
	if (entry == UINT64_MAX)
		return NO_NODE;
	ALLOC_GROW(c->nodes, c->nnodes + 1, b->nodes_cap);
	n = &c->nodes[c->nnodes++];
	*n = (struct dw_node){ .parent = NO_NODE, .entry = entry };
	n->name = node_name(b->d, die, &da, &n->decl_line);
	if (inlined) {
		uint32_t file = HAS(&da, DWI_CALL_FILE) ?
					attr_udata(&da.a[DWI_CALL_FILE]) : 0;

		n->parent = parent;
		if (HAS(&da, DWI_CALL_LINE))
			n->call_line = attr_udata(&da.a[DWI_CALL_LINE]);
		if (HAS(&da, DWI_CALL_COLUMN))
			n->call_column = attr_udata(&da.a[DWI_CALL_COLUMN]);
		n->call_file = call_file(b, file);
	}
	return idx;
}

/* Which children can hold code. Everything else (types' members,
 * parameters, variables) is skipped without being read further. */
static bool may_hold_code(int tag)
{
	switch (tag) {
	case DW_TAG_subprogram:
	case DW_TAG_inlined_subroutine:
	case DW_TAG_lexical_block:
	case DW_TAG_namespace:
	case DW_TAG_module:
	case DW_TAG_class_type:
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
	case DW_TAG_try_block:
	case DW_TAG_catch_block:
	case DW_TAG_entry_point:
		return true;
	default:
		return false;
	}
}

static void walk(struct builder *b, Dwarf_Die *parent_die, uint32_t parent,
		 uint32_t depth, uint32_t level)
{
	Dwarf_Die child;

	if (depth >= MAX_DEPTH || level >= MAX_NESTING ||
	    dwarf_child(parent_die, &child))
		return;
	do {
		int tag = dwarf_tag(&child);
		uint32_t node = parent, d = depth;

		if (!may_hold_code(tag))
			continue;
		if (tag == DW_TAG_subprogram || tag == DW_TAG_entry_point) {
			/* A function defined inside another is a function of
			 * its own, not an inlined frame of it. */
			uint32_t n = add_node(b, &child, NO_NODE, 0, false);

			node = n != NO_NODE ? n : NO_NODE;
			d = 0;
		} else if (tag == DW_TAG_inlined_subroutine) {
			uint32_t n = add_node(b, &child, parent, depth + 1, true);

			if (n != NO_NODE) {
				node = n;
				d = depth + 1;
			}
		}
		if (dwarf_haschildren(&child))
			walk(b, &child, node, d, level + 1);
	} while (dwarf_siblingof(&child, &child) == 0);
}

static int cmp_node_range(const void *a, const void *b)
{
	const struct node_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi > y->hi ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

/*
 * Sort ranges as cmp_node_range orders them: a stable radix sort on their
 * start addresses (only the bits in which they differ, 11 at a time), then
 * each run of equal starts (a few ranges at most) by the whole order.
 * Several times faster than qsort on the hundreds of thousands of ranges
 * of a large C++ program's units, where the sort was most of flatten().
 */
#define RADIX_BITS 11

static void sort_node_ranges(struct node_range *r, size_t n)
{
	uint64_t min = UINT64_MAX, max = 0;
	struct node_range *tmp, *from = r, *to;
	unsigned bits;

	if (n < 64) {
		qsort(r, n, sizeof(*r), cmp_node_range);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (r[i].lo < min)
			min = r[i].lo;
		if (r[i].lo > max)
			max = r[i].lo;
	}
	bits = max > min ? 64 - (unsigned)__builtin_clzll(max - min) : 0;
	tmp = xmalloc(n * sizeof(*tmp));
	to = tmp;
	for (unsigned shift = 0; shift < bits; shift += RADIX_BITS) {
		size_t count[1u << RADIX_BITS] = { 0 }, sum = 0;
		struct node_range *swap;

		for (size_t i = 0; i < n; i++)
			count[((from[i].lo - min) >> shift) & ((1u << RADIX_BITS) - 1)]++;
		for (size_t k = 0; k < (1u << RADIX_BITS); k++) {
			size_t c = count[k];

			count[k] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			to[count[((from[i].lo - min) >> shift) &
				 ((1u << RADIX_BITS) - 1)]++] = from[i];
		swap = from;
		from = to;
		to = swap;
	}
	if (from != r)
		memcpy(r, from, n * sizeof(*r));
	free(tmp);
	/* Equal starts: by depth, then the longest first, then DIE order. */
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && r[j].lo == r[i].lo)
			j++;
		for (size_t k = i + 1; k < j; k++) {
			struct node_range x = r[k];
			size_t m = k;

			while (m > i && cmp_node_range(&r[m - 1], &x) > 0) {
				r[m] = r[m - 1];
				m--;
			}
			r[m] = x;
		}
		i = j;
	}
}

static void emit(struct dw_cu *c, size_t *cap, uint64_t lo, uint64_t hi,
		 uint32_t node)
{
	if (lo >= hi)
		return;
	if (c->nsegs && c->segs[c->nsegs - 1].hi == lo &&
	    c->segs[c->nsegs - 1].node == node) {
		c->segs[c->nsegs - 1].hi = hi;
		return;
	}
	ALLOC_GROW(c->segs, c->nsegs + 1, *cap);
	c->segs[c->nsegs++] = (struct dw_seg){ lo, hi, node };
}

/*
 * Flatten nested ranges into disjoint segments owned by the innermost
 * range: a sweep in address order with a stack of the open ranges.
 * Ranges that overlap without nesting (not valid DWARF, but seen) are
 * handled: a range is owned while it is on top of the stack, and stale
 * entries below emit nothing once the sweep has passed their end.
 */
static void flatten(struct builder *b)
{
	struct dw_cu *c = b->c;
	struct node_range *stack;
	size_t sp = 0, segcap = 0;
	uint64_t cur = 0;

	if (!b->nranges)
		return;
	/* The reference build (dwarf_index_use_libdw) sorts with qsort. */
	if (b->d->libdw_only)
		qsort(b->ranges, b->nranges, sizeof(*b->ranges), cmp_node_range);
	else
		sort_node_ranges(b->ranges, b->nranges);
	stack = xmalloc(b->nranges * sizeof(*stack));
	for (size_t i = 0; i <= b->nranges; i++) {
		uint64_t lo = i < b->nranges ? b->ranges[i].lo : UINT64_MAX;

		while (sp && stack[sp - 1].hi <= lo) {
			struct node_range *t = &stack[--sp];

			if (cur < t->hi) {
				emit(c, &segcap, cur, t->hi, t->node);
				cur = t->hi;
			}
		}
		if (i == b->nranges)
			break;
		if (sp && cur < lo)
			emit(c, &segcap, cur, lo, stack[sp - 1].node);
		if (cur < lo)
			cur = lo;
		stack[sp++] = b->ranges[i];
	}
	free(stack);
}

/* ---- one unit's functions, read by dwinfo.c ---- */

#define NODE_FAIL (UINT32_MAX - 1)

struct range_ctx {
	struct builder *b;
	uint32_t idx, depth;
	uint64_t *entry;
};

static void add_own_range(void *arg, uint64_t lo, uint64_t hi)
{
	struct range_ctx *r = arg;

	add_range_of(r->b, lo, hi, r->idx, r->depth, r->entry);
}

static bool const_form(uint32_t form)
{
	switch (form) {
	case DW_FORM_data1: case DW_FORM_data2: case DW_FORM_data4:
	case DW_FORM_data8: case DW_FORM_udata: case DW_FORM_sdata:
	case DW_FORM_implicit_const:
		return true;
	default:
		return false;
	}
}

static bool ref_form(uint32_t form)
{
	switch (form) {
	case DW_FORM_ref1: case DW_FORM_ref2: case DW_FORM_ref4:
	case DW_FORM_ref8: case DW_FORM_ref_udata: case DW_FORM_ref_addr:
		return true;
	default:
		return false;
	}
}

/* A constant attribute as attr_udata reads it: 0 when absent or past 32
 * bits. */
static uint32_t die_const(const struct dwi_die *die, int slot)
{
	if (!(die->have & (1u << slot)) || !const_form(die->form[slot]) ||
	    die->val[slot] > UINT32_MAX)
		return 0;
	return (uint32_t)die->val[slot];
}

/* add_node for a DIE read by dwinfo.c: NODE_FAIL for anything it cannot
 * read, and the unit is then walked with libdw. */
static uint32_t add_own_node(struct builder *b, const struct dwi_unit *u,
			     const struct dwi_die *die, uint32_t parent,
			     uint32_t depth, bool inlined)
{
	struct dwarf_index *d = b->d;
	struct dw_cu *c = b->c;
	uint32_t idx = (uint32_t)c->nnodes;
	uint64_t entry = UINT64_MAX, lo, hi;
	const struct origin_names *o = NULL;
	const char *linkage, *mips, *name;
	struct dw_node *n;
	unsigned have = die->have;

	if ((have & (1u << DWI_LOW_PC)) && (have & (1u << DWI_HIGH_PC))) {
		if (dwi_addr(u, die->form[DWI_LOW_PC], die->val[DWI_LOW_PC], &lo))
			return NODE_FAIL;
		if (addr_form(die->form[DWI_HIGH_PC])) {
			if (dwi_addr(u, die->form[DWI_HIGH_PC],
				     die->val[DWI_HIGH_PC], &hi))
				return NODE_FAIL;
		} else if (const_form(die->form[DWI_HIGH_PC])) {
			hi = lo + die->val[DWI_HIGH_PC];
		} else {
			return NODE_FAIL;
		}
		add_range_of(b, lo, hi, idx, depth, &entry);
	} else if (have & (1u << DWI_RANGES)) {
		struct range_ctx r = { b, idx, depth, &entry };

		if (dwi_ranges(u, die, add_own_range, &r))
			return NODE_FAIL;
	}
	if (entry == UINT64_MAX)
		return NO_NODE;
	if (dwi_string(u, die, DWI_LINKAGE, &linkage) ||
	    dwi_string(u, die, DWI_MIPS, &mips) ||
	    dwi_string(u, die, DWI_NAME, &name))
		return NODE_FAIL;
	for (int k = DWI_ORIGIN; k <= DWI_SPEC && !o; k++) {
		if (!(have & (1u << k)))
			continue;
		if (!ref_form(die->form[k]) ||
		    !(o = origin_names_at(d, die->val[k])))
			return NODE_FAIL;
	}
	ALLOC_GROW(c->nodes, c->nnodes + 1, b->nodes_cap);
	n = &c->nodes[c->nnodes++];
	*n = (struct dw_node){ .parent = NO_NODE, .entry = entry };
	/* As node_name: the DIE's own, then its origin's. */
	n->decl_line = (have & (1u << DWI_DECL_LINE)) ?
			       die_const(die, DWI_DECL_LINE) :
		       o ? o->decl_line : 0;
	n->name = pick_name(d, linkage, mips, name, o);
	if (inlined) {
		uint32_t file = die_const(die, DWI_CALL_FILE);

		n->parent = parent;
		n->call_line = die_const(die, DWI_CALL_LINE);
		n->call_column = die_const(die, DWI_CALL_COLUMN);
		n->call_file = call_file(b, file);
	}
	return idx;
}

/* walk(), over the DIEs as dwinfo.c reads them: false (having added
 * nothing that stays) when it cannot read the unit. */
static bool walk_own(struct builder *b)
{
	struct dwarf_index *d = b->d;
	struct dw_cu *c = b->c;
	struct {
		uint32_t node, depth;
	} stack[MAX_NESTING + 1];
	size_t sp = 0;
	struct dwi_unit u;
	uint64_t pos;

	if (d->libdw_only || !d->isecs.info.data || !d->isecs.abbrev.data ||
	    dwi_unit_open(&u, &d->isecs, c->unit_off))
		return false;
	if (u.die_off != dwarf_dieoffset(&c->die))
		goto fail;
	pos = u.children_off;
	if (u.has_children) {
		stack[0].node = NO_NODE;
		stack[0].depth = 0;
		sp = 1;
	}
	/* The end of the unit ends every list still open, as libdw reads
	 * it (some producers leave out the last null entries). */
	while (sp && pos < u.end) {
		struct dwi_die die;
		uint32_t node = stack[sp - 1].node, dd = stack[sp - 1].depth;

		if (dwi_read_die(&u, &pos, &die))
			goto fail;
		if (!die.tag) {
			sp--;
			continue;
		}
		if (!may_hold_code((int)die.tag)) {
			if (dwi_skip_children(&u, &pos, &die))
				goto fail;
			continue;
		}
		if (die.tag == DW_TAG_subprogram || die.tag == DW_TAG_entry_point) {
			uint32_t n = add_own_node(b, &u, &die, NO_NODE, 0, false);

			if (n == NODE_FAIL)
				goto fail;
			node = n;
			dd = 0;
		} else if (die.tag == DW_TAG_inlined_subroutine) {
			uint32_t n = add_own_node(b, &u, &die, node, dd + 1, true);

			if (n == NODE_FAIL)
				goto fail;
			if (n != NO_NODE) {
				node = n;
				dd++;
			}
		}
		if (!die.children)
			continue;
		/* walk()'s limits: no deeper than MAX_DEPTH inlined frames
		 * or MAX_NESTING levels of DIEs. */
		if (dd >= MAX_DEPTH || sp >= MAX_NESTING) {
			if (dwi_skip_children(&u, &pos, &die))
				goto fail;
			continue;
		}
		stack[sp].node = node;
		stack[sp].depth = dd;
		sp++;
	}
	dwi_unit_release(&u);
	return true;
fail:
	dwi_unit_release(&u);
	c->nnodes = 0;
	b->nranges = 0;
	return false;
}

static void build_cu(struct dwarf_index *d, struct dw_cu *c)
{
	struct builder b = { .d = d, .c = c };
	Dwarf_Attribute attr;

	c->built = true;
	if (dwarf_attr(&c->die, DW_AT_comp_dir, &attr))
		c->comp_dir = dwarf_formstring(&attr);
	build_rows(d, c);
	if (!c->files && dwarf_getsrcfiles(&c->die, &b.files, &b.nfiles))
		b.files = NULL;
	if (walk_own(&b)) {
		d->counts.dies_own++;
	} else {
		d->counts.dies_libdw++;
		walk(&b, &c->die, NO_NODE, 0, 0);
	}
	flatten(&b);
	free(b.ranges);
	d->bytes += c->nnodes * sizeof(*c->nodes) +
		    c->nsegs * sizeof(*c->segs) + c->nrows * sizeof(*c->rows);
}

/* ---- look-up ---- */

static struct dw_cu *find_cu(struct dwarf_index *d, uint64_t addr)
{
	size_t lo = 0, hi = d->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->ranges[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Units' ranges can overlap (a partial unit, sloppy producers):
	 * look back a little for one that covers the address. */
	for (size_t k = lo, n = 0; k > 0 && n < 8; k--, n++)
		if (addr < d->ranges[k - 1].hi)
			return &d->cus[d->ranges[k - 1].cu];
	return NULL;
}

static const struct dw_row *find_row(const struct dw_cu *c, uint64_t addr)
{
	size_t lo = 0, hi = c->nrows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->rows[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || c->rows[lo - 1].end_sequence)
		return NULL;
	return &c->rows[lo - 1];
}

static const struct dw_seg *find_seg(const struct dw_cu *c, uint64_t addr)
{
	size_t lo = 0, hi = c->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->segs[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < c->segs[lo - 1].hi)
		return &c->segs[lo - 1];
	return NULL;
}

int dwarf_index_lookup(struct dwarf_index *d, uint64_t addr,
		       struct dwarf_frame *frames, unsigned max,
		       unsigned *nframes, uint64_t *entry)
{
	struct dw_cu *c = find_cu(d, addr);
	const struct dw_row *row;
	const struct dw_seg *seg;
	unsigned n = 0;

	*nframes = 0;
	if (!c || !max)
		return -ENOENT;
	if (!c->built)
		build_cu(d, c);
	row = find_row(c, addr);
	seg = find_seg(c, addr);
	if (!seg) {
		if (!row)
			return -ENOENT;
		/* Lines but no function (assembly): the caller names it
		 * from the symbol table. */
		frames[0] = (struct dwarf_frame){
			.file = row->file, .line = row->line,
			.column = row->column };
		*nframes = 1;
		*entry = 0;
		return 0;
	}
	for (uint32_t k = seg->node, inner = NO_NODE; k != NO_NODE && n < max;
	     inner = k, k = c->nodes[k].parent) {
		const struct dw_node *node = &c->nodes[k];

		/* The innermost frame is where the line table puts the
		 * address; each outer one, where the frame inside it was
		 * called from. */
		if (inner == NO_NODE)
			frames[n] = (struct dwarf_frame){
				.file = row ? row->file : NULL,
				.line = row ? row->line : 0,
				.column = row ? row->column : 0,
			};
		else
			frames[n] = (struct dwarf_frame){
				.file = c->nodes[inner].call_file,
				.line = c->nodes[inner].call_line,
				.column = c->nodes[inner].call_column,
			};
		frames[n].name = node->name;
		frames[n].decl_line = node->decl_line;
		*entry = node->entry;
		n++;
	}
	*nframes = n;
	return 0;
}
