# Processes that come and go: each sample resolves against the image that
# took it, even when the process exited, exec'd, or mapped code late.
. "$(dirname "$0")/lib.sh"
need_bpf

# A process that starts after the recording and exits before its end.
"$SMOLDER" record -F 499 -d 2.5 -o "$T/short.folded" 2>"$T/err" &
rec=$!
sleep 0.5
"$W/ratio" 0.6
wait "$rec"
check "a short-lived process is resolved after it exited" \
	grep -q "^ratio;.*main;run_workload;hot_a " "$T/short.folded"
# (Frame-pointer stacks taken inside the dynamic loader, which has none,
# can hold garbage callers; the program's own stacks must be whole.)
check "... its stacks through main without unknown frames" \
	sh -c '! grep "^ratio;.*;main;" "$1" | grep "\[unknown\]"' _ "$T/short.folded"

# A binary deleted while it runs, gone before the recording ends.
cp "$W/ratio" "$T/victim"
"$SMOLDER" record -F 499 -d 2.5 -o "$T/deleted.folded" 2>"$T/err" &
rec=$!
sleep 0.3
"$T/victim" 1 &
victim=$!
sleep 0.4
rm -f "$T/victim"
wait "$victim"
wait "$rec"
check "a deleted binary is still resolved" \
	grep -q "^victim;.*main;run_workload;hot_a " "$T/deleted.folded"

# exec: the same pid runs two programs; each sample keeps its own image.
bg "$W/execer" 1 "$W/ratio" 1.5
"$SMOLDER" record -p "$BG" -F 499 -d 3 -o "$T/exec.folded" 2>"$T/err"
check "before exec: the first program's frames" \
	grep -q "^execer;.*main;before_exec " "$T/exec.folded"
check "after exec: the second program's frames" \
	grep -q "^ratio;.*main;run_workload;hot_a " "$T/exec.folded"
check "no sample is resolved against the wrong image" \
	sh -c '! grep -E "^execer;.*(hot_a|hot_b)|^ratio;.*before_exec" "$1"' _ "$T/exec.folded"

# Code mapped after the process was first sampled (dlopen).
bg "$W/dlopener" "$W/libplugin.so" 0.5 1.5
"$SMOLDER" record -p "$BG" -F 499 -d 3 -o "$T/dl.folded" 2>"$T/err"
check "code from a library loaded later is resolved" \
	grep -q "^dlopener;.*main;plugin_spin;plugin_leaf " "$T/dl.folded"
check "... as is the code before it" grep -q "^dlopener;.*main;before_dlopen " "$T/dl.folded"

# Several -p targets at once, and nothing else.
bg "$W/ratio" 3
a=$BG
bg "$W/syscalls" 3
b=$BG
"$SMOLDER" record -p "$a,$b" -F 299 -d 1 -o "$T/two.folded" 2>"$T/err"
check "-p A,B samples both" sh -c \
	'grep -q "^ratio;.*hot_a " "$1" && grep -q "^syscalls;.*do_write" "$1"' _ "$T/two.folded"
check "... and only them" sh -c '! grep -vE "^(ratio|syscalls);" "$1"' _ "$T/two.folded"
check "... counted as 2 processes" grep -q "samples, 2 processes" "$T/err"

finish
