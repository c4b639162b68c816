/*
 * test_store.c — the store on real SQLite files: submit and read back,
 * all-or-nothing jobs, concurrency, back-pressure, file modes, data keys,
 * rotation, crypto-shredding with a backup, residue after purges, and
 * migrations from every earlier schema version.
 */
#include "store.h"
#include "audit.h"
#include "harness.h"
#include "util.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#define JAN_2020 1577880000000LL   /* 2020-01-01T12:00:00Z */
#define FEB_2020 1580558400000LL   /* 2020-02-01T12:00:00Z */
#define MAR_2020 1583064000000LL   /* 2020-03-01T12:00:00Z */
#define CONVIDX_IDLE_MS_FOR_TEST 1000 /* store_int.h CONVIDX_IDLE_MS */

static struct keyring *kr1, *kr2;

/* ---- helpers ------------------------------------------------------------- */

static const char *tmp(const char *name)
{
	static char bufs[8][512];
	static int i;
	char *p = bufs[i++ % 8];
	snprintf(p, 512, "%s/%s", TEST_TMPDIR(), name);
	return p;
}

static struct keyring *new_keyring(const char *name)
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

static struct store *open_store(const char *name, int queue, bool ro, const char *keys_from)
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

static void conv_hash(const char *tenant, const char *conv, unsigned char h[CRYPTO_HASH_BYTES])
{
	unsigned char lk[CRYPTO_KEY_BYTES];
	keyring_subkey(kr1, SUBKEY_LOOKUP, lk);
	crypto_conversation_hash(lk, tenant, conv, strlen(conv), h);
	sodium_memzero(lk, sizeof lk);
}

static bool seal_v1;   /* make_rec seals under format 1, as before issue 11 */

static size_t seal(const unsigned char *key, enum crypto_field f, const struct store_record *r,
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
 * (tenant, "chat", ts). -1 if no data key. */
static int make_rec(struct store *st, struct trec *t, const char *tenant, const char *conv,
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
	r->category = "chat";
	if (strlen(text) > 256 || store_data_key_for(st, kr1, tenant, "chat", ts, &r->key_id, key))
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
static struct trec *make_many(struct store *st, int n, int nconv, int64_t ts,
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

static int read_fn(const struct store_row *row, void *arg)
{
	struct readback *rb = arg;
	unsigned char key[CRYPTO_KEY_BYTES], ad[CRYPTO_AD_MAX], m[512];
	int k = store_data_key_get(rb->st, rb->kr, row->key_id, key);
	if (k == 1) {
		rb->shredded++;
		return 0;
	}
	struct crypto_ad_row a;
	store_row_ad(row, &a);
	size_t adlen = crypto_ad_build(ad, FIELD_TEXT, &a);
	if (k != 0 || row->text_ct_len > sizeof m ||
	    crypto_open(key, ad, adlen, row->text_ct, row->text_ct_len, m) != 0) {
		rb->failed++;
	} else {
		size_t n = strlen(rb->texts);
		snprintf(rb->texts + n, sizeof rb->texts - n, "%s%.*s", n ? "|" : "",
		         (int)(row->text_ct_len - CRYPTO_SEAL_OVERHEAD), (const char *)m);
		rb->opened++;
	}
	sodium_memzero(key, sizeof key);
	return 0;
}

static struct readback read_conv(struct store *st, const struct keyring *kr, const char *tenant,
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

static int64_t count_sql(const char *dbname, const char *sql)
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

static mode_t file_mode(const char *name)
{
	struct stat sb;
	return stat(tmp(name), &sb) == 0 ? (sb.st_mode & 0777) : (mode_t)-1;
}

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
	CHECK(store_submit(st, recs, 3) == STORE_OK, "submit 3 records");
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
	CHECK(st && store_submit(st, &one, 1) == STORE_CLOSED, "readonly store refuses submits");
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

/* ---- all-or-nothing ---------------------------------------------------------- */

struct done_log {
	pthread_mutex_t m;
	pthread_cond_t c;
	int calls, ok, err;
};

static void on_done(void *ctx, int status)
{
	struct done_log *d = ctx;
	pthread_mutex_lock(&d->m);
	d->calls++;
	if (status == STORE_OK)
		d->ok++;
	else
		d->err++;
	pthread_cond_broadcast(&d->c);
	pthread_mutex_unlock(&d->m);
}

static void wait_calls(struct done_log *d, int n)
{
	pthread_mutex_lock(&d->m);
	while (d->calls < n)
		pthread_cond_wait(&d->c, &d->m);
	pthread_mutex_unlock(&d->m);
}

/* Per job status after three async jobs run in one group. */
struct job_status {
	int status;
	atomic_bool called;   /* set by the writer thread */
};

static void on_job(void *ctx, int status)
{
	struct job_status *j = ctx;
	j->status = status;
	j->called = true;
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
	CHECK(store_submit(st, dup, 2) == STORE_ERR, "a job with a duplicate id fails");
	CHECK(read_conv(st, kr1, "acme", "x").opened == 0, "and nothing of it is stored");
	/* Three jobs in one group: the middle one repeats an id of the first. */
	struct store_record j1[2] = { a.r, b.r }, j2[2] = { c.r, a.r }, j3[1] = { d.r };
	struct job_status s1 = { 1, false }, s2 = { 1, false }, s3 = { 1, false };
	store_pause_writer(st, true);
	CHECK(store_submit_async(st, j1, 2, on_job, &s1) == STORE_OK &&
	      store_submit_async(st, j2, 2, on_job, &s2) == STORE_OK &&
	      store_submit_async(st, j3, 1, on_job, &s3) == STORE_OK, "three jobs queued");
	store_pause_writer(st, false);
	store_close(st);   /* drains */
	CHECK(s1.called && s1.status == STORE_OK, "first job commits");
	CHECK(s2.called && s2.status == STORE_ERR, "conflicting job fails alone");
	CHECK(s3.called && s3.status == STORE_OK, "third job commits");
	st = open_store("aon.db", 1024, false, NULL);
	struct readback rb = st ? read_conv(st, kr1, "acme", "x") : (struct readback){ 0 };
	CHECK_STR(rb.texts, "a|b|d", "exactly the good jobs' records are stored");
	struct store_record bad = a.r;
	memcpy(bad.id, "m_ffffffffffffffffffffffff", RD_RECORD_ID_LEN + 1);
	bad.key_id = 999999;   /* no such data key */
	CHECK(st && store_submit(st, &bad, 1) == STORE_ERR, "a record naming no live data key fails");
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
		while ((rc = store_submit(w->st, r, (size_t)n)) == STORE_BUSY)
			usleep(100);
		if (rc != STORE_OK)
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
	CHECK(store_submit_async(st, five, 5, on_done, &d) == STORE_OK, "5 of 10 queued");
	CHECK(store_submit_async(st, &six, 1, on_done, &d) == STORE_OK, "6 of 10 queued");
	CHECK(store_submit_async(st, five, 5, on_done, &d) == STORE_BUSY, "11 of 10: STORE_BUSY");
	CHECK(store_submit(st, five, 5) == STORE_BUSY, "sync submit: STORE_BUSY at once");
	store_pause_writer(st, false);
	wait_calls(&d, 2);
	CHECK(d.ok == 2 && d.err == 0, "queued jobs commit after the writer resumes");
	CHECK(store_submit_async(st, five, 5, on_done, &d) == STORE_OK, "the queue has room again");
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

/* Every message at or below the watermark has its conv_index row, and no
 * conv_index row outlives its message. */
static bool conv_index_consistent(const char *db)
{
	return count_sql(db, "SELECT count(*) FROM messages WHERE id <= (SELECT upto FROM"
	                     " conv_index_state) AND id NOT IN (SELECT msg_id FROM conv_index)") == 0 &&
	       count_sql(db, "SELECT count(*) FROM conv_index"
	                     " WHERE msg_id NOT IN (SELECT id FROM messages)") == 0;
}

static int delete_newest_fn(sqlite3 *db, void *ctx)
{
	(void)ctx;
	return sqlite3_exec(db, "DELETE FROM messages WHERE id = (SELECT max(id) FROM messages)", NULL,
	                    NULL, NULL) == SQLITE_OK ? 0 : STORE_ERR;
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
	CHECK(store_submit(st, three, 3) == STORE_OK, "3 records in one conversation");
	CHECK(count_sql("convidx.db", "SELECT count(*) FROM conv_index") == 0,
	      "a small batch is not indexed at once");
	CHECK(read_conv(st, kr1, "acme", "tail").opened == 3, "read finds them in the unindexed tail");

	for (int i = 0; i < BULK; i++) {
		if (make_rec(st, &t[i], "acme", i % 2 ? "odd" : "even", MAR_2020 + 10 + i, "b"))
			CHECK(0, "conv index setup");
		recs[i] = t[i].r;
	}
	CHECK(store_submit(st, recs, BULK) == STORE_OK, "4200 more records");
	if (make_rec(st, &t[0], "acme", "tail", MAR_2020 + 5000, "t"))
		CHECK(0, "conv index setup");
	CHECK(store_submit(st, &t[0].r, 1) == STORE_OK, "and one after them");
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
	CHECK(store_submit(st, &t[1].r, 1) == STORE_OK, "a message after the deletes");
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

static int noop_fn(struct sqlite3 *db, void *ctx)
{
	(void)db;
	(void)ctx;
	return 0;
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
	CHECK(ok && store_submit(st, recs, N) == STORE_OK && count_sql("cidxexec.db", tail) == N,
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
	CHECK(store_submit(st, &t[0].r, 1) == STORE_OK, "FULL: a submit is acknowledged");
	struct store_counters sc;
	store_get_counters(st, &sc);
	CHECK(sc.syncs >= 1 && sc.syncs <= sc.commits, "FULL: each acknowledged group was fdatasynced");
	CHECK(store_writable(st), "writable before any failure");
	store_test_fail_syncs(st);
	CHECK(store_submit(st, &t[1].r, 1) == STORE_ERR, "a failed fdatasync answers STORE_ERR");
	CHECK(!store_writable(st), "not writable after a failed fdatasync");
	CHECK(store_submit(st, &t[2].r, 1) == STORE_FAILED, "and the store refuses later writes");
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
	CHECK(store_submit(st, &t[0].r, 1) == STORE_OK, "NORMAL: a submit is acknowledged");
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
		while ((rc = store_submit(w->st, &t.r, 1)) == STORE_BUSY)
			usleep(100);
		w->failures += rc != STORE_OK;
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
	    store_submit(st, &t.r, 1) != STORE_OK) {
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
		    store_submit(st, &t.r, 1) != STORE_OK)
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

/* ---- data keys -------------------------------------------------------------- */

static void test_data_keys(void)
{
	struct store *st = open_store("keys.db", 64, false, NULL);
	unsigned char k1[CRYPTO_KEY_BYTES], k2[CRYPTO_KEY_BYTES], k3[CRYPTO_KEY_BYTES],
		k4[CRYPTO_KEY_BYTES], k5[CRYPTO_KEY_BYTES];
	int64_t id1 = 0, id2 = 0, id3 = 0, id4 = 0;
	if (!st)
		return;
	CHECK(store_data_key_for(st, kr1, "acme", "chat", JAN_2020, &id1, k1) == 0, "key for Jan");
	CHECK(store_data_key_for(st, kr1, "acme", "chat", JAN_2020 + 86400000LL * 20, &id2, k2) == 0 &&
	      id1 == id2 && !memcmp(k1, k2, sizeof k1), "same month, same key");
	CHECK(store_data_key_for(st, kr1, "acme", "chat", FEB_2020, &id3, k3) == 0 && id3 != id1 &&
	      memcmp(k1, k3, sizeof k1), "next month, another key");
	CHECK(store_data_key_for(st, kr1, "beta", "chat", JAN_2020, &id4, k4) == 0 && id4 != id1,
	      "another tenant, another key");
	CHECK(store_data_key_for(st, kr1, "acme", "lead", JAN_2020, &id4, k4) == 0 && id4 != id1,
	      "another category, another key");
	CHECK(store_data_key_for(st, kr1, "acme", "chat", FEB_2020 - 43200001LL, &id4, k4) == 0 &&
	      id4 == id1, "last millisecond of January is January (UTC)");
	CHECK(store_data_key_get(st, kr1, id3, k5) == 0 && !memcmp(k3, k5, sizeof k3), "get by id");
	CHECK(store_data_key_get(st, kr1, 424242, k5) == -1, "unknown id fails");
	store_close(st);
	st = open_store("keys.db", 64, false, NULL);
	CHECK(st && store_data_key_get(st, kr1, id3, k5) == 0 && !memcmp(k3, k5, sizeof k3),
	      "key reads back after re-open (unwrapped from the database)");
	CHECK(st && store_data_key_get(st, kr2, id3, k5) == 0, "already cached: any keyring");
	store_close(st);
	st = open_store("keys.db", 64, false, NULL);
	CHECK(st && store_data_key_get(st, kr2, id3, k5) == -1,
	      "a fresh process with another master key opens no data key");
	store_close(st);
	CHECK(count_sql("keys.db", "SELECT count(*) FROM data_keys WHERE length(wrapped) = 72") == 4,
	      "4 keys stored wrapped (72 bytes)");
}

/* ---- rotation ------------------------------------------------------------------ */

static void test_rotation(void)
{
	struct store *st = open_store("rot.db", 64, false, NULL);
	struct trec a, b;
	size_t n = 99;
	if (!st || make_rec(st, &a, "acme", "r", JAN_2020, "jan") ||
	    make_rec(st, &b, "acme", "r", FEB_2020, "feb")) {
		CHECK(0, "rotation setup");
		store_close(st);
		return;
	}
	struct store_record r[2] = { a.r, b.r };
	CHECK(store_submit(st, r, 2) == STORE_OK, "records under master key 1");
	CHECK(store_rekey(st, kr1, kr2, &n) == 0 && n == 2, "rotation re-wraps 2 data keys");
	/* (no root key stored in this database: nothing attached it) */
	struct readback rb = read_conv(st, kr1, "acme", "r");
	CHECK(rb.opened == 2, "the running store keeps reading (cached keys)");
	CHECK(store_rekey(st, kr1, kr2, &n) == 0 && n == 0, "a second rotation changes nothing");
	store_close(st);
	st = open_store("rot.db", 64, true, NULL);
	rb = st ? read_conv(st, kr1, "acme", "r") : (struct readback){ 0 };
	CHECK(rb.opened == 0 && rb.failed == 2, "afterwards the old master key opens nothing");
	store_close(st);
	st = open_store("rot.db", 64, true, NULL);
	rb = st ? read_conv(st, kr2, "acme", "r") : (struct readback){ 0 };
	CHECK(rb.opened == 2 && !strcmp(rb.texts, "jan|feb"), "the new master key opens everything");
	CHECK(st && store_rekey(st, kr1, kr1, &n) == STORE_ERR, "rotating from a wrong key fails");
	store_close(st);
	CHECK(count_sql("rot.db", "SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL") == 2,
	      "a failed rotation changed nothing");
}

static struct keyring *reload(const char *name)
{
	char err[256];
	struct keyring *kr = NULL;
	return keyring_load(tmp(name), &kr, err, sizeof err) ? NULL : kr;
}

/* The keyed-hash subkeys survive a rotation; the old master key opens
 * neither the root nor any data key afterwards. */
static void test_root_key(void)
{
	struct store *st = open_store("root.db", 64, false, NULL);
	struct keyring *a = reload("k1.key"), *b = reload("k2.key"), *a2 = reload("k1.key"),
		*b2 = reload("k2.key");
	unsigned char l1[CRYPTO_KEY_BYTES], l2[CRYPTO_KEY_BYTES], direct[CRYPTO_KEY_BYTES];
	char err[256];
	size_t n = 0;
	if (!st || !a || !b || !a2 || !b2) {
		CHECK(0, "root setup");
		goto done;
	}
	keyring_subkey(a, SUBKEY_LOOKUP, direct);
	CHECK(store_keyring_attach(st, a, err, sizeof err) == 0, "first attach stores the root");
	keyring_subkey(a, SUBKEY_LOOKUP, l1);
	CHECK(!memcmp(l1, direct, sizeof l1), "a new database keeps the master key's subkeys");
	CHECK(store_keyring_attach(st, b, err, sizeof err) != 0, "another master key is refused");
	CHECK(store_rekey(st, a, b, &n) == 0 && n == 1, "rotation re-wraps the root key");
	CHECK(store_keyring_attach(st, b2, err, sizeof err) == 0, "the new master key attaches");
	keyring_subkey(b2, SUBKEY_LOOKUP, l2);
	CHECK(!memcmp(l1, l2, sizeof l1), "lookup subkey is unchanged by rotation");
	CHECK(store_keyring_attach(st, a2, err, sizeof err) != 0,
	      "the old master key no longer opens the root");
	unsigned char k[CRYPTO_KEY_BYTES];
	int64_t id;
	CHECK(store_data_key_for(st, a, "acme", "chat", MAR_2020, &id, k) != 0,
	      "a process still on the old master key makes no new data key");
	CHECK(store_data_key_for(st, b2, "acme", "chat", MAR_2020, &id, k) == 0,
	      "the new master key makes them");
done:
	store_close(st);
	keyring_free(a);
	keyring_free(b);
	keyring_free(a2);
	keyring_free(b2);
}

/* ---- purge, shredding, backup, residue ------------------------------------------- */

static int keep_conv_k(struct sqlite3 *db, const struct store_row *row, void *ctx)
{
	(void)db;
	return row && !memcmp(row->conv_hash, ctx, CRYPTO_HASH_BYTES) ? 1 : 0;
}

static void test_shred_backup(void)
{
	struct store *st = open_store("shred.db", 256, false, NULL);
	struct trec t[4];
	char err[256];
	size_t n = 0;
	if (!st || make_rec(st, &t[0], "acme", "s", JAN_2020, "jan1") ||
	    make_rec(st, &t[1], "acme", "s", JAN_2020 + 1, "jan2") ||
	    make_rec(st, &t[2], "acme", "s", FEB_2020, "feb") ||
	    make_rec(st, &t[3], "acme", "held", JAN_2020 + 5, "held")) {
		CHECK(0, "shred setup");
		store_close(st);
		return;
	}
	struct store_record r[4] = { t[0].r, t[1].r, t[2].r, t[3].r };
	CHECK(store_submit(st, r, 4) == STORE_OK, "Jan and Feb records stored");
	CHECK(store_backup(st, tmp("nokeys.bak"), 0, err, sizeof err) == 0, "backup without keys");
	CHECK(store_backup(st, tmp("full.bak"), STORE_BACKUP_WITH_KEYS, err, sizeof err) == 0,
	      "backup with keys");
	CHECK(store_backup(st, tmp("full.bak"), 0, err, sizeof err) != 0, "backup refuses to overwrite");
	CHECK(file_mode("nokeys.bak") == 0600 && file_mode("full.bak") == 0600, "backups are 0600");
	CHECK(count_sql("nokeys.bak", "SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL") == 0,
	      "keyless backup holds no wrapped key");
	/* Purge January, keeping the held conversation. */
	CHECK(store_purge_before(st, NULL, "chat", FEB_2020 - 43200000LL, 1, keep_conv_k,
	                         (void *)t[3].r.conv_hash, &n) == 0 && n == 2,
	      "purge deletes 2 January records in batches of 1, skipping the held one");
	CHECK(store_shred_keys(st, MAR_2020, &n) == 0 && n == 0, "held record keeps January's key");
	CHECK(store_purge_before(st, "acme", "chat", FEB_2020 - 43200000LL, 10, NULL, NULL, &n) == 0 &&
	      n == 1, "then the held one goes too");
	CHECK(store_shred_keys(st, JAN_2020 + 86400000LL, &n) == 0 && n == 0,
	      "the current month is never shredded");
	CHECK(store_shred_keys(st, MAR_2020, &n) == 0 && n == 1, "January's key is destroyed");
	unsigned char k[CRYPTO_KEY_BYTES];
	CHECK(store_data_key_get(st, kr1, t[0].r.key_id, k) == 1, "destroyed key reports 1");
	CHECK(read_conv(st, kr1, "acme", "s").opened == 1, "February still reads");
	struct trec late;
	CHECK(make_rec(st, &late, "acme", "s", JAN_2020 + 9, "late") == 0 &&
	      late.r.key_id != t[0].r.key_id, "a late January record gets a new key");
	CHECK(store_submit(st, &late.r, 1) == STORE_OK, "and stores");
	store_close(st);
	CHECK(count_sql("shred.db", "SELECT count(*) FROM subjects WHERE conv_hash IN (SELECT conv_hash"
	                " FROM messages)") == count_sql("shred.db", "SELECT count(*) FROM subjects"),
	      "no subject link without messages");

	/* The keyless backup, read with the live keys: January is gone. */
	struct store *bk = open_store("nokeys.bak", 16, true, tmp("shred.db"));
	struct readback rb = bk ? read_conv(bk, kr1, "acme", "s") : (struct readback){ 0 };
	CHECK(rb.shredded == 2 && rb.opened == 1 && !strcmp(rb.texts, "feb"),
	      "backup rows of the shredded period no longer open");
	store_close(bk);
	/* The escrow copy opens with the master key alone. */
	bk = open_store("full.bak", 16, true, NULL);
	rb = bk ? read_conv(bk, kr1, "acme", "s") : (struct readback){ 0 };
	CHECK(rb.opened == 3, "backup with keys opens with the same master key");
	store_close(bk);
}

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
	CHECK(ok && store_submit(st, recs, N) == STORE_OK, "120 January records in 7 conversations");
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

static bool file_has(const char *name, const unsigned char *needle, size_t n)
{
	FILE *f = fopen(tmp(name), "rb");
	if (!f)
		return false;
	static unsigned char buf[8 << 20];
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return len >= n && memmem(buf, len, needle, n) != NULL;
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
		    store_submit(st, &t[i].r, 1) != STORE_OK)
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
static int erase_marked_fn(struct sqlite3 *db, void *ctx)
{
	const unsigned char *h = ctx;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "DELETE FROM messages WHERE conv_hash = ?1", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_blob(s, 1, h, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? store_residue_mark(db, JAN_2020) : -1;
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
	    store_submit(st, &t[0].r, 1) != STORE_OK || store_submit(st, &t[1].r, 1) != STORE_OK ||
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
	CHECK(store_residue_clear(st, 200, &pending) == STORE_OK && pending,
	      "with the reader there the residue stays pending");
	CHECK(store_residue_get(st, &r) == STORE_OK && r.pending && r.marks == 1 && r.since_ms == JAN_2020,
	      "the mark is in the database");
	CHECK(file_has("resread.db", t[0].text + off, len) || file_has("resread.db-wal", t[0].text + off, len),
	      "pending: the ciphertext is still in the files");
	struct store_counters c;
	store_get_counters(st, &c);
	CHECK(c.ckpt_retries > 0 && c.residue_pending, "retries and the pending state are counted");
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(reader);
	CHECK(store_residue_clear(st, 200, &pending) == STORE_OK && !pending,
	      "once the reader is gone the residue clears");
	CHECK(store_residue_get(st, &r) == STORE_OK && !r.pending, "and the mark is gone");
	CHECK(!file_has("resread.db", t[0].text + off, len) && !file_has("resread.db-wal", t[0].text + off, len),
	      "the erased ciphertext is in neither the database file nor the WAL");
	CHECK(file_has("resread.db", t[1].text + off, len) || file_has("resread.db-wal", t[1].text + off, len),
	      "the other record's ciphertext is still there");
	store_get_counters(st, &c);
	CHECK(!c.residue_pending, "not pending any more");
	store_close(st);
}

/* ---- seal format 2 (issue 11) ---------------------------------------------------- */

static int sql_on(const char *dbname, const char *sql)
{
	sqlite3 *db;
	int rc = sqlite3_open(tmp(dbname), &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static struct store *open_attached(const char *name)
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

/* A database written before issue 11 (schema v4, every field sealed under
 * format 1) is migrated on open and re-sealed when the key is attached:
 * its records read under format 2, which binds role, channel, category
 * and time. Setting the format back to 1 afterwards launders no edit. */
static void test_reseal(void)
{
	struct store *st = open_attached("reseal.db");
	struct trec t[3];
	seal_v1 = true;
	bool ok = st && !make_rec(st, &t[0], "acme", "old", JAN_2020, "first") &&
	          !make_rec(st, &t[1], "acme", "old", JAN_2020 + 1, "second") &&
	          !make_rec(st, &t[2], "acme", "gone", FEB_2020, "shredded");
	seal_v1 = false;
	struct store_record r[3] = { t[0].r, t[1].r, t[2].r };
	CHECK(ok && store_submit(st, r, 3) == STORE_OK, "three records sealed the old way");
	store_close(st);
	/* As the previous release left it: no seal_format table, schema v4. */
	CHECK(sql_on("reseal.db", "DROP TABLE seal_format; PRAGMA user_version = 4;"
	             " UPDATE data_keys SET wrapped = NULL WHERE id = (SELECT key_id FROM messages"
	             " WHERE ts_ms = 1580558400000)") == 0,
	      "made a schema-v4 database (one record's key destroyed meanwhile)");
	CHECK(sql_on("reseal.db", "UPDATE messages SET key_id = key_id") == 0, "still opens with sqlite3");
	st = open_store("reseal.db", 64, false, NULL);
	CHECK(st && store_schema_version(st) == (int)store_migration_count() && store_seal_format(st) == 1,
	      "opening migrates the schema; the rows are still format 1");
	CHECK(st && read_conv(st, kr1, "acme", "old").failed == 2,
	      "format-1 rows do not open under format 2's associated data");
	store_close(st);
	st = open_attached("reseal.db");
	CHECK(st && store_seal_format(st) == 2, "attaching the key re-seals: format 2");
	struct readback rb = st ? read_conv(st, kr1, "acme", "old") : (struct readback){ 0 };
	CHECK(rb.opened == 2 && rb.failed == 0 && !strcmp(rb.texts, "first|second"),
	      "the migrated records read back");
	CHECK(count_sql("reseal.db", "SELECT format FROM seal_format") == 2, "the database says format 2");
	store_close(st);
	st = open_attached("reseal.db");
	CHECK(st && read_conv(st, kr1, "acme", "old").opened == 2, "re-opening re-seals nothing twice");
	store_close(st);
	/* An attacker edits a row and sets the format back to 1. */
	CHECK(sql_on("reseal.db", "UPDATE seal_format SET format = 1;"
	             " UPDATE messages SET role = 'agent' WHERE ts_ms = 1577880000000") == 0,
	      "edit a role and set the format back");
	st = open_attached("reseal.db");
	rb = st ? read_conv(st, kr1, "acme", "old") : (struct readback){ 0 };
	CHECK(st && store_seal_format(st) == 2 && rb.opened == 1 && rb.failed == 1 &&
	      !strcmp(rb.texts, "second"), "the edited row still fails; the other reads");
	store_close(st);
}

/* ---- store_exec ------------------------------------------------------------------ */

static int exec_insert_then(struct sqlite3 *db, void *ctx)
{
	int ret = *(int *)ctx;
	if (sqlite3_exec(db, "INSERT INTO subjects VALUES (x'01', 't', x'02')", NULL, NULL, NULL))
		return -5;
	return ret;
}

/* ---- what the writer remembers between inserts ---------------------------- */

static int links_stored(const char *dbname)
{
	return (int)count_sql(dbname, "SELECT count(*) FROM subjects");
}

static int exec_delete_links(struct sqlite3 *db, void *ctx)
{
	(void)ctx;
	return sqlite3_exec(db, "DELETE FROM subjects", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static uint64_t links_cached(struct store *st)
{
	struct store_counters c;
	store_get_counters(st, &c);
	return c.links_cached;
}

/* Submits one new record of conversation conv (subject 0x5a); its status. */
static int submit_one(struct store *st, const char *conv, int64_t ts)
{
	struct trec t;
	if (make_rec(st, &t, "acme", conv, ts, "x"))
		return -100;
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
		CHECK(submit_one(st, "x", FEB_2020 + i) == STORE_OK, "record with a subject stored");
	CHECK(links_cached(st) == 1, "the third record's link is known, not inserted again");

	CHECK(store_exec(st, exec_delete_links, NULL) == 0 && links_stored(name) == 0,
	      "an exec job deletes the links");
	CHECK(submit_one(st, "x", FEB_2020 + 3) == STORE_OK && links_stored(name) == 1,
	      "after an exec job the link is inserted again");

	submit_one(st, "x", FEB_2020 + 4);
	sqlite3 *other = NULL;
	CHECK(sqlite3_open(tmp(name), &other) == SQLITE_OK &&
	      sqlite3_exec(other, "DELETE FROM subjects", NULL, NULL, NULL) == SQLITE_OK,
	      "another connection deletes the links");
	sqlite3_close(other);
	CHECK(submit_one(st, "x", FEB_2020 + 5) == STORE_OK && links_stored(name) == 1,
	      "after another connection's commit the link is inserted again");

	/* A job links (y0), finds its own link (y1), then fails (y0 again). */
	struct trec y[3], z[3];
	if (!make_three(st, "y", FEB_2020 + 6, y) || !make_three(st, "z", FEB_2020 + 9, z)) {
		CHECK(0, "rollback setup");
		store_close(st);
		return;
	}
	struct store_record job[3] = { y[0].r, y[1].r, y[0].r };
	CHECK(store_submit(st, job, 3) == STORE_ERR && links_stored(name) == 1,
	      "a failed job's link is rolled back");
	CHECK(store_submit(st, &y[2].r, 1) == STORE_OK && links_stored(name) == 2,
	      "and inserted by the next record of that conversation");

	/* Two jobs in one group: the first links, the second finds its link;
	 * then the COMMIT fails and takes both back. */
	struct job_status su = { 1, false }, sv = { 1, false };
	store_pause_writer(st, true);
	store_test_fail_next_commit(st);
	CHECK(store_submit_async(st, &z[0].r, 1, on_job, &su) == STORE_OK &&
	      store_submit_async(st, &z[1].r, 1, on_job, &sv) == STORE_OK, "two jobs queued");
	store_pause_writer(st, false);
	for (int i = 0; i < 5000 && !(su.called && sv.called); i++)
		usleep(1000);
	CHECK(su.called && su.status == STORE_ERR && sv.called && sv.status == STORE_ERR,
	      "a refused COMMIT fails every job of its group");
	CHECK(store_submit(st, &z[2].r, 1) == STORE_OK, "a record after the failed commit");
	CHECK(links_stored(name) == 3, "and the next record links the conversation again");
	store_close(st);
}

struct destroy_arg {
	struct store *st;
	int64_t key_id;
	int rc;
};

static int exec_destroy_key(struct sqlite3 *db, void *ctx)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "UPDATE data_keys SET wrapped = NULL WHERE id = ?1", -1, &s,
	                       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, ((struct destroy_arg *)ctx)->key_id);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
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
	CHECK(store_submit(st, &a.r, 1) == STORE_OK, "January record stored");
	sqlite3 *other = NULL;
	sqlite3_stmt *s = NULL;
	CHECK(sqlite3_open(tmp("keychk.db"), &other) == SQLITE_OK &&
	      sqlite3_prepare_v2(other, "UPDATE data_keys SET wrapped = NULL WHERE id = ?1", -1, &s,
	                         NULL) == SQLITE_OK &&
	      sqlite3_bind_int64(s, 1, a.r.key_id) == SQLITE_OK && sqlite3_step(s) == SQLITE_DONE,
	      "another connection destroys January's key");
	sqlite3_finalize(s);
	sqlite3_close(other);
	CHECK(store_submit(st, &b.r, 1) == STORE_ERR, "a record sealed under it fails");

	/* One group: c, then the exec destroying February's key, then d. */
	struct job_status sc = { 1, false }, sd = { 1, false };
	struct destroy_arg da = { st, c.r.key_id, 1 };
	pthread_t th;
	store_pause_writer(st, true);
	CHECK(store_submit_async(st, &c.r, 1, on_job, &sc) == STORE_OK, "c queued");
	CHECK(pthread_create(&th, NULL, destroy_main, &da) == 0, "exec thread");
	for (int i = 0; i < 5000 && store_test_queued_jobs(st) < 2; i++)
		usleep(1000);
	CHECK(store_test_queued_jobs(st) == 2 &&
	      store_submit_async(st, &d.r, 1, on_job, &sd) == STORE_OK, "exec, then d queued");
	store_pause_writer(st, false);
	pthread_join(th, NULL);
	store_close(st);   /* drains */
	CHECK(sc.called && sc.status == STORE_OK, "the record before the exec stores");
	CHECK(da.rc == 0, "the exec destroys February's key");
	CHECK(sd.called && sd.status == STORE_ERR, "the record after it in the same group fails");
	CHECK(count_sql("keychk.db", "SELECT count(*) FROM messages") == 2, "a and c are stored");
}

static void test_exec(void)
{
	for (int ro = 0; ro < 2; ro++) {
		char name[32];
		snprintf(name, sizeof name, "exec%d.db", ro);
		struct store *st = open_store(name, 16, ro, NULL);
		int fail = 7, ok = 0;
		CHECK(st && store_exec(st, exec_insert_then, &fail) == 7,
		      ro ? "readonly exec returns fn's value" : "exec returns fn's value");
		CHECK(st && store_exec(st, exec_insert_then, &ok) == 0, "exec commits");
		store_close(st);
		CHECK(count_sql(name, "SELECT count(*) FROM subjects") == 1,
		      ro ? "readonly exec: rolled back on non-zero" : "exec: rolled back on non-zero");
	}
}

/* ---- migrations --------------------------------------------------------------------- */

/* The module steps (src/schema_modules.c) work on a migrated database: an
 * audit entry appends and verifies, a hold and a pending count insert. */
static int module_use_fn(sqlite3 *db, void *arg)
{
	struct audit_report rep;
	(void)arg;
	if (audit_append(db, "test", "migration.check", "schema", 1) || audit_verify(db, &rep) ||
	    rep.fault != AUDIT_INTACT || rep.entries != 1)
		return -1;
	return sqlite3_exec(db, "INSERT INTO holds (id, tenant, kind, target_hash, doc_ct, actor,"
	                    " created_ms) VALUES ('h_1', 't', 'subject', x'00', x'00', 'test', 0);"
	                    "INSERT INTO retention_pending VALUES ('t', 'c', 1)", NULL, NULL, NULL) ==
	       SQLITE_OK ? 0 : -1;
}

static int count_row_fn(const struct store_row *row, void *ctx)
{
	(void)row;
	(void)ctx;
	return 0;
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
	snprintf(label, sizeof label, "version %zu: conversation index complete after close", from);
	CHECK(conv_index_consistent(name) &&
	      count_sql(name, "SELECT count(*) FROM conv_index") == (from >= 1 ? 1 : 0), label);
}

/* A database at schema version v, built by applying the first v steps by hand. */
static int make_at_version(const char *name, size_t v)
{
	sqlite3 *db;
	char sql[64];
	int rc = sqlite3_open(tmp(name), &db);
	for (size_t i = 0; rc == SQLITE_OK && i < v; i++)
		rc = sqlite3_exec(db, store_migration_sql(i), NULL, NULL, NULL);
	snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", v);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	/* Data of v1, which every later version must keep. */
	if (rc == SQLITE_OK && v >= 1)
		rc = sqlite3_exec(db, "INSERT INTO data_keys (id, tenant, category, period, start_ms, end_ms,"
		                  " wrapped, created_ms) VALUES (7, 't', 'c', '2020-01', 0, 1, x'00', 0);"
		                  "INSERT INTO messages (record_id, tenant, conv_hash, ts_ms, received_ms, role,"
		                  " channel, category, key_id, conv_ct, text_ct, meta_ct) VALUES ('m_x', 't',"
		                  " zeroblob(32), 1, 1, 'user', 'web', 'c', 7, x'00', x'00', x'00')",
		                  NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static void test_migrations(void)
{
	size_t newest = store_migration_count();
	CHECK(newest >= 1 && store_migration_sql(newest) == NULL, "migration list is well formed");
	for (size_t v = 0; v <= newest; v++) {
		char name[32], label[96];
		snprintf(name, sizeof name, "mig%zu.db", v);
		CHECK(make_at_version(name, v) == 0, "build a database at an earlier version");
		struct store *st = open_store(name, 16, false, NULL);
		snprintf(label, sizeof label, "migrates from version %zu to %zu", v, newest);
		CHECK(st && store_schema_version(st) == (int)newest, label);
		store_close(st);
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
	test_data_keys();
	test_rotation();
	test_root_key();
	test_shred_backup();
	test_purge_yield();
	test_residue(true);
	test_residue(false);
	test_residue_reader();
	test_reseal();
	test_exec();
	test_link_cache();
	test_key_checks();
	test_migrations();
	keyring_free(kr1);
	keyring_free(kr2);
	return TEST_DONE();
}
