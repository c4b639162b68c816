/*
 * backup.h — backups that forget (issue 17): where `redactd backup` puts
 * a backup when no destination is given, and their expiry.
 *
 * The sweeper can only expire backups it knows about: those in [backup]
 * directory. A pass (backup_expire) removes each file there that a
 * redactd backup wrote (store_backup_info: its backup_meta row, never
 * judged by name or mtime) and that was taken longer ago than [backup]
 * retention, with one `backup.expire` audit entry per file (target: its
 * name, which is only a time; count 1). Foreign files are never touched.
 * The same pass expires erasure journal entries older than the retention
 * (`journal.expire`, with the count), since no backup that needs them is
 * left in the directory.
 */
#ifndef REDACTD_BACKUP_H
#define REDACTD_BACKUP_H

#include "rd_error.h"

#include <stddef.h>
#include <stdint.h>

struct store;
struct metrics;

#define BACKUP_NAME_MAX 64

/* "redactd-YYYYMMDDTHHMMSS.mmmZ.db" for a backup taken at ms (UTC). */
void backup_name(int64_t ms, char out[BACKUP_NAME_MAX]);

struct backup_expiry {
	int64_t removed;          /* backup files removed */
	int64_t kept;             /* redactd backups still within retention */
	int64_t failed;           /* expired but could not be removed (logged) */
	int64_t journal_expired;  /* erasure journal entries removed */
};

/*
 * Expire backups in dir older than retention_s at now_ms, then journal
 * entries, audited as actor (m counts the entries; may be NULL). dir NULL
 * or retention_s 0: nothing. A missing directory is not an error. RD_OK,
 * or the store's error for an audit entry that could not be written (the
 * file it records is already gone; the pass stops there).
 */
enum rd_err backup_expire(struct store *st, struct metrics *m, const char *dir,
                          int64_t retention_s, int64_t now_ms, const char *actor,
                          struct backup_expiry *out) RD_WARN_UNUSED;

#endif
