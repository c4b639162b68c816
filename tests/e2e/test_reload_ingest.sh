#!/usr/bin/env bash
# Ingest through reloads (issue 11): four clients post while SIGHUP rebuilds
# the redaction engine twenty times. A batch waits for its group commit
# without the config lock, so nothing it answers with may point into the
# engine it was redacted with: every reply's finding names and every
# /metrics entity label must be a real entity name, and under `make asan`
# the daemon must report nothing.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

cat > "$T/clients.py" <<'PY'
import http.client, json, sys, threading, time
port, token, seconds, out = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
body = json.dumps({"messages": [
    {"conversation_id": "c%d" % i, "text": "mail ann%d@example.com or +44 7700 900%03d" % (i, i)}
    for i in range(8)]})
lock = threading.Lock()
replies = []
def client(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    end = time.time() + seconds
    while time.time() < end:
        c.request("POST", "/v1/messages", body,
                  {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        with lock:
            replies.append((r.status, data.decode("utf-8", "replace")))
threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
with open(out, "w") as f:
    for status, data in replies:
        f.write("%d\t%s\n" % (status, data))
PY

python3 "$T/clients.py" "$PORT" "$INGEST_TOKEN" 4 "$T/replies.tsv" &
CLIENTS=$!
sleep 0.3
for _ in $(seq 1 20); do kill -HUP "$DAEMON_PID"; sleep 0.15; done
wait "$CLIENTS"

N=$(wc -l < "$T/replies.tsv")
check "the clients got replies during the reloads ($N)" test "$N" -gt 20
check_eq "every reply is 201" "$(cut -f1 "$T/replies.tsv" | sort -u | tr '\n' ' ')" "201 "
KEYS=$(cut -f2- "$T/replies.tsv" | jq -r '.findings | keys[]' 2>/dev/null | sort -u | tr '\n' ' ')
check_eq "every reply names only real entities" "$KEYS" "EMAIL PHONE "
check_eq "every reply counts 8 of each" \
	"$(cut -f2- "$T/replies.tsv" | jq -c '.findings' | sort -u | tr '\n' ' ')" '{"EMAIL":8,"PHONE":8} '
check "the reloads were logged" bash -c "[ \$(grep -c 'reload' '$T/daemon.log') -ge 1 ]"
req GET /metrics "$ADMIN_TOKEN"
LABELS=$(printf '%s\n' "$BODY" | sed -n 's/^redactd_findings_total{entity="\([^"]*\)"}.*/\1/p' | sort | tr '\n' ' ')
check_eq "/metrics labels are real entity names" "$LABELS" "EMAIL PHONE "
TOTAL=$(printf '%s\n' "$BODY" | sed -n 's/^redactd_findings_total{entity="EMAIL"} \([0-9]*\)/\1/p')
check_eq "/metrics counts every finding" "$TOTAL" "$((N * 8))"
check "daemon alive after 20 reloads under load" kill -0 "$DAEMON_PID"
finish
