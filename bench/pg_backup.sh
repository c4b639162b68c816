#!/usr/bin/env bash
# `redactd backup` and `redactd restore` on PostgreSQL (issue 19): ingests
# N thousand messages (default 100: 100,000 messages, two identifiers
# each, 100 conversations per thousand) through the real daemon into a
# throwaway PostgreSQL cluster (tests/pg_cluster.sh), then times a
# key-less backup (the SQLite file it writes: its size) and its restore
# into a second, empty database, with elapsed time and peak RSS of each.
# Usage: bench/pg_backup.sh [BUILD_DIR] [THOUSANDS]
set -u
BUILD=${1:-build}; THOUSANDS=${2:-100}
NAME=pgb; . bench/pg_bulk.sh
pg_config
daemon_start || exit 1
bulk_ingest "$THOUSANDS"
daemon_stop
echo "source: $(psql_t "SELECT count(*) FROM messages") messages, $(psql_t "SELECT count(*) FROM subjects") subject links, $(psql_t "SELECT pg_database_size(current_database())") bytes (pg_database_size)"
/usr/bin/time -f "backup: %e s elapsed, %U s user, %M KB peak RSS" \
	"$BIN" backup "$T/bench.db" -c "$T/redactd.conf" 2>&1 | grep -E "elapsed|record"
echo "backup file: $(stat -c %s "$T/bench.db") bytes"
PG_DB2="${PG_DB}_r"
PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d redactd -qAt -c "CREATE DATABASE $PG_DB2" >/dev/null
/usr/bin/time -f "restore: %e s elapsed, %U s user, %M KB peak RSS" \
	"$BIN" restore "$T/bench.db" --to "postgresql://redactd@/$PG_DB2?host=$PG_HOST" -c "$T/redactd.conf" 2>&1 |
	grep -E "elapsed|restored"
PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d redactd -qAt -c "DROP DATABASE IF EXISTS $PG_DB2 WITH (FORCE)" >/dev/null
pg_teardown
rm -rf "$T"
