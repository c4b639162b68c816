/*
 * libFuzzer harness: generic signed webhooks' pure parts (webhook_generic.c).
 *
 * Each input is a body, signed both ways as a sender would sign it
 * (Standard Webhooks v1 and plain HMAC-SHA256 in hex), so verification must
 * accept it, and refuse it with one signature character changed; then the
 * body goes where a verified one goes: the API's parser and the mapping by
 * JSON pointer. The input's first line is also tried as a pointer against
 * the body, which must never read outside it.
 */
#include "ingest.h"
#include "rd_error.h"
#include "webhook_generic.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char sw_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char hmac_secret[] = "fuzz-hmac-secret";

struct headers {
	const char *id, *ts, *sig;
};

static const char *get_header(void *ctx, const char *name)
{
	struct headers *h = ctx;
	return !strcmp(name, "webhook-id") ? h->id : !strcmp(name, "webhook-timestamp") ? h->ts
	       : h->sig;   /* webhook-signature, or the hmac source's X-Signature */
}

static void signatures(const uint8_t *data, size_t size)
{
	struct source_conf sw = { .name = "fz", .type = SOURCE_STANDARD_WEBHOOKS, .tolerance = 300 };
	struct source_conf hm = { .name = "fz", .type = SOURCE_HMAC_SHA256, .signature_header = "X-Signature" };
	unsigned char key[WEBHOOK_SW_MAX_KEY], mac[crypto_auth_hmacsha256_BYTES];
	char sig[WEBHOOK_SW_SIG_LEN + 1], hex[2 * sizeof mac + 1];
	size_t keylen;
	struct rd_error e;
	if (webhook_sw_key(sw_secret, sizeof sw_secret - 1, key, &keylen))
		abort();
	webhook_sw_sign(key, keylen, "msg_fuzz", "1700000000", data, size, sig);
	struct headers h = { "msg_fuzz", "1700000000", sig };
	if (webhook_generic_verify(&sw, sw_secret, sizeof sw_secret - 1, get_header, &h, data, size,
	                           1700000000, &e))
		abort();
	sig[5] = sig[5] == 'A' ? 'B' : 'A';
	if (!webhook_generic_verify(&sw, sw_secret, sizeof sw_secret - 1, get_header, &h, data, size,
	                            1700000000, &e))
		abort();
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)hmac_secret, sizeof hmac_secret - 1);
	crypto_auth_hmacsha256_update(&st, data, size);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
	h.sig = hex;
	if (webhook_generic_verify(&hm, hmac_secret, sizeof hmac_secret - 1, get_header, &h, data, size, 0, &e))
		abort();
	hex[0] = hex[0] == '0' ? '1' : '0';
	if (!webhook_generic_verify(&hm, hmac_secret, sizeof hmac_secret - 1, get_header, &h, data, size, 0, &e))
		abort();
}

/* An input starting with '/' is a pointer (its first line) and a body (the
 * rest); any other is a body, mapped by the source's pointers. */
static void mapping(const uint8_t *data, size_t size)
{
	struct rd_error e;
	struct source_meta_map meta[] = { { "m", "/m" }, { "n", "/a/0/~1" } };
	struct source_conf src = { .name = "fz", .type = SOURCE_STANDARD_WEBHOOKS, .meta = meta, .nmeta = 2 };
	src.map[SOURCE_MAP_TEXT] = "/text";
	src.map[SOURCE_MAP_CONVERSATION_ID] = "/c";
	src.map[SOURCE_MAP_ROLE] = "/r";
	src.map[SOURCE_MAP_CHANNEL] = "/ch";
	src.map[SOURCE_MAP_TS] = "/ts";
	src.map[SOURCE_MAP_SENDER] = "/s";
	src.map[SOURCE_MAP_PROVIDER_ID] = "/id";
	const uint8_t *nl = size && data[0] == '/' ? memchr(data, '\n', size) : NULL;
	char *ptr = nl ? strndup((const char *)data, (size_t)(nl - data)) : NULL;
	size_t skip = nl ? (size_t)(nl - data) + 1 : 0;
	json_t *root = ingest_parse_body((const char *)data + skip, size - skip, &e);
	if (root && ptr)
		(void)webhook_json_pointer(root, ptr);
	struct webhook_generic_msg m;
	if (root && webhook_generic_map(&src, root, "msg_fuzz", &m, &e) == 0 &&
	    json_array_size(json_object_get(m.msgs, "messages")) != 1)
		abort();
	if (root)
		webhook_generic_msg_clear(&m);
	json_decref(root);
	free(ptr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sodium_init() < 0)
		abort();
	signatures(data, size);
	mapping(data, size);
	return 0;
}
