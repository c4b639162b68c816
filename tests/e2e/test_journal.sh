#!/usr/bin/env bash
# Logging for journald: when stderr is the journal ($JOURNAL_STREAM names
# stderr's device:inode) every line carries its sd-daemon priority; refused
# requests (4xx, bad webhook signatures) are notices, not info; and
# libmicrohttpd's own messages come through the same logger. Elsewhere
# (a file, a pipe, an inherited JOURNAL_STREAM) lines stay plain.
. "$(dirname "$0")/lib.sh"
printf 'tw-secret-journal\n' > "$T/tw.token"
DAEMON_EXTRA_CONF="[source \"twilio\"]
secret_file = $T/tw.token"
ACCESS_LOG=errors
write_config
: > "$T/daemon.log"
# The daemon's stderr is appended to daemon.log: make that file "the journal".
export JOURNAL_STREAM="$(stat -c '%d:%i' "$T/daemon.log")"
daemon_start || { finish; exit 1; }
log_has() { grep -qE -- "$1" "$T/daemon.log"; }

check "start-up line is <6> info" log_has '^<6>info redactd .* listening on '
req GET /v1/conversations/c1 ""
check_eq "no token: 401" "$STATUS" 401
check "a 401 access line is <5> notice" log_has '^<5>notice http GET /v1/conversations/\{id\} 401 '
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Twilio-Signature: bm90LWEtc2lnbmF0dXJl' \
	--data-urlencode 'Body=hi' --data-urlencode 'From=+447700900999' "$BASE/v1/webhooks/twilio")
check_eq "bad Twilio signature: 403" "$STATUS" 403
check "a signature failure is <5> notice" log_has '^<5>notice http POST /v1/webhooks/twilio 403 '
# Headers beyond MHD's per-connection memory: MHD refuses them itself and
# says so through its external logger.
BIG=$(head -c 20000 /dev/zero | tr '\0' 'a')
curl -s -o /dev/null -H "X-Big: $BIG" "$BASE/healthz"
check "libmicrohttpd's messages come through the logger as <4> warn mhd:" wait_for 5 log_has '^<4>warn mhd: '
check "no line without a priority" bash -c "! grep -qv '^<[3-7]>' '$T/daemon.log'"
check "no timestamp (journald keeps its own)" bash -c "! grep -qE '^<[0-9]>[0-9]{4}-' '$T/daemon.log'"
check "the log holds no identifiers or secrets" bash -c "! grep -Eq '7700|tw-secret' '$T/daemon.log'"

# The same variable inherited by a process whose stderr is elsewhere.
"$BIN" stats -v -c "$T/redactd.conf" 2>"$T/plain.log" >/dev/null
check "stderr not the journal: plain lines" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T.* info store: opened' "$T/plain.log"
check "stderr not the journal: no priority prefix" bash -c "! grep -q '^<' '$T/plain.log'"
unset JOURNAL_STREAM
finish
