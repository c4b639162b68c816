/*
 * store_consent.c — where consent records live: the consent module's
 * table, its schema step, and the typed operations of store_consent.h.
 *
 * Workload: a row per consent decision (an IVR prompt, a checkbox, an
 * opt-out keyword), so a few per conversation at most. The latest-row
 * lookup runs once per target for each voice message when
 * voice_requires_consent is on, and once per opt-out query: one probe of
 * consents_target, newest first.
 *
 * INVARIANTS: rows are never changed (the trigger consents_no_update
 * aborts any UPDATE), only appended, and deleted only by an erasure of
 * their target. No column holds personal data in clear.
 */
#include "store_int.h"
#include "store_consent.h"
#include "store_pg_rights.h"

#include <stdio.h>
#include <string.h>

/* The consent module's part of schema version 7. IF NOT EXISTS, as in the
 * store's step 6: a database whose user_version was set back by hand (the
 * re-seal test makes a "v4" database from a new one) runs it again. */
const struct store_schema_step store_consent_schema[] = {
	{ 7,
	"CREATE TABLE IF NOT EXISTS consents ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant TEXT NOT NULL,"
	"  scope TEXT NOT NULL CHECK (scope IN ('conversation', 'subject')),"
	"  target_hash BLOB NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('given', 'declined', 'withdrawn')),"
	"  method TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  ts_ms INTEGER NOT NULL,"
	"  recorded_ms INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS consents_target ON consents(tenant, target_hash, kind, id);"
	"CREATE TRIGGER IF NOT EXISTS consents_no_update BEFORE UPDATE ON consents BEGIN"
	"  SELECT RAISE(ABORT, 'consent records are append-only');"
	" END;" },
};
const size_t store_consent_schema_count = RD_ARRAY_LEN(store_consent_schema);

enum rd_err store_consent_insert(struct store_tx *tx, const struct store_consent *c, int64_t *id)
{
	if (tx->pg)
		return store_pg_consent_insert(tx, c, id);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(tx->db, "INSERT INTO consents (tenant, scope, target_hash, kind, state,"
	                       " method, source, ts_ms, recorded_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                       -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, c->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->subject ? "subject" : "conversation", -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, c->target_hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, c->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, c->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, c->method, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, c->source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, c->ts_ms);
	sqlite3_bind_int64(s, 9, c->recorded_ms);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_err(tx->db);
	*id = sqlite3_last_insert_rowid(tx->db);
	return RD_OK;
}

/* A row of the columns every SELECT below lists, in this order. */
#define CONSENT_COLUMNS "id, tenant, scope, target_hash, kind, state, method, source, ts_ms, recorded_ms"

static void row_of(sqlite3_stmt *s, struct store_consent *c)
{
	const char *scope = (const char *)sqlite3_column_text(s, 2);
	*c = (struct store_consent){
		.id = sqlite3_column_int64(s, 0),
		.tenant = (const char *)sqlite3_column_text(s, 1),
		.subject = scope && !strcmp(scope, "subject"),
		.target_hash = sqlite3_column_bytes(s, 3) == CRYPTO_HASH_BYTES ? sqlite3_column_blob(s, 3)
		                                                               : NULL,
		.kind = (const char *)sqlite3_column_text(s, 4),
		.state = (const char *)sqlite3_column_text(s, 5),
		.method = (const char *)sqlite3_column_text(s, 6),
		.source = (const char *)sqlite3_column_text(s, 7),
		.ts_ms = sqlite3_column_int64(s, 8),
		.recorded_ms = sqlite3_column_int64(s, 9),
	};
}

#define LATEST_TARGETS 8

/* One probe of consents_target per (target, kind) pair, in one statement:
 * unused target slots are NULL, which IN never matches. */
static enum rd_err latest_chunk(sqlite3_stmt *s, const unsigned char (*targets)[CRYPTO_HASH_BYTES],
                                size_t n, struct store_consent_latest *out)
{
	for (size_t i = 0; i < LATEST_TARGETS; i++) {
		if (i < n)
			sqlite3_bind_blob(s, 4 + (int)i, targets[i], CRYPTO_HASH_BYTES, SQLITE_STATIC);
		else
			sqlite3_bind_null(s, 4 + (int)i);
	}
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW && sqlite3_column_int64(s, 0) > out->id) {
		const char *k = (const char *)sqlite3_column_text(s, 1);
		const char *st = (const char *)sqlite3_column_text(s, 2);
		out->id = sqlite3_column_int64(s, 0);
		out->ts_ms = sqlite3_column_int64(s, 3);
		snprintf(out->kind, sizeof out->kind, "%s", k ? k : "");
		snprintf(out->state, sizeof out->state, "%s", st ? st : "");
	}
	sqlite3_reset(s);
	return step == SQLITE_ROW || step == SQLITE_DONE ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_consent_latest(struct store_tx *tx, const char *tenant,
                                 const unsigned char (*targets)[CRYPTO_HASH_BYTES], size_t n,
                                 const char *const *kinds, size_t nkinds,
                                 struct store_consent_latest *out)
{
	if (tx->pg)
		return store_pg_consent_latest(tx, tenant, targets, n, kinds, nkinds, out);
	sqlite3_stmt *s;
	enum rd_err rc = RD_OK;
	if (nkinds == 0 || nkinds > 2)
		return RD_E_INTERNAL;
	if (sqlite3_prepare_v2(tx->db, "SELECT id, kind, state, ts_ms FROM consents"
	                       " WHERE tenant = ?1 AND kind IN (?2, ?3)"
	                       " AND target_hash IN (?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
	                       " ORDER BY id DESC LIMIT 1", -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kinds[0], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, kinds[nkinds - 1], -1, SQLITE_STATIC);
	for (size_t i = 0; rc == RD_OK && i < n; i += LATEST_TARGETS)
		rc = latest_chunk(s, targets + i, n - i < LATEST_TARGETS ? n - i : LATEST_TARGETS, out);
	sqlite3_finalize(s);
	return rc;
}

enum rd_err store_consent_refusals(struct store_tx *tx, const char *const *kinds, size_t nkinds,
                                   bool *any)
{
	if (tx->pg)
		return store_pg_consent_refusals(tx, kinds, nkinds, any);
	sqlite3_stmt *s;
	*any = false;
	if (nkinds == 0 || nkinds > 2)
		return RD_E_INTERNAL;
	if (sqlite3_prepare_v2(tx->db, "SELECT EXISTS (SELECT 1 FROM consents WHERE kind IN (?1, ?2)"
	                       " AND state <> 'given')", -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	sqlite3_bind_text(s, 1, kinds[0], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kinds[nkinds - 1], -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*any = sqlite3_column_int(s, 0) != 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_consent_each(struct store_tx *tx, const char *tenant,
                               const unsigned char target[CRYPTO_HASH_BYTES], store_consent_fn fn,
                               void *ctx)
{
	if (tx->pg)
		return store_pg_consent_each(tx, tenant, target, fn, ctx);
	sqlite3_stmt *s;
	enum rd_err rc = RD_OK;
	int step;
	if (sqlite3_prepare_v2(tx->db, "SELECT " CONSENT_COLUMNS " FROM consents"
	                       " WHERE tenant = ?1 AND target_hash = ?2 ORDER BY id", -1, &s,
	                       NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, target, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	while (rc == RD_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_consent c;
		row_of(s, &c);
		rc = c.tenant && c.kind && c.state && c.method && c.source ? fn(&c, ctx) : RD_E_STORAGE;
	}
	if (rc == RD_OK && step != SQLITE_DONE)
		rc = RD_E_STORAGE;
	sqlite3_finalize(s);
	return rc;
}

enum rd_err store_consent_delete(struct store_tx *tx, const char *tenant,
                                 const unsigned char target[CRYPTO_HASH_BYTES], int64_t *n)
{
	if (tx->pg)
		return store_pg_consent_delete(tx, tenant, target, n);
	sqlite3_stmt *s;
	*n = 0;
	if (sqlite3_prepare_v2(tx->db, "DELETE FROM consents WHERE tenant = ?1 AND target_hash = ?2",
	                       -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, target, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_err(tx->db);
	*n = sqlite3_changes(tx->db);
	return RD_OK;
}
