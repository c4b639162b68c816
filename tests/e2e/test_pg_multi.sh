#!/usr/bin/env bash
# Three redactd processes on one PostgreSQL database (issue 19), under
# load: each takes messages from four concurrent clients while the others
# read (every read is an audit entry, appended to the tenant's chain from
# three processes). One process is killed with kill -9 in the middle. Then:
# every message that was acknowledged (201) is stored, none twice, the
# others' clients never saw an error, and `audit verify` finds the chain
# intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
if ! pg_setup; then finish; exit $([ "$FAILED" -eq 0 ] && echo 0 || echo 1); fi
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; pg_teardown; }
trap cleanup EXIT
pg_config
"$BIN" keygen -o "$T/master.key" 2>/dev/null
N=${PG_MULTI_N:-80}   # messages per client; 4 clients per process

start_nodes 3
check "three processes serve one database" bash -c "kill -0 ${PIDS[1]} && kill -0 ${PIDS[2]} && kill -0 ${PIDS[3]}"

# client NODE C: N messages into conversation mc-NODE-C; one line per 201
# (the id and the message's number) in ack.NODE.C, failures in fail.NODE.C.
client() {
	local node=$1 c=$2 base=${BASES[$1]} k out code
	for k in $(seq 1 "$N"); do
		out=$(curl -s -m 10 -w ' %{http_code}' -H "Authorization: Bearer $INGEST_TOKEN" \
			-H 'Content-Type: application/json' \
			--data-binary "{\"conversation_id\":\"mc-$node-$c\",\"text\":\"message $k from $node/$c\"}" \
			"$base/v1/messages" 2>/dev/null)
		code=${out##* }
		if [ "$code" = 201 ]; then
			printf '%s %s\n' "$(printf '%s' "${out% *}" | jq -r '.ids[0]')" "$k" >> "$T/ack.$node.$c"
		else
			printf '%s %s\n' "$k" "$code" >> "$T/fail.$node.$c"
		fi
	done
}
reader() {  # reads on NODE until told to stop; each read appends an audit entry
	local base=${BASES[$1]}
	while [ ! -f "$T/stop" ]; do
		curl -s -m 10 -o /dev/null -H "Authorization: Bearer $READ_TOKEN" "$base/v1/conversations/mc-1-1"
	done
}

CLIENTS=()
for node in 1 2 3; do
	for c in 1 2 3 4; do client $node $c & CLIENTS+=($!); done
	reader $node & READERS+=($!)
done
# kill -9 node 2 once it has acknowledged some of its messages
for _ in $(seq 1 200); do
	[ "$(cat "$T"/ack.2.* 2>/dev/null | wc -l)" -ge $((N / 2)) ] && break
	sleep 0.05
done
kill -9 "${PIDS[2]}"
ACKED_AT_KILL=$(cat "$T"/ack.2.* 2>/dev/null | wc -l)
for p in "${CLIENTS[@]}"; do wait "$p"; done
touch "$T/stop"
for p in "${READERS[@]}"; do wait "$p"; done

check "node 2 acknowledged messages before kill -9" test "$ACKED_AT_KILL" -gt 0
check "node 2's clients saw failures after it died" test -s "$T/fail.2.1" -o -s "$T/fail.2.2" -o -s "$T/fail.2.3" -o -s "$T/fail.2.4"
check_eq "nodes 1 and 3: every message acknowledged" "$(cat "$T"/ack.1.* "$T"/ack.3.* | wc -l)" $((8 * N))

cat "$T"/ack.* | cut -d' ' -f1 | sort > "$T/acked"
psql_t "SELECT record_id FROM messages" | sort > "$T/stored"
check "every acknowledged message is stored" bash -c "[ -z \"\$(comm -23 '$T/acked' '$T/stored')\" ]"
check_eq "no message is stored twice" "$(psql_t "SELECT count(*) - count(DISTINCT record_id) FROM messages")" 0
check_eq "no acknowledged id was given twice" "$(uniq -d "$T/acked" | wc -l)" 0
check "stored: at most what was sent" test "$(wc -l < "$T/stored")" -le $((12 * N))

# Reading back through a surviving node: a conversation of the killed one.
BASE=${BASES[1]}
req GET /v1/conversations/mc-2-1 "$READ_TOKEN"
want=$(grep -c . "$T/ack.2.1" 2>/dev/null || echo 0)
check "node 1 reads node 2's acknowledged messages" test "$(jget '.messages | length')" -ge "$want"

AUDIT=$(psql_t "SELECT count(*) FROM audit_log")
check "reads from three processes were audited" test "$AUDIT" -gt 10
OUT=$("$BIN" audit verify -c "$T/node1.conf" 2>&1)
check_eq "audit verify: the chain appended by three processes is intact" "$?" 0
check "the reads are in the tenant's chain" test "$(psql_t "SELECT count(*) FROM audit_log WHERE chain = 'default' AND action = 'read'")" -gt 10
check_eq "no chain has a gap in seq" "$(psql_t "SELECT coalesce(sum(m - n), 0) FROM (SELECT max(seq) AS m, count(*) AS n FROM audit_log GROUP BY chain) x")" 0

for i in 1 3; do
	kill -TERM "${PIDS[$i]}"; wait "${PIDS[$i]}"
	check_eq "node $i drains and exits 0" "$?" 0
done
PIDS=()
check "no node logged a sanitizer report" bash -c "! grep -q Sanitizer '$T'/node*.log"
echo "# $ACKED_AT_KILL acknowledged by node 2 at kill -9; $(wc -l < "$T/stored") stored in all; $AUDIT audit entries"
finish
