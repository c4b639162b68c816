/*
 * test_store_residue.c — purges in batches that give way to ingest, and
 * what a delete leaves in the files: nothing once a checkpoint completed,
 * and a residue mark while a reader's old snapshot holds it back.
 */
#include "store_fixture.h"

/* A purge batch that ends early (records waiting) goes on from where it
 * stopped: every old record is purged once, the held conversation kept. */
static void test_purge_yield(void)
{
	enum { N = 120 };
	struct store *st = open_store("yield.db", 1024, false, NULL);
	struct store_record *recs = NULL;
	struct trec *t = make_many(st, N, 7, JAN_2020, &recs);
	bool ok = t != NULL;
	size_t n = 0, held = 0;
	for (int i = 0; ok && i < N; i++)
		held += !memcmp(t[i].r.conv_hash, t[3].r.conv_hash, CRYPTO_HASH_BYTES);
	CHECK(ok && store_submit(st, recs, N) == RD_OK, "120 January records in 7 conversations");
	if (st)
		store_test_purge_yield(st, 16);
	CHECK(ok && store_purge_before(st, NULL, "chat", FEB_2020, 50, keep_conv_k,
	                               (void *)t[3].r.conv_hash, &n) == 0 && n == N - held,
	      "batches of 50 that stop every 16 rows purge every unheld record once");
	CHECK(count_sql("yield.db", "SELECT count(*) FROM messages") == (int64_t)held,
	      "only the held conversation's records are left");
	store_close(st);
	free(t);
	free(recs);
}

/* Pacing (store_maint.c): a purge whose batches records waited for
 * pauses between them, at least STORE_PURGE_PACE times each batch's time;
 * one that nothing waited for runs its batches back to back. */
static void test_purge_pace(void)
{
	enum { N = 96 };
	struct store *st = open_store("pace.db", 1024, false, NULL);
	struct store_record *recs = NULL;
	struct trec *t = make_many(st, N, 8, JAN_2020, &recs);
	struct store_counters c = { 0 };
	size_t n = 0;
	bool ok = t != NULL && store_submit(st, recs, N) == RD_OK;
	CHECK(ok, "96 January records");
	CHECK(ok && store_purge_before(st, "acme", "chat", JAN_2020 + 48, 10, NULL, NULL, &n) == 0 &&
	      n == 48, "an uncontended purge of the oldest half");
	if (st)
		store_get_counters(st, &c);
	CHECK(ok && c.purge_paused_us == 0, "with nothing waiting it did not pause");
	size_t before = n;
	int64_t t0 = util_mono_us();
	if (st)
		store_test_purge_yield(st, 8);   /* every batch gives way, as to waiting records */
	CHECK(ok && store_purge_before(st, "acme", "chat", FEB_2020, 10, NULL, NULL, &n) == 0 &&
	      before + n == N, "a contended purge of the rest, in batches that give way");
	int64_t took = util_mono_us() - t0;
	if (st)
		store_get_counters(st, &c);
	CHECK(c.purge_paused_us > 0 && took >= (int64_t)c.purge_paused_us,
	      "it paused between its batches (counted, and within the time it took)");
	store_close(st);
	free(t);
	free(recs);
}

/* A purge for every tenant (tenant NULL) goes tenant by tenant since
 * schema v8 (messages(tenant, category, ts_ms) is the only index on
 * time): every tenant's old records go, the new ones stay. */
static void test_purge_every_tenant(void)
{
	static const char *const tenants[] = { "acme", "beta", "zeta" };
	struct store *st = open_store("tenants.db", 256, false, NULL);
	struct trec t[12];
	size_t n = 0;
	bool ok = st != NULL;
	for (int i = 0; ok && i < 12; i++)
		ok = make_rec(st, &t[i], tenants[i % 3], "c", (i < 9 ? JAN_2020 : FEB_2020) + i, "x") == 0 &&
		     store_submit(st, &t[i].r, 1) == RD_OK;
	CHECK(ok, "12 records in three tenants, 9 of them old");
	CHECK(ok && store_purge_before(st, NULL, "chat", FEB_2020, 2, NULL, NULL, &n) == 0 && n == 9,
	      "a purge for every tenant, in batches of 2, deletes the 9 old ones");
	store_close(st);
	CHECK(count_sql("tenants.db", "SELECT count(*) FROM messages") == 3 &&
	      count_sql("tenants.db", "SELECT count(DISTINCT tenant) FROM messages") == 3,
	      "each tenant keeps its new record");
}

/* pre: checkpoint before the purge, so the records sit in the database
 * file (secure_delete must zero them there); else they are only in the WAL. */
static void test_residue(bool pre)
{
	const char *dbn = pre ? "residue1.db" : "residue0.db";
	char waln[32];
	snprintf(waln, sizeof waln, "%s-wal", dbn);
	struct store *st = open_store(dbn, 256, false, NULL);
	struct trec t[20];
	size_t n = 0;
	char text[200];
	if (!st)
		return;
	for (int i = 0; i < 20; i++) {
		memset(text, 'a' + i % 26, sizeof text - 1);
		text[sizeof text - 1] = '\0';
		int64_t ts = (i < 10 ? JAN_2020 : FEB_2020) + i;
		if (make_rec(st, &t[i], "acme", i < 10 ? "old" : "new", ts, text) ||
		    store_submit(st, &t[i].r, 1) != RD_OK)
			CHECK(0, "residue setup");
	}
	/* 48 bytes from the middle of each sealed text. */
	const size_t off = CRYPTO_NONCE_BYTES + 40, len = 48;
	int before = 0;
	for (int i = 0; i < 10; i++)
		before += file_has(waln, t[i].text + off, len) ||
		          file_has(dbn, t[i].text + off, len);
	CHECK(before == 10, "ciphertext found on disk before the purge (the scan works)");
	if (pre)
		CHECK(store_checkpoint(st) == 0, "checkpoint moves them into the database file");
	CHECK(store_purge_before(st, NULL, "chat", FEB_2020 - 43200000LL, 3, NULL, NULL, &n) == 0 &&
	      n == 10, "purge 10 records");
	CHECK(store_shred_keys(st, MAR_2020, &n) == 0 && n == 1, "their key is shredded");
	CHECK(store_checkpoint(st) == 0, "checkpoint (TRUNCATE) after the purge");
	int db_hits = 0, wal_hits = 0, kept = 0;
	for (int i = 0; i < 10; i++) {
		db_hits += file_has(dbn, t[i].text + off, len);
		db_hits += file_has(dbn, t[i].conv, t[i].r.conv_ct_len);
		db_hits += file_has(dbn, t[i].text, CRYPTO_NONCE_BYTES);
		wal_hits += file_has(waln, t[i].text + off, len);
	}
	for (int i = 10; i < 20; i++)
		kept += file_has(dbn, t[i].text + off, len);
	CHECK(db_hits == 0, "deleted ciphertext is not in the database file");
	CHECK(wal_hits == 0, "deleted ciphertext is not in the WAL");
	struct stat sb;
	CHECK(stat(tmp(waln), &sb) != 0 || sb.st_size == 0, "WAL truncated");
	CHECK(kept == 10, "kept records' ciphertext is still there");
	store_close(st);
}

/* Deletes conversation "gone" and marks the residue, as an erasure does. */
static enum rd_err erase_marked_fn(struct store_tx *tx, void *ctx)
{
	char sql[128], lit[2 * CRYPTO_HASH_BYTES + 4];
	hash_literal(ctx, lit);
	snprintf(sql, sizeof sql, "DELETE FROM messages WHERE conv_hash = %s", lit);
	enum rd_err rc = store_test_sql(tx, sql);
	return rc == RD_OK ? store_residue_mark(tx, JAN_2020) : rc;
}

/* Issue 11: a reader in another connection keeps an old snapshot while
 * records are erased. The checkpoint cannot complete: the residue is
 * reported pending (the ciphertext is still in the files), and once the
 * reader lets go a retry clears it and the bytes are gone. */
static void test_residue_reader(void)
{
	struct store *st = open_store("resread.db", 256, false, NULL);
	struct trec t[2];
	sqlite3 *reader = NULL;
	bool pending = false;
	struct store_residue r;
	const size_t off = CRYPTO_NONCE_BYTES + 40, len = 48;
	char text[200];
	memset(text, 'q', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	if (!st || make_rec(st, &t[0], "acme", "gone", JAN_2020, text) ||
	    make_rec(st, &t[1], "acme", "kept", JAN_2020 + 1, text) ||
	    store_submit(st, &t[0].r, 1) != RD_OK || store_submit(st, &t[1].r, 1) != RD_OK ||
	    store_checkpoint(st) != 0) {
		CHECK(0, "residue reader setup");
		store_close(st);
		return;
	}
	CHECK(file_has("resread.db", t[0].text + off, len), "the ciphertext is in the database file");
	CHECK(sqlite3_open(tmp("resread.db"), &reader) == SQLITE_OK &&
	      sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM messages;", NULL, NULL, NULL) == SQLITE_OK,
	      "another connection holds a read transaction");
	CHECK(store_exec(st, erase_marked_fn, t[0].r.conv_hash) == 0, "erase with the residue mark");
	CHECK(store_residue_clear(st, 200, &pending) == RD_OK && pending,
	      "with the reader there the residue stays pending");
	CHECK(store_residue_get(st, &r) == RD_OK && r.pending && r.marks == 1 && r.since_ms == JAN_2020,
	      "the mark is in the database");
	CHECK(file_has("resread.db", t[0].text + off, len) || file_has("resread.db-wal", t[0].text + off, len),
	      "pending: the ciphertext is still in the files");
	struct store_counters c;
	store_get_counters(st, &c);
	CHECK(c.ckpt_retries > 0 && c.residue_pending, "retries and the pending state are counted");
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(reader);
	CHECK(store_residue_clear(st, 200, &pending) == RD_OK && !pending,
	      "once the reader is gone the residue clears");
	CHECK(store_residue_get(st, &r) == RD_OK && !r.pending, "and the mark is gone");
	CHECK(!file_has("resread.db", t[0].text + off, len) && !file_has("resread.db-wal", t[0].text + off, len),
	      "the erased ciphertext is in neither the database file nor the WAL");
	CHECK(file_has("resread.db", t[1].text + off, len) || file_has("resread.db-wal", t[1].text + off, len),
	      "the other record's ciphertext is still there");
	store_get_counters(st, &c);
	CHECK(!c.residue_pending, "not pending any more");
	store_close(st);
}

int main(void)
{
	if (crypto_global_init())
		return 2;
	kr1 = new_keyring("k1.key");
	test_purge_yield();
	test_purge_pace();
	test_purge_every_tenant();
	test_residue(true);
	test_residue(false);
	test_residue_reader();
	keyring_free(kr1);
	return TEST_DONE();
}
