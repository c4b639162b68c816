/*
 * retention.c — purge each category when its retention ends; stats.
 *
 * See retention.h for the DESIGN (thread, batches, audit, shredding).
 * Workload: one pass per sweep_interval (default 1 h), usually deleting
 * nothing; a busy day deletes a day's worth of records in batches of
 * sweep_batch rows.
 */
#include "retention.h"
#include "audit.h"
#include "log.h"
#include "metrics.h"
#include "subject.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_GROUPS 4096   /* (tenant, category) pairs considered per pass */

/* Rows of (tenant, category) older than ?3 and not held. */
#define DUE_SQL "FROM messages m WHERE m.tenant = ?1 AND m.category = ?2 AND m.ts_ms < ?3"

/* ---- groups ---------------------------------------------------------- */

static int add_line(struct retention_report *rep, const char *tenant, const char *category,
                    int64_t records)
{
	if (!tenant || !category || strlen(tenant) > RD_MAX_NAME_LEN ||
	    strlen(category) > RD_MAX_NAME_LEN)
		return 0;   /* not written by redactd; leave it alone */
	for (size_t i = 0; i < rep->n; i++)
		if (!strcmp(rep->lines[i].tenant, tenant) && !strcmp(rep->lines[i].category, category))
			return 0;
	if (rep->n >= MAX_GROUPS)
		return -1;
	void *p = realloc(rep->lines, (rep->n + 1) * sizeof *rep->lines);
	if (!p)
		return -1;
	rep->lines = p;
	struct retention_line *l = &rep->lines[rep->n++];
	memset(l, 0, sizeof *l);
	snprintf(l->tenant, sizeof l->tenant, "%s", tenant);
	snprintf(l->category, sizeof l->category, "%s", category);
	l->records = records;
	return 0;
}

/* Every (tenant, category) with records, and those with counts pending
 * from an interrupted pass. */
static int groups_fn(sqlite3 *db, void *arg)
{
	struct retention_report *rep = arg;
	static const char *const sql[] = {
		"SELECT tenant, category, count(*) FROM messages GROUP BY tenant, category",
		"SELECT tenant, category, 0 FROM retention_pending",
	};
	for (size_t i = 0; i < RD_ARRAY_LEN(sql); i++) {
		sqlite3_stmt *s;
		int rc;
		if (sqlite3_prepare_v2(db, sql[i], -1, &s, NULL) != SQLITE_OK)
			return -1;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			if (add_line(rep, (const char *)sqlite3_column_text(s, 0),
			             (const char *)sqlite3_column_text(s, 1), sqlite3_column_int64(s, 2))) {
				rc = SQLITE_NOMEM;
				break;
			}
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

struct pass_conf {
	int batch;
	int64_t audit_retention_s;
};

/* Horizons and batch size from the current config (a reload applies from
 * the next pass). */
static void snapshot_config(struct app *app, struct retention_report *rep, struct pass_conf *pc)
{
	struct app_snap *snap = app_snap_acquire(app);
	const struct config *cfg = snap->cfg;
	for (size_t i = 0; i < rep->n; i++)
		rep->lines[i].horizon_s = config_retention(cfg, rep->lines[i].tenant,
		                                           rep->lines[i].category);
	pc->batch = cfg->sweep_batch > 0 ? cfg->sweep_batch : 500;
	pc->audit_retention_s = cfg->audit_retention;
	app_snap_release(snap);
}

/* ---- counting (dry run, held) --------------------------------------- */

struct count_ctx {
	struct retention_line *l;
	int64_t cutoff_ms;
};

static int count_one(sqlite3 *db, const char *sql, const struct count_ctx *c, int64_t *out)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, c->l->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->l->category, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, c->cutoff_ms);
	int rc = sqlite3_step(s);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int count_fn(sqlite3 *db, void *arg)
{
	struct count_ctx *c = arg;
	int64_t all;
	if (count_one(db, "SELECT count(*) " DUE_SQL, c, &all) ||
	    count_one(db, "SELECT count(*) " DUE_SQL " AND " SUBJECT_HELD_SQL("m.conv_hash"), c,
	              &c->l->held))
		return -1;
	c->l->due = all - c->l->held;
	return 0;
}

/* ---- purging ------------------------------------------------------------ */

static int add_pending(sqlite3 *db, const struct retention_line *l, int64_t n)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "INSERT INTO retention_pending (tenant, category, purged) "
	                       "VALUES (?1, ?2, ?3) ON CONFLICT (tenant, category) DO UPDATE "
	                       "SET purged = purged + ?3", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, l->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, l->category, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, n);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

#define PURGE_STOPPED (-100)   /* our own value, beside the store's negatives */

struct purge_cb_ctx {
	struct retention_line *l;
	const atomic_bool *stop;
	sqlite3_stmt *held;          /* the held check, prepared once per batch */
	int64_t batch_purged;        /* candidates of this batch not held */
};

/* The end of a batch (row == NULL): its count goes to retention_pending
 * and the deleted rows are marked as residue (until a checkpoint
 * completes) in that same transaction, and the statement is finalized. Not when
 * SQLite has rolled a failed batch back already: the count would then
 * commit on its own, for rows that are still there. */
static int purge_batch_end(sqlite3 *db, struct purge_cb_ctx *c)
{
	int rc = 0;
	if (c->batch_purged)
		rc = sqlite3_get_autocommit(db) || add_pending(db, c->l, c->batch_purged) ||
		     store_residue_mark(db, util_now_ms()) ? -1 : 0;
	sqlite3_finalize(c->held);
	c->held = NULL;
	c->batch_purged = 0;
	return rc;
}

/* store_purge_before asks about each candidate inside its batch's
 * transaction: keep held ones; count the others, in retention_pending at
 * the batch's end. Stopping rolls the current batch back whole. */
static int purge_cb(sqlite3 *db, const struct store_row *row, void *arg)
{
	struct purge_cb_ctx *c = arg;
	bool held;
	if (!row)
		return purge_batch_end(db, c) ? -1 : 0;
	if (c->stop && atomic_load(c->stop))
		return PURGE_STOPPED;
	if (subject_conversation_held_cached(db, &c->held, row->tenant, row->conv_hash, &held))
		return -1;
	if (held)
		return 1;
	c->batch_purged++;
	return 0;
}

/* 0 done, 1 stopped, -1 failed (what committed before stays counted). */
static int purge_group(struct app *app, struct retention_line *l, int64_t cutoff_ms, int batch,
                       const atomic_bool *stop)
{
	struct purge_cb_ctx c = { l, stop, NULL, 0 };
	size_t n = 0;
	int rc = store_purge_before(app->store, l->tenant, l->category, cutoff_ms, (size_t)batch,
	                            purge_cb, &c, &n);
	l->purged += (int64_t)n;
	if (n)
		metrics_purged(app->metrics, l->category, (uint64_t)n);
	if (rc == PURGE_STOPPED)
		return 1;
	if (rc != 0) {
		log_error("sweep: purge of %s/%s failed", l->tenant, l->category);
		return -1;
	}
	return 0;
}

/* ---- the end of a pass: audit entries --------------------------------- */

struct finish_ctx {
	const char *actor;
	int64_t audit_before_ms;    /* 0: keep audit entries forever */
	int64_t audit_purged;
	int64_t entries;
};

static int finish_fn(sqlite3 *db, void *arg)
{
	struct finish_ctx *c = arg;
	sqlite3_stmt *s;
	int rc;
	c->entries = 0;
	if (sqlite3_prepare_v2(db, "DELETE FROM retention_pending RETURNING tenant, category, purged",
	                       -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char target[AUDIT_TARGET_MAX];
		snprintf(target, sizeof target, "tenant:%s category:%s", sqlite3_column_text(s, 0),
		         sqlite3_column_text(s, 1));
		if (audit_append(db, c->actor, "purge", target, sqlite3_column_int64(s, 2))) {
			rc = SQLITE_ERROR;
			break;
		}
		c->entries++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -1;
	/* A pass that purged nothing still leaves a trace that it ran. */
	if (c->entries == 0 && audit_append(db, c->actor, "sweep", "all", 0))
		return -1;
	c->entries += c->entries == 0;
	if (c->audit_before_ms && audit_purge(db, c->audit_before_ms, &c->audit_purged))
		return -1;
	c->entries += c->audit_purged > 0;
	return 0;
}

/* ---- after deletes ----------------------------------------------------- */

static void shred_keys(struct app *app)
{
	size_t shredded = 0;
	if (store_shred_keys(app->store, util_now_ms(), &shredded) != STORE_OK)
		log_error("could not destroy unused data keys; the next pass retries");
	else if (shredded)
		log_info("crypto-shredded %zu data key(s) with no records left", shredded);
}

bool retention_after_delete(struct app *app)
{
	bool pending = true;
	shred_keys(app);
	if (store_residue_clear(app->store, RETENTION_RESIDUE_WAIT_MS, &pending) != STORE_OK)
		log_error("could not check for deleted records left in the files; the sweeper retries");
	return pending;
}

/* How long one of the sweeper's retries may take (its own thread: no
 * request waits for it). */
#define SWEEPER_RESIDUE_ROUND_MS 200

/* The sweeper's retry between passes, and a pass that deleted nothing:
 * one short round of checkpoints when a delete (here, or by `redactd
 * erase` in another process) left residue. True while some is left. */
static bool residue_retry(struct app *app)
{
	struct store_residue r;
	bool pending = true;
	if (store_residue_get(app->store, &r) != STORE_OK)
		return true;
	if (!r.pending)
		return false;
	if (store_residue_clear(app->store, SWEEPER_RESIDUE_ROUND_MS, &pending) == STORE_OK && !pending)
		log_info("sweep: deleted records pending since %lld s ago have left the files",
		         (long long)((util_now_ms() - r.since_ms) / 1000));
	return pending;
}

/* ---- a pass ------------------------------------------------------------ */

static int run_group(struct app *app, struct retention_line *l, bool dry_run, int batch,
                     const atomic_bool *stop, int64_t now_ms)
{
	if (l->horizon_s <= 0 || l->records == 0)
		return 0;
	struct count_ctx cc = { l, now_ms - l->horizon_s * 1000 };
	if (store_read(app->store, count_fn, &cc) != 0)
		return -1;
	if (dry_run || l->due == 0)
		return 0;
	return purge_group(app, l, cc.cutoff_ms, batch, stop);
}

int retention_pass(struct app *app, const char *actor, bool dry_run, const atomic_bool *stop,
                   struct retention_report *rep)
{
	struct pass_conf pc;
	int64_t now_ms = util_now_ms();
	memset(rep, 0, sizeof *rep);
	if (store_read(app->store, groups_fn, rep) != 0) {
		log_error("sweep: cannot list categories");
		return -1;
	}
	snapshot_config(app, rep, &pc);
	for (size_t i = 0; i < rep->n; i++) {
		int rc = run_group(app, &rep->lines[i], dry_run, pc.batch, stop, now_ms);
		rep->purged += rep->lines[i].purged;
		rep->due += rep->lines[i].due;
		if (rc < 0)
			return -1;
		if (rc > 0) {
			rep->stopped = true;
			break;
		}
	}
	if (dry_run)
		return 0;
	struct finish_ctx fc = { .actor = actor, .audit_before_ms = pc.audit_retention_s > 0
	                                            ? now_ms - pc.audit_retention_s * 1000 : 0 };
	if (store_exec(app->store, finish_fn, &fc) != 0) {
		log_error("sweep: the pass's audit entries could not be written (kept pending)");
		return -1;
	}
	metrics_audit(app->metrics, (uint64_t)fc.entries);
	rep->audit_purged = fc.audit_purged;
	/* Shred on every pass: a month's key becomes destroyable when the month
	 * ends, which need not coincide with a pass that deletes anything. */
	if (rep->purged) {
		rep->residue_pending = retention_after_delete(app);
	} else {
		shred_keys(app);
		rep->residue_pending = residue_retry(app);
	}
	return 0;
}

void retention_report_free(struct retention_report *rep)
{
	free(rep->lines);
	memset(rep, 0, sizeof *rep);
}

/* ---- the thread ----------------------------------------------------------- */

/* The dry-run counts behind the gauges cost a few indexed queries per
 * (tenant, category); scrapes come every 15-60 s from each Prometheus, so
 * the text is kept this long and shared by concurrent scrapes. */
#define OVERDUE_CACHE_MS 30000

static struct {
	pthread_mutex_t mu;
	int64_t at_ms;
	atomic_bool stale;            /* a pass purged since: count again */
	struct buf text;
} overdue_cache = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct retention {
	struct app *app;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool stop;
	/* Liveness for the service watchdog: when the thread last woke
	 * (monotonic µs), and when its running pass began (0 between passes). */
	_Atomic(int64_t) heartbeat_us, pass_started_us;
};

/* The sweeper wakes at least this often while it waits, to show it lives. */
#define HEARTBEAT_US (5 * 1000000LL)

static void log_pass(const struct retention_report *rep, int64_t ms)
{
	for (size_t i = 0; i < rep->n; i++)
		if (rep->lines[i].purged || rep->lines[i].held)
			log_info("sweep: %s/%s purged=%lld held=%lld", rep->lines[i].tenant,
			         rep->lines[i].category, (long long)rep->lines[i].purged,
			         (long long)rep->lines[i].held);
	log_debug("sweep: pass done in %lldms, %lld purged, %lld audit entries purged", (long long)ms,
	          (long long)rep->purged, (long long)rep->audit_purged);
}

static int64_t interval_s(struct app *app)
{
	struct app_snap *snap = app_snap_acquire(app);
	int64_t s = snap->cfg->sweep_interval;
	app_snap_release(snap);
	return s > 0 ? s : 3600;
}

/* Sleeps until wall-clock time due_ms; false when asked to stop. */
static bool wait_until(struct retention *r, int64_t due_ms)
{
	pthread_mutex_lock(&r->mu);
	while (!atomic_load(&r->stop) && util_now_ms() < due_ms) {
		atomic_store(&r->heartbeat_us, util_mono_us());
		int64_t wake_ms = util_now_ms() + HEARTBEAT_US / 1000;
		struct timespec until = util_timespec_ms(wake_ms < due_ms ? wake_ms : due_ms);
		pthread_cond_timedwait(&r->cv, &r->mu, &until);
	}
	pthread_mutex_unlock(&r->mu);
	atomic_store(&r->heartbeat_us, util_mono_us());
	return !atomic_load(&r->stop);
}

static int last_pass_fn(sqlite3 *db, void *arg)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT max(ts_ms) FROM audit_log WHERE action IN ('purge', 'sweep')", -1, &s,
	                       NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	*(int64_t *)arg = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* When the first pass is due: one interval after the last pass on record,
 * so a daemon restarted more often than sweep_interval still sweeps. */
static int64_t first_due(struct retention *r)
{
	int64_t last = 0, now = util_now_ms(), iv = interval_s(r->app) * 1000;
	if (store_read(r->app->store, last_pass_fn, &last) != 0 || last <= 0 || last > now)
		return now + iv;
	return last + iv < now ? now : last + iv;
}

/* Between passes the sweeper wakes every RETENTION_RESIDUE_RETRY_MS to
 * finish deletes whose rows a reader kept in the files (residue_retry):
 * one indexed read when there is none. */
static void *sweeper_main(void *arg)
{
	struct retention *r = arg;
	int64_t due = first_due(r);
	for (;;) {
		int64_t next = util_now_ms() + RETENTION_RESIDUE_RETRY_MS;
		if (!wait_until(r, next < due ? next : due))
			break;
		if (util_now_ms() < due) {
			(void)residue_retry(r->app);
			continue;
		}
		struct retention_report rep;
		int64_t t0 = util_now_ms();
		atomic_store(&r->pass_started_us, util_mono_us());
		bool ok = retention_pass(r->app, "sweeper", false, &r->stop, &rep) == 0;
		atomic_store(&r->pass_started_us, 0);
		atomic_store(&r->heartbeat_us, util_mono_us());
		if (!ok)
			log_error("sweep: pass failed; retrying next interval");
		metrics_sweep(r->app->metrics, t0, ok && !rep.stopped);
		atomic_store(&overdue_cache.stale, true);
		log_pass(&rep, util_now_ms() - t0);
		retention_report_free(&rep);
		due = util_now_ms() + interval_s(r->app) * 1000;
	}
	return NULL;
}

int retention_start(struct app *app, struct retention **out, char *err, size_t errlen)
{
	struct retention *r = calloc(1, sizeof *r);
	if (!r) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	r->app = app;
	atomic_store(&r->heartbeat_us, util_mono_us());
	atomic_init(&r->stop, false);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (pthread_create(&r->thread, NULL, sweeper_main, r) != 0) {
		util_err(err, errlen, "cannot start the sweeper thread");
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

bool retention_alive(struct retention *r, int64_t max_pass_us)
{
	int64_t now = util_mono_us(), pass = atomic_load(&r->pass_started_us);
	if (pass)
		return now - pass <= max_pass_us;
	return now - atomic_load(&r->heartbeat_us) <= 3 * HEARTBEAT_US;
}

void retention_stop(struct retention *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->stop, true);
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* ---- stats ------------------------------------------------------------------ */

/* tenants[T] (created on first use). */
static json_t *tenant_obj(json_t *tenants, const char *t)
{
	json_t *o = json_object_get(tenants, t);
	if (o)
		return o;
	o = json_pack("{s:{}, s:{}}", "categories", "entities");
	return o && json_object_set_new(tenants, t, o) == 0 ? o : NULL;
}

struct stats_ctx {
	json_t *tenants;
	int64_t holds, audit_entries;
};

static int stats_categories(sqlite3 *db, struct stats_ctx *c)
{
	sqlite3_stmt *s;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT tenant, category, count(*), min(ts_ms) FROM messages "
	                       "GROUP BY tenant, category ORDER BY tenant, category", -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		const char *cat = (const char *)sqlite3_column_text(s, 1);
		json_t *to = t && cat ? tenant_obj(c->tenants, t) : NULL;
		json_t *o = json_pack("{s:I, s:I}", "records", (json_int_t)sqlite3_column_int64(s, 2),
		                      "oldest_ms", (json_int_t)sqlite3_column_int64(s, 3));
		if (!to || !o || json_object_set_new(json_object_get(to, "categories"), cat, o)) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int stats_entities(sqlite3 *db, struct stats_ctx *c)
{
	sqlite3_stmt *s;
	int rc;
	/* entity_counts is a JSON object of counts written by ingest. */
	if (sqlite3_prepare_v2(db, "SELECT m.tenant, j.key, sum(j.value) FROM messages m, "
	                       "json_each(m.entity_counts) j WHERE json_valid(m.entity_counts) "
	                       "GROUP BY m.tenant, j.key ORDER BY 1, 2", -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		const char *k = (const char *)sqlite3_column_text(s, 1);
		json_t *to = t && k ? tenant_obj(c->tenants, t) : NULL;
		if (!to || json_object_set_new(json_object_get(to, "entities"), k,
		                               json_integer(sqlite3_column_int64(s, 2)))) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int stats_fn(sqlite3 *db, void *arg)
{
	struct stats_ctx *c = arg;
	sqlite3_stmt *s;
	if (stats_categories(db, c) || stats_entities(db, c))
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM holds), (SELECT count(*) FROM "
	                       "audit_log)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	c->holds = sqlite3_column_int64(s, 0);
	c->audit_entries = sqlite3_column_int64(s, 1);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Adds horizon, oldest timestamp, age and overdue to each category. */
static void stats_horizons(struct app *app, json_t *tenants, int64_t now_ms)
{
	const char *t, *cat;
	json_t *to, *co;
	struct app_snap *snap = app_snap_acquire(app);
	json_object_foreach(tenants, t, to) {
		json_object_foreach(json_object_get(to, "categories"), cat, co) {
			int64_t h = config_retention(snap->cfg, t, cat);
			int64_t oldest = json_integer_value(json_object_get(co, "oldest_ms"));
			int64_t age = (now_ms - oldest) / 1000;
			char ts[32];
			util_format_ts(oldest, ts);
			json_object_set_new(co, "oldest", json_string(ts));
			json_object_set_new(co, "oldest_age_s", json_integer(age));
			json_object_set_new(co, "horizon_s", json_integer(h));
			json_object_set_new(co, "overdue", json_boolean(h > 0 && age > h));
			json_object_del(co, "oldest_ms");
		}
	}
	app_snap_release(snap);
}

/* {"pending": false}, or {"pending": true, "since": TS, "deletes": n}:
 * deleted records still in the database file or WAL. */
static json_t *stats_residue(struct app *app)
{
	struct store_residue r;
	char ts[32];
	if (store_residue_get(app->store, &r) != STORE_OK)
		return NULL;
	if (!r.pending)
		return json_pack("{s:b}", "pending", 0);
	util_format_ts(r.since_ms, ts);
	return json_pack("{s:b, s:s, s:I}", "pending", 1, "since", ts, "deletes", (json_int_t)r.marks);
}

int retention_stats(struct app *app, json_t **out)
{
	struct stats_ctx c = { .tenants = json_object() };
	if (!c.tenants || store_read(app->store, stats_fn, &c) != 0) {
		json_decref(c.tenants);
		return -1;
	}
	stats_horizons(app, c.tenants, util_now_ms());
	json_t *residue = stats_residue(app);
	if (!residue) {
		json_decref(c.tenants);
		return -1;
	}
	*out = json_pack("{s:o, s:I, s:I, s:o}", "tenants", c.tenants, "holds", (json_int_t)c.holds,
	                 "audit_entries", (json_int_t)c.audit_entries, "residue", residue);
	return *out ? 0 : -1;
}

/* ---- /metrics: the retention promise ------------------------------------ */

/* Tenant and category names are [A-Za-z0-9._-] (checked on ingest and in
 * the config), so they go into label values without escaping. */
static int render_overdue(const struct retention_report *rep, struct buf *b)
{
	static const struct { const char *name, *help; } fam[] = {
		{ "redactd_retention_overdue_records",
		  "Records older than their retention horizon and not held: the sweeper owes these." },
		{ "redactd_retention_held_records", "Records older than their horizon kept by a legal hold." },
		{ "redactd_retention_horizon_seconds", "Retention horizon in force (0: kept forever)." },
	};
	for (size_t f = 0; f < RD_ARRAY_LEN(fam); f++) {
		if (buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", fam[f].name, fam[f].help, fam[f].name))
			return -1;
		for (size_t i = 0; i < rep->n; i++) {
			const struct retention_line *l = &rep->lines[i];
			int64_t v = f == 0 ? l->due : f == 1 ? l->held : l->horizon_s;
			if (buf_printf(b, "%s{tenant=\"%s\",category=\"%s\"} %lld\n", fam[f].name, l->tenant,
			               l->category, (long long)v))
				return -1;
		}
	}
	return 0;
}

int retention_render_metrics(struct app *app, struct buf *b)
{
	int rc = 0;
	pthread_mutex_lock(&overdue_cache.mu);
	int64_t now = util_now_ms();
	if (!overdue_cache.text.data || now - overdue_cache.at_ms >= OVERDUE_CACHE_MS ||
	    atomic_exchange(&overdue_cache.stale, false)) {
		struct retention_report rep;
		struct buf fresh = { 0 };
		if (retention_pass(app, "metrics", true, NULL, &rep) == 0 && render_overdue(&rep, &fresh) == 0) {
			buf_free(&overdue_cache.text);
			overdue_cache.text = fresh;
			overdue_cache.at_ms = now;
		} else {
			buf_free(&fresh);
			rc = -1;
		}
		retention_report_free(&rep);
	}
	if (rc == 0)
		rc = buf_append(b, overdue_cache.text.data, overdue_cache.text.len);
	pthread_mutex_unlock(&overdue_cache.mu);
	return rc;
}
