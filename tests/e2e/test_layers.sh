#!/usr/bin/env bash
# The layering rules of issue 13 (tools/lint.py, `make lint`): the tree has
# no SQL, <sqlite3.h> or sqlite3 symbol outside src/store*, and no include
# cycle between modules. Then the check is shown to bite: each violation is
# planted in a copy of src/ and include/ and must be found, by file and
# line or by the modules of the cycle.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LINT=$ROOT/tools/lint.py

out=$(python3 "$LINT" "$ROOT" 2>&1); rc=$?
check_eq "the tree passes the layering lint" "$rc" 0
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/    /'

# plant NAME FILE SED-SCRIPT WANT: in a fresh copy, edit FILE with sed; the
# lint must fail and print a line matching the ERE WANT.
plant() {
	local name=$1 file=$2 script=$3 want=$4 copy=$T/copy
	rm -rf "$copy" && mkdir -p "$copy" && cp -r "$ROOT/src" "$ROOT/include" "$copy/"
	sed -i "$script" "$copy/$file"
	if cmp -s "$ROOT/$file" "$copy/$file"; then
		FAILED=$((FAILED + 1)); echo "not ok - $name (the plant changed nothing in $file)"; return
	fi
	local o r
	o=$(python3 "$LINT" "$copy" 2>&1); r=$?
	if [ "$r" -ne 0 ] && printf '%s\n' "$o" | grep -qE -- "$want"; then
		PASSED=$((PASSED + 1)); echo "ok - $name"
	else
		FAILED=$((FAILED + 1)); echo "not ok - $name (exit $r)"; printf '%s\n' "$o" | sed 's/^/    /'
	fi
}

# The first #include line of a file, for planting after it.
first_include() { grep -n '^#include' "$ROOT/$1" | head -n 1 | cut -d: -f1; }

n=$(first_include src/retention.c)
plant "<sqlite3.h> in retention.c is found" src/retention.c \
	"${n}a #include <sqlite3.h>" "^src/retention\\.c:$((n + 1)): includes <sqlite3\\.h>"
n=$(first_include src/holds.c)
plant "a sqlite3_ call in holds.c is found" src/holds.c \
	"\$a int holds_lint_probe(void *db);\nint holds_lint_probe(void *db) { return sqlite3_changes(db); }" \
	"^src/holds\\.c:[0-9]+: SQLite symbol 'sqlite3_changes'"
plant "struct sqlite3 in a public header is found" include/audit.h \
	"s|^struct store_tx;|struct store_tx;\nstruct sqlite3;|" "^include/audit\\.h:[0-9]+: SQLite symbol 'struct sqlite3'"
plant "SQL in a string in subject.c is found" src/subject.c \
	"\$a static const char lint_probe[] = \"DELETE FROM messages WHERE id = ?\";" \
	"^src/subject\\.c:[0-9]+: SQL in a string \\('DELETE FROM'\\)"
plant "SQL split over adjacent literals is found" src/audit.c \
	"\$a static const char lint_probe[] = \"CREATE \"\n\t\"TABLE x (y)\";" \
	"^src/audit\\.c:[0-9]+: SQL in a string \\('CREATE TABLE'\\)"
plant "an UPDATE .. SET in a header macro is found" include/holds.h \
	"s|^#define HOLDS_ID_LEN|#define HOLDS_LINT_PROBE \"UPDATE holds SET reason = ?\"\n#define HOLDS_ID_LEN|" \
	"^include/holds\\.h:[0-9]+: SQL in a string \\('UPDATE holds SET'\\)"

# Cycles: retention uses holds; holds using retention closes one. A header
# including another module's header closes one transitively: crypto.h is
# included by app.h, which holds.h includes.
n=$(first_include src/holds.c)
plant "a direct include cycle (holds <-> retention) is found" src/holds.c \
	"${n}a #include \"retention.h\"" "include cycle between modules .*holds.*retention"
n=$(first_include include/crypto.h)
plant "a transitive cycle through headers (crypto -> holds -> app -> crypto) is found" include/crypto.h \
	"${n}a #include \"holds.h\"" "include cycle between modules .*app.*crypto.*holds"
n=$(first_include src/retention.c)
plant "the old retention <-> subject cycle would be found" src/retention.c \
	"${n}a #include \"subject.h\"" "include cycle between modules .*retention.*subject"

# The store's own files may speak SQL and SQLite.
rm -rf "$T/copy" && mkdir -p "$T/copy" && cp -r "$ROOT/src" "$ROOT/include" "$T/copy/"
printf '%s\n' 'static const char lint_probe[] = "SELECT 1 FROM holds";' \
	'int lint_probe_len(sqlite3 *db); int lint_probe_len(sqlite3 *db) { return sqlite3_changes(db); }' \
	>> "$T/copy/src/store_holds.c"
check "SQL and sqlite3 calls in a store file are allowed" python3 "$LINT" "$T/copy"
finish
