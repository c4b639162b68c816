/*
 * store.c — opening the database, connections, reads, backups, purges,
 * crypto-shredding and key rotation.
 *
 * Workload: many HTTP threads read conversations at once (each borrows a
 * read connection from a small pool; WAL lets them run beside the writer);
 * every write goes through the writer thread (store_writer.c), including
 * the maintenance here, which runs as store_exec functions so it is ordered
 * with ingest batches. Data keys are in store_keys.c, the schema in
 * store_schema.c.
 *
 * Files: the database is created 0600 before SQLite opens it; SQLite gives
 * its -wal and -shm files the database file's mode. secure_delete zeroes
 * deleted content in the pages, temp_store=MEMORY keeps sort spills off
 * disk, and store_checkpoint (TRUNCATE) empties the WAL after purges.
 */
#include "store_int.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- files and connections ----------------------------------------------- */

/* Creates path with mode 0600 if missing; tightens an existing database
 * (and its -wal/-shm) that group or others could read. */
static int prepare_file(const char *path, char *err, size_t errlen)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		util_err(err, errlen, "cannot open database file: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((sb.st_mode & 077) && fchmod(fd, 0600) == 0)
		log_warn("store: database file was readable by group or others; now 0600");
	close(fd);
	for (size_t i = 0; i < RD_ARRAY_LEN(suffix); i++) {
		char p[4200];
		snprintf(p, sizeof p, "%s%s", path, suffix[i]);
		if (stat(p, &sb) == 0 && (sb.st_mode & 077))
			(void)chmod(p, 0600);
	}
	return 0;
}

/* SQLite keeps global allocation statistics behind a mutex by default;
 * nothing here reads them, and at thousands of rows a second the writer
 * and the request threads would contend on it for every allocation.
 * Must run before SQLite initialises; later calls are refused harmlessly
 * (SQLITE_MISUSE), e.g. when a test opened a database first. */
static void sqlite_global_tune(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_connect(const char *path, const struct store_options *opt, sqlite3 **out,
                  char *err, size_t errlen)
{
	static pthread_once_t tuned = PTHREAD_ONCE_INIT;
	pthread_once(&tuned, sqlite_global_tune);
	sqlite3 *db = NULL;
	const char *pragmas = opt->sync_full
		? "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;"
		  " PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=67108864;"
		: "PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;"
		  " PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=67108864;";
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	                         SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if ((rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	*out = db;
	return 0;
fail:
	util_err(err, errlen, "cannot open database: %s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_close(db);
	return -1;
}

/* WAL is a property of the file: set once, checked. */
static int set_wal(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int ok = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL) == SQLITE_OK) {
		ok = sqlite3_step(s) == SQLITE_ROW &&
		     !strcmp((const char *)sqlite3_column_text(s, 0), "wal");
		sqlite3_finalize(s);
	}
	if (!ok)
		util_err(err, errlen, "cannot switch the database to WAL: %s", sqlite3_errmsg(db));
	return ok ? 0 : -1;
}

static void finalize_all(sqlite3_stmt *cached[TXS_COUNT])
{
	for (size_t i = 0; i < TXS_COUNT; i++) {
		sqlite3_finalize(cached[i]);
		cached[i] = NULL;
	}
}

/* A pooled read connection with the statements kept on it, or a new one. */
static int reader_take(struct store *st, struct store_reader *r)
{
	char err[256];
	memset(r, 0, sizeof *r);
	pthread_mutex_lock(&st->rlock);
	if (st->nfree > 0)
		*r = st->rfree[--st->nfree];
	pthread_mutex_unlock(&st->rlock);
	if (r->db)
		return 0;
	/* Never wait for a pooled one: a reader may hold one while it needs another. */
	if (store_connect(st->path, &st->opt, &r->db, err, sizeof err)) {
		log_error("store: read connection: %s", err);
		return -1;
	}
	sqlite3_exec(r->db, "PRAGMA query_only=ON", NULL, NULL, NULL);
	return 0;
}

/* Back to the pool with its statements (store_tx_run_keeping reset them),
 * or closed when the pool is full. */
static void reader_give(struct store *st, struct store_reader *r)
{
	if (!r->db)
		return;
	if (!sqlite3_get_autocommit(r->db))
		sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_lock(&st->rlock);
	bool kept = st->nfree < STORE_READ_POOL;
	if (kept)
		st->rfree[st->nfree++] = *r;
	pthread_mutex_unlock(&st->rlock);
	if (!kept) {
		finalize_all(r->cached);
		sqlite3_close(r->db);
	}
	r->db = NULL;
}

static void store_readers_close(struct store *st)
{
	for (size_t i = 0; i < st->nfree; i++) {
		finalize_all(st->rfree[i].cached);
		sqlite3_close(st->rfree[i].db);
	}
	st->nfree = 0;
}

/* A read connection for a caller that prepares its own statements. */
sqlite3 *store_reader_get(struct store *st)
{
	struct store_reader r;
	if (reader_take(st, &r))
		return NULL;
	finalize_all(r.cached);
	return r.db;
}

void store_reader_put(struct store *st, sqlite3 *db)
{
	struct store_reader r = { .db = db };
	reader_give(st, &r);
}

/* ---- transactions handed to other modules ------------------------------- */

sqlite3_stmt *store_tx_stmt(struct store_tx *tx, enum store_tx_cached which, const char *sql)
{
	sqlite3_stmt *s = tx->cached[which];
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	if (sqlite3_prepare_v2(tx->db, sql, -1, &s, NULL) != SQLITE_OK)
		return NULL;
	tx->cached[which] = s;
	return s;
}

void store_tx_end(struct store_tx *tx)
{
	finalize_all(tx->cached);
}

enum rd_err store_tx_run_keeping(struct store *st, sqlite3 *db, bool write,
                                 sqlite3_stmt *keep[TXS_COUNT], store_tx_fn fn, void *ctx)
{
	struct store_tx tx = { .st = st, .db = db, .write = write };
	memcpy(tx.cached, keep, sizeof tx.cached);
	enum rd_err rc = fn(&tx, ctx);
	for (size_t i = 0; i < TXS_COUNT; i++)
		if ((keep[i] = tx.cached[i])) {
			sqlite3_reset(keep[i]);
			sqlite3_clear_bindings(keep[i]);
		}
	return rc;
}

enum rd_err store_tx_run(struct store *st, sqlite3 *db, bool write, store_tx_fn fn, void *ctx)
{
	struct store_tx tx = { .st = st, .db = db, .write = write };
	enum rd_err rc = fn(&tx, ctx);
	store_tx_end(&tx);
	return rc;
}

bool store_tx_open(struct store_tx *tx)
{
	if (tx->pg)
		return store_pg_tx_open(tx);
	return !tx->write || !sqlite3_get_autocommit(tx->db);
}

enum rd_err store_db_err(sqlite3 *db)
{
	return (sqlite3_extended_errcode(db) & 0xff) == SQLITE_FULL ? RD_E_STORAGE_FULL : RD_E_STORAGE;
}

enum rd_err store_test_sql(struct store_tx *tx, const char *sql)
{
	if (tx->pg)
		return store_pg_test_sql(tx, sql);
	return sqlite3_exec(tx->db, sql, NULL, NULL, NULL) == SQLITE_OK ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_exec_direct(struct store *st, store_tx_fn fn, void *ctx)
{
	if (st->pg)
		return store_pg_exec_direct(st, fn, ctx);
	sqlite3 *db = NULL;
	char err[256];
	if (store_connect(st->path, &st->opt, &db, err, sizeof err)) {
		log_error("store: %s", err);
		return RD_E_STORAGE;
	}
	enum rd_err rc = RD_E_STORAGE;
	bool db_failed = true;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK) {
		rc = store_tx_run(st, db, true, fn, ctx);
		db_failed = false;
		if (sqlite3_get_autocommit(db)) {
			db_failed = rc == RD_OK;
			rc = rc != RD_OK ? rc : store_db_err(db);
		} else if (rc != RD_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		} else if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			db_failed = true;
			rc = store_db_err(db);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		}
	}
	if (db_failed)
		log_error("store: write failed: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc;
}

/* ---- open and close ------------------------------------------------------- */

static void options_normalise(struct store_options *o)
{
	if (o->batch_wait_us < 0)
		o->batch_wait_us = 0;
	if (o->batch_wait_us > 1000000)
		o->batch_wait_us = 1000000;
}

static int store_alloc(const char *path, const struct store_options *opt, struct store **out)
{
	struct store *st = calloc(1, sizeof *st);
	if (!st)
		return -1;
	st->opt = *opt;
	st->opt.keys_from = NULL;   /* not kept: only used at open */
	options_normalise(&st->opt);
	pthread_mutex_init(&st->qlock, NULL);
	pthread_cond_init(&st->qcond, NULL);
	pthread_mutex_init(&st->rlock, NULL);
	pthread_cond_init(&st->rcond, NULL);
	pthread_mutex_init(&st->kdb_lock, NULL);
	pthread_mutex_init(&st->slock, NULL);
	pthread_cond_init(&st->scond, NULL);
	pthread_cond_init(&st->staken, NULL);
	st->wal_fd = -1;
	st->ckpt_pages = STORE_CHECKPOINT_PAGES;
	*out = st;
	if (!(st->path = strdup(path)) || store_keys_init(st))
		return -1;
	return 0;
}

static int open_keysrc(struct store *st, const char *keys_from, char *err, size_t errlen)
{
	if (!keys_from)
		return 0;
	if (sqlite3_open_v2(keys_from, &st->keysrc, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		util_err(err, errlen, "cannot open the key database: %s", sqlite3_errmsg(st->keysrc));
		return -1;
	}
	sqlite3_busy_timeout(st->keysrc, STORE_BUSY_TIMEOUT_MS);
	return 0;
}

enum rd_err store_open(const char *path, const struct store_options *opt, struct store **out,
                       char *err, size_t errlen)
{
	struct store *st = NULL;
	enum rd_err rc = RD_E_STORAGE;
	if (!opt->readonly && (opt->queue_size <= 0 || opt->batch_max <= 0)) {
		util_err(err, errlen, "queue_size and batch_max must be set");   /* no defaults of its own */
		return RD_E_INTERNAL;
	}
	if (store_alloc(opt->pg_url ? "" : path, opt, &st)) {
		util_err(err, errlen, "out of memory");
		rc = RD_E_INTERNAL;
		goto fail;
	}
	if (opt->pg_url) {
		if ((rc = store_pg_open(st, err, errlen)) == RD_OK) {
			*out = st;
			st = NULL;
		}
		goto fail;
	}
	if (prepare_file(path, err, errlen) || store_connect(path, &st->opt, &st->wdb, err, errlen) ||
	    set_wal(st->wdb, err, errlen) || store_migrate(st->wdb, &st->schema_version, err, errlen) ||
	    store_seal_format_read(st->wdb, &st->seal_format, err, errlen) ||
	    open_keysrc(st, opt->keys_from, err, errlen))
		goto fail;
	if (st->opt.readonly) {
		sqlite3_close(st->wdb);
		st->wdb = NULL;
	} else if (store_writer_start(st, err, errlen)) {
		goto fail;
	}
	log_info("store: opened, schema version %d, synchronous=%s", st->schema_version,
	         st->opt.sync_full ? "full" : "normal");
	*out = st;
	st = NULL;
	rc = RD_OK;
fail:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	store_pg_close(st);
	store_writer_stop(st);
	sqlite3_finalize(st->ins_msg);
	sqlite3_finalize(st->ins_subj);
	sqlite3_finalize(st->ins_msg_subj);
	sqlite3_finalize(st->ins_replay);
	sqlite3_finalize(st->key_live);
	store_links_stop(st);
	store_convidx_stop(st);
	for (size_t i = 0; i < sizeof st->tx / sizeof st->tx[0]; i++)
		sqlite3_finalize(st->tx[i]);
	finalize_all(st->wcached);
	if (st->wdb) {
		int rc = sqlite3_wal_checkpoint_v2(st->wdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		if (rc != SQLITE_OK)
			log_warn("store: final checkpoint: %s", sqlite3_errstr(rc));
		sqlite3_close(st->wdb);
	}
	store_readers_close(st);
	sqlite3_close(st->kdb);
	sqlite3_close(st->keysrc);
	store_keys_free(st);
	pthread_mutex_destroy(&st->qlock);
	pthread_cond_destroy(&st->qcond);
	pthread_mutex_destroy(&st->rlock);
	pthread_cond_destroy(&st->rcond);
	pthread_mutex_destroy(&st->kdb_lock);
	pthread_mutex_destroy(&st->slock);
	pthread_cond_destroy(&st->scond);
	pthread_cond_destroy(&st->staken);
	free(st->path);
	free(st);
}

int store_schema_version(struct store *st)
{
	return st->schema_version;
}

/* ---- reading -------------------------------------------------------------- */

enum rd_err store_read(struct store *st, store_tx_fn fn, void *ctx)
{
	if (st->pg)
		return store_pg_read(st, fn, ctx);
	struct store_reader r;
	if (reader_take(st, &r))
		return RD_E_STORAGE;
	enum rd_err rc = store_tx_run_keeping(st, r.db, false, r.cached, fn, ctx);
	reader_give(st, &r);
	return rc;
}

void store_row_from(sqlite3_stmt *s, struct store_row *r)
{
	enum rd_role role = ROLE_USER;
	enum rd_channel ch = CH_OTHER;
	r->rowid = sqlite3_column_int64(s, 0);
	r->id = (const char *)sqlite3_column_text(s, 1);
	r->tenant = (const char *)sqlite3_column_text(s, 2);
	/* NULL unless whole: an edited row then fails to open (crypto_ad_build). */
	r->conv_hash = sqlite3_column_bytes(s, 3) == CRYPTO_HASH_BYTES ? sqlite3_column_blob(s, 3) : NULL;
	r->ts_ms = sqlite3_column_int64(s, 4);
	if (rd_role_parse((const char *)sqlite3_column_text(s, 5), &role))
		role = ROLE_USER;
	if (rd_channel_parse((const char *)sqlite3_column_text(s, 6), &ch))
		ch = CH_OTHER;
	r->role = role;
	r->channel = ch;
	r->role_name = (const char *)sqlite3_column_text(s, 5);
	r->channel_name = (const char *)sqlite3_column_text(s, 6);
	r->category = (const char *)sqlite3_column_text(s, 7);
	r->key_id = sqlite3_column_int64(s, 8);
	r->conv_ct = sqlite3_column_blob(s, 9);
	r->conv_ct_len = (size_t)sqlite3_column_bytes(s, 9);
	r->text_ct = sqlite3_column_blob(s, 10);
	r->text_ct_len = (size_t)sqlite3_column_bytes(s, 10);
	r->meta_ct = sqlite3_column_blob(s, 11);
	r->meta_ct_len = (size_t)sqlite3_column_bytes(s, 11);
	r->entity_counts = (const char *)sqlite3_column_text(s, 12);
}

/* The (ts_ms, id) of record c->after in the walked conversation. */
static enum rd_err after_key(sqlite3 *db, const struct store_conv_walk *c, int64_t *ts, int64_t *id)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "SELECT ts_ms, id FROM messages WHERE record_id = ?1 AND tenant = ?2"
	                       " AND conv_hash = ?3", -1, &q, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	sqlite3_bind_text(q, 1, c->after, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, c->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 3, c->hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	int step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		*ts = sqlite3_column_int64(q, 0);
		*id = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return step == SQLITE_ROW ? RD_OK : step == SQLITE_DONE ? RD_E_NOT_FOUND : RD_E_STORAGE;
}

static enum rd_err conversation_fn(struct store_tx *tx, void *arg)
{
	struct store_conv_walk *c = arg;
	sqlite3 *db = tx->db;
	enum rd_err rc = RD_OK;
	int step;
	/* The order is sorted on the ids alone, and each row read by its id:
	 * sorting whole rows kept every sealed row of the conversation in
	 * memory at once (temp_store=MEMORY), 500 MB for one of 350,000. */
	int64_t from_ts = 0, from_id = 0;
	if (c->after) {
		enum rd_err arc = after_key(db, c, &from_ts, &from_id);
		if (arc != RD_OK)
			return arc;
	}
	sqlite3_stmt *s = c->after
		? store_tx_stmt(tx, TXS_CONVERSATION_AFTER, "SELECT id FROM messages WHERE id IN "
		                STORE_CONV_IDS_SQL " AND (ts_ms, id) > (?3, ?4) ORDER BY ts_ms, id")
		: store_tx_stmt(tx, TXS_CONVERSATION,
		                "SELECT id FROM messages WHERE id IN " STORE_CONV_IDS_SQL " ORDER BY ts_ms, id");
	sqlite3_stmt *r = store_tx_stmt(tx, TXS_CONVERSATION_ROW,
		"SELECT id, record_id, tenant, conv_hash, ts_ms, role, channel,"
		" category, key_id, conv_ct, text_ct, meta_ct, entity_counts FROM messages WHERE id = ?1");
	if (!s || !r)
		return RD_E_STORAGE;
	sqlite3_bind_text(s, 1, c->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, c->hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	if (c->after) {
		sqlite3_bind_int64(s, 3, from_ts);
		sqlite3_bind_int64(s, 4, from_id);
	}
	while (rc == RD_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		sqlite3_bind_int64(r, 1, sqlite3_column_int64(s, 0));
		if (sqlite3_step(r) == SQLITE_ROW) {   /* in the same snapshot: it is there */
			struct store_row row;
			store_row_from(r, &row);
			c->count++;
			rc = c->fn(&row, c->ctx);
		} else {
			rc = RD_E_STORAGE;
			log_error("store: conversation read failed: %s", sqlite3_errmsg(db));
		}
		sqlite3_reset(r);
	}
	if (rc == RD_OK && step != SQLITE_DONE) {
		log_error("store: conversation read failed: %s", sqlite3_errmsg(db));
		rc = RD_E_STORAGE;
	}
	sqlite3_reset(s);
	return rc;
}

enum rd_err store_conversation(struct store *st, const char *tenant,
                               const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                               store_row_fn fn, void *ctx, size_t *count)
{
	return store_conversation_after(st, tenant, conv_hash, NULL, fn, ctx, count);
}

enum rd_err store_conversation_after(struct store *st, const char *tenant,
                                     const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                     const char *after, store_row_fn fn, void *ctx, size_t *count)
{
	if (st->pg)
		return store_pg_conversation(st, tenant, conv_hash, after, fn, ctx, count);
	struct store_conv_walk c = { .tenant = tenant, .hash = conv_hash, .after = after, .fn = fn,
	                             .ctx = ctx };
	enum rd_err rc = store_read(st, conversation_fn, &c);
	if (count)
		*count = c.count;
	return rc;
}

void store_record_ad(const struct store_record *r, struct crypto_ad_row *out)
{
	*out = (struct crypto_ad_row){
		.key_id = r->key_id, .tenant = r->tenant, .conv_hash = r->conv_hash,
		.record_id = r->id, .role = rd_role_name(r->role), .channel = rd_channel_name(r->channel),
		.category = r->category, .ts_ms = r->ts_ms,
	};
}

void store_row_ad(const struct store_row *r, struct crypto_ad_row *out)
{
	*out = (struct crypto_ad_row){
		.key_id = r->key_id, .tenant = r->tenant ? r->tenant : "", .conv_hash = r->conv_hash,
		.record_id = r->id ? r->id : "", .role = r->role_name ? r->role_name : "",
		.channel = r->channel_name ? r->channel_name : "",
		.category = r->category ? r->category : "", .ts_ms = r->ts_ms,
	};
}

int store_seal_format(struct store *st)
{
	return st->seal_format;
}

/* ---- checkpoint ----------------------------------------------------------- */

enum rd_err store_checkpoint(struct store *st)
{
	/* PostgreSQL: nothing of the kind to run (its WAL is the server's;
	 * what shredding reaches there: docs/operations.md). */
	if (st->pg)
		return RD_OK;
	if (st->writer_started)
		return store_writer_checkpoint(st, STORE_CHECKPOINT_WAIT_MS);
	sqlite3 *db = NULL;
	char err[256];
	if (store_connect(st->path, &st->opt, &db, err, sizeof err))
		return RD_E_STORAGE;
	int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? RD_OK : RD_E_STORAGE;
}
