/*
 * store_pg_citus.c — the schema distributed by Citus (issue 19), and the
 * list of tables (store_pg_dist.h) that says how.
 *
 * DESIGN
 * When: on every open of a database whose catalogue has the citus
 * extension (pg_extension), after the schema migration. Detected, not
 * configured: CREATE EXTENSION citus in the database is the operator's
 * choice already, and every node reads the same catalogue, so no node can
 * disagree with another about it (a config key could differ per node).
 * Without the extension nothing is done and plain PostgreSQL is used.
 *
 * How: create_distributed_table(t, tenant, colocate_with => 'messages')
 * for the per-tenant tables, so a tenant's messages, subjects, holds, keys
 * and audit chain share a shard group; create_reference_table for the
 * system tables. Idempotent (a table in pg_dist_partition is skipped), and
 * under the schema advisory lock, held as a session lock (Citus copies a
 * table's rows to the workers when it is distributed; that is no place for
 * one transaction around all of it), so several nodes opening at once
 * distribute once. citus.enable_unsafe_triggers: consents carries a
 * trigger refusing UPDATE, which touches no other row or shard.
 */
#include "store_pg_int.h"
#include "store_pg_dist.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

const struct store_pg_dist_table store_pg_dist_tables[] = {
	{ "messages", "tenant" },
	{ "data_keys", "tenant" },
	{ "subjects", "tenant" },
	{ "replay_ids", "tenant" },
	{ "holds", "tenant" },
	{ "restrictions", "tenant" },
	{ "tenant_closures", "tenant" },
	{ "consents", "tenant" },
	{ "erasure_journal", "tenant" },
	{ "retention_pending", "tenant" },
	/* A tenant's chain is named by the tenant; the system's chain ('')
	 * lies in one shard like any tenant's. */
	{ "audit_log", "chain" },
	{ "audit_chains", "chain" },
	{ "redactd_schema", NULL },
	{ "key_root", NULL },
	{ "journal_state", NULL },
	{ "migrate_state", NULL },
	{ "migrate_progress", NULL },
	{ "message_categories", NULL },
};
const size_t store_pg_ndist_tables = RD_ARRAY_LEN(store_pg_dist_tables);

/* 1 when the database has the citus extension, 0 not, -1. */
static int has_citus(PGconn *c)
{
	PGresult *r = store_pg_exec(c, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'", 0,
	                            NULL, NULL, NULL);
	if (!r)
		return -1;
	int n = (int)store_pg_get64(r, 0, 0);
	PQclear(r);
	return n > 0;
}

static int distribute_one(PGconn *c, const struct store_pg_dist_table *t)
{
	const char *vals[3] = { t->name, t->dist_column, "messages" };
	if (!strcmp(t->name, "messages"))
		vals[2] = "default";
	PGresult *r = t->dist_column
		? store_pg_exec(c, "SELECT create_distributed_table($1::regclass, $2, colocate_with => $3)"
		                " WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition"
		                " WHERE logicalrelid = $1::regclass)", 3, vals, NULL, NULL)
		: store_pg_exec(c, "SELECT create_reference_table($1::regclass) WHERE NOT EXISTS"
		                " (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1::regclass)",
		                1, vals, NULL, NULL);
	PQclear(r);
	return r ? 0 : -1;
}

int store_pg_citus(PGconn *c, bool *distributed, char *err, size_t errlen)
{
	char lock[96], unlock[96];
	*distributed = false;
	int has = has_citus(c);
	if (has <= 0) {
		if (has < 0)
			util_err(err, errlen, "cannot read the database's extensions: %s", PQerrorMessage(c));
		return has;
	}
	snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%d, 0)", STORE_PG_LOCK_SCHEMA);
	snprintf(unlock, sizeof unlock, "SELECT pg_advisory_unlock(%d, 0)", STORE_PG_LOCK_SCHEMA);
	if (store_pg_cmd(c, lock)) {
		util_err(err, errlen, "citus: cannot take the schema lock: %s", PQerrorMessage(c));
		return -1;
	}
	int rc = store_pg_cmd(c, "SET citus.enable_unsafe_triggers = on");
	for (size_t i = 0; rc == 0 && i < store_pg_ndist_tables; i++)
		if ((rc = distribute_one(c, &store_pg_dist_tables[i])) != 0)
			util_err(err, errlen, "citus: cannot distribute the table %s: %s", store_pg_dist_tables[i].name,
			         PQerrorMessage(c));
	store_pg_cmd(c, "RESET citus.enable_unsafe_triggers");
	store_pg_cmd(c, unlock);
	if (rc == 0) {
		*distributed = true;
		log_info("store: citus: %zu table(s) distributed by tenant or reference tables",
		         store_pg_ndist_tables);
	}
	return rc;
}
