/*
 * holds.c — legal holds: add, remove, list, and the held check.
 *
 * Workload: rare, operator-driven; a few holds per tenant. Each write runs
 * in one store_exec transaction with its audit entry. See holds.h for the
 * contracts; the rows live in the store (store_holds.h).
 */
#include "holds.h"
#include "audit.h"
#include "json_mem.h"
#include "log.h"
#include "metrics.h"
#include "store_holds.h"
#include "store_restrict.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HOLD_DOC_MAX 8192   /* sealed document bytes we agree to open */

/* What differs between a legal hold and a restriction of processing; the
 * rest (ids, sealed documents, audit entries, listing) is one code path. */
struct pin_kind {
	const char *id_prefix;       /* ids are prefix + 16 hex digits */
	const char *ad_tag;          /* binds a sealed document to its kind */
	const char *noun;            /* in messages and audit targets */
	const char *list_key;        /* the list's JSON member */
	const char *act_add, *act_remove, *act_list;
	enum rd_err (*insert)(struct store_tx *tx, const struct store_hold *h);
	enum rd_err (*del)(struct store_tx *tx, const char *id, const char *tenant, bool *found);
	enum rd_err (*each)(struct store_tx *tx, const char *tenant, store_hold_fn fn, void *ctx);
};

static const struct pin_kind kinds[] = {
	[HOLDS_PIN_HOLD] = { "h_", "rdhold1", "hold", "holds", "hold.add", "hold.remove", "hold.list",
	                     store_holds_insert, store_holds_delete, store_holds_each },
	[HOLDS_PIN_RESTRICTION] = { "r_", "rdrestrict1", "restriction", "restrictions",
	                            "restrict.add", "restrict.remove", "restrict.list",
	                            store_restrict_insert, store_restrict_delete, store_restrict_each },
};

/* Associated data binding a sealed document to its kind, id and tenant. */
static size_t hold_ad(const struct pin_kind *k, unsigned char *ad, size_t cap, const char *id,
                      const char *tenant)
{
	int n = snprintf((char *)ad, cap, "%s:%s:%s", k->ad_tag, id, tenant);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* The sealed {"type", "value", "reason"} document of a new hold. */
static unsigned char *hold_seal(struct app *app, const struct pin_kind *k,
                                const struct holds_target *t, const char *reason, const char *id,
                                size_t *len)
{
	json_t *doc = json_pack("{s:s, s:s, s:s}", "type", t->type, "value", t->value, "reason",
	                        reason);
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	unsigned char key[CRYPTO_KEY_BYTES], ad[160];
	unsigned char *ct = malloc(n + CRYPTO_SEAL_OVERHEAD);
	if (ct) {
		struct app_snap *snap = app_snap_acquire(app);
		keyring_subkey(snap->keys, SUBKEY_HOLDS, key);
		app_snap_release(snap);
		crypto_seal(key, ad, hold_ad(k, ad, sizeof ad, id, t->tenant), s, n, ct);
		sodium_memzero(key, sizeof key);
		*len = n + CRYPTO_SEAL_OVERHEAD;
	}
	sodium_memzero(s, n);
	json_mem_free_text(s);
	return ct;
}

/* Opens a hold's sealed document; NULL when it does not authenticate
 * (tampered, or moved to another hold id or tenant). The key derives from
 * the database's root key, so it survives master key rotation. */
static json_t *hold_open(struct app *app, const struct pin_kind *k, const char *id,
                         const char *tenant, const unsigned char *ct, size_t len)
{
	if (!ct || len < CRYPTO_SEAL_OVERHEAD || len > HOLD_DOC_MAX)
		return NULL;
	unsigned char key[CRYPTO_KEY_BYTES], ad[160];
	char *m = malloc(len - CRYPTO_SEAL_OVERHEAD + 1);
	if (!m)
		return NULL;
	struct app_snap *snap = app_snap_acquire(app);
	keyring_subkey(snap->keys, SUBKEY_HOLDS, key);
	app_snap_release(snap);
	int rc = crypto_open(key, ad, hold_ad(k, ad, sizeof ad, id, tenant), ct, len, (unsigned char *)m);
	sodium_memzero(key, sizeof key);
	json_t *doc = rc == 0 ? json_loadb(m, len - CRYPTO_SEAL_OVERHEAD, 0, NULL) : NULL;
	sodium_memzero(m, len - CRYPTO_SEAL_OVERHEAD);
	free(m);
	return doc;
}

/* ---- add ------------------------------------------------------------------- */

struct add_ctx {
	const struct pin_kind *k;
	const struct store_hold *h;
};

static enum rd_err add_fn(struct store_tx *tx, void *arg)
{
	const struct add_ctx *c = arg;
	char target[AUDIT_TARGET_MAX];
	enum rd_err rc = c->k->insert(tx, c->h);
	snprintf(target, sizeof target, "%s:%s", c->k->noun, c->h->id);
	return rc == RD_OK ? audit_append_tenant(tx, c->h->tenant, c->h->actor, c->k->act_add, target, 1)
	                   : rc;
}

int holds_pin_add(struct app *app, enum holds_pin kind, const struct holds_target *t,
                  const char *reason, const char *actor, char id[HOLDS_ID_LEN + 1],
                  struct rd_error *e)
{
	const struct pin_kind *k = &kinds[kind];
	unsigned char rnd[8];
	char hid[HOLDS_ID_LEN + 1];
	size_t rlen = reason ? strlen(reason) : 0;
	if (rlen == 0 || rlen > HOLDS_REASON_MAX) {
		rd_error_set(e, RD_E_INVALID_FIELD, "reason is required, 1 to %d bytes", HOLDS_REASON_MAX);
		return -1;
	}
	randombytes_buf(rnd, sizeof rnd);
	memcpy(hid, k->id_prefix, 2);
	util_hex_encode(rnd, sizeof rnd, hid + 2);
	struct store_hold h = { .id = hid, .tenant = t->tenant, .actor = actor,
	                        .kind = t->subject ? STORE_HOLD_SUBJECT : STORE_HOLD_CONVERSATION,
	                        .target_hash = t->hash, .created_ms = util_now_ms() };
	unsigned char *ct = hold_seal(app, k, t, reason, hid, &h.doc_len);
	h.doc_ct = ct;
	struct add_ctx c = { k, &h };
	enum rd_err rc = ct ? store_exec(app->store, add_fn, &c) : RD_E_INTERNAL;
	free(ct);
	if (rc != RD_OK) {
		rd_error_store(e, rc, RD_E_STORAGE, kind == HOLDS_PIN_HOLD ? "the hold could not be stored"
		                                                        : "the restriction could not be stored");
		return -1;
	}
	metrics_audit(app->metrics, 1);
	memcpy(id, hid, sizeof hid);
	return 0;
}

int holds_add(struct app *app, const struct holds_target *t, const char *reason,
              const char *actor, char id[HOLDS_ID_LEN + 1], struct rd_error *e)
{
	return holds_pin_add(app, HOLDS_PIN_HOLD, t, reason, actor, id, e);
}

/* ---- remove ---------------------------------------------------------------- */

struct remove_ctx {
	const struct pin_kind *k;
	const char *tenant, *id, *actor;
	bool found;
};

static enum rd_err remove_fn(struct store_tx *tx, void *arg)
{
	struct remove_ctx *c = arg;
	char target[AUDIT_TARGET_MAX];
	enum rd_err rc = c->k->del(tx, c->id, c->tenant, &c->found);
	if (rc != RD_OK || !c->found)
		return rc;
	snprintf(target, sizeof target, "%s:%s", c->k->noun, c->id);
	return audit_append_tenant(tx, c->tenant, c->actor, c->k->act_remove, target, 1);
}

static bool id_valid(const struct pin_kind *k, const char *id)
{
	if (strlen(id) != HOLDS_ID_LEN || strncmp(id, k->id_prefix, 2) != 0)
		return false;
	for (const char *p = id + 2; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int holds_pin_remove(struct app *app, enum holds_pin kind, const char *tenant, const char *id,
                     const char *actor, struct rd_error *e)
{
	const struct pin_kind *k = &kinds[kind];
	struct remove_ctx c = { k, tenant, id, actor, false };
	if (!id_valid(k, id)) {
		rd_error_set(e, RD_E_NOT_FOUND, "no such %s", k->noun);
		return -1;
	}
	enum rd_err rc = store_exec(app->store, remove_fn, &c);
	if (rc != RD_OK) {
		rd_error_store(e, rc, RD_E_STORAGE, kind == HOLDS_PIN_HOLD ? "the hold could not be removed"
		                                                        : "the restriction could not be removed");
		return -1;
	}
	if (!c.found) {
		rd_error_set(e, RD_E_NOT_FOUND, "no such %s", k->noun);
		return -1;
	}
	metrics_audit(app->metrics, 1);
	return 0;
}

int holds_remove(struct app *app, const char *tenant, const char *id, const char *actor,
                 struct rd_error *e)
{
	return holds_pin_remove(app, HOLDS_PIN_HOLD, tenant, id, actor, e);
}

/* ---- list ------------------------------------------------------------------ */

struct list_ctx {
	struct app *app;
	const struct pin_kind *k;
	const char *tenant;
	json_t *holds;
};

static enum rd_err list_row(const struct store_hold *h, void *arg)
{
	struct list_ctx *c = arg;
	char ts[32];
	if (!h->id || !h->tenant)
		return RD_E_STORAGE;
	json_t *doc = hold_open(c->app, c->k, h->id, h->tenant, h->doc_ct, h->doc_len);
	if (!doc)
		log_error("%s %s: sealed document failed to open", c->k->noun, h->id);
	util_format_ts(h->created_ms, ts);
	json_t *o = json_pack("{s:s, s:s, s:s?, s:O?, s:O?, s:O?, s:s, s:s?}", "id", h->id,
	                      "tenant", h->tenant, "kind", h->kind_name,
	                      "type", json_object_get(doc, "type"), "value", json_object_get(doc, "value"),
	                      "reason", json_object_get(doc, "reason"), "created", ts,
	                      "actor", h->actor);
	json_decref(doc);
	return o && json_array_append_new(c->holds, o) == 0 ? RD_OK : RD_E_INTERNAL;
}

static enum rd_err list_fn(struct store_tx *tx, void *arg)
{
	struct list_ctx *c = arg;
	return c->k->each(tx, c->tenant, list_row, c);
}

struct audit_ctx {
	const char *tenant, *actor, *action, *target;
	int64_t count;
};

static enum rd_err list_audit_fn(struct store_tx *tx, void *arg)
{
	const struct audit_ctx *a = arg;
	return audit_append_tenant(tx, a->tenant, a->actor, a->action, a->target, a->count);
}

int holds_pin_list(struct app *app, enum holds_pin kind, const char *tenant, const char *actor,
                   json_t **out, struct rd_error *e)
{
	const struct pin_kind *k = &kinds[kind];
	struct list_ctx c = { .app = app, .k = k, .tenant = tenant, .holds = json_array() };
	enum rd_err sr = c.holds ? store_read(app->store, list_fn, &c) : RD_E_INTERNAL;
	if (sr != RD_OK) {
		json_decref(c.holds);
		rd_error_set(e, RD_E_STORAGE, "the %s could not be read", k->list_key);
		return -1;
	}
	char t[AUDIT_TARGET_MAX];
	snprintf(t, sizeof t, "tenant:%s", tenant ? tenant : "all");
	struct audit_ctx a = { tenant, actor, k->act_list, t, (int64_t)json_array_size(c.holds) };
	enum rd_err rc = store_exec(app->store, list_audit_fn, &a);
	if (rc != RD_OK) {
		json_decref(c.holds);
		rd_error_store(e, rc, RD_E_AUDIT, "the read could not be audit-logged");
		return -1;
	}
	metrics_audit(app->metrics, 1);
	*out = json_pack("{s:o}", k->list_key, c.holds);
	if (!*out) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}

int holds_list(struct app *app, const char *tenant, const char *actor, json_t **out,
               struct rd_error *e)
{
	return holds_pin_list(app, HOLDS_PIN_HOLD, tenant, actor, out, e);
}

/* ---- the held check -------------------------------------------------------- */

enum rd_err holds_conversation_held(struct store_tx *tx, const char *tenant,
                                    const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *held)
{
	return store_holds_held(tx, tenant, conv_hash, held);
}

enum rd_err holds_count(struct store_tx *tx, int64_t *n)
{
	return store_holds_count(tx, n);
}
