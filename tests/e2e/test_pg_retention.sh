#!/usr/bin/env bash
# End to end on the postgresql backend (issue 19): retention, shredding,
# key rotation and tenant closures against the real daemon and CLI.
#  - the retention gauges of /metrics (groups and due counts);
#  - one sweeper at a time: while another session holds the sweep lock,
#    `redactd sweep` does nothing and says so; once that holder dies (its
#    connection dropped), a sweep runs and writes its audit entry;
#  - `redactd key rotate` beside the daemon re-wraps the root and data keys
#    in the database (and says so in the audit log); after a reload the
#    daemon reads and writes under the new key; a second run finds nothing;
#  - `redactd tenant close/list/cancel` and the admin API;
#  - the sweeper purging an expired category, shredding the key of an
#    ended month once no record uses it, and finishing a tenant closure.
#    With stats (groups, entity totals), and a legal hold that keeps an
#    expired conversation through the sweep.
#  - partitions by (category, month): January 2020 of acme/lead, wholly
#    expired, is emptied in one step (TRUNCATE) while January 2020 of a
#    category kept ten years stays readable; February 2020 of lead holds a
#    held conversation, so it goes by batches and the held one survives.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
if ! pg_setup; then finish; exit $([ "$FAILED" -eq 0 ] && echo 0 || echo 1); fi
HOLDER=""
cleanup() { [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null; pg_teardown; }
trap cleanup EXIT
pg_config
sed -i "s/^email = 730d/&\narchive = 3650d/" "$T/redactd.conf"
daemon_start || { finish; exit 1; }

post_in acme lead-1 lead "Lead: mail pat@example.net" 2020-01-02T03:04:05Z
post_in acme lead-1 lead "second turn" 2020-01-02T03:04:06Z
post_in acme chat-1 chat_transcript "kept a year, sam@example.net"
post_in acme arch-1 archive "kept ten years, same month as lead-1" 2020-01-05T00:00:00Z
post_in globex g-1 chat_transcript "another tenant, kim@example.net"

# ---- the sweeper's reads -------------------------------------------------------
check "the lead category is overdue (2020, retention 365d)" \
	bash -c "curl -s -H 'Authorization: Bearer $READ_TOKEN' $BASE/metrics | grep -q 'redactd_retention_overdue_records{tenant=\"acme\",category=\"lead\"} 2'"
check "and the kept one is not" \
	bash -c "curl -s -H 'Authorization: Bearer $READ_TOKEN' $BASE/metrics | grep -q 'redactd_retention_overdue_records{tenant=\"acme\",category=\"chat_transcript\"} 0'"

# ---- one sweeper at a time -----------------------------------------------------
# Another "node" holds the sweep lock: a session that takes it and waits
# (client_connection_check_interval: the server sees its death at once).
LOCK="SELECT pg_advisory_lock($((0x72640011)), 0)"
PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d "$PG_DB" -qAt \
	-c "SET client_connection_check_interval = '100ms'" -c "$LOCK" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
HOLDER=$!
held() { [ "$(psql_t "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $((0x72640011)) AND granted")" = 1 ]; }
check "another session holds the sweep lock" wait_for 10 held
SWEEPS_BEFORE=$(psql_t "SELECT count(*) FROM audit_log WHERE action IN ('sweep', 'purge')")
OUT=$(rd sweep 2>&1); RC=$?
check_eq "redactd sweep while another sweeps: exit 0" "$RC" 0
check "... saying another process is sweeping" grep -q "another redactd process is sweeping this store now; nothing done" <<<"$OUT"
check_eq "... and writing no pass entry" "$(psql_t "SELECT count(*) FROM audit_log WHERE action IN ('sweep', 'purge')")" "$SWEEPS_BEFORE"
check "the records are still there" test "$(psql_t "SELECT count(*) FROM messages")" = 5
kill -9 "$HOLDER"; wait "$HOLDER" 2>/dev/null; HOLDER=""
released() { ! held; }
check "the holder died: the server released its lock" wait_for 10 released

# ---- key rotation beside the running daemon --------------------------------------
"$BIN" keygen -o "$T/new.key" >/dev/null 2>&1
cp "$T/master.key" "$T/old.key"
OUT=$(rd key rotate --new-key "$T/new.key" 2>"$T/err"); RC=$?
check_eq "key rotate on postgresql: exit 0" "$RC" 0
check "it re-wrapped the root and the data keys" grep -Eq "re-wrapped [4-9] key" <<<"$OUT"
check_eq "the audit log has the rotation" "$(psql_t "SELECT count(*) FROM audit_log WHERE action = 'key.rotate'")" 1
kill -HUP "$DAEMON_PID"
reloaded() { post_in acme after-rotate chat_transcript "after the rotation"; [ "$STATUS" = 201 ]; }
check "after a reload the daemon writes under the new key" wait_for 10 reloaded
req GET /v1/conversations/chat-1?tenant=acme "$ADMIN_TOKEN"
check_eq "and reads what was written under the old one" "$(jget '.messages | length')" 1
OUT=$(rd key rotate --new-key "$T/new.key" 2>&1)
check "a second rotation to the same key finds nothing to do" bash -c "printf '%s' \"\$1\" | grep -Eq 're-wrapped 0 key|the current key'" _ "$OUT"

# ---- tenant closure: schedule, list, cancel -------------------------------------
OUT=$(rd tenant close globex --after 1h 2>&1)
check "tenant close schedules on postgresql" grep -q "^tenant globex: closure scheduled, due 20" <<<"$OUT"
check_eq "the row is in tenant_closures" "$(psql_t "SELECT state || ' ' || actor FROM tenant_closures WHERE tenant = 'globex'")" "pending cli"
LIST=$(rd tenant list --json)
check_eq "tenant list shows it" "$(jq -r '.tenants[] | select(.name=="globex") | "\(.records) \(.closure.state)"' <<<"$LIST")" "1 pending"
check_eq "tenant cancel removes it" "$(rd tenant cancel globex)" "tenant globex: closure cancelled"
check_eq "no closure row left" "$(psql_t "SELECT count(*) FROM tenant_closures")" 0
req POST /v1/tenants/globex/close "$ADMIN_TOKEN" '{"after":"1h"}'
check_eq "the admin API schedules (202)" "$STATUS" 202
req DELETE /v1/tenants/globex/close "$ADMIN_TOKEN"
check_eq "and cancels" "$STATUS $(jget .closure)" "200 cancelled"

# ---- purge, shredding, a closure's end -------------------------------------------
OUT=$(rd stats --json 2>/dev/null)   # it counts holds too
check_eq "stats counts acme's lead records" "$(jq -r '.tenants.acme.categories.lead.records' <<<"$OUT")" 2
check_eq "stats counts entities per tenant" "$(jq -r '.tenants.acme.entities.EMAIL' <<<"$OUT")" 2
check_eq "stats sees the other tenant" "$(jq -r '.tenants.globex.categories.chat_transcript.records' <<<"$OUT")" 1

live_keys() { psql_t "SELECT count(*) FROM data_keys WHERE tenant = '$1' AND category = 'lead' AND period = '$2' AND wrapped IS NOT NULL"; }
check_eq "January 2020's key of acme/lead is live" "$(live_keys acme 2020-01)" 1
# A legal hold on an expired conversation of another month: the purge
# asks about every record, and this one stays.
post_in acme lead-held lead "held: mail lee@example.net" 2020-02-03T04:05:06Z
req POST /v1/holds "$ADMIN_TOKEN" '{"tenant":"acme","conversation_id":"lead-held","reason":"litigation"}'
check_eq "a legal hold on an expired February 2020 conversation" "$STATUS" 201
post_in acme lead-2 lead "not held, same month" 2020-02-04T04:05:06Z
# The file of the partition of (category, month): a TRUNCATE gives it a new one.
part_file() { psql_t "SELECT relfilenode FROM pg_class WHERE relname = 'messages_p$2_c' || (SELECT id FROM message_categories WHERE category = '$1')"; }
check_eq "a partition for each (category, month): lead and archive of January 2020, lead of February, chat_transcript of now" \
	"$(psql_t "SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass")" 4
LEAD_JAN=$(part_file lead 202001); ARCH_JAN=$(part_file archive 202001); LEAD_FEB=$(part_file lead 202002)
OUT=$(rd sweep 2>&1); RC=$?
check_eq "redactd sweep once the lock is free: exit 0" "$RC" 0
check "January 2020 of lead held only expired acme rows: its partition was emptied whole (TRUNCATE: a new file)" \
	test "$(part_file lead 202001)" != "$LEAD_JAN"
check_eq "January 2020 of archive was not touched" "$(part_file archive 202001)" "$ARCH_JAN"
check_eq "February 2020 of lead, with a held conversation, went by batches (no TRUNCATE)" "$(part_file lead 202002)" "$LEAD_FEB"
check "it purged the three expired records" grep -q "purged 3 record" <<<"$OUT"
req GET /v1/conversations/arch-1?tenant=acme "$ADMIN_TOKEN"
check_eq "the other category of the same month stays readable" "$STATUS $(jget '.messages | length')" "200 1"
req GET /v1/conversations/lead-2?tenant=acme "$ADMIN_TOKEN"
check_eq "the unheld one of February is gone" "$STATUS" 404
req GET /v1/conversations/lead-1?tenant=acme "$ADMIN_TOKEN"
check_eq "the expired conversation is gone" "$STATUS" 404
req GET /v1/conversations/chat-1?tenant=acme "$ADMIN_TOKEN"
check_eq "the kept category stays" "$STATUS" 200
req GET /v1/conversations/lead-held?tenant=acme "$ADMIN_TOKEN"
check_eq "the held conversation survives the sweep" "$STATUS $(jget '.messages | length')" "200 1"
check_eq "the purge is audited per (tenant, category)" \
	"$(psql_t "SELECT target || ' ' || count FROM audit_log WHERE action = 'purge'")" "tenant:acme category:lead 3"
check_eq "the ended month's unused key is destroyed" "$(live_keys acme 2020-01)" 0
check_eq "no pending count is left" "$(psql_t "SELECT count(*) FROM retention_pending")" 0

# A closure due now: the daemon's own sweeper (restarted with a 1 s
# interval) finishes it.
daemon_stop
conf_set sweep_interval 1s
daemon_start || { finish; exit 1; }
rd tenant close globex --after 1s >/dev/null 2>&1
done_() { req GET /v1/tenants "$ADMIN_TOKEN"; [ "$(jget '.tenants[] | select(.name=="globex") | .closure.state')" = done ]; }
check "the sweeper erases globex and the closure is done" wait_for 20 done_
check_eq "no globex record is left" "$(psql_t "SELECT count(*) FROM messages WHERE tenant = 'globex'")" 0
check_eq "every globex key is destroyed" "$(psql_t "SELECT count(*) FROM data_keys WHERE tenant = 'globex' AND wrapped IS NOT NULL")" 0
check "acme keeps its keys" test "$(psql_t "SELECT count(*) FROM data_keys WHERE tenant = 'acme' AND wrapped IS NOT NULL")" -ge 1
check_eq "the closure's steps are audited" \
	"$(psql_t "SELECT string_agg(DISTINCT action, ' ' ORDER BY action) FROM audit_log WHERE target LIKE 'tenant:globex%'")" \
	"purge tenant.close tenant.close.cancel tenant.close.done tenant.close.erase tenant.shred"

check "the audit chain verifies" rd audit verify
# (The conversation ids as words: the cluster's directory is .../redactd-pg-NNNN.)
check "no identifiers in the log" bash -c "! grep -aqiE 'example\.net|(^|[^a-z0-9-])(lead-1|chat-1|g-1)([^0-9]|$)' '$T/daemon.log'"
finish
