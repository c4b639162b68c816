/*
 * test_store_conformance.c — the store's core contract, one body run on
 * both backends (issue 19): on a SQLite temp file, then on a PostgreSQL
 * database of its own (pg_fixture.h). Data keys (one per tenant, category
 * and month, stable across reopen), submit and async submit with group
 * commit, reading a conversation back in order, the replay register, an
 * exec function's writes rolled back with it, a refused COMMIT storing
 * nothing, the wrong master key refused, and the audit chain; legal
 * holds, restrictions, consent records, the erasure journal and
 * rectification (conformance_rights.h), and a backup, which is the same
 * SQLite backup file on both.
 * Migration goes one way: the PostgreSQL round copies the SQLite round's
 * submit store into its database (store_import_copy) and reads back what
 * the SQLite round read; the SQLite round checks that a SQLite target is
 * refused. test_store_import.c covers the rest of it.
 */
#include "audit.h"
#include "store_fixture.h"
#include "store_holds.h"
#include "store_replay.h"
#include "store_import.h"
#include "store_journal.h"
#include "pg_fixture.h"

static bool on_pg;
static char pg_url[512];

/* A store for this round: the file `name`, or a new PostgreSQL database
 * (fresh: true) or the round's last one again (fresh: false). */
static struct store *open_round(const char *name, bool fresh, bool attach, struct keyring *kr)
{
	struct store_options o = { .sync_full = true, .queue_size = 64, .batch_max = 256 };
	struct store *st = NULL;
	char err[512];
	if (on_pg && fresh && pg_new_db(name, pg_url, sizeof pg_url))
		return NULL;
	o.pg_url = on_pg ? pg_url : NULL;
	if (store_open(tmp(name), &o, &st, err, sizeof err)) {
		fprintf(stderr, "store_open %s: %s\n", name, err);
		return NULL;
	}
	if (attach && store_keyring_attach(st, kr, err, sizeof err)) {
		fprintf(stderr, "attach %s: %s\n", name, err);
		store_close(st);
		return NULL;
	}
	return st;
}

static void test_keys(void)
{
	struct store *st = open_round("keys.db", true, true, kr1);
	unsigned char k1[CRYPTO_KEY_BYTES], k2[CRYPTO_KEY_BYTES], k3[CRYPTO_KEY_BYTES];
	int64_t id1 = 0, id2 = 0, id3 = 0;
	CHECK(st != NULL, "store opens and binds the master key");
	if (!st)
		return;
	CHECK(store_data_key_for(st, kr1, "acme", "chat", JAN_2020, &id1, k1) == RD_OK, "a data key");
	CHECK(store_data_key_for(st, kr1, "acme", "chat", JAN_2020 + 3600000, &id2, k2) == RD_OK &&
	      id2 == id1 && !memcmp(k1, k2, sizeof k1), "the same month: the same key");
	CHECK(store_data_key_for(st, kr1, "acme", "chat", FEB_2020, &id3, k3) == RD_OK && id3 != id1 &&
	      memcmp(k1, k3, sizeof k1), "another month: another key");
	CHECK(store_data_key_for(st, kr1, "globex", "chat", JAN_2020, &id2, k2) == RD_OK && id2 != id1,
	      "another tenant: another key");
	store_close(st);
	st = open_round("keys.db", false, true, kr1);
	CHECK(st && store_data_key_get(st, kr1, id1, k2) == RD_OK && !memcmp(k1, k2, sizeof k1),
	      "after reopen the key reads back by id");
	CHECK(st && store_data_key_for(st, kr1, "acme", "chat", JAN_2020, &id2, k2) == RD_OK &&
	      id2 == id1, "and is found again for its month");
	CHECK(st && store_data_key_get(st, kr1, 999999, k2) != RD_OK, "an unknown id is no key");
	store_close(st);
	char err[256];
	st = open_round("keys.db", false, false, kr2);
	CHECK(st && store_keyring_attach(st, kr2, err, sizeof err) == RD_E_STORAGE &&
	      strstr(err, "does not open"), "another master key is refused");
	store_close(st);
}

static void test_submit_read(void)
{
	struct store *st = open_round("submit.db", true, true, kr1);
	struct trec t[3];
	CHECK(st && make_rec(st, &t[0], "acme", "c1", JAN_2020 + 20, "third") == 0 &&
	      make_rec(st, &t[1], "acme", "c1", JAN_2020 + 10, "first") == 0 &&
	      make_rec(st, &t[2], "acme", "c2", JAN_2020 + 15, "other") == 0, "records sealed");
	if (!st)
		return;
	struct store_record recs[3] = { t[0].r, t[1].r, t[2].r };
	CHECK(store_submit(st, recs, 3) == RD_OK, "three records committed in one submit");
	struct trec late;
	CHECK(make_rec(st, &late, "acme", "c1", FEB_2020, "second month") == 0 &&
	      store_submit(st, &late.r, 1) == RD_OK, "a record of the next month");
	struct readback rb = read_conv(st, kr1, "acme", "c1");
	CHECK_STR(rb.texts, "first|third|second month", "read back in time order, across months");
	CHECK(rb.failed == 0 && rb.opened == 3, "every field opens (AD binds the row)");
	rb = read_conv(st, kr1, "globex", "c1");
	CHECK(rb.opened == 0 && rb.failed == 0, "another tenant sees nothing");

	struct done_log d = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };
	struct trec a;
	CHECK(make_rec(st, &a, "acme", "c2", JAN_2020 + 30, "async") == 0 &&
	      store_submit_async(st, &a.r, 1, on_done, &d) == RD_OK, "async submit queued");
	wait_calls(&d, 1);
	CHECK(d.ok == 1, "done called once with RD_OK, after the commit");
	rb = read_conv(st, kr1, "acme", "c2");
	CHECK_STR(rb.texts, "other|async", "the async record is there when done ran");

	store_close(st);
	st = open_round("submit.db", false, true, kr1);
	rb = read_conv(st, kr1, "acme", "c1");
	CHECK_STR(rb.texts, "first|third|second month", "everything is there after reopen");
	store_close(st);
}

static void test_replay(void)
{
	struct store *st = open_round("replay.db", true, true, kr1);
	struct trec t[2];
	unsigned char rh[CRYPTO_HASH_BYTES];
	bool replayed[2] = { false, false };
	memset(rh, 0x42, sizeof rh);
	CHECK(st && make_rec(st, &t[0], "acme", "r1", JAN_2020, "once") == 0 &&
	      make_rec(st, &t[1], "acme", "r1", JAN_2020 + 1, "once") == 0, "two deliveries sealed");
	if (!st)
		return;
	t[0].r.replay_hash = rh;
	t[0].r.replayed = &replayed[0];
	t[1].r.replay_hash = rh;
	t[1].r.replayed = &replayed[1];
	CHECK(store_submit(st, &t[0].r, 1) == RD_OK && !replayed[0], "the first delivery is stored");
	CHECK(store_submit(st, &t[1].r, 1) == RD_OK && replayed[1], "the retry is a replay (success)");
	struct readback rb = read_conv(st, kr1, "acme", "r1");
	CHECK(rb.opened == 1, "stored once");
	store_close(st);
}

static enum rd_err link_then_fail(struct store_tx *tx, void *arg)
{
	unsigned char s[CRYPTO_HASH_BYTES];
	memset(s, 0x77, sizeof s);
	enum rd_err rc = store_subject_link(tx, "acme", s, arg);
	return rc == RD_OK ? RD_E_INTERNAL : rc;
}

static enum rd_err count_hash(const unsigned char h[CRYPTO_HASH_BYTES], void *arg)
{
	(void)h;
	(*(int *)arg)++;
	return RD_OK;
}

struct subj_q {
	unsigned char s[CRYPTO_HASH_BYTES];
	int n;
};

static enum rd_err subject_convs(struct store_tx *tx, void *arg)
{
	struct subj_q *q = arg;
	q->n = 0;
	return store_subject_conversations(tx, "acme", q->s, count_hash, &q->n);
}

static enum rd_err append_one(struct store_tx *tx, void *arg)
{
	(void)arg;
	return audit_append(tx, "test", "read", "conversation:x", 1);
}

static enum rd_err verify_fn(struct store_tx *tx, void *arg)
{
	return audit_verify(tx, arg);
}

#include "conformance_rights.h"

static void test_exec(void)
{
	struct store *st = open_round("exec.db", true, true, kr1);
	unsigned char conv[CRYPTO_HASH_BYTES];
	struct subj_q q;
	memset(conv, 0x11, sizeof conv);
	memset(q.s, 0x77, sizeof q.s);
	if (!st) {
		CHECK(0, "store opens");
		return;
	}
	CHECK(store_exec(st, link_then_fail, conv) == RD_E_INTERNAL, "exec returns fn's error");
	CHECK(store_read(st, subject_convs, &q) == RD_OK && q.n == 0, "and its write is rolled back");

	struct trec t;
	CHECK(make_rec(st, &t, "acme", "s1", JAN_2020, "linked") == 0, "a record with a subject");
	memset(q.s, 0x5a, sizeof q.s);   /* make_rec's subject */
	CHECK(store_submit(st, &t.r, 1) == RD_OK && store_read(st, subject_convs, &q) == RD_OK &&
	      q.n == 1, "a record links its subject to its conversation");

	store_test_fail_next_commit(st);
	struct trec f;
	CHECK(make_rec(st, &f, "acme", "s2", JAN_2020, "refused") == 0 &&
	      store_submit(st, &f.r, 1) == RD_E_STORAGE, "a refused COMMIT fails the submit");
	struct readback rb = read_conv(st, kr1, "acme", "s2");
	CHECK(rb.opened == 0, "and stored nothing");
	CHECK(store_submit(st, &f.r, 1) == RD_OK, "the next commit succeeds");

	for (int i = 0; i < 3; i++)
		CHECK(store_exec(st, append_one, NULL) == RD_OK, "an audit entry appended");
	struct audit_report r;
	CHECK(store_read(st, verify_fn, &r) == RD_OK && r.fault == AUDIT_INTACT && r.entries == 3 &&
	      r.last_seq == 3, "the chain verifies: seq 1..3");
	CHECK(store_ping(st) == RD_OK, "the writer answers a ping");

	char err[256];
	int64_t in_copy = -1, taken = 0;
	bool is_backup = false;
	const char *bak = tmp(on_pg ? "exec-backup-pg.db" : "exec-backup.db");
	CHECK(store_backup(st, bak, 0, &in_copy, err, sizeof err) == RD_OK && in_copy >= 1 &&
	      store_backup_info(bak, &is_backup, &taken) == RD_OK && is_backup,
	      "a backup: the same SQLite backup file on both backends");
	store_close(st);
}

static enum rd_err destroy_key(struct store_tx *tx, void *arg)
{
	char sql[128];
	snprintf(sql, sizeof sql, "UPDATE data_keys SET wrapped = NULL WHERE id = %lld", *(long long *)arg);
	return store_test_sql(tx, sql);
}

/* A record sealed under a key destroyed since (by another process, say)
 * fails its job; a job beside it in the same group still commits. */
static void test_dead_key(void)
{
	struct store *st = open_round("deadkey.db", true, true, kr1);
	struct trec dead, live;
	CHECK(st && make_rec(st, &dead, "acme", "d1", JAN_2020, "sealed before") == 0 &&
	      make_rec(st, &live, "globex", "d2", JAN_2020, "other tenant") == 0, "two records sealed");
	if (!st)
		return;
	long long id = dead.r.key_id;
	CHECK(store_exec(st, destroy_key, &id) == RD_OK, "the first one's key destroyed in the database");
	struct done_log d = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };
	store_pause_writer(st, true);   /* both in one group */
	CHECK(store_submit_async(st, &dead.r, 1, on_done, &d) == RD_OK &&
	      store_submit_async(st, &live.r, 1, on_done, &d) == RD_OK, "both queued");
	store_pause_writer(st, false);
	wait_calls(&d, 2);
	CHECK(d.ok == 1 && d.err == 1, "the record under the dead key fails, the other commits");
	CHECK(read_conv(st, kr1, "acme", "d1").opened == 0 && read_conv(st, kr1, "globex", "d2").opened == 1,
	      "only the live one is stored");
	store_close(st);
}

static enum rd_err migrate_finish(struct store_tx *tx, void *arg)
{
	(void)arg;
	enum rd_err rc = audit_append(tx, "test", "store.migrate", "from:sqlite", 5);
	return rc == RD_OK ? store_import_finish(tx) : rc;
}

static void test_migrate(void)
{
	struct store_options ro = { .sync_full = true, .readonly = true };
	struct store *src = NULL, *dst = NULL;
	struct store_import_report r;
	struct store_import_options mo = { .batch = 2, .source_label = "conformance" };
	char err[512] = "";
	CHECK(store_open(tmp("submit.db"), &ro, &src, err, sizeof err) == RD_OK,
	      "the SQLite round's store opens as a source");
	if (!on_pg) {
		CHECK(src && store_import_copy(src, src, &mo, &r, err, sizeof err) == RD_E_INVALID_REQUEST,
		      "a SQLite target is refused");
		store_close(src);
		return;
	}
	if (pg_new_db("migrate", pg_url, sizeof pg_url) == 0) {
		ro.pg_url = pg_url;
		if (store_open("", &ro, &dst, err, sizeof err) != RD_OK)
			dst = NULL;
	}
	CHECK(src && dst && store_import_copy(src, dst, &mo, &r, err, sizeof err) == RD_OK &&
	      r.messages == 5, "the SQLite round's five records migrate");
	if (err[0])
		fprintf(stderr, "migrate: %s\n", err);
	struct store *st = open_round("migrate", false, true, kr1);
	CHECK(st == NULL, "a daemon's store does not open before the migration is finished");
	store_close(st);
	CHECK(dst && store_exec(dst, migrate_finish, NULL) == RD_OK, "the migration is finished");
	store_close(dst);
	store_close(src);
	st = open_round("migrate", false, true, kr1);
	CHECK(st != NULL, "then it opens");
	if (!st)
		return;
	struct readback rb = read_conv(st, kr1, "acme", "c1");
	CHECK_STR(rb.texts, "first|third|second month", "and read back as the SQLite round read them");
	rb = read_conv(st, kr1, "acme", "c2");
	CHECK_STR(rb.texts, "other|async", "with the async record");
	store_close(st);
}

struct walk_order {
	size_t rows;
	int64_t last_ts;
	bool ordered;
	size_t stop_at;   /* the callback stops the walk at this row (0: never) */
	char first[RD_RECORD_ID_LEN + 1], last[RD_RECORD_ID_LEN + 1];
	int64_t first_ts;
};

static enum rd_err walk_order_fn(const struct store_row *row, void *arg)
{
	struct walk_order *w = arg;
	w->ordered = w->ordered && row->ts_ms >= w->last_ts;
	w->last_ts = row->ts_ms;
	if (!w->rows) {
		snprintf(w->first, sizeof w->first, "%s", row->id);
		w->first_ts = row->ts_ms;
	}
	snprintf(w->last, sizeof w->last, "%s", row->id);
	return ++w->rows == w->stop_at ? RD_E_INTERNAL : RD_OK;
}

/* A conversation longer than one fetch of the PostgreSQL walk's cursor
 * (500 rows) and than one page: every row, in time order, and a callback
 * that stops the walk stops it. */
static void test_long_walk(void)
{
	struct store *st = open_round("walk.db", true, true, kr1);
	struct store_record *recs = NULL;
	struct trec *t = make_many(st, 1234, 1, JAN_2020, &recs);
	/* Reversed: the walk must order by time, not by insertion. */
	for (int i = 0; recs && i < 617; i++) {
		struct store_record x = recs[i];
		recs[i] = recs[1233 - i];
		recs[1233 - i] = x;
	}
	bool stored = recs != NULL;
	for (int i = 0; stored && i < 1234; i += 50)   /* the queue holds 64 */
		stored = store_submit(st, recs + i, i + 50 <= 1234 ? 50 : (size_t)(1234 - i)) == RD_OK;
	CHECK(stored, "one conversation of 1,234 records");
	unsigned char h[CRYPTO_HASH_BYTES];
	conv_hash("acme", "c0", h);
	struct walk_order w = { .ordered = true };
	size_t count = 0;
	CHECK(st && store_conversation(st, "acme", h, walk_order_fn, &w, &count) == RD_OK &&
	      w.rows == 1234 && count == 1234 && w.ordered, "walked whole, in time order");
	w = (struct walk_order){ .ordered = true, .stop_at = 700 };
	CHECK(st && store_conversation(st, "acme", h, walk_order_fn, &w, &count) == RD_E_INTERNAL &&
	      w.rows == 700, "a callback that stops the walk stops it, with its value");
	char cursor[RD_RECORD_ID_LEN + 1];
	snprintf(cursor, sizeof cursor, "%s", w.last);
	w = (struct walk_order){ .ordered = true };
	CHECK(st && store_conversation(st, "acme", h, walk_order_fn, &w, &count) == RD_OK && w.rows == 1234,
	      "and the next walk on the same connection is whole again");
	w = (struct walk_order){ .ordered = true };
	CHECK(st && store_conversation_after(st, "acme", h, cursor, walk_order_fn, &w, &count) == RD_OK &&
	      w.rows == 534 && w.ordered && w.first_ts == JAN_2020 + 700,
	      "a walk after the 700th record: the 534 after it, from the 701st");
	w = (struct walk_order){ .ordered = true };
	CHECK(st && store_conversation_after(st, "acme", h, "m_000000000000000000000000", walk_order_fn, &w,
	                                     &count) == RD_E_NOT_FOUND && w.rows == 0,
	      "after a record the conversation does not hold: RD_E_NOT_FOUND");
	free(recs);
	free(t);
	store_close(st);
}

static void run_all(void)
{
	test_long_walk();
	test_dead_key();
	test_keys();
	test_submit_read();
	test_replay();
	test_exec();
	test_pins();
	test_consents();
	test_journal();
	test_rectify();
	test_migrate();
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	kr1 = new_keyring("k1.key");
	kr2 = new_keyring("k2.key");
	pg_both_rounds(run_all, &on_pg);
	keyring_free(kr1);
	keyring_free(kr2);
	return TEST_DONE();
}
