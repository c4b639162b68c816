/*
 * cli_consent.c — `redactd consent add|list|optout` (issue 17).
 *
 * Like the other operator commands (cli_admin.c) it opens the app
 * read-only: a record is written through store_exec on a short-lived
 * connection, beside a running daemon. The source of a record and the
 * actor of its audit entry is "cli". Exit codes: 0 success, 1 runtime
 * failure, 2 usage (and a bad kind, state, method, ts or target).
 */
#include "cli.h"
#include "consent.h"
#include "json_mem.h"
#include "log.h"
#include "tenant.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define ACTOR "cli"

static const char consent_help[] =
	"usage: redactd consent add (--email X | --phone X | --conversation ID) --kind K\n"
	"                           --state given|declined|withdrawn [--method M] [--ts TS]\n"
	"                           [--tenant T] [-c FILE]\n"
	"       redactd consent list (--email X | --phone X | --conversation ID) [--tenant T]\n"
	"       redactd consent optout (--email X | --phone X) [--tenant T]\n"
	"add appends a consent decision (kind: transcription, call_recording, marketing,\n"
	"messaging, ...; method: ivr, checkbox, agent, verbal, keyword, web, sms, whatsapp,\n"
	"email, paper, api or other) with its audit entry; a withdrawal of transcription\n"
	"or call_recording erases what it allowed where consent_withdrawal = erase.\n"
	"list prints the history as JSON lines, oldest first (audited); optout prints\n"
	"whether the subject opted out of messaging.\n";

struct consent_opts {
	const char *config, *kind, *state, *method, *ts;
	struct consent_target t;
	int targets;
};

enum { O_EMAIL = 256, O_PHONE, O_CONV, O_KIND, O_STATE, O_METHOD, O_TS, O_TENANT };

static int parse(int argc, char **argv, struct consent_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "help", no_argument, 0, 'h' },
		{ "verbose", no_argument, 0, 'v' }, { "email", required_argument, 0, O_EMAIL },
		{ "phone", required_argument, 0, O_PHONE }, { "conversation", required_argument, 0, O_CONV },
		{ "kind", required_argument, 0, O_KIND }, { "state", required_argument, 0, O_STATE },
		{ "method", required_argument, 0, O_METHOD }, { "ts", required_argument, 0, O_TS },
		{ "tenant", required_argument, 0, O_TENANT }, { 0, 0, 0, 0 },
	};
	int c;
	memset(o, 0, sizeof *o);
	o->config = cli_default_config();
	o->t.tenant = "default";
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:v", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'v': log_set_level(LOG_INFO); break;
		case 'h': fputs(consent_help, stdout); return EXIT_OK;
		case O_EMAIL: o->t.kind = CONSENT_EMAIL; o->t.value = optarg; o->targets++; break;
		case O_PHONE: o->t.kind = CONSENT_PHONE; o->t.value = optarg; o->targets++; break;
		case O_CONV: o->t.kind = CONSENT_CONVERSATION; o->t.value = optarg; o->targets++; break;
		case O_KIND: o->kind = optarg; break;
		case O_STATE: o->state = optarg; break;
		case O_METHOD: o->method = optarg; break;
		case O_TS: o->ts = optarg; break;
		case O_TENANT: o->t.tenant = optarg; break;
		default: fputs(consent_help, stderr); return EXIT_USAGE;
		}
	}
	if (!tenant_valid(o->t.tenant)) {
		fprintf(stderr, "redactd consent: --tenant must be 1 to %d of A-Z a-z 0-9 . _ -\n",
		        RD_MAX_NAME_LEN);
		return EXIT_USAGE;
	}
	return -1;
}

static int consent_add_cmd(struct app *app, const struct consent_opts *o)
{
	struct rd_error e;
	struct consent_in c;
	struct consent_result r;
	if (consent_in_parse(o->kind, o->state, o->method, o->ts, "--", &c, &e) ||
	    consent_add(app, &o->t, &c, ACTOR, &r, &e))
		return cli_fail("consent add", &e);
	printf("recorded consent %lld: %s %s\n", (long long)r.id, c.kind, consent_state_name(c.state));
	if (r.removed || r.kept)
		printf("withdrawal erased %lld record(s), %lld kept by a legal hold\n",
		       (long long)r.removed, (long long)r.kept);
	return EXIT_OK;
}

static int consent_list_cmd(struct app *app, const struct consent_opts *o)
{
	struct rd_error e;
	json_t *out, *row;
	size_t i;
	if (consent_list(app, &o->t, ACTOR, &out, &e))
		return cli_fail("consent list", &e);
	json_array_foreach(json_object_get(out, "consents"), i, row) {
		char *s = json_dumps(row, JSON_COMPACT);
		if (s)
			puts(s);
		json_mem_free_text(s);
	}
	json_decref(out);
	return EXIT_OK;
}

static int consent_optout_cmd(struct app *app, const struct consent_opts *o)
{
	struct rd_error e;
	bool out;
	int64_t since;
	char ts[32];
	if (o->t.kind == CONSENT_CONVERSATION) {
		fputs(consent_help, stderr);
		return EXIT_USAGE;
	}
	if (consent_optout(app, &o->t, &out, &since, &e))
		return cli_fail("consent optout", &e);
	util_format_ts(since, ts);
	printf("%s%s%s\n", out ? "opted out" : "not opted out", since ? " since " : "", since ? ts : "");
	return EXIT_OK;
}

int cmd_consent(int argc, char **argv)
{
	struct consent_opts o;
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	const char *verb = optind + 1 == argc ? argv[optind] : "";
	bool add = !strcmp(verb, "add"), list = !strcmp(verb, "list"), opt = !strcmp(verb, "optout");
	if ((!add && !list && !opt) || o.targets != 1 || (!add && (o.kind || o.state || o.method || o.ts))) {
		fputs(consent_help, stderr);
		return EXIT_USAGE;
	}
	struct app app;
	if ((rc = cli_open_app(&app, o.config, APP_READONLY)))
		return rc;
	rc = add ? consent_add_cmd(&app, &o) : list ? consent_list_cmd(&app, &o) : consent_optout_cmd(&app, &o);
	app_close(&app);
	return rc;
}
