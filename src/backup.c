/*
 * backup.c — backup names and their expiry (see backup.h).
 *
 * Workload: once per sweep, a directory of tens of files; each candidate
 * is opened read-only just long enough to read its backup_meta row. A
 * file is judged only by what it says it is, never by its name, so an
 * operator's own file in the directory is safe. A removal is audited after
 * the unlink: the audit entry never claims a removal that did not happen,
 * and a crash in between leaves one backup removed without its entry (the
 * log line says so), never one kept past its time.
 */
#include "backup.h"
#include "audit.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "store_journal.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void backup_name(int64_t ms, char out[BACKUP_NAME_MAX])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char stamp[32] = "00000000T000000";
	if (gmtime_r(&t, &tm))
		strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
	snprintf(out, BACKUP_NAME_MAX, "redactd-%s.%03dZ.db", stamp, (int)(ms % 1000));
}

struct expire_audit {
	const char *actor, *action;
	char target[AUDIT_TARGET_MAX];
	int64_t count;
	int64_t journal_before_ms;     /* journal: expire entries older than this */
};

static enum rd_err audit_fn(struct store_tx *tx, void *arg)
{
	struct expire_audit *a = arg;
	return audit_append(tx, a->actor, a->action, a->target, a->count);
}

static enum rd_err journal_fn(struct store_tx *tx, void *arg)
{
	struct expire_audit *a = arg;
	enum rd_err rc = store_journal_expire(tx, a->journal_before_ms, &a->count);
	if (rc != RD_OK || a->count == 0)
		return rc;
	return audit_append(tx, a->actor, "journal.expire", "erasure_journal", a->count);
}

/* One directory entry: removed when it is an expired redactd backup. */
static enum rd_err expire_one(struct store *st, struct metrics *m, int dfd, const char *dir,
                              const char *name, int64_t cutoff_ms, const char *actor,
                              struct backup_expiry *out)
{
	char path[4096];
	struct stat sb;
	bool ours = false;
	int64_t taken = 0;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
		return RD_OK;
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
	    store_backup_info(path, &ours, &taken) != RD_OK || !ours)
		return RD_OK;
	if (taken >= cutoff_ms) {
		out->kept++;
		return RD_OK;
	}
	if (unlinkat(dfd, name, 0) != 0) {
		log_error("backup: cannot remove the expired backup %s: %s", name, strerror(errno));
		out->failed++;
		return RD_OK;
	}
	out->removed++;
	struct expire_audit a = { .actor = actor, .action = "backup.expire", .count = 1 };
	snprintf(a.target, sizeof a.target, "backup:%.80s", name);
	enum rd_err rc = store_exec(st, audit_fn, &a);
	if (rc != RD_OK) {
		log_error("backup: removed the expired backup %s, but its audit entry failed", name);
		return rc;
	}
	metrics_audit(m, 1);
	log_info("backup: removed the expired backup %s", name);
	return RD_OK;
}

static enum rd_err expire_dir(struct store *st, struct metrics *m, const char *dir,
                              int64_t cutoff_ms, const char *actor, struct backup_expiry *out)
{
	DIR *d = opendir(dir);
	enum rd_err rc = RD_OK;
	if (!d) {
		if (errno != ENOENT)
			log_warn("backup: cannot read the backup directory: %s", strerror(errno));
		return RD_OK;
	}
	int dfd = dirfd(d);
	struct dirent *e;
	while (rc == RD_OK && (e = readdir(d)))
		if (e->d_name[0] != '.')
			rc = expire_one(st, m, dfd, dir, e->d_name, cutoff_ms, actor, out);
	closedir(d);
	if (out->failed)   /* the next pass tries them again */
		log_warn("backup: %lld expired backup(s) could not be removed", (long long)out->failed);
	return rc;
}

enum rd_err backup_expire(struct store *st, struct metrics *m, const char *dir,
                          int64_t retention_s, int64_t now_ms, const char *actor,
                          struct backup_expiry *out)
{
	memset(out, 0, sizeof *out);
	if (retention_s <= 0)
		return RD_OK;
	int64_t cutoff_ms = now_ms - retention_s * 1000;
	enum rd_err rc = dir && *dir ? expire_dir(st, m, dir, cutoff_ms, actor, out) : RD_OK;
	if (rc != RD_OK)
		return rc;
	struct expire_audit j = { .actor = actor, .journal_before_ms = cutoff_ms };
	if ((rc = store_exec(st, journal_fn, &j)) != RD_OK) {
		log_error("backup: old erasure journal entries could not be removed");
		return rc;
	}
	out->journal_expired = j.count;
	if (j.count)
		metrics_audit(m, 1);
	return RD_OK;
}
