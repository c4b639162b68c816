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
#include "config.h"
#include "webhook.h"

#include <stdlib.h>
#include <string.h>

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

/* The i-th turn of a batch. */
static json_t *turn_at(const struct webhook_batch *b, size_t i)
{
	return json_array_get(b->list, i);
}

static const char *field(json_t *m, const char *name)
{
	return json_string_value(json_object_get(m, name));
}

static const char *meta(json_t *m, const char *name)
{
	return json_string_value(json_object_get(json_object_get(m, "metadata"), name));
}

/* Collects a JSON payload with fn into *b; the rc. */
static int collect_json(const char *text, int which, int location, struct webhook_batch *b,
                        struct rd_error *e, json_t **root)
{
	*root = json_loads(text, 0, NULL);
	if (!*root || webhook_batch_init(b))
		return -2;
	return which == 0 ? webhook_cx_collect(*root, b, e) : webhook_wa_collect(*root, location, b, e);
}

static void done_json(struct webhook_batch *b, json_t *root)
{
	webhook_batch_free(b);
	json_decref(root);
}

/* Dialogflow CX WebhookRequest shapes of the v3 reference (the proto's
 * JSON names): text, transcript from the phone gateway, dtmfDigits,
 * languageCode, sessionInfo.parameters and the agent's messages. */
static void test_cx(void)
{
	struct rd_error e;
	struct webhook_batch b;
	json_t *root;
	CHECK(collect_json("{\"detectIntentResponseId\":\"5e3a-r1\",\"languageCode\":\"en\","
	                   "\"sessionInfo\":{\"session\":\"projects/p/locations/l/agents/a/sessions/s-123\","
	                   "\"parameters\":{\"email\":\"ann@example.com\",\"count\":3,"
	                   "\"addr\":{\"city\":\"Leeds\"}}},"
	                   "\"text\":\"my mail is ann@example.com\","
	                   "\"messages\":[{\"text\":{\"text\":[\"Thanks,\",\"noted.\"]}},"
	                   "{\"payload\":{\"x\":1}}]}", 0, 0, &b, &e, &root) == 0, "cx: text mapped");
	CHECK(webhook_batch_size(&b) == 2, "cx: the user's turn and the agent's text response");
	json_t *m = turn_at(&b, 0);
	CHECK_STR(field(m, "conversation_id"), "s-123", "cx: session id is the conversation");
	CHECK_STR(field(m, "text"), "my mail is ann@example.com", "cx: the utterance is the text");
	CHECK_STR(field(m, "role"), "user", "cx: the user's turn");
	CHECK_STR(field(m, "channel"), "web", "cx: typed text is web");
	CHECK_STR(meta(m, "language_code"), "en", "cx: languageCode kept as metadata");
	CHECK_STR(meta(m, "param.email"), "ann@example.com", "cx: a string parameter is metadata (redacted by ingest)");
	CHECK(json_integer_value(json_object_get(json_object_get(m, "metadata"), "param.count")) == 3,
	      "cx: a number parameter kept as a number");
	CHECK_STR(meta(m, "param.addr"), "{\"city\":\"Leeds\"}", "cx: a structured parameter as JSON text");
	CHECK_STR(b.ids[0], "5e3a-r1", "cx: detectIntentResponseId is the user turn's id");
	CHECK_STR(field(turn_at(&b, 1), "role"), "bot", "cx: the agent's response is a bot turn");
	CHECK_STR(field(turn_at(&b, 1), "text"), "Thanks,\nnoted.", "cx: response text parts joined");
	CHECK_STR(b.ids[1], "5e3a-r1/bot/0", "cx: the response's id derives from the response id");
	CHECK(webhook_batch_count(&b, METRICS_WEBHOOK_UNHANDLED, "response_other") == 1,
	      "cx: a non-text response is counted, not stored");
	done_json(&b, root);

	CHECK(collect_json("{\"session_info\":{\"session\":\"x/sessions/v9\"},\"transcript\":\"hello\","
	                   "\"payload\":{\"telephony\":{\"caller_id\":\"+447700900123\"}}}", 0, 0, &b, &e,
	                   &root) == 0 && webhook_batch_size(&b) == 1, "cx: phone gateway transcript");
	CHECK_STR(b.sender, "+447700900123", "cx: the telephony caller id is the sender");
	CHECK_STR(field(turn_at(&b, 0), "channel"), "voice", "cx: transcript on the voice channel");
	CHECK_STR(meta(turn_at(&b, 0), "input"), "transcript", "cx: input kind kept");
	CHECK(b.ids[0] == NULL, "cx: no response id, no provider id");
	done_json(&b, root);

	CHECK(collect_json("{\"detectIntentResponseId\":\"r9\",\"dtmfDigits\":\"2\","
	                   "\"sessionInfo\":{\"session\":\"x/sessions/d1\"}}", 0, 0, &b, &e, &root) == 0 &&
	      webhook_batch_size(&b) == 1, "cx: DTMF digits are a turn");
	CHECK_STR(field(turn_at(&b, 0), "text"), "2", "cx: the digits are its text");
	CHECK_STR(field(turn_at(&b, 0), "channel"), "voice", "cx: DTMF is voice");
	CHECK_STR(meta(turn_at(&b, 0), "input"), "dtmf", "cx: input dtmf");
	done_json(&b, root);

	CHECK(collect_json("{\"sessionInfo\":{\"session\":\"x/sessions/s\"},\"triggerEvent\":\"welcome\"}",
	                   0, 0, &b, &e, &root) == 0 && webhook_batch_size(&b) == 0 &&
	      webhook_batch_count(&b, METRICS_WEBHOOK_UNHANDLED, "event") == 1,
	      "cx: an event alone stores nothing and is counted as kind event");
	done_json(&b, root);
	CHECK(collect_json("{\"text\":\"hi\"}", 0, 0, &b, &e, &root) == -1 && e.err == RD_E_MISSING_FIELD,
	      "cx: no session -> missing_field");
	done_json(&b, root);
	CHECK(collect_json("[1]", 0, 0, &b, &e, &root) == -1 && e.err == RD_E_INVALID_BODY,
	      "cx: not an object -> invalid_body");
	done_json(&b, root);
}

/* Parses body into f (sorted, as verification leaves it) and collects it. */
static int twilio_map(const char *body, const char *idem, int location, struct webhook_form *f,
                      struct webhook_batch *b, struct rd_error *e)
{
	char sig[WEBHOOK_TWILIO_SIG_LEN + 1];
	if (webhook_form_parse(body, strlen(body), f) || webhook_batch_init(b))
		return -2;
	webhook_twilio_sign("t", 1, "https://x/", f, sig);   /* sorts f */
	return webhook_twilio_collect(f, idem, location, b, e);
}

static void twilio_done(struct webhook_form *f, struct webhook_batch *b)
{
	webhook_form_free(f);
	webhook_batch_free(b);
}

/* Twilio's documented webhook parameters: Messaging, Voice <Gather>,
 * recording transcriptions, Conversations. */
static void test_twilio_messages(void)
{
	struct rd_error e;
	struct webhook_form f;
	struct webhook_batch b;
	CHECK(twilio_map("ToCountry=US&SmsMessageSid=SM1f&NumMedia=0&SmsSid=SM1f&SmsStatus=received"
	                 "&Body=call+me&To=%2B1800&MessageSid=SM1f&AccountSid=AC1&From=%2B14158675309"
	                 "&ApiVersion=2010-04-01", NULL, 0, &f, &b, &e) == 0 && webhook_batch_size(&b) == 1,
	      "twilio: SMS");
	json_t *m = turn_at(&b, 0);
	CHECK_STR(field(m, "conversation_id"), "+14158675309", "twilio: From is the conversation");
	CHECK_STR(field(m, "text"), "call me", "twilio: Body is the text");
	CHECK_STR(field(m, "channel"), "sms", "twilio: sms channel");
	CHECK_STR(b.senders[0], "+14158675309", "twilio: From is the sender");
	CHECK_STR(b.ids[0], "SM1f", "twilio: MessageSid is the provider id");
	twilio_done(&f, &b);

	CHECK(twilio_map("From=whatsapp%3A%2B447700900123&Body=see+photo&NumMedia=1&MessageSid=MM2"
	                 "&MediaContentType0=image%2Fjpeg", NULL, 0, &f, &b, &e) == 0 &&
	      webhook_batch_size(&b) == 1, "twilio: WhatsApp MMS");
	CHECK_STR(field(turn_at(&b, 0), "channel"), "whatsapp", "twilio: WhatsApp channel");
	CHECK_STR(b.senders[0], "+447700900123", "twilio: the whatsapp: prefix is not part of the sender");
	CHECK_STR(field(turn_at(&b, 0), "text"), "see photo", "twilio: the MMS caption is the text");
	CHECK_STR(meta(turn_at(&b, 0), "num_media"), "1", "twilio: media count kept");
	twilio_done(&f, &b);

	CHECK(twilio_map("From=whatsapp%3A%2B447700900123&MessageSid=SM3&Latitude=51.5&Longitude=-0.12"
	                 "&Address=1+High+St&Label=Home", NULL, 0, &f, &b, &e) == 0 &&
	      webhook_batch_size(&b) == 1, "twilio: WhatsApp location");
	CHECK_STR(field(turn_at(&b, 0), "text"), "[LOCATION]", "twilio: a location is stored redacted");
	twilio_done(&f, &b);
	CHECK(twilio_map("From=whatsapp%3A%2B447700900123&MessageSid=SM3&Latitude=51.5&Longitude=-0.12",
	                 NULL, SOURCE_LOCATION_DROP, &f, &b, &e) == 0 && webhook_batch_size(&b) == 0 &&
	      webhook_batch_count(&b, METRICS_WEBHOOK_DROPPED, "location") == 1,
	      "twilio: location = drop stores nothing and counts it");
	twilio_done(&f, &b);

	CHECK(twilio_map("CallSid=CA9&From=%2B14155550100&SpeechResult=my+number+is+five&Confidence=0.9"
	                 "&CallStatus=in-progress", "idem-1", 0, &f, &b, &e) == 0 &&
	      webhook_batch_size(&b) == 1, "twilio: Gather speech");
	CHECK_STR(field(turn_at(&b, 0), "conversation_id"), "CA9", "twilio: the call is the conversation");
	CHECK_STR(field(turn_at(&b, 0), "channel"), "voice", "twilio: Gather is voice");
	CHECK_STR(b.ids[0], "speech:idem:idem-1", "twilio: the idempotency token names a Gather");
	twilio_done(&f, &b);
	char first[128] = "";
	CHECK(twilio_map("CallSid=CA9&From=%2B1&SpeechResult=yes&Confidence=0.8", NULL, 0, &f, &b, &e) == 0 &&
	      b.ids[0] && strncmp(b.ids[0], "speech:", 7) == 0, "twilio: without a token, a digest of the fields");
	snprintf(first, sizeof first, "%s", b.ids[0] ? b.ids[0] : "");
	twilio_done(&f, &b);
	CHECK(twilio_map("Confidence=0.8&SpeechResult=yes&From=%2B1&CallSid=CA9", NULL, 0, &f, &b, &e) == 0 &&
	      b.ids[0] && strcmp(b.ids[0], first) == 0, "twilio: the same fields in any order, the same id");
	twilio_done(&f, &b);
	CHECK(twilio_map("CallSid=CA9&From=%2B1&SpeechResult=no&Confidence=0.8", NULL, 0, &f, &b, &e) == 0 &&
	      b.ids[0] && strcmp(b.ids[0], first) != 0, "twilio: another utterance, another id");
	twilio_done(&f, &b);

	CHECK(twilio_map("TranscriptionSid=TR1&TranscriptionText=call+me+back&TranscriptionStatus=completed"
	                 "&RecordingSid=RE1&CallSid=CA7&From=%2B14155550100", NULL, 0, &f, &b, &e) == 0 &&
	      webhook_batch_size(&b) == 1, "twilio: recording transcription");
	CHECK_STR(field(turn_at(&b, 0), "channel"), "voice", "twilio: transcription is voice");
	CHECK_STR(b.ids[0], "TR1", "twilio: TranscriptionSid is the id");
	twilio_done(&f, &b);
	CHECK(twilio_map("TranscriptionSid=TR2&TranscriptionStatus=failed&CallSid=CA7", NULL, 0, &f, &b, &e) == 0 &&
	      webhook_batch_count(&b, METRICS_WEBHOOK_UNHANDLED, "transcription_failed") == 1,
	      "twilio: a failed transcription is counted");
	twilio_done(&f, &b);

	CHECK(twilio_map("EventType=onMessageAdded&ConversationSid=CH1&MessageSid=IM1&Body=hi+there"
	                 "&Author=whatsapp%3A%2B447700900124&Source=WHATSAPP&ParticipantSid=MB1", NULL, 0,
	                 &f, &b, &e) == 0 && webhook_batch_size(&b) == 1, "twilio: Conversations message");
	CHECK_STR(field(turn_at(&b, 0), "conversation_id"), "CH1", "twilio: ConversationSid is the conversation");
	CHECK_STR(field(turn_at(&b, 0), "channel"), "whatsapp", "twilio: Source picks the channel");
	CHECK_STR(b.senders[0], "+447700900124", "twilio: Author is the sender");
	CHECK_STR(b.ids[0], "IM1", "twilio: the Conversations MessageSid is the id");
	twilio_done(&f, &b);
	CHECK(twilio_map("EventType=onParticipantAdded&ConversationSid=CH1", NULL, 0, &f, &b, &e) == 0 &&
	      webhook_batch_count(&b, METRICS_WEBHOOK_UNHANDLED, "onParticipantAdded") == 1,
	      "twilio: another Conversations event is counted by its name");
	twilio_done(&f, &b);
	CHECK(twilio_map("EventType=onSomethingNew&ConversationSid=CH1", NULL, 0, &f, &b, &e) == 0 &&
	      webhook_batch_count(&b, METRICS_WEBHOOK_UNHANDLED, "other") == 1,
	      "twilio: an unknown event name is never a label");
	twilio_done(&f, &b);

	CHECK(twilio_map("From=%2B1&MessageSid=SM2&MessageStatus=delivered", NULL, 0, &f, &b, &e) == 0 &&
	      webhook_batch_size(&b) == 0 && webhook_batch_count(&b, METRICS_WEBHOOK_STATUS, "delivered") == 1,
	      "twilio: a status callback is counted, not stored");
	twilio_done(&f, &b);
	CHECK(twilio_map("CallSid=CA1&CallStatus=ringing&From=%2B1", NULL, 0, &f, &b, &e) == 0 &&
	      webhook_batch_count(&b, METRICS_WEBHOOK_UNHANDLED, "call") == 1, "twilio: a call event is counted");
	twilio_done(&f, &b);
	CHECK(twilio_map("Foo=bar", NULL, 0, &f, &b, &e) == 0 &&
	      webhook_batch_count(&b, METRICS_WEBHOOK_UNHANDLED, "unknown") == 1, "twilio: unknown is counted");
	twilio_done(&f, &b);
	CHECK(twilio_map("Body=hi", NULL, 0, &f, &b, &e) == -1 && e.err == RD_E_INVALID_FIELD,
	      "twilio: no From -> invalid_field");
	twilio_done(&f, &b);
	CHECK(twilio_map("From=whatsapp%3A&Body=hi", NULL, 0, &f, &b, &e) == -1 && e.err == RD_E_INVALID_FIELD,
	      "twilio: From 'whatsapp:' alone names nobody -> invalid_field");
	twilio_done(&f, &b);
	CHECK(twilio_map("From=%2B1&Body=%FF%FE", NULL, 0, &f, &b, &e) == -1 && e.err == RD_E_INVALID_FIELD,
	      "twilio: text not UTF-8 -> invalid_field");
	twilio_done(&f, &b);

	json_t *root = json_loads("{\"EventType\":\"onMessageAdded\",\"ConversationSid\":\"CH2\","
	                          "\"MessageSid\":\"IM2\",\"Body\":\"json body\",\"Index\":4,"
	                          "\"Attributes\":{}}", 0, NULL);
	CHECK(webhook_twilio_json_form(root, &f, &e) == 0 && f.n == 5, "twilio json: flat fields as a form");
	CHECK_STR(webhook_form_get(&f, "Index"), "4", "twilio json: a number as text");
	CHECK(webhook_batch_init(&b) == 0 && webhook_twilio_collect(&f, NULL, 0, &b, &e) == 0 &&
	      webhook_batch_size(&b) == 1, "twilio json: collected like a form");
	twilio_done(&f, &b);
	json_decref(root);
	CHECK(webhook_twilio_body_ok("{}", 2, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),
	      "twilio json: bodySHA256 of {} (sha256sum)");
	CHECK(!webhook_twilio_body_ok("{} ", 3, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),
	      "twilio json: another body refused");
	CHECK(!webhook_twilio_body_ok("{}", 2, NULL), "twilio json: no bodySHA256 refused");
}

/* The documented vectors, read at test time when /work/shared has them
 * (never copied here): every form vector, and the JSON-body ones whose URL
 * carries bodySHA256. */
static void test_twilio_official_file(void)
{
	json_t *doc = json_load_file("/work/shared/data/payloads/twilio_signature_official_test_vectors.json",
	                             0, NULL), *v;
	size_t i;
	if (!doc)
		return;
	json_array_foreach(json_object_get(doc, "vectors"), i, v) {
		struct webhook_form f = { calloc(WEBHOOK_MAX_PARAMS, sizeof *f.v), 0 };
		const char *k, *tok = field(v, "token"), *body = field(v, "body");
		json_t *pv;
		char name[160];
		json_object_foreach(json_object_get(v, "params"), k, pv)
			f.v[f.n++] = (struct webhook_param){ strdup(k), strdup(json_string_value(pv)) };
		bool ok = webhook_twilio_verify(tok, strlen(tok), field(v, "url"), &f, field(v, "signature"));
		if (ok && body)
			ok = webhook_twilio_body_ok(body, strlen(body), field(v, "bodySHA256_hex"));
		snprintf(name, sizeof name, "twilio official file: %s", field(v, "case"));
		CHECK(ok == json_is_true(json_object_get(v, "expect")), name);
		webhook_form_free(&f);
	}
	json_decref(doc);
}

/* WhatsApp Cloud API notification shapes of Meta's webhook reference. */
static void test_whatsapp_messages(void)
{
	struct rd_error e;
	struct webhook_batch b;
	json_t *root;
	CHECK(collect_json(
		"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"WABA\",\"changes\":[{\"field\":\"messages\","
		"\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15550001\","
		"\"phone_number_id\":\"PN1\"},\"contacts\":[{\"profile\":{\"name\":\"Kerry\"},\"wa_id\":\"4477\"}],"
		"\"messages\":["
		"{\"from\":\"4477\",\"id\":\"wamid.1\",\"timestamp\":\"1700000000\",\"type\":\"text\",\"text\":{\"body\":\"one\"}},"
		"{\"from\":\"4477\",\"id\":\"wamid.2\",\"timestamp\":\"1700000001\",\"type\":\"interactive\","
		"\"interactive\":{\"type\":\"button_reply\",\"button_reply\":{\"id\":\"b1\",\"title\":\"Yes\"}}},"
		"{\"from\":\"4477\",\"id\":\"wamid.3\",\"timestamp\":\"1700000002\",\"type\":\"interactive\","
		"\"interactive\":{\"type\":\"list_reply\",\"list_reply\":{\"id\":\"r2\",\"title\":\"Tuesday\",\"description\":\"after 5\"}}},"
		"{\"from\":\"4477\",\"id\":\"wamid.4\",\"timestamp\":\"1700000003\",\"type\":\"button\","
		"\"button\":{\"text\":\"Stop promotions\",\"payload\":\"STOP\"}},"
		"{\"from\":\"4477\",\"id\":\"wamid.5\",\"timestamp\":\"1700000004\",\"type\":\"image\","
		"\"image\":{\"caption\":\"my card\",\"mime_type\":\"image/jpeg\",\"sha256\":\"x\",\"id\":\"M1\"}},"
		"{\"from\":\"4477\",\"id\":\"wamid.6\",\"timestamp\":\"1700000005\",\"type\":\"location\","
		"\"location\":{\"latitude\":51.5,\"longitude\":-0.1,\"name\":\"Home\",\"address\":\"1 High St\"}},"
		"{\"from\":\"4477\",\"id\":\"wamid.7\",\"timestamp\":\"1700000006\",\"type\":\"contacts\","
		"\"contacts\":[{\"name\":{\"formatted_name\":\"Ann Lee\",\"first_name\":\"Ann\"},"
		"\"phones\":[{\"phone\":\"+44 7700 900999\",\"type\":\"CELL\"}],\"emails\":[{\"email\":\"ann@example.com\"}]}]},"
		"{\"from\":\"4477\",\"id\":\"wamid.8\",\"timestamp\":\"1700000007\",\"type\":\"reaction\","
		"\"reaction\":{\"message_id\":\"wamid.1\",\"emoji\":\"\\ud83d\\udc4d\"}},"
		"{\"from\":\"4477\",\"id\":\"wamid.9\",\"timestamp\":\"1700000008\",\"type\":\"unsupported\","
		"\"errors\":[{\"code\":131051,\"title\":\"Message type unknown\"}]}],"
		"\"statuses\":[{\"id\":\"wamid.0\",\"status\":\"read\",\"timestamp\":\"1\",\"recipient_id\":\"4477\"},"
		"{\"id\":\"wamid.0\",\"status\":\"delivered\",\"timestamp\":\"1\",\"recipient_id\":\"4477\"}],"
		"\"errors\":[{\"code\":131000}]}}]}]}", 1, 0, &b, &e, &root) == 0, "whatsapp: notification collected");
	CHECK(webhook_batch_size(&b) == 8, "whatsapp: eight stored kinds, the unsupported one counted");
	CHECK_STR(field(turn_at(&b, 0), "conversation_id"), "4477@PN1", "whatsapp: sender at the business number");
	CHECK_STR(field(turn_at(&b, 0), "ts"), "1700000000", "whatsapp: timestamp kept");
	CHECK_STR(b.ids[0], "wamid.1", "whatsapp: the wamid is the provider id");
	CHECK_STR(b.senders[0], "4477", "whatsapp: from is the sender");
	CHECK_STR(field(turn_at(&b, 1), "text"), "Yes", "whatsapp: button reply title");
	CHECK_STR(meta(turn_at(&b, 1), "reply_id"), "b1", "whatsapp: button reply id as metadata");
	CHECK_STR(field(turn_at(&b, 2), "text"), "Tuesday\nafter 5", "whatsapp: list reply title and description");
	CHECK_STR(field(turn_at(&b, 3), "text"), "Stop promotions", "whatsapp: template quick-reply button");
	CHECK_STR(field(turn_at(&b, 4), "text"), "my card", "whatsapp: the image caption is the text");
	CHECK_STR(meta(turn_at(&b, 4), "type"), "image", "whatsapp: media type kept");
	CHECK_STR(field(turn_at(&b, 5), "text"), "[LOCATION]", "whatsapp: the location is redacted");
	char *dump = json_dumps(b.list, JSON_COMPACT);
	CHECK(dump && !strstr(dump, "High St") && !strstr(dump, "51.5") && !strstr(dump, "Ann") &&
	      !strstr(dump, "900999") && !strstr(dump, "ann@") && !strstr(dump, "Kerry"),
	      "whatsapp: no address, coordinates, contact card or profile name in any turn");
	free(dump);
	CHECK_STR(field(turn_at(&b, 6), "text"), "shared contact: [NAME] [PHONE] [EMAIL]",
	          "whatsapp: a shared contact's fields are tokens");
	CHECK_STR(field(turn_at(&b, 7), "text"), "\xf0\x9f\x91\x8d", "whatsapp: a reaction's emoji");
	CHECK_STR(meta(turn_at(&b, 7), "reaction_to"), "wamid.1", "whatsapp: the message reacted to");
	CHECK(webhook_batch_count(&b, METRICS_WEBHOOK_UNHANDLED, "unsupported") == 1,
	      "whatsapp: unsupported counted by kind");
	CHECK(webhook_batch_count(&b, METRICS_WEBHOOK_STATUS, "read") == 1 &&
	      webhook_batch_count(&b, METRICS_WEBHOOK_STATUS, "delivered") == 1, "whatsapp: statuses counted");
	CHECK(webhook_batch_count(&b, METRICS_WEBHOOK_UNHANDLED, "error") == 1, "whatsapp: errors counted");
	done_json(&b, root);

	CHECK(collect_json("{\"entry\":[{\"changes\":[{\"value\":{\"metadata\":{\"phone_number_id\":\"PN2\"},"
	                   "\"messages\":[{\"from\":\"4477\",\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	                   "{\"from\":\"4477\",\"type\":\"location\",\"location\":{\"latitude\":1}}]}}]}]}",
	                   1, SOURCE_LOCATION_DROP, &b, &e, &root) == 0 && webhook_batch_size(&b) == 1,
	      "whatsapp: location = drop stores no turn");
	CHECK_STR(field(turn_at(&b, 0), "conversation_id"), "4477@PN2",
	          "whatsapp: another business number, another conversation");
	CHECK(webhook_batch_count(&b, METRICS_WEBHOOK_DROPPED, "location") == 1, "whatsapp: the drop is counted");
	done_json(&b, root);

	{
		char big[1200];
		snprintf(big, sizeof big, "{\"entry\":[{\"changes\":[{\"value\":{\"metadata\":{\"phone_number_id\":"
		         "\"%0300d\"},\"messages\":[{\"from\":\"%0300d\",\"type\":\"text\",\"text\":{\"body\":\"x\"}}]}}]}]}",
		         1, 2);
		CHECK(collect_json(big, 1, 0, &b, &e, &root) == -1 && e.err == RD_E_INVALID_FIELD,
		      "whatsapp: a conversation id that does not fit is refused, never truncated");
		done_json(&b, root);
	}
	CHECK(collect_json("{\"entry\":[{\"changes\":[{\"field\":\"account_update\",\"value\":{}}]}]}", 1, 0,
	                   &b, &e, &root) == 0 && webhook_batch_count(&b, METRICS_WEBHOOK_UNHANDLED, "field") == 1,
	      "whatsapp: another field is counted");
	done_json(&b, root);
	CHECK(collect_json("{\"entry\":{}}", 1, 0, &b, &e, &root) == -1 && e.err == RD_E_INVALID_BODY,
	      "whatsapp: entry not an array -> invalid_body");
	done_json(&b, root);
	CHECK(collect_json("{\"entry\":[{\"changes\":[{\"value\":{\"messages\":[{\"from\":\"1\","
	                   "\"type\":\"text\",\"text\":{}}]}}]}]}", 1, 0, &b, &e, &root) == -1 &&
	      e.err == RD_E_INVALID_FIELD, "whatsapp: a text message without text.body -> invalid_field");
	done_json(&b, root);

	json_t *many = json_array();
	for (int i = 0; i <= RD_MAX_BATCH; i++)
		json_array_append_new(many, json_pack("{s:s, s:s, s:{s:s}}", "from", "1", "type", "text",
		                                      "text", "body", "x"));
	root = json_pack("{s:[{s:[{s:{s:o}}]}]}", "entry", "changes", "value", "messages", many);
	CHECK(webhook_batch_init(&b) == 0 && webhook_wa_collect(root, 0, &b, &e) == -1 &&
	      e.err == RD_E_INVALID_BODY, "whatsapp: more than a batch -> invalid_body");
	done_json(&b, root);
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
	test_twilio_official_file();
	test_whatsapp_messages();
	test_handshake();
	test_secret_read();
	return TEST_DONE();
}
