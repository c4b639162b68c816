#!/usr/bin/env bash
# Bad input changes nothing: each gets its 4xx error object, nothing is
# stored, and the daemon keeps serving. Scopes: 401 and 403.
. "$(dirname "$0")/lib.sh"
MAX_BODY=8k daemon_start || { finish; exit 1; }

GOOD='{"conversation_id":"c1","text":"hello"}'
expect() {  # expect NAME WANT_STATUS WANT_CODE
	check_eq "$1: status" "$STATUS" "$2"
	[ -n "${3:-}" ] && check_eq "$1: error code" "$(jget '.error.code')" "$3"
	check_eq "$1: stores nothing" "$(db_count)" 0
}

req POST /v1/messages "" "$GOOD";                  expect "no token" 401 unauthorized
check "401 carries WWW-Authenticate" grep -qi '^WWW-Authenticate: Bearer' "$T/headers"
req POST /v1/messages "wrong-token" "$GOOD";       expect "unknown token" 401 unauthorized
req POST /v1/messages "$READ_TOKEN" "$GOOD";       expect "read token cannot ingest" 403 forbidden
req GET /v1/conversations/c1 "$INGEST_TOKEN";     check_eq "ingest token cannot read" "$STATUS" 403
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id": "c1", "text": '; expect "truncated JSON" 400 invalid_json
req POST /v1/messages "$INGEST_TOKEN" 'not json';  expect "not JSON" 400 invalid_json
req POST /v1/messages "$INGEST_TOKEN" "" -H 'Content-Type: application/json' --data-binary ''
expect "empty body" 400 invalid_json
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":42}'; expect "text not a string" 422 invalid_field
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1"}';           expect "text missing" 422 missing_field
req POST /v1/messages "$INGEST_TOKEN" '{"text":"hi"}';                     expect "conversation_id missing" 422 missing_field
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"hi","role":"boss"}'; expect "bad role" 422 invalid_field
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"hi","channel":"fax"}'; expect "bad channel" 422 invalid_field
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"hi","ts":"yesterday"}'; expect "bad ts" 422 invalid_field
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"hi","metadata":{"a":{"b":1}}}'; expect "nested metadata" 422 invalid_field
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"hi","colour":"red"}'; expect "unknown field" 422 unknown_field
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"hi","category":"nope"}'; expect "unknown category" 422 invalid_field
req POST /v1/messages "$INGEST_TOKEN" '[1,2]';       expect "array of non-objects" 422 invalid_field
printf '{"conversation_id":"c1","text":"caf\xc3\x28"}' > "$T/bad-utf8.json"
req POST /v1/messages "$INGEST_TOKEN" "" --data-binary "@$T/bad-utf8.json" -H 'Content-Type: application/json'
expect "invalid UTF-8" 400 invalid_utf8
for bad in '\xc0\xaf' '\xed\xa0\x80' '\xf4\x90\x80\x80' '\xe2\x82'; do  # overlong, surrogate, > U+10FFFF, cut
	printf '{"conversation_id":"c1","text":"a'"$bad"'b"}' > "$T/bad-utf8.json"
	req POST /v1/messages "$INGEST_TOKEN" "" --data-binary "@$T/bad-utf8.json" -H 'Content-Type: application/json'
	expect "invalid UTF-8 ($bad)" 400 invalid_utf8
done
DEEP=$(printf '{"conversation_id":"c1","text":"x","metadata":%.0s' ; for i in $(seq 1 40); do printf '['; done; for i in $(seq 1 40); do printf ']'; done; printf '}')
req POST /v1/messages "$INGEST_TOKEN" "$DEEP";       expect "deep nesting" 400 too_deep
# Past jansson's own limit (2,048 levels) it stops parsing: still too_deep.
python3 -c 'import sys; sys.stdout.write("{\"conversation_id\":\"c1\",\"text\":\"x\",\"metadata\":" + "[" * 3000 + "]" * 3000 + "}")' > "$T/deeper.json"
req POST /v1/messages "$INGEST_TOKEN" "" --data-binary "@$T/deeper.json" -H 'Content-Type: application/json'
expect "nesting past jansson's 2,048 levels" 400 too_deep
head -c 20000 /dev/zero | tr '\0' 'a' > "$T/big.txt"
req POST /v1/messages "$INGEST_TOKEN" "" --data-binary "@$T/big.txt" -H 'Content-Type: application/json'
expect "body over max_body" 413 body_too_large
req POST /v1/messages "$INGEST_TOKEN" "" --data-binary "@$T/big.txt" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked'
expect "chunked body over max_body" 413 body_too_large
req POST /v1/messages "$INGEST_TOKEN" "" --data-binary "$GOOD" -H 'Content-Type: text/plain'
expect "wrong content type" 415 unsupported_media_type
req GET /v1/nothing-here "$INGEST_TOKEN";           expect "unknown route" 404 not_found
req DELETE /v1/messages "$INGEST_TOKEN";            expect "wrong method" 405 method_not_allowed
check "405 carries Allow" grep -qi '^Allow: POST' "$T/headers"

# A batch with one bad message stores none of it.
req POST /v1/messages "$INGEST_TOKEN" '{"messages":[{"conversation_id":"c1","text":"fine"},{"conversation_id":"c1","text":7}]}'
expect "batch with one bad message" 422 invalid_field
check "batch error names the message" bash -c "jq -r .error.message '$T/resp' | grep -q 'messages\[1\]'"
req POST /v1/messages "$INGEST_TOKEN" '{"messages":[]}'; expect "empty batch" 422 invalid_body

# Errors never echo the client's data.
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"hi","role":"alice@example.com"}'
check "error message does not echo input" bash -c "! grep -q 'alice@example.com' '$T/resp'"
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id": carol.secret@example.com}'
check_eq "bare word in JSON is invalid_json" "$(jget '.error.code')" invalid_json
check "JSON syntax error does not echo input" bash -c "! grep -q 'carol' '$T/resp'"

# Nothing the client sends reaches the log: not a made-up method, not a path.
curl -s -o /dev/null -X 'MAILTO-bob.secret@example.com' "$BASE/v1/messages"
curl -s -o /dev/null -H "Authorization: Bearer $READ_TOKEN" "$BASE/v1/conversations/%2B447700900555"
sleep 0.2
check "made-up method not logged" bash -c "! grep -q 'bob.secret' '$T/daemon.log'"
check "conversation id in a path not logged" bash -c "! grep -q '447700900555' '$T/daemon.log'"

# Still serving, and a good request still works.
req POST /v1/messages "$INGEST_TOKEN" "$GOOD"
check_eq "daemon still serves after bad input" "$STATUS" 201
check_eq "exactly one record stored" "$(db_count)" 1

# Clients killed while their requests wait on the group commit (their
# sockets reset): the daemon answers the others and still stops at once on
# SIGTERM. It used to wait its full 10 s drain for such connections, which
# MHD ends without calling the handler again. batch_wait holds each commit
# 100 ms, so each client is gone before its commit.
daemon_stop
printf '[storage]\nbatch_wait = 100ms\n' >> "$T/redactd.conf"
daemon_start || { finish; exit 1; }
for _ in 1 2 3 4; do
	curl -s -o /dev/null -H "Authorization: Bearer $INGEST_TOKEN" \
		-H 'Content-Type: application/json' --data-binary "$GOOD" "$BASE/v1/messages" &
	gone=$!
	sleep 0.03
	kill -9 "$gone"; wait "$gone" 2>/dev/null
done
sleep 0.3
req POST /v1/messages "$INGEST_TOKEN" "$GOOD"
check_eq "serves after a client gave up mid-commit" "$STATUS" 201
started=$(date +%s%N)
daemon_stop
stop_ms=$(( ($(date +%s%N) - started) / 1000000 ))
check_eq "drains and exits 0 after an abandoned request" "$DAEMON_RC" 0
check "SIGTERM after an abandoned request stops within 3 s (took ${stop_ms} ms)" test "$stop_ms" -lt 3000

# access_log = errors (the default): failed requests get their line, the
# others none; the setting takes effect on reload.
conf_set access_log errors
daemon_start || { finish; exit 1; }
mark=$(wc -l < "$T/daemon.log")
req POST /v1/messages "$INGEST_TOKEN" "$GOOD"
req POST /v1/messages "wrong-token" "$GOOD"
sleep 0.2
check "access_log=errors: a 201 gets no line" bash -c "! tail -n +$((mark + 1)) '$T/daemon.log' | grep -q 'http POST /v1/messages 201'"
check "access_log=errors: a 401 gets its line" bash -c "tail -n +$((mark + 1)) '$T/daemon.log' | grep -q 'http POST /v1/messages 401'"
conf_set access_log off
kill -HUP "$DAEMON_PID"; sleep 0.3
mark=$(wc -l < "$T/daemon.log")
req POST /v1/messages "wrong-token" "$GOOD"
sleep 0.2
check "access_log=off after SIGHUP: not even a 401" bash -c "! tail -n +$((mark + 1)) '$T/daemon.log' | grep -q 'http POST'"
finish
