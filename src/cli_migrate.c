/*
 * cli_migrate.c — `redactd migrate --from sqlite:PATH [--to URL]` (issue
 * 19): a single-node SQLite store moved into PostgreSQL.
 *
 * Order, and why: the source's audit chain is verified first (a broken
 * history is not carried over as if it were whole); the store copies every
 * table in resumable batches and compares the counts (store_import.h);
 * then the target's chain is verified and must end at the source's head,
 * so the copy provably holds the same history; last, one "store.migrate"
 * entry is appended on the target in the transaction that marks the
 * migration finished. A run that stopped anywhere before is run again
 * with the same arguments. Nothing is decrypted and the master key is not
 * read: the rows move sealed.
 */
#include "cli.h"
#include "audit.h"
#include "log.h"
#include "store_import.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char migrate_help[] =
	"usage: redactd migrate --from sqlite:PATH [--to URL] [--batch N] [--max-batches N] [-c FILE]\n"
	"Copies a SQLite store into an empty PostgreSQL database: messages (still sealed),\n"
	"data keys (still wrapped), subject links, the replay register, holds,\n"
	"restrictions, consent records, the erasure journal, tenant closures and the\n"
	"audit log. URL defaults to [storage] url; the password is [storage]\n"
	"password_file's. Stop every redactd using the SQLite file first. Batches of N\n"
	"rows (default 1000) commit one by one: after an interruption, run the same\n"
	"command again and it continues where it stopped. --max-batches stops after N\n"
	"batches (the next run continues; keep the SQLite node stopped until the end).\n"
	"At the end it compares the rows of every table and checks that the audit\n"
	"chain on PostgreSQL verifies and ends at the SQLite chain's head.\n";

struct migrate_opts {
	const char *config, *from, *to;
	long batch, max_batches;
	bool verbose;
};

static int parse(int argc, char **argv, struct migrate_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "from", required_argument, 0, 'f' },
		{ "to", required_argument, 0, 't' }, { "batch", required_argument, 0, 'b' },
		{ "max-batches", required_argument, 0, 'm' }, { "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	*o = (struct migrate_opts){ .config = cli_default_config(), .batch = 1000 };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:v", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'f': o->from = optarg; break;
		case 't': o->to = optarg; break;
		case 'v': o->verbose = true; break;
		case 'b':
			if (util_parse_long(optarg, 1, STORE_IMPORT_BATCH_MAX, &o->batch)) {
				fprintf(stderr, "redactd migrate: --batch must be 1..%d\n", STORE_IMPORT_BATCH_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'm':
			if (util_parse_long(optarg, 1, 1000000000L, &o->max_batches)) {
				fprintf(stderr, "redactd migrate: --max-batches must be a positive number\n");
				return EXIT_USAGE;
			}
			break;
		case 'h': fputs(migrate_help, stdout); return EXIT_OK;
		default: fputs(migrate_help, stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || !o->from) {
		fputs(migrate_help, stderr);
		return EXIT_USAGE;
	}
	if (strncmp(o->from, "sqlite:", 7) || !o->from[7]) {
		fprintf(stderr, "redactd migrate: --from takes sqlite:PATH (the SQLite store to move)\n");
		return EXIT_USAGE;
	}
	return -1;
}

/* ---- the audit chains ------------------------------------------------------ */

static enum rd_err verify_fn(struct store_tx *tx, void *arg)
{
	return audit_verify(tx, arg);
}

/* 0 when st's chain verifies (rep filled), else prints why. */
static int verify_chain(struct store *st, const char *which, struct audit_report *rep)
{
	memset(rep, 0, sizeof *rep);
	if (store_read(st, verify_fn, rep) != RD_OK) {
		fprintf(stderr, "redactd migrate: cannot read the audit log of the %s\n", which);
		return -1;
	}
	if (rep->fault != AUDIT_INTACT) {
		fprintf(stderr, "redactd migrate: the audit chain of the %s is BROKEN: %s\n", which,
		        rep->detail);
		return -1;
	}
	return 0;
}

/* The target's chain holds the source's history: the same entries, to the
 * same head, from the same checkpoint. */
static bool same_history(const struct audit_report *s, const struct audit_report *t)
{
	return s->entries == t->entries && s->first_seq == t->first_seq &&
	       s->last_seq == t->last_seq && s->checkpoint_seq == t->checkpoint_seq &&
	       !memcmp(s->head, t->head, AUDIT_HASH_BYTES);
}

struct finish_ctx {
	int64_t messages;
};

static enum rd_err finish_fn(struct store_tx *tx, void *arg)
{
	const struct finish_ctx *f = arg;
	enum rd_err rc = audit_append(tx, cli_actor(), "store.migrate", "from:sqlite", f->messages);
	return rc == RD_OK ? store_import_finish(tx) : rc;
}

/* ---- output ------------------------------------------------------------------ */

static void on_progress(const char *table, int64_t copied, int64_t total, bool finished,
                        void *ctx)
{
	const struct migrate_opts *o = ctx;
	if (o->verbose || finished)
		fprintf(stderr, "redactd migrate: %s: %lld/%lld%s\n", table, (long long)copied,
		        (long long)total, finished ? " done" : "");
}

static void print_summary(const char *from, const struct store_import_report *r)
{
	printf("migrated %s to postgresql%s\n", from, r->finished ? " (finished by an earlier run)" : "");
	printf("%-18s %12s %12s\n", "table", "sqlite", "postgresql");
	for (size_t i = 0; i < r->n; i++)
		printf("%-18s %12lld %12lld\n", r->t[i].name, (long long)r->t[i].source,
		       (long long)r->t[i].target);
}

static void print_chain(const struct audit_report *a)
{
	char head[2 * AUDIT_HASH_BYTES + 1];
	util_hex_encode(a->head, sizeof a->head, head);
	printf("audit chain OK on postgresql: %lld entries", (long long)a->entries);
	if (a->entries)
		printf(" (seq %lld..%lld)", (long long)a->first_seq, (long long)a->last_seq);
	printf(", head %s\n", head);
}

/* ---- the command ----------------------------------------------------------------- */

struct migrate_env {
	struct config *cfg;
	struct store *src, *dst;
};

static int env_open(struct migrate_env *env, const struct migrate_opts *o)
{
	static char err[8192];
	if (crypto_global_init()) {
		fprintf(stderr, "redactd migrate: libsodium failed to initialise\n");
		return EXIT_RUNTIME;
	}
	if (config_load(o->config, &env->cfg, err, sizeof err)) {
		fprintf(stderr, "redactd migrate: %s\n", err);
		return EXIT_USAGE;
	}
	if (!(o->to ? o->to : env->cfg->pg_url)) {
		fprintf(stderr, "redactd migrate: no target: give --to URL or set [storage] url\n");
		return EXIT_USAGE;
	}
	if (access(o->from + 7, R_OK)) {
		fprintf(stderr, "redactd migrate: %s: %s\n", o->from, strerror(errno));
		return EXIT_USAGE;
	}
	struct store_options so = { .sync_full = true, .readonly = true };
	if (store_open(o->from + 7, &so, &env->src, err, sizeof err)) {
		fprintf(stderr, "redactd migrate: %s: %s\n", o->from, err);
		return EXIT_RUNTIME;
	}
	return 0;
}

/* The target, once the source is known good: a refused source leaves the
 * target untouched (not even its schema made). */
static int target_open(struct migrate_env *env, const struct migrate_opts *o)
{
	static char err[1024];
	struct store_options so = { .sync_full = true, .readonly = true,
	                            .pg_url = o->to ? o->to : env->cfg->pg_url,
	                            .pg_password = env->cfg->pg_password };
	if (store_open("", &so, &env->dst, err, sizeof err)) {
		fprintf(stderr, "redactd migrate: %s\n", err);
		return -1;
	}
	return 0;
}

static void env_close(struct migrate_env *env)
{
	store_close(env->dst);
	store_close(env->src);
	config_free(env->cfg);
}

static int migrate_run(struct migrate_env *env, const struct migrate_opts *o)
{
	static char err[1024];
	struct audit_report sa, ta;
	struct store_import_report r;
	if (verify_chain(env->src, "SQLite store", &sa) || target_open(env, o))
		return EXIT_RUNTIME;
	struct store_import_options mo = {
		.batch = (size_t)o->batch, .max_batches = o->max_batches, .source_label = o->from,
		.progress = on_progress, .ctx = (void *)o,
	};
	enum rd_err rc = store_import_copy(env->src, env->dst, &mo, &r, err, sizeof err);
	if (rc != RD_OK) {
		fprintf(stderr, "redactd migrate: %s\n", err);
		if (rc == RD_E_STORAGE)
			fprintf(stderr, "redactd migrate: what was committed stays; run the same command again"
			        " to continue\n");
		return rc == RD_E_INVALID_REQUEST ? EXIT_USAGE : EXIT_RUNTIME;
	}
	if (r.stopped) {
		printf("stopped after %lld batch(es) (--max-batches); run the same command again to"
		       " continue\n", (long long)r.batches);
		return EXIT_OK;
	}
	if (verify_chain(env->dst, "PostgreSQL copy", &ta))
		return EXIT_RUNTIME;
	if (!r.finished) {
		if (!same_history(&sa, &ta)) {
			fprintf(stderr, "redactd migrate: the audit chain on postgresql does not end at the"
			        " SQLite chain's head: the copy is not the same history\n");
			return EXIT_RUNTIME;
		}
		struct finish_ctx f = { r.messages };
		if (store_exec(env->dst, finish_fn, &f) != RD_OK) {
			fprintf(stderr, "redactd migrate: cannot record the migration in the audit log; run"
			        " the same command again\n");
			return EXIT_RUNTIME;
		}
		if (verify_chain(env->dst, "PostgreSQL copy", &ta))
			return EXIT_RUNTIME;
	}
	print_summary(o->from, &r);
	print_chain(&ta);
	return EXIT_OK;
}

int cmd_migrate(int argc, char **argv)
{
	struct migrate_opts o;
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (o.verbose)
		log_set_level(LOG_INFO);
	struct migrate_env env = { 0 };
	if (!(rc = env_open(&env, &o)))
		rc = migrate_run(&env, &o);
	env_close(&env);
	return rc;
}
