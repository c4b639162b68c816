/*
 * holds.h — legal holds: held records survive sweeps and erasure until the
 * hold is removed (SPEC 5.2).
 *
 * A hold pins one conversation, or every conversation a subject is linked
 * to, of one tenant. It stores only the keyed hash of its target; the
 * identifier and the reason (which may name people) are sealed under the
 * HOLDS key (crypto.h), bound to the hold's id and tenant. Adding,
 * removing and listing holds each append an audit entry in the same
 * transaction (listing opens sealed reasons: a read of stored content).
 *
 * This module owns the holds table (its rows and schema step are kept by
 * the store: store_holds.h, src/store_holds.c). Other modules ask it one
 * thing: whether a conversation is held (holds_conversation_held), inside
 * their own transaction. Resolving an email or phone number to its target
 * is the subject module's job (subject_hold_add).
 *
 * Calls that take an app expect the caller to hold app->lock for reading
 * (HTTP handlers and the CLI do).
 */
#ifndef REDACTD_HOLDS_H
#define REDACTD_HOLDS_H

#include "app.h"

#include <jansson.h>

#define HOLDS_ID_LEN       18        /* "h_" + 16 hex digits */
#define HOLDS_REASON_MAX   1000      /* bytes */

/* What a new hold pins: a conversation or a subject (by keyed hash), and
 * what to seal into its document for the operator ("type": "email",
 * "phone" or "conversation", and the value as given). */
struct holds_target {
	const char *tenant;
	bool subject;                                /* else a conversation */
	unsigned char hash[CRYPTO_HASH_BYTES];
	const char *type;
	const char *value;
};

/* Place a hold; id gets "h_..." (201). -1 with e (422 without a reason of
 * 1..HOLDS_REASON_MAX bytes, the store's error). */
int holds_add(struct app *app, const struct holds_target *t, const char *reason,
              const char *actor, char id[HOLDS_ID_LEN + 1], struct rd_error *e) RD_WARN_UNUSED;
/* Remove hold id; tenant NULL matches any tenant. 404 when not found. */
int holds_remove(struct app *app, const char *tenant, const char *id, const char *actor,
                 struct rd_error *e) RD_WARN_UNUSED;
/* {"holds": [{"id", "tenant", "kind", "type", "value", "reason", "created",
 * "actor"}]}; tenant NULL lists every tenant. Opening the sealed reasons is
 * a read of stored content and is audited. */
int holds_list(struct app *app, const char *tenant, const char *actor, json_t **out,
               struct rd_error *e) RD_WARN_UNUSED;

/*
 * Restrictions of processing (restrict.h) have a hold's shape: a
 * conversation or a subject by keyed hash, a sealed reason, audited add,
 * remove and list. The holds_pin_* calls do either kind; a restriction's
 * id is "r_..." (HOLDS_ID_LEN), its document sealed under another tag, its
 * audit actions restrict.add / restrict.remove / restrict.list, its list
 * {"restrictions": [...]}. holds_add, holds_remove and holds_list are
 * these for HOLDS_PIN_HOLD.
 */
enum holds_pin { HOLDS_PIN_HOLD = 0, HOLDS_PIN_RESTRICTION };
int holds_pin_add(struct app *app, enum holds_pin kind, const struct holds_target *t,
                  const char *reason, const char *actor, char id[HOLDS_ID_LEN + 1],
                  struct rd_error *e) RD_WARN_UNUSED;
int holds_pin_remove(struct app *app, enum holds_pin kind, const char *tenant, const char *id,
                     const char *actor, struct rd_error *e) RD_WARN_UNUSED;
int holds_pin_list(struct app *app, enum holds_pin kind, const char *tenant, const char *actor,
                   json_t **out, struct rd_error *e) RD_WARN_UNUSED;

/* Is the conversation held, directly or through a held subject linked to
 * it? On the caller's transaction (a purge batch, an erasure), which keeps
 * the check prepared for its other rows. */
enum rd_err holds_conversation_held(struct store_tx *tx, const char *tenant,
                                    const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *held)
	RD_WARN_UNUSED;
/* *n gets the number of holds of every tenant (stats). */
enum rd_err holds_count(struct store_tx *tx, int64_t *n) RD_WARN_UNUSED;

#endif
