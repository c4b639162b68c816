#!/usr/bin/env bash
# A transcript in pages (GET /v1/conversations/{id}?limit=N&after=ID): each
# page holds at most N messages in order and, when more follow, "next" (the
# last one's id) for the next page's `after`; the pages together are the
# whole transcript, each read audited with its own count. Bad or
# inconsistent paging parameters get 400, an `after` that is not a message
# of the conversation 404. A whole transcript over 8 MB is refused with
# 422 reply_too_large instead of being built in memory, and the same
# conversation still reads in pages.
. "$(dirname "$0")/lib.sh"
write_config
daemon_start || { finish; exit 1; }
rd() { "$BIN" "$@" -c "$T/redactd.conf"; }

batch() {  # batch CONV FROM TO [FILLER]: turns FROM..TO in one request
	local conv=$1 from=$2 to=$3 fill=${4:-}
	seq "$from" "$to" | jq -R --arg c "$conv" --arg f "$fill" \
		'{conversation_id: $c, text: ("turn " + . + $f)}' | jq -s '{messages: .}' > "$T/batch.json"
	req POST /v1/messages "$INGEST_TOKEN" "@$T/batch.json"
	[ "$STATUS" = 201 ] || echo "# ingest failed: $STATUS $(head -c 300 "$T/resp")"
}
batch c-pages 1 25
req GET /v1/conversations/c-pages "$READ_TOKEN"
check_eq "the whole transcript: 25 turns, no next" "$(jget '[(.messages | length), has("next")] | @tsv')" "25	false"
ALL=$(jget '[.messages[].id] | join(",")')

req GET "/v1/conversations/c-pages?limit=10" "$READ_TOKEN"
check_eq "page 1: 10 turns" "$(jget '.messages | length')" 10
check_eq "... in order from the first" "$(jget '.messages[0].text + "|" + .messages[9].text')" "turn 1|turn 10"
NEXT=$(jget '.next')
check_eq "... next is its last message's id" "$NEXT" "$(jget '.messages[9].id')"
IDS=$(jget '[.messages[].id] | join(",")')
req GET "/v1/conversations/c-pages?limit=10&after=$NEXT" "$READ_TOKEN"
check_eq "page 2: turns 11 to 20" "$(jget '.messages[0].text + "|" + .messages[9].text')" "turn 11|turn 20"
IDS="$IDS,$(jget '[.messages[].id] | join(",")')"
NEXT=$(jget '.next')
req GET "/v1/conversations/c-pages?limit=10&after=$NEXT" "$READ_TOKEN"
check_eq "page 3: the last 5 turns, no next" "$(jget '[(.messages | length), has("next")] | @tsv')" "5	false"
IDS="$IDS,$(jget '[.messages[].id] | join(",")')"
check_eq "the pages together are the whole transcript" "$IDS" "$ALL"
req GET "/v1/conversations/c-pages?limit=5&after=$(jget '.messages[4].id')" "$READ_TOKEN"
check_eq "after the last message: an empty page, 200" "$STATUS:$(jget '[(.messages | length), has("next")] | @tsv')" "200:0	false"
req GET "/v1/conversations/c-pages?limit=25" "$READ_TOKEN"
check_eq "a limit of exactly all: no next" "$(jget '[(.messages | length), has("next")] | @tsv')" "25	false"

for q in "limit=0" "limit=-1" "limit=%2B5" "limit=%205" "limit=abc" "limit=100001" "limit=" "after=$NEXT" "limit=5&after=x" \
	"limit=5&after=m_ABCDEF0123456789abcdef01"; do
	req GET "/v1/conversations/c-pages?$q" "$READ_TOKEN"
	check_eq "?$q: 400 invalid_query" "$STATUS:$(jget '.error.code // .code')" "400:invalid_query"
done
req GET "/v1/conversations/c-pages?limit=5&after=m_000000000000000000000000" "$READ_TOKEN"
check_eq "an after that is not one of its messages: 404" "$STATUS" 404
check "... saying so" bash -c "grep -q 'no message m_000000000000000000000000 in this conversation' '$T/resp'"

READS=$(rd audit list 2>/dev/null | jq -s -c '[.[] | select(.action == "read") | .count]')
check_eq "each read audited with its own count (the empty page is not a read)" "$READS" "[25,10,10,5,25]"

# Over 16 MB: 13,000 turns of ~1.3 KB, 40 a request (max_body is 64 KB here).
FILL=$(printf ' %.0s' $(seq 1 10); printf 'Thanks, I would like to know when my parcel arrives. %.0s' $(seq 1 24))
for b in $(seq 0 324); do batch c-big $((b * 40 + 1)) $((b * 40 + 40)) "$FILL"; done
kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/$DAEMON_PID/status; }
# (Under `make asan` the sanitizer's shadow memory and quarantine make RSS
# meaningless: the bounds are checked on the normal build.)
rss_check() {  # LABEL GREW_KB LIMIT_KB
	if ldd "$BIN" | grep -q libasan; then
		echo "ok - $1 # skip AddressSanitizer build"; PASSED=$((PASSED + 1))
	else
		check "$1" test "$2" -lt "$3"
	fi
}
echo 5 > /proc/$DAEMON_PID/clear_refs   # VmHWM from here
RSS0=$(kb VmRSS)
req GET /v1/conversations/c-big "$READ_TOKEN"
check_eq "the whole of a 19 MB transcript: 422 reply_too_large" "$STATUS:$(jget '.error.code // .code')" "422:reply_too_large"
check "... saying how to read it" bash -c "grep -q 'read it in pages' '$T/resp'"
GREW=$(( $(kb VmHWM) - RSS0 ))
echo "# the refused read raised the daemon's peak RSS by $GREW KB"
rss_check "... without building it in memory (peak RSS up by less than 24 MB)" "$GREW" 24576
N=0; AFTER=""; PAGES=0
while :; do
	req GET "/v1/conversations/c-big?limit=13000${AFTER:+&after=$AFTER}" "$READ_TOKEN"
	[ "$STATUS" = 200 ] || { echo "# page: $STATUS"; break; }
	N=$((N + $(jget '.messages | length'))); PAGES=$((PAGES + 1))
	AFTER=$(jget '.next // empty'); [ -n "$AFTER" ] || break
done
check_eq "it reads in pages: all 13,000 turns" "$N" 13000
check_eq "... a page ends at 8 MB, before its 13,000 turns: 3 pages" "$PAGES" 3
GREW=$(( $(kb VmHWM) - RSS0 ))
echo "# the pages raised the daemon's peak RSS by $GREW KB"
rss_check "... each built in bounded memory (peak RSS up by less than 40 MB)" "$GREW" 40960
check "no message text in the daemon log" bash -c "! grep -q 'parcel arrives' '$T/daemon.log'"
daemon_stop
finish
