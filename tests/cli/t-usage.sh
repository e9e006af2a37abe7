# Help, version, and usage errors: one line naming the flag, exit 2.
# Needs no privileges: argument errors are found before anything else.
. "$(dirname "$0")/lib.sh"

out=$("$SMOLDER" --help); rc=$?
check "--help exits 0" [ "$rc" -eq 0 ]
check "--help lists record" sh -c 'echo "$1" | grep -q "^  record "' _ "$out"

out=$("$SMOLDER" --version); rc=$?
check "--version prints the version" sh -c '[ "$1" -eq 0 ] && echo "$2" | grep -Eq "^smolder [0-9]+\.[0-9]+\.[0-9]+$"' _ "$rc" "$out"

out=$("$SMOLDER" record --help); rc=$?
check "record --help exits 0" [ "$rc" -eq 0 ]
for flag in -a -p -F -d -o --no-kernel --no-user -- ; do
	check "record --help documents $flag" sh -c 'echo "$1" | grep -q -- "$2"' _ "$out" "$flag"
done

"$SMOLDER" >/dev/null 2>&1
check "no command exits 2" [ $? -eq 2 ]

# usage_error ARGS... EXPECTED-SUBSTRING: exit 2, exactly one line on
# stderr that contains the substring, nothing on stdout.
usage_error() {
	expect=$1; shift
	"$SMOLDER" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq 2 ] && [ ! -s "$T/out" ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
		grep -qF -- "$expect" "$T/err"; then
		ok "smolder $* -> exit 2: $(cat "$T/err")"
	else
		bad "smolder $*: exit $rc, stderr: $(cat "$T/err")"
	fi
}

usage_error "'--bogus'" record --bogus
usage_error "'-q'" record -q
usage_error "-F" record -F 0
usage_error "-F" record -F 10001
usage_error "-F" record -F abc
usage_error "-F" record -F -5
usage_error "'-F' needs a value" record -F
usage_error "-d" record -d 0
usage_error "-d" record -d soon
usage_error "-p" record -p abc
usage_error "-p" record -p 1,,x
usage_error "-p" record -p 0
usage_error "format of 'out.txt'" record -o out.txt
usage_error "--no-kernel and --no-user" record --no-kernel --no-user
usage_error "-a" record -a -p 1
usage_error "-p and a command" record -p 1 -- true
usage_error "--max-stacks" record --max-stacks 1
usage_error "unknown command 'recrod'" recrod
usage_error "'--nope'" --nope

# Values at the edges are accepted (the run then stops at the privilege
# check when not root, or samples for a moment when root).
"$SMOLDER" record -F 10000 -d 0.01 -o "$T/edge.folded" 2>"$T/err"
rc=$?
check "-F 10000 is accepted" [ "$rc" -ne 2 ]

finish
