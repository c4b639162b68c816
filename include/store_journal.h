/*
 * store_journal.h — the erasure journal, the time a backup was taken, and
 * restoring a backup with the erasures made since (issue 17).
 *
 * Every erasure appends what it erased to the live database's journal
 * (table erasure_journal, schema v7) in the erasure's own transaction:
 * a conversation (tenant + keyed conversation hash), one record (tenant +
 * record id: erased, or rectified, when it is still live) or a whole
 * tenant. Never an identifier: only what the
 * messages table itself stores. Entries carry a seq that is never reused
 * (AUTOINCREMENT) and the time.
 *
 * A backup (store_backup) records in its copy when it was taken and the
 * journal's high mark inside its own read snapshot (table backup_meta), so
 * a restore knows exactly which erasures the copy has not seen: those with
 * a greater seq. store_restore copies the backup to a new file and replays
 * them there (secure_delete on; a record entry whose record is still
 * live copies its rectified content instead), takes the live data keys (so keys the
 * live database has destroyed stay destroyed, and a key-less backup opens),
 * and copies the journal over, so the restored database can itself replay
 * older backups later.
 *
 * Journal entries older than [backup] retention are expired by the
 * sweeper; journal_state remembers the highest seq expired, so a restore
 * can tell when the journal no longer covers a backup and refuses it.
 * Each function returns RD_OK, RD_E_STORAGE (RD_E_STORAGE_FULL when a write
 * found the disk full), or what it says.
 */
#ifndef REDACTD_STORE_JOURNAL_H
#define REDACTD_STORE_JOURNAL_H

#include "store.h"

enum store_journal_kind {
	STORE_JOURNAL_CONVERSATION = 0,   /* target: the conversation hash (CRYPTO_HASH_BYTES) */
	STORE_JOURNAL_RECORD,             /* target: the record id (RD_RECORD_ID_LEN bytes) */
	STORE_JOURNAL_TENANT,             /* target: none (NULL, 0): every record of the tenant */
};

/* Append one erasure inside the erasing write transaction (tx), at ts_ms.
 * RD_E_INTERNAL for a target that does not fit its kind (a bug). */
enum rd_err store_journal_append(struct store_tx *tx, enum store_journal_kind kind,
                                 const char *tenant, const void *target, size_t len,
                                 int64_t ts_ms) RD_WARN_UNUSED;

/* Delete entries older than before_ms (write transaction), remembering the
 * highest seq deleted; *removed gets how many. */
enum rd_err store_journal_expire(struct store_tx *tx, int64_t before_ms, int64_t *removed)
	RD_WARN_UNUSED;

/* *n gets the number of journal entries (stats, tests). */
enum rd_err store_journal_count(struct store_tx *tx, int64_t *n) RD_WARN_UNUSED;

/*
 * What a file is, for the sweeper: *is_backup is true only for a SQLite
 * file that a redactd backup wrote (its backup_meta row), with the time it
 * was taken in *taken_ms. A foreign file (not SQLite, another database, a
 * live redactd database) gives false and RD_OK; RD_E_STORAGE only when the
 * file cannot be opened at all.
 */
enum rd_err store_backup_info(const char *path, bool *is_backup, int64_t *taken_ms)
	RD_WARN_UNUSED;

#define STORE_RESTORE_FORCE 1u    /* go on without a live journal, or one that no longer covers */

struct store_restore_report {
	int64_t taken_ms;             /* when the backup was taken (0: unknown, an older backup) */
	int64_t mark;                 /* the journal seq the backup had seen */
	int64_t replayed;             /* journal entries newer than the backup, applied */
	int64_t removed;              /* records they deleted from the copy */
	int64_t rectified;            /* records given their rectified live content */
	int64_t records;              /* records in the restored database */
	bool journal;                 /* a live journal was reachable and read */
	bool covered;                 /* it still held every entry newer than the backup */
	bool keys;                    /* data keys were taken from the live database */
	bool forced;                  /* went on without journal or coverage (STORE_RESTORE_FORCE) */
	bool emptied;                 /* PostgreSQL: the target held data, emptied (FORCE) */
	bool done_before;             /* PostgreSQL: an earlier run finished this restore */
};

/*
 * Restore backup into dest (a new file, 0600; an existing dest is refused),
 * replaying the erasures in live's journal newer than the backup. live may
 * be NULL or missing: then, and when its journal no longer covers the
 * backup, it refuses (RD_E_NOT_FOUND with err saying why) unless flags has
 * STORE_RESTORE_FORCE (report->forced). A file that is not a redactd
 * backup is refused (RD_E_INVALID_REQUEST). On any failure dest is removed.
 * RD_OK with *report.
 */
enum rd_err store_restore(const char *backup, const char *dest, const char *live, unsigned flags,
                          struct store_restore_report *report, char *err, size_t errlen)
	RD_WARN_UNUSED;

/*
 * The same into PostgreSQL (issue 19): backup (from either backend) is
 * loaded into target, a PostgreSQL store opened readonly whose database
 * is empty, by the import path (store_import_file: resumable, counts
 * compared), then live's journal entries newer than the backup are
 * replayed there and live's wrapped keys taken, in one transaction. live
 * is the configured PostgreSQL store. Refused (RD_E_INVALID_REQUEST): a
 * target that holds data, unless STORE_RESTORE_FORCE, which then also
 * empties it first; a target that is live's own database, always. A
 * journal that no longer covers the backup: RD_E_NOT_FOUND unless forced.
 * A run that stopped is run again (the load resumes); report->done_before
 * when an earlier run had finished. The caller verifies the audit chains
 * and records the restore (audit entry + store_import_finish on target).
 */
enum rd_err store_pg_restore(const char *backup, struct store *target, struct store *live,
                             unsigned flags, struct store_restore_report *report, char *err,
                             size_t errlen) RD_WARN_UNUSED;

#endif
