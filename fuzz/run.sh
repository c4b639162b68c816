#!/bin/sh
# `make fuzz`: build each libFuzzer harness with clang (ASan + UBSan) and run
# it for FUZZ_SECONDS (default 60) from the seed corpus in fuzz/corpus/NAME.
set -e
SECS=${FUZZ_SECONDS:-60}
PKGS="libpcre2-8 sqlite3 libsodium libmicrohttpd jansson inih nettle"
out=build-fuzz; mkdir -p "$out"
for h in fuzz/fuzz_*.c; do
	name=$(basename "$h" .c)
	clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
		$(pkg-config --cflags $PKGS) -o "$out/$name" "$h" $(ls src/*.c | grep -v src/main.c) \
		$(pkg-config --libs $PKGS) -lpthread -lm
	mkdir -p "fuzz/corpus/$name" "$out/corpus-$name"
	echo "== $name ($SECS s)"
	"$out/$name" -max_total_time="$SECS" -max_len=8192 "$out/corpus-$name" "fuzz/corpus/$name" 2>&1 | tail -n 3
done
