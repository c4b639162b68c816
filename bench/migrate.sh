#!/usr/bin/env bash
# `redactd migrate` speed (issue 19): ingests N thousand messages (default
# 100: 100,000 messages, two identifiers each, 100 conversations per
# thousand) into a SQLite store through the real daemon, then times the
# copy into a throwaway PostgreSQL cluster (tests/pg_cluster.sh) and prints
# the elapsed time and peak RSS of `redactd migrate`.
# Usage: bench/migrate.sh [BUILD_DIR] [THOUSANDS] [BATCH]
set -u
BUILD=${1:-build}; THOUSANDS=${2:-100}; BATCH=${3:-1000}
export REDACTD_BIN="$PWD/$BUILD/redactd" MAX_BODY=1M   # requests of 1,000 messages
. tests/e2e/lib.sh
. tests/e2e/pg_lib.sh
PGDIR="${TMPDIR:-/tmp}/redactd-bench-mig-$$"
trap 'sh tests/pg_cluster.sh stop "$PGDIR" >/dev/null 2>&1' EXIT
REDACTD_TEST_PG_URL=$(sh tests/pg_cluster.sh start "$PGDIR") ||
	{ echo "migrate bench: no PostgreSQL server (install postgresql)"; exit 0; }
export REDACTD_TEST_PG_URL
pg_setup || exit 1
daemon_start || exit 1
for b in $(seq 1 "$THOUSANDS"); do
	body=$(jq -nc --arg b "$b" '{messages: [range(0; 1000) | {conversation_id: ("bulk-" + $b + "-" + (. % 100 | tostring)),
		text: ("write to jane\(.)@example.com or call +44 7700 900\(. % 1000 + 100) line \(.)")}]}')
	req POST /v1/messages "$INGEST_TOKEN" "$body"
	[ "$STATUS" = 201 ] || { echo "ingest failed: $STATUS"; exit 1; }
done
daemon_stop
echo "source: $(db_count) messages, $(sqlite3 "$T/redactd.db" 'SELECT count(*) FROM subjects') subject links, $(stat -c %s "$T/redactd.db") bytes"
pg_config
/usr/bin/time -f "migrate --batch $BATCH: %e s elapsed, %U s user, %M KB peak RSS" \
	"$BIN" migrate --from "sqlite:$T/redactd.db" --batch "$BATCH" -c "$T/redactd.conf" 2>&1 | grep -E "elapsed|messages +|subjects +"
pg_teardown
rm -rf "$T"
