#!/usr/bin/env bash
# Slow clients (issue 11, finding 1): a few hundred sockets trickling header
# bytes from 127.0.0.2..9 must not stop service for 127.0.0.1; each address
# holds at most max_connections_per_ip; a header block trickled past
# header_timeout is cut, and so is a body slower than body_min_rate after
# body_grace. A body above the rate and an idle kept-alive connection are
# left alone, and the cuts do not flood the log. Bounded: about 20 s.
. "$(dirname "$0")/lib.sh"
SL="python3 $(dirname "$0")/slowloris.py"
write_config
sed -i "/^\[server\]/a max_connections_per_ip = 20\nheader_timeout = 2s\nbody_min_rate = 1k\nbody_grace = 2s" "$T/redactd.conf"
daemon_start || { finish; exit 1; }

metric() {  # metric REASON: redactd_http_connections_dropped_total{reason=REASON}
	curl -s -H "Authorization: Bearer $READ_TOKEN" "$BASE/metrics" |
		sed -n "s/^redactd_http_connections_dropped_total{reason=\"$1\"} //p"
}

OUT=$($SL "$PORT" flood 40 4)
echo "# flood: $OUT"
field() { printf '%s' "$OUT" | jq -r ".$1"; }
check_eq "all 320 slow sockets connected" "$(field opened)" 320
check "per-address limit: at most 8 x 20 slow sockets open after 1 s ($(field alive_after_1s))" \
	test "$(field alive_after_1s)" -le 160
check "per-address limit: the first 20 of each address are served ($(field alive_after_1s))" \
	test "$(field alive_after_1s)" -ge 150
check_eq "header_timeout: every trickling socket cut within 4 s" "$(field alive_at_end)" 0
check_eq "every probe from 127.0.0.1 answered 200" "$(field probes_ok)" "$(field probes)"
check "every probe answered within 100 ms (slowest $(field probe_max_ms) ms)" \
	python3 -c "import sys; sys.exit(0 if $(field probe_max_ms) < 100 else 1)"
check "per_ip_limit drops counted in /metrics ($(metric per_ip_limit))" test "$(metric per_ip_limit)" -ge 160
check "header_timeout drops counted in /metrics ($(metric header_timeout))" test "$(metric header_timeout)" -ge 150
# MHD logs a line per connection it sees closed mid-request.
mhd_lines=$(grep -c 'Connection socket is closed' "$T/daemon.log")
check "the cuts write at most 10 of MHD's lines a minute ($mhd_lines)" test "$mhd_lines" -le 10

cut=$($SL "$PORT" header | jq -r .cut_after_s)
check "one trickling header block is cut after header_timeout (2 s; took $cut s)" \
	python3 -c "import sys; sys.exit(0 if '$cut' != 'null' and 1.9 <= $cut < 3.5 else 1)"

cut=$($SL "$PORT" body "$INGEST_TOKEN" | jq -r .cut_after_s)
check "a body at 20 B/s is cut after body_grace (2 s; took $cut s)" \
	python3 -c "import sys; sys.exit(0 if '$cut' != 'null' and 1.9 <= $cut < 3.5 else 1)"
check "body_rate drops counted in /metrics ($(metric body_rate))" test "$(metric body_rate)" -ge 1
check_eq "a body at 2 KB/s (above body_min_rate) is stored" \
	"$($SL "$PORT" steady-body "$INGEST_TOKEN" | jq -r .status)" 201
check_eq "an idle kept-alive connection outlives header_timeout" \
	"$($SL "$PORT" keepalive 3 | jq -c .statuses)" "[200,200]"
OUT=$($SL "$PORT" keepalive-trickle)
cut=$(printf '%s' "$OUT" | jq -r .cut_after_s)
check_eq "kept alive: the first request is served" "$(printf '%s' "$OUT" | jq -r .first)" 200
check "kept alive: the next header block, trickled, is cut after header_timeout (took $cut s)" \
	python3 -c "import sys; sys.exit(0 if '$cut' != 'null' and 1.9 <= $cut < 3.5 else 1)"

req GET /healthz ""
check_eq "still serving" "$STATUS" 200
finish
