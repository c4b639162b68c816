/*
 * store_pg_backup.c — `redactd backup` and `redactd restore` on the
 * PostgreSQL backend (issue 19): a backup of a PostgreSQL store is the same
 * SQLite backup file a SQLite store's is, and a backup is restored into an
 * empty PostgreSQL database with the live store's erasures replayed.
 *
 * Workload: an operator's command, once a day or so, millions of rows
 * streamed through a cursor a thousand at a time; a restore once in a
 * long while.
 *
 * DESIGN
 * Backup: one REPEATABLE READ, READ ONLY transaction on a connection of
 * its own reads every table (store_pg_tables.h names the columns, the
 * same line migrate uses the other way) and inserts into a new SQLite file
 * made with the SQLite schema, in one SQLite transaction; the row counts
 * of both sides are compared inside the snapshot; then the SQLite
 * backup's own last step (store_backup_finish: backup_meta, key material
 * removed unless --with-keys, VACUUM). Rows stay sealed, keys stay
 * wrapped: nothing is decrypted. The system chain goes to audit_log, the
 * tenants' chains to the backup-only tables (store_pg_tables.h).
 *
 * WHY a lock for the journal's mark: erasure_journal's seq comes from a
 * sequence, and on several nodes an entry with a smaller seq can commit
 * after one with a greater; a snapshot between them would make "the
 * highest seq seen" a mark below which an entry is missing, never to be
 * replayed. Every journal append holds STORE_PG_LOCK_JOURNAL shared until
 * its transaction ends; the backup takes it exclusive on a second
 * connection, starts its snapshot, and lets go: no append is in flight at
 * the snapshot, so every entry at or below the mark is in it. An erasure
 * waits for that instant only (one statement).
 *
 * Restore (store_pg_restore): the backup file is loaded by the import path
 * (store_import_file: resumable batches, counts compared), then, in one
 * transaction on the target, the live store's journal entries newer than
 * the backup's mark are applied (as store_journal.c does on SQLite: a
 * record entry whose record is still live takes its rectified content),
 * the live wrapped keys replace the backup's (shredded stays shredded; a
 * key-less backup opens), and the entries join the target's journal.
 *
 * INVARIANTS: every SQL string is a constant or made of store_pg_tables'
 * constants; values go as parameters. The target is never the live
 * store's database (probed with an advisory lock, even under --force).
 */
#include "store_pg_int.h"
#include "store_pg_tables.h"
#include "store_import.h"
#include "store_journal.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PGB_FETCH "FETCH 1000 FROM rd_backup"

struct pgb {
	PGconn *c;               /* the snapshot's connection */
	sqlite3 *db;             /* the new backup file */
	int64_t journal_mark;    /* the journal's highest seq in the snapshot */
	int64_t audit_high;      /* the system chain's high mark */
	char *err;
	size_t errlen;
};

static enum rd_err fail_pg(PGconn *c, char *err, size_t errlen, const char *what)
{
	util_err(err, errlen, "%s: %s", what, PQerrorMessage(c));
	size_t n = strlen(err);
	while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	return RD_E_STORAGE;
}

static enum rd_err fail_sq(struct pgb *b, const char *what)
{
	util_err(b->err, b->errlen, "backup: %s: %s", what, sqlite3_errmsg(b->db));
	return RD_E_STORAGE;
}

/* An integer column of a binary result, whatever its width (int2/4/8). */
static int64_t get_int(const PGresult *r, int row, int col)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	int n = PQgetlength(r, row, col);
	if (n == 8)
		return store_pg_get64(r, row, col);
	uint32_t v = 0;
	for (int i = 0; i < n && i < 4; i++)
		v = v << 8 | p[i];
	return n == 4 ? (int64_t)(int32_t)v : n == 2 ? (int64_t)(int16_t)v : 0;
}

/* ---- backup: the snapshot ----------------------------------------------------- */

static const char marks_sql[] =
	"SELECT greatest(coalesce((SELECT max(seq) FROM erasure_journal), 0),"
	" coalesce((SELECT expired_upto FROM journal_state WHERE id = 1), 0))::bigint,"
	" coalesce((SELECT high_mark FROM audit_chains WHERE chain = ''), 0)::bigint";

/* Starts b->c's snapshot while no journal append is in flight (see WHY),
 * and reads the marks in it. */
static enum rd_err snapshot_begin(struct store *st, struct pgb *b)
{
	PGconn *gate = store_pg_connect(st->pg, b->err, b->errlen);
	char lock[64];
	if (!gate)
		return RD_E_STORAGE;
	snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%d, 0)", STORE_PG_LOCK_JOURNAL);
	enum rd_err rc = RD_OK;
	if (store_pg_cmd(gate, lock))
		rc = fail_pg(gate, b->err, b->errlen, "backup: cannot lock the erasure journal");
	else if (store_pg_cmd(b->c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
		rc = fail_pg(b->c, b->err, b->errlen, "backup: cannot begin the snapshot");
	PGresult *r = rc == RD_OK ? store_pg_exec(b->c, marks_sql, 0, NULL, NULL, NULL) : NULL;
	if (rc == RD_OK && !r)
		rc = fail_pg(b->c, b->err, b->errlen, "backup: cannot read the journal's mark");
	if (r) {
		b->journal_mark = store_pg_get64(r, 0, 0);
		b->audit_high = store_pg_get64(r, 0, 1);
	}
	PQclear(r);
	PQfinish(gate);   /* the session lock goes with it */
	return rc;
}

/* ---- backup: one table ------------------------------------------------------- */

/* Binds row i of r as ?1.. of s, by t's types. */
static void bind_row(sqlite3_stmt *s, const struct mig_table *t, const PGresult *r, int i)
{
	int n = (int)strlen(t->types);
	for (int k = 0; k < n; k++) {
		if (PQgetisnull(r, i, k))
			sqlite3_bind_null(s, k + 1);
		else if (t->types[k] == 'i')
			sqlite3_bind_int64(s, k + 1, get_int(r, i, k));
		else if (t->types[k] == 'b')
			sqlite3_bind_blob(s, k + 1, PQgetvalue(r, i, k), PQgetlength(r, i, k), SQLITE_STATIC);
		else
			sqlite3_bind_text(s, k + 1, PQgetvalue(r, i, k), PQgetlength(r, i, k), SQLITE_STATIC);
	}
}

/* The SQLite insert of t: its own, or INSERT INTO from (cols). */
static int insert_sql(const struct mig_table *t, char *out, size_t len)
{
	if (t->sq_insert)
		return snprintf(out, len, "%s", t->sq_insert) < (int)len ? 0 : -1;
	size_t n = strlen(t->types), used = (size_t)snprintf(out, len, "INSERT INTO %s (%s) VALUES (",
	                                                     t->from, t->cols);
	for (size_t k = 0; k < n && used < len; k++)
		used += (size_t)snprintf(out + used, len - used, "%s?%zu", k ? ", " : "", k + 1);
	return used + 2 < len && snprintf(out + used, len - used, ")") == 1 ? 0 : -1;
}

/* Each fetched batch of rows into s. */
static enum rd_err copy_rows(struct pgb *b, const struct mig_table *t, sqlite3_stmt *s)
{
	for (;;) {
		PGresult *r = store_pg_exec(b->c, PGB_FETCH, 0, NULL, NULL, NULL);
		if (!r)
			return fail_pg(b->c, b->err, b->errlen, "backup: cannot read a table");
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			bind_row(s, t, r, i);
			int step = sqlite3_step(s);
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			if (step != SQLITE_DONE) {
				PQclear(r);
				return fail_sq(b, "cannot write a row");
			}
		}
		PQclear(r);
		if (n == 0)
			return RD_OK;
	}
}

static enum rd_err export_table(struct pgb *b, const struct mig_table *t)
{
	char sel[1024], ins[1024];
	sqlite3_stmt *s = NULL;
	int w = t->pg_select ? snprintf(sel, sizeof sel, "DECLARE rd_backup NO SCROLL CURSOR FOR %s",
	                                t->pg_select)
	                     : snprintf(sel, sizeof sel, "DECLARE rd_backup NO SCROLL CURSOR FOR"
	                                " SELECT %s FROM %s", t->cols, t->from);
	if (w >= (int)sizeof sel || insert_sql(t, ins, sizeof ins)) {
		util_err(b->err, b->errlen, "backup: %s: statement too long (bug)", t->name);
		return RD_E_INTERNAL;
	}
	if (sqlite3_prepare_v2(b->db, ins, -1, &s, NULL) != SQLITE_OK)
		return fail_sq(b, "cannot prepare an insert");
	enum rd_err rc = store_pg_cmd(b->c, sel) ? fail_pg(b->c, b->err, b->errlen,
	                                                  "backup: cannot read a table") : RD_OK;
	if (rc == RD_OK) {
		rc = copy_rows(b, t, s);
		if (store_pg_cmd(b->c, "CLOSE rd_backup") && rc == RD_OK)
			rc = fail_pg(b->c, b->err, b->errlen, "backup: cannot close a cursor");
	}
	sqlite3_finalize(s);
	return rc;
}

/* ---- backup: what the rows do not carry ----------------------------------------- */

/* sqlite_sequence's high mark of table: at least v (an AUTOINCREMENT
 * table's rows set it only as high as the highest row). */
static int set_high_mark(sqlite3 *db, const char *table, int64_t v)
{
	static const char *const sql[2] = {
		"INSERT INTO sqlite_sequence (name, seq) SELECT ?1, 0"
		" WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
		"UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1",
	};
	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(db, sql[i], -1, &s, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
		if (i)
			sqlite3_bind_int64(s, 2, v);
		int rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

/* The high marks, and the conversation index a SQLite store keeps (its
 * readers then need not scan every message as "not indexed yet"). */
static enum rd_err finish_rows(struct pgb *b)
{
	if (set_high_mark(b->db, "audit_log", b->audit_high) ||
	    set_high_mark(b->db, "erasure_journal", b->journal_mark) ||
	    sqlite3_exec(b->db, "INSERT INTO conv_index (tenant, conv_hash, msg_id)"
	                 " SELECT tenant, conv_hash, id FROM messages;"
	                 " UPDATE conv_index_state SET upto = coalesce((SELECT max(id) FROM messages), 0);",
	                 NULL, NULL, NULL) != SQLITE_OK)
		return fail_sq(b, "cannot write the high marks");
	return RD_OK;
}

/* Every table has as many rows in the file as in the snapshot. */
static enum rd_err compare_counts(struct pgb *b)
{
	for (size_t i = 0; i < store_pg_ntables; i++) {
		const struct mig_table *t = &store_pg_tables[i];
		if (t->flags & MIG_NO_EXPORT)
			continue;
		PGresult *r = store_pg_exec(b->c, t->dst_count, 0, NULL, NULL, NULL);
		sqlite3_stmt *s = NULL;
		int64_t pg = r && PQntuples(r) == 1 ? store_pg_get64(r, 0, 0) : -1, sq = -2;
		PQclear(r);
		if (sqlite3_prepare_v2(b->db, t->src_count, -1, &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			sq = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
		if (pg != sq) {
			util_err(b->err, b->errlen, "backup: %s: %lld row(s) in the snapshot, %lld in the copy",
			         t->name, (long long)pg, (long long)sq);
			return RD_E_INTEGRITY;
		}
	}
	return RD_OK;
}

/* ---- backup: the whole ------------------------------------------------------------ */

/* dest made (O_EXCL, 0600) with the SQLite schema and the backup-only
 * tables, a transaction open on it. */
static enum rd_err file_create(struct pgb *b, const char *dest)
{
	char merr[256];
	int version;
	int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		util_err(b->err, b->errlen, "backup: cannot create %s: %s", errno == EEXIST ?
		         "destination (it exists)" : "destination", strerror(errno));
		return RD_E_INVALID_REQUEST;
	}
	close(fd);
	if (sqlite3_open_v2(dest, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK)
		return fail_sq(b, "cannot open the destination");
	if (sqlite3_exec(b->db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;", NULL, NULL,
	                 NULL) != SQLITE_OK)
		return fail_sq(b, "cannot set up the destination");
	if (store_migrate(b->db, &version, merr, sizeof merr)) {
		util_err(b->err, b->errlen, "backup: the SQLite schema: %s", merr);
		return RD_E_STORAGE;
	}
	if (sqlite3_exec(b->db, "BEGIN; " STORE_PG_BACKUP_TABLES_SQL, NULL, NULL, NULL) != SQLITE_OK)
		return fail_sq(b, "cannot set up the destination");
	return RD_OK;
}

static enum rd_err backup_run(struct store *st, struct pgb *b, const char *dest)
{
	enum rd_err rc = file_create(b, dest);
	if (rc != RD_OK)
		return rc;
	if (!(b->c = store_pg_connect(st->pg, b->err, b->errlen)))
		return RD_E_STORAGE;
	if ((rc = snapshot_begin(st, b)) != RD_OK)
		return rc;
	for (size_t i = 0; rc == RD_OK && i < store_pg_ntables; i++)
		if (!(store_pg_tables[i].flags & MIG_NO_EXPORT))
			rc = export_table(b, &store_pg_tables[i]);
	if (rc == RD_OK && (rc = finish_rows(b)) == RD_OK)
		rc = compare_counts(b);
	if (rc == RD_OK && store_pg_cmd(b->c, "COMMIT"))
		rc = fail_pg(b->c, b->err, b->errlen, "backup: the snapshot ended badly");
	if (rc == RD_OK && sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = fail_sq(b, "cannot commit the copy");
	return rc;
}

enum rd_err store_pg_backup(struct store *st, const char *dest, unsigned flags, int64_t *records,
                            char *err, size_t errlen)
{
	struct pgb b = { .err = err, .errlen = errlen };
	int64_t n = 0, taken_ms = util_now_ms();
	enum rd_err rc = backup_run(st, &b, dest);
	if (rc == RD_OK && (store_backup_finish(b.db, flags, taken_ms, err, errlen) ||
	                    store_backup_count(b.db, &n)))
		rc = RD_E_STORAGE;
	PQfinish(b.c);
	if (sqlite3_close(b.db) != SQLITE_OK && rc == RD_OK) {
		util_err(err, errlen, "backup: cannot close %s", dest);
		rc = RD_E_STORAGE;
	}
	if (rc != RD_OK) {
		char j[4200];
		if (rc != RD_E_INVALID_REQUEST) {   /* not a DEST that existed before */
			unlink(dest);
			snprintf(j, sizeof j, "%s-journal", dest);
			unlink(j);
		}
		return rc == RD_E_INVALID_REQUEST ? RD_E_STORAGE : rc;
	}
	log_info("store: postgresql backup written%s: %lld record(s), journal mark %lld",
	         (flags & STORE_BACKUP_WITH_KEYS) ? " with keys" : "", (long long)n,
	         (long long)b.journal_mark);
	if (records)
		*records = n;
	return RD_OK;
}
