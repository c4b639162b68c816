/*
 * store_journal.c — the erasure journal (erasure_journal, journal_state),
 * the backup's own record of when it was taken (backup_meta), and the
 * restore that replays erasures into a copy of a backup. See
 * store_journal.h for the contracts.
 *
 * Workload: an append per erased conversation (rare, operator-driven); a
 * restore once in a long while, offline, on a copy. Every write of the live
 * journal is inside the erasure's own transaction, so an erasure and its
 * journal entry commit together or not at all.
 *
 * WHY seq, not time: an erasure stamps its time before it commits, and a
 * backup's snapshot can start in between, so "newer than the backup's
 * time" would miss it. The backup instead records the journal's high mark
 * as its own snapshot saw it (sqlite_sequence, copied with the pages), and
 * the restore replays every entry above that mark. Replaying one that the
 * copy already reflects deletes nothing, so the mark errs only on the safe
 * side.
 */
#include "store_int.h"
#include "store_journal.h"
#include "store_pg_rights.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The journal's part of schema version 7 (IF NOT EXISTS, as step 6: a
 * database whose user_version was set back still has them). */
const struct store_schema_step store_journal_schema[] = {
	{ 7,
	"CREATE TABLE IF NOT EXISTS erasure_journal ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"   /* never reused: backups compare against it */
	"  ts_ms INTEGER NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('conversation', 'record', 'tenant')),"
	"  tenant TEXT NOT NULL,"
	"  target BLOB);"
	"CREATE INDEX IF NOT EXISTS erasure_journal_ts ON erasure_journal(ts_ms);"
	"CREATE TABLE IF NOT EXISTS journal_state ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  expired_upto INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO journal_state (id, expired_upto) VALUES (1, 0);"
	/* Empty in a live database; one row in a backup (store_backup). */
	"CREATE TABLE IF NOT EXISTS backup_meta ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  taken_ms INTEGER NOT NULL,"
	"  journal_seq INTEGER NOT NULL,"
	"  with_keys INTEGER NOT NULL);" },
};
const size_t store_journal_schema_count = RD_ARRAY_LEN(store_journal_schema);

static const char *const kind_names[] = { "conversation", "record", "tenant" };

enum rd_err store_journal_append(struct store_tx *tx, enum store_journal_kind kind,
                                 const char *tenant, const void *target, size_t len, int64_t ts_ms)
{
	sqlite3_stmt *s;
	bool fits = (kind == STORE_JOURNAL_CONVERSATION && target && len == CRYPTO_HASH_BYTES) ||
	            (kind == STORE_JOURNAL_RECORD && target && len > 0 && len <= RD_RECORD_ID_LEN) ||
	            (kind == STORE_JOURNAL_TENANT && !target && len == 0);
	if (!fits || !tenant) {
		log_error("journal: a %s entry with a bad target (bug)",
		          (unsigned)kind < RD_ARRAY_LEN(kind_names) ? kind_names[kind] : "?");
		return RD_E_INTERNAL;
	}
	if (tx->pg)
		return store_pg_journal_append(tx, kind_names[kind], tenant, target, len, ts_ms);
	if (sqlite3_prepare_v2(tx->db, "INSERT INTO erasure_journal (ts_ms, kind, tenant, target)"
	                       " VALUES (?, ?, ?, ?)", -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_int64(s, 1, ts_ms);
	sqlite3_bind_text(s, 2, kind_names[kind], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, tenant, -1, SQLITE_STATIC);
	if (target)
		sqlite3_bind_blob(s, 4, target, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? RD_OK : store_db_err(tx->db);
}

enum rd_err store_journal_expire(struct store_tx *tx, int64_t before_ms, int64_t *removed)
{
	if (tx->pg)
		return store_pg_journal_expire(tx, before_ms, removed);
	static const char *const sql[2] = {
		"UPDATE journal_state SET expired_upto = max(expired_upto, coalesce((SELECT max(seq)"
		" FROM erasure_journal WHERE ts_ms < ?1), 0)) WHERE id = 1",
		"DELETE FROM erasure_journal WHERE ts_ms < ?1",
	};
	*removed = 0;
	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(tx->db, sql[i], -1, &s, NULL) != SQLITE_OK)
			return store_db_err(tx->db);
		sqlite3_bind_int64(s, 1, before_ms);
		int rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return store_db_err(tx->db);
	}
	*removed = sqlite3_changes(tx->db);
	return RD_OK;
}

/* Column 0 of a one-row query as an integer (0 without a row); -1 on error. */
static int query_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *s;
	*v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

enum rd_err store_journal_count(struct store_tx *tx, int64_t *n)
{
	if (tx->pg)
		return store_pg_journal_count(tx, n);
	return query_int(tx->db, "SELECT count(*) FROM erasure_journal", n) ? RD_E_STORAGE : RD_OK;
}

/* ---- the backup's side ------------------------------------------------------- */

int store_journal_mark_backup(sqlite3 *copy, int64_t taken_ms, bool with_keys)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(copy, "INSERT OR REPLACE INTO backup_meta (id, taken_ms, journal_seq,"
	                       " with_keys) VALUES (1, ?1, coalesce((SELECT seq FROM sqlite_sequence"
	                       " WHERE name = 'erasure_journal'), 0), ?2)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, taken_ms);
	sqlite3_bind_int(s, 2, with_keys);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A connection to path that changes nothing (query_only), or NULL. */
static sqlite3 *open_query_only(const char *path)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA query_only=ON", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	return db;
}

static bool has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *s;
	bool found = false;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1,
	                       &s, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return found;
}

/* backup_meta of db: 1 with its fields, 0 when there is none. */
int store_backup_meta(sqlite3 *db, int64_t *taken_ms, int64_t *mark, bool *with_keys)
{
	sqlite3_stmt *s;
	int found = 0;
	if (!has_table(db, "backup_meta") || !has_table(db, "messages"))
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT taken_ms, journal_seq, with_keys FROM backup_meta"
	                       " WHERE id = 1", -1, &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*taken_ms = sqlite3_column_int64(s, 0);
		*mark = sqlite3_column_int64(s, 1);
		*with_keys = sqlite3_column_int(s, 2) != 0;
		found = 1;
	}
	sqlite3_finalize(s);
	return found;
}

enum rd_err store_backup_info(const char *path, bool *is_backup, int64_t *taken_ms)
{
	unsigned char head[20] = { 0 };
	int64_t mark;
	bool wk;
	*is_backup = false;
	/* Only SQLite files in rollback-journal mode are opened at all (a
	 * backup is one; bytes 18-19 are 2 in WAL mode, whose read would
	 * create -wal and -shm files beside someone else's database). */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return RD_E_STORAGE;
	ssize_t n = read(fd, head, sizeof head);
	close(fd);
	if (n != (ssize_t)sizeof head || memcmp(head, "SQLite format 3", 16) != 0 || head[18] != 1 ||
	    head[19] != 1)
		return RD_OK;
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return RD_E_STORAGE;
	}
	*is_backup = store_backup_meta(db, taken_ms, &mark, &wk) == 1;
	sqlite3_close(db);
	return RD_OK;
}

/* ---- restore ------------------------------------------------------------------ */

struct restore {
	const char *backup, *dest, *live;
	unsigned flags;
	sqlite3 *src, *dst, *ldb;
	bool with_keys;
	bool made;                    /* dest was created here: removed on failure */
	struct store_restore_report *r;
	char *err;
	size_t errlen;
};

/* The backup: must be one of ours. */
static enum rd_err restore_open_backup(struct restore *x)
{
	int64_t taken = 0, mark = 0;
	if (sqlite3_open_v2(x->backup, &x->src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK) {
		util_err(x->err, x->errlen, "cannot open the backup: %s", sqlite3_errmsg(x->src));
		return RD_E_STORAGE;
	}
	if (store_backup_meta(x->src, &taken, &mark, &x->with_keys) == 1) {
		x->r->taken_ms = taken;
		x->r->mark = mark;
		/* A PostgreSQL store's backup keeps its tenants' audit chains
		 * beside the system's (store_pg_tables.h); SQLite keeps one chain,
		 * so a restore into a file would drop them. */
		int64_t tenant_chains = 0;
		if (has_table(x->src, "backup_audit_chains") &&
		    query_int(x->src, "SELECT count(*) FROM backup_audit_chains", &tenant_chains) == 0 &&
		    tenant_chains > 0) {
			util_err(x->err, x->errlen, "%s is a backup of a PostgreSQL store with tenants' audit"
			         " chains, which a SQLite file cannot hold: restore it into PostgreSQL"
			         " (--to postgresql://...)", x->backup);
			return RD_E_INVALID_REQUEST;
		}
		return RD_OK;
	}
	/* A backup made before schema 7 has no time; every journal entry is
	 * newer than it (the journal began with schema 7). */
	if (has_table(x->src, "messages") && has_table(x->src, "data_keys") &&
	    !has_table(x->src, "erasure_journal"))
		return RD_OK;
	util_err(x->err, x->errlen, "%s is not a redactd backup (a live database, or another file)",
	         x->backup);
	return RD_E_INVALID_REQUEST;
}

/* The live journal: reachable, and still holding every entry above the
 * backup's mark? Without either, only STORE_RESTORE_FORCE goes on. */
static enum rd_err restore_open_live(struct restore *x)
{
	int64_t expired = 0;
	struct stat sb;
	bool force = x->flags & STORE_RESTORE_FORCE;
	if (x->live && stat(x->live, &sb) == 0 && (x->ldb = open_query_only(x->live)) &&
	    has_table(x->ldb, "erasure_journal") &&
	    query_int(x->ldb, "SELECT expired_upto FROM journal_state WHERE id = 1", &expired) == 0) {
		x->r->journal = true;
		x->r->covered = expired <= x->r->mark;
		if (x->r->covered || force) {
			x->r->forced = !x->r->covered;
			return RD_OK;
		}
		util_err(x->err, x->errlen, "the erasure journal of %s no longer covers this backup (entries"
		         " up to %lld have expired, the backup saw %lld): erasures made since could not all"
		         " be replayed; --force restores anyway", x->live, (long long)expired,
		         (long long)x->r->mark);
		return RD_E_NOT_FOUND;
	}
	sqlite3_close(x->ldb);
	x->ldb = NULL;
	if (force) {
		x->r->forced = true;
		return RD_OK;
	}
	util_err(x->err, x->errlen, "no erasure journal is reachable at %s (the live database): erasures"
	         " made since the backup could not be replayed; --force restores without them",
	         x->live ? x->live : "(none)");
	return RD_E_NOT_FOUND;
}

/* dest as a new 0600 file holding the backup's pages, secure_delete on,
 * schema brought up to date. */
static enum rd_err restore_copy(struct restore *x)
{
	char merr[256];
	int version;
	int fd = open(x->dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		util_err(x->err, x->errlen, "cannot create %s: %s", x->dest,
		         errno == EEXIST ? "it exists (restore writes a new file)" : strerror(errno));
		return RD_E_INVALID_REQUEST;
	}
	close(fd);
	x->made = true;
	if (sqlite3_open_v2(x->dest, &x->dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(x->dst, STORE_BUSY_TIMEOUT_MS);
	sqlite3_backup *b = sqlite3_backup_init(x->dst, "main", x->src, "main");
	if (!b)
		goto fail;
	int rc = sqlite3_backup_step(b, -1);
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE)
		goto fail;
	if (sqlite3_exec(x->dst, "PRAGMA journal_mode=DELETE; PRAGMA secure_delete=ON;"
	                 " PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto fail;
	if (store_migrate(x->dst, &version, merr, sizeof merr)) {
		util_err(x->err, x->errlen, "the backup's schema: %s", merr);
		return RD_E_STORAGE;
	}
	return RD_OK;
fail:
	util_err(x->err, x->errlen, "cannot copy the backup to %s: %s", x->dest,
	         x->dst ? sqlite3_errmsg(x->dst) : "out of memory");
	return RD_E_STORAGE;
}

/* What one journal entry deletes from the copy, as conversation_delete
 * and a purge do: the subject links that would be left pointing at
 * nothing, then the records (statements bind tenant as ?1, the target as
 * ?2). A record's links go only with the last record of its conversation,
 * and until then stay named by the newest one left (replay_record_links,
 * no statement here). */
static const char *const replay_sql[][2] = {
	[STORE_JOURNAL_CONVERSATION] = {
		STORE_LINKS_DROP_CONV_SQL,
		"DELETE FROM messages WHERE id IN " STORE_CONV_IDS_SQL,
	},
	[STORE_JOURNAL_RECORD] = {
		NULL,
		"DELETE FROM messages WHERE tenant = ?1 AND record_id = CAST(?2 AS TEXT)",
	},
	[STORE_JOURNAL_TENANT] = {
		"DELETE FROM subjects WHERE tenant = ?1",
		"DELETE FROM messages WHERE tenant = ?1",
	},
};

static int kind_of(const char *name)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(kind_names); i++)
		if (name && !strcmp(name, kind_names[i]))
			return (int)i;
	return -1;
}

/* Runs one replay statement for (tenant, target); its changes in *n. */
static int replay_step(sqlite3 *db, const char *sql, const char *tenant, const void *t, int tlen,
                       int64_t *n)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	if (t && sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_blob(s, 2, t, tlen, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	*n = sqlite3_changes(db);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The links of record t's message, before it is deleted from the copy:
 * carried to the newest message left in its conversation, or dropped. */
static int replay_record_links(sqlite3 *db, const char *tenant, const void *t, int tlen)
{
	sqlite3_stmt *s;
	struct store_links_release links;
	if (sqlite3_prepare_v2(db, "SELECT id, conv_hash FROM messages"
	                       " WHERE tenant = ?1 AND record_id = CAST(?2 AS TEXT)", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, t, tlen, SQLITE_STATIC);
	int step = sqlite3_step(s), rc = step == SQLITE_DONE ? 0 : -1;
	if (step == SQLITE_ROW && sqlite3_column_bytes(s, 1) == CRYPTO_HASH_BYTES &&
	    store_links_release_prepare(db, &links) == 0) {
		rc = store_links_release_run(&links, tenant, sqlite3_column_blob(s, 1),
		                             sqlite3_column_int64(s, 0));
		store_links_release_finalize(&links);
	}
	sqlite3_finalize(s);
	return rc;
}

/* The subjects the live record names (rectification names it for each
 * subject of its new text, STORE_LINKS_CARRY_SQL) are linked in the copy
 * too, and named by its row there: an export by a subject the new text
 * added finds the restored record. */
static int replay_rectified_links(struct restore *x, const char *tenant, const void *t, int tlen)
{
	static const char *const sql[2] = {
		"INSERT OR IGNORE INTO subjects (subject_hash, tenant, conv_hash)"
		" SELECT ?1, tenant, conv_hash FROM messages WHERE tenant = ?2 AND record_id = CAST(?3 AS TEXT)",
		"INSERT OR IGNORE INTO msg_subjects (msg_id, subject_hash)"
		" SELECT id, ?1 FROM messages WHERE tenant = ?2 AND record_id = CAST(?3 AS TEXT)",
	};
	sqlite3_stmt *l, *ins[2] = { NULL, NULL };
	int rc = 0, step;
	if (sqlite3_prepare_v2(x->ldb, "SELECT n.subject_hash FROM messages m JOIN msg_subjects n"
	                       " ON n.msg_id = m.id WHERE m.tenant = ?1 AND m.record_id = CAST(?2 AS TEXT)",
	                       -1, &l, NULL) != SQLITE_OK)
		return -1;
	for (int k = 0; k < 2; k++)
		if (sqlite3_prepare_v2(x->dst, sql[k], -1, &ins[k], NULL) != SQLITE_OK)
			rc = -1;
	sqlite3_bind_text(l, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(l, 2, t, tlen, SQLITE_STATIC);
	while (rc == 0 && (step = sqlite3_step(l)) == SQLITE_ROW) {
		for (int k = 0; k < 2 && rc == 0; k++) {
			sqlite3_bind_value(ins[k], 1, sqlite3_column_value(l, 0));
			sqlite3_bind_text(ins[k], 2, tenant, -1, SQLITE_STATIC);
			sqlite3_bind_blob(ins[k], 3, t, tlen, SQLITE_STATIC);
			rc = sqlite3_step(ins[k]) == SQLITE_DONE ? 0 : -1;
			sqlite3_reset(ins[k]);
		}
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = -1;
	sqlite3_finalize(ins[0]);
	sqlite3_finalize(ins[1]);
	sqlite3_finalize(l);
	return rc;
}

/* A record entry whose record is still live was rectified (rectify.h):
 * the copy takes the live row's sealed text, document and counts (same
 * rowid, key and associated data). 1 when it did, 0 when the record is not
 * live (erased: the caller deletes it), -1 on error. */
static int replay_rectified(struct restore *x, const char *tenant, const void *t, int tlen)
{
	sqlite3_stmt *l, *u = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(x->ldb, "SELECT text_ct, meta_ct, entity_counts FROM messages"
	                       " WHERE tenant = ?1 AND record_id = CAST(?2 AS TEXT)", -1, &l, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(l, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(l, 2, t, tlen, SQLITE_STATIC);
	int step = sqlite3_step(l);
	if (step == SQLITE_DONE)
		rc = 0;
	else if (step == SQLITE_ROW &&
	         sqlite3_prepare_v2(x->dst, "UPDATE messages SET text_ct = ?1, meta_ct = ?2,"
	                            " entity_counts = ?3 WHERE tenant = ?4 AND record_id = CAST(?5 AS TEXT)",
	                            -1, &u, NULL) == SQLITE_OK) {
		for (int i = 0; i < 3; i++)
			sqlite3_bind_value(u, i + 1, sqlite3_column_value(l, i));
		sqlite3_bind_text(u, 4, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_blob(u, 5, t, tlen, SQLITE_STATIC);
		if (sqlite3_step(u) == SQLITE_DONE) {
			x->r->rectified += sqlite3_changes(x->dst);
			rc = replay_rectified_links(x, tenant, t, tlen) ? -1 : 1;
		}
	}
	sqlite3_finalize(u);
	sqlite3_finalize(l);
	return rc;
}

/* One live entry: applied to the copy, then kept in its journal. */
static int replay_one(struct restore *x, sqlite3_stmt *e)
{
	int kind = kind_of((const char *)sqlite3_column_text(e, 2));
	const char *tenant = (const char *)sqlite3_column_text(e, 3);
	const void *t = sqlite3_column_blob(e, 4);
	int tlen = sqlite3_column_bytes(e, 4);
	int64_t n = 0, links = 0;
	if (kind < 0 || !tenant || (kind != STORE_JOURNAL_TENANT && !t))
		return -1;
	int live = kind == STORE_JOURNAL_RECORD ? replay_rectified(x, tenant, t, tlen) : 0;
	if (live < 0)
		return -1;
	if (!live && (kind == STORE_JOURNAL_RECORD ?
	              replay_record_links(x->dst, tenant, t, tlen) :
	              replay_step(x->dst, replay_sql[kind][0], tenant, t, tlen, &links)))
		return -1;
	if (!live && replay_step(x->dst, replay_sql[kind][1], tenant, t, tlen, &n))
		return -1;
	x->r->removed += n;
	x->r->replayed++;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(x->dst, "INSERT OR IGNORE INTO erasure_journal (seq, ts_ms, kind, tenant,"
	                       " target) VALUES (?, ?, ?, ?, ?)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	for (int i = 0; i < 5; i++)
		sqlite3_bind_value(s, i + 1, sqlite3_column_value(e, i));
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int restore_replay(struct restore *x)
{
	sqlite3_stmt *e;
	int step;
	if (sqlite3_prepare_v2(x->ldb, "SELECT seq, ts_ms, kind, tenant, target FROM erasure_journal"
	                       " WHERE seq > ? ORDER BY seq", -1, &e, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(e, 1, x->r->mark);
	while ((step = sqlite3_step(e)) == SQLITE_ROW)
		if (replay_one(x, e))
			break;
	sqlite3_finalize(e);
	return step == SQLITE_DONE ? 0 : -1;
}

/* The live database's key wraps: the same keys (same ids), wrapped by the
 * current master key, destroyed where the live one destroyed them. */
static int restore_keys(struct restore *x)
{
	static const char *const sql[2] = {
		"UPDATE data_keys SET wrapped = ?1, destroyed_ms = ?2 WHERE id = ?3 AND tenant = ?4"
		" AND category = ?5 AND period = ?6",
		"UPDATE key_root SET wrapped = ?1 WHERE id = 1 AND ?2 IS NULL",
	};
	sqlite3_stmt *l;
	int step = SQLITE_ERROR;
	if (sqlite3_prepare_v2(x->ldb, "SELECT wrapped, destroyed_ms, id, tenant, category, period, 0"
	                       " FROM data_keys UNION ALL SELECT wrapped, NULL, 0, '', '', '', 1"
	                       " FROM key_root WHERE id = 1", -1, &l, NULL) != SQLITE_OK)
		return -1;
	while ((step = sqlite3_step(l)) == SQLITE_ROW) {
		sqlite3_stmt *s;
		int root = sqlite3_column_int(l, 6);
		if (sqlite3_prepare_v2(x->dst, sql[root], -1, &s, NULL) != SQLITE_OK)
			break;
		for (int i = 0; i < (root ? 2 : 6); i++)
			sqlite3_bind_value(s, i + 1, sqlite3_column_value(l, i));
		int rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			break;
	}
	sqlite3_finalize(l);
	x->r->keys = step == SQLITE_DONE;
	return step == SQLITE_DONE ? 0 : -1;
}

/* Replay, keys, the journal's expiry mark; the copy stops being a backup. */
static enum rd_err restore_apply(struct restore *x)
{
	int64_t expired = 0;
	if (sqlite3_exec(x->dst, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (x->ldb && (restore_replay(x) || restore_keys(x) ||
	               query_int(x->ldb, "SELECT expired_upto FROM journal_state WHERE id = 1",
	                         &expired)))
		goto fail;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(x->dst, "UPDATE journal_state SET expired_upto = max(expired_upto, ?)"
	                       " WHERE id = 1", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, expired);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE || sqlite3_exec(x->dst, "DELETE FROM backup_meta", NULL, NULL, NULL) ||
	    sqlite3_exec(x->dst, "COMMIT", NULL, NULL, NULL) != SQLITE_OK ||
	    query_int(x->dst, "SELECT count(*) FROM messages", &x->r->records))
		goto fail;
	return RD_OK;
fail:
	util_err(x->err, x->errlen, "replaying the erasure journal into %s failed: %s", x->dest,
	         sqlite3_errmsg(x->dst));
	sqlite3_exec(x->dst, "ROLLBACK", NULL, NULL, NULL);
	return RD_E_STORAGE;
}

enum rd_err store_restore(const char *backup, const char *dest, const char *live, unsigned flags,
                          struct store_restore_report *report, char *err, size_t errlen)
{
	struct store_restore_report r = { 0 };
	struct restore x = { .backup = backup, .dest = dest, .live = live, .flags = flags, .r = &r,
	                     .err = err, .errlen = errlen };
	enum rd_err rc = restore_open_backup(&x);
	if (rc == RD_OK)
		rc = restore_open_live(&x);
	if (rc == RD_OK)
		rc = restore_copy(&x);
	if (rc == RD_OK)
		rc = restore_apply(&x);
	sqlite3_close(x.src);
	sqlite3_close(x.ldb);
	if (sqlite3_close(x.dst) != SQLITE_OK && rc == RD_OK) {
		util_err(err, errlen, "cannot close %s", dest);
		rc = RD_E_STORAGE;
	}
	if (rc != RD_OK) {
		if (x.made) {
			char j[4200];
			unlink(dest);
			snprintf(j, sizeof j, "%s-journal", dest);
			unlink(j);
		}
		return rc;
	}
	int fd = open(dest, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	log_info("store: restored a backup: %lld journal entries replayed, %lld record(s) removed",
	         (long long)r.replayed, (long long)r.removed);
	*report = r;
	return RD_OK;
}
