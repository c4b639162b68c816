/*
 * webhook_generic.c — generic signed webhooks: Standard Webhooks and plain
 * HMAC-SHA256 sources, and their bodies mapped onto messages by JSON
 * pointer (webhook_generic.h).
 *
 * WORKLOAD. One small JSON delivery per call (a chat turn posted by Zapier,
 * Make, n8n or a team's own bot), so the work is one HMAC over the body and
 * a handful of pointer walks; nothing is cached between calls.
 *
 * ORDER. The source, then its secret, then the signature over the bytes as
 * they arrived, and only then is the body parsed: an unsigned body costs an
 * HMAC and nothing else. A Standard Webhooks delivery must also be recent
 * (webhook-timestamp within `tolerance` of now, either way), which bounds
 * how long a captured delivery can be replayed; inside that window the
 * webhook-id (or map.provider_id) goes to ingest as the provider id, and a
 * second delivery with the same id is answered without being stored again.
 *
 * INVARIANTS. Errors name the header or the map key and its pointer, never
 * a value from the body; secrets, keys and MACs are wiped on every path;
 * the sender (a phone number) is wiped when the message is cleared.
 */
#include "webhook_generic.h"
#include "ingest.h"
#include "log.h"
#include "rd_error.h"
#include "webhook.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SW_MAX_SIGNATURES 16      /* entries in one webhook-signature header */
#define POINTER_MAX_TOKEN 1024    /* bytes of one reference token */

/* ---- JSON pointer (RFC 6901) --------------------------------------------- */

/* One reference token, unescaped (~1 is '/', ~0 is '~'), into out. -1 on a
 * bad escape or a token longer than POINTER_MAX_TOKEN. */
static int pointer_token(const char *p, size_t n, char out[POINTER_MAX_TOKEN + 1])
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (j == POINTER_MAX_TOKEN)
			return -1;
		if (p[i] != '~') {
			out[j++] = p[i];
			continue;
		}
		if (i + 1 == n || (p[i + 1] != '0' && p[i + 1] != '1'))
			return -1;
		out[j++] = p[++i] == '0' ? '~' : '/';
	}
	out[j] = '\0';
	return 0;
}

/* An array index: "0" or a decimal without a leading zero ("-" names the
 * element after the last, which never exists to be read). */
static json_t *array_step(json_t *a, const char *tok)
{
	size_t n = strlen(tok), idx = 0;
	if (n == 0 || n > 9 || strspn(tok, "0123456789") != n || (n > 1 && tok[0] == '0'))
		return NULL;
	for (size_t i = 0; i < n; i++)
		idx = idx * 10 + (size_t)(tok[i] - '0');
	return json_array_get(a, idx);
}

json_t *webhook_json_pointer(json_t *root, const char *pointer)
{
	char tok[POINTER_MAX_TOKEN + 1];
	json_t *cur = root;
	const char *p = pointer;
	if (!root || !p)
		return NULL;
	while (*p && cur) {
		if (*p++ != '/')
			return NULL;
		size_t n = strcspn(p, "/");
		if (pointer_token(p, n, tok))
			return NULL;
		p += n;
		if (json_is_object(cur))
			cur = json_object_get(cur, tok);
		else if (json_is_array(cur))
			cur = array_step(cur, tok);
		else
			cur = NULL;
	}
	return cur;
}

/* ---- signatures ---------------------------------------------------------- */

int webhook_sw_key(const char *secret, size_t len, unsigned char key[WEBHOOK_SW_MAX_KEY],
                   size_t *keylen)
{
	static const char prefix[] = "whsec_";
	size_t n;
	if (len >= sizeof prefix - 1 && !memcmp(secret, prefix, sizeof prefix - 1)) {
		secret += sizeof prefix - 1;
		len -= sizeof prefix - 1;
	}
	if (sodium_base642bin(key, WEBHOOK_SW_MAX_KEY, secret, len, NULL, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 &&
	    sodium_base642bin(key, WEBHOOK_SW_MAX_KEY, secret, len, NULL, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0)
		return -1;
	if (n == 0)
		return -1;
	*keylen = n;
	return 0;
}

static void sw_mac(const unsigned char *key, size_t keylen, const char *id, const char *timestamp,
                   const void *body, size_t len, unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)timestamp, strlen(timestamp));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof st);
}

void webhook_sw_sign(const unsigned char *key, size_t keylen, const char *id, const char *timestamp,
                     const void *body, size_t len, char out[WEBHOOK_SW_SIG_LEN + 1])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	sw_mac(key, keylen, id, timestamp, body, len, mac);
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, WEBHOOK_SW_SIG_LEN + 1 - 3, mac, sizeof mac,
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(mac, sizeof mac);
}

/* A base64 MAC (with or without padding) equal to mac, in constant time. */
static bool mac_b64_equal(const char *b64, size_t n, const unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	unsigned char got[crypto_auth_hmacsha256_BYTES + 1];
	size_t len;
	bool ok = (sodium_base642bin(got, sizeof got, b64, n, NULL, &len, NULL,
	                             sodium_base64_VARIANT_ORIGINAL) == 0 ||
	           sodium_base642bin(got, sizeof got, b64, n, NULL, &len, NULL,
	                             sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0) &&
	          len == crypto_auth_hmacsha256_BYTES && sodium_memcmp(got, mac, len) == 0;
	sodium_memzero(got, sizeof got);
	return ok;
}

/* Any "v1,<base64>" entry of a space-separated webhook-signature matches. */
static bool sw_signature_matches(const char *header, const unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	bool ok = false;
	size_t seen = 0;
	for (const char *p = header; *p && seen < SW_MAX_SIGNATURES;) {
		size_t n = strcspn(p, " ");
		if (n > 3 && !memcmp(p, "v1,", 3)) {
			ok |= mac_b64_equal(p + 3, n - 3, mac);
			seen++;
		}
		p += n;
		p += strspn(p, " ");
	}
	return ok;
}

static bool printable_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > WEBHOOK_MAX_MSG_ID)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
			return false;
	return true;
}

/* webhook-timestamp: 1 to 12 decimal digits, within tolerance of now. */
static int sw_timestamp(const struct source_conf *src, const char *ts, int64_t now, struct rd_error *e)
{
	size_t n = strlen(ts);
	int64_t t = 0;
	if (n == 0 || n > 12 || strspn(ts, "0123456789") != n) {
		rd_error_set(e, RD_E_UNAUTHORIZED, "webhook-timestamp must be unix seconds");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		t = t * 10 + (ts[i] - '0');
	if (t < now - src->tolerance || t > now + src->tolerance) {
		rd_error_set(e, RD_E_UNAUTHORIZED, "webhook-timestamp is %lld s %s now, outside the "
		             "source's tolerance of %d s: a stale or replayed delivery, or a clock that is off",
		             (long long)(t < now ? now - t : t - now), t < now ? "before" : "after",
		             src->tolerance);
		return -1;
	}
	return 0;
}

static int sw_verify(const struct source_conf *src, const char *secret, size_t len,
                     webhook_header_fn header, void *ctx, const void *body, size_t blen, int64_t now,
                     struct rd_error *e)
{
	const char *id = header(ctx, "webhook-id"), *ts = header(ctx, "webhook-timestamp");
	const char *sig = header(ctx, "webhook-signature");
	unsigned char key[WEBHOOK_SW_MAX_KEY], mac[crypto_auth_hmacsha256_BYTES];
	size_t keylen;
	int rc = -1;
	if (!id || !ts || !sig) {
		rd_error_set(e, RD_E_UNAUTHORIZED, "webhook-id, webhook-timestamp and webhook-signature "
		             "are required (Standard Webhooks)");
		return -1;
	}
	if (!printable_id(id)) {
		rd_error_set(e, RD_E_UNAUTHORIZED, "webhook-id must be 1 to %d printable characters",
		             WEBHOOK_MAX_MSG_ID);
		return -1;
	}
	if (sw_timestamp(src, ts, now, e))
		return -1;
	if (webhook_sw_key(secret, len, key, &keylen)) {
		log_warn("webhook %s: its secret is not a Standard Webhooks key (whsec_ and base64)", src->name);
		rd_error_set(e, RD_E_SOURCE_UNAVAILABLE, "the %s webhook secret cannot be used", src->name);
		goto done;
	}
	sw_mac(key, keylen, id, ts, body, blen, mac);
	if (!sw_signature_matches(sig, mac)) {
		rd_error_set(e, RD_E_UNAUTHORIZED, "webhook-signature has no v1 signature that matches");
		goto done;
	}
	rc = 0;
done:
	sodium_memzero(key, sizeof key);
	sodium_memzero(mac, sizeof mac);
	return rc;
}

/* signature_prefix, then the MAC in hex (either case) or base64. */
static bool hmac_matches(const struct source_conf *src, const char *v, const unsigned char *mac)
{
	unsigned char got[crypto_auth_hmacsha256_BYTES];
	size_t plen = src->signature_prefix ? strlen(src->signature_prefix) : 0, n, len;
	bool ok;
	if (plen && strncmp(v, src->signature_prefix, plen))
		return false;
	v += plen;
	n = strlen(v);
	if (src->signature_encoding == SOURCE_BASE64)
		return mac_b64_equal(v, n, mac);
	ok = n == 2 * sizeof got && sodium_hex2bin(got, sizeof got, v, n, NULL, &len, NULL) == 0 &&
	     len == sizeof got && sodium_memcmp(got, mac, sizeof got) == 0;
	sodium_memzero(got, sizeof got);
	return ok;
}

static int hmac_verify(const struct source_conf *src, const char *secret, size_t len,
                       webhook_header_fn header, void *ctx, const void *body, size_t blen,
                       struct rd_error *e)
{
	const char *v = header(ctx, src->signature_header);
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	if (!v) {
		rd_error_set(e, RD_E_UNAUTHORIZED, "the %s header is required", src->signature_header);
		return -1;
	}
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, len);
	crypto_auth_hmacsha256_update(&st, body, blen);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof st);
	bool ok = hmac_matches(src, v, mac);
	sodium_memzero(mac, sizeof mac);
	if (!ok)
		rd_error_set(e, RD_E_UNAUTHORIZED, "%s does not match the body (HMAC-SHA256, %s%s)",
		             src->signature_header, src->signature_prefix ? "after the prefix, " : "",
		             src->signature_encoding == SOURCE_BASE64 ? "base64" : "hex");
	return ok ? 0 : -1;
}

int webhook_generic_verify(const struct source_conf *src, const char *secret, size_t len,
                           webhook_header_fn header, void *ctx, const void *body, size_t blen,
                           int64_t now, struct rd_error *e)
{
	if (!body)
		body = "";
	if (src->type == SOURCE_STANDARD_WEBHOOKS)
		return sw_verify(src, secret, len, header, ctx, body, blen, now, e);
	return hmac_verify(src, secret, len, header, ctx, body, blen, e);
}

/* ---- the body as a message ----------------------------------------------- */

static const char *const map_keys[SOURCE_MAP_COUNT] = {
	[SOURCE_MAP_TEXT] = "map.text", [SOURCE_MAP_CONVERSATION_ID] = "map.conversation_id",
	[SOURCE_MAP_ROLE] = "map.role", [SOURCE_MAP_CHANNEL] = "map.channel", [SOURCE_MAP_TS] = "map.ts",
	[SOURCE_MAP_SENDER] = "map.sender", [SOURCE_MAP_PROVIDER_ID] = "map.provider_id",
};

/* The value of map key i, or NULL when it is not mapped or names nothing
 * (a JSON null counts as nothing). -1 with e when a required one is absent. */
static int mapped(const struct source_conf *src, json_t *root, int i, bool required, json_t **out,
                  struct rd_error *e)
{
	json_t *v = src->map[i] ? webhook_json_pointer(root, src->map[i]) : NULL;
	*out = json_is_null(v) ? NULL : v;
	if (!*out && required) {
		rd_error_set(e, RD_E_MISSING_FIELD, "%s: the body has no value at %s", map_keys[i],
		             src->map[i] ? src->map[i] : "(unmapped)");
		return -1;
	}
	return 0;
}

static int wrong(const struct source_conf *src, int i, const char *what, struct rd_error *e)
{
	rd_error_set(e, RD_E_INVALID_FIELD, "%s: the value at %s must be %s", map_keys[i], src->map[i], what);
	return -1;
}

/* A string, or an integer written in decimal (chat ids often are), of 1
 * to max bytes without NUL, into out. */
static int id_text(json_t *v, char *out, size_t max)
{
	int n;
	if (json_is_integer(v))
		n = snprintf(out, max + 1, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_string(v) && json_string_length(v) <= max &&
	         !memchr(json_string_value(v), '\0', json_string_length(v)))
		n = snprintf(out, max + 1, "%s", json_string_value(v));
	else
		return -1;
	return n > 0 && (size_t)n <= max ? 0 : -1;
}

static int map_text(const struct source_conf *src, json_t *root, json_t *msg, struct rd_error *e)
{
	json_t *text, *cid;
	char id[RD_MAX_ID_LEN + 1];
	if (mapped(src, root, SOURCE_MAP_TEXT, true, &text, e) ||
	    mapped(src, root, SOURCE_MAP_CONVERSATION_ID, true, &cid, e))
		return -1;
	if (!json_is_string(text))
		return wrong(src, SOURCE_MAP_TEXT, "a string", e);
	if (id_text(cid, id, RD_MAX_ID_LEN))
		return wrong(src, SOURCE_MAP_CONVERSATION_ID, "a string of 1 to 256 bytes or an integer", e);
	int rc = json_object_set(msg, "text", text) || json_object_set_new(msg, "conversation_id", json_string(id));
	if (rc)
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
	return rc ? -1 : 0;
}

/* role, channel and ts: checked here so that the error names the pointer. */
static int map_kinds(const struct source_conf *src, json_t *root, json_t *msg, struct rd_error *e)
{
	json_t *role, *ch, *ts;
	enum rd_role r;
	enum rd_channel c;
	int64_t ms;
	if (mapped(src, root, SOURCE_MAP_ROLE, false, &role, e) ||
	    mapped(src, root, SOURCE_MAP_CHANNEL, false, &ch, e) || mapped(src, root, SOURCE_MAP_TS, false, &ts, e))
		return -1;
	if (role && (!json_is_string(role) || rd_role_parse(json_string_value(role), &r)))
		return wrong(src, SOURCE_MAP_ROLE, "user, agent, bot or system", e);
	if (ch && (!json_is_string(ch) || rd_channel_parse(json_string_value(ch), &c)))
		return wrong(src, SOURCE_MAP_CHANNEL, "web, whatsapp, sms, voice, email or other", e);
	if (ts && !(json_is_integer(ts) && json_integer_value(ts) >= 0 &&
	            json_integer_value(ts) < 253402300800LL) &&
	    !(json_is_real(ts) && json_real_value(ts) >= 0 && json_real_value(ts) < 253402300800.0) &&
	    !(json_is_string(ts) && util_parse_ts(json_string_value(ts), &ms) == 0))
		return wrong(src, SOURCE_MAP_TS, "RFC 3339 or epoch seconds", e);
	if ((role && json_object_set(msg, "role", role)) || (ch && json_object_set(msg, "channel", ch)) ||
	    (ts && json_object_set(msg, "ts", ts)) ||
	    (src->category && json_object_set_new(msg, "category", json_string(src->category)))) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}

static int map_metadata(const struct source_conf *src, json_t *root, json_t *msg, struct rd_error *e)
{
	json_t *md = src->nmeta ? json_object() : NULL;
	if (src->nmeta && (!md || json_object_set_new(msg, "metadata", md))) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < src->nmeta; i++) {
		json_t *v = webhook_json_pointer(root, src->meta[i].pointer);
		if (!v)
			continue;   /* metadata is optional, field by field */
		if (json_is_object(v) || json_is_array(v)) {
			rd_error_set(e, RD_E_INVALID_FIELD, "map.metadata.%s: the value at %s must be a string, "
			             "number, boolean or null", src->meta[i].key, src->meta[i].pointer);
			return -1;
		}
		if (json_object_set(md, src->meta[i].key, v)) {
			rd_error_set(e, RD_E_INTERNAL, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* sender and provider id, copied out of the body. */
static int map_ids(const struct source_conf *src, json_t *root, const char *webhook_id,
                   struct webhook_generic_msg *out, struct rd_error *e)
{
	json_t *sender, *pid;
	if (mapped(src, root, SOURCE_MAP_SENDER, false, &sender, e) ||
	    mapped(src, root, SOURCE_MAP_PROVIDER_ID, false, &pid, e))
		return -1;
	if (sender && id_text(sender, out->sender, RD_MAX_ID_LEN))
		return wrong(src, SOURCE_MAP_SENDER, "a string of 1 to 256 bytes or an integer", e);
	if (pid && id_text(pid, out->provider_id, WEBHOOK_MAX_MSG_ID))
		return wrong(src, SOURCE_MAP_PROVIDER_ID, "a string of 1 to 256 bytes or an integer", e);
	if (!pid && webhook_id)
		snprintf(out->provider_id, sizeof out->provider_id, "%s", webhook_id);
	return 0;
}

void webhook_generic_msg_clear(struct webhook_generic_msg *m)
{
	json_decref(m->msgs);
	m->msgs = NULL;
	sodium_memzero(m->sender, sizeof m->sender);
	sodium_memzero(m->provider_id, sizeof m->provider_id);
}

int webhook_generic_map(const struct source_conf *src, json_t *root, const char *webhook_id,
                        struct webhook_generic_msg *out, struct rd_error *e)
{
	json_t *msg = json_object(), *arr = json_array();
	memset(out, 0, sizeof *out);
	if (!json_is_object(root)) {
		rd_error_set(e, RD_E_INVALID_BODY, "the body must be a JSON object");
		goto fail;
	}
	if (!msg || !arr || !(out->msgs = json_object())) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		goto fail;
	}
	if (map_text(src, root, msg, e) || map_kinds(src, root, msg, e) || map_metadata(src, root, msg, e) ||
	    map_ids(src, root, webhook_id, out, e))
		goto fail;
	if (json_array_append(arr, msg) || json_object_set(out->msgs, "messages", arr)) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		goto fail;
	}
	json_decref(msg);
	json_decref(arr);
	return 0;
fail:
	json_decref(msg);
	json_decref(arr);
	webhook_generic_msg_clear(out);
	return -1;
}

/* ---- one delivery -------------------------------------------------------- */

int webhook_generic_receive(const struct source_conf *src, webhook_header_fn header, void *ctx,
                            const char *body, size_t len, struct webhook_generic_msg *out,
                            struct rd_error *e)
{
	char secret[WEBHOOK_MAX_SECRET + 1];
	size_t slen;
	json_t *root;
	memset(out, 0, sizeof *out);
	if (!src || (src->type != SOURCE_STANDARD_WEBHOOKS && src->type != SOURCE_HMAC_SHA256)) {
		rd_error_set(e, RD_E_NOT_FOUND, "no generic webhook source of this name is configured "
		             "([source \"NAME\"] with type = standard-webhooks or hmac-sha256)");
		return -1;
	}
	if (webhook_secret_read(src->name, src->secret_file, secret, &slen, e))
		return -1;
	int rc = webhook_generic_verify(src, secret, slen, header, ctx, body ? body : "", len,
	                                (int64_t)time(NULL), e);
	sodium_memzero(secret, sizeof secret);
	if (rc || !(root = ingest_parse_body(body ? body : "", len, e)))
		return -1;
	rc = webhook_generic_map(src, root, src->type == SOURCE_STANDARD_WEBHOOKS ? header(ctx, "webhook-id")
	                                                                        : NULL, out, e);
	json_decref(root);   /* the message holds its own references */
	return rc;
}
