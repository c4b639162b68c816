#!/usr/bin/env bash
# Erasing a large conversation (issue 16's rights, at the size a bot that
# sends everything under one conversation id makes): wrk posts `huge`
# turns (bench/ingest.lua: ~1 KB, all in one conversation, one in five
# naming the same customer) for SECONDS, reads it back in pages of 5,000
# (GET ?limit=5000&after=NEXT), then erases it with DELETE
# /v1/conversations/ID. Prints the pages' time and the erasure's, and the
# daemon's peak RSS during each (VmHWM, reset just before by
# /proc/PID/clear_refs) beside its RSS before.
# Usage: bash bench/erase.sh BUILD_DIR [SECONDS (20)]
set -euo pipefail
BUILD=${1:-build}; SECS=${2:-20}
T=$(mktemp -d "${TMPDIR:-/tmp}/erase.XXXXXX"); PID=
trap 'rc=$?; [ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"; exit $rc' EXIT
. bench/daemon.sh
bench_daemon "$BUILD" 18093
CONV=bench-huge-$(date +%s%N)
BENCH_PROFILE=huge BENCH_CONV=$CONV BENCH_TOKEN=$TOKEN \
	wrk -t2 -c32 -d"${SECS}s" -s bench/ingest.lua "$BASE" > "$T/wrk.txt"
sleep 2   # the last groups sync and the conversation index catches up
rss() { awk -v k="$1:" '$1 == k {print $2}' /proc/$PID/status; }
BEFORE=$(rss VmRSS)
echo 5 > /proc/$PID/clear_refs
T0=$(date +%s%N); N=0; PAGES=0; AFTER=
while :; do
	curl -s -o "$T/page.json" -H "Authorization: Bearer $READ_TOKEN" \
		"$BASE/v1/conversations/$CONV?limit=5000${AFTER:+&after=$AFTER}"
	N=$((N + $(jq '.messages | length' "$T/page.json"))); PAGES=$((PAGES + 1))
	AFTER=$(jq -r '.next // empty' "$T/page.json"); [ -n "$AFTER" ] || break
done
T1=$(date +%s%N)
echo "read $N records in $PAGES pages of 5,000 in $(( (T1 - T0) / 1000000 )) ms; daemon RSS $BEFORE KB before, peak $(rss VmHWM) KB during"
BEFORE=$(rss VmRSS)
echo 5 > /proc/$PID/clear_refs
T0=$(date +%s%N)
OUT=$(curl -s -X DELETE -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/v1/conversations/$CONV")
T1=$(date +%s%N)
PEAK=$(rss VmHWM)
echo "$OUT" | jq -r --arg s "$(( (T1 - T0) / 1000000 ))" --arg b "$BEFORE" --arg p "$PEAK" \
	'"erased \(.removed) records of one conversation in \($s) ms; daemon RSS \($b) KB before, peak \($p) KB during"'
