/*
 * store_pg_rights.c — legal holds, restrictions and consent records on
 * PostgreSQL (store_pg_rights.h): the statements of store_holds.c,
 * store_restrict.c and store_consent.c in PostgreSQL's terms, with the
 * tenant first in every key and every value a parameter.
 *
 * Holds and restrictions have one shape (store_pins_*): the statements
 * of each table are written out, never built from its name. Consent rows
 * take their id from one sequence (consents_id_seq), so "the newest row"
 * means the same as SQLite's rowid order on every node sharing the
 * database; the table refuses UPDATE with a trigger, as SQLite's does.
 */
#include "store_pg_rights.h"
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- holds and restrictions ------------------------------------------------ */

#define PG_PIN_SQL(t)                                                                        \
	{ t,                                                                                     \
	  "INSERT INTO " t " (tenant, id, kind, target_hash, doc_ct, actor, created_ms)"         \
	  " VALUES ($1, $2, $3, $4, $5, $6, $7)",                                                 \
	  "DELETE FROM " t " WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)",                \
	  "SELECT id, tenant, kind, target_hash, doc_ct, actor, created_ms FROM " t               \
	  " WHERE $1::text IS NULL OR tenant = $1 ORDER BY created_ms, id" }
static const struct pg_pin_sql {
	const char *table, *insert, *del, *each;
} pg_pins[] = { PG_PIN_SQL("holds"), PG_PIN_SQL("restrictions") };

static const struct pg_pin_sql *pins_of(const char *table)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(pg_pins); i++)
		if (!strcmp(pg_pins[i].table, table))
			return &pg_pins[i];
	return NULL;
}

/* The rows a command changed. */
static int64_t changed(const PGresult *r)
{
	return strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
}

enum rd_err store_pg_pins_insert(struct store_tx *tx, const char *table, const struct store_hold *h)
{
	const struct pg_pin_sql *q = pins_of(table);
	char ts[8];
	if (!q || !h->target_hash || h->doc_len > INT32_MAX)
		return RD_E_INTERNAL;
	store_pg_put64(ts, h->created_ms);
	const char *vals[7] = { h->tenant, h->id,
	                        h->kind == STORE_HOLD_CONVERSATION ? "conversation" : "subject",
	                        (const char *)h->target_hash, (const char *)h->doc_ct, h->actor, ts };
	const int lens[7] = { 0, 0, 0, CRYPTO_HASH_BYTES, (int)h->doc_len, 0, 8 };
	const int fmts[7] = { 0, 0, 0, 1, 1, 0, 1 };
	PGresult *r = store_pg_exec(tx->pg->c, q->insert, 7, vals, lens, fmts);
	PQclear(r);
	return r ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_pg_pins_delete(struct store_tx *tx, const char *table, const char *id,
                                 const char *tenant, bool *found)
{
	const struct pg_pin_sql *q = pins_of(table);
	const char *vals[2] = { id, tenant };
	*found = false;
	if (!q)
		return RD_E_INTERNAL;
	PGresult *r = store_pg_exec(tx->pg->c, q->del, 2, vals, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	*found = changed(r) > 0;
	PQclear(r);
	return RD_OK;
}

enum rd_err store_pg_pins_each(struct store_tx *tx, const char *table, const char *tenant,
                               store_hold_fn fn, void *ctx)
{
	const struct pg_pin_sql *q = pins_of(table);
	const char *vals[1] = { tenant };
	if (!q)
		return RD_E_INTERNAL;
	PGresult *r = store_pg_exec(tx->pg->c, q->each, 1, vals, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	enum rd_err rc = RD_OK;
	for (int i = 0; i < PQntuples(r) && rc == RD_OK; i++) {
		const char *kind = PQgetvalue(r, i, 2);
		struct store_hold h = {
			.id = PQgetvalue(r, i, 0),
			.tenant = PQgetvalue(r, i, 1),
			.kind_name = kind,
			.kind = !strcmp(kind, "conversation") ? STORE_HOLD_CONVERSATION : STORE_HOLD_SUBJECT,
			.target_hash = PQgetlength(r, i, 3) == CRYPTO_HASH_BYTES
			               ? (const unsigned char *)PQgetvalue(r, i, 3) : NULL,
			.doc_ct = (const unsigned char *)PQgetvalue(r, i, 4),
			.doc_len = (size_t)PQgetlength(r, i, 4),
			.actor = PQgetvalue(r, i, 5),
			.created_ms = store_pg_get64(r, i, 6),
		};
		rc = fn(&h, ctx);
	}
	PQclear(r);
	return rc;
}

/* STORE_HELD_SQL of store_int.h: held directly, or through a held subject
 * linked to the conversation. */
enum rd_err store_pg_holds_held(struct store_tx *tx, const char *tenant,
                                const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *held)
{
	const char *vals[2] = { tenant, (const char *)conv_hash };
	const int lens[2] = { 0, CRYPTO_HASH_BYTES }, fmts[2] = { 0, 1 };
	*held = false;
	PGresult *r = store_pg_exec(tx->pg->c,
		"SELECT count(*) FROM holds h WHERE h.tenant = $1 AND ("
		" (h.kind = 'conversation' AND h.target_hash = $2) OR"
		" (h.kind = 'subject' AND EXISTS (SELECT 1 FROM subjects s WHERE s.tenant = $1"
		"  AND s.subject_hash = h.target_hash AND s.conv_hash = $2)))", 2, vals, lens, fmts);
	if (!r)
		return RD_E_STORAGE;
	*held = store_pg_get64(r, 0, 0) > 0;
	PQclear(r);
	return RD_OK;
}

/* *n gets column 0 of sql's one row (an int8), with n text parameters. */
static enum rd_err one_int(struct store_tx *tx, const char *sql, int n, const char *const *vals,
                           int64_t *out)
{
	PGresult *r = store_pg_exec(tx->pg->c, sql, n, vals, NULL, NULL);
	*out = 0;
	if (!r)
		return RD_E_STORAGE;
	if (PQntuples(r) == 1)
		*out = store_pg_get64(r, 0, 0);
	PQclear(r);
	return RD_OK;
}

enum rd_err store_pg_holds_count(struct store_tx *tx, int64_t *n)
{
	return one_int(tx, "SELECT count(*) FROM holds", 0, NULL, n);
}

/* ---- consent records ----------------------------------------------------------- */

enum rd_err store_pg_consent_insert(struct store_tx *tx, const struct store_consent *c, int64_t *id)
{
	char ts[8], rec[8];
	if (!c->target_hash)
		return RD_E_INTERNAL;
	store_pg_put64(ts, c->ts_ms);
	store_pg_put64(rec, c->recorded_ms);
	const char *vals[9] = { c->tenant, c->subject ? "subject" : "conversation",
	                        (const char *)c->target_hash, c->kind, c->state, c->method, c->source,
	                        ts, rec };
	const int lens[9] = { 0, 0, CRYPTO_HASH_BYTES, 0, 0, 0, 0, 8, 8 };
	const int fmts[9] = { 0, 0, 1, 0, 0, 0, 0, 1, 1 };
	PGresult *r = store_pg_exec(tx->pg->c, "INSERT INTO consents (tenant, id, scope, target_hash,"
	                            " kind, state, method, source, ts_ms, recorded_ms) VALUES ($1,"
	                            " nextval('consents_id_seq'), $2, $3, $4, $5, $6, $7, $8, $9)"
	                            " RETURNING id", 9, vals, lens, fmts);
	if (!r)
		return RD_E_STORAGE;
	*id = PQntuples(r) == 1 ? store_pg_get64(r, 0, 0) : 0;
	PQclear(r);
	return *id > 0 ? RD_OK : RD_E_STORAGE;
}

#define PG_LATEST_TARGETS 8

/* As store_consent.c: one statement for up to 8 targets at a time, unused
 * slots NULL (which IN never matches). */
enum rd_err store_pg_consent_latest(struct store_tx *tx, const char *tenant,
                                    const unsigned char (*targets)[CRYPTO_HASH_BYTES], size_t n,
                                    const char *const *kinds, size_t nkinds,
                                    struct store_consent_latest *out)
{
	if (nkinds == 0 || nkinds > 2)
		return RD_E_INTERNAL;
	for (size_t at = 0; at < n; at += PG_LATEST_TARGETS) {
		const char *vals[3 + PG_LATEST_TARGETS] = { tenant, kinds[0], kinds[nkinds - 1] };
		int lens[3 + PG_LATEST_TARGETS] = { 0 }, fmts[3 + PG_LATEST_TARGETS] = { 0 };
		for (size_t i = 0; i < PG_LATEST_TARGETS && at + i < n; i++) {
			vals[3 + i] = (const char *)targets[at + i];
			lens[3 + i] = CRYPTO_HASH_BYTES;
			fmts[3 + i] = 1;
		}
		PGresult *r = store_pg_exec(tx->pg->c, "SELECT id, kind, state, ts_ms FROM consents"
		                            " WHERE tenant = $1 AND kind IN ($2, $3)"
		                            " AND target_hash IN ($4, $5, $6, $7, $8, $9, $10, $11)"
		                            " ORDER BY id DESC LIMIT 1", 3 + PG_LATEST_TARGETS, vals, lens,
		                            fmts);
		if (!r)
			return RD_E_STORAGE;
		if (PQntuples(r) == 1 && store_pg_get64(r, 0, 0) > out->id) {
			out->id = store_pg_get64(r, 0, 0);
			out->ts_ms = store_pg_get64(r, 0, 3);
			snprintf(out->kind, sizeof out->kind, "%s", PQgetvalue(r, 0, 1));
			snprintf(out->state, sizeof out->state, "%s", PQgetvalue(r, 0, 2));
		}
		PQclear(r);
	}
	return RD_OK;
}

enum rd_err store_pg_consent_refusals(struct store_tx *tx, const char *const *kinds, size_t nkinds,
                                      bool *any)
{
	int64_t v = 0;
	*any = false;
	if (nkinds == 0 || nkinds > 2)
		return RD_E_INTERNAL;
	const char *vals[2] = { kinds[0], kinds[nkinds - 1] };
	enum rd_err rc = one_int(tx, "SELECT count(*) FROM (SELECT 1 FROM consents WHERE kind IN ($1, $2)"
	                         " AND state <> 'given' LIMIT 1) x", 2, vals, &v);
	*any = v > 0;
	return rc;
}

enum rd_err store_pg_consent_each(struct store_tx *tx, const char *tenant,
                                  const unsigned char target[CRYPTO_HASH_BYTES],
                                  store_consent_fn fn, void *ctx)
{
	const char *vals[2] = { tenant, (const char *)target };
	const int lens[2] = { 0, CRYPTO_HASH_BYTES }, fmts[2] = { 0, 1 };
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT id, tenant, scope, target_hash, kind, state,"
	                            " method, source, ts_ms, recorded_ms FROM consents"
	                            " WHERE tenant = $1 AND target_hash = $2 ORDER BY id", 2, vals, lens,
	                            fmts);
	if (!r)
		return RD_E_STORAGE;
	enum rd_err rc = RD_OK;
	for (int i = 0; i < PQntuples(r) && rc == RD_OK; i++) {
		struct store_consent c = {
			.id = store_pg_get64(r, i, 0),
			.tenant = PQgetvalue(r, i, 1),
			.subject = !strcmp(PQgetvalue(r, i, 2), "subject"),
			.target_hash = PQgetlength(r, i, 3) == CRYPTO_HASH_BYTES
			               ? (const unsigned char *)PQgetvalue(r, i, 3) : NULL,
			.kind = PQgetvalue(r, i, 4),
			.state = PQgetvalue(r, i, 5),
			.method = PQgetvalue(r, i, 6),
			.source = PQgetvalue(r, i, 7),
			.ts_ms = store_pg_get64(r, i, 8),
			.recorded_ms = store_pg_get64(r, i, 9),
		};
		rc = fn(&c, ctx);
	}
	PQclear(r);
	return rc;
}

enum rd_err store_pg_consent_delete(struct store_tx *tx, const char *tenant,
                                    const unsigned char target[CRYPTO_HASH_BYTES], int64_t *n)
{
	const char *vals[2] = { tenant, (const char *)target };
	const int lens[2] = { 0, CRYPTO_HASH_BYTES }, fmts[2] = { 0, 1 };
	*n = 0;
	PGresult *r = store_pg_exec(tx->pg->c, "DELETE FROM consents WHERE tenant = $1 AND"
	                            " target_hash = $2", 2, vals, lens, fmts);
	if (!r)
		return RD_E_STORAGE;
	*n = changed(r);
	PQclear(r);
	return RD_OK;
}
