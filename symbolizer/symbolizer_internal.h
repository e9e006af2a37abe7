/* SPDX-License-Identifier: MIT */
/* Shared inside symbolizer/ only: the parsers and tables behind the API. */
#ifndef SMOLDER_SYMBOLIZER_INTERNAL_H
#define SMOLDER_SYMBOLIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/arena.h"

/* ---- kallsyms.c: kernel symbols ---- */

struct ksym {
	uint64_t addr;
	const char *name;   /* owned by the table's arena */
	const char *module; /* NULL for the kernel image itself */
};

struct ksyms {
	struct ksym *syms; /* sorted by address */
	size_t n;
	uint64_t text_start;  /* _stext, or the lowest text address */
	bool zero_addresses;  /* every address read as 0: kptr_restrict */
	struct arena arena;
};

/*
 * Parse kallsyms text from `f` (lines "ADDR TYPE NAME [MODULE]"), keeping
 * text symbols. Returns 0 or a negative errno (-EINVAL on malformed input,
 * naming nothing: the caller names the file).
 */
int ksyms_parse(struct ksyms *k, FILE *f);
/* The symbol containing `addr`, or NULL. */
const struct ksym *ksyms_lookup(const struct ksyms *k, uint64_t addr);
void ksyms_release(struct ksyms *k);

/* ---- procmaps.c: /proc/PID/maps ---- */

struct procmap_entry {
	uint64_t start, end, offset, inode;
	uint32_t dev_major, dev_minor;
	char perms[5];
	const char *path; /* points into the parsed line; "" when anonymous */
	bool deleted;     /* " (deleted)" was stripped from path */
};

/*
 * Parse one line of /proc/PID/maps (without or with its newline), which is
 * modified in place to terminate the path. Returns 0 or -EINVAL.
 */
int procmaps_parse_line(char *line, struct procmap_entry *e);

/* ---- elfobj.c: symbol tables of one ELF object ---- */

struct elf_sym {
	uint64_t addr;
	uint64_t size;    /* 0 when the symbol table did not say */
	const char *name; /* owned by the object's arena */
	/* For local symbols, the source file the STT_FILE symbol before
	 * them names (as addr2line and llvm-symbolizer report it), or NULL. */
	const char *file;
};

struct elf_load {
	uint64_t offset, vaddr, filesz, memsz;
};

struct elf_object {
	struct elf_sym *syms; /* sorted by address, one per address */
	size_t nsyms;
	struct elf_load *loads; /* PT_LOAD segments, in file order */
	size_t nloads;
	char *build_id; /* lower-case hex, or NULL */
	int elf_type;   /* ET_EXEC, ET_DYN, ... */
	bool has_dwarf; /* a .debug_info section with contents */
	bool has_debugdata; /* symbols came from .gnu_debugdata too */
	char *debuglink; /* .gnu_debuglink file name, or NULL */
	const char *last_file; /* while loading */
	uint32_t debuglink_crc;
	struct arena arena;
};

/*
 * Read the symbol tables (.symtab and .dynsym) and program headers of the
 * ELF file open at `fd` (borrowed; may be closed afterwards), or of the
 * image in memory at [image, image + size) when fd is -1. NULL and errno
 * on failure (ENOEXEC: not an ELF file).
 */
struct elf_object *elf_object_load(int fd, const void *image, size_t size);
/* Only the program headers, type and build-id (no symbols): cheap. */
struct elf_object *elf_object_load_headers(int fd, const void *image,
					   size_t size);
void elf_object_free(struct elf_object *o);
/* The function symbol containing ELF virtual address `vaddr`, or NULL. */
const struct elf_sym *elf_object_lookup(const struct elf_object *o,
					uint64_t vaddr);
/*
 * Translate a file offset (as /proc/PID/maps and the address give it) to
 * the ELF virtual address the symbol tables use. Returns 0 or -ENOENT when
 * no loadable segment holds that offset.
 */
int elf_object_offset_to_vaddr(const struct elf_object *o, uint64_t off,
			       uint64_t *vaddr);

/* ---- demangle.c ---- */

/* The demangled name (malloc'd), or NULL when `raw` is not mangled. */
char *sym_demangle(const char *raw);

/* ---- dwline.c: DWARF line programs ---- */

struct dwl_section {
	const uint8_t *data;
	size_t size;
};

/* The sections a line program reads (data NULL when absent). */
struct dwl_sections {
	struct dwl_section line, line_str, str;
};

struct dwl_file {
	const char *name; /* in the sections' data; NULL: no such file */
	uint64_t dir;     /* index into dirs */
};

struct dwl_row {
	uint64_t addr;
	uint32_t file; /* index into files */
	uint32_t line;
	uint16_t column;
	uint16_t end_sequence;
};

/* A unit's line table: rows in the program's order, and the directory and
 * file tables as the header numbers them (in DWARF 2 to 4, directory 0 is
 * the compilation directory given and file 0 is none). */
struct dwl_table {
	struct dwl_row *rows;
	size_t nrows, rows_cap;
	struct dwl_file *files;
	size_t nfiles, files_cap;
	const char **dirs;
	size_t ndirs, dirs_cap;
};

/*
 * Decode the line program at `offset` in secs->line (a unit's
 * DW_AT_stmt_list) into `t`, which is zeroed, or holds the rows array of
 * an earlier table (rows, rows_cap) to be used again. Returns 0, or
 * -EINVAL (the table released) for anything malformed or not understood:
 * the caller then asks libdw.
 */
int dwl_read(const struct dwl_sections *secs, uint64_t offset,
	     const char *comp_dir, struct dwl_table *t);
void dwl_release(struct dwl_table *t);
/* The rows in the order a stable sort by (address, end rows first) gives,
 * fast on a line program's rows (sorted sequences in any order): `rows`
 * itself when they are in that order already, else `out` (room for n
 * rows) holding them so. */
const struct dwl_row *dwl_sort_rows(const struct dwl_row *rows, size_t n,
				    struct dwl_row *out);
/* dir + "/" + name, malloc'ed; name alone when it is absolute or dir is
 * NULL or empty. */
char *dwl_join(const char *dir, const char *name);
/* File `file`'s name joined to its directory (still relative when both
 * are), malloc'ed; NULL when the table has no such file. */
char *dwl_path(const struct dwl_table *t, uint64_t file);

/* ---- dwinfo.c: .debug_info read directly ---- */

/* What the size of a form's value depends on. */
struct dwr_unit {
	uint16_t version;
	uint8_t addr_size;
	bool offset64;
};

struct dwi_sections {
	struct dwl_section info, abbrev, str, line_str, str_offsets, addr,
		ranges, rnglists;
};

struct dwi_abbrev {
	uint32_t tag;
	bool children, defined;
	uint32_t first, n; /* its attributes in the unit's specs */
};

struct dwi_spec {
	uint32_t name, form;
	int64_t implicit;
};

/* One compilation unit, ready for its DIEs to be read. */
struct dwi_unit {
	const struct dwi_sections *s;
	uint64_t off, end;     /* its header, and the end of its DIEs */
	uint64_t die_off;      /* the unit's own DIE */
	uint64_t children_off; /* the first DIE under it */
	bool has_children;
	struct dwr_unit fmt;
	struct dwi_abbrev *abbrevs; /* by code */
	size_t nabbrevs;
	struct dwi_spec *specs;
	size_t nspecs, specs_cap;
	uint64_t str_offsets_base, addr_base, rnglists_base;
	uint64_t base; /* the unit's low_pc: range lists' base address */
};

/* The attributes a DIE is read for. */
enum {
	DWI_ORIGIN, DWI_SPEC, DWI_LINKAGE, DWI_MIPS, DWI_NAME, DWI_DECL_LINE,
	DWI_CALL_FILE, DWI_CALL_LINE, DWI_CALL_COLUMN, DWI_LOW_PC, DWI_HIGH_PC,
	DWI_RANGES, DWI_SIBLING, DWI_STR_OFFSETS_BASE, DWI_ADDR_BASE,
	DWI_RNGLISTS_BASE, DWI_N
};

struct dwi_die {
	uint64_t off;   /* in .debug_info */
	uint32_t tag;   /* 0: the null entry that ends a list of children */
	bool children;
	unsigned have;  /* bit DWI_*: that attribute is present */
	uint32_t form[DWI_N];
	/* Constants and addresses (or their indexes) as they are; strings
	 * and references as offsets, references within the unit made
	 * offsets in .debug_info. */
	uint64_t val[DWI_N];
};

/* Which DWI_* slot attribute `name` (DW_AT_*) goes to, or -1. */
int dwi_attr_slot(uint32_t name);
/* Open the unit whose header is at `off` in .debug_info: 0, or -EINVAL for
 * anything it does not read (then libdw's). */
int dwi_unit_open(struct dwi_unit *u, const struct dwi_sections *s,
		  uint64_t off);
void dwi_unit_release(struct dwi_unit *u);
/* Read the DIE at *pos and move *pos past its attributes (to its first
 * child, if it has children). 0 or -EINVAL. */
int dwi_read_die(const struct dwi_unit *u, uint64_t *pos, struct dwi_die *die);
/* Move *pos, just past `die`'s attributes, past its children. */
int dwi_skip_children(const struct dwi_unit *u, uint64_t *pos,
		      const struct dwi_die *die);
/* An address attribute's value (DW_FORM_addr or an index into .debug_addr). */
int dwi_addr(const struct dwi_unit *u, uint32_t form, uint64_t val,
	     uint64_t *addr);
/* A string attribute (*s NULL when absent); -EINVAL on a form it cannot
 * read. */
int dwi_string(const struct dwi_unit *u, const struct dwi_die *die, int slot,
	       const char **s);
/* Each range of `die`'s DW_AT_ranges, to `add`. 0 or -EINVAL. */
int dwi_ranges(const struct dwi_unit *u, const struct dwi_die *die,
	       void (*add)(void *arg, uint64_t lo, uint64_t hi), void *arg);

/* ---- dwarf.c: DWARF functions, lines and inlined frames ---- */

struct dwarf_index;

struct dwarf_frame {
	const char *name; /* raw (mangled) name; NULL when DWARF has none */
	const char *file; /* NULL when unknown */
	uint32_t line, column;
	uint32_t decl_line;
};

/*
 * Index the DWARF of the ELF file open at `fd` (duplicated; the caller
 * keeps its own). NULL when it has no usable DWARF.
 */
struct dwarf_index *dwarf_index_open(int fd);
void dwarf_index_free(struct dwarf_index *d);
/* Build units the plain way, for tests to compare with: with libdw alone
 * (not dwline.c and dwinfo.c), and qsort (not the radix sort). Before the
 * first look-up. */
void dwarf_index_use_libdw(struct dwarf_index *d);
/* Units built so far: their lines (rows) and functions (dies) read by
 * our own readers, and by libdw. */
struct dwarf_index_counts {
	size_t rows_own, rows_libdw, dies_own, dies_libdw;
};
void dwarf_index_counts(const struct dwarf_index *d,
			struct dwarf_index_counts *n);
/* Memory the indexes hold now (they grow as units are first used). */
size_t dwarf_index_bytes(const struct dwarf_index *d);
/*
 * The frames at ELF virtual address `addr`, innermost first: frames[0]
 * is the code at the address, the later ones the functions it was inlined
 * into, each with the position of its call. `*entry` is the lowest
 * address of the outermost function (0 when DWARF names no function:
 * frames[0].name is then NULL and only its file and line are known).
 * Returns 0, or -ENOENT when DWARF does not describe the address.
 */
int dwarf_index_lookup(struct dwarf_index *d, uint64_t addr,
		       struct dwarf_frame *frames, unsigned max,
		       unsigned *nframes, uint64_t *entry);

#endif
