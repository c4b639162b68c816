/*
 * restrict.c — the read check of restrictions of processing (restrict.h).
 *
 * Workload: one indexed probe per conversation read by a non-admin token
 * (a read connection, no transaction held); an audit entry only for an
 * admin read of a restricted conversation. Adding, lifting and listing
 * restrictions is holds.c's pin code (HOLDS_PIN_RESTRICTION).
 */
#include "restrict.h"
#include "audit.h"
#include "store_restrict.h"

#include <string.h>

struct check_ctx {
	const char *tenant;
	const unsigned char *hash;
	bool restricted;
};

static enum rd_err check_fn(struct store_tx *tx, void *arg)
{
	struct check_ctx *c = arg;
	return store_restrict_check(tx, c->tenant, c->hash, &c->restricted);
}

int restrict_check_read(struct app *app, const struct app_snap *snap, const char *tenant,
                        const char *conversation_id, bool admin, const char *actor,
                        struct rd_error *e)
{
	unsigned char h[CRYPTO_HASH_BYTES];
	char target[AUDIT_TARGET_MAX];
	crypto_conversation_hash(app->lookup_key, tenant, conversation_id, strlen(conversation_id), h);
	struct check_ctx c = { tenant, h, false };
	enum rd_err sr = store_read(app->store, check_fn, &c);
	if (sr != RD_OK) {
		rd_error_store(e, sr, RD_E_STORAGE, "the restrictions could not be read");
		return -1;
	}
	if (!c.restricted)
		return 0;
	if (!admin) {
		rd_error_set(e, RD_E_RESTRICTED, "the subject of this conversation has restricted the"
		             " processing of their records; only an admin token may read them");
		return -1;
	}
	audit_target(snap->keys, "conversation", h, CRYPTO_HASH_BYTES, target);
	enum rd_err rc = audit_record_tenant(app->store, app->metrics, tenant, actor, "read.restricted",
	                                     target, 1);
	if (rc != RD_OK) {
		rd_error_store(e, rc, RD_E_AUDIT, "the read could not be audit-logged");
		return -1;
	}
	return 0;
}
