#!/usr/bin/env bash
# Names that the gazetteers hold only since their real-world sources grew
# (tests/eval/names_sources.tsv: SSA tail, US Census 1990), in shapes where
# only the lists can find them: no cue in written text (a known given name
# before a surname), a weak cue in lowercase speech (which takes known names
# only). Common-word census surnames must survive as words.
. "$(dirname "$0")/../e2e/lib.sh"
TSV=tests/eval/names_sources.tsv
SUR=(Smith Johnson Miller Davis Garcia Wilson)    # census 1990 top surnames
GIV=(maria james linda robert)                     # SSA top given names
: >"$T/w.in"; : >"$T/w.val"; : >"$T/v.in"; : >"$T/v.val"; : >"$T/n.in"; : >"$T/nv.in"
i=0
while IFS=$'\t' read -r kind _ name _; do
	case "$kind" in \#*|"") continue ;; esac
	cap="$(tr '[:lower:]' '[:upper:]' <<<"${name:0:1}")${name:1}"
	s=${SUR[$((i % ${#SUR[@]}))]}; g=${GIV[$((i % ${#GIV[@]}))]}; i=$((i + 1))
	case "$kind" in
	given)
		echo "$cap $s here, my parcel is late again" >>"$T/w.in"; echo "$cap $s" >>"$T/w.val"
		echo "hi it's $name from the shop" >>"$T/v.in"; echo "$name" >>"$T/v.val" ;;
	surname)
		echo "this is $g $name speaking" >>"$T/v.in"; echo "$g $name" >>"$T/v.val" ;;
	word)
		echo "$cap was what we ordered, and $name is fine." >>"$T/n.in"
		echo "it's $name i think" >>"$T/nv.in" ;;
	esac
done <"$TSV"
score() {  # score IN VAL CHANNEL: prints "found total"
	"$BIN" redact --lines --channel "$3" <"$1" >"$T/out" 2>"$T/err" || { echo "0 -1"; return; }
	paste -d '\t' "$T/out" "$2" | awk -F'\t' '{ n++; if (index($1, $2) == 0) f++ } END { print f + 0, n + 0 }'
}
read -r wf wn < <(score "$T/w.in" "$T/w.val" web)
read -r vf vn < <(score "$T/v.in" "$T/v.val" voice)
echo "# written: $wf/$wn names gone; spoken: $vf/$vn"
check "source names, written, no cue: all $wn gone ($wf)" test "$wf" -eq "$wn"
check "source names, spoken after a weak cue: all $vn gone ($vf)" test "$vf" -eq "$vn"
"$BIN" redact --lines <"$T/n.in" >"$T/n.out"
check "common-word census surnames kept as words, written ($(wc -l <"$T/n.in") sentences)" cmp -s "$T/n.in" "$T/n.out"
"$BIN" redact --lines --channel voice <"$T/nv.in" >"$T/nv.out"
check "common-word census surnames kept as words, spoken after a weak cue ($(wc -l <"$T/nv.in"))" cmp -s "$T/nv.in" "$T/nv.out"
# places and brands that the SSA also registers as given names (Sony, Audi,
# Tokyo) are not taken from its tail: beside a capitalised word they stay
printf '%s\n' "I bought a Sony Bravia yesterday" "the Audi Quattro is broken" "we flew to Tokyo Narita" \
	"Cambridge Analytica did it" "I watched Disney Pixar" "my Nike Pegasus shoes" "we moved to Utah Valley" \
	"Chicago Tribune said" >"$T/b.in"
"$BIN" redact --lines <"$T/b.in" >"$T/b.out"
check "places and brands beside a capitalised word kept ($(wc -l <"$T/b.in") sentences)" cmp -s "$T/b.in" "$T/b.out"
[ -n "${NAMES_SOURCES_VERBOSE:-}" ] && { paste -d '|' "$T/w.in" <("$BIN" redact --lines <"$T/w.in"); diff "$T/n.in" "$T/n.out"; diff "$T/nv.in" "$T/nv.out"; }
finish
