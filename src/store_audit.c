/*
 * store_audit.c — where the audit log's rows live: the audit module's
 * tables (audit_log, audit_checkpoint), their schema steps, and the typed
 * operations of store_audit.h.
 *
 * Workload: one or two appends per audited action (each reads the head and
 * the high mark, then inserts); verification walks the table once in seq
 * order. The hash chain itself is audit.c's: nothing here knows what a
 * hash covers.
 */
#include "store_int.h"
#include "log.h"

#include <string.h>

/* The audit module's part of schema version 2. seq is AUTOINCREMENT:
 * sqlite_sequence keeps the highest seq ever used, so removing the newest
 * entries leaves a visible gap (store_audit_high_mark). */
const struct store_schema_step store_audit_schema[] = {
	{ 2,
	"CREATE TABLE audit_log ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT," /* sqlite_sequence keeps the high mark */
	"  ts_ms INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  prev_hash BLOB NOT NULL,"
	"  hash BLOB NOT NULL);"
	"CREATE INDEX audit_log_ts ON audit_log(ts_ms);"
	/* The last purged entry: where verification of the rest starts. */
	"CREATE TABLE audit_checkpoint ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  seq INTEGER NOT NULL,"
	"  hash BLOB NOT NULL,"
	"  purged_ms INTEGER NOT NULL);" },
};
const size_t store_audit_schema_count = RD_ARRAY_LEN(store_audit_schema);

/* Runs a one-row query whose parameters bind() set; copies column 0 as an
 * integer to *v and, when hash is given, column 1 as a hash (only when it
 * is whole). No row: *v = 0, hash untouched. */
static enum rd_err one_row(struct store_tx *tx, enum store_tx_cached which, const char *sql,
                           int64_t arg, bool bind_arg, int64_t *v, unsigned char *hash)
{
	sqlite3_stmt *s = store_tx_stmt(tx, which, sql);
	*v = 0;
	if (!s)
		return RD_E_STORAGE;
	if (bind_arg)
		sqlite3_bind_int64(s, 1, arg);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && (!hash || sqlite3_column_bytes(s, 1) == STORE_AUDIT_HASH_BYTES)) {
		*v = sqlite3_column_int64(s, 0);
		if (hash)
			memcpy(hash, sqlite3_column_blob(s, 1), STORE_AUDIT_HASH_BYTES);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_audit_checkpoint(struct store_tx *tx, int64_t *seq,
                                   unsigned char hash[STORE_AUDIT_HASH_BYTES])
{
	if (tx->pg)
		return store_pg_audit_checkpoint(tx, seq, hash);
	memset(hash, 0, STORE_AUDIT_HASH_BYTES);
	return one_row(tx, TXS_AUDIT_CHECKPOINT, "SELECT seq, hash FROM audit_checkpoint WHERE id = 1",
	               0, false, seq, hash);
}

enum rd_err store_audit_high_mark(struct store_tx *tx, int64_t *seq)
{
	if (tx->pg)
		return store_pg_audit_high_mark(tx, seq);
	return one_row(tx, TXS_AUDIT_MARK, "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'",
	               0, false, seq, NULL);
}

enum rd_err store_audit_head(struct store_tx *tx, int64_t *seq,
                             unsigned char hash[STORE_AUDIT_HASH_BYTES])
{
	if (tx->pg)
		return store_pg_audit_head(tx, seq, hash);
	sqlite3_stmt *s = store_tx_stmt(tx, TXS_AUDIT_HEAD,
	                                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
	if (!s)
		return RD_E_STORAGE;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == STORE_AUDIT_HASH_BYTES) {
		*seq = sqlite3_column_int64(s, 0);
		memcpy(hash, sqlite3_column_blob(s, 1), STORE_AUDIT_HASH_BYTES);
		sqlite3_reset(s);
		return RD_OK;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return RD_E_STORAGE;
	return store_audit_checkpoint(tx, seq, hash);
}

enum rd_err store_audit_insert(struct store_tx *tx, const struct store_audit_entry *e)
{
	if (tx->pg)
		return store_pg_audit_insert(tx, e);
	sqlite3_stmt *s = store_tx_stmt(tx, TXS_AUDIT_INSERT,
	                                "INSERT INTO audit_log (seq, ts_ms, actor, action, target, count,"
	                                " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	if (!s)
		return store_db_err(tx->db);
	sqlite3_bind_int64(s, 1, e->seq);
	sqlite3_bind_int64(s, 2, e->ts_ms);
	sqlite3_bind_text(s, 3, e->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, e->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, e->target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, e->count);
	sqlite3_bind_blob(s, 7, e->prev, (int)e->prev_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 8, e->hash, (int)e->hash_len, SQLITE_STATIC);
	enum rd_err rc = RD_OK;
	if (sqlite3_step(s) != SQLITE_DONE) {
		log_error("audit: append failed: %s", sqlite3_errmsg(tx->db));
		rc = store_db_err(tx->db);
	}
	sqlite3_reset(s);
	return rc;
}

static void entry_from_row(sqlite3_stmt *s, struct store_audit_entry *e)
{
	e->seq = sqlite3_column_int64(s, 0);
	e->ts_ms = sqlite3_column_int64(s, 1);
	e->actor = (const char *)sqlite3_column_text(s, 2);
	e->action = (const char *)sqlite3_column_text(s, 3);
	e->target = (const char *)sqlite3_column_text(s, 4);
	e->count = sqlite3_column_int64(s, 5);
	e->prev = sqlite3_column_blob(s, 6);
	e->prev_len = (size_t)sqlite3_column_bytes(s, 6);
	e->hash = sqlite3_column_blob(s, 7);
	e->hash_len = (size_t)sqlite3_column_bytes(s, 7);
	if (!e->actor) e->actor = "";
	if (!e->action) e->action = "";
	if (!e->target) e->target = "";
}

enum rd_err store_audit_each(struct store_tx *tx, int64_t since_ms, store_audit_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_audit_each(tx, since_ms, fn, ctx);
	/* The whole log walks by seq alone; with a time bound the index on
	 * ts_ms may serve, and the result is put back in seq order. */
	const char *sql = since_ms == INT64_MIN
		? "SELECT seq, ts_ms, actor, action, target, count, prev_hash, hash FROM audit_log"
		  " ORDER BY seq"
		: "SELECT seq, ts_ms, actor, action, target, count, prev_hash, hash FROM audit_log"
		  " WHERE ts_ms >= ?1 ORDER BY seq";
	sqlite3_stmt *s;
	enum rd_err rc = RD_OK;
	int step;
	if (sqlite3_prepare_v2(tx->db, sql, -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	if (since_ms != INT64_MIN)
		sqlite3_bind_int64(s, 1, since_ms);
	while (rc == RD_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_audit_entry e;
		entry_from_row(s, &e);
		rc = fn(&e, ctx);
	}
	if (rc == RD_OK && step != SQLITE_DONE)
		rc = RD_E_STORAGE;
	sqlite3_finalize(s);
	return rc;
}

enum rd_err store_audit_find_hash(struct store_tx *tx, const unsigned char *h, size_t n,
                                  int64_t *seq)
{
	if (tx->pg)
		return store_pg_audit_find_hash(tx, h, n, seq);
	sqlite3_stmt *s;
	*seq = 0;
	if (sqlite3_prepare_v2(tx->db, "SELECT seq FROM audit_log WHERE hash = ? LIMIT 1", -1, &s,
	                       NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	sqlite3_bind_blob(s, 1, h, (int)n, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_audit_last_before(struct store_tx *tx, int64_t before_ms, int64_t *seq,
                                    unsigned char hash[STORE_AUDIT_HASH_BYTES])
{
	if (tx->pg)
		return store_pg_audit_last_before(tx, before_ms, seq, hash);
	return one_row(tx, TXS_AUDIT_BEFORE,
	               "SELECT seq, hash FROM audit_log WHERE ts_ms < ? ORDER BY seq DESC LIMIT 1",
	               before_ms, true, seq, hash);
}

enum rd_err store_audit_truncate(struct store_tx *tx, int64_t seq,
                                 const unsigned char hash[STORE_AUDIT_HASH_BYTES], int64_t now_ms,
                                 int64_t *deleted)
{
	if (tx->pg)
		return store_pg_audit_truncate(tx, seq, hash, now_ms, deleted);
	sqlite3 *db = tx->db;
	sqlite3_stmt *s = NULL;
	enum rd_err rc = RD_E_STORAGE;
	*deleted = 0;
	if (sqlite3_prepare_v2(db, "DELETE FROM audit_log WHERE seq <= ?", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, seq);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	*deleted = sqlite3_changes(db);
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(db, "INSERT INTO audit_checkpoint (id, seq, hash, purged_ms) "
	                       "VALUES (1, ?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET "
	                       "seq = ?1, hash = ?2, purged_ms = ?3", -1, &s, NULL) != SQLITE_OK) {
		s = NULL;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_blob(s, 2, hash, STORE_AUDIT_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now_ms);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	rc = RD_OK;
fail:
	if (rc != RD_OK) {
		log_error("audit: purge failed: %s", sqlite3_errmsg(db));
		rc = store_db_err(db);
	}
	sqlite3_finalize(s);
	return rc;
}

const char *store_audit_use_chain(struct store_tx *tx, const char *tenant)
{
	const char *was = tx->audit_chain;
	tx->audit_chain = tenant && *tenant ? tenant : NULL;
	return was;
}

enum rd_err store_audit_chains(struct store_tx *tx, store_audit_chain_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_audit_chains(tx, fn, ctx);
	return fn(NULL, ctx);
}

enum rd_err store_audit_count(struct store_tx *tx, int64_t *n)
{
	if (tx->pg)
		return store_pg_audit_count(tx, n);
	return one_row(tx, TXS_AUDIT_COUNT, "SELECT count(*) FROM audit_log", 0, false, n, NULL);
}

enum rd_err store_audit_last_of(struct store_tx *tx, const char *const *actions, size_t n,
                                int64_t *ts_ms)
{
	if (tx->pg)
		return store_pg_audit_last_of(tx, actions, n, ts_ms);
	sqlite3_stmt *s;
	*ts_ms = 0;
	if (n > 4 || sqlite3_prepare_v2(tx->db, "SELECT max(ts_ms) FROM audit_log"
	                                " WHERE action IN (?1, ?2, ?3, ?4)", -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	for (size_t i = 0; i < n; i++)   /* the rest stay NULL: they match nothing */
		sqlite3_bind_text(s, (int)i + 1, actions[i], -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ts_ms = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? RD_OK : RD_E_STORAGE;
}
