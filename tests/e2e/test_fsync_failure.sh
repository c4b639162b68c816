#!/usr/bin/env bash
# A disk that stops syncing, while the daemon serves: strace attaches to
# every thread and makes each fdatasync of the WAL fail with EIO (a real
# failure at the system-call layer, no hook in the daemon). The request
# whose sync failed gets 500, later writes, erasures and reads 503
# storage_failed (a read is released only once its audit entry commits),
# GET /healthz 503 with reason "storage", and the log says why, without
# message text.
# Writes stay refused after the disk "recovers"; a restart makes the store
# writable again, with every acknowledged message still there.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"before, mail a@b.example"}'
check_eq "before the failure: 201" "$STATUS" 201
ACKED=$(jget '.ids[0]')

all_threads_traced() {
	local s
	for s in /proc/"$DAEMON_PID"/task/*/status; do
		grep -q "^TracerPid:[[:space:]]*[1-9]" "$s" || return 1
	done
}
strace -f -qq -p "$DAEMON_PID" -P "$T/redactd.db-wal" -e trace=fdatasync \
	-e inject=fdatasync:error=EIO -o "$T/strace.txt" 2>"$T/strace.err" &
STRACE_PID=$!
if ! wait_for 5 all_threads_traced; then
	# Containers without CAP_SYS_PTRACE (or with yama ptrace_scope 3) cannot
	# run this test at all; say so rather than fail for the machine.
	if grep -qi "not permitted" "$T/strace.err"; then
		echo "# skipped: ptrace is not permitted here ($(head -1 "$T/strace.err"))"
		finish; exit 0
	fi
	check "strace attached to every thread" false
fi

req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"during, call +44 7700 900123"}'
check_eq "the request whose fsync failed: 500" "$STATUS" 500
check_eq "… storage_error" "$(jget '.error.code')" storage_error
check "strace injected an EIO into the WAL's fdatasync" grep -q "EIO.*INJECTED" "$T/strace.txt"
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"refused"}'
check_eq "a later write: 503" "$STATUS" 503
check_eq "… storage_failed" "$(jget '.error.code')" storage_failed
req GET /healthz ""
check_eq "GET /healthz: 503" "$STATUS" 503
check_eq "… failing, reason storage" "$(jget '.status + "/" + .reason')" "failing/storage"
req GET /readyz ""
check_eq "GET /readyz: 503 not_ready, storage_failed" "$STATUS/$(jget '.status + "/" + .reason')" \
	"503/not_ready/storage_failed"
check "the log names the failed fdatasync" grep -q "fdatasync of the WAL failed" "$T/daemon.log"
req GET "/v1/conversations/c1" "$READ_TOKEN"
check_eq "reads are refused too: none is released before its audit entry commits" "$STATUS" 503
check_eq "… storage_failed" "$(jget '.error.code')" storage_failed
req DELETE "/v1/subjects?email=$(uri a@b.example)" "$ADMIN_TOKEN"
check_eq "an erasure: 503 storage_failed" "$STATUS/$(jget '.error.code')" "503/storage_failed"

kill -INT "$STRACE_PID"; wait "$STRACE_PID" 2>/dev/null
wait_for 5 bash -c "! grep -q '^TracerPid:[[:space:]]*[1-9]' /proc/$DAEMON_PID/status"
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"disk back"}'
check_eq "refused until restart, even once syncs work again" "$STATUS" 503

daemon_stop
check_eq "drains and exits 0 on SIGTERM after the failure" "$DAEMON_RC" 0
daemon_start || { finish; exit 1; }
req GET /healthz ""
check_eq "after a restart: healthy" "$STATUS" 200
req GET /readyz ""
check_eq "after a restart: ready" "$STATUS" 200
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c1","text":"after the restart"}'
check_eq "after a restart: writes accepted" "$STATUS" 201
req GET "/v1/conversations/c1" "$READ_TOKEN"
check "the message acknowledged before the failure reads back" \
	bash -c "printf '%s' '$BODY' | jq -e --arg id '$ACKED' '[.messages[].id] | index(\$id) != null'"
check "no refused message was stored" bash -c "printf '%s' '$BODY' | jq -e '[.messages[].text] | index(\"refused\") == null and index(\"disk back\") == null'"
req DELETE "/v1/subjects?email=$(uri a@b.example)" "$ADMIN_TOKEN"
check_eq "after a restart: the erasure runs" "$STATUS" 200
check "the log has no message text" bash -c "! grep -qE 'a@b.example|7700 900123|refused|disk back' '$T/daemon.log'"
finish
