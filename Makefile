# redactd — plain Makefile. `make` builds build/redactd; see docs/development.md for targets.
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

PKGS    := libpcre2-8 sqlite3 libsodium libmicrohttpd jansson inih nettle gnutls libsystemd libcurl expat libpq
DEB_PKGS := pkg-config libpcre2-dev libsqlite3-dev libsodium-dev libmicrohttpd-dev \
            libjansson-dev libinih-dev nettle-dev libgnutls28-dev libsystemd-dev libcurl4-openssl-dev libexpat1-dev libpq-dev postgresql curl sqlite3 jq openssl strace clang libclang-rt-14-dev mandoc python3

# pkg-config runs when make reads this file. On a machine that has never
# built redactd the -dev packages are not there yet at that moment, so the
# targets that install them (test, run, asan) build in a second make, started
# after `deps`, which reads pkg-config afresh. A build without the packages
# stops at `libs-present` with what to install instead of failing to link.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl's headers only: forward.c loads it with dlopen when `serve` starts,
# so the CLI does not load its twenty libraries (about 4 MB of RSS).
# libpq likewise: store_pg_dl.c loads it when a store opens on postgresql.
PKG_LIBS   := $(filter-out -lcurl -lpq,$(shell pkg-config --libs $(PKGS) 2>/dev/null))

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wpointer-arith -Wundef
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -fstack-clash-protection
OPT     ?= -O2 -g
CFLAGS  ?=
CFLAGS  += -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) -Iinclude $(PKG_CFLAGS)
LDFLAGS += -pie -Wl,-z,relro,-z,now
LDLIBS  += $(PKG_LIBS) -lpthread -lm

SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRCS    := $(wildcard src/*.c)
LIBSRCS := $(filter-out src/main.c,$(SRCS))
OBJS    := $(LIBSRCS:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps libs-present run test test-bins unit e2e asan eval bench bench-deps soak fuzz install deb clean check-config lint

all: $(BUILD)/redactd

deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing packages:$$missing (run: sudo apt-get install$$missing)"; exit 1; fi; \
	fi

libs-present:
	@pkg-config --exists $(PKGS) 2>/dev/null || { \
	  echo "redactd: the build libraries are missing ($(PKGS))."; \
	  echo "  run 'make deps' as root (or: sudo apt-get install $(DEB_PKGS)); 'make test' and 'make run' do it for you"; \
	  exit 2; }

$(BUILD)/obj/%.o: src/%.c $(wildcard include/*.h src/*.h) | $(BUILD)/obj libs-present
	$(CC) $(CFLAGS) $(HARDEN) -c $< -o $@

# The name gazetteers are compiled into redact_names.o (.incbin).
$(BUILD)/obj/redact_names.o: $(wildcard data/names/*.txt)

# Made afresh each time: `ar r` never drops a member, so an object whose
# source was renamed or removed would stay in the archive and its stale
# copy of a symbol could be the one linked.
$(BUILD)/libredactd.a: $(OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/redactd: $(BUILD)/obj/main.o $(BUILD)/libredactd.a
	$(CC) $(CFLAGS) $(HARDEN) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The unit tests' allocations go through tests/unit/harness.h, which can fail
# any one of them (RD_ALLOC_FAIL, docs/development.md); the daemon's do not.
ALLOC_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=free

# Every fixture header (store_fixture.h, pg_fixture.h, ...): a change to
# one rebuilds the tests, as a change to include/ rebuilds the objects.
$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h include/*.h) $(BUILD)/libredactd.a | $(BUILD)/tests
	$(CC) $(CFLAGS) $(HARDEN) -Itests/unit -o $@ $< $(BUILD)/libredactd.a $(LDFLAGS) $(ALLOC_WRAP) $(LDLIBS) -lpq

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

# Development run: key and database live in dev/ (git-ignored).
run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p dev && chmod 700 dev
	@[ -f dev/master.key ] || $(BUILD)/redactd keygen -o dev/master.key
	@sh tools/dev-banner.sh
	$(BUILD)/redactd serve -c config/redactd.conf

test: deps
	@$(MAKE) --no-print-directory test-bins
	@sh tests/run.sh $(BUILD)

test-bins: all $(UNIT_BINS)

# The layering rules (issue 13): no SQL, <sqlite3.h> or sqlite3 symbol
# outside src/store*, no include cycle between modules. `make test` runs it
# too (tests/e2e/test_layers.sh, which also shows it catches each kind).
lint:
	@python3 tools/lint.py .

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g $(SANFLAGS)" LDFLAGS="$(SANFLAGS)" test

eval: all
	@sh tests/eval/run.sh $(BUILD)

# Benchmarks drive the daemon with wrk and plot with gnuplot: installed
# like the build libraries (apt-get when root).
BENCH_PKGS := wrk gnuplot-nox jq
bench-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(BENCH_PKGS)"

bench: all bench-deps
	@sh bench/run.sh $(BUILD)
	@FWD_DELAY_MS=5 bash bench/forward.sh $(BUILD) 30

# The growth run (bench/soak.sh): 10 M records, about an hour; SOAK_RECORDS
# and SOAK_EXPIRED make it shorter.
soak: all bench-deps
	@bash bench/soak.sh $(BUILD)

fuzz:
	@sh fuzz/run.sh

# Where systemd looks for units on Debian: /lib/systemd/system for a
# distribution-style install (PREFIX=/usr), $(PREFIX)/lib/systemd/system
# otherwise (/usr/local/lib/systemd/system is on systemd's search path).
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
DOCDIR  ?= $(PREFIX)/share/doc/redactd

# The production config goes in only where there is none: an operator's
# edited file is never overwritten (the shipped one is also in DOCDIR).
# 0644 root: the unit's DynamicUser must read it; it holds no secret.
install: all
	install -D -m 0755 $(BUILD)/redactd $(DESTDIR)$(PREFIX)/bin/redactd
	install -d -m 0755 $(DESTDIR)/etc/redactd $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 0644 config/redactd.conf $(DESTDIR)$(DOCDIR)/redactd.conf.example
	install -m 0644 config/redactd.prod.conf $(DESTDIR)$(DOCDIR)/redactd.conf.dist
	@if [ -e $(DESTDIR)/etc/redactd/redactd.conf ]; then \
	  echo "kept the existing $(DESTDIR)/etc/redactd/redactd.conf (the shipped one: $(DOCDIR)/redactd.conf.dist)"; \
	else \
	  echo "install -m 0644 config/redactd.prod.conf $(DESTDIR)/etc/redactd/redactd.conf"; \
	  install -m 0644 config/redactd.prod.conf $(DESTDIR)/etc/redactd/redactd.conf; \
	fi
	sed 's|/usr/local/bin/redactd|$(PREFIX)/bin/redactd|g' config/redactd.service \
		> $(DESTDIR)$(UNITDIR)/redactd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/redactd.service
	install -D -m 0644 contrib/bash-completion/redactd \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/redactd
	install -D -m 0644 man/redactd.8 $(DESTDIR)$(PREFIX)/share/man/man8/redactd.8
	install -D -m 0644 man/redactd.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/redactd.conf.5
	install -D -m 0644 man/redactd-api.7 $(DESTDIR)$(PREFIX)/share/man/man7/redactd-api.7

# The Debian package (docs/operations.md, "Debian package"): dpkg-buildpackage runs in a
# copy of the tree in $(DEBDIR) (tracked and untracked files, not ignored
# ones such as dev/ and its key), so the working tree and its build/ stay as
# they are; the .deb, .buildinfo and .changes land in $(DEBDIR). Lintian
# runs on the result when installed (LINTIAN= skips it) and fails the
# target on an error.
# MAKEFLAGS is dropped: debian/rules' own make must not inherit this one's
# variables (BUILD=...) or jobserver.
DEBDIR ?= $(BUILD)/deb
LINTIAN ?= lintian
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || { \
	  echo "make deb: needs dpkg-dev and debhelper (sudo apt-get install dpkg-dev debhelper lintian), and the build libraries (make deps)"; exit 2; }
	rm -rf $(DEBDIR) && mkdir -p $(DEBDIR)/redactd
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git ls-files -z --cached --others --exclude-standard | \
	    xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' _ | tar --null -T - -cf -; \
	else tar --exclude=./build --exclude='./build-*' --exclude=./dev --exclude='*.key' -cf - .; fi | \
	  tar -xf - -C $(DEBDIR)/redactd
	cd $(DEBDIR)/redactd && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS dpkg-buildpackage -b -us -uc --jobs-try=auto
	@if [ -z "$(LINTIAN)" ]; then :; elif command -v $(LINTIAN) >/dev/null; then \
	  echo "$(LINTIAN) $(DEBDIR)/*.changes"; $(LINTIAN) $(DEBDIR)/*.changes; \
	else echo "make deb: $(LINTIAN) is not installed, not run"; fi
	@ls -l $(DEBDIR)/*.deb

clean:
	rm -rf build build-*
