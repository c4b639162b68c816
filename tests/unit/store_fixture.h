/*
 * store_fixture.h — what the store's unit tests share: a temp directory,
 * keyrings, stores on real SQLite files, sealed records to submit, reading
 * them back, and looking at the files with sqlite3 (tests may; src/ may
 * not, outside the store).
 */
#ifndef REDACTD_STORE_FIXTURE_H
#define REDACTD_STORE_FIXTURE_H

#include "store.h"
#include "harness.h"
#include "util.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXTURE static __attribute__((unused))

#define JAN_2020 1577880000000LL   /* 2020-01-01T12:00:00Z */
#define FEB_2020 1580558400000LL   /* 2020-02-01T12:00:00Z */
#define MAR_2020 1583064000000LL   /* 2020-03-01T12:00:00Z */
#define CONVIDX_IDLE_MS_FOR_TEST 1000 /* store_int.h CONVIDX_IDLE_MS */

FIXTURE struct keyring *kr1, *kr2;   /* set by main */

/* ---- helpers ------------------------------------------------------------- */

FIXTURE const char *tmp(const char *name)
{
	static char bufs[8][512];
	static int i;
	char *p = bufs[i++ % 8];
	snprintf(p, 512, "%s/%s", TEST_TMPDIR(), name);
	return p;
}

FIXTURE struct keyring *new_keyring(const char *name)
{
	char err[256];
	struct keyring *kr = NULL;
	if (crypto_keygen_file(tmp(name), err, sizeof err) ||
	    keyring_load(tmp(name), &kr, err, sizeof err)) {
		fprintf(stderr, "keyring: %s\n", err);
		exit(2);
	}
	return kr;
}

FIXTURE struct store *open_store(const char *name, int queue, bool ro, const char *keys_from)
{
	struct store_options o = { .sync_full = true, .queue_size = queue, .batch_max = 256,
	                           .readonly = ro, .keys_from = keys_from };
	struct store *st = NULL;
	char err[256];
	if (store_open(tmp(name), &o, &st, err, sizeof err)) {
		fprintf(stderr, "store_open %s: %s\n", name, err);
		return NULL;
	}
	return st;
}

/* A record with its sealed fields (the buffers the store borrows). */
struct trec {
	struct store_record r;
	char tenant[16];
	unsigned char conv[64], text[256 + CRYPTO_SEAL_OVERHEAD], meta[64];
	unsigned char subj[1][CRYPTO_HASH_BYTES];
};

FIXTURE void conv_hash(const char *tenant, const char *conv, unsigned char h[CRYPTO_HASH_BYTES])
{
	unsigned char lk[CRYPTO_KEY_BYTES];
	keyring_subkey(kr1, SUBKEY_LOOKUP, lk);
	crypto_conversation_hash(lk, tenant, conv, strlen(conv), h);
	sodium_memzero(lk, sizeof lk);
}

FIXTURE bool seal_v1;   /* make_rec seals under format 1, as before issue 11 */
FIXTURE const char *rec_category;   /* make_rec's category; NULL: "chat" */

FIXTURE size_t seal(const unsigned char *key, enum crypto_field f, const struct store_record *r,
                   const char *m, unsigned char *out)
{
	unsigned char ad[CRYPTO_AD_MAX];
	struct crypto_ad_row a;
	store_record_ad(r, &a);
	size_t adlen = seal_v1 ? crypto_ad_build_v1(ad, f, &a) : crypto_ad_build(ad, f, &a);
	crypto_seal(key, ad, adlen, m, strlen(m), out);
	return strlen(m) + CRYPTO_SEAL_OVERHEAD;
}

/* Fills t: conversation conv of tenant, text, sealed with the data key of
 * (tenant, rec_category or "chat", ts). -1 if no data key. */
FIXTURE int make_rec(struct store *st, struct trec *t, const char *tenant, const char *conv,
                    int64_t ts, const char *text)
{
	unsigned char key[CRYPTO_KEY_BYTES];
	struct store_record *r = &t->r;
	memset(t, 0, sizeof *t);
	snprintf(t->tenant, sizeof t->tenant, "%s", tenant);
	crypto_record_id(r->id);
	r->tenant = t->tenant;
	conv_hash(tenant, conv, r->conv_hash);
	r->ts_ms = ts;
	r->received_ms = ts;
	r->role = ROLE_BOT;
	r->channel = CH_SMS;
	r->category = rec_category ? rec_category : "chat";
	if (strlen(text) > 256 || store_data_key_for(st, kr1, tenant, r->category, ts, &r->key_id, key))
		return -1;
	r->conv_ct_len = seal(key, FIELD_CONVERSATION, r, conv, t->conv);
	r->text_ct_len = seal(key, FIELD_TEXT, r, text, t->text);
	r->meta_ct_len = seal(key, FIELD_META, r, "{}", t->meta);
	sodium_memzero(key, sizeof key);
	r->conv_ct = t->conv;
	r->text_ct = t->text;
	r->meta_ct = t->meta;
	r->entity_counts = "{\"EMAIL\":1}";
	memset(t->subj[0], 0x5a, CRYPTO_HASH_BYTES);
	r->subjects = (const unsigned char (*)[CRYPTO_HASH_BYTES])t->subj;
	r->nsubjects = 1;
	return 0;
}

/* n records of tenant acme, the i-th in conversation "c<i % nconv>" at
 * ts + i; *recs gets their store_records. Both arrays calloc'd; NULL (and
 * nothing to free) if one cannot be made. */
FIXTURE struct trec *make_many(struct store *st, int n, int nconv, int64_t ts,
                              struct store_record **recs)
{
	struct trec *t = st ? calloc((size_t)n, sizeof *t) : NULL;
	*recs = t ? calloc((size_t)n, sizeof **recs) : NULL;
	for (int i = 0; *recs && i < n; i++) {
		char conv[16];
		snprintf(conv, sizeof conv, "c%d", i % nconv);
		if (make_rec(st, &t[i], "acme", conv, ts + i, "x")) {
			free(*recs);
			*recs = NULL;
		} else {
			(*recs)[i] = t[i].r;
		}
	}
	if (!*recs) {
		free(t);
		return NULL;
	}
	return t;
}

/* Reading back: texts opened in order into a buffer "a|b|c". */
struct readback {
	struct store *st;
	const struct keyring *kr;
	char texts[4096];
	int opened, shredded, failed;
};

FIXTURE enum rd_err read_fn(const struct store_row *row, void *arg)
{
	struct readback *rb = arg;
	unsigned char key[CRYPTO_KEY_BYTES], ad[CRYPTO_AD_MAX], m[512];
	int k = store_data_key_get(rb->st, rb->kr, row->key_id, key);
	if (k == RD_E_NOT_FOUND) {
		rb->shredded++;
		return RD_OK;
	}
	struct crypto_ad_row a;
	store_row_ad(row, &a);
	size_t adlen = crypto_ad_build(ad, FIELD_TEXT, &a);
	if (k != RD_OK || row->text_ct_len > sizeof m ||
	    crypto_open(key, ad, adlen, row->text_ct, row->text_ct_len, m) != 0) {
		rb->failed++;
	} else {
		size_t n = strlen(rb->texts);
		snprintf(rb->texts + n, sizeof rb->texts - n, "%s%.*s", n ? "|" : "",
		         (int)(row->text_ct_len - CRYPTO_SEAL_OVERHEAD), (const char *)m);
		rb->opened++;
	}
	sodium_memzero(key, sizeof key);
	return RD_OK;
}

FIXTURE struct readback read_conv(struct store *st, const struct keyring *kr, const char *tenant,
                                 const char *conv)
{
	struct readback rb = { .st = st, .kr = kr };
	unsigned char h[CRYPTO_HASH_BYTES];
	size_t n = 0;
	conv_hash(tenant, conv, h);
	if (store_conversation(st, tenant, h, read_fn, &rb, &n) != 0)
		rb.failed = 1000;
	return rb;
}

FIXTURE int64_t count_sql(const char *dbname, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;
	if (sqlite3_open_v2(tmp(dbname), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return v;
}

FIXTURE mode_t file_mode(const char *name)
{
	struct stat sb;
	return stat(tmp(name), &sb) == 0 ? (sb.st_mode & 0777) : (mode_t)-1;
}


struct done_log {
	pthread_mutex_t m;
	pthread_cond_t c;
	int calls, ok, err;
};

FIXTURE void on_done(void *ctx, enum rd_err status)
{
	struct done_log *d = ctx;
	pthread_mutex_lock(&d->m);
	d->calls++;
	if (status == RD_OK)
		d->ok++;
	else
		d->err++;
	pthread_cond_broadcast(&d->c);
	pthread_mutex_unlock(&d->m);
}

FIXTURE void wait_calls(struct done_log *d, int n)
{
	pthread_mutex_lock(&d->m);
	while (d->calls < n)
		pthread_cond_wait(&d->c, &d->m);
	pthread_mutex_unlock(&d->m);
}

/* Per job status after three async jobs run in one group. */
struct job_status {
	enum rd_err status;
	atomic_bool called;   /* set by the writer thread */
};

FIXTURE void on_job(void *ctx, enum rd_err status)
{
	struct job_status *j = ctx;
	j->status = status;
	j->called = true;
}

/* Every message at or below the watermark has its conv_index row, and no
 * conv_index row outlives its message. */
FIXTURE bool conv_index_consistent(const char *db)
{
	return count_sql(db, "SELECT count(*) FROM messages WHERE id <= (SELECT upto FROM"
	                     " conv_index_state) AND id NOT IN (SELECT msg_id FROM conv_index)") == 0 &&
	       count_sql(db, "SELECT count(*) FROM conv_index"
	                     " WHERE msg_id NOT IN (SELECT id FROM messages)") == 0;
}

FIXTURE bool file_has(const char *name, const unsigned char *needle, size_t n)
{
	FILE *f = fopen(tmp(name), "rb");
	if (!f)
		return false;
	static unsigned char buf[8 << 20];
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return len >= n && memmem(buf, len, needle, n) != NULL;
}

FIXTURE int sql_on(const char *dbname, const char *sql)
{
	sqlite3 *db;
	int rc = sqlite3_open(tmp(dbname), &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

FIXTURE struct store *open_attached(const char *name)
{
	char err[256];
	struct store *st = open_store(name, 64, false, NULL);
	if (st && store_keyring_attach(st, kr1, err, sizeof err)) {
		fprintf(stderr, "attach %s: %s\n", name, err);
		store_close(st);
		return NULL;
	}
	return st;
}

/* Purge callback: keeps the conversation whose hash is ctx, as a hold would. */
FIXTURE enum rd_err keep_conv_k(struct store_tx *tx, const struct store_row *row, void *ctx,
                                bool *keep)
{
	(void)tx;
	*keep = row && !memcmp(row->conv_hash, ctx, CRYPTO_HASH_BYTES);
	return RD_OK;
}

/* x'..' SQL literal of a conversation hash, for a test's own statements. */
FIXTURE void hash_literal(const unsigned char h[CRYPTO_HASH_BYTES],
                          char out[2 * CRYPTO_HASH_BYTES + 4])
{
	out[0] = 'x';
	out[1] = '\'';
	util_hex_encode(h, CRYPTO_HASH_BYTES, out + 2);
	strcat(out, "'");
}

#endif
