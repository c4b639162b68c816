/*
 * store_sync.c — the sync stage: durability and checkpoints at
 * synchronous=FULL.
 *
 * SQLite's FULL would fsync the WAL inside COMMIT, and the writer would sit
 * idle for the fsync (130-800 us here) while requests pile up. Instead the
 * writer's connection commits with synchronous=NORMAL (WAL frames written,
 * not synced) and hands the committed group to a second thread, the
 * syncer, then starts the next group at once. The syncer fdatasyncs the WAL
 * file once for every group waiting and only then acknowledges them. When
 * the syncer is idle and no job waits, the writer syncs the group itself:
 * there is nothing to overlap, and the hand-off would only add wake-ups.
 *
 * A commit is durable when its frames are on disk; frames written later
 * (the next group's, while the fsync runs) are either complete or fail
 * their checksums at recovery, which then stops before them, exactly as
 * after a crash under FULL. What changes: another connection may read a
 * group between its commit and its fsync; such records are not
 * acknowledged yet, and after a power cut they may be gone, as if never
 * sent. If an fdatasync fails, the kernel may have dropped the dirty pages:
 * the groups waiting get RD_E_STORAGE and the store refuses every later write
 * (sync_failed) until restarted.
 *
 * Checkpoints keep NORMAL's own syncs (WAL before, database after), so a
 * restarted WAL never loses checkpointed data. They run here too, on a
 * connection of their own, after an fsync each time the WAL has grown by
 * STORE_CHECKPOINT_PAGES frames: SQLite's automatic checkpoint ran inside
 * the writer's COMMIT, and its two fsyncs stalled every request behind it.
 *
 * The writer's side: store_sync_wait_taken before it takes a group,
 * store_sync_committed after each COMMIT.
 */
#include "store_int.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool checkpoint_due(struct store *st);

static const int64_t duration_bounds_us[] = STORE_DURATION_BOUNDS_US;
_Static_assert(RD_ARRAY_LEN(duration_bounds_us) + 1 == STORE_DURATION_BUCKETS,
               "one bucket per bound and one for longer");

static void note_duration(struct store_durations_live *d, int64_t start_us)
{
	int64_t us = util_mono_us() - start_us;
	size_t b = 0;
	while (b < RD_ARRAY_LEN(duration_bounds_us) && us > duration_bounds_us[b])
		b++;
	atomic_fetch_add(&d->buckets[b], 1);
	atomic_fetch_add(&d->sum_us, (uint64_t)(us > 0 ? us : 0));
}

void store_durations_read(struct store *st, struct store_durations *sync,
                          struct store_durations *ckpt)
{
	const struct store_durations_live *from[2] = { &st->sync_time, &st->ckpt_time };
	struct store_durations *to[2] = { sync, ckpt };
	for (int i = 0; i < 2; i++) {
		to[i]->count = 0;
		for (size_t b = 0; b < STORE_DURATION_BUCKETS; b++)
			to[i]->count += to[i]->buckets[b] = atomic_load(&from[i]->buckets[b]);
		to[i]->sum_us = atomic_load(&from[i]->sum_us);
	}
}

/* While a committed group still waits for the syncer (busy with an
 * earlier fsync), a new commit would only wait behind it: the writer waits
 * too, and meanwhile more records queue up for one bigger transaction,
 * which dirties fewer pages per record. */
void store_sync_wait_taken(struct store *st)
{
	if (st->wal_fd < 0)
		return;
	pthread_mutex_lock(&st->slock);
	while (st->shead)
		pthread_cond_wait(&st->staken, &st->slock);
	pthread_mutex_unlock(&st->slock);
}

/* Appends a committed group to the syncer's list. */
static void sync_enqueue(struct store *st, struct store_job *group)
{
	struct store_job *last = group;
	while (last->next)
		last = last->next;
	pthread_mutex_lock(&st->slock);
	if (st->stail)
		st->stail->next = group;
	else
		st->shead = group;
	st->stail = last;
	pthread_cond_signal(&st->scond);
	pthread_mutex_unlock(&st->slock);
}

/* fdatasync of the WAL, then the jobs' answers. Every frame of these
 * groups was written before this call. */
static void sync_and_finish(struct store *st, struct store_job *jobs)
{
	int64_t start = util_mono_us();
	int failed = fdatasync(st->wal_fd) == 0 ? 0 : errno;
	note_duration(&st->sync_time, start);   /* also what redactd_store_syncs_total counts */
	if (failed) {
		log_error("store: fdatasync of the WAL failed (%s): refusing writes until restart",
		          strerror(failed));
		atomic_store(&st->sync_failed, true);
	}
	if (atomic_load(&st->sync_failed))
		for (struct store_job *j = jobs; j; j = j->next)
			j->status = RD_E_STORAGE;
	store_finish_jobs(jobs);
}

/* True when handing a committed group to the syncer would gain nothing:
 * the syncer is idle and no job waits for the writer, so there is no
 * next group to commit during the fsync. The writer then syncs it itself
 * and saves two thread wake-ups (a single client's round trip was twice
 * as long with them). A checkpoint that is due still goes the syncer's
 * way. */
static bool sync_inline(struct store *st)
{
	if (checkpoint_due(st))
		return false;
	pthread_mutex_lock(&st->slock);
	bool idle = !st->shead && !st->sync_busy;
	pthread_mutex_unlock(&st->slock);
	if (!idle)
		return false;
	pthread_mutex_lock(&st->qlock);
	bool empty = !st->qhead;
	pthread_mutex_unlock(&st->qlock);
	return empty;
}

/* Due once the WAL holds STORE_CHECKPOINT_PAGES frames more than at the
 * last checkpoint (or than at its last restart). Not on every commit past
 * the threshold: the writer keeps committing during a checkpoint, so the
 * WAL often cannot restart right after one, and each retry would copy a
 * few frames at the price of two fsyncs. */
static bool checkpoint_due(struct store *st)
{
	int pages = atomic_load(&st->wal_pages), at = atomic_load(&st->ckpt_at);
	if (pages < at)
		at = 0;   /* the WAL restarted since */
	return pages - at >= st->ckpt_pages;
}

/* PASSIVE: copies what it can without waiting for readers or the writer,
 * which keeps committing meanwhile, and syncs the WAL before and the
 * database after, as a checkpoint in the writer did. The WAL restarts at
 * the writer's next transaction if that begins after a complete copy; when
 * it has grown to four times the threshold because none did, RESTART waits
 * for a gap between the writer's transactions so that the next one
 * restarts it, which bounds the WAL. */
static void background_checkpoint(struct store *st)
{
	int pages = atomic_load(&st->wal_pages);
	int mode = pages >= STORE_CHECKPOINT_RESTART_AT * st->ckpt_pages ? SQLITE_CHECKPOINT_RESTART
	                                                                  : SQLITE_CHECKPOINT_PASSIVE;
	int64_t start = util_mono_us();
	int rc = sqlite3_wal_checkpoint_v2(st->cdb, "main", mode, NULL, NULL);
	note_duration(&st->ckpt_time, start);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		log_warn("store: background checkpoint: %s", sqlite3_errstr(rc));
	atomic_store(&st->ckpt_at, pages);
}

static void *syncer_main(void *arg)
{
	struct store *st = arg;
	pthread_setname_np(pthread_self(), "rd-sync");
	for (;;) {
		pthread_mutex_lock(&st->slock);
		while (!st->shead && !st->sync_stopping)
			pthread_cond_wait(&st->scond, &st->slock);
		struct store_job *jobs = st->shead;
		st->shead = st->stail = NULL;
		st->sync_busy = jobs != NULL;
		pthread_cond_signal(&st->staken);
		pthread_mutex_unlock(&st->slock);
		if (!jobs)
			break;   /* stopping, and drained */
		sync_and_finish(st, jobs);
		if (checkpoint_due(st))
			background_checkpoint(st);
		pthread_mutex_lock(&st->slock);
		st->sync_busy = false;
		pthread_mutex_unlock(&st->slock);
	}
	return NULL;
}

/* After every commit on the writer's connection (sqlite3_wal_hook). */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)db;
	(void)name;
	struct store *st = arg;
	atomic_store(&st->wal_pages, pages);
	return SQLITE_OK;
}

/* Opens the WAL file for fdatasync and makes its directory entry durable
 * (SQLite would do that at its first sync of a new WAL). */
static int sync_open(struct store *st, char *err, size_t errlen)
{
	char wal[4096], dir[4096];
	if (snprintf(wal, sizeof wal, "%s-wal", st->path) >= (int)sizeof wal ||
	    snprintf(dir, sizeof dir, "%s", st->path) >= (int)sizeof dir) {
		util_err(err, errlen, "database path too long");
		return -1;
	}
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	else
		strcpy(dir, ".");
	st->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->wal_fd < 0 || dfd < 0 || fsync(dfd) != 0) {
		util_err(err, errlen, "cannot open %s for syncing: %s", st->wal_fd < 0 ? wal : dir,
		         strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
}

/* FULL: the writer's own commits skip the fsync the syncer does for them. */
int store_sync_start(struct store *st, char *err, size_t errlen)
{
	if (!st->opt.sync_full)
		return 0;
	if (sync_open(st, err, errlen))
		return -1;
	/* Checkpoints move to the syncer too: the hook replaces the writer's
	 * automatic checkpoint (whose two fsyncs stalled it) and only counts. */
	if (store_connect(st->path, &st->opt, &st->cdb, err, errlen))
		return -1;
	sqlite3_busy_timeout(st->cdb, STORE_RESTART_WAIT_MS);
	sqlite3_wal_hook(st->wdb, on_wal_commit, st);
	if (sqlite3_exec(st->wdb, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    pthread_create(&st->syncer, NULL, syncer_main, st) != 0) {
		util_err(err, errlen, "cannot start the sync thread");
		return -1;
	}
	st->syncer_started = true;
	return 0;
}

void store_test_checkpoint_pages(struct store *st, int pages)
{
	st->ckpt_pages = pages;
}

void store_test_fail_syncs(struct store *st)
{
	int p[2];
	if (st->wal_fd < 0 || pipe(p) != 0)
		return;
	(void)dup2(p[0], st->wal_fd);   /* fdatasync on a pipe: EINVAL */
	close(p[0]);
	close(p[1]);
}

void store_sync_stop(struct store *st)
{
	if (st->syncer_started) {
		pthread_mutex_lock(&st->slock);
		st->sync_stopping = true;
		pthread_cond_signal(&st->scond);
		pthread_mutex_unlock(&st->slock);
		pthread_join(st->syncer, NULL);
		st->syncer_started = false;
	}
	sqlite3_close(st->cdb);
	st->cdb = NULL;
	if (st->wal_fd >= 0)
		close(st->wal_fd);
	st->wal_fd = -1;
	if (st->wdb && st->opt.sync_full)
		sqlite3_exec(st->wdb, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
}

bool store_writable(struct store *st)
{
	return !atomic_load(&st->sync_failed);
}

bool store_disk_full(struct store *st)
{
	return atomic_load(&st->disk_full);
}

void store_sync_committed(struct store *st, struct store_job *group)
{
	if (st->wal_fd < 0)
		store_finish_jobs(group);     /* NORMAL: acknowledged at COMMIT */
	else if (sync_inline(st))
		sync_and_finish(st, group);
	else
		sync_enqueue(st, group);
}
