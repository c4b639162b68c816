/*
 * store_import.h — moving a single-node SQLite store into PostgreSQL
 * (`redactd migrate`, issue 19).
 *
 * Rows are copied as they are: messages stay sealed (their associated
 * data binds tenant, conversation, record id, role, channel, category and
 * time, none of which depends on the backend), data keys and the root key
 * stay wrapped by the master key, and ids, timestamps and key ids are
 * kept, so nothing is decrypted and the master key is not needed. The
 * audit log is copied entry by entry into the system chain with its
 * hashes, high mark and purge checkpoint, so `audit verify` on PostgreSQL
 * walks the same history to the same head.
 *
 * Resumable: each batch of rows is one PostgreSQL transaction that also
 * moves the table's cursor (the last key copied) in migrate_progress, so
 * a run killed at any point leaves whole batches and the cursor that
 * names them; the next run continues after it and never copies a row
 * twice. The target must be empty, or hold the interrupted migration of
 * the same source (migrate_state keeps a fingerprint of the source's
 * root key). One migration at a time (a session advisory lock).
 */
#ifndef REDACTD_STORE_IMPORT_H
#define REDACTD_STORE_IMPORT_H

#include "store.h"

#define STORE_IMPORT_TABLES 16
#define STORE_IMPORT_BATCH_MAX 100000

struct store_import_table {
	const char *name;       /* static */
	int64_t source;         /* rows in the source */
	int64_t target;         /* rows in the target after the copy */
	int64_t copied;         /* rows this run copied */
};

struct store_import_report {
	struct store_import_table t[STORE_IMPORT_TABLES];
	size_t n;
	bool resumed;           /* an earlier run had started this migration */
	bool finished;          /* an earlier run had finished it: nothing copied */
	bool stopped;           /* max_batches reached: run again to go on */
	int64_t batches;        /* batches committed by this run */
	int64_t messages;       /* messages in the target */
};

/* Called after each committed batch (NULL: quiet): rows of table copied
 * so far, rows in the source, whether the table is complete. */
typedef void (*store_import_progress_fn)(const char *table, int64_t copied, int64_t total,
                                        bool finished, void *ctx);

struct store_import_options {
	size_t batch;                   /* rows per transaction, 1..STORE_IMPORT_BATCH_MAX */
	int64_t max_batches;            /* stop after this many batches (0: no limit) */
	const char *source_label;       /* what migrate_state records as the source */
	store_import_progress_fn progress;
	void *ctx;
	/* Who copies, for a refusal ("redactd migrate" when NULL), and what
	 * to add to it (NULL: nothing). */
	const char *command, *refusal_hint;
	/* Mixed into the source's fingerprint when not 0: a restore passes
	 * its backup's time, so another backup of the same store is another
	 * source (migrate passes 0: any copy of one store is the same). */
	int64_t fingerprint_salt;
};

/*
 * Copies every table of src (a SQLite store, opened readonly, its seal
 * format 2) into dst (a PostgreSQL store, opened readonly: no writer), in
 * batches, then compares the row counts of every table. RD_OK when the
 * copy is complete and every count matches (or rep->stopped); with err:
 * RD_E_INVALID_REQUEST (dst is not PostgreSQL or src is, the target holds
 * other data, another migration runs, the source is not re-sealed),
 * RD_E_INTEGRITY (a count differs: the source changed during the copy),
 * RD_E_STORAGE. Does not verify the audit chains or record the
 * migration: the caller does both (audit.h sits above the store), then
 * calls store_import_finish in the transaction of its audit entry.
 */
enum rd_err store_import_copy(struct store *src, struct store *dst,
                             const struct store_import_options *o, struct store_import_report *rep,
                             char *err, size_t errlen) RD_WARN_UNUSED;

/*
 * The same from a SQLite file opened read-only (not as a store: nothing in
 * it changes, not even its journal mode): `redactd restore` of a backup
 * into PostgreSQL. Tables marked optional (the tenants' audit chains of a
 * backup of a PostgreSQL store, store_pg_tables.h) are copied when the
 * file has them. Same results as store_import_copy.
 */
enum rd_err store_import_file(const char *path, struct store *dst,
                              const struct store_import_options *o, struct store_import_report *rep,
                              char *err, size_t errlen) RD_WARN_UNUSED;

/* Inside a write transaction on the target (store_exec): the migration is
 * finished; a later run copies nothing. */
enum rd_err store_import_finish(struct store_tx *tx) RD_WARN_UNUSED;

#endif
