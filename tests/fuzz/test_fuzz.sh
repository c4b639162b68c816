#!/usr/bin/env bash
# A short pass of every libFuzzer harness (fuzz/run.sh, FUZZ_SECONDS each,
# 5 by default here; `make fuzz` runs 60): replays fuzz/crashers/ and the
# seed corpora, then fuzzes. One check per harness.
cd "$(dirname "$0")/../.."
PASSED=0; FAILED=0
if ! command -v clang >/dev/null; then
	echo "not ok - clang is missing (make deps installs it)"; echo "# passed=0 failed=1"; exit 1
fi
LOG=$(mktemp)
FUZZ_SECONDS=${FUZZ_SECONDS:-5} sh fuzz/run.sh >"$LOG" 2>&1
for h in fuzz/fuzz_*.c; do
	name=$(basename "$h" .c)
	if grep -q "^== $name (" "$LOG" && ! grep -q "^== $name.*\(FAILED\|still fails\)" "$LOG"; then
		PASSED=$((PASSED + 1)); echo "ok - $name: short fuzz pass and crasher replay clean"
	else
		FAILED=$((FAILED + 1)); echo "not ok - $name"; grep -A5 "^== $name" "$LOG"
	fi
done
rm -f "$LOG"
echo "# passed=$PASSED failed=$FAILED"
[ "$FAILED" -eq 0 ]
