#!/usr/bin/env bash
# GET /metrics as Prometheus scrapes it: a `metrics`-scope token that can
# scrape and nothing else, the exposition format (promtool check metrics,
# where promtool is installed: .ci/run installs it), build and process
# families, the status `code` label, sweep timestamps, and the gauge an
# operator alerts on when the retention promise is broken.
. "$(dirname "$0")/lib.sh"
SCRAPE_TOKEN=e2e-scrape-token
write_config
conf_set lead 1d
cat >> "$T/redactd.conf" <<CONF

[token "prometheus"]
sha256 = $(sha $SCRAPE_TOKEN)
scopes = metrics
CONF
daemon_start || { finish; exit 1; }

# The retention gauges are counted at most every 30 s (and after each
# sweep), so the records go in before the first scrape.
TWO_DAYS_AGO=$(( $(date +%s) - 2 * 86400 ))
req POST /v1/messages "$INGEST_TOKEN" "{\"messages\":[
 {\"conversation_id\":\"old-1\",\"category\":\"lead\",\"ts\":$TWO_DAYS_AGO,\"text\":\"mail pat@example.net\"},
 {\"conversation_id\":\"old-1\",\"category\":\"lead\",\"ts\":$TWO_DAYS_AGO,\"text\":\"second\"},
 {\"conversation_id\":\"old-held\",\"category\":\"lead\",\"ts\":$TWO_DAYS_AGO,\"text\":\"held\"},
 {\"conversation_id\":\"new-1\",\"category\":\"lead\",\"text\":\"fresh\"}]}"
check_eq "ingest" "$STATUS" 201
req POST /v1/holds "$ADMIN_TOKEN" '{"conversation_id":"old-held","reason":"dispute"}'
check_eq "hold placed" "$STATUS" 201

req GET /metrics "$SCRAPE_TOKEN"
check_eq "a metrics-scope token scrapes" "$STATUS" 200
req GET /v1/conversations/c1 "$SCRAPE_TOKEN"
check_eq "a metrics-scope token cannot read transcripts" "$STATUS" 403
req POST /v1/messages "$SCRAPE_TOKEN" '{"conversation_id":"c1","text":"x"}'
check_eq "a metrics-scope token cannot ingest" "$STATUS" 403
req GET /metrics "$READ_TOKEN"
check_eq "a read token still scrapes (as before the metrics scope)" "$STATUS" 200
req GET /metrics "$INGEST_TOKEN"
check_eq "an ingest-only token cannot scrape" "$STATUS" 403

req GET /metrics "$SCRAPE_TOKEN"
M=$BODY
metric() { printf '%s\n' "$M" | awk -v k="$1" '$1 == k {print $2}'; }
check_eq "requests carry a code label" "$(metric 'redactd_requests_total{route="/v1/messages",code="201"}')" 1
check "no status label any more" bash -c "! printf '%s' \"\$1\" | grep -q 'status=\"'" _ "$M"
check "build info names the version" bash -c "printf '%s' \"\$1\" | grep -Eq '^redactd_build_info\{version=\"[0-9]+\.[0-9]+\.[0-9]+\"\} 1$'" _ "$M"
check_eq "records past the horizon and not held" "$(metric 'redactd_retention_overdue_records{tenant="default",category="lead"}')" 2
check_eq "records past the horizon but held" "$(metric 'redactd_retention_held_records{tenant="default",category="lead"}')" 1
check_eq "the horizon in force" "$(metric 'redactd_retention_horizon_seconds{tenant="default",category="lead"}')" 86400
check_eq "no sweep yet" "$(metric redactd_sweep_last_success_timestamp_seconds)" 0.000
check_eq "storage is not failed" "$(metric redactd_storage_failed)" 0
check "resident memory is reported" test "$(metric process_resident_memory_bytes)" -gt 1000000
check "open fds are reported" test "$(metric process_open_fds)" -gt 3
START=$(metric process_start_time_seconds); NOW=$(date +%s)
check "start time is this run's" test "${START%.*}" -le "$NOW" -a "${START%.*}" -gt $((NOW - 120))
if command -v promtool >/dev/null; then
	check "promtool check metrics passes" bash -c "printf '%s\n' \"\$1\" | promtool check metrics" _ "$M"
else
	echo "ok - promtool check metrics # skip promtool not installed (apt-get install prometheus)"
	PASSED=$((PASSED + 1))
fi

# contrib/: alert rules and the Grafana dashboard use only what is exported
# (the TLS family only exists with tls_cert: test_listen.sh checks it).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EXPORTED=$(printf '%s\n' "$M" | sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p'; echo redactd_tls_certificate_expiry_timestamp_seconds)
USED=$(cat "$ROOT/contrib/prometheus/redactd-alerts.yml" "$ROOT/contrib/grafana/redactd-dashboard.json" |
	grep -oE '\b(redactd|process)_[a-z_]+' | sed 's/_bucket$//' | sort -u)
MISSING=$(comm -13 <(printf '%s\n' "$EXPORTED" | sort -u) <(printf '%s\n' "$USED"))
check_eq "every metric the alerts and dashboard use is exported" "$MISSING" ""
check "the dashboard is JSON with panels" jq -e '.panels | length > 10' "$ROOT/contrib/grafana/redactd-dashboard.json"
if command -v promtool >/dev/null; then
	check "promtool check rules" promtool check rules "$ROOT/contrib/prometheus/redactd-alerts.yml"
	check "promtool test rules (alerts fire when they should)" \
		bash -c "cd '$ROOT/contrib/prometheus' && promtool test rules redactd-alerts.test.yml"
fi

# The sweeper runs (a restart with a 1 s interval): the gauge drops to 0 at
# the next scrape, the timestamps are set.
daemon_stop
conf_set sweep_interval 1s
daemon_start || { finish; exit 1; }
swept() { req GET /metrics "$SCRAPE_TOKEN"; M=$BODY; [ "$(metric redactd_sweep_last_success_timestamp_seconds)" != 0.000 ]; }
check "a pass sets the sweep timestamps" wait_for 15 swept
check_eq "after the pass nothing is overdue" "$(metric 'redactd_retention_overdue_records{tenant="default",category="lead"}')" 0
check_eq "the held records stay counted" "$(metric 'redactd_retention_held_records{tenant="default",category="lead"}')" 1
check "start <= success" test "$(metric redactd_sweep_last_start_timestamp_seconds)" = "$(metric redactd_sweep_last_success_timestamp_seconds)"
finish
