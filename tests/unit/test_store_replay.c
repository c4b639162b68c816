/*
 * test_store_replay.c — the replay register (src/store_replay.c and the
 * writer's claim in store_writer.c) on real SQLite files: a provider
 * message is stored once however often it is submitted, also when the two
 * deliveries wait in the writer's queue together; a failed record leaves
 * no claim behind; the register's rows go with their records (erasure,
 * retention purge); records without a provider id are untouched.
 */
#include "store_fixture.h"
#include "store_replay.h"

#include <semaphore.h>

static void hash_of(unsigned char h[CRYPTO_HASH_BYTES], int n)
{
	memset(h, 0, CRYPTO_HASH_BYTES);
	h[0] = (unsigned char)n;
	h[31] = 0xa5;
}

static int64_t messages(const char *db)
{
	return count_sql(db, "SELECT count(*) FROM messages");
}

static int64_t replay_rows(const char *db)
{
	return count_sql(db, "SELECT count(*) FROM replay_ids");
}

static enum rd_err count_fn(struct store_tx *tx, void *ctx)
{
	return store_replay_count(tx, ctx);
}

static void test_once(void)
{
	struct store *st = open_store("once.db", 64, false, NULL);
	struct trec a, b, c;
	unsigned char h1[CRYPTO_HASH_BYTES];
	bool ra = false, rb = false, rc = false;
	hash_of(h1, 1);
	if (!st || make_rec(st, &a, "acme", "c1", JAN_2020, "first delivery") ||
	    make_rec(st, &b, "acme", "c1", JAN_2020, "retried delivery") ||
	    make_rec(st, &c, "acme", "c1", JAN_2020 + 1, "no provider id")) {
		CHECK(false, "replay: fixture");
		store_close(st);
		return;
	}
	a.r.replay_hash = h1, a.r.replayed = &ra;
	b.r.replay_hash = h1, b.r.replayed = &rb;
	c.r.replayed = &rc;
	CHECK(store_submit(st, &a.r, 1) == RD_OK && !ra, "replay: the first delivery is stored");
	CHECK(store_submit(st, &b.r, 1) == RD_OK && rb, "replay: the retry succeeds and is marked a replay");
	CHECK(store_submit(st, &c.r, 1) == RD_OK && !rc, "replay: a record without an id is stored as ever");
	int64_t n = -1;
	CHECK(store_read(st, count_fn, &n) == RD_OK && n == 1, "replay: the register holds one id");
	struct readback back = read_conv(st, kr1, "acme", "c1");
	CHECK_STR(back.texts, "first delivery|no provider id", "replay: the retry stored nothing");
	struct store_counters sc;
	store_get_counters(st, &sc);
	CHECK(sc.records == 2, "replay: the records counter leaves the replay out");
	store_close(st);
	CHECK(messages("once.db") == 2 && replay_rows("once.db") == 1, "replay: on disk, two messages, one id");
	CHECK(count_sql("once.db", "SELECT count(*) FROM replay_ids r JOIN messages m ON m.id = r.msg_id"
	                " WHERE m.record_id = (SELECT record_id FROM messages ORDER BY id LIMIT 1)") == 1,
	      "replay: the id sits beside the record it stored");
}

/* Both deliveries wait in the queue while the writer is paused, so they
 * are in one group: the second is answered after the first's commit, and
 * stores nothing. */
struct waiter {
	sem_t sem;
	enum rd_err status;
};

static void replay_done(void *ctx, enum rd_err status)
{
	struct waiter *w = ctx;
	w->status = status;
	sem_post(&w->sem);
}

static void test_concurrent(void)
{
	struct store *st = open_store("concurrent.db", 64, false, NULL);
	struct trec a, b;
	unsigned char h[CRYPTO_HASH_BYTES];
	bool ra = false, rb = false;
	struct waiter wa = { .status = RD_E_INTERNAL }, wb = { .status = RD_E_INTERNAL };
	hash_of(h, 2);
	if (!st || make_rec(st, &a, "acme", "c2", JAN_2020, "one") || make_rec(st, &b, "acme", "c2", JAN_2020, "two")) {
		CHECK(false, "concurrent: fixture");
		store_close(st);
		return;
	}
	a.r.replay_hash = h, a.r.replayed = &ra;
	b.r.replay_hash = h, b.r.replayed = &rb;
	sem_init(&wa.sem, 0, 0);
	sem_init(&wb.sem, 0, 0);
	store_pause_writer(st, true);
	CHECK(store_submit_async(st, &a.r, 1, replay_done, &wa) == RD_OK &&
	      store_submit_async(st, &b.r, 1, replay_done, &wb) == RD_OK, "concurrent: both deliveries queued");
	store_pause_writer(st, false);
	sem_wait(&wa.sem);
	sem_wait(&wb.sem);
	CHECK(wa.status == RD_OK && wb.status == RD_OK, "concurrent: both answered with success");
	CHECK(!ra && rb, "concurrent: the first stored, the second a replay");
	store_close(st);
	CHECK(messages("concurrent.db") == 1, "concurrent: exactly one record");
	sem_destroy(&wa.sem);
	sem_destroy(&wb.sem);
}

/* A job that fails rolls its claim back with it: the retry is stored. */
static void test_failed_job(void)
{
	struct store *st = open_store("failed.db", 64, false, NULL);
	struct trec a, bad, again;
	unsigned char h[CRYPTO_HASH_BYTES];
	bool r1 = false, r2 = false;
	hash_of(h, 3);
	if (!st || make_rec(st, &a, "acme", "c3", JAN_2020, "x") || make_rec(st, &bad, "acme", "c3", JAN_2020, "y") ||
	    make_rec(st, &again, "acme", "c3", JAN_2020, "z")) {
		CHECK(false, "failed: fixture");
		store_close(st);
		return;
	}
	a.r.replay_hash = h, a.r.replayed = &r1;
	bad.r.key_id = 987654;   /* not a live data key: the batch fails after the claim */
	struct store_record batch[2] = { a.r, bad.r };
	CHECK(store_submit(st, batch, 2) == RD_E_STORAGE, "failed: a batch with a bad record fails");
	again.r.replay_hash = h, again.r.replayed = &r2;
	CHECK(store_submit(st, &again.r, 1) == RD_OK && !r2, "failed: its claim was rolled back, the retry is stored");
	store_close(st);
	CHECK(messages("failed.db") == 1 && replay_rows("failed.db") == 1, "failed: one message, one id");
}

struct conv_del {
	unsigned char hash[CRYPTO_HASH_BYTES];
	int64_t removed;
};

static enum rd_err erase_fn(struct store_tx *tx, void *ctx)
{
	struct conv_del *d = ctx;
	return store_conversation_delete(tx, "acme", d->hash, &d->removed);
}

static enum rd_err purge_all(struct store_tx *tx, const struct store_row *row, void *ctx, bool *keep)
{
	(void)tx, (void)row, (void)ctx;
	*keep = false;
	return RD_OK;
}

/* The register never outlives its records: erasure and the sweeper's
 * purge take the ids with them, and a later delivery is stored anew. */
static void test_retention(void)
{
	struct store *st = open_store("gone.db", 64, false, NULL);
	struct trec a, b;
	unsigned char h4[CRYPTO_HASH_BYTES], h5[CRYPTO_HASH_BYTES];
	hash_of(h4, 4);
	hash_of(h5, 5);
	if (!st || make_rec(st, &a, "acme", "erase-me", JAN_2020, "x") ||
	    make_rec(st, &b, "acme", "purge-me", JAN_2020, "y")) {
		CHECK(false, "retention: fixture");
		store_close(st);
		return;
	}
	a.r.replay_hash = h4;
	b.r.replay_hash = h5;
	struct store_record recs[2] = { a.r, b.r };
	CHECK(store_submit(st, recs, 2) == RD_OK, "retention: two records with ids");
	struct conv_del d = { .removed = 0 };
	conv_hash("acme", "erase-me", d.hash);
	CHECK(store_exec(st, erase_fn, &d) == RD_OK && d.removed == 1, "retention: a conversation erased");
	int64_t n = -1;
	CHECK(store_read(st, count_fn, &n) == RD_OK && n == 1, "retention: its id went with it");
	size_t purged = 0;
	CHECK(store_purge_before(st, "acme", "chat", FEB_2020, 100, purge_all, NULL, &purged) == RD_OK &&
	      purged == 1, "retention: the other record purged");
	CHECK(store_read(st, count_fn, &n) == RD_OK && n == 0, "retention: the register is empty");
	bool r = false;
	struct trec c;
	if (make_rec(st, &c, "acme", "erase-me", JAN_2020, "z") == 0) {
		c.r.replay_hash = h4, c.r.replayed = &r;
		CHECK(store_submit(st, &c.r, 1) == RD_OK && !r, "retention: a delivery after erasure is stored");
	}
	store_close(st);
}

/* A version-6 database holding one message, as test_store.c builds them. */
static int make_v6(const char *name)
{
	sqlite3 *db;
	if (store_test_create_at_version(tmp(name), 6) != RD_OK)
		return -1;
	int rc = sqlite3_open(tmp(name), &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "INSERT INTO data_keys (id, tenant, category, period, start_ms, end_ms,"
		                  " wrapped, created_ms) VALUES (7, 't', 'c', '2020-01', 0, 1, x'00', 0);"
		                  "INSERT INTO messages (record_id, tenant, conv_hash, ts_ms, received_ms, role,"
		                  " channel, category, key_id, conv_ct, text_ct, meta_ct) VALUES ('m_x', 't',"
		                  " zeroblob(32), 1, 1, 'user', 'web', 'c', 7, x'00', x'00', x'00')",
		                  NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static void test_schema(void)
{
	CHECK(make_v6("v6.db") == 0, "schema: a version-6 database");
	struct store *st = open_store("v6.db", 16, false, NULL);
	CHECK(st && store_schema_version(st) >= 7, "schema: migrates to 7 and on");
	store_close(st);
	CHECK(replay_rows("v6.db") == 0 && messages("v6.db") == 1, "schema: register created, records kept");
}

int main(void)
{
	if (crypto_global_init())
		return 2;
	kr1 = new_keyring("k1.key");
	kr2 = new_keyring("k2.key");
	test_once();
	test_concurrent();
	test_failed_job();
	test_retention();
	test_schema();
	keyring_free(kr1);
	keyring_free(kr2);
	return TEST_DONE();
}
