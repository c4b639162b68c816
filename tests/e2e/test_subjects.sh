#!/usr/bin/env bash
# End to end: data-subject export and erasure by email, phone and
# conversation id; legal holds keep records from erasure; `redactd sweep`
# from the command line while the daemon runs; no identifiers in the log.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

JANE=jane.doe@example.com
BOB=bob.stone@example.org
PHONE="+44 7700 900123"
REASON="Litigation hold: Jane Doe v. Example Ltd"

post() {  # post CONV TEXT [extra JSON fields]
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$1\",\"text\":\"$2\"${3:+,$3}}"
	[ "$STATUS" = 201 ] || echo "ingest failed: $STATUS $BODY"
}
post c-alice-1 "Hello, my email is $JANE"
post c-alice-1 "Thanks, we will get back to you" '"role":"agent"'
post c-alice-1 "Great"
post c-alice-2 "Order status please" "\"metadata\":{\"customer\":\"$JANE\"}"
post c-alice-2 "It ships tomorrow" '"role":"agent"'
post c-bob "I am $BOB and my friend is not here"
post c-bob "Noted" '"role":"agent"'
post c-phone "Call me on $PHONE please"
post c-phone "Will do" '"role":"agent"'
post c-none "No identifiers in this one"

convs() { jget '[.conversations[].conversation_id] | sort | join(",")'; }

# ---- export ----
req GET "/v1/subjects?email=$(uri JANE.Doe@Example.COM)" "$ADMIN_TOKEN"
check_eq "export by email answers 200" "$STATUS" 200
check_eq "export in another letter case finds exactly Jane's conversations" "$(convs)" "c-alice-1,c-alice-2"
check_eq "export covers every turn of them" "$(jget '.records')" 5
check_eq "turns are redacted" "$(jget '.conversations[] | select(.conversation_id=="c-alice-1") | .messages[0].text')" "Hello, my email is [EMAIL]"
check "export holds nothing of Bob's" bash -c "! printf '%s' \"\$1\" | grep -q 'c-bob'" _ "$BODY"

req GET "/v1/subjects?email=$(uri $BOB)" "$ADMIN_TOKEN"
check_eq "export of Bob finds only his conversation" "$(convs)" "c-bob"

req GET "/v1/subjects?email=$(uri $JANE)" "$ADMIN_TOKEN" "" -H 'Accept: text/csv'
check_eq "CSV export answers 200" "$STATUS" 200
check "CSV content type" grep -qi '^content-type: text/csv' "$T/headers"
check_eq "CSV has a header and one row per turn" "$(printf '%s' "$BODY" | tr -d '\r' | grep -c .)" 6
check_eq "CSV header" "$(printf '%s' "$BODY" | head -n 1 | tr -d '\r')" "conversation_id,id,ts,role,channel,category,text,metadata,findings"

for v in "+447700900123" "447700900123" "+44 (7700) 900-123" "0044 7700.900.123"; do
	req GET "/v1/subjects?phone=$(uri "$v")" "$ADMIN_TOKEN"
	check_eq "phone variant '$v' finds the conversation" "$(convs)" "c-phone"
done

OUT=$(rd export --email Jane.Doe@EXAMPLE.com 2>/dev/null)
check_eq "redactd export (daemon running) finds the same" "$(printf '%s' "$OUT" | jq -r '[.conversations[].conversation_id] | sort | join(",")')" "c-alice-1,c-alice-2"
check_eq "redactd export --format csv" "$(rd export --email $JANE --format csv 2>/dev/null | tr -d '\r' | grep -c .)" 6
rd export --email not-an-email >/dev/null 2>&1
check_eq "export of a non-email is a usage error" "$?" 2

req GET "/v1/subjects?email=$(uri $JANE)" "$READ_TOKEN"
check_eq "subjects need the admin scope" "$STATUS" 403
req GET "/v1/subjects" "$ADMIN_TOKEN"
check_eq "subjects need ?email= or ?phone=" "$STATUS" 400
req GET "/v1/subjects?email=nobody" "$ADMIN_TOKEN"
check_eq "an invalid email is 400" "$STATUS" 400

# ---- holds and erasure ----
req POST /v1/holds "$ADMIN_TOKEN" "{\"conversation_id\":\"c-alice-2\",\"reason\":\"$REASON\"}"
check_eq "hold answers 201" "$STATUS" 201
HOLD=$(jget '.id')
check "hold id shape" bash -c "[[ '$HOLD' =~ ^h_[0-9a-f]{16}$ ]]"
req POST /v1/holds "$ADMIN_TOKEN" '{"conversation_id":"c-alice-2"}'
check_eq "hold without a reason is 422" "$STATUS" 422
req GET /v1/holds "$ADMIN_TOKEN"
check_eq "hold list shows it" "$(jget ".holds[] | select(.id==\"$HOLD\") | .kind")" conversation
check_eq "hold reason reads back" "$(jget ".holds[] | select(.id==\"$HOLD\") | .reason")" "$REASON"

req DELETE "/v1/subjects?email=$(uri $JANE)" "$ADMIN_TOKEN"
check_eq "erasure answers 200" "$STATUS" 200
check_eq "erasure removed the unheld conversation's turns" "$(jget '.removed')" 3
check_eq "erasure kept the held conversation's turns" "$(jget '.kept')" 2
check_eq "erasure says why" "$(jget '.kept_reason')" legal_hold
req GET /v1/conversations/c-alice-1 "$READ_TOKEN"
check_eq "erased conversation is gone" "$STATUS" 404
req GET /v1/conversations/c-alice-2 "$READ_TOKEN"
check_eq "held conversation survives erasure" "$STATUS" 200
req GET /v1/conversations/c-bob "$READ_TOKEN"
check_eq "someone else's conversation is untouched" "$STATUS" 200
req GET /v1/conversations/c-none "$READ_TOKEN"
check_eq "an unrelated conversation is untouched" "$STATUS" 200

req DELETE "/v1/holds/$HOLD" "$ADMIN_TOKEN"
check_eq "hold removed" "$STATUS" 200
req DELETE "/v1/holds/$HOLD" "$ADMIN_TOKEN"
check_eq "removing it twice is 404" "$STATUS" 404
req DELETE "/v1/subjects?email=$(uri $JANE)" "$ADMIN_TOKEN"
check_eq "after release the rest is erased" "$(jget '.removed'),$(jget '.kept')" "2,0"
req GET "/v1/subjects?email=$(uri $JANE)" "$ADMIN_TOKEN"
check_eq "nothing of Jane remains" "$(jget '.records')" 0

# A hold on a subject covers their conversations, through the CLI too.
ID=$(rd hold add --email "$BOB" --reason "$REASON" 2>/dev/null)
check "redactd hold add prints an id" bash -c "[[ '$ID' =~ ^h_[0-9a-f]{16}$ ]]"
check "redactd hold list shows it" bash -c "'$BIN' hold list -c '$T/redactd.conf' | grep -q '$ID'"
req DELETE /v1/conversations/c-bob "$ADMIN_TOKEN"
check_eq "conversation of a held subject is kept" "$(jget '.removed'),$(jget '.kept')" "0,2"
OUT=$(rd erase --email "$BOB" 2>&1)
check "redactd erase reports what a hold kept" bash -c "printf '%s' \"\$1\" | grep -q 'kept 2 record(s).*legal hold'" _ "$OUT"
check "redactd hold remove" rd hold remove "$ID"

# Holds of other tenants: without --tenant the CLI sees every tenant's, as
# an admin token bound to none does; with it, only that tenant's.
AID=$(rd hold add --conversation acme-c1 --tenant acme --reason "$REASON" 2>/dev/null)
check "redactd hold list lists another tenant's hold" bash -c "rd() { '$BIN' \"\$@\" -c '$T/redactd.conf'; }; rd hold list | grep -q '$AID'"
check "redactd hold list --tenant default leaves it out" bash -c "! '$BIN' hold list --tenant default -c '$T/redactd.conf' | grep -q '$AID'"
check "redactd hold remove --tenant default cannot remove acme's hold" bash -c "! '$BIN' hold remove '$AID' --tenant default -c '$T/redactd.conf' 2>/dev/null"
check "redactd hold remove --tenant acme removes it" rd hold remove "$AID" --tenant acme
OUT=$(rd erase --email "$BOB" 2>&1)
check "redactd erase removes after release" bash -c "printf '%s' \"\$1\" | grep -q 'removed 2 record(s)'" _ "$OUT"

req DELETE "/v1/subjects?phone=$(uri 447700900123)" "$ADMIN_TOKEN"
check_eq "erasure by WhatsApp-style number" "$(jget '.removed')" 2
req DELETE /v1/conversations/c-none "$ADMIN_TOKEN"
check_eq "erasure by conversation id" "$(jget '.removed')" 1
req DELETE /v1/conversations/c-none "$ADMIN_TOKEN"
check_eq "erasing it again is 404" "$STATUS" 404

# ---- one sweep from the command line while the daemon runs ----
post c-old "an old message" '"ts":"2020-01-01T00:00:00Z"'
post c-new "a new message"
post c-old-lead "an old lead" '"ts":"2020-01-01T00:00:00Z","category":"lead"'
OUT=$(rd sweep --dry-run 2>&1)
check "sweep --dry-run says what would go" bash -c "printf '%s' \"\$1\" | grep -q 'default/chat_transcript: would purge 1 of 2'" _ "$OUT"
check "sweep --dry-run: and in another category" bash -c "printf '%s' \"\$1\" | grep -q 'default/lead: would purge 1 of 1'" _ "$OUT"
check "sweep --dry-run: its total is the sum (issue 11, finding 6)" bash -c "printf '%s' \"\$1\" | grep -qx 'would purge 2 record(s)'" _ "$OUT"
req GET /v1/conversations/c-old "$READ_TOKEN"
check_eq "dry run deleted nothing" "$STATUS" 200
OUT=$(rd sweep 2>&1)
check "sweep purges it" bash -c "printf '%s' \"\$1\" | grep -q 'default/chat_transcript: purged 1 of 2'" _ "$OUT"
check "sweep: its total counts both" bash -c "printf '%s' \"\$1\" | grep -q '^purged 2 record(s)'" _ "$OUT"
req GET /v1/conversations/c-old "$READ_TOKEN"
check_eq "swept conversation is gone" "$STATUS" 404
req GET /v1/conversations/c-new "$READ_TOKEN"
check_eq "recent conversation stays" "$STATUS" 200

# ---- accounting and hygiene ----
LIST=$(rd audit list 2>/dev/null)
for a in export erase erase.held hold.add hold.remove hold.list read purge; do
	check "audit has a '$a' entry" bash -c "printf '%s\n' \"\$1\" | jq -s -e 'any(.action==\"$a\")' >/dev/null" _ "$LIST"
done
check_eq "admin actions carry the token name" "$(printf '%s\n' "$LIST" | jq -r 'select(.action=="hold.add") | .actor' | head -n 1)" e2e-admin
check "redactd audit verify" rd audit verify
daemon_stop
for v in "$JANE" "jane.doe" "$BOB" "$PHONE" "7700 900123" "447700900123" "$REASON" "Jane Doe"; do
	for f in "$T/daemon.log" "$T/redactd.db" "$T/redactd.db-wal"; do
		[ -f "$f" ] || continue
		check "'$v' not in $(basename "$f")" bash -c '! grep -aqiF -- "$1" "$2"' _ "$v" "$f"
	done
	check "'$v' not in the audit log" bash -c "! printf '%s' \"\$1\" | grep -qiF -- \"\$2\"" _ "$LIST" "$v"
done

finish
