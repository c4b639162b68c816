/* libFuzzer harness: request bodies through parsing and validation. */
#include "config.h"
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

static struct config *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!cfg) {
		char err[4096];
		const char *path = getenv("FUZZ_CONFIG") ? getenv("FUZZ_CONFIG") : "config/redactd.conf";
		if (config_load(path, &cfg, err, sizeof err))
			abort();
	}
	struct rd_error e;
	json_t *root = ingest_parse_body((const char *)data, size, &e);
	if (root) {
		struct ingest_options opt = { .channel = CH_WEB };
		(void)!ingest_validate(cfg, &opt, root, &e);
		json_decref(root);
	}
	return 0;
}
