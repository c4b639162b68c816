#!/usr/bin/env bash
# End to end: tap mode (issue 18). redactd sits in front of a real bot
# (tests/e2e/forward_target.py, python's http.server on loopback) for
# Twilio, WhatsApp and Dialogflow CX: the provider gets the bot's exact
# answer, the bot gets the original body with a signature it can verify,
# and the conversation read back holds the user's turn and the bot's,
# both redacted. Then a bot that errs, times out, is down, is busy
# (forward_max_inflight), and one behind a self-signed certificate.
. "$(dirname "$0")/lib.sh"

TW_TOKEN=tw-auth-token-fwd-0123456789abcdef
META_SECRET=meta-app-secret-fwd-fedcba9876543210
printf '%s\n' "$TW_TOKEN" > "$T/twilio.token"
printf '%s\n' "$META_SECRET" > "$T/meta.secret"
BOT_PORT=$(free_port)
BOT_LOG="$T/bot.jsonl"
: > "$BOT_LOG"
BOT_PID=""; TLS_PID=""
cleanup_bots() { for p in $BOT_PID $TLS_PID; do kill "$p" 2>/dev/null; done; }
trap 'cleanup_bots; [ -n "$DAEMON_PID" ] && kill -9 $DAEMON_PID 2>/dev/null' EXIT

start_bot() {  # start_bot PORT [--cert C --key K] -> pid in $!
	python3 "$(dirname "$0")/forward_target.py" --port "$1" --log "$BOT_LOG" --twilio-token "$TW_TOKEN" \
		--meta-secret "$META_SECRET" --slow 3 "${@:2}" > "$T/bot-$1.out" 2>&1 &
}
start_bot "$BOT_PORT"; BOT_PID=$!
wait_for 5 grep -q ready "$T/bot-$BOT_PORT.out" || { echo "the bot did not start"; cat "$T/bot-$BOT_PORT.out"; }
BOT=http://127.0.0.1:$BOT_PORT

twilio_section() {  # twilio_section [KEY = VALUE lines...]
	printf '[source "twilio"]\nsecret_file = %s\n' "$T/twilio.token"
	printf '%s\n' "$@"
}
DAEMON_EXTRA_CONF="[source \"whatsapp\"]
secret_file = $T/meta.secret
forward_to = $BOT/whatsapp
[source \"dialogflow-cx\"]
forward_to = $BOT/cx
$(twilio_section "forward_to = $BOT/twilio")"
daemon_start || { finish; exit 1; }

reloads() { grep -c "reloaded" "$T/daemon.log"; }
reloaded_since() { [ "$(reloads)" -gt "$1" ]; }
slow_seen() { [ "$(grep -c '"/slow"' "$BOT_LOG")" -ge "$1" ]; }
set_twilio() {  # set_twilio [KEY = VALUE lines...]: rewrite [source "twilio"] and SIGHUP
	local before; before=$(reloads)
	sed -i '/^\[source "twilio"\]/,$d' "$T/redactd.conf"
	twilio_section "$@" >> "$T/redactd.conf"
	kill -HUP "$DAEMON_PID"
	wait_for 5 reloaded_since "$before"
}
bot_lines() { wc -l < "$BOT_LOG"; }
bot_last() { tail -n 1 "$BOT_LOG" | jq -r "$1"; }

# ---- Twilio ----
# The form exactly as Twilio sends it (already encoded), and its fields.
FORM='AccountSid=AC00000000000000000000000000000000&Body=Hi%2C+I+am+jane.doe%40example.com%2C+call+me+on+%2B44+7700+900123&From=%2B447700900456&To=%2B15005550006'
FIELDS=(AccountSid AC00000000000000000000000000000000 Body "Hi, I am jane.doe@example.com, call me on +44 7700 900123"
        From "+447700900456" To "+15005550006")
tw_sig() {  # tw_sig URL NAME VALUE ... (names sorted)
	local s=$1; shift
	while [ $# -gt 0 ]; do s+="$1$2"; shift 2; done
	printf '%s' "$s" | openssl dgst -sha1 -hmac "$TW_TOKEN" -binary | base64
}
tw_post() {  # tw_post [SIGNATURE] -> $STATUS, $BODY, $HEADERS
	local sig=${1:-$(tw_sig "$BASE/v1/webhooks/twilio" "${FIELDS[@]}")}
	STATUS=$(curl -s -o "$T/resp" -D "$T/headers" -w '%{http_code}' -H "X-Twilio-Signature: $sig" \
		-H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$FORM" "$BASE/v1/webhooks/twilio")
	BODY=$(cat "$T/resp"); HEADERS=$(cat "$T/headers")
}
TWIML='<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks! We will write to bot.reply@example.com &amp; call +44 7700 900999.</Message></Response>'
CONV=$(uri "+447700900456")

tw_post
check_eq "twilio tap: the provider gets the bot's status" "$STATUS" 200
check_eq "twilio tap: the provider gets the bot's exact body" "$BODY" "$TWIML"
check "twilio tap: the bot's Content-Type is relayed" grep -qi '^content-type: text/xml' "$T/headers"
check "twilio tap: the bot's own header is relayed" grep -qi '^x-bot: tap' "$T/headers"
check_eq "twilio tap: the bot got the original body" "$(bot_last .body)" "$FORM"
check_eq "twilio tap: the bot's URL" "$(bot_last .path)" "/twilio"
check_eq "twilio tap: the re-signed X-Twilio-Signature verifies at the bot" "$(bot_last .twilio_sig_ok)" true
check_eq "twilio tap: the bot got the provider's Content-Type" \
	"$(bot_last '.headers["content-type"]')" "application/x-www-form-urlencoded"
conv_has() {  # conv_has CONV N: the conversation reads back with N turns
	req GET "/v1/conversations/$1" "$READ_TOKEN"
	[ "$STATUS" = 200 ] && [ "$(jget '.messages | length')" = "$2" ]
}
check "twilio tap: user and bot turns are stored (asynchronously)" wait_for 5 conv_has "$CONV" 2
req GET "/v1/conversations/$CONV" "$READ_TOKEN"
check_eq "twilio tap: the user turn, redacted" "$(jget '.messages[0] | .role + ": " + .text')" \
	"user: Hi, I am [EMAIL], call me on [PHONE]"
check_eq "twilio tap: the bot turn (TwiML <Message>), redacted" "$(jget '.messages[1] | .role + ": " + .text')" \
	"bot: Thanks! We will write to [EMAIL] & call [PHONE]."
check_eq "twilio tap: both on the sms channel" "$(jget '[.messages[].channel] | join(",")')" "sms,sms"

N=$(bot_lines)
tw_post "$(tw_sig "$BASE/v1/webhooks/twilio" "${FIELDS[@]}" | tr 'A-Za-z' 'B-ZAb-za')"
check_eq "twilio tap: a bad signature is 403" "$STATUS" 403
check_eq "twilio tap: ... and the bot never sees it" "$(bot_lines)" "$N"

# ---- WhatsApp ----
meta_sig() { printf 'sha256=%s' "$(printf '%s' "$1" | openssl dgst -sha256 -hmac "$META_SECRET" | sed 's/.*= //')"; }
WA='{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","messages":[{"from":"447700900111","id":"wamid.A1","timestamp":"1749416383","type":"text","text":{"body":"mail me at zelda@example.com"}}]}}]}]}'
WA_SIG=$(meta_sig "$WA")
req POST /v1/webhooks/whatsapp "" "$WA" -H "X-Hub-Signature-256: $WA_SIG"
check_eq "whatsapp tap: the provider gets the bot's status" "$STATUS" 200
check_eq "whatsapp tap: the provider gets the bot's body" "$BODY" "EVENT_RECEIVED"
check_eq "whatsapp tap: the bot got the original body" "$(bot_last .body)" "$WA"
check_eq "whatsapp tap: X-Hub-Signature-256 passes unchanged" "$(bot_last '.headers["x-hub-signature-256"]')" "$WA_SIG"
check_eq "whatsapp tap: ... and verifies at the bot" "$(bot_last .meta_sig_ok)" true
check "whatsapp tap: the user turn is stored" wait_for 5 conv_has 447700900111 1
req GET "/v1/conversations/447700900111" "$READ_TOKEN"
check_eq "whatsapp tap: the user turn, redacted" "$(jget '.messages[0] | .role + ": " + .text')" "user: mail me at [EMAIL]"

# ---- Dialogflow CX ----
CX='{"detectIntentResponseId":"r1","text":"my email is jane.doe@example.com","languageCode":"en","sessionInfo":{"session":"projects/p/locations/global/agents/a/sessions/fwd-sess-1"}}'
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$CX" -H "X-Bot-Key: bot-key-123"
check_eq "cx tap: the provider gets the bot's status" "$STATUS" 200
check_eq "cx tap: the provider gets the bot's exact body" "$(printf '%s' "$BODY" | jq -c .)" \
	"$(python3 -c 'import json; print(json.dumps({"fulfillmentResponse": {"messages": [{"text": {"text": ["Your order ships to 10 Downing Street, London SW1A 2AA."]}}, {"text": {"text": ["Questions? Mail help.desk@example.com"]}}]}}))' | jq -c .)"
check_eq "cx tap: the bot got the original body" "$(bot_last .body)" "$CX"
check_eq "cx tap: a static header the agent sends passes through" "$(bot_last '.headers["x-bot-key"]')" "bot-key-123"
check_eq "cx tap: redactd's own bearer token does not" "$(bot_last '.headers.authorization // "none"')" "none"
check "cx tap: the user turn and both bot messages are stored" wait_for 5 conv_has fwd-sess-1 3
req GET "/v1/conversations/fwd-sess-1" "$READ_TOKEN"
check_eq "cx tap: the turns, redacted" "$(jget '[.messages[] | .role + ": " + .text] | join(" | ")')" \
	"user: my email is [EMAIL] | bot: Your order ships to [ADDRESS]. | bot: Questions? Mail [EMAIL]"
req POST /v1/webhooks/dialogflow-cx "" "$CX"
check_eq "cx tap: without redactd's token 401, nothing forwarded" "$STATUS" 401

# ---- a bot that answers with an error: relayed as it is ----
set_twilio "forward_to = $BOT/error"
tw_post
check_eq "bot error: its status is relayed" "$STATUS" 500
check_eq "bot error: its body is relayed" "$BODY" "bot broke"
check "bot error: the user turn is still stored, no bot turn" wait_for 5 conv_has "$CONV" 3

# ---- a bot that times out ----
set_twilio "forward_to = $BOT/slow" "forward_timeout = 1s"
START=$(date +%s%N)
tw_post
MS=$(( ($(date +%s%N) - START) / 1000000 ))
check_eq "bot timeout: the provider gets 504" "$STATUS" 504
check_eq "bot timeout: bot_timeout" "$(jget .error.code)" "bot_timeout"
check "bot timeout: after forward_timeout, not the bot's 3 s ($MS ms)" test "$MS" -lt 2800
check "bot timeout: the user turn is still stored" wait_for 5 conv_has "$CONV" 4

# ---- a bot that is down ----
DOWN=$(free_port)
set_twilio "forward_to = http://127.0.0.1:$DOWN/twilio" "forward_retries = 2"
tw_post
check_eq "bot down: the provider gets 502" "$STATUS" 502
check_eq "bot down: bot_unreachable" "$(jget .error.code)" "bot_unreachable"
check "bot down: the user turn is still stored" wait_for 5 conv_has "$CONV" 5

# ---- bounded concurrency ----
set_twilio "forward_to = $BOT/slow" "forward_max_inflight = 1"
(tw_post; echo "$STATUS" > "$T/first.status") &
FIRST=$!
wait_for 5 slow_seen 2   # the first reached the bot
N=$(bot_lines)
tw_post
check_eq "inflight bound: over forward_max_inflight the provider gets 503" "$STATUS" 503
check_eq "inflight bound: bot_busy" "$(jget .error.code)" "bot_busy"
check "inflight bound: with Retry-After" grep -qi '^retry-after: ' "$T/headers"
check_eq "inflight bound: the bot did not get it" "$(bot_lines)" "$N"
wait "$FIRST"
check_eq "inflight bound: the running one still gets the bot's answer" "$(cat "$T/first.status")" 200

# ---- TLS: a self-signed bot is refused unless forward_ca_file names it ----
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
	-keyout "$T/bot.key" -out "$T/bot.crt" 2>/dev/null
TLS_PORT=$(free_port)
start_bot "$TLS_PORT" --cert "$T/bot.crt" --key "$T/bot.key"; TLS_PID=$!
wait_for 5 grep -q ready "$T/bot-$TLS_PORT.out"
set_twilio "forward_to = https://127.0.0.1:$TLS_PORT/twilio"
N=$(bot_lines)
tw_post
check_eq "tls: a self-signed bot is refused (502)" "$STATUS" 502
check_eq "tls: ... and got nothing" "$(bot_lines)" "$N"
set_twilio "forward_to = https://127.0.0.1:$TLS_PORT/twilio" "forward_ca_file = $T/bot.crt"
tw_post
check_eq "tls: with forward_ca_file naming its certificate, 200" "$STATUS" 200
check_eq "tls: the bot's exact body" "$BODY" "$TWIML"
check_eq "tls: the signature verifies for the https URL" "$(bot_last .twilio_sig_ok)" true

# ---- metrics and the log ----
req GET /metrics "$ADMIN_TOKEN"
check "metrics: forwards by source and status" grep -q 'redactd_forward_requests_total{source="twilio",status="200"}' "$T/resp"
check "metrics: timeouts" grep -q 'redactd_forward_requests_total{source="twilio",status="timeout"} 1' "$T/resp"
check "metrics: unreachable" grep -q 'redactd_forward_requests_total{source="twilio",status="unreachable"} 2' "$T/resp"
check "metrics: overloaded" grep -q 'redactd_forward_requests_total{source="twilio",status="overloaded"} 1' "$T/resp"
check "metrics: the latency histogram" grep -q '^redactd_forward_latency_seconds_count ' "$T/resp"
check "metrics: no log write failed" grep -q '^redactd_forward_log_failures_total 0$' "$T/resp"
check "the log names no email, number or text" bash -c "! grep -Eqi 'example\.com|7700|Downing|zelda|Thanks' '$T/daemon.log'"

cleanup_bots
finish
