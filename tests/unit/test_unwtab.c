/* SPDX-License-Identifier: MIT */
/*
 * Unwind tables against binutils. For objects this test builds (an -O2
 * program without frame pointers and its shared library, the same program
 * with IBT's PLT, at -O0 with frame pointers, and with only .debug_frame;
 * a library of hand-written CFI for the rules compilers do not emit), for
 * a file copy of the vDSO, and for the system's libc and python3.11 when
 * present, every row `readelf --debug-dump=frames-interp` prints must come
 * out of unwtab_find() as the rule readelf's reading implies; the raw
 * `--debug-dump=frames` says which expressions are the PLT's. Then the
 * tables' invariants (sorted rows, every FDE covered, NONE rows in the
 * gaps, the FDE count), and inputs that are not ELF, are cut short, have
 * garbage for CFI or no CFI at all, and the vDSO read from memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/xalloc.h"
#include "../../symbolizer/unwtab.h"
#include "harness.h"

static char dir[] = "/tmp/smolder-test-unwtab.XXXXXX";

static const char lib_src[] =
	"#include <string.h>\n"
	"__attribute__((noinline)) int lib_leaf(int x) { return x * 7 + 3; }\n"
	"/* Both calls go through the library's own PLT: strlen is libc's,\n"
	" * and lib_leaf may be interposed. */\n"
	"__attribute__((noinline)) int lib_len(const char *s)\n"
	"{ return (int)strlen(s) + lib_leaf(s[0]); }\n";

static const char prog_src[] =
	"#include <alloca.h>\n"
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"int lib_leaf(int);\n"
	"int lib_len(const char *);\n"
	"volatile int sink;\n"
	"__attribute__((noinline)) int leaf(int x) { return x * 3 + 1; }\n"
	"__attribute__((noinline)) int big_frame(int x)\n"
	"{\n"
	"  char buf[5000];\n"
	"  volatile char *p = buf;\n"
	"  p[x % 5000] = (char)x;\n"
	"  p[4999] = 1;\n"
	"  return p[x % 100] + leaf(x);\n"
	"}\n"
	"__attribute__((noinline)) int via_plt(int x)\n"
	"{ return lib_leaf(x) * 2 + lib_len(\"abc\"); }\n"
	"__attribute__((noinline)) int recurse(int n)\n"
	"{\n"
	"  if (n <= 0)\n"
	"    return sink;\n"
	"  return recurse(n - 1) * 3 + leaf(n) + recurse(n - 2);\n"
	"}\n"
	"__attribute__((noinline)) int vla(int n)\n"
	"{\n"
	"  char a[n];\n"
	"  volatile char *p = a;\n"
	"  for (int i = 0; i < n; i++) p[i] = (char)i;\n"
	"  return p[n / 2] + leaf(n);\n"
	"}\n"
	"__attribute__((noinline)) int with_alloca(int n)\n"
	"{\n"
	"  volatile char *p = alloca((size_t)n + 1);\n"
	"  p[n] = 1;\n"
	"  return p[n] + leaf(n) + sink;\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"  (void)argv;\n"
	"  printf(\"%d\\n\", big_frame(argc) + via_plt(argc) + recurse(argc + 3)\n"
	"         + vla(argc + 16) + with_alloca(argc + 8));\n"
	"  return 0;\n"
	"}\n";

/*
 * Rules no compiler emits for C, one per byte: rbp saved in a register, as
 * a value, by an expression, at offsets on both sides of what a row can
 * hold; CFAs on other registers, past the row's offset field, by a
 * non-PLT expression; the return address elsewhere than CFA - 8 or
 * undefined; the PLT's expression outside a PLT; a signal frame; and gaps
 * no FDE covers.
 */
static const char shapes_src[] =
	"\t.text\n"
	"\t.globl rules\n"
	"\t.type rules, @function\n"
	"rules:\n"
	"\t.cfi_startproc\n"
	"\tpush %rbp\n"
	"\t.cfi_def_cfa_offset 16\n"
	"\t.cfi_offset %rbp, -16\n"
	"\tnop\n"
	"\t.cfi_register %rbp, %rbx\n"
	"\tnop\n"
	"\t.cfi_same_value %rbp\n"
	"\tnop\n"
	"\t.cfi_val_offset %rbp, -16\n"
	"\tnop\n"
	"\t.cfi_offset %rbp, -1024\n"
	"\tnop\n"
	"\t.cfi_offset %rbp, -1032\n"
	"\tnop\n"
	"\t.cfi_offset %rbp, 1016\n"
	"\tnop\n"
	"\t.cfi_offset %rbp, 1024\n"
	"\tnop\n"
	/* DW_CFA_expression rbp: DW_OP_breg7 16 */
	"\t.cfi_escape 0x10, 0x06, 0x02, 0x77, 0x10\n"
	"\tnop\n"
	"\t.cfi_offset %rbp, -16\n"
	"\t.cfi_def_cfa_offset 262143\n"
	"\tnop\n"
	"\t.cfi_def_cfa_offset 262144\n"
	"\tnop\n"
	"\t.cfi_def_cfa %rbx, 16\n"
	"\tnop\n"
	"\t.cfi_def_cfa %rbp, 16\n"
	"\tnop\n"
	"\t.cfi_def_cfa %rbp, -24\n"
	"\tnop\n"
	"\t.cfi_def_cfa %rsp, 8\n"
	"\t.cfi_offset %rip, -16\n"
	"\tnop\n"
	"\t.cfi_register %rip, %rdx\n"
	"\tnop\n"
	"\t.cfi_offset %rip, -8\n"
	/* DW_CFA_def_cfa_expression: DW_OP_breg7 8; DW_OP_deref */
	"\t.cfi_escape 0x0f, 0x03, 0x77, 0x08, 0x06\n"
	"\tnop\n"
	"\t.cfi_def_cfa %rsp, 8\n"
	"\t.cfi_undefined %rip\n"
	"\tnop\n"
	"\tret\n"
	"\t.cfi_endproc\n"
	"\t.size rules, .-rules\n"
	"\t.skip 32, 0x90\n"
	"plt_like:\n"
	"\t.cfi_startproc\n"
	/* DW_CFA_def_cfa_expression, the PLT's: rsp + 8 +
	 * ((((rip & 15) >= 11)) << 3) */
	"\t.cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a,"
	" 0x3b, 0x2a, 0x33, 0x24, 0x22\n"
	"\tnop\n"
	"\tret\n"
	"\t.cfi_endproc\n"
	"\t.skip 7, 0x90\n"
	"signal_like:\n"
	"\t.cfi_startproc\n"
	"\t.cfi_signal_frame\n"
	"\tnop\n"
	"\t.cfi_def_cfa_offset 16\n"
	"\tret\n"
	"\t.cfi_endproc\n"
	"\t.section .note.GNU-stack,\"\",@progbits\n";

/* `name` in the fixtures' directory; the last four answers stay valid. */
static const char *in_dir(const char *name)
{
	static char paths[4][512];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

static bool write_bytes(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return false;
	if (len && fwrite(buf, 1, len, f) != len) {
		fclose(f);
		return false;
	}
	return fclose(f) == 0;
}

static char *read_all(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) || !(buf = malloc((size_t)st.st_size + 1))) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	return buf;
}

/* ---- what readelf says ---- */

struct sect {
	uint64_t addr, off, size;
	bool found;
};

/* A section's address, file offset and size from `readelf -SW`. */
static struct sect section_of(const char *file, const char *name)
{
	struct sect s = { 0 };
	char cmd[1024], line[1024];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' 2>/dev/null", file);
	p = popen(cmd, "r");
	if (!p)
		return s;
	while (fgets(line, sizeof(line), p)) {
		char sname[128], type[64];
		uint64_t addr, off, size;
		const char *q = strchr(line, ']');

		if (!strstr(line, "[") || !q ||
		    sscanf(q + 1, "%127s %63s %" SCNx64 " %" SCNx64 " %" SCNx64,
			   sname, type, &addr, &off, &size) != 5)
			continue;
		if (!strcmp(sname, name)) {
			s = (struct sect){ addr, off, size, true };
			break;
		}
	}
	pclose(p);
	return s;
}

#define COL 32

/* One row of readelf's table: the CFA column, rbp's and ra's. */
struct orow {
	uint64_t pc;
	size_t fde;
	char cfa[COL], rbp[COL], ra[COL];
};

struct ofde {
	uint64_t off, cie, start, end;
	unsigned plt_lit; /* N in the PLT's CFA expression, or 0 */
	bool signal;      /* its CIE's augmentation has 'S' */
	size_t nrows;
};

struct ocie {
	uint64_t off;
	bool signal, has_row;
	struct orow row; /* the initial row */
};

struct oracle {
	struct ofde *fdes;
	size_t nfdes, afdes;
	struct orow *rows;
	size_t nrows, arows;
	struct ocie *cies;
	size_t ncies, acies;
	size_t unparsed; /* row lines that did not fit the column header */
};

static void oracle_release(struct oracle *o)
{
	free(o->fdes);
	free(o->rows);
	free(o->cies);
	memset(o, 0, sizeof(*o));
}

/*
 * Split a line on blanks. readelf prints a register rule "saved in another
 * register" as "r3 (rbx)": a token that opens with '(' joins the one before.
 */
static int split(char *line, char **tok, int max)
{
	int n = 0;

	for (char *s = strtok(line, " \t\n"); s; s = strtok(NULL, " \t\n")) {
		if (*s == '(' && n > 0) {
			/* strtok ended the one before with a NUL: a blank again */
			char *q = s - 1;

			while (*q)
				q--;
			*q = ' ';
			continue;
		}
		if (n < max)
			tok[n++] = s;
	}
	return n;
}

static bool is_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

static void copy_col(char *dst, const char *src)
{
	snprintf(dst, COL, "%s", src ? src : "");
}

static bool section_header(const char *line, const char *section)
{
	static const char head[] = "Contents of the ";
	size_t n = strlen(section);

	return !strncmp(line, head, sizeof(head) - 1) &&
	       !strncmp(line + sizeof(head) - 1, section, n) &&
	       !strncmp(line + sizeof(head) - 1 + n, " section", 8);
}

static FILE *readelf(const char *what, const char *file)
{
	char cmd[1024];

	/* -wN: the object's own CFI, not a separate debug file's. */
	snprintf(cmd, sizeof(cmd), "readelf -wN --debug-dump=%s '%s' 2>/dev/null",
		 what, file);
	return popen(cmd, "r");
}

/* `section`'s table from readelf's frames-interp output. */
static bool oracle_read(struct oracle *o, const char *file, const char *section)
{
	enum { OUTSIDE, IN_CIE, IN_FDE } state = OUTSIDE;
	int col_rbp = -1, col_ra = -1, ncols = 0;
	bool in_sec = false;
	char line[4096];
	FILE *p = readelf("frames-interp", file);

	if (!p)
		return false;
	while (fgets(line, sizeof(line), p)) {
		char *tok[64];
		int n;

		if (!strncmp(line, "Contents of the ", 16)) {
			in_sec = section_header(line, section);
			state = OUTSIDE;
			continue;
		}
		if (!in_sec || (n = split(line, tok, 64)) == 0)
			continue;
		if (n >= 4 && !strcmp(tok[3], "CIE")) {
			struct ocie *c;

			ALLOC_GROW(o->cies, o->ncies + 1, o->acies);
			c = &o->cies[o->ncies++];
			memset(c, 0, sizeof(*c));
			c->off = strtoull(tok[0], NULL, 16);
			c->signal = n >= 5 && tok[4][0] == '"' &&
				    strchr(tok[4], 'S');
			state = IN_CIE;
		} else if (n >= 6 && !strcmp(tok[3], "FDE")) {
			struct ofde f = { .off = strtoull(tok[0], NULL, 16) };

			if (sscanf(tok[4], "cie=%" SCNx64, &f.cie) != 1 ||
			    sscanf(tok[5], "pc=%" SCNx64 "..%" SCNx64, &f.start,
				   &f.end) != 2) {
				o->unparsed++;
				state = OUTSIDE;
				continue;
			}
			for (size_t i = 0; i < o->ncies; i++)
				if (o->cies[i].off == f.cie)
					f.signal = o->cies[i].signal;
			ALLOC_GROW(o->fdes, o->nfdes + 1, o->afdes);
			o->fdes[o->nfdes++] = f;
			state = IN_FDE;
		} else if (!strcmp(tok[0], "LOC") && n >= 2) {
			ncols = n;
			col_rbp = col_ra = -1;
			for (int i = 2; i < n; i++) {
				if (!strcmp(tok[i], "rbp"))
					col_rbp = i;
				if (!strcmp(tok[i], "ra"))
					col_ra = i;
			}
		} else if (state != OUTSIDE && is_hex(tok[0], 16)) {
			struct orow r = { .pc = strtoull(tok[0], NULL, 16) };

			if (n != ncols) {
				o->unparsed++;
				fprintf(stderr, "    unparsed row in %s: %s ...\n",
					file, tok[0]);
				continue;
			}
			copy_col(r.cfa, tok[1]);
			copy_col(r.rbp, col_rbp > 0 ? tok[col_rbp] : "");
			copy_col(r.ra, col_ra > 0 ? tok[col_ra] : "");
			if (state == IN_CIE) {
				o->cies[o->ncies - 1].row = r;
				o->cies[o->ncies - 1].has_row = true;
				continue;
			}
			r.fde = o->nfdes - 1;
			/* A later row at the same pc is the one in force. */
			if (o->nrows && o->rows[o->nrows - 1].fde == r.fde &&
			    o->rows[o->nrows - 1].pc == r.pc) {
				o->rows[o->nrows - 1] = r;
				continue;
			}
			ALLOC_GROW(o->rows, o->nrows + 1, o->arows);
			o->rows[o->nrows++] = r;
			o->fdes[r.fde].nrows++;
		}
	}
	pclose(p);

	/* An FDE with no instructions but padding prints no table: its
	 * CIE's initial row holds over its whole range. */
	for (size_t i = 0; i < o->nfdes; i++) {
		if (o->fdes[i].nrows)
			continue;
		for (size_t k = 0; k < o->ncies; k++) {
			if (o->cies[k].off != o->fdes[i].cie || !o->cies[k].has_row)
				continue;
			ALLOC_GROW(o->rows, o->nrows + 1, o->arows);
			o->rows[o->nrows] = o->cies[k].row;
			o->rows[o->nrows].pc = o->fdes[i].start;
			o->rows[o->nrows].fde = i;
			o->nrows++;
			o->fdes[i].nrows++;
		}
	}

	/* The raw dump spells out the CFA expressions: mark the PLT's,
	 * rsp + 8 + ((((rip & 15) >= N) << 3), with its N. */
	static const char plt_head[] =
		"DW_CFA_def_cfa_expression (DW_OP_breg7 (rsp): 8; "
		"DW_OP_breg16 (rip): 0; DW_OP_lit15; DW_OP_and; DW_OP_lit";
	static const char plt_tail[] =
		"; DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus)";
	struct ofde *cur = NULL;
	size_t cursor = 0;

	p = readelf("frames", file);
	if (!p)
		return false;
	in_sec = false;
	while (fgets(line, sizeof(line), p)) {
		const char *e;
		char *end;
		unsigned long lit;

		if (!strncmp(line, "Contents of the ", 16)) {
			in_sec = section_header(line, section);
			cur = NULL;
			continue;
		}
		if (!in_sec)
			continue;
		if (strstr(line, " FDE cie=")) {
			uint64_t off = strtoull(line, NULL, 16);

			cur = NULL;
			/* Both dumps list the FDEs in the same order. */
			for (size_t k = 0; k < o->nfdes; k++) {
				size_t i = (cursor + k) % o->nfdes;

				if (o->fdes[i].off == off) {
					cur = &o->fdes[i];
					cursor = i + 1;
					break;
				}
			}
			continue;
		}
		if (strstr(line, " CIE"))
			cur = NULL;
		if (!cur || !(e = strstr(line, plt_head)))
			continue;
		lit = strtoul(e + sizeof(plt_head) - 1, &end, 10);
		if (!strncmp(end, plt_tail, sizeof(plt_tail) - 1) && lit < 32)
			cur->plt_lit = (unsigned)lit;
	}
	pclose(p);
	return true;
}

/* ---- readelf's rows against the table ---- */

struct expect {
	enum unw_cfa cfa;
	int64_t cfa_off;
	enum unw_rbp rbp;
	int64_t rbp_off;
	bool full; /* the offsets and the rbp rule count too */
};

/* "rsp+8" -> true and 8 when `cfa` is on register `reg`. */
static bool reg_plus(const char *cfa, const char *reg, int64_t *off)
{
	size_t n = strlen(reg);
	char *end;

	if (strncmp(cfa, reg, n) || (cfa[n] != '+' && cfa[n] != '-'))
		return false;
	*off = strtoll(cfa + n, &end, 10);
	return *end == '\0';
}

/* "c-16" -> true and -16: saved at CFA - 16. */
static bool at_cfa(const char *rule, int64_t *off)
{
	char *end;

	if (rule[0] != 'c' || (rule[1] != '+' && rule[1] != '-'))
		return false;
	*off = strtoll(rule + 1, &end, 10);
	return *end == '\0';
}

static struct expect expect_of(const struct ofde *f, const struct orow *r)
{
	struct expect x = { .cfa = UNW_CFA_UNSUP };
	int64_t off;

	if (f->signal) {
		x.cfa = UNW_CFA_SIGNAL;
		return x;
	}
	/* readelf prints "u" for "no rule" and for DW_CFA_undefined alike;
	 * every CIE here gives ra a rule, so "u" is the outermost frame. */
	if (!strcmp(r->ra, "u")) {
		x.cfa = UNW_CFA_END;
		return x;
	}
	if (!at_cfa(r->ra, &off) || off != -8)
		return x;
	if (reg_plus(r->cfa, "rsp", &x.cfa_off))
		x.cfa = UNW_CFA_RSP;
	else if (reg_plus(r->cfa, "rbp", &x.cfa_off))
		x.cfa = UNW_CFA_RBP;
	else if (!strcmp(r->cfa, "exp") && f->plt_lit) {
		x.cfa = UNW_CFA_PLT;
		x.cfa_off = f->plt_lit;
	} else
		return x;
	if ((x.cfa == UNW_CFA_RSP || x.cfa == UNW_CFA_RBP) &&
	    (x.cfa_off < UNW_CFA_OFF_MIN || x.cfa_off > UNW_CFA_OFF_MAX)) {
		x.cfa = UNW_CFA_UNSUP;
		x.cfa_off = 0;
		return x;
	}
	x.full = true;
	if (!r->rbp[0] || !strcmp(r->rbp, "u") || !strcmp(r->rbp, "s")) {
		x.rbp = UNW_RBP_SAME;
	} else if (at_cfa(r->rbp, &off) && off % 8 == 0 &&
		   off >= UNW_RBP_OFF_MIN && off <= UNW_RBP_OFF_MAX) {
		x.rbp = UNW_RBP_CFA;
		x.rbp_off = off;
	} else {
		x.rbp = UNW_RBP_LOST;
	}
	return x;
}

static const char *const cfa_names[] = { "NONE", "RSP",    "RBP",  "PLT",
					 "SIGNAL", "END", "UNSUP", "?" };
static const char *const rbp_names[] = { "SAME", "CFA", "LOST", "?" };

static bool agrees(const struct expect *x, const struct unw_row *row)
{
	uint32_t r;

	if (!row)
		return false;
	r = row->rule;
	if ((enum unw_cfa)UNW_RULE_CFA(r) != x->cfa)
		return false;
	if (!x->full)
		return true;
	if (UNW_RULE_CFA_OFF(r) != x->cfa_off ||
	    (enum unw_rbp)UNW_RULE_RBP(r) != x->rbp)
		return false;
	return x->rbp != UNW_RBP_CFA || UNW_RULE_RBP_OFF(r) == x->rbp_off;
}

/* Look every readelf row up; returns how many agree, `*total` of how many. */
static size_t compare_rows(const char *name, const struct unwtab *t,
			   const struct oracle *o, size_t *total)
{
	size_t agree = 0, shown = 0;

	*total = 0;
	for (size_t i = 0; i < o->nrows; i++) {
		const struct orow *r = &o->rows[i];
		const struct ofde *f = &o->fdes[r->fde];
		const struct unw_row *row;
		struct expect x;

		if (r->pc < f->start || r->pc >= f->end)
			continue; /* advanced past its FDE's end */
		(*total)++;
		x = expect_of(f, r);
		row = unwtab_find(t, r->pc);
		if (agrees(&x, row)) {
			agree++;
			continue;
		}
		if (shown++ >= 10)
			continue;
		fprintf(stderr,
			"    %s: pc %#" PRIx64 ": readelf cfa=%s rbp=%s ra=%s%s"
			" -> want %s %" PRId64 " rbp %s %" PRId64 "; unwtab ",
			name, r->pc, r->cfa, r->rbp[0] ? r->rbp : "-", r->ra,
			f->signal ? " (signal CIE)" : "", cfa_names[x.cfa],
			x.cfa_off, rbp_names[x.rbp], x.rbp_off);
		if (!row)
			fprintf(stderr, "no row\n");
		else
			fprintf(stderr, "%s %d rbp %s %d (row pc %#" PRIx64 ")\n",
				cfa_names[UNW_RULE_CFA(row->rule)],
				UNW_RULE_CFA_OFF(row->rule),
				rbp_names[UNW_RULE_RBP(row->rule)],
				UNW_RULE_RBP_OFF(row->rule),
				t->base + row->pc);
	}
	if (shown > 10)
		fprintf(stderr, "    %s: %zu more mismatches\n", name, shown - 10);
	return agree;
}

/* ---- structure ---- */

/* What holds for any table unwtab_build returns, garbage in or not. */
static void check_invariants(const struct unwtab *t)
{
	uint32_t unsup = 0, sig = 0;
	bool sorted = true, found = true, kinds = true;

	CHECK(t->nrows > 0);
	CHECK(t->fdes > 0);
	CHECK(t->source && (!strcmp(t->source, ".eh_frame") ||
			    !strcmp(t->source, ".debug_frame")));
	if (!t->nrows)
		return;
	CHECK_EQ(t->rows[0].pc, 0);
	for (uint32_t i = 0; i < t->nrows; i++) {
		const struct unw_row *r = &t->rows[i];

		if (i && r->pc <= t->rows[i - 1].pc)
			sorted = false;
		if (UNW_RULE_CFA(r->rule) > UNW_CFA_UNSUP)
			kinds = false;
		unsup += UNW_RULE_CFA(r->rule) == UNW_CFA_UNSUP;
		sig += UNW_RULE_CFA(r->rule) == UNW_CFA_SIGNAL;
		if (unwtab_find(t, t->base + r->pc) != r ||
		    (i && unwtab_find(t, t->base + r->pc - 1) != r - 1))
			found = false;
	}
	CHECK(sorted);
	CHECK(kinds);
	CHECK(found);
	CHECK_EQ(t->unsupported, unsup);
	CHECK_EQ(t->signal, sig);
	if (t->base)
		CHECK(unwtab_find(t, t->base - 1) == NULL);
	CHECK(unwtab_find(t, 0) == (t->base ? NULL : &t->rows[0]));
}

static int cmp_range(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

static bool is_none(const struct unwtab *t, uint64_t pc)
{
	const struct unw_row *r = unwtab_find(t, pc);

	return r && UNW_RULE_CFA(r->rule) == UNW_CFA_NONE;
}

/* The table against readelf's list of FDEs: count, coverage, gaps. */
static void check_structure(const char *name, const struct unwtab *t,
			    const struct oracle *o)
{
	uint64_t (*ranges)[2] = xcalloc(o->nfdes + 1, sizeof(*ranges));
	size_t n = 0, m = 0, uncovered = 0, gaps = 0, bad_gaps = 0;
	size_t stray = 0;

	check_invariants(t);
	CHECK_EQ(o->unparsed, 0);
	CHECK_EQ(t->fdes, o->nfdes);
	for (size_t i = 0; i < o->nfdes; i++) {
		const struct ofde *f = &o->fdes[i];
		const struct unw_row *a, *b;

		if (f->start >= f->end)
			continue;
		ranges[n][0] = f->start;
		ranges[n++][1] = f->end;
		a = unwtab_find(t, f->start);
		b = unwtab_find(t, f->end - 1);
		if (!a || !b || UNW_RULE_CFA(a->rule) == UNW_CFA_NONE ||
		    UNW_RULE_CFA(b->rule) == UNW_CFA_NONE) {
			if (uncovered++ < 5)
				fprintf(stderr, "    %s: FDE %#" PRIx64 "..%#" PRIx64
					" not covered\n", name, f->start, f->end);
		}
	}
	CHECK_EQ(uncovered, 0);
	if (!n) {
		free(ranges);
		return;
	}
	/* Merge the ranges; between two merged ranges lies a gap. */
	qsort(ranges, n, sizeof(*ranges), cmp_range);
	for (size_t i = 1; i < n; i++) {
		if (ranges[i][0] <= ranges[m][1]) {
			if (ranges[i][1] > ranges[m][1])
				ranges[m][1] = ranges[i][1];
		} else {
			ranges[++m][0] = ranges[i][0];
			ranges[m][1] = ranges[i][1];
		}
	}
	m++;
	CHECK_EQ(t->base, ranges[0][0]);
	for (size_t i = 0; i + 1 < m; i++) {
		gaps++;
		if (!is_none(t, ranges[i][1]) ||
		    !is_none(t, ranges[i + 1][0] - 1)) {
			if (bad_gaps++ < 5)
				fprintf(stderr, "    %s: gap %#" PRIx64 "..%#" PRIx64
					" not NONE\n", name, ranges[i][1],
					ranges[i + 1][0]);
		}
	}
	CHECK_EQ(bad_gaps, 0);
	/* Past the end of the last FDE, and far past it. */
	CHECK(is_none(t, ranges[m - 1][1]));
	CHECK(is_none(t, ranges[m - 1][1] + 0x100000));

	/* Each row starts inside an FDE, or (NONE) right where one ends. */
	for (uint32_t i = 0; i < t->nrows; i++) {
		uint64_t pc = t->base + t->rows[i].pc;
		size_t lo = 0, hi = m;
		bool none = UNW_RULE_CFA(t->rows[i].rule) == UNW_CFA_NONE;

		while (lo < hi) { /* the last range starting at or before pc */
			size_t mid = lo + (hi - lo) / 2;

			if (ranges[mid][0] <= pc)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (none ? !(lo && ranges[lo - 1][1] == pc)
			 : !(lo && pc < ranges[lo - 1][1]))
			stray++;
	}
	CHECK_EQ(stray, 0);
	free(ranges);
}

static struct unwtab *build_file(const char *path)
{
	struct unwtab *t;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	t = unwtab_build(fd, NULL, 0);
	close(fd);
	return t;
}

static void count_kinds(const struct unwtab *t, uint32_t kinds[8])
{
	memset(kinds, 0, 8 * sizeof(kinds[0]));
	for (uint32_t i = 0; i < t->nrows; i++)
		kinds[UNW_RULE_CFA(t->rows[i].rule)]++;
}

/*
 * Build `path`'s table and hold it against readelf's: at least `permille`
 * of readelf's rows must agree. Returns the table (caller frees) or NULL.
 */
static struct unwtab *against_readelf(const char *name, const char *path,
				      const char *source, unsigned permille)
{
	struct oracle o = { 0 };
	size_t total, agree;
	struct unwtab *t = build_file(path);

	CHECK(t != NULL);
	if (!t) {
		fprintf(stderr, "    %s: unwtab_build: %s\n", name, strerror(errno));
		return NULL;
	}
	CHECK_STR(t->source, source);
	CHECK(oracle_read(&o, path, source));
	CHECK(o.nfdes > 0);
	agree = compare_rows(name, t, &o, &total);
	CHECK(total > 0);
	if (permille == 1000)
		CHECK_EQ(agree, total);
	else
		CHECK(agree * 1000 >= total * permille);
	fprintf(stderr, "    %s: %zu of %zu readelf rows agree, %u FDEs\n",
		name, agree, total, t->fdes);
	check_structure(name, t, &o);
	oracle_release(&o);
	return t;
}

/* ---- fixtures ---- */

static bool have_ibt;

#define OPT "-O2 -fomit-frame-pointer -fasynchronous-unwind-tables"

static int build_fixtures(void)
{
	if (!mkdtemp(dir))
		return -1;
	if (!write_bytes(in_dir("lib.c"), lib_src, strlen(lib_src)) ||
	    !write_bytes(in_dir("prog.c"), prog_src, strlen(prog_src)) ||
	    !write_bytes(in_dir("shapes.s"), shapes_src, strlen(shapes_src)))
		return -1;
	if (sh("cd %s && cc " OPT " -fPIC -shared -o libunw.so lib.c &&"
	       " cc " OPT " -o prog-o2 prog.c -L. -lunw -Wl,-rpath,%s &&"
	       " cc -O0 -fno-omit-frame-pointer -o prog-o0 prog.c -L. -lunw"
	       " -Wl,-rpath,%s &&"
	       " cc -O2 -g -fno-asynchronous-unwind-tables -fno-unwind-tables"
	       " -o prog-dbg prog.c -L. -lunw -Wl,-rpath,%s &&"
	       " objcopy --remove-section=.eh_frame --remove-section=.eh_frame_hdr"
	       " prog-o2 prog-nocfi &&"
	       " cc -shared -nostdlib -o libshapes.so shapes.s", dir, dir, dir,
	       dir))
		return -1;
	/* crt1.o and friends bring their own .eh_frame: drop it, so that
	 * only the program's .debug_frame is left. */
	if (section_of(in_dir("prog-dbg"), ".eh_frame").found &&
	    sh("objcopy --remove-section=.eh_frame --remove-section=.eh_frame_hdr"
	       " %s/prog-dbg", dir))
		return -1;
	/* With IBT's PLT (.plt.sec), when the toolchain has it. */
	have_ibt = !sh("cd %s && cc " OPT " -fcf-protection -o prog-ibt prog.c"
		       " -L. -lunw -Wl,-rpath,%s -Wl,-z,ibtplt 2>/dev/null &&"
		       " ./prog-ibt >/dev/null", dir, dir);
	/* The programs must run (the library and the PLT are what we think). */
	return sh("%s/prog-o2 >/dev/null && %s/prog-o0 >/dev/null", dir, dir);
}

static void optimized_program_and_library(void)
{
	struct unwtab *t;
	uint32_t k[8];
	bool big = false;
	struct sect plt = section_of(in_dir("prog-o2"), ".plt");

	t = against_readelf("prog-o2", in_dir("prog-o2"), ".eh_frame", 1000);
	if (t) {
		/* The shapes the fixture was written to have. */
		count_kinds(t, k);
		CHECK(k[UNW_CFA_RBP] > 0); /* vla(), with_alloca() */
		CHECK(k[UNW_CFA_PLT] > 0);
		CHECK(k[UNW_CFA_END] > 0); /* _start */
		CHECK_EQ(k[UNW_CFA_UNSUP], 0);
		for (uint32_t i = 0; i < t->nrows; i++)
			if (UNW_RULE_CFA(t->rows[i].rule) == UNW_CFA_RSP &&
			    UNW_RULE_CFA_OFF(t->rows[i].rule) > 5000)
				big = true;
		CHECK(big); /* big_frame() */
		/* The PLT's rows lie in .plt, past PLT0's first 16 bytes. */
		CHECK(plt.found);
		if (plt.found) {
			const struct unw_row *r =
				unwtab_find(t, plt.addr + 16 + 5);

			CHECK(r && UNW_RULE_CFA(r->rule) == UNW_CFA_PLT &&
			      (UNW_RULE_CFA_OFF(r->rule) == 11 ||
			       UNW_RULE_CFA_OFF(r->rule) == 10));
		}
		unwtab_free(t);
	}

	t = against_readelf("libunw.so", in_dir("libunw.so"), ".eh_frame", 1000);
	if (t) {
		count_kinds(t, k);
		CHECK(k[UNW_CFA_PLT] > 0);
		CHECK_EQ(k[UNW_CFA_UNSUP], 0);
		unwtab_free(t);
	}
}

/* IBT's PLT: endbr64 first, so the push ends 4 bytes later (DW_OP_lit9 in
 * binutils 2.40; the test takes the number from readelf); the calls go
 * through .plt.sec. */
static void ibt_plt(void)
{
	struct sect plt = section_of(in_dir("prog-ibt"), ".plt");
	struct sect sec = section_of(in_dir("prog-ibt"), ".plt.sec");
	const struct unw_row *r;
	struct unwtab *t;

	if (!have_ibt) {
		fprintf(stderr, "    no -z ibtplt: skipped\n");
		return;
	}
	t = against_readelf("prog-ibt", in_dir("prog-ibt"), ".eh_frame", 1000);
	if (!t)
		return;
	CHECK(plt.found && sec.found);
	r = plt.found ? unwtab_find(t, plt.addr + 16 + 5) : NULL;
	CHECK(r && UNW_RULE_CFA(r->rule) == UNW_CFA_PLT &&
	      UNW_RULE_CFA_OFF(r->rule) >= 9 && UNW_RULE_CFA_OFF(r->rule) <= 11);
	/* A .plt.sec entry is a jump, with the caller's frame as it was. */
	r = sec.found ? unwtab_find(t, sec.addr + 4) : NULL;
	CHECK(r && UNW_RULE_CFA(r->rule) == UNW_CFA_RSP &&
	      UNW_RULE_CFA_OFF(r->rule) == 8);
	unwtab_free(t);
}

static void frame_pointer_program(void)
{
	struct unwtab *t;
	uint32_t on_rbp = 0;

	t = against_readelf("prog-o0", in_dir("prog-o0"), ".eh_frame", 1000);
	if (!t)
		return;
	/* push rbp; mov rsp, rbp: CFA rbp+16, the caller's rbp at CFA-16. */
	for (uint32_t i = 0; i < t->nrows; i++) {
		uint32_t r = t->rows[i].rule;

		on_rbp += UNW_RULE_CFA(r) == UNW_CFA_RBP &&
			  UNW_RULE_CFA_OFF(r) == 16 &&
			  UNW_RULE_RBP(r) == UNW_RBP_CFA &&
			  UNW_RULE_RBP_OFF(r) == -16;
	}
	CHECK(on_rbp >= 7); /* the six functions and main */
	unwtab_free(t);
}

static void hand_written_rules(void)
{
	/* Byte by byte from `rules` (the lowest FDE, so the table's base):
	 * the rule each `nop` of shapes_src runs under. */
	static const struct {
		uint32_t off;
		enum unw_cfa cfa;
		int32_t cfa_off;
		enum unw_rbp rbp;
		int32_t rbp_off;
	} want[] = {
		{ 0x00, UNW_CFA_RSP, 8, UNW_RBP_SAME, 0 },
		{ 0x01, UNW_CFA_RSP, 16, UNW_RBP_CFA, -16 },
		{ 0x02, UNW_CFA_RSP, 16, UNW_RBP_LOST, 0 },   /* in rbx */
		{ 0x03, UNW_CFA_RSP, 16, UNW_RBP_SAME, 0 },   /* same value */
		{ 0x04, UNW_CFA_RSP, 16, UNW_RBP_LOST, 0 },   /* val_offset */
		{ 0x05, UNW_CFA_RSP, 16, UNW_RBP_CFA, UNW_RBP_OFF_MIN },
		{ 0x06, UNW_CFA_RSP, 16, UNW_RBP_LOST, 0 },   /* -1032 */
		{ 0x07, UNW_CFA_RSP, 16, UNW_RBP_CFA, UNW_RBP_OFF_MAX },
		{ 0x08, UNW_CFA_RSP, 16, UNW_RBP_LOST, 0 },   /* +1024 */
		{ 0x09, UNW_CFA_RSP, 16, UNW_RBP_LOST, 0 },   /* expression */
		{ 0x0a, UNW_CFA_RSP, UNW_CFA_OFF_MAX, UNW_RBP_CFA, -16 },
		{ 0x0b, UNW_CFA_UNSUP, 0, UNW_RBP_SAME, 0 },  /* 262144 */
		{ 0x0c, UNW_CFA_UNSUP, 0, UNW_RBP_SAME, 0 },  /* on rbx */
		{ 0x0d, UNW_CFA_RBP, 16, UNW_RBP_CFA, -16 },
		{ 0x0e, UNW_CFA_RBP, -24, UNW_RBP_CFA, -16 },
		{ 0x0f, UNW_CFA_UNSUP, 0, UNW_RBP_SAME, 0 },  /* ra at CFA-16 */
		{ 0x10, UNW_CFA_UNSUP, 0, UNW_RBP_SAME, 0 },  /* ra in rdx */
		{ 0x11, UNW_CFA_UNSUP, 0, UNW_RBP_SAME, 0 },  /* CFA deref */
		{ 0x12, UNW_CFA_END, 0, UNW_RBP_SAME, 0 },
		{ 0x14, UNW_CFA_NONE, 0, UNW_RBP_SAME, 0 },   /* the gap */
		{ 0x33, UNW_CFA_NONE, 0, UNW_RBP_SAME, 0 },
		{ 0x34, UNW_CFA_PLT, 11, UNW_RBP_SAME, 0 },   /* plt_like */
		{ 0x36, UNW_CFA_NONE, 0, UNW_RBP_SAME, 0 },
		{ 0x3d, UNW_CFA_SIGNAL, 0, UNW_RBP_SAME, 0 }, /* signal_like */
		{ 0x3e, UNW_CFA_SIGNAL, 0, UNW_RBP_SAME, 0 },
		{ 0x3f, UNW_CFA_NONE, 0, UNW_RBP_SAME, 0 },
	};
	struct unwtab *t;

	t = against_readelf("libshapes.so", in_dir("libshapes.so"), ".eh_frame",
			    1000);
	if (!t)
		return;
	CHECK_EQ(t->fdes, 3);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const struct unw_row *r = unwtab_find(t, t->base + want[i].off);
		uint32_t rule = UNW_RULE(want[i].cfa, want[i].cfa_off,
					 want[i].rbp, want[i].rbp_off);

		CHECK(r != NULL);
		if (r && r->rule != rule) {
			CHECK_EQ(r->rule, rule);
			fprintf(stderr, "    libshapes.so: at +%#x: %s %d rbp %s %d,"
				" want %s %d rbp %s %d\n", want[i].off,
				cfa_names[UNW_RULE_CFA(r->rule)],
				UNW_RULE_CFA_OFF(r->rule),
				rbp_names[UNW_RULE_RBP(r->rule)],
				UNW_RULE_RBP_OFF(r->rule),
				cfa_names[want[i].cfa], want[i].cfa_off,
				rbp_names[want[i].rbp], want[i].rbp_off);
		}
	}
	CHECK_EQ(t->signal, 1);
	unwtab_free(t);
}

static void debug_frame_only(void)
{
	const char *path = in_dir("prog-dbg");
	struct unwtab *t;

	CHECK(section_of(path, ".debug_frame").found);
	CHECK(!section_of(path, ".eh_frame").found);
	t = against_readelf("prog-dbg", path, ".debug_frame", 1000);
	unwtab_free(t);
}

/* The vDSO from memory, as the profiler reads it, and a file copy of it
 * held against readelf: the two tables must be the same. */
static void vdso(void)
{
	uintptr_t ehdr = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	unsigned long long start = 0, end = 0;
	char line[512];
	struct unwtab *t, *tf;
	FILE *f;

	if (!ehdr) {
		fprintf(stderr, "    no vDSO: skipped\n");
		return;
	}
	f = fopen("/proc/self/maps", "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[vdso]") &&
		    sscanf(line, "%llx-%llx", &start, &end) == 2)
			break;
	if (f)
		fclose(f);
	CHECK_EQ(start, ehdr);
	CHECK(end > start);
	if (start != ehdr || end <= start)
		return;
	errno = 0;
	t = unwtab_build(-1, (const void *)ehdr, end - start);
	CHECK(t != NULL);
	if (!t) {
		fprintf(stderr, "    vdso: unwtab_build: %s\n", strerror(errno));
		return;
	}
	check_invariants(t);
	CHECK(t->nrows > 0);
	CHECK_STR(t->source, ".eh_frame");

	CHECK(write_bytes(in_dir("vdso.so"), (const void *)ehdr, end - start));
	tf = against_readelf("vdso", in_dir("vdso.so"), ".eh_frame", 1000);
	if (tf) {
		CHECK_EQ(tf->base, t->base);
		CHECK_EQ(tf->nrows, t->nrows);
		CHECK(tf->nrows == t->nrows &&
		      !memcmp(tf->rows, t->rows, unwtab_bytes(t)));
	}
	unwtab_free(tf);
	unwtab_free(t);
}

static void system_objects(void)
{
	static const char *const objs[] = {
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/bin/python3.11",
	};

	for (size_t i = 0; i < ARRAY_SIZE(objs); i++) {
		const char *name = strrchr(objs[i], '/') + 1;
		struct unwtab *t;

		if (access(objs[i], R_OK)) {
			fprintf(stderr, "    %s missing: skipped\n", objs[i]);
			continue;
		}
		t = against_readelf(name, objs[i], ".eh_frame", 999);
		if (!t)
			continue;
		fprintf(stderr, "    %s: %u rows, %u FDEs, %u unsupported,"
			" %u signal, %.1f ms, %zu bytes\n", name, t->nrows,
			t->fdes, t->unsupported, t->signal,
			(double)t->build_ns / 1e6, unwtab_bytes(t));
		unwtab_free(t);
	}
}

/* ---- bad input ---- */

static char building[512];

static void on_alarm(int sig)
{
	static const char msg[] = "unwtab_build took over 30 s on ";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0 ||
	    write(2, building, strlen(building)) < 0 || write(2, "\n", 1) < 0)
		_exit(3);
	_exit(2);
}

/*
 * unwtab_build on a file that is not (or not quite) a good object: NULL
 * with errno set, or a table that keeps the invariants. Returns the errno
 * of a NULL, or 0 for a table.
 */
static int survives(const char *path)
{
	struct unwtab *t;
	int err, fd = open(path, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	if (fd < 0)
		return -1;
	snprintf(building, sizeof(building), "%s", path);
	alarm(30);
	errno = 0;
	t = unwtab_build(fd, NULL, 0);
	err = errno;
	alarm(0);
	close(fd);
	if (!t) {
		CHECK(err != 0);
		return err ? err : -1;
	}
	check_invariants(t);
	unwtab_free(t);
	return 0;
}

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Copies of `file` with its CFI section `sec` overwritten: all of it,
 * all but the first CIE, or a few bytes. */
static void garbage_cfi(const char *file, const char *sec)
{
	struct sect s = section_of(in_dir(file), sec);
	size_t len, tables = 0, nulls = 0;
	char *orig = read_all(in_dir(file), &len);

	CHECK(orig && s.found && s.size > 0x20 && s.off + s.size <= len);
	if (!orig || !s.found || s.size <= 0x20 || s.off + s.size > len) {
		free(orig);
		return;
	}
	for (int mode = 0; mode < 3; mode++) {
		for (uint64_t seed = 1; seed <= (mode == 2 ? 24u : 8u); seed++) {
			char *buf = xmalloc(len), name[128];
			size_t from = mode == 1 ? 0x18 : 0;

			memcpy(buf, orig, len);
			rnd_state = seed * 0x9e3779b97f4a7c15ull + (uint64_t)mode;
			if (mode < 2) {
				for (size_t i = from; i < s.size; i++)
					buf[s.off + i] = (char)rnd();
			} else {
				for (int i = 0; i < 6; i++)
					buf[s.off + rnd() % s.size] = (char)rnd();
			}
			snprintf(name, sizeof(name), "%s-garbage-%d-%" PRIu64,
				 file, mode, seed);
			CHECK(write_bytes(in_dir(name), buf, len));
			free(buf);
			if (survives(in_dir(name)))
				nulls++;
			else
				tables++;
		}
	}
	fprintf(stderr, "    %s with garbage %s: %zu tables, %zu failures\n",
		file, sec, tables, nulls);
	free(orig);
}

static void bad_inputs(void)
{
	struct sect eh = section_of(in_dir("prog-o2"), ".eh_frame");
	size_t len;
	char *img = read_all(in_dir("prog-o2"), &len);

	signal(SIGALRM, on_alarm);
	/* Not ELF at all. */
	CHECK_EQ(survives(in_dir("prog.c")), ENOEXEC);
	CHECK(write_bytes(in_dir("empty"), "", 0));
	CHECK(survives(in_dir("empty")) != 0);

	/* Cut short: 4 KiB, half, in the middle of .eh_frame. */
	CHECK(img != NULL && len > 8192 && eh.found);
	if (img && len > 8192 && eh.found) {
		size_t cuts[] = { 4096, len / 2, eh.off + eh.size / 2,
				  eh.off + eh.size - 1, len - 1 };

		for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
			char name[64];

			snprintf(name, sizeof(name), "prog-cut-%zu", cuts[i]);
			CHECK(write_bytes(in_dir(name), img, cuts[i]));
			CHECK(survives(in_dir(name)) >= 0);
		}
	}
	free(img);

	garbage_cfi("prog-o2", ".eh_frame");
	garbage_cfi("prog-o2", ".eh_frame_hdr");
	garbage_cfi("libunw.so", ".eh_frame");
	garbage_cfi("prog-dbg", ".debug_frame");

	/* No CFI left at all. */
	CHECK(!section_of(in_dir("prog-nocfi"), ".eh_frame").found);
	CHECK(!section_of(in_dir("prog-nocfi"), ".debug_frame").found);
	CHECK_EQ(survives(in_dir("prog-nocfi")), ENOENT);

	/* An image in memory that is not ELF. */
	errno = 0;
	CHECK(unwtab_build(-1, prog_src, sizeof(prog_src)) == NULL);
	CHECK_EQ(errno, ENOEXEC);
	signal(SIGALRM, SIG_DFL);
}

int main(void)
{
	if (build_fixtures()) {
		fprintf(stderr, "cannot build the fixtures in %s\n", dir);
		sh("rm -rf %s", dir);
		return 1;
	}
	RUN(optimized_program_and_library);
	RUN(ibt_plt);
	RUN(frame_pointer_program);
	RUN(hand_written_rules);
	RUN(debug_frame_only);
	RUN(vdso);
	RUN(system_objects);
	RUN(bad_inputs);
	sh("rm -rf %s", dir);
	HARNESS_END();
}
