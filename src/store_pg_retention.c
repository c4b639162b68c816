/*
 * store_pg_retention.c — retention on PostgreSQL: the sweeper's reads
 * (groups, records due, entity totals), its pending counts, purges in
 * batches, crypto-shredding of data keys, key rotation (re-wrapping),
 * tenant closures, and the lock that lets one process sweep at a time.
 * The public functions of store.h, store_retention.h and store_tenant.h
 * dispatch here when the store is on postgresql.
 *
 * DESIGN
 * One sweeper at a time: several redactd processes share the database,
 * and each runs a sweeper thread. A pass begins by taking a session
 * advisory lock (STORE_PG_LOCK_SWEEP) with pg_try_advisory_lock on a
 * connection of its own; a process that does not get it skips the pass
 * (another is sweeping). The lock lives as long as that session: a process
 * killed mid-pass loses its connection and the server releases the lock.
 *
 * Nothing half done: every purge batch is one store_exec job, so one
 * transaction on the writer (its savepoint rolls back whole when the
 * sweeper stops or a statement fails); its count goes to retention_pending
 * in that same transaction, and the pass's end turns the pending counts
 * into audit entries in one more. A process that dies between the two
 * leaves the counts pending for the next pass on any process.
 *
 * Partitions: messages are partitioned by (category, month)
 * (store_pg_schema.c, messages_pYYYYMM_cN). A purge of (tenant, category)
 * first looks at each partition of that category whose month lies wholly
 * before its cutoff: when it holds rows of the purged tenant only (a
 * partition holds every tenant's rows of its category and month) and no
 * row of it is held, it is emptied whole in one transaction on a
 * connection of its own (the writer goes on meanwhile): SHARE lock on the
 * partition (reads go on; no row comes or goes), the checks, fn about
 * every row as for a batch, replay ids and emptied subject links, then
 * TRUNCATE (its ACCESS EXCLUSIVE lock lasts only that moment). No per-row
 * delete, no dead rows for VACUUM, the space back at once. TRUNCATE, not
 * DETACH and DROP: the partition is kept, so a writer on another process
 * that knows it (its cache) never finds it gone, and a late record of
 * that month still has its place; DETACH ... CONCURRENTLY cannot run in
 * the transaction that also counts, audits and cleans up. A partition
 * that fails a check, or where fn keeps a row (that attempt rolls back
 * whole, pending count and all; its rows are then asked again by the
 * batches), goes by batches: candidates found with category = c and
 * ts_ms < cutoff (only that category's partitions before it are read),
 * each deleted by primary key (tenant, category, ts_ms, id), which names
 * one partition.
 *
 * Data keys and ingest on other processes: a key is destroyed only when
 * no record of its month uses it. An insert on another process checks
 * that its key is live in its own statement; the shredding transaction
 * first takes a SHARE lock on messages, which waits for inserts in flight
 * and holds new ones back until it commits, so no record can commit under
 * a key that the same moment's shred found unused.
 */
#include "store_pg_int.h"
#include "store_retention.h"
#include "store_tenant.h"
#include "log.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- parameters ------------------------------------------------------------ */

#define PG_MAX_PARAMS 8

/* Statement parameters: text (NULL: SQL NULL) or binary (int8, bytea). */
struct params {
	const char *v[PG_MAX_PARAMS];
	int len[PG_MAX_PARAMS], fmt[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][8];
	int n;
};

static void p_text(struct params *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = p->fmt[p->n] = 0;
	p->n++;
}

static void p_int(struct params *p, int64_t x)
{
	store_pg_put64(p->num[p->n], x);
	p->v[p->n] = p->num[p->n];
	p->len[p->n] = 8;
	p->fmt[p->n] = 1;
	p->n++;
}

static void p_bytes(struct params *p, const void *b, size_t n)
{
	p->v[p->n] = b;
	p->len[p->n] = (int)n;
	p->fmt[p->n] = 1;
	p->n++;
}

static PGresult *p_exec(PGconn *c, const char *sql, const struct params *p)
{
	return store_pg_exec(c, sql, p->n, p->v, p->len, p->fmt);
}

/* Rows a command changed. */
static int64_t changed(const PGresult *r)
{
	return strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
}

/* The held condition of store_holds.c (STORE_HELD_SQL) for row m of
 * messages: a hold on its conversation, or on a subject linked to it. */
#define PG_HELD_SQL                                                                        \
	"(EXISTS (SELECT 1 FROM holds h WHERE h.tenant = m.tenant AND h.kind = 'conversation'" \
	" AND h.target_hash = m.conv_hash) OR EXISTS (SELECT 1 FROM holds h JOIN subjects s"   \
	" ON s.tenant = h.tenant AND s.subject_hash = h.target_hash WHERE h.tenant = m.tenant" \
	" AND h.kind = 'subject' AND s.conv_hash = m.conv_hash))"

/* ---- the sweeper's reads and pending counts --------------------------------- */

/* Rows (tenant, category, records, oldest, purged) of sql, to fn. */
static enum rd_err each_group(struct store_tx *tx, const char *sql, store_group_fn fn, void *ctx)
{
	PGresult *r = store_pg_exec(tx->pg->c, sql, 0, NULL, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	enum rd_err rc = RD_OK;
	for (int i = 0; i < PQntuples(r) && rc == RD_OK; i++) {
		struct store_group g = {
			.tenant = PQgetvalue(r, i, 0), .category = PQgetvalue(r, i, 1),
			.records = store_pg_get64(r, i, 2), .oldest_ms = store_pg_get64(r, i, 3),
			.purged = store_pg_get64(r, i, 4),
		};
		rc = fn(&g, ctx);
	}
	PQclear(r);
	return rc;
}

enum rd_err store_pg_groups(struct store_tx *tx, store_group_fn fn, void *ctx)
{
	return each_group(tx, "SELECT tenant, category, count(*), min(ts_ms), 0::bigint FROM messages"
	                  " GROUP BY tenant, category ORDER BY tenant, category", fn, ctx);
}

/* A loose index scan of messages(tenant, category, ts_ms): each step
 * seeks the first row after the previous group (PostgreSQL's btree takes
 * the row comparison as one range), so it reads one entry per group and
 * partition, not every record. */
enum rd_err store_pg_group_heads(struct store_tx *tx, store_group_fn fn, void *ctx)
{
	return each_group(tx,
	                  "WITH RECURSIVE g AS ("
	                  " (SELECT tenant, category, ts_ms FROM messages"
	                  "  ORDER BY tenant, category, ts_ms LIMIT 1)"
	                  " UNION ALL"
	                  " SELECT n.tenant, n.category, n.ts_ms FROM g CROSS JOIN LATERAL"
	                  " (SELECT m.tenant, m.category, m.ts_ms FROM messages m"
	                  "  WHERE (m.tenant, m.category) > (g.tenant, g.category)"
	                  "  ORDER BY m.tenant, m.category, m.ts_ms LIMIT 1) n)"
	                  " SELECT tenant, category, -1::bigint, ts_ms, 0::bigint FROM g", fn, ctx);
}

enum rd_err store_pg_retention_pending(struct store_tx *tx, store_group_fn fn, void *ctx)
{
	return each_group(tx, "SELECT tenant, category, 0::bigint, 0::bigint, 0::bigint"
	                  " FROM retention_pending ORDER BY tenant, category", fn, ctx);
}

enum rd_err store_pg_retention_take(struct store_tx *tx, store_group_fn fn, void *ctx)
{
	return each_group(tx, "DELETE FROM retention_pending RETURNING tenant, category, 0::bigint,"
	                  " 0::bigint, purged", fn, ctx);
}

enum rd_err store_pg_retention_add(struct store_tx *tx, const char *tenant, const char *category,
                                   int64_t purged)
{
	struct params p = { .n = 0 };
	p_text(&p, tenant);
	p_text(&p, category);
	p_int(&p, purged);
	PGresult *r = p_exec(tx->pg->c, "INSERT INTO retention_pending (tenant, category, purged)"
	                     " VALUES ($1, $2, $3::bigint) ON CONFLICT (tenant, category)"
	                     " DO UPDATE SET purged = retention_pending.purged + excluded.purged", &p);
	PQclear(r);
	return r ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_pg_count_due(struct store_tx *tx, const char *tenant, const char *category,
                               int64_t cutoff_ms, int64_t *due, int64_t *held)
{
	struct params p = { .n = 0 };
	p_text(&p, tenant);
	p_text(&p, category);
	p_int(&p, cutoff_ms);
	*due = *held = 0;
	PGresult *r = p_exec(tx->pg->c, "SELECT count(*), count(*) FILTER (WHERE " PG_HELD_SQL ")"
	                     " FROM messages m WHERE m.tenant = $1 AND m.category = $2"
	                     " AND m.ts_ms < $3::bigint", &p);
	if (!r)
		return RD_E_STORAGE;
	*due = store_pg_get64(r, 0, 0);
	*held = store_pg_get64(r, 0, 1);
	PQclear(r);
	return RD_OK;
}

enum rd_err store_pg_entity_totals(struct store_tx *tx, store_entity_fn fn, void *ctx)
{
	/* entity_counts is ingest's JSON object of counts; anything else in
	 * it counts nothing, as SQLite's sum() over text does. */
	PGresult *r = store_pg_exec(tx->pg->c,
		"SELECT m.tenant, j.key, sum(CASE WHEN jsonb_typeof(j.value) = 'number'"
		" THEN (j.value #>> '{}')::numeric ELSE 0 END)::bigint FROM messages m,"
		" jsonb_each(m.entity_counts::jsonb) j GROUP BY m.tenant, j.key ORDER BY 1, 2",
		0, NULL, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	enum rd_err rc = RD_OK;
	for (int i = 0; i < PQntuples(r) && rc == RD_OK; i++)
		rc = fn(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), store_pg_get64(r, i, 2), ctx);
	PQclear(r);
	return rc;
}

/* ---- one sweeper at a time ---------------------------------------------------- */

enum rd_err store_pg_sweep_lock(struct store *st, bool *got)
{
	struct store_pg *pg = st->pg;
	char err[512], sql[96];
	*got = false;
	store_pg_sweep_unlock(st);
	if (!(pg->sweep = store_pg_connect(pg, err, sizeof err))) {
		log_error("store: sweep lock: %s", err);
		return RD_E_STORAGE;
	}
	snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%d, 0)", STORE_PG_LOCK_SWEEP);
	PGresult *r = store_pg_exec(pg->sweep, sql, 0, NULL, NULL, NULL);
	if (!r) {
		store_pg_sweep_unlock(st);
		return RD_E_STORAGE;
	}
	/* A boolean in binary format: one byte. */
	*got = PQgetlength(r, 0, 0) == 1 && PQgetvalue(r, 0, 0)[0] == 1;
	PQclear(r);
	if (!*got)
		store_pg_sweep_unlock(st);
	return RD_OK;
}

void store_pg_sweep_unlock(struct store *st)
{
	/* Closing the session releases its advisory lock. */
	if (st->pg && st->pg->sweep) {
		PQfinish(st->pg->sweep);
		st->pg->sweep = NULL;
	}
}

/* ---- purge ------------------------------------------------------------------- */

struct pg_cand {
	int64_t id, ts_ms, key_id;
	const char *category;            /* the purge's */
	char rid[RD_RECORD_ID_LEN + 1];
	char tenant[RD_MAX_NAME_LEN + 1];
	unsigned char conv_hash[CRYPTO_HASH_BYTES];
};

struct pg_purge {
	struct store *st;
	const char *tenant, *category;   /* tenant NULL: every tenant */
	int64_t cutoff_ms;
	size_t batch;
	store_purge_fn fn;
	void *ctx;
	int64_t cur_ts, cur_id;          /* resume after this (ts, id) */
	struct pg_cand *c;
	size_t scanned, done, deleted;   /* done: candidates decided, <= scanned */
};

/* The next `batch` candidates after the cursor, oldest first. Only the
 * partitions of months before the cutoff are read (ts_ms < $3). */
static int purge_scan(PGconn *c, struct pg_purge *p)
{
	struct params q = { .n = 0 };
	p_text(&q, p->category);
	p_text(&q, p->tenant);
	p_int(&q, p->cutoff_ms);
	p_int(&q, p->cur_ts);
	p_int(&q, p->cur_id);
	p_int(&q, (int64_t)p->batch);
	p->scanned = 0;
	PGresult *r = p_exec(c, "SELECT id, record_id, tenant, conv_hash, ts_ms, key_id FROM messages"
	                     " WHERE category = $1 AND ($2::text IS NULL OR tenant = $2)"
	                     " AND ts_ms < $3::bigint AND (ts_ms, id) > ($4::bigint, $5::bigint)"
	                     " ORDER BY ts_ms, id LIMIT $6::bigint", &q);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r) && p->scanned < p->batch; i++) {
		struct pg_cand *k = &p->c[p->scanned++];
		k->id = store_pg_get64(r, i, 0);
		snprintf(k->rid, sizeof k->rid, "%s", PQgetvalue(r, i, 1));
		snprintf(k->tenant, sizeof k->tenant, "%s", PQgetvalue(r, i, 2));
		memset(k->conv_hash, 0, sizeof k->conv_hash);
		if (PQgetlength(r, i, 3) == CRYPTO_HASH_BYTES)
			memcpy(k->conv_hash, PQgetvalue(r, i, 3), CRYPTO_HASH_BYTES);
		k->ts_ms = store_pg_get64(r, i, 4);
		k->key_id = store_pg_get64(r, i, 5);
		k->category = p->category;
	}
	PQclear(r);
	return 0;
}

/* Deletes one message by its primary key (one partition) with its replay
 * register row (SQLite's trigger), then its conversation's subject links
 * once no message of it is left. *gone: it was there to delete. */
static enum rd_err purge_delete(PGconn *c, const struct pg_cand *k, bool *gone)
{
	struct params q = { .n = 0 };
	p_text(&q, k->tenant);
	p_int(&q, k->ts_ms);
	p_int(&q, k->id);
	p_text(&q, k->category);
	PGresult *r = p_exec(c, "WITH d AS (DELETE FROM messages WHERE tenant = $1 AND category = $4"
	                     " AND ts_ms = $2::bigint AND id = $3::bigint RETURNING id),"
	                     " x AS (DELETE FROM replay_ids"
	                     " WHERE tenant = $1 AND msg_id IN (SELECT id FROM d))"
	                     " SELECT count(*) FROM d", &q);
	if (!r)
		return RD_E_STORAGE;
	*gone = store_pg_get64(r, 0, 0) > 0;
	PQclear(r);
	struct params s = { .n = 0 };
	p_text(&s, k->tenant);
	p_bytes(&s, k->conv_hash, CRYPTO_HASH_BYTES);
	r = p_exec(c, "DELETE FROM subjects WHERE tenant = $1 AND conv_hash = $2 AND NOT EXISTS"
	           " (SELECT 1 FROM messages m WHERE m.tenant = $1 AND m.conv_hash = $2)", &s);
	PQclear(r);
	return r ? RD_OK : RD_E_STORAGE;
}

/* Asks fn about one candidate, deletes it if allowed. Not RD_OK: stop. */
static enum rd_err purge_one(struct store_tx *tx, struct pg_purge *p, const struct pg_cand *k)
{
	struct store_row row = {
		.rowid = k->id, .id = k->rid, .tenant = k->tenant, .conv_hash = k->conv_hash,
		.ts_ms = k->ts_ms, .category = p->category, .key_id = k->key_id,
	};
	bool keep = false, gone = false;
	enum rd_err rc = p->fn ? p->fn(tx, &row, p->ctx, &keep) : RD_OK;
	if (rc != RD_OK || keep)
		return rc;
	if ((rc = purge_delete(tx->pg->c, k, &gone)) == RD_OK && gone)
		p->deleted++;
	return rc;
}

/* As store_maint.c's: a batch that has held this process's writer for
 * STORE_PURGE_YIELD_MS while records wait ends early (what it deleted
 * commits), and the next goes on after it. */
static bool purge_should_yield(struct pg_purge *p, int64_t start_us)
{
	if (p->st->test_purge_yield)
		return p->done % p->st->test_purge_yield == 0;
	return p->done % 16 == 0 && util_mono_us() - start_us >= STORE_PURGE_YIELD_MS * 1000 &&
	       store_records_waiting(p->st);
}

static enum rd_err purge_batch_fn(struct store_tx *tx, void *arg)
{
	struct pg_purge *p = arg;
	bool keep = false;
	int64_t start_us = util_mono_us();
	enum rd_err rc = RD_OK;
	p->deleted = p->done = 0;
	if (purge_scan(tx->pg->c, p))
		return RD_E_STORAGE;
	while (p->done < p->scanned) {
		if ((rc = purge_one(tx, p, &p->c[p->done])) != RD_OK)
			break;
		p->done++;
		if (purge_should_yield(p, start_us))
			break;
	}
	enum rd_err end = p->fn ? p->fn(tx, NULL, p->ctx, &keep) : RD_OK;   /* the batch's end, always */
	return rc != RD_OK ? rc : end;
}

/* ---- purge: a whole month's partition ---------------------------------------- */

/* A partition of messages: its table name (messages_pYYYYMM_cN, from the
 * catalogue, digits checked here), the month it holds and its category's
 * number (message_categories.id). */
struct pg_part {
	char name[48];
	int64_t start_ms, end_ms, cat_id;
};

/* Parses a partition's name into p; -1 for a name that is not one of ours. */
static int part_parse(const char *name, struct pg_part *p)
{
	static const char prefix[] = "messages_p";
	const char *d = name + sizeof prefix - 1;
	if (strncmp(name, prefix, sizeof prefix - 1) || strlen(d) < 9 || strlen(d) > 26 ||
	    strspn(d, "0123456789") != 6 || strncmp(d + 6, "_c", 2) ||
	    strspn(d + 8, "0123456789") != strlen(d + 8))
		return -1;
	p->cat_id = strtoll(d + 8, NULL, 10);
	struct tm tm = { .tm_year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 +
	                            (d[3] - '0') - 1900,
	                 .tm_mon = (d[4] - '0') * 10 + (d[5] - '0') - 1, .tm_mday = 1 };
	char period[8];
	if (tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    store_period((int64_t)timegm(&tm) * 1000, period, &p->start_ms, &p->end_ms))
		return -1;
	snprintf(p->name, sizeof p->name, "%s", name);
	return 0;
}

struct parts_ctx {
	const char *category;
	int64_t cutoff_ms;
	struct pg_part *v;
	size_t n;
};

static enum rd_err parts_fn(struct store_tx *tx, void *arg)
{
	struct parts_ctx *c = arg;
	/* The category's partitions (never a partition of another: its rows
	 * are not this purge's). */
	struct params q = { .n = 0 };
	p_text(&q, c->category);
	PGresult *r = p_exec(tx->pg->c, "SELECT c.relname::text, k.id FROM pg_inherits i JOIN pg_class c"
	                     " ON c.oid = i.inhrelid, message_categories k WHERE i.inhparent ="
	                     " 'messages'::regclass AND k.category = $1 ORDER BY 1", &q);
	if (!r)
		return RD_E_STORAGE;
	int rows = PQntuples(r);
	enum rd_err rc = RD_OK;
	if (rows > 0 && !(c->v = calloc((size_t)rows, sizeof *c->v)))
		rc = RD_E_STORAGE;
	for (int i = 0; rc == RD_OK && i < rows; i++)
		if (part_parse(PQgetvalue(r, i, 0), &c->v[c->n]) == 0 && c->v[c->n].end_ms <= c->cutoff_ms &&
		    c->v[c->n].cat_id == store_pg_get64(r, i, 1))
			c->n++;
	PQclear(r);
	return rc;
}

/* The category's partitions whose whole month lies before cutoff_ms,
 * oldest first; *n of them in *out (caller frees). */
static enum rd_err parts_before(struct store *st, const char *category, int64_t cutoff_ms,
                                struct pg_part **out, size_t *n)
{
	struct parts_ctx c = { .category = category, .cutoff_ms = cutoff_ms };
	enum rd_err rc = store_pg_read(st, parts_fn, &c);
	if (rc != RD_OK) {
		free(c.v);
		c.v = NULL;
		c.n = 0;
	}
	*out = c.v;
	*n = c.n;
	return rc;
}

struct pg_whole {
	struct pg_purge *p;
	const struct pg_part *part;
	bool applied;         /* the partition was emptied */
	bool kept;            /* fn kept a row: the batches take this month */
};

/* A partition's statement: its name put in for %s (digits of ours from
 * the catalogue, not input; a table name takes no parameter). */
#define PART_SQL(buf, fmt, part) snprintf((buf), sizeof(buf), fmt, (part)->name)

/* 1 when the partition holds rows of the purged group, no other row and
 * none held; 0 when not; -1. Cheapest first, each asked only when the one
 * before passed (CASE evaluates lazily): a partition shared with other
 * tenants answers after an index probe and the first foreign row, not a
 * scan. (The category test holds for every row of a partition of ours;
 * it stays, so a partition's name is never the only guard.) */
static int whole_applies(PGconn *c, const struct pg_whole *w)
{
	char sql[1536];
	struct params q = { .n = 0 };
	p_text(&q, w->p->tenant);
	p_text(&q, w->p->category);
	PART_SQL(sql, "SELECT CASE"
	         " WHEN NOT EXISTS (SELECT 1 FROM %1$s WHERE category = $2 AND ($1::text IS NULL OR tenant = $1))"
	         " THEN 0"
	         " WHEN EXISTS (SELECT 1 FROM %1$s WHERE NOT (category = $2 AND ($1::text IS NULL OR tenant = $1)))"
	         " THEN 0"
	         " WHEN EXISTS (SELECT 1 FROM %1$s m WHERE " PG_HELD_SQL ") THEN 0 ELSE 1 END", w->part);
	PGresult *r = p_exec(c, sql, &q);
	if (!r)
		return -1;
	int ok = (int)store_pg_get64(r, 0, 0);
	PQclear(r);
	return ok;
}

struct precheck {
	const struct pg_whole *w;
	int ok;
};

static enum rd_err precheck_fn(struct store_tx *tx, void *arg)
{
	struct precheck *c = arg;
	c->ok = whole_applies(tx->pg->c, c->w);
	return c->ok < 0 ? RD_E_STORAGE : RD_OK;
}

/* fn about every row of the partition (a batch at a time, in this one
 * transaction): 0 all may go, 1 one is kept, -1 failed or fn said stop
 * (*rc). The purge's cursor is left at the start for the batches. */
static int whole_ask(struct store_tx *tx, struct pg_whole *w, enum rd_err *rc)
{
	struct pg_purge *p = w->p;
	int64_t saved_cutoff = p->cutoff_ms;
	int out = 0;
	p->cutoff_ms = w->part->end_ms;
	p->cur_ts = w->part->start_ms - 1;   /* (ts, id) > (start - 1, max): ts >= start */
	p->cur_id = INT64_MAX;
	*rc = RD_OK;
	do {
		if (purge_scan(tx->pg->c, p)) {
			*rc = RD_E_STORAGE;
			out = -1;
			break;
		}
		for (p->done = 0; out == 0 && p->done < p->scanned; p->done++) {
			const struct pg_cand *k = &p->c[p->done];
			struct store_row row = {
				.rowid = k->id, .id = k->rid, .tenant = k->tenant, .conv_hash = k->conv_hash,
				.ts_ms = k->ts_ms, .category = p->category, .key_id = k->key_id,
			};
			bool keep = false;
			*rc = p->fn ? p->fn(tx, &row, p->ctx, &keep) : RD_OK;
			out = *rc != RD_OK ? -1 : keep ? 1 : 0;
		}
		if (p->scanned) {
			p->cur_ts = p->c[p->scanned - 1].ts_ms;
			p->cur_id = p->c[p->scanned - 1].id;
		}
	} while (out == 0 && p->scanned == p->batch);
	p->cutoff_ms = saved_cutoff;
	p->cur_ts = INT64_MIN;
	p->cur_id = 0;
	return out;
}

/* Runs sql with q; RD_OK or RD_E_STORAGE. */
static enum rd_err run(PGconn *c, const char *sql, const struct params *q)
{
	PGresult *r = p_exec(c, sql, q);
	PQclear(r);
	return r ? RD_OK : RD_E_STORAGE;
}

/* Replay ids and emptied subject links go with the rows, then TRUNCATE. */
static enum rd_err whole_empty(PGconn *c, struct pg_whole *w)
{
	char sql[1024];
	struct params q = { .n = 0 }, none = { .n = 0 };
	p_int(&q, w->part->start_ms);
	p_int(&q, w->part->end_ms);
	PART_SQL(sql, "SELECT count(*) FROM %s", w->part);
	PGresult *r = p_exec(c, sql, &none);
	if (!r)
		return RD_E_STORAGE;
	w->p->deleted = (size_t)store_pg_get64(r, 0, 0);
	PQclear(r);
	PART_SQL(sql, "DELETE FROM replay_ids x USING %s m WHERE x.tenant = m.tenant"
	         " AND x.msg_id = m.id", w->part);
	if (run(c, sql, &none))
		return RD_E_STORAGE;
	/* A conversation's links go when it has no message outside this
	 * partition: none of another month, none of another category. */
	p_text(&q, w->p->category);
	PART_SQL(sql, "DELETE FROM subjects s USING (SELECT DISTINCT tenant, conv_hash FROM %s) d"
	         " WHERE s.tenant = d.tenant AND s.conv_hash = d.conv_hash AND NOT EXISTS"
	         " (SELECT 1 FROM messages m WHERE m.tenant = d.tenant AND m.conv_hash = d.conv_hash"
	         " AND (m.ts_ms < $1::bigint OR m.ts_ms >= $2::bigint OR m.category <> $3))", w->part);
	if (run(c, sql, &q))
		return RD_E_STORAGE;
	PART_SQL(sql, "TRUNCATE %s", w->part);
	return run(c, sql, &none);
}

/* One transaction: SHARE on the partition (reads go on, no row comes or
 * goes meanwhile), the checks, fn about each row, then the partition
 * emptied (TRUNCATE takes ACCESS EXCLUSIVE for its last moment). Not
 * applicable: nothing written, w->applied false. */
static enum rd_err whole_fn(struct store_tx *tx, void *arg)
{
	struct pg_whole *w = arg;
	struct params none = { .n = 0 };
	enum rd_err rc = RD_OK;
	bool keep = false;
	w->applied = w->kept = false;
	w->p->deleted = 0;
	char sql[128];
	PART_SQL(sql, "LOCK TABLE %s IN SHARE MODE", w->part);
	PGresult *r = p_exec(tx->pg->c, sql, &none);
	if (!r)
		return RD_E_STORAGE;
	PQclear(r);
	int ok = whole_applies(tx->pg->c, w);
	if (ok <= 0)
		return ok < 0 ? RD_E_STORAGE : RD_OK;
	int asked = whole_ask(tx, w, &rc);
	if (asked == 0 && (rc = whole_empty(tx->pg->c, w)) == RD_OK)
		w->applied = true;
	if (!w->applied)
		w->p->deleted = 0;
	/* The batch's end, always (its pending count rolls back with us). */
	enum rd_err end = w->p->fn ? w->p->fn(tx, NULL, w->p->ctx, &keep) : RD_OK;
	if (rc != RD_OK)
		return rc;
	w->kept = asked == 1;
	return w->kept ? RD_E_INTERNAL : end;   /* a kept row: undo what the calls wrote */
}

/* Each partition wholly before the cutoff that holds only the purged
 * group and nothing held is emptied whole; what remains goes by batches.
 * On a connection of its own: a partition's rows are asked about in one
 * transaction, which must not hold this process's writer meanwhile. */
static enum rd_err purge_whole_parts(struct pg_purge *p, size_t *total)
{
	struct pg_part *parts = NULL;
	size_t n = 0;
	enum rd_err rc = parts_before(p->st, p->category, p->cutoff_ms, &parts, &n);
	for (size_t i = 0; rc == RD_OK && i < n; i++) {
		struct pg_whole w = { .p = p, .part = &parts[i] };
		struct precheck pc = { &w, 0 };
		/* On a pooled reader first: most months are not for this path. */
		if ((rc = store_pg_read(p->st, precheck_fn, &pc)) != RD_OK || pc.ok != 1)
			continue;
		rc = store_pg_exec_direct(p->st, whole_fn, &w);
		if (w.kept)
			rc = RD_OK;   /* rolled back; the batches take this month */
		if (rc == RD_OK && w.applied) {
			*total += p->deleted;
			log_info("store: emptied the partition %s whole (%zu record(s))", parts[i].name,
			         p->deleted);
		}
	}
	free(parts);
	return rc;
}

enum rd_err store_pg_purge_before(struct store *st, const char *tenant, const char *category,
                                  int64_t cutoff_ms, size_t batch, store_purge_fn fn, void *ctx,
                                  size_t *count)
{
	struct pg_purge p = { .st = st, .tenant = tenant, .category = category,
	                      .cutoff_ms = cutoff_ms, .batch = batch, .fn = fn, .ctx = ctx,
	                      .cur_ts = INT64_MIN, .cur_id = 0 };
	size_t total = 0;
	enum rd_err rc = RD_OK;
	if (p.batch == 0 || p.batch > 100000 || !(p.c = calloc(p.batch, sizeof *p.c)))
		return RD_E_STORAGE;
	rc = purge_whole_parts(&p, &total);
	while (rc == RD_OK) {
		if ((rc = store_exec(st, purge_batch_fn, &p)) != RD_OK)
			break;
		total += p.deleted;
		if (p.done) {
			p.cur_ts = p.c[p.done - 1].ts_ms;
			p.cur_id = p.c[p.done - 1].id;
		}
		if (p.scanned < p.batch && p.done == p.scanned)
			break;
	}
	free(p.c);
	if (count)
		*count = total;
	if (total)
		log_info("store: purged %zu record(s)", total);
	return rc;
}

/* ---- crypto-shredding ----------------------------------------------------------- */

/* Ids a statement returned, collected for the cache to forget. */
struct id_list {
	int64_t *ids;
	size_t n;
};

/* A SHARE lock on messages first (see DESIGN: ingest on other processes),
 * then sql's UPDATE of data_keys ... RETURNING id. */
static enum rd_err destroy_keys(PGconn *c, const char *sql, const struct params *q,
                                struct id_list *out)
{
	out->n = 0;
	if (store_pg_cmd(c, "LOCK TABLE messages IN SHARE MODE"))
		return RD_E_STORAGE;
	PGresult *r = p_exec(c, sql, q);
	if (!r)
		return RD_E_STORAGE;
	int n = PQntuples(r);
	if (n > 0) {
		void *ids = realloc(out->ids, (size_t)n * sizeof *out->ids);
		if (!ids) {
			PQclear(r);
			return RD_E_STORAGE;
		}
		out->ids = ids;
	}
	for (int i = 0; i < n; i++)
		out->ids[out->n++] = store_pg_get64(r, i, 0);
	PQclear(r);
	return RD_OK;
}

/* A key's records lie in its tenant, category and month: an index probe
 * of messages(tenant, category, ts_ms) in the month's partition. */
#define PG_KEY_UNUSED                                                                      \
	" NOT EXISTS (SELECT 1 FROM messages m WHERE m.tenant = data_keys.tenant"                \
	" AND m.category = data_keys.category AND m.ts_ms >= data_keys.start_ms"               \
	" AND m.ts_ms < data_keys.end_ms AND m.key_id = data_keys.id)"

struct pg_shred {
	int64_t month_start_ms, now_ms;
	struct id_list keys;
};

static enum rd_err shred_fn(struct store_tx *tx, void *arg)
{
	struct pg_shred *c = arg;
	struct params q = { .n = 0 };
	p_int(&q, c->month_start_ms);
	p_int(&q, c->now_ms);
	return destroy_keys(tx->pg->c, "UPDATE data_keys SET wrapped = NULL, destroyed_ms = $2::bigint"
	                    " WHERE wrapped IS NOT NULL AND end_ms <= $1::bigint AND" PG_KEY_UNUSED
	                    " RETURNING id", &q, &c->keys);
}

/* After the commit: the cache forgets the destroyed keys. */
static void forget(struct store *st, const struct id_list *k, const char *why)
{
	store_keys_forget(st, k->ids, k->n);
	for (size_t i = 0; i < k->n; i++)
		log_info("store: destroyed data key %lld%s", (long long)k->ids[i], why);
}

enum rd_err store_pg_shred_keys(struct store *st, int64_t now_ms, size_t *count)
{
	char period[8];
	int64_t end_ms;
	struct pg_shred c = { .now_ms = now_ms };
	if (store_period(now_ms, period, &c.month_start_ms, &end_ms))
		return RD_E_STORAGE;
	enum rd_err rc = store_exec(st, shred_fn, &c);
	if (rc == RD_OK) {
		forget(st, &c.keys, "");
		if (count)
			*count = c.keys.n;
	}
	free(c.keys.ids);
	return rc == RD_OK ? RD_OK : RD_E_STORAGE;
}

/* ---- tenant closures ----------------------------------------------------------- */

enum rd_err store_pg_closure_set(struct store_tx *tx, const char *tenant, int64_t requested_ms,
                                 int64_t due_ms, const char *actor)
{
	struct params q = { .n = 0 };
	p_text(&q, tenant);
	p_text(&q, actor);
	p_int(&q, requested_ms);
	p_int(&q, due_ms);
	PGresult *r = p_exec(tx->pg->c, "INSERT INTO tenant_closures (tenant, state, actor,"
	                     " requested_ms, due_ms, done_ms) VALUES ($1, 'pending', $2, $3::bigint,"
	                     " $4::bigint, NULL) ON CONFLICT (tenant) DO UPDATE SET state = 'pending',"
	                     " actor = excluded.actor, requested_ms = excluded.requested_ms,"
	                     " due_ms = excluded.due_ms, done_ms = NULL", &q);
	PQclear(r);
	return r ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_pg_closure_delete(struct store_tx *tx, const char *tenant, bool *found)
{
	struct params q = { .n = 0 };
	p_text(&q, tenant);
	*found = false;
	PGresult *r = p_exec(tx->pg->c, "DELETE FROM tenant_closures WHERE tenant = $1", &q);
	if (!r)
		return RD_E_STORAGE;
	*found = changed(r) > 0;
	PQclear(r);
	return RD_OK;
}

enum rd_err store_pg_closure_state(struct store_tx *tx, const char *tenant, const char *state,
                                   int64_t done_ms)
{
	struct params q = { .n = 0 };
	p_text(&q, tenant);
	p_text(&q, state);
	if (done_ms)
		p_int(&q, done_ms);
	else
		p_text(&q, NULL);
	PGresult *r = p_exec(tx->pg->c, "UPDATE tenant_closures SET state = $2, done_ms = $3::bigint"
	                     " WHERE tenant = $1", &q);
	PQclear(r);
	return r ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_pg_tenant_records(struct store_tx *tx, const char *tenant, int64_t *records,
                                    int64_t *held)
{
	struct params q = { .n = 0 };
	p_text(&q, tenant);
	PGresult *r = p_exec(tx->pg->c, "SELECT count(*), count(*) FILTER (WHERE " PG_HELD_SQL ")"
	                     " FROM messages m WHERE m.tenant = $1", &q);
	if (!r)
		return RD_E_STORAGE;
	*records = store_pg_get64(r, 0, 0);
	*held = store_pg_get64(r, 0, 1);
	PQclear(r);
	return RD_OK;
}

struct pg_tshred {
	const char *tenant;
	int64_t now_ms;
	struct id_list keys;
	store_shred_fn fn;
	void *ctx;
};

static enum rd_err tshred_fn(struct store_tx *tx, void *arg)
{
	struct pg_tshred *c = arg;
	struct params q = { .n = 0 };
	p_text(&q, c->tenant);
	p_int(&q, c->now_ms);
	enum rd_err rc = destroy_keys(tx->pg->c, "UPDATE data_keys SET wrapped = NULL,"
	                              " destroyed_ms = $2::bigint WHERE tenant = $1 AND wrapped IS NOT NULL"
	                              " AND" PG_KEY_UNUSED " RETURNING id", &q, &c->keys);
	return rc == RD_OK && c->fn ? c->fn(tx, c->keys.n, c->ctx) : rc;
}

enum rd_err store_pg_tenant_shred(struct store *st, const char *tenant, int64_t now_ms,
                                  store_shred_fn fn, void *ctx, size_t *count)
{
	struct pg_tshred c = { .tenant = tenant, .now_ms = now_ms, .fn = fn, .ctx = ctx };
	enum rd_err rc = store_exec(st, tshred_fn, &c);
	if (rc == RD_OK) {
		forget(st, &c.keys, " (tenant closure)");
		*count = c.keys.n;
	}
	free(c.keys.ids);
	return rc;
}

/* ---- key rotation --------------------------------------------------------------- */

/* Re-wraps one key (id CRYPTO_ROOT_KEY_ID: the root key): 0 done, 1 it was
 * under the new master key already, -1. */
static int rekey_one(PGconn *c, const struct keyring *old_kr, const struct keyring *new_kr,
                     const char *tenant, int64_t id, const unsigned char *w, size_t wlen)
{
	unsigned char dk[CRYPTO_KEY_BYTES], nw[CRYPTO_WRAPPED_BYTES];
	int rc = -1;
	if (keyring_unwrap(old_kr, id, w, wlen, dk) != 0) {
		rc = keyring_unwrap(new_kr, id, w, wlen, dk) == 0 ? 1 : -1;
		if (rc < 0)
			log_error("store: data key %lld opens under neither master key", (long long)id);
		goto done;
	}
	if (keyring_wrap(new_kr, id, dk, nw))
		goto done;
	struct params q = { .n = 0 };
	p_bytes(&q, nw, sizeof nw);
	PGresult *r;
	if (id == CRYPTO_ROOT_KEY_ID) {
		r = p_exec(c, "UPDATE key_root SET wrapped = $1 WHERE id = 1", &q);
	} else {
		p_text(&q, tenant);
		p_int(&q, id);
		r = p_exec(c, "UPDATE data_keys SET wrapped = $1 WHERE tenant = $2 AND id = $3::bigint"
		           " AND wrapped IS NOT NULL", &q);
	}
	rc = r ? 0 : -1;
	PQclear(r);
done:
	sodium_memzero(dk, sizeof dk);
	sodium_memzero(nw, sizeof nw);
	return rc;
}

enum rd_err store_pg_rekey_tx(struct store_tx *tx, const struct keyring *old_kr,
                              const struct keyring *new_kr, size_t *count)
{
	PGconn *c = tx->pg->c;
	char lock[96];
	size_t n = 0;
	/* The root key's lock (store_pg_keyring_attach takes it too), and no
	 * new data key while every live one is read and re-wrapped. */
	snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d, 0)", STORE_PG_LOCK_ROOT);
	if (store_pg_cmd(c, lock) || store_pg_cmd(c, "LOCK TABLE data_keys IN SHARE ROW EXCLUSIVE MODE"))
		return RD_E_STORAGE;
	PGresult *r = store_pg_exec(c, "SELECT '', 0::bigint, wrapped FROM key_root UNION ALL"
	                            " SELECT tenant, id, wrapped FROM data_keys WHERE wrapped IS NOT NULL",
	                            0, NULL, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc >= 0; i++) {
		rc = rekey_one(c, old_kr, new_kr, PQgetvalue(r, i, 0), store_pg_get64(r, i, 1),
		               (const unsigned char *)PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
		n += rc == 0;
	}
	PQclear(r);
	if (rc < 0)
		return RD_E_STORAGE;
	log_info("store: re-wrapped %zu key(s) under the new master key", n);
	if (count)
		*count = n;
	return RD_OK;
}
