/*
 * store_residue.c — erasure residue: deleted rows still in the files.
 *
 * secure_delete zeroes a deleted row in the page that held it, but that
 * zeroed page reaches the database file only when a checkpoint copies it
 * out of the WAL, and the WAL still holds the old frames until the
 * checkpoint truncates it. A reader that keeps an old snapshot (a long
 * export, a backup, an operator's sqlite3 shell) holds that checkpoint
 * back: a copy of the files then still holds the erased ciphertext, which
 * the live master key opens.
 *
 * So a delete is not reported complete until a TRUNCATE checkpoint has
 * finished after it. The transaction that deletes also marks the residue
 * (table residue_pending, one row whose gen counts the marks); clearing it
 * retries short checkpoints for a bounded time, and removes the mark only
 * for the gen it read before a checkpoint that completed, so a later
 * erasure's mark survives. What is still pending when the time is up is
 * reported as such and retried by the daemon's sweeper until done.
 */
#include "store_int.h"
#include "log.h"
#include "util.h"

#include <string.h>
#include <unistd.h>

enum rd_err store_residue_mark(struct store_tx *tx, int64_t now_ms)
{
	if (tx->pg)
		return RD_OK;   /* postgresql: no residue to track (README: shredding) */
	sqlite3 *db = tx->db;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "INSERT INTO residue_pending (id, gen, since_ms) VALUES (1, 1, ?1)"
	                       " ON CONFLICT (id) DO UPDATE SET gen = gen + 1", -1, &s, NULL) != SQLITE_OK)
		return store_db_err(db);
	sqlite3_bind_int64(s, 1, now_ms);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? RD_OK : store_db_err(db);
}

static enum rd_err residue_read_fn(struct store_tx *tx, void *arg)
{
	struct store_residue *r = arg;
	sqlite3 *db = tx->db;
	sqlite3_stmt *s;
	memset(r, 0, sizeof *r);
	if (sqlite3_prepare_v2(db, "SELECT gen, since_ms FROM residue_pending WHERE id = 1", -1, &s,
	                       NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		r->pending = true;
		r->marks = sqlite3_column_int64(s, 0);
		r->since_ms = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RD_OK : RD_E_STORAGE;
}

enum rd_err store_residue_get(struct store *st, struct store_residue *out)
{
	if (st->pg) {
		memset(out, 0, sizeof *out);
		return RD_OK;
	}
	enum rd_err rc = store_read(st, residue_read_fn, out);
	if (rc == RD_OK)
		atomic_store(&st->residue_pending, out->pending);
	return rc;
}

static enum rd_err unmark_fn(struct store_tx *tx, void *arg)
{
	sqlite3 *db = tx->db;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "DELETE FROM residue_pending WHERE id = 1 AND gen = ?1", -1, &s,
	                       NULL) != SQLITE_OK)
		return RD_E_STORAGE;
	sqlite3_bind_int64(s, 1, *(const int64_t *)arg);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? RD_OK : RD_E_STORAGE;
}

/* One TRUNCATE checkpoint that waits at most wait_ms for readers: on the
 * writer between transactions, else on a connection of its own. */
static enum rd_err checkpoint_once(struct store *st, int wait_ms)
{
	if (st->writer_started)
		return store_writer_checkpoint(st, wait_ms);
	sqlite3 *db = NULL;
	char err[256];
	if (store_connect(st->path, &st->opt, &db, err, sizeof err))
		return RD_E_STORAGE;
	sqlite3_busy_timeout(db, wait_ms);
	int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? RD_OK : RD_E_STORAGE;
}

enum round { ROUND_FAILED = -1, ROUND_HELD = 0, ROUND_CLEAR = 1, ROUND_UNMARKED = 2 };

/* One round: ROUND_CLEAR when no residue is left, ROUND_HELD when a
 * checkpoint could not complete, ROUND_UNMARKED after one did (look again:
 * a newer mark stays), or ROUND_FAILED. */
static enum round clear_round(struct store *st)
{
	struct store_residue r;
	if (store_residue_get(st, &r) != RD_OK)
		return ROUND_FAILED;
	if (!r.pending)
		return ROUND_CLEAR;
	if (checkpoint_once(st, STORE_RESIDUE_TRY_MS) != RD_OK)
		return ROUND_HELD;
	return store_exec(st, unmark_fn, &r.marks) == RD_OK ? ROUND_UNMARKED : ROUND_FAILED;
}

enum rd_err store_residue_clear(struct store *st, int wait_ms, bool *pending)
{
	if (st->pg) {
		*pending = false;
		return RD_OK;
	}
	int64_t deadline = util_mono_us() + (int64_t)wait_ms * 1000;
	unsigned tries = 0;
	enum round rc;
	while ((rc = clear_round(st)) == ROUND_HELD || rc == ROUND_UNMARKED) {
		if (rc == ROUND_UNMARKED) {
			/* A round that cleared its marks is followed by one that looks
			 * for marks made meanwhile, deadline or not: otherwise a slow
			 * round (a busy machine) reports "pending" for residue it has
			 * just removed, and /metrics keeps saying so until a retry. */
			if (util_mono_us() >= deadline && (rc = clear_round(st)) != ROUND_CLEAR)
				break;
			if (rc == ROUND_CLEAR)
				break;
			continue;
		}
		tries++;
		atomic_fetch_add(&st->n_ckpt_retries, 1);
		if (util_mono_us() >= deadline)
			break;
		usleep(STORE_RESIDUE_RETRY_MS * 1000);
	}
	if (rc == ROUND_FAILED)
		return RD_E_STORAGE;
	*pending = rc != ROUND_CLEAR;
	atomic_store(&st->residue_pending, *pending);
	if (*pending)
		log_warn("store: deleted records remain in the database files: a reader holds an old"
		         " snapshot (%u checkpoint tries); retrying in the background", tries);
	else if (tries)
		log_info("store: deleted records left the database files after %u checkpoint tries", tries);
	return RD_OK;
}
