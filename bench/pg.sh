#!/usr/bin/env bash
# Ingest on the postgresql backend (issue 19): msgs/s and p99 for 1, 2 and
# 4 redactd processes against one local PostgreSQL (a throwaway cluster,
# tests/pg_cluster.sh, fsync on, synchronous_commit on), beside one redactd
# on SQLite (synchronous = full) for the same traffic: wrk with 64
# connections in all (split evenly over the processes), the `chat` profile
# of bench/ingest.lua, ~1 KB turns, SECS seconds each.
# Usage: bench/pg.sh BUILD_DIR [SECONDS] [PROCESS COUNTS]
set -euo pipefail
BUILD=${1:-build}; SECS=${2:-${BENCH_SECONDS:-20}}; COUNTS=${3:-${BENCH_PG_PROCS:-1 2 4}}
command -v wrk >/dev/null || { echo "pg bench: wrk not installed (apt-get install wrk)"; exit 0; }
T=$(mktemp -d); PGDIR="${TMPDIR:-/tmp}/redactd-bench-pg-$$"
trap 'rc=$?; kill $(jobs -p) 2>/dev/null || true; sh tests/pg_cluster.sh stop "$PGDIR" >/dev/null 2>&1; rm -rf "$T"; exit $rc' EXIT
URL=$(sh tests/pg_cluster.sh start "$PGDIR") || { echo "pg bench: no PostgreSQL server (install postgresql)"; exit 0; }
PW=$(cat "$PGDIR/password")
TOKEN=bench-ingest-token
"$BUILD/redactd" keygen -o "$T/master.key" 2>/dev/null
printf '%s\n' "$PW" > "$T/pg.password"

config() {  # config PORT STORAGE-LINES -> a config file's path
	cat > "$T/c$1.conf" <<CONF
[server]
listen = 127.0.0.1:$1
threads = ${BENCH_THREADS:-0}
[storage]
key_file = $T/master.key
$2
[token "bench"]
sha256 = $(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
scopes = ingest
CONF
	echo "$T/c$1.conf"
}
# Over the processes' wrk outputs: total req/s, the worst p99, non-2xx.
summary() {
	awk '/Requests\/sec/ {r += $2} /Non-2xx/ {x += $NF}
	     $1 == "99%" {v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /[^m]s$/) v *= 1000; if (v > p) p = v}
	     END {printf "%.0f msgs/s, p99 %.1f ms, non-2xx %d", r, p, x}' "$@"
}
# CPU seconds the PostgreSQL server has used: the postmaster, its reaped
# children (the backends of closed connections), and its living children.
pg_cpu() {
	local pm; pm=$(head -n 1 "$PGDIR/data/postmaster.pid")
	{ cat "/proc/$pm/stat"; for c in $(pgrep -P "$pm"); do cat "/proc/$c/stat" 2>/dev/null; done; } |
		awk -v hz="$(getconf CLK_TCK)" -v pm="$pm" '{sub(/^.*\) /, ""); t += $12 + $13; if (NR == 1) t += $14 + $15} END {printf "%.2f", t / hz}'
}
run() {  # run NAME STORAGE-LINES NPROCS
	local name=$1 storage=$2 n=$3 pids=() ports=() i
	rm -f "$T"/wrk.*.txt
	for i in $(seq 1 "$n"); do
		ports[$i]=$((18100 + i))
		"$BUILD/redactd" serve -c "$(config ${ports[$i]} "$storage")" 2>>"$T/daemon.log" &
		pids[$i]=$!
	done
	for i in $(seq 1 "$n"); do
		for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:${ports[$i]}/healthz" >/dev/null && break; sleep 0.05; done
	done
	local conns=$((64 / n)) wpids=()
	for i in $(seq 1 "$n"); do
		BENCH_PROFILE=chat BENCH_RUN="$(date +%s%N)$i" BENCH_TOKEN=$TOKEN \
			wrk -t1 -c"$conns" -d"${SECS}s" --latency -s bench/ingest.lua "http://127.0.0.1:${ports[$i]}" \
			> "$T/wrk.$i.txt" &
		wpids+=($!)
	done
	for p in "${wpids[@]}"; do wait "$p"; done
	kill -TERM "${pids[@]}"; for p in "${pids[@]}"; do wait "$p" || true; done
	printf '  %-34s %s\n' "$name" "$(summary "$T"/wrk.*.txt)"
}

echo "ingest, chat profile, wrk 64 connections in all, ${SECS}s each, $(nproc) cores shared by server, clients and daemons"
run "sqlite, 1 process" "database = $T/bench.db
synchronous = full" 1
for n in $COUNTS; do
	db="bench_$n"
	PGPASSWORD=$PW psql -h "$PGDIR" -U redactd -d redactd -qAt -c "CREATE DATABASE $db" >/dev/null
	cpu0=$(pg_cpu)
	lsn0=$(PGPASSWORD=$PW psql -h "$PGDIR" -U redactd -d redactd -qAt -c "SELECT pg_current_wal_lsn()")
	run "postgresql, $n process(es)" "backend = postgresql
url = postgresql://redactd@/$db?host=$PGDIR
password_file = $T/pg.password" "$n"
	rows=$(PGPASSWORD=$PW psql -h "$PGDIR" -U redactd -d "$db" -qAt -c "SELECT count(*) FROM messages")
	dup=$(PGPASSWORD=$PW psql -h "$PGDIR" -U redactd -d "$db" -qAt -c "SELECT count(*) - count(DISTINCT record_id) FROM messages")
	# What a stored message costs on disk (its tables with their indexes
	# and TOAST, the catalog left out), for the sizing model.
	size=$(PGPASSWORD=$PW psql -h "$PGDIR" -U redactd -d "$db" -qAt -c \
		"SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = 'public' AND c.relkind = 'r'")   # plain tables and partitions
	cpu=$(awk -v a="$cpu0" -v b="$(pg_cpu)" -v n="$rows" 'BEGIN {printf "%.0f", n ? (b - a) * 1e6 / n : 0}')
	echo "    rows committed $rows, duplicates $dup, $size bytes in tables and indexes ($((size / (rows > 0 ? rows : 1))) a message)"
	wal=$(PGPASSWORD=$PW psql -h "$PGDIR" -U redactd -d redactd -qAt -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0')")
	echo "    PostgreSQL server CPU: $cpu us a message (all its processes); WAL $(awk -v w="$wal" -v n="$rows" 'BEGIN {printf "%.0f", n ? w / n : 0}') bytes a message"
done
