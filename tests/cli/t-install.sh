# make install honours PREFIX and DESTDIR, and the installed binary runs.
. "$(dirname "$0")/lib.sh"

make -C "$ROOT" --no-print-directory install DESTDIR="$T/root" PREFIX=/opt/sm >"$T/log" 2>&1
check "make install succeeds" [ $? -eq 0 ]
check "the binary lands in DESTDIR/PREFIX/bin" [ -x "$T/root/opt/sm/bin/smolder" ]
check "the installed binary runs" sh -c '"$1" --version | grep -q "^smolder "' _ "$T/root/opt/sm/bin/smolder"
U="$T/root/opt/sm/lib/systemd/system/smolder-agent.service"
check "the agent's systemd unit is installed" [ -f "$U" ]
check "the unit starts the installed binary with the installed config" \
	grep -qx 'ExecStart=/opt/sm/bin/smolder agent --config /etc/smolder/agent.conf' "$U"
check "the unit has no unreplaced placeholders" sh -c '! grep -q @ "$1"' _ "$U"
check "reload sends SIGHUP" grep -q '^ExecReload=/bin/kill -HUP \$MAINPID' "$U"
V="$T/root/opt/sm/lib/systemd/system/smolder-serve.service"
check "serve's systemd unit is installed, starting the installed binary" \
	grep -qx 'ExecStart=/opt/sm/bin/smolder serve --store /var/lib/smolder-serve --listen 127.0.0.1:4100' "$V"
check "... with no unreplaced placeholders" sh -c '! grep -q @ "$1"' _ "$V"
check "the config file is installed" [ -f "$T/root/etc/smolder/agent.conf" ]
# The config as shipped is one the agent accepts (it reads it before
# anything needs root; --status then finds no agent).
out=$("$T/root/opt/sm/bin/smolder" agent --config "$T/root/etc/smolder/agent.conf" --store "$T/nostore" --status 2>&1)
check "the shipped config parses" sh -c '! printf "%s" "$1" | grep -q "agent.conf:"' _ "$out"
echo "# a local change" >> "$T/root/etc/smolder/agent.conf"
make -C "$ROOT" --no-print-directory install DESTDIR="$T/root" PREFIX=/opt/sm >"$T/log" 2>&1
check "make install keeps an edited config" grep -q "a local change" "$T/root/etc/smolder/agent.conf"
make -C "$ROOT" --no-print-directory uninstall DESTDIR="$T/root" PREFIX=/opt/sm >"$T/log" 2>&1
check "make uninstall removes it" [ ! -e "$T/root/opt/sm/bin/smolder" ]
check "... and the units" [ ! -e "$U" -a ! -e "$V" ]

finish
