# Shared by bench/migrate.sh and bench/pg_backup.sh (sourced, not run):
# the e2e helpers, a throwaway PostgreSQL cluster (tests/pg_cluster.sh)
# stopped on exit, and bulk ingest through the real daemon.
# Before sourcing: BUILD, NAME (the cluster directory's tag).
export REDACTD_BIN="$PWD/$BUILD/redactd" MAX_BODY=1M   # requests of 1,000 messages
. tests/e2e/lib.sh
. tests/e2e/pg_lib.sh
PGDIR="${TMPDIR:-/tmp}/redactd-bench-$NAME-$$"
trap 'sh tests/pg_cluster.sh stop "$PGDIR" >/dev/null 2>&1' EXIT
REDACTD_TEST_PG_URL=$(sh tests/pg_cluster.sh start "$PGDIR") ||
	{ echo "$NAME bench: no PostgreSQL server (install postgresql)"; exit 0; }
export REDACTD_TEST_PG_URL
pg_setup || exit 1

# THOUSANDS requests of 1,000 messages (two identifiers each, 100
# conversations a request) to the running daemon; exits on a failure.
bulk_ingest() {
	for b in $(seq 1 "$1"); do
		body=$(jq -nc --arg b "$b" '{messages: [range(0; 1000) | {conversation_id: ("bulk-" + $b + "-" + (. % 100 | tostring)),
			text: ("write to jane\(.)@example.com or call +44 7700 900\(. % 1000 + 100) line \(.)")}]}')
		req POST /v1/messages "$INGEST_TOKEN" "$body"
		[ "$STATUS" = 201 ] || { echo "ingest failed: $STATUS"; exit 1; }
	done
}
