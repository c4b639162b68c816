/*
 * libFuzzer harness: the webhook routes' pure parts, with valid signatures.
 *
 * Each input is signed as the provider would sign it (Meta's HMAC-SHA256
 * over the raw body, Twilio's HMAC-SHA1 over URL and sorted fields), so the
 * checks must accept it (and refuse it with one signature byte changed);
 * then it goes where a signed body goes: the form decoder (Twilio, and
 * Twilio's JSON bodies as forms), the WhatsApp notification walker and the
 * Dialogflow CX field readers, each collecting its turns into a batch.
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

/* Every turn is a message object with a conversation and a text; every
 * WhatsApp turn has its sender. */
static void check_batch(const struct webhook_batch *b, bool senders)
{
	json_t *msgs = webhook_batch_messages(b), *m;
	size_t i;
	json_array_foreach(json_object_get(msgs, "messages"), i, m) {
		if (!json_is_string(json_object_get(m, "conversation_id")) ||
		    !json_is_string(json_object_get(m, "text")) || (senders && !b->senders[i]))
			abort();
	}
	if (webhook_batch_size(b) && !msgs)
		abort();
	json_decref(msgs);
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
	struct webhook_batch b;
	struct rd_error e;
	if (webhook_batch_init(&b) == 0) {
		if (webhook_twilio_collect(&f, NULL, 0, &b, &e) == 0)
			check_batch(&b, false);
		webhook_batch_free(&b);
	}
	webhook_form_free(&f);
}

static void json_payloads(const uint8_t *data, size_t size)
{
	struct rd_error e;
	struct webhook_batch b;
	json_t *root = ingest_parse_body((const char *)data, size, &e);
	if (!root)
		return;
	if (webhook_batch_init(&b) == 0) {
		if (webhook_wa_collect(root, 0, &b, &e) == 0)
			check_batch(&b, true);
		webhook_batch_free(&b);
	}
	if (webhook_batch_init(&b) == 0) {
		if (webhook_cx_collect(root, &b, &e) == 0)
			check_batch(&b, false);
		webhook_batch_free(&b);
	}
	struct webhook_form f;
	if (webhook_twilio_json_form(root, &f, &e) == 0) {
		if (webhook_batch_init(&b) == 0) {
			if (webhook_twilio_collect(&f, "idem", 1, &b, &e) == 0)
				check_batch(&b, false);
			webhook_batch_free(&b);
		}
		webhook_form_free(&f);
	}
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
