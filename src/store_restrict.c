/*
 * store_restrict.c — where restrictions of processing live: the restrict
 * module's table, its schema step, and the typed operations of
 * store_restrict.h. The rows have a legal hold's shape, so the writes and
 * walks are the ones holds use (store_pins_*, store_holds.c).
 *
 * Workload: restrictions are few and change rarely; the check runs once
 * per conversation read by a non-admin token, one indexed probe.
 */
#include "store_int.h"
#include "store_pg_rights.h"

/* The restrict module's part of schema version 7 (IF NOT EXISTS, as
 * step 6: a database whose user_version was set back still has it). */
const struct store_schema_step store_restrict_schema[] = {
	{ 7,
	"CREATE TABLE IF NOT EXISTS restrictions ("
	"  id TEXT PRIMARY KEY,"
	"  tenant TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('conversation', 'subject')),"
	"  target_hash BLOB NOT NULL,"
	"  doc_ct BLOB NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS restrictions_target ON restrictions(tenant, kind, target_hash);" },
};
const size_t store_restrict_schema_count = RD_ARRAY_LEN(store_restrict_schema);

enum rd_err store_restrict_insert(struct store_tx *tx, const struct store_hold *r)
{
	if (tx->pg)
		return store_pg_pins_insert(tx, "restrictions", r);
	return store_pins_insert(tx, "restrictions", r);
}

enum rd_err store_restrict_delete(struct store_tx *tx, const char *id, const char *tenant,
                                  bool *found)
{
	if (tx->pg)
		return store_pg_pins_delete(tx, "restrictions", id, tenant, found);
	return store_pins_delete(tx, "restrictions", id, tenant, found);
}

enum rd_err store_restrict_each(struct store_tx *tx, const char *tenant, store_hold_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_pins_each(tx, "restrictions", tenant, fn, ctx);
	return store_pins_each(tx, "restrictions", tenant, fn, ctx);
}

enum rd_err store_restrict_check(struct store_tx *tx, const char *tenant,
                                 const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *restricted)
{
	if (tx->pg)
		return store_pg_restrict_check(tx, tenant, conv_hash, restricted);
	return store_pins_check(tx, TXS_RESTRICTED, "SELECT " STORE_PINNED_SQL("restrictions", "?2"),
	                        tenant, conv_hash, restricted);
}
