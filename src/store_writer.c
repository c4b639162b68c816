/*
 * store_writer.c — the writer thread and group commit.
 *
 * DESIGN
 * One writer thread owns the write connection (st->wdb) and is the only
 * code that writes records. Work reaches it as jobs on one FIFO queue under
 * st->qlock:
 *   - JOB_RECORDS: a copy of the caller's records (store_submit copies the
 *     borrowed buffers into one allocation, so the caller may free its own
 *     at once);
 *   - JOB_EXEC: a function to run inside the transaction (store_exec:
 *     purges, erasure, holds, audit entries, key rotation); one from
 *     store_exec_alone (erasure) makes a group by itself;
 *   - JOB_CHECKPOINT: wal_checkpoint(TRUNCATE), run between transactions.
 * The queue is bounded in records (opt.queue_size): a submit that does not
 * fit returns RD_E_BUSY at once, so memory stays bounded under overload and
 * the HTTP layer answers 503. Exec and checkpoint jobs are not counted.
 *
 * The writer loop takes every job waiting (up to opt.batch_max records; a
 * job is never split, and a job larger than batch_max forms a group by
 * itself), optionally waiting opt.batch_wait_us for a group to fill, then:
 *   BEGIN IMMEDIATE
 *     per job: SAVEPOINT job; its inserts or fn; RELEASE job
 *              (on failure ROLLBACK TO job: only that job fails)
 *   COMMIT
 * A group of one job takes no savepoint (a failure rolls the transaction
 * back): SQLite copies every page a savepoint's job changes into memory.
 * and only once the COMMIT is durable wakes each job with its status: a
 * synchronous submitter waiting on its job's semaphore, or an
 * asynchronous one through its done callback. So an acknowledged record is
 * durable, a job's records are all-or-nothing, and a failing job does not
 * take its neighbours with it. If the transaction itself is lost (COMMIT
 * fails, or SQLite rolls it back on an I/O error), every job of the group
 * gets RD_E_STORAGE.
 *
 * A record that carries a provider message id (replay_hash) first claims
 * it in the replay register (store_replay.c); when the id is already
 * there the record is a replay: nothing is written for it, its *replayed
 * flag is set and its job still succeeds. A duplicate queued behind the
 * first delivery thus finds the first one's claim and is answered after
 * that commit.
 *
 * At synchronous=FULL the COMMIT is made durable by the sync stage
 * (store_sync.c), which also runs the checkpoints.
 *
 * Stopping: store_close sets `stopping`; new submits get
 * RD_E_SHUTTING_DOWN; the writer drains what is queued, then exits;
 * store_close joins it and checkpoints. The writer never calls back into the store while holding
 * qlock, and done callbacks run without any lock held.
 */
#include "store_int.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WRITER_LOOKASIDE_SLOT  2048   /* bytes: holds a message's row image */
#define WRITER_LOOKASIDE_SLOTS 256

enum tx_stmt { TX_BEGIN, TX_COMMIT, TX_ROLLBACK, TX_SAVEPOINT, TX_ROLLBACK_TO, TX_RELEASE, TX_COUNT };
static const char *const tx_sql[TX_COUNT] = {
	[TX_BEGIN] = "BEGIN IMMEDIATE", [TX_COMMIT] = "COMMIT", [TX_ROLLBACK] = "ROLLBACK",
	[TX_SAVEPOINT] = "SAVEPOINT job", [TX_ROLLBACK_TO] = "ROLLBACK TO job", [TX_RELEASE] = "RELEASE job",
};

/* Runs one prepared transaction statement; SQLITE_OK or the error. */
static int tx(struct store *st, enum tx_stmt which)
{
	sqlite3_stmt *s = st->tx[which];
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Remembers that the statement that just failed on the writer's
 * connection ran out of disk space: its group's failed jobs then get
 * RD_E_STORAGE_FULL (503, retry later) rather than RD_E_STORAGE. */
static void note_full(struct store *st)
{
	if ((sqlite3_extended_errcode(st->wdb) & 0xff) == SQLITE_FULL)
		st->group_full = true;
}

/* ---- copying records ------------------------------------------------------ */

static size_t record_bytes(const struct store_record *r)
{
	return strlen(r->tenant) + 1 + strlen(r->category) + 1 +
	       strlen(r->entity_counts ? r->entity_counts : "{}") + 1 + r->conv_ct_len +
	       r->text_ct_len + r->meta_ct_len + r->nsubjects * CRYPTO_HASH_BYTES +
	       (r->replay_hash ? CRYPTO_HASH_BYTES : 0);
}

static void *put(char **p, const void *src, size_t n)
{
	void *at = *p;
	if (n)
		memcpy(at, src, n);
	*p += n;
	return at;
}

static void record_copy(struct store_record *dst, const struct store_record *src, char **p)
{
	const char *ec = src->entity_counts ? src->entity_counts : "{}";
	*dst = *src;
	dst->tenant = put(p, src->tenant, strlen(src->tenant) + 1);
	dst->category = put(p, src->category, strlen(src->category) + 1);
	dst->entity_counts = put(p, ec, strlen(ec) + 1);
	dst->conv_ct = put(p, src->conv_ct, src->conv_ct_len);
	dst->text_ct = put(p, src->text_ct, src->text_ct_len);
	dst->meta_ct = put(p, src->meta_ct, src->meta_ct_len);
	dst->subjects = put(p, src->subjects, src->nsubjects * CRYPTO_HASH_BYTES);
	if (src->replay_hash)
		dst->replay_hash = put(p, src->replay_hash, CRYPTO_HASH_BYTES);
}

/* One allocation: the job, its record array, then every buffer. */
static struct store_job *job_new_records(const struct store_record *recs, size_t n)
{
	size_t bytes = sizeof(struct store_job) + n * sizeof(struct store_record);
	for (size_t i = 0; i < n; i++) {
		if (!recs[i].tenant || !recs[i].category || (recs[i].nsubjects && !recs[i].subjects))
			return NULL;
		bytes += record_bytes(&recs[i]);
	}
	struct store_job *j = malloc(bytes);
	if (!j)
		return NULL;
	memset(j, 0, sizeof *j);
	j->kind = JOB_RECORDS;
	j->recs = (struct store_record *)(j + 1);
	j->n = n;
	char *p = (char *)(j->recs + n);
	for (size_t i = 0; i < n; i++)
		record_copy(&j->recs[i], &recs[i], &p);
	return j;
}

/* ---- the queue ------------------------------------------------------------ */

/* Appends j; RD_E_BUSY if its records do not fit, RD_E_SHUTTING_DOWN when
 * stopping. Caller holds qlock. */
static enum rd_err enqueue_locked(struct store *st, struct store_job *j)
{
	if (st->stopping || !st->writer_started)
		return RD_E_SHUTTING_DOWN;
	if (atomic_load(&st->sync_failed))
		return RD_E_STORAGE_FAILED;
	if (j->kind == JOB_RECORDS && j->n > (size_t)st->opt.queue_size)
		return RD_E_STORAGE;    /* could never fit: do not invite endless retries */
	if (j->kind == JOB_RECORDS &&
	    st->queued_records + j->n > (size_t)st->opt.queue_size) {
		atomic_fetch_add(&st->n_busy, 1);
		return RD_E_BUSY;
	}
	if (j->kind == JOB_RECORDS)
		st->queued_records += j->n;
	j->next = NULL;
	if (st->qtail)
		st->qtail->next = j;
	else
		st->qhead = j;
	st->qtail = j;
	pthread_cond_signal(&st->qcond);
	return RD_OK;
}

/* Enqueues j and waits for its result; frees j. A semaphore rather than a
 * condition variable on qlock: the writer wakes each waiter without
 * holding the queue lock, so woken submitters do not pile up on it. */
static enum rd_err run_sync(struct store *st, struct store_job *j)
{
	enum rd_err rc;
	sem_init(&j->done_sem, 0, 0);
	pthread_mutex_lock(&st->qlock);
	rc = enqueue_locked(st, j);
	pthread_mutex_unlock(&st->qlock);
	if (rc == RD_OK) {
		while (sem_wait(&j->done_sem) != 0 && errno == EINTR)
			;
		rc = j->status;
	}
	sem_destroy(&j->done_sem);
	free(j);
	return rc;
}

enum rd_err store_submit(struct store *st, const struct store_record *recs, size_t n)
{
	if (n == 0)
		return RD_OK;
	if (st->opt.readonly)
		return RD_E_SHUTTING_DOWN;
	struct store_job *j = job_new_records(recs, n);
	return j ? run_sync(st, j) : RD_E_STORAGE;
}

enum rd_err store_submit_async(struct store *st, const struct store_record *recs, size_t n,
                               store_done_fn done, void *ctx)
{
	if (st->opt.readonly)
		return RD_E_SHUTTING_DOWN;
	struct store_job *j = job_new_records(recs, n);
	if (!j)
		return RD_E_STORAGE;
	j->done = done;
	j->done_ctx = ctx;
	pthread_mutex_lock(&st->qlock);
	enum rd_err rc = enqueue_locked(st, j);
	pthread_mutex_unlock(&st->qlock);
	if (rc != RD_OK)
		free(j);
	return rc;
}

static enum rd_err exec_job(struct store *st, store_tx_fn fn, void *ctx, bool alone)
{
	if (!st->writer_started)
		return store_exec_direct(st, fn, ctx);
	if (pthread_equal(pthread_self(), st->writer)) {
		/* From inside an exec function: it would wait for itself. */
		log_error("store: store_exec called from the writer thread");
		return RD_E_STORAGE;
	}
	struct store_job *j = calloc(1, sizeof *j);
	if (!j)
		return RD_E_STORAGE;
	j->kind = JOB_EXEC;
	j->fn = fn;
	j->ctx = ctx;
	j->alone = alone;
	return run_sync(st, j);
}

enum rd_err store_exec(struct store *st, store_tx_fn fn, void *ctx)
{
	return exec_job(st, fn, ctx, false);
}

enum rd_err store_exec_alone(struct store *st, store_tx_fn fn, void *ctx)
{
	return exec_job(st, fn, ctx, true);
}

enum rd_err store_ping(struct store *st)
{
	if (!st->writer_started)
		return RD_OK;
	struct store_job *j = calloc(1, sizeof *j);
	if (!j)
		return RD_E_STORAGE;
	j->kind = JOB_EXEC;   /* with no fn: an empty transaction */
	return run_sync(st, j);
}

enum rd_err store_writer_checkpoint(struct store *st, int wait_ms)
{
	struct store_job *j = calloc(1, sizeof *j);
	if (!j)
		return RD_E_STORAGE;
	j->kind = JOB_CHECKPOINT;
	j->wait_ms = wait_ms;
	return run_sync(st, j);
}

void store_pause_writer(struct store *st, bool paused)
{
	pthread_mutex_lock(&st->qlock);
	st->paused = paused;
	pthread_cond_broadcast(&st->qcond);
	pthread_mutex_unlock(&st->qlock);
}

bool store_records_waiting(struct store *st)
{
	pthread_mutex_lock(&st->qlock);
	bool waiting = st->queued_records > 0;
	pthread_mutex_unlock(&st->qlock);
	return waiting;
}

void store_test_fail_next_commit(struct store *st)
{
	atomic_store(&st->fail_next_commit, true);
}

/* sqlite3_commit_hook: non-zero turns the COMMIT into a ROLLBACK. */
static int refuse_commit_on_request(void *arg)
{
	struct store *st = arg;
	return atomic_exchange(&st->fail_next_commit, false) ? 1 : 0;
}

size_t store_test_queued_jobs(struct store *st)
{
	size_t n = 0;
	pthread_mutex_lock(&st->qlock);
	for (const struct store_job *j = st->qhead; j; j = j->next)
		n++;
	pthread_mutex_unlock(&st->qlock);
	return n;
}

/* ---- executing a group ---------------------------------------------------- */

/* 1 when the data key may seal new records (not destroyed), 0 when not,
 * -1 on error. Asked once per key and transaction: inside it only an exec
 * job of the writer's own can destroy a key, and that resets the list. */
static int key_live(struct store *st, int64_t key_id)
{
	for (size_t i = 0; i < st->nlive_keys; i++)
		if (st->live_keys[i] == key_id)
			return 1;
	sqlite3_stmt *s = st->key_live;
	sqlite3_bind_int64(s, 1, key_id);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW && st->nlive_keys < STORE_LIVE_KEYS)
		st->live_keys[st->nlive_keys++] = key_id;
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int insert_message(struct store *st, const struct store_record *r)
{
	int live = key_live(st, r->key_id);
	if (live < 0) {
		log_error("store: data key lookup failed: %s", sqlite3_errmsg(st->wdb));
		return -1;
	}
	if (!live) {   /* destroyed since the record was sealed */
		log_error("store: record %s names data key %lld, which is not live", r->id,
		          (long long)r->key_id);
		return -1;
	}
	sqlite3_stmt *s = st->ins_msg;
	sqlite3_bind_int64(s, 14, st->next_msg_id++);
	sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, r->conv_hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, r->ts_ms);
	sqlite3_bind_int64(s, 5, r->received_ms);
	sqlite3_bind_text(s, 6, rd_role_name(r->role), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, rd_channel_name(r->channel), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, r->category, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, r->key_id);
	sqlite3_bind_blob(s, 10, r->conv_ct, (int)r->conv_ct_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 11, r->text_ct, (int)r->text_ct_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 12, r->meta_ct, (int)r->meta_ct_len, SQLITE_STATIC);
	sqlite3_bind_text(s, 13, r->entity_counts, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		note_full(st);
		log_error("store: insert failed: %s", sqlite3_errmsg(st->wdb));
		return -1;
	}
	return 0;
}

/* Message `id` names a link it made (STORE_LINKS_CARRY_SQL's invariant):
 * rows in message order, appended at the end of msg_subjects. */
static int name_link(struct store *st, int64_t id, const unsigned char *subject)
{
	sqlite3_stmt *s = st->ins_msg_subj;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_blob(s, 2, subject, CRYPTO_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Links each subject to the record's conversation, skipping the links the
 * cache knows are stored (store_links.c); the message just inserted (id)
 * names each link it made. */
static int link_subjects(struct store *st, const struct store_record *r, int64_t id)
{
	sqlite3_stmt *s = st->ins_subj;
	for (size_t i = 0; i < r->nsubjects; i++) {
		if (store_links_known(st, r->subjects[i], r->tenant, r->conv_hash)) {
			atomic_fetch_add(&st->n_link_hits, 1);
			continue;
		}
		sqlite3_bind_blob(s, 1, r->subjects[i], CRYPTO_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, r->tenant, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, r->conv_hash, CRYPTO_HASH_BYTES, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		sqlite3_reset(s);
		bool made = rc == SQLITE_DONE && sqlite3_changes(st->wdb) > 0;
		if (rc != SQLITE_DONE || (made && name_link(st, id, r->subjects[i]))) {
			note_full(st);
			log_error("store: subject link failed: %s", sqlite3_errmsg(st->wdb));
			return -1;
		}
		if (!made)   /* there already */
			store_links_note(st, r->subjects[i], r->tenant, r->conv_hash);
	}
	return 0;
}

/* 0 stored, 1 a replay of a provider message already stored (nothing
 * written), -1 failed. The claim comes first, in the job's savepoint: a
 * failed insert rolls it back with the message. */
static int insert_record(struct store *st, const struct store_record *r)
{
	if (r->replay_hash) {
		int claim = store_replay_claim(st, r->replay_hash, st->next_msg_id);
		if (claim < 0) {
			note_full(st);
			return -1;
		}
		if (claim == 0) {
			if (r->replayed)
				*r->replayed = true;
			return 1;
		}
	}
	int64_t id = st->next_msg_id;   /* insert_message takes it */
	return insert_message(st, r) || link_subjects(st, r, id) ? -1 : 0;
}

static bool bad_sizes(const struct store_record *r)
{
	return r->conv_ct_len > INT32_MAX || r->text_ct_len > INT32_MAX || r->meta_ct_len > INT32_MAX;
}

/* One job inside the group's transaction, under its own savepoint unless
 * it is the group's only job (single): then the caller rolls the whole
 * transaction back if it fails, and SQLite keeps no copy of the pages it
 * changes (store_exec_alone says why that matters). */
static enum rd_err run_job(struct store *st, struct store_job *j, bool single)
{
	enum rd_err rc = RD_OK;
	if (!single && tx(st, TX_SAVEPOINT) != SQLITE_OK)
		return RD_E_STORAGE;
	if (j->kind == JOB_EXEC && !j->fn) {
		/* store_ping: nothing to run; the group's commit and sync answer it. */
	} else if (j->kind == JOB_EXEC) {
		rc = store_tx_run_keeping(st, st->wdb, true, st->wcached, j->fn, j->ctx);
		if (rc != RD_OK)
			note_full(st);
		/* It may have destroyed keys or deleted links. */
		st->nlive_keys = 0;
		store_links_forget(st);
	} else {
		for (size_t i = 0; i < j->n && rc == RD_OK; i++) {
			int ins = bad_sizes(&j->recs[i]) ? -1 : insert_record(st, &j->recs[i]);
			if (ins < 0)
				rc = RD_E_STORAGE;
			else
				j->replays += (size_t)ins;
		}
		if (rc)
			log_error("store: a batch of %zu record(s) failed and was rolled back", j->n);
	}
	if (sqlite3_get_autocommit(st->wdb))
		return rc != RD_OK ? rc : RD_E_STORAGE;   /* SQLite rolled the whole transaction back */
	if (single)
		return rc;
	if (rc != RD_OK) {
		tx(st, TX_ROLLBACK_TO);
		store_links_forget(st);   /* links it found may have been its own */
	}
	tx(st, TX_RELEASE);
	return rc;
}

static void run_checkpoint(struct store *st, struct store_job *j)
{
	/* TRUNCATE waits for readers; ingest waits behind it, so not for long.
	 * If readers hold it back, the caller retries (store_residue_clear). */
	sqlite3_busy_timeout(st->wdb, j->wait_ms);
	int rc = sqlite3_wal_checkpoint_v2(st->wdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(st->wdb, STORE_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		log_warn("store: checkpoint did not complete: %s", sqlite3_errstr(rc));
	j->status = rc == SQLITE_OK ? RD_OK : RD_E_STORAGE;
}

/* After a group: a failure for lack of space turns its failed jobs'
 * RD_E_STORAGE into RD_E_STORAGE_FULL and marks the disk full until a group commits
 * without one. */
static void group_full_status(struct store *st, struct store_job *head, bool lost)
{
	if (st->group_full) {
		for (struct store_job *j = head; j; j = j->next)
			if (j->status == RD_E_STORAGE)
				j->status = RD_E_STORAGE_FULL;
		if (!atomic_exchange(&st->disk_full, true))
			log_warn("store: the disk is full: writes fail (503 storage_full) until space is freed");
	} else if (!lost && atomic_exchange(&st->disk_full, false)) {
		log_info("store: writes succeed again after the disk was full");
	}
}

/* Runs the group head..(end of list); sets each job's status. True when
 * it committed a transaction (which still needs the sync stage). */
static bool run_group(struct store *st, struct store_job *head)
{
	if (head->kind == JOB_CHECKPOINT) {
		run_checkpoint(st, head);
		return false;
	}
	st->nlive_keys = 0;
	st->group_full = false;
	bool lost = tx(st, TX_BEGIN) != SQLITE_OK || store_convidx_begin(st) != 0;
	bool single = !head->next, undone = false;
	if (!lost)
		store_links_check_version(st);
	for (struct store_job *j = head; j && !lost; j = j->next) {
		j->status = run_job(st, j, single);
		lost = sqlite3_get_autocommit(st->wdb) != 0;
	}
	if (!lost && single && head->status != RD_OK) {
		/* The only job failed: nothing of the group to keep. A ROLLBACK
		 * that fails leaves the transaction open: lost, below. */
		undone = tx(st, TX_ROLLBACK) == SQLITE_OK;
		lost = !undone;
		store_links_forget(st);   /* links it found may have been its own */
	} else if (!lost && tx(st, TX_COMMIT) != SQLITE_OK) {
		lost = true;
	}
	if (lost) {
		note_full(st);
		log_error("store: transaction lost: %s", sqlite3_errmsg(st->wdb));
		if (!sqlite3_get_autocommit(st->wdb))
			tx(st, TX_ROLLBACK);   /* else the next BEGIN fails, and every one after */
		store_links_forget(st);   /* links found there may have been this group's */
		for (struct store_job *j = head; j; j = j->next)
			j->status = RD_E_STORAGE;
	} else if (!undone) {
		atomic_fetch_add(&st->n_commits, 1);
	}
	group_full_status(st, head, lost || undone);   /* undone: nothing committed either */
	for (struct store_job *j = head; j; j = j->next) {
		if (j->kind != JOB_RECORDS)
			continue;
		if (j->status == RD_OK) {
			atomic_fetch_add(&st->n_records, j->n - j->replays);
			st->ci_pending += j->n - j->replays;
		} else {
			atomic_fetch_add(&st->n_failed, 1);
		}
	}
	return !lost && !undone;
}

void store_get_counters(struct store *st, struct store_counters *out)
{
	out->commits = atomic_load(&st->n_commits);
	out->records = atomic_load(&st->n_records);
	out->jobs_failed = atomic_load(&st->n_failed);
	out->busy = atomic_load(&st->n_busy);
	store_durations_read(st, &out->sync_time, &out->ckpt_time);
	out->syncs = out->sync_time.count;
	out->links_cached = atomic_load(&st->n_link_hits);
	out->ckpt_retries = atomic_load(&st->n_ckpt_retries);
	out->purge_paused_us = atomic_load(&st->n_purge_paused_us);
	out->residue_pending = atomic_load(&st->residue_pending);
	pthread_mutex_lock(&st->qlock);
	out->queued = st->queued_records;
	pthread_mutex_unlock(&st->qlock);
}

/* ---- the thread ------------------------------------------------------------ */

/* Waits (qlock held) up to batch_wait_us for the queue to reach batch_max. */
void store_wait_to_fill(struct store *st)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	long ns = until.tv_nsec + (long)st->opt.batch_wait_us * 1000L;
	until.tv_sec += ns / 1000000000L;
	until.tv_nsec = ns % 1000000000L;
	while (!st->stopping && st->queued_records < (size_t)st->opt.batch_max)
		if (pthread_cond_timedwait(&st->qcond, &st->qlock, &until) == ETIMEDOUT)
			break;
}

/* Waits (qlock held) for a job, a resume or stopping. With messages not
 * yet in the conversation index it waits at most until their bulk update
 * is due, and then returns true (idle). */
static bool wait_for_work(struct store *st)
{
	if (st->ci_pending == 0) {
		pthread_cond_wait(&st->qcond, &st->qlock);
		return false;
	}
	int64_t due_ms = st->ci_applied_ms + CONVIDX_IDLE_MS;
	struct timespec until = { .tv_sec = due_ms / 1000, .tv_nsec = (due_ms % 1000) * 1000000L };
	return pthread_cond_timedwait(&st->qcond, &st->qlock, &until) == ETIMEDOUT;
}

/* Detaches the next group from the queue (qlock held); NULL-terminated. */
struct store_job *store_take_group(struct store *st)
{
	struct store_job *head = st->qhead, *last = head;
	size_t recs = head->kind == JOB_RECORDS ? head->n : 0;
	if (head->kind != JOB_CHECKPOINT && !head->alone) {
		while (last->next && last->next->kind != JOB_CHECKPOINT && !last->next->alone &&
		       (last->next->kind == JOB_EXEC ||
		        recs + last->next->n <= (size_t)st->opt.batch_max)) {
			last = last->next;
			recs += last->kind == JOB_RECORDS ? last->n : 0;
		}
	}
	st->qhead = last->next;
	if (!st->qhead)
		st->qtail = NULL;
	last->next = NULL;
	st->queued_records -= recs;
	return head;
}

/* Wakes synchronous waiters; runs async callbacks and frees their jobs. */
void store_finish_jobs(struct store_job *head)
{
	struct store_job *next;
	for (struct store_job *j = head; j; j = next) {
		next = j->next;   /* read first: after sem_post, j belongs to its waiter */
		if (j->done) {
			j->done(j->done_ctx, j->status == RD_OK || j->status == RD_E_STORAGE_FULL ? j->status
			                                                                      : RD_E_STORAGE);
			free(j);
		} else {
			sem_post(&j->done_sem);
		}
	}
}

static bool has_exec(const struct store_job *j)
{
	for (; j; j = j->next)
		if (j->kind == JOB_EXEC && j->fn)
			return true;
	return false;
}

static void *writer_main(void *arg)
{
	struct store *st = arg;
	pthread_setname_np(pthread_self(), "rd-writer");
	for (;;) {
		store_sync_wait_taken(st);
		pthread_mutex_lock(&st->qlock);
		bool idle = false;
		while ((!st->qhead || st->paused) && !st->stopping && !idle)
			idle = wait_for_work(st);
		bool drained = st->stopping && !st->qhead;
		struct store_job *group = NULL;
		if (!idle && !drained) {
			if (st->opt.batch_wait_us > 0)
				store_wait_to_fill(st);
			group = store_take_group(st);
		}
		pthread_mutex_unlock(&st->qlock);
		if (group) {
			if (st->ci_pending > CONVIDX_EXEC_TAIL && has_exec(group))
				store_convidx_apply(st);
			if (run_group(st, group))
				store_sync_committed(st, group);
			else
				store_finish_jobs(group);
		}
		/* While the syncer fsyncs the group just handed over. */
		if ((drained && st->ci_pending) || store_convidx_due(st, idle))
			store_convidx_apply(st);
		if (drained)
			break;
	}
	return NULL;
}

static int prepare_tx(struct store *st)
{
	for (int i = 0; i < TX_COUNT; i++)
		if (sqlite3_prepare_v3(st->wdb, tx_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->tx[i],
		                       NULL) != SQLITE_OK)
			return -1;
	return 0;
}

int store_writer_start(struct store *st, char *err, size_t errlen)
{
	static const char ins_msg[] =
		"INSERT INTO messages (id, record_id, tenant, conv_hash, ts_ms, received_ms, role, channel,"
		" category, key_id, conv_ct, text_ct, meta_ct, entity_counts)"
		" VALUES (?14, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
	static const char key_live_sql[] = "SELECT 1 FROM data_keys WHERE id = ?1 AND wrapped IS NOT NULL";
	static const char ins_subj[] =
		"INSERT OR IGNORE INTO subjects (subject_hash, tenant, conv_hash) VALUES (?1, ?2, ?3)";
	static const char ins_msg_subj[] =
		"INSERT OR IGNORE INTO msg_subjects (msg_id, subject_hash) VALUES (?1, ?2)";
	/* The writer's page cache: index pages of random keys (record ids,
	 * conversation hashes) stay hot instead of being re-read. */
	sqlite3_exec(st->wdb, "PRAGMA cache_size=-8192", NULL, NULL, NULL);
	/* A larger lookaside (2 KB slots, 512 KB in all) for the one busy
	 * connection: a message's ~1.2 KB row image and its cursors come from
	 * there instead of malloc, a few per cent of the writer's time.
	 * Refused (SQLITE_BUSY) only while lookaside memory is in use, which
	 * it is not before the first statement; the default still works. */
	if (sqlite3_db_config(st->wdb, SQLITE_DBCONFIG_LOOKASIDE, NULL, WRITER_LOOKASIDE_SLOT,
	                      WRITER_LOOKASIDE_SLOTS) != SQLITE_OK)
		log_warn("store: the writer keeps SQLite's default lookaside");
	if (sqlite3_prepare_v3(st->wdb, ins_msg, -1, SQLITE_PREPARE_PERSISTENT, &st->ins_msg,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(st->wdb, ins_subj, -1, SQLITE_PREPARE_PERSISTENT, &st->ins_subj,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(st->wdb, ins_msg_subj, -1, SQLITE_PREPARE_PERSISTENT,
	                       &st->ins_msg_subj, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(st->wdb, key_live_sql, -1, SQLITE_PREPARE_PERSISTENT, &st->key_live,
	                       NULL) != SQLITE_OK || prepare_tx(st)) {
		util_err(err, errlen, "cannot prepare statements: %s", sqlite3_errmsg(st->wdb));
		return -1;
	}
	if (store_convidx_start(st, err, errlen) || store_links_start(st, err, errlen) ||
	    store_replay_start(st, err, errlen))
		return -1;
	sqlite3_commit_hook(st->wdb, refuse_commit_on_request, st);
	if (store_sync_start(st, err, errlen)) {
		store_sync_stop(st);   /* closes what it had opened */
		return -1;
	}
	if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
		store_sync_stop(st);
		util_err(err, errlen, "cannot start the writer thread");
		return -1;
	}
	st->writer_started = true;
	return 0;
}

void store_writer_join(struct store *st)
{
	if (!st->writer_started)
		return;
	pthread_mutex_lock(&st->qlock);
	st->stopping = true;
	st->paused = false;
	pthread_cond_broadcast(&st->qcond);
	pthread_mutex_unlock(&st->qlock);
	pthread_join(st->writer, NULL);
	st->writer_started = false;
}

void store_writer_stop(struct store *st)
{
	if (!st->writer_started)
		return;
	store_writer_join(st);
	store_sync_stop(st);
}
