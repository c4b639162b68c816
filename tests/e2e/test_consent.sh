#!/usr/bin/env bash
# End to end: recording and transcription consent (issue 17). Voice
# transcripts are refused without a recorded given consent
# (voice_requires_consent) and accepted after one recorded by the message's
# own "consent" field, by POST /v1/consents, by `redactd consent add` and by
# a Dialogflow CX session parameter; metadata-only mode per tenant; a
# withdrawal stops storage at once and, with consent_withdrawal = erase,
# erases what it allowed except what a legal hold keeps; the history is
# exported with the subject, audited, erased with the subject, kept by the
# sweeper; /metrics counts; no identifiers in the log.
. "$(dirname "$0")/lib.sh"

DAEMON_EXTRA_CONF='[tenant "meta"]
voice_without_consent = metadata
[tenant "lax"]
voice_requires_consent = no'
write_config
sed -i '/^\[channels\]/a voice_requires_consent = yes\nconsent_withdrawal = erase' "$T/redactd.conf"
daemon_start || { finish; exit 1; }

CALLER="+44 7700 900555"
JANE=jane.doe@example.com

voice() {  # voice CONV TEXT [extra JSON fields]
	req POST /v1/messages "$INGEST_TOKEN" \
		"{\"conversation_id\":\"$1\",\"text\":\"$2\",\"channel\":\"voice\"${3:+,$3}}"
}
count_conv() {  # records of conversation $1 (tenant default)
	req GET "/v1/conversations/$1" "$READ_TOKEN"
	if [ "$STATUS" = 404 ]; then echo 0; else jget '.messages | length'; fi
}

# ---- refused without consent ----
N=$(db_count)
voice call-1 "my email is $JANE"
check_eq "a voice transcript without consent is 403" "$STATUS" 403
check_eq "with the code consent_required" "$(jget '.error.code')" consent_required
check "the message says what is missing" bash -c "printf '%s' \"\$1\" | grep -q 'given'" _ "$(jget '.error.message')"
check_eq "nothing stored" "$(db_count)" "$N"
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"chat-1","text":"hello"}'
check_eq "a web message needs no consent" "$STATUS" 201
voice call-lax "a lax tenant's call" '"tenant":"lax"'
check_eq "a tenant with voice_requires_consent = no stores voice" "$STATUS" 201

rd consent add --conversation call-lax --tenant lax --kind transcription --state withdrawn >/dev/null
check_eq "a withdrawal by the CLI beside the daemon" "$?" 0
lax_refused() { voice call-lax "again" '"tenant":"lax"'; [ "$STATUS" = 403 ]; }
check "stops that tenant's transcripts within a second, though consent is not required there" wait_for 3 lax_refused

# ---- the message's own consent field ----
voice call-1 "my email is $JANE" '"consent":{"kind":"transcription","state":"given","method":"ivr"}'
check_eq "a voice transcript carrying its given consent is stored" "$STATUS" 201
voice call-1 "and my card is 4111 1111 1111 1111"
check_eq "later turns of that conversation are stored" "$STATUS" 201
check_eq "two turns held" "$(count_conv call-1)" 2
voice call-2 "x" '"consent":{"kind":"transcription","state":"maybe"}'
check_eq "a bad consent state is 422" "$STATUS" 422
check_eq "naming the field" "$(jget '.error.message' | grep -c 'consent.state')" 1
voice call-2 "x" '"consent":{"kind":"transcription","state":"given","method":"telepathy"}'
check_eq "an unknown method is 422" "$STATUS" 422
voice call-2 "x" '"consent":"yes"'
check_eq "consent must be an object" "$STATUS" 422
voice call-2 "x" '"consent":{"kind":"Transcription!","state":"given"}'
check_eq "a bad kind is 422" "$STATUS" 422

# ---- POST /v1/consents, then GET ----
req POST /v1/consents "$INGEST_TOKEN" "{\"phone\":\"$CALLER\",\"kind\":\"call_recording\",\"state\":\"given\",\"method\":\"agent\"}"
check_eq "POST /v1/consents with an ingest token is 201" "$STATUS" 201
check "it answers the record's id" bash -c "[ \"\$1\" -gt 0 ]" _ "$(jget '.id')"
check_eq "and its kind and state" "$(jget '.kind + "/" + .state')" "call_recording/given"
DIALOG=$(cat <<JSON
{"detectIntentResponseId":"r1","sessionInfo":{"session":"projects/p/locations/l/agents/a/sessions/cx-call-1"},"transcript":"I would like to talk about my bill","payload":{"telephony":{"caller_id":"+447700900555"}}}
JSON
)
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$DIALOG"
check_eq "a CX phone-gateway turn of a caller who consented is stored" "$STATUS" 200
check_eq "as voice" "$(count_conv cx-call-1)" 1
req POST /v1/consents "$READ_TOKEN" '{"phone":"+447700900555","kind":"x","state":"given"}'
check_eq "a read token cannot record consent" "$STATUS" 403
req POST /v1/consents "$ADMIN_TOKEN" '{"phone":"not a phone","kind":"transcription","state":"given"}'
check_eq "a target that is not a phone is 400" "$STATUS" 400
req POST /v1/consents "$ADMIN_TOKEN" '{"kind":"transcription","state":"given"}'
check_eq "no target is 422" "$STATUS" 422
req POST /v1/consents "$ADMIN_TOKEN" '{"email":"a@b.example","phone":"+447700900555","kind":"transcription","state":"given"}'
check_eq "two targets is 422" "$STATUS" 422
req POST /v1/consents "$ADMIN_TOKEN" '{"conversation_id":"c","kind":"transcription","state":"given","colour":"red"}'
check_eq "an unknown field is 422" "$STATUS" 422
check_eq "with the code unknown_field" "$(jget .error.code)" unknown_field
req GET "/v1/consents?phone=$(uri "$CALLER")" "$ADMIN_TOKEN"
check_eq "GET /v1/consents lists the history" "$(jget '.consents | length')" 1
check_eq "with its kind, state, method and source" \
	"$(jget '.consents[0] | [.kind, .state, .method, .source, .scope] | join(",")')" "call_recording,given,agent,e2e-ingest,subject"
check_eq "and the current state per kind" "$(jget '.current.call_recording')" given
req GET "/v1/consents?phone=$(uri "$CALLER")" "$INGEST_TOKEN"
check_eq "reading the history needs admin" "$STATUS" 403

# ---- CX session parameter ----
CXP=$(cat <<JSON
{"sessionInfo":{"session":"projects/p/locations/l/agents/a/sessions/cx-call-2","parameters":{"redactd_consent":"given"}},"transcript":"yes I agree","payload":{"telephony":{"caller_id":"+447700900666"}}}
JSON
)
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$CXP"
check_eq "a CX turn carrying redactd_consent = given is stored" "$STATUS" 200
req POST /v1/webhooks/dialogflow-cx "$INGEST_TOKEN" "$CXP"
check_eq "the parameter coming back on the next turn is fine" "$STATUS" 200
req GET "/v1/consents?conversation_id=cx-call-2" "$ADMIN_TOKEN"
check_eq "and is recorded once for the conversation" "$(jget '.consents | length')" 1
check_eq "as an IVR transcription consent" "$(jget '.consents[0] | .kind + "/" + .method')" "transcription/ivr"

# ---- the CLI ----
voice call-3 "cli consent call"
check_eq "call-3 refused before the CLI records consent" "$STATUS" 403
OUT=$(rd consent add --conversation call-3 --kind transcription --state given --method checkbox 2>&1)
check_eq "redactd consent add exits 0" "$?" 0
check "and says what it recorded" bash -c "printf '%s' \"\$1\" | grep -q 'transcription given'" _ "$OUT"
voice call-3 "cli consent call"
check_eq "call-3 stored after the CLI consent" "$STATUS" 201
check_eq "redactd consent list prints JSON lines" "$(rd consent list --conversation call-3 | jq -r '.source + "/" + .method')" "cli/checkbox"
rd consent add --conversation call-3 --kind transcription --state sure >/dev/null 2>&1
check_eq "a bad state is a usage error (2)" "$?" 2
rd consent add --email nope --kind transcription --state given >/dev/null 2>&1
check_eq "a target that is not an email is a usage error (2)" "$?" 2
rd consent add --kind transcription --state given >/dev/null 2>&1
check_eq "no target is a usage error (2)" "$?" 2

# ---- metadata only (tenant meta) ----
voice call-m "my email is $JANE" '"tenant":"meta"'
check_eq "metadata-only tenant answers 201" "$STATUS" 201
req GET "/v1/conversations/call-m?tenant=meta" "$READ_TOKEN"
check_eq "the record has no text" "$(jget '.messages[0].text')" ""
check_eq "and says why" "$(jget '.messages[0].metadata.redactd_withheld')" consent_required
check_eq "kept on the voice channel" "$(jget '.messages[0].channel')" voice
check "no finding of the withheld text" bash -c "[ \"\$(printf '%s' \"\$1\" | jq '.messages[0].findings | length')\" = 0 ]" _ "$BODY"

# ---- withdrawal: stops storage at once, erases, respects holds ----
voice call-4 "first" '"consent":{"kind":"transcription","state":"given"}'
voice call-4 "second"
voice call-5 "held call" '"consent":{"kind":"transcription","state":"given"}'
req POST /v1/holds "$ADMIN_TOKEN" '{"conversation_id":"call-5","reason":"Litigation"}'
check_eq "hold on call-5" "$STATUS" 201
check_eq "call-4 has two turns" "$(count_conv call-4)" 2
req POST /v1/consents "$ADMIN_TOKEN" '{"conversation_id":"call-4","kind":"transcription","state":"withdrawn","method":"ivr"}'
check_eq "a withdrawal is 201" "$STATUS" 201
check_eq "it erased the conversation (consent_withdrawal = erase)" "$(jget '.erased.removed')" 2
check_eq "call-4 is gone" "$(count_conv call-4)" 0
voice call-4 "third"
check_eq "a turn after the withdrawal is refused" "$STATUS" 403
req POST /v1/consents "$ADMIN_TOKEN" '{"conversation_id":"call-5","kind":"transcription","state":"withdrawn"}'
check_eq "withdrawal on a held conversation: kept" "$(jget '.erased.kept')" 1
check_eq "call-5 still holds its turn" "$(count_conv call-5)" 1
voice call-5 "more"
check_eq "but stores nothing more" "$STATUS" 403
voice call-6 "a" '"consent":{"kind":"call_recording","state":"given"}'
voice call-6 "b" '"consent":{"kind":"call_recording","state":"withdrawn"}'
check_eq "a message carrying a withdrawal is itself refused" "$STATUS" 403
check_eq "and its conversation erased" "$(count_conv call-6)" 0

# ---- export, erasure, audit ----
voice call-7 "mail me at $JANE" '"consent":{"kind":"transcription","state":"given","method":"ivr"}'
req POST /v1/consents "$ADMIN_TOKEN" "{\"email\":\"$JANE\",\"kind\":\"marketing\",\"state\":\"declined\",\"method\":\"checkbox\"}"
req GET "/v1/subjects?email=$(uri "$JANE")" "$ADMIN_TOKEN"
check_eq "the subject export carries the consent history" \
	"$(jget '[.consents[] | .kind + "/" + .state] | sort | join(",")')" "marketing/declined,transcription/given,transcription/given"
check "the sweeper keeps consent records while records exist" bash -c \
	"'$BIN' sweep -c '$T/redactd.conf' >/dev/null && [ \$(sqlite3 'file:$T/redactd.db?mode=ro' 'SELECT count(*) FROM consents') -gt 0 ]"
check "consent rows cannot be changed" bash -c \
	"! sqlite3 '$T/redactd.db' \"UPDATE consents SET state = 'given'\" 2>/dev/null"
C0=$(sqlite3 "file:$T/redactd.db?mode=ro" 'SELECT count(*) FROM consents')
req DELETE "/v1/subjects?email=$(uri "$JANE")" "$ADMIN_TOKEN"
check_eq "erasure of the subject" "$STATUS" 200
C1=$(sqlite3 "file:$T/redactd.db?mode=ro" 'SELECT count(*) FROM consents')
check_eq "takes their consent history with it (theirs, call-1's, call-7's)" "$((C0 - C1))" 3
OUT=$(rd audit list)
check "consent.add is audited" grep -q '"consent.add"' <<<"$OUT"
check "consent.list is audited" grep -q '"consent.list"' <<<"$OUT"
check "consent.erase is audited" grep -q '"consent.erase"' <<<"$OUT"
check "the audit chain verifies" rd audit verify

# ---- metrics, log ----
req GET /metrics "$READ_TOKEN"
check "metrics count refused voice transcripts" grep -q 'redactd_voice_consent_missing_total{action="refused"} [1-9]' <<<"$BODY"
check "metrics count metadata-only ones" grep -q 'redactd_voice_consent_missing_total{action="metadata"} 1' <<<"$BODY"
check "metrics count consent records" grep -q 'redactd_consent_records_total{state="withdrawn"} [1-9]' <<<"$BODY"
check "no email in the log" bash -c "! grep -q 'jane' '$T/daemon.log'"
check "no phone number in the log" bash -c "! grep -Eq '7700 ?900' '$T/daemon.log'"
check "no call id in the log" bash -c "! grep -q 'call-[0-9]' '$T/daemon.log'"
finish
