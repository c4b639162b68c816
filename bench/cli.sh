#!/bin/sh
# `redactd redact` as a Unix filter: end-to-end MB/s and peak RSS on a
# 1 GB input (the 20 MB chat corpus of bench/redact.sh, 50 times over),
# beside the engine alone on the same corpus in the same run (redact_bench,
# one thread). MB are 10^6 bytes, as redact_bench counts them. The engine's
# figure is its best of ENGINE_RUNS (default 20, as bench/redact.sh: on a
# shared machine its best of 5 swung from 288 to 346 MB/s in one minute
# while the best of 20 gave 361-430); each mode of the filter runs RUNS
# times (default 1) and its fastest run is shown, with its default threads
# (one per core, at most 4) and with --threads 1; "CPU s" is user + system
# time, what the run cost whatever the threads.
# Usage: [RUNS=N] [ENGINE_RUNS=N] sh bench/cli.sh [BUILD_DIR] [COPIES]
set -u
BUILD=${1:-build}; COPIES=${2:-50}; RUNS=${RUNS:-1}; ENGINE_RUNS=${ENGINE_RUNS:-20}
OUT=$BUILD/bench
mkdir -p "$OUT"
[ -x "$OUT/redact_bench" ] || sh bench/redact.sh "$BUILD" >/dev/null 2>&1
CORPUS=$OUT/chat-corpus.txt
engine=$("$OUT/redact_bench" -s 20 -r "$ENGINE_RUNS" -o "$CORPUS" | sed -n 's/.* \([0-9.]*\) MB\/s$/\1/p')
BIG=$OUT/cli-input.txt
: > "$BIG"
i=0; while [ "$i" -lt "$COPIES" ]; do cat "$CORPUS" >> "$BIG"; i=$((i + 1)); done
MB=$(awk -v b="$(stat -c %s "$BIG")" 'BEGIN { printf "%.0f", b / 1000000 }')
CONF=$OUT/cli.conf; printf '[server]\n' > "$CONF"
run() {  # label, args...
	label=$1; shift
	secs=; rss=0; k=0
	while [ "$k" -lt "$RUNS" ]; do
		/usr/bin/time -f '%e %M %U %S' -o "$OUT/cli.time" "$BUILD/redactd" redact -c "$CONF" "$@" < "$BIG" > /dev/null
		read -r s r u y < "$OUT/cli.time"
		if [ -z "$secs" ] || awk -v a="$secs" -v b="$s" 'BEGIN { exit !(b < a) }'; then
			secs=$s; cpu=$(awk -v u="$u" -v y="$y" 'BEGIN { print u + y }')
		fi
		[ "$r" -gt "$rss" ] && rss=$r
		k=$((k + 1))
	done
	awk -v l="$label" -v mb="$MB" -v s="$secs" -v r="$rss" -v e="$engine" -v c="$cpu" \
		'BEGIN { printf "  %-34s %6.1f MB/s end to end (%.0f%% of the engine), %5.2f CPU s, peak RSS %.1f MB\n", l, mb / s, 100 * mb / s / e, c, r / 1024 }'
}
echo "redactd redact on ${MB} MB (chat corpus x $COPIES); engine alone: $engine MB/s, one thread"
run "redact"
run "redact --threads 1" --threads 1
run "redact --json" --json
run "redact --json --threads 1" --json --threads 1
run "redact --lines --json" --lines --json
run "redact --lines --json --threads 1" --lines --json --threads 1
rm -f "$BIG"
