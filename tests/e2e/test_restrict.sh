#!/usr/bin/env bash
# End to end (issue 17): restriction of processing. A restricted subject's
# conversations (and a restricted conversation) are refused to read-scope
# tokens with 403 "restricted" saying so; admin reads still work and are
# audited; lifting the restriction is audited and reads work again. The
# CLI does the same (`redactd restrict`), nothing identifying is stored.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

DANA=dana.white@example.com
post() {  # post CONV TEXT
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$1\",\"text\":\"$2\"}"
	[ "$STATUS" = 201 ] || echo "ingest failed: $STATUS $BODY"
}
post c-dana-1 "Hi, I am $DANA"
post c-dana-2 "Dana again, $DANA"
post c-other "Someone else entirely"

req GET /v1/conversations/c-dana-1 "$READ_TOKEN"
check_eq "before: a read token reads Dana's conversation" "$STATUS" 200

REASON="Dana contests the accuracy of her records"
req POST /v1/restrictions "$ADMIN_TOKEN" "{\"email\":\"$DANA\",\"reason\":\"$REASON\"}"
check_eq "restrict a subject: 201" "$STATUS" 201
RID=$(jget '.id')
check "the id is r_ and 16 hex digits" bash -c "printf '%s' '$RID' | grep -Eq '^r_[0-9a-f]{16}$'"

req GET /v1/conversations/c-dana-1 "$READ_TOKEN"
check_eq "a read token on a restricted subject's conversation: 403" "$STATUS" 403
check_eq "code restricted" "$(jget '.error.code')" restricted
check "the message says the subject is restricted" bash -c "printf '%s' \"\$1\" | jq -r .error.message | grep -q 'restricted'" _ "$BODY"
req GET /v1/conversations/c-dana-2 "$READ_TOKEN"
check_eq "every conversation of the subject is restricted" "$STATUS" 403
req GET /v1/conversations/c-other "$READ_TOKEN"
check_eq "other conversations read as before" "$STATUS" 200
req GET /v1/conversations/c-dana-1 "$ADMIN_TOKEN"
check_eq "an admin token still reads it" "$STATUS" 200
check_eq "redacted as stored" "$(jget '.messages[0].text')" "Hi, I am [EMAIL]"
req GET "/v1/subjects?email=$(uri $DANA)" "$ADMIN_TOKEN"
check_eq "the admin export still works" "$(jget '.records')" 2

req GET /v1/restrictions "$ADMIN_TOKEN"
check_eq "list: one restriction" "$(jget '.restrictions | length')" 1
check_eq "list: the sealed reason opens for the admin" "$(jget '.restrictions[0].reason')" "$REASON"
check_eq "list: kind subject, type email" "$(jget '.restrictions[0].kind + "/" + .restrictions[0].type')" "subject/email"
req GET /v1/restrictions "$READ_TOKEN"
check_eq "listing needs admin" "$STATUS" 403
check "nothing identifying in the table" bash -c \
	"! sqlite3 'file:$T/redactd.db?mode=ro' 'SELECT * FROM restrictions' | grep -qiE 'dana|contests'"

# Bad input changes nothing.
req POST /v1/restrictions "$ADMIN_TOKEN" '{"email":"x@example.com"}'
check_eq "no reason: 422" "$STATUS" 422
req POST /v1/restrictions "$ADMIN_TOKEN" '{"email":"a@example.com","phone":"+447700900123","reason":"r"}'
check_eq "two targets: 422" "$STATUS" 422
req POST /v1/restrictions "$ADMIN_TOKEN" '{"email":"not an email","reason":"r"}'
check_eq "not an email: 400" "$STATUS" 400
req POST /v1/restrictions "$ADMIN_TOKEN" 'not json'
check_eq "not JSON: 400" "$STATUS" 400
req DELETE /v1/restrictions/r_0000000000000000 "$ADMIN_TOKEN"
check_eq "unknown restriction: 404" "$STATUS" 404
req DELETE /v1/restrictions/h_0000000000000000 "$ADMIN_TOKEN"
check_eq "a hold id is no restriction: 404" "$STATUS" 404
check_eq "still one restriction" "$(sqlite3 "file:$T/redactd.db?mode=ro" 'SELECT count(*) FROM restrictions')" 1

# A conversation restricted by the CLI.
CID=$(rd restrict add --conversation c-other --reason "complaint 42" 2>/dev/null)
check "restrict add by the CLI prints the id" bash -c "printf '%s' '$CID' | grep -Eq '^r_[0-9a-f]{16}$'"
req GET /v1/conversations/c-other "$READ_TOKEN"
check_eq "a restricted conversation: 403" "$STATUS" 403
check_eq "restrict list by the CLI: two" "$(rd restrict list 2>/dev/null | wc -l)" 2

# Lifting.
req DELETE "/v1/restrictions/$RID" "$ADMIN_TOKEN"
check_eq "lift the subject's restriction: 200" "$STATUS" 200
req GET /v1/conversations/c-dana-1 "$READ_TOKEN"
check_eq "after lifting: the read token reads again" "$STATUS" 200
rd restrict remove "$CID" >/dev/null 2>&1
check_eq "restrict remove by the CLI: exit 0" "$?" 0
req GET /v1/conversations/c-other "$READ_TOKEN"
check_eq "and that conversation reads again" "$STATUS" 200
rd restrict remove "$CID" >/dev/null 2>&1
check_eq "removing it twice: exit 2 (not found)" "$?" 2
rd restrict add --email "$DANA" >/dev/null 2>&1
check_eq "restrict add without --reason: usage" "$?" 2

AUD=$(rd audit list 2>/dev/null)
count_action() { printf '%s\n' "$AUD" | grep -c "\"action\":\"$1\""; }
check_eq "audited: two restrict.add" "$(count_action restrict.add)" 2
check_eq "audited: lifting, twice" "$(count_action restrict.remove)" 2
check "lifting names the restriction" bash -c "printf '%s\n' \"\$1\" | grep -q '\"action\":\"restrict.remove\",\"target\":\"restriction:$RID\"'" _ "$AUD"
check_eq "audited: the admin read of a restricted conversation" "$(count_action read.restricted)" 1
check "the refused reads are forbidden entries" bash -c "printf '%s\n' \"\$1\" | grep '\"forbidden\"' | grep -q 'route:/v1/conversations/{id}'" _ "$AUD"
check "the audit log names nobody" bash -c "! printf '%s' \"\$1\" | grep -qiE 'dana|c-dana|c-other'" _ "$AUD"
check "the daemon log names nobody" bash -c "! grep -qiE 'dana|contests' '$T/daemon.log'"

finish
