/* SPDX-License-Identifier: MIT */
/*
 * Unwind tables from CFI. libdw parses the sections and runs each FDE's
 * CFA program (dwarf_cfi_addrframe gives the rule at a pc and the pc range
 * it holds for); what is ours is the walk over every FDE, which libdw has
 * no call for, and the classification of each rule into what the BPF
 * walker can follow.
 */
#include "unwtab.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/xalloc.h"

/* DWARF register numbers on x86-64. */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

struct fde_range {
	uint64_t start, end;
};

struct cie_enc {
	uint64_t offset; /* the CIE's offset in the section */
	uint8_t enc;     /* its FDEs' pointer encoding (DW_EH_PE_*) */
	bool ok;         /* the augmentation was understood */
};

struct builder {
	Elf *elf;
	Dwarf *dwarf;          /* only for .debug_frame */
	Dwarf_CFI *cfi;
	bool cfi_is_elf;       /* from dwarf_getcfi_elf: ours to end */
	bool eh_frame;
	Elf_Data *data;        /* the CFI section's contents */
	uint64_t sec_addr;     /* its address, for pc-relative pointers */
	struct fde_range *fdes;
	size_t nfdes, fdes_alloc;
	struct cie_enc *cies;
	size_t ncies, cies_alloc;
	struct unwtab *t;
	size_t rows_alloc;
};

/* An unsigned or signed LEB128 number. */
static bool read_leb(const uint8_t **p, const uint8_t *end, bool is_signed,
		     uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (*p < end) {
		uint8_t b = *(*p)++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (is_signed && shift < 64 && (b & 0x40))
				v |= ~0ull << shift;
			*out = v;
			return true;
		}
	}
	return false;
}

/* A little-endian (x86-64 only) number of n bytes. */
static bool read_fixed(const uint8_t **p, const uint8_t *end, unsigned n,
		       bool is_signed, uint64_t *out)
{
	uint64_t v = 0;

	if ((size_t)(end - *p) < n)
		return false;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)(*p)[i] << (8 * i);
	if (is_signed && n < 8 && (v >> (8 * n - 1)) & 1)
		v |= ~0ull << (8 * n);
	*p += n;
	*out = v;
	return true;
}

/*
 * Decode one pointer in DW_EH_PE encoding `enc` at *p; `apply` adds the
 * pc-relative base (b may be NULL without it: the ranges of FDEs are
 * plain lengths, a personality pointer is only skipped).
 */
static bool read_encoded(struct builder *b, const uint8_t **p,
			 const uint8_t *end, uint8_t enc, bool apply,
			 uint64_t *out)
{
	/* Bytes of each fixed-size format (low three bits; bit 3: signed). */
	static const uint8_t size[8] = {
		[DW_EH_PE_absptr] = 8, [DW_EH_PE_udata2] = 2,
		[DW_EH_PE_udata4] = 4, [DW_EH_PE_udata8] = 8,
	};
	const uint8_t *at = *p;
	unsigned fmt = enc & 0x07;
	bool is_signed = enc & 0x08;
	uint64_t v;

	if (enc == DW_EH_PE_omit)
		return false;
	if (fmt == DW_EH_PE_uleb128) {
		if (!read_leb(p, end, is_signed, &v))
			return false;
	} else if (!size[fmt] || (is_signed && fmt == DW_EH_PE_absptr) ||
		   !read_fixed(p, end, size[fmt], is_signed, &v)) {
		return false;
	}
	if (apply) {
		switch (enc & 0x70) {
		case DW_EH_PE_absptr:
			break;
		case DW_EH_PE_pcrel:
			v += b->sec_addr +
			     (uint64_t)(at - (const uint8_t *)b->data->d_buf);
			break;
		default:
			return false; /* not used for FDE addresses */
		}
		if (enc & DW_EH_PE_indirect)
			return false;
	}
	*out = v;
	return true;
}

/* The FDE pointer encoding a CIE's augmentation announces ("zR..."). */
static struct cie_enc cie_encoding(const Dwarf_CIE *cie, uint64_t offset,
				   bool eh_frame)
{
	struct cie_enc ce = { .offset = offset, .enc = DW_EH_PE_absptr,
			      .ok = true };
	const uint8_t *p = cie->augmentation_data;
	const uint8_t *end = p ? p + cie->augmentation_data_size : NULL;
	const char *a = cie->augmentation;

	if (!eh_frame || !a || a[0] != 'z')
		return ce; /* .debug_frame: absolute addresses */
	for (a++; *a; a++) {
		switch (*a) {
		case 'R':
			if (!p || p >= end)
				goto bad;
			ce.enc = *p++;
			break;
		case 'L':
			if (!p || p >= end)
				goto bad;
			p++;
			break;
		case 'P': { /* the personality routine: skipped */
			uint64_t skip;
			uint8_t penc;

			if (!p || p >= end)
				goto bad;
			penc = *p++;
			if (!read_encoded(NULL, &p, end, penc, false, &skip))
				goto bad;
			break;
		}
		case 'S':
		case 'B':
			break;
		default:
			goto bad;
		}
	}
	return ce;
bad:
	ce.ok = false;
	return ce;
}

static const struct cie_enc *find_cie(const struct builder *b, uint64_t off)
{
	for (size_t i = b->ncies; i-- > 0;) /* FDEs follow their CIE */
		if (b->cies[i].offset == off)
			return &b->cies[i];
	return NULL;
}

/* Every FDE's [start, end), from the section itself. */
static int list_fdes(struct builder *b)
{
	GElf_Ehdr eh;
	Dwarf_Off off = 0, next = 0; /* not set when the first entry is bad */

	if (!gelf_getehdr(b->elf, &eh))
		return -ENOEXEC;
	for (;;) {
		Dwarf_CFI_Entry e;
		int r = dwarf_next_cfi(eh.e_ident, b->data, b->eh_frame, off,
				       &next, &e);

		if (r > 0)
			break;
		if (r < 0) {
			if (next == (Dwarf_Off)-1 || next <= off)
				break; /* cannot go on past a broken entry */
			off = next;
			continue;
		}
		if (dwarf_cfi_cie_p(&e)) {
			ALLOC_GROW(b->cies, b->ncies + 1, b->cies_alloc);
			b->cies[b->ncies++] = cie_encoding(&e.cie, off, b->eh_frame);
		} else {
			const struct cie_enc *ce = find_cie(b, e.fde.CIE_pointer);
			const uint8_t *p = e.fde.start;
			uint64_t start, len;

			if (ce && ce->ok &&
			    read_encoded(b, &p, e.fde.end, ce->enc, true, &start) &&
			    read_encoded(b, &p, e.fde.end, ce->enc & 0x0f, false,
					 &len) &&
			    len && start + len > start) {
				ALLOC_GROW(b->fdes, b->nfdes + 1, b->fdes_alloc);
				b->fdes[b->nfdes++] = (struct fde_range){
					start, start + len };
			}
		}
		off = next;
	}
	return 0;
}

static int cmp_fde(const void *a, const void *b)
{
	const struct fde_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

static bool is_lit(const Dwarf_Op *op, unsigned *v)
{
	if (op->atom < DW_OP_lit0 || op->atom > DW_OP_lit31)
		return false;
	*v = op->atom - DW_OP_lit0;
	return true;
}

/*
 * The PLT's CFA expression, as binutils' linker writes it for .plt:
 * rsp + 8 + (((rip & 15) >= N) << 3). Returns N, or 0 if it is not that.
 */
static unsigned plt_threshold(const Dwarf_Op *ops, size_t n)
{
	unsigned v;

	if (n != 9 || ops[0].atom != DW_OP_breg7 || ops[0].number != 8 ||
	    ops[1].atom != DW_OP_breg16 || ops[1].number != 0 ||
	    !is_lit(&ops[2], &v) || v != 15 || ops[3].atom != DW_OP_and ||
	    !is_lit(&ops[4], &v) || ops[5].atom != DW_OP_ge ||
	    ops[6].atom != DW_OP_lit3 || ops[7].atom != DW_OP_shl ||
	    ops[8].atom != DW_OP_plus)
		return 0;
	is_lit(&ops[4], &v);
	return v;
}

/*
 * Where a register was saved, when the rule is "at CFA + off" (libdw spells
 * it DW_OP_call_frame_cfa, then DW_OP_plus_uconst off unless off is 0).
 */
static bool at_cfa_offset(const Dwarf_Op *ops, size_t n, int64_t *off)
{
	if (n == 1 && ops[0].atom == DW_OP_call_frame_cfa) {
		*off = 0;
		return true;
	}
	if (n == 2 && ops[0].atom == DW_OP_call_frame_cfa &&
	    (ops[1].atom == DW_OP_plus_uconst || ops[1].atom == DW_OP_consts)) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	return false;
}

/* The rule a frame state comes down to. */
static uint32_t classify(Dwarf_Frame *fr, bool signal)
{
	Dwarf_Op mem[3], *ops;
	size_t n;
	int64_t cfa_off, rbp_off = 0, ra_off;
	enum unw_cfa cfa;
	enum unw_rbp rbp;
	unsigned plt;

	if (signal)
		return UNW_RULE(UNW_CFA_SIGNAL, 0, UNW_RBP_SAME, 0);

	/* The return address: at CFA - 8, or undefined in the outermost
	 * frame. Anything else the walker does not follow. */
	if (dwarf_frame_register(fr, REG_RA, mem, &ops, &n))
		return UNW_RULE(UNW_CFA_UNSUP, 0, UNW_RBP_SAME, 0);
	if (n == 0 && ops == mem)
		return UNW_RULE(UNW_CFA_END, 0, UNW_RBP_SAME, 0);
	if (!at_cfa_offset(ops, n, &ra_off) || ra_off != -8)
		return UNW_RULE(UNW_CFA_UNSUP, 0, UNW_RBP_SAME, 0);

	if (dwarf_frame_cfa(fr, &ops, &n) || n == 0)
		return UNW_RULE(UNW_CFA_UNSUP, 0, UNW_RBP_SAME, 0);
	if (n == 1 && ops[0].atom == DW_OP_bregx &&
	    (ops[0].number == REG_RSP || ops[0].number == REG_RBP)) {
		cfa = ops[0].number == REG_RSP ? UNW_CFA_RSP : UNW_CFA_RBP;
		cfa_off = (int64_t)ops[0].number2;
		if (cfa_off < UNW_CFA_OFF_MIN || cfa_off > UNW_CFA_OFF_MAX)
			return UNW_RULE(UNW_CFA_UNSUP, 0, UNW_RBP_SAME, 0);
	} else if ((plt = plt_threshold(ops, n))) {
		cfa = UNW_CFA_PLT;
		cfa_off = plt;
	} else {
		return UNW_RULE(UNW_CFA_UNSUP, 0, UNW_RBP_SAME, 0);
	}

	if (dwarf_frame_register(fr, REG_RBP, mem, &ops, &n)) {
		rbp = UNW_RBP_LOST;
	} else if (n == 0) {
		/* NULL: same value; our array: undefined. */
		rbp = ops ? UNW_RBP_LOST : UNW_RBP_SAME;
	} else if (at_cfa_offset(ops, n, &rbp_off) && rbp_off % 8 == 0 &&
		   rbp_off >= UNW_RBP_OFF_MIN && rbp_off <= UNW_RBP_OFF_MAX) {
		rbp = UNW_RBP_CFA;
	} else {
		rbp = UNW_RBP_LOST;
		rbp_off = 0;
	}
	return UNW_RULE(cfa, cfa_off, rbp, rbp_off);
}

static int push_row(struct builder *b, uint64_t pc, uint32_t rule)
{
	struct unwtab *t = b->t;
	uint64_t rel = pc - t->base;

	if (pc < t->base || rel > UINT32_MAX)
		return -E2BIG;
	if (t->nrows) {
		struct unw_row *last = &t->rows[t->nrows - 1];

		if (last->rule == rule)
			return 0; /* the same rule goes on */
		if (last->pc >= rel) {
			/* FDEs that overlap: libdw answers with the FDE it
			 * finds first, whose rows are already in; rows that
			 * would go back are dropped. */
			if (last->pc == rel)
				last->rule = rule;
			return 0;
		}
	}
	ALLOC_GROW(t->rows, t->nrows + 1, b->rows_alloc);
	t->rows[t->nrows++] = (struct unw_row){ (uint32_t)rel, rule };
	if (UNW_RULE_CFA(rule) == UNW_CFA_UNSUP)
		t->unsupported++;
	if (UNW_RULE_CFA(rule) == UNW_CFA_SIGNAL)
		t->signal++;
	return 0;
}

/* The rows of one FDE, then a NONE row at `none_at` unless it is 0: where
 * the FDEs so far end, when a gap follows. */
static int walk_fde(struct builder *b, const struct fde_range *f,
		    uint64_t none_at)
{
	uint64_t pc = f->start;
	int err;

	while (pc < f->end) {
		Dwarf_Frame *fr = NULL;
		Dwarf_Addr s, e;
		bool signal = false;
		uint32_t rule;

		if (dwarf_cfi_addrframe(b->cfi, pc, &fr) ||
		    dwarf_frame_info(fr, &s, &e, &signal) < 0) {
			free(fr);
			err = push_row(b, pc, UNW_RULE(UNW_CFA_UNSUP, 0,
						       UNW_RBP_SAME, 0));
			if (err)
				return err;
			break;
		}
		rule = classify(fr, signal);
		free(fr);
		if ((err = push_row(b, pc, rule)))
			return err;
		pc = e > pc ? e : pc + 1;
	}
	if (none_at)
		return push_row(b, none_at, UNW_RULE(UNW_CFA_NONE, 0,
						     UNW_RBP_SAME, 0));
	return 0;
}

static Elf_Scn *find_section(Elf *elf, const char *want, GElf_Shdr *out)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, out) || out->sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, out->sh_name);
		if (name && !strcmp(name, want))
			return scn;
	}
	return NULL;
}

/* Pick the CFI: .eh_frame (what unwinders use at run time), else
 * .debug_frame. 0, or -ENOENT when there is neither. */
static int open_cfi(struct builder *b)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(b->elf, ".eh_frame", &sh);

	if (scn && sh.sh_size && (b->data = elf_getdata(scn, NULL)) &&
	    b->data->d_size) {
		b->cfi = dwarf_getcfi_elf(b->elf);
		if (b->cfi) {
			b->cfi_is_elf = true;
			b->eh_frame = true;
			b->sec_addr = sh.sh_addr;
			b->t->source = ".eh_frame";
			return 0;
		}
	}
	scn = find_section(b->elf, ".debug_frame", &sh);
	if (scn && sh.sh_size && (b->data = elf_getdata(scn, NULL)) &&
	    b->data->d_size) {
		b->dwarf = dwarf_begin_elf(b->elf, DWARF_C_READ, NULL);
		b->cfi = b->dwarf ? dwarf_getcfi(b->dwarf) : NULL;
		if (b->cfi) {
			b->sec_addr = sh.sh_addr;
			b->t->source = ".debug_frame";
			return 0;
		}
	}
	return -ENOENT;
}

struct unwtab *unwtab_build(int fd, const void *image, size_t size)
{
	struct builder b = { 0 };
	/* reach: the furthest FDE end so far */
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), reach = 0;
	int err = -ENOEXEC;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOSYS;
		return NULL;
	}
	b.t = xcalloc(1, sizeof(*b.t));
	b.elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL)
			: elf_memory((char *)image, size);
	if (!b.elf || elf_kind(b.elf) != ELF_K_ELF)
		goto out;
	if ((err = open_cfi(&b)) || (err = list_fdes(&b)))
		goto out;
	if (!b.nfdes) {
		err = -ENOENT;
		goto out;
	}
	qsort(b.fdes, b.nfdes, sizeof(*b.fdes), cmp_fde);
	b.t->base = b.fdes[0].start;
	b.t->fdes = (uint32_t)b.nfdes;
	for (size_t i = 0; i < b.nfdes; i++) {
		uint64_t next = i + 1 < b.nfdes ? b.fdes[i + 1].start : UINT64_MAX;

		/* An FDE may end inside an earlier one: the gap starts where
		 * the furthest-reaching FDE so far ends. */
		if (b.fdes[i].end > reach)
			reach = b.fdes[i].end;
		if ((err = walk_fde(&b, &b.fdes[i], next > reach ? reach : 0)))
			goto out;
	}
	b.t->build_ns = clock_ns(CLOCK_MONOTONIC) - t0;
	err = 0;
out:
	if (b.cfi && b.cfi_is_elf)
		dwarf_cfi_end(b.cfi);
	if (b.dwarf)
		dwarf_end(b.dwarf);
	if (b.elf)
		elf_end(b.elf);
	free(b.fdes);
	free(b.cies);
	if (err) {
		unwtab_free(b.t);
		errno = -err;
		return NULL;
	}
	return b.t;
}

void unwtab_free(struct unwtab *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t);
}

const struct unw_row *unwtab_find(const struct unwtab *t, uint64_t vaddr)
{
	uint64_t rel;
	size_t lo = 0, hi = t->nrows;

	if (vaddr < t->base || vaddr - t->base > UINT32_MAX)
		return NULL;
	rel = vaddr - t->base;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &t->rows[lo - 1] : NULL;
}
