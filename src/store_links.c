/*
 * store_links.c — the subject links the writer knows the database holds.
 *
 * WHY
 * Every message names its subjects (keyed hashes of the emails and phone
 * numbers in it), and the writer links each to the message's conversation
 * with INSERT OR IGNORE INTO subjects. In a conversation the same subjects
 * come back message after message, so nearly all of those inserts find
 * the row there already, and each still costs a B-tree probe (0.7 us here;
 * 10 % of the writer's time per message in the benchmark). This cache
 * remembers links known to be stored, so the writer skips those inserts.
 *
 * INVARIANTS
 *   - A link is noted only when an insert found it already there: it was
 *     committed by an earlier transaction, or inserted by an earlier job of
 *     this one that was released.
 *   - Everything is forgotten whenever that may no longer hold: after an
 *     exec job (erasure and purges delete links), after a job or the whole
 *     transaction was rolled back, and when PRAGMA data_version shows that
 *     another connection committed (a CLI erasure, say).
 *   - Slots are direct-mapped on the hashes (uniform, being keyed) and the
 *     whole key is compared: a collision costs an insert, never a link.
 */
#include "store_int.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int store_links_start(struct store *st, char *err, size_t errlen)
{
	st->links = calloc(STORE_LINK_SLOTS, sizeof *st->links);
	if (!st->links ||
	    sqlite3_prepare_v3(st->wdb, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT,
	                       &st->data_version, NULL) != SQLITE_OK) {
		util_err(err, errlen, "cannot prepare the subject link cache: %s",
		         sqlite3_errmsg(st->wdb));
		return -1;
	}
	st->links_version = -1;
	return 0;
}

void store_links_stop(struct store *st)
{
	if (st->links) {
		sodium_memzero(st->links, STORE_LINK_SLOTS * sizeof *st->links);
		free(st->links);
		st->links = NULL;
	}
	sqlite3_finalize(st->data_version);
	st->data_version = NULL;
}

void store_links_forget(struct store *st)
{
	if (st->links)
		memset(st->links, 0, STORE_LINK_SLOTS * sizeof *st->links);
}

/* At the start of each transaction. A version that cannot be read
 * forgets the cache, as a changed one does. */
void store_links_check_version(struct store *st)
{
	int64_t v = -1;
	if (sqlite3_step(st->data_version) == SQLITE_ROW)
		v = sqlite3_column_int64(st->data_version, 0);
	sqlite3_reset(st->data_version);
	if (v < 0 || v != st->links_version)
		store_links_forget(st);
	st->links_version = v;
}

static struct store_link *slot_for(struct store *st, const unsigned char *subject,
                                   const unsigned char *conv)
{
	uint32_t a, b;
	memcpy(&a, subject, sizeof a);
	memcpy(&b, conv, sizeof b);
	return &st->links[(a ^ b) % STORE_LINK_SLOTS];
}

bool store_links_known(struct store *st, const unsigned char *subject, const char *tenant,
                       const unsigned char *conv)
{
	if (!st->links)
		return false;
	const struct store_link *l = slot_for(st, subject, conv);
	return l->tenant[0] && strcmp(l->tenant, tenant) == 0 &&
	       memcmp(l->subject, subject, CRYPTO_HASH_BYTES) == 0 &&
	       memcmp(l->conv, conv, CRYPTO_HASH_BYTES) == 0;
}

void store_links_note(struct store *st, const unsigned char *subject, const char *tenant,
                      const unsigned char *conv)
{
	size_t tlen = strlen(tenant);
	if (!st->links || tlen == 0 || tlen > RD_MAX_NAME_LEN)
		return;
	struct store_link *l = slot_for(st, subject, conv);
	memcpy(l->subject, subject, CRYPTO_HASH_BYTES);
	memcpy(l->conv, conv, CRYPTO_HASH_BYTES);
	memcpy(l->tenant, tenant, tlen + 1);
}
