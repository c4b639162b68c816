#!/usr/bin/env bash
# From one SQLite node to three nodes on PostgreSQL (issue 19), as
# docs/operations.md walks it: ingest on SQLite (two months, subjects, a
# hold, a restriction, a consent record, an erasure, reads), stop, back
# up, point the config at PostgreSQL, `redactd migrate` -- killed with
# kill -9 in the middle, then run again to the end, never duplicating --
# start three nodes on the database, read back the same conversations from
# each, export a subject, ingest more, and `audit verify` the history.
# Also: a broken source chain and a second source are refused, and the
# backup taken on SQLite before the move restores into PostgreSQL with an
# erasure made there after the move replayed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
if ! pg_setup; then finish; exit $([ "$FAILED" -eq 0 ] && echo 0 || echo 1); fi
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; pg_teardown; }
trap cleanup EXIT

# ---- one SQLite node ----------------------------------------------------------
daemon_start || { finish; exit 1; }
EMAIL=mig.rosa+e2e@example.org
PHONE=+447700900461
req POST /v1/messages "$INGEST_TOKEN" "{\"messages\":[
 {\"conversation_id\":\"mig-1\",\"text\":\"hello, I am $EMAIL\",\"ts\":\"2026-10-05T10:00:00Z\"},
 {\"conversation_id\":\"mig-1\",\"text\":\"call me on $PHONE\",\"role\":\"agent\",\"ts\":\"2026-11-05T10:00:00Z\"},
 {\"conversation_id\":\"mig-2\",\"text\":\"a second conversation\",\"channel\":\"voice\"},
 {\"conversation_id\":\"mig-gone\",\"text\":\"this one is erased before the move\"}]}"
check_eq "ingest on SQLite answers 201" "$STATUS" 201
# Enough rows that a migration in batches of one takes a while.
for b in $(seq 1 6); do
	body=$(jq -nc --arg b "$b" '{messages: [range(0; 100) | {conversation_id: ("bulk-" + $b), text: ("bulk line \(.)")}]}')
	req POST /v1/messages "$INGEST_TOKEN" "$body"
	[ "$STATUS" = 201 ] || echo "# bulk batch $b: $STATUS"
done
req POST /v1/holds "$ADMIN_TOKEN" "{\"email\":\"$EMAIL\",\"reason\":\"litigation 7\"}"
check_eq "a hold on SQLite" "$STATUS" 201
req POST /v1/restrictions "$ADMIN_TOKEN" '{"email":"someone.else@example.org","reason":"contested"}'
check_eq "a restriction on SQLite" "$STATUS" 201
req POST /v1/consents "$ADMIN_TOKEN" "{\"phone\":\"$PHONE\",\"kind\":\"call_recording\",\"state\":\"given\",\"method\":\"agent\"}"
check_eq "a consent record on SQLite" "$STATUS" 201
req DELETE /v1/conversations/mig-gone "$ADMIN_TOKEN"
check_eq "an erasure on SQLite" "$STATUS" 200
req GET /v1/conversations/mig-1 "$READ_TOKEN"
check_eq "read back on SQLite" "$(jget '.messages | length')" 2
REF1=$(jget '[.messages[] | {id, ts, role, channel, category, text}]')
req GET /v1/conversations/mig-2 "$READ_TOKEN"
REF2=$(jget '[.messages[] | {id, ts, role, channel, category, text}]')
req GET /v1/conversations/bulk-3 "$READ_TOKEN"
REF3=$(jget '[.messages[] | {id, ts, text}]')
req GET "/v1/subjects?email=$(uri "$EMAIL")" "$ADMIN_TOKEN"
check_eq "subject export on SQLite" "$STATUS" 200
REFX=$(jget '[.. | objects | select(has("text")) | .text] | sort')
SRC_MSGS=$(db_count)
check_eq "604 messages on SQLite (one erased)" "$SRC_MSGS" 603

# ---- stop, back up ---------------------------------------------------------
daemon_stop
check_eq "the SQLite node stops cleanly" "$DAEMON_RC" 0
check "a backup before the move" rd backup "$T/before-migrate.db"
SRC_AUDIT=$(rd audit verify)
check "the SQLite chain verifies" bash -c "printf '%s' '$SRC_AUDIT' | grep -q 'audit chain OK'"
SRC_HEAD=${SRC_AUDIT##*head }

# ---- point the config at PostgreSQL, migrate (killed midway) -----------------
pg_config   # same master key, [storage] backend = postgresql
"$BIN" migrate --from "sqlite:$T/redactd.db" --batch 1 -c "$T/redactd.conf" >"$T/mig1.out" 2>&1 &
MIG_PID=$!
wait_for 20 bash -c "[ \"\$(PGPASSWORD=$PG_PASSWORD psql -h '$PG_HOST' -U redactd -d '$PG_DB' -qAt -c \"SELECT copied FROM migrate_progress WHERE tbl = 'messages'\" 2>/dev/null)\" -ge 50 ]"
kill -9 "$MIG_PID" 2>/dev/null; wait "$MIG_PID" 2>/dev/null
MID=$(psql_t "SELECT count(*) FROM messages")
check "killed midway: some messages copied, not all (got $MID)" test "$MID" -gt 0 -a "$MID" -lt "$SRC_MSGS"
check_eq "the migration is not marked finished" "$(psql_t "SELECT finished_ms IS NULL FROM migrate_state")" t
check_eq "its cursor matches the rows committed" "$(psql_t "SELECT copied FROM migrate_progress WHERE tbl = 'messages'")" "$MID"

OUT=$(timeout 20 "$BIN" serve -c "$T/redactd.conf" 2>&1); rc=$?
check "a daemon refuses the half-copied database (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "... saying to finish the migration" bash -c "printf '%s' \"\$1\" | grep -q 'has not finished: run that command again'" _ "$OUT"
check_eq "... and wrote nothing" "$(psql_t "SELECT count(*) FROM messages")" "$MID"

OUT=$(rd migrate --from "sqlite:$T/redactd.db" --batch 7 2>"$T/mig2.err"); rc=$?
check_eq "the re-run finishes (exit 0)" "$rc" 0
[ "$rc" = 0 ] || cat "$T/mig2.err"
check "it prints the counts per table" bash -c "printf '%s' \"\$1\" | grep -Eq '^messages +$SRC_MSGS +$SRC_MSGS\$'" _ "$OUT"
check "and the chain's head, the SQLite head" bash -c "printf '%s' \"\$1\" | grep -q 'audit chain OK on postgresql'" _ "$OUT"
check_eq "every message once" "$(psql_t "SELECT count(*) || '/' || count(DISTINCT id) || '/' || count(DISTINCT record_id) FROM messages")" "$SRC_MSGS/$SRC_MSGS/$SRC_MSGS"
check_eq "holds, restrictions, consents, journal copied" \
	"$(psql_t "SELECT (SELECT count(*) FROM holds) || ',' || (SELECT count(*) FROM restrictions) || ',' || (SELECT count(*) FROM consents) || ',' || (SELECT count(*) FROM erasure_journal)")" \
	"$(sqlite3 "$T/redactd.db" "SELECT (SELECT count(*) FROM holds) || ',' || (SELECT count(*) FROM restrictions) || ',' || (SELECT count(*) FROM consents) || ',' || (SELECT count(*) FROM erasure_journal)")"
check_eq "data keys keep their ids and wrapping" \
	"$(psql_t "SELECT string_agg(id || ':' || coalesce(upper(encode(wrapped, 'hex')), '-'), ',' ORDER BY id) FROM data_keys")" \
	"$(sqlite3 "$T/redactd.db" "SELECT group_concat(k, ',') FROM (SELECT id || ':' || coalesce(hex(wrapped), '-') AS k FROM data_keys ORDER BY id)")"
AGAIN=$(rd migrate --from "sqlite:$T/redactd.db" 2>&1); rc=$?
check_eq "a third run changes nothing (exit 0)" "$rc" 0
check "... and says it was finished" bash -c "printf '%s' \"\$1\" | grep -q 'finished by an earlier run'" _ "$AGAIN"
check_eq "still every message once" "$(psql_t "SELECT count(*) FROM messages")" "$SRC_MSGS"

# ---- three nodes on PostgreSQL --------------------------------------------------
start_nodes 3
for i in 1 2 3; do
	BASE=${BASES[$i]}
	req GET /v1/conversations/mig-1 "$READ_TOKEN"
	check_eq "node $i reads mig-1 as SQLite did" "$(jget '[.messages[] | {id, ts, role, channel, category, text}]')" "$REF1"
done
BASE=${BASES[2]}
req GET /v1/conversations/mig-2 "$READ_TOKEN"
check_eq "mig-2 (voice) as SQLite did" "$(jget '[.messages[] | {id, ts, role, channel, category, text}]')" "$REF2"
req GET /v1/conversations/bulk-3 "$READ_TOKEN"
check_eq "bulk-3, 100 messages, as SQLite did" "$(jget '[.messages[] | {id, ts, text}]')" "$REF3"
req GET /v1/conversations/mig-gone "$READ_TOKEN"
check_eq "the erased conversation stays erased" "$STATUS" 404
req GET "/v1/subjects?email=$(uri "$EMAIL")" "$ADMIN_TOKEN"
check_eq "subject export on PostgreSQL" "$STATUS" 200
check_eq "... the same records as on SQLite" "$(jget '[.. | objects | select(has("text")) | .text] | sort')" "$REFX"
BASE=${BASES[3]}
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"mig-1","text":"after the move"}'
check_eq "ingest on PostgreSQL after the move" "$STATUS" 201
NEWID=$(jget '.ids[0]')
BASE=${BASES[1]}
req GET /v1/conversations/mig-1 "$READ_TOKEN"
check_eq "another node reads the old turns and the new one" "$(jget '.messages | length')" 3
check_eq "new message ids follow the migrated ones" "$(psql_t "SELECT count(*) FROM messages WHERE record_id = '$NEWID' AND id > (SELECT max(id) FROM messages WHERE record_id <> '$NEWID')")" 1
for i in 1 2 3; do kill -TERM "${PIDS[$i]}"; wait "${PIDS[$i]}"; check_eq "node $i exits 0" "$?" 0; done
check "no sanitizer report from the nodes or the migrations" bash -c "! grep -q Sanitizer '$T'/node*.log '$T'/mig*"
PIDS=()

OUT=$(rd audit verify 2>&1)
check_eq "audit verify on PostgreSQL exits 0" "$?" 0
check "the SQLite history is in it (seq from 1)" bash -c "printf '%s' \"\$1\" | grep -q 'seq 1\.\.'" _ "$OUT"
SRC_LAST=$(printf '%s' "$SRC_AUDIT" | sed -n 's/.*seq [0-9]*\.\.\([0-9]*\)).*/\1/p')
check_eq "the SQLite head is entry $SRC_LAST on PostgreSQL" "$(psql_t "SELECT encode(hash, 'hex') FROM audit_log WHERE chain = '' AND seq = $SRC_LAST")" "$SRC_HEAD"
check "the migration is an audit entry" bash -c "rd() { \"$BIN\" \"\$@\" -c '$T/redactd.conf'; }; rd audit list | grep -q '\"action\":\"store.migrate\"'"

# ---- refusals -----------------------------------------------------------------------
OUT=$(rd migrate --from "sqlite:$T/before-migrate.db" 2>&1); rc=$?
check_eq "a backup of the same store is the same migration, finished (exit 0)" "$rc" 0
sed -e '/^backend = /d' -e '/^url = /d' -e '/^password_file = /d' -e "s|^database = .*|database = $T/other.db|" \
	-e "s|^key_file = .*|key_file = $T/other.key|" "$T/redactd.conf" > "$T/other.conf"
"$BIN" keygen -o "$T/other.key" 2>/dev/null
"$BIN" stats -c "$T/other.conf" >/dev/null 2>&1
OUT=$(rd migrate --from "sqlite:$T/other.db" 2>&1); rc=$?
check_eq "another source into this database is refused (exit 2)" "$rc" 2
check "... saying why" bash -c "printf '%s' \"\$1\" | grep -q 'another SQLite store'" _ "$OUT"
cp "$T/before-migrate.db" "$T/tampered.db"
sqlite3 "$T/tampered.db" "UPDATE audit_log SET count = count + 1 WHERE seq = 2"
PG_DB2="${PG_DB}_b"
PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d redactd -qAt -c "CREATE DATABASE $PG_DB2" >/dev/null
OUT=$("$BIN" migrate --from "sqlite:$T/tampered.db" --to "postgresql://redactd@/$PG_DB2?host=$PG_HOST" -c "$T/redactd.conf" 2>&1); rc=$?
check_eq "a source whose chain is broken is refused (exit 1)" "$rc" 1
check "... naming the entry" bash -c "printf '%s' \"\$1\" | grep -q 'BROKEN: entry 2'" _ "$OUT"
check_eq "... and nothing was copied" "$(PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d "$PG_DB2" -qAt -c "SELECT count(*) FROM pg_tables WHERE tablename = 'messages'")" 0
PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d redactd -qAt -c "DROP DATABASE IF EXISTS $PG_DB2 WITH (FORCE)" >/dev/null

# ---- a backup made on SQLite before the move restores into PostgreSQL ------------
# (the migration kept the journal's seqs and the key ids: the replay of an
# erasure made on PostgreSQL after the move reaches it)
OUT=$(rd erase --conversation mig-2 2>&1)
check "an erasure on PostgreSQL after the move" bash -c "printf '%s' \"\$1\" | grep -q '1 record'" _ "$OUT"
PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d redactd -qAt -c "CREATE DATABASE $PG_DB2" >/dev/null
OUT=$(rd restore "$T/before-migrate.db" --to "postgresql://redactd@/$PG_DB2?host=$PG_HOST" 2>&1); rc=$?
check_eq "the SQLite backup restores into a new PostgreSQL database (exit 0)" "$rc" 0
[ "$rc" = 0 ] || echo "$OUT"
check "... replaying the erasure made after the move" bash -c "printf '%s' \"\$1\" | grep -q 'replayed 1 erasure(s) and rectification(s) made since: 1 record(s) removed, 0 rectification(s) applied'" _ "$OUT"
check_eq "... every other message of the backup there" \
	"$(PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d "$PG_DB2" -qAt -c "SELECT count(*) FROM messages")" "$((SRC_MSGS - 1))"
PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d redactd -qAt -c "DROP DATABASE IF EXISTS $PG_DB2 WITH (FORCE)" >/dev/null

finish
