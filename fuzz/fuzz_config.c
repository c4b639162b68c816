/* libFuzzer harness: arbitrary config files through the INI loader. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/redactd-fuzz-config-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		struct config *cfg = NULL;
		char err[4096];
		if (config_load(path, &cfg, err, sizeof err) == 0)
			config_free(cfg);
	}
	close(fd);
	unlink(path);
	return 0;
}
