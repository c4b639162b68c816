#!/usr/bin/env bash
# Operator details (issue 12): `token new` makes a token that works and a
# section the config accepts (and the README's sha256sum recipe agrees);
# HEAD /healthz; /readyz; Allow on 405 lists every method of the path;
# `stats` prints ages in days.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

# ---- token new ----
"$BIN" token new ops-bot --scopes ingest,read >"$T/section" 2>"$T/token.out"
check_eq "token new: exit 0" "$?" 0
TOKEN=$(tail -n 1 "$T/token.out")
check "the token is 43 base64url characters (32 random bytes)" bash -c "printf '%s' '$TOKEN' | grep -qxE '[A-Za-z0-9_-]{43}'"
check "stdout is the section only, without the token" bash -c "! grep -qF -- '$TOKEN' '$T/section'"
check "section names the token" grep -qx '\[token "ops-bot"\]' "$T/section"
check_eq "its sha256 is the token's (README recipe)" "$(sed -n 's/^sha256 = //p' "$T/section")" \
	"$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"
check "scopes normalised" grep -qx 'scopes = ingest, read' "$T/section"
TOKEN2=$("$BIN" token new ops-bot-2 --scopes ingest 2>&1 >/dev/null | tail -n 1)
check "two tokens differ" test -n "$TOKEN2" -a "$TOKEN" != "$TOKEN2"
cat "$T/section" >> "$T/redactd.conf"
check "check-config accepts the appended section" rd check-config
req POST /v1/messages "$TOKEN" '{"conversation_id":"t1","text":"hello"}'
check_eq "before the reload the token is unknown: 401" "$STATUS" 401
kill -HUP "$DAEMON_PID"
wait_for 5 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $TOKEN' $BASE/v1/conversations/t1)\" = 404 ]"
req POST /v1/messages "$TOKEN" '{"conversation_id":"t1","text":"hello"}'
check_eq "after the reload the new token ingests: 201" "$STATUS" 201
req GET /v1/conversations/t1 "$TOKEN"
check_eq "and reads (its scopes)" "$STATUS" 200
"$BIN" token new x --scopes ingest,root >/dev/null 2>&1; check_eq "unknown scope: exit 2" "$?" 2
"$BIN" token new x >/dev/null 2>&1; check_eq "no --scopes: exit 2" "$?" 2
"$BIN" token new 'a b' --scopes read >/dev/null 2>&1; check_eq "bad name: exit 2" "$?" 2
"$BIN" token new x --scopes admin --tenant acme 2>/dev/null | grep -qx 'tenant = acme'
check_eq "--tenant binds the token" "$?" 0
ACME=$("$BIN" token new acme-bot --scopes ingest,read --tenant acme 2>&1 >>"$T/redactd.conf" | tail -n 1)
kill -HUP "$DAEMON_PID"
wait_for 5 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $ACME' $BASE/v1/conversations/t1?tenant=acme)\" = 404 ]"
req POST /v1/messages "$ACME" '{"conversation_id":"a1","text":"hello"}'
check_eq "a tenant-bound token ingests into its tenant: 201" "$STATUS" 201
req POST /v1/messages "$ACME" '{"conversation_id":"a1","text":"hello","tenant":"default"}'
check_eq "into another tenant: 403" "$STATUS" 403
check_eq "the code is forbidden (docs/api.md)" "$(jget '.error.code')" forbidden
req POST /v1/messages "$ACME" '{"conversation_id":"a1","text":"hello","tenant":"no such tenant!"}'
check_eq "an invalid tenant name: 422 invalid_field" "$STATUS $(jget '.error.code')" "422 invalid_field"

# ---- health, readiness, Allow ----
STATUS=$(curl -s -I -o "$T/head" -w '%{http_code}' "$BASE/healthz")
check_eq "HEAD /healthz: 200" "$STATUS" 200
req GET /readyz ""
check_eq "GET /readyz: 200" "$STATUS" 200
check_eq "ready body" "$BODY" '{"status":"ready"}'
check_eq "HEAD /readyz: 200" "$(curl -s -I -o /dev/null -w '%{http_code}' "$BASE/readyz")" 200
req PUT /v1/conversations/t1 "$ADMIN_TOKEN"
check_eq "PUT /v1/conversations/{id}: 405" "$STATUS" 405
check "Allow lists GET and DELETE" bash -c "printf '%s' \"\$1\" | grep -qi '^Allow: GET, DELETE'" _ "$HEADERS"
req POST /healthz ""
check "Allow on /healthz lists GET and HEAD" bash -c "printf '%s' \"\$1\" | grep -qi '^Allow: GET, HEAD'" _ "$HEADERS"

# ---- serve's start-up errors name the config line ----
OUT=$("$BIN" serve -c "$T/redactd.conf" 2>&1); RC=$?
check_eq "a second daemon on the same address: exit 1" "$RC" 1
LISTEN_LINE=$(grep -n '^listen = ' "$T/redactd.conf" | cut -d: -f1)
check "it names the listen line and what to do" bash -c "printf '%s' \"\$1\" | grep -q '$T/redactd.conf:$LISTEN_LINE: cannot listen on 127.0.0.1:.*change listen'" _ "$OUT"
check "and MHD's own reason comes through the logger" bash -c "printf '%s' \"\$1\" | grep -q 'warn mhd: '" _ "$OUT"

# ---- stats: ages in days ----
OLD=$(( $(date +%s) - 400 * 86400 - 3600 ))
req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"old-1\",\"text\":\"long ago\",\"ts\":$OLD}"
check_eq "an old record: 201" "$STATUS" 201
OUT=$(rd stats 2>&1)
check "stats shows the age in days and OVERDUE" bash -c "printf '%s' \"\$1\" | grep -qE 'chat_transcript .*\(age 400d\)  retention 365d  OVERDUE'" _ "$OUT"
finish
