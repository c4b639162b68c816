#!/usr/bin/env bash
# End to end (issue 4): master key rotation while the daemon serves, SIGHUP
# picking up the new key, the old key opening nothing; online backups while
# ingest runs, read with the live keys or on their own; crypto-shredding
# reaching a key-less backup; the audit trail of it all; 503 + Retry-After
# when the writer queue is full, with every 201 readable.
. "$(dirname "$0")/lib.sh"
trap '[ -n "$DAEMON_PID" ] && kill -9 $DAEMON_PID 2>/dev/null; [ -n "$D2_PID" ] && kill -9 $D2_PID 2>/dev/null' EXIT
daemon_start || { finish; exit 1; }

post() {  # post CONV TEXT [TS]: one message, sets STATUS/BODY
	local ts=""; [ $# -ge 3 ] && ts=",\"ts\":\"$3\""
	req POST /v1/messages "$INGEST_TOKEN" "{\"conversation_id\":\"$1\",\"text\":\"$2\"$ts}"
}
month_ts() {  # month_ts N: the 10th of the month N months ago, noon UTC (always a past month)
	date -u -d "$(date -u +%Y-%m-15) -$1 months" +%Y-%m-10T12:00:00Z
}
# Periods of their own, all within the 365-day retention of the test config.
M2=$(month_ts 2); M5=$(month_ts 5); M6=$(month_ts 6); M8=$(month_ts 8); M9=$(month_ts 9)
hexkey() { od -An -tx1 "$1" | tr -d ' \n'; }  # a key file as one hex string
export -f hexkey
read_text() {  # read_text CONV N: text of message N of a conversation on the main daemon
	req GET "/v1/conversations/$1" "$READ_TOKEN"; jget ".messages[$2].text"
}
export_texts() {  # export_texts CONF CONV: the conversation's texts through `redactd export`
	"$BIN" export --conversation "$2" -c "$1" 2>/dev/null | jq -r '.. | .text? // empty'
}

# ---- (a) rotation while serving --------------------------------------------------------

post rot-1 "before rotation, write to ann@example.com"
check_eq "ingest before rotation: 201" "$STATUS" 201
post rot-1 "a second turn" "$M2"
check_eq "ingest in another month before rotation: 201" "$STATUS" 201
check_eq "reads before rotation" "$(read_text rot-1 1)" "before rotation, write to [EMAIL]"

cp -p "$T/master.key" "$T/old.key"
"$BIN" keygen -o "$T/new.key" 2>/dev/null

rd key rotate >/dev/null 2>&1; check_eq "key rotate without --new-key: exit 2" "$?" 2
rd key rotate --new-key "$T/master.key" >/dev/null 2>&1
check_eq "rotating to the current key is refused: exit 2" "$?" 2
"$BIN" keygen -o "$T/loose.key" 2>/dev/null; chmod 644 "$T/loose.key"
rd key rotate --new-key "$T/loose.key" >/dev/null 2>"$T/err"
check_eq "a new key readable by others is refused: exit 2" "$?" 2
check "the refusal says why" grep -q "chmod 600" "$T/err"
head -c 16 /dev/urandom > "$T/short.key"; chmod 600 "$T/short.key"
rd key rotate --new-key "$T/short.key" >/dev/null 2>&1
check_eq "a new key of the wrong size is refused: exit 2" "$?" 2
check "refused rotations leave key_file alone" cmp -s "$T/master.key" "$T/old.key"

OUT=$(rd key rotate --new-key "$T/new.key" 2>"$T/err"); RC=$?
check_eq "key rotate while the daemon serves: exit 0" "$RC" 0
check "key rotate reports the keys re-wrapped" bash -c "printf '%s' \"\$1\" | grep -Eq 're-wrapped [2-9][0-9]* key'" _ "$OUT"
check "key_file now holds the new key" cmp -s "$T/master.key" "$T/new.key"
check_eq "key_file stays 0600" "$(file_mode "$T/master.key")" 600
check "no temporary key file is left behind" bash -c "! ls '$T' | grep -q 'master.key.tmp'"
check "key rotate output holds no key bytes" bash -c "! printf '%s' \"\$1\" | grep -qF \"\$(hexkey '$T/new.key')\"" _ "$OUT"

# Before the reload the daemon keeps serving from its cached keys, but will
# not make a data key under the master key that was rotated away.
check_eq "before SIGHUP: old conversation still reads" "$(read_text rot-1 1)" "before rotation, write to [EMAIL]"
post rot-1 "after rotation, same month"
check_eq "before SIGHUP: ingest into a cached period: 201" "$STATUS" 201
post rot-new "a brand new month" "$M5"
check_eq "before SIGHUP: a new period's key is not made under the old key: 500" "$STATUS" 500
check "the log says to reload" grep -q "master key was rotated; reload" "$T/daemon.log"

kill -HUP "$DAEMON_PID"
check "SIGHUP picks up the new master key" wait_for 5 grep -q "the master key changed" "$T/daemon.log"
post rot-new "a brand new month" "$M5"
check_eq "after SIGHUP: a new period's key is made (201)" "$STATUS" 201
check_eq "after SIGHUP: old conversations read" "$(read_text rot-1 0)" "a second turn"
check_eq "after SIGHUP: the new record reads" "$(read_text rot-new 0)" "a brand new month"
post rot-2 "ingest after reload to bob@example.org"
check_eq "after SIGHUP: ingest goes on" "$STATUS" 201
check "key material never reaches the log" bash -c "! grep -aqF \"\$(hexkey '$T/new.key')\" '$T/daemon.log' && ! grep -aqF \"\$(hexkey '$T/old.key')\" '$T/daemon.log'"

# The old master key opens nothing: a copy of the database with the old key
# file is refused by the daemon and by the CLI.
sqlite3 "$T/redactd.db" ".backup '$T/copy.db'"
P2=$(free_port)
conf_variant "$T/old.conf" "$P2" "database=$T/copy.db" "key_file=$T/old.key"
timeout 20 "$BIN" serve -c "$T/old.conf" >"$T/old.log" 2>&1; RC=$?
check_eq "a daemon with the old key refuses the rotated database: exit 1" "$RC" 1
check "it says the key does not open the database" grep -q "does not open this database" "$T/old.log"
"$BIN" export --conversation rot-1 -c "$T/old.conf" >"$T/old.out" 2>&1
check_eq "export with the old key is refused: exit 1" "$?" 1
check "nothing readable came out with the old key" bash -c "! grep -q 'rotation' '$T/old.out'"
"$BIN" keygen -o "$T/other.key" 2>/dev/null
"$BIN" key rotate --new-key "$T/other.key" -c "$T/old.conf" >/dev/null 2>&1
check_eq "the old key cannot even unwrap a key to re-wrap it: exit 1" "$?" 1
conf_variant "$T/copy-new.conf" "$P2" "database=$T/copy.db" "key_file=$T/new.key"
check_eq "the same copy opens with the new key" "$(export_texts "$T/copy-new.conf" rot-new)" "a brand new month"

# A restart with the new key reads everything back.
daemon_stop
daemon_start
req GET /v1/conversations/rot-1 "$READ_TOKEN"
check_eq "after restart: every turn of the old conversation reads" "$(jget '.messages | length')" 3
check_eq "after restart: text intact" "$(jget '.messages[1].text')" "before rotation, write to [EMAIL]"
check_eq "after restart: post-rotation record reads" "$(read_text rot-2 0)" "ingest after reload to [EMAIL]"

# A key file that does not open the database is refused on reload; the
# daemon keeps the key it runs with.
cp -p "$T/master.key" "$T/good.key"
"$BIN" keygen -o "$T/stray.key" 2>/dev/null
cp "$T/stray.key" "$T/master.key"
kill -HUP "$DAEMON_PID"
check "a stray key file is refused on reload" wait_for 5 grep -q "new master key refused" "$T/daemon.log"
check_eq "the daemon reads on with its key" "$(read_text rot-1 1)" "before rotation, write to [EMAIL]"
cp -p "$T/good.key" "$T/master.key"

# An interrupted rotation (database re-wrapped, key_file not yet replaced)
# is finished by running the same command again.
cp -p "$T/master.key" "$T/k2.key"
"$BIN" keygen -o "$T/k3.key" 2>/dev/null
rd key rotate --new-key "$T/k3.key" >/dev/null 2>&1
cp -p "$T/k2.key" "$T/master.key"   # as if it had died before the rename
OUT=$(rd key rotate --new-key "$T/k3.key" 2>/dev/null); RC=$?
check_eq "re-running an interrupted rotation: exit 0" "$RC" 0
check "re-running re-wraps nothing more" bash -c "printf '%s' \"\$1\" | grep -q 're-wrapped 0 key'" _ "$OUT"
check "re-running installs the new key" cmp -s "$T/master.key" "$T/k3.key"
kill -HUP "$DAEMON_PID"
check "the daemon follows the second rotation" wait_for 5 bash -c "[ \$(grep -c 'the master key changed' '$T/daemon.log') -ge 2 ]"
post rot-3 "another new month" "$M6"
check_eq "after the second rotation a new period's key is made" "$STATUS" 201

# ---- (b) backup while ingest runs ---------------------------------------------------

ingest_loop() {
	for i in $(seq 1 120); do
		curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $INGEST_TOKEN" \
			-H 'Content-Type: application/json' \
			--data-binary "{\"conversation_id\":\"loop-$i\",\"text\":\"loop message $i to carol@example.net\"}" \
			"$BASE/v1/messages"
	done > "$T/loop.codes"
}
ingest_loop & LOOP=$!
wait_for 10 bash -c "[ -s '$T/loop.codes' ]"
rd backup "$T/b1.db" >"$T/b1.out" 2>&1; RC1=$?
rd backup "$T/b2.db" --with-keys >"$T/b2.out" 2>&1; RC2=$?
wait "$LOOP"
check_eq "backup during ingest: exit 0" "$RC1" 0
check_eq "backup --with-keys during ingest: exit 0" "$RC2" 0
check_eq "every ingest of the loop was acknowledged" "$(grep -c '^201$' "$T/loop.codes")" 120
for b in b1 b2; do
	check_eq "$b: mode 0600" "$(file_mode "$T/$b.db")" 600
	check_eq "$b: PRAGMA integrity_check" "$(sqlite3 "file:$T/$b.db?mode=ro" 'PRAGMA integrity_check')" ok
	check "$b: a single file (no -wal)" test ! -e "$T/$b.db-wal"
	check "$b: holds records" test "$(sqlite3 "file:$T/$b.db?mode=ro" 'SELECT count(*) FROM messages')" -ge 4
	for v in carol@example.net "loop message" ann@example.com "a brand new month"; do
		check "$b: '$v' not in the file" bash -c '! grep -aqF -- "$1" "$2"' _ "$v" "$T/$b.db"
	done
done
check_eq "key-less backup holds no wrapped data key" \
	"$(sqlite3 "file:$T/b1.db?mode=ro" 'SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL')" 0
check "backup --with-keys holds the wrapped data keys" test \
	"$(sqlite3 "file:$T/b2.db?mode=ro" 'SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL')" -ge 3
cp "$T/b1.db" "$T/b1.keep"
rd backup "$T/b1.db" >/dev/null 2>&1
check_eq "backup refuses to overwrite: exit 1" "$?" 1
check "the existing file is untouched" cmp -s "$T/b1.db" "$T/b1.keep"
cp "$T/redactd.conf" "$T/nodir.conf"; printf '\n[backup]\ndirectory =\n' >> "$T/nodir.conf"
"$BIN" backup -c "$T/nodir.conf" >/dev/null 2>&1
check_eq "backup without DEST and without a [backup] directory: exit 2" "$?" 2

# Key-less: a second daemon on a copy of it, with keys_from = the live database.
cp "$T/b1.db" "$T/r1.db"
P3=$(free_port)
conf_variant "$T/r1.conf" "$P3" "database=$T/r1.db" "keys_from=$T/redactd.db"
check "a daemon serves the key-less backup with keys_from" daemon2_start "$T/r1.conf" "$P3"
req2 GET /v1/conversations/rot-1 "$READ_TOKEN"
check_eq "key-less backup: old conversation reads (same master key)" "$(jget '.messages[1].text')" "before rotation, write to [EMAIL]"
req2 GET /v1/conversations/loop-1 "$READ_TOKEN"
check_eq "key-less backup: a record ingested during the loop reads" "$(jget '.messages[0].text')" "loop message 1 to [EMAIL]"
req2 POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"nope","text":"x"}'
check "key-less backup stores nothing new" test "$STATUS" != 201
daemon2_stop
cp "$T/b1.db" "$T/r1b.db"
conf_variant "$T/r1b.conf" "$P3" "database=$T/r1b.db"
check_eq "key-less backup without keys_from opens nothing" "$(export_texts "$T/r1b.conf" rot-1)" ""

# --with-keys: opens directly with the master key.
cp "$T/b2.db" "$T/r2.db"
conf_variant "$T/r2.conf" "$P3" "database=$T/r2.db"
check "backup --with-keys opens alone with the master key" bash -c \
	"\"\$1\" export --conversation rot-1 -c '$T/r2.conf' 2>/dev/null | grep -qF 'before rotation, write to [EMAIL]'" _ "$BIN"

# ---- (c) crypto-shredding reaches a key-less backup --------------------------------------

post shred-me "a june message to dave@example.com" "$M9"
check_eq "a record in an old month (\"June\"): 201" "$STATUS" 201
post keep-me "a july message" "$M8"
check_eq "a record in the next month (\"July\"): 201" "$STATUS" 201
rd backup "$T/b3.db" >/dev/null 2>&1
check_eq "backup before the erasure: exit 0" "$?" 0
cp "$T/b3.db" "$T/r3.db"
conf_variant "$T/r3.conf" "$P3" "database=$T/r3.db" "keys_from=$T/redactd.db"
check_eq "before shredding the backup reads June" "$(export_texts "$T/r3.conf" shred-me)" "a june message to [EMAIL]"
check "erase June's only conversation" bash -c "\"\$1\" erase --conversation shred-me -c '$T/redactd.conf' | grep -q 'removed 1 record'" _ "$BIN"
rd sweep >/dev/null 2>&1
check_eq "the sweep destroys June's data key" \
	"$(sqlite3 "file:$T/redactd.db?mode=ro" "SELECT count(*) FROM data_keys WHERE period = '${M9:0:7}' AND wrapped IS NULL AND destroyed_ms IS NOT NULL")" 1
check_eq "July's key lives on" \
	"$(sqlite3 "file:$T/redactd.db?mode=ro" "SELECT count(*) FROM data_keys WHERE period = '${M8:0:7}' AND wrapped IS NOT NULL")" 1
cp "$T/b3.db" "$T/r3.db"; rm -f "$T/r3.db-wal" "$T/r3.db-shm"
check "the backup still holds June's sealed row" test \
	"$(sqlite3 "file:$T/r3.db?mode=ro" "SELECT count(*) FROM messages m JOIN data_keys k ON k.id = m.key_id WHERE k.period = '${M9:0:7}'")" -eq 1
check "a daemon serves the old backup" daemon2_start "$T/r3.conf" "$P3"
req2 GET /v1/conversations/shred-me "$READ_TOKEN"
check_eq "after shredding, June's rows in the backup no longer open" "$STATUS" 404
req2 GET /v1/conversations/keep-me "$READ_TOKEN"
check_eq "other periods in the backup still open" "$(jget '.messages[0].text')" "a july message"
daemon2_stop
check_eq "export of the backup gives nothing for June" "$(export_texts "$T/r3.conf" shred-me)" ""

# ---- (d) the audit trail -------------------------------------------------------------------

AUD=$(rd audit list 2>/dev/null)
count_action() { printf '%s\n' "$AUD" | grep -c "\"action\":\"$1\""; }
check_eq "audit: the three rotations logged (one a re-run)" "$(count_action key.rotate)" 3
check "audit: rotation counts the re-wrapped keys" bash -c "printf '%s\n' \"\$1\" | grep '\"key.rotate\"' | head -n 1 | grep -Eq '\"count\":[2-9]'" _ "$AUD"
check "audit: rotation by the cli, target a key fingerprint" bash -c "printf '%s\n' \"\$1\" | grep '\"key.rotate\"' | grep -q '\"actor\":\"cli:[^\"]*\",\"action\":\"key.rotate\",\"target\":\"key:[0-9a-f]\{32\}\"'" _ "$AUD"
check_eq "audit: each daemon key switch logged" "$(count_action key.reload)" 2
check "audit: SIGHUP reloads logged" test "$(count_action config.reload)" -ge 2
check_eq "audit: the three backups logged" "$(count_action backup)" 3
check "audit: backup kind recorded" bash -c "printf '%s\n' \"\$1\" | grep -q '\"target\":\"backup:with-keys\"'" _ "$AUD"
check "audit verify passes" rd audit verify

# ---- (e) 503 with Retry-After when the writer queue is full ------------------------------

daemon_stop
conf_put "$T/redactd.conf" queue_size 16
daemon_start
BEFORE=$(db_count)
mkdir -p "$T/flood"
batch_body() {  # 12 records: two such jobs never fit a 16-record queue together
	local msgs="" k
	for k in $(seq 1 12); do msgs="$msgs{\"conversation_id\":\"$1\",\"text\":\"flood $1 turn $k\"},"; done
	printf '{"messages":[%s]}' "${msgs%,}"
}
flood_round() {
	local pids=() i
	for i in $(seq 1 40); do
		curl -s -o "$T/flood/$1-$i.body" -D "$T/flood/$1-$i.hdr" -w '%{http_code}\n' \
			-H "Authorization: Bearer $INGEST_TOKEN" -H 'Content-Type: application/json' \
			--data-binary "$(batch_body "flood-$1-$i")" "$BASE/v1/messages" > "$T/flood/$1-$i.code" &
		pids+=($!)
	done
	wait "${pids[@]}"
}
for round in 1 2 3 4 5 6 7 8; do
	flood_round "$round"
	grep -lx 503 "$T"/flood/*.code >/dev/null 2>&1 && break
done
N503=$(cat "$T"/flood/*.code | grep -cx 503)
N201=$(cat "$T"/flood/*.code | grep -cx 201)
NOTHER=$(cat "$T"/flood/*.code | grep -cvxE '201|503')
check "a full writer queue answers 503" test "$N503" -ge 1
check "the flood also got 201s" test "$N201" -ge 1
check_eq "no answer other than 201 and 503" "$NOTHER" 0
ONE503=$(grep -lx 503 "$T"/flood/*.code | head -n 1); ONE503=${ONE503%.code}
check "the 503 carries Retry-After" grep -qi '^Retry-After: [0-9]' "$ONE503.hdr"
check_eq "the 503 says busy" "$(jq -r .error.code "$ONE503.body")" busy
check_eq "exactly the 201'd records were stored" "$(db_count)" $((BEFORE + 12 * N201))
BAD=0
for f in $(grep -lx 201 "$T"/flood/*.code); do
	conv=$(basename "$f" .code); conv="flood-$conv"
	req GET "/v1/conversations/$conv" "$READ_TOKEN"
	# Same timestamp for the whole batch, so compare the set of texts.
	[ "$(jget "[.messages[].text | select(test(\"^flood $conv turn ([1-9]|1[0-2])\$\"))] | unique | length")" = 12 ] \
		&& [ "$(jget '.messages | length')" = 12 ] || BAD=$((BAD + 1))
done
check_eq "every 201'd batch reads back whole" "$BAD" 0
for f in $(grep -lx 503 "$T"/flood/*.code); do
	conv="flood-$(basename "$f" .code)"
	req GET "/v1/conversations/$conv" "$READ_TOKEN"
	[ "$STATUS" = 404 ] || BAD=$((BAD + 1))
done
check_eq "no 503'd batch was stored" "$BAD" 0
check "audit verify passes at the end" rd audit verify
check "no sanitizer report from the other daemons" bash -c "! cat '$T/daemon2.log' '$T/old.log' 2>/dev/null | grep -q Sanitizer"

finish
