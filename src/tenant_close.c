/*
 * tenant_close.c — scheduling, cancelling, listing and settling tenant
 * closures; the cache ingest asks whether a tenant is closed.
 *
 * See tenant_close.h for the DESIGN. Workload: closures are rare; the hot
 * path is tenant_close_refused, once per ingested message: a mutex, a
 * clock read and, once a second, one read of the (tiny) closure table.
 */
#include "tenant_close.h"
#include "store_journal.h"
#include "audit.h"
#include "log.h"
#include "metrics.h"
#include "store_retention.h"
#include "store_tenant.h"
#include "tenant.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MS 1000          /* how stale the closed-tenant list may be */
#define CACHE_MAX 4096         /* closures kept in it; far beyond any real count */

/* ---- the cache of due times ------------------------------------------------ */

struct cached {
	char tenant[RD_MAX_NAME_LEN + 1];
	int64_t due_ms;
};

static struct {
	pthread_mutex_t mu;
	const struct app *app;     /* whose store it was read from */
	int64_t loaded_ms;         /* 0: read it again */
	struct cached *rows;
	size_t n;
} cache = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct load_ctx {
	struct cached *rows;
	size_t n;
};

static enum rd_err load_row(const struct store_closure *c, void *arg)
{
	struct load_ctx *l = arg;
	if (l->n >= CACHE_MAX || strlen(c->tenant) > RD_MAX_NAME_LEN)
		return RD_OK;
	void *p = realloc(l->rows, (l->n + 1) * sizeof *l->rows);
	if (!p)
		return RD_E_INTERNAL;
	l->rows = p;
	snprintf(l->rows[l->n].tenant, sizeof l->rows[l->n].tenant, "%s", c->tenant);
	l->rows[l->n++].due_ms = c->due_ms;
	return RD_OK;
}

static enum rd_err load_fn(struct store_tx *tx, void *arg)
{
	return store_closures(tx, load_row, arg);
}

/* Under cache.mu. */
static void cache_refresh(struct app *app, int64_t now_ms)
{
	struct load_ctx l = { 0 };
	if (store_read(app->store, load_fn, &l) != RD_OK) {
		free(l.rows);
		log_error("tenant: the closure list could not be read; the last one stays in force");
		cache.loaded_ms = now_ms;   /* not again before CACHE_MS */
		return;
	}
	free(cache.rows);
	cache.rows = l.rows;
	cache.n = l.n;
	cache.app = app;
	cache.loaded_ms = now_ms;
}

static void cache_invalidate(void)
{
	pthread_mutex_lock(&cache.mu);
	cache.loaded_ms = 0;
	pthread_mutex_unlock(&cache.mu);
}

bool tenant_close_refused(struct app *app, const char *tenant, int64_t now_ms, int64_t *due_ms)
{
	bool refused = false;
	pthread_mutex_lock(&cache.mu);
	if (cache.app != app || cache.loaded_ms == 0 || now_ms - cache.loaded_ms >= CACHE_MS ||
	    now_ms < cache.loaded_ms)
		cache_refresh(app, now_ms);
	for (size_t i = 0; i < cache.n && cache.app == app; i++) {
		if (strcmp(cache.rows[i].tenant, tenant) == 0) {
			refused = cache.rows[i].due_ms <= now_ms;
			if (refused && due_ms)
				*due_ms = cache.rows[i].due_ms;
			break;
		}
	}
	pthread_mutex_unlock(&cache.mu);
	return refused;
}

/* ---- schedule, cancel ------------------------------------------------------ */

struct schedule_ctx {
	const char *tenant, *actor;
	int64_t now_ms, due_ms, after_s;
};

static enum rd_err schedule_fn(struct store_tx *tx, void *arg)
{
	struct schedule_ctx *c = arg;
	char target[AUDIT_TARGET_MAX];
	snprintf(target, sizeof target, "tenant:%s", c->tenant);
	enum rd_err rc = store_closure_set(tx, c->tenant, c->now_ms, c->due_ms, c->actor);
	return rc == RD_OK ? audit_append(tx, c->actor, "tenant.close", target, c->after_s) : rc;
}

static json_t *closure_json(const char *tenant, const char *state, int64_t requested_ms, int64_t due_ms)
{
	char due[32], req[32];
	util_format_ts(due_ms, due);
	util_format_ts(requested_ms, req);
	return json_pack("{s:s, s:s, s:s, s:s}", "tenant", tenant, "state", state, "due", due, "requested",
	                 req);
}

static int check_name(const char *tenant, struct rd_error *e)
{
	if (tenant && tenant_valid(tenant))
		return 0;
	rd_error_set(e, RD_E_INVALID_PATH, "the tenant name must be 1 to %d of A-Z a-z 0-9 . _ -",
	             RD_MAX_NAME_LEN);
	return -1;
}

int tenant_close_schedule(struct app *app, const char *tenant, int64_t after_s, const char *actor,
                          json_t **out, struct rd_error *e)
{
	if (check_name(tenant, e))
		return -1;
	if (after_s < 0 || after_s > TENANT_CLOSE_MAX_AFTER_S) {
		rd_error_set(e, RD_E_INVALID_FIELD, "after must be a duration from 0 to 3650d (e.g. 30d)");
		return -1;
	}
	struct schedule_ctx c = { tenant, actor, util_now_ms(), 0, after_s };
	c.due_ms = c.now_ms + after_s * 1000;
	enum rd_err rc = store_exec(app->store, schedule_fn, &c);
	if (rc != RD_OK) {
		rd_error_store(e, rc, RD_E_STORAGE, "the closure could not be stored");
		return -1;
	}
	metrics_audit(app->metrics, 1);
	cache_invalidate();
	log_info("tenant: closure of %s scheduled in %lld s", tenant, (long long)after_s);
	if (!(*out = closure_json(tenant, "pending", c.now_ms, c.due_ms))) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}

struct cancel_ctx {
	const char *tenant, *actor;
	bool found;
};

static enum rd_err cancel_fn(struct store_tx *tx, void *arg)
{
	struct cancel_ctx *c = arg;
	char target[AUDIT_TARGET_MAX];
	snprintf(target, sizeof target, "tenant:%s", c->tenant);
	enum rd_err rc = store_closure_delete(tx, c->tenant, &c->found);
	if (rc != RD_OK || !c->found)
		return rc;
	return audit_append(tx, c->actor, "tenant.close.cancel", target, 0);
}

int tenant_close_cancel(struct app *app, const char *tenant, const char *actor, struct rd_error *e)
{
	if (check_name(tenant, e))
		return -1;
	struct cancel_ctx c = { tenant, actor, false };
	enum rd_err rc = store_exec(app->store, cancel_fn, &c);
	if (rc != RD_OK) {
		rd_error_store(e, rc, RD_E_STORAGE, "the closure could not be cancelled");
		return -1;
	}
	if (!c.found) {
		rd_error_set(e, RD_E_NOT_FOUND, "the tenant has no closure scheduled");
		return -1;
	}
	metrics_audit(app->metrics, 1);
	cache_invalidate();
	log_info("tenant: closure of %s cancelled", tenant);
	return 0;
}

/* ---- list ---------------------------------------------------------------- */

struct list_ctx {
	json_t *tenants;     /* name -> {"name", "records", "closure"?} */
	struct store_tx *tx;
};

static json_t *entry(json_t *tenants, const char *name)
{
	json_t *o = json_object_get(tenants, name);
	if (o)
		return o;
	o = json_pack("{s:s, s:I}", "name", name, "records", (json_int_t)0);
	return o && json_object_set_new(tenants, name, o) == 0 ? o : NULL;
}

static enum rd_err list_group(const struct store_group *g, void *arg)
{
	struct list_ctx *l = arg;
	json_t *o = g->tenant ? entry(l->tenants, g->tenant) : NULL;
	if (!o)
		return g->tenant ? RD_E_INTERNAL : RD_OK;
	json_int_t n = json_integer_value(json_object_get(o, "records")) + (json_int_t)g->records;
	return json_object_set_new(o, "records", json_integer(n)) ? RD_E_INTERNAL : RD_OK;
}

static enum rd_err list_closure(const struct store_closure *c, void *arg)
{
	struct list_ctx *l = arg;
	int64_t records = 0, held = 0;
	enum rd_err rc = store_tenant_records(l->tx, c->tenant, &records, &held);
	if (rc != RD_OK)
		return rc;
	json_t *o = entry(l->tenants, c->tenant);
	json_t *cl = closure_json(c->tenant, c->state, c->requested_ms, c->due_ms);
	if (!o || !cl || json_object_del(cl, "tenant") ||
	    json_object_set_new(cl, "actor", json_string(c->actor)) ||
	    json_object_set_new(cl, "held", json_integer(held))) {
		json_decref(cl);
		return RD_E_INTERNAL;
	}
	if (c->done_ms) {
		char done[32];
		util_format_ts(c->done_ms, done);
		if (json_object_set_new(cl, "done", json_string(done))) {
			json_decref(cl);
			return RD_E_INTERNAL;
		}
	}
	return json_object_set_new(o, "closure", cl) ? RD_E_INTERNAL : RD_OK;
}

static enum rd_err list_fn(struct store_tx *tx, void *arg)
{
	struct list_ctx *l = arg;
	l->tx = tx;
	enum rd_err rc = store_groups(tx, list_group, l);
	return rc == RD_OK ? store_closures(tx, list_closure, l) : rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
	              json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* The entries of the name -> entry object as an array in name order. */
static json_t *sorted(json_t *tenants)
{
	size_t n = json_object_size(tenants), i = 0;
	json_t **v = calloc(n ? n : 1, sizeof *v), *arr = json_array(), *o;
	const char *k;
	if (!v || !arr)
		goto fail;
	json_object_foreach(tenants, k, o)
		v[i++] = o;
	qsort(v, n, sizeof *v, cmp_name);
	for (i = 0; i < n; i++)
		if (json_array_append(arr, v[i]))
			goto fail;
	free(v);
	return arr;
fail:
	free(v);
	json_decref(arr);
	return NULL;
}

int tenant_close_list(struct app *app, json_t **out, struct rd_error *e)
{
	struct list_ctx l = { json_object(), NULL };
	json_t *arr = NULL;
	if (!l.tenants)
		goto oom;
	struct app_snap *snap = app_snap_acquire(app);
	bool ok = true;
	for (size_t i = 0; i < snap->cfg->ntenants && ok; i++)
		ok = entry(l.tenants, snap->cfg->tenants[i].name) != NULL;
	app_snap_release(snap);
	if (!ok)
		goto oom;
	enum rd_err rc = store_read(app->store, list_fn, &l);
	if (rc != RD_OK) {
		json_decref(l.tenants);
		rd_error_store(e, rc, RD_E_STORAGE, "the tenants could not be read");
		return -1;
	}
	if (!(arr = sorted(l.tenants)) || !(*out = json_pack("{s:o}", "tenants", arr)))
		goto oom;
	json_decref(l.tenants);
	return 0;
oom:
	json_decref(l.tenants);
	rd_error_set(e, RD_E_INTERNAL, "out of memory");
	return -1;
}

/* ---- the sweeper's part ---------------------------------------------------- */

struct due_ctx {
	int64_t now_ms;
	void (*fn)(const char *tenant, void *ctx);
	void *ctx;
};

static enum rd_err due_row(const struct store_closure *c, void *arg)
{
	struct due_ctx *d = arg;
	if (c->due_ms <= d->now_ms)
		d->fn(c->tenant, d->ctx);
	return RD_OK;
}

static enum rd_err due_fn(struct store_tx *tx, void *arg)
{
	return store_closures(tx, due_row, arg);
}

enum rd_err tenant_close_due(struct app *app, int64_t now_ms,
                             void (*fn)(const char *tenant, void *ctx), void *ctx)
{
	struct due_ctx d = { now_ms, fn, ctx };
	return store_read(app->store, due_fn, &d);
}

struct settle_ctx {
	const char *tenant, *actor;
	int64_t purged, now_ms;
	char state[16];          /* the closure's state before this settle */
	int64_t records, held, entries;
};

static enum rd_err state_row(const struct store_closure *c, void *arg)
{
	struct settle_ctx *s = arg;
	if (strcmp(c->tenant, s->tenant) == 0)
		snprintf(s->state, sizeof s->state, "%s", c->state);
	return RD_OK;
}

static enum rd_err settle_audit(struct store_tx *tx, struct settle_ctx *s, const char *action,
                                int64_t count)
{
	char target[AUDIT_TARGET_MAX];
	snprintf(target, sizeof target, "tenant:%s", s->tenant);
	enum rd_err rc = audit_append(tx, s->actor, action, target, count);
	s->entries += rc == RD_OK;
	return rc;
}

/* In the transaction that destroyed the keys: where the closure stands. */
static enum rd_err settle_fn(struct store_tx *tx, size_t destroyed, void *arg)
{
	struct settle_ctx *s = arg;
	enum rd_err rc = store_closures(tx, state_row, s);
	if (rc == RD_OK)
		rc = store_tenant_records(tx, s->tenant, &s->records, &s->held);
	if (rc != RD_OK || !s->state[0])
		return rc;   /* cancelled meanwhile: nothing to advance */
	bool first = strcmp(s->state, "pending") == 0;
	if (first && (rc = settle_audit(tx, s, "tenant.close.erase", s->purged)) == RD_OK && s->held)
		rc = settle_audit(tx, s, "tenant.close.held", s->held);
	if (rc == RD_OK && destroyed)
		rc = settle_audit(tx, s, "tenant.shred", (int64_t)destroyed);
	if (rc == RD_OK && s->records == 0 && strcmp(s->state, "done") != 0) {
		rc = store_closure_state(tx, s->tenant, "done", s->now_ms);
		/* Journalled only now that no held record remains: a restore
		 * replays it by deleting every record of the tenant. */
		if (rc == RD_OK)
			rc = store_journal_append(tx, STORE_JOURNAL_TENANT, s->tenant, NULL, 0, s->now_ms);
		if (rc == RD_OK)
			rc = settle_audit(tx, s, "tenant.close.done", 0);
	} else if (rc == RD_OK && first) {
		rc = store_closure_state(tx, s->tenant, "erasing", 0);
	}
	return rc;
}

int tenant_close_settle(struct app *app, const char *tenant, const char *actor, int64_t purged)
{
	struct settle_ctx s = { .tenant = tenant, .actor = actor, .purged = purged, .now_ms = util_now_ms() };
	size_t destroyed = 0;
	enum rd_err rc = store_tenant_shred(app->store, tenant, s.now_ms, settle_fn, &s, &destroyed);
	if (rc != RD_OK) {
		log_error("tenant: the closure of %s could not be settled; the next pass retries", tenant);
		return -1;
	}
	metrics_audit(app->metrics, (uint64_t)s.entries);
	if (s.entries)
		log_info("tenant: closure of %s: %lld purged, %lld held, %zu key(s) destroyed%s", tenant,
		         (long long)purged, (long long)s.held, destroyed, s.records ? "" : ", done");
	return 0;
}
