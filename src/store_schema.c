/*
 * store_schema.c — the store's own tables, the register of every table
 * owner's schema steps, and the migration runner.
 *
 * Every table has one owner, and each owner lists the steps that create
 * or change its tables, each tagged with the schema version it belongs to:
 * the store (store_steps, below: data keys, messages, subject links, the
 * conversation index, residue marks, the seal format), the audit log
 * (store_audit.c), legal holds (store_holds.c), the sweeper's pending
 * counts (store_retention.c), tenant closures (store_tenant.c), the
 * replay register of provider message ids (store_replay.c) and consent
 * records (store_consent.c). The owners are registered in `owners` below;
 * that table is the one place that says which module owns which part of
 * the schema.
 *
 * PRAGMA user_version is the schema version. Bringing a database from
 * version v to v + 1 runs every owner's step for v + 1, in the order of
 * `owners`. A new step of any owner is one line in its own list, tagged
 * with the next version; a shipped step is never edited (version 2 is
 * the audit, holds and retention tables, created together, as they always
 * were, so an existing database has exactly the same schema). Every open
 * runs the missing versions in one BEGIN IMMEDIATE transaction, so two
 * processes opening at once migrate once, and a crash mid-migration leaves
 * the old version intact.
 */
#include "store_int.h"
#include "log.h"
#include "util.h"

#include <stdio.h>

static const struct store_schema_step store_steps[] = {
	/* 1: data keys, root key, sealed messages, subject links. */
	{ 1,
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
	"CREATE INDEX subjects_conv ON subjects(tenant, conv_hash);" },

	/* 2: the audit log, holds and the sweeper's pending counts (their
	 * owners' lists below). */

	/* 3: the conversation index moves out of `messages` into a table the
	 * writer fills in bulk (store_convidx.c). An index on (tenant,
	 * conv_hash) dirtied one random page per message and halved the
	 * writer's rate. Messages with id > upto are not indexed yet; readers
	 * find them by scanning that short tail (STORE_CONV_IDS_SQL). A
	 * trigger keeps the index in step with every delete. */
	{ 3,
	"CREATE TABLE conv_index ("
	"  tenant TEXT NOT NULL,"
	"  conv_hash BLOB NOT NULL,"
	"  msg_id INTEGER NOT NULL,"
	"  PRIMARY KEY (tenant, conv_hash, msg_id)) WITHOUT ROWID;"
	"CREATE TABLE conv_index_state ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  upto INTEGER NOT NULL);"
	"INSERT INTO conv_index (tenant, conv_hash, msg_id) SELECT tenant, conv_hash, id FROM messages;"
	"INSERT INTO conv_index_state (id, upto) VALUES (1, coalesce((SELECT max(id) FROM messages), 0));"
	"CREATE TRIGGER messages_unindex AFTER DELETE ON messages BEGIN"
	"  DELETE FROM conv_index"
	"   WHERE tenant = old.tenant AND conv_hash = old.conv_hash AND msg_id = old.id;"
	" END;"
	"DROP INDEX messages_conv;" },

	/* 4: erasure residue (store_residue.c). One row while deleted records
	 * may still be in the database file or the WAL, because no TRUNCATE
	 * checkpoint has completed since; gen counts the deletes that marked it. */
	{ 4,
	"CREATE TABLE residue_pending ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  gen INTEGER NOT NULL,"
	"  since_ms INTEGER NOT NULL);" },

	/* 5: the associated data of sealed fields binds role, channel,
	 * category and time too (format 2, crypto_ad_build). Rows sealed
	 * before are re-sealed by store_keyring_attach, which has the master
	 * key that plain SQL lacks; until then the database says format 1. */
	{ 5,
	"CREATE TABLE seal_format ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  format INTEGER NOT NULL);"
	"INSERT INTO seal_format (id, format)"
	"  VALUES (1, CASE WHEN EXISTS (SELECT 1 FROM messages) THEN 1 ELSE 2 END);" },

	/* 6: records in (tenant, category, time) order. The sweeper and the
	 * metrics refresh walk every (tenant, category) group with its oldest
	 * record (store_groups); without this index SQLite sorted every record
	 * in memory to group them (160 MB of RSS at 2 M records, every 30 s).
	 * Now that walk and the due counts of a group read the index alone. It
	 * grows at the end of each group's range, so ingest pays little. */
	{ 6, "CREATE INDEX IF NOT EXISTS messages_tenant_cat_ts ON messages(tenant, category, ts_ms);" },

	/* 8: messages(category, ts_ms) goes: (tenant, category, ts_ms) serves
	 * what it served (the purge scan, tenant by tenant, and the search for
	 * a data key's records, whose key names its tenant). Every index on
	 * messages costs each group commit its last leaf and that leaf's
	 * parent, again and again: this one was 2.3 of the 22 WAL frames a
	 * commit of 13 chat turns wrote (BENCHMARKS.md, issue 16). */
	{ 8, "DROP INDEX IF EXISTS messages_cat_ts;" },

	/* 9: subject links found by conversation through the messages that
	 * name them (msg_subjects; see STORE_LINKS_CARRY_SQL) instead of an
	 * index on subjects(tenant, conv_hash), which cost every new customer
	 * a second random B-tree page. Every message first goes into the
	 * conversation index, then each existing link is named by its
	 * conversation's newest message (in slices, so the sort's memory is
	 * bounded), then links no message names go. */
	{ 9,
	"CREATE TABLE IF NOT EXISTS msg_subjects ("
	"  msg_id INTEGER NOT NULL,"
	"  subject_hash BLOB NOT NULL,"
	"  PRIMARY KEY (msg_id, subject_hash)) WITHOUT ROWID;"
	"CREATE TRIGGER IF NOT EXISTS messages_unlink AFTER DELETE ON messages BEGIN"
	"  DELETE FROM msg_subjects WHERE msg_id = old.id;"
	" END;"
	STORE_CONVIDX_FILL_SQL ";"
	"UPDATE conv_index_state"
	"  SET upto = max(upto, coalesce((SELECT max(id) FROM messages), 0)) WHERE id = 1;" },
};

/* 9, after its SQL above: the links named (store_links_name_all), then
 * those of no message dropped. */
static int name_links_v9(sqlite3 *db)
{
	return store_links_name_all(db) ||
	       sqlite3_exec(db, STORE_LINKS_STALE_SQL, NULL, NULL, NULL) != SQLITE_OK ? -1 : 0;
}

/* Indexes a step retired, dropped after the migration's COMMIT in a
 * transaction of their own, at every open (a crash in between leaves
 * one behind for the next open to drop). WHY: inside the migration's
 * transaction SQLite keeps a statement journal of every page the DROP
 * rewrites (secure_delete zeroes them all), and temp_store=MEMORY keeps
 * it in memory: 170 MB for the 2 M links of v9's subjects_conv, against
 * 6 MB alone. */
static const char retired_indexes_sql[] = "DROP INDEX IF EXISTS subjects_conv;";

/* Steps that need code, run after every owner's SQL of their version. */
static const struct {
	int version;
	int (*run)(sqlite3 *db);   /* -1 on error: sqlite3_errmsg(db) */
} code_steps[] = {
	{ 9, name_links_v9 },
};

/* The register of table owners, in the order their steps of one version
 * run. */
static const struct {
	const char *owner;
	const struct store_schema_step *steps;
	const size_t *count;
} owners[] = {
	{ "store", store_steps, NULL },
	{ "audit", store_audit_schema, &store_audit_schema_count },
	{ "holds", store_holds_schema, &store_holds_schema_count },
	{ "retention", store_retention_schema, &store_retention_schema_count },
	{ "tenant", store_tenant_schema, &store_tenant_schema_count },
	{ "replay", store_replay_schema, &store_replay_schema_count },
	{ "consent", store_consent_schema, &store_consent_schema_count },
	{ "restrict", store_restrict_schema, &store_restrict_schema_count },
	{ "journal", store_journal_schema, &store_journal_schema_count },
};

static void (*migration_hook)(int from, int to);

void store_set_migration_hook(void (*fn)(int from, int to))
{
	migration_hook = fn;
}

void store_migration_starting(int from, int to)
{
	/* A new database (version 0) is made at once; an existing one may take
	 * a while. */
	if (from > 0 && from < to && migration_hook)
		migration_hook(from, to);
}

static size_t owner_steps(size_t o)
{
	return owners[o].count ? *owners[o].count : RD_ARRAY_LEN(store_steps);
}

size_t store_migration_count(void)
{
	int newest = 0;
	for (size_t o = 0; o < RD_ARRAY_LEN(owners); o++)
		for (size_t i = 0; i < owner_steps(o); i++)
			if (owners[o].steps[i].version > newest)
				newest = owners[o].steps[i].version;
	return (size_t)newest;
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

/* Every owner's step for one version. */
static int apply_version(sqlite3 *db, int v, char *err, size_t errlen)
{
	for (size_t o = 0; o < RD_ARRAY_LEN(owners); o++) {
		for (size_t i = 0; i < owner_steps(o); i++) {
			if (owners[o].steps[i].version != v)
				continue;
			if (sqlite3_exec(db, owners[o].steps[i].sql, NULL, NULL, NULL) != SQLITE_OK) {
				util_err(err, errlen, "schema step %d (%s) failed: %s", v, owners[o].owner,
				         sqlite3_errmsg(db));
				return -1;
			}
		}
	}
	for (size_t i = 0; i < RD_ARRAY_LEN(code_steps); i++) {
		if (code_steps[i].version == v && code_steps[i].run(db)) {
			util_err(err, errlen, "schema step %d (store) failed: %s", v, sqlite3_errmsg(db));
			return -1;
		}
	}
	return 0;
}

/* Versions from+1..to and the new user_version, inside the caller's
 * transaction. */
static int apply_steps(sqlite3 *db, int from, int to, char *err, size_t errlen)
{
	for (int v = from + 1; v <= to; v++)
		if (apply_version(db, v, err, errlen))
			return -1;
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
	if (v > 0)
		store_migration_starting(v, newest);
	if (v < 0 || apply_steps(db, v, newest, err, errlen))
		goto fail;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		util_err(err, errlen, "cannot commit the migration: %s", sqlite3_errmsg(db));
		goto fail;
	}
	/* Not a reason to refuse the store (it is migrated): the next open
	 * tries again. A full disk, say: secure_delete writes every page. */
	if (sqlite3_exec(db, retired_indexes_sql, NULL, NULL, NULL) != SQLITE_OK)
		log_warn("store: cannot drop a retired index yet: %s", sqlite3_errmsg(db));
	*version = newest;
	rc = 0;
fail:
	if (rc != 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

enum rd_err store_test_create_at_version(const char *path, size_t version)
{
	sqlite3 *db = NULL;
	char err[256];
	int rc = sqlite3_open(path, &db) == SQLITE_OK &&
	         sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
	         apply_steps(db, 0, (int)version, err, sizeof err) == 0 &&
	         sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	sqlite3_close(db);
	return rc == 0 ? RD_OK : RD_E_STORAGE;
}
