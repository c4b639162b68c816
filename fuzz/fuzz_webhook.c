/*
 * libFuzzer harness: the webhook routes' pure parts, with valid signatures.
 *
 * Each input is signed as the provider would sign it (Meta's HMAC-SHA256
 * over the raw body, Twilio's HMAC-SHA1 over URL and sorted fields), so the
 * checks must accept it (and refuse it with one signature byte changed);
 * then it goes where a signed body goes: the form decoder (Twilio), the
 * WhatsApp notification walker and the Dialogflow CX field readers, and
 * each provider's mapping onto {"messages": [...]}.
 */
#include "app.h"
#include "ingest.h"
#include "webhook.h"

#include <stdlib.h>
#include <string.h>

static const char secret[] = "fuzz-app-secret";

static void meta_signature(const uint8_t *data, size_t size)
{
	char sig[WEBHOOK_META_SIG_LEN + 1];
	webhook_meta_sign(secret, sizeof secret - 1, data, size, sig);
	if (!webhook_meta_verify(secret, sizeof secret - 1, data, size, sig))
		abort();
	sig[WEBHOOK_META_SIG_LEN - 1] = sig[WEBHOOK_META_SIG_LEN - 1] == '0' ? '1' : '0';
	if (webhook_meta_verify(secret, sizeof secret - 1, data, size, sig))
		abort();
}

static void twilio_form(const uint8_t *data, size_t size)
{
	struct webhook_form f;
	char sig[WEBHOOK_TWILIO_SIG_LEN + 1];
	if (webhook_form_parse((const char *)data, size, &f))
		return;
	const char *url = "https://bots.example.com/v1/webhooks/twilio?tenant=t";
	webhook_twilio_sign(secret, sizeof secret - 1, url, &f, sig);
	if (!webhook_twilio_verify(secret, sizeof secret - 1, url, &f, sig))
		abort();
	json_t *msgs = NULL;
	enum rd_channel ch;
	const char *sender = NULL;
	struct rd_error e;
	if (webhook_twilio_messages(&f, &msgs, &ch, &sender, &e) == 0 && msgs &&
	    (json_array_size(json_object_get(msgs, "messages")) != 1 || !sender || !*sender))
		abort();   /* a Body makes exactly one message, with its sender */
	json_decref(msgs);
	webhook_form_free(&f);
}

static void json_payloads(const uint8_t *data, size_t size)
{
	struct rd_error e;
	json_t *root = ingest_parse_body((const char *)data, size, &e);
	if (!root)
		return;
	json_t *out = json_array();
	const char **senders = calloc(RD_MAX_BATCH, sizeof *senders);
	if (out && senders && webhook_wa_collect(root, out, senders, &e) == 0)
		for (size_t i = 0; i < json_array_size(out); i++)
			if (!senders[i] || !json_is_object(json_array_get(out, i)))
				abort();
	json_t *msgs = NULL;
	if (senders && webhook_wa_messages(root, &msgs, senders, &e) == 0 && msgs &&
	    json_array_size(json_object_get(msgs, "messages")) != json_array_size(out))
		abort();   /* the same messages as webhook_wa_collect found */
	json_decref(msgs);
	enum rd_channel ch;
	const char *caller;
	if (webhook_cx_messages(root, &msgs, &ch, &caller, &e) == 0 && msgs &&
	    json_array_size(json_object_get(msgs, "messages")) != 1)
		abort();   /* an utterance makes exactly one message */
	json_decref(msgs);
	free(senders);
	json_decref(out);
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	meta_signature(data, size);
	twilio_form(data, size);
	json_payloads(data, size);
	return 0;
}
