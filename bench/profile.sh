#!/usr/bin/env bash
# One traffic profile against one daemon, for profiling and A/B runs (issue
# 16): starts redactd as bench/ingest.sh does (synchronous=FULL), on a
# fresh database or on a copy of BENCH_DB (e.g. bench/synth_db.sh's, with
# its master.key beside it), runs wrk (-t2 -c64, bench/ingest.lua, profile
# PROFILE) for SECONDS, and prints the rate, p99, the daemon's CPU time a
# message (user + system, /proc/PID/stat, over the requests wrk completed)
# and the bytes it wrote a message (wchar). With PERF=1 it also records
# `perf record --call-graph dwarf` of the daemon into DIR/perf.data.
# With READS=N it also reads a 50-turn conversation back N times while wrk
# runs and N times after it, and prints p50/p99 of each (curl's time to the
# first byte: each read appends its audit entry before it answers).
# Usage: bash bench/profile.sh BUILD_DIR [PROFILE (chat)] [SECONDS (20)]
set -euo pipefail
BUILD=${1:-build}; PROFILE=${2:-chat}; SECS=${3:-20}
T=$(mktemp -d "${TMPDIR:-/tmp}/profile.XXXXXX"); PID=
trap 'rc=$?; [ -n "$PID" ] && kill $PID 2>/dev/null; [ -z "${KEEP:-}" ] && rm -rf "$T"; exit $rc' EXIT
CONV=bench-read-$(date +%s%N)   # a new conversation each run, also on a kept BENCH_DB
. bench/daemon.sh
bench_daemon "$BUILD" 18090
read_conv() {  # N OUT: N reads of the 50-turn conversation, seconds to the first byte
	for _ in $(seq 1 "$1"); do
		curl -s -o /dev/null -w '%{time_starttransfer}\n' -H "Authorization: Bearer $READ_TOKEN" \
			"$BASE/v1/conversations/$CONV"
	done | sort -n > "$2"
}
read_stats() {  # FILE LABEL
	awk -v l="$2" '{v[NR] = $1 * 1000} END {printf "reads %s: 50-turn conversation p50 %.2f ms, p99 %.2f ms (%d reads)\n",
		l, v[int(NR * 0.5)], v[int(NR * 0.99)], NR}' "$1"
}
if [ -n "${READS:-}" ]; then
	bench_conversation "$CONV"
	(sleep 2; read_conv "$READS" "$T/reads_busy") & READ_PID=$!
fi
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
wchar() { awk '$1 == "wchar:" {print $2}' /proc/$PID/io; }
C0=$(cpu); W0=$(wchar)
PERF_PID=
if [ -n "${PERF:-}" ]; then
	perf record -F 499 --call-graph dwarf,16384 -p $PID -o "$T/perf.data" -- sleep "$SECS" 2>/dev/null &
	PERF_PID=$!
fi
BENCH_PROFILE=$PROFILE BENCH_RUN=$(date +%s%N) BENCH_TOKEN=$TOKEN \
	wrk -t2 -c64 -d"${SECS}s" --latency -s bench/ingest.lua "$BASE" > "$T/wrk.txt"
[ -n "$PERF_PID" ] && { wait "$PERF_PID" || true; }
C1=$(cpu); W1=$(wchar)
if [ -n "${READS:-}" ]; then
	wait "$READ_PID" || true
	sleep "${READ_SETTLE:-0}"   # e.g. 5: the index catches up and checkpoints finish first
	read_conv "$READS" "$T/reads_idle"
fi
kill -TERM $PID; wait $PID || true; PID=
awk -v c0="$C0" -v c1="$C1" -v w0="$W0" -v w1="$W1" -v hz="$(getconf CLK_TCK)" -v p="$PROFILE" '
	/requests in/ {n = $1; t = $4 + 0}
	$1 == "99%" {p99 = $2}
	END {printf "profile %s: %.0f msgs/s, p99 %s, daemon CPU %.1f us a message, %.1f KB written a message\n",
	             p, n / t, p99, (c1 - c0) * 1e6 / hz / n, (w1 - w0) / n / 1024}' "$T/wrk.txt"
if [ -n "${READS:-}" ]; then
	read_stats "$T/reads_busy" "during ingest"
	read_stats "$T/reads_idle" "after ingest"
fi
[ -n "${PERF:-}" ] && echo "perf data kept in $T/perf.data" && KEEP=1
exit 0
