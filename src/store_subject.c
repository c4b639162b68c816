/*
 * store_subject.c — records by conversation and by subject, for subject
 * requests (export, erasure): the conversations a subject is linked to,
 * and a conversation's count and deletion (store.h).
 *
 * Workload: rare, operator-driven; a few conversations per request, each
 * found through the conversation index plus its short unindexed tail
 * (STORE_CONV_IDS_SQL).
 */
#include "store_int.h"
#include "log.h"

#include <string.h>

enum rd_err store_subject_conversations(struct store_tx *tx, const char *tenant,
                                        const unsigned char subject[CRYPTO_HASH_BYTES],
                                        store_hash_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_subject_conversations(tx, tenant, subject, fn, ctx);
	sqlite3_stmt *s;
	enum rd_err rc = RD_OK;
	int step;
	if (sqlite3_prepare_v2(tx->db, "SELECT DISTINCT conv_hash FROM subjects WHERE tenant = ? AND "
	                       "subject_hash = ?", -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, subject, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	while (rc == RD_OK && (step = sqlite3_step(s)) == SQLITE_ROW)
		if (sqlite3_column_bytes(s, 0) == CRYPTO_HASH_BYTES)
			rc = fn(sqlite3_column_blob(s, 0), ctx);
	if (rc == RD_OK && step != SQLITE_DONE)
		rc = RD_E_STORAGE;
	sqlite3_finalize(s);
	return rc;
}

/* A new link is named by the newest message of its conversation
 * (STORE_LINKS_CARRY_SQL's invariant). A conversation without messages is
 * not linked: nothing could name the link, and no erasure or purge of the
 * conversation would find it (a hold links conversations it found through
 * links, which have messages). */
enum rd_err store_subject_link(struct store_tx *tx, const char *tenant,
                               const unsigned char subject[CRYPTO_HASH_BYTES],
                               const unsigned char conv_hash[CRYPTO_HASH_BYTES])
{
	if (tx->pg)
		return store_pg_subject_link(tx, tenant, subject, conv_hash);
	static const char *const sql[2] = {
		"INSERT OR IGNORE INTO msg_subjects (msg_id, subject_hash)"
		" SELECT m, ?3 FROM (SELECT max(msg_id) AS m FROM " STORE_CONV_IDS_SQL ")"
		" WHERE m IS NOT NULL",
		"INSERT OR IGNORE INTO subjects (subject_hash, tenant, conv_hash)"
		" SELECT ?3, ?1, ?2 WHERE EXISTS " STORE_CONV_IDS_SQL,
	};
	int rc = SQLITE_DONE;
	for (size_t i = 0; i < 2 && rc == SQLITE_DONE; i++) {
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(tx->db, sql[i], -1, &s, NULL) != SQLITE_OK)
			return store_db_err(tx->db);
		sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, conv_hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, subject, CRYPTO_HASH_BYTES, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
	}
	return rc == SQLITE_DONE ? RD_OK : store_db_err(tx->db);
}

enum rd_err store_subject_unlink(struct store_tx *tx, const char *tenant,
                                 const unsigned char subject[CRYPTO_HASH_BYTES],
                                 const unsigned char conv_hash[CRYPTO_HASH_BYTES])
{
	if (tx->pg)
		return store_pg_subject_unlink(tx, tenant, subject, conv_hash);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(tx->db, "DELETE FROM subjects WHERE subject_hash = ?1 AND tenant = ?2"
	                       " AND conv_hash = ?3", -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_blob(s, 1, subject, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, conv_hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? RD_OK : store_db_err(tx->db);
}

/* Slices are ranges of subjects' primary key, (subject_hash, tenant,
 * conv_hash): each ends at the key STORE_LINKS_NAME_SLICE rows after the
 * end of the one before (found by a walk of the key's index), the last one
 * at a key above every other (a 33-byte hash). */
static void values_free(sqlite3_value *v[3])
{
	for (int k = 0; k < 3; k++) {
		sqlite3_value_free(v[k]);
		v[k] = NULL;
	}
}

int store_links_name_all(sqlite3 *db)
{
	static const unsigned char top[CRYPTO_HASH_BYTES + 1] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	sqlite3_stmt *end = NULL, *name = NULL;
	sqlite3_value *lo[3] = { NULL, NULL, NULL };
	int rc = -1;
	if (sqlite3_prepare_v2(db, "SELECT subject_hash, tenant, conv_hash FROM subjects"
	                       " WHERE (subject_hash, tenant, conv_hash) > (?1, ?2, ?3)"
	                       " ORDER BY subject_hash, tenant, conv_hash LIMIT 1 OFFSET ?4",
	                       -1, &end, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, STORE_LINKS_NAME_SQL, -1, &name, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int(end, 4, STORE_LINKS_NAME_SLICE - 1);
	for (bool last = false; !last;) {
		/* Both start above lo; the first slice above the empty key. */
		for (int k = 0; k < 3; k++) {
			if (lo[k]) {
				sqlite3_bind_value(end, k + 1, lo[k]);
				sqlite3_bind_value(name, k + 1, lo[k]);
			} else {
				sqlite3_bind_zeroblob(end, k + 1, 0);
				sqlite3_bind_zeroblob(name, k + 1, 0);
			}
		}
		int step = sqlite3_step(end);
		if (step == SQLITE_ROW) {
			for (int k = 0; k < 3; k++)
				sqlite3_bind_value(name, k + 4, sqlite3_column_value(end, k));
		} else if (step == SQLITE_DONE) {
			last = true;
			sqlite3_bind_blob(name, 4, top, sizeof top, SQLITE_STATIC);
			sqlite3_bind_text(name, 5, "", 0, SQLITE_STATIC);
			sqlite3_bind_blob(name, 6, "", 0, SQLITE_STATIC);
		} else {
			goto out;
		}
		if (sqlite3_step(name) != SQLITE_DONE)
			goto out;
		sqlite3_reset(name);
		/* The next slice starts above this one's end. */
		values_free(lo);
		for (int k = 0; !last && k < 3; k++)
			if (!(lo[k] = sqlite3_value_dup(sqlite3_column_value(end, k))))
				goto out;
		sqlite3_reset(end);
	}
	rc = 0;
out:
	values_free(lo);
	sqlite3_finalize(end);
	sqlite3_finalize(name);
	return rc;
}

int store_links_release_prepare(sqlite3 *db, struct store_links_release *r)
{
	*r = (struct store_links_release){ 0 };
	if (sqlite3_prepare_v2(db, STORE_LINKS_CARRY_SQL, -1, &r->carry, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, STORE_LINKS_DROP_SQL, -1, &r->drop, NULL) != SQLITE_OK) {
		store_links_release_finalize(r);
		return -1;
	}
	return 0;
}

static int release_step(sqlite3_stmt *s, const char *tenant, const unsigned char *conv_hash,
                        int64_t id)
{
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, conv_hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, id);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_links_release_run(struct store_links_release *r, const char *tenant,
                            const unsigned char conv_hash[CRYPTO_HASH_BYTES], int64_t id)
{
	return release_step(r->carry, tenant, conv_hash, id) ||
	       release_step(r->drop, tenant, conv_hash, id) ? -1 : 0;
}

void store_links_release_finalize(struct store_links_release *r)
{
	sqlite3_finalize(r->carry);
	sqlite3_finalize(r->drop);
	r->carry = r->drop = NULL;
}

/* Runs a statement with (tenant, conv_hash) bound; *out gets the rows
 * changed, or for a SELECT the first column. */
static enum rd_err run_conv(struct store_tx *tx, const char *sql, const char *tenant,
                            const unsigned char *h, int64_t *out)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(tx->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, h, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (out)
		*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : sqlite3_changes(tx->db);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? RD_OK : store_db_err(tx->db);
}

enum rd_err store_conversation_count(struct store_tx *tx, const char *tenant,
                                     const unsigned char conv_hash[CRYPTO_HASH_BYTES], int64_t *n)
{
	if (tx->pg)
		return store_pg_conversation_count(tx, tenant, conv_hash, n);
	return run_conv(tx, "SELECT count(*) FROM messages WHERE id IN " STORE_CONV_IDS_SQL, tenant,
	                conv_hash, n);
}

enum rd_err store_conversation_delete(struct store_tx *tx, const char *tenant,
                                      const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                      int64_t *removed)
{
	if (tx->pg)
		return store_pg_conversation_delete(tx, tenant, conv_hash, removed);
	/* The links first: its messages name them. */
	enum rd_err rc = run_conv(tx, STORE_LINKS_DROP_CONV_SQL, tenant, conv_hash, NULL);
	if (rc == RD_OK)
		rc = run_conv(tx, "DELETE FROM messages WHERE id IN " STORE_CONV_IDS_SQL, tenant,
		              conv_hash, removed);
	return rc;
}
