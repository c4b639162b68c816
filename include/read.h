/*
 * read.h — stored messages back out: one conversation (GET
 * /v1/conversations/{id}) and single rows for the subject export.
 *
 * Rows come from the store still sealed; each field is opened under its
 * row's associated data (record.h). A row that does not authenticate is
 * reported (logged by record id, never skipped silently); a row whose data
 * key was destroyed (crypto-shredded) is counted apart, as gone.
 */
#ifndef REDACTD_READ_H
#define REDACTD_READ_H

#include "app.h"
#include "util.h"

#include <jansson.h>

/* A page ends once its JSON text passes this (so it holds this much and
 * one message more at most), and a whole transcript that passes it is
 * refused (RD_E_REPLY_TOO_LARGE) rather than built in memory. */
#define READ_REPLY_MAX (8 << 20)

/* Which part of a transcript (GET /v1/conversations/{id}?limit=&after=). */
struct read_page {
	size_t limit;        /* 0: the whole transcript; else at most this many messages */
	const char *after;   /* NULL, or the record id the page starts after */
};

/* The opened transcript {"conversation_id", "messages": [...]} of
 * conversation_id in tenant (page: NULL for all of it), as JSON text in
 * *reply (which the caller frees with buf_free: it wipes), once its read
 * by actor (a token's name) is in the audit log: content is not released
 * unless its read is on record. A page that more stored rows follow ends
 * with "next": the last message's id, for the next page's `after` (the
 * next page may be empty when those rows' keys were destroyed). The rows
 * before `after` are not read. -1
 * with e: RD_E_NOT_FOUND when nothing of it is left to read or `after` is
 * not one of its messages, RD_E_REPLY_TOO_LARGE when the whole transcript
 * is over READ_REPLY_MAX, RD_E_INTEGRITY when a row fails to authenticate,
 * RD_E_AUDIT (or RD_E_STORAGE_FULL, RD_E_STORAGE_FAILED) when the read
 * cannot be recorded, RD_E_STORAGE, RD_E_INTERNAL. */
int read_conversation(struct app *app, const struct app_snap *snap, const char *tenant,
                      const char *conversation_id, const struct read_page *page, const char *actor,
                      struct buf *reply, struct rd_error *e) RD_WARN_UNUSED;

/* One opened message (its text and metadata document) as the API's object
 * {"id", "ts", "role", "channel", "category", "text", "metadata",
 * "findings"}: a tree (read_open_row, the export), or NULL when text is not
 * valid UTF-8 or out of memory. */
json_t *read_row_json(const struct store_row *row, const char *text, const char *meta);

/* The same as JSON text appended to b: the bytes json_dumps (JSON_COMPACT)
 * prints for read_row_json's tree, built without one (a read's CPU time
 * halved). 0, or -1 when text is not valid UTF-8 or out of memory. */
int read_row_text(struct buf *b, const struct store_row *row, const char *text, const char *meta)
	RD_WARN_UNUSED;

/*
 * Open one stored row (from a store_conversation callback) into its API
 * object {"id", "ts", "role", "channel", "category", "text", "metadata",
 * "findings"}, plus "conversation_id" when with_conversation. Returns 0 and
 * *out (caller decrefs); 1 when its data key was destroyed (crypto-shredded);
 * -1 when it does not authenticate (logged by record id) or out of memory.
 */
int read_open_row(struct app *app, const struct app_snap *snap, const struct store_row *row,
                  bool with_conversation, json_t **out) RD_WARN_UNUSED;

#endif
