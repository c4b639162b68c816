#!/bin/sh
# Puts this machine back in the state of a new Debian 12 machine as far as
# redactd's build is concerned: the library -dev packages that such a
# machine lacks are removed, so the next `make test` or `make run` must
# install them itself (issue 12: the first `make test` used to link without
# libraries). pkg-config, libsqlite3-dev, nettle-dev and libexpat1-dev
# (python3-dev needs it) come with the machine image and stay; removing
# the postgresql metapackage makes `make deps` install the server again.
# Run as root; .ci/run calls it under CI=true.
set -eu
[ "$(id -u)" = 0 ] || { echo "fresh-machine.sh: needs root" >&2; exit 1; }
pkgs="libpcre2-dev libsodium-dev libmicrohttpd-dev libjansson-dev libinih-dev libsystemd-dev libpq-dev libcurl4-openssl-dev postgresql"
installed=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 && installed="$installed $p"; done
if [ -n "$installed" ]; then
	echo "fresh-machine: removing$installed"
	DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq $installed >/dev/null
fi
if pkg-config --exists libsodium 2>/dev/null; then
	echo "fresh-machine: libsodium is still visible to pkg-config" >&2
	exit 1
fi
