/*
 * store_holds.h — the holds module's table (holds) as typed operations on
 * a store_tx. Owned by holds.c, which decides what a hold is (its id, its
 * sealed document, its audit entries); this is only where its rows live
 * (src/store_holds.c, with the table's schema step).
 *
 * A hold names its target only by keyed hash: a conversation hash, or a
 * subject hash that pins every conversation the subject is linked to. Each
 * function returns RD_OK or RD_E_STORAGE (RD_E_STORAGE_FULL when a write
 * found the disk full), or what a callback returned.
 */
#ifndef REDACTD_STORE_HOLDS_H
#define REDACTD_STORE_HOLDS_H

#include "store.h"

enum store_hold_kind { STORE_HOLD_CONVERSATION = 0, STORE_HOLD_SUBJECT };

/* One hold as stored. Borrowed: from the caller for an insert, from the
 * store for the duration of a callback (kind_name as stored; kind is
 * STORE_HOLD_SUBJECT for anything but "conversation"). */
struct store_hold {
	const char *id, *tenant, *actor;
	enum store_hold_kind kind;
	const char *kind_name;
	const unsigned char *target_hash;          /* CRYPTO_HASH_BYTES */
	const unsigned char *doc_ct;
	size_t doc_len;
	int64_t created_ms;
};

/* Insert h (write transaction). */
enum rd_err store_holds_insert(struct store_tx *tx, const struct store_hold *h) RD_WARN_UNUSED;
/* Delete hold id of tenant (NULL: any tenant); *found says whether it was
 * there. */
enum rd_err store_holds_delete(struct store_tx *tx, const char *id, const char *tenant,
                               bool *found) RD_WARN_UNUSED;
/* Holds of tenant (NULL: every tenant) by creation time, then id. */
typedef enum rd_err (*store_hold_fn)(const struct store_hold *h, void *ctx);
enum rd_err store_holds_each(struct store_tx *tx, const char *tenant, store_hold_fn fn, void *ctx)
	RD_WARN_UNUSED;
/* Is the conversation held, directly or through a held subject linked to
 * it? The statement is kept for the rest of tx, so a purge asks about
 * each candidate without preparing it again. */
enum rd_err store_holds_held(struct store_tx *tx, const char *tenant,
                             const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *held)
	RD_WARN_UNUSED;
/* *n gets the number of holds of every tenant. */
enum rd_err store_holds_count(struct store_tx *tx, int64_t *n) RD_WARN_UNUSED;

#endif
