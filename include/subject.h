/*
 * subject.h — data-subject requests (export, erasure), and holds placed
 * on what a subject query names.
 *
 * A subject is found without storing who they are: the query (an email or
 * phone number) is normalised and hashed exactly as redaction hashed the
 * identifiers it removed (redact_subject_hash), the subjects table maps that
 * hash to the conversations where it appeared, and export and erasure cover
 * those conversations whole, every turn. A conversation is addressed by the
 * keyed hash of its id (crypto_conversation_hash).
 *
 * Held conversations (holds.h) are kept by erasure; subject_hold_add
 * resolves a query to the hash a hold pins and hands it to holds_add.
 *
 * Every call appends its audit entry in the same transaction as its effect
 * (export: right after reading, before anything is returned), with the actor
 * given and a keyed-hash target. Each call reads the engine and keys from
 * the snapshot current when it needs them (app_snap_acquire).
 */
#ifndef REDACTD_SUBJECT_H
#define REDACTD_SUBJECT_H

#include "app.h"
#include "holds.h"
#include "util.h"

#include <jansson.h>

enum subject_query_kind { SQ_EMAIL = 0, SQ_PHONE, SQ_CONVERSATION };

struct subject_query {
	enum subject_query_kind kind;
	const char *tenant;     /* valid tenant name */
	const char *value;      /* the email, phone number or conversation id */
};

const char *subject_kind_name(enum subject_query_kind k);

/*
 * Export every turn of every conversation linked to q, opened and redacted:
 * {"tenant", "records": N, "conversations": [{"conversation_id",
 * "messages": [...]}], "unreadable": M (rows whose data key was destroyed)}.
 * 0 with *out (caller decrefs), or -1 with e (400 bad query, 500).
 */
int subject_export(struct app *app, const struct subject_query *q, const char *actor, json_t **out,
                   struct rd_error *e) RD_WARN_UNUSED;

/* The export as CSV (RFC 4180, header row, every field quoted):
 * conversation_id,id,ts,role,channel,category,text,metadata,findings. */
int subject_export_csv(const json_t *export, struct buf *out) RD_WARN_UNUSED;

struct subject_erase_result {
	int64_t removed;               /* records deleted */
	int64_t kept;                  /* records kept because they are held */
	int64_t conversations;         /* conversations erased */
	int64_t held_conversations;    /* conversations kept (legal hold) */
	bool residue_pending;          /* the erased rows are still in the files */
};

/* Erase every conversation linked to q except held ones, in one
 * transaction with its audit entries and the residue mark; then destroys
 * data keys left with no records and retries the checkpoint that takes the
 * erased rows out of the files (retention_after_delete): residue_pending
 * when a reader's old snapshot still holds it back. 0, or -1 with e. */
int subject_erase(struct app *app, const struct subject_query *q, const char *actor,
                  struct subject_erase_result *out, struct rd_error *e) RD_WARN_UNUSED;

/* The erase reply object {"removed", "kept", "conversations",
 * "held_conversations", "residue": "none" | "pending", "kept_reason"?}. */
json_t *subject_erase_json(const struct subject_erase_result *r);

/* Place a hold (holds_add) on q's conversation or subject; id gets
 * "h_..." (201). -1 with e (400 bad query, 422 no reason, 500/503). */
int subject_hold_add(struct app *app, const struct subject_query *q, const char *reason,
                     const char *actor, char id[HOLDS_ID_LEN + 1], struct rd_error *e)
	RD_WARN_UNUSED;

/* The same for either kind of pin: a hold or a restriction (holds.h). */
int subject_pin_add(struct app *app, enum holds_pin kind, const struct subject_query *q,
                    const char *reason, const char *actor, char id[HOLDS_ID_LEN + 1],
                    struct rd_error *e) RD_WARN_UNUSED;

#endif
