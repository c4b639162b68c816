#!/usr/bin/env bash
# Ingest throughput: wrk on loopback (keep-alive, 64 connections, ~1 KB
# messages with an email and a phone each) against redactd with
# synchronous=FULL, then against a bare libmicrohttpd server answering 201;
# prints both, the ratio, p99 latency and redactd's peak RSS.
# Usage: bench/ingest.sh BUILD_DIR [SECONDS]
set -euo pipefail
BUILD=${1:-build}; SECS=${2:-${BENCH_SECONDS:-30}}
command -v wrk >/dev/null || { echo "ingest bench: wrk not installed (apt-get install wrk)"; exit 0; }
T=$(mktemp -d); trap 'rc=$?; kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"; exit $rc' EXIT
PKGS="libmicrohttpd"
cc -O2 -o "$T/bare" bench/bare_server.c $(pkg-config --cflags --libs $PKGS)
TOKEN=bench-ingest-token
READ=bench-read-token
"$BUILD/redactd" keygen -o "$T/master.key" 2>/dev/null
cat > "$T/redactd.conf" <<CONF
[server]
listen = 127.0.0.1:18080
threads = ${BENCH_THREADS:-0}
[storage]
database = $T/bench.db
key_file = $T/master.key
synchronous = full
[token "bench"]
sha256 = $(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
scopes = ingest
[token "bench-read"]
sha256 = $(printf '%s' "$READ" | sha256sum | cut -d' ' -f1)
scopes = read
CONF
run_wrk() {  # url -> prints wrk output
	BENCH_TOKEN=$TOKEN wrk -t2 -c64 -d"${SECS}s" --latency -s bench/ingest.lua "$1"
}
"$BUILD/redactd" serve -c "$T/redactd.conf" 2>"$T/daemon.log" &
PID=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.05; done
run_wrk http://127.0.0.1:18080 > "$T/redactd.txt"
RSS=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
CPU=$(awk '{print $14 + $15}' /proc/$PID/stat)   # clock ticks, user + system
curl -s -H "Authorization: Bearer $READ" http://127.0.0.1:18080/metrics > "$T/metrics.txt"
metric() { awk -v m="$1" '$1 == m {print $2}' "$T/metrics.txt"; }
kill -TERM $PID; wait $PID || true
ROWS=$(sqlite3 "$T/bench.db" 'SELECT count(*) FROM messages')
"$T/bare" 18081 2 & BPID=$!
sleep 0.3
run_wrk http://127.0.0.1:18081 > "$T/bare.txt"
kill -TERM $BPID; wait $BPID || true
rate() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
non2xx() { awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$1"; }
R=$(rate "$T/redactd.txt"); B=$(rate "$T/bare.txt")
echo "ingest (wrk -t2 -c64 -d${SECS}s, ~1 KB messages, synchronous=FULL)"
echo "  redactd:     $R req/s, p99 $(p99 "$T/redactd.txt"), non-2xx $(non2xx "$T/redactd.txt"), peak RSS $((RSS / 1024)) MB, rows committed $ROWS"
awk -v r="$(metric redactd_store_records_total)" -v c="$(metric redactd_store_commits_total)" \
    -v s="$(metric redactd_store_syncs_total)" -v cpu="$CPU" -v hz="$(getconf CLK_TCK)" -v rows="$ROWS" \
    'BEGIN { printf "  store:       %.1f records per commit, %.1f per fdatasync; daemon CPU %.0f us per message\n", r / c, r / s, cpu * 1e6 / hz / rows }'
echo "  bare server: $B req/s, p99 $(p99 "$T/bare.txt")"
awk -v r="$R" -v b="$B" 'BEGIN { printf "  ratio:       %.3f of the bare server\n", r / b }'
