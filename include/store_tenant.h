/*
 * store_tenant.h — where tenant closures live (table tenant_closures),
 * as typed operations on a store_tx, and the one tenant-wide key
 * operation a closure ends with. Rows live in src/store_tenant.c, with
 * that table's schema step (version 7).
 *
 * A closure row says: erase everything tenant T holds once due_ms has
 * passed. state is "pending" (scheduled), "erasing" (the sweeper has
 * begun; held records remain) or "done" (no record left, every data key
 * of T destroyed). Each returns RD_OK or RD_E_STORAGE
 * (RD_E_STORAGE_FULL when a write found the disk full), or what a
 * callback returned.
 */
#ifndef REDACTD_STORE_TENANT_H
#define REDACTD_STORE_TENANT_H

#include "store.h"

struct store_closure {
	const char *tenant;
	const char *state;       /* "pending" | "erasing" | "done" */
	const char *actor;       /* who scheduled it */
	int64_t requested_ms, due_ms, done_ms;   /* done_ms 0 until done */
};
/* Borrowed for the duration of the callback. */
typedef enum rd_err (*store_closure_fn)(const struct store_closure *c, void *ctx);

/* Schedule (or reschedule: a new due time, back to pending) T's closure. */
enum rd_err store_closure_set(struct store_tx *tx, const char *tenant, int64_t requested_ms,
                              int64_t due_ms, const char *actor) RD_WARN_UNUSED;
/* Remove T's closure; *found says whether there was one. */
enum rd_err store_closure_delete(struct store_tx *tx, const char *tenant, bool *found)
	RD_WARN_UNUSED;
/* Set T's state ("erasing" or "done"; done_ms is kept for "done"). */
enum rd_err store_closure_state(struct store_tx *tx, const char *tenant, const char *state,
                                int64_t done_ms) RD_WARN_UNUSED;
/* Every closure, in tenant order. */
enum rd_err store_closures(struct store_tx *tx, store_closure_fn fn, void *ctx) RD_WARN_UNUSED;

/* *records: T's records left; *held: those a legal hold keeps. */
enum rd_err store_tenant_records(struct store_tx *tx, const char *tenant, int64_t *records,
                                 int64_t *held) RD_WARN_UNUSED;

/*
 * Crypto-shredding for a closed tenant: destroy every live data key of T
 * that no record uses any more, whatever its month (store_shred_keys
 * waits for a month's end; a closure does not), then call fn with how
 * many in the same transaction (the closure's state and audit entries
 * commit with the keys' destruction). Once committed, the keys' cached
 * copies are wiped and *count gets how many. Runs its own transaction.
 */
typedef enum rd_err (*store_shred_fn)(struct store_tx *tx, size_t destroyed, void *ctx);
enum rd_err store_tenant_shred(struct store *st, const char *tenant, int64_t now_ms,
                               store_shred_fn fn, void *ctx, size_t *count) RD_WARN_UNUSED;

#endif
