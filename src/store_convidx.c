/*
 * store_convidx.c — the conversation index, filled in bulk by the writer.
 *
 * WHY
 * Finding a conversation's messages (reads, erasure, purges) needs an index
 * on (tenant, conv_hash). Kept by SQLite on `messages`, it cost every insert
 * a write to a random index page: with many conversations in flight that
 * was one 4 KB WAL frame per message on top of the row itself, and half the
 * writer's rate. So `messages` carries no such index. conv_index (tenant,
 * conv_hash, msg_id) is filled by the writer from the rows with
 * id > conv_index_state.upto, sorted, every CONVIDX_BATCH records or after
 * CONVIDX_IDLE_MS without traffic: a conversation's new entries then land
 * together and dirty its page once per batch, not once per message.
 *
 * INVARIANTS
 *   - Every message with id <= upto has its conv_index row; readers scan
 *     the rows with id > upto (at most about one batch) for the rest
 *     (STORE_CONV_IDS_SQL).
 *   - New messages get ids above both upto and every existing id
 *     (store_convidx_begin), so a row never slips under upto unindexed,
 *     even after the newest messages were deleted.
 *   - A trigger (schema step 3) deletes a message's conv_index row with it.
 * A crash loses nothing: an index batch commits with its upto, or neither.
 */
#include "store_int.h"
#include "log.h"
#include "util.h"

enum { CI_NEXT_ID, CI_PENDING, CI_INSERT, CI_UPTO, CI_COUNT };
_Static_assert(CI_COUNT == CONVIDX_STMTS, "struct store holds one slot per statement");
static const char *const ci_sql[CI_COUNT] = {
	[CI_NEXT_ID] = "SELECT max(coalesce((SELECT upto FROM conv_index_state WHERE id = 1), 0),"
	               " coalesce((SELECT max(id) FROM messages), 0)) + 1",
	[CI_PENDING] = "SELECT count(*) FROM messages"
	               " WHERE id > (SELECT upto FROM conv_index_state WHERE id = 1)",
	[CI_INSERT] = STORE_CONVIDX_FILL_SQL,
	[CI_UPTO] = "UPDATE conv_index_state"
	            " SET upto = max(upto, coalesce((SELECT max(id) FROM messages), 0)) WHERE id = 1",
};

/* Steps one prepared statement to its end; the first column of its last
 * row into *out when given. */
static int ci_run(struct store *st, int which, int64_t *out)
{
	sqlite3_stmt *s = st->ci[which];
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (out)
			*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_convidx_start(struct store *st, char *err, size_t errlen)
{
	int64_t pending = 0;
	for (int i = 0; i < CI_COUNT; i++)
		if (sqlite3_prepare_v3(st->wdb, ci_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->ci[i],
		                       NULL) != SQLITE_OK) {
			util_err(err, errlen, "cannot prepare the conversation index: %s",
			         sqlite3_errmsg(st->wdb));
			return -1;
		}
	if (ci_run(st, CI_PENDING, &pending)) {
		util_err(err, errlen, "cannot read the conversation index: %s", sqlite3_errmsg(st->wdb));
		return -1;
	}
	st->ci_pending = (size_t)pending;
	st->ci_applied_ms = util_now_ms();
	return 0;
}

void store_convidx_stop(struct store *st)
{
	for (int i = 0; i < CI_COUNT; i++) {
		sqlite3_finalize(st->ci[i]);
		st->ci[i] = NULL;
	}
}

int store_convidx_begin(struct store *st)
{
	return ci_run(st, CI_NEXT_ID, &st->next_msg_id);
}

bool store_convidx_due(const struct store *st, bool idle)
{
	if (st->ci_pending >= CONVIDX_BATCH)
		return true;
	return idle && st->ci_pending > 0 && util_now_ms() - st->ci_applied_ms >= CONVIDX_IDLE_MS;
}

/* One transaction of its own: a failure leaves the rows in the tail, where
 * readers still find them, and is retried with the next batch. */
void store_convidx_apply(struct store *st)
{
	sqlite3 *db = st->wdb;
	st->ci_applied_ms = util_now_ms();
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		log_warn("store: conversation index update deferred: %s", sqlite3_errmsg(db));
		return;
	}
	if (ci_run(st, CI_INSERT, NULL) || ci_run(st, CI_UPTO, NULL) ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_warn("store: conversation index update deferred: %s", sqlite3_errmsg(db));
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return;
	}
	st->ci_pending = 0;
}
