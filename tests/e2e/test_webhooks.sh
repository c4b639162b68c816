#!/usr/bin/env bash
# End to end: the SPEC 5.3 webhooks against the real daemon. Dialogflow CX
# (bearer token), Twilio SMS/WhatsApp (X-Twilio-Signature), WhatsApp Cloud
# API (handshake, X-Hub-Signature-256): each stores its message redacted,
# linked to its sender as a subject; bad signatures store nothing; the log
# holds no text, numbers, names or secrets. Signatures computed with openssl.
. "$(dirname "$0")/lib.sh"

TW_TOKEN=tw-auth-token-e2e-0123456789abcdef
META_SECRET=meta-app-secret-e2e-fedcba9876543210
VERIFY=meta-verify-token-e2e-42
printf '%s\n' "$TW_TOKEN" > "$T/twilio.token"
# The WhatsApp app secret comes as a systemd credential (LoadCredential=
# puts it in $CREDENTIALS_DIRECTORY); the other secrets are plain paths.
export CREDENTIALS_DIRECTORY="$T/credentials"
mkdir -p "$CREDENTIALS_DIRECTORY"
printf '%s' "$META_SECRET" > "$CREDENTIALS_DIRECTORY/meta.secret"
printf '%s\n' "$VERIFY" > "$T/meta-verify.token"
DAEMON_EXTRA_CONF="[source \"twilio\"]
secret_file = $T/twilio.token
[source \"whatsapp\"]
secret_file = credential:meta.secret
verify_token_file = $T/meta-verify.token"
daemon_start || { finish; exit 1; }

JANE=jane.doe@example.com

# ---- Twilio ----
tw_sig() {  # tw_sig URL NAME VALUE ... (names already sorted)
	local s=$1; shift
	while [ $# -gt 0 ]; do s+="$1$2"; shift 2; done
	printf '%s' "$s" | openssl dgst -sha1 -hmac "$TW_TOKEN" -binary | base64
}
tw_post() {  # tw_post SIGNATURE NAME VALUE ... -> $STATUS, $BODY, $HEADERS
	local sig=$1 args=(); shift
	while [ $# -gt 0 ]; do args+=(--data-urlencode "$1=$2"); shift 2; done
	STATUS=$(curl -s -o "$T/resp" -D "$T/headers" -w '%{http_code}' -H "X-Twilio-Signature: $sig" \
		"${args[@]}" "$BASE/v1/webhooks/twilio${TW_QUERY:-}")
	BODY=$(cat "$T/resp"); HEADERS=$(cat "$T/headers")
}
TW_URL="$BASE/v1/webhooks/twilio"
SMS=(AccountSid AC00000000000000000000000000000000 Body "Hi, I am $JANE, call me on +44 7700 900123"
     From "+447700900456" FromCity "" MessageSid SM11111111111111111111111111111111 NumMedia 0
     To "+15005550006")

tw_post "$(tw_sig "$TW_URL" "${SMS[@]}")" "${SMS[@]}"
check_eq "twilio SMS answers 200" "$STATUS" 200
check_eq "twilio reply is empty TwiML" "$BODY" '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
check "twilio reply is text/xml" grep -qi '^content-type: text/xml' "$T/headers"
req GET "/v1/conversations/$(uri "+447700900456")" "$READ_TOKEN"
check_eq "twilio SMS stored under From" "$STATUS" 200
check_eq "twilio SMS text is redacted" "$(jget '.messages[0].text')" "Hi, I am [EMAIL], call me on [PHONE]"
check_eq "twilio SMS on the sms channel, role user" "$(jget '.messages[0] | .channel + "/" + .role')" "sms/user"
req GET "/v1/subjects?phone=$(uri "+44 7700 900456")" "$ADMIN_TOKEN"
check_eq "twilio sender is a subject" "$(jget '[.conversations[].conversation_id] | join(",")')" "+447700900456"

# A webhook URL with a query Twilio signs byte for byte: percent-encoding
# that decoding and re-encoding would not restore (lower-case hex, an
# encoded unreserved character, '+' for a space, an encoded '/').
QS=(Body "query test" From "+447700900444" To "+15005550006")
TW_QUERY='?site=a%2fb&name=%7Ejo+x&x=%41'
tw_post "$(tw_sig "$TW_URL$TW_QUERY" "${QS[@]}")" "${QS[@]}"
check_eq "twilio URL with an encoded query: signature over its exact bytes" "$STATUS" 200
tw_post "$(tw_sig "$TW_URL?site=a%2Fb&name=~jo%20x&x=A" "${QS[@]}")" "${QS[@]}"
check_eq "twilio: a signature over a re-encoded query is refused" "$STATUS" 403
unset TW_QUERY

WA=(Body "order ORD-123456 please" From "whatsapp:+447700900789" To "whatsapp:+15005550006")
tw_post "$(tw_sig "http://127.0.0.1/v1/webhooks/twilio" "${WA[@]}")" "${WA[@]}"
check_eq "twilio WhatsApp signed without the port is accepted" "$STATUS" 200
req GET "/v1/conversations/$(uri "whatsapp:+447700900789")" "$READ_TOKEN"
check_eq "twilio WhatsApp on the whatsapp channel" "$(jget '.messages[0].channel')" "whatsapp"
req GET "/v1/subjects?phone=$(uri "+447700900789")" "$ADMIN_TOKEN"
check_eq "twilio WhatsApp sender (prefix stripped) is a subject" \
	"$(jget '[.conversations[].conversation_id] | join(",")')" "whatsapp:+447700900789"

N=$(db_count)
tw_post "$(tw_sig "$TW_URL" "${SMS[@]}" | tr 'A-Za-z' 'B-ZAb-za')" "${SMS[@]}"
check_eq "twilio bad signature is 403" "$STATUS" 403
check_eq "twilio 403 is the JSON error" "$(jget '.error.code')" "bad_signature"
tw_post "" "${SMS[@]}"
check_eq "twilio missing signature is 403" "$STATUS" 403
BAD=("${SMS[@]}"); BAD[3]="tampered text"
tw_post "$(tw_sig "$TW_URL" "${SMS[@]}")" "${BAD[@]}"
check_eq "twilio tampered body is 403" "$STATUS" 403
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data '{}' "$TW_URL")
check_eq "twilio JSON body without bodySHA256 and signature is 403" "$STATUS" 403
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' --data 'Body=x' "$TW_URL")
check_eq "twilio text/plain body is 415" "$STATUS" 415
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --data 'Body=%zz' "$TW_URL")
check_eq "twilio malformed form is 400" "$STATUS" 400
STATUS_CB=(From "+447700900456" MessageSid SM2 MessageStatus delivered)
tw_post "$(tw_sig "$TW_URL" "${STATUS_CB[@]}")" "${STATUS_CB[@]}"
check_eq "twilio status callback (no Body) is 200" "$STATUS" 200
check_eq "nothing stored by refused or empty Twilio callbacks" "$(db_count)" "$N"

# ---- WhatsApp Cloud API ----
req GET "/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=$VERIFY&hub.challenge=1158201444" ""
check_eq "whatsapp handshake answers 200" "$STATUS" 200
check_eq "whatsapp handshake echoes the challenge" "$BODY" "1158201444"
check "whatsapp handshake is text/plain" grep -qi '^content-type: text/plain' "$T/headers"
req GET "/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444" ""
check_eq "whatsapp handshake with a wrong token is 403" "$STATUS" 403
req GET "/v1/webhooks/whatsapp?hub.mode=unsubscribe&hub.verify_token=$VERIFY&hub.challenge=1" ""
check_eq "whatsapp handshake with a wrong mode is 403" "$STATUS" 403
req GET "/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${VERIFY}x&hub.challenge=1" ""
check_eq "whatsapp handshake with a longer token is 403" "$STATUS" 403

meta_sig() { printf 'sha256=%s' "$(printf '%s' "$1" | openssl dgst -sha256 -hmac "$META_SECRET" | sed 's/.*= //')"; }
wa_post() {  # wa_post BODY [SIGNATURE]
	local sig=${2-$(meta_sig "$1")}
	req POST /v1/webhooks/whatsapp "" "$1" -H "X-Hub-Signature-256: $sig"
}
WA_BODY=$(cat <<'JSON'
{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Zelda Quintero-Probst"},"wa_id":"447700900111"},{"profile":{"name":"Yusuf Oyelaran-Brandt"},"wa_id":"447700900222"}],"messages":[{"from":"447700900111","id":"wamid.A1","timestamp":"1749416383","type":"text","text":{"body":"my card is 4111 1111 1111 1111 and mail jane.doe@example.com"}},{"from":"447700900222","id":"wamid.A2","timestamp":"1749416384","type":"text","text":{"body":"hello from the second sender"}},{"from":"447700900222","id":"wamid.A3","timestamp":"1749416385","type":"image","image":{"id":"1","mime_type":"image/jpeg"}}]}}]}]}
JSON
)
N=$(db_count)
wa_post "$WA_BODY"
check_eq "whatsapp notification answers 200" "$STATUS" 200
check_eq "whatsapp text messages and the image stored" "$(jget '.ids | length')" 3
check_eq "all three committed" "$(db_count)" "$((N + 3))"
req GET "/v1/conversations/447700900111@106540352242922" "$READ_TOKEN"
check_eq "whatsapp text is redacted" "$(jget '.messages[0].text')" "my card is [CREDIT_CARD] and mail [EMAIL]"
check_eq "whatsapp channel" "$(jget '.messages[0].channel')" "whatsapp"
check_eq "whatsapp timestamp kept" "$(jget '.messages[0].ts')" "2025-06-08T20:59:43.000Z"
check "profile name not in the transcript" bash -c "! printf '%s' \"\$1\" | grep -q Zelda" _ "$BODY"
req GET "/v1/subjects?phone=$(uri "+447700900111")" "$ADMIN_TOKEN"
check_eq "whatsapp sender is a subject of its own conversation only" \
	"$(jget '[.conversations[].conversation_id] | join(",")')" "447700900111@106540352242922"
check "profile name not in the export" bash -c "! printf '%s' \"\$1\" | grep -q Zelda" _ "$BODY"
req GET "/v1/subjects?phone=$(uri "+44 7700 900222")" "$ADMIN_TOKEN"
check_eq "second sender finds only theirs" "$(jget '[.conversations[].conversation_id] | join(",")')" \
	"447700900222@106540352242922"

N=$(db_count)
STATUS_BODY='{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","statuses":[{"id":"wamid.X","status":"delivered","timestamp":"1749416390","recipient_id":"447700900111"}]}}]}]}'
wa_post "$STATUS_BODY"
check_eq "whatsapp status notification is 200" "$STATUS" 200
wa_post "$WA_BODY" "sha256=$(printf '0%.0s' $(seq 64))"
check_eq "whatsapp bad signature is 403" "$STATUS" 403
check_eq "whatsapp 403 is the JSON error" "$(jget '.error.code')" "bad_signature"
wa_post "$WA_BODY" ""
check_eq "whatsapp missing signature is 403" "$STATUS" 403
wa_post '{"entry": [' 
check_eq "whatsapp signed but malformed JSON is 400" "$STATUS" 400
wa_post '{"entry":[{"changes":[{"value":{"messages":[{"type":"text","from":"447700900111"}]}}]}]}'
check_eq "whatsapp text message without a body is 422" "$STATUS" 422
check_eq "nothing stored by status, refused or bad notifications" "$(db_count)" "$N"

# ---- Dialogflow CX ----
SESSION=projects/p1/locations/global/agents/a1/sessions
CX_TEXT="{\"detectIntentResponseId\":\"r1\",\"text\":\"my email is $JANE\",\"languageCode\":\"en\",\"fulfillmentInfo\":{\"tag\":\"log\"},\"sessionInfo\":{\"session\":\"$SESSION/cx-sess-1\"}}"
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$CX_TEXT"
check_eq "CX text answers 200" "$STATUS" 200
check_eq "CX reply is a WebhookResponse" "$(jget '.fulfillmentResponse.messages | type')" "array"
check_eq "CX reply has only fulfillmentResponse" "$(jget 'keys | join(",")')" "fulfillmentResponse"
req GET "/v1/conversations/cx-sess-1" "$READ_TOKEN"
check_eq "CX utterance stored under the session id, redacted" "$(jget '.messages[0].text')" "my email is [EMAIL]"
check_eq "CX text is web/user" "$(jget '.messages[0] | .channel + "/" + .role')" "web/user"

CX_VOICE="{\"detectIntentResponseId\":\"r2\",\"transcript\":\"call me on oh seven seven double oh nine hundred one two three\",\"sessionInfo\":{\"session\":\"projects/p1/locations/global/agents/a1/environments/e1/sessions/cx-sess-2\"},\"payload\":{\"telephony\":{\"caller_id\":\"+15417543010\"}}}"
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$CX_VOICE"
check_eq "CX phone gateway answers 200" "$STATUS" 200
req GET "/v1/conversations/cx-sess-2" "$READ_TOKEN"
check_eq "CX phone gateway is on the voice channel" "$(jget '.messages[0].channel')" "voice"
check_eq "CX spoken phone number redacted" "$(jget '.messages[0].text | test("seven") | not')" "true"
req GET "/v1/subjects?phone=$(uri "+1 541 754 3010")" "$ADMIN_TOKEN"
check_eq "CX caller id is a subject" "$(jget '[.conversations[].conversation_id] | join(",")')" "cx-sess-2"

N=$(db_count)
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "{\"triggerEvent\":\"welcome\",\"sessionInfo\":{\"session\":\"$SESSION/cx-sess-3\"}}"
check_eq "CX without an utterance is 200" "$STATUS" 200
check_eq "CX without an utterance still replies a WebhookResponse" "$(jget '.fulfillmentResponse.messages | length')" 0
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" '{"text":"hello"}'
check_eq "CX utterance without a session is 422" "$STATUS" 422
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" '{"text": '
check_eq "CX malformed JSON is 400" "$STATUS" 400
req POST /v1/webhooks/dialogflow-cx "" "$CX_TEXT"
check_eq "CX without a token is 401" "$STATUS" 401
req POST /v1/webhooks/dialogflow-cx "$READ_TOKEN" "$CX_TEXT"
check_eq "CX with a read-only token is 403" "$STATUS" 403
check_eq "nothing stored by refused CX calls" "$(db_count)" "$N"

# ---- behind a proxy: signatures are checked against public_url ----
sed -i '/^\[server\]/a public_url = https://bots.example.com/' "$T/redactd.conf"
kill -HUP "$DAEMON_PID"
PX=(Body "via the proxy" From "+447700900333")
PX_SIG=$(tw_sig "https://bots.example.com/v1/webhooks/twilio" "${PX[@]}")
wait_for 5 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Twilio-Signature: $PX_SIG' \
	--data-urlencode 'Body=via the proxy' --data-urlencode 'From=+447700900333' '$TW_URL')\" = 200 ]"
req GET "/v1/conversations/$(uri "+447700900333")" "$READ_TOKEN"
check_eq "signature over public_url accepted after reload" "$(jget '.messages | length')" 1
tw_post "$(tw_sig "$TW_URL" "${PX[@]}")" "${PX[@]}"
check_eq "with public_url set, the local URL's signature is 403" "$STATUS" 403
sed -i '/^public_url = /d' "$T/redactd.conf"

# ---- configuration problems ----
mv "$T/twilio.token" "$T/twilio.token.moved"
tw_post "$(tw_sig "$TW_URL" "${SMS[@]}")" "${SMS[@]}"
check_eq "unreadable Twilio secret is 503" "$STATUS" 503
check_eq "503 says the source is unavailable" "$(jget '.error.code')" "source_unavailable"
sed -i '/^\[source /,$d' "$T/redactd.conf"
kill -HUP "$DAEMON_PID"
wait_for 5 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST --data 'a=b' '$TW_URL')\" = 404 ]"
tw_post "x" "${SMS[@]}"
check_eq "unconfigured Twilio source is 404" "$STATUS" 404
wa_post "$WA_BODY"
check_eq "unconfigured WhatsApp source is 404" "$STATUS" 404
req GET "/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=$VERIFY&hub.challenge=1" ""
check_eq "unconfigured WhatsApp handshake is 404" "$STATUS" 404
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$CX_TEXT"
check_eq "CX needs no source section" "$STATUS" 200

daemon_stop
check "daemon log has webhook request lines" grep -q 'webhooks/twilio' "$T/daemon.log"
check "daemon log holds no text, numbers, names, session ids or secrets" bash -c \
	"! grep -Eqi 'jane|7700|900123|Zelda|Yusuf|5417543010|cx-sess|ORD-|$TW_TOKEN|$META_SECRET|$VERIFY' '$T/daemon.log'"
check_eq "daemon drains and exits 0 on SIGTERM" "$DAEMON_RC" 0
check "daemon log has no sanitizer report" bash -c "! grep -q 'Sanitizer' '$T/daemon.log'"
finish
