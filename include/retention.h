/*
 * retention.h — the retention sweeper, crypto-shredding after deletes, stats.
 *
 * DESIGN
 * `redactd serve` starts one sweeper thread (retention_start). Every
 * [retention] sweep_interval it runs a pass: for each (tenant, category)
 * present in the database it computes the horizon with config_retention
 * (from the snapshot current at the pass's start, so a SIGHUP reload applies
 * from the next pass) and
 * deletes records older than it with store_purge_before: batches of
 * sweep_batch rows, each one transaction on the writer, so ingest batches
 * queue between them and never wait behind more than one small batch. Held
 * records (subject.h) are kept by its per-row callback, which counts the
 * others and, at the batch's end, adds the count to retention_pending in
 * the same transaction; the
 * pass's end moves those counts into one audit entry per (tenant,
 * category), so a crash mid-pass loses no count. Then old audit entries
 * are purged ([audit] retention), data keys left with no records are
 * destroyed and the WAL is checkpointed (TRUNCATE) so deleted ciphertext
 * does not linger.
 * retention_stop sets a flag the callback checks (the batch in progress
 * rolls back), wakes the thread and joins it; the writer must still run.
 *
 * A tenant whose closure is due (tenant_close.h) has every record due,
 * whatever its horizon; after the audit entries, tenant_close_settle
 * destroys its unused keys and advances the closure.
 *
 * `redactd sweep` runs the same pass in its own process (SQLite locking and
 * the store's busy timeout let it run beside the daemon).
 */
#ifndef REDACTD_RETENTION_H
#define REDACTD_RETENTION_H

#include "app.h"

#include <jansson.h>
#include <stdatomic.h>

struct retention;

/* Start the sweeper for app (which must outlive it). -1 with err. */
int retention_start(struct app *app, struct retention **out, char *err, size_t errlen)
	RD_WARN_UNUSED;
/* For the service watchdog: true while the sweeper waits (it wakes every
 * 5 s to say so) or runs a pass that began at most max_pass_us ago. */
bool retention_alive(struct retention *r, int64_t max_pass_us);
/* Stop it: the pass in progress ends after its current batch. NULL no-op. */
void retention_stop(struct retention *r);

/* One (tenant, category) of a pass. */
struct retention_line {
	char tenant[RD_MAX_NAME_LEN + 1];
	char category[RD_MAX_NAME_LEN + 1];
	int64_t horizon_s;        /* 0 = kept forever */
	int64_t records;          /* records of the group before the pass (-1: not counted) */
	int64_t due;              /* older than the horizon and not held */
	int64_t held;             /* older than the horizon but held */
	int64_t purged;           /* deleted by this pass (0 on a dry run) */
	bool closing;             /* the tenant's closure is due: every record is (tenant_close.h) */
};

struct retention_report {
	struct retention_line *lines;
	size_t n;
	int64_t purged;           /* total */
	int64_t due;              /* total due: what a dry run would purge */
	int64_t audit_purged;     /* audit entries past [audit] retention */
	int64_t backups_removed;  /* backups past [backup] retention (backup.h) */
	bool residue_pending;     /* purged rows still in the files (store_residue_clear) */
	bool stopped;             /* interrupted by retention_stop */
	bool skipped;             /* another process holds the sweep lock: nothing done */
};

enum retention_flags {
	RETENTION_DRY_RUN = 1,   /* change nothing, audit nothing: say what would go */
	RETENTION_COUNT = 2,     /* count each group's records (lines[].records); else -1 */
};

/*
 * One pass now; its audit entries name `actor` ("sweeper" for the daemon's
 * thread, "cli" for `redactd sweep`). flags: enum retention_flags. A dry
 * run's report says what would go. Without RETENTION_COUNT the groups are
 * found by a few index seeks each instead of a read of every record (the
 * daemon's passes and the metrics). stop may be NULL. Caller frees the
 * report with retention_report_free. 0, or -1 on a storage error (the
 * report then holds what was done before it).
 */
int retention_pass(struct app *app, const char *actor, unsigned flags, const atomic_bool *stop,
                   struct retention_report *rep) RD_WARN_UNUSED;
void retention_report_free(struct retention_report *rep);

/*
 * After records were deleted (sweep, erasure) in a transaction that called
 * store_residue_mark: destroy data keys that no record uses any more
 * (crypto-shredding), then retry TRUNCATE checkpoints for up to
 * RETENTION_RESIDUE_WAIT_MS until the deleted rows have left the database
 * file and the WAL. True while they have not (a reader holds an old
 * snapshot): the sweeper thread retries every RETENTION_RESIDUE_RETRY_MS.
 * Failures are logged; the deletes themselves stand.
 */
#define RETENTION_RESIDUE_WAIT_MS 2000
#define RETENTION_RESIDUE_RETRY_MS 2000
bool retention_after_delete(struct app *app);

/*
 * {"tenants": {T: {"categories": {C: {"records", "oldest", "oldest_age_s",
 * "horizon_s", "overdue"}}, "entities": {E: n}}}, "holds": n,
 * "audit_entries": n, "residue": {"pending": bool, "since"?, "deletes"?}}. Counts only: nothing sealed is opened. 0 or -1.
 */
int retention_stats(struct app *app, json_t **out) RD_WARN_UNUSED;

/*
 * Gauges for /metrics, per tenant and category: records past their horizon
 * and not held (what an operator alerts on when the retention promise is
 * broken), records past it but held, and the horizon. Counted by a dry-run
 * pass at most every 30 s; appended to b. -1 if the store cannot be read.
 */
struct buf;
int retention_render_metrics(struct app *app, struct buf *b) RD_WARN_UNUSED;

#endif
