/*
 * app.c — assembling the service: config, keys, engine, store.
 */
#include "app.h"
#include "audit.h"
#include "log.h"
#include "metrics.h"
#include "preflight.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Builds the engine with subkeys of the master key, or, for `redactd
 * redact` without a readable key, with per-process random keys (hash-style
 * output is then stable only within that run). */
static struct redact *build_engine(const struct config *cfg, const struct keyring *kr, char *err,
                                   size_t errlen)
{
	unsigned char hk[CRYPTO_KEY_BYTES], sk[CRYPTO_KEY_BYTES];
	if (kr) {
		keyring_subkey(kr, SUBKEY_HASHSTYLE, hk);
		keyring_subkey(kr, SUBKEY_SUBJECT, sk);
	} else {
		randombytes_buf(hk, sizeof hk);
		randombytes_buf(sk, sizeof sk);
	}
	struct redact *r = redact_new(cfg, hk, sk, err, errlen);
	sodium_memzero(hk, sizeof hk);
	sodium_memzero(sk, sizeof sk);
	return r;
}

/* The master key. Optional for `redactd redact` (hash-style output is then
 * keyed per run); required wherever the store is opened. */
static int open_keys(struct app *app, enum app_mode mode, char *err, size_t errlen)
{
	char kerr[512];
	if (keyring_load(app->cfg->key_file, &app->keys, kerr, sizeof kerr) == 0)
		return 0;
	if (mode == APP_REDACT_ONLY)
		return 0;
	util_err(err, errlen, "master key: %s", kerr);
	return -1;
}

/* Lookup hashes derive from the store's root key (which survives master
 * key rotation), so this runs after store_keyring_attach. */
static int derive_lookup_key(struct app *app, char *err, size_t errlen)
{
	app->lookup_key = sodium_malloc(CRYPTO_KEY_BYTES);
	if (!app->lookup_key) {
		util_err(err, errlen, "out of locked memory");
		return -1;
	}
	keyring_subkey(app->keys, SUBKEY_LOOKUP, app->lookup_key);
	sodium_mprotect_readonly(app->lookup_key);
	return 0;
}

static int open_store(struct app *app, enum app_mode mode, char *err, size_t errlen)
{
	struct store_options so = {
		.sync_full = app->cfg->sync_full, .queue_size = app->cfg->queue_size,
		.batch_max = app->cfg->batch_max, .batch_wait_us = app->cfg->batch_wait_us,
		.readonly = mode == APP_READONLY, .keys_from = app->cfg->keys_from,
	};
	char why[1024];
	if (store_open(app->cfg->database, &so, &app->store, why, sizeof why) ||
	    store_keyring_attach(app->store, app->keys, why, sizeof why)) {
		util_err(err, errlen, "database %s (%s): %s", app->cfg->database, app->config_path, why);
		return -1;
	}
	if (so.keys_from)
		log_warn("store: data keys come from keys_from (reading a key-less backup); "
		         "no new records can be stored");
	return derive_lookup_key(app, err, errlen);
}

/* Every problem with the files the config names that this mode opens, at
 * once and with the config line that named each, before opening any. A
 * webhook secret is read per request, so serve only warns about those. */
static int preflight(const struct app *app, enum app_mode mode, char *err, size_t errlen)
{
	struct buf b = { 0 };
	unsigned what = PREFLIGHT_STORE | (mode == APP_SERVE ? PREFLIGHT_TLS : 0);
	int n = preflight_check(app->cfg, what, &b);
	if (n && b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	if (n)
		util_err(err, errlen, "%d problem(s) with the files %s names:\n%s", n, app->config_path,
		         b.data ? b.data : "out of memory");
	buf_free(&b);
	if (!n && mode == APP_SERVE && preflight_check(app->cfg, PREFLIGHT_SOURCES, &b) && b.data) {
		for (char *save = NULL, *line = strtok_r(b.data, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			log_warn("%s; that webhook answers 503 until it is fixed", line);
	}
	buf_free(&b);
	return n ? -1 : 0;
}

int app_open(struct app *app, const char *config_path, enum app_mode mode, char *err,
             size_t errlen, int *exit_code)
{
	memset(app, 0, sizeof *app);
	*exit_code = 2;
	snprintf(app->config_path, sizeof app->config_path, "%s", config_path);
	if (pthread_rwlock_init(&app->lock, NULL)) {
		util_err(err, errlen, "cannot create lock");
		return -1;
	}
	if (crypto_global_init()) {
		util_err(err, errlen, "libsodium failed to initialise");
		*exit_code = 1;
		goto fail;
	}
	if (config_load(config_path, &app->cfg, err, errlen))
		goto fail;
	if (mode != APP_REDACT_ONLY && preflight(app, mode, err, errlen))
		goto fail;
	*exit_code = 1;
	if (open_keys(app, mode, err, errlen))
		goto fail;
	if (mode != APP_REDACT_ONLY && open_store(app, mode, err, errlen))
		goto fail;
	*exit_code = 2;
	if (!(app->redact = build_engine(app->cfg, app->keys, err, errlen)))
		goto fail;
	*exit_code = 1;
	if (!(app->metrics = metrics_new())) {
		util_err(err, errlen, "out of memory");
		goto fail;
	}
	return 0;
fail:
	app_close(app);
	return -1;
}

void app_close(struct app *app)
{
	store_close(app->store);
	redact_free(app->redact);
	keyring_free(app->keys);
	if (app->lookup_key)
		sodium_free(app->lookup_key);
	metrics_free(app->metrics);
	config_free(app->cfg);
	pthread_rwlock_destroy(&app->lock);
	memset(app, 0, sizeof *app);
}

/* ---- reload -------------------------------------------------------------- */

static bool same_master(const struct keyring *a, const struct keyring *b)
{
	unsigned char fa[CRYPTO_HASH_BYTES], fb[CRYPTO_HASH_BYTES];
	keyring_fingerprint(a, fa);
	keyring_fingerprint(b, fb);
	return sodium_memcmp(fa, fb, sizeof fa) == 0;
}

struct key_switch {
	const struct keyring *old_kr, *new_kr;
	size_t count;
};

/* Re-wrap what is still under the old key (nothing, after `redactd key
 * rotate`; safe to repeat) and record the switch, in one transaction. */
static enum rd_err key_switch_fn(struct store_tx *tx, void *arg)
{
	struct key_switch *k = arg;
	unsigned char fp[CRYPTO_HASH_BYTES];
	char target[4 + 32 + 1] = "key:";
	if (store_rekey_tx(tx, k->old_kr, k->new_kr, &k->count) != RD_OK)
		return RD_E_STORAGE;
	keyring_fingerprint(k->new_kr, fp);
	util_hex_encode(fp, 16, target + 4);
	return audit_append(tx, "sighup", "key.reload", target, (int64_t)k->count);
}

/*
 * Re-read key_file (the running path; a new path needs a restart). *out gets
 * a new keyring bound to the database, or NULL when the key is unchanged.
 * Order as in docs/design.md (Storage, keys and durability): attach (which
 * refuses a key that does not open the root, i.e. one the database was not
 * rotated to), then re-wrap stragglers; the caller swaps under the lock.
 */
static int reload_key(struct app *app, struct keyring **out, char *err, size_t errlen)
{
	struct keyring *kr = NULL;
	char kerr[512] = "";
	*out = NULL;
	if (!app->store)
		return 0;
	if (keyring_load(app->cfg->key_file, &kr, kerr, sizeof kerr)) {
		util_err(err, errlen, "master key: %s", kerr);
		return -1;
	}
	if (same_master(kr, app->keys)) {
		keyring_free(kr);
		return 0;
	}
	struct key_switch k = { .old_kr = app->keys, .new_kr = kr };
	if (store_keyring_attach(app->store, kr, kerr, sizeof kerr) ||
	    store_exec(app->store, key_switch_fn, &k) != 0) {
		util_err(err, errlen, "new master key refused: %s",
		         kerr[0] ? kerr : "re-wrapping the keys failed");
		keyring_free(kr);
		return -1;
	}
	log_info("reload: the master key changed; %zu key(s) re-wrapped here", k.count);
	*out = kr;
	return 0;
}

int app_reload(struct app *app, char *err, size_t errlen)
{
	struct config *cfg;
	struct keyring *new_kr = NULL;
	if (config_load(app->config_path, &cfg, err, errlen))
		return -1;
	/* Listening, storage and the writer were set up from the running config:
	 * the new one keeps their running values, so app->cfg says what is in force. */
	char kept[256];
	int nkept = config_keep_restart_only(cfg, app->cfg, kept, sizeof kept);
	if (nkept < 0) {
		util_err(err, errlen, "out of memory");
		config_free(cfg);
		return -1;
	}
	if (nkept)
		log_warn("reload: %s change only on restart; kept as they were", kept);
	struct redact *r = build_engine(cfg, app->keys, err, errlen);
	if (!r || reload_key(app, &new_kr, err, errlen)) {
		redact_free(r);
		config_free(cfg);
		return -1;
	}
	pthread_rwlock_wrlock(&app->lock);
	struct config *old_cfg = app->cfg;
	struct redact *old_r = app->redact;
	struct keyring *old_kr = new_kr ? app->keys : NULL;
	app->cfg = cfg;
	app->redact = r;
	if (new_kr)
		app->keys = new_kr;   /* same root, so lookup_key and the engine's keys stand */
	pthread_rwlock_unlock(&app->lock);
	config_free(old_cfg);
	redact_free(old_r);
	keyring_free(old_kr);    /* wipes the old master key */
	return 0;
}
