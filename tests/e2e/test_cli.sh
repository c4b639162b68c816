#!/usr/bin/env bash
# The command line: keygen, check-config, redact.
. "$(dirname "$0")/lib.sh"
write_config

"$BIN" keygen -o "$T/k1" 2>/dev/null
check_eq "keygen exit 0" "$?" 0
check_eq "keygen makes 32 bytes" "$(stat -c %s "$T/k1")" 32
check_eq "keygen mode 0600" "$(stat -c %a "$T/k1")" 600
cp "$T/k1" "$T/k1.copy"
"$BIN" keygen -o "$T/k1" 2>/dev/null
check_eq "keygen refuses to overwrite (exit 1)" "$?" 1
check "keygen left the old key alone" cmp "$T/k1" "$T/k1.copy"
"$BIN" keygen 2>/dev/null
check_eq "keygen without -o is a usage error" "$?" 2

"$BIN" check-config -c "$T/redactd.conf" >/dev/null 2>&1
check_eq "check-config wants the key file the config names" "$?" 2
"$BIN" keygen -o "$T/master.key" 2>/dev/null
"$BIN" check-config -c "$T/redactd.conf" >/dev/null 2>&1
check_eq "check-config accepts a good config" "$?" 0
cp "$T/redactd.conf" "$T/bad.conf"
printf '\n[server]\nlisten = 127.0.0.1:1\nthreds = 4\n\n[rule "broken"]\npattern = (unclosed\nentity = THING\n' >> "$T/bad.conf"
OUT=$("$BIN" check-config -c "$T/bad.conf" 2>&1); RC=$?
check_eq "check-config rejects a bad config (exit 2)" "$RC" 2
LINE=$(grep -n '^threds' "$T/bad.conf" | cut -d: -f1)
check "check-config names file:line of the unknown key" bash -c "printf '%s' \"\$1\" | grep -q \"bad.conf:$LINE:\"" _ "$OUT"
printf '[server]\nlisten = 127.0.0.1:1\n[rule "broken"]\npattern = (unclosed\nentity = THING\n' > "$T/bad2.conf"
printf '[storage]\ndatabase = %s/x.db\nkey_file = %s/k1\n' "$T" "$T" >> "$T/bad2.conf"
OUT=$("$BIN" check-config -c "$T/bad2.conf" 2>&1); RC=$?
check_eq "check-config rejects a pattern that does not compile" "$RC" 2
check "pattern error names file:line" bash -c "printf '%s' \"\$1\" | grep -q 'bad2.conf:4:'" _ "$OUT"
"$BIN" check-config -c "$T/missing.conf" >/dev/null 2>&1
check_eq "check-config on a missing file exits 2" "$?" 2

OUT=$(printf 'mail jane@example.com or ring 020 7946 0018' | "$BIN" redact -c "$T/redactd.conf")
check_eq "redact stdin to stdout" "$OUT" "mail [EMAIL] or ring [PHONE]"
OUT=$(printf 'mail jane@example.com' | "$BIN" redact --json -c "$T/redactd.conf")
check_eq "redact --json output" "$(printf '%s' "$OUT" | jq -c '[.redacted, .findings[0].entity, .findings[0].start, .findings[0].end]')" '["mail [EMAIL]","EMAIL",5,21]'
printf 'caf\xc3\x28' | "$BIN" redact -c "$T/redactd.conf" >/dev/null 2>&1
check_eq "redact rejects invalid UTF-8" "$?" 1
"$BIN" redact --channel fax -c "$T/redactd.conf" </dev/null >/dev/null 2>&1
check_eq "redact with an unknown channel exits 2" "$?" 2
"$BIN" frobnicate >/dev/null 2>&1
check_eq "unknown command exits 2" "$?" 2
check "--help exits 0" "$BIN" --help
check "serve --help exits 0" "$BIN" serve --help
check "no database was created by CLI redact" test ! -e "$T/redactd.db"
finish
