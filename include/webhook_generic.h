/*
 * webhook_generic.h — generic signed webhooks (issue 18): a [source "NAME"]
 * with type = standard-webhooks or hmac-sha256 posts JSON to
 * POST /v1/webhooks/NAME (Zapier, Make, n8n, in-house bots), and each of
 * its map.* keys names, by JSON pointer, where a message field is in the
 * body.
 *
 * Pure functions with no connection, like webhook.h: the unit tests reach
 * the signatures, the pointer evaluator and the mapping directly; the
 * handler in http_webhook.c only hands over the request's headers and body
 * and ingests what comes back. Nothing here logs a header or body value.
 */
#ifndef REDACTD_WEBHOOK_GENERIC_H
#define REDACTD_WEBHOOK_GENERIC_H

#include "config.h"
#include "redactd.h"

#include <jansson.h>
#include <stdint.h>

struct rd_error;

#define WEBHOOK_SW_MAX_KEY   256    /* bytes of a Standard Webhooks key (whsec_ base64 decoded) */
#define WEBHOOK_SW_SIG_LEN   47     /* "v1," + base64 of a 32-byte HMAC-SHA256 */
#define WEBHOOK_MAX_MSG_ID   256    /* bytes of webhook-id or a mapped provider id */

/*
 * RFC 6901: the value `pointer` names in root, or NULL when it names
 * nothing (a missing member, an index past the end or not a plain decimal,
 * "-", a step into a string or number) or is malformed (no leading '/', a
 * '~' not followed by 0 or 1). "" is root itself. Borrowed from root.
 */
json_t *webhook_json_pointer(json_t *root, const char *pointer);

/*
 * Standard Webhooks (standardwebhooks.com, symmetric v1): the key is the
 * secret less an optional "whsec_" prefix, base64-decoded; the signature
 * is "v1," + base64(HMAC-SHA256(key, id "." timestamp "." body)).
 * webhook_sw_key: 0 with *keylen, -1 when the secret is not base64 or
 * decodes to nothing or more than WEBHOOK_SW_MAX_KEY bytes. The caller
 * wipes key.
 */
int webhook_sw_key(const char *secret, size_t len, unsigned char key[WEBHOOK_SW_MAX_KEY],
                   size_t *keylen) RD_WARN_UNUSED;
void webhook_sw_sign(const unsigned char *key, size_t keylen, const char *id, const char *timestamp,
                     const void *body, size_t len, char out[WEBHOOK_SW_SIG_LEN + 1]);

/* The request's headers, by name (case-insensitive), NULL when absent. */
typedef const char *(*webhook_header_fn)(void *ctx, const char *name);

/*
 * Verifies one delivery to src with the secret read from its file (secret,
 * len), at unix time now:
 *  - standard-webhooks: webhook-id (1 to WEBHOOK_MAX_MSG_ID printable
 *    bytes), webhook-timestamp (decimal seconds, within src->tolerance of
 *    now either way) and webhook-signature (space-separated "vN,sig"
 *    entries, any v1 matching in constant time; others are skipped);
 *  - hmac-sha256: src->signature_header holds signature_prefix (if set)
 *    then HMAC-SHA256(secret, body) in hex (either case) or base64.
 * 0 when it verifies; -1 with e: RD_E_UNAUTHORIZED (401) naming the header
 * that is missing, malformed, stale or does not match;
 * RD_E_SOURCE_UNAVAILABLE when a standard-webhooks secret is not base64.
 */
int webhook_generic_verify(const struct source_conf *src, const char *secret, size_t len,
                           webhook_header_fn header, void *ctx, const void *body, size_t blen,
                           int64_t now, struct rd_error *e) RD_WARN_UNUSED;

/* One delivery as a message for ingest. */
struct webhook_generic_msg {
	json_t *msgs;             /* {"messages": [one message]}; webhook_generic_msg_clear frees */
	char sender[RD_MAX_ID_LEN + 1];            /* map.sender's value, "" when none */
	char provider_id[WEBHOOK_MAX_MSG_ID + 1];  /* map.provider_id, else webhook-id; "" when none */
};

/*
 * Maps a parsed body through src's map.* pointers onto one message:
 * text and conversation_id required (strings; a conversation id or sender
 * may also be an integer), role, channel and ts checked as POST
 * /v1/messages checks them, metadata values flat, src->category set when
 * configured. webhook_id is the webhook-id header (standard-webhooks), the
 * provider id when map.provider_id is not set; NULL for none. 0 with *out
 * filled, or -1 with e (422: RD_E_MISSING_FIELD or RD_E_INVALID_FIELD
 * naming the map key and its pointer, never the value; RD_E_INVALID_BODY
 * when root is not an object; RD_E_INTERNAL out of memory) and *out empty.
 */
int webhook_generic_map(const struct source_conf *src, json_t *root, const char *webhook_id,
                        struct webhook_generic_msg *out, struct rd_error *e) RD_WARN_UNUSED;
/* Frees msgs and wipes sender and provider id; an empty one is a no-op. */
void webhook_generic_msg_clear(struct webhook_generic_msg *m);

/*
 * The whole of one delivery before ingest: src is the source the path
 * named (NULL or not a generic type: 404), its secret read, the signature
 * verified over the raw body, the body parsed with the API's limits and
 * mapped. 0 with *out (caller clears), or -1 with e and *out empty.
 */
int webhook_generic_receive(const struct source_conf *src, webhook_header_fn header, void *ctx,
                            const char *body, size_t len, struct webhook_generic_msg *out,
                            struct rd_error *e) RD_WARN_UNUSED;

#endif
