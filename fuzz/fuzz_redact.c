/* libFuzzer harness: arbitrary text through the redaction pipeline on every
 * channel; checks the findings stay inside the input and in order. Every
 * default rule runs, the PERSON and ADDRESS scanners (redact_names.c)
 * included, with an allow list and the hash style on them so that those
 * paths are fuzzed too. */
#include "redact.h"
#include "util.h"

#include <stdlib.h>

static struct redact *engine;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct redact_result res;
	if (!engine) {
		unsigned char k[32] = { 1 };
		char err[1024];
		static char *allow[] = { (char *)"sarah", (char *)"alexa" };
		static struct rule_conf rules[2] = {
			{ .name = (char *)"person", .set = RULE_F_ALLOW, .allow = allow, .nallow = 2, .enabled = true },
			{ .name = (char *)"address", .set = RULE_F_STYLE, .style = STYLE_HASH, .enabled = true },
		};
		static struct config cfg = { .rules = rules, .nrules = 2 };
		if (!(engine = redact_new(&cfg, k, k, err, sizeof err)))
			abort();
	}
	if (size == 0)
		return 0;
	enum rd_channel ch = (enum rd_channel)(data[0] % CH_COUNT);
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	if (!util_utf8_valid(text, len))
		return 0;
	if (redact_run(engine, "default", ch, text, len, &res) == 0) {
		for (size_t i = 0; i < res.nfindings; i++)
			if (res.findings[i].start > res.findings[i].end || res.findings[i].end > len ||
			    (i && res.findings[i].start < res.findings[i - 1].end))
				abort();
	}
	return 0;
}
