/*
 * libFuzzer harness: what a bot answers in tap mode (forward.c). The same
 * bytes as TwiML (expat: only the text of Message, Body and Say, a DOCTYPE
 * refused) and as a Dialogflow CX WebhookResponse (jansson); whatever they
 * say must make role=bot turns of a fixed conversation, and nothing may
 * crash, leak or expand an entity.
 */
#include "forward.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum forward_kind kinds[] = { FORWARD_TWILIO, FORWARD_CX, FORWARD_WHATSAPP };
	json_t *user = json_pack("{s:[{s:s, s:s, s:s}]}", "messages", "conversation_id", "c1", "text", "hi",
	                         "channel", "sms");
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		json_t *texts = NULL;
		if (forward_bot_texts(kinds[k], (const char *)data, size, &texts))
			continue;
		if (!json_is_array(texts))
			abort();
		json_t *bot = forward_bot_messages(user, texts);
		json_t *list = json_object_get(bot, "messages");
		if (json_array_size(texts) && json_array_size(list) != json_array_size(texts))
			abort();
		for (size_t i = 0; i < json_array_size(list); i++)
			if (strcmp(json_string_value(json_object_get(json_array_get(list, i), "role")), "bot"))
				abort();
		json_decref(bot);
		json_decref(texts);
	}
	json_decref(user);
	return 0;
}
