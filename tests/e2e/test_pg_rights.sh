#!/usr/bin/env bash
# End to end on the postgresql backend (issue 19, second wave): the
# data-subject rights over HTTP and the CLI against the real daemon on
# PostgreSQL. Legal holds (add, list, remove; a held conversation survives
# an erasure), restrictions (a read token refused, admin reads, lifted),
# consent records (added, listed, append-only in the database, withdrawal
# erasing, opt-out by API and by a Twilio STOP), subject export with its
# consent history, subject and conversation erasure with the erasure
# journal and every audit entry, rectification in place; the audit
# entries about the tenant are in its own chain, which `audit verify`
# checks (and an edit there breaks), and the database (pg_dump) holds no
# email, phone, reason or text in clear.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
if ! pg_setup; then finish; exit $([ "$FAILED" -eq 0 ] && echo 0 || echo 1); fi
trap pg_teardown EXIT
TW_TOKEN=tw-auth-token-pgrights-0123456789abcdef
printf '%s\n' "$TW_TOKEN" > "$T/twilio.token"
DAEMON_EXTRA_CONF="[source \"twilio\"]
secret_file = $T/twilio.token"
pg_config
sed -i '/^\[channels\]/a consent_withdrawal = erase' "$T/redactd.conf"
daemon_start || { finish; exit 1; }
rd() { "$BIN" "$@" -c "$T/redactd.conf"; }

post() {  # post CONV TEXT: one message, its id in $ID
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$1\",\"text\":\"$2\"}"
	[ "$STATUS" = 201 ] || echo "ingest failed: $STATUS $BODY"
	ID=$(jget '.ids[0]')
}
count_conv() {  # count_conv CONV: messages an admin reads in it
	req GET "/v1/conversations/$1" "$ADMIN_TOKEN"
	if [ "$STATUS" = 200 ]; then jget '.messages | length'; else echo 0; fi
}
tw_sig() {  # tw_sig URL NAME VALUE ... (names already sorted)
	local s=$1; shift
	while [ $# -gt 0 ]; do s+="$1$2"; shift 2; done
	printf '%s' "$s" | openssl dgst -sha1 -hmac "$TW_TOKEN" -binary | base64
}
tw_sms() {  # tw_sms FROM BODY: a signed Twilio messaging callback
	local f=(Body "$2" From "$1" MessageSid "SM$RANDOM$RANDOM" To "+15005550006")
	local args=() i
	for ((i = 0; i < ${#f[@]}; i += 2)); do args+=(--data-urlencode "${f[i]}=${f[i+1]}"); done
	STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "X-Twilio-Signature: $(tw_sig "$BASE/v1/webhooks/twilio" "${f[@]}")" \
		"${args[@]}" "$BASE/v1/webhooks/twilio")
	BODY=$(cat "$T/resp")
}

ROSA=rosa.pgrights@example.org
REASON="Litigation hold zqxreason"
post c-rosa-1 "hello I am $ROSA, zqxtext one"
post c-rosa-1 "second turn of c-rosa-1"
post c-rosa-2 "Rosa again: $ROSA"
post c-other "someone else entirely"
ID_OTHER=$ID

# ---- legal holds ----
req POST /v1/holds "$ADMIN_TOKEN" "{\"conversation_id\":\"c-rosa-2\",\"reason\":\"$REASON\"}"
check_eq "a hold on a conversation: 201" "$STATUS" 201
HID=$(jget '.id')
req GET /v1/holds "$ADMIN_TOKEN"
check_eq "list: one hold" "$(jget '.holds | length')" 1
check_eq "list: the sealed reason opens" "$(jget '.holds[0].reason')" "$REASON"
OUT=$(rd hold list 2>&1)
check "the CLI lists it from another process" grep -q "$HID" <<<"$OUT"
check_eq "one row in holds, keyed by tenant" "$(psql_t "SELECT count(*) FROM holds WHERE tenant = 'default'")" 1

# ---- restrictions ----
req POST /v1/restrictions "$ADMIN_TOKEN" "{\"email\":\"$ROSA\",\"reason\":\"contests accuracy zqxreason\"}"
check_eq "restrict a subject: 201" "$STATUS" 201
RID=$(jget '.id')
req GET /v1/conversations/c-rosa-1 "$READ_TOKEN"
check_eq "a read token on a restricted subject's conversation: 403" "$STATUS" 403
check_eq "... code restricted" "$(jget '.error.code')" restricted
req GET /v1/conversations/c-other "$READ_TOKEN"
check_eq "another conversation reads as before" "$STATUS" 200
req GET /v1/conversations/c-rosa-1 "$ADMIN_TOKEN"
check_eq "an admin still reads it" "$STATUS" 200
req GET /v1/restrictions "$ADMIN_TOKEN"
check_eq "list: one restriction, kind subject" "$(jget '.restrictions[0].kind')" subject
req DELETE "/v1/restrictions/$RID" "$ADMIN_TOKEN"
check_eq "lifting it: 200" "$STATUS" 200
req GET /v1/conversations/c-rosa-1 "$READ_TOKEN"
check_eq "then the read token reads it again" "$STATUS" 200
req DELETE "/v1/restrictions/$RID" "$ADMIN_TOKEN"
check_eq "lifting it again: 404" "$STATUS" 404

# ---- consent records and opt-out ----
PHONE="+447700900411"
req POST /v1/consents "$ADMIN_TOKEN" "{\"email\":\"$ROSA\",\"kind\":\"marketing\",\"state\":\"declined\",\"method\":\"checkbox\"}"
check_eq "a consent record: 201" "$STATUS" 201
req POST /v1/consents "$INGEST_TOKEN" "{\"phone\":\"$PHONE\",\"kind\":\"messaging\",\"state\":\"given\",\"method\":\"web\"}"
check_eq "an ingest token records one too" "$STATUS" 201
req GET "/v1/subjects/optout?phone=$(uri "$PHONE")" "$INGEST_TOKEN"
check_eq "given: not opted out" "$(jget .opted_out)" false
req POST /v1/consents "$ADMIN_TOKEN" "{\"phone\":\"$PHONE\",\"kind\":\"messaging\",\"state\":\"withdrawn\",\"method\":\"agent\"}"
req GET "/v1/subjects/optout?phone=$(uri "$PHONE")" "$INGEST_TOKEN"
check_eq "withdrawn: opted out" "$(jget .opted_out)" true
req GET "/v1/consents?phone=$(uri "$PHONE")" "$ADMIN_TOKEN"
check_eq "the history, oldest first" "$(jget '[.consents[] | .state] | join(",")')" "given,withdrawn"
SMS_FROM="+447700900412"
tw_sms "$SMS_FROM" "STOP"
check_eq "a Twilio STOP answers 200" "$STATUS" 200
OUT=$(rd consent optout --phone "$SMS_FROM" 2>&1)
check "the CLI sees the keyword opt-out" grep -qi "opted out" <<<"$OUT"
check "... and not as 'not opted out'" bash -c "! grep -qi 'not opted out' <<<\"\$1\"" _ "$OUT"
tw_sms "$SMS_FROM" "START"
req GET "/v1/subjects/optout?phone=$(uri "$SMS_FROM")" "$INGEST_TOKEN"
check_eq "START opts back in" "$(jget .opted_out)" false
check "consent rows cannot be changed" bash -c "! psql_t \"UPDATE consents SET state = 'given'\" 2>/dev/null"

# A withdrawal of transcription erases what it allowed (consent_withdrawal = erase).
post c-voice "a turn to be withdrawn"
req POST /v1/consents "$ADMIN_TOKEN" '{"conversation_id":"c-voice","kind":"transcription","state":"withdrawn","method":"ivr"}'
check_eq "a withdrawal: 201" "$STATUS" 201
check_eq "it erased the conversation" "$(jget '.erased.removed')" 1
check_eq "c-voice is gone" "$(count_conv c-voice)" 0

# ---- subject export ----
req GET "/v1/subjects?email=$(uri "$ROSA")" "$ADMIN_TOKEN"
check_eq "export: 200" "$STATUS" 200
check_eq "export: three records in two conversations" "$(jget '.records')/$(jget '.conversations | length')" 3/2
check_eq "export: the consent history" "$(jget '[.consents[] | .kind + "/" + .state] | join(",")')" "marketing/declined"
check "export: the text is redacted" bash -c "printf '%s' \"\$1\" | jq -e '[.conversations[].messages[].text] | index(\"hello I am [EMAIL], zqxtext one\")' >/dev/null" _ "$BODY"

# ---- rectification ----
req GET /v1/conversations/c-rosa-1 "$ADMIN_TOKEN"
RID1=$(jget '.messages[0].id')
req PATCH "/v1/messages/$RID1" "$ADMIN_TOKEN" '{"text":"corrected: write to new.rosa@example.net"}'
check_eq "PATCH: 200" "$STATUS" 200
check_eq "... residue none (nothing to checkpoint on PostgreSQL)" "$(jget '.residue')" none
req GET /v1/conversations/c-rosa-1 "$ADMIN_TOKEN"
check_eq "the read shows the new text, redacted" "$(jget ".messages[] | select(.id==\"$RID1\") | .text")" "corrected: write to [EMAIL]"
req GET "/v1/subjects?email=$(uri new.rosa@example.net)" "$ADMIN_TOKEN"
check_eq "the new email links the subject to the conversation" "$(jget '.records')" 2
req PATCH /v1/messages/0123456789abcdef0123456789abcdef "$ADMIN_TOKEN" '{"text":"x"}'
check_eq "PATCH of an unknown record: 404" "$STATUS" 404
check_eq "a journal entry for the rectified record" "$(psql_t "SELECT count(*) FROM erasure_journal WHERE kind = 'record'")" 1

# ---- erasure ----
J0=$(psql_t "SELECT count(*) FROM erasure_journal")
req DELETE "/v1/subjects?email=$(uri "$ROSA")" "$ADMIN_TOKEN"
check_eq "erasure of the subject: 200" "$STATUS" 200
check_eq "removed two, kept one (held)" "$(jget '.removed')/$(jget '.kept')/$(jget '.kept_reason')" 2/1/legal_hold
check_eq "... residue none" "$(jget '.residue')" none
check_eq "c-rosa-1 is gone" "$(count_conv c-rosa-1)" 0
check_eq "c-rosa-2 is kept by its hold" "$(count_conv c-rosa-2)" 1
check_eq "a journal entry for the erased conversation" "$(psql_t "SELECT count(*) FROM erasure_journal")" "$((J0 + 1))"
check_eq "the subject's consent history stays while a hold keeps records" "$(psql_t "SELECT count(*) FROM consents WHERE kind = 'marketing'")" 1
req DELETE "/v1/holds/$HID" "$ADMIN_TOKEN"
check_eq "removing the hold: 200" "$STATUS" 200
req DELETE "/v1/subjects?email=$(uri "$ROSA")" "$ADMIN_TOKEN"
check_eq "then erasing the subject again: 200" "$STATUS" 200
check_eq "... removes the rest" "$(jget '.removed')/$(jget '.kept')" 1/0
check_eq "c-rosa-2 is gone" "$(count_conv c-rosa-2)" 0
check_eq "and the subject's consent history with it" "$(psql_t "SELECT count(*) FROM consents WHERE kind = 'marketing'")" 0
post c-last "one more"
req DELETE /v1/conversations/c-last "$ADMIN_TOKEN"
check_eq "erasing a conversation: 200" "$STATUS" 200
check_eq "... removes it" "$(jget '.removed')" 1
OUT=$(rd erase --conversation c-other 2>&1)
check "the CLI erases from another process" grep -q "1 record" <<<"$OUT"
check_eq "c-other is gone" "$(count_conv c-other)" 0
check_eq "every conversation erased is in the journal (withdrawal, subject twice, DELETE, CLI)" "$(psql_t "SELECT count(*) FROM erasure_journal WHERE kind = 'conversation'")" 5
check_eq "journal rows are the tenant's" "$(psql_t "SELECT count(DISTINCT tenant) FROM erasure_journal")" 1

# ---- audit ----
OUT=$(rd audit list 2>&1)
for a in hold.add hold.list hold.remove restrict.add restrict.list restrict.remove consent.add consent.list \
	consent.erase export erase erase.held rectify; do
	check "$a is audited" grep -q "\"$a\"" <<<"$OUT"
done
check "entries about the tenant carry it in the list" bash -c "printf '%s' \"\$1\" | grep '\"action\":\"erase\"' | grep -q '\"tenant\":\"default\"'" _ "$OUT"
check_eq "erasures, consents, holds, rectifications: all in the tenant's chain" \
	"$(psql_t "SELECT count(*) FROM audit_log WHERE chain <> 'default' AND action IN ('erase', 'erase.held', 'consent.add', 'consent.erase', 'hold.add', 'restrict.add', 'rectify', 'export')")" 0
OUT=$(rd audit verify 2>&1)
check_eq "audit verify exits 0" "$?" 0
check "... checking the tenant's chain" grep -q "audit chain of tenant default OK" <<<"$OUT"
psql_t "UPDATE audit_log SET target = 'x' WHERE chain = 'default' AND action = 'rectify'" >/dev/null
OUT=$(rd audit verify 2>&1); rc=$?
check_eq "an edit in the tenant's chain fails verify" "$rc" 1
check "... naming that chain" grep -q "audit chain of tenant default BROKEN" <<<"$OUT"
check "... while the system's verifies" grep -q "^audit chain OK" <<<"$OUT"

DUMP="$T/dump.sql"
PGPASSWORD=$(cat "$PG_PASSWORD_FILE") pg_dump -h "$PG_HOST" -U redactd -d "$PG_DB" > "$DUMP"
check "pg_dump has the consents" grep -q "COPY public.consents" "$DUMP"
check "no email in the database" bash -c "! grep -qiE 'rosa|example\\.(org|net)' '$DUMP'"
check "no phone number in the database" bash -c "! grep -qE '7700900?41' '$DUMP'"
check "no reason or text in clear" bash -c "! grep -q zqx '$DUMP'"
check "the log holds no email or phone" bash -c "! grep -qiE 'rosa|7700900' '$T/daemon.log'"

finish
