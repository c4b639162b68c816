#!/usr/bin/env bash
# check-config (the unit's ExecStartPre) checks everything serve will open,
# and reports every problem in one pass as FILE:LINE; serve and the admin
# commands refuse to start on the same problems with the same lines. Admin
# commands read key_file = credential:NAME outside the unit from the
# config's directory (where the shipped unit's LoadCredential= takes it).
. "$(dirname "$0")/lib.sh"
write_config
"$BIN" keygen -o "$T/master.key" 2>/dev/null
unset CREDENTIALS_DIRECTORY
line_of() { grep -n "^$1" "$2" | head -n 1 | cut -d: -f1; }
has() { printf '%s' "$OUT" | grep -qF -- "$1"; }

rd check-config >/dev/null 2>&1
check_eq "a good config passes" "$?" 0

# Every kind of problem in one file: parse errors, rules that do not
# compile, and files that are missing, unreadable or wrong.
cp "$T/redactd.conf" "$T/all.conf"
sed -i "s|^database = .*|database = $T/no-such-dir/redactd.db|; s|^key_file = .*|key_file = $T/missing.key|" "$T/all.conf"
printf '%s\n' 'secret' > "$T/tw.token"; chmod 000 "$T/tw.token"
: > "$T/empty.token"
cat >> "$T/all.conf" <<CONF
[audit]
retension = 1d
[rule "one"]
pattern = (unclosed
entity = ONE
[rule "two"]
pattern = [z-a]
entity = TWO
[source "twilio"]
secret_file = $T/tw.token
[source "whatsapp"]
secret_file = credential:meta.secret
verify_token_file = $T/empty.token
CONF
sed -i "/^\[server\]/a tls_cert = $T/no.crt\ntls_key = $T/no.key" "$T/all.conf"
OUT=$("$BIN" check-config -c "$T/all.conf" 2>&1); RC=$?
check_eq "problems exit 2" "$RC" 2
F="$T/all.conf"
check "parse error with its line" has "$F:$(line_of retension "$F"): unknown key"
check "first rule's compile error in the same pass" has "$F:$(line_of 'pattern = (unclosed' "$F"): rule one"
check "second rule's compile error too" has "$F:$(line_of 'pattern = \[z-a\]' "$F"): rule two"
check "missing key file: its line, path and the fix" has "$F:$(line_of key_file "$F"): key_file: cannot open key file $T/missing.key: No such file or directory; make one with \`redactd keygen"
check "missing database directory: its line and the fix" has "$F:$(line_of database "$F"): database = $T/no-such-dir/redactd.db: directory $T/no-such-dir: No such file or directory; create it"
check "unreadable TLS files" has "$F:$(line_of tls_cert "$F"): tls_cert = $T/no.crt: cannot read"
check "missing credential named with the path looked at" has "$F:$(line_of 'secret_file = credential' "$F"): secret_file = credential:meta.secret: cannot read $T/meta.secret"
check "empty verify token" has "$F:$(line_of verify_token_file "$F"): verify_token_file = $T/empty.token: $T/empty.token is empty"
if [ "$(id -u)" != 0 ]; then
	check "unreadable secret file" has "$F:$(line_of "secret_file = $T/tw.token" "$F"): secret_file = $T/tw.token: cannot read $T/tw.token: Permission denied"
fi
check_eq "problems listed in file order" "$(printf '%s\n' "$OUT" | cut -d: -f2 | sort -n | tr '\n' ' ')" "$(printf '%s\n' "$OUT" | cut -d: -f2 | tr '\n' ' ')"
check "nothing was created" test ! -e "$T/no-such-dir"

# A loose key file: check-config, serve and an admin command all say so.
cp "$T/master.key" "$T/loose.key"; chmod 644 "$T/loose.key"
conf_variant "$T/loose.conf" 1 "key_file=$T/loose.key"
OUT=$("$BIN" check-config -c "$T/loose.conf" 2>&1); RC=$?
check_eq "key file readable by others: exit 2" "$RC" 2
check "key mode problem names line and chmod" has "$T/loose.conf:$(line_of key_file "$T/loose.conf"): key_file: $T/loose.key: key file mode 644 lets group or others read it; chmod 600 it"
OUT=$("$BIN" serve -c "$T/loose.conf" 2>&1); RC=$?
check_eq "serve refuses it: exit 2" "$RC" 2
check "serve names the config line" has "$T/loose.conf:$(line_of key_file "$T/loose.conf"): key_file:"
OUT=$("$BIN" stats -c "$T/loose.conf" 2>&1); RC=$?
check_eq "stats refuses it: exit 2" "$RC" 2

# credential:NAME outside the unit: read beside the config file.
mkdir -m 700 "$T/etc"
cp "$T/master.key" "$T/etc/master.key"
conf_variant "$T/etc/redactd.conf" 1 "key_file=credential:master.key"
"$BIN" check-config -c "$T/etc/redactd.conf" >/dev/null 2>&1
check_eq "check-config resolves credential:NAME beside the config" "$?" 0
for cmd in "stats" "sweep --dry-run" "audit verify" "hold list" "export --email a@example.com" \
           "erase --conversation none" "backup $T/b.db"; do
	# shellcheck disable=SC2086
	OUT=$("$BIN" $cmd -c "$T/etc/redactd.conf" 2>&1); RC=$?
	check_eq "$cmd with key_file = credential:master.key outside the unit" "$RC" 0
done
check "admin commands print no info lines" bash -c "! \"$BIN\" stats -c \"$T/etc/redactd.conf\" 2>&1 | grep -q ' info '"
check "-v shows them" bash -c "\"$BIN\" stats -v -c \"$T/etc/redactd.conf\" 2>&1 | grep -q ' info store: opened'"
mkdir -m 700 "$T/creds"; cp "$T/master.key" "$T/creds/master.key"; rm "$T/etc/master.key"
OUT=$(CREDENTIALS_DIRECTORY="$T/creds" "$BIN" stats -c "$T/etc/redactd.conf" 2>&1); RC=$?
check_eq "\$CREDENTIALS_DIRECTORY still wins" "$RC" 0
OUT=$("$BIN" stats -c "$T/etc/redactd.conf" 2>&1); RC=$?
check_eq "no credential beside the config: exit 2" "$RC" 2
check "and the error says where it looked" has "cannot open key file $T/etc/master.key"

# A webhook secret is read per request (a rotated file takes effect at
# once): serve starts without it but warns, with the line, at start.
printf '[source "twilio"]\nsecret_file = %s/absent.token\n' "$T" >> "$T/redactd.conf"
daemon_start || { finish; exit 1; }
check "serve warns about an unreadable webhook secret, with its line" grep -q \
	"warn $T/redactd.conf:$(line_of 'secret_file' "$T/redactd.conf"): secret_file = $T/absent.token: cannot read .*answers 503 until it is fixed" "$T/daemon.log"
finish
