/*
 * ingest.h — from a request body to committed records (the read path is
 * read.h).
 *
 * A body is parsed once (jansson), every message validated, text and string
 * metadata redacted, each field sealed under its row's associated data
 * (record.h), and the batch handed to the store, which answers only after
 * COMMIT. A batch is all-or-nothing: one bad message rejects it whole and
 * nothing is stored. Everything a request reads of the config and engine
 * comes from the one snapshot it was given (app.h).
 */
#ifndef REDACTD_INGEST_H
#define REDACTD_INGEST_H

#include "app.h"
#include "phone_region.h"
#include "util.h"

#include <jansson.h>

struct ingest_options {
	const char *default_tenant;    /* token's tenant, or NULL for "default" */
	bool return_redacted;          /* ?return=redacted */
	enum rd_channel channel;       /* default channel when a message has none */
	/* Webhook senders: hashed as a subject on every message of the batch. */
	const char *sender;            /* NULL when there is none */
	/* Per message (index i of the batch), overriding sender when non-NULL:
	 * one WhatsApp notification may carry several senders. */
	const char *const *senders;
	/* The webhook source (config section name) a batch came from, and per
	 * message (index i; NULL or "" for none) the provider's own message id
	 * (MessageSid, wamid, CX response id, webhook-id). The pair is kept as a
	 * keyed hash beside the record, so a retried delivery is answered with
	 * success and not stored again. */
	const char *source;
	const char *const *provider_ids;
	bool sender_e164;              /* senders are E.164 digits without '+' (WhatsApp wa_id) */
	/* A webhook source's [source] region; NULL: the tenant's ([tenant] region). */
	const struct phone_region *region;
	/* Who reports the consent decisions and opt-out keywords the batch
	 * carries (consent.h): the token's or the source's name; NULL: "ingest". */
	const char *actor;
};

/*
 * One ingest request (POST /v1/messages, a webhook) from its body to its
 * committed records. ingest_messages parses the body once, validates every
 * message, redacts text and string metadata, seals each field under its
 * row's associated data, builds the reply, and hands the records to the
 * store's group commit. A bad message fails the whole batch before anything
 * reaches the store.
 *
 * The caller waits without holding a thread. Returns -1 with e set (4xx for
 * the client's fault, 500) when the request is refused before the store
 * sees it: then neither callback runs. Returns 0 once the records are
 * handed over: sink->submitting ran just before (the HTTP layer suspends
 * the connection there), and sink->done runs exactly once when the commit
 * is durable or has failed, on the store's writer thread, possibly before
 * ingest_messages returns. done receives the job and its ownership; it
 * should only take note and wake whoever answers, who then calls
 * ingest_job_reply and ingest_job_free on their own thread.
 *
 * The job holds a reference to snap until it is freed, so a SIGHUP while
 * it waits for its commit frees nothing it uses.
 */
struct ingest_job;

struct ingest_sink {
	void (*submitting)(void *arg);                  /* may be NULL */
	void (*done)(void *arg, struct ingest_job *job);
	void *arg;
};

int ingest_messages(struct app *app, struct app_snap *snap, const struct ingest_options *opt,
                    const char *body, size_t len, const struct ingest_sink *sink,
                    struct rd_error *e) RD_WARN_UNUSED;
/* The same for a body already parsed (webhooks map their payloads onto
 * {"messages": [...]}); root stays the caller's. */
int ingest_messages_json(struct app *app, struct app_snap *snap, const struct ingest_options *opt,
                         json_t *root, const struct ingest_sink *sink, struct rd_error *e)
	RD_WARN_UNUSED;

/* What a committed job answers. Borrowed from the job. */
struct ingest_reply {
	const char *body;              /* {"ids":[...],"findings":{...}[,"redacted":[...]]} */
	size_t len;
	const char *first_id;          /* the first record id, and how many: for a log line */
	size_t count;
	size_t replayed;               /* of them, replays of provider messages already stored */
};

/* After done: 0 when the records are committed, with *out (valid until
 * ingest_job_free), counting the findings in /metrics; -1 with e when the
 * store refused them (503 busy, shutting down or disk full, 500). Call once.
 * Replays (messages whose provider id the store already held: nothing was
 * stored for them) are left out of the body's ids, which then says
 * "replayed": N, and counted in /metrics by source. */
int ingest_job_reply(struct ingest_job *job, struct ingest_reply *out, struct rd_error *e)
	RD_WARN_UNUSED;
void ingest_job_free(struct ingest_job *job);   /* NULL is a no-op; releases the snapshot */

/* Validate a parsed body without redacting or storing (fuzzing, dry runs). */
int ingest_validate(const struct config *cfg, const struct ingest_options *opt, json_t *root,
                    struct rd_error *e) RD_WARN_UNUSED;

/* POST /v1/redact: {"text", "channel", "tenant"} -> {"redacted", "findings"}. */
int ingest_redact_only(const struct app_snap *snap, const char *default_tenant, const char *body,
                       size_t len, json_t **reply, struct rd_error *e) RD_WARN_UNUSED;

/*
 * Rectification (rectify.h): a PATCH body {"text"?, "metadata"?} (at least
 * one, nothing else, the same rules as a message's fields), validated and
 * redacted with snap's engine for tenant and channel. Only what the body
 * gives is set: text (redacted, caller wipes via ingest_patch_free),
 * metadata (redacted object) and, for those, findings (the array sealed in
 * a record's document, each with its "field") and the subject hashes seen.
 * 0, or -1 with e (4xx for a bad body, 500).
 */
struct ingest_patch {
	char *text;                  /* NULL: the body gave none */
	size_t text_len;
	json_t *metadata;            /* NULL: the body gave none */
	json_t *findings;            /* of the parts given */
	unsigned char (*subjects)[CRYPTO_HASH_BYTES];
	size_t nsubjects;
};
int ingest_redact_patch(const struct app_snap *snap, const char *tenant, enum rd_channel channel,
                        json_t *root, struct ingest_patch *out, struct rd_error *e) RD_WARN_UNUSED;
void ingest_patch_free(struct ingest_patch *p);   /* wipes the text; a zeroed patch is a no-op */

/* Parse a body into JSON with the API's limits (depth, UTF-8). */
json_t *ingest_parse_body(const char *body, size_t len, struct rd_error *e);

#endif
