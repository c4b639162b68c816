#!/bin/sh
# Build and run one unit test against just the sources it needs, with the
# project's flags, without building the whole tree (handy while other
# modules are half-written). Usage:
#   tools/unit.sh tests/unit/test_redact.c src/redact.c [more src...]
# util.c, log.c and common.c are always linked.
set -e
t=$1; shift
out=${UNIT_OUT:-/tmp/redactd-unit-$(id -u)}; mkdir -p "$out"
PKGS="libpcre2-8 sqlite3 libsodium libmicrohttpd jansson inih"
bin="$out/$(basename "$t" .c)"
cc -std=c17 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
   -Wmissing-prototypes -Wformat=2 -Wvla -Iinclude -Itests/unit $(pkg-config --cflags $PKGS) \
   ${SAN:+-fsanitize=address,undefined -fno-omit-frame-pointer} \
   -o "$bin" "$t" "$@" src/util.c src/log.c src/common.c $(pkg-config --libs $PKGS) -lpthread -lm
"$bin"
