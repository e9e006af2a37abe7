# Bad input and a hostile system: each gets one clear line and a non-zero
# exit, no output file is left half-written, and nothing hangs.
. "$(dirname "$0")/lib.sh"
need_bpf

# expect_error RC PATTERN COMMAND...: exit status RC, stderr matches PATTERN.
expect_error() {
	want=$1; pat=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -Eq -- "$pat" "$T/err"; then
		ok "exit $rc: $(head -1 "$T/err")"
	else
		bad "$*: exit $rc (wanted $want), stderr: $(cat "$T/err")"
	fi
}

# Not root: a user without CAP_BPF/CAP_PERFMON is told to use sudo.
cp "$SMOLDER" "$T/smolder" && chmod 755 "$T" "$T/smolder"
expect_error 1 "needs root.*CAP_BPF.*sudo" \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$T/smolder" record -d 1 -o "$T/nobody.folded"
check "nothing written when not root" [ ! -e "$T/nobody.folded" ]

# A kernel without BTF, simulated by hiding /sys/kernel/btf in a private
# mount namespace.
if unshare -m true 2>/dev/null; then
	expect_error 1 "no BTF.*CONFIG_DEBUG_INFO_BTF" unshare -m sh -c \
		'mount -t tmpfs none /sys/kernel/btf && exec "$0" record -d 1 -o "$1"' \
		"$SMOLDER" "$T/nobtf.folded"
else
	bad "cannot create a mount namespace to hide BTF"
fi

# A pid that does not exist.
expect_error 1 "no process with pid 1073741800" \
	"$SMOLDER" record -p 1073741800 -d 1 -o "$T/nopid.folded"
check "nothing written for a missing pid" [ ! -e "$T/nopid.folded" ]

# Unwritable outputs fail before sampling starts (well before -d 30 ends).
start=$(date +%s)
expect_error 1 "cannot write '/nonexistent/dir/x.folded'.*No such file" \
	"$SMOLDER" record -d 30 -o /nonexistent/dir/x.folded
mkdir "$T/dir.folded"
expect_error 1 "cannot write '$T/dir.folded': it is a directory" \
	"$SMOLDER" record -d 30 -o "$T/dir.folded"
mkdir "$T/ro" && chmod 555 "$T/ro"
expect_error 1 "cannot write '$T/ro/x.folded'" \
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=+bpf,+perfmon --ambient-caps=+bpf,+perfmon \
	"$T/smolder" record -d 30 -o "$T/ro/x.folded"
check "bad outputs fail at once" [ $(($(date +%s) - start)) -lt 10 ]

# A command that cannot run exits 127, like a shell.
expect_error 127 "cannot run 'no-such-command-xyz'" \
	"$SMOLDER" record -d 5 -o "$T/nocmd.folded" -- no-such-command-xyz
check "nothing written when the command cannot run" [ ! -e "$T/nocmd.folded" ]

# A target that exits during the recording ends it early, with its samples.
bg "$W/ratio" 1
start=$(date +%s)
"$SMOLDER" record -p "$BG" -F 499 -d 30 -o "$T/exits.folded" 2>"$T/err"
rc=$?
check "a target that exits ends the recording (exit $rc)" [ "$rc" -eq 0 ]
check "... well before -d" [ $(($(date +%s) - start)) -lt 10 ]
check "... and its samples are written" grep -q "hot_a" "$T/exits.folded"

# A frequency the kernel refuses (it lowers perf_event_max_sample_rate by
# itself when sampling interrupts run long).
rate=$(cat /proc/sys/kernel/perf_event_max_sample_rate)
at_exit "echo $rate >/proc/sys/kernel/perf_event_max_sample_rate"
echo 500 >/proc/sys/kernel/perf_event_max_sample_rate
expect_error 1 "-F 999 exceeds kernel.perf_event_max_sample_rate \(500\)" \
	"$SMOLDER" record -F 999 -d 1 -o "$T/rate.folded"
echo "$rate" >/proc/sys/kernel/perf_event_max_sample_rate
check "nothing written when the rate is refused" [ ! -e "$T/rate.folded" ]

# No temporary files are left behind by any of the above.
check "no temporary files left" sh -c '! ls -A "$1" | grep -q "^\.[^.]"' _ "$T"

finish
