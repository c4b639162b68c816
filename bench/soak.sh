#!/usr/bin/env bash
# Growth: how ingest holds up as the database grows, and how reads, subject
# rights and a retention sweep behave on a large database (issue 16).
#
#  1. `chat` traffic (bench/ingest.lua: new conversations all the time, one
#     turn in five from a new customer) in slices of SOAK_SLICE seconds
#     until the database holds SOAK_RECORDS (10 M) records; one line per
#     SOAK_STEP (1 M) records: msgs/s, worst p99, RSS, peak RSS, database
#     size (file + WAL). The figures go to soak.csv and, with gnuplot,
#     soak.png (in SOAK_OUT, default the current directory).
#  2. Reads and rights at that size: a 50-turn conversation read 200 times
#     (p50/p99), subject export by email and by phone, and the erasure of
#     one subject (each timed end to end with curl).
#  3. A sweep under load: SOAK_EXPIRED (1 M) more records dated 400 days
#     ago are ingested with the sweeper off; then `chat` runs for two
#     slices (baseline), the daemon restarts with sweep_interval = 1s, and
#     `chat` runs again while the sweeper purges them; the rate while it
#     purges is compared with the baseline.
# SOAK_DB=PATH runs on that database in place (its master.key beside it,
# e.g. bench/synth_db.sh's 10 M records) and skips step 1 when it already
# holds SOAK_RECORDS; it keeps what steps 2 and 3 add. With SOAK_WARM=1 the
# file is first cached as a running daemon's reads leave it
# (bench/warm_db.py; never warm it with cat or cp, see there).
# Usage: bash bench/soak.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
TARGET=${SOAK_RECORDS:-10000000}; STEP=${SOAK_STEP:-1000000}
SLICE=${SOAK_SLICE:-15}; EXPIRED=${SOAK_EXPIRED:-1000000}
OUT=${SOAK_OUT:-.}
for tool in wrk curl sqlite3; do
	command -v $tool >/dev/null || { echo "soak: $tool not installed (make bench-deps)"; exit 0; }
done
T=$(mktemp -d "${SOAK_DIR:-${TMPDIR:-/tmp}}/soak.XXXXXX"); PID=
trap 'rc=$?; [ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"; exit $rc' EXIT
PORT=18095; BASE=http://127.0.0.1:$PORT
INGEST=soak-ingest-token; READ=soak-read-token; ADMIN=soak-admin-token
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
DB=$T/soak.db
if [ -n "${SOAK_DB:-}" ]; then
	DB=$SOAK_DB; cp "$(dirname "$SOAK_DB")/master.key" "$T/master.key"
	[ -z "${SOAK_WARM:-}" ] || python3 bench/warm_db.py "$DB"
else
	"$BUILD/redactd" keygen -o "$T/master.key" 2>/dev/null
fi
conf() {  # SWEEP_INTERVAL
	cat > "$T/redactd.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
[storage]
database = $DB
key_file = $T/master.key
synchronous = full
[retention]
chat_transcript = 365d
sweep_interval = $1
[token "ingest"]
sha256 = $(sha "$INGEST")
scopes = ingest
[token "read"]
sha256 = $(sha "$READ")
scopes = read
[token "admin"]
sha256 = $(sha "$ADMIN")
scopes = admin,read
CONF
}
start() {
	"$BUILD/redactd" serve -c "$T/redactd.conf" 2>>"$T/daemon.log" &
	PID=$!
	for _ in $(seq 1 200); do curl -sf "$BASE/healthz" >/dev/null && return 0; sleep 0.05; done
	echo "soak: the daemon did not start"; tail -5 "$T/daemon.log"; exit 1
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=; }
metric() { curl -s -H "Authorization: Bearer $READ" "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
records() { metric redactd_store_records_total; }   # committed since the daemon started
held() { sqlite3 -readonly "$DB" "SELECT coalesce(max(id), 0) FROM messages"; }   # about what the file holds
wrk_slice() {  # PROFILE SECONDS -> "rate p99_ms non2xx"
	BENCH_PROFILE=$1 BENCH_RUN="$(date +%s%N)" BENCH_TOKEN=$INGEST \
		wrk -t2 -c64 -d"$2s" --latency -s bench/ingest.lua "$BASE" |
	awk '/requests in/ {n = $1; t = $4 + 0}
	     $1 == "99%" {v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /[^m]s$/) v *= 1000; p = v}
	     /Non-2xx/ {x = $NF}
	     END {printf "%.0f %.2f %d\n", n / t, p, x}'
}
db_mb() { du -cm "$DB"* | awk 'END {print $1}'; }
rss_mb() { awk -v k="$1" '$1 == k ":" {printf "%.1f", $2 / 1024}' /proc/"$PID"/status; }

# ---- 1. growth ----
conf 30d; start
if [ -n "${SOAK_DB:-}" ] && [ "$(held)" -ge "$TARGET" ]; then
	echo "soak: $DB already holds about $(held) records: no growth step"
else
	BASE_RECORDS=0; ALL_NON2XX=0
	echo "soak: chat traffic until $TARGET records (wrk -t2 -c64, ${SLICE}s slices, synchronous=FULL)"
	printf '%10s %9s %9s %8s %8s %9s\n' records msgs/s p99_ms rss_MB peak_MB db_MB
	echo "records,msgs_per_s,p99_ms,rss_mb,peak_rss_mb,db_mb" > "$T/soak.csv"
	next=$STEP; n=0; secs=0; worst=0
	while :; do
		read -r rate p99 bad <<<"$(wrk_slice chat "$SLICE")"
		ALL_NON2XX=$((ALL_NON2XX + bad))
		n=$((n + rate * SLICE)); secs=$((secs + SLICE))
		worst=$(awk -v a="$worst" -v b="$p99" 'BEGIN {print (b > a ? b : a)}')
		have=$(records)
		if [ "$have" -ge "$next" ] || [ "$have" -ge "$TARGET" ]; then
			line="$have $((n / secs)) $worst $(rss_mb VmRSS) $(rss_mb VmHWM) $(db_mb)"
			printf '%10s %9s %9s %8s %8s %9s\n' $line
			echo "$line" | tr ' ' ',' >> "$T/soak.csv"
			n=0; secs=0; worst=0
			while [ "$next" -le "$have" ]; do next=$((next + STEP)); done
		fi
		[ "$have" -ge "$TARGET" ] && break
	done
	echo "soak: non-2xx answers during growth: $ALL_NON2XX"
	awk -F, 'NR == 2 {first = $2} NR > 1 {last = $2; if ($3 > p) p = $3; if ($5 > r) r = $5}
		END {printf "soak: last step / first step rate %.2f; worst p99 %.2f ms; peak RSS %.1f MB\n", last / first, p, r}' "$T/soak.csv"
	cp "$T/soak.csv" "$OUT/soak.csv"
	if command -v gnuplot >/dev/null; then
		gnuplot <<PLOT
set terminal pngcairo size 900,520 font ",10"
set output "$OUT/soak.png"
set datafile separator ","
set key top right
set xlabel "records in the database (millions)"
set ylabel "messages/s acknowledged"
set y2label "p99 (ms), RSS (MB)"
set ytics nomirror; set y2tics
set yrange [0:*]; set y2range [0:*]
set title "redactd ingest as the database grows (chat traffic, wrk -t2 -c64, synchronous=FULL)"
plot "$T/soak.csv" skip 1 using (\$1/1e6):2 with linespoints lw 2 title "msgs/s", \
     "" skip 1 using (\$1/1e6):3 axes x1y2 with linespoints title "p99 ms", \
     "" skip 1 using (\$1/1e6):5 axes x1y2 with linespoints title "peak RSS MB"
PLOT
		echo "soak: plot in $OUT/soak.png"
	fi
fi

# ---- 2. reads and rights at this size ----
EMAIL="soak.reader@example.org"; PHONE="+44 7700 900123"
for i in $(seq 1 50); do
	printf '{"conversation_id":"soak-read","text":"turn %d: reach me at %s or %s about order 1234"}' \
		"$i" "$EMAIL" "$PHONE"
done | jq -s '{messages: .}' > "$T/conv.json"
curl -sf -o /dev/null -H "Authorization: Bearer $INGEST" -H 'Content-Type: application/json' \
	--data-binary @"$T/conv.json" "$BASE/v1/messages"
timed() {  # METHOD PATH TOKEN -> seconds
	curl -s -o /dev/null -w '%{time_total}\n' -X "$1" -H "Authorization: Bearer $3" "$BASE$2"
}
for _ in $(seq 1 200); do timed GET /v1/conversations/soak-read "$READ"; done | sort -n > "$T/reads"
awk '{v[NR] = $1 * 1000} END {printf "reads at %s records: 50-turn conversation p50 %.2f ms, p99 %.2f ms (200 reads)\n", r, v[int(NR * 0.5)], v[int(NR * 0.99)]}' \
	r="$(held)" "$T/reads"
q() { jq -rn --arg v "$1" '$v|@uri'; }
e=$(timed GET "/v1/subjects?email=$(q "$EMAIL")" "$ADMIN")
p=$(timed GET "/v1/subjects?phone=$(q "$PHONE")" "$ADMIN")
d=$(timed DELETE "/v1/subjects?email=$(q "$EMAIL")" "$ADMIN")
awk -v e="$e" -v p="$p" -v d="$d" 'BEGIN {printf "rights: export by email %.1f ms, by phone %.1f ms; erasure of the subject %.1f ms\n", e * 1000, p * 1000, d * 1000}'
left=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $READ" "$BASE/v1/conversations/soak-read")
echo "rights: the conversation after erasure answers $left"

# ---- 3. a sweep of expired records under chat load ----
[ "$EXPIRED" -gt 0 ] || exit 0
before=$(records)
while [ "$(records)" -lt $((before + EXPIRED)) ]; do wrk_slice backfill "$SLICE" >/dev/null; done
stop; start
read -r base_rate base_p99 _ <<<"$(wrk_slice chat "$SLICE")"
read -r r2 p2 _ <<<"$(wrk_slice chat "$SLICE")"
base_rate=$(( (base_rate + r2) / 2 )); base_p99=$(awk -v a="$base_p99" -v b="$p2" 'BEGIN {print (b > a ? b : a)}')
stop; conf 1s; start
echo "sweep: $EXPIRED expired records to purge; baseline chat $base_rate msgs/s, p99 $base_p99 ms"
n=0; secs=0; worst=0; purged=0
while :; do
	read -r rate p99 _ <<<"$(wrk_slice chat "$SLICE")"
	n=$((n + rate * SLICE)); secs=$((secs + SLICE))
	worst=$(awk -v a="$worst" -v b="$p99" 'BEGIN {print (b > a ? b : a)}')
	purged=$(curl -s -H "Authorization: Bearer $READ" "$BASE/metrics" |
		awk '/^redactd_purged_total/ {s += $2} END {print s + 0}')
	[ "$purged" -ge "$EXPIRED" ] || [ "$secs" -ge 1800 ] && break
done
awk -v r=$((n / secs)) -v b="$base_rate" -v p="$worst" -v s="$secs" -v x="$purged" \
	'BEGIN {printf "sweep: %d purged in %d s while chat ran at %d msgs/s (%.2f of the baseline), p99 %.2f ms\n", x, s, r, r / b, p}'
stop
