/*
 * consent.h — recording and transcription consent, and messaging opt-out
 * (issue 17, SPEC 9).
 *
 * A consent record says that, for one tenant, a subject (an email or
 * phone number) or a conversation gave, declined or withdrew consent of
 * some kind (call_recording, transcription, marketing, messaging, ...),
 * when, how (an enum method: ivr, checkbox, agent, keyword, ...) and on
 * whose report (the token or source name, "cli"). Targets are stored only
 * as keyed hashes, computed as redaction and messages compute them, so a
 * record holds nothing personal in clear. Records are an append-only
 * history (the store refuses updates); the current state of a target for
 * a kind is its newest record. Every record is appended with its audit
 * entry in one transaction.
 *
 * What consent decides:
 *   - Voice transcripts. The newest decision of kind transcription or
 *     call_recording (CONSENT_VOICE_KINDS) about the message's
 *     conversation, its sender, or any subject found in its text decides:
 *     `given` lets it be stored; `declined` or `withdrawn` refuses it
 *     (RD_E_CONSENT_REQUIRED, 403) or keeps it as metadata only
 *     (voice_without_consent = metadata); no decision at all refuses it
 *     only where voice_requires_consent = yes. Where it is no, the store
 *     is read only once a declined or withdrawn voice decision is known to
 *     exist (app->consent_refusals; looked for once a second until then).
 *   - Withdrawal. With consent_withdrawal = erase, a withdrawal of a voice
 *     kind erases, in its own transaction, every conversation of its
 *     target (the conversation, or every conversation the subject is
 *     linked to) except those under a legal hold, audited as
 *     consent.erase (and erase.held for what a hold kept).
 *   - Opt-out. An SMS or WhatsApp message from a sender whose whole text
 *     is one opt-out keyword (consent_keyword) records kind `messaging`,
 *     state withdrawn (STOP...) or given (START...), method `keyword`,
 *     against the sender; consent_optout answers a bot's question.
 *
 * Calls that take an app read the config, engine and keys of the snapshot
 * current when they run (app_snap_acquire), or of the one given.
 */
#ifndef REDACTD_CONSENT_H
#define REDACTD_CONSENT_H

#include "app.h"

#include <jansson.h>

#define CONSENT_KIND_MAX 32      /* bytes of a kind: a-z 0-9 _ */

enum consent_state { CONSENT_GIVEN = 0, CONSENT_DECLINED, CONSENT_WITHDRAWN, CONSENT_STATES };

/* [channels] voice_without_consent and consent_withdrawal values. */
enum { CONSENT_REFUSE = 0, CONSENT_METADATA = 1 };
enum { CONSENT_KEEP = 0, CONSENT_ERASE = 1 };

/* The kinds whose newest decision governs voice transcripts. */
#define CONSENT_VOICE_KINDS { "transcription", "call_recording" }
#define CONSENT_KIND_MESSAGING "messaging"

const char *consent_state_name(enum consent_state s);

/* One decision, validated. Strings borrowed from the caller. */
struct consent_in {
	const char *kind;
	enum consent_state state;
	const char *method;         /* one of consent_methods */
	int64_t ts_ms;              /* when it was given; 0: when recorded */
};

/* Checks the parts of a decision: kind 1..CONSENT_KIND_MAX of a-z 0-9 _,
 * state given | declined | withdrawn, method one of the documented words
 * (NULL: "api"), ts RFC 3339 or epoch seconds (NULL: now). `where` prefixes
 * the message ("messages[2].consent"). 0, or -1 with e (422). */
int consent_in_parse(const char *kind, const char *state, const char *method, const char *ts,
                     const char *where, struct consent_in *out, struct rd_error *e) RD_WARN_UNUSED;
/* The same from a JSON object {"kind", "state", "method"?, "ts"?} (strings;
 * ts may be a number of epoch seconds); out borrows from o. */
int consent_in_json(json_t *o, const char *where, struct consent_in *out, struct rd_error *e)
	RD_WARN_UNUSED;

/* The policy in force for tenant: [channels] with [tenant "NAME"]'s
 * overrides. */
struct consent_policy {
	bool voice_requires;        /* voice_requires_consent */
	bool metadata_only;         /* voice_without_consent = metadata */
	bool erase_on_withdrawal;   /* consent_withdrawal = erase */
};
void consent_policy_of(const struct config *cfg, const char *tenant, struct consent_policy *out);

/* Whom a record or query is about: an email, a phone number or a
 * conversation id of one (valid) tenant. */
enum consent_target_kind { CONSENT_EMAIL = 0, CONSENT_PHONE, CONSENT_CONVERSATION };
struct consent_target {
	enum consent_target_kind kind;
	const char *tenant;
	const char *value;
};

/* What recording a decision did. */
struct consent_result {
	int64_t id;                 /* the new record's id (0: none was needed) */
	int64_t removed, kept;      /* withdrawal erasure: records erased, kept by a hold */
};

/* Append a decision about t, reported by source (a token name, "cli"),
 * with its audit entry (consent.add, target the keyed hash); a voice-kind
 * withdrawal under consent_withdrawal = erase also erases (see above).
 * 0, or -1 with e (400 a target that is not an email or phone, 503/500). */
int consent_add(struct app *app, const struct consent_target *t, const struct consent_in *c,
                const char *source, struct consent_result *out, struct rd_error *e) RD_WARN_UNUSED;

/* {"tenant", "consents": [{"id", "scope", "kind", "state", "method",
 * "source", "ts", "recorded"}], "current": {KIND: STATE}}: t's history,
 * oldest first; the read is audited (consent.list). 0 with *out (caller
 * decrefs), or -1 with e. */
int consent_list(struct app *app, const struct consent_target *t, const char *actor, json_t **out,
                 struct rd_error *e) RD_WARN_UNUSED;

/* Has the subject opted out of messaging? *since_ms gets the time of the
 * decision in force (0 when there is none). 0, or -1 with e (400). Not
 * audited: a bot asks before each send, and the answer is one bit. */
int consent_optout(struct app *app, const struct consent_target *t, bool *opted_out,
                   int64_t *since_ms, struct rd_error *e) RD_WARN_UNUSED;

/* Is text, trimmed and in any case, exactly one opt-out keyword (+1:
 * STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, ARRET, ALTO, BAJA, ...)
 * or opt-in keyword (-1: START, UNSTOP, ...)? 0 when it is not. */
int consent_keyword(const char *text, size_t len);

/* ---- for ingest (one message at a time, before its batch is sealed) ---- */

/* A decision carried by a message ("consent" field, a webhook parameter):
 * recorded against its conversation and, when sender (a phone number, read
 * in region when written nationally; NULL: none) is given, against the
 * sender too, reported by source. A decision equal to
 * the target's newest of that kind is not recorded again (a CX session
 * parameter comes back on every turn). 0, or -1 with e. */
int consent_from_message(struct app *app, struct app_snap *snap, const char *tenant,
                         const char *conv_id, size_t conv_len, const char *sender,
                         const struct phone_region *region, const struct consent_in *c,
                         const char *source, struct rd_error *e) RD_WARN_UNUSED;

/* An SMS/WhatsApp text from sender that is a keyword (consent_keyword):
 * records the opt-out or opt-in against the sender (kind messaging, method
 * keyword), counted in /metrics. *kw gets the keyword's sign (0: the text
 * is not one; nothing recorded). 0, or -1 with e. */
int consent_keyword_message(struct app *app, struct app_snap *snap, const char *tenant,
                            const char *sender, const struct phone_region *region,
                            const char *text, size_t len, const char *source, int *kw,
                            struct rd_error *e) RD_WARN_UNUSED;

/* May a voice transcript of conversation conv, linked to subjects[0..n),
 * be stored? *allowed per the rule above, under pol. 0, or -1 with e. */
int consent_voice_allowed(struct app *app, const struct consent_policy *pol, const char *tenant,
                          const unsigned char conv[CRYPTO_HASH_BYTES],
                          const unsigned char (*subjects)[CRYPTO_HASH_BYTES], size_t n,
                          bool *allowed, struct rd_error *e) RD_WARN_UNUSED;

/* ---- for export and erasure (subject.c), on the caller's transaction ---- */

/* Appends t's records (subject when `subject`, else a conversation) to
 * out as the objects consent_list lists. */
enum rd_err consent_export(struct store_tx *tx, const char *tenant,
                           const unsigned char hash[CRYPTO_HASH_BYTES], json_t *out) RD_WARN_UNUSED;
/* Deletes every record about hash (an erased subject or conversation);
 * *n gets how many. */
enum rd_err consent_erase(struct store_tx *tx, const char *tenant,
                          const unsigned char hash[CRYPTO_HASH_BYTES], int64_t *n) RD_WARN_UNUSED;

#endif
