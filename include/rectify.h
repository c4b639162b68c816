/*
 * rectify.h — rectification of a stored message (GDPR Art. 16; issue 17):
 * PATCH /v1/messages/{id}.
 *
 * The body {"text"?, "metadata"?} replaces the message's text and/or its
 * whole metadata object; what it gives is redacted again with the current
 * engine (ingest_redact_patch), what it leaves out is kept as stored. The
 * row is re-sealed under its own data key and associated data and
 * rewritten in place, in one transaction with: the held check (a record
 * under a legal hold is evidence and is not rewritten: RD_E_FORBIDDEN),
 * the subject links the new text adds (links only grow: a link the old
 * text made stays until the conversation is erased), an erasure journal
 * entry for the record (a restore copies the rectified row over the
 * backup's old one) and an audit entry `rectify` (target record:ID).
 * The old text is kept nowhere: secure_delete zeroes the replaced cells,
 * and the checkpoint after it (retention_after_delete) takes them out of
 * the WAL, as an erasure does.
 */
#ifndef REDACTD_RECTIFY_H
#define REDACTD_RECTIFY_H

#include "app.h"

#include <jansson.h>

/* Rectify record_id of tenant as actor from body. 0 with *reply
 * {"id", "findings": {ENTITY: n}, "residue": "none" | "pending"} (caller
 * decrefs); -1 with e: 404 unknown id (or its data key destroyed), 4xx
 * for a bad body, 403 under a legal hold, 5xx. */
int rectify_message(struct app *app, struct app_snap *snap, const char *tenant,
                    const char *record_id, const char *body, size_t len, const char *actor,
                    json_t **reply, struct rd_error *e) RD_WARN_UNUSED;

#endif
