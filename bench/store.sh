#!/bin/sh
# Group-commit throughput of the store alone (no HTTP): N threads submit
# ~1 KB sealed records and wait for COMMIT, synchronous=FULL unless said.
# Usage: sh bench/store.sh [BUILD_DIR] [SECONDS]
# Compiles bench/store_bench.c itself; the database goes to a temp dir on
# the same file system as $TMPDIR (use one on the disk you deploy on).
set -e
BUILD=${1:-build}
SECS=${2:-5}
PKGS="libpcre2-8 sqlite3 libsodium libmicrohttpd jansson inih"
mkdir -p "$BUILD/bench"
bin="$BUILD/bench/store_bench"
cc -std=c17 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
   -Wmissing-prototypes -Wformat=2 -Wvla -Iinclude $(pkg-config --cflags $PKGS) \
   -o "$bin" bench/store_bench.c src/store*.c src/crypto.c \
   src/util.c src/log.c src/common.c $(pkg-config --libs $PKGS) -lpthread -lm
dir=$(mktemp -d "${TMPDIR:-/tmp}/redactd-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "# $(nproc) cores, $(uname -sr), sqlite $(pkg-config --modversion sqlite3), ${SECS}s per run"
run() {  # threads per_submit [normal]
	rm -f "$dir"/db*
	"$bin" "$dir/db" "$@" 2>/dev/null | sed 's/^/  /'
}
for t in 1 8 64; do run $t 1 "$SECS"; done
for t in 8 64; do run $t 10 "$SECS"; done
run 64 1 "$SECS" normal
