/*
 * test_store.c — the store's core on real SQLite files: submit and read
 * back, all-or-nothing jobs, concurrency, back-pressure, file modes, the
 * conversation index, the sync stage and a bounded WAL, store_exec and
 * what the writer remembers between transactions, and migrations from
 * every earlier schema version. Keys: test_store_keys.c; purges and
 * residue: test_store_residue.c.
 */
#include "store_fixture.h"
#include "../../src/store_int.h"   /* STORE_CONV_IDS_SQL, to ask SQLite for its plan */
#include "audit.h"

/* ---- basic ----------------------------------------------------------------- */

static void test_submit_read(void)
{
	struct store *st = open_store("basic.db", 1024, false, NULL);
	struct trec t[3];
	CHECK(st != NULL, "open creates the database");
	if (!st)
		return;
	CHECK(store_schema_version(st) == (int)store_migration_count(), "schema at newest version");
	CHECK(make_rec(st, &t[0], "acme", "c1", JAN_2020 + 2000, "second") == 0 &&
	      make_rec(st, &t[1], "acme", "c1", JAN_2020 + 1000, "first") == 0 &&
	      make_rec(st, &t[2], "acme", "c2", JAN_2020, "other conversation") == 0, "records sealed");
	struct store_record recs[3] = { t[0].r, t[1].r, t[2].r };
	CHECK(store_submit(st, recs, 3) == RD_OK, "submit 3 records");
	struct readback rb = read_conv(st, kr1, "acme", "c1");
	CHECK(rb.opened == 2 && rb.failed == 0, "conversation reads back 2 records");
	CHECK_STR(rb.texts, "first|second", "in timestamp order");
	rb = read_conv(st, kr1, "other", "c1");
	CHECK(rb.opened == 0, "another tenant sees nothing");
	CHECK(file_mode("basic.db") == 0600, "database file is 0600");
	CHECK(file_mode("basic.db-wal") == 0600, "WAL file is 0600");
	CHECK(file_mode("basic.db-shm") == 0600, "shm file is 0600");
	store_close(st);
	CHECK(count_sql("basic.db", "SELECT count(*) FROM subjects") == 2, "subject links stored");
	st = open_store("basic.db", 1024, true, NULL);
	rb = st ? read_conv(st, kr1, "acme", "c1") : (struct readback){ 0 };
	CHECK(rb.opened == 2, "readonly re-open reads the records");
	struct store_record one = t[0].r;
	CHECK(st && store_submit(st, &one, 1) == RD_E_SHUTTING_DOWN, "readonly store refuses submits");
	store_close(st);
	store_close(NULL);
}

static void test_modes_existing(void)
{
	FILE *f = fopen(tmp("loose.db"), "w");
	if (f)
		fclose(f);
	CHECK(chmod(tmp("loose.db"), 0644) == 0, "make a 0644 database file");
	struct store *st = open_store("loose.db", 16, false, NULL);
	CHECK(st && file_mode("loose.db") == 0600, "open tightens an existing file to 0600");
	store_close(st);
}


static void test_all_or_nothing(void)
{
	struct store *st = open_store("aon.db", 1024, false, NULL);
	struct trec a, b, c, d;
	if (!st || make_rec(st, &a, "acme", "x", JAN_2020, "a") ||
	    make_rec(st, &b, "acme", "x", JAN_2020 + 1, "b") ||
	    make_rec(st, &c, "acme", "x", JAN_2020 + 2, "c") ||
	    make_rec(st, &d, "acme", "x", JAN_2020 + 3, "d")) {
		CHECK(0, "aon setup");
		store_close(st);
		return;
	}
	struct store_record dup[2] = { b.r, b.r };   /* the same record id twice */
	CHECK(store_submit(st, dup, 2) == RD_E_STORAGE, "a job with a duplicate id fails");
	CHECK(read_conv(st, kr1, "acme", "x").opened == 0, "and nothing of it is stored");
	/* Three jobs in one group: the middle one repeats an id of the first. */
	struct store_record j1[2] = { a.r, b.r }, j2[2] = { c.r, a.r }, j3[1] = { d.r };
	struct job_status s1 = { 1, false }, s2 = { 1, false }, s3 = { 1, false };
	store_pause_writer(st, true);
	CHECK(store_submit_async(st, j1, 2, on_job, &s1) == RD_OK &&
	      store_submit_async(st, j2, 2, on_job, &s2) == RD_OK &&
	      store_submit_async(st, j3, 1, on_job, &s3) == RD_OK, "three jobs queued");
	store_pause_writer(st, false);
	store_close(st);   /* drains */
	CHECK(s1.called && s1.status == RD_OK, "first job commits");
	CHECK(s2.called && s2.status == RD_E_STORAGE, "conflicting job fails alone");
	CHECK(s3.called && s3.status == RD_OK, "third job commits");
	st = open_store("aon.db", 1024, false, NULL);
	struct readback rb = st ? read_conv(st, kr1, "acme", "x") : (struct readback){ 0 };
	CHECK_STR(rb.texts, "a|b|d", "exactly the good jobs' records are stored");
	struct store_record bad = a.r;
	memcpy(bad.id, "m_ffffffffffffffffffffffff", RD_RECORD_ID_LEN + 1);
	bad.key_id = 999999;   /* no such data key */
	CHECK(st && store_submit(st, &bad, 1) == RD_E_STORAGE, "a record naming no live data key fails");
	store_close(st);
}

/* ---- concurrency and back-pressure ------------------------------------------ */

#define THREADS 8
#define PER_THREAD 150

struct worker {
	struct store *st;
	int idx, failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		struct trec t[2];
		char conv[32], text[32];
		snprintf(conv, sizeof conv, "w%d", w->idx);
		snprintf(text, sizeof text, "%d-%d", w->idx, i);
		int n = 1 + (i % 2);
		for (int k = 0; k < n; k++)
			if (make_rec(w->st, &t[k], "acme", conv, FEB_2020 + i * 10 + k, text))
				w->failures++;
		struct store_record r[2] = { t[0].r, t[1].r };
		int rc;
		while ((rc = store_submit(w->st, r, (size_t)n)) == RD_E_BUSY)
			usleep(100);
		if (rc != RD_OK)
			w->failures++;
	}
	return NULL;
}

static void test_concurrent(void)
{
	struct store *st = open_store("conc.db", 64, false, NULL);
	pthread_t th[THREADS];
	struct worker w[THREADS];
	int failures = 0;
	if (!st)
		return;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .st = st, .idx = i };
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		failures += w[i].failures;
	}
	store_close(st);
	int64_t expect = THREADS * (PER_THREAD / 2 * 3 + (PER_THREAD % 2));
	CHECK(failures == 0, "8 threads submit without failures");
	CHECK(count_sql("conc.db", "SELECT count(*) FROM messages") == expect,
	      "every record landed");
	CHECK(count_sql("conc.db", "SELECT count(DISTINCT record_id) FROM messages") == expect,
	      "each exactly once");
	CHECK(count_sql("conc.db", "SELECT count(*) FROM data_keys") == 1,
	      "concurrent creators agree on one data key");
}

struct reader {
	struct store *st;
	int bad;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	for (int i = 0; i < 100; i++) {
		struct readback rb = read_conv(r->st, kr1, "acme", "w0");
		if (rb.failed || rb.opened < PER_THREAD)
			r->bad++;
	}
	return NULL;
}

/* Readers on many threads at once, beside a writer. */
static void test_concurrent_reads(void)
{
	struct store *st = open_store("conc.db", 64, false, NULL);
	pthread_t th[THREADS + 1];
	struct reader r[THREADS];
	struct worker w = { .idx = 99 };
	int bad = 0;
	if (!st)
		return;
	w.st = st;
	pthread_create(&th[THREADS], NULL, worker_main, &w);
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct reader){ .st = st };
		pthread_create(&th[i], NULL, reader_main, &r[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		bad += r[i].bad;
	}
	pthread_join(th[THREADS], NULL);
	store_close(st);
	CHECK(bad == 0 && w.failures == 0, "8 reader threads beside a writer read every record");
}

static void test_busy(void)
{
	struct store *st = open_store("busy.db", 10, false, NULL);
	struct trec t[6];
	struct done_log d = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };
	if (!st)
		return;
	for (int i = 0; i < 6; i++)
		if (make_rec(st, &t[i], "acme", "b", MAR_2020 + i, "x"))
			CHECK(0, "busy setup");
	struct store_record five[5] = { t[0].r, t[1].r, t[2].r, t[3].r, t[4].r };
	struct store_record six = t[5].r;
	store_pause_writer(st, true);
	CHECK(store_submit_async(st, five, 5, on_done, &d) == RD_OK, "5 of 10 queued");
	CHECK(store_submit_async(st, &six, 1, on_done, &d) == RD_OK, "6 of 10 queued");
	CHECK(store_submit_async(st, five, 5, on_done, &d) == RD_E_BUSY, "11 of 10: RD_E_BUSY");
	CHECK(store_submit(st, five, 5) == RD_E_BUSY, "sync submit: RD_E_BUSY at once");
	store_pause_writer(st, false);
	wait_calls(&d, 2);
	CHECK(d.ok == 2 && d.err == 0, "queued jobs commit after the writer resumes");
	CHECK(store_submit_async(st, five, 5, on_done, &d) == RD_OK, "the queue has room again");
	wait_calls(&d, 3);
	CHECK(d.err == 1, "resubmitting the same ids fails (unique record ids)");
	struct store_counters sc;
	store_get_counters(st, &sc);
	CHECK(sc.records == 6 && sc.busy == 2 && sc.jobs_failed == 1 && sc.commits >= 1,
	      "counters: 6 records, 2 busy, 1 failed job");
	store_close(st);
	CHECK(count_sql("busy.db", "SELECT count(*) FROM messages") == 6, "6 records stored");
}

/* ---- the bulk-filled conversation index ----------------------------------- */


static enum rd_err delete_newest_fn(struct store_tx *tx, void *ctx)
{
	(void)ctx;
	return store_test_sql(tx, "DELETE FROM messages WHERE id = (SELECT max(id) FROM messages)");
}

static void test_conv_index(void)
{
	enum { BULK = 4200 };   /* more than CONVIDX_BATCH (4096) */
	struct store *st = open_store("convidx.db", 8192, false, NULL);
	struct trec *t = calloc(BULK, sizeof *t);
	struct store_record *recs = calloc(BULK, sizeof *recs);
	if (!st || !t || !recs) {
		CHECK(0, "conv index setup");
		goto out;
	}
	for (int i = 0; i < 3; i++)
		if (make_rec(st, &t[i], "acme", "tail", MAR_2020 + i, "t"))
			CHECK(0, "conv index setup");
	struct store_record three[3] = { t[0].r, t[1].r, t[2].r };
	CHECK(store_submit(st, three, 3) == RD_OK, "3 records in one conversation");
	CHECK(count_sql("convidx.db", "SELECT count(*) FROM conv_index") == 0,
	      "a small batch is not indexed at once");
	CHECK(read_conv(st, kr1, "acme", "tail").opened == 3, "read finds them in the unindexed tail");

	for (int i = 0; i < BULK; i++) {
		if (make_rec(st, &t[i], "acme", i % 2 ? "odd" : "even", MAR_2020 + 10 + i, "b"))
			CHECK(0, "conv index setup");
		recs[i] = t[i].r;
	}
	CHECK(store_submit(st, recs, BULK) == RD_OK, "4200 more records");
	if (make_rec(st, &t[0], "acme", "tail", MAR_2020 + 5000, "t"))
		CHECK(0, "conv index setup");
	CHECK(store_submit(st, &t[0].r, 1) == RD_OK, "and one after them");
	CHECK(count_sql("convidx.db", "SELECT count(*) FROM conv_index") >= 3 + BULK,
	      "a full batch is indexed in bulk");
	CHECK(conv_index_consistent("convidx.db"), "indexed up to its watermark, nothing stale");
	CHECK(read_conv(st, kr1, "acme", "even").opened == BULK / 2 &&
	      read_conv(st, kr1, "acme", "odd").opened == BULK / 2 &&
	      read_conv(st, kr1, "acme", "tail").opened == 4, "reads: indexed and tail, each once");

	/* Deleting the newest messages must not let a new one take an id under
	 * the watermark, where neither the index nor the tail would show it. */
	CHECK(store_exec(st, delete_newest_fn, NULL) == 0 && store_exec(st, delete_newest_fn, NULL) == 0,
	      "delete the two newest messages");
	if (make_rec(st, &t[1], "acme", "late", MAR_2020 + 6000, "l"))
		CHECK(0, "conv index setup");
	CHECK(store_submit(st, &t[1].r, 1) == RD_OK, "a message after the deletes");
	CHECK(read_conv(st, kr1, "acme", "late").opened == 1, "it is found");
	CHECK(conv_index_consistent("convidx.db"), "the delete trigger kept the index in step");
	usleep((CONVIDX_IDLE_MS_FOR_TEST + 300) * 1000);
	CHECK(count_sql("convidx.db", "SELECT count(*) FROM messages WHERE id > (SELECT upto FROM"
	                              " conv_index_state)") == 0, "an idle writer indexes the tail");
	store_close(st);
	CHECK(conv_index_consistent("convidx.db"), "consistent after close");
out:
	free(t);
	free(recs);
}

static enum rd_err noop_fn(struct store_tx *tx, void *ctx)
{
	(void)tx;
	(void)ctx;
	return RD_OK;
}

/* A maintenance job never scans a tail longer than CONVIDX_EXEC_TAIL
 * (1,024) per conversation: the writer indexes a longer one first. */
static void test_conv_index_before_exec(void)
{
	enum { N = 2000 };
	struct store *st = open_store("cidxexec.db", 4096, false, NULL);
	struct store_record *recs = NULL;
	struct trec *t = make_many(st, N, 3, MAR_2020, &recs);
	bool ok = t != NULL;
	const char *tail = "SELECT count(*) FROM messages WHERE id > (SELECT upto FROM conv_index_state)";
	CHECK(ok && store_submit(st, recs, N) == RD_OK && count_sql("cidxexec.db", tail) == N,
	      "2000 records wait in the unindexed tail");
	CHECK(ok && store_exec(st, noop_fn, NULL) == 0 && count_sql("cidxexec.db", tail) == 0,
	      "a maintenance job has them indexed first");
	store_close(st);
	free(t);
	free(recs);
}

/* synchronous=FULL: a separate stage fdatasyncs the WAL before any
 * acknowledgement; if that fails the store refuses writes from then on. */
static void test_sync_stage(void)
{
	struct store *st = open_store("sync.db", 64, false, NULL);
	struct trec t[3];
	if (!st)
		return;
	for (int i = 0; i < 3; i++)
		if (make_rec(st, &t[i], "acme", "s", MAR_2020 + i, "x"))
			CHECK(0, "sync setup");
	CHECK(store_submit(st, &t[0].r, 1) == RD_OK, "FULL: a submit is acknowledged");
	struct store_counters sc;
	store_get_counters(st, &sc);
	CHECK(sc.syncs >= 1 && sc.syncs <= sc.commits, "FULL: each acknowledged group was fdatasynced");
	CHECK(sc.sync_time.count == sc.syncs && sc.sync_time.sum_us > 0,
	      "FULL: each fdatasync is timed (syncs_total is the histogram's count)");
	CHECK(store_writable(st), "writable before any failure");
	store_test_fail_syncs(st);
	CHECK(store_submit(st, &t[1].r, 1) == RD_E_STORAGE, "a failed fdatasync answers RD_E_STORAGE");
	CHECK(!store_writable(st), "not writable after a failed fdatasync");
	CHECK(store_submit(st, &t[2].r, 1) == RD_E_STORAGE_FAILED, "and the store refuses later writes");
	store_close(st);
	/* The record whose fsync failed was committed (its caller got an error
	 * and may retry); the refused one never reached the database. */
	CHECK(count_sql("sync.db", "SELECT count(*) FROM messages") == 2,
	      "the record refused after the failure was never written");

	struct store_options o = { .sync_full = false, .queue_size = 64, .batch_max = 256 };
	char err[256];
	if (store_open(tmp("sync-normal.db"), &o, &st, err, sizeof err)) {
		CHECK(0, "open NORMAL store");
		return;
	}
	if (make_rec(st, &t[0], "acme", "s", MAR_2020, "x"))
		CHECK(0, "sync setup");
	CHECK(store_submit(st, &t[0].r, 1) == RD_OK, "NORMAL: a submit is acknowledged");
	store_get_counters(st, &sc);
	CHECK(sc.syncs == 0 && sc.commits >= 1, "NORMAL: acknowledged at COMMIT, no sync stage");
	store_close(st);
}

/* Writers that keep the writer busy, so a PASSIVE checkpoint rarely finds
 * the WAL complete and only the RESTART fallback can start it over. */
#define WAL_WRITERS 4
#define WAL_RECORDS 400   /* per writer, ~250 bytes of text each */

static void *wal_writer_main(void *arg)
{
	struct worker *w = arg;
	char text[251];
	memset(text, 'a' + w->idx, sizeof text - 1);
	text[sizeof text - 1] = '\0';
	for (int i = 0; i < WAL_RECORDS; i++) {
		struct trec t;
		int rc;
		if (make_rec(w->st, &t, "acme", "wal", FEB_2020 + i, text)) {
			w->failures++;
			continue;
		}
		while ((rc = store_submit(w->st, &t.r, 1)) == RD_E_BUSY)
			usleep(100);
		w->failures += rc != RD_OK;
	}
	return NULL;
}

/* Background checkpoints keep the WAL bounded under continuous writes:
 * with a threshold of 32 frames the file stays within a small multiple of
 * it (~140 frames, RESTART at 128); without background checkpoints the same
 * writes grow it to ~3,200 frames. */
/* A reader keeping an old snapshot (a long export) blocks the WAL's
 * restart; the RESTART checkpoint gives up after a few ms instead of
 * holding the writer lock, and so every submit, for SQLite's 10 s. */
static void test_restart_with_reader(void)
{
	struct store *st = open_store("restart.db", 64, false, NULL);
	struct trec t;
	sqlite3 *reader = NULL;
	if (!st || make_rec(st, &t, "acme", "r", MAR_2020, "first") ||
	    store_submit(st, &t.r, 1) != RD_OK) {
		CHECK(0, "restart setup");
		store_close(st);
		return;
	}
	store_test_checkpoint_pages(st, 8);   /* RESTART from 32 frames on */
	CHECK(sqlite3_open(tmp("restart.db"), &reader) == SQLITE_OK &&
	      sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM messages;", NULL, NULL, NULL) ==
	      SQLITE_OK, "a reader holds a snapshot");
	int64_t worst = 0;
	int failures = 0;
	for (int i = 0; i < 300; i++) {
		int64_t t0 = util_mono_us() / 1000;
		if (make_rec(st, &t, "acme", "r", MAR_2020 + 1 + i, "more") ||
		    store_submit(st, &t.r, 1) != RD_OK)
			failures++;
		int64_t took = util_mono_us() / 1000 - t0;
		worst = took > worst ? took : worst;
	}
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(reader);
	store_close(st);
	printf("# slowest submit beside the reader: %lld ms\n", (long long)worst);
	CHECK(failures == 0 && worst < 2000, "no submit waits seconds for the reader's snapshot");
}

static void test_wal_bounded(void)
{
	enum { PAGES = 32, FRAME = 4096 + 24 };
	struct store *st = open_store("walcap.db", 64, false, NULL);
	pthread_t th[WAL_WRITERS];
	struct worker w[WAL_WRITERS];
	int failures = 0;
	if (!st)
		return;
	store_test_checkpoint_pages(st, PAGES);
	for (int i = 0; i < WAL_WRITERS; i++) {
		w[i] = (struct worker){ .st = st, .idx = i };
		pthread_create(&th[i], NULL, wal_writer_main, &w[i]);
	}
	for (int i = 0; i < WAL_WRITERS; i++) {
		pthread_join(th[i], NULL);
		failures += w[i].failures;
	}
	struct stat sb;
	char wal[512];
	snprintf(wal, sizeof wal, "%s-wal", tmp("walcap.db"));
	off_t wal_size = stat(wal, &sb) == 0 ? sb.st_size : -1;
	store_close(st);
	CHECK(failures == 0, "continuous writers: every record acknowledged");
	CHECK(count_sql("walcap.db", "SELECT count(*) FROM messages") == WAL_WRITERS * WAL_RECORDS,
	      "every record landed");
	printf("# WAL %lld bytes (%lld frames) for %d records\n", (long long)wal_size,
	       (long long)(wal_size / FRAME), WAL_WRITERS * WAL_RECORDS);
	CHECK(wal_size > 0 && wal_size <= (off_t)(12 * PAGES) * FRAME,
	      "the WAL stays within 12x the checkpoint threshold");
}

/* ---- store_exec ------------------------------------------------------------------ */

static enum rd_err exec_insert_then(struct store_tx *tx, void *ctx)
{
	enum rd_err ret = *(enum rd_err *)ctx;
	if (store_test_sql(tx, "INSERT INTO subjects VALUES (x'01', 't', x'02')") != RD_OK)
		return RD_E_INTERNAL;
	return ret;
}

/* ---- what the writer remembers between inserts ---------------------------- */

static int links_stored(const char *dbname)
{
	return (int)count_sql(dbname, "SELECT count(*) FROM subjects");
}

static enum rd_err exec_delete_links(struct store_tx *tx, void *ctx)
{
	(void)ctx;
	return store_test_sql(tx, "DELETE FROM subjects");
}

static uint64_t links_cached(struct store *st)
{
	struct store_counters c;
	store_get_counters(st, &c);
	return c.links_cached;
}

/* Submits one new record of conversation conv (subject 0x5a); its status. */
static enum rd_err submit_one(struct store *st, const char *conv, int64_t ts)
{
	struct trec t;
	if (make_rec(st, &t, "acme", conv, ts, "x"))
		return RD_E_INTERNAL;
	return store_submit(st, &t.r, 1);
}

/* Three records of conversation conv, ts, ts + 1, ts + 2; false if no key. */
static bool make_three(struct store *st, const char *conv, int64_t ts, struct trec t[3])
{
	for (int i = 0; i < 3; i++)
		if (make_rec(st, &t[i], "acme", conv, ts + i, "x"))
			return false;
	return true;
}

/* The subject link cache (store_links.c) skips links known stored, and
 * forgets them whenever a link may have gone: an exec job, another
 * connection's commit, a job rolled back. */
static void test_link_cache(void)
{
	const char *name = "links.db";
	struct store *st = open_store(name, 1024, false, NULL);
	if (!st) {
		CHECK(0, "link cache setup");
		return;
	}
	for (int i = 0; i < 3; i++)
		CHECK(submit_one(st, "x", FEB_2020 + i) == RD_OK, "record with a subject stored");
	CHECK(links_cached(st) == 1, "the third record's link is known, not inserted again");

	CHECK(store_exec(st, exec_delete_links, NULL) == 0 && links_stored(name) == 0,
	      "an exec job deletes the links");
	CHECK(submit_one(st, "x", FEB_2020 + 3) == RD_OK && links_stored(name) == 1,
	      "after an exec job the link is inserted again");

	submit_one(st, "x", FEB_2020 + 4);
	sqlite3 *other = NULL;
	CHECK(sqlite3_open(tmp(name), &other) == SQLITE_OK &&
	      sqlite3_exec(other, "DELETE FROM subjects", NULL, NULL, NULL) == SQLITE_OK,
	      "another connection deletes the links");
	sqlite3_close(other);
	CHECK(submit_one(st, "x", FEB_2020 + 5) == RD_OK && links_stored(name) == 1,
	      "after another connection's commit the link is inserted again");

	/* A job links (y0), finds its own link (y1), then fails (y0 again). */
	struct trec y[3], z[3];
	if (!make_three(st, "y", FEB_2020 + 6, y) || !make_three(st, "z", FEB_2020 + 9, z)) {
		CHECK(0, "rollback setup");
		store_close(st);
		return;
	}
	struct store_record job[3] = { y[0].r, y[1].r, y[0].r };
	CHECK(store_submit(st, job, 3) == RD_E_STORAGE && links_stored(name) == 1,
	      "a failed job's link is rolled back");
	CHECK(store_submit(st, &y[2].r, 1) == RD_OK && links_stored(name) == 2,
	      "and inserted by the next record of that conversation");

	/* Two jobs in one group: the first links, the second finds its link;
	 * then the COMMIT fails and takes both back. */
	struct job_status su = { 1, false }, sv = { 1, false };
	store_pause_writer(st, true);
	store_test_fail_next_commit(st);
	CHECK(store_submit_async(st, &z[0].r, 1, on_job, &su) == RD_OK &&
	      store_submit_async(st, &z[1].r, 1, on_job, &sv) == RD_OK, "two jobs queued");
	store_pause_writer(st, false);
	for (int i = 0; i < 5000 && !(su.called && sv.called); i++)
		usleep(1000);
	CHECK(su.called && su.status == RD_E_STORAGE && sv.called && sv.status == RD_E_STORAGE,
	      "a refused COMMIT fails every job of its group");
	CHECK(store_submit(st, &z[2].r, 1) == RD_OK, "a record after the failed commit");
	CHECK(links_stored(name) == 3, "and the next record links the conversation again");
	store_close(st);
}

struct destroy_arg {
	struct store *st;
	int64_t key_id;
	enum rd_err rc;
};

static enum rd_err exec_destroy_key(struct store_tx *tx, void *ctx)
{
	char sql[96];
	snprintf(sql, sizeof sql, "UPDATE data_keys SET wrapped = NULL WHERE id = %lld",
	         (long long)((struct destroy_arg *)ctx)->key_id);
	return store_test_sql(tx, sql);
}

static void *destroy_main(void *arg)
{
	struct destroy_arg *a = arg;
	a->rc = store_exec(a->st, exec_destroy_key, a);
	return NULL;
}

/* Each transaction checks a data key once; a key destroyed since (by
 * another connection, or by an exec job earlier in the same group) seals
 * nothing more. */
static void test_key_checks(void)
{
	struct store *st = open_store("keychk.db", 1024, false, NULL);
	struct trec a, b, c, d;
	if (!st || make_rec(st, &a, "acme", "k", JAN_2020, "a") ||
	    make_rec(st, &b, "acme", "k", JAN_2020 + 1, "b") ||
	    make_rec(st, &c, "acme", "k", FEB_2020, "c") ||
	    make_rec(st, &d, "acme", "k", FEB_2020 + 1, "d")) {
		CHECK(0, "key check setup");
		store_close(st);
		return;
	}
	CHECK(store_submit(st, &a.r, 1) == RD_OK, "January record stored");
	sqlite3 *other = NULL;
	sqlite3_stmt *s = NULL;
	CHECK(sqlite3_open(tmp("keychk.db"), &other) == SQLITE_OK &&
	      sqlite3_prepare_v2(other, "UPDATE data_keys SET wrapped = NULL WHERE id = ?1", -1, &s,
	                         NULL) == SQLITE_OK &&
	      sqlite3_bind_int64(s, 1, a.r.key_id) == SQLITE_OK && sqlite3_step(s) == SQLITE_DONE,
	      "another connection destroys January's key");
	sqlite3_finalize(s);
	sqlite3_close(other);
	CHECK(store_submit(st, &b.r, 1) == RD_E_STORAGE, "a record sealed under it fails");

	/* One group: c, then the exec destroying February's key, then d. */
	struct job_status sc = { 1, false }, sd = { 1, false };
	struct destroy_arg da = { st, c.r.key_id, RD_E_INTERNAL };
	pthread_t th;
	store_pause_writer(st, true);
	CHECK(store_submit_async(st, &c.r, 1, on_job, &sc) == RD_OK, "c queued");
	CHECK(pthread_create(&th, NULL, destroy_main, &da) == 0, "exec thread");
	for (int i = 0; i < 5000 && store_test_queued_jobs(st) < 2; i++)
		usleep(1000);
	CHECK(store_test_queued_jobs(st) == 2 &&
	      store_submit_async(st, &d.r, 1, on_job, &sd) == RD_OK, "exec, then d queued");
	store_pause_writer(st, false);
	pthread_join(th, NULL);
	store_close(st);   /* drains */
	CHECK(sc.called && sc.status == RD_OK, "the record before the exec stores");
	CHECK(da.rc == 0, "the exec destroys February's key");
	CHECK(sd.called && sd.status == RD_E_STORAGE, "the record after it in the same group fails");
	CHECK(count_sql("keychk.db", "SELECT count(*) FROM messages") == 2, "a and c are stored");
}

static void test_exec(void)
{
	for (int ro = 0; ro < 2; ro++) {
		char name[32];
		snprintf(name, sizeof name, "exec%d.db", ro);
		struct store *st = open_store(name, 16, ro, NULL);
		enum rd_err fail = RD_E_NOT_FOUND, ok = RD_OK;
		CHECK(st && store_exec(st, exec_insert_then, &fail) == RD_E_NOT_FOUND,
		      ro ? "readonly exec returns fn's value" : "exec returns fn's value");
		CHECK(st && store_exec(st, exec_insert_then, &ok) == 0, "exec commits");
		store_close(st);
		CHECK(count_sql(name, "SELECT count(*) FROM subjects") == 1,
		      ro ? "readonly exec: rolled back on non-zero" : "exec: rolled back on non-zero");
	}
}

/* ---- migrations --------------------------------------------------------------------- */

/* The other owners' steps (store_audit.c, store_holds.c,
 * store_retention.c) work on a migrated database: an audit entry appends
 * and verifies, a hold and a pending count insert. */
static enum rd_err module_use_fn(struct store_tx *tx, void *arg)
{
	struct audit_report rep;
	(void)arg;
	if (audit_append(tx, "test", "migration.check", "schema", 1) != RD_OK ||
	    audit_verify(tx, &rep) != RD_OK || rep.fault != AUDIT_INTACT || rep.entries != 1)
		return RD_E_AUDIT;
	return store_test_sql(tx, "INSERT INTO holds (id, tenant, kind, target_hash, doc_ct, actor,"
	                      " created_ms) VALUES ('h_1', 't', 'subject', x'00', x'00', 'test', 0);"
	                      "INSERT INTO retention_pending VALUES ('t', 'c', 1)");
}

static enum rd_err count_row_fn(const struct store_row *row, void *ctx)
{
	(void)row;
	(void)ctx;
	return RD_OK;
}

/* Deletes tenant t's conversation of hash zero; *ctx gets the count. */
static enum rd_err delete_conv_fn(struct store_tx *tx, void *ctx)
{
	unsigned char h[CRYPTO_HASH_BYTES] = { 0 };
	return store_conversation_delete(tx, "t", h, ctx);
}

/* The process's peak RSS in KB since reset_hwm (VmHWM). */
static long vm_hwm_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int reset_hwm(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	int rc = f && fputs("5", f) >= 0 ? 0 : -1;
	if (f && fclose(f))
		rc = -1;
	return rc;
}

static enum rd_err delete_acme_c0_fn(struct store_tx *tx, void *ctx)
{
	unsigned char h[CRYPTO_HASH_BYTES];
	conv_hash("acme", "c0", h);
	return store_conversation_delete(tx, "acme", h, ctx);
}

struct alone_arg {
	struct store *st;
	enum rd_err rc;
};

static void *alone_failing_main(void *arg)
{
	struct alone_arg *x = arg;
	enum rd_err fail = RD_E_NOT_FOUND;
	x->rc = store_exec_alone(x->st, exec_insert_then, &fail);
	return NULL;
}

/* store_exec_alone between two records queued together: three groups; the
 * failing job is rolled back alone, returns its own status, and the
 * records on either side are stored. */
static void test_exec_alone_group(void)
{
	struct store *st = open_store("alone_group.db", 64, false, NULL);
	struct trec a, b;
	if (!st || make_rec(st, &a, "acme", "g", JAN_2020, "a") || make_rec(st, &b, "acme", "g", JAN_2020 + 1, "b")) {
		CHECK(0, "alone group setup");
		store_close(st);
		return;
	}
	struct job_status sa = { 1, false }, sb = { 1, false };
	struct alone_arg x = { st, RD_E_INTERNAL };
	struct store_counters c0, c1;
	pthread_t th;
	store_get_counters(st, &c0);
	store_pause_writer(st, true);
	CHECK(store_submit_async(st, &a.r, 1, on_job, &sa) == RD_OK, "a queued");
	CHECK(pthread_create(&th, NULL, alone_failing_main, &x) == 0, "exec thread");
	for (int i = 0; i < 5000 && store_test_queued_jobs(st) < 2; i++)
		usleep(1000);
	CHECK(store_test_queued_jobs(st) == 2 && store_submit_async(st, &b.r, 1, on_job, &sb) == RD_OK,
	      "a failing store_exec_alone, then b queued");
	store_pause_writer(st, false);
	pthread_join(th, NULL);
	for (int i = 0; i < 5000 && !sb.called; i++)
		usleep(1000);
	store_get_counters(st, &c1);
	CHECK(x.rc == RD_E_NOT_FOUND, "the alone job returns its own status");
	CHECK(sa.called && sa.status == RD_OK && sb.called && sb.status == RD_OK, "a and b are stored");
	CHECK(c1.commits - c0.commits == 2, "two commits: a's group and b's (the alone job's was rolled back)");
	store_close(st);
	CHECK(count_sql("alone_group.db", "SELECT count(*) FROM messages") == 2 &&
	      count_sql("alone_group.db", "SELECT count(*) FROM subjects WHERE subject_hash = x'01'") == 0,
	      "nothing of the failed job is stored");
}

/* An erasure's memory does not grow with what it deletes: a job grouped
 * with others runs under a savepoint, for which SQLite keeps the original
 * of every page it changes in memory (the daemon reached 535 MB erasing a
 * conversation of 330,000 records); store_exec_alone runs it with none. */
static void test_exec_alone_memory(void)
{
	struct store *st = open_store("alone.db", 4096, false, NULL);
	struct store_record *recs = NULL;
	struct trec *t = make_many(st, 60000, 1, 1700000000000, &recs);
	bool stored = t != NULL;
	for (int i = 0; stored && i < 60000; i += 1000)
		stored = store_submit(st, recs + i, 1000) == RD_OK;
	free(recs);
	free(t);
	CHECK(stored, "one conversation of 60,000 records (about 25 MB of pages)");
	int64_t removed = 0;
	long before = reset_hwm() == 0 ? vm_hwm_kb() : -1;
	enum rd_err rc = store_exec_alone(st, delete_acme_c0_fn, &removed);
	long grew = vm_hwm_kb() - before;
	printf("# erasing 60,000 records raised the peak RSS by %ld KB\n", grew);
	CHECK(st && rc == RD_OK && removed == 60000, "store_exec_alone erases them");
#ifdef __SANITIZE_ADDRESS__
	/* The sanitizer's shadow memory and quarantine make RSS meaningless:
	 * the bound is checked on the normal build. */
	(void)before;
	CHECK(1, "the peak RSS grew by less than 8 MB # skip AddressSanitizer build");
#else
	CHECK(before > 0 && grew < 8 * 1024, "the peak RSS grew by less than 8 MB");
#endif
	store_close(st);
}

static void check_migrated(const char *name, size_t from)
{
	char label[96];
	struct store *st = open_store(name, 16, false, NULL);
	snprintf(label, sizeof label, "version %zu: module tables usable after migrating", from);
	CHECK(st && store_exec(st, module_use_fn, NULL) == 0, label);
	snprintf(label, sizeof label, "version %zu: data keys survive", from);
	CHECK(st && count_sql(name, "SELECT count(*) FROM data_keys") == (from >= 1 ? 1 : 0), label);
	unsigned char h[CRYPTO_HASH_BYTES] = { 0 };
	size_t n = 0;
	snprintf(label, sizeof label, "version %zu: its message is found by conversation", from);
	CHECK(st && store_conversation(st, "t", h, count_row_fn, NULL, &n) == 0 &&
	      n == (from >= 1 ? 1u : 0u), label);
	store_close(st);
	snprintf(label, sizeof label, "version %zu: messages(category, ts_ms) is gone", from);
	CHECK(count_sql(name, "SELECT count(*) FROM sqlite_schema WHERE name = 'messages_cat_ts'") == 0,
	      label);
	snprintf(label, sizeof label, "version %zu: conversation index complete after close", from);
	CHECK(conv_index_consistent(name) &&
	      count_sql(name, "SELECT count(*) FROM conv_index") == (from >= 1 ? 1 : 0), label);
	if (from < 1 || from >= 9)
		return;
	snprintf(label, sizeof label, "version %zu: the link to the message's conversation is named by it", from);
	CHECK(count_sql(name, "SELECT count(*) FROM msg_subjects n JOIN subjects s USING (subject_hash)"
	                " JOIN messages m ON m.id = n.msg_id WHERE m.conv_hash = s.conv_hash") == 1, label);
	snprintf(label, sizeof label, "version %zu: a link to no message is dropped, the index too", from);
	CHECK(count_sql(name, "SELECT count(*) FROM subjects") == 1 &&
	      count_sql(name, "SELECT count(*) FROM sqlite_schema WHERE name = 'subjects_conv'") == 0, label);
	st = open_store(name, 16, false, NULL);
	int64_t removed = -1;
	snprintf(label, sizeof label, "version %zu: erasing the conversation takes its migrated link", from);
	CHECK(st && store_exec(st, delete_conv_fn, &removed) == 0 && removed == 1 &&
	      count_sql(name, "SELECT count(*) FROM subjects") == 0 &&
	      count_sql(name, "SELECT count(*) FROM msg_subjects") == 0, label);
	store_close(st);
}

/* A database at schema version v, built by applying every step up to v
 * by hand. */
static int make_at_version(const char *name, size_t v)
{
	sqlite3 *db;
	if (store_test_create_at_version(tmp(name), v) != RD_OK)
		return -1;
	int rc = sqlite3_open(tmp(name), &db);
	/* Data of v1, which every later version must keep. */
	if (rc == SQLITE_OK && v >= 1)
		rc = sqlite3_exec(db, "INSERT INTO data_keys (id, tenant, category, period, start_ms, end_ms,"
		                  " wrapped, created_ms) VALUES (7, 't', 'c', '2020-01', 0, 1, x'00', 0);"
		                  "INSERT INTO messages (record_id, tenant, conv_hash, ts_ms, received_ms, role,"
		                  " channel, category, key_id, conv_ct, text_ct, meta_ct) VALUES ('m_x', 't',"
		                  " zeroblob(32), 1, 1, 'user', 'web', 'c', 7, x'00', x'00', x'00')",
		                  NULL, NULL, NULL);
	/* Links before v9: one to that conversation, one to a conversation
	 * without messages (left behind by a bug, say). */
	if (rc == SQLITE_OK && v >= 1 && v < 9)
		rc = sqlite3_exec(db, "INSERT INTO subjects (subject_hash, tenant, conv_hash) VALUES"
		                  " (randomblob(32), 't', zeroblob(32)), (randomblob(32), 't', randomblob(32))",
		                  NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* v9 names links in slices of subject hashes (store_links_name_all) so
 * that its in-memory sort stays small: with more links than one slice
 * holds, every link to a conversation with messages is still named once,
 * by that conversation's newest message, and the others are dropped. */
static void test_migration_v9_slices(void)
{
	const char *name = "mig9slices.db";
	sqlite3 *db = NULL;
	int rc = store_test_create_at_version(tmp(name), 8) == RD_OK &&
	         sqlite3_open(tmp(name), &db) == SQLITE_OK ? SQLITE_OK : SQLITE_ERROR;
	/* 100,000 conversations of two messages and two links each (one of them
	 * to the same subject in every conversation), plus 1,000 links to no
	 * conversation: four slices' worth. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "BEGIN;"
		                  "INSERT INTO data_keys (id, tenant, category, period, start_ms, end_ms,"
		                  " wrapped, created_ms) VALUES (7, 't', 'c', '2020-01', 0, 1, x'00', 0);"
		                  "CREATE TEMP TABLE convs AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
		                  " SELECT i + 1 FROM n WHERE i < 100000) SELECT i, randomblob(32) AS h FROM n;"
		                  "INSERT INTO messages (record_id, tenant, conv_hash, ts_ms, received_ms, role,"
		                  " channel, category, key_id, conv_ct, text_ct, meta_ct) SELECT 'm_' || i || '_' || j,"
		                  " 't', h, 1, 1, 'user', 'web', 'c', 7, x'00', x'00', x'00' FROM convs,"
		                  " (SELECT 1 AS j UNION ALL SELECT 2) ORDER BY i, j;"
		                  "INSERT INTO subjects (subject_hash, tenant, conv_hash) SELECT randomblob(32), 't', h"
		                  " FROM convs;"
		                  /* A hotline's number, in every conversation: half the links, one hash. */
		                  "INSERT INTO subjects (subject_hash, tenant, conv_hash) SELECT zeroblob(32), 't', h"
		                  " FROM convs;"
		                  "INSERT INTO subjects (subject_hash, tenant, conv_hash) SELECT randomblob(32), 't',"
		                  " randomblob(32) FROM convs WHERE i <= 1000;"
		                  "COMMIT;", NULL, NULL, NULL);
	sqlite3_close(db);
	CHECK(rc == SQLITE_OK, "a v8 database with 201,000 links, 1,000 of them to no conversation");
	struct store *st = open_store(name, 16, false, NULL);
	CHECK(st && store_schema_version(st) == 9, "migrates to 9");
	store_close(st);
	CHECK(count_sql(name, "SELECT count(*) FROM subjects") == 200000 &&
	      count_sql(name, "SELECT count(*) FROM msg_subjects") == 200000,
	      "every link of a conversation named, once; the 1,000 others dropped");
	CHECK(count_sql(name, "SELECT count(*) FROM msg_subjects n JOIN messages m ON m.id = n.msg_id"
	                " JOIN subjects s ON s.subject_hash = n.subject_hash AND s.tenant = m.tenant AND s.conv_hash = m.conv_hash"
	                " WHERE m.record_id LIKE 'm\\_%\\_2' ESCAPE '\\'") == 200000,
	      "each by its conversation's newest message");
	CHECK(count_sql(name, "SELECT count(*) FROM sqlite_schema WHERE name = 'subjects_conv'") == 0,
	      "the index by conversation is gone (dropped after the migration's commit)");
	/* A crash between the migration's commit and that drop. */
	rc = sqlite3_open(tmp(name), &db) == SQLITE_OK ?
	     sqlite3_exec(db, "CREATE INDEX subjects_conv ON subjects(tenant, conv_hash)", NULL, NULL, NULL) :
	     SQLITE_ERROR;
	sqlite3_close(db);
	st = rc == SQLITE_OK ? open_store(name, 16, false, NULL) : NULL;
	store_close(st);
	CHECK(st && count_sql(name, "SELECT count(*) FROM sqlite_schema WHERE name = 'subjects_conv'") == 0,
	      "an index left behind by a crash after the commit is dropped at the next open");
}

static int hook_calls, hook_from, hook_to;

static void note_migration(int from, int to)
{
	hook_calls++;
	hook_from = from;
	hook_to = to;
}

static void test_migrations(void)
{
	size_t newest = store_migration_count();
	store_set_migration_hook(note_migration);
	/* Issue 13 moved each owner's steps into its own list: the schema, and
	 * so every existing database, stays exactly as it was. */
	CHECK(newest == 9, "the schema version is 9 (v7: tenant closures, replay register, consent, restrictions, erasure journal; v8: messages(category, ts_ms) dropped; v9: links named by messages)");
	for (size_t v = 0; v <= newest; v++) {
		char name[32], label[96];
		snprintf(name, sizeof name, "mig%zu.db", v);
		CHECK(make_at_version(name, v) == 0, "build a database at an earlier version");
		hook_calls = 0;
		struct store *st = open_store(name, 16, false, NULL);
		snprintf(label, sizeof label, "migrates from version %zu to %zu", v, newest);
		CHECK(st && store_schema_version(st) == (int)newest, label);
		store_close(st);
		snprintf(label, sizeof label, "version %zu: the migration hook is told (%s)", v,
		         v > 0 && v < newest ? "from, to" : "not for a new or current database");
		CHECK(v > 0 && v < newest ? hook_calls == 1 && hook_from == (int)v && hook_to == (int)newest
		                          : hook_calls == 0, label);
		snprintf(label, sizeof label, "version %zu: data survives", v);
		CHECK(count_sql(name, "SELECT count(*) FROM messages") == (v >= 1 ? 1 : 0), label);
		st = open_store(name, 16, false, NULL);
		snprintf(label, sizeof label, "version %zu: re-opens at %zu", v, newest);
		CHECK(st && store_schema_version(st) == (int)newest, label);
		store_close(st);
		check_migrated(name, v);
	}
	sqlite3 *db;
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", newest + 1);
	if (sqlite3_open(tmp("future.db"), &db) == SQLITE_OK)
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	CHECK(open_store("future.db", 16, false, NULL) == NULL, "a newer schema is refused");
	store_set_migration_hook(NULL);
}
/* SQLite's plan for sql on the database file name, as "detail;detail;".
 * The length written (0 if it could not be asked). */
static size_t query_plan(const char *name, const char *sql, char *plan, size_t cap)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	size_t used = 0;
	char q[1024];
	snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
	plan[0] = '\0';
	if (sqlite3_open_v2(tmp(name), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, q, -1, &s, NULL) == SQLITE_OK)
		while (sqlite3_step(s) == SQLITE_ROW && used < cap - 1)
			used += (size_t)snprintf(plan + used, cap - used, "%s;",
			                         (const char *)sqlite3_column_text(s, 3));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return used;
}

/* Plans that must not degrade as the database grows (bench/soak.sh found
 * both at 2-3 M records):
 * - a conversation's ids come from conv_index and the rowid range above
 *   its fill mark; with messages(tenant, category, ts_ms) in the schema
 *   (v6) the planner took that index for `tenant = ?1` in the tail, reading
 *   every message of the tenant (300 ms a read at 3 M records);
 * - the group walk (store_groups, written out again here) reads that index
 *   in order; without it SQLite sorted every record in memory (160 MB). */
static void test_plans(void)
{
	struct store *st = open_store("plan.db", 64, false, NULL);
	store_close(st);
	char plan[1024];
	size_t n = query_plan("plan.db", "SELECT id FROM messages WHERE id IN " STORE_CONV_IDS_SQL, plan,
	                      sizeof plan);
	CHECK(n > 0 && strstr(plan, "conv_index USING PRIMARY KEY") != NULL,
	      "conversation ids: conv_index searched by key");
	CHECK(strstr(plan, "INTEGER PRIMARY KEY (rowid>?)") != NULL &&
	      strstr(plan, "messages_tenant_cat_ts") == NULL,
	      "conversation ids: the tail is a rowid range, not the tenant's whole index");
	n = query_plan("plan.db", "SELECT tenant, category, count(*), min(ts_ms), 0"
	               " FROM messages INDEXED BY messages_tenant_cat_ts"
	               " GROUP BY tenant, category ORDER BY tenant, category", plan, sizeof plan);
	CHECK(strstr(plan, "COVERING INDEX messages_tenant_cat_ts") != NULL,
	      "the group walk reads the (tenant, category, ts) index alone");
	CHECK(n > 0 && strstr(plan, "TEMP B-TREE") == NULL, "and sorts nothing in memory");
	/* The bulk update of the index read every record's entry of
	 * messages(tenant, category, ts_ms) to sort by tenant (found at 3 M
	 * records, where it took half the daemon's time). */
	n = query_plan("plan.db", STORE_CONVIDX_FILL_SQL, plan, sizeof plan);
	CHECK(n > 0 && strstr(plan, "SEARCH messages USING INTEGER PRIMARY KEY (rowid>?)") &&
	      strstr(plan, "messages_tenant_cat_ts") == NULL,
	      "the conversation index's bulk update reads only the rows above its mark");
	/* v8 dropped messages(category, ts_ms): the purge scan and the search
	 * for a data key's records read ranges of (tenant, category, ts). */
	n = query_plan("plan.db", STORE_PURGE_SCAN_SQL, plan, sizeof plan);
	CHECK(n > 0 && strstr(plan, "USING INDEX messages_tenant_cat_ts (tenant=? AND category=? AND ts_ms>? AND ts_ms<?)") &&
	      strstr(plan, "TEMP B-TREE") == NULL,
	      "the purge scan reads its tenant's and category's range in order");
	/* v9: a conversation's links are found through its messages'
	 * msg_subjects rows and the links' own key, never by a scan (there is
	 * no index of links by conversation any more). */
	static const char *const link_sql[] = {
		STORE_LINKS_CARRY_SQL, STORE_LINKS_DROP_SQL, STORE_LINKS_DROP_CONV_SQL,
	};
	for (size_t i = 0; i < RD_ARRAY_LEN(link_sql); i++) {
		n = query_plan("plan.db", link_sql[i], plan, sizeof plan);
		CHECK(n > 0 && !strstr(plan, "SCAN subjects") && !strstr(plan, "SCAN msg_subjects") &&
		      !strstr(plan, "SCAN messages") && !strstr(plan, "SCAN conv_index"),
		      "subject links by conversation: searched by key, nothing scanned");
	}
	n = query_plan("plan.db", STORE_SHRED_SQL, plan, sizeof plan);
	CHECK(n > 0 && strstr(plan, "messages_tenant_cat_ts (tenant=? AND category=? AND ts_ms>? AND ts_ms<?)"),
	      "crypto-shredding probes a key's tenant, category and month");
}

int main(void)
{
	if (crypto_global_init())
		return 2;
	kr1 = new_keyring("k1.key");
	kr2 = new_keyring("k2.key");
	test_submit_read();
	test_modes_existing();
	test_all_or_nothing();
	test_concurrent();
	test_concurrent_reads();
	test_busy();
	test_sync_stage();
	test_wal_bounded();
	test_restart_with_reader();
	test_conv_index();
	test_conv_index_before_exec();
	test_exec();
	test_exec_alone_group();
	test_exec_alone_memory();
	test_link_cache();
	test_key_checks();
	test_migrations();
	test_migration_v9_slices();
	test_plans();
	keyring_free(kr1);
	keyring_free(kr2);
	return TEST_DONE();
}
