#!/usr/bin/env bash
# End to end: [server] max_clock_skew. A message whose ts is further in the
# future than the skew allows is refused with 422 invalid_field naming ts,
# and its batch stores nothing (a fast client clock must not keep a record
# past its retention); within the skew, or in the past, it is stored. A
# WhatsApp notification carries the provider's timestamp and is held to the
# same rule. A reload changes the skew; 0 turns the check off.
. "$(dirname "$0")/lib.sh"

META_SECRET=meta-app-secret-skew-0123456789
printf '%s' "$META_SECRET" > "$T/meta.secret"
DAEMON_EXTRA_CONF="[source \"whatsapp\"]
secret_file = $T/meta.secret"
write_config
sed -i "/^\[server\]/a max_clock_skew = 2min" "$T/redactd.conf"
daemon_start || { finish; exit 1; }

NOW=$(date +%s)
msg() { printf '{"conversation_id":"%s","text":"hello","ts":%s}' "$1" "$2"; }

req POST /v1/messages "$INGEST_TOKEN" "$(msg c-now "$NOW")"
check_eq "a message stamped now is stored" "$STATUS" 201
req POST /v1/messages "$INGEST_TOKEN" "$(msg c-near $((NOW + 60)))"
check_eq "a minute ahead is within a 2min skew" "$STATUS" 201
req POST /v1/messages "$INGEST_TOKEN" "$(msg c-past $((NOW - 86400 * 30)))"
check_eq "a past timestamp is stored" "$STATUS" 201
N=$(db_count)

req POST /v1/messages "$INGEST_TOKEN" "$(msg c-far $((NOW + 3600)))"
check_eq "an hour ahead is refused with 422" "$STATUS" 422
check_eq "the error is invalid_field" "$(jget '.error.code')" invalid_field
check "the message names ts and the skew" bash -c "printf '%s' \"\$1\" | jq -r .error.message | grep -q 'message.ts is .* in the future, more than max_clock_skew (120 s)'" _ "$BODY"

FUTURE=$(date -u -d "@$((NOW + 86400 * 400))" +%Y-%m-%dT%H:%M:%SZ)
req POST /v1/messages "$INGEST_TOKEN" "{\"messages\":[$(msg b-1 "$NOW"),{\"conversation_id\":\"b-2\",\"text\":\"x\",\"ts\":\"$FUTURE\"}]}"
check_eq "an RFC 3339 ts 400 days ahead in a batch is refused" "$STATUS" 422
check "the error names the message of the batch" bash -c "printf '%s' \"\$1\" | jq -r .error.message | grep -q '^messages\[1\]\.ts '" _ "$BODY"
check_eq "the refused batch stores nothing, not even its good message" "$(db_count)" "$N"

meta_sig() { printf 'sha256=%s' "$(printf '%s' "$1" | openssl dgst -sha256 -hmac "$META_SECRET" | sed 's/.*= //')"; }
wa() {  # wa TIMESTAMP
	local b
	b=$(printf '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"1"},"messages":[{"from":"447700900111","id":"wamid.S1","timestamp":"%s","type":"text","text":{"body":"hi"}}]}}]}]}' "$1")
	req POST /v1/webhooks/whatsapp "" "$b" -H "X-Hub-Signature-256: $(meta_sig "$b")"
}
wa $((NOW + 7200))
check_eq "a WhatsApp timestamp two hours ahead is refused" "$STATUS" 422
check_eq "and stores nothing" "$(db_count)" "$N"
wa "$NOW"
check_eq "a WhatsApp timestamp of now is stored" "$STATUS" 200

sed -i "s/^max_clock_skew = .*/max_clock_skew = 0/" "$T/redactd.conf"
kill -HUP "$DAEMON_PID"
ok_after_reload() { req POST /v1/messages "$INGEST_TOKEN" "$(msg c-off $((NOW + 3600)))"; [ "$STATUS" = 201 ]; }
check "max_clock_skew = 0 (after a reload) turns the check off" wait_for 10 ok_after_reload

sed -i "s/^max_clock_skew = .*/max_clock_skew = 5m/" "$T/redactd.conf"
check "check-config refuses a bare m, naming min and mo" bash -c "'$BIN' check-config -c '$T/redactd.conf' 2>&1 | grep -q 'redactd.conf:[0-9]*: max_clock_skew = 5m is ambiguous: write 5min for minutes or 5mo for months'"
finish
