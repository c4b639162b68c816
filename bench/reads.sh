#!/usr/bin/env bash
# A 50-turn conversation read back N times from an otherwise idle daemon
# (issue 16): the daemon's CPU time a read (user + system, /proc/PID/stat)
# and curl's time to the first byte, p50 and p99. Each read is audit-logged
# before it answers, so the figure includes that commit and its fsync.
# On a fresh database, or on BENCH_DB in place (its master.key beside it).
# Usage: bash bench/reads.sh BUILD_DIR [READS (300)]
set -euo pipefail
BUILD=${1:-build}; N=${2:-300}
T=$(mktemp -d "${TMPDIR:-/tmp}/reads.XXXXXX"); PID=
trap 'rc=$?; [ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"; exit $rc' EXIT
PORT=18092; BASE=http://127.0.0.1:$PORT
INGEST=bench-ingest-token; READ=bench-read-token; CONV=bench-read-$(date +%s%N)
DB=$T/bench.db
if [ -n "${BENCH_DB:-}" ]; then
	DB=$BENCH_DB; cp "$(dirname "$BENCH_DB")/master.key" "$T/master.key"
else
	"$BUILD/redactd" keygen -o "$T/master.key" 2>/dev/null
fi
cat > "$T/redactd.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
[storage]
database = $DB
key_file = $T/master.key
synchronous = full
[token "ingest"]
sha256 = $(printf '%s' "$INGEST" | sha256sum | cut -d' ' -f1)
scopes = ingest
[token "reader"]
sha256 = $(printf '%s' "$READ" | sha256sum | cut -d' ' -f1)
scopes = read
CONF
"$BUILD/redactd" serve -c "$T/redactd.conf" 2>"$T/daemon.log" & PID=$!
for _ in $(seq 1 600); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.05; done
for i in $(seq 1 50); do
	printf '{"conversation_id":"%s","text":"turn %d: reach me at bench.reader@example.org or +44 7700 900123 about order 1234","metadata":{"page":"/orders/%d"}}' \
		"$CONV" "$i" "$i"
done | jq -s '{messages: .}' > "$T/conv.json"
curl -sf -o /dev/null -H "Authorization: Bearer $INGEST" -H 'Content-Type: application/json' \
	--data-binary @"$T/conv.json" "$BASE/v1/messages"
sleep 2   # the conversation index takes the new turns in (1 s without traffic)
read1() { curl -s -o /dev/null -w '%{time_starttransfer}\n' -H "Authorization: Bearer $READ" "$BASE/v1/conversations/$CONV"; }
for _ in $(seq 1 20); do read1 >/dev/null; done   # warm-up
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
C0=$(cpu)
for _ in $(seq 1 "$N"); do read1; done | sort -n > "$T/times"
C1=$(cpu)
awk -v c=$((C1 - C0)) -v hz="$(getconf CLK_TCK)" '{v[NR] = $1 * 1000}
	END {printf "reads: 50-turn conversation, daemon CPU %.0f us a read, p50 %.2f ms, p99 %.2f ms (%d reads)\n",
		c / hz * 1e6 / NR, v[int(NR * 0.5)], v[int(NR * 0.99)], NR}' "$T/times"
