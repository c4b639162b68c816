/*
 * store_holds.c — where legal holds live: the holds module's table, its
 * schema step, and the typed operations of store_holds.h.
 *
 * Workload: holds are few (tens) and change rarely; the held check runs
 * once per purge candidate and once per conversation an erasure touches,
 * always inside the writer's transaction, so its statement is kept for
 * the transaction (store_tx_stmt).
 */
#include "store_int.h"
#include "store_pg_rights.h"
#include "log.h"

#include <string.h>

/* The holds module's part of schema version 2. A hold names its target
 * only by keyed hash (conversation or subject hash); the identifier and
 * reason are sealed in doc_ct (holds.c). */
const struct store_schema_step store_holds_schema[] = {
	{ 2,
	"CREATE TABLE holds ("
	"  id TEXT PRIMARY KEY,"
	"  tenant TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('conversation', 'subject')),"
	"  target_hash BLOB NOT NULL,"
	"  doc_ct BLOB NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE INDEX holds_target ON holds(tenant, kind, target_hash);" },
};
const size_t store_holds_schema_count = RD_ARRAY_LEN(store_holds_schema);

static const char *kind_name(enum store_hold_kind k)
{
	return k == STORE_HOLD_CONVERSATION ? "conversation" : "subject";
}

/* ---- what holds and restrictions share (store_int.h) ------------------- */

/* The statements of each table of this shape (SQL cannot bind a table
 * name, so each is written out, never built from a string). */
#define PIN_SQL(t)                                                                           \
	{ t,                                                                                     \
	  "INSERT INTO " t " (id, tenant, kind, target_hash, doc_ct, actor, created_ms)"         \
	  " VALUES (?, ?, ?, ?, ?, ?, ?)",                                                        \
	  "DELETE FROM " t " WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)",                      \
	  "SELECT id, tenant, kind, target_hash, doc_ct, actor, created_ms FROM " t               \
	  " WHERE ?1 IS NULL OR tenant = ?1 ORDER BY created_ms, id" }
static const struct pin_sql {
	const char *table, *insert, *del, *each;
} pin_tables[] = { PIN_SQL("holds"), PIN_SQL("restrictions") };

static const struct pin_sql *pins_of(const char *table)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(pin_tables); i++)
		if (!strcmp(pin_tables[i].table, table))
			return &pin_tables[i];
	return NULL;
}

enum rd_err store_pins_insert(struct store_tx *tx, const char *table, const struct store_hold *h)
{
	sqlite3_stmt *s;
	const struct pin_sql *q = pins_of(table);
	if (!q || sqlite3_prepare_v2(tx->db, q->insert, -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, h->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, h->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, kind_name(h->kind), -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, h->target_hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, h->doc_ct, (int)h->doc_len, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, h->actor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, h->created_ms);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? RD_OK : store_db_err(tx->db);
}

enum rd_err store_pins_delete(struct store_tx *tx, const char *table, const char *id,
                              const char *tenant, bool *found)
{
	sqlite3_stmt *s;
	const struct pin_sql *q = pins_of(table);
	*found = false;
	if (!q || sqlite3_prepare_v2(tx->db, q->del, -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (tenant)
		sqlite3_bind_text(s, 2, tenant, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_err(tx->db);
	*found = sqlite3_changes(tx->db) > 0;
	return RD_OK;
}

enum rd_err store_pins_each(struct store_tx *tx, const char *table, const char *tenant,
                            store_hold_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	const struct pin_sql *q = pins_of(table);
	enum rd_err rc = RD_OK;
	int step;
	if (!q || sqlite3_prepare_v2(tx->db, q->each, -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	if (tenant)
		sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	while (rc == RD_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 2);
		struct store_hold h = {
			.id = (const char *)sqlite3_column_text(s, 0),
			.tenant = (const char *)sqlite3_column_text(s, 1),
			.kind_name = kind,
			.kind = kind && !strcmp(kind, "conversation") ? STORE_HOLD_CONVERSATION
			                                              : STORE_HOLD_SUBJECT,
			.target_hash = sqlite3_column_bytes(s, 3) == CRYPTO_HASH_BYTES
			               ? sqlite3_column_blob(s, 3) : NULL,
			.doc_ct = sqlite3_column_blob(s, 4),
			.doc_len = (size_t)sqlite3_column_bytes(s, 4),
			.actor = (const char *)sqlite3_column_text(s, 5),
			.created_ms = sqlite3_column_int64(s, 6),
		};
		rc = fn(&h, ctx);
	}
	if (rc == RD_OK && step != SQLITE_DONE)
		rc = RD_E_STORAGE;
	sqlite3_finalize(s);
	return rc;
}

/* ---- holds ---------------------------------------------------------------- */

enum rd_err store_holds_insert(struct store_tx *tx, const struct store_hold *h)
{
	if (tx->pg)
		return store_pg_pins_insert(tx, "holds", h);
	return store_pins_insert(tx, "holds", h);
}

enum rd_err store_holds_delete(struct store_tx *tx, const char *id, const char *tenant, bool *found)
{
	if (tx->pg)
		return store_pg_pins_delete(tx, "holds", id, tenant, found);
	return store_pins_delete(tx, "holds", id, tenant, found);
}

enum rd_err store_holds_each(struct store_tx *tx, const char *tenant, store_hold_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_pins_each(tx, "holds", tenant, fn, ctx);
	return store_pins_each(tx, "holds", tenant, fn, ctx);
}

enum rd_err store_pins_check(struct store_tx *tx, enum store_tx_cached which, const char *sql,
                             const char *tenant, const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                             bool *pinned)
{
	sqlite3_stmt *s = store_tx_stmt(tx, which, sql);
	*pinned = false;
	if (!s)
		return RD_E_STORAGE;
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, conv_hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	*pinned = rc == SQLITE_ROW && sqlite3_column_int(s, 0) != 0;
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_holds_held(struct store_tx *tx, const char *tenant,
                             const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *held)
{
	if (tx->pg)
		return store_pg_holds_held(tx, tenant, conv_hash, held);
	return store_pins_check(tx, TXS_HELD, "SELECT " STORE_HELD_SQL("?2"), tenant, conv_hash, held);
}

enum rd_err store_holds_count(struct store_tx *tx, int64_t *n)
{
	if (tx->pg)
		return store_pg_holds_count(tx, n);
	sqlite3_stmt *s;
	*n = 0;
	if (sqlite3_prepare_v2(tx->db, "SELECT count(*) FROM holds", -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? RD_OK : RD_E_STORAGE;
}
