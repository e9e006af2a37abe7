# smolder agent --push: every window reaches a server exactly once, through
# a server killed and brought back, an agent restarted with windows still
# spooled, a spool at its cap, and a token.
. "$(dirname "$0")/lib.sh"
need_bpf

SERVE_PID=""
# start_serve NAME LISTEN ARGS...: sets URL and PORT.
start_serve() {
	name=$1; listen=$2; shift 2
	"$SMOLDER" serve --listen "$listen" "$@" 2>"$T/$name.log" &
	SERVE_PID=$!
	BG_PIDS="$BG_PIDS $SERVE_PID"
	wait_for grep -q "listening on" "$T/$name.log"
	URL=$(sed -nE 's|.*listening on (http://[^ ]*)/ .*|\1|p' "$T/$name.log")
	PORT=${URL##*:}
}

# same_windows AGENT_STORE SERVER_STORE: every window of the agent's store
# is on the server once, with the same samples (the server's times are
# whole seconds, as the ingest protocol sends them).
same_windows() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
def load(d):
    return [json.loads(l) for l in open(d + "/index") if l.strip()]
a, s = load(sys.argv[1]), load(sys.argv[2])
want = sorted((e["start"] // 10**9, e["samples"]) for e in a)
got = sorted((e["start"] // 10**9, e["samples"]) for e in s)
print(f"  ({len(want)} windows written, {len(got)} on the server)")
sys.exit(0 if want == got else 1)
EOF
}

spool_windows() { status_field "$1" push.spool_windows; }
# The status is written as a window is cut, with that window just spooled.
spool_drained() { [ "$(spool_windows "$1")" -le 1 ]; }

# ---- the server goes away and comes back ----
start_serve srv 127.0.0.1:0 --store "$T/srv"
A="$T/agent"
start_agent push --store "$A" --window 1 -F 49 --push "$URL" --service web
sleep 2
kill -9 "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
sleep 2
check "with the server down, windows wait in the spool ($(spool_windows "$A"))" \
	[ "$(spool_windows "$A")" -ge 1 ]
check "... the failures are counted" [ "$(status_field "$A" push.attempts_failed)" -ge 1 ]
check "... and said once" [ "$(grep -c "windows wait in the spool" "$T/push.log")" -eq 1 ]
start_serve srv2 "127.0.0.1:$PORT" --store "$T/srv"
wait_for spool_drained "$A"
check "when it is back, the spool empties" [ "$(spool_windows "$A")" -le 1 ]
stop_agent
check "the agent stops cleanly" [ "$AGENT_RC" -eq 0 ]
check "every window reached the server exactly once, whole" same_windows "$A" "$T/srv"
curl -s "$URL/api/services?from=0" >"$T/services"
check "... under the service name, with the host label" \
	sh -c 'grep -q "\"name\":\"web\"" "$1" && curl -s "$2/api/labels?from=0&query=web" | grep -q "\"host\":\[\"$(hostname)\"\]"' _ "$T/services" "$URL"
check "... and the agent's own windows carry service_name too" \
	index_check "$A" 'all("service_name=web" in e["labels"] for e in w)'
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null

# ---- windows spooled when the agent stops go at its next start ----
A="$T/agent2"
start_agent down --store "$A" --window 1 -F 49 --push "http://127.0.0.1:$PORT"
sleep 2.5
stop_agent
left=$(spool_windows "$A")
check "stopping with the server down leaves the windows spooled ($left)" [ "$left" -ge 2 ]
start_serve srv3 "127.0.0.1:$PORT" --store "$T/srv3"
start_agent up --store "$A" --window 1 -F 49 --push "$URL"
sleep 1.5
wait_for spool_drained "$A"
stop_agent
check "... and all arrive once, the old ones with the new" same_windows "$A" "$T/srv3"
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null

# ---- a spool at its cap drops the oldest, and counts them ----
A="$T/agent3"
spin() { bg "$W/deep" 8 "$1"; }
spin 6; spin 6
start_agent cap --store "$A" --window 1 -F 499 --push "http://127.0.0.1:$PORT" \
	--push-spool-size 16K
sleep 3
stop_agent
check "past its cap the spool drops windows and counts them ($(status_field "$A" push.windows_dropped_spool_full))" \
	[ "$(status_field "$A" push.windows_dropped_spool_full)" -ge 1 ]
check "... keeping it under the cap ($(status_field "$A" push.spool_bytes) bytes)" \
	[ "$(status_field "$A" push.spool_bytes)" -le 16384 ]
check "... and saying so" grep -q "the spool is full" "$T/cap.log"
kill $BG_PIDS 2>/dev/null

# ---- a token ----
printf 'push-token-5678\n' >"$T/token"
start_serve tok 127.0.0.1:0 --store "$T/srvtok" --token-file "$T/token"
A="$T/agent4"
start_agent notoken --store "$A" --window 1 -F 49 --push "$URL"
sleep 1.5
stop_agent
check "without the token, windows are refused and counted" \
	[ "$(status_field "$A" push.windows_refused)" -ge 1 ]
check "... naming the reason" grep -q "answered 401" "$T/notoken.log"
A="$T/agent5"
start_agent token --store "$A" --window 1 -F 49 --push "$URL" --push-token-file "$T/token"
sleep 1.5
stop_agent
check "with the token, they go" same_windows "$A" "$T/srvtok"
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null

"$SMOLDER" agent --store "$T/x" --push ftp://nowhere 2>"$T/err"
check "a push URL that is not http(s) is refused, naming it" grep -q "invalid push URL 'ftp://nowhere'" "$T/err"

finish
