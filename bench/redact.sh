#!/bin/sh
# Redaction throughput: redactd's engine, one thread, every default rule, on
# a generated 20 MB chat corpus, beside the fastest npm redactor timed on the
# same bytes in the same run. Usage: sh bench/redact.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
OUT=$BUILD/bench
PKGS="libpcre2-8 libsodium"
mkdir -p "$OUT"
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
   -Wmissing-prototypes -Wformat=2 -Wvla -Iinclude $(pkg-config --cflags $PKGS) \
   -o "$OUT/redact_bench" bench/redact_bench.c src/redact*.c src/phone_region.c src/util.c src/log.c src/common.c \
   $(pkg-config --libs $PKGS) -lpthread || exit 1

CORPUS=$OUT/chat-corpus.txt
line=$("$OUT/redact_bench" -s 20 -r 20 -o "$CORPUS") || exit 1
echo "$line"
ours=$(echo "$line" | sed -n 's/.* \([0-9.]*\) MB\/s$/\1/p')

NM=bench/node_modules
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "node/npm not found: npm peers skipped"
	exit 0
fi
if [ ! -d "$NM/redact-pii" ] || [ ! -d "$NM/@redactpii/node" ]; then
	echo "installing npm peers into $NM ..."
	npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix bench \
	    redact-pii @redactpii/node openredaction >/dev/null 2>&1 || { echo "npm install failed (offline?): peers skipped"; exit 0; }
fi
node bench/redact_peers.mjs "$CORPUS" "$NM" > "$OUT/peers.txt" || { echo "peer run failed"; exit 0; }
best_name=""; best=0
while IFS="	" read -r name mbs secs _; do
	echo "npm $name: $mbs MB/s ($secs s)"
	if awk "BEGIN{exit !($mbs > $best)}"; then best=$mbs; best_name=$name; fi
done < "$OUT/peers.txt"
[ -n "$best_name" ] && awk -v a="$ours" -v b="$best" -v n="$best_name" \
	'BEGIN{printf "redactd / fastest npm peer (%s): %.1fx\n", n, a / b}'
