/*
 * audit.h — the tamper-evident audit log (SPEC 2.5, 7).
 *
 * Every read of stored content, export, erasure, hold, purge, key rotation
 * and config reload appends one entry: seq, time, actor (token name or
 * "cli"), action, target (ids and keyed hashes, never identifiers) and a
 * count. Each entry carries the hash of the one before it and its own hash:
 *
 *   hash = BLAKE2b-256("rd-audit-v1" || prev_hash || u64be(seq) ||
 *                      u64be(ts_ms) || lp(actor) || lp(action) ||
 *                      lp(target) || u64be(count))       lp = u32be(len) || bytes
 *
 * so an edited field, a removed entry (seq gap or broken link) and two
 * swapped entries (the prev link points at an entry found elsewhere) are
 * each detected by audit_verify, which names the first bad seq. seq is
 * never reused: the store remembers the highest seq ever handed out
 * (store_audit_high_mark; SQLite's sqlite_sequence), so removing the
 * newest entries is detected as well (unless that mark is edited too;
 * `audit verify` prints the head hash for external anchoring).
 *
 * Appends take the store_tx of an open write transaction (store_exec) so
 * an action and its entry commit together, or neither does. The rows live
 * in the store (store_audit.h); this module owns them and their rules.
 *
 * Old entries can be purged ([audit] retention): the hash of the last purged
 * entry is kept in a checkpoint row, and the chain verifies from there.
 *
 * Chains: on PostgreSQL an entry about one tenant's data goes to that
 * tenant's own chain (audit_append_tenant), everything else to the
 * system's; each chain has its own seq, head and checkpoint, and
 * audit_verify_all checks every one. SQLite keeps one chain for all.
 */
#ifndef REDACTD_AUDIT_H
#define REDACTD_AUDIT_H

#include "redactd.h"
#include "crypto.h"
#include "rd_error.h"

#include <stdio.h>

struct store;
struct store_tx;
struct metrics;

#define AUDIT_HASH_BYTES   32
#define AUDIT_FIELD_MAX    256    /* actor, action and target, bytes each */
#define AUDIT_TARGET_MAX   96     /* what audit_target writes, with NUL */

/*
 * Append one entry (ts = now) inside the caller's write transaction.
 * Strings must be 1..AUDIT_FIELD_MAX bytes and must not carry personal data.
 * Returns RD_OK, the store's error (RD_E_STORAGE, RD_E_STORAGE_FULL), or
 * RD_E_AUDIT for a bad argument (the caller rolls back, so the action it
 * records does not happen either).
 */
enum rd_err audit_append(struct store_tx *tx, const char *actor, const char *action,
                         const char *target, int64_t count) RD_WARN_UNUSED;
/* The same in tenant's chain (NULL: the system's; SQLite: the one chain). */
enum rd_err audit_append_tenant(struct store_tx *tx, const char *tenant, const char *actor,
                                const char *action, const char *target, int64_t count)
	RD_WARN_UNUSED;
/* The same with an explicit time (tests, imports). */
enum rd_err audit_append_at(struct store_tx *tx, int64_t ts_ms, const char *actor,
                            const char *action, const char *target, int64_t count)
	RD_WARN_UNUSED;

enum audit_fault {
	AUDIT_INTACT = 0,
	AUDIT_EDITED,      /* an entry's fields no longer match its hash */
	AUDIT_REMOVED,     /* a seq is missing, or an entry links to one that is gone */
	AUDIT_REORDERED,   /* an entry links to an entry that sits elsewhere */
};

struct audit_report {
	enum audit_fault fault;
	int64_t bad_seq;                     /* first bad entry (0 when intact) */
	int64_t entries;                     /* entries walked */
	int64_t first_seq, last_seq;         /* 0, 0 when the log is empty */
	int64_t checkpoint_seq;              /* last purged seq, 0 if none */
	unsigned char head[AUDIT_HASH_BYTES]; /* hash of the last entry */
	char detail[160];                    /* one line for a human */
};

const char *audit_fault_name(enum audit_fault f);

/* audit_verify on every chain (store_audit_chains): fn gets each one's name
 * (NULL: the system's) and report; *intact whether all were. RD_E_STORAGE
 * on a database error. */
typedef void (*audit_chain_report_fn)(const char *chain, const struct audit_report *r, void *ctx);
enum rd_err audit_verify_all(struct store_tx *tx, audit_chain_report_fn fn, void *ctx,
                             bool *intact) RD_WARN_UNUSED;

/* Re-walk the chain. Returns RD_OK when the walk completed (see
 * out->fault), RD_E_STORAGE on a database error. Read-only: run it on any
 * tx (store_read). */
enum rd_err audit_verify(struct store_tx *tx, struct audit_report *out) RD_WARN_UNUSED;

/* Write entries with ts >= since_ms as JSON lines {"seq","ts","actor",
 * "action","target","count"} to f, chain by chain (the system's first; an
 * entry of a tenant's chain has "tenant" too). *n gets the number written.
 * RD_E_STORAGE on a database error, RD_E_INTERNAL when f refuses a line. */
enum rd_err audit_list(struct store_tx *tx, int64_t since_ms, FILE *f, size_t *n) RD_WARN_UNUSED;

/* Following the log as it is written (`audit list --follow`): the first
 * call writes entries with ts >= since_ms as audit_list does, each later
 * one only entries appended since (seq above the newest written). listed
 * gets the number the call wrote. Start with {.since_ms = ...}; free with
 * audit_cursor_free (tenants' chains keep their place in chains[]). */
struct audit_chain_pos {
	char *chain;
	int64_t last_seq, last_ts;
};
struct audit_cursor {
	int64_t since_ms;
	int64_t last_seq, last_ts;   /* the system chain's newest entry written; 0 before the first */
	size_t listed;
	struct audit_chain_pos *chains;
	size_t nchains;
};
enum rd_err audit_list_from(struct store_tx *tx, struct audit_cursor *cur, FILE *f) RD_WARN_UNUSED;
void audit_cursor_free(struct audit_cursor *cur);

/*
 * Delete entries older than before_ms inside the caller's write transaction,
 * moving the checkpoint to the newest purged entry so the rest still
 * verifies, in every chain. Appends an "audit.purge" entry to each chain
 * that lost entries. *purged gets the count. The store's error on a
 * database error.
 */
enum rd_err audit_purge(struct store_tx *tx, int64_t before_ms, int64_t *purged) RD_WARN_UNUSED;

/* *n gets the number of entries in the log (stats). */
enum rd_err audit_count(struct store_tx *tx, int64_t *n) RD_WARN_UNUSED;
/* *ts_ms gets the time of the newest entry whose action is one of
 * actions[0..n) (n <= 4), or 0 when there is none. */
enum rd_err audit_last_action(struct store_tx *tx, const char *const *actions, size_t n,
                              int64_t *ts_ms) RD_WARN_UNUSED;

/*
 * A target for a keyed hash: "KIND:" + 32 hex digits of BLAKE2b keyed with
 * the AUDIT subkey over (KIND, hash). Stable for the database (subkeys
 * derive from its root key, which survives rotation), so the entries about
 * one subject or conversation match each other, yet the log alone links to
 * nothing in the other tables.
 */
void audit_target(const struct keyring *kr, const char *kind, const unsigned char *hash, size_t n,
                  char out[AUDIT_TARGET_MAX]);

/* One entry in its own transaction on st (for actions that do not write
 * anything else, such as reads), counted in m (NULL: not counted). RD_OK,
 * or the store's error (RD_E_STORAGE_FAILED once writes are refused,
 * RD_E_STORAGE_FULL, RD_E_STORAGE, RD_E_SHUTTING_DOWN). Takes the store,
 * not the app: audit sits below every module that records an action. */
enum rd_err audit_record(struct store *st, struct metrics *m, const char *actor,
                         const char *action, const char *target, int64_t count) RD_WARN_UNUSED;
/* The same in tenant's chain. */
enum rd_err audit_record_tenant(struct store *st, struct metrics *m, const char *tenant,
                                const char *actor, const char *action, const char *target,
                                int64_t count) RD_WARN_UNUSED;

#endif
