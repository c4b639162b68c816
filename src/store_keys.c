/*
 * store_keys.c — data keys: one per (tenant, category, UTC month), created
 * on first use, wrapped by the master key in data_keys, cached unwrapped.
 *
 * Workload: store_data_key_for runs once per ingested record and
 * store_data_key_get once per record read, so both are a lookup in a small
 * in-memory cache (a few hundred keys: tenants x categories x months)
 * under a rwlock. A miss reads or creates the key on `kdb`, a connection of
 * its own guarded by kdb_lock (never the read pool, which a reader may be
 * holding while it asks for a key). Creation runs SELECT-then-INSERT in one
 * BEGIN IMMEDIATE transaction, so concurrent creators, in this process or
 * another, agree on one key per period. The first use warms the cache with
 * every live key, so a key rotation done by another process (store_rekey)
 * never leaves this one unable to read.
 *
 * Key bytes live in one sodium_malloc'd (locked, guard-paged) slab; the
 * names beside them are plain memory. Lock order: cache lock, then kdb_lock.
 */
#include "store_int.h"
#include "log.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dk_entry {
	int64_t id;
	char tenant[RD_MAX_NAME_LEN + 1];
	char category[RD_MAX_NAME_LEN + 1];
	char period[8];
};

struct dk_cache {
	pthread_rwlock_t lock;
	struct dk_entry *e;
	unsigned char *slab;      /* cap * CRYPTO_KEY_BYTES, sodium_malloc'd */
	size_t n, cap;
	bool warmed;
};

int store_keys_init(struct store *st)
{
	struct dk_cache *c = calloc(1, sizeof *c);
	if (!c || pthread_rwlock_init(&c->lock, NULL)) {
		free(c);
		return -1;
	}
	st->keys = c;
	return 0;
}

void store_keys_free(struct store *st)
{
	struct dk_cache *c = st->keys;
	if (!c)
		return;
	if (c->slab)
		sodium_free(c->slab);
	free(c->e);
	pthread_rwlock_destroy(&c->lock);
	free(c);
	st->keys = NULL;
}

int store_period(int64_t ts_ms, char out[8], int64_t *start_ms, int64_t *end_ms)
{
	int64_t secs = ts_ms / 1000 - (ts_ms % 1000 < 0);   /* floor */
	time_t t = (time_t)secs;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 9999 - 1900)
		return -1;
	unsigned y = (unsigned)(tm.tm_year + 1900), mo = (unsigned)(tm.tm_mon + 1);
	out[0] = (char)('0' + y / 1000 % 10);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + mo / 10 % 10);
	out[6] = (char)('0' + mo % 10);
	out[7] = '\0';
	struct tm m = { .tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = 1 };
	*start_ms = (int64_t)timegm(&m) * 1000;
	m = (struct tm){ .tm_year = tm.tm_year + (tm.tm_mon == 11), .tm_mon = (tm.tm_mon + 1) % 12,
	                 .tm_mday = 1 };
	*end_ms = (int64_t)timegm(&m) * 1000;
	return 0;
}

/* ---- the cache (caller holds c->lock) ------------------------------------ */

static long find_id(const struct dk_cache *c, int64_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].id == id)
			return (long)i;
	return -1;
}

static long find_name(const struct dk_cache *c, const char *tenant, const char *category,
                      const char *period)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct dk_entry *e = &c->e[i];
		if (!memcmp(e->period, period, 8) && !strcmp(e->tenant, tenant) &&
		    !strcmp(e->category, category))
			return (long)i;
	}
	return -1;
}

static int cache_grow(struct dk_cache *c)
{
	size_t cap = c->cap ? c->cap * 2 : 32;
	unsigned char *slab = sodium_malloc(cap * CRYPTO_KEY_BYTES);
	struct dk_entry *e = slab ? realloc(c->e, cap * sizeof *e) : NULL;
	if (!e) {
		if (slab)
			sodium_free(slab);
		return -1;
	}
	c->e = e;
	if (c->slab) {
		memcpy(slab, c->slab, c->n * CRYPTO_KEY_BYTES);
		sodium_free(c->slab);
	}
	c->slab = slab;
	c->cap = cap;
	return 0;
}

/* Adds (or keeps) an entry; names longer than the limits are not cached. */
static void cache_add(struct dk_cache *c, int64_t id, const char *tenant, const char *category,
                      const char *period, const unsigned char key[CRYPTO_KEY_BYTES])
{
	if (find_id(c, id) >= 0 || strlen(tenant) > RD_MAX_NAME_LEN ||
	    strlen(category) > RD_MAX_NAME_LEN || strlen(period) != 7)
		return;
	if (c->n == c->cap && cache_grow(c))
		return;   /* still correct, only slower: the next use reads it again */
	struct dk_entry *e = &c->e[c->n];
	e->id = id;
	memcpy(e->tenant, tenant, strlen(tenant) + 1);
	memcpy(e->category, category, strlen(category) + 1);
	memcpy(e->period, period, 8);
	memcpy(c->slab + c->n * CRYPTO_KEY_BYTES, key, CRYPTO_KEY_BYTES);
	c->n++;
}

void store_keys_forget(struct store *st, const int64_t *ids, size_t n)
{
	struct dk_cache *c = st->keys;
	pthread_rwlock_wrlock(&c->lock);
	for (size_t k = 0; k < n; k++) {
		long i = find_id(c, ids[k]);
		if (i < 0)
			continue;
		size_t last = c->n - 1;
		unsigned char *slot = c->slab + (size_t)i * CRYPTO_KEY_BYTES;
		if ((size_t)i != last) {
			c->e[i] = c->e[last];
			memcpy(slot, c->slab + last * CRYPTO_KEY_BYTES, CRYPTO_KEY_BYTES);
		}
		sodium_memzero(c->slab + last * CRYPTO_KEY_BYTES, CRYPTO_KEY_BYTES);
		c->n--;
	}
	pthread_rwlock_unlock(&c->lock);
}

/* ---- the key database (caller holds kdb_lock) ---------------------------- */

static sqlite3 *key_db(struct store *st)
{
	if (st->keysrc)
		return st->keysrc;
	if (!st->kdb) {
		char err[256];
		if (store_connect(st->path, &st->opt, &st->kdb, err, sizeof err)) {
			log_error("store: data key connection: %s", err);
			return NULL;
		}
	}
	return st->kdb;
}

/* store_pg_keys_each_live's callback: one live key into the cache. */
struct warm_ctx {
	const struct keyring *kr;
	size_t foreign;
};

static void warm_one(struct store *st, int64_t id, const char *tenant, const char *category,
                     const char *period, const unsigned char *wrapped, size_t wlen, void *arg)
{
	struct warm_ctx *w = arg;
	unsigned char dk[CRYPTO_KEY_BYTES];
	if (keyring_unwrap(w->kr, id, wrapped, wlen, dk)) {
		w->foreign++;
		return;
	}
	cache_add(st->keys, id, tenant, category, period, dk);
	sodium_memzero(dk, sizeof dk);
}

/* Unwraps every live key into the cache (cache lock held for writing). */
static void cache_warm(struct store *st, const struct keyring *kr)
{
	struct dk_cache *c = st->keys;
	sqlite3_stmt *s = NULL;
	unsigned char dk[CRYPTO_KEY_BYTES];
	size_t foreign = 0;
	c->warmed = true;
	if (st->pg) {
		struct warm_ctx w = { kr, 0 };
		(void)store_pg_keys_each_live(st, warm_one, &w);   /* a miss reads the key later */
		if (w.foreign)
			log_warn("store: %zu data key(s) are wrapped by another master key", w.foreign);
		return;
	}
	pthread_mutex_lock(&st->kdb_lock);
	sqlite3 *db = key_db(st);
	if (!db || sqlite3_prepare_v2(db, "SELECT id, tenant, category, period, wrapped FROM data_keys"
	                              " WHERE wrapped IS NOT NULL", -1, &s, NULL) != SQLITE_OK)
		goto done;
	while (sqlite3_step(s) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		const void *w = sqlite3_column_blob(s, 4);
		if (keyring_unwrap(kr, id, w, (size_t)sqlite3_column_bytes(s, 4), dk)) {
			foreign++;
			continue;
		}
		cache_add(c, id, (const char *)sqlite3_column_text(s, 1),
		          (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
		          dk);
	}
done:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->kdb_lock);
	sodium_memzero(dk, sizeof dk);
	if (foreign)
		log_warn("store: %zu data key(s) are wrapped by another master key", foreign);
}

static void ensure_warm(struct store *st, const struct keyring *kr)
{
	struct dk_cache *c = st->keys;
	pthread_rwlock_rdlock(&c->lock);
	bool warm = c->warmed;
	pthread_rwlock_unlock(&c->lock);
	if (warm)
		return;
	pthread_rwlock_wrlock(&c->lock);
	if (!c->warmed)
		cache_warm(st, kr);
	pthread_rwlock_unlock(&c->lock);
}

struct key_name {
	const char *tenant, *category;
	char period[8];
	int64_t start_ms, end_ms;
};

static int root_select(sqlite3 *db, unsigned char w[CRYPTO_WRAPPED_BYTES]);

/* A new key must be wrapped by the database's current master key: if the
 * stored root no longer opens with kr, the master key was rotated away
 * (redactd key rotate) and this process has not reloaded yet. */
static int master_current(sqlite3 *db, const struct keyring *kr)
{
	unsigned char w[CRYPTO_WRAPPED_BYTES], root[CRYPTO_KEY_BYTES];
	int found = root_select(db, w);
	if (found <= 0)
		return found == 0 ? 0 : -1;
	int rc = keyring_unwrap(kr, CRYPTO_ROOT_KEY_ID, w, sizeof w, root);
	sodium_memzero(root, sizeof root);
	if (rc)
		log_error("store: the master key was rotated; reload (SIGHUP) or restart to use "
		          "the new key file before new data keys can be made");
	return rc;
}

/* Inside BEGIN IMMEDIATE on db: the live key of the period, or a new one. */
static int select_or_insert(sqlite3 *db, const struct keyring *kr, const struct key_name *kn,
                            int64_t *id, unsigned char dk[CRYPTO_KEY_BYTES])
{
	sqlite3_stmt *s = NULL;
	unsigned char wrapped[CRYPTO_WRAPPED_BYTES];
	int rc = -1, step;
	if (sqlite3_prepare_v2(db, "SELECT id, wrapped FROM data_keys WHERE tenant = ?1 AND "
	                       "category = ?2 AND period = ?3 AND wrapped IS NOT NULL", -1, &s,
	                       NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, kn->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kn->category, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, kn->period, -1, SQLITE_STATIC);
	if ((step = sqlite3_step(s)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		rc = keyring_unwrap(kr, *id, sqlite3_column_blob(s, 1),
		                    (size_t)sqlite3_column_bytes(s, 1), dk);
		if (rc)
			log_error("store: data key %lld does not open with this master key", (long long)*id);
		goto fail;
	}
	if (step != SQLITE_DONE || master_current(db, kr))
		goto fail;
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO data_keys (tenant, category, period, start_ms, end_ms,"
	                       " wrapped, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, X'', ?6)", -1, &s,
	                       NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, kn->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kn->category, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, kn->period, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, kn->start_ms);
	sqlite3_bind_int64(s, 5, kn->end_ms);
	sqlite3_bind_int64(s, 6, util_now_ms());
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	*id = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(s);
	s = NULL;
	randombytes_buf(dk, CRYPTO_KEY_BYTES);
	if (keyring_wrap(kr, *id, dk, wrapped) ||
	    sqlite3_prepare_v2(db, "UPDATE data_keys SET wrapped = ?1 WHERE id = ?2", -1, &s,
	                       NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_blob(s, 1, wrapped, sizeof wrapped, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, *id);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	log_info("store: created data key %lld", (long long)*id);
	rc = 0;
fail:
	sqlite3_finalize(s);
	if (rc)
		sodium_memzero(dk, CRYPTO_KEY_BYTES);
	return rc;
}

static enum rd_err load_or_create(struct store *st, const struct keyring *kr,
                                  const struct key_name *kn, int64_t *id,
                                  unsigned char dk[CRYPTO_KEY_BYTES])
{
	if (st->pg)
		return store_pg_key_load_or_create(st, kr, kn->tenant, kn->category, kn->period,
		                                   kn->start_ms, kn->end_ms, id, dk);
	enum rd_err rc = RD_E_STORAGE;
	char why[160] = "";
	pthread_mutex_lock(&st->kdb_lock);
	sqlite3 *db = key_db(st);
	if (!db || sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (select_or_insert(db, kr, kn, id, dk) ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		/* ROLLBACK resets the message; a failure that was not SQLite's
		 * (a refused wrap) has logged its own reason. */
		int ec = sqlite3_errcode(db);
		if (ec != SQLITE_OK && ec != SQLITE_ROW && ec != SQLITE_DONE)
			snprintf(why, sizeof why, ": %s", sqlite3_errmsg(db));
		if (ec == SQLITE_FULL) {   /* the first record of a period, on a full disk */
			atomic_store(&st->disk_full, true);
			rc = RD_E_STORAGE_FULL;
		}
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		sodium_memzero(dk, CRYPTO_KEY_BYTES);
		goto fail;
	}
	rc = RD_OK;
fail:
	if (rc && db && !why[0] && sqlite3_errcode(db) != SQLITE_OK)
		snprintf(why, sizeof why, ": %s", sqlite3_errmsg(db));
	if (rc)
		log_error("store: no data key for the record%s", why);
	pthread_mutex_unlock(&st->kdb_lock);
	return rc;
}

enum rd_err store_data_key_for(struct store *st, const struct keyring *kr, const char *tenant,
                               const char *category, int64_t ts_ms, int64_t *key_id,
                               unsigned char key[CRYPTO_KEY_BYTES])
{
	struct dk_cache *c = st->keys;
	struct key_name kn = { .tenant = tenant, .category = category };
	int64_t id = 0;
	long i;
	enum rd_err rc = RD_E_STORAGE;
	if (st->keysrc || strlen(tenant) > RD_MAX_NAME_LEN || strlen(category) > RD_MAX_NAME_LEN ||
	    store_period(ts_ms, kn.period, &kn.start_ms, &kn.end_ms))
		return RD_E_STORAGE;
	ensure_warm(st, kr);
	pthread_rwlock_rdlock(&c->lock);
	if ((i = find_name(c, tenant, category, kn.period)) >= 0) {
		*key_id = c->e[i].id;
		memcpy(key, c->slab + (size_t)i * CRYPTO_KEY_BYTES, CRYPTO_KEY_BYTES);
		pthread_rwlock_unlock(&c->lock);
		return RD_OK;
	}
	pthread_rwlock_unlock(&c->lock);
	pthread_rwlock_wrlock(&c->lock);   /* one creator per process at a time */
	if ((i = find_name(c, tenant, category, kn.period)) >= 0) {
		id = c->e[i].id;
		memcpy(key, c->slab + (size_t)i * CRYPTO_KEY_BYTES, CRYPTO_KEY_BYTES);
		rc = RD_OK;
	} else if ((rc = load_or_create(st, kr, &kn, &id, key)) == RD_OK) {
		cache_add(c, id, tenant, category, kn.period, key);
	}
	pthread_rwlock_unlock(&c->lock);
	if (rc == RD_OK)
		*key_id = id;
	return rc;
}

/* Reads key id from the key database: 0 with dk and its names, 1 if
 * destroyed, -1 if missing or not opening. */
static int fetch_key(struct store *st, const struct keyring *kr, int64_t id,
                     unsigned char dk[CRYPTO_KEY_BYTES], struct dk_entry *names)
{
	if (st->pg)
		return store_pg_key_fetch(st, kr, id, dk, names->tenant, sizeof names->tenant,
		                          names->category, sizeof names->category, names->period);
	sqlite3_stmt *s = NULL;
	int rc = -1;
	pthread_mutex_lock(&st->kdb_lock);
	sqlite3 *db = key_db(st);
	if (!db || sqlite3_prepare_v2(db, "SELECT tenant, category, period, wrapped FROM data_keys "
	                              "WHERE id = ?1", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) != SQLITE_ROW)
		goto fail;
	if (sqlite3_column_type(s, 3) == SQLITE_NULL) {
		rc = 1;
		goto fail;
	}
	snprintf(names->tenant, sizeof names->tenant, "%s", (const char *)sqlite3_column_text(s, 0));
	snprintf(names->category, sizeof names->category, "%s",
	         (const char *)sqlite3_column_text(s, 1));
	snprintf(names->period, sizeof names->period, "%s", (const char *)sqlite3_column_text(s, 2));
	rc = keyring_unwrap(kr, id, sqlite3_column_blob(s, 3), (size_t)sqlite3_column_bytes(s, 3), dk);
fail:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->kdb_lock);
	return rc;
}

enum rd_err store_data_key_get(struct store *st, const struct keyring *kr, int64_t key_id,
                               unsigned char key[CRYPTO_KEY_BYTES])
{
	struct dk_cache *c = st->keys;
	struct dk_entry names = { 0 };
	long i;
	ensure_warm(st, kr);
	pthread_rwlock_rdlock(&c->lock);
	if ((i = find_id(c, key_id)) >= 0) {
		memcpy(key, c->slab + (size_t)i * CRYPTO_KEY_BYTES, CRYPTO_KEY_BYTES);
		pthread_rwlock_unlock(&c->lock);
		return RD_OK;
	}
	pthread_rwlock_unlock(&c->lock);
	int rc = fetch_key(st, kr, key_id, key, &names);
	if (rc != 0)
		return rc == 1 ? RD_E_NOT_FOUND : RD_E_STORAGE;
	pthread_rwlock_wrlock(&c->lock);
	cache_add(c, key_id, names.tenant, names.category, names.period, key);
	pthread_rwlock_unlock(&c->lock);
	return RD_OK;
}

/* ---- the root key ------------------------------------------------------- */

/* The stored root key: 1 found (w filled), 0 none, -1 error. */
static int root_select(sqlite3 *db, unsigned char w[CRYPTO_WRAPPED_BYTES])
{
	sqlite3_stmt *s;
	int rc = -1;
	if (sqlite3_prepare_v2(db, "SELECT wrapped FROM key_root WHERE id = 1", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	int step = sqlite3_step(s);
	if (step == SQLITE_DONE)
		rc = 0;
	else if (step == SQLITE_ROW && sqlite3_column_bytes(s, 0) == CRYPTO_WRAPPED_BYTES) {
		memcpy(w, sqlite3_column_blob(s, 0), CRYPTO_WRAPPED_BYTES);
		rc = 1;
	}
	sqlite3_finalize(s);
	return rc;
}

static int root_insert(sqlite3 *db, const struct keyring *kr)
{
	unsigned char w[CRYPTO_WRAPPED_BYTES];
	sqlite3_stmt *s;
	if (keyring_wrap_root(kr, w) ||
	    sqlite3_prepare_v2(db, "INSERT INTO key_root (id, wrapped, created_ms) VALUES (1, ?1, ?2)",
	                       -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_blob(s, 1, w, sizeof w, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, util_now_ms());
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(s);
	return rc;
}

/* Inside the caller's transaction (or on the read-only key source). */
static int root_attach(sqlite3 *db, bool may_create, struct keyring *kr, char *err, size_t errlen)
{
	unsigned char w[CRYPTO_WRAPPED_BYTES];
	int found = root_select(db, w);
	if (found < 0) {
		util_err(err, errlen, "cannot read the root key: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (found == 0 && !may_create) {
		util_err(err, errlen, "the key database holds no root key");
		return -1;
	}
	if (found == 0) {
		if (root_insert(db, kr) == 0)
			return 0;
		util_err(err, errlen, "cannot store the root key: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (keyring_load_root(kr, w, sizeof w)) {
		util_err(err, errlen, "the master key does not open this database "
		         "(wrong key file, or one rotated away)");
		return -1;
	}
	return 0;
}

enum rd_err store_keyring_attach(struct store *st, struct keyring *kr, char *err, size_t errlen)
{
	if (st->pg)
		return store_pg_keyring_attach(st, kr, err, errlen);
	int rc = -1;
	pthread_mutex_lock(&st->kdb_lock);
	sqlite3 *db = key_db(st);
	if (!db) {
		util_err(err, errlen, "cannot open the key database");
	} else if (st->keysrc) {
		rc = root_attach(db, false, kr, err, errlen);
	} else if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		util_err(err, errlen, "cannot lock the database: %s", sqlite3_errmsg(db));
	} else if (root_attach(db, true, kr, err, errlen) || store_reseal(st, db, kr, err, errlen) ||
	           sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	} else {
		rc = 0;
		st->seal_format = 2;
	}
	pthread_mutex_unlock(&st->kdb_lock);
	return rc == 0 ? RD_OK : RD_E_STORAGE;
}
