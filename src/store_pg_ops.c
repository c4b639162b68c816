/*
 * store_pg_ops.c — typed operations on PostgreSQL (subject links,
 * conversations, the replay register, restrictions, tenant closures): the
 * functions the public ones of store.h and store_*.h dispatch to when
 * tx->pg is set. Each public operation's first line sends a PostgreSQL
 * transaction here (or to a store_pg_<owner>.c beside it).
 */
#include "store_pg_int.h"
#include "store_tenant.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

/* (tenant, hash) parameters: text and binary. */
#define TH_PARAMS(tenant, h)                                                             \
	const char *vals[2] = { (tenant), (const char *)(h) };                               \
	const int lens[2] = { 0, CRYPTO_HASH_BYTES }, fmts[2] = { 0, 1 }

enum rd_err store_pg_subject_conversations(struct store_tx *tx, const char *tenant,
                                           const unsigned char subject[CRYPTO_HASH_BYTES],
                                           store_hash_fn fn, void *ctx)
{
	TH_PARAMS(tenant, subject);
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT DISTINCT conv_hash FROM subjects"
	                            " WHERE tenant = $1 AND subject_hash = $2", 2, vals, lens, fmts);
	if (!r)
		return RD_E_STORAGE;
	enum rd_err rc = RD_OK;
	for (int i = 0; i < PQntuples(r) && rc == RD_OK; i++)
		if (PQgetlength(r, i, 0) == CRYPTO_HASH_BYTES)
			rc = fn((const unsigned char *)PQgetvalue(r, i, 0), ctx);
	PQclear(r);
	return rc;
}

/* Runs sql with (tenant, subject, conv_hash) as $1, $2, $3. */
static enum rd_err run_link(struct store_tx *tx, const char *sql, const char *tenant,
                            const unsigned char *subject, const unsigned char *conv_hash)
{
	const char *vals[3] = { tenant, (const char *)subject, (const char *)conv_hash };
	const int lens[3] = { 0, CRYPTO_HASH_BYTES, CRYPTO_HASH_BYTES }, fmts[3] = { 0, 1, 1 };
	PGresult *r = store_pg_exec(tx->pg->c, sql, 3, vals, lens, fmts);
	PQclear(r);
	return r ? RD_OK : RD_E_STORAGE;
}

/* As on SQLite (store_subject_link): only a conversation that has a
 * message is linked. */
enum rd_err store_pg_subject_link(struct store_tx *tx, const char *tenant,
                                  const unsigned char subject[CRYPTO_HASH_BYTES],
                                  const unsigned char conv_hash[CRYPTO_HASH_BYTES])
{
	return run_link(tx, "INSERT INTO subjects (tenant, subject_hash, conv_hash)"
	                " SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM messages"
	                " WHERE tenant = $1 AND conv_hash = $3) ON CONFLICT DO NOTHING",
	                tenant, subject, conv_hash);
}

enum rd_err store_pg_subject_unlink(struct store_tx *tx, const char *tenant,
                                    const unsigned char subject[CRYPTO_HASH_BYTES],
                                    const unsigned char conv_hash[CRYPTO_HASH_BYTES])
{
	return run_link(tx, "DELETE FROM subjects WHERE tenant = $1 AND subject_hash = $2"
	                " AND conv_hash = $3", tenant, subject, conv_hash);
}

/* Runs sql with (tenant, conv_hash) as $1, $2; *out gets the first
 * column of a row, or the rows a command changed. */
static enum rd_err run_conv(struct store_tx *tx, const char *sql, const char *tenant,
                            const unsigned char *h, int64_t *out)
{
	TH_PARAMS(tenant, h);
	PGresult *r = store_pg_exec(tx->pg->c, sql, 2, vals, lens, fmts);
	if (!r)
		return RD_E_STORAGE;
	if (out)
		*out = PQresultStatus(r) == PGRES_TUPLES_OK ? (PQntuples(r) ? store_pg_get64(r, 0, 0) : 0)
		                                            : strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return RD_OK;
}

enum rd_err store_pg_conversation_count(struct store_tx *tx, const char *tenant,
                                        const unsigned char conv_hash[CRYPTO_HASH_BYTES], int64_t *n)
{
	return run_conv(tx, "SELECT count(*) FROM messages WHERE tenant = $1 AND conv_hash = $2",
	                tenant, conv_hash, n);
}

/* The replay register's rows go with their messages (SQLite does it with
 * a trigger): a delivery retried after an erasure is stored again. */
enum rd_err store_pg_conversation_delete(struct store_tx *tx, const char *tenant,
                                         const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                         int64_t *removed)
{
	enum rd_err rc = run_conv(tx, "DELETE FROM replay_ids r USING messages m WHERE r.tenant = $1"
	                          " AND m.tenant = $1 AND m.conv_hash = $2 AND r.msg_id = m.id",
	                          tenant, conv_hash, NULL);
	if (rc == RD_OK)
		rc = run_conv(tx, "DELETE FROM messages WHERE tenant = $1 AND conv_hash = $2", tenant,
		              conv_hash, removed);
	if (rc == RD_OK)
		rc = run_conv(tx, "DELETE FROM subjects WHERE tenant = $1 AND conv_hash = $2", tenant,
		              conv_hash, NULL);
	return rc;
}

enum rd_err store_pg_replay_count(struct store_tx *tx, int64_t *out)
{
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT count(*) FROM replay_ids", 0, NULL, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	*out = store_pg_get64(r, 0, 0);
	PQclear(r);
	return RD_OK;
}

/* STORE_PINNED_SQL of store_int.h, for restrictions. */
enum rd_err store_pg_restrict_check(struct store_tx *tx, const char *tenant,
                                    const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                    bool *restricted)
{
	int64_t n = 0;
	*restricted = false;
	enum rd_err rc = run_conv(tx,
		"SELECT count(*) FROM restrictions h WHERE h.tenant = $1 AND ("
		" (h.kind = 'conversation' AND h.target_hash = $2) OR"
		" (h.kind = 'subject' AND EXISTS (SELECT 1 FROM subjects s WHERE s.tenant = $1"
		"  AND s.subject_hash = h.target_hash AND s.conv_hash = $2)))", tenant, conv_hash, &n);
	*restricted = n > 0;
	return rc;
}

enum rd_err store_pg_closures(struct store_tx *tx, store_pg_closure_fn fn, void *ctx)
{
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT tenant, state, actor, requested_ms, due_ms,"
	                            " done_ms FROM tenant_closures ORDER BY tenant", 0, NULL, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	enum rd_err rc = RD_OK;
	for (int i = 0; i < PQntuples(r) && rc == RD_OK; i++) {
		struct store_closure c = {
			.tenant = PQgetvalue(r, i, 0), .state = PQgetvalue(r, i, 1),
			.actor = PQgetvalue(r, i, 2), .requested_ms = store_pg_get64(r, i, 3),
			.due_ms = store_pg_get64(r, i, 4), .done_ms = store_pg_get64(r, i, 5),
		};
		rc = fn(&c, ctx);
	}
	PQclear(r);
	return rc;
}
