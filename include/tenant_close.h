/*
 * tenant_close.h — closing a tenant when its contract ends.
 *
 * DESIGN
 * `redactd tenant close NAME --after 30d` (or POST /v1/tenants/NAME/close)
 * schedules the erasure of everything the tenant holds: one row of
 * tenant_closures (store_tenant.h) with its due time, and an audit entry.
 * Until then nothing changes: ingest still works and the closure can be
 * cancelled. From the due time:
 *  - ingest for the tenant is refused (409 tenant_closed): each daemon
 *    keeps the closed tenants in a cache read again at most once a second
 *    (tenant_close_refused), so a closure scheduled by the CLI in another
 *    process takes effect within a second of its due time;
 *  - every sweeper pass (retention.c) treats all of the tenant's records
 *    as due: they are purged in batches of sweep_batch, held ones kept,
 *    one "purge" audit entry per category as for retention; then
 *    tenant_close_settle destroys the tenant's data keys that no record
 *    uses any more (crypto-shredding; the keys of held records stay until
 *    their hold is released and a later pass purges them) and moves the
 *    closure to "erasing", then "done" once no record is left, each step
 *    audited in the same transaction as its effect.
 * A done closure stays on record, so the tenant stays closed; cancelling
 * it (tenant cancel) reopens the tenant for ingest, nothing erased comes
 * back.
 */
#ifndef REDACTD_TENANT_CLOSE_H
#define REDACTD_TENANT_CLOSE_H

#include "app.h"

#include <jansson.h>

/* Largest --after: ten years. */
#define TENANT_CLOSE_MAX_AFTER_S (3650LL * 86400)

/*
 * Schedule (or reschedule) the closure of a valid tenant name, due
 * after_s seconds from now (0: at once), audited as tenant.close by actor.
 * 0 with *out {"tenant", "state": "pending", "due", "requested"} (caller
 * decrefs), or -1 with e (400 invalid name or delay, 500/503).
 */
int tenant_close_schedule(struct app *app, const char *tenant, int64_t after_s, const char *actor,
                          json_t **out, struct rd_error *e) RD_WARN_UNUSED;

/* Cancel a tenant's closure (any state), audited as tenant.close.cancel.
 * 0, or -1 with e (404 when there is none, 400, 500). */
int tenant_close_cancel(struct app *app, const char *tenant, const char *actor, struct rd_error *e)
	RD_WARN_UNUSED;

/*
 * Every tenant known to the daemon (configured in a [tenant] section,
 * holding records, or with a closure), in name order:
 * {"tenants": [{"name", "records", "closure"?: {"state", "due", "requested",
 * "actor", "done"?, "held"}}]}. 0 with *out, or -1 with e.
 */
int tenant_close_list(struct app *app, json_t **out, struct rd_error *e) RD_WARN_UNUSED;

/* Is tenant's closure due at now_ms (ingest must refuse it)? *due_ms gets
 * its due time when so. A store that cannot be read keeps the last list. */
bool tenant_close_refused(struct app *app, const char *tenant, int64_t now_ms, int64_t *due_ms);

/* The sweeper: calls fn for each tenant whose closure is due at now_ms.
 * RD_OK, or a storage error (nothing is due then). */
enum rd_err tenant_close_due(struct app *app, int64_t now_ms,
                             void (*fn)(const char *tenant, void *ctx), void *ctx) RD_WARN_UNUSED;

/* After a pass purged what it could of a due tenant (`purged` records):
 * destroy its unused data keys, advance and audit the closure. 0 or -1
 * (logged; the next pass tries again). */
int tenant_close_settle(struct app *app, const char *tenant, const char *actor, int64_t purged)
	RD_WARN_UNUSED;

#endif
