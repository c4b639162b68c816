/*
 * store_pg_audit.c — the audit log's rows on PostgreSQL (store_audit.h).
 *
 * Chains: audit_log is keyed (chain, seq), with a chain per tenant and
 * one for the system (''); audit_chains keeps each chain's high mark (the
 * highest seq ever handed out, SQLite's sqlite_sequence) and its purge
 * checkpoint. The chain of a tx is the one store_audit_use_chain set on
 * it (audit.c does, for an entry about a tenant); counts and the newest
 * action's time span every chain.
 *
 * Appends from several redactd processes: audit.c reads the head and the
 * high mark, then inserts seq + 1 with the head's hash. Under READ
 * COMMITTED two writers would read the same head. So the head read of a
 * write transaction first takes pg_advisory_xact_lock on the chain, held
 * until that transaction ends: appends to one chain are serialised across
 * every node, and each sees the previous one's committed entry (READ
 * COMMITTED takes a new snapshot per statement, after the lock).
 */
#include "store_pg_int.h"
#include "store_audit.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The chain tx appends to and reads. */
static const char *chain_of(const struct store_tx *tx)
{
	return tx->audit_chain ? tx->audit_chain : "";
}

static int lock_chain(struct store_tx *tx)
{
	const char *vals[1] = { chain_of(tx) };
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%d, hashtext($1))", STORE_PG_LOCK_AUDIT);
	PGresult *r = store_pg_exec(tx->pg->c, sql, 1, vals, NULL, NULL);
	PQclear(r);
	return r ? 0 : -1;
}

/* One row of (int8, optional hash) with the chain as $1 and an optional
 * int8 as $2: *v (0 when no row) and the hash when whole. */
static enum rd_err one_row(struct store_tx *tx, const char *sql, const int64_t *arg, int64_t *v,
                           unsigned char *hash)
{
	char a[8];
	const char *vals[2] = { chain_of(tx), a };
	const int lens[2] = { 0, 8 }, fmts[2] = { 0, 1 };
	if (arg)
		store_pg_put64(a, *arg);
	PGresult *r = store_pg_exec(tx->pg->c, sql, arg ? 2 : 1, vals, lens, fmts);
	if (!r)
		return RD_E_STORAGE;
	*v = 0;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) &&
	    (!hash || PQgetlength(r, 0, 1) == STORE_AUDIT_HASH_BYTES)) {
		*v = store_pg_get64(r, 0, 0);
		if (hash)
			memcpy(hash, PQgetvalue(r, 0, 1), STORE_AUDIT_HASH_BYTES);
	}
	PQclear(r);
	return RD_OK;
}

enum rd_err store_pg_audit_checkpoint(struct store_tx *tx, int64_t *seq, unsigned char hash[32])
{
	memset(hash, 0, STORE_AUDIT_HASH_BYTES);
	return one_row(tx, "SELECT checkpoint_seq, checkpoint_hash FROM audit_chains WHERE chain = $1"
	               " AND checkpoint_seq IS NOT NULL", NULL, seq, hash);
}

enum rd_err store_pg_audit_high_mark(struct store_tx *tx, int64_t *seq)
{
	return one_row(tx, "SELECT high_mark FROM audit_chains WHERE chain = $1", NULL, seq, NULL);
}

enum rd_err store_pg_audit_head(struct store_tx *tx, int64_t *seq, unsigned char hash[32])
{
	if (tx->write && lock_chain(tx))
		return RD_E_STORAGE;
	*seq = 0;
	enum rd_err rc = one_row(tx, "SELECT seq, hash FROM audit_log WHERE chain = $1"
	                         " ORDER BY seq DESC LIMIT 1", NULL, seq, hash);
	if (rc != RD_OK || *seq > 0)
		return rc;
	return store_pg_audit_checkpoint(tx, seq, hash);
}

enum rd_err store_pg_audit_insert(struct store_tx *tx, const struct store_audit_entry *e)
{
	char seq[8], ts[8], count[8];
	store_pg_put64(seq, e->seq);
	store_pg_put64(ts, e->ts_ms);
	store_pg_put64(count, e->count);
	const char *vals[9] = { chain_of(tx), seq, ts, e->actor, e->action, e->target, count,
	                        (const char *)e->prev, (const char *)e->hash };
	const int lens[9] = { 0, 8, 8, 0, 0, 0, 8, (int)e->prev_len, (int)e->hash_len };
	const int fmts[9] = { 0, 1, 1, 0, 0, 0, 1, 1, 1 };
	PGresult *r = store_pg_exec(tx->pg->c,
		"WITH e AS (INSERT INTO audit_log (chain, seq, ts_ms, actor, action, target, count,"
		" prev_hash, hash) VALUES ($1, $2::bigint, $3::bigint, $4, $5, $6, $7::bigint, $8, $9)"
		" RETURNING chain, seq)"
		" INSERT INTO audit_chains (chain, high_mark) SELECT chain, seq FROM e"
		" ON CONFLICT (chain) DO UPDATE SET high_mark ="
		" greatest(audit_chains.high_mark, excluded.high_mark)", 9, vals, lens, fmts);
	if (!r) {
		log_error("audit: append failed");
		return RD_E_STORAGE;
	}
	PQclear(r);
	return RD_OK;
}

enum rd_err store_pg_audit_each(struct store_tx *tx, int64_t since_ms, store_pg_audit_fn fn,
                                void *ctx)
{
	char since[8];
	store_pg_put64(since, since_ms);
	const char *vals[2] = { chain_of(tx), since };
	const int lens[2] = { 0, 8 }, fmts[2] = { 0, 1 };
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT seq, ts_ms, actor, action, target, count,"
	                            " prev_hash, hash FROM audit_log WHERE chain = $1 AND ts_ms >= $2::bigint"
	                            " ORDER BY seq", 2, vals, lens, fmts);
	if (!r)
		return RD_E_STORAGE;
	enum rd_err rc = RD_OK;
	for (int i = 0; i < PQntuples(r) && rc == RD_OK; i++) {
		struct store_audit_entry e = {
			.seq = store_pg_get64(r, i, 0), .ts_ms = store_pg_get64(r, i, 1),
			.actor = PQgetvalue(r, i, 2), .action = PQgetvalue(r, i, 3),
			.target = PQgetvalue(r, i, 4), .count = store_pg_get64(r, i, 5),
			.prev = (const unsigned char *)PQgetvalue(r, i, 6),
			.prev_len = (size_t)PQgetlength(r, i, 6),
			.hash = (const unsigned char *)PQgetvalue(r, i, 7),
			.hash_len = (size_t)PQgetlength(r, i, 7),
		};
		rc = fn(&e, ctx);
	}
	PQclear(r);
	return rc;
}

enum rd_err store_pg_audit_find_hash(struct store_tx *tx, const unsigned char *h, size_t n,
                                     int64_t *seq)
{
	const char *vals[2] = { chain_of(tx), (const char *)h };
	const int lens[2] = { 0, (int)n }, fmts[2] = { 0, 1 };
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT seq FROM audit_log WHERE chain = $1 AND hash = $2"
	                            " LIMIT 1", 2, vals, lens, fmts);
	if (!r)
		return RD_E_STORAGE;
	*seq = PQntuples(r) ? store_pg_get64(r, 0, 0) : 0;
	PQclear(r);
	return RD_OK;
}

enum rd_err store_pg_audit_last_before(struct store_tx *tx, int64_t before_ms, int64_t *seq,
                                       unsigned char hash[32])
{
	return one_row(tx, "SELECT seq, hash FROM audit_log WHERE chain = $1 AND ts_ms < $2::bigint"
	               " ORDER BY seq DESC LIMIT 1", &before_ms, seq, hash);
}

enum rd_err store_pg_audit_truncate(struct store_tx *tx, int64_t seq, const unsigned char hash[32],
                                    int64_t now_ms, int64_t *deleted)
{
	char s[8], now[8];
	store_pg_put64(s, seq);
	store_pg_put64(now, now_ms);
	const char *vals[4] = { chain_of(tx), s, (const char *)hash, now };
	const int lens[4] = { 0, 8, STORE_AUDIT_HASH_BYTES, 8 }, fmts[4] = { 0, 1, 1, 1 };
	*deleted = 0;
	PGresult *r = store_pg_exec(tx->pg->c, "DELETE FROM audit_log WHERE chain = $1 AND seq <= $2::bigint",
	                            2, vals, lens, fmts);
	if (!r)
		return RD_E_STORAGE;
	*deleted = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	r = store_pg_exec(tx->pg->c, "INSERT INTO audit_chains (chain, checkpoint_seq, checkpoint_hash,"
	                  " purged_ms) VALUES ($1, $2::bigint, $3, $4::bigint) ON CONFLICT (chain) DO UPDATE"
	                  " SET checkpoint_seq = excluded.checkpoint_seq, checkpoint_hash ="
	                  " excluded.checkpoint_hash, purged_ms = excluded.purged_ms", 4, vals, lens, fmts);
	PQclear(r);
	return r ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_pg_audit_count(struct store_tx *tx, int64_t *n)
{
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT count(*) FROM audit_log", 0, NULL, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	*n = store_pg_get64(r, 0, 0);
	PQclear(r);
	return RD_OK;
}

/* A chain "has or had entries" when it has a high mark (audit_chains
 * gets a row with its first append); the system's is always there. */
enum rd_err store_pg_audit_chains(struct store_tx *tx,
                                  enum rd_err (*fn)(const char *chain, void *ctx), void *ctx)
{
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT chain FROM audit_chains WHERE chain <> ''"
	                            " UNION SELECT DISTINCT chain FROM audit_log WHERE chain <> ''"
	                            " ORDER BY 1", 0, NULL, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	enum rd_err rc = fn(NULL, ctx);
	for (int i = 0; i < PQntuples(r) && rc == RD_OK; i++)
		rc = fn(PQgetvalue(r, i, 0), ctx);
	PQclear(r);
	return rc;
}

enum rd_err store_pg_audit_last_of(struct store_tx *tx, const char *const *actions, size_t n,
                                   int64_t *ts_ms)
{
	const char *vals[4] = { NULL, NULL, NULL, NULL };
	*ts_ms = 0;
	if (n > 4)
		return RD_E_STORAGE;
	for (size_t i = 0; i < n; i++)   /* the rest stay NULL: they match nothing */
		vals[i] = actions[i];
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT max(ts_ms) FROM audit_log"
	                            " WHERE action IN ($1, $2, $3, $4)", 4, vals, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	*ts_ms = store_pg_get64(r, 0, 0);
	PQclear(r);
	return RD_OK;
}
