#!/usr/bin/env bash
# End to end: ingest, redaction, encryption at rest, read back, redact-only,
# and durability across kill -9. The real daemon, a real SQLite file.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

EMAIL=jane.doe+tag@mail.example.co.uk
PHONE="+44 7700 900123"
ORDER=ORD-482913
CARD="4111 1111 1111 1111"
WORD=marmalade
CONV="+447700900987"
MSG="Hi, I am $EMAIL, call me on $PHONE about order $ORDER, card $CARD, and the $WORD."

check "healthz answers without auth" curl -sf "$BASE/healthz"

req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$CONV\",\"text\":\"$MSG\",\"metadata\":{\"customer_email\":\"$EMAIL\",\"attempt\":2}}"
check_eq "ingest answers 201" "$STATUS" 201
ID=$(jget '.ids[0]')
check "ingest returns a record id" test "${#ID}" -eq 26
check_eq "findings count EMAIL (text + metadata)" "$(jget '.findings.EMAIL')" 2
check_eq "findings count PHONE" "$(jget '.findings.PHONE')" 1
check_eq "findings count CREDIT_CARD" "$(jget '.findings.CREDIT_CARD')" 1
check_eq "findings count ORDER_ID" "$(jget '.findings.ORDER_ID')" 1

ENC_CONV=$(printf '%s' "$CONV" | jq -sRr @uri)
req GET "/v1/conversations/$ENC_CONV" "$READ_TOKEN"
check_eq "read back answers 200" "$STATUS" 200
TEXT=$(jget '.messages[0].text')
check "read back is redacted" test "$TEXT" = "Hi, I am [EMAIL], call me on [PHONE] about order [ORDER_ID], card [CREDIT_CARD], and the $WORD."
check_eq "read back has the id" "$(jget '.messages[0].id')" "$ID"
check_eq "metadata string redacted" "$(jget '.messages[0].metadata.customer_email')" "[EMAIL]"
check_eq "metadata number kept" "$(jget '.messages[0].metadata.attempt')" 2
check_eq "findings listed" "$(jget '.messages[0].findings | length')" 5
check_eq "conversation id echoed" "$(jget '.conversation_id')" "$CONV"

req GET /v1/conversations/nobody "$READ_TOKEN"
check_eq "unknown conversation is 404" "$STATUS" 404
check_eq "404 has an error code" "$(jget '.error.code')" not_found

# ?return=redacted and a batch
req POST '/v1/messages?return=redacted' "$INGEST_TOKEN" '{"messages":[{"conversation_id":"c-2","text":"mail me at bob@example.org"},{"conversation_id":"c-2","text":"thanks","role":"agent","channel":"whatsapp","ts":"2026-01-02T03:04:05Z"}]}'
check_eq "batch answers 201" "$STATUS" 201
check_eq "batch returns two ids" "$(jget '.ids | length')" 2
check_eq "return=redacted gives text" "$(jget '.redacted[0]')" "mail me at [EMAIL]"
req GET /v1/conversations/c-2 "$READ_TOKEN"
check_eq "batch reads back in order" "$(jget '[.messages[].role] | join(",")')" "agent,user"
check_eq "ts kept" "$(jget '.messages[0].ts')" "2026-01-02T03:04:05.000Z"
check_eq "channel kept" "$(jget '.messages[0].channel')" whatsapp

# redact-only stores nothing
BEFORE=$(db_count)
req POST /v1/redact "$INGEST_TOKEN" '{"text":"write to ann@example.com now"}'
check_eq "redact answers 200" "$STATUS" 200
check_eq "redact output" "$(jget '.redacted')" "write to [EMAIL] now"
check_eq "redact finding start (bytes)" "$(jget '.findings[0].start')" 9
check_eq "redact finding end (bytes)" "$(jget '.findings[0].end')" 24
check_eq "redact finding entity" "$(jget '.findings[0].entity')" EMAIL
check_eq "redact stores nothing" "$(db_count)" "$BEFORE"

# The same person three times in one conversation: the writer links them
# to it once and then knows the link is stored.
for i in 1 2 3; do
	req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"links-1","text":"again from repeat@example.com"}'
done

# Prometheus metrics (read scope).
req GET /metrics "$READ_TOKEN"
check_eq "metrics answer 200" "$STATUS" 200
check "metrics count requests by route and status" grep -q 'redactd_requests_total{route="/v1/messages",code="201"} [1-9]' "$T/resp"
check "metrics count findings by entity" grep -q 'redactd_findings_total{entity="EMAIL"} [1-9]' "$T/resp"
check "metrics count group commits" grep -q '^redactd_store_commits_total [1-9]' "$T/resp"
check "metrics count committed records" grep -q '^redactd_store_records_total [1-9]' "$T/resp"
check "metrics count WAL syncs (synchronous=FULL)" grep -q '^redactd_store_syncs_total [1-9]' "$T/resp"
check_eq "the fdatasync histogram counts every sync" \
	"$(awk '$1 == "redactd_store_sync_seconds_count" {print $2}' "$T/resp")" \
	"$(awk '$1 == "redactd_store_syncs_total" {print $2}' "$T/resp")"
check "and adds up the time they took" awk '$1 == "redactd_store_sync_seconds_sum" && $2 > 0 {f = 1} END {exit !f}' "$T/resp"
check_eq "its +Inf bucket holds them all" \
	"$(awk '$1 == "redactd_store_sync_seconds_bucket{le=\"+Inf\"}" {print $2}' "$T/resp")" \
	"$(awk '$1 == "redactd_store_syncs_total" {print $2}' "$T/resp")"
check "the checkpoint histogram is there" grep -q '^redactd_store_checkpoint_seconds_count [0-9]' "$T/resp"
check "metrics count subject links known stored" grep -q '^redactd_store_subject_links_cached_total [1-9]' "$T/resp"
check "metrics show the writer queue" grep -q '^redactd_store_queued_records [0-9]' "$T/resp"
check "metrics carry the ingest latency histogram" grep -q 'redactd_ingest_latency_seconds_bucket{le="+Inf"} [1-9]' "$T/resp"
check "metrics are Prometheus text" grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/headers"
req GET /metrics ""
check_eq "metrics need a token" "$STATUS" 401

# No raw PII at rest or in logs: database, WAL, log.
sleep 0.2
for v in "$EMAIL" "$PHONE" "7700 900123" "$ORDER" "$CARD" "4111111111111111" "$WORD" "$CONV" "bob@example.org" "mail me"; do
	for f in "$T/redactd.db" "$T/redactd.db-wal" "$T/daemon.log"; do
		[ -f "$f" ] || continue
		check "'$v' not in $(basename "$f")" bash -c '! grep -aqF -- "$1" "$2"' _ "$v" "$f"
	done
done
check "tokens not in log" bash -c "! grep -aqF -e '$INGEST_TOKEN' -e '$READ_TOKEN' '$T/daemon.log'"
check "log has a line per request" grep -q 'http POST /v1/messages 201' "$T/daemon.log"
check "database file is 0600" test "$(stat -c %a "$T/redactd.db")" = 600

# A ciphertext copied onto another row fails to open, and that is reported.
req POST /v1/messages "$INGEST_TOKEN" '{"messages":[{"conversation_id":"swap-1","text":"first secret"},{"conversation_id":"swap-2","text":"second secret"}]}'
A=$(jget '.ids[0]'); B=$(jget '.ids[1]')
sqlite3 "$T/redactd.db" "PRAGMA busy_timeout=5000; UPDATE messages SET text_ct = (SELECT text_ct FROM messages WHERE record_id = '$A') WHERE record_id = '$B';" >/dev/null
req GET /v1/conversations/swap-2 "$READ_TOKEN"
check_eq "moved ciphertext: read refused" "$STATUS" 500
check_eq "moved ciphertext: reported as integrity_error" "$(jget '.error.code')" integrity_error
check "moved ciphertext: the log names the record" grep -q "record $B: ciphertext failed to authenticate" "$T/daemon.log"
check "moved ciphertext: nothing of it is released" bash -c "! grep -q 'first secret' '$T/resp'"
req GET /v1/conversations/swap-1 "$READ_TOKEN"
check_eq "the untouched row still opens" "$(jget '.messages[0].text')" "first secret"

# A client that goes away after sending a whole request: the request is
# committed all the same (the README's "Clients that go away"); one cut off
# in the middle of its body stores nothing.
gone() {  # gone BODY SEND_BYTES: sends the request's first SEND_BYTES bytes, then closes
	python3 - "$PORT" "$INGEST_TOKEN" "$1" "$2" <<'PY'
import socket, sys
port, token, body, n = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode(), int(sys.argv[4])
head = ("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (token, len(body))).encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall((head + body)[:n if n >= 0 else None])
s.close()
PY
}
conv_count() {  # messages of conversation $1, read back through the API
	req GET "/v1/conversations/$1" "$READ_TOKEN"; jget '.messages | length'
}
gone '{"conversation_id":"gone-1","text":"sent whole, then the client left"}' -1
wait_count() { for _ in $(seq 1 50); do [ "$(conv_count "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
check "a whole request from a client that left is committed" wait_count gone-1 1
gone '{"conversation_id":"gone-2","text":"cut off in the middle of the body"}' 180
sleep 0.5
check_eq "a request cut off in its body stores nothing" "$(conv_count gone-2)" 0
check "the daemon still serves after both" curl -sf "$BASE/healthz"

# kill -9 right after a 201: the record reads back after restart.
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"durable-1","text":"persist me"}'
check_eq "ingest before kill answers 201" "$STATUS" 201
daemon_kill9
daemon_start
req GET /v1/conversations/durable-1 "$READ_TOKEN"
check_eq "acknowledged record survives kill -9" "$(jget '.messages[0].text')" "persist me"
check "database passes integrity_check" bash -c "sqlite3 '$T/redactd.db' 'PRAGMA integrity_check' | grep -qx ok"

finish
