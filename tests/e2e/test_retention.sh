#!/usr/bin/env bash
# End to end: the daemon's own sweeper purges a category with a
# seconds-long retention while a long one stays and a held conversation
# survives; one audit entry per category per pass; stats.
#
# Nothing here races the sweeper: the hold is placed before its
# conversation exists, and the lead category keeps an hour's retention
# until stats has counted it; only then does a SIGHUP shorten it to 2 s.
# (With 3 s from the start, a slow run -- `make asan` on a busy machine --
# could see records purged before they were counted or held.)
. "$(dirname "$0")/lib.sh"
SWEEP_INTERVAL=1s
write_config
conf_set lead 1h
daemon_start || { finish; exit 1; }

post() {  # post CONV CATEGORY TEXT
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$1\",\"category\":\"$2\",\"text\":\"$3\"}"
	[ "$STATUS" = 201 ] || echo "ingest failed: $STATUS $BODY"
}
req POST /v1/holds "$ADMIN_TOKEN" '{"conversation_id":"lead-held","reason":"dispute"}'
check_eq "hold placed" "$STATUS" 201
HOLD=$(jget '.id')

post lead-1 lead "Lead: call 020 7946 0018 or mail pat@example.net"
post lead-1 lead "Second turn of the lead"
post lead-held lead "Held lead, mail kim@example.net"
post chat-1 chat_transcript "A chat that is kept a year, sam@example.net"

OUT=$(rd stats --json 2>/dev/null)
check_eq "stats counts the lead category" "$(printf '%s' "$OUT" | jq -r '.tenants.default.categories.lead.records')" 3
check_eq "stats shows its horizon" "$(printf '%s' "$OUT" | jq -r '.tenants.default.categories.lead.horizon_s')" 3600
check_eq "stats counts entities" "$(printf '%s' "$OUT" | jq -r '.tenants.default.entities.EMAIL')" 3
check "stats text output" bash -c "'$BIN' stats -c '$T/redactd.conf' | grep -q 'lead .* 3 records .*retention 1h'"

conf_set lead 2s
kill -HUP "$DAEMON_PID"

gone() { req GET "/v1/conversations/$1" "$READ_TOKEN"; [ "$STATUS" = 404 ]; }
check "the sweeper purges the short category on its own" wait_for 15 gone lead-1
req GET /v1/conversations/chat-1 "$READ_TOKEN"
check_eq "the long category stays" "$STATUS" 200
req GET /v1/conversations/lead-held "$READ_TOKEN"
check_eq "the held conversation survives the sweep" "$STATUS" 200
check_eq "db holds exactly the survivors" "$(db_count)" 2

LIST=$(rd audit list 2>/dev/null)
check_eq "purge entries name the category and count what went" \
	"$(printf '%s\n' "$LIST" | jq -s -r '[.[] | select(.action=="purge")] | "\(map(.target) | unique | join(",")) \(map(.count) | add)"')" \
	"tenant:default category:lead 2"
check_eq "the sweeper is the actor" "$(printf '%s\n' "$LIST" | jq -r 'select(.action=="purge") | .actor' | sort -u)" sweeper
check "passes that purge nothing are audited too" bash -c "printf '%s\n' \"\$1\" | jq -s -e 'any(.action==\"sweep\")'" _ "$LIST"
check "purges are counted in metrics" bash -c "curl -s -H 'Authorization: Bearer $READ_TOKEN' $BASE/metrics | grep -q 'redactd_purged_total{category=\"lead\"} 2'"

req DELETE "/v1/holds/$HOLD" "$ADMIN_TOKEN"
check_eq "hold released" "$STATUS" 200
check "released conversation is purged by the next pass" wait_for 10 gone lead-held
check "the chain verifies while the daemon runs" rd audit verify
check "no identifiers in the log" bash -c "! grep -aqiE 'example\.net|020 ?7946 ?0018|2079460018|lead-1|lead-held|dispute' '$T/daemon.log'"
check "the sweeper logs counts" grep -q 'sweep: default/lead purged=2' "$T/daemon.log"

finish
