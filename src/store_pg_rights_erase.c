/*
 * store_pg_rights_erase.c — the erasure journal and rectification on
 * PostgreSQL (store_pg_rights.h): the statements of store_journal.c and
 * store_rectify.c in PostgreSQL's terms.
 *
 * The journal: erasure_journal is keyed (tenant, seq), seq from one
 * sequence (erasure_journal_seq), so it is never reused and orders the
 * entries of every node sharing the database, as SQLite's AUTOINCREMENT
 * does; journal_state keeps the highest seq expired. An entry is written
 * in the erasure's own transaction (the writer's, on the node that
 * erased), so both commit or neither does.
 *
 * Rectification rewrites a message's sealed text, document and counts in
 * place (same id, key and associated data). PostgreSQL keeps the old row
 * version until VACUUM, and in WAL, archives and backups: the old
 * ciphertext is then readable by whoever holds the master key until its
 * data key is destroyed (README, "Shredding on PostgreSQL").
 */
#include "store_pg_rights.h"
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rd_err store_pg_journal_append(struct store_tx *tx, const char *kind, const char *tenant,
                                    const void *target, size_t len, int64_t ts_ms)
{
	char ts[8];
	store_pg_put64(ts, ts_ms);
	const char *vals[4] = { tenant, ts, kind, target };
	const int lens[4] = { 0, 8, 0, (int)len }, fmts[4] = { 0, 1, 0, 1 };
	/* Shared until the erasure commits: a backup's snapshot starts only
	 * when no entry is in flight (STORE_PG_LOCK_JOURNAL). */
	char lock[64];
	snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock_shared(%d, 0)", STORE_PG_LOCK_JOURNAL);
	if (store_pg_cmd(tx->pg->c, lock))
		return RD_E_STORAGE;
	PGresult *r = store_pg_exec(tx->pg->c, "INSERT INTO erasure_journal (tenant, seq, ts_ms, kind,"
	                            " target) VALUES ($1, nextval('erasure_journal_seq'), $2, $3, $4)",
	                            4, vals, lens, fmts);
	PQclear(r);
	return r ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_pg_journal_expire(struct store_tx *tx, int64_t before_ms, int64_t *removed)
{
	static const char *const sql[2] = {
		"UPDATE journal_state SET expired_upto = greatest(expired_upto, coalesce((SELECT max(seq)"
		" FROM erasure_journal WHERE ts_ms < $1), 0)) WHERE id = 1",
		"DELETE FROM erasure_journal WHERE ts_ms < $1",
	};
	char b[8];
	const char *vals[1] = { b };
	const int lens[1] = { 8 }, fmts[1] = { 1 };
	store_pg_put64(b, before_ms);
	*removed = 0;
	for (size_t i = 0; i < 2; i++) {
		PGresult *r = store_pg_exec(tx->pg->c, sql[i], 1, vals, lens, fmts);
		if (!r)
			return RD_E_STORAGE;
		if (i == 1)
			*removed = strtoll(PQcmdTuples(r), NULL, 10);
		PQclear(r);
	}
	return RD_OK;
}

enum rd_err store_pg_journal_count(struct store_tx *tx, int64_t *n)
{
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT count(*) FROM erasure_journal", 0, NULL, NULL,
	                            NULL);
	*n = 0;
	if (!r)
		return RD_E_STORAGE;
	*n = store_pg_get64(r, 0, 0);
	PQclear(r);
	return RD_OK;
}

/* ---- rectification ------------------------------------------------------------ */

/* messages_record (tenant, record_id) finds the row in whichever month's
 * partition holds it. */
enum rd_err store_pg_message_get(struct store_tx *tx, const char *tenant, const char *record_id,
                                 store_row_fn fn, void *ctx)
{
	const char *vals[2] = { tenant, record_id };
	PGresult *r = store_pg_exec(tx->pg->c, "SELECT " STORE_ROW_COLS " FROM messages"
	                            " WHERE tenant = $1 AND record_id = $2", 2, vals, NULL, NULL);
	if (!r)
		return RD_E_STORAGE;
	enum rd_err rc = RD_E_NOT_FOUND;
	if (PQntuples(r) > 0) {
		struct store_row row;
		store_pg_row_from(r, 0, &row);
		rc = fn(&row, ctx);
	}
	PQclear(r);
	return rc;
}

enum rd_err store_pg_message_rewrite(struct store_tx *tx, const struct store_rewrite *w,
                                     bool *found)
{
	char id[8], key[8];
	*found = false;
	if (w->text_ct_len > INT32_MAX || w->meta_ct_len > INT32_MAX)
		return RD_E_INTERNAL;
	store_pg_put64(id, w->rowid);
	store_pg_put64(key, w->key_id);
	const char *vals[7] = { (const char *)w->text_ct, (const char *)w->meta_ct, w->entity_counts,
	                        id, w->record_id, key, w->tenant };
	const int lens[7] = { (int)w->text_ct_len, (int)w->meta_ct_len, 0, 8, 0, 8, 0 };
	const int fmts[7] = { 1, 1, 0, 1, 0, 1, 0 };
	PGresult *r = store_pg_exec(tx->pg->c, "UPDATE messages SET text_ct = $1, meta_ct = $2,"
	                            " entity_counts = $3 WHERE tenant = $7 AND id = $4"
	                            " AND record_id = $5 AND key_id = $6", 7, vals, lens, fmts);
	if (!r)
		return RD_E_STORAGE;
	*found = strtoll(PQcmdTuples(r), NULL, 10) == 1;
	PQclear(r);
	enum rd_err rc = RD_OK;
	for (size_t i = 0; *found && rc == RD_OK && i < w->nsubjects; i++)
		rc = store_pg_subject_link(tx, w->tenant, w->subjects[i], w->conv_hash);
	return rc;
}
