# Real sampling of real workloads with known shapes.
. "$(dirname "$0")/lib.sh"
need_bpf

# -p on a workload whose two hot functions share the CPU 3:1 by construction.
bg "$W/ratio" 8
sleep 0.3
"$SMOLDER" record -p "$BG" -F 999 -d 3 -o "$T/ratio.folded" 2>"$T/err"
rc=$?
kill "$BG" 2>/dev/null
check "record -p exits 0" [ "$rc" -eq 0 ]
check "the output is well-formed folded stacks" well_formed_folded "$T/ratio.folded"
check "the summary line names samples and the output" \
	grep -Eq "^smolder record: [0-9]+ samples, 1 process, 3\.[0-9]+ s on [0-9]+ CPUs at 999 Hz -> '$T/ratio.folded'" "$T/err"
total=$(count_total "$T/ratio.folded")
a=$(count_matching "$T/ratio.folded" "^ratio;(.*;)?main;run_workload;hot_a$")
b=$(count_matching "$T/ratio.folded" "^ratio;(.*;)?main;run_workload;hot_b$")
echo "  samples: total $total, hot_a $a, hot_b $b"
# One CPU at 999 Hz for 3 s: about 3000 samples.
check "about F x seconds samples ($total)" awk_true "t > 2400 && t < 3300" -v t="$total"
check "stacks run main -> run_workload -> hot_* ($a + $b of $total)" \
	awk_true "(a + b) >= 0.95 * t" -v a="$a" -v b="$b" -v t="$total"
check "hot_a : hot_b is 3:1 within 15% ($a:$b)" \
	awk_true "b > 0 && a / b > 2.55 && a / b < 3.45" -v a="$a" -v b="$b"
check "only the target process is in the profile" \
	sh -c '! grep -v "^ratio;" "$1"' _ "$T/ratio.folded"

# A syscall-heavy workload: the kernel's write path under the user frames.
bg "$W/syscalls" 8
sleep 0.3
"$SMOLDER" record -p "$BG" -F 999 -d 2 -o "$T/sys.folded" 2>"$T/err"
kill "$BG" 2>/dev/null
total=$(count_total "$T/sys.folded")
k=$(count_matching "$T/sys.folded" "main;write_loop;do_write;.*_\[k\]")
w=$(count_matching "$T/sys.folded" "main;write_loop;do_write;.*(vfs_write|ksys_write)_\[k\]")
echo "  samples: total $total, in the kernel $k, in the write path $w"
check "most samples are in the kernel, under do_write ($k of $total)" \
	awk_true "k > 0.5 * t" -v k="$k" -v t="$total"
check "the write path shows (vfs_write/ksys_write: $w)" [ "$w" -gt 50 ]
# Root to leaf: once a line reaches the kernel it stays there.
check "kernel frames are leafward of user frames" awk '{
		sub(/ [0-9]+$/, ""); n = split($0, f, ";"); k = 0
		for (i = 2; i <= n; i++) {
			if (f[i] ~ /_\[k\]$/) k = 1
			else if (k && f[i] != "[truncated]") bad = 1
		}
	} END { exit bad }' "$T/sys.folded"

# --no-user and --no-kernel leave out their half.
bg "$W/syscalls" 4
sleep 0.2
"$SMOLDER" record --no-kernel -p "$BG" -F 999 -d 1 -o "$T/nok.folded" 2>/dev/null
"$SMOLDER" record --no-user -p "$BG" -F 999 -d 1 -o "$T/nou.folded" 2>/dev/null
kill "$BG" 2>/dev/null
check "--no-kernel: no kernel frames" sh -c '[ -s "$1" ] && ! grep -q "_\[k\]" "$1"' _ "$T/nok.folded"
check "--no-user: no user frames" sh -c '[ -s "$1" ] && ! grep -q "do_write" "$1" && grep -q "_\[k\]" "$1"' _ "$T/nou.folded"

# -p samples every thread of the process, each under its own name.
bg "$W/threads" 2 8
sleep 0.3
"$SMOLDER" record -p "$BG" -F 499 -d 2 -o "$T/thr.folded" 2>/dev/null
kill "$BG" 2>/dev/null
for i in 0 1; do
	n=$(count_matching "$T/thr.folded" "^spinner-$i;.*thread_main;thread_spin$")
	check "thread spinner-$i is sampled under its name ($n)" [ "$n" -gt 300 ]
done

# -- CMD: start it, follow its children, return its exit status.
"$SMOLDER" record -F 499 -o "$T/cmd.folded" -- "$W/ratio" 1.5 2>"$T/err"
rc=$?
check "record -- CMD exits with CMD's status 0 ($rc)" [ "$rc" -eq 0 ]
check "... and profiles it" grep -q "^ratio;.*main;run_workload;hot_a " "$T/cmd.folded"
"$SMOLDER" record -o "$T/exit7.folded" -- sh -c 'exit 7' 2>/dev/null
check "record -- sh -c 'exit 7' exits 7" [ $? -eq 7 ]
"$SMOLDER" record -o "$T/kill.folded" -- sh -c 'kill -TERM $$' 2>/dev/null
check "a command killed by SIGTERM gives 143" [ $? -eq 143 ]
"$SMOLDER" record -F 499 -o "$T/child.folded" -- sh -c "\"$W/ratio\" 1.5; true" 2>"$T/err-child" || cat "$T/err-child"
check "children of CMD are profiled" grep -q "^ratio;.*main;run_workload;hot_a " "$T/child.folded"
check "... and nothing else (but the command's process before its exec)" sh -c '! grep -vE "^(ratio|sh|smolder[^;]*);" "$1"' _ "$T/child.folded"

# No -d: SIGINT and SIGTERM stop sampling and still write complete output.
bg "$W/ratio" 8
wl=$BG
for sig in INT TERM; do
	"$SMOLDER" record -p "$wl" -F 499 -o "$T/sig-$sig.folded" 2>"$T/err-$sig" &
	rec=$!
	sleep 1.5
	kill -"$sig" "$rec"
	wait "$rec"
	rc=$?
	check "SIG$sig stops the recording with exit 0 ($rc)" [ "$rc" -eq 0 ]
	check "... and the output is complete" sh -c \
		'well_formed_folded() { [ -s "$1" ] && awk "!/^[^ ].* [0-9]+\$/ { b = 1 } END { exit b }" "$1"; }
		 well_formed_folded "$1" && grep -q hot_a "$1"' _ "$T/sig-$sig.folded"
	check "... with its summary" grep -q "samples, 1 process," "$T/err-$sig"
done
kill "$wl" 2>/dev/null

# -a (the default): every process, and the idle task under its own name.
# (A tickless kernel may take no samples at all on an idle CPU; this host
# is mostly idle here, so some CPU yields idle samples.)
"$SMOLDER" record -F 199 -d 1 -o "$T/idle.folded" 2>"$T/err"
check "record on an idle host exits 0" [ $? -eq 0 ]
check "the idle task is labelled [idle]" grep -q "^\[idle\];.*_\[k\] [0-9]*$" "$T/idle.folded"
check "no idle task under another name" sh -c '! grep -q "^swapper" "$1"' _ "$T/idle.folded"
bg "$W/ratio" 4
w1=$BG
bg "$W/syscalls" 4
sleep 0.2
"$SMOLDER" record -a -F 199 -d 2 -o "$T/all.folded" 2>"$T/err"
rc=$?
kill "$w1" "$BG" 2>/dev/null
check "record -a exits 0" [ "$rc" -eq 0 ]
check "both workloads are in the host profile" sh -c \
	'grep -q "^ratio;.*hot_a " "$1" && grep -q "^syscalls;.*do_write" "$1"' _ "$T/all.folded"
check "the summary counts at least 2 processes" \
	grep -Eq "samples, ([2-9]|[1-9][0-9]+) processes" "$T/err"

# Standard output as the destination.
bg "$W/ratio" 4
"$SMOLDER" record -p "$BG" -F 499 -d 1 -o - >"$T/stdout.folded" 2>/dev/null
kill "$BG" 2>/dev/null
check "-o - writes folded stacks to standard output" grep -q "hot_a" "$T/stdout.folded"

finish
