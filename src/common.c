/*
 * common.c — names of the enums every module shares.
 */
#include "redactd.h"

#include <string.h>

static const char *const channel_names[CH_COUNT] = {
	[CH_WEB] = "web", [CH_WHATSAPP] = "whatsapp", [CH_SMS] = "sms",
	[CH_VOICE] = "voice", [CH_EMAIL] = "email", [CH_OTHER] = "other",
};

static const char *const role_names[ROLE_COUNT] = {
	[ROLE_USER] = "user", [ROLE_AGENT] = "agent", [ROLE_BOT] = "bot", [ROLE_SYSTEM] = "system",
};

const char *rd_channel_name(enum rd_channel ch)
{
	return (unsigned)ch < CH_COUNT ? channel_names[ch] : "?";
}

int rd_channel_parse(const char *s, enum rd_channel *out)
{
	for (int i = 0; i < CH_COUNT; i++) {
		if (strcmp(s, channel_names[i]) == 0) {
			*out = (enum rd_channel)i;
			return 0;
		}
	}
	return -1;
}

const char *rd_role_name(enum rd_role r)
{
	return (unsigned)r < ROLE_COUNT ? role_names[r] : "?";
}

int rd_role_parse(const char *s, enum rd_role *out)
{
	for (int i = 0; i < ROLE_COUNT; i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*out = (enum rd_role)i;
			return 0;
		}
	}
	return -1;
}
