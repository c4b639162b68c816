/*
 * store_pg_import.c — `redactd migrate`: a SQLite store copied into
 * PostgreSQL, in resumable batches (store_import.h).
 *
 * Workload: once per installation, millions of rows. Each batch reads up
 * to `batch` rows of one table from SQLite in key order after the table's
 * cursor and inserts them on a connection of this run's own, in one
 * transaction that also stores the new cursor: a batch and its cursor
 * commit together or not at all, so a kill at any moment loses nothing
 * and a re-run copies nothing twice. Inserts are prepared once per table
 * and run with binary parameters; nothing is decrypted.
 *
 * DESIGN
 * `tables` below is the whole mapping, one line per table: the SQLite
 * select (its first nkey columns are the key the cursor walks), the
 * PostgreSQL insert ($1.. are the columns after `skip`), and the counts
 * compared at the end. Tables the SQLite side keys without the tenant
 * (replay_ids) get it from their message; the audit log goes to the
 * system chain (''), its high mark (sqlite_sequence) and purge checkpoint
 * to audit_chains. Derived state is not copied: the conversation index,
 * erasure residue marks and the sweeper's pending counts (PostgreSQL has
 * none of them), backup_meta (it describes SQLite backups).
 *
 * WHY a cursor of the key and not of a count: keyset reads stay one index
 * probe per batch at any depth, and the cursor names exactly the rows
 * committed, whatever the source's rowids look like.
 *
 * INVARIANTS: the target was empty when the migration began (or held only
 * this migration); every SQL string here is a constant or made of the
 * constants of `tables` (never of input); parameters carry the values.
 */
#include "store_pg_int.h"
#include "store_import.h"
#include "log.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIG_COLS_MAX 16
#define MIG_CURSOR_MAX 1024
/* pg_type oids of the parameters (catalog/pg_type_d.h, stable). */
#define MIG_OID_INT8  20
#define MIG_OID_BYTEA 17
#define MIG_OID_TEXT  25

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
};

#define COUNT(t) "SELECT count(*) FROM " t
#define SAME(t) COUNT(t), COUNT(t)
#define PINS_COLS "id, tenant, kind, target_hash, doc_ct, actor, created_ms"
#define PINS_INSERT(t) "INSERT INTO " t " (" PINS_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7)"

static const struct mig_table tables[] = {
	{ "key_root", "id, wrapped, created_ms", "key_root", "id", 1, 0, "ibi",
	  "INSERT INTO key_root (id, wrapped, created_ms) VALUES ($1, $2, $3)", SAME("key_root") },
	{ "data_keys", "id, tenant, category, period, start_ms, end_ms, wrapped, created_ms, destroyed_ms",
	  "data_keys", "id", 1, 0, "itttiibii",
	  "INSERT INTO data_keys (id, tenant, category, period, start_ms, end_ms, wrapped, created_ms,"
	  " destroyed_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", SAME("data_keys") },
	{ "messages", "id, record_id, tenant, conv_hash, ts_ms, received_ms, role, channel, category,"
	  " key_id, conv_ct, text_ct, meta_ct, entity_counts", "messages", "id", 1, 0, "ittbiitttibbbt",
	  "INSERT INTO messages (id, record_id, tenant, conv_hash, ts_ms, received_ms, role, channel,"
	  " category, key_id, conv_ct, text_ct, meta_ct, entity_counts) VALUES ($1, $2, $3, $4, $5, $6,"
	  " $7, $8, $9, $10, $11, $12, $13, $14)", SAME("messages") },
	{ "subjects", "subject_hash, tenant, conv_hash", "subjects", "subject_hash, tenant, conv_hash",
	  3, 0, "btb", "INSERT INTO subjects (subject_hash, tenant, conv_hash) VALUES ($1, $2, $3)",
	  SAME("subjects") },
	{ "replay_ids", "r.id_hash, m.tenant, r.msg_id", "replay_ids r JOIN messages m ON m.id = r.msg_id",
	  "r.id_hash", 1, 0, "bti", "INSERT INTO replay_ids (id_hash, tenant, msg_id) VALUES ($1, $2, $3)",
	  SAME("replay_ids") },
	{ "holds", PINS_COLS, "holds", "id", 1, 0, "tttbbti", PINS_INSERT("holds"), SAME("holds") },
	{ "restrictions", PINS_COLS, "restrictions", "id", 1, 0, "tttbbti", PINS_INSERT("restrictions"),
	  SAME("restrictions") },
	{ "consents", "id, tenant, scope, target_hash, kind, state, method, source, ts_ms, recorded_ms",
	  "consents", "id", 1, 0, "ittbttttii",
	  "INSERT INTO consents (id, tenant, scope, target_hash, kind, state, method, source, ts_ms,"
	  " recorded_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", SAME("consents") },
	{ "erasure_journal", "seq, ts_ms, kind, tenant, target", "erasure_journal", "seq", 1, 0, "iittb",
	  "INSERT INTO erasure_journal (seq, ts_ms, kind, tenant, target) VALUES ($1, $2, $3, $4, $5)",
	  SAME("erasure_journal") },
	/* One row, which the target's schema step made: overwritten. */
	{ "journal_state", "id, expired_upto", "journal_state", "id", 1, 0, "ii",
	  "INSERT INTO journal_state (id, expired_upto) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE"
	  " SET expired_upto = excluded.expired_upto", SAME("journal_state") },
	{ "tenant_closures", "tenant, state, actor, requested_ms, due_ms, done_ms", "tenant_closures",
	  "tenant", 1, 0, "tttiii",
	  "INSERT INTO tenant_closures (tenant, state, actor, requested_ms, due_ms, done_ms)"
	  " VALUES ($1, $2, $3, $4, $5, $6)", SAME("tenant_closures") },
	{ "audit_log", "seq, ts_ms, actor, action, target, count, prev_hash, hash", "audit_log", "seq",
	  1, 0, "iitttibb",
	  "INSERT INTO audit_log (chain, seq, ts_ms, actor, action, target, count, prev_hash, hash)"
	  " VALUES ('', $1, $2, $3, $4, $5, $6, $7, $8)",
	  COUNT("audit_log"), COUNT("audit_log WHERE chain = ''") },
	{ "audit_checkpoint", "id, seq, hash, purged_ms", "audit_checkpoint", "id", 1, 1, "iibi",
	  "INSERT INTO audit_chains (chain, checkpoint_seq, checkpoint_hash, purged_ms)"
	  " VALUES ('', $1, $2, $3) ON CONFLICT (chain) DO UPDATE SET checkpoint_seq ="
	  " excluded.checkpoint_seq, checkpoint_hash = excluded.checkpoint_hash, purged_ms ="
	  " excluded.purged_ms", COUNT("audit_checkpoint"),
	  COUNT("audit_chains WHERE chain = '' AND checkpoint_seq IS NOT NULL") },
	/* The highest seq ever handed out: removing the newest entries stays
	 * visible after the move. */
	{ "audit_high_mark", "rid, seq",
	  "(SELECT rowid AS rid, seq FROM sqlite_sequence WHERE name = 'audit_log' AND seq > 0)",
	  "rid", 1, 1, "ii",
	  "INSERT INTO audit_chains (chain, high_mark) VALUES ('', $1) ON CONFLICT (chain) DO UPDATE"
	  " SET high_mark = greatest(audit_chains.high_mark, excluded.high_mark)",
	  COUNT("sqlite_sequence WHERE name = 'audit_log' AND seq > 0"),
	  COUNT("audit_chains WHERE chain = '' AND high_mark > 0") },
};
_Static_assert(RD_ARRAY_LEN(tables) <= STORE_IMPORT_TABLES, "report has room for every table");

/* The sequences behind ids the target hands out from now on. */
static const char *const sequences_sql[] = {
	"SELECT setval('messages_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM messages), false)",
	"SELECT setval('data_keys_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM data_keys), false)",
	"SELECT setval('consents_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM consents), false)",
	"SELECT setval('erasure_journal_seq', (SELECT coalesce(max(seq), 0) + 1 FROM erasure_journal),"
	" false)",
};

struct mig {
	struct store *src, *dst;
	const struct store_import_options *o;
	struct store_import_report *rep;
	sqlite3 *db;                    /* a read connection of the source */
	PGconn *c;                      /* this run's own connection to the target */
	char *err;
	size_t errlen;
};

/* ---- small helpers ---------------------------------------------------------- */

static enum rd_err fail_pg(struct mig *m, const char *what)
{
	util_err(m->err, m->errlen, "%s: %s", what, PQerrorMessage(m->c));
	size_t n = strlen(m->err);
	if (n && m->err[n - 1] == '\n')
		m->err[n - 1] = '\0';
	return RD_E_STORAGE;
}

static enum rd_err fail_sqlite(struct mig *m, const char *what)
{
	util_err(m->err, m->errlen, "%s: %s", what, sqlite3_errmsg(m->db));
	return RD_E_STORAGE;
}

/* The one integer a PostgreSQL statement answers; -1 on error. */
static int64_t pg_int(PGconn *c, const char *sql, int n, const char *const *vals)
{
	PGresult *r = store_pg_exec(c, sql, n, vals, NULL, NULL);
	int64_t v = r && PQntuples(r) == 1 ? store_pg_get64(r, 0, 0) : -1;
	PQclear(r);
	return v;
}

/* The one integer a SQLite statement answers; -1 on error. */
static int64_t sqlite_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* ---- the cursor: the last key copied, as text ---------------------------- */

/* "v1,v2,..": integers in decimal, text and bytes in hex. -1 if too long. */
static int cursor_encode(const struct mig_table *t, sqlite3_stmt *s, char out[MIG_CURSOR_MAX])
{
	size_t used = 0;
	for (int i = 0; i < t->nkey; i++) {
		if (used + 2 >= MIG_CURSOR_MAX)
			return -1;
		if (i)
			out[used++] = ',';
		if (t->types[i] == 'i') {
			used += (size_t)snprintf(out + used, MIG_CURSOR_MAX - used, "%lld",
			                         (long long)sqlite3_column_int64(s, i));
		} else {
			const unsigned char *p = t->types[i] == 'b' ? sqlite3_column_blob(s, i)
			                                            : sqlite3_column_text(s, i);
			size_t n = (size_t)sqlite3_column_bytes(s, i);
			if (used + 2 * n + 1 >= MIG_CURSOR_MAX)
				return -1;
			sodium_bin2hex(out + used, MIG_CURSOR_MAX - used, p ? p : (const unsigned char *)"", n);
			used += 2 * n;
		}
	}
	out[used] = '\0';
	return used < MIG_CURSOR_MAX - 1 ? 0 : -1;
}

/* Binds cursor's values as ?1..?nkey of s. bufs holds decoded bytes. */
static int cursor_bind(const struct mig_table *t, sqlite3_stmt *s, const char *cursor,
                       unsigned char bufs[][MIG_CURSOR_MAX / 2])
{
	const char *p = cursor;
	for (int i = 0; i < t->nkey; i++) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (t->types[i] == 'i') {
			char num[24];
			if (len == 0 || len >= sizeof num)
				return -1;
			memcpy(num, p, len);
			num[len] = '\0';
			sqlite3_bind_int64(s, i + 1, strtoll(num, NULL, 10));
		} else {
			size_t n = 0;
			if (sodium_hex2bin(bufs[i], MIG_CURSOR_MAX / 2, p, len, NULL, &n, NULL))
				return -1;
			if (t->types[i] == 'b')
				sqlite3_bind_blob(s, i + 1, bufs[i], (int)n, SQLITE_STATIC);
			else
				sqlite3_bind_text(s, i + 1, (const char *)bufs[i], (int)n, SQLITE_STATIC);
		}
		p = end ? end + 1 : p + len;
	}
	return 0;
}

/* ---- the target's state --------------------------------------------------- */

/* A fingerprint of the source: the hash of its wrapped root key (random
 * per database, and what every keyed hash in it derives from). */
static int source_fingerprint(sqlite3 *db, unsigned char fp[32])
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT wrapped FROM key_root WHERE id = 1", -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	const void *w = rc == SQLITE_ROW ? sqlite3_column_blob(s, 0) : NULL;
	size_t n = w ? (size_t)sqlite3_column_bytes(s, 0) : 0;
	crypto_generichash(fp, 32, w ? w : (const void *)"", n, NULL, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Tables an earlier use of the target would have written to. */
static const char target_used_sql[] =
	"SELECT (SELECT count(*) FROM key_root) + (SELECT count(*) FROM data_keys) +"
	" (SELECT count(*) FROM (SELECT 1 FROM messages LIMIT 1) m) +"
	" (SELECT count(*) FROM (SELECT 1 FROM audit_log LIMIT 1) a) +"
	" (SELECT count(*) FROM (SELECT 1 FROM subjects LIMIT 1) s)";

/* A new migration (the target empty) or the same one again. */
static enum rd_err claim_target(struct mig *m)
{
	unsigned char fp[32];
	if (source_fingerprint(m->db, fp))
		return fail_sqlite(m, "cannot read the source's root key");
	PGresult *r = store_pg_exec(m->c, "SELECT source_fp, finished_ms FROM migrate_state WHERE id = 1",
	                            0, NULL, NULL, NULL);
	if (!r)
		return fail_pg(m, "cannot read the migration state");
	bool have = PQntuples(r) == 1;
	bool same = have && PQgetlength(r, 0, 0) == 32 && !memcmp(PQgetvalue(r, 0, 0), fp, 32);
	m->rep->finished = same && !PQgetisnull(r, 0, 1);
	PQclear(r);
	if (have && !same) {
		util_err(m->err, m->errlen, "the target holds a migration from another SQLite store");
		return RD_E_INVALID_REQUEST;
	}
	if (have) {
		m->rep->resumed = true;
		return RD_OK;
	}
	int64_t used = pg_int(m->c, target_used_sql, 0, NULL);
	if (used != 0) {
		if (used < 0)
			return fail_pg(m, "cannot look into the target");
		util_err(m->err, m->errlen, "the target database already holds data: redactd migrate"
		         " copies into an empty one (or resumes its own migration)");
		return RD_E_INVALID_REQUEST;
	}
	char now[8];
	store_pg_put64(now, util_now_ms());
	const char *vals[3] = { (const char *)fp, m->o->source_label ? m->o->source_label : "sqlite", now };
	const int lens[3] = { 32, 0, 8 }, fmts[3] = { 1, 0, 1 };
	r = store_pg_exec(m->c, "INSERT INTO migrate_state (id, source_fp, source, started_ms)"
	                  " VALUES (1, $1, $2, $3::bigint)", 3, vals, lens, fmts);
	PQclear(r);
	return r ? RD_OK : fail_pg(m, "cannot record the migration");
}

/* ---- copying one table ----------------------------------------------------- */

struct progress {
	char cursor[MIG_CURSOR_MAX];    /* "" before the first batch */
	int64_t copied;
	bool done;
};

static enum rd_err progress_load(struct mig *m, const struct mig_table *t, struct progress *p)
{
	const char *vals[1] = { t->name };
	PGresult *r = store_pg_exec(m->c, "SELECT cursor, copied, done FROM migrate_progress WHERE tbl = $1",
	                            1, vals, NULL, NULL);
	if (!r)
		return fail_pg(m, "cannot read the migration's progress");
	memset(p, 0, sizeof *p);
	if (PQntuples(r) == 1) {
		snprintf(p->cursor, sizeof p->cursor, "%s", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
		p->copied = store_pg_get64(r, 0, 1);
		p->done = PQgetvalue(r, 0, 2)[0] == 1;   /* binary bool */
	}
	PQclear(r);
	return RD_OK;
}

/* In the batch's transaction. */
static enum rd_err progress_save(struct mig *m, const struct mig_table *t, const struct progress *p)
{
	char copied[8];
	store_pg_put64(copied, p->copied);
	const char *vals[4] = { t->name, p->cursor[0] ? p->cursor : NULL, copied, p->done ? "t" : "f" };
	const int lens[4] = { 0, 0, 8, 0 }, fmts[4] = { 0, 0, 1, 0 };
	PGresult *r = store_pg_exec(m->c, "INSERT INTO migrate_progress (tbl, cursor, copied, done)"
	                            " VALUES ($1, $2, $3::bigint, $4::boolean) ON CONFLICT (tbl) DO UPDATE"
	                            " SET cursor = excluded.cursor, copied = excluded.copied, done ="
	                            " excluded.done", 4, vals, lens, fmts);
	PQclear(r);
	return r ? RD_OK : fail_pg(m, "cannot save the migration's progress");
}

/* Every (category, month) the source's messages fall in has its
 * partition (each made in a transaction of its own, before the batches
 * that need it). */
static enum rd_err ensure_partitions(struct mig *m)
{
	sqlite3_stmt *s;
	/* One ts of each UTC month (floor division: ts before 1970 too). */
	if (sqlite3_prepare_v2(m->db, "SELECT min(ts_ms), category FROM messages GROUP BY category,"
	                       " strftime('%Y%m', (ts_ms - (((ts_ms % 1000) + 1000) % 1000)) / 1000,"
	                       " 'unixepoch')", -1, &s, NULL) != SQLITE_OK)
		return fail_sqlite(m, "cannot read the source's months");
	enum rd_err rc = RD_OK;
	int step;
	while (rc == RD_OK && (step = sqlite3_step(s)) == SQLITE_ROW)
		if (store_pg_partition_for(m->dst->pg, m->c, sqlite3_column_int64(s, 0),
		                           (const char *)sqlite3_column_text(s, 1)))
			rc = fail_pg(m, "cannot create a messages partition");
	if (rc == RD_OK && step != SQLITE_DONE)
		rc = fail_sqlite(m, "cannot read the source's months");
	sqlite3_finalize(s);
	return rc;
}

/* Queues the prepared insert of t for the current row of s (pipeline
 * mode: libpq copies the values into its buffer at once). */
static enum rd_err send_row(struct mig *m, const struct mig_table *t, const char *stmt,
                            sqlite3_stmt *s)
{
	const char *vals[MIG_COLS_MAX];
	int lens[MIG_COLS_MAX], fmts[MIG_COLS_MAX];
	char ints[MIG_COLS_MAX][8];
	int ncol = (int)strlen(t->types), n = 0;
	for (int i = t->skip; i < ncol; i++, n++) {
		lens[n] = 0;
		fmts[n] = t->types[i] == 't' ? 0 : 1;
		if (sqlite3_column_type(s, i) == SQLITE_NULL) {
			vals[n] = NULL;
		} else if (t->types[i] == 'i') {
			store_pg_put64(ints[n], sqlite3_column_int64(s, i));
			vals[n] = ints[n];
			lens[n] = 8;
		} else if (t->types[i] == 'b') {
			const void *b = sqlite3_column_blob(s, i);
			lens[n] = sqlite3_column_bytes(s, i);
			vals[n] = b ? b : "";   /* a zero-length blob is not NULL */
		} else {
			vals[n] = (const char *)sqlite3_column_text(s, i);
		}
	}
	return PQsendQueryPrepared(m->c, stmt, n, vals, lens, fmts, 1) ? RD_OK
	                                                                : fail_pg(m, "cannot send a row");
}

/* Ends a pipeline of `pending` inserts: reads each one's result and the
 * sync's. After an error the server skips the rest (PIPELINE_ABORTED) and
 * the transaction is failed: the caller rolls back. */
static enum rd_err drain(struct mig *m, const struct mig_table *t, int pending)
{
	if (!PQpipelineSync(m->c))
		return fail_pg(m, "cannot send a batch");
	enum rd_err rc = RD_OK;
	for (int nulls = 0;;) {
		PGresult *r = PQgetResult(m->c);
		if (!r) {   /* the end of one query's results */
			if (++nulls > pending + 1 || PQstatus(m->c) != CONNECTION_OK)
				return rc == RD_OK ? fail_pg(m, "the batch's results did not come back") : rc;
			continue;
		}
		ExecStatusType st = PQresultStatus(r);
		if (st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_SYNC && rc == RD_OK) {
			const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			util_err(m->err, m->errlen, "cannot copy a row of %s: %s", t->name,
			         msg ? msg : PQresStatus(st));
			rc = RD_E_STORAGE;
		}
		PQclear(r);
		if (st == PGRES_PIPELINE_SYNC)
			return rc;
	}
}

/* Rows per pipeline round: their results (a few dozen bytes each) stay
 * well inside the socket's buffers, so the server never blocks writing
 * them while we are still sending. */
#define MIG_PIPELINE 256

/* Sends the batch's rows from s in pipeline rounds; *n gets how many, the
 * cursor the last one's key. */
static enum rd_err send_rows(struct mig *m, const struct mig_table *t, const char *stmt,
                             sqlite3_stmt *s, struct progress *p, int64_t *n)
{
	if (!PQenterPipelineMode(m->c))
		return fail_pg(m, "cannot enter pipeline mode");
	enum rd_err rc = RD_OK;
	int pending = 0, step = SQLITE_DONE;
	while (rc == RD_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = send_row(m, t, stmt, s)) != RD_OK)
			break;
		if (cursor_encode(t, s, p->cursor)) {
			util_err(m->err, m->errlen, "a key of %s is too long to resume from", t->name);
			rc = RD_E_STORAGE;
		}
		(*n)++;
		if (++pending == MIG_PIPELINE) {
			rc = rc == RD_OK ? drain(m, t, pending) : rc;
			pending = 0;
		}
	}
	if (rc == RD_OK && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = fail_sqlite(m, "cannot read the source");
	if (pending || rc != RD_OK) {
		enum rd_err d = drain(m, t, pending);
		rc = rc == RD_OK ? d : rc;
	}
	if (!PQexitPipelineMode(m->c) && rc == RD_OK)
		rc = fail_pg(m, "cannot leave pipeline mode");
	return rc;
}

/* One batch: rows after p->cursor, inserted and the cursor moved in one
 * transaction. *n gets the rows copied. */
static enum rd_err copy_batch(struct mig *m, const struct mig_table *t, const char *stmt,
                              struct progress *p, int64_t *n)
{
	char sql[1024];
	char marks[64] = "";
	for (int i = 0; i < t->nkey; i++)
		snprintf(marks + strlen(marks), sizeof marks - strlen(marks), "%s?%d", i ? ", " : "", i + 1);
	if (p->cursor[0])
		snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE (%s) > (%s) ORDER BY %s LIMIT ?%d",
		         t->cols, t->from, t->key, marks, t->key, t->nkey + 1);
	else
		snprintf(sql, sizeof sql, "SELECT %s FROM %s ORDER BY %s LIMIT ?%d", t->cols, t->from,
		         t->key, t->nkey + 1);
	unsigned char bufs[3][MIG_CURSOR_MAX / 2];
	sqlite3_stmt *s = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK)
		return fail_sqlite(m, "cannot read the source");
	if ((p->cursor[0] && cursor_bind(t, s, p->cursor, bufs)) ||
	    sqlite3_bind_int64(s, t->nkey + 1, (sqlite3_int64)m->o->batch) != SQLITE_OK) {
		sqlite3_finalize(s);
		util_err(m->err, m->errlen, "the saved cursor of %s does not parse", t->name);
		return RD_E_STORAGE;
	}
	enum rd_err rc = store_pg_cmd(m->c, "BEGIN") ? fail_pg(m, "cannot begin a batch") : RD_OK;
	if (rc == RD_OK)
		rc = send_rows(m, t, stmt, s, p, n);
	sqlite3_finalize(s);
	if (rc == RD_OK) {
		p->copied += *n;
		p->done = *n < (int64_t)m->o->batch;
		rc = progress_save(m, t, p);
	}
	if (rc == RD_OK && store_pg_cmd(m->c, "COMMIT"))
		rc = fail_pg(m, "cannot commit a batch");
	if (rc != RD_OK)
		store_pg_cmd(m->c, "ROLLBACK");
	return rc;
}

static enum rd_err copy_table(struct mig *m, size_t ti)
{
	const struct mig_table *t = &tables[ti];
	struct store_import_table *out = &m->rep->t[ti];
	struct progress p;
	enum rd_err rc = progress_load(m, t, &p);
	if (rc != RD_OK || p.done)
		return rc;
	if (!strcmp(t->name, "messages") && (rc = ensure_partitions(m)) != RD_OK)
		return rc;
	/* Parameter types said, not inferred: an int8 parameter then goes
	 * into an int column (key_root.id) by assignment cast. */
	Oid types[MIG_COLS_MAX];
	int nparam = (int)strlen(t->types) - t->skip;
	for (int i = 0; i < nparam; i++)
		types[i] = t->types[t->skip + i] == 'i' ? MIG_OID_INT8
		           : t->types[t->skip + i] == 'b' ? MIG_OID_BYTEA : MIG_OID_TEXT;
	char stmt[48];
	snprintf(stmt, sizeof stmt, "mig_%s", t->name);
	PGresult *r = PQprepare(m->c, stmt, t->insert, nparam, types);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		return fail_pg(m, "cannot prepare an insert");
	while (rc == RD_OK && !p.done) {
		if (m->o->max_batches && m->rep->batches >= m->o->max_batches) {
			m->rep->stopped = true;
			break;
		}
		int64_t n = 0;
		if ((rc = copy_batch(m, t, stmt, &p, &n)) != RD_OK)
			break;
		out->copied += n;
		m->rep->batches++;
		if (m->o->progress)
			m->o->progress(t->name, p.copied, out->source, p.done, m->o->ctx);
	}
	return rc;
}

/* ---- the whole run ----------------------------------------------------------- */

static enum rd_err count_all(struct mig *m, bool target)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(tables); i++) {
		int64_t v = target ? pg_int(m->c, tables[i].dst_count, 0, NULL)
		                   : sqlite_int(m->db, tables[i].src_count);
		if (v < 0)
			return target ? fail_pg(m, "cannot count the target's rows")
			              : fail_sqlite(m, "cannot count the source's rows");
		*(target ? &m->rep->t[i].target : &m->rep->t[i].source) = v;
	}
	return RD_OK;
}

static enum rd_err set_sequences(struct mig *m)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(sequences_sql); i++)
		if (store_pg_cmd(m->c, sequences_sql[i]))
			return fail_pg(m, "cannot move the target's id sequences");
	return RD_OK;
}

static enum rd_err compare_counts(struct mig *m)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(tables); i++) {
		const struct store_import_table *t = &m->rep->t[i];
		if (t->source != t->target) {
			util_err(m->err, m->errlen, "%s: %lld row(s) in the source, %lld in the target (did the"
			         " source change during the migration? stop every redactd using it)", t->name,
			         (long long)t->source, (long long)t->target);
			return RD_E_INTEGRITY;
		}
	}
	return RD_OK;
}

static enum rd_err run(struct mig *m)
{
	enum rd_err rc = claim_target(m);
	if (rc == RD_OK)
		rc = count_all(m, false);
	if (rc != RD_OK || m->rep->finished)
		return rc == RD_OK ? count_all(m, true) : rc;
	for (size_t i = 0; rc == RD_OK && i < RD_ARRAY_LEN(tables) && !m->rep->stopped; i++)
		rc = copy_table(m, i);
	if (rc != RD_OK || m->rep->stopped)
		return rc;
	if ((rc = set_sequences(m)) == RD_OK && (rc = count_all(m, true)) == RD_OK)
		rc = compare_counts(m);
	return rc;
}

static enum rd_err lock_target(struct mig *m)
{
	char sql[64];
	snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%d, 0)", STORE_PG_LOCK_MIGRATE);
	PGresult *r = store_pg_exec(m->c, sql, 0, NULL, NULL, NULL);
	if (!r)
		return fail_pg(m, "cannot lock the target");
	bool got = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 1;   /* binary bool */
	PQclear(r);
	if (!got) {
		util_err(m->err, m->errlen, "another redactd migrate is running on the target");
		return RD_E_INVALID_REQUEST;
	}
	return RD_OK;
}

enum rd_err store_import_copy(struct store *src, struct store *dst,
                             const struct store_import_options *o, struct store_import_report *rep,
                             char *err, size_t errlen)
{
	struct mig m = { .src = src, .dst = dst, .o = o, .rep = rep, .err = err, .errlen = errlen };
	memset(rep, 0, sizeof *rep);
	rep->n = RD_ARRAY_LEN(tables);
	for (size_t i = 0; i < rep->n; i++)
		rep->t[i].name = tables[i].name;
	if (src->pg || !dst->pg || !o->batch || o->batch > STORE_IMPORT_BATCH_MAX) {
		util_err(err, errlen, "a migration goes from a SQLite store to a PostgreSQL one, in batches"
		         " of 1..%d rows", STORE_IMPORT_BATCH_MAX);
		return RD_E_INVALID_REQUEST;
	}
	if (src->seal_format != 2) {
		util_err(err, errlen, "the source still holds rows sealed in the old format: run redactd"
		         " serve on it once (it re-seals them), stop it, then migrate");
		return RD_E_INVALID_REQUEST;
	}
	if (!(m.c = store_pg_connect(dst->pg, err, errlen)))
		return RD_E_STORAGE;
	enum rd_err rc = RD_E_STORAGE;
	if (!(m.db = store_reader_get(src))) {
		util_err(err, errlen, "cannot read the source");
	} else if ((rc = lock_target(&m)) == RD_OK) {
		rc = run(&m);
	}
	rep->messages = rep->t[2].target;
	if (m.db)
		store_reader_put(src, m.db);
	PQfinish(m.c);   /* ends the session: the lock goes with it */
	return rc;
}

enum rd_err store_import_finish(struct store_tx *tx)
{
	if (!tx->pg)
		return RD_E_INVALID_REQUEST;
	char now[8];
	store_pg_put64(now, util_now_ms());
	const char *vals[1] = { now };
	const int lens[1] = { 8 }, fmts[1] = { 1 };
	PGresult *r = store_pg_exec(tx->pg->c, "UPDATE migrate_state SET finished_ms = $1::bigint"
	                            " WHERE id = 1 AND finished_ms IS NULL", 1, vals, lens, fmts);
	PQclear(r);
	return r ? RD_OK : RD_E_STORAGE;
}

int store_import_check(PGconn *c, char *err, size_t errlen)
{
	PGresult *r = store_pg_exec(c, "SELECT source FROM migrate_state WHERE id = 1 AND finished_ms IS NULL",
	                            0, NULL, NULL, NULL);
	if (!r) {
		util_err(err, errlen, "cannot read the migration state: %s", PQerrorMessage(c));
		return -1;
	}
	int rc = PQntuples(r) ? -1 : 0;
	if (rc)
		util_err(err, errlen, "this database holds a redactd migrate from %.200s that has not"
		         " finished: run that command again to the end before starting redactd on it",
		         PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}
