/*
 * test_webhook.c — form decoding and webhook signatures.
 *
 * Twilio vectors: the official ones from twilio-node's spec/validation.spec.js
 * (MIT), auth token "12345", values copied here as literals, including the
 * port variants a receiver must accept. The Meta signature was computed with
 * `openssl dgst -sha256 -hmac meta-app-secret`. The payload mappers (CX,
 * Twilio, WhatsApp), Meta's handshake and the secret files are tested here
 * without HTTP: each provider's payload must become the messages POST
 * /v1/messages would take, and each malformed one its rd_err.
 */
#include "harness.h"
#include "log.h"
#include "rd_error.h"
#include "webhook.h"

static const char vec_body[] =
	"To=%2B18005551212&From=%2B14158675309&Digits=1234&Caller=%2B14158675309"
	"&CallSid=CA1234567890ABCDE";

static bool twilio_ok(const char *url, const char *body, const char *sig)
{
	struct webhook_form f;
	if (webhook_form_parse(body, strlen(body), &f))
		return false;
	bool ok = webhook_twilio_verify("12345", 5, url, &f, sig);
	webhook_form_free(&f);
	return ok;
}

static void test_twilio_vectors(void)
{
	const char *u = "https://mycompany.com/myapp.php?foo=1&bar=2";
	CHECK(twilio_ok(u, vec_body, "RSOYDt4T1cUTdK1PDd93/VVr8B8="), "twilio: default vector");
	CHECK(!twilio_ok(u, vec_body, "WRONG_SIGNATURE"), "twilio: wrong signature refused");
	CHECK(!twilio_ok(u, vec_body, "RSOYDt4T1cUTdK1PDd93/VVr8B8"), "twilio: truncated signature refused");
	CHECK(!twilio_ok(u, vec_body, NULL), "twilio: missing signature refused");
	CHECK(twilio_ok("https://mycompany.com:1234/myapp.php?foo=1&bar=2", vec_body,
	                "RSOYDt4T1cUTdK1PDd93/VVr8B8="), "twilio: explicit port removed");
	CHECK(twilio_ok("http://mycompany.com:1234/myapp.php?foo=1&bar=2", vec_body,
	                "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="), "twilio: http with port, signed with port");
	CHECK(twilio_ok(u, vec_body, "kvajT1Ptam85bY51eRf/AJRuM3w="), "twilio: signed with :443 added");
	CHECK(twilio_ok("http://mycompany.com/myapp.php?foo=1&bar=2", vec_body,
	                "0ZXoZLH/DfblKGATFgpif+LLRf4="), "twilio: signed with :80 added");
	CHECK(twilio_ok("https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
	                "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620", "",
	                "a9nBmqA0ju/hNViExpshrM61xv4="), "twilio: no params (JSON body form)");
	CHECK(twilio_ok("https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
	                "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "",
	                "Ldidvp12m26NI7eqEvxnEpkd9Hc="), "twilio: no params, :443 added");
	CHECK(!twilio_ok(u, "To=%2B18005551212&From=%2B14158675300&Digits=1234&Caller=%2B14158675309"
	                 "&CallSid=CA1234567890ABCDE", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
	      "twilio: a changed parameter breaks the signature");
	CHECK(!twilio_ok("https://mycompany.com/myapp.php?foo=1&bar=3", vec_body,
	                 "RSOYDt4T1cUTdK1PDd93/VVr8B8="), "twilio: a changed URL breaks the signature");
}

static void test_twilio_sign(void)
{
	struct webhook_form f;
	char sig[WEBHOOK_TWILIO_SIG_LEN + 1];
	CHECK(webhook_form_parse(vec_body, strlen(vec_body), &f) == 0, "form: parse vector body");
	webhook_twilio_sign("12345", 5, "https://mycompany.com/myapp.php?foo=1&bar=2", &f, sig);
	CHECK_STR(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "twilio: sign reproduces the vector");
	CHECK_STR(f.v[0].name, "CallSid", "twilio: fields sorted by name");
	webhook_form_free(&f);
}

static void test_form(void)
{
	struct webhook_form f;
	const char *b = "Body=Hi+there%21%20%E2%9C%93&Empty=&Flag&&From=whatsapp%3A%2B447700900123&";
	CHECK(webhook_form_parse(b, strlen(b), &f) == 0, "form: parses");
	CHECK(f.n == 4, "form: empty fields skipped, valueless kept");
	CHECK_STR(webhook_form_get(&f, "Body"), "Hi there! \xe2\x9c\x93", "form: + and %XX decoded");
	CHECK_STR(webhook_form_get(&f, "Empty"), "", "form: empty value kept");
	CHECK_STR(webhook_form_get(&f, "Flag"), "", "form: field without = has an empty value");
	CHECK_STR(webhook_form_get(&f, "From"), "whatsapp:+447700900123", "form: From decoded");
	CHECK(webhook_form_get(&f, "Nope") == NULL, "form: absent field is NULL");
	webhook_form_free(&f);
	CHECK(webhook_form_parse("", 0, &f) == 0 && f.n == 0, "form: empty body");
	webhook_form_free(&f);
	const char *bad[] = { "a=%", "a=%4", "a=%zz", "a=b%00c", "%00=1" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(webhook_form_parse(bad[i], strlen(bad[i]), &f) == -1 && f.n == 0, "form: bad escape refused");
	char many[WEBHOOK_MAX_PARAMS * 4 + 8];
	size_t n = 0;
	for (int i = 0; i <= WEBHOOK_MAX_PARAMS; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "a=&");
	CHECK(webhook_form_parse(many, n, &f) == -1, "form: too many fields refused");
}

static void test_meta(void)
{
	const char *body = "{\"object\":\"whatsapp_business_account\"}";
	const char *want = "sha256=81176fcf9ac718ce2812972d013a8e62f99e6d50aee56fd0e9d9d954c7c0c1b0";
	char sig[WEBHOOK_META_SIG_LEN + 1];
	webhook_meta_sign("meta-app-secret", 15, body, strlen(body), sig);
	CHECK_STR(sig, want, "meta: signature matches openssl");
	CHECK(webhook_meta_verify("meta-app-secret", 15, body, strlen(body), want), "meta: verifies");
	CHECK(webhook_meta_verify("meta-app-secret", 15, body, strlen(body),
	      "sha256=81176FCF9AC718CE2812972D013A8E62F99E6D50AEE56FD0E9D9D954C7C0C1B0"),
	      "meta: upper-case hex accepted");
	CHECK(!webhook_meta_verify("other-secret", 12, body, strlen(body), want), "meta: wrong secret");
	CHECK(!webhook_meta_verify("meta-app-secret", 15, "{}", 2, want), "meta: changed body");
	CHECK(!webhook_meta_verify("meta-app-secret", 15, body, strlen(body), want + 7), "meta: no prefix");
	CHECK(!webhook_meta_verify("meta-app-secret", 15, body, strlen(body), "sha256=81"), "meta: short");
	CHECK(!webhook_meta_verify("meta-app-secret", 15, body, strlen(body), NULL), "meta: missing");
}

static void test_url(void)
{
	char u[256];
	CHECK(webhook_signed_url(NULL, false, "127.0.0.1:8080", "/v1/webhooks/twilio", NULL, u, sizeof u) == 0,
	      "url: from Host");
	CHECK_STR(u, "http://127.0.0.1:8080/v1/webhooks/twilio", "url: http + Host + path");
	CHECK(webhook_signed_url("https://bots.example.com/", true, "ignored", "/v1/webhooks/twilio", "t=a",
	                         u, sizeof u) == 0, "url: from public_url");
	CHECK_STR(u, "https://bots.example.com/v1/webhooks/twilio?t=a", "url: public_url + path + query");
	CHECK(webhook_signed_url(NULL, true, "h.example", "/p", "", u, sizeof u) == 0, "url: tls");
	CHECK_STR(u, "https://h.example/p", "url: https when TLS, empty query dropped");
	CHECK(webhook_signed_url(NULL, false, NULL, "/p", NULL, u, sizeof u) == -1, "url: no Host refused");
	CHECK(webhook_signed_url(NULL, false, "evil.example/x", "/p", NULL, u, sizeof u) == -1,
	      "url: Host with a path refused");
	CHECK(webhook_signed_url(NULL, false, "a b", "/p", NULL, u, sizeof u) == -1, "url: Host with space");
	CHECK(webhook_signed_url(NULL, false, "host", "/p", NULL, u, 8) == -1, "url: too long refused");
}

/* The one message of a mapped payload, or NULL. */
static json_t *only_message(json_t *msgs)
{
	json_t *list = json_object_get(msgs, "messages");
	return json_array_size(list) == 1 && json_object_size(msgs) == 1 ? json_array_get(list, 0) : NULL;
}

static const char *field(json_t *m, const char *name)
{
	return json_string_value(json_object_get(m, name));
}

static void test_cx(void)
{
	struct rd_error e;
	enum rd_channel ch;
	const char *caller;
	json_t *msgs, *root = json_loads(
		"{\"sessionInfo\":{\"session\":\"projects/p/locations/l/agents/a/sessions/s-123\"},"
		"\"text\":\"my mail is ann@example.com\"}", 0, NULL);
	CHECK(webhook_cx_messages(root, &msgs, &ch, &caller, &e) == 0, "cx: text mapped");
	json_t *m = only_message(msgs);
	CHECK_STR(field(m, "conversation_id"), "s-123", "cx: session id is the conversation");
	CHECK_STR(field(m, "text"), "my mail is ann@example.com", "cx: the utterance is the text");
	CHECK_STR(field(m, "role"), "user", "cx: the user's turn");
	CHECK(ch == CH_WEB && !strcmp(field(m, "channel"), "web") && !caller, "cx: typed text is web");
	json_decref(msgs);
	json_decref(root);

	root = json_loads("{\"session_info\":{\"session\":\"x/sessions/v9\"},\"transcript\":\"hello\","
	                  "\"payload\":{\"telephony\":{\"caller_id\":\"+447700900123\"}}}", 0, NULL);
	CHECK(webhook_cx_messages(root, &msgs, &ch, &caller, &e) == 0 && ch == CH_VOICE,
	      "cx: audio with snake_case fields is voice");
	CHECK_STR(caller, "+447700900123", "cx: the telephony caller id is the sender");
	CHECK_STR(field(only_message(msgs), "channel"), "voice", "cx: message on the voice channel");
	json_decref(msgs);
	json_decref(root);

	root = json_loads("{\"sessionInfo\":{\"session\":\"x/sessions/s\"},\"fulfillmentInfo\":{\"tag\":\"t\"}}",
	                  0, NULL);
	CHECK(webhook_cx_messages(root, &msgs, &ch, &caller, &e) == 0 && !msgs,
	      "cx: an event without an utterance carries no message");
	json_decref(root);
	root = json_loads("{\"text\":\"hi\"}", 0, NULL);
	CHECK(webhook_cx_messages(root, &msgs, &ch, &caller, &e) == -1 && e.err == RD_E_MISSING_FIELD && !msgs,
	      "cx: no session -> missing_field");
	json_decref(root);
	root = json_loads("[1]", 0, NULL);
	CHECK(webhook_cx_messages(root, &msgs, &ch, &caller, &e) == -1 && e.err == RD_E_INVALID_BODY,
	      "cx: not an object -> invalid_body");
	json_decref(root);
}

static int twilio_map(const char *body, json_t **msgs, enum rd_channel *ch, const char **sender,
                      struct rd_error *e, struct webhook_form *f)
{
	if (webhook_form_parse(body, strlen(body), f))
		return -2;
	return webhook_twilio_messages(f, msgs, ch, sender, e);
}

static void test_twilio_messages(void)
{
	struct rd_error e;
	struct webhook_form f;
	enum rd_channel ch;
	const char *sender = NULL;
	json_t *msgs;
	CHECK(twilio_map("From=%2B14158675309&Body=call+me&To=%2B1800", &msgs, &ch, &sender, &e, &f) == 0,
	      "twilio map: SMS");
	json_t *m = only_message(msgs);
	CHECK_STR(field(m, "conversation_id"), "+14158675309", "twilio map: From is the conversation");
	CHECK_STR(field(m, "text"), "call me", "twilio map: Body is the text");
	CHECK(ch == CH_SMS && !strcmp(field(m, "channel"), "sms"), "twilio map: sms channel");
	CHECK_STR(sender, "+14158675309", "twilio map: From is the sender");
	json_decref(msgs);
	webhook_form_free(&f);
	CHECK(twilio_map("From=whatsapp%3A%2B447700900123&Body=hi", &msgs, &ch, &sender, &e, &f) == 0 &&
	      ch == CH_WHATSAPP, "twilio map: WhatsApp through Twilio");
	CHECK_STR(sender, "+447700900123", "twilio map: the whatsapp: prefix is not part of the sender");
	CHECK_STR(field(only_message(msgs), "conversation_id"), "whatsapp:+447700900123",
	          "twilio map: the conversation keeps the prefix");
	json_decref(msgs);
	webhook_form_free(&f);
	CHECK(twilio_map("From=%2B1&MessageStatus=delivered", &msgs, &ch, &sender, &e, &f) == 0 && !msgs,
	      "twilio map: a status callback carries no message");
	webhook_form_free(&f);
	CHECK(twilio_map("Body=hi", &msgs, &ch, &sender, &e, &f) == -1 && e.err == RD_E_INVALID_FIELD,
	      "twilio map: no From -> invalid_field");
	webhook_form_free(&f);
	CHECK(twilio_map("From=whatsapp%3A&Body=hi", &msgs, &ch, &sender, &e, &f) == -1 &&
	      e.err == RD_E_INVALID_FIELD, "twilio map: From 'whatsapp:' alone names nobody -> invalid_field");
	webhook_form_free(&f);
	CHECK(twilio_map("From=%2B1&Body=%FF%FE", &msgs, &ch, &sender, &e, &f) == -1 &&
	      e.err == RD_E_INVALID_FIELD, "twilio map: text not UTF-8 -> invalid_field");
	webhook_form_free(&f);
}

static void test_whatsapp_messages(void)
{
	struct rd_error e;
	const char *senders[RD_MAX_BATCH] = { 0 };
	json_t *msgs, *root = json_loads(
		"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"value\":{\"messages\":["
		"{\"from\":\"447700900123\",\"type\":\"text\",\"timestamp\":\"1700000000\",\"text\":{\"body\":\"one\"}},"
		"{\"from\":\"447700900999\",\"type\":\"image\"},"
		"{\"from\":\"15550001111\",\"type\":\"text\",\"text\":{\"body\":\"two\"}}]}}]}]}", 0, NULL);
	CHECK(webhook_wa_messages(root, &msgs, senders, &e) == 0, "whatsapp map: notification mapped");
	json_t *list = json_object_get(msgs, "messages");
	CHECK(json_array_size(list) == 2, "whatsapp map: text messages only");
	CHECK_STR(field(json_array_get(list, 0), "ts"), "1700000000", "whatsapp map: timestamp kept");
	CHECK_STR(field(json_array_get(list, 1), "text"), "two", "whatsapp map: second text");
	CHECK_STR(senders[0], "447700900123", "whatsapp map: each message its own sender (1)");
	CHECK_STR(senders[1], "15550001111", "whatsapp map: each message its own sender (2)");
	CHECK_STR(field(json_array_get(list, 1), "channel"), "whatsapp", "whatsapp map: channel");
	json_decref(msgs);
	json_decref(root);

	root = json_loads("{\"entry\":[{\"changes\":[{\"value\":{\"statuses\":[{\"id\":\"x\"}]}}]}]}", 0, NULL);
	CHECK(webhook_wa_messages(root, &msgs, senders, &e) == 0 && !msgs,
	      "whatsapp map: statuses only carry no message");
	json_decref(root);
	root = json_loads("{\"entry\":{}}", 0, NULL);
	CHECK(webhook_wa_messages(root, &msgs, senders, &e) == -1 && e.err == RD_E_INVALID_BODY,
	      "whatsapp map: entry not an array -> invalid_body");
	json_decref(root);
	root = json_loads("{\"entry\":[{\"changes\":[{\"value\":{\"messages\":[{\"from\":\"1\","
	                  "\"type\":\"text\",\"text\":{}}]}}]}]}", 0, NULL);
	CHECK(webhook_wa_messages(root, &msgs, senders, &e) == -1 && e.err == RD_E_INVALID_FIELD,
	      "whatsapp map: a text message without text.body -> invalid_field");
	json_decref(root);

	json_t *many = json_array();
	for (int i = 0; i <= RD_MAX_BATCH; i++)
		json_array_append_new(many, json_pack("{s:s, s:s, s:{s:s}}", "from", "1", "type", "text",
		                                      "text", "body", "x"));
	root = json_pack("{s:[{s:[{s:{s:o}}]}]}", "entry", "changes", "value", "messages", many);
	CHECK(webhook_wa_messages(root, &msgs, senders, &e) == -1 && e.err == RD_E_INVALID_BODY,
	      "whatsapp map: more than a batch -> invalid_body");
	json_decref(root);
}

static void test_handshake(void)
{
	CHECK(webhook_wa_handshake("subscribe", "tok", "1158201444", "tok"), "handshake: accepted");
	CHECK(!webhook_wa_handshake("unsubscribe", "tok", "1", "tok"), "handshake: other mode refused");
	CHECK(!webhook_wa_handshake("subscribe", "tok2", "1", "tok"), "handshake: wrong token refused");
	CHECK(!webhook_wa_handshake("subscribe", NULL, "1", "tok"), "handshake: no token refused");
	CHECK(!webhook_wa_handshake("subscribe", "tok", "<script>", "tok"), "handshake: markup not echoed");
	CHECK(!webhook_wa_handshake("subscribe", "tok", "", "tok"), "handshake: empty challenge refused");
	CHECK(!webhook_wa_handshake(NULL, "tok", "1", "tok"), "handshake: no mode refused");
}

static void test_secret_read(void)
{
	char path[512], out[WEBHOOK_MAX_SECRET + 1];
	size_t len = 0;
	struct rd_error e;
	log_set_level(LOG_ERROR);   /* the warnings name only the source */
	snprintf(path, sizeof path, "%s/secret", TEST_TMPDIR());
	FILE *f = fopen(path, "w");
	if (f) {
		fputs("s3cret \r\nsecond line\n", f);
		fclose(f);
	}
	CHECK(webhook_secret_read("twilio", path, out, &len, &e) == 0 && len == 6, "secret: first line");
	CHECK_STR(out, "s3cret", "secret: trailing blanks and CR dropped");
	f = fopen(path, "w");
	if (f)
		fclose(f);
	CHECK(webhook_secret_read("twilio", path, out, &len, &e) == -1 && e.err == RD_E_SOURCE_UNAVAILABLE,
	      "secret: empty file -> source_unavailable");
	snprintf(path, sizeof path, "%s/absent", TEST_TMPDIR());
	CHECK(webhook_secret_read("twilio", path, out, &len, &e) == -1 && e.err == RD_E_SOURCE_UNAVAILABLE,
	      "secret: missing file -> source_unavailable");
	CHECK(webhook_secret_read("twilio", NULL, out, &len, &e) == -1 && e.err == RD_E_SOURCE_UNAVAILABLE,
	      "secret: none configured -> source_unavailable");
}

int main(void)
{
	test_twilio_vectors();
	test_twilio_sign();
	test_form();
	test_meta();
	test_url();
	test_cx();
	test_twilio_messages();
	test_whatsapp_messages();
	test_handshake();
	test_secret_read();
	return TEST_DONE();
}
