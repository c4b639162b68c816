/*
 * ingest.h — from a request body to committed records, and back.
 *
 * A body is parsed once (jansson), every message validated, text and string
 * metadata redacted, each field sealed under its row's associated data, and
 * the batch handed to the store, which answers only after COMMIT. A batch is
 * all-or-nothing: one bad message rejects it whole and nothing is stored.
 */
#ifndef REDACTD_INGEST_H
#define REDACTD_INGEST_H

#include "app.h"
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
};

/*
 * Ingest in two halves, so the caller can wait for the group commit without
 * holding a thread (the HTTP layer suspends the connection meanwhile):
 * ingest_prepare parses the body once, validates every message, redacts and
 * seals into a batch (-1 with e set: 4xx for the client's fault, 500);
 * hand ingest_batch_records to store_submit_async; then ingest_batch_reply
 * turns the store's status into the 201 body (appended to *reply as JSON
 * text) or an error (503 busy, 500). A bad message fails the whole batch
 * before anything reaches the store.
 */
struct ingest_batch;
int ingest_prepare(struct app *app, struct app_snap *snap, const struct ingest_options *opt,
                   const char *body, size_t len, struct ingest_batch **out, struct rd_error *e)
	RD_WARN_UNUSED;
int ingest_prepare_json(struct app *app, struct app_snap *snap, const struct ingest_options *opt,
                        json_t *root, struct ingest_batch **out, struct rd_error *e) RD_WARN_UNUSED;
const struct store_record *ingest_batch_records(const struct ingest_batch *b, size_t *n);
int ingest_batch_reply(struct app *app, struct ingest_batch *b, int store_status, struct buf *reply,
                       struct rd_error *e) RD_WARN_UNUSED;
void ingest_batch_free(struct ingest_batch *b);   /* NULL is a no-op */

/* Validate a parsed body without redacting or storing (fuzzing, dry runs). */
int ingest_validate(const struct config *cfg, const struct ingest_options *opt, json_t *root,
                    struct rd_error *e) RD_WARN_UNUSED;

/* POST /v1/redact: {"text", "channel", "tenant"} -> {"redacted", "findings"}. */
int ingest_redact_only(const struct app_snap *snap, const char *default_tenant, const char *body, size_t len,
                       json_t **reply, struct rd_error *e) RD_WARN_UNUSED;

/* The redact-only reply object for one text (shared by the CLI). */
json_t *ingest_redact_reply(const struct redact_result *res);

/* Parse a body into JSON with the API's limits (depth, UTF-8). */
json_t *ingest_parse_body(const char *body, size_t len, struct rd_error *e);

#endif
