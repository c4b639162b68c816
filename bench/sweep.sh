#!/bin/bash
# A retention sweep during ingest. Preloads SWEEP_OLD (40,000) messages
# dated 60 days ago (one conversation per ten), then runs the ingest load
# (wrk, 64 connections, SWEEP_SECONDS (15) s, bench/ingest.lua, profile
# BENCH_PROFILE, default repeat) twice on copies of that database: once
# with chat_transcript kept 365 days (nothing to purge) and once with 30
# days and sweep_interval = 1s, so the sweeper purges them while wrk runs.
# Prints the rate and p99 of each, the ratio, what is left to purge, and
# how long the sweeper paused for ingest (store_maint.c's pacing).
# Usage: bash bench/sweep.sh [BUILD_DIR] [SWEEP_BATCH]
set -euo pipefail
BUILD=${1:-build}; BATCH=${2:-500}
OLD=${SWEEP_OLD:-40000}; SECS=${SWEEP_SECONDS:-15}
command -v wrk >/dev/null || { echo "sweep bench: wrk not installed (apt-get install wrk)"; exit 0; }
T=$(mktemp -d); PID=
trap 'rc=$?; [ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"; exit $rc' EXIT
TOKEN=bench-ingest-token
"$BUILD/redactd" keygen -o "$T/master.key" 2>/dev/null
conf() {  # retention sweep_interval database
	cat > "$T/redactd.conf" <<CONF
[server]
listen = 127.0.0.1:18080
[storage]
database = $T/$3
key_file = $T/master.key
synchronous = full
[retention]
chat_transcript = $1
default = 730d
sweep_interval = $2
sweep_batch = $BATCH
[token "bench"]
sha256 = $(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
scopes = ingest,read
CONF
}
start() {
	"$BUILD/redactd" serve -c "$T/redactd.conf" 2>>"$T/daemon.log" & PID=$!
	for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.05; done
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=; }
conf 365d 1h pre.db
start
SWEEP_OLD=$OLD python3 - <<'PY'
import json, os, time, urllib.request
old = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 60 * 86400))
n = int(os.environ["SWEEP_OLD"]) // 100
for b in range(n):
    msgs = [{"conversation_id": "old-%d" % ((b * 100 + i) % (n * 10)),
             "text": "old note from user%d@example.com, call +44 7700 9%05d" % (i, i), "ts": old}
            for i in range(100)]
    req = urllib.request.Request("http://127.0.0.1:18080/v1/messages",
                                 data=json.dumps({"messages": msgs}).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer bench-ingest-token"})
    urllib.request.urlopen(req).read()
PY
stop
echo "sweep during ingest (wrk -t2 -c64 -d${SECS}s, profile ${BENCH_PROFILE:-repeat}; $OLD old messages in $((OLD / 10)) conversations; sweep_batch $BATCH)"
for mode in keep purge; do
	cp "$T/pre.db" "$T/run.db"
	if [ "$mode" = purge ]; then conf 30d 1s run.db; else conf 365d 1h run.db; fi
	start
	out=$(BENCH_RUN=$(date +%s%N) BENCH_TOKEN=$TOKEN wrk -t2 -c64 -d"${SECS}s" --latency -s bench/ingest.lua http://127.0.0.1:18080)
	paused=$(curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18080/metrics |
	         awk '$1 == "redactd_store_purge_paused_seconds_total" {print $2}')
	stop
	cutoff=$(( ($(date +%s) - 30 * 86400) * 1000 ))
	left=$(sqlite3 "$T/run.db" "SELECT count(*) FROM messages WHERE ts_ms < $cutoff")
	rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	printf '  %-6s %s req/s, p99 %s, old messages left %s, sweeper paused %s s\n' "$mode:" "$rate" "$p99" "$left" "${paused:-n/a}"
	eval "rate_$mode=$rate"
done
awk -v k="$rate_keep" -v p="$rate_purge" 'BEGIN { printf "  ratio:  %.3f of the rate without a sweep\n", p / k }'
