# Shared by the tests/cli/t-*.sh scripts (POSIX sh). Each script sources this,
# runs checks, and ends with `finish`, which prints
# "<script>: N passed, N failed" and sets the exit status.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SMOLDER=${SMOLDER:-$ROOT/smolder}
W="$ROOT/build/workloads"
NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/smolder-$NAME.XXXXXX")
passes=0
fails=0
BG_PIDS=""
AT_EXIT=":"

cleanup() {
	for p in $BG_PIDS; do kill -9 "$p" 2>/dev/null; done
	eval "$AT_EXIT"
	rm -rf "$T"
}

# at_exit COMMAND: run COMMAND (a shell string) when the script ends.
at_exit() { AT_EXIT="$AT_EXIT; $1"; }
trap cleanup EXIT INT TERM

ok() { passes=$((passes + 1)); echo "  ok   $*"; }
bad() { fails=$((fails + 1)); echo "  FAIL $*"; }

# check DESCRIPTION COMMAND...: pass if the command succeeds.
check() {
	desc=$1; shift
	if "$@"; then ok "$desc"; else bad "$desc"; fi
}

# Start a command in the background and remember it for cleanup; its pid
# is in $BG.
bg() {
	"$@" &
	BG=$!
	BG_PIDS="$BG_PIDS $BG"
}

# Say loudly that this script cannot run here, and why, then stop.
skip_all() {
	echo "!!! SKIP $NAME: $* !!!" >&2
	echo "$NAME: skipped: $*"
	exit 77
}

# Tests that sample need root, a kernel with BTF, and BPF perf_event
# programs. Skip only when the kernel truly lacks them.
need_bpf() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root to load BPF programs"
	[ -r /sys/kernel/btf/vmlinux ] ||
		skip_all "this kernel has no BTF (/sys/kernel/btf/vmlinux)"
}

# Sum of counts over the folded lines of FILE that match the ERE PATTERN.
# The pattern goes through the environment, not -v, whose escapes gawk
# and mawk read differently ("\[" is "[" to gawk, "\[" to mawk).
count_matching() {
	PAT="$2" awk '{ n = $NF; sub(/ [0-9]+$/, ""); if ($0 ~ ENVIRON["PAT"]) s += n }
		END { printf "%.0f\n", s }' "$1"
}

# Total count in a folded FILE.
count_total() {
	awk '{ s += $NF } END { printf "%.0f\n", s }' "$1"
}

# Every line of FILE is "frames count" with a positive count.
well_formed_folded() {
	[ -s "$1" ] && awk '!/^[^ ].* [0-9]+$/ || $NF <= 0 { bad = 1 }
		END { exit bad }' "$1"
}

# floating-point test: awk_true "EXPR" with variables passed as -v.
awk_true() {
	expr=$1; shift
	awk "$@" "BEGIN { exit !($expr) }"
}

# ---- the agent (t-agent, t-push) ----

# Start the agent with ARGS in the background, logging to $T/$1.log; its
# pid is in $AGENT. Waits until it samples.
start_agent() {
	log=$1; shift
	"$SMOLDER" agent "$@" 2>"$T/$log.log" &
	AGENT=$!
	BG_PIDS="$BG_PIDS $AGENT"
	tries=0
	while ! grep -q "sampling" "$T/$log.log" 2>/dev/null; do
		tries=$((tries + 1))
		[ $tries -gt 300 ] && break
		kill -0 "$AGENT" 2>/dev/null || break
		sleep 0.1
	done
}

# Stop it with SIGTERM; its exit status is in $AGENT_RC (and its log is
# shown when that is not 0).
stop_agent() {
	kill -TERM "$AGENT"
	wait "$AGENT"
	AGENT_RC=$?
	if [ "$AGENT_RC" -ne 0 ]; then
		echo "  (agent exited $AGENT_RC; its log:)"
		tail -30 "$T/$log.log"
	fi
}

# Print a field of a store's status.json ("a.b" for nested).
status_field() {
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1] + "/status.json"))
for k in sys.argv[2].split("."): d = d[k]
print(d)' "$1" "$2"
}

# index_eval STORE EXPR: a python expression over the store's index
# entries `w` (sorted by start: file, start, end, bytes, samples, labels),
# printed; index_check: the same, which must hold.
index_eval() {
	python3 -c 'import json,sys
w = sorted((json.loads(l) for l in open(sys.argv[1] + "/index") if l.strip()),
           key=lambda e: e["start"])
print(eval(sys.argv[2]))' "$1" "$2"
}

index_check() {
	[ "$(index_eval "$1" "bool($2)")" = True ]
}

# Wait up to 10 s for COMMAND to succeed (the agent answers a signal after
# writing its window, slower under the sanitizers).
wait_for() {
	n=0
	until "$@" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 100 ] && return 1
		sleep 0.1
	done
}

finish() {
	echo "$NAME: $passes passed, $fails failed"
	[ "$fails" -eq 0 ]
}
