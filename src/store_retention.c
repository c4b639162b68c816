/*
 * store_retention.c — the reads the sweeper and the stats make over the
 * records (groups, records due, entity totals), and the retention module's
 * own table (retention_pending) with its schema step.
 *
 * Workload: one pass per sweep interval and one per metrics refresh
 * (every 30 s at most): a GROUP BY over messages(tenant, category, ts_ms)
 * read in index order (no sort, no memory that grows with the records),
 * then two counts per (tenant, category) on the same index.
 */
#include "store_int.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

/* The retention module's part of schema version 2: rows purged by a sweep
 * pass not yet written to the audit log. Each batch adds to it in its own
 * transaction, the pass's audit entry takes it, so a crash mid-pass loses
 * no count. */
const struct store_schema_step store_retention_schema[] = {
	{ 2,
	"CREATE TABLE retention_pending ("
	"  tenant TEXT NOT NULL,"
	"  category TEXT NOT NULL,"
	"  purged INTEGER NOT NULL,"
	"  PRIMARY KEY (tenant, category)) WITHOUT ROWID;" },
};
const size_t store_retention_schema_count = RD_ARRAY_LEN(store_retention_schema);

/* Rows of (tenant ?1, category ?2) older than ?3. */
#define DUE_SQL "FROM messages m WHERE m.tenant = ?1 AND m.category = ?2 AND m.ts_ms < ?3"

/* Runs a statement whose rows are (tenant, category, records, oldest,
 * purged), handing each to fn. */
static enum rd_err each_group(struct store_tx *tx, const char *sql, store_group_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	enum rd_err rc = RD_OK;
	int step;
	if (sqlite3_prepare_v2(tx->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	while (rc == RD_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_group g = {
			.tenant = (const char *)sqlite3_column_text(s, 0),
			.category = (const char *)sqlite3_column_text(s, 1),
			.records = sqlite3_column_int64(s, 2),
			.oldest_ms = sqlite3_column_int64(s, 3),
			.purged = sqlite3_column_int64(s, 4),
		};
		rc = fn(&g, ctx);
	}
	if (rc == RD_OK && step != SQLITE_DONE)
		rc = store_db_err(tx->db);
	sqlite3_finalize(s);
	return rc;
}

enum rd_err store_groups(struct store_tx *tx, store_group_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_groups(tx, fn, ctx);
	/* In index order: no sort of the records (see schema step 6). */
	return each_group(tx, "SELECT tenant, category, count(*), min(ts_ms), 0"
	                  " FROM messages INDEXED BY messages_tenant_cat_ts"
	                  " GROUP BY tenant, category ORDER BY tenant, category", fn, ctx);
}

/* One index seek on messages(tenant, category, ts_ms) each: the first
 * tenant after ?1, the first category of tenant ?1 after ?2, and the
 * oldest record of (?1, ?2). (A row value `(tenant, category) > (?, ?)`
 * would read one tenant's whole range: SQLite seeks on its first column
 * only.) */
enum { HEAD_TENANT, HEAD_CATEGORY, HEAD_OLDEST, HEAD_COUNT };
static const char *const head_sql[HEAD_COUNT] = {
	[HEAD_TENANT] = "SELECT min(tenant) FROM messages INDEXED BY messages_tenant_cat_ts"
	                " WHERE tenant > ?1",
	[HEAD_CATEGORY] = "SELECT min(category) FROM messages INDEXED BY messages_tenant_cat_ts"
	                  " WHERE tenant = ?1 AND category > ?2",
	[HEAD_OLDEST] = "SELECT min(ts_ms) FROM messages INDEXED BY messages_tenant_cat_ts"
	                " WHERE tenant = ?1 AND category = ?2",
};

/* The single value of statement s with ?1 = a, ?2 = b, copied into out
 * (text) or *ms (integer); out[0] = '\0' when there is none. */
static enum rd_err head_step(struct store_tx *tx, sqlite3_stmt *s, const char *a, const char *b,
                             char *out, size_t outlen, int64_t *ms)
{
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, a, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, b, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) != SQLITE_ROW)
		return store_db_err(tx->db);
	if (ms)
		*ms = sqlite3_column_int64(s, 0);
	if (out) {
		const char *v = (const char *)sqlite3_column_text(s, 0);
		if (v && strlen(v) >= outlen)
			return RD_E_INTERNAL;   /* longer than any name redactd writes */
		snprintf(out, outlen, "%s", v ? v : "");
	}
	return RD_OK;
}

static enum rd_err heads_walk(struct store_tx *tx, sqlite3_stmt *st[HEAD_COUNT], store_group_fn fn,
                              void *ctx)
{
	char tenant[RD_MAX_NAME_LEN + 2] = "", category[RD_MAX_NAME_LEN + 2];
	enum rd_err rc = head_step(tx, st[HEAD_TENANT], "", NULL, tenant, sizeof tenant, NULL);
	while (rc == RD_OK && tenant[0]) {
		category[0] = '\0';
		rc = head_step(tx, st[HEAD_CATEGORY], tenant, "", category, sizeof category, NULL);
		while (rc == RD_OK && category[0]) {
			struct store_group g = { .tenant = tenant, .category = category, .records = -1 };
			rc = head_step(tx, st[HEAD_OLDEST], tenant, category, NULL, 0, &g.oldest_ms);
			if (rc == RD_OK)
				rc = fn(&g, ctx);
			if (rc == RD_OK)
				rc = head_step(tx, st[HEAD_CATEGORY], tenant, category, category, sizeof category,
				               NULL);
		}
		if (rc == RD_OK)
			rc = head_step(tx, st[HEAD_TENANT], tenant, NULL, tenant, sizeof tenant, NULL);
	}
	return rc;
}

enum rd_err store_group_heads(struct store_tx *tx, store_group_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_group_heads(tx, fn, ctx);
	sqlite3_stmt *st[HEAD_COUNT] = { NULL };
	enum rd_err rc = RD_OK;
	for (int i = 0; i < HEAD_COUNT && rc == RD_OK; i++)
		if (sqlite3_prepare_v2(tx->db, head_sql[i], -1, &st[i], NULL) != SQLITE_OK)
			rc = store_db_err(tx->db);
	if (rc == RD_OK)
		rc = heads_walk(tx, st, fn, ctx);
	for (int i = 0; i < HEAD_COUNT; i++)
		sqlite3_finalize(st[i]);
	return rc;
}

enum rd_err store_retention_pending(struct store_tx *tx, store_group_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_retention_pending(tx, fn, ctx);
	return each_group(tx, "SELECT tenant, category, 0, 0, 0 FROM retention_pending", fn, ctx);
}

enum rd_err store_retention_take(struct store_tx *tx, store_group_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_retention_take(tx, fn, ctx);
	return each_group(tx, "DELETE FROM retention_pending RETURNING tenant, category, 0, 0, purged",
	                  fn, ctx);
}

static enum rd_err count_one(struct store_tx *tx, const char *sql, const char *tenant,
                             const char *category, int64_t cutoff_ms, int64_t *out)
{
	sqlite3_stmt *s;
	*out = 0;
	if (sqlite3_prepare_v2(tx->db, sql, -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, category, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, cutoff_ms);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_count_due(struct store_tx *tx, const char *tenant, const char *category,
                            int64_t cutoff_ms, int64_t *due, int64_t *held)
{
	if (tx->pg)
		return store_pg_count_due(tx, tenant, category, cutoff_ms, due, held);
	enum rd_err rc = count_one(tx, "SELECT count(*) " DUE_SQL, tenant, category, cutoff_ms, due);
	if (rc == RD_OK)
		rc = count_one(tx, "SELECT count(*) " DUE_SQL " AND " STORE_HELD_SQL("m.conv_hash"),
		               tenant, category, cutoff_ms, held);
	return rc;
}

enum rd_err store_entity_totals(struct store_tx *tx, store_entity_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_entity_totals(tx, fn, ctx);
	sqlite3_stmt *s;
	enum rd_err rc = RD_OK;
	int step;
	/* entity_counts is a JSON object of counts written by ingest. */
	if (sqlite3_prepare_v2(tx->db, "SELECT m.tenant, j.key, sum(j.value) FROM messages m, "
	                       "json_each(m.entity_counts) j WHERE json_valid(m.entity_counts) "
	                       "GROUP BY m.tenant, j.key ORDER BY 1, 2", -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	while (rc == RD_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		const char *k = (const char *)sqlite3_column_text(s, 1);
		if (t && k)
			rc = fn(t, k, sqlite3_column_int64(s, 2), ctx);
	}
	if (rc == RD_OK && step != SQLITE_DONE)
		rc = RD_E_STORAGE;
	sqlite3_finalize(s);
	return rc;
}

enum rd_err store_retention_add(struct store_tx *tx, const char *tenant, const char *category,
                                int64_t purged)
{
	if (tx->pg)
		return store_pg_retention_add(tx, tenant, category, purged);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(tx->db, "INSERT INTO retention_pending (tenant, category, purged) "
	                       "VALUES (?1, ?2, ?3) ON CONFLICT (tenant, category) DO UPDATE "
	                       "SET purged = purged + ?3", -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, category, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, purged);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? RD_OK : store_db_err(tx->db);
}

enum rd_err store_sweep_lock(struct store *st, bool *got)
{
	if (st->pg)
		return store_pg_sweep_lock(st, got);
	*got = true;
	return RD_OK;
}

void store_sweep_unlock(struct store *st)
{
	if (st->pg)
		store_pg_sweep_unlock(st);
}
