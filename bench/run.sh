#!/usr/bin/env bash
# `make bench`: every benchmark; figures are recorded in BENCHMARKS.md.
set -u
BUILD=${1:-build}
for b in bench/redact.sh bench/cli.sh bench/store.sh bench/ingest.sh bench/reads.sh bench/erase.sh bench/pg.sh; do
	[ -f "$b" ] || continue
	echo "== $b"
	bash "$b" "$BUILD" || echo "$b failed"
done
