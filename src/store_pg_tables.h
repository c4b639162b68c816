/*
 * store_pg_tables.h — the one mapping between a SQLite store's tables and
 * PostgreSQL's, used both ways (issue 19): `redactd migrate` and a restore
 * into PostgreSQL read a SQLite file and insert into PostgreSQL
 * (store_pg_import.c); `redactd backup` of a PostgreSQL store reads
 * PostgreSQL and writes a SQLite backup file (store_pg_backup.c). Only
 * src/store_pg*.c include it.
 *
 * Each line names a table's columns once, in one order, with one type
 * string. The SQLite side's select (cols FROM from) and PostgreSQL's
 * (pg_select, or the same cols FROM from when the names agree) give the
 * columns in that order; PostgreSQL's insert takes them as $1.. after
 * `skip`, SQLite's (sq_insert, or INSERT INTO from (cols) when the names
 * agree) as ?1..
 *
 * Per-tenant audit chains: PostgreSQL keeps one hash chain per tenant plus
 * the system's (''), SQLite one chain. The system chain maps to SQLite's
 * audit_log, audit_checkpoint and sqlite_sequence (as migrate always
 * did); the tenants' chains go to two tables only a backup of a
 * PostgreSQL store has (backup_audit_chains, backup_audit_chain_state,
 * STORE_PG_BACKUP_TABLES_SQL), entries with their hashes as they are, so a
 * restore into PostgreSQL gives every chain back and `audit verify`
 * walks each to the same head. A table marked optional may be missing
 * from a SQLite source (a live SQLite store has no tenants' chains).
 */
#ifndef REDACTD_STORE_PG_TABLES_H
#define REDACTD_STORE_PG_TABLES_H

#include <stddef.h>

#define MIG_COLS_MAX 16

enum {
	MIG_OPTIONAL = 1,       /* the SQLite side may lack the table: no rows */
	MIG_NO_EXPORT = 2,      /* a backup writes it by other means (a high mark) */
};

struct mig_table {
	const char *name;
	const char *cols;       /* SQLite select list, the key's columns first */
	const char *from;       /* SQLite FROM (a table, join or subquery) */
	const char *key;        /* the key, as ORDER BY and row value */
	int nkey;
	int skip;               /* leading columns not sent to PostgreSQL */
	const char *types;      /* per selected column: i int8, t text, b bytes */
	const char *insert;     /* PostgreSQL */
	const char *src_count;  /* SQLite */
	const char *dst_count;  /* PostgreSQL */
	/* The other way (backup): NULL where the names agree (see above). */
	const char *pg_select;  /* PostgreSQL: the columns of `types`, in order */
	const char *sq_insert;  /* SQLite: binds ?1.. (unused ones may be skipped) */
	unsigned flags;
};

extern const struct mig_table store_pg_tables[];
extern const size_t store_pg_ntables;

/* The backup-only tables that carry the tenants' audit chains. */
#define STORE_PG_BACKUP_TABLES_SQL \
	"CREATE TABLE backup_audit_chains (" \
	"  chain TEXT NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL," \
	"  actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL," \
	"  count INTEGER NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL," \
	"  PRIMARY KEY (chain, seq));" \
	"CREATE TABLE backup_audit_chain_state (" \
	"  chain TEXT PRIMARY KEY, high_mark INTEGER NOT NULL, checkpoint_seq INTEGER," \
	"  checkpoint_hash BLOB, purged_ms INTEGER);"

#endif
