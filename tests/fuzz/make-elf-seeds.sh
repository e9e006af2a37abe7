#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Regenerate the seed objects of the `elf` fuzz target in corpus/elf/: small
# real ELF files, one per shape the symbolizer reads differently. They are
# built from one tiny program with an inlined function, so that the DWARF
# has units, line rows, functions and inlined instances to index.
#
#   tests/fuzz/make-elf-seeds.sh      (needs gcc, g++, clang, binutils, xz)
#
# The files depend on the compilers' versions; any version will do, the
# point is only to give the fuzzer real structure to start from. Keep them
# small (noseparate-code and norelro drop the page padding between
# segments), since they are committed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus/elf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

cat >t.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>

static inline __attribute__((always_inline)) int sq(int x)
{
	return x * x;
}

static __attribute__((noinline)) int sum(int n)
{
	int s = 0;

	for (int i = 0; i < n; i++)
		s += sq(i) ^ (s >> 3);
	return s;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;

	printf("%d\n", sum(n));
	return 0;
}
EOF

cat >t.cc <<'EOF'
namespace ns {
template <typename T> struct acc {
	T v;
	inline void add(T x) { v += x * x; }
};
} // namespace

int run(int n)
{
	ns::acc<long> a = { 0 };

	for (int i = 0; i < n; i++)
		a.add(i);
	return (int)a.v;
}

int main(int argc, char **)
{
	return run(argc * 1000);
}
EOF

# The build directory must not leak into the seeds.
map="-fdebug-prefix-map=$tmp=/src"
ld="-Wl,--build-id -Wl,-z,noseparate-code -Wl,-z,norelro"

rm -f "$out"/*.elf "$out"/*.o "$out"/*.so "$out"/*.debug
mkdir -p "$out"

# DWARF 5 (gcc 12's default), PIE: addresses from 0.
gcc -Os -g $map $ld -o "$out/gcc-dwarf5-pie.elf" t.c
# DWARF 4, not PIE: addresses from 0x400000.
gcc -O2 -g -gdwarf-4 -no-pie $map $ld -o "$out/gcc-dwarf4-nopie.elf" t.c
# clang's DWARF 5: .debug_addr, .debug_rnglists, .debug_str_offsets.
clang -O2 -g $map $ld -o "$out/clang-dwarf5.elf" t.c
# Compressed debug sections (SHF_COMPRESSED, zlib).
gcc -O1 -g -gz=zlib $map $ld -o "$out/gcc-gz.elf" t.c
# A shared library whose PLT stubs are in .plt.sec (IBT).
gcc -O2 -g -fPIC -shared -fcf-protection=full -Wl,-z,ibtplt $map $ld \
	-o "$out/ibt-plt.so" t.c
# A relocatable object: DWARF with relocations not yet applied.
gcc -O2 -g -c $map -o "$out/reloc.o" t.c
# C++: mangled linkage names, a template and a namespace.
g++ -O2 -g $map $ld -o "$out/cxx.elf" t.cc

# A stripped object naming its debug file in .gnu_debuglink, and that
# debug file (section headers kept, contents NOBITS).
gcc -O2 -g $map $ld -o full t.c
objcopy --only-keep-debug full "$out/only-keep.debug"
objcopy --strip-all --add-gnu-debuglink="$out/only-keep.debug" full \
	"$out/stripped-debuglink.elf"

# MiniDebugInfo: a stripped object with an xz-compressed symbol table of
# its local functions in .gnu_debugdata, as Fedora ships them.
nm --format=posix --defined-only full | awk '$2 ~ /^[tT]$/ { print $1 }' \
	| sort >funcs
objcopy --only-keep-debug full dbg
objcopy --strip-debug --remove-section=.comment --keep-symbols=funcs dbg mini
xz -9 mini
objcopy --strip-all full stripped
objcopy --add-section .gnu_debugdata=mini.xz stripped \
	"$out/minidebuginfo.elf"

ls -l "$out"
