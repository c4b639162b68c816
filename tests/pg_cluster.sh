#!/bin/sh
# A throwaway PostgreSQL cluster for the tests (issue 19).
#
#   tests/pg_cluster.sh start DIR   initdb into DIR/data, start it listening
#                                   only on a Unix socket in DIR (no TCP),
#                                   create the role and database `redactd`
#                                   (password in DIR/password, CREATEDB so a
#                                   test can make a database of its own), and
#                                   print the URL the tests connect with.
#   tests/pg_cluster.sh stop DIR    stop the server by the pid in
#                                   DIR/data/postmaster.pid, remove DIR.
#
# initdb refuses to run as root: as root the server runs as the `postgres`
# system user the Debian package creates, and DIR belongs to it (root still
# reaches the socket). The role connects with scram-sha-256 on the socket;
# only the `postgres` superuser is trusted, for this setup.
set -eu
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$bindir/initdb" ] || { echo "pg_cluster: no PostgreSQL server (install postgresql)" >&2; exit 3; }

as_owner() {   # runs "$@" as the cluster's owner
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
	mkdir -p "$dir"
	chmod 700 "$dir"
	if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$(dirname "$dir")"; then
		echo "pg_cluster: the postgres user cannot reach $(dirname "$dir"): use a directory it can (TMPDIR)" >&2
		rmdir "$dir"; exit 1
	fi
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	# No TCP at all; the socket lives in the private directory.
	cat >>"$dir/data/postgresql.conf" <<-EOF
	listen_addresses = ''
	unix_socket_directories = '$dir'
	fsync = on
	synchronous_commit = on
	max_connections = 200
	shared_buffers = 64MB
	log_min_messages = warning
	EOF
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
		{ cat "$dir/server.log" >&2; exit 1; }
	pw=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
	as_owner "$bindir/psql" -h "$dir" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
		-c "CREATE ROLE redactd LOGIN CREATEDB PASSWORD '$pw'" \
		-c "CREATE DATABASE redactd OWNER redactd" >/dev/null
	printf '%s\n' "$pw" >"$dir/password"
	chmod 600 "$dir/password"
	# From now on the role must give its password.
	printf 'local all postgres trust\nlocal all all scram-sha-256\n' >"$dir/data/pg_hba.conf"
	as_owner "$bindir/pg_ctl" -D "$dir/data" reload >/dev/null
	echo "postgresql://redactd:$pw@/redactd?host=$dir"
	;;
stop)
	pidfile="$dir/data/postmaster.pid"
	if [ -f "$pidfile" ]; then
		pid=$(head -n 1 "$pidfile")
		# SIGINT: fast shutdown (clients cut off, clean checkpoint).
		kill -INT "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
