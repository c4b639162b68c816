#!/usr/bin/env bash
# End to end: a daemon without forward_to never loads libcurl (and the
# ~4 MB of libraries it brings); the first forward after a reload that adds
# one starts the forward engine, and it works.
. "$(dirname "$0")/lib.sh"

TW_TOKEN=tw-auth-token-lazy-0123456789abcdef
META_SECRET=meta-app-secret-lazy-fedcba98765432
printf '%s\n' "$TW_TOKEN" > "$T/twilio.token"
BOT_PORT=$(free_port)
BOT_LOG="$T/bot.jsonl"
: > "$BOT_LOG"
python3 "$(dirname "$0")/forward_target.py" --port "$BOT_PORT" --log "$BOT_LOG" --twilio-token "$TW_TOKEN" \
	--meta-secret "$META_SECRET" > "$T/bot.out" 2>&1 &
BOT_PID=$!
trap 'kill $BOT_PID 2>/dev/null; [ -n "$DAEMON_PID" ] && kill -9 $DAEMON_PID 2>/dev/null' EXIT
wait_for 5 grep -q ready "$T/bot.out" || { echo "the bot did not start"; cat "$T/bot.out"; }

DAEMON_EXTRA_CONF="[source \"twilio\"]
secret_file = $T/twilio.token"
daemon_start || { finish; exit 1; }

curl_mapped() { grep -q 'libcurl' "/proc/$DAEMON_PID/maps"; }
FORM='AccountSid=AC00000000000000000000000000000000&Body=Hi+there&From=%2B447700900456&To=%2B15005550006'
tw_post() {
	local sig
	sig=$(printf '%s' "$BASE/v1/webhooks/twilioAccountSidAC00000000000000000000000000000000BodyHi thereFrom+447700900456To+15005550006" |
		openssl dgst -sha1 -hmac "$TW_TOKEN" -binary | base64)
	STATUS=$(curl -s -o "$T/resp" -w '%{http_code}' -H "X-Twilio-Signature: $sig" \
		-H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$FORM" "$BASE/v1/webhooks/twilio")
	BODY=$(cat "$T/resp")
}

check "without forward_to, libcurl is not loaded" bash -c "! grep -q libcurl /proc/$DAEMON_PID/maps"
tw_post
check_eq "a webhook without a bot is answered 200" "$STATUS" 200
check "... and libcurl is still not loaded" bash -c "! grep -q libcurl /proc/$DAEMON_PID/maps"
check_eq "... and the bot got nothing" "$(wc -l < "$BOT_LOG")" 0

before=$(grep -c reloaded "$T/daemon.log")
printf 'forward_to = http://127.0.0.1:%s/twilio\n' "$BOT_PORT" >> "$T/redactd.conf"
kill -HUP "$DAEMON_PID"
reloaded_since() { [ "$(grep -c reloaded "$T/daemon.log")" -gt "$1" ]; }
check "a reload adds forward_to" wait_for 5 reloaded_since "$before"
tw_post
check_eq "the first forward after it: the bot's status" "$STATUS" 200
check "... and the bot's TwiML" grep -q '<Message>' "$T/resp"
check_eq "... the bot got the request" "$(wc -l < "$BOT_LOG")" 1
check "libcurl is loaded now" curl_mapped

kill "$BOT_PID" 2>/dev/null
finish
