#!/usr/bin/env bash
# contrib/bash-completion/redactd completes every command `redactd --help`
# lists and every long option each command's --help shows.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/contrib/bash-completion/redactd"
complete_words() {  # complete_words WORD...: what _redactd offers for the last word
	COMP_WORDS=(redactd "$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
	COMPREPLY=(); _redactd; printf '%s\n' "${COMPREPLY[@]}"
}
COMMANDS=$("$BIN" --help | sed -n '/^commands:/,/^$/p' | awk 'NF && !/commands:/ {print $1}')
check "the command list is read from --help" test -n "$COMMANDS"
OFFERED=$(complete_words "")
for c in $COMMANDS; do
	check "command '$c' completes" grep -qx -- "$c" <<<"$OFFERED"
	OPTS=$(complete_words "$c" --)
	[ "$c" = hold ] || [ "$c" = restrict ] || [ "$c" = audit ] || [ "$c" = key ] || [ "$c" = token ] ||
		[ "$c" = tenant ] || check "'$c' completes --help" grep -qx -- --help <<<"$OPTS"
	SUB=""
	case $c in hold|restrict) SUB=add ;; audit) SUB=list ;; key) SUB=rotate ;; token) SUB=new ;; tenant) SUB=close ;; esac
	[ -n "$SUB" ] && OPTS=$(complete_words "$c" "$SUB" --)
	for o in $("$BIN" "$c" --help 2>&1 | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		[ "$o" = --help ] && continue
		check "'$c' completes $o" grep -qx -- "$o" <<<"$OPTS"
	done
done
check_eq "channels complete" "$(complete_words redact --channel v | tr '\n' ' ')" "voice "
finish
