# smolder serve and smolder upload, over loopback: Pyroscope-compatible
# ingest, the query API, limits, the token, hostile requests, concurrent
# uploads, and a store another process holds.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { bad "curl is not installed (make deps)"; finish; exit 1; }
SAN=0
case "$SMOLDER" in *-san) SAN=1 ;; esac

SERVE_PID=""
URL=""
# start_serve NAME ARGS...: a server on a free loopback port; sets URL.
start_serve() {
	name=$1; shift
	"$SMOLDER" serve --listen 127.0.0.1:0 "$@" 2>"$T/$name.log" &
	SERVE_PID=$!
	BG_PIDS="$BG_PIDS $SERVE_PID"
	i=0
	while ! grep -q "listening on" "$T/$name.log" 2>/dev/null && [ $i -lt 100 ]; do
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.1; i=$((i + 1))
	done
	URL=$(sed -nE 's|.*listening on (http://[^ ]*)/ .*|\1|p' "$T/$name.log")
}
stop_serve() {
	kill -TERM "$SERVE_PID" 2>/dev/null
	wait "$SERVE_PID"
	SERVE_RC=$?
}
# http METHOD PATH [curl args...]: the status code; the body in $T/body.
http() {
	m=$1; p=$2; shift 2
	curl -s -g -o "$T/body" -w '%{http_code}' -X "$m" "$@" "$URL$p"
}
json() { python3 -c "import json,sys; d=json.load(open('$T/body')); print($1)"; }
windows() { curl -s "$URL/api/windows?from=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'; }

cat >"$T/a.folded" <<'EOD'
main;serve_request;parse 40
main;serve_request;respond 20
main;idle 10
EOD
cat >"$T/b.folded" <<'EOD'
main;serve_request;parse 10
main;serve_request;respond 20
main;gc 30
EOD
"$SMOLDER" convert "$T/a.folded" -o "$T/a.pb.gz"

S="$T/store"
start_serve main --store "$S"
check "serve listens on a free loopback port ($URL)" [ -n "$URL" ]

# ---- ingest: folded, gzipped pprof, a form ----
code=$(http POST '/ingest?name=shop.cpu{env=prod,region=eu}&sampleRate=100' --data-binary @"$T/a.folded")
check "folded ingest answers 200 ($code)" [ "$code" = 200 ]
check "... naming the window and the samples" sh -c 'grep -q "\"samples\":70" "$1" && grep -q "\"window\":\"2" "$1"' _ "$T/body"
code=$(http POST "/ingest?name=shop{env=staging}&from=$(($(date +%s) - 20))&until=$(($(date +%s) - 10))&format=pprof" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$T/a.pb.gz")
check "gzipped pprof ingest answers 200 ($code)" [ "$code" = 200 ]
code=$(http POST '/ingest?name=shop{env=dev}' -F profile=@"$T/b.folded")
check "a multipart form with a 'profile' file answers 200 ($code)" [ "$code" = 200 ]
form_window=$(json 'd["window"]')

http GET /api/services >/dev/null
check "services lists the service without its .cpu suffix" sh -c 'grep -q "\"name\":\"shop\",\"windows\":3" "$1"' _ "$T/body"
http GET '/api/labels?query=shop' >/dev/null
check "labels lists every value of env" sh -c 'grep -q "\"env\":\[\"dev\",\"prod\",\"staging\"\]" "$1"' _ "$T/body"
check "... and region" grep -q '"region":\["eu"\]' "$T/body"

# ---- queries: merged profiles in every format ----
code=$(http GET '/api/profile?query=shop{env=prod}&format=folded')
check "a folded query answers 200 ($code)" [ "$code" = 200 ]
check "... with only env=prod's samples, as counts" \
	sh -c 'grep -qx "main;serve_request;parse 40" "$1" && ! grep -q "main;gc" "$1"' _ "$T/body"
http GET '/api/profile?query=shop&format=pprof' >/dev/null
cp "$T/body" "$T/merged.pb.gz"
if command -v go >/dev/null; then
	go tool pprof -raw "$T/merged.pb.gz" >"$T/raw" 2>"$T/raw.err"
	check "go tool pprof reads the merged pprof" grep -q 'serve_request' "$T/raw"
	check "... and its total is the three uploads' (70 + 70 + 60 samples)" \
		sh -c 'go tool pprof -sample_index=samples -top "$1" 2>/dev/null | grep -q "of 200 total"' _ "$T/merged.pb.gz"
else
	bad "go is not installed (make deps)"
fi
http GET '/api/profile?query=shop&format=json' >/dev/null
check "the page's JSON has the tree and the window count" \
	sh -c 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); f=d[\"flame\"]; assert d[\"windows\"]==3 and f[\"names\"][0]==\"all\" and len(f[\"nodes\"])%4==0 and f[\"nodes\"][3]==f[\"total\"]" "$1"' _ "$T/body"
http GET '/api/profile?query=shop&format=svg' >/dev/null
check "an SVG flame graph that parses as XML" xmllint --noout "$T/body"
code=$(http GET "/api/diff?window=$form_window&base_query=shop{env=prod}&format=json")
check "a diff of a window against a selection answers 200 ($code)" [ "$code" = 200 ]
check "... with both totals and the frames of both sides" \
	sh -c 'python3 -c "
import json,sys
f=json.load(open(sys.argv[1]))[\"flame\"]
n=f[\"names\"]; v=f[\"nodes\"]
rows={n[v[i+1]]:(v[i+3],v[i+4]) for i in range(0,len(v),5)}
assert f[\"total\"]==600000000 and f[\"baseTotal\"]==700000000
assert rows[\"gc\"]==(300000000,0) and rows[\"idle\"]==(0,100000000)
" "$1"' _ "$T/body"
http GET "/api/timeline?query=shop&from=now-5m&points=10" >/dev/null
check "the timeline counts the samples of the range" \
	sh -c 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d[\"samples\"])==10 and sum(d[\"samples\"])==200" "$1"' _ "$T/body"
http GET / >/dev/null
check "the page is served from memory" grep -qi '<!doctype html>' "$T/body"

# ---- merged sums of buckets of time equal window-by-window merges ----
# 3 hosts x 70 windows of 10 s from a 10-minute boundary 3 hours ago: one
# whole 10-minute bucket, whole minutes, and ragged edges.
t0=$(( ($(date +%s) - 10800) / 600 * 600 ))
python3 - "$URL" "$t0" <<'EOF2' >"$T/gen.out"
import random, sys, urllib.request
url, t0 = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
funcs = ["f%d" % i for i in range(300)]
n = 0
for h in range(3):
    for w in range(70):
        lines = {}
        for _ in range(40):
            depth = rnd.randint(2, 12)
            st = "main;" + ";".join(rnd.choice(funcs[:30 + depth * 20]) for _ in range(depth))
            lines[st] = lines.get(st, 0) + rnd.randint(1, 9)
        body = "".join("%s %d\n" % kv for kv in lines.items()).encode()
        q = "name=roll%%7Bhost%%3Dh%d%%7D&from=%d&until=%d" % (h, t0 + 10 * w, t0 + 10 * w + 10)
        r = urllib.request.urlopen(urllib.request.Request(url + "/ingest?" + q, data=body))
        n += r.status == 200
print(n)
EOF2
check "210 windows for the rollup check ($(cat "$T/gen.out"))" [ "$(cat "$T/gen.out")" = 210 ]
for sel in "roll" "roll{host=h1}"; do
	lbl=""; [ "$sel" = "roll{host=h1}" ] && lbl="--label host=h1"
	# shellcheck disable=SC2086
	"$SMOLDER" query --store "$S" --from "@$t0" --until "@$((t0 + 690))" \
		--label service_name=roll $lbl -o "$T/raw.folded" 2>/dev/null
	curl -s -g "$URL/api/profile?query=$sel&from=$t0&until=$((t0 + 690))&format=folded" >"$T/api1.folded"
	curl -s -g "$URL/api/profile?query=$sel&from=$t0&until=$((t0 + 690))&format=folded" >"$T/api2.folded"
	check "$sel: the merged sums equal smolder query's window-by-window merge ($(wc -l <"$T/raw.folded") stacks)" \
		sh -c '[ -s "$1" ] && cmp -s "$1" "$2" && cmp -s "$1" "$3"' _ "$T/raw.folded" "$T/api1.folded" "$T/api2.folded"
done
curl -s -g "$URL/api/profile?query=roll&from=$t0&until=$((t0 + 690))&format=json" >"$T/body"
check "... and the json view counts every window" \
	sh -c 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"windows\"]==207, d[\"windows\"]" "$1"' _ "$T/body"

# ---- upload: a profile past Pyroscope's 16,000 samples goes in parts ----
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "main;work;f%d 1\n", i }' >"$T/big.folded"
"$SMOLDER" upload "$T/big.folded" --url "$URL" --name 'big{host=h1}' 2>"$T/up.err"
check "upload sends a 20,000-sample profile in parts" grep -q "(2 parts)" "$T/up.err"
http GET '/api/profile?query=big&format=folded' >/dev/null
check "... all of which arrive" [ "$(count_total "$T/body")" -eq 20000 ]
"$SMOLDER" upload "$T/a.folded" --url "http://127.0.0.1:1" 2>"$T/up.err"
check "upload to a closed port fails naming it" sh -c '[ $? -ne 0 ] || true; grep -q "127.0.0.1:1" "$1"' _ "$T/up.err"

# ---- a slow reader holds only its own connection ----
curl -s -g --limit-rate 1k -o "$T/slow.folded" "$URL/api/profile?query=big&format=folded" &
slow=$!
sleep 0.5
code=$(http POST '/ingest?name=fast' --data-binary @"$T/a.folded")
running=0; kill -0 "$slow" 2>/dev/null && running=1
check "ingest answers ($code) while a slow reader is still downloading" \
	[ "$code" = 200 -a "$running" = 1 ]
kill "$slow" 2>/dev/null; wait "$slow" 2>/dev/null

# ---- bad input: the right status, one line of reason, the store intact ----
before=$(windows)
printf 'main;f notanumber\n' >"$T/bad.folded"
head -c 100 "$T/a.pb.gz" >"$T/trunc.pb.gz"
head -c 4096 /dev/urandom >"$T/noise"
expect() { # DESCRIPTION STATUS METHOD PATH [curl args]
	d=$1; want=$2; shift 2
	got=$(http "$@")
	check "$d: $want ($got: $(head -c 120 "$T/body"))" [ "$got" = "$want" ]
}
expect "a folded line with a bad count" 400 POST '/ingest?name=x' --data-binary @"$T/bad.folded"
expect "truncated gzip" 400 POST '/ingest?name=x' --data-binary @"$T/trunc.pb.gz"
expect "random bytes" 400 POST '/ingest?name=x' --data-binary @"$T/noise"
expect "an empty body" 400 POST '/ingest?name=x' --data-binary ''
expect "no name" 400 POST '/ingest' --data-binary @"$T/a.folded"
expect "a name with an unclosed brace" 400 POST '/ingest?name=x{a=b' --data-binary @"$T/a.folded"
expect "a label name with a space" 400 POST '/ingest?name=x{a%20b=c}' --data-binary @"$T/a.folded"
expect "invalid UTF-8 in a label" 400 POST '/ingest?name=x{a=%ff}' --data-binary @"$T/a.folded"
expect "format=jfr" 400 POST '/ingest?name=x&format=jfr' --data-binary @"$T/a.folded"
expect "format=pprof with a folded body" 400 POST '/ingest?name=x&format=pprof' --data-binary @"$T/a.folded"
expect "from after until" 400 POST '/ingest?name=x&from=2000&until=1000' --data-binary @"$T/a.folded"
expect "an absurd sampleRate" 400 POST '/ingest?name=x&sampleRate=-5' --data-binary @"$T/a.folded"
expect "a form without the profile field" 400 POST '/ingest?name=x' -F other=@"$T/a.folded"
expect "GET /ingest" 405 GET '/ingest'
expect "POST to a query" 405 POST '/api/profile' --data-binary x
expect "a bad time in a query" 400 GET '/api/profile?from=yesterday-ish'
expect "from after until in a query" 400 GET '/api/profile?from=now&until=now-1h'
expect "absurd points" 400 GET '/api/timeline?points=99999999'
expect "an unknown format" 400 GET '/api/profile?format=exe'
long=$(head -c 5000 /dev/zero | tr '\0' a)
expect "a 5,000-byte name" 400 POST "/ingest?name=$long" --data-binary @"$T/a.folded"
check "... and none of them wrote a window" [ "$(windows)" -eq "$before" ]

# Paths never reach the filesystem.
for p in '/../../../../etc/passwd' '/%2e%2e/%2e%2e/etc/passwd' '/..%2f..%2fetc%2fpasswd' \
	'/app.js/../../../etc/passwd' '/api/../../etc/passwd' '//etc/passwd' '/index.html%00.js'; do
	code=$(curl -s -o "$T/body" -w '%{http_code}' --path-as-is "$URL$p")
	check "path $p: 404 ($code)" sh -c '[ "$1" = 404 ] && ! grep -q "root:" "$2"' _ "$code" "$T/body"
done
http GET '/api/profile?window=../../../../etc/passwd&format=folded' >/dev/null
check "window=../../etc/passwd selects nothing" [ ! -s "$T/body" ]
stop_serve
check "SIGTERM stops the server with status 0" [ "$SERVE_RC" -eq 0 ]
check "... and it sums up what it did" grep -q "profiles ingested" "$T/main.log"

# ---- limits: body size, gzip bombs ----
start_serve limits --store "$T/limits" --max-body 64K
head -c 100000 /dev/zero | tr '\0' 'a' | sed 's/a\{99\}/&\n/g' | awk '{ print "main;" $0 " 1" }' >"$T/big100k.folded"
expect "a body over --max-body" 413 POST '/ingest?name=x' --data-binary @"$T/big100k.folded"
awk 'BEGIN { for (i = 0; i < 300000; i++) print "main;a;b;c;d;e;f;g 1" }' | gzip -9 >"$T/bomb.gz"
check "(the bomb is small: $(wc -c <"$T/bomb.gz") bytes)" [ "$(wc -c <"$T/bomb.gz")" -lt 65536 ]
expect "a gzip bomb past 8 x --max-body decompressed" 413 POST '/ingest?name=x' --data-binary @"$T/bomb.gz"
check "... naming the cap it passed (8 x 64K)" grep -q "expands past 512 KiB" "$T/body"
stop_serve

# ---- the token ----
printf 's3cret-token-1234\n' >"$T/token"
start_serve token --store "$T/tok" --token-file "$T/token"
expect "ingest without a token" 401 POST '/ingest?name=x' --data-binary @"$T/a.folded"
expect "ingest with a wrong token" 401 POST '/ingest?name=x' -H 'Authorization: Bearer s3cret-token-1235' --data-binary @"$T/a.folded"
expect "ingest with a token that is a prefix" 401 POST '/ingest?name=x' -H 'Authorization: Bearer s3cret' --data-binary @"$T/a.folded"
expect "ingest with the token" 200 POST '/ingest?name=x' -H 'Authorization: Bearer s3cret-token-1234' --data-binary @"$T/a.folded"
"$SMOLDER" upload "$T/a.folded" --url "$URL" --token-file "$T/token" 2>"$T/up.err"
check "upload --token-file is accepted" grep -q "sent" "$T/up.err"
"$SMOLDER" upload "$T/a.folded" --url "$URL" 2>"$T/up.err"
check "upload without the token says 401" grep -q "answered 401" "$T/up.err"
stop_serve

# ---- concurrent uploads: every accepted one readable, none twice ----
start_serve load --store "$T/load"
# (Shorter under the sanitizers, where each request costs more.)
end=$(($(date +%s) + 4 - 2 * SAN))
clients=""
for c in 1 2 3 4; do
	(
		n=0
		while [ "$(date +%s)" -lt "$end" ]; do
			n=$((n + 1))
			code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$T/a.folded" \
				"$URL/ingest?name=load%7Bu%3Dc$c-$n%7D")
			[ "$code" = 200 ] && echo "c$c-$n"
		done
	) >"$T/accepted.$c" &
	clients="$clients $!"
done
for c in $clients; do wait "$c"; done
cat "$T/accepted".* | sort >"$T/accepted"
accepted=$(wc -l <"$T/accepted")
curl -s "$URL/api/windows?from=0&query=load" >"$T/w.json"
python3 -c '
import json,sys
w=json.load(open(sys.argv[1]))["windows"]
for e in w:
    print([l[2:] for l in e["labels"] if l.startswith("u=")][0])
' "$T/w.json" | sort >"$T/stored"
check "concurrent uploads: $accepted accepted" [ "$accepted" -gt $((20 - 15 * SAN)) ]
check "... every accepted upload is stored, none twice" cmp -s "$T/accepted" "$T/stored"
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$SERVE_PID/status")
check "... and the server's peak RSS stays bounded (${hwm} kB)" [ "${hwm:-999999}" -lt $((150000 + 350000 * SAN)) ]
http GET "/api/profile?query=load&from=0&format=folded" >/dev/null
check "... and the merged profile holds them all" [ "$(count_total "$T/body")" -eq $((accepted * 70)) ]
stop_serve
"$SMOLDER" query --store "$T/load" --check >"$T/check" 2>&1
check "the store checks out afterwards" grep -q "; 0 problems;" "$T/check"

# ---- a store another process holds (a running agent): read-only ----
mkdir -p "$T/held"
cp -r "$S/." "$T/held/"
# One process holds the lock (flock(1) would leave its child holding it,
# and the script's output open).
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(60)' \
	"$T/held/lock" >/dev/null 2>&1 &
HOLDER=$!
BG_PIDS="$BG_PIDS $HOLDER"
wait_for sh -c '! flock -n "$1" true' _ "$T/held/lock"
start_serve held --store "$T/held"
check "a held store is served read-only, saying so" grep -q "read-only" "$T/held.log"
expect "... ingest answers 503" 503 POST '/ingest?name=x' --data-binary @"$T/a.folded"
http GET '/api/services?from=0' >/dev/null
check "... queries work" grep -q '"name":"shop"' "$T/body"
stop_serve
kill "$HOLDER" 2>/dev/null

"$SMOLDER" serve --listen nonsense 2>"$T/err"
check "a bad --listen is an error naming it" grep -q "cannot listen on 'nonsense'" "$T/err"
"$SMOLDER" serve --store "$T/x" --token-file "$T/nonexistent" 2>"$T/err"
check "a missing token file is an error naming it" grep -q "nonexistent" "$T/err"

finish
