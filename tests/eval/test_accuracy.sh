#!/usr/bin/env bash
# The accuracy targets of the redaction engine as a regression test: the
# labelled corpus (tests/eval/corpus.tsv) scored by tests/eval/eval.c, one
# check per entity and form (recall, negatives kept). No npm peers and no
# ../shared/data here: `make eval` adds those.
. "$(dirname "$0")/../e2e/lib.sh"
PKGS="libpcre2-8 libsodium jansson"
# shellcheck disable=SC2046
cc -std=c17 -D_GNU_SOURCE -O2 -Iinclude $(pkg-config --cflags $PKGS) -o "$T/eval" \
	tests/eval/eval.c src/redact*.c src/phone_region.c src/util.c src/log.c src/common.c \
	$(pkg-config --libs $PKGS) -lpthread 2>"$T/cc.log"
check "eval driver builds" test -x "$T/eval"
"$T/eval" tests/eval/corpus.tsv > "$T/eval.out" 2>&1
RC=$?
check_eq "no target missed on the corpus (eval exit status)" "$RC" 0
# entity/form  pos recall neg kept
while read -r form pos recall neg kept _; do
	# issue 14: names and addresses have their own floors
	case "$form" in
	PERSON/written|ADDRESS/written) min_r=0.90; min_k=0.99 ;;
	PERSON/spoken|ADDRESS/spoken) min_r=0.85; min_k=0.99 ;;
	*/written) min_r=0.98; min_k=0.98 ;;
	*/spoken) min_r=0.90; min_k=0.95 ;;
	*) continue ;;
	esac
	check "$form recall $recall >= $min_r ($pos cases)" awk -v v="$recall" -v m="$min_r" 'BEGIN { exit !(v >= m) }'
	[ "$kept" = "-" ] || check "$form negatives kept $kept >= $min_k ($neg cases)" \
		awk -v v="$kept" -v m="$min_k" 'BEGIN { exit !(v >= m) }'
done < <(grep -E '^[A-Z_]+/(written|spoken) ' "$T/eval.out")
check "the corpus has at least 400 positives" bash -c "awk '/^[A-Z_]+\/(written|spoken) / {p += \$2} END {exit !(p >= 400)}' '$T/eval.out'"
check "the corpus has at least 200 negatives" bash -c "awk '/^[A-Z_]+\/(written|spoken) / {n += \$4} END {exit !(n >= 200)}' '$T/eval.out'"
count() { awk -v f="$1" -v c="$2" '$1 ~ f {n += $c} END {print n + 0}' "$T/eval.out"; }
check "at least 1,000 names in the corpus ($(count '^PERSON/' 2))" test "$(count '^PERSON/' 2)" -ge 1000
check "at least 500 addresses in the corpus ($(count '^ADDRESS/' 2))" test "$(count '^ADDRESS/' 2)" -ge 500
check "at least 5,000 ordinary words that must survive ($(count '^(PERSON|ADDRESS)/' 4))" \
	test "$(count '^(PERSON|ADDRESS)/' 4)" -ge 5000
finish
