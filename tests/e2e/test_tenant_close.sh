#!/usr/bin/env bash
# End to end: a tenant's contract ends. `redactd tenant close acme --after
# 3s` schedules the erasure of everything acme holds: ingest goes on until
# the due time and is refused after it (409 tenant_closed); the daemon's
# sweeper (sweep_interval 1s) erases acme's records in batches, keeps the
# held conversation, destroys the data keys no record uses, and once the
# hold is released erases the rest and destroys every key of acme. Other
# tenants are untouched; every step is in the audit log; `tenant list` and
# GET /v1/tenants show the closure; the admin API schedules and cancels;
# cancelling reopens the tenant.
. "$(dirname "$0")/lib.sh"
SWEEP_INTERVAL=1s
write_config
sed -i "s/^sweep_batch = .*//; /^sweep_interval = /a sweep_batch = 2" "$T/redactd.conf"
cat >> "$T/redactd.conf" <<CONF
[token "acme-admin"]
sha256 = $(sha acme-admin-token)
scopes = ingest,read,admin
tenant = acme
CONF
daemon_start || { finish; exit 1; }

post() {  # post TENANT CONV TEXT
	req POST /v1/messages "$ADMIN_TOKEN" "{\"tenant\":\"$1\",\"conversation_id\":\"$2\",\"text\":\"$3\"}"
}
for i in 1 2 3; do post acme "acme-$i" "turn one of acme-$i, mail a$i@example.com"; post acme "acme-$i" "turn two"; done
post acme acme-held "a held conversation, mail held@example.com"
post other other-1 "another tenant's conversation"
check_eq "records stored" "$(db_count)" 8
req POST /v1/holds "$ADMIN_TOKEN" '{"conversation_id":"acme-held","tenant":"acme","reason":"litigation"}'
check_eq "a hold on one acme conversation" "$STATUS" 201
HOLD=$(jget .id)

OUT=$("$BIN" tenant close acme --after 5m -c "$T/redactd.conf" 2>&1); RC=$?
check_eq "a bare m is refused (exit 2)" "$RC" 2
check "the message says min or mo" grep -q "ambiguous: write min for minutes or mo for months" <<<"$OUT"
check "tenant close without --after is a usage error" bash -c "! '$BIN' tenant close acme -c '$T/redactd.conf' 2>/dev/null"

OUT=$(rd tenant close acme --after 3s 2>&1)
check "tenant close schedules" grep -q "^tenant acme: closure scheduled, due 20" <<<"$OUT"
LIST=$(rd tenant list --json)
check_eq "tenant list shows the pending closure" \
	"$(jq -r '.tenants[] | select(.name=="acme") | "\(.records) \(.closure.state) \(.closure.actor)"' <<<"$LIST")" "7 pending cli"
check_eq "and the other tenant without one" "$(jq -r '.tenants[] | select(.name=="other") | .closure // "none"' <<<"$LIST")" none
check "the text list names the closure" bash -c "'$BIN' tenant list -c '$T/redactd.conf' | grep -q '^acme .* 7 records  closure pending, due '"
post acme acme-late "written before the due time"
check_eq "before the due time acme's ingest still works" "$STATUS" 201

DUE=$(date -d "$(jq -r '.tenants[] | select(.name=="acme") | .closure.due' <<<"$LIST")" +%s.%N)
while awk -v now="$(date +%s.%N)" -v due="$DUE" 'BEGIN { exit !(now < due + 0.2) }'; do sleep 0.1; done   # past the due time
post acme acme-after "too late"
check_eq "after the due time acme's ingest is refused with 409" "$STATUS" 409
check_eq "the error is tenant_closed" "$(jget .error.code)" tenant_closed
check "the message says when it was due" grep -q "tenant acme is closed: its closure was due at 20" <<<"$(jget .error.message)"
post other other-2 "still open"
check_eq "another tenant's ingest goes on" "$STATUS" 201

gone() { req GET "/v1/conversations/$1?tenant=acme" "$ADMIN_TOKEN"; [ "$STATUS" = 404 ]; }
check "the sweeper erases acme's conversations" wait_for 15 gone acme-3
check "including the one written before the due time" gone acme-late
req GET "/v1/conversations/acme-held?tenant=acme" "$ADMIN_TOKEN"
check_eq "the held conversation is kept" "$STATUS" 200
req GET "/v1/conversations/other-1?tenant=other" "$ADMIN_TOKEN"
check_eq "the other tenant's conversation is kept" "$STATUS" 200
erasing() { req GET /v1/tenants "$ADMIN_TOKEN"; [ "$(jget '.tenants[] | select(.name=="acme") | .closure.state')" = erasing ]; }
check "the closure is erasing while a hold keeps records" wait_for 10 erasing
check_eq "GET /v1/tenants counts what is held" "$(jget '.tenants[] | select(.name=="acme") | "\(.records) \(.closure.held)"')" "1 1"
live_keys() { sqlite3 "file:$T/redactd.db?mode=ro" "SELECT count(*) FROM data_keys WHERE tenant = '$1' AND wrapped IS NOT NULL;"; }
check_eq "the held record's key stays" "$(live_keys acme)" 1

req DELETE "/v1/holds/$HOLD" "$ADMIN_TOKEN"
check_eq "hold released" "$STATUS" 200
done_() { req GET /v1/tenants "$ADMIN_TOKEN"; [ "$(jget '.tenants[] | select(.name=="acme") | .closure.state')" = done ]; }
check "once the hold is gone the closure is done" wait_for 15 done_
check_eq "no acme record is left" "$(sqlite3 "file:$T/redactd.db?mode=ro" "SELECT count(*) FROM messages WHERE tenant='acme';")" 0
check_eq "every acme data key is destroyed (crypto-shredded)" "$(live_keys acme)" 0
check "the other tenant keeps its key" test "$(live_keys other)" -ge 1
check "the done closure has its time" test -n "$(jget '.tenants[] | select(.name=="acme") | .closure.done')"

AUDIT=$(rd audit list)
acts() { jq -r "select(.target==\"tenant:acme\" or (.target | startswith(\"tenant:acme \"))) | .action" <<<"$AUDIT" | sort -u | tr '\n' ' '; }
check_eq "every step is audited" "$(acts)" "purge tenant.close tenant.close.done tenant.close.erase tenant.close.held tenant.shred "
check_eq "the schedule names its actor" "$(jq -r 'select(.action=="tenant.close") | .actor' <<<"$AUDIT")" cli
check_eq "the purges count every record" "$(jq -s '[.[] | select(.action=="purge" and (.target | startswith("tenant:acme "))) | .count] | add' <<<"$AUDIT")" 8
check "the audit chain verifies" rd audit verify

# The admin API.
req POST /v1/tenants/beta/close "$ADMIN_TOKEN" '{"after":"1h"}'
check_eq "POST /v1/tenants/beta/close answers 202" "$STATUS" 202
check_eq "with its state" "$(jget .state)" pending
req GET /v1/tenants "$ADMIN_TOKEN"
check_eq "GET /v1/tenants lists it" "$(jget '.tenants[] | select(.name=="beta") | .closure.state')" pending
req POST /v1/tenants/beta/close "$ADMIN_TOKEN" '{"after":"5m"}'
check_eq "a bare m is 422" "$STATUS $(jget .error.code)" "422 invalid_field"
req POST /v1/tenants/beta/close "$ADMIN_TOKEN" '{"when":"1h"}'
check_eq "an unknown field is refused" "$(jget .error.code)" unknown_field
req POST /v1/tenants/beta/close "$ADMIN_TOKEN" '{"after":"99999d"}'
check_eq "a delay over ten years is refused" "$(jget .error.code)" invalid_field
req POST "/v1/tenants/bad%20name/close" "$ADMIN_TOKEN" '{"after":"1h"}'
check_eq "an invalid tenant name is 400" "$STATUS" 400
req POST /v1/tenants/beta/open "$ADMIN_TOKEN" '{"after":"1h"}'
check_eq "another verb is 404" "$STATUS" 404
req POST /v1/tenants/beta/close "acme-admin-token" '{"after":"1h"}'
check_eq "a token bound to acme cannot close beta" "$STATUS" 403
req GET /v1/tenants "acme-admin-token"
check_eq "and sees acme alone" "$(jget '[.tenants[].name] | join(",")')" acme
req POST /v1/tenants/beta/close "$READ_TOKEN" '{"after":"1h"}'
check_eq "a read token cannot close" "$STATUS" 403
req DELETE /v1/tenants/beta/close "$ADMIN_TOKEN"
check_eq "DELETE cancels" "$STATUS $(jget .closure)" "200 cancelled"
req DELETE /v1/tenants/beta/close "$ADMIN_TOKEN"
check_eq "a second DELETE finds none" "$STATUS" 404

check_eq "tenant cancel reopens acme" "$(rd tenant cancel acme)" "tenant acme: closure cancelled"
reopened() { post acme acme-new "a new contract"; [ "$STATUS" = 201 ]; }
check "acme takes messages again" wait_for 5 reopened
check "cancelling a tenant without a closure fails" bash -c "! '$BIN' tenant cancel nobody -c '$T/redactd.conf' 2>/dev/null"
check "no identifiers in the log" bash -c "! grep -aqiE 'example\.com|litigation|acme-[0-9]|acme-held' '$T/daemon.log'"
finish
