#!/bin/sh
# Runs every unit test binary and every end-to-end script; each prints
# "# passed=P failed=F" last. Ends with one line "N passed, N failed".
BUILD=${1:-build}
export REDACTD_BIN="$(pwd)/$BUILD/redactd"
total_p=0; total_f=0; broken=""
# One throwaway PostgreSQL cluster for the whole run (tests/pg_cluster.sh):
# the store's conformance tests and the postgresql e2e tests connect to it
# through REDACTD_TEST_PG_URL; it is stopped on every way out.
pgdir="${TMPDIR:-/tmp}/redactd-pg-$$"
pg_stop() { sh tests/pg_cluster.sh stop "$pgdir" >/dev/null 2>&1 || true; }
trap pg_stop EXIT
trap 'pg_stop; exit 130' INT TERM
if url=$(sh tests/pg_cluster.sh start "$pgdir"); then
	export REDACTD_TEST_PG_URL="$url" REDACTD_TEST_PG_DIR="$pgdir"
else
	echo "  could not start a PostgreSQL cluster: the postgresql tests fail"
fi
# Under make test a missing cluster is a failure, not a skip.
export REDACTD_TEST_PG_REQUIRED=1
run_suite() {  # name, command...
	name=$1; shift
	out=$("$@" 2>&1); rc=$?
	line=$(printf '%s\n' "$out" | grep '^# passed=' | tail -n 1)
	p=$(printf '%s' "$line" | sed -n 's/^# passed=\([0-9]*\) failed=\([0-9]*\).*/\1/p')
	f=$(printf '%s' "$line" | sed -n 's/^# passed=\([0-9]*\) failed=\([0-9]*\).*/\2/p')
	if [ -z "$p" ]; then p=0; f=1; broken="$broken $name"; fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; broken="$broken $name(exit $rc)"; fi
	printf '%s\n' "$out" | grep -E '^not ok' | sed "s|^|  [$name] |"
	[ -n "$VERBOSE" ] && printf '%s\n' "$out"
	printf '  %-28s passed=%s failed=%s\n' "$name" "$p" "$f"
	total_p=$((total_p + p)); total_f=$((total_f + f))
	if [ "$f" -ne 0 ]; then printf '%s\n' "$out" | tail -n 40 | sed "s|^|    $name> |"; fi
}
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	run_suite "unit/$(basename "$t")" "$t"
done
for t in tests/e2e/test_*.sh tests/eval/test_*.sh tests/fuzz/test_*.sh; do
	[ -f "$t" ] || continue
	run_suite "$(basename "$(dirname "$t")")/$(basename "$t" .sh)" bash "$t"
done
[ -n "$broken" ] && echo "suites that did not finish:$broken"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
