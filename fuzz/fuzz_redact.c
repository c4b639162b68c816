/* libFuzzer harness: arbitrary text through the redaction pipeline on every
 * channel; checks the findings stay inside the input. */
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
		if (!(engine = redact_new(NULL, k, k, err, sizeof err)))
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
			if (res.findings[i].start > res.findings[i].end || res.findings[i].end > len)
				abort();
	}
	return 0;
}
