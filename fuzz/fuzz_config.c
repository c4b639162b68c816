/*
 * libFuzzer harness: arbitrary config files through the INI loader and
 * through a reload of a running engine, as SIGHUP does: a refused file must
 * leave the running config and engine as they were, an accepted one must
 * give an engine that redacts.
 */
#include "app.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct app app;
static char path[64];

static void write_file(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "w");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
}

static void setup(void)
{
	char err[4096];
	int code;
	snprintf(path, sizeof path, "/tmp/redactd-fuzz-config-%ld.conf", (long)getpid());
	static const char base[] = "[rule \"ticket\"]\npattern = TCK-[0-9]{4}\nentity = TICKET\n";
	write_file((const uint8_t *)base, sizeof base - 1);
	log_set_level(LOG_ERROR);
	if (app_open(&app, path, APP_REDACT_ONLY, err, sizeof err, &code))
		abort();
}

static void redact_sample(void)
{
	static const char text[] = "mail ann@example.com or call +44 7700 900123, ticket TCK-1234";
	struct redact_result res = { 0 };
	struct app_snap *snap = app_snap_acquire(&app);
	if (redact_run(snap->redact, "default", CH_WEB, text, sizeof text - 1, &res))
		abort();
	redact_result_free(&res);
	app_snap_release(snap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!app.snap)
		setup();
	write_file(data, size);
	struct config *cfg = NULL;
	char err[4096];
	if (config_load(path, &cfg, err, sizeof err) == 0)
		config_free(cfg);
	const struct app_snap *before = app.snap;
	if (app_reload(&app, err, sizeof err) != 0 && app.snap != before)
		abort();   /* a refused reload keeps the running snapshot */
	redact_sample();
	return 0;
}
