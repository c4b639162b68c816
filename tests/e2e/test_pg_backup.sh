#!/usr/bin/env bash
# Backups that forget, on PostgreSQL (issue 19): `redactd backup` of a
# PostgreSQL store writes the same SQLite backup file a SQLite store's
# does (one snapshot; rows sealed, keys wrapped or removed, both kinds of
# audit chain, backup_meta), with no identifier in clear; a subject and a
# conversation erased after it stay erased when `redactd restore --to
# postgresql://...` loads it into a second, empty database and replays the
# live journal; a record rectified since has its new text and the links it
# added; everything else is back, and `audit verify` passes there
# on every chain. A non-empty target is refused unless --force (which
# empties it first), the live database itself always; a PostgreSQL
# backup with tenants' chains is refused by a restore into a SQLite file;
# [backup] retention expires PostgreSQL backups like any other.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
if ! pg_setup; then finish; exit $([ "$FAILED" -eq 0 ] && echo 0 || echo 1); fi
PG_DB2="${PG_DB}_r"
cleanup() {
	PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d redactd -qAt \
		-c "DROP DATABASE IF EXISTS $PG_DB2 WITH (FORCE)" >/dev/null 2>&1
	pg_teardown
}
trap cleanup EXIT
DAEMON_EXTRA_CONF="
[backup]
directory = $T/backups
retention = 30d"
pg_config
daemon_start || { finish; exit 1; }
rd() { "$BIN" "$@" -c "$T/redactd.conf"; }
psql2() { PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d "$PG_DB2" -qAt -c "$1"; }

ALICE=alice.pgbackup@example.com
BOB=bob.pgbackup@example.org
PHONE=+447700900877
post() {  # post CONV TEXT
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$1\",\"text\":\"$2\"}"
	[ "$STATUS" = 201 ] || echo "ingest failed: $STATUS $BODY"
}
post c-alice "Hello, I am $ALICE"
post c-alice "Thanks Alice"
post c-bob "Hi, $BOB here, call $PHONE"
post c-carol "Carol has no email here"
post c-carol "But she talks a lot"
post c-dave "Dave stays"
req PATCH "/v1/messages/$(req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c-erin","text":"version one of the note"}'; jget '.ids[0]')" "$ADMIN_TOKEN" '{"text":"version two of the note"}'
check_eq "a rectification before the backup" "$STATUS" 200
req GET "/v1/subjects?email=$(uri $BOB)" "$ADMIN_TOKEN"
check_eq "a subject export (a tenant chain entry)" "$STATUS" 200
LIVE_MSGS=$(psql_t "SELECT count(*) FROM messages")
check_eq "7 messages on PostgreSQL" "$LIVE_MSGS" 7
# A link to a conversation without messages (an older redactd could make
# one): the backup file keeps it as the snapshot has it, and still checks
# every table's count (the file's messages name the other links).
psql_t "INSERT INTO subjects (tenant, subject_hash, conv_hash)
	VALUES ('default', decode(repeat('ab', 32), 'hex'), decode(repeat('cd', 32), 'hex'))" >/dev/null
check "the live store has tenant chains" test "$(psql_t "SELECT count(DISTINCT chain) FROM audit_log WHERE chain <> ''")" -ge 1

# ---- backup ----------------------------------------------------------------------
OUT=$(rd backup 2>&1); RC=$?
check_eq "backup of a PostgreSQL store: exit 0" "$RC" 0
[ "$RC" = 0 ] || echo "$OUT"
B=$(ls "$T/backups"/redactd-*.db 2>/dev/null | head -n 1)
check "it is in [backup] directory, named after its time" bash -c "basename '$B' | grep -Eq '^redactd-[0-9]{8}T[0-9]{6}\.[0-9]{3}Z\.db$'"
check "it says how many records" bash -c "printf '%s' \"\$1\" | grep -q ': 7 record(s), without key material'" _ "$OUT"
check_eq "mode 0600" "$(file_mode "$B")" 600
check_eq "a SQLite backup: backup_meta with the time taken" \
	"$(sqlite3 "file:$B?mode=ro" 'SELECT count(*) FROM backup_meta WHERE taken_ms > 0 AND with_keys = 0')" 1
sed -e '/^backend = /d' -e '/^url = /d' -e '/^password_file = /d' -e "s|^database = .*|database = $T/sqlite.db|" \
	"$T/redactd.conf" > "$T/sqlite.conf"
"$BIN" stats -c "$T/sqlite.conf" >/dev/null 2>&1
check_eq "the same schema (version and tables) as a SQLite store's" \
	"$(sqlite3 "file:$B?mode=ro" "PRAGMA user_version; SELECT name FROM sqlite_master WHERE name NOT LIKE '%backup_audit%' ORDER BY name")" \
	"$(sqlite3 "file:$T/sqlite.db?mode=ro" "PRAGMA user_version; SELECT name FROM sqlite_master ORDER BY name")"
check_eq "every message, sealed" "$(sqlite3 "file:$B?mode=ro" 'SELECT count(*) FROM messages')" "$LIVE_MSGS"
check_eq "every link, and each link of a message named by one" \
	"$(sqlite3 "file:$B?mode=ro" 'SELECT count(*), sum(EXISTS (SELECT 1 FROM msg_subjects n WHERE n.subject_hash = s.subject_hash)) FROM subjects s')" \
	"$(psql_t "SELECT count(*) FROM subjects")|$(psql_t "SELECT count(*) - 1 FROM subjects")"
check_eq "rows as on PostgreSQL (ids, key ids, ciphertext)" \
	"$(sqlite3 "file:$B?mode=ro" "SELECT group_concat(k, ',') FROM (SELECT id || ':' || key_id || ':' || hex(text_ct) AS k FROM messages ORDER BY id)")" \
	"$(psql_t "SELECT string_agg(id || ':' || key_id || ':' || upper(encode(text_ct, 'hex')), ',' ORDER BY id) FROM messages")"
check_eq "key-less: no wrapped data key in it" \
	"$(sqlite3 "file:$B?mode=ro" 'SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL')" 0
check_eq "the system chain in audit_log" \
	"$(sqlite3 "file:$B?mode=ro" 'SELECT count(*) FROM audit_log')" "$(psql_t "SELECT count(*) FROM audit_log WHERE chain = '' AND action <> 'backup'")"
check_eq "the tenants' chains beside it" \
	"$(sqlite3 "file:$B?mode=ro" 'SELECT count(*) FROM backup_audit_chains')" "$(psql_t "SELECT count(*) FROM audit_log WHERE chain <> ''")"
check_eq "the journal's mark" "$(sqlite3 "file:$B?mode=ro" 'SELECT journal_seq FROM backup_meta')" "$(psql_t "SELECT coalesce(max(seq), 0) FROM erasure_journal")"
W=$(psql_t "SELECT encode(substring(wrapped from 1 for 16), 'hex') FROM data_keys WHERE wrapped IS NOT NULL LIMIT 1")
check "a live wrapped key exists to look for" test -n "$W"
check "... and none of its bytes are in the key-less file" bash -c "! od -An -tx1 -v '$B' | tr -d ' \n' | grep -q '$W'"
check "no identifier or text in clear in the backup file" bash -c \
	"! grep -aqiE 'pgbackup|7700|900877|Carol|version one|version two|Dave stays' '$B'"
check_eq "the backup is audited (system chain)" "$(psql_t "SELECT count(*) FROM audit_log WHERE chain = '' AND action = 'backup'")" 1
check "a --with-keys backup" rd backup "$T/with-keys.db" --with-keys
check "... does hold the wrapped key's bytes (the look above can fail)" bash -c "od -An -tx1 -v '$T/with-keys.db' | tr -d ' \n' | grep -q '$W'"
check_eq "... and says so in backup_meta" "$(sqlite3 "file:$T/with-keys.db?mode=ro" 'SELECT with_keys FROM backup_meta')" 1

# ---- after the backup: erasures, a rectification, more ingest ----------------------
req DELETE "/v1/subjects?email=$(uri $ALICE)" "$ADMIN_TOKEN"
check_eq "erase Alice after the backup: 2 records" "$(jget '.removed')" 2
req DELETE /v1/conversations/c-carol "$ADMIN_TOKEN"
check_eq "erase c-carol: 2 records" "$(jget '.removed')" 2
post c-frank "Frank came after the backup"
check_eq "the live journal has the two erasures" "$(psql_t "SELECT count(*) FROM erasure_journal WHERE seq > $(sqlite3 "file:$B?mode=ro" 'SELECT journal_seq FROM backup_meta')")" 2
DAVE=dave.pgbackup@example.net
req GET /v1/conversations/c-dave "$READ_TOKEN"
DAVE_ID=$(jget '.messages[0].id')
req PATCH "/v1/messages/$DAVE_ID" "$ADMIN_TOKEN" "{\"text\":\"The note stays, write to $DAVE\"}"
check_eq "a rectification after the backup adds an email" "$STATUS" 200

# ---- restore into a second, empty database -----------------------------------------
PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d redactd -qAt -c "CREATE DATABASE $PG_DB2" >/dev/null
URL2="postgresql://redactd@/$PG_DB2?host=$PG_HOST"
OUT=$(rd restore "$B" --to "$URL2" 2>&1); RC=$?
check_eq "restore into an empty PostgreSQL database: exit 0" "$RC" 0
[ "$RC" = 0 ] || echo "$OUT"
check "it says what it replayed" bash -c "printf '%s' \"\$1\" | grep -q 'replayed 3 erasure(s) and rectification(s) made since: 4 record(s) removed, 1 rectification(s) applied'" _ "$OUT"
check "it prints no password" bash -c "! printf '%s' \"\$1\" | grep -q '$PG_PASSWORD'" _ "$OUT"
check_eq "restored: Bob, Dave and Erin, not Alice, Carol or Frank" "$(psql2 "SELECT count(*) FROM messages")" 3
check_eq "restored: the erased subject's links are gone (the planted one is as it was)" \
	"$(psql2 "SELECT count(*) FROM subjects s WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.tenant = s.tenant AND m.conv_hash = s.conv_hash) AND s.conv_hash <> decode(repeat('cd', 32), 'hex')")" 0
check_eq "restored: the rows are the live ones (sealed as they were)" \
	"$(psql2 "SELECT string_agg(id || ':' || md5(text_ct), ',' ORDER BY id) FROM messages")" \
	"$(psql_t "SELECT string_agg(id || ':' || md5(text_ct), ',' ORDER BY id) FROM messages WHERE record_id NOT IN (SELECT record_id FROM messages ORDER BY id DESC LIMIT 1)")"
check_eq "restored: the live journal's entries are in its own (beside the backup's rectification)" \
	"$(psql2 "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM erasure_journal")" "$(psql_t "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM erasure_journal")"
check_eq "restored: the live (wrapped) keys" \
	"$(psql2 "SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL")" "$(psql_t "SELECT count(*) FROM data_keys d WHERE wrapped IS NOT NULL AND EXISTS (SELECT 1 FROM messages m WHERE m.key_id = d.id AND m.record_id NOT IN (SELECT record_id FROM messages ORDER BY id DESC LIMIT 1))")"
check_eq "restored: every chain, the tenants' too" \
	"$(psql2 "SELECT count(DISTINCT chain) FROM audit_log")" "$(psql_t "SELECT count(DISTINCT chain) FROM audit_log")"
check_eq "audited in the target (restore)" "$(psql2 "SELECT count(*) FROM audit_log WHERE action = 'restore'")" 1
check_eq "audited in the live store" "$(psql_t "SELECT count(*) FROM audit_log WHERE action = 'restore'")" 1
check_eq "the target is marked finished" "$(psql2 "SELECT finished_ms IS NOT NULL FROM migrate_state")" t

# A daemon on the restored database: reads, and audit verify on every chain.
sed -e "s|^url = .*|url = $URL2|" "$T/redactd.conf" > "$T/restored.conf"
OUT=$("$BIN" audit verify -c "$T/restored.conf" 2>&1); RC=$?
check_eq "audit verify on the restored database: exit 0" "$RC" 0
[ "$RC" = 0 ] || echo "$OUT"
check "... a line per chain, all OK" bash -c "[ \$(printf '%s\n' \"\$1\" | grep -c 'OK') -ge 2 ]" _ "$OUT"
daemon_stop
sed -i "s|^url = .*|url = $URL2|" "$T/redactd.conf"
daemon_start
req GET /v1/conversations/c-bob "$READ_TOKEN"
check_eq "the restored store reads Bob's message (live keys)" "$(jget '.messages[0].text' | grep -c '\[EMAIL\]')" 1
req GET /v1/conversations/c-alice "$READ_TOKEN"
check_eq "Alice's conversation does not come back" "$STATUS" 404
req GET /v1/conversations/c-carol "$READ_TOKEN"
check_eq "nor Carol's" "$STATUS" 404
req GET /v1/conversations/c-erin "$READ_TOKEN"
check_eq "the rectified text, as rectified" "$(jget '.messages[0].text')" "version two of the note"
req GET /v1/conversations/c-dave "$READ_TOKEN"
check_eq "the record rectified after the backup has its new text" "$(jget '.messages[0].text')" "The note stays, write to [EMAIL]"
req GET "/v1/subjects?email=$(uri $DAVE)" "$ADMIN_TOKEN"
check_eq "an export by the email its rectification added finds it" "$(jget '.records')" 1
daemon_stop
sed -i "s|^url = .*|url = $PG_URL|" "$T/redactd.conf"

# ---- refusals ----------------------------------------------------------------------------
OUT=$(rd restore "$B" --to "$URL2" 2>&1); RC=$?
check_eq "a second restore of the same backup: nothing to do (exit 0)" "$RC" 0
check "... saying so" bash -c "printf '%s' \"\$1\" | grep -q 'an earlier run finished'" _ "$OUT"
B2="$T/second.db"
check "a second backup" rd backup "$B2"
OUT=$(rd restore "$B2" --to "$URL2" 2>&1); RC=$?
check_eq "another backup into the non-empty database is refused (exit 2)" "$RC" 2
check "... saying --force empties it" bash -c "printf '%s' \"\$1\" | grep -q 'force empties it first'" _ "$OUT"
OUT=$(rd restore "$B" --to "$PG_URL" --force 2>&1); RC=$?
check_eq "the live database itself is refused, even with --force (exit 2)" "$RC" 2
check "... saying why" bash -c "printf '%s' \"\$1\" | grep -q 'live store.s own database'" _ "$OUT"
check_eq "... and the live store is untouched" "$(psql_t "SELECT count(*) FROM messages")" 4
OUT=$(rd restore "$B2" --to "$URL2" --force 2>&1); RC=$?
check_eq "--force restores into the non-empty database (exit 0)" "$RC" 0
[ "$RC" = 0 ] || echo "$OUT"
check_eq "... which now holds the second backup's records" "$(psql2 "SELECT count(*) FROM messages")" 4
check_eq "... and its history alone, plus this restore (emptied first)" "$(psql2 "SELECT count(*) FROM audit_log")" \
	"$(( $(sqlite3 "file:$B2?mode=ro" "SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM backup_audit_chains)") + 1 ))"
check_eq "... recorded as restore.forced: the data it held was replaced" "$(psql2 "SELECT action FROM audit_log WHERE chain = '' ORDER BY seq DESC LIMIT 1")" restore.forced
check_eq "... and the live store's entry says so too" "$(psql_t "SELECT action FROM audit_log WHERE chain = '' ORDER BY seq DESC LIMIT 1")" restore.forced
check "... and the command said it emptied the target" bash -c "printf '%s' \"\$1\" | grep -q 'held data; it was emptied first'" _ "$OUT"
OUT=$(rd restore "$B" --to "$T/restored.db" 2>&1); RC=$?
check_eq "a restore into a SQLite file is refused on a postgresql config (exit 2)" "$RC" 2
OUT=$("$BIN" restore "$B" --to "$T/restored.db" -c "$T/sqlite.conf" 2>&1); RC=$?
check_eq "a PostgreSQL backup with tenants' chains into a SQLite file is refused (exit 2)" "$RC" 2
check "... saying to restore it into PostgreSQL" bash -c "printf '%s' \"\$1\" | grep -q 'restore it into PostgreSQL'" _ "$OUT"
check "... writing nothing" test ! -e "$T/restored.db"

# ---- expiry: [backup] retention removes PostgreSQL backups like any ------------------------
sqlite3 "$B" "UPDATE backup_meta SET taken_ms = taken_ms - 40 * 86400000"
psql_t "UPDATE erasure_journal SET ts_ms = ts_ms - 40::bigint * 86400000" >/dev/null
sed -i 's/^sweep_interval = .*/sweep_interval = 1s/' "$T/redactd.conf"
daemon_start
wait_for 15 test ! -e "$B"
check "the sweeper removed the expired PostgreSQL backup" test ! -e "$B"
check "and kept the fresh one" test -e "$B2"
check_eq "audited (backup.expire)" "$(psql_t "SELECT count(*) FROM audit_log WHERE action = 'backup.expire'")" 1
wait_for 10 test "$(psql_t "SELECT count(*) FROM erasure_journal")" = 0
check_eq "the journal's old entries expired with it" "$(psql_t "SELECT count(*) FROM erasure_journal")" 0
daemon_stop
check_eq "the daemon stops cleanly" "$DAEMON_RC" 0
finish
