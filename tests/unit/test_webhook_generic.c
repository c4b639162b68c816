/*
 * test_webhook_generic.c — generic signed webhooks (webhook_generic.c) and
 * their [source] keys (config.c).
 *
 * Vectors and where they come from:
 *  - Standard Webhooks: the signing vector of the reference libraries'
 *    tests (github.com/standard-webhooks/standard-webhooks,
 *    libraries/go/webhook_test.go TestWebhookSign and
 *    libraries/javascript/src/webhook.test.ts "sign function works"):
 *    key whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id
 *    msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, payload
 *    {"test": 2432232314} -> v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=,
 *    and their verification cases (several signatures, v2 entries, a
 *    partial signature, missing headers, the 5-minute tolerance both ways).
 *  - HMAC-SHA256: RFC 4231 test case 2 (key "Jefe", data "what do ya want
 *    for nothing?"), in hex and in base64.
 *  - JSON pointer: the examples of RFC 6901 section 5.
 */
#include "harness.h"
#include "config.h"
#include "log.h"
#include "rd_error.h"
#include "webhook_generic.h"

#include <ctype.h>
#include <sodium.h>

/* ---- Standard Webhooks ---- */

static const char sw_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char sw_id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char sw_body[] = "{\"test\": 2432232314}";
static const char sw_sig[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
#define SW_TS 1614265330

struct headers {
	const char *name[4], *value[4];
};

static const char *get_header(void *ctx, const char *name)
{
	struct headers *h = ctx;
	for (int i = 0; i < 4 && h->name[i]; i++)
		if (!strcasecmp(h->name[i], name))
			return h->value[i];
	return NULL;
}

static struct source_conf sw_source(void)
{
	return (struct source_conf){ .name = "bot", .type = SOURCE_STANDARD_WEBHOOKS, .tolerance = 300 };
}

/* Verifies the vector's body with these header values at time now. */
static enum rd_err sw_check(const char *secret, const char *id, const char *ts, const char *sig,
                            const char *body, int64_t now)
{
	struct source_conf src = sw_source();
	struct headers h = { { "webhook-id", "webhook-timestamp", "webhook-signature" }, { id, ts, sig } };
	struct rd_error e = { 0 };
	int rc = webhook_generic_verify(&src, secret, strlen(secret), get_header, &h, body, strlen(body), now, &e);
	return rc == 0 ? RD_OK : e.err;
}

static void test_sw_vectors(void)
{
	unsigned char key[WEBHOOK_SW_MAX_KEY];
	size_t keylen = 0;
	char sig[WEBHOOK_SW_SIG_LEN + 1];
	CHECK(webhook_sw_key(sw_secret, strlen(sw_secret), key, &keylen) == 0 && keylen == 24,
	      "sw: whsec_ key decodes to 24 bytes");
	webhook_sw_sign(key, keylen, sw_id, "1614265330", sw_body, strlen(sw_body), sig);
	CHECK_STR(sig, sw_sig, "sw: the reference signing vector");
	CHECK(webhook_sw_key(sw_secret + 6, strlen(sw_secret) - 6, key, &keylen) == 0 && keylen == 24,
	      "sw: a key without whsec_ is the same key");
	CHECK(webhook_sw_key("whsec_!!notbase64!!", 19, key, &keylen) == -1, "sw: a key that is not base64 is refused");
	CHECK(webhook_sw_key("whsec_", 6, key, &keylen) == -1, "sw: an empty key is refused");
	sodium_memzero(key, sizeof key);

	CHECK(sw_check(sw_secret, sw_id, "1614265330", sw_sig, sw_body, SW_TS) == RD_OK, "sw: the vector verifies");
	CHECK(sw_check(sw_secret + 6, sw_id, "1614265330", sw_sig, sw_body, SW_TS) == RD_OK,
	      "sw: verifies with the unprefixed secret");
	CHECK(sw_check(sw_secret, sw_id, "1614265330",
	               "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
	               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
	               sw_body, SW_TS) == RD_OK, "sw: one valid v1 among several signatures");
	CHECK(sw_check(sw_secret, sw_id, "1614265330", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	               sw_body, SW_TS) == RD_E_UNAUTHORIZED, "sw: the right MAC under v2 is not v1");
	CHECK(sw_check(sw_secret, sw_id, "1614265330", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
	               sw_body, SW_TS) == RD_E_UNAUTHORIZED, "sw: an invalid signature is 401");
	CHECK(sw_check(sw_secret, sw_id, "1614265330", "v1,g0hM9SsE", sw_body, SW_TS) == RD_E_UNAUTHORIZED,
	      "sw: a partial signature is 401");
	CHECK(sw_check(sw_secret, sw_id, "1614265330", "v1,", sw_body, SW_TS) == RD_E_UNAUTHORIZED,
	      "sw: an empty v1 is 401");
	CHECK(sw_check(sw_secret, sw_id, "1614265330", sw_sig, "{\"test\": 2432232315}", SW_TS) == RD_E_UNAUTHORIZED,
	      "sw: a changed body is 401");
	CHECK(sw_check(sw_secret, "msg_other", "1614265330", sw_sig, sw_body, SW_TS) == RD_E_UNAUTHORIZED,
	      "sw: another webhook-id is 401");
	CHECK(sw_check(sw_secret, NULL, "1614265330", sw_sig, sw_body, SW_TS) == RD_E_UNAUTHORIZED,
	      "sw: a missing id is 401");
	CHECK(sw_check(sw_secret, sw_id, NULL, sw_sig, sw_body, SW_TS) == RD_E_UNAUTHORIZED,
	      "sw: a missing timestamp is 401");
	CHECK(sw_check(sw_secret, sw_id, "1614265330", NULL, sw_body, SW_TS) == RD_E_UNAUTHORIZED,
	      "sw: a missing signature is 401");
	CHECK(sw_check(sw_secret, sw_id, "hello", sw_sig, sw_body, SW_TS) == RD_E_UNAUTHORIZED,
	      "sw: an invalid timestamp is 401");
	CHECK(sw_check(sw_secret, sw_id, "+1614265330", sw_sig, sw_body, SW_TS) == RD_E_UNAUTHORIZED,
	      "sw: a signed timestamp is not plain digits");
	CHECK(sw_check(sw_secret, sw_id, "1614265330", sw_sig, sw_body, SW_TS + 300) == RD_OK,
	      "sw: 300 s old is inside the tolerance");
	CHECK(sw_check(sw_secret, sw_id, "1614265330", sw_sig, sw_body, SW_TS + 301) == RD_E_UNAUTHORIZED,
	      "sw: 301 s old is stale");
	CHECK(sw_check(sw_secret, sw_id, "1614265330", sw_sig, sw_body, SW_TS - 301) == RD_E_UNAUTHORIZED,
	      "sw: 301 s in the future is refused");
	CHECK(sw_check("whsec_%%%%", sw_id, "1614265330", sw_sig, sw_body, SW_TS) == RD_E_SOURCE_UNAVAILABLE,
	      "sw: a secret that is not a key makes the source unavailable");
	struct rd_error e = { 0 };
	struct source_conf src = sw_source();
	struct headers h = { { "webhook-id", "webhook-timestamp", "webhook-signature" },
	                     { sw_id, "1614265330", sw_sig } };
	CHECK(webhook_generic_verify(&src, sw_secret, strlen(sw_secret), get_header, &h, sw_body,
	                             strlen(sw_body), SW_TS + 3600, &e) == -1 &&
	      strstr(e.message, "tolerance of 300 s") && strstr(e.message, "3600 s before"),
	      "sw: the stale message says how far and the tolerance");
}

/* ---- hmac-sha256 ---- */

static const char rfc_key[] = "Jefe", rfc_data[] = "what do ya want for nothing?";
static const char rfc_hex[] = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
static const char rfc_b64[] = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=";

static enum rd_err hmac_check(int encoding, const char *prefix, const char *value)
{
	struct source_conf src = { .name = "zap", .type = SOURCE_HMAC_SHA256, .signature_header = "X-Signature",
	                           .signature_encoding = encoding, .signature_prefix = (char *)prefix };
	struct headers h = { { "X-Signature" }, { value } };
	struct rd_error e = { 0 };
	int rc = webhook_generic_verify(&src, rfc_key, 4, get_header, &h, rfc_data, strlen(rfc_data), 0, &e);
	return rc == 0 ? RD_OK : e.err;
}

static void test_hmac(void)
{
	char upper[sizeof rfc_hex], prefixed[80];
	for (size_t i = 0; i < sizeof rfc_hex; i++)
		upper[i] = (char)toupper((unsigned char)rfc_hex[i]);
	CHECK(hmac_check(SOURCE_HEX, NULL, rfc_hex) == RD_OK, "hmac: RFC 4231 case 2 in hex");
	CHECK(hmac_check(SOURCE_HEX, NULL, upper) == RD_OK, "hmac: upper-case hex");
	CHECK(hmac_check(SOURCE_BASE64, NULL, rfc_b64) == RD_OK, "hmac: RFC 4231 case 2 in base64");
	CHECK(hmac_check(SOURCE_BASE64, NULL, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM") == RD_OK,
	      "hmac: base64 without its padding");
	CHECK(hmac_check(SOURCE_BASE64, NULL, rfc_hex) == RD_E_UNAUTHORIZED, "hmac: hex where base64 is configured");
	CHECK(hmac_check(SOURCE_HEX, NULL, rfc_b64) == RD_E_UNAUTHORIZED, "hmac: base64 where hex is configured");
	snprintf(prefixed, sizeof prefixed, "sha256=%s", rfc_hex);
	CHECK(hmac_check(SOURCE_HEX, "sha256=", prefixed) == RD_OK, "hmac: with its prefix");
	CHECK(hmac_check(SOURCE_HEX, "sha256=", rfc_hex) == RD_E_UNAUTHORIZED, "hmac: the prefix is required");
	CHECK(hmac_check(SOURCE_HEX, NULL, prefixed) == RD_E_UNAUTHORIZED, "hmac: an unexpected prefix is refused");
	CHECK(hmac_check(SOURCE_HEX, NULL, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3844") ==
	      RD_E_UNAUTHORIZED, "hmac: one changed digit is refused");
	CHECK(hmac_check(SOURCE_HEX, NULL, "5bdcc146bf60754e") == RD_E_UNAUTHORIZED, "hmac: a truncated MAC is refused");
	CHECK(hmac_check(SOURCE_HEX, NULL, "") == RD_E_UNAUTHORIZED, "hmac: an empty header is refused");
	CHECK(hmac_check(SOURCE_HEX, NULL, NULL) == RD_E_UNAUTHORIZED, "hmac: a missing header is refused");
}

/* ---- JSON pointer ---- */

static void test_pointer(void)
{
	json_error_t je;
	json_t *doc = json_loads("{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, \"e^f\": 3, "
	                         "\"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, \"m~n\": 8}", 0, &je);
	static const struct { const char *ptr; long want; } ints[] = {
		{ "/", 0 }, { "/a~1b", 1 }, { "/c%d", 2 }, { "/e^f", 3 }, { "/g|h", 4 },
		{ "/i\\j", 5 }, { "/k\"l", 6 }, { "/ ", 7 }, { "/m~0n", 8 },
	};
	CHECK(doc != NULL, "pointer: the RFC 6901 document parses");
	CHECK(webhook_json_pointer(doc, "") == doc, "pointer: \"\" is the whole document");
	CHECK(json_is_array(webhook_json_pointer(doc, "/foo")), "pointer: /foo is the array");
	CHECK_STR(json_string_value(webhook_json_pointer(doc, "/foo/0")), "bar", "pointer: /foo/0 is bar");
	CHECK_STR(json_string_value(webhook_json_pointer(doc, "/foo/1")), "baz", "pointer: /foo/1 is baz");
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		char name[64];
		json_t *v = webhook_json_pointer(doc, ints[i].ptr);
		snprintf(name, sizeof name, "pointer: %s is %ld (RFC 6901)", ints[i].ptr, ints[i].want);
		CHECK(json_is_integer(v) && json_integer_value(v) == ints[i].want, name);
	}
	CHECK(!webhook_json_pointer(doc, "/foo/2"), "pointer: an index past the end names nothing");
	CHECK(!webhook_json_pointer(doc, "/foo/-"), "pointer: - names nothing to read");
	CHECK(!webhook_json_pointer(doc, "/foo/01"), "pointer: a leading zero is not an index");
	CHECK(!webhook_json_pointer(doc, "/foo/+1"), "pointer: a sign is not an index");
	CHECK(!webhook_json_pointer(doc, "/foo/0/x"), "pointer: no step into a string");
	CHECK(!webhook_json_pointer(doc, "/nope"), "pointer: a missing member names nothing");
	CHECK(!webhook_json_pointer(doc, "/m~2n"), "pointer: ~2 is a malformed escape");
	CHECK(!webhook_json_pointer(doc, "/m~"), "pointer: a trailing ~ is malformed");
	CHECK(!webhook_json_pointer(doc, "foo"), "pointer: no leading / is malformed");
	CHECK(!webhook_json_pointer(NULL, "/foo"), "pointer: no document, nothing");
	json_decref(doc);
}

/* ---- mapping ---- */

static struct source_conf map_source(struct source_meta_map *meta, size_t nmeta)
{
	struct source_conf s = { .name = "bot", .type = SOURCE_STANDARD_WEBHOOKS, .meta = meta, .nmeta = nmeta };
	s.map[SOURCE_MAP_TEXT] = "/message/text";
	s.map[SOURCE_MAP_CONVERSATION_ID] = "/chat/id";
	s.map[SOURCE_MAP_SENDER] = "/from/phone";
	s.map[SOURCE_MAP_ROLE] = "/message/role";
	s.map[SOURCE_MAP_TS] = "/message/ts";
	s.map[SOURCE_MAP_CHANNEL] = "/message/channel";
	return s;
}

/* Maps body; the error's code (RD_OK on success) and message. */
static enum rd_err map_body(const struct source_conf *src, const char *body, const char *wid,
                            struct webhook_generic_msg *m, char *msg, size_t len)
{
	json_error_t je;
	json_t *root = json_loads(body, JSON_DECODE_ANY, &je);
	struct rd_error e = { 0 };
	int rc = webhook_generic_map(src, root, wid, m, &e);
	json_decref(root);
	snprintf(msg, len, "%s", rc ? e.message : "");
	return rc ? e.err : RD_OK;
}

static void test_map(void)
{
	struct source_meta_map meta[] = { { "order", "/message/order" }, { "absent", "/nope" } };
	struct source_conf src = map_source(meta, 2);
	struct webhook_generic_msg m;
	char msg[256], *dump;
	enum rd_err rc = map_body(&src, "{\"chat\":{\"id\":881234567},\"from\":{\"phone\":\"+447700900123\"},"
	                          "\"message\":{\"text\":\"secret text\",\"role\":\"bot\",\"ts\":1700000000,"
	                          "\"channel\":\"whatsapp\",\"order\":\"ORD-1\"}}", "msg_1", &m, msg, sizeof msg);
	CHECK(rc == RD_OK, "map: a full body maps");
	dump = rc == RD_OK ? json_dumps(m.msgs, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	CHECK_STR(dump, "{\"messages\":[{\"channel\":\"whatsapp\",\"conversation_id\":\"881234567\","
	          "\"metadata\":{\"order\":\"ORD-1\"},\"role\":\"bot\",\"text\":\"secret text\",\"ts\":1700000000}]}",
	          "map: the message POST /v1/messages would take (integer id as text, absent metadata skipped)");
	free(dump);
	CHECK_STR(m.sender, "+447700900123", "map: the sender");
	CHECK_STR(m.provider_id, "msg_1", "map: webhook-id is the provider id");
	webhook_generic_msg_clear(&m);
	CHECK(m.msgs == NULL && m.sender[0] == '\0', "map: clear frees and wipes");

	src.map[SOURCE_MAP_PROVIDER_ID] = "/event/id";
	src.category = "lead";
	rc = map_body(&src, "{\"chat\":{\"id\":\"c1\"},\"message\":{\"text\":\"t\"},\"event\":{\"id\":42}}", "msg_2", &m,
	              msg, sizeof msg);
	CHECK(rc == RD_OK && !strcmp(m.provider_id, "42"), "map: map.provider_id wins over webhook-id");
	CHECK(rc == RD_OK && m.sender[0] == '\0', "map: no sender when it names nothing");
	CHECK(rc == RD_OK && !strcmp(json_string_value(json_object_get(json_array_get(
	          json_object_get(m.msgs, "messages"), 0), "category")), "lead"), "map: category is set");
	webhook_generic_msg_clear(&m);
	rc = map_body(&src, "{\"chat\":{\"id\":\"c1\"},\"message\":{\"text\":\"t\"}}", NULL, &m, msg, sizeof msg);
	CHECK(rc == RD_OK && m.provider_id[0] == '\0', "map: no provider id when neither is there");
	webhook_generic_msg_clear(&m);
	src.map[SOURCE_MAP_PROVIDER_ID] = NULL;
	src.category = NULL;

	static const struct { const char *body, *needle, *name; enum rd_err want; } bad[] = {
		{ "{\"chat\":{\"id\":\"c1\"},\"message\":{}}", "map.text: the body has no value at /message/text",
		  "map: missing text is 422 naming the pointer", RD_E_MISSING_FIELD },
		{ "{\"chat\":{\"id\":\"c1\"},\"message\":{\"text\":null}}", "/message/text",
		  "map: a null text is missing", RD_E_MISSING_FIELD },
		{ "{\"message\":{\"text\":\"secret text\"}}", "map.conversation_id: the body has no value at /chat/id",
		  "map: missing conversation id", RD_E_MISSING_FIELD },
		{ "{\"chat\":{\"id\":\"c1\"},\"message\":{\"text\":[\"secret text\"]}}", "/message/text must be a string",
		  "map: text of the wrong type", RD_E_INVALID_FIELD },
		{ "{\"chat\":{\"id\":1.5},\"message\":{\"text\":\"secret text\"}}", "/chat/id must be",
		  "map: a real conversation id", RD_E_INVALID_FIELD },
		{ "{\"chat\":{\"id\":\"\"},\"message\":{\"text\":\"secret text\"}}", "/chat/id must be",
		  "map: an empty conversation id", RD_E_INVALID_FIELD },
		{ "{\"chat\":{\"id\":\"c\"},\"message\":{\"text\":\"secret text\",\"role\":\"wizard\"}}",
		  "map.role: the value at /message/role must be user", "map: an unknown role", RD_E_INVALID_FIELD },
		{ "{\"chat\":{\"id\":\"c\"},\"message\":{\"text\":\"secret text\",\"channel\":\"fax\"}}",
		  "/message/channel must be web", "map: an unknown channel", RD_E_INVALID_FIELD },
		{ "{\"chat\":{\"id\":\"c\"},\"message\":{\"text\":\"secret text\",\"ts\":\"yesterday\"}}",
		  "/message/ts must be RFC 3339", "map: a ts that is not one", RD_E_INVALID_FIELD },
		{ "{\"chat\":{\"id\":\"c\"},\"message\":{\"text\":\"secret text\",\"ts\":true}}",
		  "/message/ts must be RFC 3339", "map: a boolean ts", RD_E_INVALID_FIELD },
		{ "{\"chat\":{\"id\":\"c\"},\"from\":{\"phone\":{}},\"message\":{\"text\":\"secret text\"}}",
		  "map.sender: the value at /from/phone", "map: a sender object", RD_E_INVALID_FIELD },
		{ "{\"chat\":{\"id\":\"c\"},\"message\":{\"text\":\"secret text\",\"order\":[1]}}",
		  "map.metadata.order: the value at /message/order must be a string", "map: a metadata array",
		  RD_E_INVALID_FIELD },
		{ "[\"secret text\"]", "must be a JSON object", "map: a body that is not an object", RD_E_INVALID_BODY },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rc = map_body(&src, bad[i].body, "msg_3", &m, msg, sizeof msg);
		CHECK(rc == bad[i].want && strstr(msg, bad[i].needle) && !strstr(msg, "secret text") &&
		      m.msgs == NULL, bad[i].name);
	}

	/* Every allocation failing in turn: an error, never a crash or a leak. */
	long live = alloc_live(), n;
	bool all_errors = true;
	for (n = 1; n < 200; n++) {
		alloc_fail_at(n);
		rc = map_body(&src, "{\"chat\":{\"id\":\"c\"},\"message\":{\"text\":\"t\",\"order\":\"o\"}}", "m", &m,
		              msg, sizeof msg);
		bool failed = alloc_failed();
		alloc_fail_at(0);
		webhook_generic_msg_clear(&m);
		if (!failed)
			break;
		all_errors &= rc != RD_OK;
	}
	CHECK(n > 1 && n < 200 && all_errors, "map: each failed allocation is an error");
	CHECK(alloc_live() == live, "map: nothing leaks, failing or not");
}

/* ---- [source] keys ---- */

static char conf_path[512], err[8192];

static struct config *load(const char *sources)
{
	snprintf(conf_path, sizeof conf_path, "%s/generic.conf", TEST_TMPDIR());
	FILE *f = fopen(conf_path, "w");
	if (!f)
		return NULL;
	fputs("[storage]\ndatabase = /tmp/x.db\n", f);   /* lines 1-2 */
	fputs(sources, f);
	fclose(f);
	struct config *cfg = NULL;
	err[0] = '\0';
	if (config_load(conf_path, &cfg, err, sizeof err))
		return NULL;
	return cfg;
}

static bool has_error(int line, const char *needle)
{
	char prefix[600];
	snprintf(prefix, sizeof prefix, "%s:%d: ", conf_path, line);
	for (const char *p = strstr(err, prefix); p; p = strstr(p + 1, prefix)) {
		const char *eol = strchr(p, '\n'), *hit = strstr(p, needle);
		if (hit && (!eol || hit < eol))
			return true;
	}
	return false;
}

static void test_config(void)
{
	struct config *cfg = load("[source \"bot\"]\ntype = standard-webhooks\nsecret_file = /s\n"
	                          "map.text = /message/text\nmap.conversation_id = /chat/id\n"
	                          "map.metadata.order = /message/order\nmap.metadata.lang = /chat/lang\n"
	                          "tolerance = 120s\nchannel = sms\ncategory = lead\n"
	                          "[source \"zap\"]\ntype = hmac-sha256\nsecret_file = /z\nmap.text = /t\n"
	                          "map.conversation_id = /a~1b/0\nsignature_encoding = base64\n"
	                          "signature_prefix = sha256=\n"
	                          "[source \"twilio\"]\nsecret_file = /t\n");
	CHECK(cfg != NULL, "config: generic sources load beside a provider");
	const struct source_conf *bot = cfg ? config_source(cfg, "bot") : NULL;
	const struct source_conf *zap = cfg ? config_source(cfg, "zap") : NULL;
	const struct source_conf *tw = cfg ? config_source(cfg, "twilio") : NULL;
	CHECK(bot && bot->type == SOURCE_STANDARD_WEBHOOKS && bot->tolerance == 120 && bot->channel == CH_SMS &&
	      !strcmp(bot->map[SOURCE_MAP_TEXT], "/message/text") && !strcmp(bot->category, "lead") &&
	      bot->nmeta == 2 && !strcmp(bot->meta[1].key, "lang") && !strcmp(bot->meta[1].pointer, "/chat/lang"),
	      "config: a standard-webhooks source with its keys");
	CHECK(zap && zap->type == SOURCE_HMAC_SHA256 && zap->signature_encoding == SOURCE_BASE64 &&
	      !strcmp(zap->signature_header, "X-Signature") && !strcmp(zap->signature_prefix, "sha256=") &&
	      zap->tolerance == 300 && zap->channel == CH_WEB, "config: an hmac-sha256 source and the defaults");
	CHECK(tw && tw->type == SOURCE_TWILIO, "config: type defaults to a provider's name");
	config_free(cfg);

	cfg = load("[source \"fax\"]\n"                         /* 3 */
	           "secret_file = /x\n"                         /* 4 */
	           "[source \"bot\"]\n"                         /* 5 */
	           "type = standard-webhooks\n"                 /* 6 */
	           "secret_file = /s\n"                         /* 7 */
	           "signature_encoding = hex\n"                 /* 8: hmac only */
	           "map.text = message/text\n"                  /* 9: no leading / */
	           "map.sender = /a~2b\n"                       /* 10: bad escape */
	           "map.metadata.b@d = /x\n"                    /* 11: bad key */
	           "map.textt = /x\n"                           /* 12: unknown key */
	           "[source \"zap\"]\n"                         /* 13: needs map.* */
	           "type = hmac-sha256\n"                       /* 14 */
	           "tolerance = 60s\n"                          /* 15: standard-webhooks only */
	           "signature_header = X Sig\n"                 /* 16: not a header name */
	           "type = standard-webhooks\n"                 /* 17: twice */
	           "[source \"sms\"]\n"                         /* 18: type = twilio elsewhere */
	           "type = twilio\n"                            /* 19 */
	           "secret_file = /t\n"                         /* 20 */
	           "[source \"whatsapp\"]\n"                    /* 21: a provider's name */
	           "type = hmac-sha256\n"                       /* 22 */
	           "secret_file = /w\n"                         /* 23 */
	           "[source \"twilio\"]\n"                      /* 24 */
	           "secret_file = /t\n"                         /* 25 */
	           "map.text = /x\n"                            /* 26: generic only */
	           "[source \"cat\"]\n"                         /* 27 */
	           "type = webhook\n"                           /* 28: no such type */
	           "map.text = /t\nmap.conversation_id = /c\n"  /* 29, 30 */
	           "category = nosuch\n");                      /* 31: unknown category */
	CHECK(cfg == NULL, "config: a file with bad generic sources is refused");
	config_free(cfg);
	CHECK(has_error(3, "unknown source \"fax\""), "config: a name that is no provider needs a type");
	CHECK(has_error(8, "apply to type = hmac-sha256 only"), "config: an hmac key on standard-webhooks");
	CHECK(has_error(9, "JSON pointer"), "config: a pointer without its leading /");
	CHECK(has_error(10, "~0"), "config: a pointer with a bad escape");
	CHECK(has_error(11, "map.metadata.KEY"), "config: a bad metadata key");
	CHECK(has_error(12, "unknown key \"map.textt\""), "config: unknown map keys are still unknown");
	CHECK(has_error(13, "needs map.text and map.conversation_id"), "config: a generic source must map both");
	CHECK(has_error(15, "tolerance applies to type = standard-webhooks only"), "config: tolerance on hmac");
	CHECK(has_error(16, "signature_header must be a header name"), "config: a bad header name");
	CHECK(has_error(17, "given twice"), "config: type twice");
	CHECK(has_error(18, "is the section named \"twilio\""), "config: type = twilio under another name");
	CHECK(has_error(21, "give a generic source another name"), "config: a generic source with a provider's name");
	CHECK(has_error(26, "applies to type = standard-webhooks or hmac-sha256 only"),
	      "config: a map key on a provider");
	CHECK(has_error(31, "category nosuch is not a configured category"), "config: an unknown category");
	CHECK(has_error(28, "type must be standard-webhooks"), "config: an unknown type");
	CHECK(has_error(27, "unknown source \"cat\""), "config: ... leaves the source without one");
	CHECK(has_error(13, "needs secret_file"), "config: a generic source needs secret_file");
}

int main(void)
{
	log_set_level(LOG_ERROR);   /* the warnings name only the source */
	/* jansson's allocations through the harness's wrappers, so that they
	 * can fail (the daemon's go through json_mem.c's arenas instead). */
	json_set_alloc_funcs(malloc, free);
	if (sodium_init() < 0)
		return 2;
	test_sw_vectors();
	test_hmac();
	test_pointer();
	test_map();
	test_config();
	return TEST_DONE();
}
