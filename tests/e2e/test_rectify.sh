#!/usr/bin/env bash
# End to end (issue 17): rectification. PATCH /v1/messages/{id} replaces a
# stored message's text and/or metadata, redacted again; the old text is
# kept nowhere (not in the database file, not in the WAL); findings and
# subject links follow the new text; the change is audited; bad input
# changes nothing; a held record is refused; a restore of an older backup
# gets the rectified text, not the old one.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

OLD_TEXT="My address is 12 Wrongful Lane, call 07700 900999 about it zqxoldmarker"
req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"c-r\",\"text\":\"$OLD_TEXT\",\"metadata\":{\"source\":\"form-1\",\"note\":\"keep me\"}}"
check_eq "ingest" "$STATUS" 201
ID=$(jget '.ids[0]')
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c-r","text":"second turn"}'
ID2=$(jget '.ids[0]')
rd backup "$T/before.db" >/dev/null 2>&1
check_eq "a backup before the rectification" "$?" 0

NEW_EMAIL=fixed.person@example.com
req PATCH "/v1/messages/$ID" "$ADMIN_TOKEN" "{\"text\":\"Correct details: write to $NEW_EMAIL please\"}"
check_eq "PATCH text: 200" "$STATUS" 200
check_eq "the reply names the record" "$(jget '.id')" "$ID"
check_eq "the reply counts the new findings" "$(jget '.findings.EMAIL')" 1
check_eq "residue none once checkpointed" "$(jget '.residue')" none

req GET /v1/conversations/c-r "$READ_TOKEN"
check_eq "the read shows the new text, redacted" "$(jget ".messages[] | select(.id==\"$ID\") | .text")" "Correct details: write to [EMAIL] please"
check_eq "metadata kept when only text is given" "$(jget ".messages[] | select(.id==\"$ID\") | .metadata.note")" "keep me"
check_eq "findings follow the new text" "$(jget ".messages[] | select(.id==\"$ID\") | [.findings[].entity] | join(\",\")")" "EMAIL"
check_eq "the other turn is untouched" "$(jget ".messages[] | select(.id==\"$ID2\") | .text")" "second turn"
req GET "/v1/subjects?email=$(uri $NEW_EMAIL)" "$ADMIN_TOKEN"
check_eq "the new email links the subject to the conversation" "$(jget '.records')" 2

# Metadata alone.
req PATCH "/v1/messages/$ID" "$ADMIN_TOKEN" '{"metadata":{"source":"form-2","contact":"ring +44 7700 900123"}}'
check_eq "PATCH metadata: 200" "$STATUS" 200
req GET /v1/conversations/c-r "$READ_TOKEN"
check_eq "metadata replaced and redacted" "$(jget ".messages[] | select(.id==\"$ID\") | .metadata.contact")" "ring [PHONE]"
check_eq "the old metadata key is gone" "$(jget ".messages[] | select(.id==\"$ID\") | .metadata.note")" "null"
check_eq "text kept when only metadata is given" "$(jget ".messages[] | select(.id==\"$ID\") | .text")" "Correct details: write to [EMAIL] please"
check_eq "findings: the kept text's and the new metadata's" "$(jget ".messages[] | select(.id==\"$ID\") | [.findings[].entity] | sort | join(\",\")")" "EMAIL,PHONE"

# The old text is nowhere on disk: its ciphertext was overwritten, the WAL checkpointed.
check "the old text's marker is in no file" bash -c "! grep -qa zqxoldmarker '$T/redactd.db' '$T/redactd.db-wal' 2>/dev/null"
CT_OLD=$(sqlite3 "file:$T/before.db?mode=ro" "SELECT hex(substr(text_ct, 1, 24)) FROM messages WHERE record_id = '$ID'")
check "the old ciphertext is in neither the database nor the WAL" bash -c \
	"! cat '$T/redactd.db' '$T/redactd.db-wal' 2>/dev/null | xxd -p -c 100000 | tr -d '\n' | grep -qi '$CT_OLD'"

# Bad input changes nothing.
BEFORE=$(sqlite3 "file:$T/redactd.db?mode=ro" "SELECT hex(text_ct) FROM messages WHERE record_id = '$ID'")
req PATCH "/v1/messages/$ID" "$ADMIN_TOKEN" '{}'
check_eq "empty body: 422" "$STATUS" 422
req PATCH "/v1/messages/$ID" "$ADMIN_TOKEN" '{"text":5}'
check_eq "text not a string: 422" "$STATUS" 422
req PATCH "/v1/messages/$ID" "$ADMIN_TOKEN" '{"text":"x","role":"agent"}'
check_eq "an unknown field: 422" "$STATUS" 422
req PATCH "/v1/messages/$ID" "$ADMIN_TOKEN" '{"metadata":{"a":{"b":1}}}'
check_eq "nested metadata: 422" "$STATUS" 422
req PATCH "/v1/messages/$ID" "$ADMIN_TOKEN" '{"text":'
check_eq "broken JSON: 400" "$STATUS" 400
req PATCH /v1/messages/m_00000000000000000000000000 "$ADMIN_TOKEN" '{"text":"x"}'
check_eq "unknown id: 404" "$STATUS" 404
req PATCH /v1/messages/nonsense "$ADMIN_TOKEN" '{"text":"x"}'
check_eq "malformed id: 404" "$STATUS" 404
req PATCH "/v1/messages/$ID?tenant=other" "$ADMIN_TOKEN" '{"text":"x"}'
check_eq "another tenant's id: 404" "$STATUS" 404
req PATCH "/v1/messages/$ID" "$READ_TOKEN" '{"text":"x"}'
check_eq "a read token: 403" "$STATUS" 403
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $ADMIN_TOKEN" \
	-H 'Content-Type: text/plain' --data-binary '{"text":"x"}' "$BASE/v1/messages/$ID")
check_eq "not JSON content: 415" "$STATUS" 415
check_eq "nothing changed" "$(sqlite3 "file:$T/redactd.db?mode=ro" "SELECT hex(text_ct) FROM messages WHERE record_id = '$ID'")" "$BEFORE"

# A held record is evidence: refused until the hold is removed.
req POST /v1/holds "$ADMIN_TOKEN" '{"conversation_id":"c-r","reason":"dispute"}'
HID=$(jget '.id')
req PATCH "/v1/messages/$ID2" "$ADMIN_TOKEN" '{"text":"changed"}'
check_eq "held: 403" "$STATUS" 403
check "and says why" bash -c "printf '%s' \"\$1\" | grep -q 'legal hold'" _ "$BODY"
req DELETE "/v1/holds/$HID" "$ADMIN_TOKEN"
req PATCH "/v1/messages/$ID2" "$ADMIN_TOKEN" '{"text":"changed"}'
check_eq "after the hold: 200" "$STATUS" 200

AUD=$(rd audit list 2>/dev/null)
check_eq "three rectify audit entries" "$(printf '%s\n' "$AUD" | grep -c '"action":"rectify"')" 3
check "the entry names the record and the token" bash -c \
	"printf '%s\n' \"\$1\" | grep -q '\"actor\":\"e2e-admin\",\"action\":\"rectify\",\"target\":\"record:$ID\",\"count\":1'" _ "$AUD"
check "the daemon log has no text" bash -c "! grep -qE 'zqxoldmarker|fixed.person|Wrongful' '$T/daemon.log'"

# A restore of the older backup: the record gets its rectified content.
OUT=$(rd restore "$T/before.db" --to "$T/restored.db" 2>&1)
check_eq "restore of the older backup: exit 0" "$?" 0
check "... saying it applied the three rectifications (two of one record)" bash -c "printf '%s' \"\$1\" | grep -q 'record(s) removed, 3 rectification(s) applied'" _ "$OUT"
P2=$(free_port)
conf_variant "$T/r.conf" "$P2" "database=$T/restored.db"
check "a daemon on the restored copy" daemon2_start "$T/r.conf" "$P2"
req2 GET /v1/conversations/c-r "$READ_TOKEN"
check_eq "restored: the rectified text, not the backup's" "$(jget ".messages[] | select(.id==\"$ID\") | .text")" "Correct details: write to [EMAIL] please"
check_eq "restored: the other rectified turn too" "$(jget ".messages[] | select(.id==\"$ID2\") | .text")" "changed"
req2 GET "/v1/subjects?email=$(uri $NEW_EMAIL)" "$ADMIN_TOKEN"
check_eq "restored: the email the rectified text added links its conversation" "$(jget '.records')" 2
daemon2_stop
check "restored file has no old text" bash -c "! grep -qa zqxoldmarker '$T/restored.db'"

finish
