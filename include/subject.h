/*
 * subject.h — data-subject requests (export, erasure) and legal holds.
 *
 * A subject is found without storing who they are: the query (an email or
 * phone number) is normalised and hashed exactly as redaction hashed the
 * identifiers it removed (redact_subject_hash), the subjects table maps that
 * hash to the conversations where it appeared, and export and erasure cover
 * those conversations whole, every turn. A conversation is addressed by the
 * keyed hash of its id (crypto_conversation_hash).
 *
 * Holds pin a conversation, or every conversation of a subject: held
 * records survive sweeps and erasure until the hold is removed. A hold
 * stores only the keyed hash of its target; the identifier and the reason
 * (which may name people) are sealed with a key derived from the master key.
 *
 * Every call appends its audit entry in the same transaction as its effect
 * (export: right after reading, before anything is returned), with the actor
 * given and a keyed-hash target. Each call reads the engine and keys from
 * the snapshot current when it needs them (app_snap_acquire).
 */
#ifndef REDACTD_SUBJECT_H
#define REDACTD_SUBJECT_H

#include "app.h"
#include "util.h"

#include <jansson.h>

enum subject_query_kind { SQ_EMAIL = 0, SQ_PHONE, SQ_CONVERSATION };

struct subject_query {
	enum subject_query_kind kind;
	const char *tenant;     /* valid tenant name */
	const char *value;      /* the email, phone number or conversation id */
};

#define SUBJECT_HOLD_ID_LEN   18        /* "h_" + 16 hex digits */
#define SUBJECT_REASON_MAX    1000      /* bytes */

/*
 * SQL condition: the conversation whose hash is the expression `c` in
 * tenant ?1 is held, directly or through a held subject linked to it.
 * Statements using it bind the tenant as parameter 1.
 */
#define SUBJECT_HELD_SQL(c)                                                        \
	"(EXISTS (SELECT 1 FROM holds h WHERE h.tenant = ?1 AND h.kind = 'conversation'" \
	" AND h.target_hash = " c ") OR EXISTS (SELECT 1 FROM holds h WHERE"             \
	" h.tenant = ?1 AND h.kind = 'subject' AND EXISTS (SELECT 1 FROM subjects s"     \
	" WHERE s.subject_hash = h.target_hash AND s.tenant = ?1 AND s.conv_hash = " c ")))"

const char *subject_kind_name(enum subject_query_kind k);

/* Is the conversation held (directly, or through a held subject linked to
 * it)? Runs on the caller's connection, inside its transaction when there
 * is one. 0, or -1 on a database error. */
struct sqlite3;
int subject_conversation_held(struct sqlite3 *db, const char *tenant,
                              const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *held)
	RD_WARN_UNUSED;
/* The same, keeping the statement in *stmt between calls on one
 * connection (prepared on first use; the caller finalizes it). */
struct sqlite3_stmt;
int subject_conversation_held_cached(struct sqlite3 *db, struct sqlite3_stmt **stmt,
                                     const char *tenant,
                                     const unsigned char conv_hash[CRYPTO_HASH_BYTES], bool *held)
	RD_WARN_UNUSED;

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

/* Place a hold on q's conversation or subject; id gets "h_..." (201). */
int subject_hold_add(struct app *app, const struct subject_query *q, const char *reason,
                     const char *actor, char id[SUBJECT_HOLD_ID_LEN + 1], struct rd_error *e)
	RD_WARN_UNUSED;
/* Remove hold id; tenant NULL matches any tenant. 404 when not found. */
int subject_hold_remove(struct app *app, const char *tenant, const char *id, const char *actor,
                        struct rd_error *e) RD_WARN_UNUSED;
/* {"holds": [{"id", "tenant", "kind", "type", "value", "reason", "created",
 * "actor"}]}; tenant NULL lists every tenant. Opening the sealed reasons is
 * a read of stored content and is audited. */
int subject_hold_list(struct app *app, const char *tenant, const char *actor, json_t **out,
                      struct rd_error *e) RD_WARN_UNUSED;

#endif
