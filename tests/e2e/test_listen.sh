#!/usr/bin/env bash
# Listening options: HTTPS with TLS 1.2+ only, and a unix socket.
. "$(dirname "$0")/lib.sh"

# HTTPS with a throwaway self-signed certificate.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
	-keyout "$T/tls.key" -out "$T/tls.crt" >/dev/null 2>&1
check "test certificate made" test -s "$T/tls.crt"
write_config
sed -i "s|^threads = 4|threads = 4\ntls_cert = $T/tls.crt\ntls_key = $T/tls.key|" "$T/redactd.conf"
"$BIN" keygen -o "$T/master.key" 2>/dev/null
"$BIN" serve -c "$T/redactd.conf" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
HTTPS=https://127.0.0.1:$PORT
for _ in $(seq 1 100); do curl -sk -o /dev/null "$HTTPS/healthz" && break; sleep 0.05; done
check "HTTPS healthz" curl -sfk "$HTTPS/healthz"
CODE=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $INGEST_TOKEN" \
	-H 'Content-Type: application/json' -d '{"conversation_id":"tls-1","text":"over TLS"}' "$HTTPS/v1/messages")
check_eq "ingest over HTTPS" "$CODE" 201
check "TLS 1.2 accepted" curl -sfk --tlsv1.2 --tls-max 1.2 "$HTTPS/healthz"
check "TLS 1.1 refused" bash -c "! curl -sk --tlsv1.1 --tls-max 1.1 '$HTTPS/healthz'"
check "plain HTTP on the TLS port is refused" bash -c "! curl -sf 'http://127.0.0.1:$PORT/healthz'"
WANT=$(date -d "$(openssl x509 -enddate -noout -in "$T/tls.crt" | cut -d= -f2)" +%s)
GOT=$(curl -sk -H "Authorization: Bearer $READ_TOKEN" "$HTTPS/metrics" |
	awk '$1 == "redactd_tls_certificate_expiry_timestamp_seconds" {print $2}')
check_eq "/metrics gives the certificate's expiry" "$GOT" "$WANT"

# A renewed certificate takes effect on SIGHUP, without a restart.
served_fp() { openssl s_client -connect "127.0.0.1:$PORT" </dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256 2>/dev/null; }
file_fp() { openssl x509 -noout -fingerprint -sha256 -in "$1"; }
check_eq "the first certificate is served" "$(served_fp)" "$(file_fp "$T/tls.crt")"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=127.0.0.1" \
	-keyout "$T/tls2.key" -out "$T/tls2.crt" >/dev/null 2>&1
cp "$T/tls2.crt" "$T/tls.crt"; cp "$T/tls2.key" "$T/tls.key"
kill -HUP "$DAEMON_PID"
renewed() { [ "$(served_fp)" = "$(file_fp "$T/tls2.crt")" ]; }
check "after SIGHUP the renewed certificate is served" wait_for 5 renewed
WANT2=$(date -d "$(openssl x509 -enddate -noout -in "$T/tls2.crt" | cut -d= -f2)" +%s)
GOT2=$(curl -sk -H "Authorization: Bearer $READ_TOKEN" "$HTTPS/metrics" |
	awk '$1 == "redactd_tls_certificate_expiry_timestamp_seconds" {print $2}')
check_eq "/metrics gives the renewed certificate's expiry" "$GOT2" "$WANT2"
echo "not a certificate" > "$T/tls.crt"
kill -HUP "$DAEMON_PID"
check "a broken certificate file is refused and logged" wait_for 5 grep -q 'TLS files refused, the running certificate stays' "$T/daemon.log"
check_eq "the running certificate stays" "$(served_fp)" "$(file_fp "$T/tls2.crt")"
check "HTTPS still serves" curl -sfk "$HTTPS/healthz"
check "no key material in the log" bash -c "! grep -q 'PRIVATE KEY' '$T/daemon.log'"
daemon_stop
check_eq "TLS daemon exits 0" "$DAEMON_RC" 0

# A unix socket, mode 0660.
sed -i "s|^listen = .*|listen = unix:$T/redactd.sock|; /^tls_/d" "$T/redactd.conf"
"$BIN" serve -c "$T/redactd.conf" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 1 100); do [ -S "$T/redactd.sock" ] && break; sleep 0.05; done
check "unix socket healthz" curl -sf --unix-socket "$T/redactd.sock" http://localhost/healthz
check_eq "unix socket is 0660" "$(stat -c %a "$T/redactd.sock")" 660
CODE=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/redactd.sock" -H "Authorization: Bearer $READ_TOKEN" \
	http://localhost/v1/conversations/tls-1)
check_eq "read over the unix socket" "$CODE" 200
finish
