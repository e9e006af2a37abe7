# Every format smolder writes is read by the tools people use (go tool pprof
# for pprof, a browser's XML parser for SVG), and smolder reads what they
# write: Go's -cpuprofile, perf script, folded stacks, speedscope.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v go >/dev/null || { bad "go is not installed (make deps)"; finish; exit 1; }
export HOME="$T" GOCACHE="$T/gocache" GOFLAGS=-mod=mod GOTOOLCHAIN=local

# Folded stacks, as go tool pprof -raw sees a pprof file: thread name, then
# frames root to leaf (inlined frames included), then the sample count.
pprof_raw_folded() {
	go tool pprof -raw "$1" 2>/dev/null | awk '
		/^Samples:/ { sec = "s"; next }
		/^Locations/ { sec = "l"; next }
		/^Mappings/ { sec = "m"; next }
		sec == "s" && /^ +[0-9]+ +[0-9]+: / {
			flush(); n++; cnt[n] = $1; $1 = ""; $2 = ""; ids[n] = $0; next }
		sec == "s" && /thread_name:\[/ {
			t = $0; sub(/.*thread_name:\[/, "", t); sub(/\].*/, "", t); th[n] = t; next }
		sec == "l" && /^ +[0-9]+: 0x/ {
			id = $1; sub(/:/, "", id); cur = id; names[id] = $4; next }
		sec == "l" && /^ +[^ ]/ && cur != "" { names[cur] = $1 ";" names[cur]; next }
		function flush() {}
		END {
			for (i = 1; i <= n; i++) {
				k = split(ids[i], a, " "); s = th[i]
				for (j = k; j >= 1; j--) s = s ";" names[a[j]]
				sum[s] += cnt[i]
			}
			for (s in sum) print s, sum[s]
		}' | sort
}

# A recording as pprof: go tool pprof reads it, and sees exactly our stacks.
bg "$W/ratio" 8
sleep 0.3
"$SMOLDER" record -p "$BG" -F 499 -d 2 -o "$T/r.pb.gz" 2>/dev/null
kill "$BG" 2>/dev/null
check "record -o x.pb.gz writes gzipped pprof" sh -c 'od -An -tx1 -N2 "$1" | grep -q "1f 8b"' _ "$T/r.pb.gz"
go tool pprof -top "$T/r.pb.gz" >"$T/top" 2>"$T/top.err"
check "go tool pprof reads it" grep -q "hot_a" "$T/top"
# (pprof has no frame kinds, kernel or inlined: compare names.)
"$SMOLDER" convert "$T/r.pb.gz" -o - 2>/dev/null | sed 's/_\[[ki]\]//g' | sort >"$T/ours.folded"
pprof_raw_folded "$T/r.pb.gz" >"$T/theirs.folded"
check "go tool pprof -raw sees exactly our stacks and counts" cmp -s "$T/ours.folded" "$T/theirs.folded"
[ -s "$T/ours.folded" ] && ! cmp -s "$T/ours.folded" "$T/theirs.folded" && diff "$T/ours.folded" "$T/theirs.folded" | head -5
ours_total=$("$SMOLDER" report "$T/r.pb.gz" | sed -n 's/.* of \(.*\) total$/\1/p')
theirs_total=$(sed -n 's/.*Total samples = \([^ ]*\) .*/\1/p' "$T/top")
echo "  totals: smolder $ours_total, go tool pprof $theirs_total"
check "the cpu totals agree (to the printed precision)" awk_true "a - b < 0.006 && b - a < 0.006" \
	-v a="$(echo "$ours_total" | sed 's/s$//')" \
	-v b="$(echo "$theirs_total" | awk '/ms$/ { sub(/ms/, ""); print $0 / 1000; next } { sub(/s$/, ""); print }')"
# Flat values per function: ours and pprof's -top, exactly.
"$SMOLDER" report -n 0 --value samples "$T/r.pb.gz" | awk 'NR > 3 && $1 > 0 { print $6, $1 }' | sort >"$T/flat.ours"
go tool pprof -top -sample_index=samples -nodefraction=0 -nodecount=100000 \
	"$T/r.pb.gz" 2>/dev/null | awk 'f && $1 > 0 { print $6, $1 } /flat%/ { f = 1 }' | sort >"$T/flat.theirs"
check "flat sample counts match go tool pprof -top" cmp -s "$T/flat.ours" "$T/flat.theirs"
cmp -s "$T/flat.ours" "$T/flat.theirs" || diff "$T/flat.ours" "$T/flat.theirs" | head -5

# An uncompressed pprof reads back the same.
"$SMOLDER" convert "$T/r.pb.gz" -o "$T/r.pb" 2>/dev/null
"$SMOLDER" convert "$T/r.pb" -o - 2>/dev/null | sort >"$T/raw.folded"
"$SMOLDER" convert "$T/r.pb.gz" -o - 2>/dev/null | sort >"$T/gz.folded"
check "uncompressed pprof round-trips" cmp -s "$T/gz.folded" "$T/raw.folded"

# Go's own CPU profile.
cp "$ROOT/tests/workloads/go/burn.go" "$T/burn.go"
(cd "$T" && go build -o burn burn.go) >"$T/gobuild.log" 2>&1
check "the Go workload builds" [ -x "$T/burn" ]
"$T/burn" "$T/go.pprof"
"$SMOLDER" report "$T/go.pprof" >"$T/go.report" 2>&1
check "smolder reads Go's -cpuprofile output" grep -q "main.burnA" "$T/go.report"
# Both in milliseconds: "1.11s" and "1110ms".
to_ms() { awk '{ v = $1; if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 } else { sub(/s$/, "", v); print v * 1000 } }'; }
a=$(awk '$6 == "main.burnA" { print $1 }' "$T/go.report" | to_ms)
b=$(go tool pprof -top "$T/go.pprof" 2>/dev/null | awk '$6 == "main.burnA" { print $1 }' | to_ms)
check "... with go tool pprof's flat value for main.burnA (${a}ms, ${b}ms)" \
	awk_true "a != \"\" && a == b" -v a="$a" -v b="$b"
"$SMOLDER" convert "$T/go.pprof" -o "$T/go.again.pb.gz" 2>/dev/null
go tool pprof -top "$T/go.again.pb.gz" >"$T/go.again.top" 2>&1
check "... and writes it back readable by go tool pprof" grep -q "main.burnA" "$T/go.again.top"

# perf script, as stackcollapse-perf reads it.
perf record -q -F 499 -g -o "$T/perf.data" -- "$W/ratio" 1.5 >/dev/null 2>&1
perf script -i "$T/perf.data" 2>/dev/null >"$T/perf.txt"
"$SMOLDER" flamegraph - -o "$T/perf.svg" <"$T/perf.txt"
check "perf script | smolder flamegraph - -o x.svg" grep -q "hot_a" "$T/perf.svg"
"$SMOLDER" convert - -o "$T/perf.folded" <"$T/perf.txt"
a=$(count_matching "$T/perf.folded" ";hot_a$")
t=$(count_total "$T/perf.folded")
check "perf script stacks keep their shape (hot_a $a of $t)" awk_true "a / t > 0.65 && a / t < 0.85" -v a="$a" -v t="$t"
check "... with perf's thread names as roots" grep -q "^ratio;.*main;run_workload;hot_a " "$T/perf.folded"

# SVG: well-formed XML, deterministic, options honoured.
"$SMOLDER" flamegraph "$T/r.pb.gz" -o "$T/a.svg"
"$SMOLDER" flamegraph "$T/r.pb.gz" -o "$T/b.svg"
check "the SVG is well-formed XML" xmllint --noout "$T/a.svg"
check "the same input gives the same bytes" cmp -s "$T/a.svg" "$T/b.svg"
check "frames have tooltips with values and shares" grep -Eq "<title>hot_a \([0-9.]+ m?s, [0-9.]+%\)</title>" "$T/a.svg"
check "the script is embedded (no network)" sh -c 'grep -q "function zoom" "$1" && ! grep -Eq "(src|href)=\"https?:" "$1"' _ "$T/a.svg"
"$SMOLDER" flamegraph "$T/r.pb.gz" --title "My Title" --subtitle "Sub" --icicle --reverse --colors blue --width 800 -o "$T/c.svg"
check "--title, --subtitle, --icicle, --width" sh -c 'grep -q ">My Title<" "$1" && grep -q ">Sub<" "$1" && grep -q "data-icicle=\"1\"" "$1" && grep -q "width=\"800\"" "$1"' _ "$T/c.svg"
check "--reverse puts leaves at the root" sh -c 'grep -q "data-d=\"1\"><title>hot_a " "$1"' _ "$T/c.svg"
check "the reversed, blue SVG is well-formed" xmllint --noout "$T/c.svg"

# Narrow frames merge into a visible remainder: 3000 tiny stacks.
awk 'BEGIN { print "main;big 1000000"; for (i = 0; i < 3000; i++) printf "main;tiny%d 1\n", i }' >"$T/tiny.folded"
"$SMOLDER" flamegraph "$T/tiny.folded" -o "$T/tiny.svg"
check "narrow frames merge into one remainder frame" grep -q "<title>3000 frames too narrow to draw (3,000 samples" "$T/tiny.svg"
check "... and no tiny frame is drawn alone" sh -c '! grep -q "<title>tiny" "$1"' _ "$T/tiny.svg"
"$SMOLDER" flamegraph "$T/tiny.folded" --minwidth 0 -o "$T/tiny0.svg"
check "--minwidth 0 draws them all" sh -c '[ "$(grep -c "<title>tiny" "$1")" -eq 3000 ]' _ "$T/tiny0.svg"

# Names that could break XML or the format are escaped or repaired.
printf 'main;a<b>&"c";bad\377name 5\n' >"$T/odd.folded"
"$SMOLDER" flamegraph "$T/odd.folded" -o "$T/odd.svg"
check "odd names are escaped and repaired into valid XML" xmllint --noout "$T/odd.svg"

# Diff: what grew is red and tops the table.
printf 'main;a 50\nmain;b 50\n' >"$T/base.folded"
printf 'main;a 80\nmain;b 20\nmain;c 25\n' >"$T/new.folded"
"$SMOLDER" diff "$T/base.folded" "$T/new.folded" -o "$T/diff.svg" >"$T/diff.txt"
check "diff exits 0 and writes an SVG" xmllint --noout "$T/diff.svg"
check "the table leads with the largest change" sh -c 'sed -n 3p "$1" | grep -q " b$"' _ "$T/diff.txt"
check "... shows both shares and the change" grep -Eq "50\.00% +64\.00% +\+14\.00 .* a$" "$T/diff.txt"
check "... and marks new functions" grep -q " c (new)$" "$T/diff.txt"
check "grown frames are red, shrunk ones blue" sh -c \
	'grep -q "<title>a (base 50.00%, new 64.00%, +14.00 pts)</title><rect[^>]*fill=\"rgb(250," "$1" &&
	 grep -q "<title>b (base 50.00%, new 16.00%, -34.00 pts)</title><rect[^>]*fill=\"rgb([0-9]*,[0-9]*,250)" "$1"' _ "$T/diff.svg"
"$SMOLDER" diff --negate "$T/new.folded" "$T/base.folded" -o "$T/neg.svg" >/dev/null
check "--negate draws BASE's shape: frames only in BASE show" grep -q "<title>c (base 20.00%, new 0.00%" "$T/neg.svg"

# speedscope JSON and back.
"$SMOLDER" convert "$T/r.pb.gz" -o "$T/r.json"
check "speedscope JSON is valid JSON" sh -c 'python3 -m json.tool "$1" >/dev/null 2>&1 || node -e "JSON.parse(require(\"fs\").readFileSync(process.argv[1]))" "$1"' _ "$T/r.json"
"$SMOLDER" convert "$T/r.json" -o "$T/r.json.folded" 2>/dev/null
check "speedscope reads back" grep -q "hot_a" "$T/r.json.folded"

# Bad input: a clear error naming the file and the place.
printf 'a;b 1\na;b x\n' >"$T/bad.folded"
"$SMOLDER" report "$T/bad.folded" >/dev/null 2>"$T/err"
rc=$?
check "a bad count names its line ($(cat "$T/err"))" sh -c '[ "$2" -eq 1 ] && grep -q "bad.folded.*line 2: bad count" "$1"' _ "$T/err" "$rc"
head -c 100 "$T/r.pb.gz" >"$T/trunc.pb.gz"
"$SMOLDER" report "$T/trunc.pb.gz" >/dev/null 2>"$T/err"
check "truncated gzip is an error at a byte offset ($(cat "$T/err"))" grep -q "corrupt or truncated data (at byte" "$T/err"
echo "hello" >"$T/hello.txt"
"$SMOLDER" flamegraph "$T/hello.txt" -o "$T/hello.svg" 2>"$T/err"
check "unknown input is refused ($(cat "$T/err"))" sh -c '[ ! -e "$2" ] && grep -q "not a profile smolder can read" "$1"' _ "$T/err" "$T/hello.svg"
"$SMOLDER" report "$T/nope.pb.gz" >/dev/null 2>"$T/err"
check "a missing file is named ($(cat "$T/err"))" grep -q "cannot read '$T/nope.pb.gz': No such file" "$T/err"

finish
