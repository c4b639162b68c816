#!/bin/sh
# `make eval`: accuracy of the redaction engine on tests/eval/corpus.tsv,
# beside the npm redactors (redact-pii, @redactpii/node) scored by the same
# rule, plus openredaction (names and addresses too) and the public reference
# sets in ../shared/data when present.
# Usage: sh tests/eval/run.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
OUT=$BUILD/eval
PKGS="libpcre2-8 libsodium jansson"
mkdir -p "$OUT"

cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
   -Wmissing-prototypes -Wformat=2 -Wvla -Iinclude $(pkg-config --cflags $PKGS) \
   -o "$OUT/eval" tests/eval/eval.c src/redact*.c src/phone_region.c src/util.c src/log.c src/common.c \
   $(pkg-config --libs $PKGS) -lpthread || exit 1

# The npm peers live in bench/node_modules (git-ignored), shared with
# bench/redact.sh; installed on first use, skipped without npm or network.
PEERS=""
NM=bench/node_modules
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	if [ ! -d "$NM/redact-pii" ] || [ ! -d "$NM/@redactpii/node" ] || [ ! -d "$NM/openredaction" ]; then
		echo "installing npm peers into $NM ..."
		npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix bench \
		    redact-pii @redactpii/node openredaction >/dev/null 2>&1 || echo "npm install failed (offline?): peers skipped"
	fi
	if [ -d "$NM/redact-pii" ] || [ -d "$NM/@redactpii/node" ] || [ -d "$NM/openredaction" ]; then
		node tests/eval/peers.mjs tests/eval/corpus.tsv "$NM" > "$OUT/peers.tsv" && PEERS="-p $OUT/peers.tsv"
	fi
else
	echo "node/npm not found: npm peers skipped"
fi

DATA=""
[ -d ../shared/data ] && DATA="-d ../shared/data"

# shellcheck disable=SC2086
"$OUT/eval" $DATA $PEERS ${EVAL_VERBOSE:+-v} tests/eval/corpus.tsv
RC=$?

# Issue 15: labelled public sets nobody on the project wrote (chat text,
# speech-to-text calls, Presidio's recognizer cases), looked for in
# ../shared/data, ../shared/data/eval and $EVAL_EXTRA (see docs/redaction.md,
# "Evaluation", for where each comes from). Reported, never a failure.
python3 tests/eval/public_sets.py ../shared/data ../shared/data/eval ${EVAL_EXTRA:-} > "$OUT/public.tsv" 2>/dev/null
if [ "$(grep -vc '^#' "$OUT/public.tsv")" -gt 0 ]; then
	echo
	PPEERS=""
	if [ -n "$PEERS" ]; then
		node tests/eval/peers.mjs "$OUT/public.tsv" "$NM" > "$OUT/peers-public.tsv" && PPEERS="-p $OUT/peers-public.tsv"
	fi
	# shellcheck disable=SC2086
	"$OUT/eval" -P $PPEERS ${EVAL_VERBOSE:+-v} "$OUT/public.tsv"
fi
exit $RC
