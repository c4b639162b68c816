#!/usr/bin/env bash
# Backups that forget, on PostgreSQL (issue 19): `redactd backup` of a
# PostgreSQL store writes the same SQLite backup file a SQLite store's
# does (one snapshot; rows sealed, keys wrapped or removed, both kinds of
# audit chain, backup_meta), with no identifier in clear; a subject and a
# conversation erased after it stay erased when `redactd restore --to
# postgresql://...` loads it into a second, empty database and replays the
# live journal; everything else is back, and `audit verify` passes there
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
post() {  # post CONV TEXT [TENANT-TOKEN]
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$1\",\"text\":\"$2\"}"
	[ "$STATUS" = 201 ] || echo "ingest failed: $STATUS $BODY"
}
post c-alice "Hello, I am $ALICE"
post c-alice "Thanks Alice"
post c-bob "Hi, $BOB here, call $PHONE"
post c-carol "Carol has no email here"
post c-carol "But she talks a lot"
post c-dave "Dave stays"
req PATCH "/v1/messages/$(req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c-erin","text":"Erin said this first"}'; jget '.ids[0]')" "$ADMIN_TOKEN" '{"text":"Erin said this instead"}'
check_eq "a rectification before the backup" "$STATUS" 200
req GET "/v1/subjects?email=$(uri $BOB)" "$ADMIN_TOKEN"
check_eq "a subject export (a tenant chain entry)" "$STATUS" 200
LIVE_MSGS=$(psql_t "SELECT count(*) FROM messages")
check_eq "7 messages on PostgreSQL" "$LIVE_MSGS" 7
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
check "no identifier or text in clear in the backup file" bash -c \
	"! grep -aqiE 'pgbackup|7700|900877|Carol|Erin said|Dave stays' '$B'"
check_eq "the backup is audited (system chain)" "$(psql_t "SELECT count(*) FROM audit_log WHERE chain = '' AND action = 'backup'")" 1
