/*
 * store.h — the store: sealed records, data keys, group commit, and the
 * typed operations every other module uses for the tables it owns.
 *
 * DESIGN
 * One writer thread owns the write connection. Request threads redact and
 * seal, then hand records to it with store_submit, which enqueues them in a
 * bounded queue and blocks until the writer has committed the transaction
 * holding them (group commit: one transaction for whatever is waiting,
 * bounded by count and time). A full queue returns RD_E_BUSY at once
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
 *
 * LAYERING
 * Every table has one owner, and only the store's files (src/store*.c)
 * speak SQL: this header and store_audit.h, store_holds.h and
 * store_retention.h name no SQLite type and hold no SQL, so a second
 * backend can sit behind them. Other modules work through typed
 * operations that take a `struct store_tx *`: an open transaction on the
 * writer (store_exec) or a read connection (store_read). A module passes
 * the tx it was given to the next (subject erasure to audit_append), so
 * an action and its audit entry commit together, or neither does.
 *
 * ERRORS
 * Every fallible function returns an enum rd_err (rd_error.h): RD_OK, or
 * RD_E_BUSY (writer queue full), RD_E_SHUTTING_DOWN (the store is
 * closing), RD_E_STORAGE_FAILED (writes refused since a WAL fdatasync
 * failed: restart needed), RD_E_STORAGE_FULL (the disk is full: nothing
 * written, a retry may succeed), RD_E_STORAGE (the database failed the
 * operation; logged), or what the caller's function returned.
 */
#ifndef REDACTD_STORE_H
#define REDACTD_STORE_H

#include "redactd.h"
#include "crypto.h"
#include "rd_error.h"

struct store;
/* An open transaction on the writer (store_exec), or a read connection
 * (store_read): what a typed operation runs on. Valid only during the
 * function it was handed to. */
struct store_tx;

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
	/* The PostgreSQL backend (issue 19): a libpq connection string
	 * (postgresql://... or key=value words) and its password (NULL: none,
	 * or in the string). With pg_url set, store_open's path is unused. */
	const char *pg_url;
	const char *pg_password;
};

/* Called, when set, before an existing database (SQLite or PostgreSQL) is
 * brought to a newer schema (from, to: versions), on the opening thread; a
 * step may read the whole database (docs/operations.md, "Upgrading").
 * serve uses it to extend systemd's start timeout. Set it before any store
 * is opened. */
void store_set_migration_hook(void (*fn)(int from, int to));

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
	/* A provider's message id as a keyed hash (store_replay.h), or NULL.
	 * When the register already holds it, the record is a replay: the
	 * writer stores nothing for it and sets *replayed (which must stay
	 * valid until the submit's done callback), and the job still succeeds. */
	const unsigned char *replay_hash;
	bool *replayed;
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

/* Return RD_OK to continue; anything else stops the walk and is returned. */
typedef enum rd_err (*store_row_fn)(const struct store_row *row, void *ctx);

/*
 * Open (creating with mode 0600 if needed) and migrate the database at
 * path; start the writer thread unless opt->readonly. RD_E_STORAGE (or
 * RD_E_INTERNAL when out of memory) with err on failure.
 */
enum rd_err store_open(const char *path, const struct store_options *opt, struct store **out,
                       char *err, size_t errlen) RD_WARN_UNUSED;
/* Drain the queue, stop the writer, checkpoint, close. NULL is a no-op. */
void store_close(struct store *st);

int store_schema_version(struct store *st);

/* Commit recs[0..n) atomically (all or nothing). Blocks until durable.
 * Returns RD_OK, RD_E_BUSY, RD_E_SHUTTING_DOWN, RD_E_STORAGE_FAILED
 * (writes refused since a WAL fdatasync failed), RD_E_STORAGE_FULL (the
 * disk is full: nothing was written, a retry may succeed) or RD_E_STORAGE
 * (also for more records than queue_size, which could never fit). Each
 * record's key_id must be a live data key (store_data_key_for of its
 * ts_ms), else the whole submit fails. */
enum rd_err store_submit(struct store *st, const struct store_record *recs, size_t n)
	RD_WARN_UNUSED;

/*
 * The same without blocking: copies the records into the writer's queue and
 * returns RD_OK; the writer later calls done(ctx, status) from its own
 * thread once the transaction holding them has committed (RD_OK) or
 * failed (RD_E_STORAGE_FULL for lack of disk space, else RD_E_STORAGE).
 * When the records cannot be queued (RD_E_BUSY, RD_E_SHUTTING_DOWN,
 * RD_E_STORAGE_FAILED, RD_E_STORAGE) it returns that and never calls done.
 * done must be quick and must not call back into the store.
 */
typedef void (*store_done_fn)(void *ctx, enum rd_err status);
enum rd_err store_submit_async(struct store *st, const struct store_record *recs, size_t n,
                               store_done_fn done, void *ctx) RD_WARN_UNUSED;

/* Every message of a conversation, in (ts, insertion) order. Returns RD_OK,
 * the callback's value when it stopped the walk, or RD_E_STORAGE. *count
 * gets the rows visited. */
enum rd_err store_conversation(struct store *st, const char *tenant,
                               const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                               store_row_fn fn, void *ctx, size_t *count) RD_WARN_UNUSED;
/* The same, from the message after record `after` (a page's cursor):
 * RD_E_NOT_FOUND when that record is not one of the conversation's. The
 * messages before it are not read. */
enum rd_err store_conversation_after(struct store *st, const char *tenant,
                                     const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                     const char *after, store_row_fn fn, void *ctx,
                                     size_t *count) RD_WARN_UNUSED;

/*
 * The data key for (tenant, category, month of ts_ms), created and wrapped
 * with kr's master key on first use; cached unwrapped in locked memory.
 * Writes the id and the key (caller wipes key). RD_E_STORAGE on failure,
 * RD_E_STORAGE_FULL when the disk had no room for a new key (the store
 * then counts as full).
 */
enum rd_err store_data_key_for(struct store *st, const struct keyring *kr, const char *tenant,
                               const char *category, int64_t ts_ms, int64_t *key_id,
                               unsigned char key[CRYPTO_KEY_BYTES]) RD_WARN_UNUSED;
/* The data key with this id (for reading). RD_E_NOT_FOUND if it was
 * destroyed (crypto-shredded), RD_E_STORAGE on failure. */
enum rd_err store_data_key_get(struct store *st, const struct keyring *kr, int64_t key_id,
                               unsigned char key[CRYPTO_KEY_BYTES]) RD_WARN_UNUSED;

/*
 * Run fn(tx, ctx) inside one write transaction on the writer's connection,
 * in order with record batches (BEGIN IMMEDIATE; fn; COMMIT, or ROLLBACK
 * if fn returns anything but RD_OK). Blocks until done. This is how
 * purges, erasure, holds, audit entries and key rotation write: one thread
 * owns every write, and an action and its audit entry (both given tx)
 * commit together. Returns fn's value, RD_E_STORAGE (or
 * RD_E_STORAGE_FULL) if the transaction could not commit,
 * RD_E_STORAGE_FAILED, or RD_E_SHUTTING_DOWN.
 * A readonly store runs fn on a short-lived write connection instead.
 * fn must not call store_exec, store_submit or store_data_key_for (they
 * would wait for the writer that is running fn).
 */
typedef enum rd_err (*store_tx_fn)(struct store_tx *tx, void *ctx);
enum rd_err store_exec(struct store *st, store_tx_fn fn, void *ctx) RD_WARN_UNUSED;
/* As store_exec, in a transaction of its own, for work whose size the
 * caller does not bound (an erasure: a subject may name every
 * conversation). Grouped with other jobs, a job runs under a savepoint,
 * and SQLite keeps the original of every page it changes in memory until
 * the savepoint is released: erasing a conversation of 330,000 records
 * took the daemon to 535 MB that way. */
enum rd_err store_exec_alone(struct store *st, store_tx_fn fn, void *ctx) RD_WARN_UNUSED;

/* Liveness, for the service watchdog: an empty job through the writer's
 * queue, transaction and sync stage. Returns when it has been through them
 * all (RD_OK, or the status a failed store gives every job); blocks
 * while the writer is stuck, which is the point. */
enum rd_err store_ping(struct store *st) RD_WARN_UNUSED;

/* Run fn(tx, ctx) on a read connection (no transaction is held open after):
 * typed reads only. fn's value, or RD_E_STORAGE without a connection. */
enum rd_err store_read(struct store *st, store_tx_fn fn, void *ctx) RD_WARN_UNUSED;

/* False once the database has rolled back the transaction tx ran in (an
 * I/O error, a full disk): anything written now would commit on its own,
 * outside the action it belongs to. True on a read connection. */
bool store_tx_open(struct store_tx *tx);

/* ---- records by conversation and subject (tables messages, subjects) ---- */

/* Called with each conversation hash in turn; anything but RD_OK stops. */
typedef enum rd_err (*store_hash_fn)(const unsigned char hash[CRYPTO_HASH_BYTES], void *ctx);

/* The conversations of tenant in which the subject (a keyed hash from
 * redaction) appears, each once. */
enum rd_err store_subject_conversations(struct store_tx *tx, const char *tenant,
                                        const unsigned char subject[CRYPTO_HASH_BYTES],
                                        store_hash_fn fn, void *ctx) RD_WARN_UNUSED;
/* Links a subject hash to a conversation (nothing if it is already, or if
 * the conversation holds no message). For a number found under a form it
 * was hashed in before its tenant had a region, linked under its current
 * form (subject.c). */
enum rd_err store_subject_link(struct store_tx *tx, const char *tenant,
                               const unsigned char subject[CRYPTO_HASH_BYTES],
                               const unsigned char conv_hash[CRYPTO_HASH_BYTES]) RD_WARN_UNUSED;
/* Removes the link of a subject hash to a conversation, if there is one:
 * after an erasure of the subject, so that a link no message named (a
 * conversation left empty by an older redactd, say) cannot outlive it. */
enum rd_err store_subject_unlink(struct store_tx *tx, const char *tenant,
                                 const unsigned char subject[CRYPTO_HASH_BYTES],
                                 const unsigned char conv_hash[CRYPTO_HASH_BYTES]) RD_WARN_UNUSED;
/* *n gets the number of records of one conversation. */
enum rd_err store_conversation_count(struct store_tx *tx, const char *tenant,
                                     const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                     int64_t *n) RD_WARN_UNUSED;
/* Delete every record of one conversation and its subject links (write
 * transaction); *removed gets the records deleted. Mark the residue
 * (store_residue_mark) in the same transaction. */
enum rd_err store_conversation_delete(struct store_tx *tx, const char *tenant,
                                      const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                      int64_t *removed) RD_WARN_UNUSED;

/* ---- keys, purges, backups (issue 4) ------------------------------------ */

/*
 * Bind kr to this database: load the database's root key (wrapped by the
 * master key, table key_root) into kr, so keyring_subkey gives the same
 * LOOKUP/SUBJECT/HASHSTYLE/AUDIT subkeys after any number of rotations. The
 * first call on a new database stores kr's current root (its master key,
 * so subkeys are what keyring_load alone gives). Call it right after
 * store_open, before deriving subkeys. RD_E_STORAGE with err if the master
 * key does not open this database's root (the wrong key file).
 * In the same transaction it re-seals the rows of a database whose seal
 * format is still 1 under format 2's associated data (schema v5; needs
 * the master key, so it is not a plain SQL step). A row that opens under
 * neither format is left as it is and named in the log (its reads fail
 * and say so); a row whose data key was destroyed cannot be read anyway.
 */
enum rd_err store_keyring_attach(struct store *st, struct keyring *kr, char *err, size_t errlen)
	RD_WARN_UNUSED;

/*
 * Key rotation: re-wrap the root key and every live data key from old_kr
 * to new_kr in one transaction (through the writer; beside a running
 * daemon when this store is readonly). store_rekey_tx does the same inside
 * a caller's store_exec function, so an audit entry commits with it. Keys
 * already wrapped by new_kr are left as they are, so running it twice, or
 * after a daemon created keys under the old key, is safe. *count gets the
 * keys re-wrapped (the root counts as one). RD_E_STORAGE (and nothing
 * changed) if a key opens under neither master key. Unwrapped keys already
 * cached stay valid: the data keys themselves do not change.
 */
enum rd_err store_rekey(struct store *st, const struct keyring *old_kr,
                        const struct keyring *new_kr, size_t *count) RD_WARN_UNUSED;
enum rd_err store_rekey_tx(struct store_tx *tx, const struct keyring *old_kr,
                           const struct keyring *new_kr, size_t *count) RD_WARN_UNUSED;

/*
 * Crypto-shredding: destroy (wrapped := NULL, cache wiped) every data key
 * whose month ended before the month of now_ms and that no record uses any
 * more. A backup taken without keys (store_backup) can then no longer be
 * read for those periods. *count gets the keys destroyed. RD_OK or
 * RD_E_STORAGE.
 */
enum rd_err store_shred_keys(struct store *st, int64_t now_ms, size_t *count) RD_WARN_UNUSED;

/*
 * PRAGMA wal_checkpoint(TRUNCATE) on the writer's connection, in order with
 * the batches: run after purges so deleted ciphertext leaves the WAL
 * (secure_delete has already zeroed it in the pages). RD_OK, or
 * RD_E_STORAGE when readers kept it from completing within the busy timeout.
 */
enum rd_err store_checkpoint(struct store *st) RD_WARN_UNUSED;

/*
 * Erasure residue (store_residue.c). Deleted rows leave the database files
 * only once a TRUNCATE checkpoint completes after the delete; a reader
 * holding an old snapshot keeps it from completing. A transaction that
 * deletes records calls store_residue_mark (with the tx of its store_exec
 * function or purge callback) so the residue is recorded with the delete.
 * store_residue_clear then retries short checkpoints for up to wait_ms and
 * removes the mark once one completed; *pending says whether residue is
 * left (the daemon's sweeper retries until it is gone). RD_OK or
 * RD_E_STORAGE. store_residue_get reads the mark: pending, since when, and
 * how many deletes marked it since it was last cleared.
 */
struct store_residue {
	bool pending;
	int64_t since_ms;
	int64_t marks;
};
enum rd_err store_residue_mark(struct store_tx *tx, int64_t now_ms) RD_WARN_UNUSED;
enum rd_err store_residue_clear(struct store *st, int wait_ms, bool *pending) RD_WARN_UNUSED;
enum rd_err store_residue_get(struct store *st, struct store_residue *out) RD_WARN_UNUSED;

/*
 * Purge: delete records of `category` (and `tenant`, unless NULL) with
 * ts_ms < cutoff_ms, oldest first, `batch` rows per transaction, 1 to
 * 100000 (the caller's [retention] sweep_batch; ingest waits behind one
 * small batch at most). For each candidate, fn (may be
 * NULL) runs inside that transaction (tx) with the row's header fields
 * (id, tenant, conv_hash, ts_ms, category, key_id; no ciphertext); it
 * sets *keep to keep the row (a legal hold) and returns RD_OK, or returns
 * anything else to stop (that batch rolls back; the value is returned).
 * After each batch whose candidates were read (also an empty one, one that
 * fn stopped, or one where a delete failed), fn is called once more with
 * row == NULL: there it may write per-batch totals; a value other than
 * RD_OK fails the batch. After a failure the database may already have
 * rolled the transaction back (store_tx_open(tx) is then false); fn must
 * not write then, since its write would commit on its own. Anything it
 * writes in a failed batch that is still open is rolled back with the
 * batch. Statements a typed operation prepares on tx (the held check) are
 * kept for the batch: prepared once per batch, not once per row.
 * Subject links of conversations left empty are removed too. *count gets
 * the rows deleted. Follow with store_shred_keys and store_checkpoint.
 */
typedef enum rd_err (*store_purge_fn)(struct store_tx *tx, const struct store_row *row,
                                      void *ctx, bool *keep);
enum rd_err store_purge_before(struct store *st, const char *tenant, const char *category,
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
 * recovery escrow), which shredding cannot reach. *records (may be NULL)
 * gets the number of records in the copy. RD_E_STORAGE with err.
 */
#define STORE_BACKUP_WITH_KEYS 1u
enum rd_err store_backup(struct store *st, const char *dest, unsigned flags, int64_t *records,
                         char *err, size_t errlen) RD_WARN_UNUSED;

/* The newest schema version this binary knows (steps registered by every
 * table owner, src/store_schema.c). */
size_t store_migration_count(void);

/* Durations the disk decides (the WAL's fdatasync, a background
 * checkpoint), counted in buckets with these upper bounds (µs) and one
 * more for longer: when ingest's p99 is high, /metrics says whether the
 * disk was slow then. */
#define STORE_DURATION_BOUNDS_US \
	{ 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000 }
#define STORE_DURATION_BUCKETS 13
struct store_durations {
	uint64_t buckets[STORE_DURATION_BUCKETS];   /* not cumulative */
	uint64_t count, sum_us;
};

/* Counters since open, for /metrics and benchmarks. */
struct store_counters {
	uint64_t commits;          /* group transactions committed */
	uint64_t records;          /* records committed */
	uint64_t jobs_failed;      /* submits that failed in the store */
	uint64_t busy;             /* submits refused with RD_E_BUSY */
	uint64_t syncs;            /* WAL fdatasyncs by the sync stage (FULL) */
	uint64_t queued;           /* records waiting for the writer now */
	uint64_t links_cached;     /* subject links known stored, not re-inserted */
	uint64_t ckpt_retries;     /* residue checkpoints that readers held back */
	uint64_t purge_paused_us;  /* purges waited between batches for busy ingest */
	bool residue_pending;      /* deleted records still in the files (last seen) */
	struct store_durations sync_time;   /* each WAL fdatasync (synchronous=FULL) */
	struct store_durations ckpt_time;   /* each background checkpoint */
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
/* Test hook: run SQL text inside tx (a test's own tampering or setup;
 * never called by the daemon). */
enum rd_err store_test_sql(struct store_tx *tx, const char *sql) RD_WARN_UNUSED;
/* Test hook: create the database at path at schema version `version`
 * (every step up to it applied by hand), as an older redactd left it. */
enum rd_err store_test_create_at_version(const char *path, size_t version) RD_WARN_UNUSED;

/* False once an fdatasync of the WAL has failed: the store then refuses
 * every write until the daemon restarts (GET /healthz answers 503). */
bool store_writable(struct store *st);

/* True while the writer's last transaction failed for lack of disk space
 * (its jobs got RD_E_STORAGE_FULL); false again after one commits.
 * GET /healthz answers 503 storage_full meanwhile. */
bool store_disk_full(struct store *st);

#endif
