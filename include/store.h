/*
 * store.h — the SQLite store: sealed records, data keys, group commit.
 *
 * DESIGN
 * One writer thread owns the write connection. Request threads redact and
 * seal, then hand records to it with store_submit, which enqueues them in a
 * bounded queue and blocks until the writer has committed the transaction
 * holding them (group commit: one transaction for whatever is waiting,
 * bounded by count and time). A full queue returns STORE_BUSY at once
 * (the HTTP layer answers 503 with Retry-After). Reads use their own
 * connections (WAL lets them run beside the writer).
 *
 * The database is in WAL mode, synchronous=FULL by default, secure_delete on,
 * file mode 0600, schema versioned with PRAGMA user_version and migrated on
 * open. Prepared statements only.
 *
 * Nothing personal is stored in clear: conversation ids as a keyed hash plus
 * a sealed copy, text and metadata sealed under a data key per
 * (tenant, category, month) that is itself wrapped by the master key.
 */
#ifndef REDACTD_STORE_H
#define REDACTD_STORE_H

#include "redactd.h"
#include "crypto.h"

struct store;
struct sqlite3;

enum store_status {
	STORE_OK = 0,
	STORE_ERR = -1,      /* database error (logged) */
	STORE_BUSY = -2,     /* writer queue full: retry later */
	STORE_CLOSED = -3,   /* shutting down */
	STORE_FAILED = -4,   /* refused: a WAL fdatasync failed earlier; restart needed */
	STORE_FULL = -5,     /* the disk is full (SQLITE_FULL): nothing written; retry later */
};

struct store_options {
	bool sync_full;      /* synchronous=FULL (default) or NORMAL */
	/* The caller's [storage] values; a writable store refuses 0. */
	int queue_size;      /* records the writer queue holds */
	int batch_max;       /* records per transaction */
	int batch_wait_us;   /* how long the writer waits to fill a group */
	bool readonly;       /* CLI read paths: no writer thread */
	/* Reading a backup made without keys (store_backup): take data keys
	 * from this (live) database instead of the one opened. NULL normally. */
	const char *keys_from;
};

/* A message ready to store: every personal field already sealed. The
 * buffers are borrowed for the duration of store_submit. */
struct store_record {
	char id[RD_RECORD_ID_LEN + 1];
	const char *tenant;
	unsigned char conv_hash[CRYPTO_HASH_BYTES];
	int64_t ts_ms;                 /* message time */
	int64_t received_ms;
	enum rd_role role;
	enum rd_channel channel;
	const char *category;
	int64_t key_id;                /* data key that sealed the fields */
	const unsigned char *conv_ct; size_t conv_ct_len;
	const unsigned char *text_ct; size_t text_ct_len;
	const unsigned char *meta_ct; size_t meta_ct_len;   /* {"metadata":..,"findings":..} */
	const char *entity_counts;     /* JSON object of counts, e.g. {"EMAIL":1}; no PII */
	const unsigned char (*subjects)[CRYPTO_HASH_BYTES]; /* subject hashes seen */
	size_t nsubjects;
};

/* A stored message as read back (fields still sealed). Valid only during
 * the callback. */
struct store_row {
	int64_t rowid;
	const char *id;
	const char *tenant;
	const unsigned char *conv_hash;
	int64_t ts_ms;
	enum rd_role role;
	enum rd_channel channel;
	const char *role_name, *channel_name;   /* as stored (the AD binds these) */
	const char *category;
	int64_t key_id;
	const unsigned char *conv_ct; size_t conv_ct_len;
	const unsigned char *text_ct; size_t text_ct_len;
	const unsigned char *meta_ct; size_t meta_ct_len;
	const char *entity_counts;
};

/* What the associated data of a record's sealed fields binds
 * (crypto_ad_build): of a record about to be stored, and of a stored row. */
void store_record_ad(const struct store_record *r, struct crypto_ad_row *out);
void store_row_ad(const struct store_row *r, struct crypto_ad_row *out);

/* The AD format the rows of this database are sealed with: 2 (every
 * column of crypto_ad_row), or 1 (tenant, conversation, record id only)
 * for a database store_keyring_attach has not re-sealed yet, such as an
 * older key-less backup read with keys_from. Use crypto_ad_build_v1 then. */
int store_seal_format(struct store *st);

/* Return 0 to continue, non-zero to stop (that value is returned). */
typedef int (*store_row_fn)(const struct store_row *row, void *ctx);

/* SQL for the ids of one conversation's messages, with the tenant as ?1
 * and conv_hash as ?2: the bulk-filled conv_index plus the short tail of
 * messages the writer has not indexed yet. Use as `id IN ` STORE_CONV_IDS_SQL
 * (IN also makes the two parts' union exact) or `EXISTS ` STORE_CONV_IDS_SQL. */
#define STORE_CONV_IDS_SQL                                                                  \
	"(SELECT msg_id FROM conv_index WHERE tenant = ?1 AND conv_hash = ?2"                  \
	" UNION ALL SELECT id FROM messages"                                                  \
	" WHERE id > (SELECT upto FROM conv_index_state WHERE id = 1)"                        \
	" AND tenant = ?1 AND conv_hash = ?2)"

/*
 * Open (creating with mode 0600 if needed) and migrate the database at
 * path; start the writer thread unless opt->readonly. -1 with err on failure.
 */
int store_open(const char *path, const struct store_options *opt, struct store **out,
               char *err, size_t errlen) RD_WARN_UNUSED;
/* Drain the queue, stop the writer, checkpoint, close. NULL is a no-op. */
void store_close(struct store *st);

int store_schema_version(struct store *st);

/* Commit recs[0..n) atomically (all or nothing). Blocks until durable.
 * Returns STORE_OK, STORE_BUSY, STORE_CLOSED, STORE_FAILED (writes refused
 * since a WAL fdatasync failed), STORE_FULL (the disk is full: nothing was
 * written, a retry may succeed) or STORE_ERR (also for more records than
 * queue_size, which could never fit). Each record's key_id
 * must be a live data key (store_data_key_for of its ts_ms), else the
 * whole submit fails. */
int store_submit(struct store *st, const struct store_record *recs, size_t n) RD_WARN_UNUSED;

/*
 * The same without blocking: copies the records into the writer's queue and
 * returns STORE_OK; the writer later calls done(ctx, status) from its own
 * thread once the transaction holding them has committed (STORE_OK) or
 * failed (STORE_FULL for lack of disk space, else STORE_ERR). When the records cannot be queued (STORE_BUSY,
 * STORE_CLOSED, STORE_FAILED, STORE_ERR) it returns that and never calls
 * done.
 * done must be quick and must not call back into the store.
 */
typedef void (*store_done_fn)(void *ctx, int status);
int store_submit_async(struct store *st, const struct store_record *recs, size_t n,
                       store_done_fn done, void *ctx) RD_WARN_UNUSED;

/* Every message of a conversation, in (ts, insertion) order. Returns 0, the
 * callback's non-zero value, or STORE_ERR. *count gets the rows visited. */
int store_conversation(struct store *st, const char *tenant,
                       const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                       store_row_fn fn, void *ctx, size_t *count) RD_WARN_UNUSED;

/*
 * The data key for (tenant, category, month of ts_ms), created and wrapped
 * with kr's master key on first use; cached unwrapped in locked memory.
 * Writes the id and the key (caller wipes key). -1 on failure, STORE_FULL
 * when the disk had no room for a new key (the store then counts as full).
 */
int store_data_key_for(struct store *st, const struct keyring *kr, const char *tenant,
                       const char *category, int64_t ts_ms, int64_t *key_id,
                       unsigned char key[CRYPTO_KEY_BYTES]) RD_WARN_UNUSED;
/* The data key with this id (for reading). 1 if it was destroyed
 * (crypto-shredded), -1 on failure, 0 on success. */
int store_data_key_get(struct store *st, const struct keyring *kr, int64_t key_id,
                       unsigned char key[CRYPTO_KEY_BYTES]) RD_WARN_UNUSED;

/*
 * Run fn(db, ctx) on the writer's connection inside one transaction, in
 * order with record batches (BEGIN IMMEDIATE; fn; COMMIT, or ROLLBACK if fn
 * returns non-zero). Blocks until done. This is how purges, erasure, holds,
 * audit entries and key rotation write: one thread owns every write, and an
 * action and its audit entry commit together. Returns fn's value, STORE_ERR
 * if the transaction could not commit, or STORE_CLOSED.
 * A readonly store runs fn on a short-lived write connection instead.
 * fn must not BEGIN/COMMIT (it may use SAVEPOINTs), nor call store_exec,
 * store_submit or store_data_key_for (they would wait for the writer that
 * is running fn).
 */
typedef int (*store_exec_fn)(struct sqlite3 *db, void *ctx);
int store_exec(struct store *st, store_exec_fn fn, void *ctx) RD_WARN_UNUSED;

/* Liveness, for the service watchdog: an empty job through the writer's
 * queue, transaction and sync stage. Returns when it has been through them
 * all (STORE_OK, or the status a failed store gives every job); blocks
 * while the writer is stuck, which is the point. */
int store_ping(struct store *st) RD_WARN_UNUSED;

/* Run fn(db, ctx) on a read connection (no transaction is held open after). */
int store_read(struct store *st, store_exec_fn fn, void *ctx) RD_WARN_UNUSED;

/* ---- keys, purges, backups (issue 4) ------------------------------------ */

/*
 * Bind kr to this database: load the database's root key (wrapped by the
 * master key, table key_root) into kr, so keyring_subkey gives the same
 * LOOKUP/SUBJECT/HASHSTYLE/AUDIT subkeys after any number of rotations. The
 * first call on a new database stores kr's current root (its master key,
 * so subkeys are what keyring_load alone gives). Call it right after
 * store_open, before deriving subkeys. -1 with err if the master key does
 * not open this database's root (the wrong key file).
 * In the same transaction it re-seals the rows of a database whose seal
 * format is still 1 under format 2's associated data (schema v5; needs
 * the master key, so it is not a plain SQL step). A row that opens under
 * neither format is left as it is and named in the log (its reads fail
 * and say so); a row whose data key was destroyed cannot be read anyway.
 */
int store_keyring_attach(struct store *st, struct keyring *kr, char *err, size_t errlen)
	RD_WARN_UNUSED;

/*
 * Key rotation: re-wrap the root key and every live data key from old_kr
 * to new_kr in one transaction (through the writer; beside a running
 * daemon when this store is readonly). store_rekey_db does the same inside
 * a caller's store_exec function, so an audit entry commits with it. Keys
 * already wrapped by new_kr are left as they are, so running it twice, or
 * after a daemon created keys under the old key, is safe. *count gets the
 * keys re-wrapped (the root counts as one). STORE_ERR (and nothing changed)
 * if a key opens under neither master key. Unwrapped keys already cached stay
 * valid: the data keys themselves do not change.
 */
int store_rekey(struct store *st, const struct keyring *old_kr, const struct keyring *new_kr,
                size_t *count) RD_WARN_UNUSED;
int store_rekey_db(struct sqlite3 *db, const struct keyring *old_kr,
                   const struct keyring *new_kr, size_t *count) RD_WARN_UNUSED;

/*
 * Crypto-shredding: destroy (wrapped := NULL, cache wiped) every data key
 * whose month ended before the month of now_ms and that no record uses any
 * more. A backup taken without keys (store_backup) can then no longer be
 * read for those periods. *count gets the keys destroyed. 0 or STORE_ERR.
 */
int store_shred_keys(struct store *st, int64_t now_ms, size_t *count) RD_WARN_UNUSED;

/*
 * PRAGMA wal_checkpoint(TRUNCATE) on the writer's connection, in order with
 * the batches: run after purges so deleted ciphertext leaves the WAL
 * (secure_delete has already zeroed it in the pages). 0, or STORE_ERR when
 * readers kept it from completing within the busy timeout.
 */
int store_checkpoint(struct store *st) RD_WARN_UNUSED;

/*
 * Erasure residue (store_residue.c). Deleted rows leave the database files
 * only once a TRUNCATE checkpoint completes after the delete; a reader
 * holding an old snapshot keeps it from completing. A transaction that
 * deletes records calls store_residue_mark (inside its store_exec
 * function or purge callback) so the residue is recorded with the delete.
 * store_residue_clear then retries short checkpoints for up to wait_ms and
 * removes the mark once one completed; *pending says whether residue is
 * left (the daemon's sweeper retries until it is gone). STORE_OK or
 * STORE_ERR. store_residue_get reads the mark: pending, since when, and
 * how many deletes marked it since it was last cleared.
 */
struct store_residue {
	bool pending;
	int64_t since_ms;
	int64_t marks;
};
int store_residue_mark(struct sqlite3 *db, int64_t now_ms) RD_WARN_UNUSED;
int store_residue_clear(struct store *st, int wait_ms, bool *pending) RD_WARN_UNUSED;
int store_residue_get(struct store *st, struct store_residue *out) RD_WARN_UNUSED;

/*
 * Purge: delete records of `category` (and `tenant`, unless NULL) with
 * ts_ms < cutoff_ms, oldest first, `batch` rows per transaction, 1 to
 * 100000 (the caller's [retention] sweep_batch; ingest waits behind one
 * small batch at most). For each candidate, fn (may be
 * NULL) runs on the writer's connection inside that transaction with the
 * row's header fields (id, tenant, conv_hash, ts_ms, category, key_id; no
 * ciphertext) and returns 0 to delete it, 1 to keep it (a legal hold), or
 * a negative value to stop (that batch rolls back; the value is returned).
 * After each batch whose candidates were read (also an empty one, one that
 * fn stopped, or one where a delete failed), fn is called once more with
 * row == NULL: there it must finalize any statement it prepared on db
 * (which lets it prepare once per batch, not once per row) and may write
 * per-batch totals. A negative value from that call fails the batch. After
 * a failure SQLite may already have rolled the transaction back
 * (sqlite3_get_autocommit(db) is then non-zero); fn must not write then,
 * since its write would commit on its own. Anything it writes in a failed
 * batch that is still open is rolled back with the batch.
 * Subject links of conversations left empty are removed too. *count gets
 * the rows deleted. Follow with store_shred_keys and store_checkpoint.
 */
typedef int (*store_purge_fn)(struct sqlite3 *db, const struct store_row *row, void *ctx);
int store_purge_before(struct store *st, const char *tenant, const char *category,
                       int64_t cutoff_ms, size_t batch, store_purge_fn fn, void *ctx,
                       size_t *count) RD_WARN_UNUSED;

/*
 * Consistent online backup (SQLite backup API, one read transaction, beside
 * ingest) to dest, a new file created 0600 (an existing dest is refused).
 * The copy is a single rollback-journal file.
 * By default it holds no key material: its wrapped data keys are removed,
 * so it is read with the live database's keys (store_options.keys_from)
 * and crypto-shredding reaches it. STORE_BACKUP_WITH_KEYS keeps them: a
 * self-contained copy that opens with the master key alone (disaster
 * recovery escrow), which shredding cannot reach. -1 with err.
 */
#define STORE_BACKUP_WITH_KEYS 1u
int store_backup(struct store *st, const char *dest, unsigned flags, char *err, size_t errlen)
	RD_WARN_UNUSED;

/* Schema steps in order: step i (0-based) takes the schema from version i to
 * i + 1. The store's own come first, then store_module_migrations. */
size_t store_migration_count(void);
const char *store_migration_sql(size_t i);

/* Counters since open, for /metrics and benchmarks. */
struct store_counters {
	uint64_t commits;          /* group transactions committed */
	uint64_t records;          /* records committed */
	uint64_t jobs_failed;      /* submits that got STORE_ERR */
	uint64_t busy;             /* submits refused with STORE_BUSY */
	uint64_t syncs;            /* WAL fdatasyncs by the sync stage (FULL) */
	uint64_t queued;           /* records waiting for the writer now */
	uint64_t links_cached;     /* subject links known stored, not re-inserted */
	uint64_t ckpt_retries;     /* residue checkpoints that readers held back */
	bool residue_pending;      /* deleted records still in the files (last seen) */
};
void store_get_counters(struct store *st, struct store_counters *out);

/* Test hook: a paused writer takes no new work (submits queue up). */
void store_pause_writer(struct store *st, bool paused);
/* Test hook: the writer's next COMMIT fails (and rolls back), as one
 * refused by a full disk would. */
void store_test_fail_next_commit(struct store *st);
/* Test hook: purge batches end after every n candidates, as when records
 * wait (0: only then). */
void store_test_purge_yield(struct store *st, size_t n);
/* Test hook: jobs of any kind waiting for the writer (a paused one). */
size_t store_test_queued_jobs(struct store *st);
/* Test hook: background checkpoints (FULL) every `pages` WAL frames
 * instead of STORE_CHECKPOINT_PAGES, so a test can cross many. */
void store_test_checkpoint_pages(struct store *st, int pages);
/* Test hook: every later WAL fdatasync of the sync stage fails (EINVAL),
 * as a failing disk would. */
void store_test_fail_syncs(struct store *st);

/* False once an fdatasync of the WAL has failed: the store then refuses
 * every write until the daemon restarts (GET /healthz answers 503). */
bool store_writable(struct store *st);

/* True while the writer's last transaction failed for lack of disk space
 * (SQLITE_FULL; its jobs got STORE_FULL); false again after one commits.
 * GET /healthz answers 503 storage_full meanwhile. */
bool store_disk_full(struct store *st);

/* Extra schema steps owned by other modules (audit, holds), applied after
 * the store's own, in order. Each is SQL run in the migration transaction. */
extern const char *const store_module_migrations[];
extern const size_t store_module_migrations_count;

#endif
