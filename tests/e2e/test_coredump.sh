#!/usr/bin/env bash
# End to end (issue 11, finding 5): redactd makes itself non-dumpable at
# start (PR_SET_DUMPABLE 0), so a crash writes no core file holding the
# master key or message text, and the unit file sets LimitCORE=0 too.
# A non-dumpable process's /proc/PID files belong to root whatever user it
# runs as (proc(5); the files in /proc/PID, not the directory), which is what this checks: as root, the daemon runs
# as nobody (setpriv) so that the owner tells; otherwise as ourselves.
. "$(dirname "$0")/lib.sh"
write_config
"$BIN" keygen -o "$T/master.key" 2>/dev/null
RUN=()
if [ "$(id -u)" = 0 ]; then
	chown -R 65534:65534 "$T"
	RUN=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
RUN_UID=65534; [ "$(id -u)" = 0 ] || RUN_UID=$(id -u)
"${RUN[@]}" "$BIN" serve -c "$T/redactd.conf" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
check "the daemon starts" wait_healthy "$BASE" "$DAEMON_PID"
check_eq "it runs as the unprivileged user" "$(awk '/^Uid:/ {print $2}' "/proc/$DAEMON_PID/status")" "$RUN_UID"
check_eq "yet its /proc files belong to root: it is not dumpable" "$(stat -c %u "/proc/$DAEMON_PID/status")" 0
check_eq "its core size limit is 0" "$(awk '/^Max core file size/ {print $5}' "/proc/$DAEMON_PID/limits")" 0
# A CLI command too (here `redact`, which loads the key for the hash
# style), held open on its standard input.
mkfifo "$T/in"; chmod 666 "$T/in"
"${RUN[@]}" "$BIN" redact -c "$T/redactd.conf" < "$T/in" > /dev/null 2>&1 &
CLI=$!
exec 7>"$T/in"
is_redactd() { [ "$(readlink "/proc/$CLI/exe")" = "$(readlink -f "$BIN")" ]; }
check "the CLI command is running (exec'd past setpriv)" wait_for 5 is_redactd
sleep 0.2   # past cli_main's first lines
check_eq "a CLI command is not dumpable either" "$(stat -c %u "/proc/$CLI/status")" 0
exec 7>&-
wait "$CLI" 2>/dev/null
check "the unit file sets LimitCORE=0" grep -qx 'LimitCORE=0' "$(dirname "$0")/../../config/redactd.service"
finish
