#!/usr/bin/env bash
# Subject links through purges that empty a conversation bit by bit
# (schema v9: a conversation's links are found through the messages that
# name them, STORE_LINKS_CARRY_SQL). A subject stays linked to every turn
# of a conversation it appeared in for as long as one turn is left, even
# after the turn that named it has expired; the last turn to go takes the
# links with it; erasure then removes every remaining turn and leaves no
# link and no naming row behind.
. "$(dirname "$0")/lib.sh"
write_config
daemon_start || { finish; exit 1; }

ANN="ann.links@example.com"; BOB="bob.links@example.com"
OLD=2020-01-01T00:00:00Z; NEWER=2020-01-01T00:00:01Z
post() {  # post CONV TEXT [TS]
	local ts=""
	[ -n "${3:-}" ] && ts=",\"ts\":\"$3\""
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$1\",\"text\":\"$2\"$ts}"
	[ "$STATUS" = 201 ] || echo "# ingest failed: $STATUS $BODY"
}
sq() { sqlite3 "file:$T/redactd.db?mode=ro" "$1" 2>/dev/null; }
held_by() {  # held_by EMAIL: records the subject export returns
	req GET "/v1/subjects?email=$(uri "$1")" "$ADMIN_TOKEN"
	jget '.records'
}

# c-part: the turn naming Ann expires, a later turn stays.
post c-part "old turn: mail $ANN" "$OLD"
post c-part "a later turn that names nobody"
# c-gone: every turn expires, the one naming Ann first.
post c-gone "mail $ANN please" "$OLD"
post c-gone "and a second old turn" "$NEWER"
# c-bob: Bob in an old turn and in a new one (two messages name him).
post c-bob "bob here: $BOB" "$OLD"
post c-bob "still $BOB"
check_eq "three links, one per (subject, conversation)" "$(sq 'SELECT count(*) FROM subjects')" 3
check_eq "each named by the message that made it" "$(sq 'SELECT count(*) FROM msg_subjects')" 3
check_eq "no index of links by conversation (v9)" \
	"$(sq "SELECT count(*) FROM sqlite_schema WHERE name = 'subjects_conv'")" 0

OUT=$(rd sweep 2>&1)
check "the sweep purges the four old turns" bash -c "printf '%s' \"\$1\" | grep -q '^purged 4 record(s)'" _ "$OUT"
check_eq "Ann is still linked to the turn left of c-part" "$(held_by "$ANN")" 1
check_eq "Bob to his new turn" "$(held_by "$BOB")" 1
check_eq "c-gone's link went with its last turn" "$(sq 'SELECT count(*) FROM subjects')" 2
check_eq "the links left are named by messages left" \
	"$(sq 'SELECT count(*) FROM subjects s WHERE EXISTS (SELECT 1 FROM msg_subjects n JOIN messages m ON m.id = n.msg_id WHERE n.subject_hash = s.subject_hash AND m.conv_hash = s.conv_hash)')" 2
check_eq "no naming row outlives its message" \
	"$(sq 'SELECT count(*) FROM msg_subjects WHERE msg_id NOT IN (SELECT id FROM messages)')" 0

req DELETE "/v1/subjects?email=$(uri "$ANN")" "$ADMIN_TOKEN"
check_eq "erasing Ann removes the turn that never named her" "$(jget '.removed')" 1
req GET /v1/conversations/c-part "$READ_TOKEN"
check_eq "c-part is gone" "$STATUS" 404
check_eq "Ann has no link left" "$(held_by "$ANN")" 0
req DELETE /v1/conversations/c-bob "$ADMIN_TOKEN"
check_eq "erasing c-bob by conversation" "$(jget '.removed')" 1
check_eq "no link left" "$(sq 'SELECT count(*) FROM subjects')" 0
check_eq "no naming row left" "$(sq 'SELECT count(*) FROM msg_subjects')" 0

# A link no message names (left by a redactd before v9, or by a bug) still
# goes when its subject is erased: the erasure deletes the subject's links
# by key too.
post c-x "write to $ANN"
sqlite3 "$T/redactd.db" "DELETE FROM msg_subjects" 2>/dev/null
check_eq "a link named by no message" \
	"$(sq 'SELECT count(*) FROM subjects s WHERE NOT EXISTS (SELECT 1 FROM msg_subjects n WHERE n.subject_hash = s.subject_hash)')" 1
req DELETE "/v1/subjects?email=$(uri "$ANN")" "$ADMIN_TOKEN"
check_eq "erasing Ann removes c-x" "$(jget '.removed')" 1
check_eq "and the unnamed link with it" "$(sq 'SELECT count(*) FROM subjects')" 0

# A conversation id used again after its links went starts afresh: Ann,
# erased, is not linked to a new turn of c-gone that does not name her.
post c-gone "a new customer, nobody named"
check_eq "a reused conversation id is not linked to the erased subject" "$(held_by "$ANN")" 0
finish
