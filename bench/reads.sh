#!/usr/bin/env bash
# A 50-turn conversation read back N times from an otherwise idle daemon
# (issue 16): the daemon's CPU time a read (user + system, /proc/PID/stat)
# and curl's time to the first byte, p50 and p99. Each read is audit-logged
# before it answers, so the figure includes that commit and its fsync.
# On a fresh database, a copy of BENCH_DB (its master.key beside it), or
# BENCH_DB in place with BENCH_INPLACE=1 (bench/daemon.sh).
# Usage: bash bench/reads.sh BUILD_DIR [READS (300)]
set -euo pipefail
BUILD=${1:-build}; N=${2:-300}
T=$(mktemp -d "${TMPDIR:-/tmp}/reads.XXXXXX"); PID=
trap 'rc=$?; [ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"; exit $rc' EXIT
CONV=bench-read-$(date +%s%N)
. bench/daemon.sh
bench_daemon "$BUILD" 18092
bench_conversation "$CONV"
sleep 2   # the conversation index takes the new turns in (1 s without traffic)
read1() { curl -s -o /dev/null -w '%{time_starttransfer}\n' -H "Authorization: Bearer $READ_TOKEN" "$BASE/v1/conversations/$CONV"; }
for _ in $(seq 1 20); do read1 >/dev/null; done   # warm-up
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
C0=$(cpu)
for _ in $(seq 1 "$N"); do read1; done | sort -n > "$T/times"
C1=$(cpu)
awk -v c=$((C1 - C0)) -v hz="$(getconf CLK_TCK)" '{v[NR] = $1 * 1000}
	END {printf "reads: 50-turn conversation, daemon CPU %.0f us a read, p50 %.2f ms, p99 %.2f ms (%d reads)\n",
		c / hz * 1e6 / NR, v[int(NR * 0.5)], v[int(NR * 0.99)], NR}' "$T/times"
