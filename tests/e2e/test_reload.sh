#!/usr/bin/env bash
# SIGHUP reloads rules, tokens and retention without a restart; keys that
# apply only at start keep their running values; a broken config is refused
# and the running one stays; each reload is audited.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

req POST /v1/redact "$INGEST_TOKEN" '{"text":"mail ann@example.com"}'
check_eq "before reload: tag style" "$(jget '.redacted')" "mail [EMAIL]"
req POST /v1/redact "new-token-after-reload" '{"text":"x"}'
check_eq "before reload: new token unknown" "$STATUS" 401

cp "$T/redactd.conf" "$T/good.conf"
cat >> "$T/redactd.conf" <<CONF

[rule "email"]
style = mask

[token "late"]
sha256 = $(sha new-token-after-reload)
scopes = ingest
CONF
sed -i 's/^threads = 4$/threads = 2/' "$T/redactd.conf"   # applies only at start
kill -HUP "$DAEMON_PID"
wait_ok() { for _ in $(seq 1 50); do "$@" && return 0; sleep 0.1; done; return 1; }
new_style() { req POST /v1/redact "$INGEST_TOKEN" '{"text":"mail ann@example.com"}'; [ "$(jget '.redacted')" = "mail ****" ]; }
check "after SIGHUP the rule's new style applies" wait_ok new_style
req POST /v1/redact "new-token-after-reload" '{"text":"x"}'
check_eq "after SIGHUP the new token works" "$STATUS" 200
check "a restart-only key keeps its running value, and the log names it" \
	grep -q "reload: threads change only on restart; kept as they were" "$T/daemon.log"

printf '\n[server]\nthreds = 3\n' >> "$T/redactd.conf"
kill -HUP "$DAEMON_PID"
sleep 0.5
check "a broken config is refused and logged" grep -q "reload failed" "$T/daemon.log"
req POST /v1/redact "$INGEST_TOKEN" '{"text":"mail ann@example.com"}'
check_eq "the running config stays after a refused reload" "$(jget '.redacted')" "mail ****"
check "daemon still alive" kill -0 "$DAEMON_PID"

OUT=$("$BIN" audit list -c "$T/good.conf" 2>/dev/null)
check_eq "two reloads audited" "$(printf '%s\n' "$OUT" | grep -c '"action":"config.reload"')" 2
check "refused reload audited with count 0" bash -c "printf '%s\n' \"\$1\" | grep '\"config.reload\"' | grep -q '\"count\":0'" _ "$OUT"
finish
