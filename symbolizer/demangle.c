/* SPDX-License-Identifier: MIT */
/*
 * C++ (Itanium ABI) and Rust (legacy and v0) demangling with libiberty,
 * the demangler binutils and perf use, so names read as addr2line -C
 * prints them. In a file of its own: libiberty's headers define macros
 * (ARRAY_SIZE) that clash with ours.
 */
#include <libiberty/demangle.h>
#include <stdlib.h>

#include "symbolizer_internal.h"

char *sym_demangle(const char *raw)
{
	/* What cplus_demangle(DMGL_AUTO) does, without the parts of
	 * libiberty that bring its own xmalloc: Rust first (a legacy Rust
	 * name is also a valid C++ name, which would keep its hash), then
	 * C++. */
	char *d = rust_demangle(raw, DMGL_PARAMS | DMGL_ANSI);

	return d ? d : cplus_demangle_v3(raw, DMGL_PARAMS | DMGL_ANSI);
}
