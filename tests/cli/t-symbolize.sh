#!/bin/sh
# smolder symbolize and the symbolizer behind record: functions, source
# lines and inlined frames against llvm-symbolizer-14 and addr2line on
# fixtures built here; separate debug files (build-id, .gnu_debuglink,
# MiniDebugInfo, debuginfod); PLT stubs; symbol tables of Debian's libc and
# libLLVM against eu-addr2line; JIT perf maps; corrupt and vanishing files.
. "$(dirname "$0")/lib.sh"

S="$ROOT/tests/symbolize"
CMP="python3 $S/compare.py --smolder $SMOLDER"

for tool in llvm-symbolizer-14 addr2line eu-addr2line objcopy c++filt \
	python3 gcc g++ clang clang++ xz; do
	command -v "$tool" >/dev/null ||
		{ bad "$tool is missing (make deps installs it)"; finish; }
done

# ---- fixtures: C and C++, gcc and clang, DWARF 4 and 5, compressed ----
build() { # OUT COMPILER FLAGS... SOURCE
	out=$1; shift
	"$@" -o "$T/$out" 2>"$T/$out.cc.log" ||
		{ cat "$T/$out.cc.log"; return 1; }
}
build c-gcc gcc -O2 -g "$S/fixture_c.c"
build cpp-gcc g++ -O2 -g "$S/fixture_cpp.cpp"
build c-clang clang -O2 -g "$S/fixture_c.c"
build cpp-clang clang++ -O2 -g "$S/fixture_cpp.cpp"
build cpp-gcc-dwarf4 g++ -O2 -gdwarf-4 "$S/fixture_cpp.cpp"
build cpp-clang-dwarf4 clang++ -O2 -gdwarf-4 "$S/fixture_cpp.cpp"
build cpp-gcc-gz g++ -O2 -g -gz=zlib "$S/fixture_cpp.cpp"
for f in c-gcc cpp-gcc c-clang cpp-clang cpp-gcc-dwarf4 cpp-clang-dwarf4 \
	cpp-gcc-gz; do
	if [ ! -x "$T/$f" ]; then
		bad "$f: fixture not built"
		continue
	fi
	$CMP --obj "$T/$f" >"$T/$f.cmp" 2>&1; rc=$?
	sed 's/^/      /' "$T/$f.cmp" | cut -c1-200 | head -20
	check "$f: every instruction: >= 99.9% agree with llvm-symbolizer, and with addr2line where the two agree" \
		[ "$rc" -eq 0 ]
done
check "the -gz fixture really has compressed debug sections" \
	sh -c 'readelf -SW "$1" | grep -A1 "\.debug_info" | grep -q " C "' _ \
	"$T/cpp-gcc-gz"

# ---- separate debug files ----
F="$T/cpp-gcc"
BID=$(readelf -n "$F" | awk '/Build ID/ { print $3 }')
mkdir -p "$T/link" "$T/dbg/.build-id/$(echo "$BID" | cut -c1-2)"
objcopy --only-keep-debug "$F" "$T/link/prog.debug"
strip --strip-all -o "$T/link/prog" "$F"
objcopy --add-gnu-debuglink="$T/link/prog.debug" "$T/link/prog"
check "the stripped copy has no symbols or DWARF" \
	sh -c '! readelf -SW "$1" | grep -Eq "\.symtab|\.debug_info"' _ "$T/link/prog"
$CMP --obj "$T/link/prog" --peer-obj "$F" --no-addr2line >"$T/link.cmp" 2>&1
check ".gnu_debuglink: the stripped copy resolves as the original" [ $? -eq 0 ]
cp "$T/link/prog.debug" "$T/link/prog.debug.good"
printf 'x' >>"$T/link/prog.debug"
MAIN=$(nm "$F" | awk '$3 == "main" { print $1 }')
"$SMOLDER" symbolize -e "$T/link/prog" "0x$MAIN" >"$T/badcrc.out" 2>&1
check ".gnu_debuglink: a debug file whose CRC differs is not used" \
	grep -qx '??' "$T/badcrc.out"

strip --strip-all -o "$T/bare" "$F"
cp "$T/link/prog.debug.good" \
	"$T/dbg/.build-id/$(echo "$BID" | cut -c1-2)/$(echo "$BID" | cut -c3-).debug"
$CMP --obj "$T/bare" --peer-obj "$F" --debug-dir "$T/dbg" --no-addr2line \
	>"$T/bid.cmp" 2>&1
check "build-id: the debug file under --debug-dir/.build-id is found" [ $? -eq 0 ]
"$SMOLDER" symbolize -e "$T/bare" "0x$MAIN" >"$T/nodbg.out" 2>&1
check "... and without it the stripped copy knows nothing" \
	grep -qx '??' "$T/nodbg.out"

# MiniDebugInfo (what Fedora ships): the symbol table of local functions,
# xz-compressed in .gnu_debugdata of a stripped binary.
C="$T/c-gcc"
nm -D --format=posix --defined-only "$C" | awk '{ print $1 }' | sort >"$T/dynsyms"
nm --format=posix --defined-only "$C" |
	awk '$2 == "T" || $2 == "t" { print $1 }' | sort >"$T/funcsyms"
comm -13 "$T/dynsyms" "$T/funcsyms" >"$T/keep"
objcopy --only-keep-debug "$C" "$T/mini.full"
objcopy -S --remove-section .gdb_index --remove-section .comment \
	--keep-symbols="$T/keep" "$T/mini.full" "$T/mini"
xz -f "$T/mini"
strip --strip-all -R .comment -o "$T/c-mini" "$C"
objcopy --add-section .gnu_debugdata="$T/mini.xz" "$T/c-mini"
nm "$C" | awk '$2 == "t" || $2 == "T" { print "0x" $1, $3 }' |
	grep -v '\.' >"$T/mini.want"
cut -d' ' -f1 "$T/mini.want" |
	"$SMOLDER" symbolize --no-inlines -e "$T/c-mini" |
	awk 'NR % 3 == 1' >"$T/mini.got"
check ".gnu_debugdata: every function of the stripped binary is named" \
	sh -c '[ "$(cut -d" " -f2 "$1")" = "$(cat "$2")" ]' _ "$T/mini.want" "$T/mini.got"

# ---- debuginfod: a real server on loopback serving the -g build ----
if command -v debuginfod >/dev/null; then
	mkdir -p "$T/srv"
	cp "$F" "$T/srv/prog"
	PORT=$((20000 + $$ % 20000))
	bg debuginfod -F "$T/srv" -p "$PORT" -d "$T/srv.sqlite" -L \
		>"$T/debuginfod.log" 2>&1
	ready=no
	for i in $(seq 1 80); do
		if DEBUGINFOD_URLS="http://127.0.0.1:$PORT" \
			DEBUGINFOD_CACHE_PATH="$T/probe.$i" \
			debuginfod-find debuginfo "$BID" >/dev/null 2>&1; then
			ready=yes
			break
		fi
		sleep 0.25
	done
	check "debuginfod serves the build (test setup)" [ "$ready" = yes ]
	DEBUGINFOD_URLS="http://127.0.0.1:$PORT" DEBUGINFOD_CACHE_PATH="$T/cache" \
		"$SMOLDER" symbolize -e "$T/bare" "0x$MAIN" >"$T/dif.out" 2>&1
	check "debuginfod: the stripped binary's debug info is fetched" \
		grep -q 'fixture_cpp.cpp:[1-9]' "$T/dif.out"
	check "... and cached" sh -c 'find "$1" -name debuginfo | grep -q .' _ \
		"$T/cache"
	kill "$BG" 2>/dev/null
else
	bad "debuginfod is missing (make deps installs it)"
fi

# ---- PLT stubs, named as objdump names them ----
objdump -d "$C" | sed -n 's/^\([0-9a-f]*\) <\(.*@plt\)>:$/0x\1 \2/p' >"$T/plt.want"
cut -d' ' -f1 "$T/plt.want" | "$SMOLDER" symbolize -e "$C" |
	awk 'NR % 3 == 1' >"$T/plt.got"
check "PLT stubs are named func@plt ($(wc -l <"$T/plt.want") of them)" \
	sh -c '[ -s "$1" ] && [ "$(cut -d" " -f2 "$1")" = "$(cat "$2")" ]' _ \
	"$T/plt.want" "$T/plt.got"

# ---- symbol tables of Debian's libraries vs eu-addr2line ----
LIBDIR=/usr/lib/x86_64-linux-gnu
check "libc: the symbol of 1000 addresses agrees with eu-addr2line" \
	python3 "$S/symcheck.py" --smolder "$SMOLDER" --obj "$LIBDIR/libc.so.6" \
	--sample 1000
LLVM=$(ls "$LIBDIR"/libLLVM-14.so.1 2>/dev/null)
if [ -n "$LLVM" ]; then
	check "libLLVM: the symbol of 300 addresses agrees with eu-addr2line" \
		python3 "$S/symcheck.py" --smolder "$SMOLDER" --obj "$LLVM" \
		--sample 300
else
	bad "libLLVM-14.so.1 is missing (llvm-14 installs it)"
fi

# ---- the command ----
printf '0x%s\n\n%s\nnot-an-address\n0x%s\n' "$MAIN" "$MAIN" "$MAIN" |
	"$SMOLDER" symbolize --no-inlines -e "$F" >"$T/stdin.out" 2>"$T/stdin.err"
rc=$?
check "stdin: answers in order, blank lines skipped, a bad line answered" \
	sh -c '[ "$(grep -c "^main$" "$1")" -eq 3 ] && [ "$(grep -c "^??$" "$1")" -eq 1 ]' \
	_ "$T/stdin.out"
check "... the bad line is named, and the status says so" \
	sh -c '[ "$2" -eq 1 ] && grep -q "line 4: .not-an-address. is not a hexadecimal address" "$1"' \
	_ "$T/stdin.err" "$rc"
"$SMOLDER" symbolize --json -e "$F" "0x$MAIN" >"$T/json.out"
check "--json: one valid object per address" \
	python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).read()); assert o["Symbol"][-1]["FunctionName"]=="main"' \
	"$T/json.out"
# Repeated addresses are answered from the answers kept: the same text.
readelf -SW "$F" | awk '$2 == ".text" { print $4, $6 }' | python3 -c '
import sys
a, n = (int(x, 16) for x in sys.stdin.read().split())
for x in range(a, a + n, max(1, n // 1000)): print(hex(x))
print("0x1")' >"$T/list"
for fmt in -a --json; do
	"$SMOLDER" symbolize $fmt -e "$F" <"$T/list" >"$T/once" 2>&1
	cat "$T/list" "$T/list" | "$SMOLDER" symbolize $fmt -e "$F" >"$T/twice" 2>&1
	check "a list asked twice is answered twice the same ($fmt, $(wc -l <"$T/list") addresses)" \
		sh -c '[ "$(wc -l <"$1")" -gt 1000 ] && cat "$1" "$1" | cmp -s - "$2"' _ "$T/once" "$T/twice"
done
if [ -w /dev/full ]; then
	"$SMOLDER" symbolize -e "$F" <"$T/list" >/dev/full 2>"$T/full.err"
	rc=$?
	check "a full output device is an error (exit $rc), named" \
		sh -c '[ "$1" -ne 0 ] && grep -q "cannot write standard output: No space left on device" "$2"' \
		_ "$rc" "$T/full.err"
fi
"$SMOLDER" symbolize --no-demangle -e "$F" \
	"0x$(nm "$F" | awk '/_Function_baseD2Ev$/ { print $1 }')" >"$T/raw.out"
check "--no-demangle keeps linkage names" grep -q '^_ZNSt14_Function_baseD' "$T/raw.out"
"$SMOLDER" symbolize -e "$T/nonexistent" 0x10 >/dev/null 2>"$T/e1"
check "a missing file is a clear error" grep -q "cannot read '.*nonexistent': No such file" "$T/e1"
"$SMOLDER" symbolize -e "$S/compare.py" 0x10 >/dev/null 2>"$T/e2"
check "a file that is not ELF is a clear error" grep -q "not an ELF file" "$T/e2"
"$SMOLDER" symbolize 0x10 >/dev/null 2>"$T/e3"
check "no -e, -p or --kernel is a usage error" \
	grep -q "one of -e FILE, -p PID or --kernel" "$T/e3"
"$SMOLDER" symbolize --kernel "$(awk '$3 == "schedule" { print $1; exit }' /proc/kallsyms)" \
	>"$T/k.out" 2>&1
check "--kernel resolves kallsyms addresses" grep -qx schedule "$T/k.out"

# ---- corrupt and vanishing files: answers, never a crash ----
head -c 3000 "$F" >"$T/truncated"
cut -d' ' -f1 "$T/mini.want" | head -50 >"$T/some"
"$SMOLDER" symbolize -e "$T/truncated" <"$T/some" >"$T/trunc.out" 2>&1
rc=$?
check "a truncated ELF file: a warning, unknown answers, no crash" \
	sh -c '[ "$1" -eq 0 ] && grep -q "no symbols and no debug information" "$2" &&
		[ "$(grep -c "^??$" "$2")" -eq "$(wc -l <"$3")" ]' _ "$rc" "$T/trunc.out" \
	"$T/some"
cp "$F" "$T/garbage"
off=$(readelf -SW "$F" | awk '$2 == ".debug_info" { print $5 }')
size=$(readelf -SW "$F" | awk '$2 == ".debug_info" { print $6 }')
head -c $((0x$size)) /dev/urandom |
	dd of="$T/garbage" bs=1 seek=$((0x$off + 40)) conv=notrunc 2>/dev/null
objdump -d --no-show-raw-insn -j .text "$F" |
	sed -n 's/^ *\([0-9a-f]*\):.*/0x\1/p' >"$T/all"
"$SMOLDER" symbolize -e "$T/garbage" <"$T/all" >"$T/garbage.out" 2>"$T/garbage.err"
rc=$?
check "garbage .debug_info: every address answered, no crash" \
	sh -c '[ "$1" -lt 128 ] && [ "$(grep -c "^$" "$2")" -eq "$(wc -l <"$3")" ]' \
	_ "$rc" "$T/garbage.out" "$T/all"

# A file rewritten in place while symbolize holds it: the look-ups that
# follow still answer (from the symbols read before), with a warning.
printf 'int two_helper(int x) { return x * 3 + 1; }\n' >"$T/two.c"
gcc -O2 -g -o "$T/victim" "$S/fixture_c.c" "$T/two.c"
A1=$(nm "$T/victim" | awk '$3 == "main" { print $1 }')
A2=$(nm "$T/victim" | awk '$3 == "two_helper" { print $1 }')
mkfifo "$T/fifo"
( "$SMOLDER" symbolize -e "$T/victim" <"$T/fifo" >"$T/v.out" 2>"$T/v.err"
  echo "rc=$?" >>"$T/v.out" ) &
VP=$!
exec 3>"$T/fifo"
echo "0x$A1" >&3
for i in $(seq 1 50); do grep -q main "$T/v.out" 2>/dev/null && break; sleep 0.1; done
: >"$T/victim"
echo "0x$A2" >&3
echo "0x$A1" >&3
exec 3>&-
wait "$VP"
check "a file truncated between two look-ups: answered by name, no crash" \
	sh -c 'grep -q "^rc=0$" "$1" && grep -q "^two_helper$" "$1" && [ "$(grep -c "^main$" "$1")" -eq 2 ]' \
	_ "$T/v.out"
check "... and the loss is reported" grep -q "shrank while it was being read" "$T/v.err"

# ---- JIT code described in /tmp/perf-PID.map ----
bg "$W/jitter" 20 >"$T/jit.addr"
JP=$BG
at_exit "rm -f /tmp/perf-$JP.map"
for i in $(seq 1 50); do [ -s "$T/jit.addr" ] && break; sleep 0.1; done
"$SMOLDER" symbolize --json -p "$JP" "0x$(head -1 "$T/jit.addr")" >"$T/jit.out" 2>&1
check "JIT code is named from the perf map and marked as JIT" \
	grep -q '"FunctionName":"jit_hot_loop".*"Kind":"jit"' "$T/jit.out"
kill "$JP" 2>/dev/null

# ---- in a recorded profile: inlined frames, kinds and pprof flags ----
if [ "$(id -u)" -eq 0 ] && [ -r /sys/kernel/btf/vmlinux ]; then
	gcc -O2 -g -fno-omit-frame-pointer -o "$T/inl" "$S/fixture_c.c"
	"$SMOLDER" record -F 999 -o "$T/inl.folded" -o "$T/inl.pb.gz" -- \
		"$T/inl" 3000000 >/dev/null 2>"$T/inl.log"
	check "record: inlined frames appear under the function they were inlined into" \
		grep -q 'digest;hash_item_\[i\];mix_\[i\] ' "$T/inl.folded"
	if command -v go >/dev/null; then
		HOME=$T GOCACHE=$T/gocache go tool pprof -traces "$T/inl.pb.gz" \
			>"$T/inl.traces" 2>&1
		check "record: go tool pprof reads the inlined frames as inline" \
			sh -c 'grep -q "mix (inline)" "$1" && grep -q "hash_item (inline)" "$1"' \
			_ "$T/inl.traces"
		HOME=$T GOCACHE=$T/gocache go tool pprof -raw "$T/inl.pb.gz" \
			>"$T/inl.raw" 2>&1
		check "record: the mapping says it has files, lines and inline frames" \
			grep -q "/inl .*\[FN\]\[FL\]\[LN\]\[IN\]" "$T/inl.raw"
	fi
else
	echo "!!! SKIP the record part of $NAME: needs root and BTF !!!" >&2
fi

finish
