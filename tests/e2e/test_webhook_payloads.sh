#!/usr/bin/env bash
# End to end (issue 18): each provider's real payload shapes, from their
# documentation, against the daemon. Every kind that carries a turn is
# stored (redacted); statuses and kinds redactd does not store are answered
# as the provider expects, counted in /metrics and logged by kind only;
# every provider's callback is replayed and stored once, also when the same
# delivery arrives twice at once. Signatures computed with openssl.
. "$(dirname "$0")/lib.sh"

TW_TOKEN=tw-auth-token-payloads-0123456789
META_SECRET=meta-app-secret-payloads-9876543210
printf '%s\n' "$TW_TOKEN" > "$T/twilio.token"
printf '%s\n' "$META_SECRET" > "$T/meta.secret"
DAEMON_EXTRA_CONF="[source \"twilio\"]
secret_file = $T/twilio.token
[source \"whatsapp\"]
secret_file = $T/meta.secret"
daemon_start || { finish; exit 1; }

TWIML='<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
TW_URL="$BASE/v1/webhooks/twilio"
metric() {  # metric NAME_WITH_LABELS: its value in /metrics, 0 when absent
	curl -s -H "Authorization: Bearer $READ_TOKEN" "$BASE/metrics" |
		awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'
}
conv() {  # conv ID: GET the conversation into $BODY
	req GET "/v1/conversations/$(uri "$1")" "$READ_TOKEN"
}

# ---- WhatsApp Cloud API (Meta's webhook reference, messages field) ----
meta_sig() { printf 'sha256=%s' "$(printf '%s' "$1" | openssl dgst -sha256 -hmac "$META_SECRET" | sed 's/.*= //')"; }
wa_post() { req POST /v1/webhooks/whatsapp "" "$1" -H "X-Hub-Signature-256: $(meta_sig "$1")"; }
wa_value() {  # wa_value PHONE_NUMBER_ID MESSAGES_JSON [EXTRA]: a notification
	printf '{"object":"whatsapp_business_account","entry":[{"id":"WABA-1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"%s"},"contacts":[{"profile":{"name":"Quentin Farrowby"},"wa_id":"447700900501"}],"messages":%s%s}}]}]}' "$1" "$2" "${3:-}"
}
WA_MSGS='[
{"from":"447700900501","id":"wamid.P1","timestamp":"1749416383","type":"text","text":{"body":"hi, my email is quentin@example.com"}},
{"from":"447700900501","id":"wamid.P2","timestamp":"1749416384","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"yes-btn","title":"Yes please"}}},
{"from":"447700900501","id":"wamid.P3","timestamp":"1749416385","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"slot-2","title":"Tuesday","description":"call me on +44 7700 900777"}}},
{"from":"447700900501","id":"wamid.P4","timestamp":"1749416386","type":"button","context":{"from":"15550783881","id":"wamid.T1"},"button":{"text":"Unsubscribe","payload":"UNSUB"}},
{"from":"447700900501","id":"wamid.P5","timestamp":"1749416387","type":"image","image":{"caption":"my card 4111 1111 1111 1111","mime_type":"image/jpeg","sha256":"abc","id":"MEDIA1"}},
{"from":"447700900501","id":"wamid.P6","timestamp":"1749416388","type":"document","document":{"caption":"invoice","filename":"invoice.pdf","mime_type":"application/pdf","sha256":"def","id":"MEDIA2"}},
{"from":"447700900501","id":"wamid.P7","timestamp":"1749416389","type":"location","location":{"latitude":51.50735,"longitude":-0.12776,"name":"Farrowby House","address":"12 Quill Lane, London"}},
{"from":"447700900501","id":"wamid.P8","timestamp":"1749416390","type":"contacts","contacts":[{"name":{"formatted_name":"Wilhelmina Octavia","first_name":"Wilhelmina"},"phones":[{"phone":"+44 7700 900888","wa_id":"447700900888","type":"CELL"}],"emails":[{"email":"wil@example.com","type":"WORK"}]}]},
{"from":"447700900501","id":"wamid.P9","timestamp":"1749416391","type":"reaction","reaction":{"message_id":"wamid.T1","emoji":"\ud83d\udc4d"}},
{"from":"447700900501","id":"wamid.P10","timestamp":"1749416392","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}]}
]'
WA_BODY=$(wa_value 106540352242922 "$WA_MSGS")
N=$(db_count)
wa_post "$WA_BODY"
check_eq "whatsapp: the notification answers 200" "$STATUS" 200
check_eq "whatsapp: nine turns stored, the unsupported one counted" "$(jget '.ids | length')" 9
check_eq "whatsapp: committed" "$(db_count)" "$((N + 9))"
WA_CONV=447700900501@106540352242922
conv "$WA_CONV"
check_eq "whatsapp: one conversation per sender and business number" "$(jget '.messages | length')" 9
check_eq "whatsapp: text redacted" "$(jget '.messages[0].text')" "hi, my email is [EMAIL]"
check_eq "whatsapp: button reply" "$(jget '.messages[1].text')" "Yes please"
check_eq "whatsapp: list reply, description redacted" "$(jget '.messages[2].text')" $'Tuesday\ncall me on [PHONE]'
check_eq "whatsapp: template quick-reply button" "$(jget '.messages[3].text')" "Unsubscribe"
check_eq "whatsapp: image caption redacted" "$(jget '.messages[4].text')" "my card [CREDIT_CARD]"
check_eq "whatsapp: document caption" "$(jget '.messages[5].text')" "invoice"
check_eq "whatsapp: location redacted" "$(jget '.messages[6].text')" "[LOCATION]"
check_eq "whatsapp: shared contact as tokens" "$(jget '.messages[7].text')" "shared contact: [NAME] [PHONE] [EMAIL]"
check_eq "whatsapp: reaction" "$(jget '.messages[8].text')" "👍"
check "whatsapp: no place, coordinates, contact card or profile name stored" bash -c \
	"! printf '%s' \"\$1\" | grep -Eq 'Quill|51\\.50|Farrowby|Wilhelmina|900888|wil@|Quentin'" _ "$BODY"
check_eq "whatsapp: unsupported kind counted" \
	"$(metric 'redactd_webhook_unhandled_total{source="whatsapp",kind="unsupported"}')" 1

# A retried delivery: the same notification again stores nothing.
N=$(db_count)
wa_post "$WA_BODY"
check_eq "whatsapp replay: 200" "$STATUS" 200
check_eq "whatsapp replay: no ids" "$(jget '.ids | length')" 0
check_eq "whatsapp replay: says how many were replays" "$(jget '.replayed')" 9
check_eq "whatsapp replay: nothing stored again" "$(db_count)" "$N"
check_eq "whatsapp replay: counted" "$(metric 'redactd_webhook_replays_total{source="whatsapp"}')" 9
# One new message beside a replayed one: only the new one is stored.
wa_post "$(wa_value 106540352242922 '[{"from":"447700900501","id":"wamid.P1","timestamp":"1749416383","type":"text","text":{"body":"hi, my email is quentin@example.com"}},{"from":"447700900501","id":"wamid.P11","timestamp":"1749416399","type":"text","text":{"body":"one more"}}]')"
check_eq "whatsapp: new beside replayed, one stored" "$(jget '.ids | length'),$(jget '.replayed')" "1,1"
check_eq "whatsapp: one more record" "$(db_count)" "$((N + 1))"

# Two business numbers on one app: two conversations.
wa_post "$(wa_value 999000111222333 '[{"from":"447700900501","id":"wamid.Q1","timestamp":"1749416400","type":"text","text":{"body":"to the other number"}}]')"
conv "447700900501@999000111222333"
check_eq "whatsapp: the second business number is its own conversation" "$(jget '.messages | length')" 1
req GET "/v1/subjects?phone=$(uri "+447700900501")" "$ADMIN_TOKEN"
check_eq "whatsapp: the sender links both conversations" "$(jget '.conversations | length')" 2

# statuses, errors and other fields: 200 so Meta keeps the hook, counted.
N=$(db_count)
wa_post '{"object":"whatsapp_business_account","entry":[{"id":"WABA-1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.OUT1","status":"delivered","timestamp":"1749416500","recipient_id":"447700900501","conversation":{"id":"c1","origin":{"type":"service"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"service"}},{"id":"wamid.OUT1","status":"read","timestamp":"1749416501","recipient_id":"447700900501"},{"id":"wamid.OUT2","status":"failed","timestamp":"1749416502","recipient_id":"447700900501","errors":[{"code":131047,"title":"Re-engagement message"}]}]}}]}]}'
check_eq "whatsapp statuses: 200" "$STATUS" 200
check_eq "whatsapp statuses: not stored as turns" "$(db_count)" "$N"
check_eq "whatsapp statuses: delivered counted" \
	"$(metric 'redactd_webhook_statuses_total{source="whatsapp",status="delivered"}')" 1
check_eq "whatsapp statuses: failed counted" \
	"$(metric 'redactd_webhook_statuses_total{source="whatsapp",status="failed"}')" 1
wa_post '{"object":"whatsapp_business_account","entry":[{"id":"WABA-1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"106540352242922"},"errors":[{"code":130429,"title":"Rate limit hit"}]}}]}]}'
check_eq "whatsapp errors: 200" "$STATUS" 200
check_eq "whatsapp errors: counted" "$(metric 'redactd_webhook_unhandled_total{source="whatsapp",kind="error"}')" 1
wa_post '{"object":"whatsapp_business_account","entry":[{"id":"WABA-1","changes":[{"field":"account_update","value":{"phone_number":"15550783881","event":"VERIFIED_ACCOUNT"}}]}]}'
check_eq "whatsapp other field: 200" "$STATUS" 200
check_eq "whatsapp other field: counted" "$(metric 'redactd_webhook_unhandled_total{source="whatsapp",kind="field"}')" 1
check_eq "whatsapp: none of them stored anything" "$(db_count)" "$N"

# ---- Twilio (Messaging, Voice, transcription and Conversations webhooks) ----
tw_sig() {  # tw_sig URL NAME VALUE ...: fields sorted here
	local s=$1; shift
	local pairs=()
	while [ $# -gt 0 ]; do pairs+=("$1$2"); shift 2; done
	s+=$(printf '%s\n' "${pairs[@]}" | LC_ALL=C sort | tr -d '\n')
	printf '%s' "$s" | openssl dgst -sha1 -hmac "$TW_TOKEN" -binary | base64
}
tw_post() {  # tw_post [-H HEADER] NAME VALUE ... -> $STATUS, $BODY
	local hdr=()
	if [ "$1" = -H ]; then hdr=(-H "$2"); shift 2; fi
	local sig args=()
	sig=$(tw_sig "$TW_URL" "$@")
	while [ $# -gt 0 ]; do args+=(--data-urlencode "$1=$2"); shift 2; done
	STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "X-Twilio-Signature: $sig" "${hdr[@]}" \
		"${args[@]}" "$TW_URL")
	BODY=$(cat "$T/resp")
}
SMS=(ToCountry US ToState CA SmsMessageSid SM5a1b2c3d4e5f60718293a4b5c6d7e8f9 NumMedia 0 ToCity ""
     FromZip "" SmsSid SM5a1b2c3d4e5f60718293a4b5c6d7e8f9 FromState "" SmsStatus received FromCity ""
     Body "It is Ottoline, card 4111 1111 1111 1111" FromCountry GB To "+15005550006" ToZip ""
     NumSegments 1 MessageSid SM5a1b2c3d4e5f60718293a4b5c6d7e8f9 AccountSid AC0123456789abcdef0123456789abcdef
     From "+447700900601" ApiVersion 2010-04-01)
N=$(db_count)
tw_post "${SMS[@]}"
check_eq "twilio SMS: TwiML 200" "$STATUS,$BODY" "200,$TWIML"
tw_post "${SMS[@]}"
check_eq "twilio SMS replay: the same TwiML" "$STATUS,$BODY" "200,$TWIML"
check_eq "twilio SMS: stored once" "$(db_count)" "$((N + 1))"
conv "+447700900601"
check_eq "twilio SMS: redacted" "$(jget '.messages[0].text')" "It is [PERSON], card [CREDIT_CARD]"

MMS=(SmsMessageSid MM90c6fc909d8504d45ecdb3a3d5b3556e NumMedia 1 SmsSid MM90c6fc909d8504d45ecdb3a3d5b3556e
     SmsStatus received Body "photo of my licence" To "whatsapp:+14155238886" NumSegments 1
     MessageSid MM90c6fc909d8504d45ecdb3a3d5b3556e AccountSid AC0123456789abcdef0123456789abcdef
     From "whatsapp:+447700900602" MediaContentType0 image/jpeg
     MediaUrl0 "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM9/Media/ME1" ApiVersion 2010-04-01)
tw_post "${MMS[@]}"
conv "whatsapp:+447700900602"
check_eq "twilio WhatsApp MMS: the caption is the turn" "$(jget '.messages[0].text + "/" + .messages[0].channel')" \
	"photo of my licence/whatsapp"
LOC=(SmsMessageSid SM77 NumMedia 0 SmsStatus received Latitude 51.50735 Longitude -0.12776
     Address "12 Quill Lane" Label "Home" To "whatsapp:+14155238886" MessageSid SM77 From "whatsapp:+447700900602")
tw_post "${LOC[@]}"
conv "whatsapp:+447700900602"
check_eq "twilio WhatsApp location: [LOCATION]" "$(jget '.messages[1].text')" "[LOCATION]"

GATHER=(AccountSid AC0123456789abcdef0123456789abcdef CallSid CA1e2d3c4b5a69788796a5b4c3d2e1f0a9
        CallStatus in-progress Called "+15005550006" Caller "+447700900603" Direction inbound
        From "+447700900603" To "+15005550006" Language en-US
        SpeechResult "my date of birth is the fourth of July nineteen eighty" Confidence 0.92 ApiVersion 2010-04-01)
N=$(db_count)
tw_post -H "I-Twilio-Idempotency-Token: 0f6e1a2b-idem-gather-1" "${GATHER[@]}"
check_eq "twilio Gather: TwiML" "$STATUS,$BODY" "200,$TWIML"
tw_post -H "I-Twilio-Idempotency-Token: 0f6e1a2b-idem-gather-1" "${GATHER[@]}"
check_eq "twilio Gather replay (same idempotency token): stored once" "$(db_count)" "$((N + 1))"
conv CA1e2d3c4b5a69788796a5b4c3d2e1f0a9
check_eq "twilio Gather: voice turn in the call's conversation" "$(jget '.messages[0].channel')" "voice"
DIGITS=(CallSid CA1e2d3c4b5a69788796a5b4c3d2e1f0a9 From "+447700900603" To "+15005550006" Digits 2
        FinishedOnKey "#" CallStatus in-progress)
tw_post "${DIGITS[@]}"
tw_post "${DIGITS[@]}"
conv CA1e2d3c4b5a69788796a5b4c3d2e1f0a9
check_eq "twilio Gather digits: one more turn, replay without a token stored once" "$(jget '.messages | length')" 2

TRANS=(TranscriptionSid TR0a1b2c3d4e5f60718293a4b5c6d7e8f9 TranscriptionText "call me back on 07700 900604"
       TranscriptionStatus completed TranscriptionUrl "https://api.twilio.com/2010-04-01/Accounts/AC0/Transcriptions/TR0"
       RecordingSid RE0a1b2c3d4e5f60718293a4b5c6d7e8f9 RecordingUrl "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE0"
       CallSid CA5f4e3d2c1b0a99887766554433221100 AccountSid AC0123456789abcdef0123456789abcdef
       From "+447700900604" To "+15005550006" CallStatus completed ApiVersion 2010-04-01)
tw_post "${TRANS[@]}"
tw_post "${TRANS[@]}"
conv CA5f4e3d2c1b0a99887766554433221100
check_eq "twilio transcription: stored once, redacted, voice" \
	"$(jget '(.messages | length | tostring) + "/" + .messages[0].text + "/" + .messages[0].channel')" \
	"1/call me back on [PHONE]/voice"

CONVS=(AccountSid AC0123456789abcdef0123456789abcdef EventType onMessageAdded
       ConversationSid CH0a1b2c3d4e5f60718293a4b5c6d7e8f9 MessageSid IM0a1b2c3d4e5f60718293a4b5c6d7e8f9
       Index 0 Author "+447700900605" Body "reach me at petronella@example.com" Source SMS
       ParticipantSid MB0a1b2c3d4e5f60718293a4b5c6d7e8f9 DateCreated "2025-06-08T20:59:43Z" RetryCount 0)
tw_post "${CONVS[@]}"
tw_post "${CONVS[@]}"
conv CH0a1b2c3d4e5f60718293a4b5c6d7e8f9
check_eq "twilio Conversations (form): stored once, redacted, sms" \
	"$(jget '(.messages | length | tostring) + "/" + .messages[0].text + "/" + .messages[0].channel')" \
	"1/reach me at [EMAIL]/sms"

# The JSON body Twilio signs with ?bodySHA256= (the URL alone is signed).
tw_json() {  # tw_json BODY [SIGNATURE] -> $STATUS
	local url="$TW_URL?bodySHA256=$(sha "$1")"
	local sig=${2-$(printf '%s' "$url" | openssl dgst -sha1 -hmac "$TW_TOKEN" -binary | base64)}
	STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "X-Twilio-Signature: $sig" \
		-H 'Content-Type: application/json' --data-binary "$1" "$url")
	BODY=$(cat "$T/resp")
}
CJ='{"AccountSid":"AC0123456789abcdef0123456789abcdef","EventType":"onMessageAdded","ConversationSid":"CH9f8e7d6c5b4a39281706f5e4d3c2b1a0","MessageSid":"IM9f8e7d6c5b4a39281706f5e4d3c2b1a0","Index":3,"Author":"whatsapp:+447700900606","Body":"json: my number is +44 7700 900606","Source":"WHATSAPP","Attributes":"{}","RetryCount":0}'
tw_json "$CJ"
check_eq "twilio JSON (bodySHA256): 200" "$STATUS" 200
tw_json "$CJ"
conv CH9f8e7d6c5b4a39281706f5e4d3c2b1a0
check_eq "twilio JSON: stored once, redacted, whatsapp" \
	"$(jget '(.messages | length | tostring) + "/" + .messages[0].text + "/" + .messages[0].channel')" \
	"1/json: my number is [PHONE]/whatsapp"
N=$(db_count)
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Twilio-Signature: $(printf '%s' "$TW_URL?bodySHA256=$(sha "$CJ")" |
	openssl dgst -sha1 -hmac "$TW_TOKEN" -binary | base64)" -H 'Content-Type: application/json' \
	--data-binary "${CJ/json:/JSON:}" "$TW_URL?bodySHA256=$(sha "$CJ")")
check_eq "twilio JSON: a body that does not match bodySHA256 is 403" "$STATUS" 403
tw_json "$CJ" "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
check_eq "twilio JSON: a wrong signature is 403" "$STATUS" 403
check_eq "twilio JSON: refused bodies store nothing" "$(db_count)" "$N"

# Status callbacks, calls and unknown callbacks: TwiML, counted, not stored.
tw_post MessageSid SM5a1b2c3d4e5f60718293a4b5c6d7e8f9 MessageStatus delivered SmsStatus delivered \
	From "+15005550006" To "+447700900601" AccountSid AC0123456789abcdef0123456789abcdef
check_eq "twilio status callback: TwiML" "$STATUS,$BODY" "200,$TWIML"
check_eq "twilio status callback: counted" \
	"$(metric 'redactd_webhook_statuses_total{source="twilio",status="delivered"}')" 1
tw_post CallSid CA00000000000000000000000000000001 CallStatus ringing From "+447700900607" To "+15005550006" Direction inbound
check_eq "twilio incoming call: TwiML" "$STATUS,$BODY" "200,$TWIML"
check_eq "twilio incoming call: counted as call" "$(metric 'redactd_webhook_unhandled_total{source="twilio",kind="call"}')" 1
tw_post EventType onParticipantAdded ConversationSid CH0a1b2c3d4e5f60718293a4b5c6d7e8f9 ParticipantSid MB1
check_eq "twilio other Conversations event: counted by event" \
	"$(metric 'redactd_webhook_unhandled_total{source="twilio",kind="onParticipantAdded"}')" 1
tw_post Something "+447700900608"
check_eq "twilio unknown callback: TwiML, counted" \
	"$STATUS/$(metric 'redactd_webhook_unhandled_total{source="twilio",kind="unknown"}')" "200/1"
check_eq "twilio replays counted" "$(metric 'redactd_webhook_replays_total{source="twilio"}')" 6

# The same delivery arriving several times at once: one record.
RACE=(Body "race body" MessageSid SMf00000000000000000000000000000ff From "+447700900609" To "+15005550006"
      SmsStatus received NumMedia 0)
N=$(db_count)
PIDS=()
for i in 1 2 3 4 5 6; do tw_post "${RACE[@]}" & PIDS+=($!); done
wait "${PIDS[@]}"   # not a bare wait: the daemon is this shell's child too
check_eq "twilio: six concurrent copies of one delivery store one record" "$(db_count)" "$((N + 1))"
conv "+447700900609"
check_eq "twilio: the racing delivery's conversation holds it once" "$(jget '.messages | length')" 1

# ---- Dialogflow CX (WebhookRequest of the v3 reference) ----
SESS=projects/acme-bot/locations/global/agents/0a1b2c3d/sessions
CX="{\"detectIntentResponseId\":\"a1b2c3d4-0000-4000-8000-000000000001\",\"intentInfo\":{\"lastMatchedIntent\":\"projects/acme-bot/locations/global/agents/0a1b2c3d/intents/00000000-0000-0000-0000-000000000000\",\"displayName\":\"provide.email\",\"confidence\":1},\"pageInfo\":{\"currentPage\":\"projects/acme-bot/locations/global/agents/0a1b2c3d/flows/f/pages/p\",\"displayName\":\"Collect\"},\"sessionInfo\":{\"session\":\"$SESS/cx-pay-1\",\"parameters\":{\"email\":\"hortensia@example.com\",\"party-size\":4}},\"fulfillmentInfo\":{\"tag\":\"log\"},\"messages\":[{\"text\":{\"text\":[\"Thanks, I will mail hortensia@example.com\"]},\"responseType\":\"HANDLER_PROMPT\",\"source\":\"VIRTUAL_AGENT\"}],\"text\":\"it is hortensia@example.com\",\"languageCode\":\"en\"}"
N=$(db_count)
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$CX"
check_eq "CX: a WebhookResponse" "$STATUS/$(jget '.fulfillmentResponse.messages | type')" "200/array"
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$CX"
check_eq "CX replay: the same WebhookResponse" "$STATUS/$(jget 'keys | join(",")')" "200/fulfillmentResponse"
check_eq "CX: the user turn and the agent's response stored once" "$(db_count)" "$((N + 2))"
req GET "/v1/conversations/cx-pay-1" "$READ_TOKEN"
check_eq "CX: user turn redacted" "$(jget '.messages[0].role + ": " + .messages[0].text')" "user: it is [EMAIL]"
check_eq "CX: the agent's response is a bot turn, redacted" "$(jget '.messages[1].role + ": " + .messages[1].text')" \
	"bot: Thanks, I will mail [EMAIL]"
check_eq "CX: a string parameter redacted" "$(jget '.messages[0].metadata["param.email"]')" "[EMAIL]"
check_eq "CX: languageCode kept" "$(jget '.messages[0].metadata.language_code')" "en"
CXV="{\"detectIntentResponseId\":\"a1b2c3d4-0000-4000-8000-000000000002\",\"sessionInfo\":{\"session\":\"$SESS/cx-pay-2\"},\"dtmfDigits\":\"3\",\"languageCode\":\"en-GB\",\"payload\":{\"telephony\":{\"caller_id\":\"+447700900610\"}}}"
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$CXV"
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$CXV"
req GET "/v1/conversations/cx-pay-2" "$READ_TOKEN"
check_eq "CX DTMF: one voice turn" "$(jget '(.messages | length | tostring) + "/" + .messages[0].channel + "/" + .messages[0].text')" "1/voice/3"
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "{\"detectIntentResponseId\":\"r-ev\",\"triggerEvent\":\"sys.no-match-default\",\"sessionInfo\":{\"session\":\"$SESS/cx-pay-3\"}}"
check_eq "CX event only: a WebhookResponse, counted" \
	"$STATUS/$(metric 'redactd_webhook_unhandled_total{source="dialogflow-cx",kind="event"}')" "200/1"
check_eq "CX replays counted" "$(metric 'redactd_webhook_replays_total{source="dialogflow-cx"}')" 3

# ---- location = drop ----
sed -i "/^secret_file = .*meta.secret/a location = drop" "$T/redactd.conf"
kill -HUP "$DAEMON_PID"
LOCB=$(wa_value 106540352242922 '[{"from":"447700900611","id":"wamid.L1","timestamp":"1749416600","type":"location","location":{"latitude":1.5,"longitude":2.5}}]')
wait_for 5 bash -c "curl -s -H 'Authorization: Bearer $READ_TOKEN' '$BASE/metrics' | grep -q 'redactd_webhook_dropped_total{source=\"whatsapp\",kind=\"location\"} 1' || \
	{ curl -s -o /dev/null -H 'X-Hub-Signature-256: $(meta_sig "$LOCB")' -H 'Content-Type: application/json' --data-binary '$LOCB' '$BASE/v1/webhooks/whatsapp'; false; }"
N=$(db_count)
wa_post "$LOCB"
check_eq "location = drop: 200" "$STATUS" 200
check_eq "location = drop: nothing stored" "$(db_count)" "$N"
conv "447700900611@106540352242922"
check_eq "location = drop: no conversation" "$STATUS" 404

daemon_stop
check "log: unhandled payloads logged by kind" grep -q 'payload(s) of kind unsupported not stored' "$T/daemon.log"
check "log: dropped locations logged" grep -q 'location turn(s) dropped as configured' "$T/daemon.log"
check "log: no text, numbers, names, places or secrets" bash -c \
	"! grep -Eqi 'quentin|ottoline|hortensia|petronella|wilhelmina|farrowby|quill|7700|4111|licence|$TW_TOKEN|$META_SECRET' '$T/daemon.log'"
check_eq "daemon drains and exits 0 on SIGTERM" "$DAEMON_RC" 0
finish
