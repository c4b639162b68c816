#!/usr/bin/env bash
# End to end (issue 17): an erasure reaches backups. A backup is taken, a
# subject and a conversation are erased afterwards, and `redactd restore`
# of that backup replays the live erasure journal: the erased subject does
# not come back, the rest reads (a key-less backup takes the live keys),
# and the restore is audited in both databases. Without a reachable live
# journal it refuses unless --force, and then the erased subject is back,
# which is what the journal prevents. Foreign files are refused.
. "$(dirname "$0")/lib.sh"
DAEMON_EXTRA_CONF="
[backup]
directory = $T/backups
retention = 30d"
mkdir -p "$T/backups"
daemon_start || { finish; exit 1; }

ALICE=alice.jones@example.com
BOB=bob.stone@example.org
post() {  # post CONV TEXT
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$1\",\"text\":\"$2\"}"
	[ "$STATUS" = 201 ] || echo "ingest failed: $STATUS $BODY"
}
post c-alice "Hello, I am $ALICE"
post c-alice "Thanks Alice"
post c-bob "Hi, $BOB here"
post c-carol "Carol has no email here"
post c-carol "But she talks a lot"

OUT=$(rd backup 2>&1); RC=$?
check_eq "backup without DEST into [backup] directory: exit 0" "$RC" 0
B=$(ls "$T/backups"/redactd-*.db 2>/dev/null | head -n 1)
check "the backup is named after its time" bash -c "basename '$B' | grep -Eq '^redactd-[0-9]{8}T[0-9]{6}\.[0-9]{3}Z\.db$'"
check_eq "the backup records when it was taken" \
	"$(sqlite3 "file:$B?mode=ro" 'SELECT count(*) FROM backup_meta WHERE taken_ms > 0' 2>/dev/null)" 1
check_eq "the live database has no backup_meta row" \
	"$(sqlite3 "file:$T/redactd.db?mode=ro" 'SELECT count(*) FROM backup_meta' 2>/dev/null)" 0

# After the backup: Alice erased by email, Carol's conversation by id.
req DELETE "/v1/subjects?email=$(uri $ALICE)" "$ADMIN_TOKEN"
check_eq "erase Alice: 2 records" "$(jget '.removed')" 2
req DELETE /v1/conversations/c-carol "$ADMIN_TOKEN"
check_eq "erase c-carol: 2 records" "$(jget '.removed')" 2
check_eq "the journal holds the two erased conversations" \
	"$(sqlite3 "file:$T/redactd.db?mode=ro" "SELECT count(*) FROM erasure_journal WHERE kind = 'conversation'")" 2
check "the journal holds no identifier" bash -c \
	"! sqlite3 'file:$T/redactd.db?mode=ro' 'SELECT quote(target), tenant FROM erasure_journal' | grep -qiE 'alice|c-carol|example'"

# ---- restore with the live journal ----
OUT=$(rd restore "$B" --to "$T/restored.db" 2>&1); RC=$?
check_eq "restore: exit 0" "$RC" 0
check "restore says what it replayed" bash -c "printf '%s' \"\$1\" | grep -q 'replayed 2 erasure(s) and rectification(s) made since: 4 record(s) removed, 0 rectification(s) applied'" _ "$OUT"
check_eq "restored file mode 0600" "$(file_mode "$T/restored.db")" 600
check_eq "restored: only Bob's record is left" \
	"$(sqlite3 "file:$T/restored.db?mode=ro" 'SELECT count(*) FROM messages')" 1
check_eq "restored: Alice's subject links are gone" \
	"$(sqlite3 "file:$T/restored.db?mode=ro" 'SELECT count(*) FROM subjects')" 1
check_eq "restored: it is no longer a backup" \
	"$(sqlite3 "file:$T/restored.db?mode=ro" 'SELECT count(*) FROM backup_meta')" 0
check_eq "restored: its journal has the live entries" \
	"$(sqlite3 "file:$T/restored.db?mode=ro" 'SELECT count(*) FROM erasure_journal')" 2

P2=$(free_port)
conf_variant "$T/r.conf" "$P2" "database=$T/restored.db"
check "a daemon serves the restored database (key-less backup, live keys)" daemon2_start "$T/r.conf" "$P2"
req2 GET /v1/conversations/c-alice "$READ_TOKEN"
check_eq "restored: Alice's conversation does not come back" "$STATUS" 404
req2 GET "/v1/subjects?email=$(uri $ALICE)" "$ADMIN_TOKEN"
check_eq "restored: Alice's export is empty" "$(jget '.records')" 0
req2 GET /v1/conversations/c-carol "$READ_TOKEN"
check_eq "restored: the erased conversation does not come back" "$STATUS" 404
req2 GET /v1/conversations/c-bob "$READ_TOKEN"
check_eq "restored: Bob's conversation reads" "$(jget '.messages[0].text')" "Hi, [EMAIL] here"
daemon2_stop

# The ciphertext of Alice's rows is in the backup, not in the restored file.
CT=$(sqlite3 "file:$B?mode=ro" "SELECT hex(substr(text_ct, 1, 24)) FROM messages ORDER BY id LIMIT 1")
check "restored file holds none of the erased ciphertext" bash -c \
	"! xxd -p -c 100000 '$T/restored.db' | tr -d '\n' | grep -qi '$CT'"

# ---- audit, in both databases ----
check "live audit log has the restore, by the operator" bash -c \
	"'$BIN' audit list -c '$T/redactd.conf' | grep '\"restore\"' | grep -q '\"actor\":\"cli:'"
check "restored audit log has the restore" bash -c \
	"'$BIN' audit list -c '$T/r.conf' | grep -q '\"action\":\"restore\"'"
"$BIN" --actor alice-ops restore "$B" --to "$T/restored2.db" -c "$T/redactd.conf" >/dev/null 2>&1
check "--actor names the operator" bash -c "'$BIN' audit list -c '$T/redactd.conf' | grep '\"restore\"' | grep -q '\"actor\":\"cli:alice-ops\"'"

# ---- refusals ----
rd restore "$B" --to "$T/restored.db" >/dev/null 2>"$T/err"
check_eq "restore onto an existing file: exit 2" "$?" 2
check "it says the file exists" grep -q "exists" "$T/err"
printf 'not a database at all, just text padding....' > "$T/foreign.db"
rd restore "$T/foreign.db" --to "$T/x.db" >/dev/null 2>"$T/err"
check_eq "restore of a foreign file: refused" "$?" 2
check "no output file is left" test ! -e "$T/x.db"
rd restore "$T/redactd.db" --to "$T/x.db" >/dev/null 2>"$T/err"
check_eq "restore of a live database (not a backup): refused" "$?" 2
check "it says it is not a redactd backup" grep -q "not a redactd backup" "$T/err"
rd restore "$B" >/dev/null 2>&1
check_eq "restore without --to: usage" "$?" 2

# No live journal: refused, unless --force (then Alice is back, audited as forced).
conf_variant "$T/nolive.conf" "$P2" "database=$T/gone/redactd.db"
"$BIN" restore "$B" --to "$T/forced.db" -c "$T/nolive.conf" >/dev/null 2>"$T/err"
check_eq "no live journal: exit 1" "$?" 1
check "it says no journal is reachable" grep -q "no erasure journal is reachable" "$T/err"
check "and writes nothing" test ! -e "$T/forced.db"
OUT=$("$BIN" restore "$B" --to "$T/forced.db" --force -c "$T/nolive.conf" 2>&1); RC=$?
check_eq "--force restores without the journal: exit 0" "$RC" 0
check "it says it was forced" bash -c "printf '%s' \"\$1\" | grep -q FORCED" _ "$OUT"
check_eq "forced: without the journal the erased records are back (what the journal prevents)" \
	"$(sqlite3 "file:$T/forced.db?mode=ro" 'SELECT count(*) FROM messages')" 5
check "forced: audited as restore.forced in the copy" bash -c \
	"sqlite3 'file:$T/forced.db?mode=ro' \"SELECT action FROM audit_log\" | grep -qx restore.forced"

finish
