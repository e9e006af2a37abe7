# make install honours PREFIX and DESTDIR, and the installed binary runs.
. "$(dirname "$0")/lib.sh"

make -C "$ROOT" --no-print-directory install DESTDIR="$T/root" PREFIX=/opt/sm >"$T/log" 2>&1
check "make install succeeds" [ $? -eq 0 ]
check "the binary lands in DESTDIR/PREFIX/bin" [ -x "$T/root/opt/sm/bin/smolder" ]
check "the installed binary runs" sh -c '"$1" --version | grep -q "^smolder "' _ "$T/root/opt/sm/bin/smolder"
make -C "$ROOT" --no-print-directory uninstall DESTDIR="$T/root" PREFIX=/opt/sm >"$T/log" 2>&1
check "make uninstall removes it" [ ! -e "$T/root/opt/sm/bin/smolder" ]

finish
