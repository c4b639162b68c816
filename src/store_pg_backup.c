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
#include <sodium.h>
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

/* The high marks, the conversation index a SQLite store keeps (its
 * readers then need not scan every message as "not indexed yet") and the
 * messages that name its subject links (STORE_LINKS_CARRY_SQL). */
static enum rd_err finish_rows(struct pgb *b)
{
	if (set_high_mark(b->db, "audit_log", b->audit_high) ||
	    set_high_mark(b->db, "erasure_journal", b->journal_mark) ||
	    sqlite3_exec(b->db, "INSERT INTO conv_index (tenant, conv_hash, msg_id)"
	                 " SELECT tenant, conv_hash, id FROM messages;"
	                 " UPDATE conv_index_state SET upto ="
	                 " coalesce((SELECT max(id) FROM messages), 0);",
	                 NULL, NULL, NULL) != SQLITE_OK || store_links_name_all(b->db))
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
	if (sqlite3_exec(b->db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;"
	                 " PRAGMA secure_delete=ON;", NULL, NULL, NULL) != SQLITE_OK)
		return fail_sq(b, "cannot set up the destination");
	if (store_migrate(b->db, &version, merr, sizeof merr)) {
		util_err(b->err, b->errlen, "backup: the SQLite schema: %s", merr);
		return RD_E_STORAGE;
	}
	if (sqlite3_exec(b->db, "BEGIN; " STORE_PG_BACKUP_TABLES_SQL, NULL, NULL, NULL) != SQLITE_OK)
		return fail_sq(b, "cannot set up the destination");
	return RD_OK;
}

static enum rd_err backup_run(struct store *st, struct pgb *b, const char *dest, unsigned flags)
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
	/* Key-less: the keys never reach the file's committed state, and
	 * secure_delete zeroes the cells they held (no VACUUM needed). */
	if (rc == RD_OK && !(flags & STORE_BACKUP_WITH_KEYS) &&
	    sqlite3_exec(b->db, "UPDATE data_keys SET wrapped = NULL", NULL, NULL, NULL) != SQLITE_OK)
		rc = fail_sq(b, "cannot remove the key material");
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
	enum rd_err rc = backup_run(st, &b, dest, flags);
	if (rc == RD_OK && (store_backup_finish(b.db, flags | STORE_BACKUP_NO_SCRUB, taken_ms, err,
	                                        errlen) || store_backup_count(b.db, &n)))
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

/* ---- restore: the backup and the live journal ----------------------------------- */

struct pgr {
	struct store *target, *live;
	unsigned flags;
	PGconn *t, *l;                /* the target's connection, the live store's */
	struct store_restore_report *r;
	char *err;
	size_t errlen;
};

/* The backup's meta: taken_ms and the journal mark it saw. */
static enum rd_err read_backup(struct pgr *x, const char *backup)
{
	sqlite3 *db = NULL;
	bool with_keys = false;
	int found = -1;
	if (sqlite3_open_v2(backup, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL) == SQLITE_OK)
		found = store_backup_meta(db, &x->r->taken_ms, &x->r->mark, &with_keys);
	sqlite3_close(db);
	if (found == 1)
		return RD_OK;
	util_err(x->err, x->errlen, "%s is not a redactd backup (or one made before the erasure journal"
	         " existed, which only a restore into a SQLite file takes)", backup);
	return found < 0 ? RD_E_STORAGE : RD_E_INVALID_REQUEST;
}

/* Does the live journal still hold every entry above the backup's mark? */
static enum rd_err check_live(struct pgr *x)
{
	PGresult *r = store_pg_exec(x->l, "SELECT expired_upto FROM journal_state WHERE id = 1", 0, NULL,
	                            NULL, NULL);
	if (!r || PQntuples(r) != 1) {
		PQclear(r);
		return fail_pg(x->l, x->err, x->errlen, "cannot read the live erasure journal");
	}
	int64_t expired = store_pg_get64(r, 0, 0);
	PQclear(r);
	x->r->journal = true;
	x->r->covered = expired <= x->r->mark;
	x->r->forced = !x->r->covered;
	if (x->r->covered || (x->flags & STORE_RESTORE_FORCE))
		return RD_OK;
	util_err(x->err, x->errlen, "the live erasure journal no longer covers this backup (entries up to"
	         " %lld have expired, the backup saw %lld): erasures made since could not all be"
	         " replayed; --force restores anyway", (long long)expired, (long long)x->r->mark);
	return RD_E_NOT_FOUND;
}

/* The target must not be the live store's own database, whatever --force
 * says: the live session holds an advisory lock with a random key, and the
 * target looks for it among its own database's locks. */
static enum rd_err check_not_live(struct pgr *x)
{
	char nonce[16], sql[256];
	snprintf(nonce, sizeof nonce, "%u", (unsigned)randombytes_uniform(INT32_MAX));
	const char *vals[1] = { nonce };
	snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d, $1::int)", STORE_PG_LOCK_RESTORE);
	PGresult *r = store_pg_exec(x->l, sql, 1, vals, NULL, NULL);
	if (!r)
		return fail_pg(x->l, x->err, x->errlen, "cannot lock the live store");
	PQclear(r);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid"
	         " = %d AND objid = $1::oid AND objsubid = 2 AND database = (SELECT oid FROM"
	         " pg_database WHERE datname = current_database())", STORE_PG_LOCK_RESTORE);
	r = store_pg_exec(x->t, sql, 1, vals, NULL, NULL);
	int64_t same = r && PQntuples(r) == 1 ? store_pg_get64(r, 0, 0) : -1;
	PQclear(r);
	snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d, $1::int)", STORE_PG_LOCK_RESTORE);
	PQclear(store_pg_exec(x->l, sql, 1, vals, NULL, NULL));
	if (same < 0)
		return fail_pg(x->t, x->err, x->errlen, "cannot look into the target");
	if (same == 0)
		return RD_OK;
	util_err(x->err, x->errlen, "the target is the live store's own database: restore into a new"
	         " one (CREATE DATABASE), then point [storage] url at it");
	return RD_E_INVALID_REQUEST;
}

/* --force: the target emptied, in one transaction; report->emptied when
 * it held data (the restore is then audited as restore.forced). */
static const char empty_sql[] =
	"TRUNCATE messages, data_keys, key_root, subjects, replay_ids, audit_log, audit_chains, holds,"
	" restrictions, tenant_closures, consents, erasure_journal, migrate_state, migrate_progress,"
	" retention_pending; UPDATE journal_state SET expired_upto = 0";

static enum rd_err empty_target(struct pgr *x)
{
	PGresult *r = store_pg_exec(x->t, STORE_PG_TARGET_USED_SQL, 0, NULL, NULL, NULL);
	int64_t used = r && PQntuples(r) == 1 ? store_pg_get64(r, 0, 0) : -1;
	PQclear(r);
	if (used < 0)
		return fail_pg(x->t, x->err, x->errlen, "cannot look into the target");
	x->r->emptied = used > 0;
	if (store_pg_cmd(x->t, "BEGIN") || store_pg_cmd(x->t, empty_sql) ||
	    store_pg_cmd(x->t, "COMMIT")) {
		store_pg_cmd(x->t, "ROLLBACK");
		return fail_pg(x->t, x->err, x->errlen, "cannot empty the target");
	}
	return RD_OK;
}

/* ---- restore: the replay ------------------------------------------------------------ */

/* What one journal entry deletes from the target, as an erasure does on
 * PostgreSQL (store_pg_ops.c): the replay register's rows, the subject
 * links left pointing at nothing, the messages (the last one's count is
 * the records removed). $1 the tenant, $2 the target (a conversation's
 * hash as bytea, a record id as text). */
static const char *const replay_pg_sql[][3] = {
	[STORE_JOURNAL_CONVERSATION] = {
		"DELETE FROM replay_ids r USING messages m WHERE r.tenant = $1 AND m.tenant = $1"
		" AND m.conv_hash = $2 AND r.msg_id = m.id",
		"DELETE FROM subjects WHERE tenant = $1 AND conv_hash = $2",
		"DELETE FROM messages WHERE tenant = $1 AND conv_hash = $2",
	},
	[STORE_JOURNAL_RECORD] = {
		"DELETE FROM replay_ids r USING messages m WHERE r.tenant = $1 AND m.tenant = $1"
		" AND m.record_id = $2 AND r.msg_id = m.id",
		"DELETE FROM subjects WHERE tenant = $1 AND conv_hash IN (SELECT conv_hash FROM messages"
		" WHERE tenant = $1 AND record_id = $2) AND NOT EXISTS (SELECT 1 FROM messages o"
		" WHERE o.tenant = $1 AND o.conv_hash = subjects.conv_hash AND o.record_id <> $2)",
		"DELETE FROM messages WHERE tenant = $1 AND record_id = $2",
	},
	[STORE_JOURNAL_TENANT] = {
		"DELETE FROM replay_ids WHERE tenant = $1 AND $2::bytea IS NULL",
		"DELETE FROM subjects WHERE tenant = $1 AND $2::bytea IS NULL",
		"DELETE FROM messages WHERE tenant = $1 AND $2::bytea IS NULL",
	},
};

static int kind_of(const char *name)
{
	static const char *const names[] = { "conversation", "record", "tenant" };
	for (size_t i = 0; i < RD_ARRAY_LEN(names); i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -1;
}

/* The live store's links of the rectified record's conversation that the
 * target lacks (those its new text added among them) are made in the
 * target too: PostgreSQL links subjects to conversations, not to messages
 * (no msg_subjects), so the target answers a subject as the live store
 * does for the conversation's restored messages. */
static int replay_rectified_links(struct pgr *x, const char *tenant, const char *rid)
{
	const char *v[2] = { tenant, rid };
	PGresult *l = store_pg_exec(x->l, "SELECT s.subject_hash, s.conv_hash FROM subjects s JOIN"
	                            " messages m ON s.tenant = m.tenant AND s.conv_hash = m.conv_hash"
	                            " WHERE m.tenant = $1 AND m.record_id = $2", 2, v, NULL, NULL);
	if (!l)
		return -1;
	int rc = 0;
	for (int i = 0; rc == 0 && i < PQntuples(l); i++) {
		const char *u[3] = { tenant, PQgetvalue(l, i, 0), PQgetvalue(l, i, 1) };
		const int lens[3] = { 0, PQgetlength(l, i, 0), PQgetlength(l, i, 1) }, fmts[3] = { 0, 1, 1 };
		PGresult *r = store_pg_exec(x->t, "INSERT INTO subjects (tenant, subject_hash, conv_hash)"
		                            " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, u, lens, fmts);
		rc = r ? 0 : -1;
		PQclear(r);
	}
	PQclear(l);
	return rc;
}

/* A record entry whose record is still live was rectified: the target
 * takes the live row's sealed text, document and counts, and the links
 * of its conversation. 1 when it did, 0 when the record is gone from the
 * live store, -1 on error. */
static int replay_rectified(struct pgr *x, const char *tenant, const char *rid)
{
	const char *v[2] = { tenant, rid };
	PGresult *l = store_pg_exec(x->l, "SELECT text_ct, meta_ct, entity_counts FROM messages"
	                            " WHERE tenant = $1 AND record_id = $2", 2, v, NULL, NULL);
	if (!l)
		return -1;
	if (PQntuples(l) == 0) {
		PQclear(l);
		return 0;
	}
	const char *u[5] = { PQgetvalue(l, 0, 0), PQgetvalue(l, 0, 1), PQgetvalue(l, 0, 2), tenant, rid };
	const int lens[5] = { PQgetlength(l, 0, 0), PQgetlength(l, 0, 1), PQgetlength(l, 0, 2), 0, 0 };
	const int fmts[5] = { 1, 1, 1, 0, 0 };
	PGresult *r = store_pg_exec(x->t, "UPDATE messages SET text_ct = $1, meta_ct = $2, entity_counts"
	                            " = $3 WHERE tenant = $4 AND record_id = $5", 5, u, lens, fmts);
	PQclear(l);
	if (!r)
		return -1;
	long long updated = strtoll(PQcmdTuples(r), NULL, 10);
	x->r->rectified += updated;
	PQclear(r);
	/* A record ingested after the backup is not in the target: no links. */
	return updated && replay_rectified_links(x, tenant, rid) ? -1 : 1;
}

/* Live entry i of e: applied to the target, then kept in its journal. */
static int replay_one(struct pgr *x, const PGresult *e, int i)
{
	int kind = kind_of(PQgetvalue(e, i, 2));
	const char *tenant = PQgetvalue(e, i, 3);
	int tlen = PQgetisnull(e, i, 4) ? -1 : PQgetlength(e, i, 4);
	char rid[RD_RECORD_ID_LEN + 1] = "";
	if (kind < 0 || (kind != STORE_JOURNAL_TENANT && tlen <= 0) ||
	    (kind == STORE_JOURNAL_RECORD && tlen > RD_RECORD_ID_LEN))
		return -1;
	if (kind == STORE_JOURNAL_RECORD)
		memcpy(rid, PQgetvalue(e, i, 4), (size_t)tlen);
	int live = kind == STORE_JOURNAL_RECORD ? replay_rectified(x, tenant, rid) : 0;
	if (live < 0)
		return -1;
	const char *v[2] = { tenant, kind == STORE_JOURNAL_RECORD ? rid
	                             : kind == STORE_JOURNAL_CONVERSATION ? PQgetvalue(e, i, 4) : NULL };
	const int lens[2] = { 0, kind == STORE_JOURNAL_CONVERSATION ? tlen : 0 };
	const int fmts[2] = { 0, kind == STORE_JOURNAL_CONVERSATION };
	for (int k = 0; !live && k < 3; k++) {
		PGresult *r = store_pg_exec(x->t, replay_pg_sql[kind][k], 2, v, lens, fmts);
		if (!r)
			return -1;
		if (k == 2)
			x->r->removed += strtoll(PQcmdTuples(r), NULL, 10);
		PQclear(r);
	}
	x->r->replayed++;
	const char *j[5] = { tenant, PQgetvalue(e, i, 0), PQgetvalue(e, i, 1), PQgetvalue(e, i, 2),
	                     tlen < 0 ? NULL : PQgetvalue(e, i, 4) };
	const int jl[5] = { 0, 8, 8, 0, tlen < 0 ? 0 : tlen }, jf[5] = { 0, 1, 1, 0, 1 };
	PGresult *r = store_pg_exec(x->t, "INSERT INTO erasure_journal (tenant, seq, ts_ms, kind, target)"
	                            " VALUES ($1, $2::bigint, $3::bigint, $4, $5) ON CONFLICT DO NOTHING",
	                            5, j, jl, jf);
	PQclear(r);
	return r ? 0 : -1;
}

static int replay_journal(struct pgr *x)
{
	char mark[8];
	store_pg_put64(mark, x->r->mark);
	const char *v[1] = { mark };
	const int lens[1] = { 8 }, fmts[1] = { 1 };
	PGresult *e = store_pg_exec(x->l, "SELECT seq, ts_ms, kind, tenant, target FROM erasure_journal"
	                            " WHERE seq > $1::bigint ORDER BY seq", 1, v, lens, fmts);
	if (!e)
		return -1;
	int rc = 0;
	for (int i = 0; rc == 0 && i < PQntuples(e); i++)
		rc = replay_one(x, e, i);
	PQclear(e);
	return rc;
}

/* The live store's key wraps: the same keys (same ids), wrapped by the
 * current master key, destroyed where the live store destroyed them. */
static int take_live_keys(struct pgr *x)
{
	PGresult *k = store_pg_exec(x->l, "SELECT id, tenant, category, period, wrapped, destroyed_ms"
	                            " FROM data_keys UNION ALL SELECT 0, '', '', '', wrapped, NULL FROM"
	                            " key_root WHERE id = 1", 0, NULL, NULL, NULL);
	if (!k)
		return -1;
	int rc = 0;
	for (int i = 0; rc == 0 && i < PQntuples(k); i++) {
		const char *v[6];
		int lens[6], fmts[6];
		for (int c = 0; c < 6; c++) {
			v[c] = PQgetisnull(k, i, c) ? NULL : PQgetvalue(k, i, c);
			lens[c] = PQgetlength(k, i, c);
			fmts[c] = PQfformat(k, c);
		}
		bool root = store_pg_get64(k, i, 0) == 0;
		PGresult *r = root
			? store_pg_exec(x->t, "UPDATE key_root SET wrapped = $1 WHERE id = 1", 1, v + 4,
			                lens + 4, fmts + 4)
			: store_pg_exec(x->t, "UPDATE data_keys SET wrapped = $5, destroyed_ms = $6::bigint"
			                " WHERE id = $1::bigint AND tenant = $2 AND category = $3 AND period = $4",
			                6, v, lens, fmts);
		rc = r ? 0 : -1;
		PQclear(r);
	}
	PQclear(k);
	x->r->keys = rc == 0;
	return rc;
}

/* Replay, keys, the journal's expiry mark, in one transaction. */
static enum rd_err apply_live(struct pgr *x)
{
	char exp[8];
	PGresult *r = store_pg_exec(x->l, "SELECT expired_upto FROM journal_state WHERE id = 1", 0,
	                            NULL, NULL, NULL);
	if (!r || PQntuples(r) != 1) {
		PQclear(r);
		return fail_pg(x->l, x->err, x->errlen, "cannot read the live erasure journal");
	}
	store_pg_put64(exp, store_pg_get64(r, 0, 0));
	PQclear(r);
	const char *v[1] = { exp };
	const int lens[1] = { 8 }, fmts[1] = { 1 };
	if (store_pg_cmd(x->t, "BEGIN") || replay_journal(x) || take_live_keys(x))
		goto fail;
	r = store_pg_exec(x->t, "UPDATE journal_state SET expired_upto = greatest(expired_upto,"
	                  " $1::bigint) WHERE id = 1", 1, v, lens, fmts);
	PQclear(r);
	if (!r || store_pg_cmd(x->t, "SELECT setval('erasure_journal_seq', (SELECT coalesce(max(seq), 0)"
	                       " + 1 FROM erasure_journal), false)") ||
	    store_pg_cmd(x->t, "COMMIT"))
		goto fail;
	r = store_pg_exec(x->t, "SELECT count(*) FROM messages", 0, NULL, NULL, NULL);
	x->r->records = r && PQntuples(r) == 1 ? store_pg_get64(r, 0, 0) : 0;
	PQclear(r);
	return RD_OK;
fail:
	fail_pg(x->t, x->err, x->errlen, "replaying the erasure journal into the target failed");
	store_pg_cmd(x->t, "ROLLBACK");
	return RD_E_STORAGE;
}

/* ---- restore: the whole --------------------------------------------------------------- */

static enum rd_err restore_run(struct pgr *x, const char *backup, struct store_import_report *rep)
{
	enum rd_err rc = read_backup(x, backup);
	if (rc == RD_OK && !(x->l = store_pg_connect(x->live->pg, x->err, x->errlen)))
		rc = RD_E_STORAGE;
	if (rc == RD_OK && !(x->t = store_pg_connect(x->target->pg, x->err, x->errlen)))
		rc = RD_E_STORAGE;
	if (rc == RD_OK)
		rc = check_live(x);
	if (rc == RD_OK)
		rc = check_not_live(x);
	if (rc == RD_OK && (x->flags & STORE_RESTORE_FORCE))
		rc = empty_target(x);
	if (rc != RD_OK)
		return rc;
	struct store_import_options o = {
		.batch = 1000, .source_label = backup, .command = "redactd restore",
		.refusal_hint = "; --force empties it first", .fingerprint_salt = x->r->taken_ms,
	};
	if ((rc = store_import_file(backup, x->target, &o, rep, x->err, x->errlen)) != RD_OK)
		return rc;
	x->r->done_before = rep->finished;
	return rep->finished ? RD_OK : apply_live(x);
}

enum rd_err store_pg_restore(const char *backup, struct store *target, struct store *live,
                             unsigned flags, struct store_restore_report *report, char *err,
                             size_t errlen)
{
	struct store_restore_report r = { 0 };
	struct store_import_report rep;
	struct pgr x = { .target = target, .live = live, .flags = flags, .r = &r, .err = err,
	                 .errlen = errlen };
	if (!target->pg || !live->pg) {
		util_err(err, errlen, "a restore into PostgreSQL replays a PostgreSQL store's journal");
		return RD_E_INVALID_REQUEST;
	}
	enum rd_err rc = restore_run(&x, backup, &rep);
	PQfinish(x.t);
	PQfinish(x.l);
	if (rc != RD_OK)
		return rc;
	log_info("store: restored a backup into postgresql: %lld journal entries replayed, %lld"
	         " record(s) removed", (long long)r.replayed, (long long)r.removed);
	*report = r;
	return RD_OK;
}
