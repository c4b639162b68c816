#!/usr/bin/env bash
# End to end (issue 11, finding 3; SPEC 2.2): the associated data of every
# sealed field binds the row's role, channel, category and time, as well as
# its tenant, conversation and record id. A database writer who edits one
# of them (say, to move a record out of its retention category, or back in
# time) makes the record fail to open, and the read reports it (500
# integrity_error, the record id in the log); it is never skipped. Putting
# the value back makes it read again, so the binding is what refused it.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

sql() { sqlite3 "$T/redactd.db" "PRAGMA busy_timeout=5000; $1" >/dev/null; }

tamper() {  # tamper COLUMN EDIT_SQL_VALUE
	local col=$1 edit=$2 conv="bind-$1" id old
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$conv\",\"text\":\"secret of $col\",\"role\":\"user\",\"channel\":\"web\",\"category\":\"chat_transcript\",\"ts\":\"2026-01-15T10:00:00Z\"}"
	id=$(jget '.ids[0]')
	check_eq "$col: stored" "$STATUS" 201
	old=$(sqlite3 "file:$T/redactd.db?mode=ro" "SELECT quote($col) FROM messages WHERE record_id = '$id'")
	sql "UPDATE messages SET $col = $edit WHERE record_id = '$id'"
	req GET "/v1/conversations/$conv" "$READ_TOKEN"
	check_eq "$col edited: the read is refused" "$STATUS" 500
	check_eq "$col edited: reported as integrity_error" "$(jget '.error.code')" integrity_error
	check "$col edited: nothing of the record is released" bash -c "! grep -q 'secret of' '$T/resp'"
	check "$col edited: the log names the record" grep -q "record $id: ciphertext failed to authenticate" "$T/daemon.log"
	sql "UPDATE messages SET $col = $old WHERE record_id = '$id'"
	req GET "/v1/conversations/$conv" "$READ_TOKEN"
	check_eq "$col put back: the record reads again" "$STATUS,$(jget '.messages[0].text')" "200,secret of $col"
}
tamper role "'agent'"
tamper channel "'sms'"
tamper category "'lead'"
tamper ts_ms "ts_ms - 400 * 86400000"
tamper role "'no-such-role'"

check "no identifier of the tampered rows in the log" bash -c "! grep -q 'secret of' '$T/daemon.log'"
finish
