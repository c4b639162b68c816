/*
 * cli_admin.c — operator commands: sweep, export, erase, hold, audit, stats.
 *
 * Each opens the app read-only (no writer thread): writes go through
 * store_exec on a short-lived connection that waits on SQLite's lock, so
 * these commands work while the daemon runs. The actor of their audit
 * entries is cli_actor() ("cli:NAME"). Exit codes: 0 success, 1 runtime failure (including a
 * broken audit chain), 2 usage or configuration error.
 */
#include "cli.h"
#include "audit.h"
#include "holds.h"
#include "ingest.h"
#include "tenant.h"
#include "log.h"
#include "retention.h"
#include "subject.h"
#include "util.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ACTOR cli_actor()

/* Options every admin command shares. */
struct admin_opts {
	const char *config;
	const char *tenant;
	bool tenant_given;          /* --tenant on the command line (else "default") */
	bool json, dry_run, follow;
	const char *format;          /* export: json | csv */
	const char *reason;          /* hold add */
	const char *since;           /* audit list */
	struct subject_query q;
	int targets;                 /* how many of --email/--phone/--conversation */
};

enum { OPT_EMAIL = 256, OPT_PHONE, OPT_CONV, OPT_FORMAT, OPT_REASON, OPT_SINCE, OPT_DRY, OPT_JSON,
       OPT_TENANT, OPT_FOLLOW };

static const struct option admin_options[] = {
	{ "config", required_argument, 0, 'c' }, { "help", no_argument, 0, 'h' },
	{ "email", required_argument, 0, OPT_EMAIL }, { "phone", required_argument, 0, OPT_PHONE },
	{ "conversation", required_argument, 0, OPT_CONV }, { "format", required_argument, 0, OPT_FORMAT },
	{ "reason", required_argument, 0, OPT_REASON }, { "since", required_argument, 0, OPT_SINCE },
	{ "dry-run", no_argument, 0, OPT_DRY }, { "json", no_argument, 0, OPT_JSON },
	{ "tenant", required_argument, 0, OPT_TENANT }, { "verbose", no_argument, 0, 'v' },
	{ "follow", no_argument, 0, OPT_FOLLOW }, { 0, 0, 0, 0 },
};

static void set_target(struct admin_opts *o, enum subject_query_kind k, const char *v)
{
	o->q.kind = k;
	o->q.value = v;
	o->targets++;
}

/* Parses argv; `allowed` lists the long options (by value) this command
 * takes. Returns -1 to go on, else the exit code (after --help or an error). */
static int parse_admin(int argc, char **argv, const char *help, const int *allowed,
                       struct admin_opts *o)
{
	int c;
	memset(o, 0, sizeof *o);
	o->config = cli_default_config();
	o->tenant = "default";
	o->format = "json";
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:v", admin_options, NULL)) != -1) {
		bool ok = c == 'c' || c == 'h' || c == 'v';
		for (const int *a = allowed; *a && !ok; a++)
			ok = *a == c;
		if (!ok) {
			fputs(help, stderr);
			return EXIT_USAGE;
		}
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'v': log_set_level(LOG_INFO); break;
		case 'h': fputs(help, stdout); return EXIT_OK;
		case OPT_EMAIL: set_target(o, SQ_EMAIL, optarg); break;
		case OPT_PHONE: set_target(o, SQ_PHONE, optarg); break;
		case OPT_CONV: set_target(o, SQ_CONVERSATION, optarg); break;
		case OPT_FORMAT: o->format = optarg; break;
		case OPT_REASON: o->reason = optarg; break;
		case OPT_SINCE: o->since = optarg; break;
		case OPT_DRY: o->dry_run = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_FOLLOW: o->follow = true; break;
		case OPT_TENANT: o->tenant = optarg; o->tenant_given = true; break;
		}
	}
	if (!tenant_valid(o->tenant)) {
		fprintf(stderr, "redactd %s: --tenant must be 1 to %d of A-Z a-z 0-9 . _ -\n", argv[0],
		        RD_MAX_NAME_LEN);
		return EXIT_USAGE;
	}
	o->q.tenant = o->tenant;
	return -1;
}

static int open_app(struct app *app, const struct admin_opts *o)
{
	return cli_open_app(app, o->config, APP_READONLY);
}

/* "365d", "12h", "5min", "90s": the largest unit that divides evenly. */
static void fmt_duration(int64_t s, char out[32])
{
	if (s <= 0)
		snprintf(out, 32, "forever");
	else if (s % 86400 == 0)
		snprintf(out, 32, "%lldd", (long long)(s / 86400));
	else if (s % 3600 == 0)
		snprintf(out, 32, "%lldh", (long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(out, 32, "%lldmin", (long long)(s / 60));
	else
		snprintf(out, 32, "%llds", (long long)s);
}

/* An age in whole days, as retention horizons are set ("367d"); a record
 * under a day old is "0d". */
static void fmt_age_days(int64_t s, char out[32])
{
	snprintf(out, 32, "%lldd", (long long)(s > 0 ? s / 86400 : 0));
}

/* ---- sweep ----------------------------------------------------------------- */

static const char sweep_help[] =
	"usage: redactd sweep [-c FILE] [--dry-run]\n"
	"One retention pass now, also while the daemon runs. Prints per tenant and\n"
	"category what was purged (or with --dry-run, what would be) and what a\n"
	"legal hold kept.\n";

static void print_sweep(const struct retention_report *rep, bool dry_run)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct retention_line *l = &rep->lines[i];
		char h[32];
		fmt_duration(l->horizon_s, h);
		printf("%s/%s: %s %lld of %lld record(s), %lld held, retention %s\n", l->tenant, l->category,
		       dry_run ? "would purge" : "purged", (long long)(dry_run ? l->due : l->purged),
		       (long long)l->records, (long long)l->held, h);
	}
	/* A dry run purges nothing: its total is what is due. */
	printf("%s %lld record(s)", dry_run ? "would purge" : "purged",
	       (long long)(dry_run ? rep->due : rep->purged));
	if (!dry_run && rep->audit_purged)
		printf(", %lld old audit entries", (long long)rep->audit_purged);
	if (!dry_run && rep->backups_removed)
		printf(", %lld expired backup(s)", (long long)rep->backups_removed);
	putchar('\n');
	if (!dry_run && rep->residue_pending)
		printf("residue pending: deleted records are still in the database file or WAL,"
		       " held there by a reader's old snapshot\n");
}

int cmd_sweep(int argc, char **argv)
{
	static const int allowed[] = { OPT_DRY, 0 };
	struct admin_opts o;
	int rc = parse_admin(argc, argv, sweep_help, allowed, &o);
	if (rc >= 0)
		return rc;
	if (optind != argc) {
		fputs(sweep_help, stderr);
		return EXIT_USAGE;
	}
	struct app app;
	if ((rc = open_app(&app, &o)))
		return rc;
	struct retention_report rep;
	rc = retention_pass(&app, ACTOR, (o.dry_run ? RETENTION_DRY_RUN : 0) | RETENTION_COUNT, NULL, &rep) ? EXIT_RUNTIME : EXIT_OK;
	if (rc)
		fprintf(stderr, "redactd sweep: the pass failed (see above); what was purged stands\n");
	if (rep.skipped)
		printf("another redactd process is sweeping this store now; nothing done\n");
	else
		print_sweep(&rep, o.dry_run);
	retention_report_free(&rep);
	app_close(&app);
	return rc;
}

/* ---- export / erase ------------------------------------------------------------ */

static const char export_help[] =
	"usage: redactd export (--email X | --phone X | --conversation ID) [--format json|csv]\n"
	"                      [--tenant T] [-c FILE]\n"
	"Writes every turn of every conversation linked to the subject, redacted, to\n"
	"stdout (data-subject access and portability). The export is audit-logged.\n";

static const char erase_help[] =
	"usage: redactd erase (--email X | --phone X | --conversation ID) [--tenant T] [-c FILE]\n"
	"Erases every conversation linked to the subject, except those under a legal\n"
	"hold, and prints how many records were removed and kept. Audit-logged.\n";

static int need_target(const struct admin_opts *o, const char *help)
{
	if (o->targets == 1)
		return 0;
	fputs(help, stderr);
	return EXIT_USAGE;
}

static int print_export(const json_t *out, bool csv)
{
	if (!csv)
		return json_dumpf(out, stdout, JSON_INDENT(2)) == 0 && putchar('\n') != EOF ? 0 : -1;
	struct buf b = { 0 };
	int rc = subject_export_csv(out, &b) == 0 && fwrite(b.data, 1, b.len, stdout) == b.len ? 0 : -1;
	buf_free(&b);
	return rc;
}

int cmd_export(int argc, char **argv)
{
	static const int allowed[] = { OPT_EMAIL, OPT_PHONE, OPT_CONV, OPT_FORMAT, OPT_TENANT, 0 };
	struct admin_opts o;
	int rc = parse_admin(argc, argv, export_help, allowed, &o);
	if (rc >= 0)
		return rc;
	bool csv = !strcmp(o.format, "csv");
	if (optind != argc || (!csv && strcmp(o.format, "json"))) {
		fputs(export_help, stderr);
		return EXIT_USAGE;
	}
	if (need_target(&o, export_help))
		return EXIT_USAGE;
	struct app app;
	if ((rc = open_app(&app, &o)))
		return rc;
	struct rd_error e;
	json_t *out = NULL;
	if (subject_export(&app, &o.q, ACTOR, &out, &e))
		rc = cli_fail("export", &e);
	else if (print_export(out, csv))
		rc = EXIT_RUNTIME;
	json_decref(out);
	app_close(&app);
	return rc;
}

int cmd_erase(int argc, char **argv)
{
	static const int allowed[] = { OPT_EMAIL, OPT_PHONE, OPT_CONV, OPT_TENANT, 0 };
	struct admin_opts o;
	int rc = parse_admin(argc, argv, erase_help, allowed, &o);
	if (rc >= 0)
		return rc;
	if (optind != argc || need_target(&o, erase_help))
		return EXIT_USAGE;
	struct app app;
	if ((rc = open_app(&app, &o)))
		return rc;
	struct rd_error e;
	struct subject_erase_result r;
	if (subject_erase(&app, &o.q, ACTOR, &r, &e)) {
		rc = cli_fail("erase", &e);
	} else {
		printf("removed %lld record(s) in %lld conversation(s)\n", (long long)r.removed,
		       (long long)r.conversations);
		if (r.residue_pending)
			printf("residue pending: a reader's old snapshot keeps the erased records in the"
			       " database file for now; the daemon's sweeper (or the next `redactd sweep`)"
			       " removes them, and `redactd stats` shows when that is done\n");
		if (r.kept)
			printf("kept %lld record(s) in %lld conversation(s): under a legal hold\n",
			       (long long)r.kept, (long long)r.held_conversations);
	}
	app_close(&app);
	return rc;
}

/* ---- hold ---------------------------------------------------------------- */

static const char hold_help[] =
	"usage: redactd hold add (--conversation ID | --email X | --phone X) --reason TEXT\n"
	"                        [--tenant T]\n"
	"       redactd hold remove HOLD_ID [--tenant T]\n"
	"       redactd hold list [--tenant T]\n"
	"Legal holds: held conversations (or every conversation of a held subject)\n"
	"survive retention sweeps and erasure until the hold is removed. Without\n"
	"--tenant, list and remove see every tenant's holds; with it, only T's.\n";

static const char restrict_help[] =
	"usage: redactd restrict add (--conversation ID | --email X | --phone X) --reason TEXT\n"
	"                            [--tenant T]\n"
	"       redactd restrict remove RESTRICTION_ID [--tenant T]\n"
	"       redactd restrict list [--tenant T]\n"
	"Restriction of processing (GDPR Art. 18): reads of a restricted conversation\n"
	"(or of every conversation of a restricted subject) by tokens without the admin\n"
	"scope are refused with 403 restricted; admin reads go on and are audited.\n"
	"Adding, lifting and listing are audit-logged.\n";

/* The command names of each kind of pin, for messages. */
static const char *const pin_cmd[] = { [HOLDS_PIN_HOLD] = "hold", [HOLDS_PIN_RESTRICTION] = "restrict" };

static int pin_add(struct app *app, enum holds_pin kind, struct admin_opts *o)
{
	struct rd_error e;
	char id[HOLDS_ID_LEN + 1], cmd[32];
	snprintf(cmd, sizeof cmd, "%s add", pin_cmd[kind]);
	if (subject_pin_add(app, kind, &o->q, o->reason, ACTOR, id, &e))
		return cli_fail(cmd, &e);
	printf("%s\n", id);
	return EXIT_OK;
}

static int pin_list(struct app *app, enum holds_pin kind, const char *tenant)
{
	struct rd_error e;
	json_t *out, *h, *arr;
	const char *key;
	size_t i;
	char cmd[32];
	snprintf(cmd, sizeof cmd, "%s list", pin_cmd[kind]);
	if (holds_pin_list(app, kind, tenant, ACTOR, &out, &e))
		return cli_fail(cmd, &e);
	json_object_foreach(out, key, arr)
		json_array_foreach(arr, i, h) {
			json_dumpf(h, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			putchar('\n');
		}
	json_decref(out);
	return EXIT_OK;
}

static int pin_command(int argc, char **argv, enum holds_pin kind, const char *help)
{
	static const int allowed[] = { OPT_EMAIL, OPT_PHONE, OPT_CONV, OPT_REASON, OPT_TENANT, 0 };
	struct admin_opts o;
	int rc = parse_admin(argc, argv, help, allowed, &o);
	if (rc >= 0)
		return rc;
	const char *verb = optind < argc ? argv[optind] : "";
	int rest = argc - optind - 1;
	bool add = !strcmp(verb, "add") && rest == 0 && o.targets == 1 && o.reason;
	bool rm = !strcmp(verb, "remove") && rest == 1 && o.targets == 0;
	bool list = !strcmp(verb, "list") && rest == 0 && o.targets == 0;
	if (!add && !rm && !list) {
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	struct app app;
	if ((rc = open_app(&app, &o)))
		return rc;
	struct rd_error e;
	char cmd[32];
	snprintf(cmd, sizeof cmd, "%s remove", pin_cmd[kind]);
	if (add)
		rc = pin_add(&app, kind, &o);
	/* Like an admin token bound to no tenant: every tenant's holds, unless
	 * --tenant names one (then another tenant's hold id is "no such hold"). */
	else if (list)
		rc = pin_list(&app, kind, o.tenant_given ? o.tenant : NULL);
	else if (holds_pin_remove(&app, kind, o.tenant_given ? o.tenant : NULL, argv[optind + 1], ACTOR,
	                          &e))
		rc = cli_fail(cmd, &e);
	else
		printf("removed %s\n", argv[optind + 1]);
	app_close(&app);
	return rc;
}

int cmd_hold(int argc, char **argv)
{
	return pin_command(argc, argv, HOLDS_PIN_HOLD, hold_help);
}

int cmd_restrict(int argc, char **argv)
{
	return pin_command(argc, argv, HOLDS_PIN_RESTRICTION, restrict_help);
}

/* ---- audit --------------------------------------------------------------- */

static const char audit_help[] =
	"usage: redactd audit verify [-c FILE]\n"
	"       redactd audit list [--since TS] [--follow] [-c FILE]\n"
	"verify re-walks the hash chain and exits 1 naming the first entry that was\n"
	"edited, removed or reordered; on success it prints the head hash, worth\n"
	"recording elsewhere. list prints entries as JSON lines; TS is RFC 3339 or\n"
	"epoch seconds. --follow keeps printing new entries as they are committed\n"
	"(every 500 ms, flushed line by line) until SIGINT or SIGTERM: pipe it to\n"
	"logger(1), systemd-cat or a shipper to keep a copy off the machine.\n";

struct audit_cli_ctx {
	struct audit_cursor cur;
};

static enum rd_err list_fn(struct store_tx *tx, void *arg)
{
	struct audit_cli_ctx *c = arg;
	return audit_list_from(tx, &c->cur, stdout);
}

static volatile sig_atomic_t follow_stop;

static void on_follow_signal(int sig)
{
	(void)sig;
	follow_stop = 1;
}

#define AUDIT_FOLLOW_POLL_MS 500

/* list, then new entries every AUDIT_FOLLOW_POLL_MS until SIGINT/SIGTERM
 * (exit 0) or a read or write failure (exit 1). */
static int audit_follow(struct app *app, struct audit_cli_ctx *c)
{
	struct sigaction sa = { .sa_handler = on_follow_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!follow_stop) {
		if (store_read(app->store, list_fn, c) != RD_OK || fflush(stdout) != 0) {
			fprintf(stderr, "redactd audit list: cannot read the audit log or write the output\n");
			return EXIT_RUNTIME;
		}
		struct timespec ts = { 0, AUDIT_FOLLOW_POLL_MS * 1000000L };
		nanosleep(&ts, NULL);   /* a signal ends it early */
	}
	return EXIT_OK;
}

/* One chain's line: the system's as "audit chain OK: ...", a tenant's
 * (PostgreSQL) as "audit chain of tenant T OK: ...". */
static void verify_line(const char *chain, const struct audit_report *r, void *arg)
{
	char head[2 * AUDIT_HASH_BYTES + 1], who[160] = "";
	(void)arg;
	if (chain)
		snprintf(who, sizeof who, " of tenant %s", chain);
	if (r->fault != AUDIT_INTACT) {
		printf("audit chain%s BROKEN: %s\n", who, r->detail);
		return;
	}
	util_hex_encode(r->head, sizeof r->head, head);
	printf("audit chain%s OK: %lld entries", who, (long long)r->entries);
	if (r->entries)
		printf(" (seq %lld..%lld)", (long long)r->first_seq, (long long)r->last_seq);
	if (r->checkpoint_seq)
		printf(", checkpoint after seq %lld", (long long)r->checkpoint_seq);
	printf(", head %s\n", head);
}

struct verify_all_cli {
	bool intact;
};

static enum rd_err verify_all_fn(struct store_tx *tx, void *arg)
{
	struct verify_all_cli *v = arg;
	return audit_verify_all(tx, verify_line, NULL, &v->intact);
}

static int audit_verify_print(struct app *app)
{
	struct verify_all_cli v = { false };
	if (store_read(app->store, verify_all_fn, &v) != RD_OK) {
		fprintf(stderr, "redactd audit verify: cannot read the audit log\n");
		return EXIT_RUNTIME;
	}
	return v.intact ? EXIT_OK : EXIT_RUNTIME;
}

int cmd_audit(int argc, char **argv)
{
	static const int allowed[] = { OPT_SINCE, OPT_FOLLOW, 0 };
	struct admin_opts o;
	int rc = parse_admin(argc, argv, audit_help, allowed, &o);
	if (rc >= 0)
		return rc;
	const char *verb = optind + 1 == argc ? argv[optind] : "";
	struct audit_cli_ctx c = { .cur.since_ms = INT64_MIN };
	bool verify = !strcmp(verb, "verify") && !o.since && !o.follow, list = !strcmp(verb, "list");
	if ((!verify && !list) || (o.since && util_parse_ts(o.since, &c.cur.since_ms))) {
		fputs(audit_help, stderr);
		return EXIT_USAGE;
	}
	struct app app;
	if ((rc = open_app(&app, &o)))
		return rc;
	if (verify) {
		rc = audit_verify_print(&app);
	} else if (o.follow) {
		rc = audit_follow(&app, &c);
	} else if (store_read(app.store, list_fn, &c) != RD_OK) {
		fprintf(stderr, "redactd audit list: cannot read the audit log\n");
		rc = EXIT_RUNTIME;
	}
	audit_cursor_free(&c.cur);
	app_close(&app);
	return rc;
}

/* ---- stats --------------------------------------------------------------- */

static const char stats_help[] =
	"usage: redactd stats [--json] [-c FILE]\n"
	"Counts per tenant, category and entity type, and each category's oldest\n"
	"record against its retention horizon. Nothing sealed is opened.\n";

static void print_stats(const json_t *s)
{
	const char *t, *k;
	json_t *to, *co, *n;
	json_object_foreach(json_object_get(s, "tenants"), t, to) {
		printf("tenant %s\n", t);
		json_object_foreach(json_object_get(to, "categories"), k, co) {
			char h[32], age[32];
			fmt_duration(json_integer_value(json_object_get(co, "horizon_s")), h);
			fmt_age_days(json_integer_value(json_object_get(co, "oldest_age_s")), age);
			printf("  %-20s %8lld records  oldest %s (age %s)  retention %s%s\n", k,
			       (long long)json_integer_value(json_object_get(co, "records")),
			       json_string_value(json_object_get(co, "oldest")), age, h,
			       json_is_true(json_object_get(co, "overdue")) ? "  OVERDUE" : "");
		}
		json_object_foreach(json_object_get(to, "entities"), k, n)
			printf("  entity %-13s %8lld\n", k, (long long)json_integer_value(n));
	}
	printf("holds %lld, audit entries %lld\n",
	       (long long)json_integer_value(json_object_get(s, "holds")),
	       (long long)json_integer_value(json_object_get(s, "audit_entries")));
	json_t *r = json_object_get(s, "residue");
	if (json_is_true(json_object_get(r, "pending")))
		printf("erasure residue PENDING since %s (%lld delete(s)): deleted records are still in"
		       " the database file or WAL, held there by a reader's old snapshot\n",
		       json_string_value(json_object_get(r, "since")),
		       (long long)json_integer_value(json_object_get(r, "deletes")));
	else
		printf("erasure residue none\n");
}

int cmd_stats(int argc, char **argv)
{
	static const int allowed[] = { OPT_JSON, 0 };
	struct admin_opts o;
	int rc = parse_admin(argc, argv, stats_help, allowed, &o);
	if (rc >= 0)
		return rc;
	if (optind != argc) {
		fputs(stats_help, stderr);
		return EXIT_USAGE;
	}
	struct app app;
	if ((rc = open_app(&app, &o)))
		return rc;
	json_t *s;
	if (retention_stats(&app, &s)) {
		fprintf(stderr, "redactd stats: cannot read the database\n");
		rc = EXIT_RUNTIME;
	} else {
		if (o.json) {
			json_dumpf(s, stdout, JSON_INDENT(2));
			putchar('\n');
		} else {
			print_stats(s);
		}
		json_decref(s);
	}
	app_close(&app);
	return rc;
}
