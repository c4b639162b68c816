#!/usr/bin/env bash
# End to end (issue 17): backups expire. Backups in [backup] directory
# older than [backup] retention are removed by the sweeper (`redactd sweep`
# and the daemon's own thread), each with a backup.expire audit entry;
# foreign files there (text, another SQLite database, a copy of the live
# database) are never touched, nor backups within retention; erasure
# journal entries expire with them, after which a restore of a backup kept
# elsewhere is refused unless --force.
. "$(dirname "$0")/lib.sh"
DAEMON_EXTRA_CONF="
[backup]
directory = $T/backups
retention = 1h"
mkdir -p "$T/backups"
daemon_start || { finish; exit 1; }

req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"c-1","text":"mail me at eve@example.com"}'
check_eq "ingest" "$STATUS" 201

rd backup >/dev/null 2>&1; check_eq "backup 1 into the directory" "$?" 0
sleep 0.01
rd backup "$T/backups/second.db" >/dev/null 2>&1; check_eq "backup 2, DEST inside the directory" "$?" 0
rd backup "$T/elsewhere.db" >/dev/null 2>&1; check_eq "backup 3, outside the directory" "$?" 0
# Foreign files the sweeper must leave alone, all older than any retention.
printf 'operator notes, not a database\n' > "$T/backups/notes.txt"
sqlite3 "$T/backups/other-app.db" "CREATE TABLE t (x); INSERT INTO t VALUES (1);"
sqlite3 "file:$T/redactd.db?mode=ro" ".backup '$T/backups/live-copy.db'"
ln -s "$T/elsewhere.db" "$T/backups/link.db"
touch -d '2000-01-01' "$T/backups/notes.txt" "$T/backups/other-app.db" "$T/backups/live-copy.db"
N_BACKUPS=$(ls "$T/backups" | wc -l)
check_eq "six files in the directory" "$N_BACKUPS" 6

OUT=$(rd sweep 2>&1)
check_eq "within retention: nothing removed, nothing added" "$(ls "$T/backups" | wc -l)" 6

# An erasure now journals c-1; then everything is made to look two hours old.
req DELETE /v1/conversations/c-1 "$ADMIN_TOKEN"
check_eq "erase c-1" "$(jget '.removed')" 1
OLD=$(( ($(date +%s) - 7200) * 1000 ))
for f in "$T/backups"/redactd-*.db "$T/backups/second.db" "$T/elsewhere.db"; do
	sqlite3 "$f" "UPDATE backup_meta SET taken_ms = $OLD"
done
sqlite3 "$T/redactd.db" "UPDATE erasure_journal SET ts_ms = $OLD"

OUT=$(rd sweep 2>&1); RC=$?
check_eq "sweep: exit 0" "$RC" 0
check "sweep reports the expired backups" bash -c "printf '%s' \"\$1\" | grep -q '2 expired backup(s)'" _ "$OUT"
check "expired backup 1 removed" bash -c "! ls '$T/backups'/redactd-*.db >/dev/null 2>&1"
check "expired backup 2 removed" test ! -e "$T/backups/second.db"
check "the text file is kept" test -e "$T/backups/notes.txt"
check "the other SQLite database is kept" test -e "$T/backups/other-app.db"
check "the copy of the live database is kept (not a backup)" test -e "$T/backups/live-copy.db"
check "the symlink is kept" test -L "$T/backups/link.db"
check_eq "nothing was created beside the foreign files" "$(ls "$T/backups" | wc -l)" 4
check "a backup outside the directory is not the sweeper's" test -e "$T/elsewhere.db"

AUD=$(rd audit list 2>/dev/null)
check_eq "two backup.expire audit entries" "$(printf '%s\n' "$AUD" | grep -c '"action":"backup.expire"')" 2
check "the entry names the file, nothing else" bash -c \
	"printf '%s\n' \"\$1\" | grep '\"backup.expire\"' | grep -q '\"target\":\"backup:second.db\",\"count\":1'" _ "$AUD"
check "the expired journal entry is audited" bash -c \
	"printf '%s\n' \"\$1\" | grep -q '\"action\":\"journal.expire\",\"target\":\"erasure_journal\",\"count\":1'" _ "$AUD"
check_eq "the journal entry is gone" \
	"$(sqlite3 "file:$T/redactd.db?mode=ro" 'SELECT count(*) FROM erasure_journal')" 0

# The journal no longer covers the backup kept elsewhere: refused unless --force.
rd restore "$T/elsewhere.db" --to "$T/r.db" >/dev/null 2>"$T/err"
check_eq "restore of a backup the journal no longer covers: exit 1" "$?" 1
check "it says why" grep -q "no longer covers this backup" "$T/err"
rd restore "$T/elsewhere.db" --to "$T/r.db" --force >/dev/null 2>&1
check_eq "--force restores it" "$?" 0

# The first backup without DEST creates the directory.
cp "$T/redactd.conf" "$T/newdir.conf"
sed -i "s|^directory = .*|directory = $T/newdir|" "$T/newdir.conf"
"$BIN" backup -c "$T/newdir.conf" >/dev/null 2>&1
check_eq "backup without DEST creates [backup] directory: exit 0" "$?" 0
check_eq "the directory is 0700" "$(file_mode "$T/newdir")" 700
check "and holds the backup" bash -c "ls '$T/newdir'/redactd-*.db >/dev/null"

# The daemon's own sweeper expires them too.
rd backup "$T/backups/third.db" >/dev/null 2>&1
sqlite3 "$T/backups/third.db" "UPDATE backup_meta SET taken_ms = $OLD"
daemon_stop
sed -i "s|^sweep_interval = .*|sweep_interval = 1s|" "$T/redactd.conf"
daemon_start
check "the daemon's sweeper removes an expired backup" wait_for 10 test ! -e "$T/backups/third.db"
check "audited by the sweeper" wait_for 5 bash -c \
	"'$BIN' audit list -c '$T/redactd.conf' | grep '\"backup:third.db\"' | grep -q '\"actor\":\"sweeper\"'"
check "foreign files survive the daemon too" test -e "$T/backups/notes.txt" -a -e "$T/backups/other-app.db"

finish
