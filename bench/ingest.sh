#!/usr/bin/env bash
# Ingest throughput: wrk on loopback (keep-alive, 64 connections, ~1 KB
# chat turns) against redactd with synchronous=FULL, then against a bare
# libmicrohttpd server answering 201; prints both, the ratio, p99 latency
# and redactd's peak RSS. The seconds are split into alternating slices
# (BENCH_SEGMENTS, default 3) per server. Each traffic profile of
# bench/ingest.lua (repeat, chat, worst: BENCH_PROFILES) gets a fresh
# daemon and database.
# Usage: bench/ingest.sh BUILD_DIR [SECONDS] [PROFILES]
set -euo pipefail
BUILD=${1:-build}; SECS=${2:-${BENCH_SECONDS:-30}}; PROFILES=${3:-${BENCH_PROFILES:-repeat chat worst}}
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
run_wrk() {  # url seconds -> prints wrk output (PROFILE and RUN from the caller)
	BENCH_PROFILE=$PROFILE BENCH_RUN=$RUN BENCH_TOKEN=$TOKEN wrk -t2 -c64 -d"$2s" --latency -s bench/ingest.lua "$1"
}
# Over all slices of one server: requests / seconds, the worst slice's p99,
# non-2xx answers; and each slice's rate.
summary() {  # files -> "rate p99 non2xx rate1/rate2/..."
	awk '/requests in/ {n += $1; t += $4 + 0; r = r (r == "" ? "" : "/") sprintf("%.0f", $1 / ($4 + 0))}
	     $1 == "99%" {v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /[^m]s$/) v *= 1000; if (v > p) p = v}
	     /Non-2xx/ {x += $NF}
	     END {printf "%.2f %.2fms %d %s\n", n / t, p, x, r}' "$@"
}
run_profile() {  # PROFILE: a fresh daemon and database, then the slices
	RUN=$(date +%s%N)
	rm -f "$T"/bench.db* "$T"/*.txt
	"$BUILD/redactd" serve -c "$T/redactd.conf" 2>"$T/daemon.log" &
	PID=$!
	"$T/bare" 18081 2 & BPID=$!
	for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.05; done
	# The two servers take turns, SEGMENTS slices of SECS/SEGMENTS seconds each,
	# so both see the same minutes of this shared machine, whose speed drifts
	# by 10-20 % from one minute to the next. The daemon keeps running (and its
	# database keeps growing) across its slices.
	SEGMENTS=${BENCH_SEGMENTS:-3}
	SLICE=$(( (SECS + SEGMENTS - 1) / SEGMENTS ))
	for i in $(seq 1 "$SEGMENTS"); do
		run_wrk http://127.0.0.1:18080 "$SLICE" > "$T/redactd.$i.txt"
		run_wrk http://127.0.0.1:18081 "$SLICE" > "$T/bare.$i.txt"
	done
	RSS=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
	CPU=$(awk '{print $14 + $15}' /proc/$PID/stat)   # clock ticks, user + system
	curl -s -H "Authorization: Bearer $READ" http://127.0.0.1:18080/metrics > "$T/metrics.txt"
	metric() { awk -v m="$1" '$1 == m {print $2}' "$T/metrics.txt"; }
	kill -TERM $PID $BPID; wait $PID || true; wait $BPID || true
	ROWS=$(sqlite3 "$T/bench.db" 'SELECT count(*) FROM messages')
	read -r R RP RX RS <<<"$(summary "$T"/redactd.*.txt)"
	read -r B BP BX BS <<<"$(summary "$T"/bare.*.txt)"
	echo "ingest, profile $PROFILE (wrk -t2 -c64, ${SEGMENTS} alternating slices of ${SLICE}s per server, ~1 KB turns, synchronous=FULL)"
	echo "  redactd:     $R req/s (slices $RS), p99 $RP, non-2xx $RX, peak RSS $((RSS / 1024)) MB, rows committed $ROWS"
	awk -v r="$(metric redactd_store_records_total)" -v c="$(metric redactd_store_commits_total)" \
	    -v s="$(metric redactd_store_syncs_total)" -v cpu="$CPU" -v hz="$(getconf CLK_TCK)" -v rows="$ROWS" \
	    'BEGIN { printf "  store:       %.1f records per commit, %.1f per fdatasync; daemon CPU %.0f us per message\n", r / c, r / s, cpu * 1e6 / hz / rows }'
	disk_line
	echo "  bare server: $B req/s (slices $BS), p99 $BP, non-2xx $BX"
	awk -v r="$R" -v b="$B" 'BEGIN { printf "  ratio:       %.3f of the bare server\n", r / b }'
}
# How many fdatasyncs and checkpoints took longer than 10 and 100 ms
# (redactd_store_sync_seconds, redactd_store_checkpoint_seconds): a p99
# far above the group commit's time is this machine's disk when these are
# not zero.
disk_line() {
	awk '
		function over(name, s,   k) { k = name "_bucket{le=\"" s "\"}"; return total[name] - cum[k] }
		$1 ~ /^redactd_store_(sync|checkpoint)_seconds_bucket/ { cum[$1] = $2 }
		$1 ~ /^redactd_store_(sync|checkpoint)_seconds_count$/ { n = $1; sub(/_count$/, "", n); total[n] = $2 }
		END {
			s = "redactd_store_sync_seconds"; c = "redactd_store_checkpoint_seconds"
			printf "  disk:        %d fdatasyncs, %d over 10 ms, %d over 100 ms; %d checkpoints, %d over 10 ms, %d over 100 ms\n",
				total[s], over(s, "0.01"), over(s, "0.1"), total[c], over(c, "0.01"), over(c, "0.1")
		}' "$T/metrics.txt"
}
for PROFILE in $PROFILES; do
	run_profile
done
