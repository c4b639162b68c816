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

enum store_status {
	STORE_OK = 0,
	STORE_ERR = -1,      /* database error (logged) */
	STORE_BUSY = -2,     /* writer queue full: retry later */
	STORE_CLOSED = -3,   /* shutting down */
};

struct store_options {
	bool sync_full;      /* synchronous=FULL (default) or NORMAL */
	int queue_size;      /* records the writer queue holds */
	int batch_max;       /* records per transaction */
	int batch_wait_us;   /* how long the writer waits to fill a group */
	bool readonly;       /* CLI read paths: no writer thread */
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
	const char *category;
	int64_t key_id;
	const unsigned char *conv_ct; size_t conv_ct_len;
	const unsigned char *text_ct; size_t text_ct_len;
	const unsigned char *meta_ct; size_t meta_ct_len;
	const char *entity_counts;
};

/* Return 0 to continue, non-zero to stop (that value is returned). */
typedef int (*store_row_fn)(const struct store_row *row, void *ctx);

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
 * Returns STORE_OK, STORE_BUSY, STORE_CLOSED or STORE_ERR. */
int store_submit(struct store *st, const struct store_record *recs, size_t n) RD_WARN_UNUSED;

/*
 * The same without blocking: copies the records into the writer's queue and
 * returns STORE_OK; the writer later calls done(ctx, status) from its own
 * thread once the transaction holding them has committed (STORE_OK) or
 * failed (STORE_ERR). When the records cannot be queued (STORE_BUSY,
 * STORE_CLOSED, STORE_ERR) it returns that and never calls done.
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
 * Writes the id and the key (caller wipes key). -1 on failure.
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
 */
struct sqlite3;
typedef int (*store_exec_fn)(struct sqlite3 *db, void *ctx);
int store_exec(struct store *st, store_exec_fn fn, void *ctx) RD_WARN_UNUSED;

/* Run fn(db, ctx) on a read connection (no transaction is held open after). */
int store_read(struct store *st, store_exec_fn fn, void *ctx) RD_WARN_UNUSED;

/* Extra schema steps owned by other modules (audit, holds), applied after
 * the store's own, in order. Each is SQL run in the migration transaction. */
extern const char *const store_module_migrations[];
extern const size_t store_module_migrations_count;

#endif
