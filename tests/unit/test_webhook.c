/*
 * test_webhook.c — form decoding and webhook signatures.
 *
 * Twilio vectors: the official ones from twilio-node's spec/validation.spec.js
 * (MIT), auth token "12345", values copied here as literals, including the
 * port variants a receiver must accept. The Meta signature was computed with
 * `openssl dgst -sha256 -hmac meta-app-secret`.
 */
#include "harness.h"
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

int main(void)
{
	test_twilio_vectors();
	test_twilio_sign();
	test_form();
	test_meta();
	test_url();
	return TEST_DONE();
}
