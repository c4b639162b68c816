#!/usr/bin/env bash
# Tap mode: the latency redactd adds in front of a bot (issue 18). wrk on
# loopback sends the same signed Twilio callback (a user's SMS with an email
# and a phone number) straight to a fast bot (bench/forward_target.c), then
# through redactd with [source "twilio"] forward_to = that bot, in
# alternating slices so both see the same minutes of this shared machine.
# Through redactd every request is verified, forwarded (libcurl, kept-alive
# connection), relayed, and both turns (user, bot) are redacted, sealed and
# stored (synchronous = full) without the answer waiting for them.
# Prints p50 and p99 of each path and the difference: what redactd adds.
# Usage: bench/forward.sh BUILD_DIR [SECONDS] [CONNECTIONS]
set -euo pipefail
BUILD=${1:-build}; SECS=${2:-${BENCH_SECONDS:-30}}; CONNS=${3:-${FWD_CONNS:-1}}
command -v wrk >/dev/null || { echo "forward bench: wrk not installed (apt-get install wrk)"; exit 0; }
T=$(mktemp -d); trap 'rc=$?; kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"; exit $rc' EXIT
cc -O2 -o "$T/bot" bench/forward_target.c $(pkg-config --cflags --libs libmicrohttpd)
TOKEN=bench-twilio-auth-token-0123456789
printf '%s\n' "$TOKEN" > "$T/twilio.token"
"$BUILD/redactd" keygen -o "$T/master.key" 2>/dev/null
cat > "$T/redactd.conf" <<CONF
[server]
listen = 127.0.0.1:18090
threads = ${BENCH_THREADS:-0}
access_log = off
[storage]
database = $T/bench.db
key_file = $T/master.key
synchronous = full
[source "twilio"]
secret_file = $T/twilio.token
forward_to = http://127.0.0.1:18091/twilio
CONF
export FWD_BODY='AccountSid=AC00000000000000000000000000000000&Body=Hi%2C+I+am+jane.doe%40example.com%2C+call+me+on+%2B44+7700+900123&From=%2B447700900456&To=%2B15005550006'
SIGNED="http://127.0.0.1:18090/v1/webhooks/twilio"
SIG=$(printf '%s' "${SIGNED}AccountSidAC00000000000000000000000000000000BodyHi, I am jane.doe@example.com, call me on +44 7700 900123From+447700900456To+15005550006" |
	openssl dgst -sha1 -hmac "$TOKEN" -binary | base64)
"$T/bot" 18091 1 & BOT=$!
"$BUILD/redactd" serve -c "$T/redactd.conf" 2>"$T/daemon.log" & PID=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18090/healthz >/dev/null && break; sleep 0.05; done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Twilio-Signature: $SIG" --data-binary "$FWD_BODY" "$SIGNED")
[ "$code" = 200 ] || { echo "forward bench: redactd answered $code"; cat "$T/daemon.log"; exit 1; }
run() {  # URL SIG SECONDS -> wrk output
	FWD_SIG=$2 wrk -t1 -c"$CONNS" -d"$3s" --latency -s bench/forward.lua "$1"
}
SEGMENTS=${BENCH_SEGMENTS:-6}
SLICE=$(( (SECS + SEGMENTS - 1) / SEGMENTS ))
for i in $(seq 1 "$SEGMENTS"); do
	run http://127.0.0.1:18091/twilio "" "$SLICE" > "$T/direct.$i.txt"
	run "$SIGNED" "$SIG" "$SLICE" > "$T/tap.$i.txt"
done
# One line per slice: requests/s, p50, p99 (ms), non-2xx.
slice() {
	awk 'function ms(s) { v = s + 0; if (s ~ /us$/) v /= 1000; else if (s ~ /[^m]s$/) v *= 1000; return v }
	     /requests in/ {n = $1; t = $4 + 0}
	     $1 == "50%" {p50 = ms($2)}
	     $1 == "99%" {p99 = ms($2)}
	     /Non-2xx/ {x = $NF}
	     END {printf "%.0f %.3f %.3f %d\n", n / t, p50, p99, x + 0}' "$1"
}
for i in $(seq 1 "$SEGMENTS"); do
	echo "$(slice "$T/direct.$i.txt") $(slice "$T/tap.$i.txt")"
done > "$T/slices"
# Medians over the slices (the machine's noise moves whole slices), and
# each slice's own difference, paired in time.
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
col() { awk -v c="$1" '{print $c}' "$T/slices" | median; }
DR=$(col 1); D50=$(col 2); D99=$(col 3); DX=$(awk '{x += $4} END {print x + 0}' "$T/slices")
TR=$(col 5); T50=$(col 6); T99=$(col 7); TX=$(awk '{x += $8} END {print x + 0}' "$T/slices")
A50=$(awk '{print $6 - $2}' "$T/slices" | median); A99=$(awk '{print $7 - $3}' "$T/slices" | median)
W99=$(awk '{d = $7 - $3; if (NR == 1 || d > w) w = d} END {print w}' "$T/slices")
STORED=$(sqlite3 "file:$T/bench.db?mode=ro" 'SELECT count(*) FROM messages' 2>/dev/null || echo "?")
echo "forward bench: ${SECS}s per path in $SEGMENTS alternating slices, wrk -t1 -c$CONNS, keep-alive, loopback${FWD_DELAY_MS:+, ${FWD_DELAY_MS} ms between requests per connection}"
printf '  %-26s %9s %9s %9s %8s   (medians over the slices)\n' path req/s p50 p99 non-2xx
printf '  %-26s %9s %8sms %8sms %8s\n' "client -> bot" "$DR" "$D50" "$D99" "$DX"
printf '  %-26s %9s %8sms %8sms %8s\n' "client -> redactd -> bot" "$TR" "$T50" "$T99" "$TX"
printf '  added by redactd (median of per-slice differences): p50 %.3f ms, p99 %.3f ms; worst slice p99 %.3f ms\n' "$A50" "$A99" "$W99"
echo "  target: <= 2 ms added at p99. Slices (direct req/s p50 p99 x | tap req/s p50 p99 x):"
sed 's/^/    /' "$T/slices"
echo "  turns stored meanwhile (user + bot): $STORED; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E "warn|error" "$T/daemon.log" | head -5 || true
