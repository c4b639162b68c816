#!/usr/bin/env bash
# HTTP framing (issue 11, finding 3): a body over max_body sent without
# Expect gets its 413, not a reset (lingering close); Content-Length with
# Transfer-Encoding and an HTTP/1.1 request without Host get 400; an id
# holding %00 or a control byte gets 400, not a read of its truncated
# prefix. Every error is the JSON error object.
. "$(dirname "$0")/lib.sh"
MAX_BODY=64k daemon_start || { finish; exit 1; }

# python3 stdlib clients: http.client sends the whole body before it reads.
py() { python3 - "$PORT" "$INGEST_TOKEN" "$READ_TOKEN" "$@"; }

OUT=$(py <<'PY'
import http.client, json, sys
port, token = int(sys.argv[1]), sys.argv[2]
body = b'{"conversation_id":"c1","text":"' + b"a" * (4 << 20) + b'"}'
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
try:
    c.request("POST", "/v1/messages", body=body,
              headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    print(json.dumps({"status": r.status, "body": json.loads(r.read())}))
except OSError as e:
    print(json.dumps({"status": 0, "error": type(e).__name__}))
PY
)
echo "# python 4 MB body: $OUT"
check_eq "python http.client, 4 MB body over max_body: 413, not a reset" "$(printf '%s' "$OUT" | jq -r .status)" 413
check_eq "... with the JSON error" "$(printf '%s' "$OUT" | jq -r .body.error.code)" body_too_large

head -c 3000000 /dev/zero | tr '\0' 'a' > "$T/big.txt"
req POST /v1/messages "$INGEST_TOKEN" "" --data-binary "@$T/big.txt" -H 'Content-Type: application/json' -H 'Expect:'
check_eq "curl without Expect, 3 MB body: 413" "$STATUS" 413
check_eq "... body_too_large" "$(jget .error.code)" body_too_large
req POST /v1/messages "$INGEST_TOKEN" "" --data-binary "@$T/big.txt" -H 'Content-Type: application/json'
check_eq "curl with Expect: 100-continue: 413 before the body" "$STATUS" 413

raw() {  # raw REQUEST_TEXT: sends it as is, prints the status line's code and the body
	py "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[4].encode().decode("unicode_escape").encode("latin-1"))
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
print(head.split(b" ")[1].decode() if head else "0", body.decode(errors="replace"))
PY
}
GOOD='{"conversation_id":"smuggle","text":"hi"}'
OUT=$(raw "POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $INGEST_TOKEN\r\nContent-Type: application/json\r\nContent-Length: ${#GOOD}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n$(printf '%x' ${#GOOD})\r\n$GOOD\r\n0\r\n\r\n")
check_eq "Content-Length with Transfer-Encoding: chunked: 400" "${OUT%% *}" 400
check_eq "... bad_request JSON" "$(printf '%s' "${OUT#* }" | jq -r .error.code)" bad_request
check_eq "... stores nothing" "$(db_count)" 0
OUT=$(raw "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
check_eq "HTTP/1.1 without Host: 400" "${OUT%% *}" 400
check "... names the Host header" bash -c "printf '%s' '${OUT#* }' | jq -r .error.message | grep -q Host"
OUT=$(raw "GET /healthz HTTP/1.0\r\n\r\n")
check_eq "HTTP/1.0 without Host is fine" "${OUT%% *}" 200

req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"abc","text":"hello"}'
check_eq "conversation abc stored" "$STATUS" 201
req GET /v1/conversations/abc "$READ_TOKEN"
check_eq "abc reads back" "$STATUS" 200
for id in 'abc%00def' 'abc%00' 'abc%0adef' 'abc%1Bx' 'abc%7f'; do
	req GET "/v1/conversations/$id" "$READ_TOKEN"
	check_eq "GET /v1/conversations/$id: 400, not abc's transcript" "$STATUS" 400
	check_eq "... invalid_path" "$(jget .error.code)" invalid_path
done
req DELETE "/v1/conversations/abc%00def" "$ADMIN_TOKEN"
check_eq "DELETE of abc%00def: 400" "$STATUS" 400
req GET /v1/conversations/abc "$READ_TOKEN"
check_eq "abc is still there" "$STATUS" 200
req GET "/v1/conversations/abc%20def" "$READ_TOKEN"
check_eq "a percent-encoded space is an ordinary id (404)" "$STATUS" 404
finish
