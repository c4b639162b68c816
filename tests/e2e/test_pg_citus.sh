#!/usr/bin/env bash
# End to end on Citus (issue 19), when REDACTD_CITUS_URL names a Citus
# coordinator's database given to this test alone (its public schema is
# emptied first; the URL may carry the password). The daemon opens it and
# distributes the schema (store_pg_citus.c): the per-tenant tables by
# tenant, co-located with messages; the system tables as reference tables.
# Then ingest of two tenants, a read, a subject erasure, a whole
# (category, month) purge and `audit verify`, against the distributed
# tables. Without REDACTD_CITUS_URL it says it was skipped and counts
# nothing (Citus is not packaged for Debian 12).
. "$(dirname "$0")/lib.sh"
if [ -z "${REDACTD_CITUS_URL:-}" ]; then
	echo "# skipped: REDACTD_CITUS_URL not set (a Citus coordinator's database for this test)"
	finish
	exit 0
fi
csql() { psql "$REDACTD_CITUS_URL" -qAt -c "$1"; }
csql "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public" >/dev/null
write_config
sed -i "s|^key_file = .*|&\nbackend = postgresql\nurl = $REDACTD_CITUS_URL|" "$T/redactd.conf"
daemon_start || { finish; exit 1; }

check "the daemon says the store is distributed" grep -q "distributed by citus" "$T/daemon.log"
check_eq "messages is distributed by tenant" \
	"$(csql "SELECT column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition WHERE logicalrelid = 'messages'::regclass")" tenant
check_eq "the audit log by chain" \
	"$(csql "SELECT column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition WHERE logicalrelid = 'audit_log'::regclass")" chain
check_eq "subjects, holds and data keys co-located with messages" \
	"$(csql "SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE logicalrelid IN ('messages'::regclass, 'subjects'::regclass, 'holds'::regclass, 'data_keys'::regclass)")" 1
check_eq "redactd_schema is a reference table" \
	"$(csql "SELECT partmethod FROM pg_dist_partition WHERE logicalrelid = 'redactd_schema'::regclass")" n

post_in acme c-1 chat_transcript "hello, rosa.citus@example.org here"
check_eq "ingest on citus: 201" "$STATUS" 201
post_in acme c-1 chat_transcript "second turn"
post_in globex g-1 chat_transcript "another tenant"
post_in acme old-1 lead "expired lead" 2020-01-02T03:04:05Z
check_eq "a record of 2020: 201" "$STATUS" 201
req GET /v1/conversations/c-1?tenant=acme "$ADMIN_TOKEN"
check_eq "read back: two messages" "$STATUS $(jget '.messages | length')" "200 2"
check "a partition of the distributed messages per (category, month)" \
	test "$(csql "SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass")" -ge 2

req DELETE "/v1/subjects?tenant=acme&email=$(printf '%s' rosa.citus@example.org | jq -sRr @uri)" "$ADMIN_TOKEN"
check_eq "erasure of a subject: 200, its conversation's two records" "$STATUS $(jget '.removed')" "200 2"
req GET /v1/conversations/c-1?tenant=acme "$ADMIN_TOKEN"
check_eq "the conversation is gone" "$STATUS" 404
req GET /v1/conversations/g-1?tenant=globex "$ADMIN_TOKEN"
check_eq "the other tenant's stays" "$STATUS" 200

OUT=$(rd sweep 2>&1)
check "the sweep purges the expired lead (a whole (category, month))" grep -q "purged 1 record" <<<"$OUT"
check_eq "no lead record left" "$(csql "SELECT count(*) FROM messages WHERE category = 'lead'")" 0
check "the audit chains verify" rd audit verify
finish
