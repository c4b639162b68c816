#!/usr/bin/env bash
# End to end: generic signed webhooks (issue 18) against the real daemon.
# A Standard Webhooks source and two hmac-sha256 sources (hex with a
# prefix, base64) post JSON to /v1/webhooks/NAME; each message is mapped by
# JSON pointer, stored redacted, its sender found as a subject. Bad and
# missing signatures and stale timestamps are 401, a missing or mistyped
# mapped field 422, and none of them stores anything; the fixed provider
# routes keep theirs; the log holds no text, numbers or secrets.
# Signatures computed with openssl.
. "$(dirname "$0")/lib.sh"

SW_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw      # the Standard Webhooks test key
SW_KEY_HEX=$(printf '%s' "${SW_SECRET#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')
ZAP_SECRET=zap-hmac-secret-e2e-0123456789
MAKE_SECRET=make-hmac-secret-e2e-9876543210
printf '%s\n' "$SW_SECRET" > "$T/bot.secret"
printf '%s\n' "$ZAP_SECRET" > "$T/zap.secret"
printf '%s' "$MAKE_SECRET" > "$T/make.secret"
chmod 600 "$T"/*.secret
DAEMON_EXTRA_CONF="[source \"bot\"]
type = standard-webhooks
secret_file = $T/bot.secret
map.text = /message/text
map.conversation_id = /chat/id
map.sender = /from/phone
map.role = /message/role
map.ts = /message/ts
map.metadata.order = /message/order
map.metadata.lang = /chat/lang
channel = sms
[source \"zap\"]
type = hmac-sha256
secret_file = $T/zap.secret
signature_header = X-Zap-Signature
signature_prefix = sha256=
map.text = /data/text
map.conversation_id = /data/conversation
map.provider_id = /data/id
[source \"make\"]
type = hmac-sha256
secret_file = $T/make.secret
signature_encoding = base64
map.text = /t
map.conversation_id = /c/0
tenant = acme
category = lead"
daemon_start || { finish; exit 1; }

JANE=jane.doe@example.com
PHONE=+447700900123

# ---- Standard Webhooks ----
sw_sig() {  # sw_sig ID TS BODY -> v1,<base64>
	printf 'v1,%s' "$(printf '%s.%s.%s' "$1" "$2" "$3" | openssl dgst -sha256 -mac HMAC \
		-macopt "hexkey:$SW_KEY_HEX" -binary | base64)"
}
sw_post() {  # sw_post BODY [ID [TS [SIGNATURE]]]
	local id=${2:-msg_$RANDOM$RANDOM} ts=${3:-$(date +%s)}
	local sig=${4-$(sw_sig "$id" "$ts" "$1")}
	req POST /v1/webhooks/bot "" "$1" -H "webhook-id: $id" -H "webhook-timestamp: $ts" \
		-H "webhook-signature: $sig"
}
SW_BODY="{\"chat\":{\"id\":881234567,\"lang\":\"en\"},\"from\":{\"phone\":\"$PHONE\"},\"message\":{\"text\":\"I am $JANE, call +44 7700 900456\",\"role\":\"user\",\"ts\":\"2026-01-02T03:04:05Z\",\"order\":\"ORD-123456\"}}"
N=$(db_count)
sw_post "$SW_BODY"
check_eq "standard-webhooks delivery answers 200" "$STATUS" 200
check_eq "standard-webhooks reply names one record" "$(jget '.ids | length')" 1
check_eq "one record committed" "$(db_count)" "$((N + 1))"
req GET /v1/conversations/881234567 "$READ_TOKEN"
check_eq "an integer chat id is the conversation id" "$STATUS" 200
check_eq "mapped text is stored redacted" "$(jget '.messages[0].text')" "I am [EMAIL], call [PHONE]"
check_eq "channel = sms applies, role mapped" "$(jget '.messages[0] | .channel + "/" + .role')" "sms/user"
check_eq "ts mapped" "$(jget '.messages[0].ts')" "2026-01-02T03:04:05.000Z"
check_eq "metadata mapped and redacted" "$(jget '.messages[0].metadata | .lang + "," + .order')" "en,[ORDER_ID]"
req GET "/v1/subjects?phone=$(uri "+44 7700 900123")" "$ADMIN_TOKEN"
check_eq "the mapped sender is a subject" "$(jget '[.conversations[].conversation_id] | join(",")')" "881234567"

# A delivery signed by several keys (rotation): any v1 entry may match.
ID=msg_multi_1; TS=$(date +%s); B='{"chat":{"id":"multi"},"message":{"text":"rotating keys"}}'
sw_post "$B" "$ID" "$TS" "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,xyz $(sw_sig "$ID" "$TS" "$B")"
check_eq "one matching v1 among several signatures is accepted" "$STATUS" 200

N=$(db_count)
sw_post "$SW_BODY" msg_bad "$(date +%s)" "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
check_eq "standard-webhooks bad signature is 401" "$STATUS" 401
check_eq "401 is the JSON error" "$(jget '.error.code')" "unauthorized"
check "the 401 names webhook-signature" bash -c "printf '%s' \"\$1\" | grep -q webhook-signature" _ "$BODY"
TS=$(date +%s)
sw_post "${SW_BODY/ORD-123456/ORD-654321}" msg_tampered "$TS" "$(sw_sig msg_tampered "$TS" "$SW_BODY")"
check_eq "a tampered body is 401" "$STATUS" 401
sw_post "$SW_BODY" msg_other_id "$TS" "$(sw_sig msg_signed_id "$TS" "$SW_BODY")"
check_eq "a signature over another webhook-id is 401" "$STATUS" 401
OLD=$(( $(date +%s) - 600 ))
sw_post "$SW_BODY" msg_stale "$OLD"
check_eq "a stale timestamp (10 min, correctly signed) is 401" "$STATUS" 401
check "the stale 401 says tolerance" bash -c "printf '%s' \"\$1\" | grep -q tolerance" _ "$BODY"
sw_post "$SW_BODY" msg_future "$(( $(date +%s) + 600 ))"
check_eq "a timestamp 10 min ahead is 401" "$STATUS" 401
req POST /v1/webhooks/bot "" "$SW_BODY"
check_eq "no Standard Webhooks headers is 401" "$STATUS" 401
sw_post "$SW_BODY" msg_x notanumber
check_eq "a non-numeric webhook-timestamp is 401" "$STATUS" 401
sw_post '{"chat":{"id":"c1"},"message":{"txt":"wrong field"}}'
check_eq "a missing mapped field is 422" "$STATUS" 422
check_eq "422 missing_field" "$(jget '.error.code')" "missing_field"
check "the 422 names the pointer" bash -c "printf '%s' \"\$1\" | grep -q /message/text" _ "$BODY"
sw_post '{"chat":{"id":"c1"},"message":{"text":42}}'
check_eq "a mapped field of the wrong type is 422" "$STATUS" 422
check_eq "422 invalid_field" "$(jget '.error.code')" "invalid_field"
sw_post '{"chat":{"id":"c1"},"message":{"text":"hi","role":"wizard"}}'
check_eq "a mapped role that is not one is 422" "$STATUS" 422
sw_post '{"chat":{"id":"c1"},"message":{"text":"hi","order":{"nested":1}}}'
check_eq "a mapped metadata object is 422" "$STATUS" 422
sw_post '["not", "an", "object"]'
check_eq "a signed body that is not an object is 422" "$STATUS" 422
sw_post '{"chat": '
check_eq "signed but malformed JSON is 400" "$STATUS" 400
check_eq "nothing stored by refused deliveries" "$(db_count)" "$N"

# ---- hmac-sha256, hex with a prefix ----
hex_sig() { printf '%s' "$2" | openssl dgst -sha256 -hmac "$1" | sed 's/.*= //'; }
ZAP_BODY="{\"data\":{\"id\":\"zap-evt-1\",\"conversation\":\"zap-conv-1\",\"text\":\"write to $JANE\"}}"
req POST /v1/webhooks/zap "" "$ZAP_BODY" -H "X-Zap-Signature: sha256=$(hex_sig "$ZAP_SECRET" "$ZAP_BODY")"
check_eq "hmac-sha256 hex delivery answers 200" "$STATUS" 200
req GET /v1/conversations/zap-conv-1 "$READ_TOKEN"
check_eq "hmac-sha256 text stored redacted" "$(jget '.messages[0].text')" "write to [EMAIL]"
check_eq "an unset channel is web" "$(jget '.messages[0].channel')" "web"
Z2="{\"data\":{\"id\":\"zap-evt-2\",\"conversation\":\"zap-conv-1\",\"text\":\"second\"}}"
req POST /v1/webhooks/zap "" "$Z2" -H "X-Zap-Signature: sha256=$(hex_sig "$ZAP_SECRET" "$Z2" | tr a-f A-F)"
check_eq "upper-case hex is accepted" "$STATUS" 200
N=$(db_count)
req POST /v1/webhooks/zap "" "$Z2" -H "X-Zap-Signature: $(hex_sig "$ZAP_SECRET" "$Z2")"
check_eq "hex without the configured prefix is 401" "$STATUS" 401
req POST /v1/webhooks/zap "" "$Z2" -H "X-Zap-Signature: sha256=$(hex_sig wrong-secret "$Z2")"
check_eq "hex under another secret is 401" "$STATUS" 401
req POST /v1/webhooks/zap "" "$Z2"
check_eq "no signature header is 401" "$STATUS" 401
check "the 401 names the configured header" bash -c "printf '%s' \"\$1\" | grep -q X-Zap-Signature" _ "$BODY"
req POST /v1/webhooks/zap "" "$Z2" -H "X-Signature: sha256=$(hex_sig "$ZAP_SECRET" "$Z2")"
check_eq "the signature in another header is 401" "$STATUS" 401
check_eq "nothing stored by refused hmac deliveries" "$(db_count)" "$N"

# ---- hmac-sha256, base64 in the default X-Signature, tenant and category ----
b64_sig() { printf '%s' "$2" | openssl dgst -sha256 -hmac "$1" -binary | base64; }
MK_BODY='{"c":["make-conv-1","x"],"t":"card 4111 1111 1111 1111 please"}'
req POST /v1/webhooks/make "" "$MK_BODY" -H "X-Signature: $(b64_sig "$MAKE_SECRET" "$MK_BODY")"
check_eq "hmac-sha256 base64 delivery answers 200" "$STATUS" 200
req GET "/v1/conversations/make-conv-1?tenant=acme" "$READ_TOKEN"
check_eq "stored in the source's tenant, redacted" "$(jget '.messages[0].text')" "card [CREDIT_CARD] please"
check_eq "category = lead applies" "$(jget '.messages[0].category')" "lead"
req GET "/v1/conversations/make-conv-1" "$READ_TOKEN"
check_eq "not in the default tenant" "$STATUS" 404
req POST /v1/webhooks/make "" "$MK_BODY" -H "X-Signature: $(hex_sig "$MAKE_SECRET" "$MK_BODY")"
check_eq "hex where base64 is configured is 401" "$STATUS" 401

# ---- routing ----
req POST /v1/webhooks/nosuch "" '{}'
check_eq "an unconfigured generic source is 404" "$STATUS" 404
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' --data 'x' "$BASE/v1/webhooks/zap")
check_eq "a non-JSON body is 415" "$STATUS" 415
req GET /v1/webhooks/zap ""
check_eq "GET on a generic source is 405" "$STATUS" 405
req POST /v1/webhooks/twilio "" '{}'
check_eq "the fixed Twilio route still answers for itself" "$(jget '.error.message')" \
	'the twilio webhook is not configured (no [source "twilio"])'
check "the access log names the route pattern" grep -qF 'POST /v1/webhooks/{name}' "$T/daemon.log"

# ---- the log ----
daemon_stop
check_eq "daemon drains and exits 0 on SIGTERM" "$DAEMON_RC" 0
for s in "$JANE" jane.doe 7700 900123 900456 881234567 ORD-123456 4111 "rotating keys" \
	"$ZAP_SECRET" "$MAKE_SECRET" MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw zap-conv-1 make-conv-1 zap-evt-1; do
	check "the log has no '$s'" bash -c "! grep -qF -- \"\$1\" '$T/daemon.log'" _ "$s"
done
finish
