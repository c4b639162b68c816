/*
 * store_pg_rights.h — the data-subject rights operations on PostgreSQL
 * (issue 19, second wave): legal holds and restrictions (the store_pins_*
 * shape), consent records, the erasure journal, and a message's
 * rectification. The public functions of store_holds.h, store_restrict.h,
 * store_consent.h, store_journal.h and store_rectify.h dispatch here when
 * tx->pg is set; each has its public function's contract. The code is in
 * src/store_pg_rights.c (holds, restrictions, consents) and
 * src/store_pg_rights_erase.c (journal, rectification).
 *
 * Only store files include this; no libpq type appears in it.
 */
#ifndef REDACTD_STORE_PG_RIGHTS_H
#define REDACTD_STORE_PG_RIGHTS_H

#include "store_int.h"
#include "store_consent.h"
#include "store_holds.h"
#include "store_rectify.h"

/* Holds and restrictions: table is "holds" or "restrictions". */
enum rd_err store_pg_pins_insert(struct store_tx *tx, const char *table, const struct store_hold *h);
enum rd_err store_pg_pins_delete(struct store_tx *tx, const char *table, const char *id,
                                 const char *tenant, bool *found);
enum rd_err store_pg_pins_each(struct store_tx *tx, const char *table, const char *tenant,
                               store_hold_fn fn, void *ctx);
enum rd_err store_pg_holds_held(struct store_tx *tx, const char *tenant,
                                const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *held);
enum rd_err store_pg_holds_count(struct store_tx *tx, int64_t *n);

/* Consent records. */
enum rd_err store_pg_consent_insert(struct store_tx *tx, const struct store_consent *c, int64_t *id);
enum rd_err store_pg_consent_latest(struct store_tx *tx, const char *tenant,
                                    const unsigned char (*targets)[CRYPTO_HASH_BYTES], size_t n,
                                    const char *const *kinds, size_t nkinds,
                                    struct store_consent_latest *out);
enum rd_err store_pg_consent_refusals(struct store_tx *tx, const char *const *kinds, size_t nkinds,
                                      bool *any);
enum rd_err store_pg_consent_each(struct store_tx *tx, const char *tenant,
                                  const unsigned char target[CRYPTO_HASH_BYTES],
                                  store_consent_fn fn, void *ctx);
enum rd_err store_pg_consent_delete(struct store_tx *tx, const char *tenant,
                                    const unsigned char target[CRYPTO_HASH_BYTES], int64_t *n);

/* The erasure journal: kind is the name of an enum store_journal_kind
 * (store_journal.c checked the target against it). */
enum rd_err store_pg_journal_append(struct store_tx *tx, const char *kind, const char *tenant,
                                    const void *target, size_t len, int64_t ts_ms);
enum rd_err store_pg_journal_expire(struct store_tx *tx, int64_t before_ms, int64_t *removed);
enum rd_err store_pg_journal_count(struct store_tx *tx, int64_t *n);

/* Rectification. */
enum rd_err store_pg_message_get(struct store_tx *tx, const char *tenant, const char *record_id,
                                 store_row_fn fn, void *ctx);
enum rd_err store_pg_message_rewrite(struct store_tx *tx, const struct store_rewrite *w,
                                     bool *found);

#endif
