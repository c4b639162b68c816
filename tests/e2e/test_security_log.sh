#!/usr/bin/env bash
# End to end (issue 17): the security log. Failed authentications (401)
# and forbidden requests (403) are audit entries naming the route, the
# token when known and the client by a keyed hash, never its address; a
# flood of them is rate-limited per address so it cannot fill the disk;
# CLI actions name the operator (--actor, $SUDO_USER, the login);
# `audit list --follow` ships entries as they are committed.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

audit_json() { rd audit list 2>/dev/null; }
count_action() { audit_json | grep -c "\"action\":\"$1\""; }

req GET /v1/holds ""
check_eq "no token: 401" "$STATUS" 401
req GET /v1/holds "not-a-token"
check_eq "unknown token: 401" "$STATUS" 401
req GET /v1/holds "$READ_TOKEN"
check_eq "read token on an admin route: 403" "$STATUS" 403
sleep 0.3
AUD=$(audit_json)
check_eq "two auth_failed entries" "$(printf '%s\n' "$AUD" | grep -c '"action":"auth_failed"')" 2
check "auth_failed names the route and a keyed client, anonymous actor" bash -c \
	"printf '%s\n' \"\$1\" | grep '\"auth_failed\"' | head -n 1 | grep -Eq '\"actor\":\"anonymous\",\"action\":\"auth_failed\",\"target\":\"route:/v1/holds client:[0-9a-f]{32}\",\"count\":1'" _ "$AUD"
check "forbidden names the token" bash -c \
	"printf '%s\n' \"\$1\" | grep -q '\"actor\":\"e2e-read\",\"action\":\"forbidden\",\"target\":\"route:/v1/holds client:'" _ "$AUD"
check "no client address in the audit log" bash -c "! printf '%s' \"\$1\" | grep -q '127\.0\.0\.1'" _ "$AUD"
CLIENT=$(printf '%s\n' "$AUD" | grep -o 'client:[0-9a-f]*' | head -n 1)
check_eq "the same client gets the same keyed hash" "$(printf '%s\n' "$AUD" | grep -c "$CLIENT")" 3

# ---- a flood: at most 10 entries a minute per address ----
BEFORE=$(sqlite3 "file:$T/redactd.db?mode=ro" 'SELECT count(*) FROM audit_log')
SIZE_BEFORE=$(stat -c %s "$T/redactd.db")
seq 1 400 | xargs -P 8 -I{} curl -s -o /dev/null -H 'Authorization: Bearer wrong-{}' "$BASE/v1/holds"
sleep 0.5
AFTER=$(sqlite3 "file:$T/redactd.db?mode=ro" 'SELECT count(*) FROM audit_log')
check "400 refused requests add at most 10 audit entries (7 budget left this minute)" test $((AFTER - BEFORE)) -le 7
check "the flood added some (the budget is used, not skipped)" test $((AFTER - BEFORE)) -ge 1
req GET /healthz ""
check_eq "the daemon still serves" "$STATUS" 200
req GET /v1/holds "$ADMIN_TOKEN"
check_eq "admin requests still work" "$STATUS" 200

# ---- the operator of CLI actions ----
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c-1","text":"x"}'
"$BIN" --actor ops-jane erase --conversation c-1 -c "$T/redactd.conf" >/dev/null 2>&1
check "--actor NAME: cli:NAME" bash -c "'$BIN' audit list -c '$T/redactd.conf' | grep '\"erase\"' | grep -q '\"actor\":\"cli:ops-jane\"'"
SUDO_USER=sudoer1 "$BIN" erase --conversation c-2 -c "$T/redactd.conf" >/dev/null 2>&1
check "\$SUDO_USER names the operator" bash -c "'$BIN' audit list -c '$T/redactd.conf' | grep '\"erase\"' | grep -q '\"actor\":\"cli:sudoer1\"'"
ME=$(id -un)
env -u SUDO_USER "$BIN" erase --conversation c-3 -c "$T/redactd.conf" >/dev/null 2>&1
check "else the login name" bash -c "'$BIN' audit list -c '$T/redactd.conf' | grep '\"erase\"' | grep -q '\"actor\":\"cli:$ME\"'"
"$BIN" --actor 'bad name!' erase --conversation c-4 -c "$T/redactd.conf" >/dev/null 2>"$T/err"
check_eq "an invalid --actor: usage error" "$?" 2
check "and says what is allowed" grep -q -- "--actor must be" "$T/err"

# ---- shipping: audit list --follow ----
"$BIN" audit list --follow --since "$(date -u +%Y-%m-%dT%H:%M:%SZ)" -c "$T/redactd.conf" >"$T/follow.out" 2>"$T/follow.err" &
FPID=$!
sleep 0.7
"$BIN" --actor follower0 erase --conversation c-5 -c "$T/redactd.conf" >/dev/null 2>&1
check "--follow prints a new entry as it is committed" wait_for 5 grep -q '"actor":"cli:follower0"' "$T/follow.out"
"$BIN" --actor follower erase --conversation c-6 -c "$T/redactd.conf" >/dev/null 2>&1
check "and the next one" wait_for 5 grep -q '"actor":"cli:follower"' "$T/follow.out"
kill -INT $FPID; wait $FPID; RC=$?
check_eq "--follow exits 0 on SIGINT" "$RC" 0
check_eq "each entry printed once" "$(grep -c '"actor":"cli:follower"' "$T/follow.out")" 1
"$BIN" audit verify --follow -c "$T/redactd.conf" >/dev/null 2>&1
check_eq "verify does not take --follow" "$?" 2
check "the chain verifies" rd audit verify

finish
