/*
 * store_maint.c — maintenance writes: purges in batches, crypto-shredding,
 * key rotation, and online backups.
 *
 * Workload: rare (a sweep per hour, a rotation per year), but beside live
 * ingest. Every write is a store_exec function, so it runs on the writer in
 * order with ingest batches and holds the write lock for one small batch at
 * a time. A backup holds one read transaction (WAL: the writer goes on).
 */
#include "store_int.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- purge ----------------------------------------------------------------- */

struct cand {
	int64_t rowid, ts_ms, key_id;
	char id[RD_RECORD_ID_LEN + 1];
	char tenant[RD_MAX_NAME_LEN + 1];
	unsigned char conv_hash[CRYPTO_HASH_BYTES];
};

struct purge_ctx {
	const char *tenant, *category;
	int64_t cutoff_ms;
	size_t batch;
	store_purge_fn fn;
	void *ctx;
	int64_t cur_ts, cur_rowid;    /* resume after this (ts, rowid) */
	int64_t held_us;              /* how long the last batch held the writer */
	bool yielded;                 /* it ended early: records were waiting */
	bool contended;               /* records were waiting when it ended */
	struct cand *c;
	size_t scanned, done, deleted; /* done: candidates decided, <= scanned */
	sqlite3_stmt *del[2];         /* purge_sql, during a batch */
	struct store_links_release links;
	struct store *st;
};

/* The next `batch` candidates after the cursor, oldest first. */
static int purge_scan(sqlite3 *db, struct purge_ctx *p)
{
	sqlite3_stmt *s;
	int step;
	p->scanned = 0;
	if (sqlite3_prepare_v2(db, STORE_PURGE_SCAN_SQL, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, p->category, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, p->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, p->cutoff_ms);
	sqlite3_bind_int64(s, 4, p->cur_ts);
	sqlite3_bind_int64(s, 5, p->cur_rowid);
	sqlite3_bind_int64(s, 6, (int64_t)p->batch);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct cand *c = &p->c[p->scanned++];
		c->rowid = sqlite3_column_int64(s, 0);
		snprintf(c->id, sizeof c->id, "%s", (const char *)sqlite3_column_text(s, 1));
		snprintf(c->tenant, sizeof c->tenant, "%s", (const char *)sqlite3_column_text(s, 2));
		memset(c->conv_hash, 0, sizeof c->conv_hash);
		if (sqlite3_column_bytes(s, 3) == CRYPTO_HASH_BYTES)
			memcpy(c->conv_hash, sqlite3_column_blob(s, 3), CRYPTO_HASH_BYTES);
		c->ts_ms = sqlite3_column_int64(s, 4);
		c->key_id = sqlite3_column_int64(s, 5);
	}
	sqlite3_finalize(s);
	return step == SQLITE_DONE ? 0 : -1;
}

/* Deleting a candidate; first, if it names subjects, whether its links
 * stay with its conversation or go with it (store_links_release).
 * Prepared once per batch: preparing them for every row was 60 % of a
 * purge's time. */
static const char *const purge_sql[2] = {
	"DELETE FROM messages WHERE id = ?1",
	"SELECT 1 FROM msg_subjects WHERE msg_id = ?1 LIMIT 1",
};

static int step_reset(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Asks fn about one candidate, deletes it if allowed. Not RD_OK: stop. */
static enum rd_err purge_one(struct store_tx *tx, struct purge_ctx *p, const struct cand *c)
{
	struct store_row row = {
		.rowid = c->rowid, .id = c->id, .tenant = c->tenant, .conv_hash = c->conv_hash,
		.ts_ms = c->ts_ms, .category = p->category, .key_id = c->key_id,
	};
	bool keep = false;
	enum rd_err rc = p->fn ? p->fn(tx, &row, p->ctx, &keep) : RD_OK;
	if (rc != RD_OK || keep)
		return rc;
	sqlite3_bind_int64(p->del[1], 1, c->rowid);
	int names = sqlite3_step(p->del[1]);
	sqlite3_reset(p->del[1]);
	if ((names != SQLITE_ROW && names != SQLITE_DONE) ||
	    (names == SQLITE_ROW &&
	     store_links_release_run(&p->links, c->tenant, c->conv_hash, c->rowid)))
		return store_db_err(tx->db);
	sqlite3_bind_int64(p->del[0], 1, c->rowid);
	if (step_reset(p->del[0]))
		return store_db_err(tx->db);
	p->deleted++;
	return RD_OK;
}

void store_test_purge_yield(struct store *st, size_t n)
{
	st->test_purge_yield = n;
}

/* A batch that has held the writer for STORE_PURGE_YIELD_MS while
 * records wait ends early (what it deleted commits); the next batch goes on
 * from there, after those records. A sweep then delays ingest by a few ms
 * at a time, not by a whole batch (20-40 ms for 500 rows under load). */
static bool purge_should_yield(struct purge_ctx *p, int64_t start_us)
{
	if (p->st->test_purge_yield)
		p->yielded = p->done % p->st->test_purge_yield == 0;
	else
		p->yielded = p->done % 16 == 0 &&
		             util_mono_us() - start_us >= STORE_PURGE_YIELD_MS * 1000 &&
		             store_records_waiting(p->st);
	return p->yielded;
}

/* After a batch that records waited for (it gave way to them, or they
 * were queued when it ended), the sweeper waits STORE_PURGE_PACE times as
 * long as the batch held the writer before it asks for the next one, so
 * that a sweep takes at most 1 / (1 + PACE) of the writer's time while
 * ingest is busy. Back to back, the batches had the writer most of the
 * time (each took its 4 ms between two groups of records), and a sweep
 * cut ingest to 0.53-0.63 of its rate. When nothing waits, the batches
 * run back to back as before. */
static void purge_pace(struct purge_ctx *p)
{
	if (!p->contended || p->held_us <= 0)
		return;
	int64_t us = p->held_us * STORE_PURGE_PACE;
	if (us > STORE_PURGE_PAUSE_MAX_MS * 1000)
		us = STORE_PURGE_PAUSE_MAX_MS * 1000;
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	atomic_fetch_add(&p->st->n_purge_paused_us, (uint64_t)us);
}

static enum rd_err purge_candidates(struct store_tx *tx, struct purge_ctx *p)
{
	int64_t start_us = util_mono_us();
	for (size_t i = 0; i < 2; i++)
		if (sqlite3_prepare_v2(tx->db, purge_sql[i], -1, &p->del[i], NULL) != SQLITE_OK)
			return RD_E_STORAGE;
	if (store_links_release_prepare(tx->db, &p->links))
		return RD_E_STORAGE;
	while (p->done < p->scanned) {
		enum rd_err rc = purge_one(tx, p, &p->c[p->done]);
		if (rc != RD_OK)
			return rc;
		p->done++;
		if (purge_should_yield(p, start_us))
			break;
	}
	return RD_OK;
}

static enum rd_err purge_batch_fn(struct store_tx *tx, void *arg)
{
	struct purge_ctx *p = arg;
	bool keep = false;
	int64_t start_us = util_mono_us();
	p->deleted = p->done = 0;
	p->yielded = p->contended = false;
	p->held_us = 0;
	if (purge_scan(tx->db, p))
		return RD_E_STORAGE;
	enum rd_err rc = purge_candidates(tx, p);
	for (size_t i = 0; i < 2; i++) {
		sqlite3_finalize(p->del[i]);
		p->del[i] = NULL;
	}
	store_links_release_finalize(&p->links);
	enum rd_err end = p->fn ? p->fn(tx, NULL, p->ctx, &keep) : RD_OK;   /* the batch's end, always */
	p->held_us = util_mono_us() - start_us;
	p->contended = p->yielded || store_records_waiting(p->st);
	return rc != RD_OK ? rc : end;
}

/* One tenant's candidates, batch after batch; *total gets what each deleted. */
static enum rd_err purge_tenant(struct store *st, struct purge_ctx *base, const char *tenant,
                                size_t *total)
{
	struct purge_ctx p = *base;
	p.tenant = tenant;
	p.cur_ts = INT64_MIN;
	p.cur_rowid = 0;
	enum rd_err rc = RD_OK;
	do {
		if ((rc = store_exec(st, purge_batch_fn, &p)) != RD_OK)
			break;
		*total += p.deleted;
		if (p.done) {
			p.cur_ts = p.c[p.done - 1].ts_ms;
			p.cur_rowid = p.c[p.done - 1].rowid;
		}
		if (p.scanned == p.batch || p.done < p.scanned)
			purge_pace(&p);
	} while (p.scanned == p.batch || p.done < p.scanned);
	return rc;
}

/* The tenants that have records, in order: each found with one probe of
 * messages(tenant, category, ts_ms) (a skip scan written out). */
struct tenant_list {
	char (*names)[RD_MAX_NAME_LEN + 1];
	size_t n;
};

static enum rd_err list_tenants_fn(struct store_tx *tx, void *arg)
{
	struct tenant_list *l = arg;
	sqlite3_stmt *s;
	int step;
	if (sqlite3_prepare_v2(tx->db, "WITH RECURSIVE t(name) AS (SELECT min(tenant) FROM messages"
	                       " UNION ALL SELECT (SELECT min(tenant) FROM messages WHERE tenant > t.name)"
	                       " FROM t WHERE t.name IS NOT NULL) SELECT name FROM t WHERE name IS NOT NULL",
	                       -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		void *more = realloc(l->names, (l->n + 1) * sizeof *l->names);
		if (!more)
			break;
		l->names = more;
		snprintf(l->names[l->n++], sizeof *l->names, "%s", (const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	return step == SQLITE_DONE ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_purge_before(struct store *st, const char *tenant, const char *category,
                               int64_t cutoff_ms, size_t batch, store_purge_fn fn, void *ctx,
                               size_t *count)
{
	if (st->pg)
		return store_pg_purge_before(st, tenant, category, cutoff_ms, batch, fn, ctx, count);
	struct purge_ctx p = { .tenant = tenant, .category = category, .cutoff_ms = cutoff_ms,
	                       .batch = batch, .fn = fn, .ctx = ctx,
	                       .cur_ts = INT64_MIN, .cur_rowid = 0, .st = st };
	size_t total = 0;
	enum rd_err rc = RD_OK;
	if (p.batch == 0 || p.batch > 100000 || !(p.c = calloc(p.batch, sizeof *p.c)))
		return RD_E_STORAGE;
	struct tenant_list all = { 0 };   /* tenant NULL: each tenant in turn */
	if (tenant)
		rc = purge_tenant(st, &p, tenant, &total);
	else if ((rc = store_read(st, list_tenants_fn, &all)) == RD_OK)
		for (size_t i = 0; i < all.n && rc == RD_OK; i++)
			rc = purge_tenant(st, &p, all.names[i], &total);
	free(all.names);
	free(p.c);
	if (count)
		*count = total;
	if (total)
		log_info("store: purged %zu record(s)", total);
	return rc;
}

/* ---- crypto-shredding ------------------------------------------------------ */

struct shred_ctx {
	int64_t month_start_ms, now_ms;
	int64_t *ids;
	size_t n;
};

static enum rd_err shred_fn(struct store_tx *tx, void *arg)
{
	struct shred_ctx *c = arg;
	sqlite3 *db = tx->db;
	sqlite3_stmt *s = NULL;
	enum rd_err rc = RD_E_STORAGE;
	int step;
	c->n = 0;
	/* The records of a key lie in its tenant, category and month: a range
	 * of messages(tenant, category, ts_ms) (STORE_SHRED_SQL, test_plans). */
	if (sqlite3_prepare_v2(db, STORE_SHRED_SQL, -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	sqlite3_bind_int64(s, 1, c->month_start_ms);
	sqlite3_bind_int64(s, 2, c->now_ms);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		void *p = realloc(c->ids, (c->n + 1) * sizeof *c->ids);
		if (!p)
			goto fail;
		c->ids = p;
		c->ids[c->n++] = sqlite3_column_int64(s, 0);
	}
	if (step != SQLITE_DONE)
		goto fail;
	rc = RD_OK;
fail:
	sqlite3_finalize(s);
	return rc;
}

enum rd_err store_shred_keys(struct store *st, int64_t now_ms, size_t *count)
{
	if (st->pg)
		return store_pg_shred_keys(st, now_ms, count);
	char period[8];
	int64_t end_ms;
	struct shred_ctx c = { .now_ms = now_ms };
	if (store_period(now_ms, period, &c.month_start_ms, &end_ms))
		return RD_E_STORAGE;
	enum rd_err rc = store_exec(st, shred_fn, &c);
	if (rc == RD_OK) {
		store_keys_forget(st, c.ids, c.n);
		for (size_t i = 0; i < c.n; i++)
			log_info("store: destroyed data key %lld", (long long)c.ids[i]);
		if (count)
			*count = c.n;
	}
	free(c.ids);
	return rc == RD_OK ? RD_OK : RD_E_STORAGE;
}

/* ---- key rotation ---------------------------------------------------------- */

struct rekey_ctx {
	const struct keyring *old_kr, *new_kr;
	size_t count;
};

/* Re-wraps one key (id 0: the root key); 1 if it was already under the
 * new master key. */
static int rekey_one(sqlite3 *db, const struct rekey_ctx *c, int64_t id, const void *w, size_t wlen)
{
	const char *sql = id == CRYPTO_ROOT_KEY_ID
		? "UPDATE key_root SET wrapped = ?1 WHERE id = 1 AND ?2 = 0"
		: "UPDATE data_keys SET wrapped = ?1 WHERE id = ?2";
	unsigned char dk[CRYPTO_KEY_BYTES], nw[CRYPTO_WRAPPED_BYTES];
	sqlite3_stmt *s = NULL;
	int rc = -1;
	if (keyring_unwrap(c->old_kr, id, w, wlen, dk) != 0) {
		rc = keyring_unwrap(c->new_kr, id, w, wlen, dk) == 0 ? 1 : -1;
		if (rc < 0)
			log_error("store: data key %lld opens under neither master key", (long long)id);
		goto fail;
	}
	if (keyring_wrap(c->new_kr, id, dk, nw) ||
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_blob(s, 1, nw, sizeof nw, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
fail:
	sqlite3_finalize(s);
	sodium_memzero(dk, sizeof dk);
	return rc;
}

struct wrapped_key {
	int64_t id;
	unsigned char w[CRYPTO_WRAPPED_BYTES];
};

/* Every live wrapped key, read before any is rewritten. */
static int rekey_list(sqlite3 *db, struct wrapped_key **out, size_t *n)
{
	sqlite3_stmt *s;
	struct wrapped_key *v = NULL;
	int step;
	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT 0, wrapped FROM key_root UNION ALL"
	                       " SELECT id, wrapped FROM data_keys WHERE wrapped IS NOT NULL",
	                       -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		void *p = realloc(v, (*n + 1) * sizeof *v);
		if (!p || sqlite3_column_bytes(s, 1) != CRYPTO_WRAPPED_BYTES) {
			if (p)
				v = p;
			step = SQLITE_ERROR;
			break;
		}
		v = p;
		v[*n].id = sqlite3_column_int64(s, 0);
		memcpy(v[(*n)++].w, sqlite3_column_blob(s, 1), CRYPTO_WRAPPED_BYTES);
	}
	sqlite3_finalize(s);
	*out = v;
	return step == SQLITE_DONE ? 0 : -1;
}

static int rekey_all(sqlite3 *db, void *arg)
{
	struct rekey_ctx *c = arg;
	struct wrapped_key *v = NULL;
	size_t n = 0;
	int rc = rekey_list(db, &v, &n);
	c->count = 0;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		rc = rekey_one(db, c, v[i].id, v[i].w, sizeof v[i].w);
		if (rc == 0)
			c->count++;
	}
	free(v);
	return rc < 0 ? -1 : 0;
}

enum rd_err store_rekey_tx(struct store_tx *tx, const struct keyring *old_kr,
                           const struct keyring *new_kr, size_t *count)
{
	if (tx->pg)
		return store_pg_rekey_tx(tx, old_kr, new_kr, count);
	struct rekey_ctx c = { .old_kr = old_kr, .new_kr = new_kr };
	if (rekey_all(tx->db, &c) != 0)
		return RD_E_STORAGE;
	log_info("store: re-wrapped %zu key(s) under the new master key", c.count);
	if (count)
		*count = c.count;
	return RD_OK;
}

struct rekey_args {
	const struct keyring *old_kr, *new_kr;
	size_t *count;
};

static enum rd_err rekey_exec(struct store_tx *tx, void *arg)
{
	struct rekey_args *a = arg;
	return store_rekey_tx(tx, a->old_kr, a->new_kr, a->count);
}

enum rd_err store_rekey(struct store *st, const struct keyring *old_kr,
                        const struct keyring *new_kr, size_t *count)
{
	struct rekey_args a = { old_kr, new_kr, count };
	enum rd_err rc = store_exec(st, rekey_exec, &a);
	return rc == RD_OK || rc == RD_E_STORAGE_FULL || rc == RD_E_STORAGE_FAILED ||
	       rc == RD_E_SHUTTING_DOWN ? rc : RD_E_STORAGE;
}

/* ---- backup ------------------------------------------------------------------ */

/* Copies the whole database from src to dst in one step (one read
 * transaction: consistent, and finishes however busy the writer is). */
static int backup_copy(sqlite3 *src, sqlite3 *dst, char *err, size_t errlen)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc;
	if (!b) {
		util_err(err, errlen, "backup: %s", sqlite3_errmsg(dst));
		return -1;
	}
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED)
		sqlite3_sleep(20);
	int frc = sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE || frc != SQLITE_OK) {
		util_err(err, errlen, "backup: %s", sqlite3_errstr(rc != SQLITE_DONE ? rc : frc));
		return -1;
	}
	return 0;
}

/* Records in the copy. */
int store_backup_count(sqlite3 *dst, int64_t *records)
{
	sqlite3_stmt *s;
	int rc = -1;
	if (sqlite3_prepare_v2(dst, "SELECT count(*) FROM messages", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*records = sqlite3_column_int64(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

/* The copy as one rollback-journal file that says when it was taken;
 * key material removed unless kept. */
int store_backup_finish(sqlite3 *dst, unsigned flags, int64_t taken_ms, char *err, size_t errlen)
{
	const char *sql = (flags & (STORE_BACKUP_WITH_KEYS | STORE_BACKUP_NO_SCRUB))
		? "PRAGMA journal_mode=DELETE;"
		: "PRAGMA journal_mode=DELETE; PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY;"
		  " UPDATE data_keys SET wrapped = NULL WHERE wrapped IS NOT NULL; VACUUM;";
	if (store_journal_mark_backup(dst, taken_ms, flags & STORE_BACKUP_WITH_KEYS) ||
	    sqlite3_exec(dst, sql, NULL, NULL, NULL) != SQLITE_OK) {
		util_err(err, errlen, "backup: %s", sqlite3_errmsg(dst));
		return -1;
	}
	return 0;
}

enum rd_err store_backup(struct store *st, const char *dest, unsigned flags, int64_t *records,
                         char *err, size_t errlen)
{
	if (st->pg)
		return store_pg_backup(st, dest, flags, records, err, errlen);
	sqlite3 *src = NULL, *dst = NULL;
	int64_t n = 0, taken_ms = util_now_ms();
	int rc = -1, fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		util_err(err, errlen, "backup: cannot create %s: %s", errno == EEXIST ?
		         "destination (it exists)" : "destination", strerror(errno));
		return RD_E_STORAGE;
	}
	close(fd);
	if (!(src = store_reader_get(st))) {
		util_err(err, errlen, "backup: cannot read the database");
		goto fail;
	}
	if (sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK) {
		util_err(err, errlen, "backup: %s", sqlite3_errmsg(dst));
		goto fail;
	}
	sqlite3_exec(dst, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	if (backup_copy(src, dst, err, errlen) || store_backup_finish(dst, flags, taken_ms, err, errlen))
		goto fail;
	if (store_backup_count(dst, &n)) {
		util_err(err, errlen, "backup: cannot count the copy's records: %s", sqlite3_errmsg(dst));
		goto fail;
	}
	rc = 0;
	log_info("store: backup written%s", (flags & STORE_BACKUP_WITH_KEYS) ? " with keys" : "");
fail:
	store_reader_put(st, src);
	if (sqlite3_close(dst) != SQLITE_OK)
		rc = -1;
	if (rc != 0) {
		char p[4200];
		unlink(dest);
		snprintf(p, sizeof p, "%s-journal", dest);
		unlink(p);
		return RD_E_STORAGE;
	}
	if (records)
		*records = n;
	return RD_OK;
}
