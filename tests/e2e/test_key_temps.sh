#!/usr/bin/env bash
# End to end (issue 11, finding 4): a `redactd key rotate` killed between
# writing its temporary key file and renaming it leaves
# "master.key.tmp-XXXXXX", key material, beside the key. The next rotation
# and the next `serve` start wipe and remove such files and log their path,
# never their content. Other files beside the key are left alone, and a
# symbolic link of that name is removed without writing through it.
. "$(dirname "$0")/lib.sh"
write_config
"$BIN" keygen -o "$T/master.key" 2>/dev/null
hexkey() { od -An -v -tx1 "$1" | tr -d ' \n'; }

# What an interrupted rotation leaves: a copy of a key under a temp name.
"$BIN" keygen -o "$T/new.key" 2>/dev/null
cp "$T/new.key" "$T/master.key.tmp-Ab12Cd"
cp "$T/new.key" "$T/master.key.tmp-zz99zz"
chmod 600 "$T"/master.key.tmp-*
ln "$T/master.key.tmp-Ab12Cd" "$T/second-name"  # shows what became of the bytes
echo keep > "$T/master.key.tmp-notes"          # not mkostemp's six characters
echo target > "$T/elsewhere"
ln -s "$T/elsewhere" "$T/master.key.tmp-LINK01"
OUT=$(rd key rotate --new-key "$T/new.key" 2>&1)
check "rotation succeeds" bash -c "printf '%s' \"\$1\" | grep -q 're-wrapped'" _ "$OUT"
check "rotation removed both temporary key files" bash -c "! ls '$T'/master.key.tmp-Ab12Cd '$T'/master.key.tmp-zz99zz 2>/dev/null"
check "and says so with their path" bash -c "printf '%s' \"\$1\" | grep -q 'wiped and removed $T/master.key.tmp-Ab12Cd, left by an interrupted key rotation'" _ "$OUT"
check_eq "the key bytes were overwritten with zeros before the unlink" "$(hexkey "$T/second-name")" "$(printf '%064d' 0)"
check "a symbolic link of that name is removed" test ! -L "$T/master.key.tmp-LINK01"
check_eq "without writing through it" "$(cat "$T/elsewhere")" target
check "another file beside the key is left alone" test -f "$T/master.key.tmp-notes"
check "no key material in the output" bash -c "! printf '%s' \"\$1\" | grep -qF \"\$(od -An -tx1 '$T/new.key' | tr -d ' \n')\"" _ "$OUT"
check "the rotation left no temporary file of its own" bash -c "! ls '$T'/master.key.tmp-?????? 2>/dev/null"

# Another leftover, found by serve at start.
cp "$T/master.key" "$T/master.key.tmp-Qw34Er"
INODE_KEY=$(hexkey "$T/master.key")
daemon_start || { finish; exit 1; }
check "serve removed the temporary key file at start" test ! -e "$T/master.key.tmp-Qw34Er"
check "and logged its path" grep -q "wiped and removed $T/master.key.tmp-Qw34Er" "$T/daemon.log"
check "the log holds no key material" bash -c "! grep -aqF '$INODE_KEY' '$T/daemon.log'"
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"k1","text":"still works"}'
check_eq "the daemon serves with the rotated key" "$STATUS" 201
finish
