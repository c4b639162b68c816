/*
 * store_rectify.h — one stored message by its record id, and rewriting
 * its sealed fields in place (rectification, issue 17; rectify.c decides
 * what is written). Rows of the store's own messages table.
 */
#ifndef REDACTD_STORE_RECTIFY_H
#define REDACTD_STORE_RECTIFY_H

#include "store.h"

/* fn gets the row of record_id in tenant (fields still sealed; valid
 * during the call). RD_E_NOT_FOUND when there is none, RD_E_STORAGE, or
 * fn's value. Any tx. */
enum rd_err store_message_get(struct store_tx *tx, const char *tenant, const char *record_id,
                              store_row_fn fn, void *ctx) RD_WARN_UNUSED;

/* A rewrite of one row: the row as read (rowid, record id, key id must
 * still match) and its new sealed text and document, entity counts and
 * subject links to add (links only grow). Buffers borrowed. */
struct store_rewrite {
	int64_t rowid;
	const char *record_id, *tenant;
	const unsigned char *conv_hash;
	int64_t key_id;
	const unsigned char *text_ct; size_t text_ct_len;
	const unsigned char *meta_ct; size_t meta_ct_len;
	const char *entity_counts;
	const unsigned char (*subjects)[CRYPTO_HASH_BYTES];
	size_t nsubjects;
};

/* Replace the row's text, document and counts in place and add the links
 * (write transaction; secure_delete zeroes what the old cells held; mark
 * the residue with store_residue_mark). *found is false, and nothing is
 * written, when the row is no longer as read. */
enum rd_err store_message_rewrite(struct store_tx *tx, const struct store_rewrite *w, bool *found)
	RD_WARN_UNUSED;

#endif
