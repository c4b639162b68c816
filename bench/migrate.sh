#!/usr/bin/env bash
# `redactd migrate` speed (issue 19): ingests N thousand messages (default
# 100: 100,000 messages, two identifiers each, 100 conversations per
# thousand) into a SQLite store through the real daemon, then times the
# copy into a throwaway PostgreSQL cluster (tests/pg_cluster.sh) and prints
# the elapsed time and peak RSS of `redactd migrate`.
# Usage: bench/migrate.sh [BUILD_DIR] [THOUSANDS] [BATCH]
set -u
BUILD=${1:-build}; THOUSANDS=${2:-100}; BATCH=${3:-1000}
NAME=mig; . bench/pg_bulk.sh
daemon_start || exit 1
bulk_ingest "$THOUSANDS"
daemon_stop
echo "source: $(db_count) messages, $(sqlite3 "$T/redactd.db" 'SELECT count(*) FROM subjects') subject links, $(stat -c %s "$T/redactd.db") bytes"
pg_config
/usr/bin/time -f "migrate --batch $BATCH: %e s elapsed, %U s user, %M KB peak RSS" \
	"$BIN" migrate --from "sqlite:$T/redactd.db" --batch "$BATCH" -c "$T/redactd.conf" 2>&1 | grep -E "elapsed|messages +|subjects +"
pg_teardown
rm -rf "$T"
