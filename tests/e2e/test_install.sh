#!/usr/bin/env bash
# make install into a scratch root, as the README's systemd steps use it:
# paths and modes, an existing config kept, the unit verified by
# systemd-analyze (when present), and the installed binary and config
# working: check-config and stats with the config's paths moved into the
# scratch root, and serve starting with the key passed as systemd would.
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(basename "$(dirname "$BIN")")
R="$T/root"
install_into() {  # install_into ROOT PREFIX: quiet, outside the calling make's jobserver
	env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$REPO" install BUILD="$BUILD_DIR" \
		DESTDIR="$1" PREFIX="$2" >"$T/install.log" 2>&1
}

install_into "$R" /usr
check_eq "make install DESTDIR PREFIX=/usr: exit 0" "$?" 0
check_eq "binary in PREFIX/bin, 0755" "$(stat -c %a "$R/usr/bin/redactd")" 755
check_eq "unit where Debian expects it, 0644" "$(stat -c %a "$R/lib/systemd/system/redactd.service")" 644
check_eq "production config installed 0644" "$(stat -c %a "$R/etc/redactd/redactd.conf")" 644
check_eq "/etc/redactd is 0755" "$(stat -c %a "$R/etc/redactd")" 755
check "reference configs in the doc directory" test -f "$R/usr/share/doc/redactd/redactd.conf.example" -a -f "$R/usr/share/doc/redactd/redactd.conf.dist"
check "the unit points at the manual pages" grep -qx 'Documentation=man:redactd(8) man:redactd.conf(5) man:redactd-api(7)' "$R/lib/systemd/system/redactd.service"
check "no dev token in the installed config" bash -c "! grep -q '^\[token' '$R/etc/redactd/redactd.conf'"
check "the database is absolute, in the StateDirectory" grep -qx 'database = /var/lib/redactd/redactd.db' "$R/etc/redactd/redactd.conf"
check "the key is the unit's credential" grep -qx 'key_file = credential:master.key' "$R/etc/redactd/redactd.conf"
U="$R/lib/systemd/system/redactd.service"
check "ExecStart is the installed binary" grep -qx 'ExecStart=/usr/bin/redactd serve -c /etc/redactd/redactd.conf' "$U"
check "ExecStartPre runs check-config" grep -qx 'ExecStartPre=/usr/bin/redactd check-config -c /etc/redactd/redactd.conf' "$U"
check "the unit loads the key as a credential" grep -qx 'LoadCredential=master.key:/etc/redactd/master.key' "$U"
check "the unit makes /run/redactd for a unix socket" grep -qx 'RuntimeDirectory=redactd' "$U"
check "bash completion installed" test -f "$R/usr/share/bash-completion/completions/redactd"
for m in man8/redactd.8 man5/redactd.conf.5 man7/redactd-api.7; do
	check "man page $m installed 0644" test "$(stat -c %a "$R/usr/share/man/$m" 2>/dev/null)" = 644
done
if command -v systemd-analyze >/dev/null 2>&1; then
	# The unit names /usr/bin/redactd, and its Documentation= the manual
	# pages, which are in the scratch root only (verify runs man on them,
	# when man is installed).
	sed "s|/usr/bin/redactd|$R/usr/bin/redactd|g" "$U" > "$T/redactd.service"
	MANOPT=--man=yes; command -v man >/dev/null 2>&1 || MANOPT=--man=no
	check "systemd-analyze verify accepts the unit" bash -c "MANPATH='$R/usr/share/man' systemd-analyze verify $MANOPT '$T/redactd.service' 2>&1 | tee '$T/verify.log' | grep -q . && exit 1; exit 0"
	# Exposure on systemd's 0-10 scale; --threshold counts in tenths.
	EXPOSURE=$(systemd-analyze security --offline=yes "$T/redactd.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for redactd.service: \([0-9.]*\).*/\1/p')
	check "systemd-analyze security: exposure ${EXPOSURE:-?} <= 2.0" \
		systemd-analyze security --offline=yes --threshold=20 "$T/redactd.service"
else
	echo "ok - # SKIP systemd-analyze verify: systemd-analyze is not installed"; PASSED=$((PASSED + 1))
fi

echo "; edited by the operator" >> "$R/etc/redactd/redactd.conf"
install_into "$R" /usr
check "a second install keeps the operator's config" grep -q 'edited by the operator' "$R/etc/redactd/redactd.conf"
check "and says so" grep -q 'kept the existing' "$T/install.log"
install_into "$T/local" /usr/local
check "PREFIX=/usr/local: unit in /usr/local/lib/systemd/system" grep -qx 'ExecStart=/usr/local/bin/redactd serve -c /etc/redactd/redactd.conf' "$T/local/usr/local/lib/systemd/system/redactd.service"

# The installed config, with its absolute paths moved into the scratch
# root (as if / were $R). Before keygen it cannot start, and says why.
C="$R/etc/redactd/redactd.conf"
sed -i "s|^database = /var/lib/redactd/|database = $R/var/lib/redactd/|" "$C"
mkdir -p -m 0700 "$R/var/lib/redactd"
RBIN="$R/usr/bin/redactd"
unset CREDENTIALS_DIRECTORY
OUT=$("$RBIN" check-config -c "$C" 2>&1); RC=$?
check_eq "check-config before keygen: exit 2" "$RC" 2
check "it names the key_file line and the keygen fix" bash -c "printf '%s' \"\$1\" | grep -q \"^$C:[0-9]*: key_file: cannot open key file $R/etc/redactd/master.key.*keygen\"" _ "$OUT"
"$RBIN" keygen -o "$R/etc/redactd/master.key" 2>/dev/null
check_eq "check-config as root after keygen: exit 0" "$("$RBIN" check-config -c "$C" >/dev/null 2>&1; echo $?)" 0
OUT=$("$RBIN" stats -c "$C" 2>&1); RC=$?
check_eq "stats with credential:master.key outside the unit: exit 0" "$RC" 0
check "stats prints no info lines" bash -c "! printf '%s' \"\$1\" | grep -q ' info '" _ "$OUT"

# As the unit runs it: the key in a private credentials directory.
mkdir -m 0700 "$T/creds"; install -m 0400 "$R/etc/redactd/master.key" "$T/creds/master.key"
PORT=$(free_port)
sed "s|^listen = .*|listen = 127.0.0.1:$PORT|" "$C" > "$T/redactd.conf"
BASE=http://127.0.0.1:$PORT
export CREDENTIALS_DIRECTORY="$T/creds"
check_eq "ExecStartPre's check-config passes" "$("$RBIN" check-config -c "$T/redactd.conf" >/dev/null 2>&1; echo $?)" 0
BIN=$RBIN daemon_start
check_eq "the installed service config serves" "$(curl -s "$BASE/healthz")" '{"status":"ok"}'
finish
