#!/usr/bin/env bash
# End to end (issue 11, finding 1): an erasure while another process holds
# an old snapshot of the database. The checkpoint that takes the erased rows
# out of the files cannot complete then, so the reply, the CLI and
# `redactd stats` say the residue is pending; once the reader lets go, the
# daemon's sweeper finishes the checkpoint, and neither the database file
# nor the WAL holds the erased ciphertext any more.
. "$(dirname "$0")/lib.sh"
daemon_start || { finish; exit 1; }

DB=$T/redactd.db
hexfile() { od -An -v -tx1 "$1" 2>/dev/null | tr -d ' \n'; }
has_bytes() {  # has_bytes FILE HEX: the file holds these bytes (at a byte boundary)
	hexfile "$1" | grep -oE '(..)*'"$2" >/dev/null
}
sealed() {  # sealed RECORD_ID: 48 bytes from the middle of its sealed text, as hex
	sqlite3 "file:$DB?mode=ro" "SELECT lower(substr(hex(text_ct), 81, 96)) FROM messages WHERE record_id = '$1'"
}

post() {  # post CONV TEXT -> $ID
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$1\",\"text\":\"$2\"}"
	ID=$(jget '.ids[0]')
}
post residue-conv-1 "Please erase me, my email is erin.residue@example.com and this text is long enough to seal forty-eight bytes"
ID1=$ID
post residue-conv-2 "Erase this one from the command line, phone +44 7700 900456, with text long enough too"
ID2=$ID
post residue-keep "A conversation that stays"
CT1=$(sealed "$ID1"); CT2=$(sealed "$ID2")
check "the sealed texts are known (48 bytes each)" test ${#CT1} -eq 96 -a ${#CT2} -eq 96
sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
check "before the erasure the ciphertext is in the database file (the scan works)" has_bytes "$DB" "$CT1"

# A reader in another process holds a snapshot from before the erasure.
mkfifo "$T/reader.in"
sqlite3 "$DB" < "$T/reader.in" > "$T/reader.out" 2>&1 &
READER=$!
exec 7>"$T/reader.in"
echo "BEGIN; SELECT 'snapshot', count(*) FROM messages;" >&7
check "the reader holds its snapshot" wait_for 5 grep -q snapshot "$T/reader.out"

req DELETE /v1/conversations/residue-conv-1 "$ADMIN_TOKEN"
check_eq "erasure answers 200" "$STATUS" 200
check_eq "it removed the record" "$(jget '.removed')" 1
check_eq "the reply says the residue is pending" "$(jget '.residue')" pending
check "meanwhile the ciphertext is still in the files (what pending means)" \
	bash -c "$(declare -f hexfile has_bytes); has_bytes '$DB' '$CT1' || has_bytes '$DB-wal' '$CT1'"
OUT=$(rd erase --conversation residue-conv-2 2>&1)
check "the CLI erasure says so too" bash -c "printf '%s' \"\$1\" | grep -q 'removed 1 record' && printf '%s' \"\$1\" | grep -q 'residue pending'" _ "$OUT"
OUT=$(rd stats 2>&1)
check "redactd stats reports the pending residue" bash -c "printf '%s' \"\$1\" | grep -q 'erasure residue PENDING'" _ "$OUT"
check_eq "stats --json: pending, two deletes" "$(rd stats --json 2>/dev/null | jq -r '[.residue.pending, .residue.deletes] | join(",")')" "true,2"
req GET /metrics "$ADMIN_TOKEN"
check "/metrics: residue pending" bash -c "printf '%s' \"\$1\" | grep -q '^redactd_store_residue_pending 1'" _ "$BODY"
check "/metrics: checkpoint retries counted" bash -c "printf '%s' \"\$1\" | grep -qE '^redactd_store_checkpoint_retries_total [1-9]'" _ "$BODY"

# The reader lets go: the sweeper's next retry completes the checkpoint.
echo "COMMIT;" >&7
exec 7>&-
wait "$READER" 2>/dev/null
residue_none() { rd stats 2>/dev/null | grep -q 'erasure residue none'; }
check "the sweeper clears the residue once the reader is gone" wait_for 10 residue_none
check_eq "stats --json: not pending" "$(rd stats --json 2>/dev/null | jq -r '.residue.pending')" false
req GET /metrics "$ADMIN_TOKEN"
check "/metrics: residue no longer pending" bash -c "printf '%s' \"\$1\" | grep -q '^redactd_store_residue_pending 0'" _ "$BODY"
for f in "$DB" "$DB-wal"; do
	check "erased ciphertext (HTTP erasure) not in $(basename "$f")" bash -c "$(declare -f hexfile has_bytes); ! has_bytes '$f' '$CT1'"
	check "erased ciphertext (CLI erasure) not in $(basename "$f")" bash -c "$(declare -f hexfile has_bytes); ! has_bytes '$f' '$CT2'"
	for planted in erin.residue@example.com residue-conv-1 residue-conv-2 "$ID1" "$ID2" "7700 900456"; do
		check "'$planted' not in $(basename "$f")" bash -c "! grep -aqF -- '$planted' '$f' 2>/dev/null"
	done
done
req GET /v1/conversations/residue-keep "$READ_TOKEN"
check_eq "the other conversation still reads" "$STATUS" 200
check "the log names no identifier" bash -c "! grep -aqE 'erin\.residue|residue-conv|7700 ?900 ?456|447700900456' '$T/daemon.log'"
check "the log says the residue was pending, then gone" bash -c "grep -q 'remain in the database files' '$T/daemon.log' && grep -q 'have left the files' '$T/daemon.log'"

# Without a reader an erasure completes at once.
post residue-conv-3 "A third one to erase"
req DELETE /v1/conversations/residue-conv-3 "$ADMIN_TOKEN"
check_eq "without a reader the residue is none at once" "$(jget '.removed'),$(jget '.residue')" "1,none"
finish
