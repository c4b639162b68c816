/*
 * store_audit.h — the audit module's tables (audit_log, audit_checkpoint),
 * as typed operations on a store_tx. Owned by audit.c, which keeps the
 * hash chain's rules; this is only where its rows live (src/store_audit.c,
 * with the tables' schema steps).
 *
 * Reads run on any tx (store_read or store_exec); writes need the write
 * transaction of a store_exec function, so an entry commits with the
 * action it records. Each returns RD_OK or RD_E_STORAGE (RD_E_STORAGE_FULL
 * when a write found the disk full), or what a callback returned.
 */
#ifndef REDACTD_STORE_AUDIT_H
#define REDACTD_STORE_AUDIT_H

#include "store.h"

#define STORE_AUDIT_HASH_BYTES 32

/* One entry as stored. Strings and hashes are borrowed: from the caller
 * for an insert, from the store for the duration of a callback. Hash
 * lengths are as stored (a damaged row may have another). */
struct store_audit_entry {
	int64_t seq, ts_ms, count;
	const char *actor, *action, *target;   /* "" when NULL in the row */
	const unsigned char *prev, *hash;
	size_t prev_len, hash_len;
};

/* The newest entry's seq and hash, or the checkpoint's (seq 0 and a zero
 * hash when nothing was ever purged) when the log is empty. */
enum rd_err store_audit_head(struct store_tx *tx, int64_t *seq,
                             unsigned char hash[STORE_AUDIT_HASH_BYTES]) RD_WARN_UNUSED;
/* The highest seq ever handed out, even if its entry was deleted since
 * (0 for a new log). */
enum rd_err store_audit_high_mark(struct store_tx *tx, int64_t *seq) RD_WARN_UNUSED;
/* The checkpoint: last purged seq and its hash (0 and a zero hash when
 * none). */
enum rd_err store_audit_checkpoint(struct store_tx *tx, int64_t *seq,
                                   unsigned char hash[STORE_AUDIT_HASH_BYTES]) RD_WARN_UNUSED;
/* Append e as stored (seq, prev and hash filled in by the caller). */
enum rd_err store_audit_insert(struct store_tx *tx, const struct store_audit_entry *e)
	RD_WARN_UNUSED;

/* Entries in seq order, those with ts >= since_ms (INT64_MIN: all); fn's
 * value other than RD_OK stops the walk and is returned. fn may call the
 * other reads here on the same tx. */
typedef enum rd_err (*store_audit_fn)(const struct store_audit_entry *e, void *ctx);
enum rd_err store_audit_each(struct store_tx *tx, int64_t since_ms, store_audit_fn fn, void *ctx)
	RD_WARN_UNUSED;
/* *seq gets the seq of an entry whose hash is h, or 0 when none. */
enum rd_err store_audit_find_hash(struct store_tx *tx, const unsigned char *h, size_t n,
                                  int64_t *seq) RD_WARN_UNUSED;
/* The newest entry older than before_ms: seq and hash; seq 0 when none. */
enum rd_err store_audit_last_before(struct store_tx *tx, int64_t before_ms, int64_t *seq,
                                    unsigned char hash[STORE_AUDIT_HASH_BYTES]) RD_WARN_UNUSED;
/* Delete every entry up to seq and make (seq, hash) the checkpoint,
 * purged at now_ms; *deleted gets the entries deleted. */
enum rd_err store_audit_truncate(struct store_tx *tx, int64_t seq,
                                 const unsigned char hash[STORE_AUDIT_HASH_BYTES], int64_t now_ms,
                                 int64_t *deleted) RD_WARN_UNUSED;
/*
 * Chains (issue 19). On PostgreSQL the log is one hash chain per tenant
 * plus the system's; the calls above use the chain set here on tx: a
 * tenant's name, or NULL (the start of every tx) for the system's. It
 * returns the chain in use before, to put back. SQLite keeps one chain
 * for everything: there it changes nothing.
 */
const char *store_audit_use_chain(struct store_tx *tx, const char *tenant);
/* Every chain that has or had entries: the system's (NULL) first, then
 * tenants' by name. SQLite: the system's alone. */
typedef enum rd_err (*store_audit_chain_fn)(const char *chain, void *ctx);
enum rd_err store_audit_chains(struct store_tx *tx, store_audit_chain_fn fn, void *ctx)
	RD_WARN_UNUSED;

/* The two below count every chain. */
/* *n gets the number of entries in the log. */
enum rd_err store_audit_count(struct store_tx *tx, int64_t *n) RD_WARN_UNUSED;
/* *ts_ms gets the time of the newest entry whose action is one of
 * actions[0..n) (n <= 4), or 0 when there is none. */
enum rd_err store_audit_last_of(struct store_tx *tx, const char *const *actions, size_t n,
                                int64_t *ts_ms) RD_WARN_UNUSED;

#endif
