# Debian's own binaries, built without frame pointers (python3.11, xz and
# liblzma): smolder's default unwinding against perf --call-graph dwarf,
# both sampling the same run at the same time.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v perf >/dev/null || { bad "perf is not installed (make deps)"; finish; exit 1; }

# reach FILE: the share of samples whose stack goes back to the program's
# entry: main or _start at the root, or the C library's start functions
# on the way (a stripped program's main and _start have no names).
reach() {
	awk '{ n = $NF; t += n; sub(/ [0-9]+$/, "")
		k = split($0, f, ";"); ok = f[2] == "_start" || f[2] == "main"
		for (i = 2; i <= k && !ok; i++)
			ok = f[i] ~ /^__libc_start_(call_)?main(_impl)?$/
		if (ok) m += n }
		END { printf "%.4f\n", t ? m / t : 0 }' "$1"
}

# leaves FILE: "share function" for each leaf function, user code only.
# Code without a symbol is named after its object alone, as perf does.
leaves() {
	awk '{ n = $NF; sub(/ [0-9]+$/, ""); k = split($0, f, ";")
		l = f[k]; sub(/_\[i\]$/, "", l); sub(/\+0x[0-9a-f]+\]$/, "]", l)
		t += n
		if (l !~ /_\[k\]$/) c[l] += n }
		END { for (x in c) printf "%.4f %s\n", c[x] / t, x }' "$1" | sort -rn
}

# Sample the workload running as $wl with smolder and perf at once, for
# 8 s at 999 Hz: 8,000 samples each, so that two tools' shares of a 40%
# function differ by about 0.8 points (one standard deviation) from
# sampling alone, and 3 points is well outside that.
profile_both() { # NAME
	perf record -q -F 999 --call-graph dwarf -p "$wl" -o "$T/$1.data" \
		-- sleep 5 >/dev/null 2>&1 &
	perf_pid=$!
	"$SMOLDER" record -p "$wl" -F 999 -d 5 -o "$T/$1.folded" 2>"$T/$1.err"
	check "$1: record exits 0" [ $? -eq 0 ]
	wait "$perf_pid"
	perf script -i "$T/$1.data" 2>/dev/null >"$T/$1.perf.txt"
	"$SMOLDER" convert "$T/$1.perf.txt" -o "$T/$1.perf.folded" 2>/dev/null
	check "$1: perf's samples read back" [ -s "$T/$1.perf.folded" ]
}

compare() { # NAME
	ours=$(reach "$T/$1.folded")
	theirs=$(reach "$T/$1.perf.folded")
	echo "  $1: stacks from the entry point: smolder $ours, perf $theirs"
	check "$1: at least 95% of the stacks reach the entry point ($ours)" \
		awk_true "a >= 0.95" -v a="$ours"
	check "$1: at least as many as perf's ($ours >= $theirs)" \
		awk_true "a >= b" -v a="$ours" -v b="$theirs"
	leaves "$T/$1.folded" >"$T/$1.leaves"
	leaves "$T/$1.perf.folded" >"$T/$1.perf.leaves"
	# perf cannot name code that only MiniDebugInfo (.gnu_debugdata)
	# describes, as in python3.11, where smolder names it: such "[object]"
	# leaves count only if smolder has them too. Every function perf
	# names among its hottest (1% of the samples or more) must be in
	# smolder's list.
	awk 'NR == FNR { mine[$2] = 1; next }
		$1 >= 0.01 && ($2 !~ /^\[/ || mine[$2])' \
		"$T/$1.leaves" "$T/$1.perf.leaves" | head -5 >"$T/$1.perf.top"
	missing=$(awk 'NR == FNR { mine[$2] = 1; next } !mine[$2] { print $2 }' \
		"$T/$1.leaves" "$T/$1.perf.top")
	check "$1: perf's hottest functions are all in smolder's profile${missing:+ (missing: $missing)}" \
		[ -z "$missing" ]
	# The five hottest functions in perf's view, each within 3 points.
	worst=$(cat "$T/$1.perf.top" | while read -r share name; do
		mine=$(awk -v n="$name" '$2 == n { print $1 }' "$T/$1.leaves")
		awk -v a="${mine:-0}" -v b="$share" -v n="$name" 'BEGIN {
			d = a - b; if (d < 0) d = -d
			printf "%.4f %s (smolder %.3f, perf %.3f)\n", d, n, a, b }'
	done | sort -rn | head -1)
	echo "  $1: the largest difference among perf's top 5: $worst"
	check "$1: the top functions' shares agree with perf's within 3 points" \
		awk_true "d <= 0.03" -v d="${worst%% *}"
}

# ---- python3.11: a pure-Python loop ----
if [ -x /usr/bin/python3.11 ]; then
	bg /usr/bin/python3.11 -c '
import time
def work(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s
def text(n):
    return "".join(str(i) for i in range(n))
end = time.time() + 30
while time.time() < end:
    work(20000)
    text(3000)
'
	wl=$BG
	sleep 0.5
	profile_both python
	kill "$wl" 2>/dev/null
	compare python
else
	bad "python3.11 is missing (make deps installs python3)"
fi

# ---- xz compressing data, in liblzma ----
if command -v xz >/dev/null; then
	for f in /usr/lib/x86_64-linux-gnu/*.so*; do cat "$f"; done 2>/dev/null |
		head -c 60000000 >"$T/data"
	bg sh -c 'exec xz -6 -T1 -c "$1" >/dev/null' _ "$T/data"
	wl=$BG
	sleep 0.5
	profile_both xz
	kill "$wl" 2>/dev/null
	compare xz
else
	bad "xz is missing (make deps installs xz-utils)"
fi

finish
