# tests/e2e/lib.sh — drive the real daemon on a loopback port with curl.
#
# Source it, call `daemon_start` (optionally with extra config text on
# stdin via DAEMON_EXTRA_CONF), use `req`, `check`, and end with `finish`.
# Each script gets its own temp dir ($T) with a fresh key, database and log.

set -u
BIN=${REDACTD_BIN:-$(pwd)/build/redactd}
T=$(mktemp -d "${TMPDIR:-/tmp}/redactd-e2e-XXXXXX")
PASSED=0; FAILED=0
DAEMON_PID=""
INGEST_TOKEN=e2e-ingest-token; READ_TOKEN=e2e-read-token; ADMIN_TOKEN=e2e-admin-token

check() {  # check NAME COMMAND...  (passes when the command succeeds)
	local name=$1; shift
	if "$@" >/dev/null 2>&1; then PASSED=$((PASSED + 1)); echo "ok - $name"
	else FAILED=$((FAILED + 1)); echo "not ok - $name"; fi
}
check_eq() {  # check_eq NAME GOT WANT
	if [ "$2" = "$3" ]; then PASSED=$((PASSED + 1)); echo "ok - $1"
	else FAILED=$((FAILED + 1)); echo "not ok - $1 (got '$2', want '$3')"; fi
}

sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

free_port() {  # below Linux's ephemeral range (32768-60999), where clients' own ports live
	local p
	for _ in $(seq 1 50); do
		p=$(( (RANDOM % 12000) + 20000 ))
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
	done
	echo 38080
}

write_config() {
	PORT=${PORT:-$(free_port)}
	cat > "$T/redactd.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
threads = 4
max_body = ${MAX_BODY:-64k}
access_log = ${ACCESS_LOG:-all}

[storage]
database = $T/redactd.db
key_file = $T/master.key

[retention]
chat_transcript = 365d
call_transcript = 365d
lead = 365d
email = 730d
default = 730d
sweep_interval = ${SWEEP_INTERVAL:-1h}

[channels]
web = chat_transcript
whatsapp = chat_transcript
sms = chat_transcript
voice = call_transcript
email = email
other = chat_transcript

[token "e2e-ingest"]
sha256 = $(sha $INGEST_TOKEN)
scopes = ingest

[token "e2e-read"]
sha256 = $(sha $READ_TOKEN)
scopes = read

[token "e2e-admin"]
sha256 = $(sha $ADMIN_TOKEN)
scopes = ingest,read,admin
CONF
	if [ -n "${DAEMON_EXTRA_CONF:-}" ]; then printf '%s\n' "$DAEMON_EXTRA_CONF" >> "$T/redactd.conf"; fi
	BASE=http://127.0.0.1:$PORT
}

wait_healthy() {  # wait_healthy BASE PID: 0 once BASE/healthz answers, 1 if PID dies or 5 s pass
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "$1/healthz" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

daemon_start() {  # starts (or restarts) the daemon; log appended to $T/daemon.log
	[ -f "$T/redactd.conf" ] || write_config
	[ -f "$T/master.key" ] || "$BIN" keygen -o "$T/master.key" 2>/dev/null
	local attempt
	for attempt in 1 2 3; do
		local mark=0; [ -f "$T/daemon.log" ] && mark=$(wc -l < "$T/daemon.log")
		"$BIN" serve -c "$T/redactd.conf" >>"$T/daemon.log" 2>&1 &
		DAEMON_PID=$!
		wait_healthy "$BASE" "$DAEMON_PID" && return 0
		# Another process took our random port between the probe and the
		# bind: move to a fresh one and try again.
		if tail -n +"$((mark + 1))" "$T/daemon.log" | grep -q "cannot listen" && [ "${BASE#http://127.0.0.1:}" != "$BASE" ]; then
			PORT=$(free_port)
			sed -i "s|^listen = 127.0.0.1:.*|listen = 127.0.0.1:$PORT|" "$T/redactd.conf"
			BASE=http://127.0.0.1:$PORT
			continue
		fi
		break
	done
	echo "daemon did not start; log:"; cat "$T/daemon.log"
	return 1
}

daemon_stop() {  # SIGTERM and wait
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null
	DAEMON_RC=$?
	DAEMON_PID=""
}

daemon_kill9() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -9 "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=""
}

# req METHOD PATH TOKEN [BODY] [extra curl args...] -> $STATUS, $BODY, $HEADERS
req() {
	local method=$1 path=$2 token=$3; shift 3
	local body=""; if [ $# -gt 0 ]; then body=$1; shift; fi
	local args=(-s -X "$method" -o "$T/resp" -D "$T/headers" -w '%{http_code}')
	[ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	STATUS=$(curl "${args[@]}" "$@" "$BASE$path")
	BODY=$(cat "$T/resp")
	HEADERS=$(cat "$T/headers")
}

jget() { printf '%s' "$BODY" | jq -r "$1" 2>/dev/null; }  # jget '.ids[0]' 

db_count() {  # rows in messages
	sqlite3 "file:$T/redactd.db?mode=ro" "SELECT count(*) FROM messages;" 2>/dev/null
}

finish() {
	if [ -n "$DAEMON_PID" ]; then
		daemon_stop
		# A clean drain exits 0; under `make asan` a leak or sanitizer report does not.
		check_eq "daemon drains and exits 0 on SIGTERM" "$DAEMON_RC" 0
		check "daemon log has no sanitizer report" bash -c "! grep -q 'Sanitizer' '$T/daemon.log'"
	fi
	if [ "$FAILED" -eq 0 ]; then rm -rf "$T"; else echo "# kept $T for inspection"; fi
	echo "# passed=$PASSED failed=$FAILED"
	[ "$FAILED" -eq 0 ]
}
trap '[ -n "$DAEMON_PID" ] && kill -9 $DAEMON_PID 2>/dev/null' EXIT

# ---- added for retention, subjects and audit tests (issue 5) ----

conf_set() {  # conf_set KEY VALUE: replace "KEY = ..." lines in the config (after write_config)
	sed -i "s|^$1 = .*|$1 = $2|" "$T/redactd.conf"
}

rd() {  # rd SUBCOMMAND [args...]: the CLI against this test's config
	"$BIN" "$@" -c "$T/redactd.conf"
}

post_in() {  # post_in TENANT CONV CATEGORY TEXT [TS]: one message (admin token); STATUS/BODY
	local ts=""
	[ -n "${5:-}" ] && ts=",\"ts\":\"$5\""
	req POST /v1/messages "$ADMIN_TOKEN" "{\"tenant\":\"$1\",\"conversation_id\":\"$2\",\"category\":\"$3\",\"text\":\"$4\"$ts}"
	[ "$STATUS" = 201 ] || echo "# ingest failed: $STATUS $BODY"
}

uri() { printf '%s' "$1" | jq -sRr @uri; }  # percent-encode one query value

wait_for() {  # wait_for SECONDS COMMAND...: poll until the command succeeds
	local limit=$1; shift
	for _ in $(seq 1 $((limit * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# ---- added for keys and backups (issue 4) ----

conf_put() {  # conf_put FILE KEY VALUE: set KEY in FILE, or add it under [storage]
	if grep -q "^$2 = " "$1"; then sed -i "s|^$2 = .*|$2 = $3|" "$1"
	else sed -i "/^\[storage\]/a $2 = $3" "$1"; fi
}

conf_variant() {  # conf_variant OUT PORT [KEY=VALUE...]: this test's config on another port
	local out=$1 port=$2 kv; shift 2
	cp "$T/redactd.conf" "$out"
	sed -i "s|^listen = .*|listen = 127.0.0.1:$port|" "$out"
	for kv in "$@"; do conf_put "$out" "${kv%%=*}" "${kv#*=}"; done
}

D2_PID=""
daemon2_start() {  # daemon2_start CONF PORT: a second daemon (log $T/daemon2.log), $BASE2
	local port=$2 attempt mark
	for attempt in 1 2 3; do
		BASE2=http://127.0.0.1:$port
		mark=0; [ -f "$T/daemon2.log" ] && mark=$(wc -l < "$T/daemon2.log")
		"$BIN" serve -c "$1" >>"$T/daemon2.log" 2>&1 &
		D2_PID=$!
		wait_healthy "$BASE2" "$D2_PID" && return 0
		D2_PID=""
		# The port was taken meanwhile: move this config to a fresh one.
		tail -n +"$((mark + 1))" "$T/daemon2.log" | grep -q "cannot listen" || break
		port=$(free_port)
		sed -i "s|^listen = 127.0.0.1:.*|listen = 127.0.0.1:$port|" "$1"
	done
	return 1
}

daemon2_stop() {
	[ -n "$D2_PID" ] || return 0
	kill -TERM "$D2_PID" 2>/dev/null; wait "$D2_PID" 2>/dev/null
	D2_PID=""
}

req2() {  # req2 METHOD PATH TOKEN: like req, against the second daemon
	local saved=$BASE; BASE=$BASE2; req "$@"; BASE=$saved
}

file_mode() { stat -c %a "$1"; }
