/*
 * schema_modules.c — tables owned by the audit, hold and retention modules.
 *
 * The store applies these after its own migrations, one element per schema
 * step, each inside the migration transaction (store.h). Append new steps;
 * never edit a step that has shipped.
 */
#include "store.h"

const char *const store_module_migrations[] = {
	/* 1: audit log with checkpoint, legal holds, sweeper progress. */
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
	"  purged_ms INTEGER NOT NULL);"
	/* A hold names its target only by keyed hash (conversation or subject
	 * hash); the identifier and reason are sealed in doc_ct. */
	"CREATE TABLE holds ("
	"  id TEXT PRIMARY KEY,"
	"  tenant TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('conversation', 'subject')),"
	"  target_hash BLOB NOT NULL,"
	"  doc_ct BLOB NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE INDEX holds_target ON holds(tenant, kind, target_hash);"
	/* Rows purged by a sweep pass not yet written to the audit log: each
	 * batch adds to it in its own transaction, the pass's audit entry
	 * takes it, so a crash mid-pass loses no count. */
	"CREATE TABLE retention_pending ("
	"  tenant TEXT NOT NULL,"
	"  category TEXT NOT NULL,"
	"  purged INTEGER NOT NULL,"
	"  PRIMARY KEY (tenant, category)) WITHOUT ROWID;",

	/* 3 (the store's): the conversation index moves out of `messages` into
	 * a table the writer fills in bulk (store_convidx.c). An index on
	 * (tenant, conv_hash) dirtied one random page per message and halved
	 * the writer's rate. Messages with id > upto are not indexed yet;
	 * readers find them by scanning that short tail (STORE_CONV_IDS_SQL).
	 * A trigger keeps the index in step with every delete. */
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
	"DROP INDEX messages_conv;",

	/* 4: erasure residue (store_residue.c). One row while deleted records
	 * may still be in the database file or the WAL, because no TRUNCATE
	 * checkpoint has completed since; gen counts the deletes that marked it. */
	"CREATE TABLE residue_pending ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  gen INTEGER NOT NULL,"
	"  since_ms INTEGER NOT NULL);",

	/* 5: the associated data of sealed fields binds role, channel,
	 * category and time too (format 2, crypto_ad_build). Rows sealed
	 * before are re-sealed by store_keyring_attach, which has the master
	 * key that plain SQL lacks; until then the database says format 1. */
	"CREATE TABLE seal_format ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  format INTEGER NOT NULL);"
	"INSERT INTO seal_format (id, format)"
	"  VALUES (1, CASE WHEN EXISTS (SELECT 1 FROM messages) THEN 1 ELSE 2 END);",
};

const size_t store_module_migrations_count =
	sizeof store_module_migrations / sizeof store_module_migrations[0];
