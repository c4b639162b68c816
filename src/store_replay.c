/*
 * store_replay.c — the replay register's table (replay_ids) and the
 * writer's claim on it (store_replay.h). The writer prepares the claim
 * once (store_replay_start) and runs it before each message that carries a
 * provider id (store_writer.c).
 */
#include "store_int.h"
#include "store_replay.h"
#include "log.h"
#include "util.h"

const struct store_schema_step store_replay_schema[] = {
	/* 7: provider message ids, as keyed hashes (crypto: a subkey of
	 * LOOKUP, scoped by tenant and source), each beside the message it
	 * stored. WITHOUT ROWID: the hash is the key a claim probes. The
	 * trigger removes a row with its message, whoever deletes it. IF NOT
	 * EXISTS, as step 6: a database whose user_version was set back (an
	 * older backup's, a test's) re-runs it. */
	{ 7,
	"CREATE TABLE IF NOT EXISTS replay_ids ("
	"  id_hash BLOB PRIMARY KEY,"
	"  msg_id INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS replay_ids_msg ON replay_ids(msg_id);"
	"CREATE TRIGGER IF NOT EXISTS messages_unreplay AFTER DELETE ON messages BEGIN"
	"  DELETE FROM replay_ids WHERE msg_id = old.id;"
	" END;" },
};
const size_t store_replay_schema_count = RD_ARRAY_LEN(store_replay_schema);

int store_replay_start(struct store *st, char *err, size_t errlen)
{
	static const char sql[] = "INSERT OR IGNORE INTO replay_ids (id_hash, msg_id) VALUES (?1, ?2)";
	if (sqlite3_prepare_v3(st->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->ins_replay, NULL) !=
	    SQLITE_OK) {
		util_err(err, errlen, "cannot prepare the replay claim: %s", sqlite3_errmsg(st->wdb));
		return -1;
	}
	return 0;
}

int store_replay_claim(struct store *st, const unsigned char hash[CRYPTO_HASH_BYTES], int64_t msg_id)
{
	sqlite3_stmt *s = st->ins_replay;
	sqlite3_bind_blob(s, 1, hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, msg_id);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_error("store: replay claim failed: %s", sqlite3_errmsg(st->wdb));
		return -1;
	}
	return sqlite3_changes(st->wdb) ? 1 : 0;
}

enum rd_err store_replay_count(struct store_tx *tx, int64_t *out)
{
	if (tx->pg)
		return store_pg_replay_count(tx, out);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(tx->db, "SELECT count(*) FROM replay_ids", -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? RD_OK : RD_E_STORAGE;
}
