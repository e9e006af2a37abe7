# Everything that can be lost is counted in the summary and, where the
# sample survives, visible in the profile.
. "$(dirname "$0")/lib.sh"
need_bpf

# summary_count FILE NAME: the number after NAME in the summary line.
summary_count() {
	sed -nE "s/.*[;,] $2 ([0-9]+).*/\\1/p" "$1" | head -1
}

# Stacks deeper than the walker's limit (256 frames) are truncated.
bg "$W/deep" 300 60 # long enough for the recordings, even under ASan
sleep 0.2
"$SMOLDER" record -p "$BG" -F 999 -d 2 -o "$T/deep.folded" 2>"$T/err"
n=$(summary_count "$T/err" "truncated stacks")
check "truncated stacks are counted (${n:-none})" [ "${n:-0}" -gt 100 ]
t=$(count_matching "$T/deep.folded" "^deep;\\[truncated\\];recurse;")
check "... and shown with a [truncated] root frame ($t)" [ "$t" -gt 100 ]
check "... under which the leaf is intact" grep -q "^deep;\[truncated\];.*;recurse;leaf " "$T/deep.folded"
check "shallow stacks are whole" grep -q "^deep;.*main;run;recurse;recurse;leaf " "$T/deep.folded"
# With frame pointers, the kernel's limit (127 frames) cuts them sooner.
"$SMOLDER" record -p "$BG" -F 999 -d 1 --unwind fp -o "$T/deepfp.folded" 2>"$T/err"
n=$(summary_count "$T/err" "truncated stacks")
t=$(count_matching "$T/deepfp.folded" "^deep;\\[truncated\\];recurse;")
check "--unwind fp: truncated at 127 frames, counted (${n:-none}) and shown ($t)" \
	awk_true "n > 200 && t > 200" -v n="${n:-0}" -v t="$t"

# A stack map too small for the distinct stacks: stacks lost, counted, and
# the samples kept under a [user stack lost] frame.
"$SMOLDER" record -p "$BG" -F 999 -d 1 --max-stacks 64 -o "$T/small.folded" 2>"$T/err"
n=$(summary_count "$T/err" "stack map full")
l=$(count_matching "$T/small.folded" "^deep;\\[user stack lost\\]$")
check "a full stack map is counted (${n:-none})" [ "${n:-0}" -gt 0 ]
check "... and its samples kept as [user stack lost] ($l)" [ "$l" -gt 0 ]
total=$(count_total "$T/small.folded")
check "... so the samples still add up ($total)" awk_true "t > 800" -v t="$total"

# A counts map too small: samples dropped, counted: what is kept and what
# is dropped add up to the samples taken (-v says how many).
"$SMOLDER" record -v -p "$BG" -F 999 -d 1 --max-entries 64 -o "$T/few.folded" 2>"$T/err"
n=$(summary_count "$T/err" "counts map full")
taken=$(sed -nE 's/.* ([0-9]+) samples taken:.*/\1/p' "$T/err")
check "a full counts map is counted (${n:-none})" [ "${n:-0}" -gt 0 ]
total=$(count_total "$T/few.folded")
check "... and recorded + dropped = all samples ($total + ${n:-0} of ${taken:-?})" \
	awk_true "t + n == a && a > 400" -v t="$total" -v n="${n:-0}" -v a="${taken:-0}"
check "... with the summary's sample count equal to the file's" \
	grep -q "^smolder record: $total samples" "$T/err"
kill "$BG" 2>/dev/null

# A clean run reports no drops at all.
bg "$W/ratio" 4
sleep 0.2
"$SMOLDER" record -p "$BG" -F 199 -d 1 -o "$T/clean.folded" 2>"$T/err"
kill "$BG" 2>/dev/null
check "a clean run lists no drops" grep -Eq "^smolder record: .*'$T/clean.folded'\$" "$T/err"

finish
