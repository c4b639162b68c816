/*
 * store_pg_keys.c — data keys and the root key on PostgreSQL: what
 * store_keys.c does on its key database, on the key connection (pg->k,
 * guarded by the store's kdb_lock). The cache of unwrapped keys in locked
 * memory stays store_keys.c's, for both backends.
 *
 * Several processes share one database: a new key is made without any
 * lock held for long (a shared advisory lock that only a key rotation
 * waits for). Its id comes from the sequence first (the wrap's
 * associated data binds it), then INSERT ... ON CONFLICT DO NOTHING on the
 * unique index of live keys; the loser of a race reads the winner's key.
 * Wrapped keys open only with the master key, which never enters the
 * database (docs/operations.md: what shredding reaches on PostgreSQL).
 */
#include "store_pg_int.h"
#include "log.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static PGconn *key_conn(struct store *st)
{
	struct store_pg *pg = st->pg;
	if (pg->k.c && PQstatus(pg->k.c) != CONNECTION_OK) {
		PQfinish(pg->k.c);
		pg->k.c = NULL;
	}
	if (!pg->k.c) {
		char err[512];
		if (!(pg->k.c = store_pg_connect(pg, err, sizeof err)))
			log_error("store: data key connection: %s", err);
	}
	return pg->k.c;
}

int store_pg_keys_each_live(struct store *st, store_pg_key_fn fn, void *ctx)
{
	pthread_mutex_lock(&st->kdb_lock);
	PGconn *c = key_conn(st);
	PGresult *r = c ? store_pg_exec(c, "SELECT id, tenant, category, period, wrapped FROM data_keys"
	                                " WHERE wrapped IS NOT NULL", 0, NULL, NULL, NULL) : NULL;
	pthread_mutex_unlock(&st->kdb_lock);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		fn(st, store_pg_get64(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
		   PQgetvalue(r, i, 3), (const unsigned char *)PQgetvalue(r, i, 4),
		   (size_t)PQgetlength(r, i, 4), ctx);
	PQclear(r);
	return 0;
}

/* The live key of the period: 1 found (unwrapped into dk), 0 none, -1
 * error or not opening. */
static int select_live(PGconn *c, const struct keyring *kr, const char *tenant,
                       const char *category, const char *period, int64_t *id,
                       unsigned char dk[CRYPTO_KEY_BYTES])
{
	const char *vals[3] = { tenant, category, period };
	PGresult *r = store_pg_exec(c, "SELECT id, wrapped FROM data_keys WHERE tenant = $1 AND"
	                            " category = $2 AND period = $3 AND wrapped IS NOT NULL",
	                            3, vals, NULL, NULL);
	if (!r)
		return -1;
	int rc = 0;
	if (PQntuples(r) == 1) {
		*id = store_pg_get64(r, 0, 0);
		rc = keyring_unwrap(kr, *id, (const unsigned char *)PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1), dk) ? -1 : 1;
		if (rc < 0)
			log_error("store: data key %lld does not open with this master key", (long long)*id);
	}
	PQclear(r);
	return rc;
}

/* A new key must be wrapped by the database's current master key (as
 * store_keys.c's master_current). 0 when it is. */
static int master_current(PGconn *c, const struct keyring *kr)
{
	PGresult *r = store_pg_exec(c, "SELECT wrapped FROM key_root WHERE id = 1", 0, NULL, NULL, NULL);
	if (!r)
		return -1;
	int rc = 0;
	if (PQntuples(r) == 1) {
		unsigned char root[CRYPTO_KEY_BYTES];
		rc = keyring_unwrap(kr, CRYPTO_ROOT_KEY_ID, (const unsigned char *)PQgetvalue(r, 0, 0),
		                    (size_t)PQgetlength(r, 0, 0), root);
		sodium_memzero(root, sizeof root);
		if (rc)
			log_error("store: the master key was rotated; reload (SIGHUP) or restart to use "
			          "the new key file before new data keys can be made");
	}
	PQclear(r);
	return rc;
}

/* 1 inserted (id, dk), 0 another process made the period's key first, -1. */
static int insert_new(PGconn *c, const struct keyring *kr, const char *tenant,
                      const char *category, const char *period, int64_t start_ms,
                      int64_t end_ms, int64_t *id, unsigned char dk[CRYPTO_KEY_BYTES])
{
	PGresult *r = store_pg_exec(c, "SELECT nextval('data_keys_id_seq')", 0, NULL, NULL, NULL);
	if (!r)
		return -1;
	*id = store_pg_get64(r, 0, 0);
	PQclear(r);
	unsigned char wrapped[CRYPTO_WRAPPED_BYTES];
	randombytes_buf(dk, CRYPTO_KEY_BYTES);
	if (keyring_wrap(kr, *id, dk, wrapped))
		return -1;
	char idb[8], sb[8], eb[8], cb[8];
	store_pg_put64(idb, *id);
	store_pg_put64(sb, start_ms);
	store_pg_put64(eb, end_ms);
	store_pg_put64(cb, util_now_ms());
	const char *vals[8] = { tenant, idb, category, period, sb, eb, (const char *)wrapped, cb };
	const int lens[8] = { 0, 8, 0, 0, 8, 8, CRYPTO_WRAPPED_BYTES, 8 };
	const int fmts[8] = { 0, 1, 0, 0, 1, 1, 1, 1 };
	r = store_pg_exec(c, "INSERT INTO data_keys (tenant, id, category, period, start_ms, end_ms,"
	                  " wrapped, created_ms) VALUES ($1, $2::bigint, $3, $4, $5::bigint, $6::bigint,"
	                  " $7, $8::bigint) ON CONFLICT (tenant, category, period) WHERE wrapped IS NOT NULL"
	                  " DO NOTHING", 8, vals, lens, fmts);
	if (!r)
		return -1;
	int rc = atoi(PQcmdTuples(r)) == 1 ? 1 : 0;
	PQclear(r);
	if (rc)
		log_info("store: created data key %lld", (long long)*id);
	return rc;
}

enum rd_err store_pg_key_load_or_create(struct store *st, const struct keyring *kr,
                                        const char *tenant, const char *category,
                                        const char *period, int64_t start_ms, int64_t end_ms,
                                        int64_t *id, unsigned char dk[CRYPTO_KEY_BYTES])
{
	int found = -1;
	char lock[96];
	/* Shared with other key makers, exclusive against a rotation
	 * (store_pg_rekey_tx): a key is made either before a rotation reads
	 * the keys (and is re-wrapped by it) or after it committed (and
	 * master_current refuses a node still on the old master key). */
	snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock_shared(%d, 0)", STORE_PG_LOCK_ROOT);
	pthread_mutex_lock(&st->kdb_lock);
	PGconn *c = key_conn(st);
	if (c && (store_pg_cmd(c, "BEGIN") || store_pg_cmd(c, lock))) {
		store_pg_cmd(c, "ROLLBACK");
		c = NULL;
	}
	/* Two rounds at most: a lost race finds the winner's key. */
	for (int round = 0; c && round < 2; round++) {
		found = select_live(c, kr, tenant, category, period, id, dk);
		if (found != 0)
			break;
		if (master_current(c, kr)) {
			found = -1;
			break;
		}
		if ((found = insert_new(c, kr, tenant, category, period, start_ms, end_ms, id, dk)) != 0)
			break;
	}
	if (c && (found != 1 || store_pg_cmd(c, "COMMIT"))) {
		store_pg_cmd(c, "ROLLBACK");
		found = -1;
	}
	pthread_mutex_unlock(&st->kdb_lock);
	if (found != 1) {
		sodium_memzero(dk, CRYPTO_KEY_BYTES);
		log_error("store: no data key for the record");
		return RD_E_STORAGE;
	}
	return RD_OK;
}

int store_pg_key_fetch(struct store *st, const struct keyring *kr, int64_t id,
                       unsigned char dk[CRYPTO_KEY_BYTES], char *tenant, size_t tlen,
                       char *category, size_t clen, char period[8])
{
	char idb[8];
	store_pg_put64(idb, id);
	const char *vals[1] = { idb };
	const int lens[1] = { 8 }, fmts[1] = { 1 };
	int rc = -1;
	pthread_mutex_lock(&st->kdb_lock);
	PGconn *c = key_conn(st);
	PGresult *r = c ? store_pg_exec(c, "SELECT tenant, category, period, wrapped FROM data_keys"
	                                " WHERE id = $1::bigint", 1, vals, lens, fmts) : NULL;
	pthread_mutex_unlock(&st->kdb_lock);
	if (r && PQntuples(r) == 1) {
		if (PQgetisnull(r, 0, 3)) {
			rc = 1;
		} else {
			snprintf(tenant, tlen, "%s", PQgetvalue(r, 0, 0));
			snprintf(category, clen, "%s", PQgetvalue(r, 0, 1));
			snprintf(period, 8, "%s", PQgetvalue(r, 0, 2));
			rc = keyring_unwrap(kr, id, (const unsigned char *)PQgetvalue(r, 0, 3), (size_t)PQgetlength(r, 0, 3), dk) ? -1 : 0;
		}
	}
	PQclear(r);
	return rc;
}

/* ---- the root key ------------------------------------------------------- */

static int root_attach(PGconn *c, struct keyring *kr, char *err, size_t errlen)
{
	PGresult *r = store_pg_exec(c, "SELECT wrapped FROM key_root WHERE id = 1", 0, NULL, NULL, NULL);
	if (!r) {
		util_err(err, errlen, "cannot read the root key: %s", PQerrorMessage(c));
		return -1;
	}
	int rc = 0;
	if (PQntuples(r) == 0) {
		unsigned char w[CRYPTO_WRAPPED_BYTES];
		char cb[8];
		store_pg_put64(cb, util_now_ms());
		const char *vals[2] = { (const char *)w, cb };
		const int lens[2] = { CRYPTO_WRAPPED_BYTES, 8 }, fmts[2] = { 1, 1 };
		PGresult *ins = NULL;
		if (keyring_wrap_root(kr, w) ||
		    !(ins = store_pg_exec(c, "INSERT INTO key_root (id, wrapped, created_ms)"
		                          " VALUES (1, $1, $2::bigint)", 2, vals, lens, fmts))) {
			util_err(err, errlen, "cannot store the root key: %s", PQerrorMessage(c));
			rc = -1;
		}
		PQclear(ins);
	} else if (keyring_load_root(kr, (const unsigned char *)PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0))) {
		util_err(err, errlen, "the master key does not open this database "
		         "(wrong key file, or one rotated away)");
		rc = -1;
	}
	PQclear(r);
	return rc;
}

enum rd_err store_pg_keyring_attach(struct store *st, struct keyring *kr, char *err, size_t errlen)
{
	char lock[96];
	int rc = -1;
	snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d, 0)", STORE_PG_LOCK_ROOT);
	pthread_mutex_lock(&st->kdb_lock);
	PGconn *c = key_conn(st);
	if (!c) {
		util_err(err, errlen, "cannot connect to postgresql (%s)", st->pg->masked);
	} else if (store_pg_cmd(c, "BEGIN") || store_pg_cmd(c, lock)) {
		util_err(err, errlen, "cannot lock the root key: %s", PQerrorMessage(c));
		store_pg_cmd(c, "ROLLBACK");
	} else if (root_attach(c, kr, err, errlen) || store_pg_cmd(c, "COMMIT")) {
		store_pg_cmd(c, "ROLLBACK");
	} else {
		rc = 0;
	}
	pthread_mutex_unlock(&st->kdb_lock);
	return rc == 0 ? RD_OK : RD_E_STORAGE;
}
