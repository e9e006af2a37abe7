/* SPDX-License-Identifier: MIT */
/*
 * unwtab: an object's call frame information (.eh_frame, else .debug_frame)
 * as the compact rows the BPF walker follows (struct unw_row in
 * bpf/profile.h): sorted by pc, each saying how to find the caller's CFA,
 * rbp and return address from the pc up to the next row.
 *
 * The CFI is read and its programs run by libdw (dwarf_cfi_addrframe), so
 * every rule is what libdw's own unwinder would use; this module only
 * walks each FDE's rows and classifies them. Rules the walker cannot
 * follow become UNW_CFA_UNSUP rows (counted), and pc ranges no FDE covers
 * become UNW_CFA_NONE rows, so a look-up never lands in the wrong FDE.
 */
#ifndef SMOLDER_UNWTAB_H
#define SMOLDER_UNWTAB_H

#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "../bpf/profile.h"

struct unwtab {
	uint64_t base;        /* the ELF virtual address row pc 0 stands for */
	struct unw_row *rows; /* sorted by pc, strictly increasing */
	uint32_t nrows;
	uint32_t fdes;        /* FDEs read */
	uint32_t unsupported; /* rows with a rule the walker cannot follow */
	uint32_t signal;      /* signal trampoline rows */
	const char *source;   /* ".eh_frame" or ".debug_frame" */
	uint64_t build_ns;    /* time taken to build it */
};

/*
 * Build the table of the ELF file open at `fd` (borrowed), or of the image
 * in memory at [image, image + size) when fd is -1 (the vDSO). Caller owns
 * the result; free with unwtab_free(). NULL and errno on failure: ENOENT
 * when the object has no CFI, ENOEXEC when it is not a readable ELF file,
 * E2BIG when its code spans more than 4 GiB.
 */
struct unwtab *unwtab_build(int fd, const void *image, size_t size);
void unwtab_free(struct unwtab *t);

/* The row covering ELF virtual address `vaddr`, or NULL before the first. */
const struct unw_row *unwtab_find(const struct unwtab *t, uint64_t vaddr);

/* Bytes the table's rows take. */
static inline size_t unwtab_bytes(const struct unwtab *t)
{
	return (size_t)t->nrows * sizeof(struct unw_row);
}

#endif
