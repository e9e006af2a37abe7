# The flame graph works in a real browser: Debian's Chromium, driven by
# Playwright (tests/browser/flamegraph.mjs): hover, zoom, reset, search.
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null || { bad "node is not installed (make deps)"; finish; exit 1; }
[ -x /usr/bin/chromium ] || { bad "chromium is not installed (make deps)"; finish; exit 1; }
[ -d "$ROOT/tests/browser/node_modules/playwright-core" ] ||
	{ bad "playwright-core is not installed (make deps)"; finish; exit 1; }

cat >"$T/in.folded" <<'EOD'
ratio;main;run_workload;hot_a 750
ratio;main;run_workload;hot_b 250
ratio;main;other 300
sh;main;x 100
EOD
"$SMOLDER" flamegraph "$T/in.folded" -o "$T/graph.svg"
check "the flame graph is written" [ -s "$T/graph.svg" ]
share=$(awk '{ t += $NF } /hot_/ { h += $NF } END { printf "%.4f", 100 * h / t }' "$T/in.folded")
mkdir -p "$ROOT/build/test-output"
timeout 120 node "$ROOT/tests/browser/flamegraph.mjs" "$T/graph.svg" \
	"$ROOT/build/test-output" "$share" >"$T/out" 2>&1
rc=$?
cat "$T/out"
p=$(sed -nE 's/^flamegraph.mjs: ([0-9]+) passed, ([0-9]+) failed$/\1/p' "$T/out")
f=$(sed -nE 's/^flamegraph.mjs: ([0-9]+) passed, ([0-9]+) failed$/\2/p' "$T/out")
passes=$((passes + ${p:-0}))
fails=$((fails + ${f:-0}))
check "the browser run completes (exit $rc)" [ "$rc" -eq 0 -a -n "$p" ]
check "screenshots are saved under build/test-output" [ -s "$ROOT/build/test-output/zoomed.png" ]

finish
