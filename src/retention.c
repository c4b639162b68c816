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
#include "backup.h"
#include "holds.h"
#include "log.h"
#include "metrics.h"
#include "store_retention.h"
#include "tenant_close.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_GROUPS 4096   /* (tenant, category) pairs considered per pass */

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

static enum rd_err group_line(const struct store_group *g, void *arg)
{
	return add_line(arg, g->tenant, g->category, g->records) ? RD_E_INTERNAL : RD_OK;
}

struct groups_ctx {
	struct retention_report *rep;
	bool count;   /* RETENTION_COUNT: records per group too (a read of every record) */
};

/* Every (tenant, category) with records, and those with counts pending
 * from an interrupted pass. */
static enum rd_err groups_fn(struct store_tx *tx, void *arg)
{
	struct groups_ctx *g = arg;
	enum rd_err rc = g->count ? store_groups(tx, group_line, g->rep)
	                          : store_group_heads(tx, group_line, g->rep);
	return rc == RD_OK ? store_retention_pending(tx, group_line, g->rep) : rc;
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
	pc->batch = cfg->sweep_batch;   /* the config holds it to 1..100000 */
	pc->audit_retention_s = cfg->audit_retention;
	app_snap_release(snap);
}

/* ---- counting (dry run, held) --------------------------------------- */

struct count_ctx {
	struct retention_line *l;
	int64_t cutoff_ms;
};

static enum rd_err count_fn(struct store_tx *tx, void *arg)
{
	struct count_ctx *c = arg;
	int64_t all;
	enum rd_err rc = store_count_due(tx, c->l->tenant, c->l->category, c->cutoff_ms, &all,
	                                 &c->l->held);
	if (rc == RD_OK)
		c->l->due = all - c->l->held;
	return rc;
}

/* ---- purging ------------------------------------------------------------ */

struct purge_cb_ctx {
	struct retention_line *l;
	const atomic_bool *stop;
	int64_t batch_purged;        /* candidates of this batch not held */
};

/* The end of a batch (row == NULL): its count goes to retention_pending
 * and the deleted rows are marked as residue (until a checkpoint
 * completes) in that same transaction. Not when the store has rolled a
 * failed batch back already: the count would then commit on its own, for
 * rows that are still there. */
static enum rd_err purge_batch_end(struct store_tx *tx, struct purge_cb_ctx *c)
{
	enum rd_err rc = RD_OK;
	if (c->batch_purged) {
		rc = store_tx_open(tx) ? store_retention_add(tx, c->l->tenant, c->l->category,
		                                             c->batch_purged)
		                       : RD_E_STORAGE;
		if (rc == RD_OK)
			rc = store_residue_mark(tx, util_now_ms());
	}
	c->batch_purged = 0;
	return rc;
}

/* store_purge_before asks about each candidate inside its batch's
 * transaction: keep held ones (the held check stays prepared for the
 * batch); count the others, in retention_pending at the batch's end.
 * Stopping (RD_E_SHUTTING_DOWN) rolls the current batch back whole. */
static enum rd_err purge_cb(struct store_tx *tx, const struct store_row *row, void *arg,
                            bool *keep)
{
	struct purge_cb_ctx *c = arg;
	if (!row)
		return purge_batch_end(tx, c);
	if (c->stop && atomic_load(c->stop))
		return RD_E_SHUTTING_DOWN;
	enum rd_err rc = holds_conversation_held(tx, row->tenant, row->conv_hash, keep);
	if (rc == RD_OK && !*keep)
		c->batch_purged++;
	return rc;
}

/* 0 done, 1 stopped, -1 failed (what committed before stays counted). */
static int purge_group(struct app *app, struct retention_line *l, int64_t cutoff_ms, int batch,
                       const atomic_bool *stop)
{
	struct purge_cb_ctx c = { l, stop, 0 };
	size_t n = 0;
	enum rd_err rc = store_purge_before(app->store, l->tenant, l->category, cutoff_ms,
	                                    (size_t)batch, purge_cb, &c, &n);
	l->purged += (int64_t)n;
	if (n)
		metrics_purged(app->metrics, l->category, (uint64_t)n);
	if (rc == RD_E_SHUTTING_DOWN)
		return 1;
	if (rc != RD_OK) {
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
	struct store_tx *tx;
};

/* One pending count taken: its audit entry, in the same transaction. */
static enum rd_err finish_group(const struct store_group *g, void *arg)
{
	struct finish_ctx *c = arg;
	char target[AUDIT_TARGET_MAX];
	snprintf(target, sizeof target, "tenant:%s category:%s", g->tenant ? g->tenant : "(null)",
	         g->category ? g->category : "(null)");
	enum rd_err rc = audit_append_tenant(c->tx, g->tenant, c->actor, "purge", target, g->purged);
	c->entries += rc == RD_OK;
	return rc;
}

static enum rd_err finish_fn(struct store_tx *tx, void *arg)
{
	struct finish_ctx *c = arg;
	c->entries = 0;
	c->tx = tx;
	enum rd_err rc = store_retention_take(tx, finish_group, c);
	if (rc != RD_OK)
		return rc;
	/* A pass that purged nothing still leaves a trace that it ran. */
	if (c->entries == 0 && (rc = audit_append(tx, c->actor, "sweep", "all", 0)) != RD_OK)
		return rc;
	c->entries += c->entries == 0;
	if (c->audit_before_ms &&
	    (rc = audit_purge(tx, c->audit_before_ms, &c->audit_purged)) != RD_OK)
		return rc;
	c->entries += c->audit_purged > 0;
	return RD_OK;
}

/* ---- after deletes ----------------------------------------------------- */

static void shred_keys(struct app *app)
{
	size_t shredded = 0;
	if (store_shred_keys(app->store, util_now_ms(), &shredded) != RD_OK)
		log_error("could not destroy unused data keys; the next pass retries");
	else if (shredded)
		log_info("crypto-shredded %zu data key(s) with no records left", shredded);
}

bool retention_after_delete(struct app *app)
{
	bool pending = true;
	shred_keys(app);
	if (store_residue_clear(app->store, RETENTION_RESIDUE_WAIT_MS, &pending) != RD_OK)
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
	if (store_residue_get(app->store, &r) != RD_OK)
		return true;
	if (!r.pending)
		return false;
	if (store_residue_clear(app->store, SWEEPER_RESIDUE_ROUND_MS, &pending) == RD_OK && !pending)
		log_info("sweep: deleted records pending since %lld s ago have left the files",
		         (long long)((util_now_ms() - r.since_ms) / 1000));
	return pending;
}

/* ---- a pass ------------------------------------------------------------ */

static int run_group(struct app *app, struct retention_line *l, bool dry_run, int batch,
                     const atomic_bool *stop, int64_t now_ms)
{
	if ((l->horizon_s <= 0 && !l->closing) || l->records == 0)
		return 0;
	struct count_ctx cc = { l, l->closing ? INT64_MAX : now_ms - l->horizon_s * 1000 };
	if (store_read(app->store, count_fn, &cc) != RD_OK)
		return -1;
	if (dry_run || l->due == 0)
		return 0;
	return purge_group(app, l, cc.cutoff_ms, batch, stop);
}

/* ---- tenant closures ------------------------------------------------------ */

struct closing {
	char (*tenants)[RD_MAX_NAME_LEN + 1];
	size_t n;
	bool oom;
};

static void add_closing(const char *tenant, void *arg)
{
	struct closing *c = arg;
	void *p = strlen(tenant) <= RD_MAX_NAME_LEN && c->n < MAX_GROUPS
	          ? realloc(c->tenants, (c->n + 1) * sizeof *c->tenants) : NULL;
	if (!p) {
		c->oom = true;
		return;
	}
	c->tenants = p;
	snprintf(c->tenants[c->n++], RD_MAX_NAME_LEN + 1, "%s", tenant);
}

/* Marks the groups of tenants whose closure is due. */
static int mark_closing(struct app *app, struct retention_report *rep, int64_t now_ms, struct closing *c)
{
	if (tenant_close_due(app, now_ms, add_closing, c) != RD_OK || c->oom) {
		log_error("sweep: cannot list tenant closures");
		return -1;
	}
	for (size_t i = 0; i < rep->n; i++)
		for (size_t j = 0; j < c->n && !rep->lines[i].closing; j++)
			rep->lines[i].closing = strcmp(rep->lines[i].tenant, c->tenants[j]) == 0;
	return 0;
}

/* Each due closure after its records went: failures are logged by
 * tenant_close_settle and retried by the next pass. */
static void settle_closing(struct app *app, const char *actor, const struct retention_report *rep,
                           const struct closing *c)
{
	size_t failed = 0;
	for (size_t j = 0; j < c->n; j++) {
		int64_t purged = 0;
		for (size_t i = 0; i < rep->n; i++)
			if (strcmp(rep->lines[i].tenant, c->tenants[j]) == 0)
				purged += rep->lines[i].purged;
		failed += tenant_close_settle(app, c->tenants[j], actor, purged) != 0;
	}
	if (failed)
		log_warn("sweep: %zu tenant closure(s) left for the next pass", failed);
}

/* Backups in [backup] directory past [backup] retention, and the erasure
 * journal entries no backup there needs any more (backup.h). */
static int expire_backups(struct app *app, const char *actor, int64_t now_ms,
                          struct retention_report *rep)
{
	struct backup_expiry bx;
	struct app_snap *snap = app_snap_acquire(app);
	enum rd_err rc = backup_expire(app->store, app->metrics, snap->cfg->backup_dir,
	                               snap->cfg->backup_retention, now_ms, actor, &bx);
	app_snap_release(snap);
	rep->backups_removed = bx.removed;
	if (rc != RD_OK)
		log_error("sweep: expiring backups failed (the next pass retries)");
	return rc == RD_OK ? 0 : -1;
}

static int pass_locked(struct app *app, const char *actor, unsigned flags, const atomic_bool *stop,
                       struct retention_report *rep)
{
	struct pass_conf pc;
	struct closing closing = { 0 };
	bool dry_run = flags & RETENTION_DRY_RUN;
	int64_t now_ms = util_now_ms();
	memset(rep, 0, sizeof *rep);
	struct groups_ctx gc = { rep, flags & RETENTION_COUNT };
	if (store_read(app->store, groups_fn, &gc) != RD_OK) {
		log_error("sweep: cannot list categories");
		return -1;
	}
	if (mark_closing(app, rep, now_ms, &closing)) {
		free(closing.tenants);
		return -1;
	}
	snapshot_config(app, rep, &pc);
	for (size_t i = 0; i < rep->n; i++) {
		int rc = run_group(app, &rep->lines[i], dry_run, pc.batch, stop, now_ms);
		rep->purged += rep->lines[i].purged;
		rep->due += rep->lines[i].due;
		if (rc < 0) {
			free(closing.tenants);
			return -1;
		}
		if (rc > 0) {
			rep->stopped = true;
			break;
		}
	}
	if (dry_run) {
		free(closing.tenants);
		return 0;
	}
	struct finish_ctx fc = { .actor = actor, .audit_before_ms = pc.audit_retention_s > 0
	                                            ? now_ms - pc.audit_retention_s * 1000 : 0 };
	if (store_exec(app->store, finish_fn, &fc) != RD_OK) {
		log_error("sweep: the pass's audit entries could not be written (kept pending)");
		free(closing.tenants);
		return -1;
	}
	metrics_audit(app->metrics, (uint64_t)fc.entries);
	if (!rep->stopped)
		settle_closing(app, actor, rep, &closing);
	free(closing.tenants);
	rep->audit_purged = fc.audit_purged;
	if (expire_backups(app, actor, now_ms, rep))
		return -1;
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

/* A pass that changes anything runs under the store's sweep lock: with
 * several processes on one PostgreSQL database, one sweeps at a time and
 * the others skip (rep->skipped). A dry run only reads. */
int retention_pass(struct app *app, const char *actor, unsigned flags, const atomic_bool *stop,
                   struct retention_report *rep)
{
	bool dry_run = flags & RETENTION_DRY_RUN;
	bool got = true;
	if (!dry_run && store_sweep_lock(app->store, &got) != RD_OK) {
		memset(rep, 0, sizeof *rep);
		log_error("sweep: cannot take the sweep lock");
		return -1;
	}
	if (!got) {
		memset(rep, 0, sizeof *rep);
		rep->skipped = true;
		log_debug("sweep: another process is sweeping this store; pass skipped");
		return 0;
	}
	int rc = pass_locked(app, actor, flags, stop, rep);
	if (!dry_run)
		store_sweep_unlock(app->store);
	return rc;
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
	return s;   /* the config holds it to at least 1 */
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

static enum rd_err last_pass_fn(struct store_tx *tx, void *arg)
{
	static const char *const pass_actions[] = { "purge", "sweep" };
	return audit_last_action(tx, pass_actions, RD_ARRAY_LEN(pass_actions), arg);
}

/* When the first pass is due: one interval after the last pass on record,
 * so a daemon restarted more often than sweep_interval still sweeps. */
static int64_t first_due(struct retention *r)
{
	int64_t last = 0, now = util_now_ms(), iv = interval_s(r->app) * 1000;
	if (store_read(r->app->store, last_pass_fn, &last) != RD_OK || last <= 0 || last > now)
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
		bool ok = retention_pass(r->app, "sweeper", 0, &r->stop, &rep) == 0;
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

static enum rd_err stats_category(const struct store_group *g, void *arg)
{
	struct stats_ctx *c = arg;
	json_t *to = g->tenant && g->category ? tenant_obj(c->tenants, g->tenant) : NULL;
	json_t *o = json_pack("{s:I, s:I}", "records", (json_int_t)g->records,
	                      "oldest_ms", (json_int_t)g->oldest_ms);
	if (!to || !o || json_object_set_new(json_object_get(to, "categories"), g->category, o))
		return RD_E_INTERNAL;
	return RD_OK;
}

static enum rd_err stats_entity(const char *tenant, const char *entity, int64_t n, void *arg)
{
	struct stats_ctx *c = arg;
	json_t *to = tenant_obj(c->tenants, tenant);
	if (!to || json_object_set_new(json_object_get(to, "entities"), entity, json_integer(n)))
		return RD_E_INTERNAL;
	return RD_OK;
}

static enum rd_err stats_fn(struct store_tx *tx, void *arg)
{
	struct stats_ctx *c = arg;
	enum rd_err rc = store_groups(tx, stats_category, c);
	if (rc == RD_OK)
		rc = store_entity_totals(tx, stats_entity, c);
	if (rc == RD_OK)
		rc = holds_count(tx, &c->holds);
	if (rc == RD_OK)
		rc = audit_count(tx, &c->audit_entries);
	return rc;
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
	if (store_residue_get(app->store, &r) != RD_OK)
		return NULL;
	if (!r.pending)
		return json_pack("{s:b}", "pending", 0);
	util_format_ts(r.since_ms, ts);
	return json_pack("{s:b, s:s, s:I}", "pending", 1, "since", ts, "deletes", (json_int_t)r.marks);
}

int retention_stats(struct app *app, json_t **out)
{
	struct stats_ctx c = { .tenants = json_object() };
	if (!c.tenants || store_read(app->store, stats_fn, &c) != RD_OK) {
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
		if (retention_pass(app, "metrics", RETENTION_DRY_RUN, NULL, &rep) == 0 && render_overdue(&rep, &fresh) == 0) {
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
