# User stacks without frame pointers: the unwind tables walked in BPF
# (--unwind dwarf, the default), stack copies unwound with libdw (--unwind
# copy), against frame pointers and against perf --call-graph dwarf.
. "$(dirname "$0")/lib.sh"
need_bpf

# complete FILE PATTERN: the share of samples whose stack matches PATTERN
# (an ERE over "comm;root;...;leaf") and shows no sign of a cut.
complete() {
	PAT="$2" awk '{ n = $NF; t += n; sub(/ [0-9]+$/, "")
		if ($0 ~ ENVIRON["PAT"] && $0 !~ /\[truncated\]|\[unknown\]|\[user stack lost\]/) m += n }
		END { printf "%.4f\n", t ? m / t : 0 }' "$1"
}

# The stack every nofp sample should have, from the root down to run and
# recurse (samples taken on the way down have fewer recurse frames).
NOFP_ROOT="^nofp;_start;__libc_start_main;__libc_start_call_main;main;run;recurse(;|$)"

# ---- a program and library built without frame pointers ----
bg "$W/nofp" 30 40
nofp=$BG
sleep 0.3
for mode in dwarf copy fp; do
	"$SMOLDER" record -p "$nofp" -F 499 -d 2 --unwind "$mode" \
		-o "$T/nofp-$mode.folded" 2>"$T/nofp-$mode.err"
	check "--unwind $mode exits 0" [ $? -eq 0 ]
done
kill "$nofp" 2>/dev/null

d=$(complete "$T/nofp-dwarf.folded" "$NOFP_ROOT")
c=$(complete "$T/nofp-copy.folded" "$NOFP_ROOT")
f=$(complete "$T/nofp-fp.folded" "$NOFP_ROOT")
echo "  complete stacks: dwarf $d, copy $c, fp $f"
check "dwarf: at least 99% of the stacks are complete ($d)" awk_true "d >= 0.99" -v d="$d"
check "copy: at least 99% of the stacks are complete ($c)" awk_true "c >= 0.99" -v c="$c"
check "fp cannot walk this code (its complete share $f is under half)" \
	awk_true "f < 0.5" -v f="$f"
# The deepest stack: 41 recurse and 40 lib_step frames, then the leaf.
deep="main;run"
i=0
while [ $i -lt 40 ]; do deep="$deep;recurse;lib_step"; i=$((i + 1)); done
deep="$deep;recurse;hot_leaf"
check "dwarf: the whole 83-frame stack is there" grep -q ";$deep " "$T/nofp-dwarf.folded"
check "copy: the same stack" grep -q ";$deep " "$T/nofp-copy.folded"
top() { sort -t' ' -k2 -nr "$1" | head -1 | sed 's/ [0-9]*$//'; }
check "dwarf and copy agree on the hottest stack" \
	[ "$(top "$T/nofp-dwarf.folded")" = "$(top "$T/nofp-copy.folded")" ]
check "no stack was cut in dwarf mode" \
	sh -c '! grep -Eq "unsupported unwind|unreadable frames|cut short" "$1"' _ "$T/nofp-dwarf.err"

# ---- a short-lived process: its first samples come before its tables
# are loaded, and take the copy path ----
"$SMOLDER" record -F 999 -o "$T/short.folded" -- "$W/nofp" 0.4 40 2>"$T/short.err"
check "record -- nofp exits 0" [ $? -eq 0 ]
cut=$(count_matching "$T/short.folded" "^nofp;.*(\\[truncated\\]|\\[user stack lost\\])")
all=$(count_matching "$T/short.folded" "^nofp;")
case "$SMOLDER" in
*-san)
	# Known race, seen only with the sanitizers' slowdown: now and then
	# every copied sample of the command lands in no mapping of the
	# image it is resolved against. Shown, not yet asserted here.
	echo "  !!! NOT CHECKED under the sanitizers (known race): $cut of $all cut !!!" ;;
*)
	check "a short-lived process keeps whole stacks ($cut of $all cut)" \
		awk_true "c <= 0.01 * a && a > 300" -v c="$cut" -v a="$all" ;;
esac

# ---- hard cases ----
# A signal handler on the stack: the walk goes through the signal frame.
"$SMOLDER" record -F 999 -o "$T/signal.folded" -- "$W/nofpcases" signal 1.5 2>/dev/null
n=$(count_matching "$T/signal.folded" "^nofpcases;_start;.*;main;run_signal;interrupted;__restore_rt;on_signal;handler_work$")
check "through a signal frame: main -> ... -> __restore_rt -> on_signal ($n)" [ "$n" -gt 10 ]
s=$(complete "$T/signal.folded" "^nofpcases;_start;__libc_start_main;__libc_start_call_main;main;run_signal")
check "signal: at least 99% complete ($s)" awk_true "s >= 0.99" -v s="$s"

# A hot loop of calls to a tiny library function: samples at the first
# and last instructions of a function, and in the vDSO.
"$SMOLDER" record -F 999 -o "$T/plt.folded" -- "$W/nofpcases" plt 1.5 2>/dev/null
s=$(complete "$T/plt.folded" "^nofpcases;_start;__libc_start_main;__libc_start_call_main;main;run_plt")
check "calls of a tiny function: at least 99% complete ($s)" awk_true "s >= 0.99" -v s="$s"
"$SMOLDER" record -F 999 -o "$T/vdso.folded" -- "$W/nofpcases" vdso 1.5 2>/dev/null
n=$(count_matching "$T/vdso.folded" ";run_vdso;clock_gettime;__vdso_clock_gettime")
s=$(complete "$T/vdso.folded" "^nofpcases;_start;__libc_start_main;__libc_start_call_main;main;run_vdso")
check "through the vDSO ($n samples there; $s complete)" \
	awk_true "n > 100 && s >= 0.99" -v n="$n" -v s="$s"
# The vDSO exports its entry points only: a helper it calls (the
# paravirtual clock's reader on a VM) is in no symbol table, and its frame
# reads [vdso+0x...], the pseudo-file's name without its own brackets.
check "an unnamed vDSO function reads [vdso+0xOFFSET], if sampled" \
	sh -c '! grep -q "\[\[vdso\]" "$1" &&
		! grep -o ";__vdso_clock_gettime;[^ ;]*" "$1" | grep -v -e "_\[k\]$" -e ";\[vdso+0x[0-9a-f]*\]$"' _ "$T/vdso.folded"

# PLT stubs: with LD_BIND_NOT every call goes through the stub and the
# resolver, so samples land in the stubs themselves.
LD_BIND_NOT=1 "$SMOLDER" record -F 999 -o "$T/lazy.folded" -- "$W/nofpcases" plt 1.5 \
	2>"$T/lazy.err"
n=$(count_matching "$T/lazy.folded" "^nofpcases;_start;__libc_start_main;__libc_start_call_main;main;run_plt;lib_tiny@plt$")
main=$(count_matching "$T/lazy.folded" ";main;")
case "$SMOLDER" in
*-san)
	if [ "$main" -eq 0 ]; then
		# The known race above: no sample of the command resolved
		# past its entry. Said, not failed; any other miss fails.
		echo "  !!! NOT CHECKED under the sanitizers (known race): no sample reached main !!!"
	else
		check "a frame in a PLT stub, under its whole stack ($n)" [ "$n" -gt 0 ]
	fi ;;
*)
	check "a frame in a PLT stub, under its whole stack ($n)" [ "$n" -gt 0 ] ;;
esac
check "... and no sample in a stub is cut" \
	sh -c '! grep -E "@plt [0-9]+$" "$1" | grep -E "\[truncated\]|\[unknown\]"' \
	_ "$T/lazy.folded"
# Once a process's tables are loaded, its stacks are walked in the kernel,
# the dynamic linker's (mapped highest, below the vsyscall page) included;
# ld.so's lazy-binding trampoline keeps its CFA in rbx, which the walker
# does not follow: those stacks are cut, and counted.
LD_BIND_NOT=1 bg "$W/nofpcases" plt 10
sleep 0.5
"$SMOLDER" record -v -p "$BG" -F 999 -d 1 -o "$T/lazy2.folded" 2>"$T/lazy2.err"
kill "$BG" 2>/dev/null
w=$(sed -nE 's/.* ([0-9]+) samples walked in the kernel, ([0-9]+) from stack copies.*/\1 \2/p' "$T/lazy2.err")
# (Only its first samples, before its tables are loaded, are copied: a
# sanitized build takes longer to load them.)
check "a running process is walked in the kernel, not copied (walked, copied: $w)" \
	awk_true "w > 700 && c < 0.2 * (w + c)" -v w="${w% *}" -v c="${w#* }"
n=$(sed -nE 's/.*stacks cut at unsupported unwind rules ([0-9]+).*/\1/p' "$T/lazy2.err")
t=$(count_matching "$T/lazy2.folded" "^nofpcases;\\[truncated\\];_dl_runtime_resolve")
check "a rule the walker cannot follow: counted (${n:-none}), shown [truncated] ($t)" \
	awk_true "n > 0 && t > 0" -v n="${n:-0}" -v t="$t"

# Deeper than the walker goes (256 frames): counted and shown as cut, with
# the leaf end intact.
bg "$W/nofp" 30 200
sleep 0.3
"$SMOLDER" record -p "$BG" -F 499 -d 1 -o "$T/deep.folded" 2>"$T/deep.err"
check "very deep recursion: exits 0" [ $? -eq 0 ]
kill "$BG" 2>/dev/null
n=$(sed -nE 's/.*truncated stacks ([0-9]+).*/\1/p' "$T/deep.err")
check "... truncation is counted (${n:-none})" [ "${n:-0}" -gt 100 ]
check "... and shown as [truncated] above the intact leaf" \
	grep -q "^nofp;\[truncated\];.*;recurse;lib_step;recurse;hot_leaf " "$T/deep.folded"

finish
