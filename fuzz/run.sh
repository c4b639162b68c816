#!/bin/sh
# `make fuzz`: build each libFuzzer harness with clang (ASan + UBSan) and run
# it for FUZZ_SECONDS (default 60) from the seed corpus in fuzz/corpus/NAME.
# The sources are compiled once into build-fuzz/obj, then linked into each
# harness. New inputs that reach new code go to build-fuzz/corpus-NAME (not
# committed; copy the interesting ones into fuzz/corpus/NAME); a crash or
# leak leaves its input in fuzz/crashers/ (committed once fixed, replayed by
# the next run) and makes the run fail.
# FUZZ_ONLY=name runs one harness.
set -eu
SECS=${FUZZ_SECONDS:-60}
PKGS="libpcre2-8 sqlite3 libsodium libmicrohttpd jansson inih nettle gnutls libsystemd libcurl expat libpq"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
out=build-fuzz
mkdir -p "$out/obj" fuzz/crashers
for s in src/*.c; do
	[ "$s" = src/main.c ] && continue
	o="$out/obj/$(basename "$s" .c).o"
	if [ ! -f "$o" ] || [ -n "$(find "$s" include -newer "$o" -name '*.[ch]' 2>/dev/null | head -n 1)" ]; then
		clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link $SAN -Iinclude \
			$(pkg-config --cflags $PKGS) -c "$s" -o "$o"
	fi
done
# An object whose source was renamed or removed would be linked beside its
# successor (the harnesses link every object): gone with its source.
for o in "$out"/obj/*.o; do
	[ -f "src/$(basename "$o" .o).c" ] || rm -f "$o"
done
rc=0
for h in fuzz/fuzz_*.c; do
	name=$(basename "$h" .c)
	[ -n "${FUZZ_ONLY:-}" ] && [ "$FUZZ_ONLY" != "$name" ] && continue
	clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer $SAN -Iinclude \
		$(pkg-config --cflags $PKGS) -o "$out/$name" "$h" "$out"/obj/*.o \
		$(pkg-config --libs $PKGS) -lpthread -lm
	mkdir -p "fuzz/corpus/$name" "$out/corpus-$name"
	# Earlier crashers first: each must run clean now.
	for c in fuzz/crashers/"$name"-*; do
		[ -f "$c" ] || continue
		"$out/$name" "$c" >"$out/$name.replay.log" 2>&1 || { echo "== $name: $c still fails"; rc=1; }
	done
	echo "== $name ($SECS s)"
	if "$out/$name" -max_total_time="$SECS" -max_len=8192 -timeout=10 \
		-artifact_prefix="fuzz/crashers/$name-" \
		"$out/corpus-$name" "fuzz/corpus/$name" >"$out/$name.log" 2>&1; then
		tail -n 2 "$out/$name.log"
	else
		echo "== $name FAILED; input in fuzz/crashers/, log in $out/$name.log"
		grep -m 5 -E 'ERROR|SUMMARY' "$out/$name.log" || tail -n 20 "$out/$name.log"
		rc=1
	fi
done
exit $rc
