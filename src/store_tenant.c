/*
 * store_tenant.c — where tenant closures live: the tenant module's table,
 * its schema step, and the typed operations of store_tenant.h.
 *
 * Workload: closures are a handful a year; the table is read once a
 * second by ingest's cache of closed tenants (tenant_close.c) and once per
 * sweep. Shredding a tenant's keys is one UPDATE over its data keys, each
 * "no record left" an index probe (messages(tenant, category, ts_ms)).
 */
#include "store_int.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

/* The tenant module's part of schema version 7. */
const struct store_schema_step store_tenant_schema[] = {
	{ 7,
	"CREATE TABLE IF NOT EXISTS tenant_closures ("
	"  tenant TEXT PRIMARY KEY,"
	"  state TEXT NOT NULL CHECK (state IN ('pending', 'erasing', 'done')),"
	"  actor TEXT NOT NULL,"
	"  requested_ms INTEGER NOT NULL,"
	"  due_ms INTEGER NOT NULL,"
	"  done_ms INTEGER) WITHOUT ROWID;" },
};
const size_t store_tenant_schema_count = RD_ARRAY_LEN(store_tenant_schema);

enum rd_err store_closure_set(struct store_tx *tx, const char *tenant, int64_t requested_ms,
                              int64_t due_ms, const char *actor)
{
	if (tx->pg)
		return store_pg_closure_set(tx, tenant, requested_ms, due_ms, actor);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(tx->db, "INSERT OR REPLACE INTO tenant_closures (tenant, state, actor, "
	                       "requested_ms, due_ms, done_ms) VALUES (?1, 'pending', ?2, ?3, ?4, NULL)",
	                       -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, actor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, requested_ms);
	sqlite3_bind_int64(s, 4, due_ms);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? RD_OK : store_db_err(tx->db);
}

enum rd_err store_closure_delete(struct store_tx *tx, const char *tenant, bool *found)
{
	if (tx->pg)
		return store_pg_closure_delete(tx, tenant, found);
	sqlite3_stmt *s;
	*found = false;
	if (sqlite3_prepare_v2(tx->db, "DELETE FROM tenant_closures WHERE tenant = ?1", -1, &s, NULL) !=
	    SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	*found = rc == SQLITE_DONE && sqlite3_changes(tx->db) > 0;
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? RD_OK : store_db_err(tx->db);
}

enum rd_err store_closure_state(struct store_tx *tx, const char *tenant, const char *state,
                                int64_t done_ms)
{
	if (tx->pg)
		return store_pg_closure_state(tx, tenant, state, done_ms);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(tx->db, "UPDATE tenant_closures SET state = ?2, done_ms = ?3 WHERE tenant = ?1",
	                       -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
	if (done_ms)
		sqlite3_bind_int64(s, 3, done_ms);
	else
		sqlite3_bind_null(s, 3);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? RD_OK : store_db_err(tx->db);
}

enum rd_err store_closures(struct store_tx *tx, store_closure_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_closures(tx, fn, ctx);
	sqlite3_stmt *s;
	enum rd_err rc = RD_OK;
	int step;
	if (sqlite3_prepare_v2(tx->db, "SELECT tenant, state, actor, requested_ms, due_ms, done_ms FROM "
	                       "tenant_closures ORDER BY tenant", -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	while (rc == RD_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_closure c = {
			.tenant = (const char *)sqlite3_column_text(s, 0),
			.state = (const char *)sqlite3_column_text(s, 1),
			.actor = (const char *)sqlite3_column_text(s, 2),
			.requested_ms = sqlite3_column_int64(s, 3),
			.due_ms = sqlite3_column_int64(s, 4),
			.done_ms = sqlite3_column_int64(s, 5),
		};
		if (c.tenant && c.state && c.actor)
			rc = fn(&c, ctx);
	}
	if (rc == RD_OK && step != SQLITE_DONE)
		rc = store_db_err(tx->db);
	sqlite3_finalize(s);
	return rc;
}

enum rd_err store_tenant_records(struct store_tx *tx, const char *tenant, int64_t *records,
                                 int64_t *held)
{
	if (tx->pg)
		return store_pg_tenant_records(tx, tenant, records, held);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(tx->db, "SELECT count(*), coalesce(sum(" STORE_HELD_SQL("m.conv_hash") "), 0)"
	                       " FROM messages m WHERE m.tenant = ?1", -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*records = sqlite3_column_int64(s, 0);
		*held = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? RD_OK : store_db_err(tx->db);
}

struct tshred_ctx {
	const char *tenant;
	int64_t now_ms;
	int64_t *ids;
	size_t n;
	store_shred_fn fn;
	void *ctx;
};

static enum rd_err tshred_fn(struct store_tx *tx, void *arg)
{
	struct tshred_ctx *c = arg;
	sqlite3_stmt *s;
	enum rd_err rc = RD_E_STORAGE;
	int step;
	c->n = 0;
	if (sqlite3_prepare_v2(tx->db, "UPDATE data_keys SET wrapped = NULL, destroyed_ms = ?2"
	                       " WHERE tenant = ?1 AND wrapped IS NOT NULL AND NOT EXISTS"
	                       " (SELECT 1 FROM messages m WHERE m.tenant = ?1 AND m.category = data_keys.category"
	                       " AND m.ts_ms >= data_keys.start_ms AND m.ts_ms < data_keys.end_ms"
	                       " AND m.key_id = data_keys.id) RETURNING id", -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, c->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, c->now_ms);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		void *p = realloc(c->ids, (c->n + 1) * sizeof *c->ids);
		if (!p)
			goto fail;
		c->ids = p;
		c->ids[c->n++] = sqlite3_column_int64(s, 0);
	}
	rc = step == SQLITE_DONE ? RD_OK : store_db_err(tx->db);
fail:
	sqlite3_finalize(s);
	return rc == RD_OK && c->fn ? c->fn(tx, c->n, c->ctx) : rc;
}

enum rd_err store_tenant_shred(struct store *st, const char *tenant, int64_t now_ms,
                               store_shred_fn fn, void *ctx, size_t *count)
{
	if (st->pg)
		return store_pg_tenant_shred(st, tenant, now_ms, fn, ctx, count);
	struct tshred_ctx c = { .tenant = tenant, .now_ms = now_ms, .fn = fn, .ctx = ctx };
	enum rd_err rc = store_exec(st, tshred_fn, &c);
	if (rc == RD_OK) {
		store_keys_forget(st, c.ids, c.n);
		for (size_t i = 0; i < c.n; i++)
			log_info("store: destroyed data key %lld (tenant closure)", (long long)c.ids[i]);
		*count = c.n;
	}
	free(c.ids);
	return rc;
}
