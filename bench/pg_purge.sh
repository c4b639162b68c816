#!/bin/sh
# A whole (category, month) purge against the batch path on PostgreSQL
# (bench/pg_purge.c), on a throwaway cluster of its own:
#   sh bench/pg_purge.sh [N]      (N records purged each way; 200000)
set -eu
n=${1:-200000}
dir="${TMPDIR:-/tmp}/redactd-pgbench-$$"
make -s build/libredactd.a
cc -std=c17 -D_GNU_SOURCE -O2 -Iinclude -Itests/unit $(pkg-config --cflags libpq) \
	-o build/pg_purge bench/pg_purge.c build/libredactd.a \
	-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=free \
	$(pkg-config --libs libpcre2-8 sqlite3 libsodium libmicrohttpd jansson inih gnutls libsystemd expat libpq) \
	-lnettle -lpthread -lm
url=$(sh tests/pg_cluster.sh start "$dir")
trap 'sh tests/pg_cluster.sh stop "$dir"' EXIT
REDACTD_TEST_PG_URL=$url build/pg_purge "$n" 2>/dev/null
