#!/usr/bin/env bash
# End to end: a tenant's region makes every form of a phone number one
# subject. A record stored before the region was set (its number hashed as
# written, 07700900456) is still found by +44 7700 900456 afterwards; after
# the region, national, international and spoken forms are one subject for
# export, holds and erasure (HTTP and CLI); a tenant without a region keeps
# the old behaviour; a source's region wins over its tenant's.
. "$(dirname "$0")/lib.sh"

TW_TOKEN=tw-auth-token-region-0123456789
printf '%s\n' "$TW_TOKEN" > "$T/twilio.token"
DAEMON_EXTRA_CONF="[source \"twilio\"]
secret_file = $T/twilio.token
tenant = ie"
daemon_start || { finish; exit 1; }

post() {  # post TENANT CONV TEXT [CHANNEL]
	req POST /v1/messages "$ADMIN_TOKEN" "{\"tenant\":\"$1\",\"conversation_id\":\"$2\",\"text\":\"$3\",\"channel\":\"${4:-web}\"}"
	[ "$STATUS" = 201 ] || echo "ingest failed: $STATUS $BODY"
}
convs() {  # convs TENANT QUERY: the conversation ids a subject export finds, sorted
	req GET "/v1/subjects?tenant=$1&$2" "$ADMIN_TOKEN"
	jget '[.conversations[].conversation_id] | sort | join(",")'
}

post default old-1 "Call me on 07700 900456 please"
post other o-1 "Call me on 07700 900456 please"
check_eq "before a region, +44 does not find the national form" "$(convs default "phone=$(uri '+44 7700 900456')")" ""

printf '[tenant "default"]\nregion = GB\n' >> "$T/redactd.conf"
kill -HUP "$DAEMON_PID"
reloaded() { grep -q 'reload' "$T/daemon.log" && rd check-config >/dev/null; }
check "the reload with a region is taken" wait_for 10 reloaded
sleep 0.5

post default new-intl "Reach me at +44 7700 900456"
post default new-nat "or at 07700-900-456"
post default new-spoken "my number is oh seven seven oh oh nine oh oh four five six" voice
post default new-00 "from abroad 0044 7700 900456"
post default unrelated "someone else: 07700 900999"
post other o-2 "Reach me at +44 7700 900456"

ALL="new-00,new-intl,new-nat,new-spoken,old-1"
check_eq "+44 finds every form, and the record stored before the region" \
	"$(convs default "phone=$(uri '+44 7700 900456')")" "$ALL"
check_eq "07700 900456 finds the same" "$(convs default "phone=$(uri '07700 900456')")" "$ALL"
check_eq "7700 900456 without its 0 finds the same" "$(convs default "phone=$(uri '7700900456')")" "$ALL"
check_eq "a tenant without a region is unchanged: the national form alone" \
	"$(convs other "phone=$(uri '07700 900456')")" "o-1"
check_eq "and its international form alone" "$(convs other "phone=$(uri '+44 7700 900456')")" "o-2"

OUT=$(rd export --phone '+447700900456' 2>/dev/null)
check_eq "CLI export finds the same conversations" \
	"$(printf '%s' "$OUT" | jq -r '[.conversations[].conversation_id] | sort | join(",")')" "$ALL"

req POST /v1/holds "$ADMIN_TOKEN" '{"phone":"+44 7700 900456","reason":"claim 42"}'
check_eq "a hold by the international number" "$STATUS" 201
HOLD=$(jget '.id')
req DELETE "/v1/subjects?phone=$(uri '07700 900456')" "$ADMIN_TOKEN"
check_eq "an erasure under the hold keeps everything" "$(jget '.removed') $(jget '.kept')" "0 5"
check_eq "including the record stored before the region" "$(convs default "phone=$(uri '+44 7700 900456')")" "$ALL"
req DELETE "/v1/holds/$HOLD" "$ADMIN_TOKEN"
check_eq "hold released" "$STATUS" 200

check "CLI erase by the national form" rd erase --phone '07700 900456'
check_eq "every form is gone" "$(convs default "phone=$(uri '+44 7700 900456')")" ""
req GET /v1/conversations/old-1 "$READ_TOKEN"
check_eq "the record stored before the region is erased too" "$STATUS" 404
req GET /v1/conversations/unrelated "$READ_TOKEN"
check_eq "another number stays" "$STATUS" 200

# A source's region wins over its tenant's: Twilio SMS for tenant ie, read in IE.
printf '[tenant "ie"]\nregion = GB\n' >> "$T/redactd.conf"
sed -i "/^tenant = ie$/a region = IE" "$T/redactd.conf"
kill -HUP "$DAEMON_PID"
sleep 1
tw_sig() {  # tw_sig URL NAME VALUE ... (names already sorted)
	local s=$1; shift
	while [ $# -gt 0 ]; do s="$s$1$2"; shift 2; done
	printf '%s' "$s" | openssl dgst -sha1 -hmac "$TW_TOKEN" -binary | base64
}
URL="$BASE/v1/webhooks/twilio"
SIG=$(tw_sig "$URL" Body "ring 087 123 4567" From "+353861234567" MessageSid SM1 To "+15005550006")
req POST /v1/webhooks/twilio "" "" -H "X-Twilio-Signature: $SIG" \
	--data-urlencode "Body=ring 087 123 4567" --data-urlencode "From=+353861234567" \
	--data-urlencode "MessageSid=SM1" --data-urlencode "To=+15005550006"
check_eq "twilio message stored" "$STATUS" 200
check_eq "its national number is read in the source's region (IE)" \
	"$(convs ie "phone=$(uri '+353 87 123 4567')")" "+353861234567"

check "the region shows in no log line, nor any number" \
	bash -c "! grep -aE '7700|900456|1234567|claim 42' '$T/daemon.log'"
finish
