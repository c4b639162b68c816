/*
 * webhook.h — what the webhook routes compute before ingesting: form
 * decoding, the signature checks of Twilio and Meta (WhatsApp), the source
 * secrets, and each provider's payload as ordinary messages.
 *
 * Pure functions with no connection, so unit tests and the fuzz harness
 * reach them directly; the HTTP handlers (POST /v1/webhooks/...) are
 * http_webhook.c, declared in http_internal.h. Secrets and decoded values
 * are wiped when freed.
 */
#ifndef REDACTD_WEBHOOK_H
#define REDACTD_WEBHOOK_H

#include "redactd.h"

#include "metrics.h"

#include <jansson.h>

struct rd_error;

#define WEBHOOK_MAX_PARAMS   256    /* form fields in one callback */
#define WEBHOOK_MAX_SECRET   512    /* bytes of an auth token / app secret */
#define WEBHOOK_MAX_URL      4096   /* the URL a callback was signed for */
#define WEBHOOK_TWILIO_SIG_LEN 28   /* base64 of a 20-byte HMAC-SHA1 */
#define WEBHOOK_META_SIG_LEN   71   /* "sha256=" + 64 hex digits */

struct webhook_param {
	char *name, *value;            /* decoded, NUL-terminated, no NUL inside */
};

struct webhook_form {
	struct webhook_param *v;
	size_t n;
};

/*
 * Decode an application/x-www-form-urlencoded body ('+' is a space, %XX a
 * byte; a field without '=' has an empty value; empty fields are skipped).
 * Returns 0 and fills *out (caller frees with webhook_form_free), or -1 on a
 * malformed escape, a decoded NUL, more than WEBHOOK_MAX_PARAMS fields or
 * out of memory (then *out is empty).
 */
int webhook_form_parse(const char *body, size_t len, struct webhook_form *out) RD_WARN_UNUSED;
void webhook_form_free(struct webhook_form *f);    /* wipes; an empty form is a no-op */
/* The first value of `name`, or NULL. */
const char *webhook_form_get(const struct webhook_form *f, const char *name);

/*
 * X-Twilio-Signature: base64(HMAC-SHA1(token, url + name1 + value1 + ...))
 * over the fields sorted by name (then value). Sorts f in place. Writes
 * WEBHOOK_TWILIO_SIG_LEN characters and a NUL into out.
 */
void webhook_twilio_sign(const char *token, size_t token_len, const char *url,
                         struct webhook_form *f, char out[WEBHOOK_TWILIO_SIG_LEN + 1]);
/* Compares in constant time against the URL as given and against its port
 * variant (an explicit port removed, or the scheme's default one added),
 * the two forms Twilio's own libraries accept. */
bool webhook_twilio_verify(const char *token, size_t token_len, const char *url,
                           struct webhook_form *f, const char *signature);

/* X-Hub-Signature-256: "sha256=" + hex(HMAC-SHA256(app secret, raw body)). */
void webhook_meta_sign(const char *secret, size_t secret_len, const void *body, size_t len,
                       char out[WEBHOOK_META_SIG_LEN + 1]);
bool webhook_meta_verify(const char *secret, size_t secret_len, const void *body, size_t len,
                         const char *header);

/*
 * The URL a provider signed: public_url (a trailing '/' dropped) when set,
 * else scheme (https when tls) + "://" + host; then path, then "?" + query
 * when query is non-empty. -1 when host is missing or not a plain
 * host[:port], or the result does not fit outlen.
 */
int webhook_signed_url(const char *public_url, bool tls, const char *host, const char *path,
                       const char *query, char *out, size_t outlen) RD_WARN_UNUSED;

/*
 * The first line of a source's secret file (spec: a path or
 * credential:NAME; trailing CR/LF and blanks dropped) into out. 0 with *len,
 * or -1 with e (RD_E_SOURCE_UNAVAILABLE: the source is configured but
 * cannot verify) when spec is NULL, the file is missing, unreadable, empty,
 * holds a NUL or is longer than WEBHOOK_MAX_SECRET. The caller wipes out.
 */
int webhook_secret_read(const char *source, const char *spec, char out[WEBHOOK_MAX_SECRET + 1],
                        size_t *len, struct rd_error *e) RD_WARN_UNUSED;


/* ---- payloads as messages (issue 18) -------------------------------------
 *
 * Each provider's callback is collected into a webhook_batch: the turns to
 * store (message objects of POST /v1/messages, each with its sender and the
 * provider's own message id), and what is counted instead of stored
 * (delivery statuses, payload kinds redactd does not store, turns dropped
 * by config). Kinds are static words of webhook.c, never provider text, so
 * they may be logged and used as metric labels. A provider's real payload
 * is never answered with an error because of its kind: only a malformed
 * one (wrongly typed levels, a message without its required fields) is.
 */
#define WEBHOOK_MAX_EVENTS 24

struct webhook_event {
	enum metrics_webhook_event ev;
	const char *kind;              /* static */
	unsigned n;
};

struct webhook_batch {
	json_t *list;                  /* the message objects */
	const char *sender;            /* every message's sender when senders[i] is NULL */
	const char **senders;          /* RD_MAX_BATCH, borrowed from the payload */
	char **ids;                    /* RD_MAX_BATCH provider ids (owned), NULL for none */
	struct webhook_event events[WEBHOOK_MAX_EVENTS];
	size_t nevents;
};

/* 0, or -1 out of memory. */
int webhook_batch_init(struct webhook_batch *b) RD_WARN_UNUSED;
void webhook_batch_free(struct webhook_batch *b);    /* a zeroed batch is a no-op */
/* {"messages": [...]} (caller decrefs), or NULL when there is nothing to
 * store (or no memory: check webhook_batch_size first). */
json_t *webhook_batch_messages(const struct webhook_batch *b);
size_t webhook_batch_size(const struct webhook_batch *b);
/* How many ev of kind the batch counted (tests). */
unsigned webhook_batch_count(const struct webhook_batch *b, enum metrics_webhook_event ev,
                             const char *kind);

/*
 * Dialogflow CX WebhookRequest: the end user's turn (text, transcript from
 * the phone gateway or dtmfDigits; voice for the latter two and whenever
 * payload.telephony is there), with languageCode and sessionInfo.parameters
 * as metadata (string values are redacted like all metadata), then each
 * text ResponseMessage of `messages` as a bot turn. The session id is the
 * conversation; detectIntentResponseId (+ "/bot/N") the provider ids; the
 * telephony caller_id the sender. -1 with e: not an object
 * (RD_E_INVALID_BODY), a turn without a session (RD_E_MISSING_FIELD), out
 * of memory.
 */
int webhook_cx_collect(json_t *root, struct webhook_batch *b, struct rd_error *e) RD_WARN_UNUSED;

/*
 * A Twilio callback: Messaging (SMS, WhatsApp, MMS with its caption; From
 * is the conversation, MessageSid the id), Voice <Gather> (SpeechResult or
 * Digits; CallSid the conversation), recording transcriptions
 * (TranscriptionText; TranscriptionSid), Conversations onMessageAdded
 * (ConversationSid; its MessageSid), a WhatsApp location through Twilio
 * (location_mode as for WhatsApp); status callbacks are counted. A
 * callback without a message id uses idem_token (the
 * I-Twilio-Idempotency-Token header, the same on every retry) or else a
 * digest of all its fields. f must be sorted (webhook_twilio_verify sorts
 * it). -1 with e (RD_E_INVALID_FIELD) when a field it needs is missing or
 * not UTF-8, or out of memory.
 */
int webhook_twilio_collect(const struct webhook_form *f, const char *idem_token,
                           int location_mode, struct webhook_batch *b, struct rd_error *e)
	RD_WARN_UNUSED;

/* A JSON body Twilio signs with ?bodySHA256= (Conversations webhooks in
 * JSON): true when hex is the SHA-256 of body (constant time). */
bool webhook_twilio_body_ok(const void *body, size_t len, const char *hex);
/* Its flat object as form fields (strings as they are, numbers and
 * booleans as text; other values skipped), to collect like a form. -1
 * (RD_E_INVALID_BODY) when root is not an object, or too many fields. */
int webhook_twilio_json_form(json_t *root, struct webhook_form *out, struct rd_error *e)
	RD_WARN_UNUSED;

/* Meta's subscription handshake (GET ?hub.mode=subscribe&hub.verify_token=
 * &hub.challenge=): true when mode is "subscribe", token equals
 * verify_token (constant time) and the challenge is 1 to 256 printable
 * ASCII characters without <> (it is echoed back). */
bool webhook_wa_handshake(const char *mode, const char *token, const char *challenge,
                          const char *verify_token);

/*
 * WhatsApp Cloud API notification: every entry[].changes[].value. Turns:
 * text, interactive button and list replies, template quick-reply buttons,
 * image/video/document/audio/sticker (the caption is the text), location
 * ([LOCATION], or dropped: location_mode), shared contacts (names, phones
 * and emails replaced by [NAME], [PHONE], [EMAIL]) and reactions. The
 * conversation is "<from>@<phone_number_id>", so two business numbers of
 * one app are two conversations; the wamid is the provider id. statuses[]
 * are counted, errors and other kinds counted as unhandled. The profile
 * name is never read. -1 with e (422) on a wrongly typed level, a message
 * without from (or a text one without text.body) or more than RD_MAX_BATCH
 * turns.
 */
int webhook_wa_collect(json_t *root, int location_mode, struct webhook_batch *b,
                       struct rd_error *e) RD_WARN_UNUSED;

#endif
