/*
 * store_restrict.h — the restrict module's table (restrictions, schema
 * v7) as typed operations on a store_tx. Owned by restrict.c, which
 * decides what a restriction is; this is only where its rows live
 * (src/store_restrict.c).
 *
 * A restriction (GDPR Art. 18) has a legal hold's shape and is stored the
 * same way (store_pins_* in store_holds.c): one conversation, or every
 * conversation a subject is linked to, by keyed hash only, with its
 * identifier and reason sealed in doc_ct. Rows are given and returned as
 * struct store_hold. RD_OK or RD_E_STORAGE (RD_E_STORAGE_FULL), or what a
 * callback returned.
 */
#ifndef REDACTD_STORE_RESTRICT_H
#define REDACTD_STORE_RESTRICT_H

#include "store_holds.h"

enum rd_err store_restrict_insert(struct store_tx *tx, const struct store_hold *r) RD_WARN_UNUSED;
/* Delete restriction id of tenant (NULL: any); *found says whether it was there. */
enum rd_err store_restrict_delete(struct store_tx *tx, const char *id, const char *tenant,
                                  bool *found) RD_WARN_UNUSED;
/* Restrictions of tenant (NULL: every tenant) by creation time, then id. */
enum rd_err store_restrict_each(struct store_tx *tx, const char *tenant, store_hold_fn fn,
                                void *ctx) RD_WARN_UNUSED;
/* Is the conversation restricted, directly or through a restricted
 * subject linked to it? Any tx (a read connection does). */
enum rd_err store_restrict_check(struct store_tx *tx, const char *tenant,
                                 const unsigned char conv_hash[CRYPTO_HASH_BYTES],
                                 bool *restricted) RD_WARN_UNUSED;

#endif
