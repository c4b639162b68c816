/*
 * store_replay.h — the replay register (table replay_ids): which provider
 * messages are already stored, so that a provider's retried delivery is
 * answered with success and not stored again (issue 18).
 *
 * A row is the keyed hash of (tenant, source, provider message id) that
 * ingest computes (never the id itself) and the messages row it came with.
 * The writer claims the hash in the same savepoint as it inserts the
 * message: a second delivery, whether it arrives later or while the first
 * one waits for its commit, finds the row and stores nothing. A trigger
 * deletes the row with its message (retention purge, erasure), so the
 * register never outlives the records it protects.
 */
#ifndef REDACTD_STORE_REPLAY_H
#define REDACTD_STORE_REPLAY_H

#include "store.h"

/* How many provider message ids the register holds (tests, operators). */
enum rd_err store_replay_count(struct store_tx *tx, int64_t *out) RD_WARN_UNUSED;

#endif
