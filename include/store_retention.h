/*
 * store_retention.h — what the sweeper and the stats read and write, as
 * typed operations on a store_tx: records per (tenant, category), records
 * due for purging, entity totals, and the retention module's own table
 * (retention_pending: purged counts not yet in the audit log). Rows live
 * in src/store_retention.c, with that table's schema step.
 *
 * Each returns RD_OK or RD_E_STORAGE (RD_E_STORAGE_FULL when a write found
 * the disk full), or what a callback returned.
 */
#ifndef REDACTD_STORE_RETENTION_H
#define REDACTD_STORE_RETENTION_H

#include "store.h"

/* A (tenant, category) with its records and its oldest record's time
 * (both 0 for a group known only from retention_pending). Borrowed for
 * the duration of the callback. */
struct store_group {
	const char *tenant, *category;
	int64_t records, oldest_ms, purged;   /* purged: store_retention_take only */
};
typedef enum rd_err (*store_group_fn)(const struct store_group *g, void *ctx);

/* Every (tenant, category) that has records, in (tenant, category) order. */
enum rd_err store_groups(struct store_tx *tx, store_group_fn fn, void *ctx) RD_WARN_UNUSED;
/* The same groups with their oldest timestamp but records = -1 (not
 * counted): a few index seeks per group, where store_groups reads every
 * record's index entry (seconds at millions of records). For the sweeper
 * and the metrics, which only need to know that a group is there. */
enum rd_err store_group_heads(struct store_tx *tx, store_group_fn fn, void *ctx) RD_WARN_UNUSED;
/* Records of (tenant, category) older than cutoff_ms: *due all of them,
 * *held those a legal hold keeps (store_holds.h). */
enum rd_err store_count_due(struct store_tx *tx, const char *tenant, const char *category,
                            int64_t cutoff_ms, int64_t *due, int64_t *held) RD_WARN_UNUSED;
/* Entity counts (from ingest's per-record entity_counts) summed per
 * tenant and entity, in that order. */
typedef enum rd_err (*store_entity_fn)(const char *tenant, const char *entity, int64_t n,
                                       void *ctx);
enum rd_err store_entity_totals(struct store_tx *tx, store_entity_fn fn, void *ctx)
	RD_WARN_UNUSED;

/* retention_pending: a purge batch adds its count in its own transaction;
 * the pass's end takes them all into audit entries, so a crash mid-pass
 * loses no count. */
enum rd_err store_retention_add(struct store_tx *tx, const char *tenant, const char *category,
                                int64_t purged) RD_WARN_UNUSED;
/* The groups with a pending count (records and oldest 0, purged 0). */
enum rd_err store_retention_pending(struct store_tx *tx, store_group_fn fn, void *ctx)
	RD_WARN_UNUSED;
/* Remove every pending count, handing each to fn (g->purged) in the same
 * transaction; fn may write (an audit entry) on tx meanwhile. */
enum rd_err store_retention_take(struct store_tx *tx, store_group_fn fn, void *ctx)
	RD_WARN_UNUSED;

/*
 * One sweep at a time over a store that several processes share. *got is
 * true when this process may sweep now (call store_sweep_unlock after the
 * pass), false when another holds the lock (skip the pass). PostgreSQL: a
 * session advisory lock on a connection of its own, released by
 * store_sweep_unlock or when the process dies. SQLite: always true (the
 * file has one daemon). RD_OK or RD_E_STORAGE.
 */
enum rd_err store_sweep_lock(struct store *st, bool *got) RD_WARN_UNUSED;
void store_sweep_unlock(struct store *st);

#endif
