/*
 * store_rectify.c — a message by record id, and its rewrite in place
 * (store_rectify.h).
 *
 * Workload: rare, operator-driven; one indexed probe (record_id is
 * UNIQUE) and one UPDATE. The row keeps its rowid, key and associated
 * data, so the conversation index and every other reference stay valid;
 * only the sealed text, the sealed document and the counts change.
 */
#include "store_int.h"
#include "store_rectify.h"
#include "store_pg_rights.h"

enum rd_err store_message_get(struct store_tx *tx, const char *tenant, const char *record_id,
                              store_row_fn fn, void *ctx)
{
	if (tx->pg)
		return store_pg_message_get(tx, tenant, record_id, fn, ctx);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(tx->db, "SELECT " STORE_ROW_COLS " FROM messages WHERE record_id = ?1"
	                       " AND tenant = ?2", -1, &s, NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	sqlite3_bind_text(s, 1, record_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tenant, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	enum rd_err rc = step == SQLITE_DONE ? RD_E_NOT_FOUND : RD_E_STORAGE;
	if (step == SQLITE_ROW) {
		struct store_row row;
		store_row_from(s, &row);
		rc = fn(&row, ctx);
	}
	sqlite3_finalize(s);
	return rc;
}

/* The rewritten message's subjects are linked to its conversation, and
 * it names them (STORE_LINKS_CARRY_SQL's invariant). */
static enum rd_err add_links(struct store_tx *tx, const struct store_rewrite *w)
{
	static const char *const sql[2] = {
		"INSERT OR IGNORE INTO subjects (subject_hash, tenant, conv_hash) VALUES (?1, ?2, ?3)",
		"INSERT OR IGNORE INTO msg_subjects (msg_id, subject_hash) VALUES (?4, ?1)",
	};
	sqlite3_stmt *s[2] = { NULL, NULL };
	int rc = SQLITE_DONE;
	for (size_t k = 0; k < 2; k++)
		if (sqlite3_prepare_v2(tx->db, sql[k], -1, &s[k], NULL) != SQLITE_OK)
			rc = SQLITE_ERROR;
	/* Both statements take the same four parameters (each uses some). */
	for (size_t i = 0; i < w->nsubjects && rc == SQLITE_DONE; i++) {
		for (size_t k = 0; k < 2 && rc == SQLITE_DONE; k++) {
			sqlite3_bind_blob(s[k], 1, w->subjects[i], CRYPTO_HASH_BYTES, SQLITE_STATIC);
			sqlite3_bind_text(s[k], 2, w->tenant, -1, SQLITE_STATIC);
			sqlite3_bind_blob(s[k], 3, w->conv_hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
			sqlite3_bind_int64(s[k], 4, w->rowid);
			rc = sqlite3_step(s[k]);
			sqlite3_reset(s[k]);
		}
	}
	enum rd_err out = rc == SQLITE_DONE ? RD_OK : store_db_err(tx->db);
	sqlite3_finalize(s[0]);
	sqlite3_finalize(s[1]);
	return out;
}

enum rd_err store_message_rewrite(struct store_tx *tx, const struct store_rewrite *w, bool *found)
{
	if (tx->pg)
		return store_pg_message_rewrite(tx, w, found);
	sqlite3_stmt *s;
	*found = false;
	if (sqlite3_prepare_v2(tx->db, "UPDATE messages SET text_ct = ?1, meta_ct = ?2, entity_counts = ?3"
	                       " WHERE id = ?4 AND record_id = ?5 AND key_id = ?6 AND tenant = ?7", -1,
	                       &s, NULL) != SQLITE_OK)
		return store_db_err(tx->db);
	sqlite3_bind_blob(s, 1, w->text_ct, (int)w->text_ct_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, w->meta_ct, (int)w->meta_ct_len, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, w->entity_counts, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, w->rowid);
	sqlite3_bind_text(s, 5, w->record_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, w->key_id);
	sqlite3_bind_text(s, 7, w->tenant, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_err(tx->db);
	*found = sqlite3_changes(tx->db) == 1;
	return *found ? add_links(tx, w) : RD_OK;
}
