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


/*
 * A CX WebhookRequest as messages: 0 with *msgs = {"messages": [one user
 * message in the session's conversation]} (caller decrefs), *ch its channel
 * and *caller the telephony caller id or NULL (borrowed from root); 0 with
 * *msgs NULL when it carries nothing the user said (an event or intent
 * trigger). -1 with e: not an object (RD_E_INVALID_BODY), no session
 * (RD_E_MISSING_FIELD), out of memory.
 */
int webhook_cx_messages(json_t *root, json_t **msgs, enum rd_channel *ch, const char **caller,
                        struct rd_error *e) RD_WARN_UNUSED;

/*
 * A Twilio messaging callback as messages: Body is the text, From the
 * conversation ("whatsapp:+44..." for WhatsApp through Twilio). 0 with
 * *msgs (caller decrefs), *ch (sms or whatsapp) and *sender (From without
 * its "whatsapp:" prefix, borrowed from f); 0 with *msgs NULL when there is
 * no Body (a status callback, media only). -1 with e (RD_E_INVALID_FIELD)
 * when From is missing or either is not UTF-8.
 */
int webhook_twilio_messages(const struct webhook_form *f, json_t **msgs, enum rd_channel *ch,
                            const char **sender, struct rd_error *e) RD_WARN_UNUSED;

/* Meta's subscription handshake (GET ?hub.mode=subscribe&hub.verify_token=
 * &hub.challenge=): true when mode is "subscribe", token equals
 * verify_token (constant time) and the challenge is 1 to 256 printable
 * ASCII characters without <> (it is echoed back). */
bool webhook_wa_handshake(const char *mode, const char *token, const char *challenge,
                          const char *verify_token);

/* WhatsApp Cloud API notification: appends one message object per text
 * message of entry[].changes[].value.messages[] to out and its sender
 * (borrowed from root) to senders[i] (RD_MAX_BATCH slots). -1 with e set
 * (422) on a wrongly typed level or more than RD_MAX_BATCH messages. */
int webhook_wa_collect(json_t *root, json_t *out, const char **senders, struct rd_error *e)
	RD_WARN_UNUSED;
/* The same as {"messages": [...]} in *msgs (caller decrefs), or NULL when
 * the notification holds no text message (statuses, media, other fields). */
int webhook_wa_messages(json_t *root, json_t **msgs, const char **senders, struct rd_error *e)
	RD_WARN_UNUSED;

#endif
