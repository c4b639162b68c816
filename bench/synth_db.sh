#!/usr/bin/env bash
# A large database in minutes instead of hours (issue 16): the daemon
# creates the schema and one data key, then SQL writes N chat-shaped rows
# (random bytes of a real record's sizes, a random conversation hash each,
# a subject link for one row in five, the conversation index filled), all
# dated now - 2 days so no retention purges them. For measuring how ingest
# behaves on a big database without growing one: bench/profile.sh with
# BENCH_DB=DIR/big.db. Rows are not real sealed records: reading them back
# fails, and only new ones are readable.
# Usage: bash bench/synth_db.sh BUILD_DIR DIR [N (3000000)]
set -euo pipefail
BUILD=${1:?build dir}; DIR=${2:?output dir}; N=${3:-3000000}
mkdir -p "$DIR"; rm -f "$DIR"/big.db*
PORT=18097
"$BUILD/redactd" keygen -o "$DIR/master.key" 2>/dev/null
cat > "$DIR/redactd.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
[storage]
database = $DIR/big.db
key_file = $DIR/master.key
[token "bench"]
sha256 = $(printf '%s' bench-ingest-token | sha256sum | cut -d' ' -f1)
scopes = ingest
CONF
"$BUILD/redactd" serve -c "$DIR/redactd.conf" 2>"$DIR/daemon.log" & PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
curl -sf -o /dev/null -H 'Content-Type: application/json' -H 'Authorization: Bearer bench-ingest-token' \
	-d '{"conversation_id":"seed","text":"hello, I am seed@example.com"}' "http://127.0.0.1:$PORT/v1/messages"
kill -TERM $PID; wait $PID || true; trap - EXIT
START=$(( ($(date +%s) - 2 * 86400) * 1000 ))
sqlite3 "$DIR/big.db" >/dev/null <<SQL
PRAGMA synchronous=OFF; PRAGMA cache_size=-200000;
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM s WHERE i <= $N)
INSERT INTO messages (id, record_id, tenant, conv_hash, ts_ms, received_ms, role, channel, category,
                      key_id, conv_ct, text_ct, meta_ct, entity_counts)
SELECT i, printf('m_%010x%014x', $START + i * 10, i), m.tenant, randomblob(32), $START + i * 10,
       $START + i * 10, m.role, m.channel, m.category, m.key_id, randomblob(66), randomblob(1005),
       randomblob(82), '{}' FROM s, (SELECT * FROM messages WHERE id = 1) m;
INSERT INTO subjects SELECT randomblob(32), tenant, conv_hash FROM messages WHERE id % 5 = 0;
INSERT OR IGNORE INTO conv_index SELECT tenant, conv_hash, id FROM messages;
UPDATE conv_index_state SET upto = (SELECT max(id) FROM messages);
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
echo "synth_db: $(sqlite3 "$DIR/big.db" 'SELECT count(*) FROM messages') records, $(du -m "$DIR/big.db" | cut -f1) MB in $DIR/big.db"
