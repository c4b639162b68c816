/*
 * app.c — assembling the service: config, keys, engine, store.
 */
#include "app.h"
#include "log.h"
#include "metrics.h"
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
		.readonly = mode == APP_READONLY,
	};
	if (store_open(app->cfg->database, &so, &app->store, err, errlen) ||
	    store_keyring_attach(app->store, app->keys, err, errlen))
		return -1;
	return derive_lookup_key(app, err, errlen);
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

int app_reload(struct app *app, char *err, size_t errlen)
{
	struct config *cfg;
	if (config_load(app->config_path, &cfg, err, errlen))
		return -1;
	/* Storage and listening settings need a restart; say so rather than
	 * pretending they changed. */
	if (strcmp(cfg->database, app->cfg->database) || strcmp(cfg->listen, app->cfg->listen) ||
	    strcmp(cfg->key_file, app->cfg->key_file))
		log_warn("reload: [server] listen, [storage] database and key_file change only on restart");
	struct redact *r = build_engine(cfg, app->keys, err, errlen);
	if (!r) {
		config_free(cfg);
		return -1;
	}
	pthread_rwlock_wrlock(&app->lock);
	struct config *old_cfg = app->cfg;
	struct redact *old_r = app->redact;
	/* Keep the values the running store and listener were built from. */
	app->cfg = cfg;
	app->redact = r;
	pthread_rwlock_unlock(&app->lock);
	config_free(old_cfg);
	redact_free(old_r);
	return 0;
}
