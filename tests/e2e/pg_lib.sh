# tests/e2e/pg_lib.sh — a PostgreSQL database for an e2e test (issue 19).
# Source after lib.sh. pg_setup makes a database of the test's own on the
# run's cluster (REDACTD_TEST_PG_URL, set by tests/run.sh), or on a cluster
# it starts itself when run alone; without PostgreSQL it skips, saying so
# (under make test, REDACTD_TEST_PG_REQUIRED=1, it fails instead).
# Sets PG_DB, PG_HOST, PG_URL (no password) and PG_PASSWORD_FILE.

PG_OWN=""
pg_setup() {
	if [ -z "${REDACTD_TEST_PG_URL:-}" ]; then
		# Not under $T (0700): the server's user must reach the directory.
		PG_OWN="${TMPDIR:-/tmp}/redactd-pg-e2e-$$"
		if ! REDACTD_TEST_PG_URL=$(sh "$(dirname "$0")/../pg_cluster.sh" start "$PG_OWN" 2>"$T/pg_start.log"); then
			if [ -n "${REDACTD_TEST_PG_REQUIRED:-}" ]; then
				echo "not ok - no PostgreSQL cluster could be started"; cat "$T/pg_start.log"; FAILED=$((FAILED + 1))
			else
				echo "# skipped: no PostgreSQL server to test against (install postgresql)"
			fi
			return 1
		fi
	fi
	# postgresql://redactd:PW@/redactd?host=DIR
	local rest=${REDACTD_TEST_PG_URL#postgresql://}
	local cred=${rest%%@*}
	PG_PASSWORD=${cred#*:}
	PG_HOST=${REDACTD_TEST_PG_URL##*host=}
	PG_DB="e2e_$$_$RANDOM"
	PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d redactd -qAt \
		-c "CREATE DATABASE $PG_DB" >/dev/null || return 1
	PG_URL="postgresql://redactd@/$PG_DB?host=$PG_HOST"
	PG_PASSWORD_FILE="$T/pg.password"
	printf '%s\n' "$PG_PASSWORD" > "$PG_PASSWORD_FILE"
	chmod 600 "$PG_PASSWORD_FILE"
}

psql_t() {  # psql_t SQL: one value, on the test's database
	PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d "$PG_DB" -qAt -c "$1"
}

pg_config() {  # points $T/redactd.conf's [storage] at the test's database
	write_config
	sed -i "s|^key_file = .*|&\nbackend = postgresql\nurl = $PG_URL\npassword_file = $PG_PASSWORD_FILE|" "$T/redactd.conf"
}

pg_teardown() {
	[ -n "${PG_DB:-}" ] && PGPASSWORD=$PG_PASSWORD psql -h "$PG_HOST" -U redactd -d redactd -qAt \
		-c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1
	[ -n "$PG_OWN" ] && sh "$(dirname "$0")/../pg_cluster.sh" stop "$PG_OWN"
	return 0
}

start_nodes() {  # start_nodes N: N daemons on $T/redactd.conf, each on its own port -> PIDS[i], BASES[i]
	BASES=()
	local i port
	for i in $(seq 1 "$1"); do
		port=$(free_port)
		sed "s|^listen = .*|listen = 127.0.0.1:$port|" "$T/redactd.conf" > "$T/node$i.conf"
		"$BIN" serve -c "$T/node$i.conf" >>"$T/node$i.log" 2>&1 &
		PIDS[$i]=$!
		BASES[$i]=http://127.0.0.1:$port
		wait_healthy "${BASES[$i]}" "${PIDS[$i]}" || { echo "node $i did not start:"; cat "$T/node$i.log"; }
	done
}
