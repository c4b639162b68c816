/*
 * store_pg.c — the PostgreSQL backend: connections, open and close, reads
 * and transactions handed to the typed operations, and conversations.
 *
 * store.c dispatches here when store_options.pg_url is set (st->pg). The
 * writer (group commit with pipeline mode) is store_pg_writer.c, data keys
 * store_pg_keys.c, the schema store_pg_schema.c, the audit log
 * store_pg_audit.c, the other typed operations store_pg_ops.c.
 *
 * Errors: the server's message goes to the log with the statement's first
 * words (never a parameter: parameters are keyed hashes, ciphertext and
 * names only, but a log line has no use for them). The connection string
 * appears in logs and errors only masked (no password), as
 * store_pg->masked.
 */
#include "store_pg_int.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------- */

void store_pg_put64(char out[8], int64_t v)
{
	uint64_t u = (uint64_t)v;
	for (int i = 7; i >= 0; i--) {
		out[i] = (char)(u & 0xff);
		u >>= 8;
	}
}

int64_t store_pg_get64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	if (PQfformat(r, col) == 0)
		return strtoll((const char *)p, NULL, 10);
	uint64_t u = 0;
	for (int i = 0; i < 8 && i < PQgetlength(r, row, col); i++)
		u = (u << 8) | p[i];
	return (int64_t)u;
}

/* The statement's first words, for a log line. */
static void sql_head(const char *sql, char out[48])
{
	snprintf(out, 48, "%.40s", sql);
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

/* The server's message of r (or the connection's) on one line: libpq's
 * may span several, and a log line is one. */
static void server_message(PGconn *c, const PGresult *r, char *out, size_t len)
{
	const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	snprintf(out, len, "%s", m ? m : PQerrorMessage(c));
	size_t w = 0;
	for (size_t i = 0; out[i]; i++) {
		char ch = out[i] == '\n' || out[i] == '\t' ? ' ' : out[i];
		if (ch == ' ' && (w == 0 || out[w - 1] == ' '))
			continue;
		out[w++] = ch;
	}
	while (w && out[w - 1] == ' ')
		w--;
	out[w] = '\0';
}

PGresult *store_pg_exec(PGconn *c, const char *sql, int n, const char *const *vals,
                        const int *lens, const int *fmts)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, vals, lens, fmts, 1);
	ExecStatusType s = PQresultStatus(r);
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return r;
	char head[48], msg[256];
	sql_head(sql, head);
	server_message(c, r, msg, sizeof msg);
	log_error("store: postgresql: %s (in \"%s...\")", msg[0] ? msg : PQresStatus(s), head);
	PQclear(r);
	return NULL;
}

int store_pg_cmd(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);
	int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : -1;
	if (rc && strcmp(sql, "ROLLBACK")) {
		char head[48], msg[256];
		sql_head(sql, head);
		server_message(c, r, msg, sizeof msg);
		log_error("store: postgresql: %s (in \"%s...\")", msg, head);
	}
	PQclear(r);
	return rc;
}

enum rd_err store_pg_err(const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return state && !strcmp(state, "53100") ? RD_E_STORAGE_FULL : RD_E_STORAGE;
}

/* ---- connections ---------------------------------------------------------- */

/* Notices (IF NOT EXISTS, ...) are the server talking to a person; the
 * daemon's log has no place for them. */
static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* What the logs may say about the connection string: its parts through
 * libpq's own parser, without the password. */
static void mask_url(const char *url, char *out, size_t len)
{
	static const char *const shown[] = { "host", "hostaddr", "port", "dbname", "user" };
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &perr);
	size_t used = 0;
	out[0] = '\0';
	if (!opts) {
		snprintf(out, len, "(a connection string libpq cannot parse)");
		PQfreemem(perr);
		return;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		for (size_t i = 0; i < RD_ARRAY_LEN(shown); i++)
			if (o->val && !strcmp(o->keyword, shown[i]) && used < len)
				used += (size_t)snprintf(out + used, len - used, "%s%s=%s", used ? " " : "",
				                         o->keyword, o->val);
	}
	PQconninfoFree(opts);
	if (!out[0])
		snprintf(out, len, "(libpq defaults)");
}

PGconn *store_pg_connect(struct store_pg *pg, char *err, size_t errlen)
{
	/* expand_dbname: "dbname" carries the whole URL or key=value string;
	 * later keywords override it (the password from password_file). */
	const char *keys[5] = { "dbname", "application_name", "options", NULL, NULL };
	const char *vals[5] = { pg->url, "redactd", "-c synchronous_commit=on -c client_min_messages=warning",
	                        NULL, NULL };
	if (pg->password) {
		keys[3] = "password";
		vals[3] = pg->password;
	}
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		char msg[256];
		if (c)
			server_message(c, NULL, msg, sizeof msg);
		util_err(err, errlen, "cannot connect to postgresql (%s): %s", pg->masked,
		         c ? msg : "out of memory");
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, ignore_notice, NULL);
	return c;
}

static struct store_pg_conn *reader_get(struct store *st)
{
	struct store_pg *pg = st->pg;
	struct store_pg_conn *conn = NULL;
	pthread_mutex_lock(&pg->plock);
	if (pg->npool > 0)
		conn = pg->pool[--pg->npool];
	pthread_mutex_unlock(&pg->plock);
	if (conn && PQstatus(conn->c) != CONNECTION_OK) {
		PQreset(conn->c);   /* the server restarted: one try to come back */
		if (PQstatus(conn->c) != CONNECTION_OK) {
			PQfinish(conn->c);
			free(conn);
			conn = NULL;
		}
	}
	if (conn)
		return conn;
	char err[512];
	if (!(conn = calloc(1, sizeof *conn)))
		return NULL;
	if (!(conn->c = store_pg_connect(pg, err, sizeof err))) {
		log_error("store: read connection: %s", err);
		free(conn);
		return NULL;
	}
	return conn;
}

static void conn_free(struct store_pg_conn *conn)
{
	if (conn) {
		PQfinish(conn->c);
		free(conn);
	}
}

static void reader_put(struct store *st, struct store_pg_conn *conn)
{
	struct store_pg *pg = st->pg;
	if (PQtransactionStatus(conn->c) != PQTRANS_IDLE)
		store_pg_cmd(conn->c, "ROLLBACK");
	pthread_mutex_lock(&pg->plock);
	if (pg->npool < STORE_PG_READ_POOL && PQstatus(conn->c) == CONNECTION_OK) {
		pg->pool[pg->npool++] = conn;
		conn = NULL;
	}
	pthread_mutex_unlock(&pg->plock);
	conn_free(conn);
}

/* ---- transactions handed to other modules --------------------------------- */

enum rd_err store_pg_tx_run(struct store *st, struct store_pg_conn *conn, bool write,
                            store_tx_fn fn, void *ctx)
{
	struct store_tx tx = { .st = st, .pg = conn, .write = write };
	return fn(&tx, ctx);
}

bool store_pg_tx_open(struct store_tx *tx)
{
	return !tx->write || PQtransactionStatus(tx->pg->c) == PQTRANS_INTRANS;
}

enum rd_err store_pg_test_sql(struct store_tx *tx, const char *sql)
{
	return store_pg_cmd(tx->pg->c, sql) ? RD_E_STORAGE : RD_OK;
}

/* A read: one REPEATABLE READ snapshot for all of fn's statements, so a
 * walk (audit verify, an export) sees one state of the database. */
enum rd_err store_pg_read(struct store *st, store_tx_fn fn, void *ctx)
{
	struct store_pg_conn *conn = reader_get(st);
	if (!conn)
		return RD_E_STORAGE;
	enum rd_err rc = RD_E_STORAGE;
	static const char begin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
	int began = store_pg_cmd(conn->c, begin);
	if (began && PQstatus(conn->c) == CONNECTION_BAD) {
		/* A pooled connection the server dropped (a restart, a failover,
		 * pg_terminate_backend): libpq sees it only now. One new try. */
		PQreset(conn->c);
		began = PQstatus(conn->c) == CONNECTION_OK ? store_pg_cmd(conn->c, begin) : -1;
	}
	if (!began) {
		rc = store_pg_tx_run(st, conn, false, fn, ctx);
		store_pg_cmd(conn->c, "ROLLBACK");
	}
	reader_put(st, conn);
	return rc;
}

/* A write transaction on a connection of its own: readonly stores (the
 * CLI beside a running daemon). */
enum rd_err store_pg_exec_direct(struct store *st, store_tx_fn fn, void *ctx)
{
	char err[512];
	struct store_pg_conn conn = { store_pg_connect(st->pg, err, sizeof err) };
	if (!conn.c) {
		log_error("store: %s", err);
		return RD_E_STORAGE;
	}
	enum rd_err rc = RD_E_STORAGE;
	if (!store_pg_cmd(conn.c, "BEGIN")) {
		rc = fn ? store_pg_tx_run(st, &conn, true, fn, ctx) : RD_OK;
		if (rc == RD_OK && PQtransactionStatus(conn.c) != PQTRANS_INTRANS)
			rc = RD_E_STORAGE;   /* a statement failed and fn went on */
		if (rc != RD_OK) {
			store_pg_cmd(conn.c, "ROLLBACK");
		} else {
			PGresult *r = PQexec(conn.c, "COMMIT");
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				rc = store_pg_err(r);
				log_error("store: commit failed: %s", PQerrorMessage(conn.c));
			}
			PQclear(r);
		}
	}
	PQfinish(conn.c);
	return rc;
}

/* ---- open and close -------------------------------------------------------- */

enum rd_err store_pg_open(struct store *st, char *err, size_t errlen)
{
	if (store_pq_load(err, errlen))
		return RD_E_STORAGE;
	struct store_pg *pg = calloc(1, sizeof *pg);
	if (!pg) {
		util_err(err, errlen, "out of memory");
		return RD_E_INTERNAL;
	}
	st->pg = pg;
	pthread_mutex_init(&pg->plock, NULL);
	if (!(pg->url = strdup(st->opt.pg_url)) ||
	    (st->opt.pg_password && !(pg->password = strdup(st->opt.pg_password)))) {
		util_err(err, errlen, "out of memory");
		return RD_E_INTERNAL;
	}
	/* Not kept in opt: the copies above are wiped at close. */
	st->opt.pg_url = NULL;
	st->opt.pg_password = NULL;
	mask_url(pg->url, pg->masked, sizeof pg->masked);
	if (!(pg->w.c = store_pg_connect(pg, err, errlen)) ||
	    store_pg_migrate(pg->w.c, &st->schema_version, err, errlen))
		return RD_E_STORAGE;
	bool citus = false;
	if (!st->opt.readonly && store_pg_citus(pg->w.c, &citus, err, errlen))
		return RD_E_STORAGE;
	st->seal_format = 2;   /* a PostgreSQL store never held format-1 rows */
	if (!st->opt.readonly && store_import_check(pg->w.c, err, errlen))
		return RD_E_STORAGE;
	if (st->opt.readonly) {
		PQfinish(pg->w.c);
		pg->w.c = NULL;
	} else if (store_pg_writer_start(st, err, errlen)) {
		return RD_E_STORAGE;
	}
	log_info("store: opened postgresql (%s), schema version %d, synchronous_commit=on%s", pg->masked,
	         st->schema_version, citus ? ", distributed by citus" : "");
	return RD_OK;
}

static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void store_pg_close(struct store *st)
{
	struct store_pg *pg = st->pg;
	if (!pg)
		return;
	store_pg_writer_stop(st);
	PQfinish(pg->w.c);
	PQfinish(pg->k.c);
	for (size_t i = 0; i < pg->npool; i++)
		conn_free(pg->pool[i]);
	pthread_mutex_destroy(&pg->plock);
	wipe_free(pg->url);
	wipe_free(pg->password);
	free(pg);
	st->pg = NULL;
}

/* ---- conversations ---------------------------------------------------------- */

#define PG_ROW_COLS "id, record_id, tenant, conv_hash, ts_ms, role, channel, category," \
	" key_id, conv_ct, text_ct, meta_ct, entity_counts"

/* A store_row over row i of r (PG_ROW_COLS, binary). */
static void row_from(const PGresult *r, int i, struct store_row *row)
{
	enum rd_role role = ROLE_USER;
	enum rd_channel ch = CH_OTHER;
	row->rowid = store_pg_get64(r, i, 0);
	row->id = PQgetvalue(r, i, 1);
	row->tenant = PQgetvalue(r, i, 2);
	row->conv_hash = PQgetlength(r, i, 3) == CRYPTO_HASH_BYTES
	                 ? (const unsigned char *)PQgetvalue(r, i, 3) : NULL;
	row->ts_ms = store_pg_get64(r, i, 4);
	row->role_name = PQgetvalue(r, i, 5);
	row->channel_name = PQgetvalue(r, i, 6);
	if (rd_role_parse(row->role_name, &role))
		role = ROLE_USER;
	if (rd_channel_parse(row->channel_name, &ch))
		ch = CH_OTHER;
	row->role = role;
	row->channel = ch;
	row->category = PQgetvalue(r, i, 7);
	row->key_id = store_pg_get64(r, i, 8);
	row->conv_ct = (const unsigned char *)PQgetvalue(r, i, 9);
	row->conv_ct_len = (size_t)PQgetlength(r, i, 9);
	row->text_ct = (const unsigned char *)PQgetvalue(r, i, 10);
	row->text_ct_len = (size_t)PQgetlength(r, i, 10);
	row->meta_ct = (const unsigned char *)PQgetvalue(r, i, 11);
	row->meta_ct_len = (size_t)PQgetlength(r, i, 11);
	row->entity_counts = PQgetvalue(r, i, 12);
}

/* For the typed operations of other files (store_pg_int.h). */
void store_pg_row_from(const PGresult *r, int i, struct store_row *row)
{
	row_from(r, i, row);
}

/* Through a cursor, 500 rows at a time: a result holds all its rows in
 * this process, and a conversation can have hundreds of thousands. */
static enum rd_err conversation_fn(struct store_tx *tx, void *arg)
{
	struct store_conv_walk *c = arg;
	const char *vals[4] = { c->tenant, (const char *)c->hash, c->after, NULL };
	int lens[4] = { 0, CRYPTO_HASH_BYTES, 0, 0 }, fmts[4] = { 0, 1, 0, 1 };
	PGresult *k = NULL, *r;
	if (c->after) {   /* the cursor starts after that record's (ts_ms, id) */
		if (!(k = store_pg_exec(tx->pg->c, "SELECT ts_ms, id FROM messages WHERE tenant = $1"
		                        " AND conv_hash = $2 AND record_id = $3", 3, vals, lens, fmts)))
			return RD_E_STORAGE;
		if (PQntuples(k) != 1) {
			PQclear(k);
			return RD_E_NOT_FOUND;
		}
		vals[2] = PQgetvalue(k, 0, 0);
		vals[3] = PQgetvalue(k, 0, 1);
		lens[2] = lens[3] = 8;
		fmts[2] = 1;
	}
	r = store_pg_exec(tx->pg->c, c->after
	                  ? "DECLARE rd_conv NO SCROLL CURSOR FOR SELECT " PG_ROW_COLS " FROM messages"
	                    " WHERE tenant = $1 AND conv_hash = $2 AND (ts_ms, id) > ($3::bigint, $4::bigint)"
	                    " ORDER BY ts_ms, id"
	                  : "DECLARE rd_conv NO SCROLL CURSOR FOR SELECT " PG_ROW_COLS " FROM messages"
	                    " WHERE tenant = $1 AND conv_hash = $2 ORDER BY ts_ms, id",
	                  c->after ? 4 : 2, vals, lens, fmts);
	PQclear(k);
	if (!r)
		return RD_E_STORAGE;
	PQclear(r);
	enum rd_err rc = RD_OK;
	int n;
	do {
		if (!(r = store_pg_exec(tx->pg->c, "FETCH 500 FROM rd_conv", 0, NULL, NULL, NULL)))
			return RD_E_STORAGE;
		n = PQntuples(r);
		for (int i = 0; i < n && rc == RD_OK; i++) {
			struct store_row row;
			row_from(r, i, &row);
			c->count++;
			rc = c->fn(&row, c->ctx);
		}
		PQclear(r);
	} while (rc == RD_OK && n == 500);
	return store_pg_cmd(tx->pg->c, "CLOSE rd_conv") && rc == RD_OK ? RD_E_STORAGE : rc;
}

enum rd_err store_pg_conversation(struct store *st, const char *tenant,
                                  const unsigned char conv_hash[CRYPTO_HASH_BYTES], const char *after,
                                  store_row_fn fn, void *ctx, size_t *count)
{
	struct store_conv_walk c = { .tenant = tenant, .hash = conv_hash, .after = after, .fn = fn,
	                             .ctx = ctx };
	enum rd_err rc = store_pg_read(st, conversation_fn, &c);
	if (count)
		*count = c.count;
	return rc;
}
