#!/usr/bin/env bash
# Rate limits (issue 11, finding 2): token buckets per client address and
# per token; over either, 429 rate_limited with Retry-After; /healthz is
# not limited; both counted in /metrics; a reload changes the limit.
# Each case uses its own source address (127.0.0.x) so buckets stay apart.
. "$(dirname "$0")/lib.sh"
LIMITED_TOKEN=e2e-limited-token
write_config
sed -i "/^\[server\]/a rate_limit_per_ip = 2\nrate_burst_per_ip = 5" "$T/redactd.conf"
cat >> "$T/redactd.conf" <<CONF

[token "e2e-limited"]
sha256 = $(sha $LIMITED_TOKEN)
scopes = read
rate_limit = 1/min
rate_burst = 2
CONF
daemon_start || { finish; exit 1; }

statuses() {  # statuses N SOURCE TOKEN PATH: the N statuses, space-separated
	# One curl for all N (one kept-alive connection): the burst takes
	# milliseconds, so the bucket cannot refill in the middle of it even on a
	# loaded machine (N separate curl processes once took over half a second).
	local urls=() i
	for i in $(seq 1 "$1"); do urls+=(-o /dev/null "$BASE$4"); done
	curl -s -w '%{http_code} ' --interface "$2" -H "Authorization: Bearer $3" "${urls[@]}" |
		sed 's/ $//'
}

# The burst, then an unknown route, in one curl: a second process started
# on a loaded machine can take longer than the half second that refills a
# token at 2/s.
urls=()
for i in $(seq 1 7); do urls+=(-o /dev/null "$BASE/v1/conversations/x"); done
got=$(curl -s -D "$T/h" -w '%{http_code} ' --interface 127.0.0.2 -H "Authorization: Bearer $READ_TOKEN" \
	"${urls[@]}" -o "$T/resp" "$BASE/nothing" | sed 's/ $//')
check_eq "per address: a burst of 5, then 429; unknown routes count too" "$got" \
	"404 404 404 404 404 429 429 429"
check "429 carries Retry-After" grep -qi '^Retry-After: [1-9]' "$T/h"
check_eq "429 is the rate_limited JSON error" "$(jq -r .error.code "$T/resp")" rate_limited
check_eq "/healthz is never limited" "$(statuses 3 127.0.0.2 "" /healthz)" "200 200 200"
check_eq "another address has its own bucket" \
	"$(statuses 2 127.0.0.3 "$READ_TOKEN" /v1/conversations/x)" "404 404"
sleep 1.1
check_eq "the bucket refills (2/s)" "$(statuses 1 127.0.0.2 "$READ_TOKEN" /v1/conversations/x)" 404

# 1/min with a burst of 2, whatever address the token comes from.
check_eq "per token: a burst of 2, then 429, across addresses" \
	"$(statuses 1 127.0.0.4 "$LIMITED_TOKEN" /v1/conversations/x) $(statuses 2 127.0.0.5 "$LIMITED_TOKEN" /v1/conversations/x)" \
	"404 404 429"
curl -s -D "$T/h" -o "$T/resp" --interface 127.0.0.6 -H "Authorization: Bearer $LIMITED_TOKEN" \
	"$BASE/v1/conversations/x"
check "a token's Retry-After says when (about 60 s at 1/min)" \
	bash -c "grep -i '^Retry-After:' '$T/h' | tr -dc 0-9 | awk '{exit !(\$1 >= 50 && \$1 <= 60)}'"
check "the message names the token, not the address" grep -q 'for this token' "$T/resp"
check_eq "other tokens are not limited by it" \
	"$(statuses 1 127.0.0.6 "$READ_TOKEN" /v1/conversations/x)" 404

curl -s --interface 127.0.0.7 -H "Authorization: Bearer $READ_TOKEN" "$BASE/metrics" > "$T/metrics.txt"
check "429s per address in /metrics" grep -q '^redactd_http_rate_limited_total{scope="ip"} [1-9]' "$T/metrics.txt"
check "429s per token in /metrics" grep -q '^redactd_http_rate_limited_total{scope="token"} [1-9]' "$T/metrics.txt"
check "429s by route in /metrics" grep -q 'route="/v1/conversations/{id}",code="429"' "$T/metrics.txt"

# A reload takes the new limit: off.
conf_set rate_limit_per_ip 0
kill -HUP "$DAEMON_PID"; sleep 0.5
check_eq "rate_limit_per_ip = 0 after SIGHUP: no limit" \
	"$(statuses 8 127.0.0.8 "$READ_TOKEN" /v1/conversations/x)" "404 404 404 404 404 404 404 404"
finish
