/*
 * forward.h — tap mode (issue 18): a webhook source with forward_to is
 * passed on to the bot behind redactd, and the bot's answer goes back to
 * the provider unchanged.
 *
 * The outbound side is libcurl's multi interface on one thread of its own
 * (struct forward): handlers hand it a call and return; the thread runs
 * every transfer at once, keeps connections to the bot open between calls,
 * and runs the call's `done` when it ends. What the turns of a tapped
 * conversation leave in the store goes through ingest asynchronously
 * (forward_log): the provider's answer never waits for a commit, and a
 * failed write is counted and logged, never turned into a provider error.
 *
 * The connection side (suspending and resuming the provider's request,
 * relaying the answer) is http_forward.c; this module has no connection,
 * so its parsers are unit-tested directly (tests/unit/test_forward.c).
 */
#ifndef REDACTD_FORWARD_H
#define REDACTD_FORWARD_H

#include "app.h"
#include "util.h"

#include <jansson.h>

struct ingest_options;
struct metrics;
struct source_conf;

#define FORWARD_MAX_REPLY (1u << 20)   /* bytes of a bot's answer; more is a 502 */
#define FORWARD_MAX_HEADERS 64         /* header lines passed on, each way */

/* Which provider a source speaks for: how its bot answers. */
enum forward_kind { FORWARD_TWILIO, FORWARD_WHATSAPP, FORWARD_CX };

/* How a forward ended. Only FORWARD_OK has an answer to relay. */
enum forward_outcome {
	FORWARD_OK,            /* the bot answered (any status) */
	FORWARD_OVERLOADED,    /* forward_max_inflight calls already running: not sent */
	FORWARD_UNREACHABLE,   /* no connection (after the retries), or TLS refused */
	FORWARD_TIMEOUT,       /* forward_timeout passed: the bot may have acted */
	FORWARD_FAILED,        /* any other transfer failure, or an answer over FORWARD_MAX_REPLY */
	FORWARD_SHUTDOWN,      /* the daemon stopped before the bot answered */
};

/* A finished call's answer, borrowed from the call. */
struct forward_result {
	enum forward_outcome outcome;
	long status;                   /* the bot's HTTP status (FORWARD_OK) */
	const char *content_type;      /* its Content-Type, or NULL */
	const char *body;              /* NUL-terminated; may hold NULs before len */
	size_t len;
	const char *const *headers;    /* "Name: value" lines to relay, n_headers of them */
	size_t n_headers;
	char detail[128];              /* what went wrong, for the log (no request data) */
};

struct forward;
struct forward_call;
typedef void (*forward_done_fn)(void *arg);

/* Starts the forward thread. -1 with err on failure. */
int forward_new(struct app *app, struct forward **out, char *err, size_t errlen) RD_WARN_UNUSED;
/* Shutdown, first half: ends the thread; calls still running end as
 * FORWARD_SHUTDOWN (their done runs before this returns). NULL is a no-op. */
void forward_stop(struct forward *f);
/* Second half, once no handler can call forward_log any more: waits for
 * the writes forward_log started (they are counted when they end), frees.
 * Stops first if forward_stop was not called. NULL is a no-op. */
void forward_free(struct forward *f);

/* The kind of source `name` is ("twilio", "whatsapp", "dialogflow-cx"). */
enum forward_kind forward_kind_of(const char *name);

/*
 * A POST of body to src->forward_to with src's timeout, retries and TLS
 * settings (copied: the call outlives the request's snapshot). The body is
 * copied. NULL when out of memory or the CA file spec cannot be resolved.
 */
struct forward_call *forward_call_new(const struct source_conf *src, const void *body, size_t len);
/* Adds a request header (copied). -1 when out of memory or over
 * FORWARD_MAX_HEADERS, or when name or value holds CR, LF or NUL. */
int forward_call_header(struct forward_call *c, const char *name, const char *value) RD_WARN_UNUSED;
/*
 * Hands c to the forward thread (f keeps it until done has run; the caller
 * frees it afterwards with forward_call_free). done(arg) runs exactly once,
 * on the forward thread when the transfer ends, or before this returns when
 * src's forward_max_inflight calls are already running (FORWARD_OVERLOADED)
 * or the thread has stopped (FORWARD_SHUTDOWN). done should only take note
 * and wake whoever answers.
 */
void forward_submit(struct forward *f, struct forward_call *c, forward_done_fn done, void *arg);
/* After done: the outcome and the bot's answer. */
const struct forward_result *forward_call_result(const struct forward_call *c);
void forward_call_free(struct forward_call *c);   /* NULL is a no-op */

/*
 * Is this request header one a forward leaves out? Hop-by-hop headers,
 * Host, Content-Length, Expect and Accept-Encoding (the bot's answer is
 * parsed, so it comes unencoded) always; and the header redactd replaces or
 * consumed for this kind: X-Twilio-Signature (re-signed for forward_to),
 * Authorization for Dialogflow CX (redactd's own bearer token).
 */
bool forward_header_dropped(enum forward_kind kind, const char *name);
/* Is this header of the bot's answer one the relay leaves out (hop-by-hop,
 * Content-Length and Date, which the server side sets itself)? */
bool forward_reply_header_dropped(const char *name);

/*
 * What the bot said, as a JSON array of strings (caller decrefs): the text
 * of TwiML <Message>, <Body> and <Say> elements (Twilio; parsed with expat,
 * other elements and attributes ignored, no entity expansion beyond XML's
 * own), or fulfillmentResponse.messages[].text.text[] (Dialogflow CX). An
 * empty array when the answer holds none (WhatsApp's bots answer nothing
 * inline). -1 when the answer does not parse as its kind (no array then).
 */
int forward_bot_texts(enum forward_kind kind, const char *body, size_t len, json_t **texts)
	RD_WARN_UNUSED;

/*
 * The bot's turns for ingest: {"messages": [...]} with one role "bot"
 * message per text, in the conversation and on the channel of the first
 * message of user_msgs (the inbound turn's {"messages": [...]}). NULL when
 * user_msgs has none, texts is empty, or out of memory.
 */
json_t *forward_bot_messages(json_t *user_msgs, json_t *texts);

/*
 * Stores msgs ({"messages": [...]}) through ingest without waiting: the
 * write's end is counted on the forward thread, a refusal or failure as
 * redactd_forward_log_failures_total with a warning naming source and role
 * (never content). Never fails the caller.
 */
void forward_log(struct forward *f, struct app_snap *snap, const struct ingest_options *opt,
                 json_t *msgs, const char *source, const char *role);
/* A turn that could not even be mapped onto messages: counted and logged
 * like a failed write (code: enum rd_err's code). */
void forward_log_failed(struct forward *f, const char *source, const char *role, const char *code);

#endif
