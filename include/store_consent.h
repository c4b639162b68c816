/*
 * store_consent.h — the consent module's table (consents) as typed
 * operations on a store_tx. Owned by consent.c, which decides what a
 * consent record is and audits it; this is only where its rows live
 * (src/store_consent.c, with the table's schema step).
 *
 * A row names its target only by keyed hash: the subject hash of a
 * normalised email or phone (as redaction computes it), or the
 * conversation hash (as messages carry it). Everything else in a row is
 * an enum word, a name checked by consent.c (kind), a token or source
 * name, or a time: nothing personal is stored in clear, so nothing is
 * sealed.
 *
 * The table is append-only: a trigger refuses every UPDATE, and rows are
 * deleted only by an erasure of their target (store_consent_delete).
 * Each function returns RD_OK or RD_E_STORAGE (RD_E_STORAGE_FULL when a
 * write found the disk full), or what a callback returned.
 */
#ifndef REDACTD_STORE_CONSENT_H
#define REDACTD_STORE_CONSENT_H

#include "store.h"

/* One consent row. Borrowed: from the caller for an insert, from the store
 * for the duration of a callback. */
struct store_consent {
	int64_t id;                                /* set by the store; ignored on insert */
	const char *tenant;
	bool subject;                              /* target_hash is a subject, else a conversation */
	const unsigned char *target_hash;          /* CRYPTO_HASH_BYTES */
	const char *kind;                          /* call_recording, transcription, messaging, ... */
	const char *state;                         /* given, declined or withdrawn */
	const char *method;                        /* ivr, checkbox, agent, keyword, ... */
	const char *source;                        /* token or source name, "cli" */
	int64_t ts_ms;                             /* when it was given (as reported) */
	int64_t recorded_ms;                       /* when redactd recorded it */
};

/* Append c (write transaction); *id gets its row id. */
enum rd_err store_consent_insert(struct store_tx *tx, const struct store_consent *c, int64_t *id)
	RD_WARN_UNUSED;

/* What decides a target's current state: its newest row of some kinds. */
#define STORE_CONSENT_KIND_MAX 32                  /* bytes of a kind name */
struct store_consent_latest {
	int64_t id;                                /* 0: there is none */
	int64_t ts_ms;
	char kind[STORE_CONSENT_KIND_MAX + 1];
	char state[16];
};

/* The newest row (highest id) of tenant about any of targets[0..n) whose
 * kind is one of kinds[0..nkinds) (nkinds at most 2), unless out already
 * holds a newer one (start it zeroed). One statement for up to 8 targets at
 * a time, since this runs for every voice message. */
enum rd_err store_consent_latest(struct store_tx *tx, const char *tenant,
                                 const unsigned char (*targets)[CRYPTO_HASH_BYTES], size_t n,
                                 const char *const *kinds, size_t nkinds,
                                 struct store_consent_latest *out) RD_WARN_UNUSED;

/* *any gets whether some row of any tenant has one of kinds[0..nkinds)
 * (at most 2) and a state other than given. */
enum rd_err store_consent_refusals(struct store_tx *tx, const char *const *kinds, size_t nkinds,
                                   bool *any) RD_WARN_UNUSED;

/* Every row of tenant for target, oldest first. */
typedef enum rd_err (*store_consent_fn)(const struct store_consent *c, void *ctx);
enum rd_err store_consent_each(struct store_tx *tx, const char *tenant,
                               const unsigned char target[CRYPTO_HASH_BYTES], store_consent_fn fn,
                               void *ctx) RD_WARN_UNUSED;

/* Delete every row of tenant for target (an erasure of that subject or
 * conversation); *n gets how many. */
enum rd_err store_consent_delete(struct store_tx *tx, const char *tenant,
                                 const unsigned char target[CRYPTO_HASH_BYTES], int64_t *n)
	RD_WARN_UNUSED;

#endif
