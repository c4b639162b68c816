#!/usr/bin/env bash
# Acknowledged means durable: 8 concurrent clients post numbered messages
# while the daemon is killed with SIGKILL at random moments, over several
# rounds with restarts. Every acknowledged message reads back exactly once,
# and the database passes integrity_check after every crash.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }
CLIENTS=8; ROUNDS=${CRASH_ROUNDS:-4}

client() {  # client ID ROUND: post until the daemon dies; log acked numbers
	local id=$1 round=$2 n=0 code
	while :; do
		n=$((n + 1))
		code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 \
			-H "Authorization: Bearer $INGEST_TOKEN" -H 'Content-Type: application/json' \
			--data-binary "{\"conversation_id\":\"crash-$id\",\"text\":\"n=$round-$n\"}" \
			"$BASE/v1/messages") || break
		[ "$code" = 201 ] && echo "n=$round-$n" >> "$T/acked-$id"
		[ "$code" = 000 ] && break
	done
}

for round in $(seq 1 "$ROUNDS"); do
	pids=()
	for c in $(seq 1 $CLIENTS); do client "$c" "$round" & pids+=($!); done
	sleep "0.$(( (RANDOM % 7) + 3 ))"
	daemon_kill9
	wait "${pids[@]}" 2>/dev/null
	check "round $round: database passes integrity_check after SIGKILL" \
		bash -c "sqlite3 '$T/redactd.db' 'PRAGMA integrity_check' | grep -qx ok"
	daemon_start || break
done

total=0
for c in $(seq 1 $CLIENTS); do
	req GET "/v1/conversations/crash-$c" "$READ_TOKEN"
	printf '%s' "$BODY" | jq -r '.messages[].text' 2>/dev/null | sort > "$T/stored-$c"
	sort "$T/acked-$c" 2>/dev/null > "$T/acked-sorted-$c" || : > "$T/acked-sorted-$c"
	total=$((total + $(wc -l < "$T/acked-sorted-$c")))
	check "client $c: every acknowledged message reads back" \
		bash -c "[ -z \"\$(comm -23 '$T/acked-sorted-$c' '$T/stored-$c')\" ]"
	check "client $c: no message stored twice" bash -c "[ -z \"\$(uniq -d '$T/stored-$c')\" ]"
done
check "acknowledged messages over all rounds > 0 (got $total)" test "$total" -gt 0
finish
