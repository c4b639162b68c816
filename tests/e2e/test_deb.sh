#!/usr/bin/env bash
# The Debian package (issue 12; docs/operations.md, "Debian package"): `make deb` builds
# it with dpkg-buildpackage from a copy of the tree into this test's temp
# dir, then its contents are checked (binary, unit, conffile, manual pages,
# dependencies from shlibs), lintian must report no error or warning, and
# the maintainer scripts run against a scratch root ($DPKG_ROOT) with
# deb-systemd-helper, deb-systemd-invoke and systemctl replaced by stubs
# that record their calls: the postinst makes the master key before
# anything touches the unit, and a purge keeps it. Nothing is installed on
# this machine.
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v dpkg-buildpackage >/dev/null 2>&1 || ! command -v dh >/dev/null 2>&1; then
	echo "ok - # SKIP dpkg-buildpackage or debhelper is not installed (.ci/run installs them)"
	PASSED=$((PASSED + 1))
	finish; exit
fi

# The build must leave the working tree and its parent as they were.
# (dpkg-buildpackage writes its results to the parent of the tree it builds.)
tree_state() { git -C "$REPO" status --porcelain --untracked-files=all 2>/dev/null; ls "$REPO/.." 2>/dev/null | grep '^redactd[_-]'; }
BEFORE=$(tree_state)

# nocheck: the unit tests the package build would run are part of this
# suite already. LINTIAN=: lintian runs below, where its output is checked.
D="$T/deb"
DEB_BUILD_OPTIONS=nocheck env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
	make -s -C "$REPO" deb DEBDIR="$D" LINTIAN= >"$T/build.log" 2>&1
RC=$?
check_eq "make deb: exit 0" "$RC" 0
[ "$RC" -eq 0 ] || tail -n 30 "$T/build.log" | sed 's/^/# /'
check_eq "the working tree and its parent are left as they were" "$(tree_state)" "$BEFORE"

VERSION=$(sed -n 's/^#define REDACTD_VERSION "\(.*\)"$/\1/p' "$REPO/include/redactd.h")
DEB=$(ls "$D"/redactd_*_*.deb 2>/dev/null | head -n 1)
check "one package, named for the version in include/redactd.h ($VERSION)" test -f "$D/redactd_${VERSION}_$(dpkg --print-architecture).deb"
[ -n "$DEB" ] || DEB=/nonexistent

dpkg-deb -c "$DEB" > "$T/contents" 2>/dev/null
mode_of() { awk -v p="./$1" '$6 == p { print $1, $2 }' "$T/contents"; }
check_eq "/usr/bin/redactd, 0755 root" "$(mode_of usr/bin/redactd)" "-rwxr-xr-x root/root"
check_eq "the unit in /lib/systemd/system, 0644" "$(mode_of lib/systemd/system/redactd.service)" "-rw-r--r-- root/root"
check_eq "/etc/redactd/redactd.conf, 0644 root" "$(mode_of etc/redactd/redactd.conf)" "-rw-r--r-- root/root"
for m in man8/redactd.8 man5/redactd.conf.5 man7/redactd-api.7; do
	check_eq "manual page $m (compressed)" "$(mode_of "usr/share/man/$m.gz")" "-rw-r--r-- root/root"
done
check "copyright and changelog in the doc directory" grep -q './usr/share/doc/redactd/copyright$' "$T/contents"
check "reference configs uncompressed, at the paths the README names" bash -c \
	"grep -q './usr/share/doc/redactd/redactd.conf.example\$' '$T/contents' && grep -q './usr/share/doc/redactd/redactd.conf.dist\$' '$T/contents'"
check "no master key, database or test file in the package" bash -c "! grep -Eq '\\.key\$|\\.db\$|/tests?/' '$T/contents'"

check_eq "conffiles: exactly /etc/redactd/redactd.conf" "$(dpkg-deb -I "$DEB" conffiles 2>/dev/null)" "/etc/redactd/redactd.conf"
DEPENDS=$(dpkg-deb -f "$DEB" Depends 2>/dev/null)
check "Depends from shlibs: libsodium, libmicrohttpd, libsqlite3, libpcre2" bash -c \
	"printf '%s' '$DEPENDS' | grep -q 'libsodium' && printf '%s' '$DEPENDS' | grep -q 'libmicrohttpd' && printf '%s' '$DEPENDS' | grep -q 'libsqlite3' && printf '%s' '$DEPENDS' | grep -q 'libpcre2-8'"
check "no build-only tool (curl, jq, clang) in Depends" bash -c "! printf '%s' '$DEPENDS' | grep -Eq '(^|[ ,|])(curl|jq|clang[^ ,]*)([ ,(|]|\$)|-dev'"
# forward.c loads libcurl with dlopen, so shlibs cannot see it: named by hand.
check "libcurl4 (tap mode's dlopen) in Depends" bash -c "printf '%s' '$DEPENDS' | grep -Eq '(^|[ ,])libcurl4([ ,(]|\$)'"

# Lintian: no error and no warning (info tags are overridden with reasons
# in debian/redactd.lintian-overrides, see debian/README.source).
if command -v lintian >/dev/null 2>&1; then
	lintian "$D"/redactd_*.changes >"$T/lintian.log" 2>&1
	LRC=$?
	grep -E '^[EWIPX]: ' "$T/lintian.log" | sed 's/^/# lintian: /'
	check_eq "lintian: exit 0" "$LRC" 0
	check "lintian: no error or warning" bash -c "! grep -Eq '^[EW]: ' '$T/lintian.log'"
else
	echo "ok - # SKIP lintian is not installed (.ci/run installs it)"; PASSED=$((PASSED + 1))
fi

# The maintainer scripts, against a scratch root.
CTL="$T/control"; R="$T/root"; S="$T/stubs"
dpkg-deb -e "$DEB" "$CTL" 2>/dev/null
dpkg-deb -x "$DEB" "$R" 2>/dev/null
P="$CTL/postinst"
first_line() { grep -n -- "$1" "$P" | head -n 1 | cut -d: -f1; }
KEYGEN_AT=$(first_line 'keygen -o'); SYSTEMD_AT=$(first_line 'deb-systemd-')
check "postinst: keygen comes before dh_installsystemd's code" test "${KEYGEN_AT:-999999}" -lt "${SYSTEMD_AT:-0}"
check_eq "postinst starts the unit in one place only" "$(grep -c 'deb-systemd-invoke\|systemctl.*start\|invoke-rc.d' "$P")" 1
check "the package has no init.d script to start it a second time" bash -c "! grep -q './etc/init.d/' '$T/contents'"

mkdir -p "$S"
for cmd in deb-systemd-helper deb-systemd-invoke systemctl; do
	# Each call is logged with whether the key existed at that moment.
	cat > "$S/$cmd" <<STUB
#!/bin/sh
k=nokey; [ -e "\$DPKG_ROOT/etc/redactd/master.key" ] && k=key
echo "$cmd \$* \$k" >> "$T/calls.log"
exit 0
STUB
	chmod +x "$S/$cmd"
done
run_script() {  # run_script NAME ARGS...: as dpkg would, with DPKG_ROOT=$R and the stubs first on PATH
	local name=$1; shift
	env DPKG_ROOT="$R" PATH="$S:$PATH" sh "$CTL/$name" "$@"
}
check "the scratch root has no key yet" test ! -e "$R/etc/redactd/master.key"
run_script postinst configure "" >"$T/postinst.log" 2>&1
check_eq "postinst configure (a first install): exit 0" "$?" 0
check_eq "it made the master key, 0600" "$(file_mode "$R/etc/redactd/master.key" 2>/dev/null)" 600
check_eq "a 32-byte key" "$(stat -c %s "$R/etc/redactd/master.key" 2>/dev/null)" 32
check "dh_installsystemd's code ran (enable)" grep -q "^deb-systemd-helper enable redactd.service" "$T/calls.log"
check "every call about the unit came after the key existed" bash -c "! grep -q ' nokey\$' '$T/calls.log'"
check "the installed config passes check-config with the new key" bash -c \
	"sed 's|^key_file = credential:master.key|key_file = $R/etc/redactd/master.key|; s|^database = /var/lib/redactd/|database = $T/|' '$R/etc/redactd/redactd.conf' > '$T/check.conf' && '$R/usr/bin/redactd' check-config -c '$T/check.conf'"
KEYSUM=$(sha256sum "$R/etc/redactd/master.key" | cut -d' ' -f1)
run_script postinst configure "$VERSION" >>"$T/postinst.log" 2>&1
check_eq "postinst configure (an upgrade): exit 0" "$?" 0
check_eq "an upgrade keeps the existing key" "$(sha256sum "$R/etc/redactd/master.key" | cut -d' ' -f1)" "$KEYSUM"

mkdir -p "$R/var/lib/private/redactd"; echo data > "$R/var/lib/private/redactd/redactd.db"
run_script prerm remove >>"$T/postinst.log" 2>&1 && run_script postrm remove >>"$T/postinst.log" 2>&1
check_eq "prerm and postrm remove: exit 0" "$?" 0
run_script postrm purge >"$T/purge.log" 2>&1
check_eq "postrm purge: exit 0" "$?" 0
check_eq "purge keeps the master key" "$(sha256sum "$R/etc/redactd/master.key" 2>/dev/null | cut -d' ' -f1)" "$KEYSUM"
check "purge keeps the database" test -f "$R/var/lib/private/redactd/redactd.db"
check "and says what it kept" bash -c "grep -q 'purge keeps .*master.key' '$T/purge.log' && grep -q 'purge keeps .*/var/lib/private/redactd' '$T/purge.log'"
check "no maintainer script deletes the key or the database" bash -c \
	"! grep -Eq 'rm .*(master\\.key|/var/lib/(private/)?redactd)' '$CTL/postinst' '$CTL/prerm' '$CTL/postrm'"
finish
