/*
 * store_schema.c — the store's schema and the migration runner.
 *
 * PRAGMA user_version counts the schema steps applied. The steps form one
 * ordered chain: the store's own (store_steps, below) then the other
 * modules' (store_module_migrations, src/schema_modules.c). store_steps is
 * frozen at its shipped length because the module steps are numbered after
 * it: a new step of any module, the store included, is one line appended to
 * store_module_migrations. A shipped step is never edited. Every open runs
 * the missing steps in one BEGIN IMMEDIATE transaction, so two processes
 * opening at once migrate once, and a crash mid-migration leaves the old
 * version intact.
 */
#include "store_int.h"
#include "util.h"

#include <stdio.h>

static const char *const store_steps[] = {
	/* 1: data keys, root key, sealed messages, subject links. */
	/* A data key per (tenant, category, month); wrapped by the master key
	 * (AD binds id), NULL once destroyed (crypto-shredding). start/end
	 * bound the month's ts_ms so "no record left" is an index probe. Only
	 * live keys are unique, so a destroyed period can get a new key. */
	"CREATE TABLE data_keys ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant TEXT NOT NULL,"
	"  category TEXT NOT NULL,"
	"  period TEXT NOT NULL,"           /* 'YYYY-MM', UTC */
	"  start_ms INTEGER NOT NULL,"
	"  end_ms INTEGER NOT NULL,"
	"  wrapped BLOB,"
	"  created_ms INTEGER NOT NULL,"
	"  destroyed_ms INTEGER);"
	"CREATE UNIQUE INDEX data_keys_live ON data_keys(tenant, category, period)"
	"  WHERE wrapped IS NOT NULL;"
	/* Every personal field sealed (crypto_ad_build binds row, field, key);
	 * the conversation id only as a keyed hash plus its sealed copy. */
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  record_id TEXT NOT NULL UNIQUE,"
	"  tenant TEXT NOT NULL,"
	"  conv_hash BLOB NOT NULL,"
	"  ts_ms INTEGER NOT NULL,"
	"  received_ms INTEGER NOT NULL,"
	"  role TEXT NOT NULL,"
	"  channel TEXT NOT NULL,"
	"  category TEXT NOT NULL,"
	"  key_id INTEGER NOT NULL,"
	"  conv_ct BLOB NOT NULL,"
	"  text_ct BLOB NOT NULL,"
	"  meta_ct BLOB NOT NULL,"
	"  entity_counts TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX messages_conv ON messages(tenant, conv_hash, ts_ms);"
	"CREATE INDEX messages_cat_ts ON messages(category, ts_ms);"
	/* Which conversations a subject (keyed hash of an email/phone/sender)
	 * appears in. */
	/* The root of the keyed-hash subkeys, wrapped by the master key (key id
	 * 0): rotation re-wraps it, so stored hashes stay valid. */
	"CREATE TABLE key_root ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  wrapped BLOB NOT NULL,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE TABLE subjects ("
	"  subject_hash BLOB NOT NULL,"
	"  tenant TEXT NOT NULL,"
	"  conv_hash BLOB NOT NULL,"
	"  PRIMARY KEY (subject_hash, tenant, conv_hash)) WITHOUT ROWID;"
	"CREATE INDEX subjects_conv ON subjects(tenant, conv_hash);",
};

size_t store_migration_count(void)
{
	return RD_ARRAY_LEN(store_steps) + store_module_migrations_count;
}

const char *store_migration_sql(size_t i)
{
	if (i < RD_ARRAY_LEN(store_steps))
		return store_steps[i];
	i -= RD_ARRAY_LEN(store_steps);
	return i < store_module_migrations_count ? store_module_migrations[i] : NULL;
}

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Steps from..to-1 and the new user_version, inside the caller's
 * transaction. */
static int apply_steps(sqlite3 *db, int from, int to, char *err, size_t errlen)
{
	for (int i = from; i < to; i++) {
		if (sqlite3_exec(db, store_migration_sql((size_t)i), NULL, NULL, NULL) != SQLITE_OK) {
			util_err(err, errlen, "schema step %d failed: %s", i + 1, sqlite3_errmsg(db));
			return -1;
		}
	}
	char sql[64];   /* an integer of ours: PRAGMA values cannot be bound */
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", to);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		util_err(err, errlen, "cannot set schema version: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int store_migrate(sqlite3 *db, int *version, char *err, size_t errlen)
{
	int v = 0, rc = -1, newest = (int)store_migration_count();
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		util_err(err, errlen, "cannot lock the database: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (user_version(db, &v)) {
		util_err(err, errlen, "cannot read schema version: %s", sqlite3_errmsg(db));
		goto fail;
	}
	if (v > newest) {
		util_err(err, errlen, "database schema version %d is newer than this redactd (%d)", v,
		         newest);
		goto fail;
	}
	if (v < 0 || apply_steps(db, v, newest, err, errlen))
		goto fail;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		util_err(err, errlen, "cannot commit the migration: %s", sqlite3_errmsg(db));
		goto fail;
	}
	*version = newest;
	rc = 0;
fail:
	if (rc != 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
