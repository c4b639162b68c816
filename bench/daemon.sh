# Sourced by bench/profile.sh, bench/reads.sh and bench/erase.sh: one
# redactd for a benchmark, with an ingest token ($TOKEN), a read token
# ($READ_TOKEN) and an admin token ($ADMIN_TOKEN).
# bench_daemon BUILD PORT starts it in $T on a fresh database, on a copy of
# BENCH_DB (its master.key beside it), or on BENCH_DB in place with
# BENCH_INPLACE=1; sets PID, BASE and DB. With BENCH_WARM=1 the database
# file is first put into the page cache as a running daemon's reads leave
# it (bench/warm_db.py: `cat` or `cp` leave large folios that make every
# checkpoint write cost more; 5.5 minutes for 15 GB). bench_conversation CONV posts a
# 50-turn conversation (an email, a phone number and an order number in
# every turn, a page in its metadata).
TOKEN=bench-ingest-token; READ_TOKEN=bench-read-token; ADMIN_TOKEN=bench-admin-token
bench_daemon() {
	DB=$T/bench.db
	if [ -n "${BENCH_DB:-}" ] && [ -n "${BENCH_INPLACE:-}" ]; then
		DB=$BENCH_DB; cp "$(dirname "$BENCH_DB")/master.key" "$T/master.key"
	elif [ -n "${BENCH_DB:-}" ]; then
		cp "$BENCH_DB" "$T/bench.db"; cp "$(dirname "$BENCH_DB")/master.key" "$T/master.key"
		sync   # else the copy's gigabytes are written back during the run, and every fsync waits
	else
		"$1/redactd" keygen -o "$T/master.key" 2>/dev/null
	fi
	if [ -n "${BENCH_DB:-}" ] && [ -n "${BENCH_WARM:-}" ]; then
		python3 bench/warm_db.py "$DB"
	fi
	cat > "$T/redactd.conf" <<CONF
[server]
listen = 127.0.0.1:$2
[storage]
database = $DB
key_file = $T/master.key
synchronous = full
[token "bench"]
sha256 = $(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
scopes = ingest
[token "reader"]
sha256 = $(printf '%s' "$READ_TOKEN" | sha256sum | cut -d' ' -f1)
scopes = read
[token "admin"]
sha256 = $(printf '%s' "$ADMIN_TOKEN" | sha256sum | cut -d' ' -f1)
scopes = admin
CONF
	"$1/redactd" serve -c "$T/redactd.conf" 2>"$T/daemon.log" & PID=$!
	BASE=http://127.0.0.1:$2
	for _ in $(seq 1 600); do curl -sf "$BASE/healthz" >/dev/null && return 0; sleep 0.05; done
	echo "bench: the daemon did not start"; tail -5 "$T/daemon.log"; return 1
}
bench_conversation() {
	for i in $(seq 1 50); do
		printf '{"conversation_id":"%s","text":"turn %d: reach me at bench.reader@example.org or +44 7700 900123 about order 1234","metadata":{"page":"/orders/%d"}}' \
			"$1" "$i" "$i"
	done | jq -s '{messages: .}' > "$T/conv.json"
	curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data-binary @"$T/conv.json" "$BASE/v1/messages"
}
