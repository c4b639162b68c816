/* libFuzzer harness: the webhook form decoder and the signature checks. */
#include "webhook.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webhook_form f;
	char sig[WEBHOOK_TWILIO_SIG_LEN + 1];
	if (webhook_form_parse((const char *)data, size, &f) == 0) {
		const char *url = webhook_form_get(&f, "url");
		const char *got = webhook_form_get(&f, "sig");
		webhook_twilio_sign("12345", 5, url ? url : "https://example.com/x", &f, sig);
		(void)webhook_twilio_verify("12345", 5, url ? url : "https://h:1/x?y", &f, got ? got : sig);
		(void)webhook_meta_verify("s", 1, data, size, got);
		webhook_form_free(&f);
	}
	return 0;
}
