#!/usr/bin/env bash
# End to end: opt-out keywords (issue 17). STOP (and its variants and local
# equivalents) from a signed Twilio SMS or WhatsApp callback, or a WhatsApp
# Cloud API notification, opts the sender out; START opts them back in;
# GET /v1/subjects/optout answers a bot (ingest token); the keyword message
# is stored as usual; each is audited, exported and counted; the log holds
# no numbers.
. "$(dirname "$0")/lib.sh"

TW_TOKEN=tw-auth-token-optout-0123456789abcdef
META_SECRET=meta-app-secret-optout-fedcba98765
printf '%s\n' "$TW_TOKEN" > "$T/twilio.token"
printf '%s\n' "$META_SECRET" > "$T/meta.secret"
DAEMON_EXTRA_CONF="[source \"twilio\"]
secret_file = $T/twilio.token
[source \"whatsapp\"]
secret_file = $T/meta.secret"
daemon_start || { finish; exit 1; }

tw_sig() {  # tw_sig URL NAME VALUE ... (names already sorted)
	local s=$1; shift
	while [ $# -gt 0 ]; do s+="$1$2"; shift 2; done
	printf '%s' "$s" | openssl dgst -sha1 -hmac "$TW_TOKEN" -binary | base64
}
tw_sms() {  # tw_sms FROM BODY: a signed Twilio messaging callback
	local f=(Body "$2" From "$1" MessageSid "SM$RANDOM" To "+15005550006")
	local args=() i
	for ((i = 0; i < ${#f[@]}; i += 2)); do args+=(--data-urlencode "${f[i]}=${f[i+1]}"); done
	STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "X-Twilio-Signature: $(tw_sig "$BASE/v1/webhooks/twilio" "${f[@]}")" \
		"${args[@]}" "$BASE/v1/webhooks/twilio")
	BODY=$(cat "$T/resp")
}
optout() {  # optout PHONE -> $STATUS, $BODY of GET /v1/subjects/optout
	req GET "/v1/subjects/optout?phone=$(uri "$1")" "$INGEST_TOKEN"
}
meta_sig() { printf 'sha256=%s' "$(printf '%s' "$1" | openssl dgst -sha256 -hmac "$META_SECRET" | sed 's/.*= //')"; }

SMS_FROM="+447700900301"
optout "$SMS_FROM"
check_eq "a new sender has not opted out" "$(jget .opted_out)" false
check_eq "and since is null" "$(jget '.since')" null
check_eq "the optout route answers 200 to an ingest token" "$STATUS" 200
N=$(db_count)
tw_sms "$SMS_FROM" "  Stop. "
check_eq "Twilio SMS STOP answers 200" "$STATUS" 200
check_eq "the keyword message is stored as usual" "$(db_count)" "$((N + 1))"
optout "+44 7700 900301"
check_eq "the sender has opted out" "$(jget .opted_out)" true
check "since is a time" bash -c "[[ \"\$1\" =~ ^20[0-9]{2}- ]]" _ "$(jget '.since')"
tw_sms "$SMS_FROM" "what are your hours?"
optout "$SMS_FROM"
check_eq "an ordinary message changes nothing" "$(jget .opted_out)" true
tw_sms "$SMS_FROM" "START"
optout "$SMS_FROM"
check_eq "START opts back in" "$(jget .opted_out)" false
tw_sms "$SMS_FROM" "please stop sending me these"
optout "$SMS_FROM"
check_eq "a sentence with stop in it is not a keyword" "$(jget .opted_out)" false

for kw in UNSUBSCRIBE cancel End QUIT STOPALL ARRET Arrêt alto BAJA; do
	tw_sms "+447700900302" "$kw"
	optout "+447700900302"
	check_eq "'$kw' opts out" "$(jget .opted_out)" true
	tw_sms "+447700900302" "unstop"
	optout "+447700900302"
	check_eq "UNSTOP after '$kw' opts back in" "$(jget .opted_out)" false
done

tw_sms "whatsapp:+447700900303" "STOP"
optout "+447700900303"
check_eq "Twilio WhatsApp STOP opts the sender out" "$(jget .opted_out)" true

WA=$(cat <<'JSON'
{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","messages":[{"from":"447700900304","id":"wamid.S1","timestamp":"1749416383","type":"text","text":{"body":"STOP"}}]}}]}]}
JSON
)
req POST /v1/webhooks/whatsapp "" "$WA" -H "X-Hub-Signature-256: $(meta_sig "$WA")"
check_eq "WhatsApp Cloud API STOP answers 200" "$STATUS" 200
optout "+447700900304"
check_eq "and opts the sender out" "$(jget .opted_out)" true
req POST /v1/webhooks/whatsapp "" "${WA/STOP/START}" -H "X-Hub-Signature-256: sha256=$(printf '0%.0s' $(seq 64))"
check_eq "a badly signed START is refused" "$STATUS" 403
optout "+447700900304"
check_eq "and changes nothing" "$(jget .opted_out)" true

# A Twilio parameter carrying consent (a Studio flow adds it to the callback).
F=(Body "yes please" From "+447700900305" MessageSid SM9 To "+15005550006" redactd_consent given
   redactd_consent_kind marketing)
ARGS=(); for ((i = 0; i < ${#F[@]}; i += 2)); do ARGS+=(--data-urlencode "${F[i]}=${F[i+1]}"); done
STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "X-Twilio-Signature: $(tw_sig "$BASE/v1/webhooks/twilio" "${F[@]}")" \
	"${ARGS[@]}" "$BASE/v1/webhooks/twilio")
check_eq "a Twilio callback with redactd_consent answers 200" "$STATUS" 200
req GET "/v1/consents?phone=$(uri "+447700900305")" "$ADMIN_TOKEN"
check_eq "it is recorded against the sender" "$(jget '.consents[0] | [.kind, .state, .method, .source] | join(",")')" \
	"marketing,given,sms,twilio"
req GET "/v1/consents?conversation_id=$(uri "+447700900305")" "$ADMIN_TOKEN"
check_eq "and against the conversation" "$(jget '.current.marketing')" given

req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"web-1","text":"STOP","channel":"web"}'
check_eq "STOP on the web channel is a message like any other" "$STATUS" 201

req GET "/v1/subjects/optout" "$INGEST_TOKEN"
check_eq "optout needs ?phone= or ?email=" "$STATUS" 400
req GET "/v1/subjects/optout?phone=nope" "$INGEST_TOKEN"
check_eq "optout of a non-phone is 400" "$STATUS" 400
req GET "/v1/subjects/optout?phone=$(uri "$SMS_FROM")" "$READ_TOKEN"
check_eq "a read token cannot ask" "$STATUS" 403
req GET "/v1/subjects/optout?email=someone@example.com" "$INGEST_TOKEN"
check_eq "by email answers too" "$(jget '.opted_out')" false

check_eq "redactd consent optout agrees" "$(rd consent optout --phone +447700900303 | cut -d' ' -f1-2)" "opted out"

req GET "/v1/subjects?phone=$(uri "$SMS_FROM")" "$ADMIN_TOKEN"
check_eq "the export holds the opt-out history" \
	"$(jget '[.consents[] | select(.kind == "messaging") | .state + "/" + .method] | join(",")')" "withdrawn/keyword,given/keyword"
check "opt-outs are audited" bash -c "'$BIN' audit list -c '$T/redactd.conf' | grep -q '\"consent.add\".*\"twilio\"\\|\"twilio\".*\"consent.add\"'"
req GET /metrics "$READ_TOKEN"
check "metrics count opt-outs" grep -q 'redactd_optout_total{keyword_kind="optout"} 1[0-9]' <<<"$BODY"
check "metrics count opt-ins" grep -q 'redactd_optout_total{keyword_kind="optin"} 1[0-9]' <<<"$BODY"
check "no phone number in the log" bash -c "! grep -Eq '7700 ?900|447700' '$T/daemon.log'"
finish
