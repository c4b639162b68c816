/*
 * cli_tenant.c — `redactd tenant close|cancel|list`: contract ends.
 *
 * Like the other operator commands it opens the app read-only; its writes
 * go through store_exec on a short-lived connection, so it works while
 * the daemon runs (whose sweeper then carries the closure out). The actor
 * of its audit entries is "cli".
 */
#include "cli.h"
#include "log.h"
#include "tenant.h"
#include "tenant_close.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define ACTOR "cli"

static const char tenant_help[] =
	"usage: redactd tenant close NAME --after DURATION [-c FILE]\n"
	"       redactd tenant cancel NAME [-c FILE]\n"
	"       redactd tenant list [--json] [-c FILE]\n"
	"close schedules the erasure of everything tenant NAME holds once DURATION\n"
	"(e.g. 30d, 12mo, 0 for now) has passed: from then on its ingest is refused\n"
	"(409 tenant_closed) and the daemon's sweeper erases its records in batches,\n"
	"keeps those under a legal hold, and destroys its data keys once no record\n"
	"uses them (crypto-shredding). Every step is audit-logged. cancel removes a\n"
	"closure (what was erased stays erased); list shows every tenant, its\n"
	"records and its closure.\n";

enum { OPT_AFTER = 256, OPT_JSON };

struct tenant_opts {
	const char *config, *after;
	bool json;
};

static int parse(int argc, char **argv, struct tenant_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "help", no_argument, 0, 'h' },
		{ "after", required_argument, 0, OPT_AFTER }, { "json", no_argument, 0, OPT_JSON },
		{ "verbose", no_argument, 0, 'v' }, { 0, 0, 0, 0 },
	};
	int c;
	memset(o, 0, sizeof *o);
	o->config = cli_default_config();
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:v", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'v': log_set_level(LOG_INFO); break;
		case 'h': fputs(tenant_help, stdout); return EXIT_OK;
		case OPT_AFTER: o->after = optarg; break;
		case OPT_JSON: o->json = true; break;
		default: fputs(tenant_help, stderr); return EXIT_USAGE;
		}
	}
	return -1;
}

/* --after as seconds; -1 after saying what is wrong. */
static int64_t parse_after(const char *v)
{
	int64_t s;
	int rc = util_parse_duration(v, &s);
	if (rc == -2)
		fprintf(stderr, "redactd tenant close: --after %s is ambiguous: write min for minutes or mo "
		        "for months\n", v);
	else if (rc || s > TENANT_CLOSE_MAX_AFTER_S)
		fprintf(stderr, "redactd tenant close: --after must be a duration from 0 to 3650d "
		        "(s, min, h, d, w, mo, y), e.g. 30d\n");
	else
		return s;
	return -1;
}

static int do_close(struct app *app, const char *name, int64_t after_s)
{
	struct rd_error e;
	json_t *out;
	if (tenant_close_schedule(app, name, after_s, ACTOR, &out, &e))
		return cli_fail("tenant close", &e);
	printf("tenant %s: closure scheduled, due %s\n", name,
	       json_string_value(json_object_get(out, "due")));
	json_decref(out);
	return EXIT_OK;
}

static int do_cancel(struct app *app, const char *name)
{
	struct rd_error e;
	if (tenant_close_cancel(app, name, ACTOR, &e))
		return cli_fail("tenant cancel", &e);
	printf("tenant %s: closure cancelled\n", name);
	return EXIT_OK;
}

static void print_line(const json_t *t)
{
	const json_t *c = json_object_get(t, "closure");
	printf("%-24s %10lld records", json_string_value(json_object_get(t, "name")),
	       (long long)json_integer_value(json_object_get(t, "records")));
	if (c)
		printf("  closure %s, due %s%s%s, %lld held", json_string_value(json_object_get(c, "state")),
		       json_string_value(json_object_get(c, "due")), json_object_get(c, "done") ? ", done " : "",
		       json_object_get(c, "done") ? json_string_value(json_object_get(c, "done")) : "",
		       (long long)json_integer_value(json_object_get(c, "held")));
	putchar('\n');
}

static int do_list(struct app *app, bool as_json)
{
	struct rd_error e;
	json_t *out, *t;
	size_t i;
	if (tenant_close_list(app, &out, &e))
		return cli_fail("tenant list", &e);
	if (as_json) {
		json_dumpf(out, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		json_array_foreach(json_object_get(out, "tenants"), i, t)
			print_line(t);
	}
	json_decref(out);
	return EXIT_OK;
}

int cmd_tenant(int argc, char **argv)
{
	struct tenant_opts o;
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	const char *verb = optind < argc ? argv[optind] : "";
	int rest = argc - optind - 1;
	bool close = !strcmp(verb, "close") && rest == 1 && o.after && !o.json;
	bool cancel = !strcmp(verb, "cancel") && rest == 1 && !o.after && !o.json;
	bool list = !strcmp(verb, "list") && rest == 0 && !o.after;
	if (!close && !cancel && !list) {
		fputs(tenant_help, stderr);
		return EXIT_USAGE;
	}
	const char *name = rest == 1 ? argv[optind + 1] : NULL;
	if (name && !tenant_valid(name)) {
		fprintf(stderr, "redactd tenant %s: NAME must be 1 to %d of A-Z a-z 0-9 . _ -\n", verb,
		        RD_MAX_NAME_LEN);
		return EXIT_USAGE;
	}
	int64_t after_s = close ? parse_after(o.after) : 0;
	if (after_s < 0)
		return EXIT_USAGE;
	struct app app;
	if ((rc = cli_open_app(&app, o.config, APP_READONLY)))
		return rc;
	rc = close ? do_close(&app, name, after_s) : cancel ? do_cancel(&app, name) : do_list(&app, o.json);
	app_close(&app);
	return rc;
}
