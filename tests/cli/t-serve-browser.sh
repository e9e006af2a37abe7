# The page of `smolder serve` works in a real browser: a server on a free
# port with a temporary store, driven through Debian's Chromium by
# Playwright (tests/browser/serve.mjs): upload, top table, zoom, search,
# label filters, diff, the URL state, and a 100,000-frame profile.
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null || { bad "node is not installed (make deps)"; finish; exit 1; }
[ -x /usr/bin/chromium ] || { bad "chromium is not installed (make deps)"; finish; exit 1; }
[ -d "$ROOT/tests/browser/node_modules/playwright-core" ] ||
	{ bad "playwright-core is not installed (make deps)"; finish; exit 1; }

bg "$SMOLDER" serve --store "$T/store" --listen 127.0.0.1:0 2>"$T/serve.log"
SERVER=$BG
at_exit "kill $SERVER 2>/dev/null"
i=0
while [ $i -lt 100 ] && ! grep -q 'listening on' "$T/serve.log"; do
	sleep 0.1
	i=$((i + 1))
done
URL=$(sed -nE 's|.*listening on (http://[^ ]+/).*|\1|p' "$T/serve.log" | head -1)
check "the server listens on a free port" [ -n "$URL" ]
[ -n "$URL" ] || { cat "$T/serve.log"; finish; exit 1; }

mkdir -p "$ROOT/build/test-output"
rm -f "$ROOT"/build/test-output/serve-*.png
timeout 120 node "$ROOT/tests/browser/serve.mjs" "$URL" "$ROOT/build/test-output" "$T" \
	>"$T/out" 2>&1
rc=$?
cat "$T/out"
p=$(sed -nE 's/^serve.mjs: ([0-9]+) passed, ([0-9]+) failed$/\1/p' "$T/out")
f=$(sed -nE 's/^serve.mjs: ([0-9]+) passed, ([0-9]+) failed$/\2/p' "$T/out")
passes=$((passes + ${p:-0}))
fails=$((fails + ${f:-0}))
check "the browser run completes (exit $rc)" [ "$rc" -eq 0 -a -n "$p" ]
check "screenshots are saved under build/test-output" \
	[ -s "$ROOT/build/test-output/serve-zoom.png" -a -s "$ROOT/build/test-output/serve-diff.png" ]

kill "$SERVER"
wait "$SERVER"
check "the server stops cleanly on SIGTERM (exit $?)" [ $? -eq 0 ]

finish
