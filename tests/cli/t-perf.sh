# smolder against perf, the reference: both sample the same workload at the
# same time and must agree on where the time goes.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v perf >/dev/null || { bad "perf is not installed (make deps)"; finish; exit 1; }

# Collapse `perf script` output to folded stacks (comm;root;...;leaf count),
# kernel frames suffixed _[k], as stackcollapse-perf does.
perf_folded() {
	perf script -i "$1" -F comm,ip,sym,dso 2>/dev/null | awk '
		/^[^ \t]/ { comm = $1; n = 0; next }
		/^[ \t]*$/ { flush(); next }
		{ sym = $2; sub(/\+0x[0-9a-f]+$/, "", sym)
		  if (sym == "[unknown]" || sym == "") sym = "[unknown]"
		  if ($NF == "([kernel.kallsyms])") sym = sym "_[k]"
		  f[++n] = sym }
		function flush(  s, i) {
			if (!n) return
			s = comm; for (i = n; i >= 1; i--) s = s ";" f[i]
			c[s]++; n = 0
		}
		END { flush(); for (s in c) print s, c[s] }'
}

# share PATTERN FILE: fraction of the samples on lines matching PATTERN.
share() {
	PAT="$1" awk '{ n = $NF; t += n; sub(/ [0-9]+$/, ""); if ($0 ~ ENVIRON["PAT"]) m += n }
		END { printf "%.4f\n", t ? m / t : 0 }' "$2"
}

profile_both() { # NAME WORKLOAD...
	name=$1; shift
	bg "$@"
	wl=$BG
	sleep 0.3
	perf record -q -F 999 -g -p "$wl" -o "$T/$name.data" -- sleep 3 >/dev/null 2>&1 &
	perf_pid=$!
	"$SMOLDER" record -p "$wl" -F 999 -d 3 -o "$T/$name.folded" 2>/dev/null
	wait "$perf_pid"
	kill "$wl" 2>/dev/null
	perf_folded "$T/$name.data" >"$T/$name.perf.folded"
}

profile_both ratio "$W/ratio" 8
ours=$(share ";hot_a$" "$T/ratio.folded")
theirs=$(share ";hot_a$" "$T/ratio.perf.folded")
echo "  hot_a share: smolder $ours, perf $theirs"
check "hot_a's share agrees with perf within 0.04" \
	awk_true "a - b < 0.04 && b - a < 0.04" -v a="$ours" -v b="$theirs"
top() { sort -t' ' -k2 -nr "$1" | head -1 | sed 's/ [0-9]*$//; s/^[^;]*;//; s/^.*main;/main;/'; }
check "the hottest stack is the same: $(top "$T/ratio.folded")" \
	[ "$(top "$T/ratio.folded")" = "$(top "$T/ratio.perf.folded")" ]

profile_both sys "$W/syscalls" 8
ours=$(share "_\\[k\\]$" "$T/sys.folded")
theirs=$(share "_\\[k\\]$" "$T/sys.perf.folded")
echo "  kernel share: smolder $ours, perf $theirs"
check "the kernel's share agrees with perf within 0.08" \
	awk_true "a - b < 0.08 && b - a < 0.08" -v a="$ours" -v b="$theirs"
# The kernel functions both saw most: perf's top 3 are all in ours.
kfuncs() { awk '{ n = $NF; sub(/ [0-9]+$/, ""); k = split($0, f, ";");
	if (f[k] ~ /_\[k\]$/) c[f[k]] += n } END { for (x in c) print c[x], x }' "$1" |
	sort -nr | head -"$2" | awk '{ print $2 }'; }
missing=$(kfuncs "$T/sys.perf.folded" 3 | while read -r f; do
	kfuncs "$T/sys.folded" 8 | grep -qxF "$f" || echo "$f"; done)
check "perf's top kernel leaves are among ours${missing:+ (missing: $missing)}" [ -z "$missing" ]

finish
