#!/bin/sh
# Redaction throughput: redactd's engine, one thread, every default rule, on
# two generated 20 MB corpora, each beside the npm redactors timed on the
# same bytes in the same run:
#   chat   1-3 sentences a message (~120 bytes), one in four carrying
#          something (an identifier, or a date, price or time to keep)
#   dense  one short line a message (~60 bytes), one in three carrying an
#          identifier (issue 16): per-message and per-finding costs dominate
# Usage: sh bench/redact.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
OUT=$BUILD/bench
PKGS="libpcre2-8 libsodium"
mkdir -p "$OUT"
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
   -Wmissing-prototypes -Wformat=2 -Wvla -Iinclude $(pkg-config --cflags $PKGS) \
   -o "$OUT/redact_bench" bench/redact_bench.c src/redact*.c src/phone_region.c src/util.c src/log.c src/common.c \
   $(pkg-config --libs $PKGS) -lpthread || exit 1

NM=bench/node_modules
peers=yes
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "node/npm not found: npm peers skipped"
	peers=no
elif [ ! -d "$NM/redact-pii" ] || [ ! -d "$NM/@redactpii/node" ]; then
	echo "installing npm peers into $NM ..."
	npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix bench \
	    redact-pii @redactpii/node openredaction >/dev/null 2>&1 || { echo "npm install failed (offline?): peers skipped"; peers=no; }
fi

# profile: the engine's line, then each peer's, then the ratio to the fastest
for profile in chat dense; do
	CORPUS=$OUT/$profile-corpus.txt
	line=$("$OUT/redact_bench" -p $profile -s 20 -r 20 -o "$CORPUS") || exit 1
	echo "$line"
	ours=$(echo "$line" | sed -n 's/.* \([0-9.]*\) MB\/s$/\1/p')
	[ "$peers" = yes ] || continue
	node bench/redact_peers.mjs "$CORPUS" "$NM" > "$OUT/peers-$profile.txt" || { echo "peer run failed"; continue; }
	best_name=""; best=0
	while IFS="	" read -r name mbs secs _; do
		echo "npm $name ($profile): $mbs MB/s ($secs s)"
		if awk "BEGIN{exit !($mbs > $best)}"; then best=$mbs; best_name=$name; fi
	done < "$OUT/peers-$profile.txt"
	[ -n "$best_name" ] && awk -v a="$ours" -v b="$best" -v n="$best_name" -v p="$profile" \
		'BEGIN{printf "redactd / fastest npm peer (%s), %s corpus: %.1fx\n", n, p, a / b}'
done
