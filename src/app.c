/*
 * app.c — assembling the service: config, keys, engine, store; publishing
 * reload snapshots (see app.h for the design).
 */
#include "app.h"
#include "audit.h"
#include "log.h"
#include "metrics.h"
#include "preflight.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shared by every module that reports a store failure (see app.h). */
void rd_error_store(struct rd_error *e, enum rd_err rc, enum rd_err err, const char *message)
{
	switch (rc) {
	case RD_E_STORAGE_FAILED:
		rd_error_set(e, rc, "writes are refused since a disk sync failed; the daemon needs a restart");
		break;
	case RD_E_STORAGE_FULL:
		rd_error_set(e, rc, "the disk is full; nothing was stored, retry later");
		break;
	case RD_E_BUSY:
		rd_error_set(e, rc, "the write queue is full; retry shortly");
		break;
	case RD_E_SHUTTING_DOWN:
		rd_error_set(e, rc, "the daemon is shutting down");
		break;
	default:
		rd_error_set(e, err, "%s", message);
	}
}

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
static int open_keys(const struct config *cfg, struct keyring **kr, enum app_mode mode, char *err,
                     size_t errlen)
{
	char kerr[512];
	if (keyring_load(cfg->key_file, kr, kerr, sizeof kerr) == 0)
		return 0;
	if (mode == APP_REDACT_ONLY)
		return 0;
	util_err(err, errlen, "master key: %s", kerr);
	return -1;
}

/* Lookup hashes derive from the store's root key (which survives master
 * key rotation), so this runs after store_keyring_attach. */
static int derive_lookup_key(struct app *app, const struct keyring *kr, char *err, size_t errlen)
{
	app->lookup_key = sodium_malloc(CRYPTO_KEY_BYTES);
	if (!app->lookup_key) {
		util_err(err, errlen, "out of locked memory");
		return -1;
	}
	keyring_subkey(kr, SUBKEY_LOOKUP, app->lookup_key);
	sodium_mprotect_readonly(app->lookup_key);
	return 0;
}

static int open_store(struct app *app, const struct config *cfg, struct keyring *kr,
                      enum app_mode mode, char *err, size_t errlen)
{
	struct store_options so = {
		.sync_full = cfg->sync_full, .queue_size = cfg->queue_size,
		.batch_max = cfg->batch_max, .batch_wait_us = cfg->batch_wait_us,
		.readonly = mode == APP_READONLY, .keys_from = cfg->keys_from,
	};
	char why[1024];
	bool pg = cfg->backend == STORAGE_POSTGRESQL;
	if (pg) {
		so.pg_url = cfg->pg_url;
		so.pg_password = cfg->pg_password;
	}
	if (store_open(cfg->database, &so, &app->store, why, sizeof why) ||
	    store_keyring_attach(app->store, kr, why, sizeof why)) {
		/* postgresql: why names the server with the password masked */
		util_err(err, errlen, "%s%s (%s): %s", pg ? "storage" : "database ",
		         pg ? "" : cfg->database, app->config_path, why);
		return -1;
	}
	if (so.keys_from)
		log_warn("store: data keys come from keys_from (reading a key-less backup); "
		         "no new records can be stored");
	return derive_lookup_key(app, kr, err, errlen);
}

/* Every problem with the files the config names that this mode opens, at
 * once and with the config line that named each, before opening any. A
 * webhook secret is read per request, so serve only warns about those. */
static int preflight(const struct app *app, const struct config *cfg, enum app_mode mode, char *err,
                     size_t errlen)
{
	struct buf b = { 0 };
	unsigned what = PREFLIGHT_STORE | (mode == APP_SERVE ? PREFLIGHT_TLS : 0);
	int n = preflight_check(cfg, what, &b);
	if (n && b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	if (n)
		util_err(err, errlen, "%d problem(s) with the files %s names:\n%s", n, app->config_path,
		         b.data ? b.data : "out of memory");
	buf_free(&b);
	if (!n && mode == APP_SERVE && preflight_check(cfg, PREFLIGHT_SOURCES, &b) && b.data) {
		for (char *save = NULL, *line = strtok_r(b.data, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			log_warn("%s; that webhook answers 503 until it is fixed", line);
	}
	buf_free(&b);
	return n ? -1 : 0;
}

/* ---- snapshots ----------------------------------------------------------- */

static atomic_int snaps_live;   /* for tests: app_snap_live */

int app_snap_live(void)
{
	return atomic_load(&snaps_live);
}

/* A keyring shared by consecutive snapshots until the master key changes;
 * freed (wiped) with the last of them. */
struct app_keys {
	atomic_uint refs;
	struct keyring *kr;
};

static struct app_keys *keys_new(struct keyring *kr)
{
	struct app_keys *k = malloc(sizeof *k);
	if (k) {
		atomic_init(&k->refs, 1);
		k->kr = kr;
	}
	return k;
}

static void keys_release(struct app_keys *k)
{
	if (k && atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) == 1) {
		keyring_free(k->kr);
		free(k);
	}
}

/* A snapshot owning cfg and r, and one more reference to k; its one
 * reference is the caller's. NULL if out of memory (nothing taken). */
static struct app_snap *snap_new(struct config *cfg, struct redact *r, struct app_keys *k)
{
	struct app_snap *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->cfg = cfg;
	s->redact = r;
	s->keys = k->kr;
	s->kref = k;
	atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
	atomic_init(&s->refs, 1);
	atomic_fetch_add(&snaps_live, 1);
	return s;
}

struct app_snap *app_snap_acquire(struct app *app)
{
	pthread_mutex_lock(&app->snap_lock);
	struct app_snap *s = app->snap;
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&app->snap_lock);
	return s;
}

struct app_snap *app_snap_ref(struct app_snap *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void app_snap_release(struct app_snap *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	redact_free((struct redact *)s->redact);
	config_free((struct config *)s->cfg);
	keys_release(s->kref);
	free(s);
	atomic_fetch_sub(&snaps_live, 1);
}

/* Makes s (with its one reference, which passes to the app) the current
 * snapshot; the old one goes when its last holder lets it go. */
static void publish(struct app *app, struct app_snap *s)
{
	pthread_mutex_lock(&app->snap_lock);
	struct app_snap *old = app->snap;
	app->snap = s;
	pthread_mutex_unlock(&app->snap_lock);
	app_snap_release(old);
}

/* ---- opening ---------------------------------------------------------------- */

int app_open(struct app *app, const char *config_path, enum app_mode mode, char *err,
             size_t errlen, int *exit_code)
{
	struct config *cfg = NULL;
	struct keyring *kr = NULL;
	struct redact *r = NULL;
	struct app_keys *k = NULL;
	memset(app, 0, sizeof *app);
	*exit_code = 2;
	snprintf(app->config_path, sizeof app->config_path, "%s", config_path);
	if (pthread_mutex_init(&app->snap_lock, NULL)) {
		util_err(err, errlen, "cannot create lock");
		return -1;
	}
	if (crypto_global_init()) {
		util_err(err, errlen, "libsodium failed to initialise");
		*exit_code = 1;
		goto fail;
	}
	if (config_load(config_path, &cfg, err, errlen))
		goto fail;
	if (mode != APP_REDACT_ONLY && preflight(app, cfg, mode, err, errlen))
		goto fail;
	*exit_code = 1;
	if (open_keys(cfg, &kr, mode, err, errlen))
		goto fail;
	if (mode != APP_REDACT_ONLY && open_store(app, cfg, kr, mode, err, errlen))
		goto fail;
	*exit_code = 2;
	if (!(r = build_engine(cfg, kr, err, errlen)))
		goto fail;
	*exit_code = 1;
	struct app_snap *s = (k = keys_new(kr)) ? snap_new(cfg, r, k) : NULL;
	if (!s) {
		util_err(err, errlen, "out of memory");
		goto fail;
	}
	publish(app, s);
	keys_release(k);   /* the snapshot holds it now */
	if (!(app->metrics = metrics_new())) {
		util_err(err, errlen, "out of memory");
		app_close(app);
		return -1;
	}
	return 0;
fail:
	app_close(app);   /* the store first: it was attached to kr */
	if (k)
		keys_release(k);
	else
		keyring_free(kr);
	redact_free(r);
	config_free(cfg);
	return -1;
}

void app_close(struct app *app)
{
	store_close(app->store);
	app_snap_release(app->snap);   /* the last reference: no request runs any more */
	if (app->lookup_key)
		sodium_free(app->lookup_key);
	metrics_free(app->metrics);
	pthread_mutex_destroy(&app->snap_lock);
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
 * rotated to), then re-wrap stragglers; the caller publishes it.
 */
static int reload_key(struct app *app, const struct app_snap *running, struct keyring **out,
                      char *err, size_t errlen)
{
	struct keyring *kr = NULL;
	char kerr[512] = "";
	*out = NULL;
	if (!app->store)
		return 0;
	if (keyring_load(running->cfg->key_file, &kr, kerr, sizeof kerr)) {
		util_err(err, errlen, "master key: %s", kerr);
		return -1;
	}
	if (same_master(kr, running->keys)) {
		keyring_free(kr);
		return 0;
	}
	struct key_switch k = { .old_kr = running->keys, .new_kr = kr };
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

/* Only SIGHUP's thread (or a test's) calls this: reloads never overlap, so
 * the running snapshot read here is the one the new one replaces. Memory
 * is taken before the master key is switched in the database, so nothing
 * can fail after that. */
int app_reload(struct app *app, char *err, size_t errlen)
{
	int rc = -1;
	struct config *cfg = NULL;
	struct redact *r = NULL;
	struct keyring *new_kr = NULL;
	struct app_keys *fresh = keys_new(NULL);
	struct app_snap *s = calloc(1, sizeof *s);
	struct app_snap *running = app_snap_acquire(app);
	if (!fresh || !s) {
		util_err(err, errlen, "out of memory");
		goto done;
	}
	if (config_load(app->config_path, &cfg, err, errlen))
		goto done;
	/* Listening, storage and the writer were set up from the running config:
	 * the new one keeps their running values, so the snapshot says what is
	 * in force. */
	char kept[256];
	int nkept = config_keep_restart_only(cfg, running->cfg, kept, sizeof kept);
	if (nkept < 0) {
		util_err(err, errlen, "out of memory");
		goto done;
	}
	if (nkept)
		log_warn("reload: %s change only on restart; kept as they were", kept);
	/* The root key, and so the engine's keys, stay with a new master key. */
	if (!(r = build_engine(cfg, running->keys, err, errlen)) ||
	    reload_key(app, running, &new_kr, err, errlen))
		goto done;
	struct app_keys *k = running->kref;
	if (new_kr) {
		fresh->kr = new_kr;
		k = fresh;
		fresh = NULL;   /* its one reference passes to the snapshot */
	} else {
		atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
	}
	*s = (struct app_snap){ .cfg = cfg, .redact = r, .keys = k->kr, .kref = k };
	atomic_init(&s->refs, 1);
	atomic_fetch_add(&snaps_live, 1);
	publish(app, s);
	s = NULL;
	cfg = NULL;
	r = NULL;
	rc = 0;
done:
	free(fresh);
	free(s);
	redact_free(r);
	config_free(cfg);
	app_snap_release(running);
	return rc;
}
