#!/usr/bin/env bash
# End to end on the postgresql backend (issue 19): the real daemon with
# [storage] backend = postgresql ingests over HTTP, reads the conversation
# back, keeps it across a restart and a kill -9, holds and a subject export
# work, `audit verify` passes, a backup onto an existing file is refused
# (never clobbered), and the database (pg_dump) holds neither the
# text nor the email in clear.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
if ! pg_setup; then finish; exit $([ "$FAILED" -eq 0 ] && echo 0 || echo 1); fi
trap pg_teardown EXIT
pg_config
daemon_start || { finish; exit 1; }
rd() { "$BIN" "$@" -c "$T/redactd.conf"; }

check "the log names the server, without the password" grep -q "opened postgresql (user=redactd dbname=$PG_DB host=$PG_HOST)" "$T/daemon.log"
check "the password is in no log line" bash -c "! grep -qF \"\$(cat '$PG_PASSWORD_FILE')\" '$T/daemon.log'"

EMAIL=rosa.pg+test@example.org
WORD=gooseberry
CONV="pg-conv-1"
req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$CONV\",\"text\":\"hello I am $EMAIL and I like $WORD\"}"
check_eq "ingest answers 201" "$STATUS" 201
ID1=$(jget '.ids[0]')
req POST /v1/messages "$INGEST_TOKEN" "{\"messages\":[{\"conversation_id\":\"$CONV\",\"text\":\"second $WORD\",\"role\":\"agent\"},{\"conversation_id\":\"$CONV\",\"text\":\"third\",\"ts\":\"2026-01-02T03:04:05Z\"}]}"
check_eq "a batch answers 201" "$STATUS" 201

req GET "/v1/conversations/$CONV" "$READ_TOKEN"
check_eq "read back answers 200" "$STATUS" 200
check_eq "three messages" "$(jget '.messages | length')" 3
check_eq "oldest first (ts)" "$(jget '.messages[0].text')" "third"
check "text redacted, word kept" bash -c "printf '%s' '$BODY' | jq -e '.messages[] | select(.id == \"$ID1\") | .text == \"hello I am [EMAIL] and I like $WORD\"'"
check_eq "two monthly partitions exist" "$(psql_t "SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass")" 2

req GET /v1/conversations/nobody "$READ_TOKEN"
check_eq "unknown conversation is 404" "$STATUS" 404

# Holds and subject exports work here (test_pg_rights.sh has the rest).
req POST /v1/holds "$ADMIN_TOKEN" '{"email":"rosa.pg+test@example.org","reason":"pg test"}'
check_eq "a hold answers 201" "$STATUS" 201
req GET /v1/holds "$ADMIN_TOKEN"
check_eq "listing holds answers 200" "$STATUS" 200
req GET "/v1/subjects?email=$(printf '%s' "$EMAIL" | jq -sRr @uri)" "$ADMIN_TOKEN"
check_eq "a subject export answers 200" "$STATUS" 200
check_eq "... with the three records of its conversation" "$(jget '.records')" 3

daemon_stop
check_eq "daemon drains and exits 0" "$DAEMON_RC" 0
daemon_start || { finish; exit 1; }
req GET "/v1/conversations/$CONV" "$READ_TOKEN"
check_eq "after a restart the conversation is there" "$(jget '.messages | length')" 3

req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$CONV\",\"text\":\"acknowledged before kill\"}"
check_eq "ingest before kill -9" "$STATUS" 201
daemon_kill9
daemon_start || { finish; exit 1; }
req GET "/v1/conversations/$CONV" "$READ_TOKEN"
check_eq "an acknowledged message survives kill -9" "$(jget '.messages | length')" 4

# The server drops every connection of the daemon (a failover would):
# the writer and the readers reconnect, and nothing is answered wrongly.
cut_connections() {  # as the cluster's superuser (trusted on its socket)
	psql -h "$PG_HOST" -U postgres -d postgres -qAt -c \
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$PG_DB'" >/dev/null
}
cut_connections
req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$CONV\",\"text\":\"after the connections were cut\"}"
check_eq "ingest after the server cut the connections answers 201" "$STATUS" 201
cut_connections
req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$CONV\",\"text\":\"cut again\"}"
check_eq "again, with the month's partition known (the pipeline path)" "$STATUS" 201
req GET "/v1/conversations/$CONV" "$READ_TOKEN"
check_eq "and reading still works" "$STATUS:$(jget '.messages | length')" "200:6"
check "server errors are logged on one line each" bash -c "! grep -q '^server closed\|^	This probably' '$T/daemon.log'"
check "the writer said it reconnected" grep -q "the writer reconnected to postgresql" "$T/daemon.log"

OUT=$(rd audit verify 2>&1)
check_eq "audit verify exits 0" "$?" 0
check "audit verify reports entries" bash -c "printf '%s' \"\$1\" | grep -q 'audit chain OK: [1-9][0-9]* entries'" _ "$OUT"
check "verify checks the tenant's own chain too" bash -c "printf '%s' \"\$1\" | grep -q 'audit chain of tenant default OK: [1-9][0-9]* entries'" _ "$OUT"
check "reads are in the tenant's chain" test "$(psql_t "SELECT count(*) FROM audit_log WHERE chain = 'default' AND action = 'read'")" -ge 3
check "a list of every tenant's holds is in the system's" test "$(psql_t "SELECT count(*) FROM audit_log WHERE chain = '' AND action = 'hold.list'")" -ge 1

# Tampering is seen: edit one entry's count.
psql_t "UPDATE audit_log SET count = count + 1 WHERE chain = 'default' AND seq = 1" >/dev/null
OUT=$(rd audit verify 2>&1); rc=$?
check_eq "an edited entry fails verify" "$rc" 1
check "verify names entry 1" bash -c "printf '%s' \"\$1\" | grep -q 'entry 1 edited'" _ "$OUT"
psql_t "UPDATE audit_log SET count = count - 1 WHERE chain = 'default' AND seq = 1" >/dev/null

# The CLI on the same config: backup works (test_pg_backup.sh), and an
# existing DEST is refused and left as it was; the rest works too (holds
# and the rest: test_pg_rights.sh; key rotation, sweeps, closures:
# test_pg_retention.sh).
printf 'not a backup' > "$T/b.db"
out=$(rd backup "$T/b.db" 2>&1); rc=$?
check_eq "redactd backup onto an existing file exits 1" "$rc" 1
check "... saying it exists" bash -c "printf '%s' \"\$1\" | grep -q 'it exists'" _ "$out"
check_eq "... and leaves the file as it was" "$(cat "$T/b.db")" "not a backup"
for cmd in stats sweep; do
	out=$(rd $cmd 2>&1); rc=$?
	check_eq "redactd $cmd works on postgresql" "$rc" 0
done

DUMP="$T/dump.sql"
PGPASSWORD=$(cat "$PG_PASSWORD_FILE") pg_dump -h "$PG_HOST" -U redactd -d "$PG_DB" > "$DUMP"
check "pg_dump has the messages" grep -q "COPY public.messages_p" "$DUMP"
check "no plain text in the database" bash -c "! grep -q '$WORD' '$DUMP'"
check "no email in the database" bash -c "! grep -qF '$EMAIL' '$DUMP'"
check "no conversation id in the database" bash -c "! grep -qF '$CONV' '$DUMP'"

finish
