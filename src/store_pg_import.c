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
 * `store_pg_tables` below (store_pg_tables.h) is the whole mapping, one
 * line per table, used both ways (a backup reads it back): the SQLite
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
 * constants of `store_pg_tables` (never of input); parameters carry the
 * values.
 */
#include "store_pg_int.h"
#include "store_import.h"
#include "store_pg_tables.h"
#include "log.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIG_CURSOR_MAX 1024
/* pg_type oids of the parameters (catalog/pg_type_d.h, stable). */
#define MIG_OID_INT8  20
#define MIG_OID_BYTEA 17
#define MIG_OID_TEXT  25

#define COUNT(t) "SELECT count(*) FROM " t
#define SAME(t) COUNT(t), COUNT(t)
#define PINS_COLS "id, tenant, kind, target_hash, doc_ct, actor, created_ms"
#define PINS_INSERT(t) "INSERT INTO " t " (" PINS_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7)"

const struct mig_table store_pg_tables[] = {
	{ "key_root", "id, wrapped, created_ms", "key_root", "id", 1, 0, "ibi",
	  "INSERT INTO key_root (id, wrapped, created_ms) VALUES ($1, $2, $3)", SAME("key_root"),
	  NULL, NULL, 0 },
	{ "data_keys", "id, tenant, category, period, start_ms, end_ms, wrapped, created_ms, destroyed_ms",
	  "data_keys", "id", 1, 0, "itttiibii",
	  "INSERT INTO data_keys (id, tenant, category, period, start_ms, end_ms, wrapped, created_ms,"
	  " destroyed_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", SAME("data_keys"), NULL, NULL, 0 },
	{ "messages", "id, record_id, tenant, conv_hash, ts_ms, received_ms, role, channel, category,"
	  " key_id, conv_ct, text_ct, meta_ct, entity_counts", "messages", "id", 1, 0, "ittbiitttibbbt",
	  "INSERT INTO messages (id, record_id, tenant, conv_hash, ts_ms, received_ms, role, channel,"
	  " category, key_id, conv_ct, text_ct, meta_ct, entity_counts) VALUES ($1, $2, $3, $4, $5, $6,"
	  " $7, $8, $9, $10, $11, $12, $13, $14)", SAME("messages"), NULL, NULL, 0 },
	{ "subjects", "subject_hash, tenant, conv_hash", "subjects", "subject_hash, tenant, conv_hash",
	  3, 0, "btb", "INSERT INTO subjects (subject_hash, tenant, conv_hash) VALUES ($1, $2, $3)",
	  SAME("subjects"), NULL, NULL, 0 },
	{ "replay_ids", "r.id_hash, m.tenant, r.msg_id", "replay_ids r JOIN messages m ON m.id = r.msg_id",
	  "r.id_hash", 1, 0, "bti", "INSERT INTO replay_ids (id_hash, tenant, msg_id) VALUES ($1, $2, $3)",
	  SAME("replay_ids"), "SELECT id_hash, tenant, msg_id FROM replay_ids",
	  "INSERT INTO replay_ids (id_hash, msg_id) VALUES (?1, ?3)", 0 },
	{ "holds", PINS_COLS, "holds", "id", 1, 0, "tttbbti", PINS_INSERT("holds"), SAME("holds"),
	  NULL, NULL, 0 },
	{ "restrictions", PINS_COLS, "restrictions", "id", 1, 0, "tttbbti", PINS_INSERT("restrictions"),
	  SAME("restrictions"), NULL, NULL, 0 },
	{ "consents", "id, tenant, scope, target_hash, kind, state, method, source, ts_ms, recorded_ms",
	  "consents", "id", 1, 0, "ittbttttii",
	  "INSERT INTO consents (id, tenant, scope, target_hash, kind, state, method, source, ts_ms,"
	  " recorded_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", SAME("consents"),
	  NULL, NULL, 0 },
	{ "erasure_journal", "seq, ts_ms, kind, tenant, target", "erasure_journal", "seq", 1, 0, "iittb",
	  "INSERT INTO erasure_journal (seq, ts_ms, kind, tenant, target) VALUES ($1, $2, $3, $4, $5)",
	  SAME("erasure_journal"), NULL, NULL, 0 },
	/* One row, which the target's schema step made: overwritten. */
	{ "journal_state", "id, expired_upto", "journal_state", "id", 1, 0, "ii",
	  "INSERT INTO journal_state (id, expired_upto) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE"
	  " SET expired_upto = excluded.expired_upto", SAME("journal_state"), NULL,
	  "INSERT OR REPLACE INTO journal_state (id, expired_upto) VALUES (?1, ?2)", 0 },
	{ "tenant_closures", "tenant, state, actor, requested_ms, due_ms, done_ms", "tenant_closures",
	  "tenant", 1, 0, "tttiii",
	  "INSERT INTO tenant_closures (tenant, state, actor, requested_ms, due_ms, done_ms)"
	  " VALUES ($1, $2, $3, $4, $5, $6)", SAME("tenant_closures"), NULL, NULL, 0 },
	{ "audit_log", "seq, ts_ms, actor, action, target, count, prev_hash, hash", "audit_log", "seq",
	  1, 0, "iitttibb",
	  "INSERT INTO audit_log (chain, seq, ts_ms, actor, action, target, count, prev_hash, hash)"
	  " VALUES ('', $1, $2, $3, $4, $5, $6, $7, $8)",
	  COUNT("audit_log"), COUNT("audit_log WHERE chain = ''"),
	  "SELECT seq, ts_ms, actor, action, target, count, prev_hash, hash FROM audit_log"
	  " WHERE chain = ''", NULL, 0 },
	{ "audit_checkpoint", "id, seq, hash, purged_ms", "audit_checkpoint", "id", 1, 1, "iibi",
	  "INSERT INTO audit_chains (chain, checkpoint_seq, checkpoint_hash, purged_ms)"
	  " VALUES ('', $1, $2, $3) ON CONFLICT (chain) DO UPDATE SET checkpoint_seq ="
	  " excluded.checkpoint_seq, checkpoint_hash = excluded.checkpoint_hash, purged_ms ="
	  " excluded.purged_ms", COUNT("audit_checkpoint"),
	  COUNT("audit_chains WHERE chain = '' AND checkpoint_seq IS NOT NULL"),
	  "SELECT 1::bigint, checkpoint_seq, checkpoint_hash, purged_ms FROM audit_chains"
	  " WHERE chain = '' AND checkpoint_seq IS NOT NULL", NULL, 0 },
	/* The highest seq ever handed out: removing the newest entries stays
	 * visible after the move. */
	{ "audit_high_mark", "rid, seq",
	  "(SELECT rowid AS rid, seq FROM sqlite_sequence WHERE name = 'audit_log' AND seq > 0)",
	  "rid", 1, 1, "ii",
	  "INSERT INTO audit_chains (chain, high_mark) VALUES ('', $1) ON CONFLICT (chain) DO UPDATE"
	  " SET high_mark = greatest(audit_chains.high_mark, excluded.high_mark)",
	  COUNT("sqlite_sequence WHERE name = 'audit_log' AND seq > 0"),
	  COUNT("audit_chains WHERE chain = '' AND high_mark > 0"), NULL, NULL, MIG_NO_EXPORT },
	/* The tenants' chains (store_pg_tables.h): only in a backup of a
	 * PostgreSQL store. */
	{ "audit_tenant_log", "chain, seq, ts_ms, actor, action, target, count, prev_hash, hash",
	  "backup_audit_chains", "chain, seq", 2, 0, "tiitttibb",
	  "INSERT INTO audit_log (chain, seq, ts_ms, actor, action, target, count, prev_hash, hash)"
	  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	  COUNT("backup_audit_chains"), COUNT("audit_log WHERE chain <> ''"),
	  "SELECT chain, seq, ts_ms, actor, action, target, count, prev_hash, hash FROM audit_log"
	  " WHERE chain <> ''", NULL, MIG_OPTIONAL },
	{ "audit_tenant_chains", "chain, high_mark, checkpoint_seq, checkpoint_hash, purged_ms",
	  "backup_audit_chain_state", "chain", 1, 0, "tiibi",
	  "INSERT INTO audit_chains (chain, high_mark, checkpoint_seq, checkpoint_hash, purged_ms)"
	  " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chain) DO UPDATE SET high_mark ="
	  " greatest(audit_chains.high_mark, excluded.high_mark), checkpoint_seq ="
	  " excluded.checkpoint_seq, checkpoint_hash = excluded.checkpoint_hash, purged_ms ="
	  " excluded.purged_ms", COUNT("backup_audit_chain_state"),
	  COUNT("audit_chains WHERE chain <> ''"),
	  "SELECT chain, high_mark, checkpoint_seq, checkpoint_hash, purged_ms FROM audit_chains"
	  " WHERE chain <> ''", NULL, MIG_OPTIONAL },
};
const size_t store_pg_ntables = RD_ARRAY_LEN(store_pg_tables);
_Static_assert(RD_ARRAY_LEN(store_pg_tables) <= STORE_IMPORT_TABLES,
               "report has room for every table");

/* The sequences behind ids the target hands out from now on. */
static const char *const sequences_sql[] = {
	"SELECT setval('messages_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM messages), false)",
	"SELECT setval('data_keys_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM data_keys), false)",
	"SELECT setval('consents_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM consents), false)",
	"SELECT setval('erasure_journal_seq', (SELECT coalesce(max(seq), 0) + 1 FROM erasure_journal),"
	" false)",
};

struct mig {
	struct store *dst;
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

/* An optional table (MIG_OPTIONAL) the source lacks has no rows. */
static bool source_has(struct mig *m, const struct mig_table *t)
{
	sqlite3_stmt *s;
	bool found = false;
	if (!(t->flags & MIG_OPTIONAL))
		return true;
	if (sqlite3_prepare_v2(m->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
	                       -1, &s, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(s, 1, t->from, -1, SQLITE_STATIC);
	found = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return found;
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
 * per database, and what every keyed hash in it derives from), and the
 * salt when there is one (store_import_options.fingerprint_salt). */
static int source_fingerprint(sqlite3 *db, int64_t salt, unsigned char fp[32])
{
	crypto_generichash_state h;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT wrapped FROM key_root WHERE id = 1", -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	const void *w = rc == SQLITE_ROW ? sqlite3_column_blob(s, 0) : NULL;
	size_t n = w ? (size_t)sqlite3_column_bytes(s, 0) : 0;
	crypto_generichash_init(&h, NULL, 0, 32);
	crypto_generichash_update(&h, w ? w : (const void *)"", n);
	if (salt) {
		unsigned char b[8];
		for (int i = 0; i < 8; i++)
			b[i] = (unsigned char)((uint64_t)salt >> (56 - 8 * i));
		crypto_generichash_update(&h, b, sizeof b);
	}
	crypto_generichash_final(&h, fp, 32);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* A new migration (the target empty) or the same one again. */
static enum rd_err claim_target(struct mig *m)
{
	unsigned char fp[32];
	if (source_fingerprint(m->db, m->o->fingerprint_salt, fp))
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
		util_err(m->err, m->errlen, "the target holds a %s from another SQLite %s%s",
		         m->o->command ? "restore" : "migration", m->o->command ? "backup" : "store",
		         m->o->refusal_hint ? m->o->refusal_hint : "");
		return RD_E_INVALID_REQUEST;
	}
	if (have) {
		m->rep->resumed = true;
		return RD_OK;
	}
	int64_t used = pg_int(m->c, STORE_PG_TARGET_USED_SQL, 0, NULL);
	if (used != 0) {
		if (used < 0)
			return fail_pg(m, "cannot look into the target");
		util_err(m->err, m->errlen, "the target database already holds data: %s copies into an"
		         " empty one (or resumes its own run)%s", m->o->command ? m->o->command
		         : "redactd migrate", m->o->refusal_hint ? m->o->refusal_hint : "");
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
	const struct mig_table *t = &store_pg_tables[ti];
	struct store_import_table *out = &m->rep->t[ti];
	struct progress p;
	enum rd_err rc = progress_load(m, t, &p);
	if (rc != RD_OK || p.done || !source_has(m, t))
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
	for (size_t i = 0; i < store_pg_ntables; i++) {
		const struct mig_table *t = &store_pg_tables[i];
		int64_t v = target ? pg_int(m->c, t->dst_count, 0, NULL)
		                   : source_has(m, t) ? sqlite_int(m->db, t->src_count) : 0;
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
	for (size_t i = 0; i < store_pg_ntables; i++) {
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
	for (size_t i = 0; rc == RD_OK && i < store_pg_ntables && !m->rep->stopped; i++)
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

/* The run's common part, m->db being the source. */
static enum rd_err import_db(struct mig *m, int seal_format)
{
	struct store_import_report *rep = m->rep;
	memset(rep, 0, sizeof *rep);
	rep->n = store_pg_ntables;
	for (size_t i = 0; i < rep->n; i++)
		rep->t[i].name = store_pg_tables[i].name;
	if (!m->dst->pg || !m->o->batch || m->o->batch > STORE_IMPORT_BATCH_MAX) {
		util_err(m->err, m->errlen, "a migration goes from a SQLite store to a PostgreSQL one, in"
		         " batches of 1..%d rows", STORE_IMPORT_BATCH_MAX);
		return RD_E_INVALID_REQUEST;
	}
	if (seal_format != 2) {
		util_err(m->err, m->errlen, "the source still holds rows sealed in the old format: run"
		         " redactd serve on it once (it re-seals them), stop it, then migrate");
		return RD_E_INVALID_REQUEST;
	}
	if (!(m->c = store_pg_connect(m->dst->pg, m->err, m->errlen)))
		return RD_E_STORAGE;
	enum rd_err rc = lock_target(m);
	if (rc == RD_OK)
		rc = run(m);
	rep->messages = rep->t[2].target;
	PQfinish(m->c);   /* ends the session: the lock goes with it */
	m->c = NULL;
	return rc;
}

enum rd_err store_import_copy(struct store *src, struct store *dst,
                             const struct store_import_options *o, struct store_import_report *rep,
                             char *err, size_t errlen)
{
	struct mig m = { .dst = dst, .o = o, .rep = rep, .err = err, .errlen = errlen };
	if (src->pg) {
		memset(rep, 0, sizeof *rep);
		util_err(err, errlen, "a migration goes from a SQLite store to a PostgreSQL one");
		return RD_E_INVALID_REQUEST;
	}
	if (!(m.db = store_reader_get(src))) {
		memset(rep, 0, sizeof *rep);
		util_err(err, errlen, "cannot read the source");
		return RD_E_STORAGE;
	}
	enum rd_err rc = import_db(&m, src->seal_format);
	store_reader_put(src, m.db);
	return rc;
}

enum rd_err store_import_file(const char *path, struct store *dst,
                              const struct store_import_options *o, struct store_import_report *rep,
                              char *err, size_t errlen)
{
	struct mig m = { .dst = dst, .o = o, .rep = rep, .err = err, .errlen = errlen };
	memset(rep, 0, sizeof *rep);
	if (sqlite3_open_v2(path, &m.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		util_err(err, errlen, "cannot open %s: %s", path, m.db ? sqlite3_errmsg(m.db) : "out of memory");
		sqlite3_close(m.db);
		return RD_E_STORAGE;
	}
	sqlite3_busy_timeout(m.db, STORE_BUSY_TIMEOUT_MS);
	int64_t format = sqlite_int(m.db, "SELECT format FROM seal_format WHERE id = 1");
	enum rd_err rc = import_db(&m, (int)format);
	sqlite3_close(m.db);
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
