/*
 * store_reseal.c — re-sealing rows of older databases under the associated
 * data of format 2 (issue 11, SPEC 2.2).
 *
 * Format 1 bound a field to its tenant, conversation hash, record id and
 * key, but not to role, channel, category or time: someone able to write
 * the database could move a record into another retention category, or
 * back in time, unnoticed. Format 2 binds them all (crypto_ad_build).
 * Schema step 5 records the format of a database (seal_format); a database
 * that already holds rows starts at 1, and store_keyring_attach, the first
 * place that has the master key, re-seals every row in its transaction:
 * open each field under format 1, seal it again under format 2 with a
 * fresh nonce, write it back. secure_delete overwrites the old ciphertext
 * in the page. Rows are taken in batches by rowid so the statement that
 * reads is never open while the rows it reads are rewritten.
 *
 * A row that already opens under format 2 is left alone, so setting the
 * format back to 1 in the database launders nothing: such a row would have
 * to open under format 1, which a format-2 ciphertext never does.
 */
#include "store_int.h"
#include "log.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define RESEAL_BATCH 256

int store_seal_format_read(sqlite3 *db, int *format, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc = SQLITE_ERROR;
	if (sqlite3_prepare_v2(db, "SELECT format FROM seal_format WHERE id = 1", -1, &s, NULL) ==
	    SQLITE_OK) {
		rc = sqlite3_step(s);
		*format = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
		sqlite3_finalize(s);
	}
	if (rc != SQLITE_ROW || (*format != 1 && *format != 2)) {
		util_err(err, errlen, "cannot read the seal format: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* One row as read for re-sealing (copies: the statement is gone by then). */
struct rrow {
	int64_t rowid, ts_ms, key_id;
	char id[RD_RECORD_ID_LEN + 1], tenant[RD_MAX_NAME_LEN + 1], category[RD_MAX_NAME_LEN + 1];
	char role[CRYPTO_AD_NAME_MAX + 1], channel[CRYPTO_AD_NAME_MAX + 1];
	unsigned char conv_hash[CRYPTO_HASH_BYTES];
	unsigned char *ct[3];
	size_t ct_len[3];
	bool bad;                       /* a column too long or the wrong size */
};

static const enum crypto_field rr_fields[3] = { FIELD_CONVERSATION, FIELD_TEXT, FIELD_META };

static void copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col, bool *bad)
{
	const char *v = (const char *)sqlite3_column_text(s, col);
	if (!v || strlen(v) >= cap) {
		*bad = true;
		v = "";
	}
	snprintf(dst, cap, "%s", v);
}

static int rrow_read(sqlite3_stmt *s, struct rrow *r)
{
	memset(r, 0, sizeof *r);
	r->rowid = sqlite3_column_int64(s, 0);
	copy_text(r->id, sizeof r->id, s, 1, &r->bad);
	copy_text(r->tenant, sizeof r->tenant, s, 2, &r->bad);
	if (sqlite3_column_bytes(s, 3) == CRYPTO_HASH_BYTES)
		memcpy(r->conv_hash, sqlite3_column_blob(s, 3), CRYPTO_HASH_BYTES);
	else
		r->bad = true;
	r->ts_ms = sqlite3_column_int64(s, 4);
	copy_text(r->role, sizeof r->role, s, 5, &r->bad);
	copy_text(r->channel, sizeof r->channel, s, 6, &r->bad);
	copy_text(r->category, sizeof r->category, s, 7, &r->bad);
	r->key_id = sqlite3_column_int64(s, 8);
	for (int i = 0; i < 3; i++) {
		size_t n = (size_t)sqlite3_column_bytes(s, 9 + i);
		if (n < CRYPTO_SEAL_OVERHEAD) {
			r->bad = true;
			continue;
		}
		if (!(r->ct[i] = malloc(n)))
			return -1;
		memcpy(r->ct[i], sqlite3_column_blob(s, 9 + i), n);
		r->ct_len[i] = n;
	}
	return 0;
}

static void rrow_free(struct rrow *r)
{
	for (int i = 0; i < 3; i++)
		free(r->ct[i]);
}

static void rrow_ad(const struct rrow *r, struct crypto_ad_row *a)
{
	*a = (struct crypto_ad_row){ .key_id = r->key_id, .tenant = r->tenant,
	                             .conv_hash = r->conv_hash, .record_id = r->id, .role = r->role,
	                             .channel = r->channel, .category = r->category,
	                             .ts_ms = r->ts_ms };
}

/* The next batch of rows after *after, by rowid. */
static int read_batch(sqlite3 *db, int64_t after, struct rrow *rows, size_t *n)
{
	sqlite3_stmt *s;
	int step;
	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, record_id, tenant, conv_hash, ts_ms, role, channel,"
	                       " category, key_id, conv_ct, text_ct, meta_ct FROM messages"
	                       " WHERE id > ?1 ORDER BY id LIMIT ?2", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int(s, 2, RESEAL_BATCH);
	while ((step = sqlite3_step(s)) == SQLITE_ROW)
		if (rrow_read(s, &rows[(*n)++])) {
			step = SQLITE_NOMEM;
			break;
		}
	sqlite3_finalize(s);
	return step == SQLITE_DONE ? 0 : -1;
}

/* The unwrapped data key of a row: 1 if it was destroyed (nothing to
 * re-seal: the row can never be read), -1 on error. */
static int row_key(sqlite3 *db, const struct keyring *kr, int64_t id,
                   unsigned char key[CRYPTO_KEY_BYTES])
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT wrapped FROM data_keys WHERE id = ?1", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s) == SQLITE_ROW ? 1 : -1;
	if (rc == 1 && sqlite3_column_type(s, 0) != SQLITE_NULL)
		rc = keyring_unwrap(kr, id, sqlite3_column_blob(s, 0),
		                    (size_t)sqlite3_column_bytes(s, 0), key) == 0 ? 0 : -1;
	sqlite3_finalize(s);
	return rc;
}

enum { RESEAL_DONE = 0, RESEAL_SKIPPED = 1, RESEAL_FORMAT2 = 2, RESEAL_BAD = 3 };

/* Opens the row's three fields under format 1 and seals them under
 * format 2 into out[] (malloc'd, same lengths). */
static int reseal_fields(const unsigned char *key, struct rrow *r, unsigned char *out[3])
{
	unsigned char ad1[CRYPTO_AD_MAX], ad2[CRYPTO_AD_MAX];
	struct crypto_ad_row a;
	int rc = RESEAL_DONE;
	rrow_ad(r, &a);
	for (int i = 0; i < 3 && rc == RESEAL_DONE; i++) {
		size_t l1 = crypto_ad_build_v1(ad1, rr_fields[i], &a);
		size_t l2 = crypto_ad_build(ad2, rr_fields[i], &a);
		size_t mlen = r->ct_len[i] - CRYPTO_SEAL_OVERHEAD;
		unsigned char *m = malloc(mlen + 1);
		out[i] = malloc(r->ct_len[i]);
		if (!m || !out[i]) {
			free(m);
			return -1;
		}
		if (!l1 || !l2 || crypto_open(key, ad1, l1, r->ct[i], r->ct_len[i], m) != 0)
			rc = l2 && crypto_open(key, ad2, l2, r->ct[i], r->ct_len[i], m) == 0 ? RESEAL_FORMAT2
			                                                                    : RESEAL_BAD;
		else
			crypto_seal(key, ad2, l2, m, mlen, out[i]);
		sodium_memzero(m, mlen);
		free(m);
	}
	return rc;
}

static int write_row(sqlite3 *db, const struct rrow *r, unsigned char *const ct[3])
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "UPDATE messages SET conv_ct = ?1, text_ct = ?2, meta_ct = ?3"
	                       " WHERE id = ?4", -1, &s, NULL) != SQLITE_OK)
		return -1;
	for (int i = 0; i < 3; i++)
		sqlite3_bind_blob(s, i + 1, ct[i], (int)r->ct_len[i], SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, r->rowid);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* One row: RESEAL_* or -1. */
static int reseal_row(sqlite3 *db, const struct keyring *kr, struct rrow *r)
{
	unsigned char key[CRYPTO_KEY_BYTES];
	unsigned char *out[3] = { NULL, NULL, NULL };
	if (r->bad)
		return RESEAL_BAD;
	int rc = row_key(db, kr, r->key_id, key);
	if (rc != 0)
		return rc == 1 ? RESEAL_SKIPPED : -1;
	rc = reseal_fields(key, r, out);
	sodium_memzero(key, sizeof key);
	if (rc == RESEAL_DONE && write_row(db, r, out))
		rc = -1;
	for (int i = 0; i < 3; i++)
		free(out[i]);
	return rc;
}

struct reseal_count {
	size_t n[4];
};

static int reseal_batches(sqlite3 *db, const struct keyring *kr, struct reseal_count *c)
{
	struct rrow *rows = calloc(RESEAL_BATCH, sizeof *rows);
	int64_t after = 0;
	size_t n = 0;
	int rc = rows ? 0 : -1;
	while (rc == 0 && (rc = read_batch(db, after, rows, &n)) == 0 && n > 0) {
		for (size_t i = 0; i < n && rc == 0; i++) {
			int r = reseal_row(db, kr, &rows[i]);
			if (r < 0)
				rc = -1;
			else
				c->n[r]++;
			if (r == RESEAL_BAD)
				log_error("store: record %s: ciphertext failed to authenticate while re-sealing"
				          " (left as it is; its reads fail)", rows[i].id);
		}
		after = rows[n - 1].rowid;
		for (size_t i = 0; i < n; i++)
			rrow_free(&rows[i]);
		n = 0;
	}
	for (size_t i = 0; i < n; i++)
		rrow_free(&rows[i]);
	free(rows);
	return rc;
}

int store_reseal(struct store *st, sqlite3 *db, const struct keyring *kr, char *err, size_t errlen)
{
	struct reseal_count c = { { 0 } };
	if (st->seal_format == 2)
		return 0;
	if (reseal_batches(db, kr, &c) ||
	    sqlite3_exec(db, "UPDATE seal_format SET format = 2 WHERE id = 1", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		util_err(err, errlen, "cannot re-seal the records under the new associated data: %s",
		         sqlite3_errmsg(db));
		return -1;
	}
	log_info("store: re-sealed %zu record(s) under seal format 2 (%zu already were, %zu with a"
	         " destroyed key, %zu failed to authenticate)", c.n[RESEAL_DONE], c.n[RESEAL_FORMAT2],
	         c.n[RESEAL_SKIPPED], c.n[RESEAL_BAD]);
	return 0;
}
