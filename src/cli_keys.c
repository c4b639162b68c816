/*
 * cli_keys.c — `redactd key rotate` and `redactd backup` (SPEC 3, 7; issue 4).
 *
 * Both run beside the daemon: they open the store read-only (no writer
 * thread) and write through store_exec on a short-lived connection that
 * waits on SQLite's lock (busy timeout), so the daemon's writer and these
 * commands take turns. Neither goes through app_open: a rotation must be
 * able to finish after an interruption, when key_file may no longer open
 * the database, and a backup needs no key at all (it copies ciphertext).
 * Audit entries: actor cli_actor() ("cli:NAME"), actions "key.rotate", "backup",
 * "restore".
 *
 * On PostgreSQL (issue 19) backup is the same command (store_backup writes
 * the same file); restore takes --to postgresql://... instead of a file:
 * the configured store is the live one whose journal is replayed, the
 * target a second store opened readonly, and the restore is recorded only
 * once every chain of the target verifies, its audit entry committing with
 * the end of the load (store_import_finish), so a daemon never starts on a
 * half-restored database.
 */
#include "cli.h"
#include "audit.h"
#include "backup.h"
#include "log.h"
#include "store_import.h"
#include "store_journal.h"
#include "util.h"

#include <getopt.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ACTOR cli_actor()

/* Config and a read-only store, without keys. */
struct keys_env {
	struct config *cfg;
	struct store *st;
};

static int env_open(struct keys_env *env, const char *config, const char *cmd)
{
	static char err[8192];
	memset(env, 0, sizeof *env);
	if (crypto_global_init()) {
		fprintf(stderr, "redactd %s: libsodium failed to initialise\n", cmd);
		return EXIT_RUNTIME;
	}
	if (config_load(config, &env->cfg, err, sizeof err)) {
		fprintf(stderr, "redactd %s: %s\n", cmd, err);
		return EXIT_USAGE;
	}
	struct store_options so = { .sync_full = env->cfg->sync_full, .readonly = true };
	if (env->cfg->backend == STORAGE_POSTGRESQL) {
		so.pg_url = env->cfg->pg_url;
		so.pg_password = env->cfg->pg_password;
	}
	if (store_open(env->cfg->database, &so, &env->st, err, sizeof err)) {
		fprintf(stderr, "redactd %s: %s\n", cmd, err);
		config_free(env->cfg);
		return EXIT_RUNTIME;
	}
	return 0;
}

static void env_close(struct keys_env *env)
{
	store_close(env->st);
	config_free(env->cfg);
	memset(env, 0, sizeof *env);
}

/* ---- key rotate -------------------------------------------------------------- */

static const char key_help[] =
	"usage: redactd key rotate --new-key FILE [-c FILE]\n"
	"Makes FILE (32 bytes, mode 0600, e.g. from `redactd keygen -o FILE`) the master\n"
	"key, online. In one transaction it re-wraps the root key and every live data\n"
	"key under the new key and appends a key.rotate audit entry; then it replaces\n"
	"key_file with the new key atomically. Record contents are not re-encrypted.\n"
	"Then reload the daemon (systemctl reload redactd, or SIGHUP): until then it\n"
	"reads and writes with its cached keys but cannot create a data key for a new\n"
	"month, tenant or category. Afterwards the old key opens nothing in this\n"
	"database: delete FILE and every copy of the old key, but keep the old key with\n"
	"any --with-keys backup made before the rotation, which still needs it.\n"
	"With key_file = credential:NAME the current key is read from\n"
	"$CREDENTIALS_DIRECTORY/NAME, or, when that is not set, from NAME beside the\n"
	"config file (/etc/redactd/NAME, where the unit's LoadCredential= takes it\n"
	"from); the command then tells you to replace the credential and restart the\n"
	"service (a reload does not reload credentials).\n"
	"Safe to run again with the same FILE if it was interrupted.\n";

struct rotate_ctx {
	const struct keyring *old_kr, *new_kr;
	size_t count;
	char target[4 + 32 + 1];
};

/* Re-wrap and its audit entry commit together, or neither does. */
static enum rd_err rotate_fn(struct store_tx *tx, void *arg)
{
	struct rotate_ctx *c = arg;
	enum rd_err rc = store_rekey_tx(tx, c->old_kr, c->new_kr, &c->count);
	return rc == RD_OK ? audit_append(tx, ACTOR, "key.rotate", c->target, (int64_t)c->count) : rc;
}

/* "key:" + 32 hex digits of the new key's public fingerprint. */
static void key_target(const struct keyring *kr, char out[4 + 32 + 1])
{
	unsigned char fp[CRYPTO_HASH_BYTES];
	keyring_fingerprint(kr, fp);
	memcpy(out, "key:", 4);
	util_hex_encode(fp, 16, out + 4);
}

static bool same_key(const struct keyring *a, const struct keyring *b)
{
	unsigned char fa[CRYPTO_HASH_BYTES], fb[CRYPTO_HASH_BYTES];
	keyring_fingerprint(a, fa);
	keyring_fingerprint(b, fb);
	return sodium_memcmp(fa, fb, sizeof fa) == 0;
}

/* Both keys; 0 or an exit code (message printed). */
static int load_keys(const char *key_file, const char *new_file, struct keyring **old_kr,
                     struct keyring **new_kr)
{
	char err[512];
	if (keyring_load(key_file, old_kr, err, sizeof err)) {
		fprintf(stderr, "redactd key rotate: current master key (key_file): %s\n", err);
		return EXIT_RUNTIME;
	}
	if (keyring_load(new_file, new_kr, err, sizeof err)) {
		fprintf(stderr, "redactd key rotate: new key %s: %s\n", new_file, err);
		return EXIT_USAGE;
	}
	if (same_key(*old_kr, *new_kr)) {
		fprintf(stderr, "redactd key rotate: the new key is the current key; nothing to do "
		        "(make one with redactd keygen -o FILE)\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* Puts the new key where the daemon reads it, or says what to do. */
static int install_key(const struct keyring *kr, const char *key_file, const char *new_file)
{
	char err[512];
	if (!strncmp(key_file, UTIL_CREDENTIAL_PREFIX, sizeof UTIL_CREDENTIAL_PREFIX - 1)) {
		printf("key_file is %s: replace that credential's source (the file named by\n"
		       "LoadCredential= or SetCredentialEncrypted=) with %s, then\n"
		       "`systemctl restart redactd`; a reload does not re-read credentials.\n",
		       key_file, new_file);
		return EXIT_OK;
	}
	if (keyring_save(kr, key_file, err, sizeof err) == 0) {
		printf("key_file %s now holds the new key (mode 0600)\n", key_file);
		return EXIT_OK;
	}
	fprintf(stderr, "redactd key rotate: %s\n"
	        "The database is already re-wrapped under the new key: copy it into place by hand\n"
	        "(install -m 600 %s %s) before the daemon restarts.\n", err, new_file, key_file);
	return EXIT_RUNTIME;
}

static int rotate_run(struct keys_env *env, const char *new_file)
{
	struct keyring *old_kr = NULL, *new_kr = NULL;
	char err[512];
	/* A rotation killed between writing its temporary key file and the
	 * rename left key material there; this one would add its own. */
	int cleaned = keyring_clean_temps(env->cfg->key_file);
	if (cleaned)
		printf("removed %d temporary key file(s) left by an interrupted rotation\n", cleaned);
	int rc = load_keys(env->cfg->key_file, new_file, &old_kr, &new_kr);
	if (rc)
		goto done;
	struct rotate_ctx c = { .old_kr = old_kr, .new_kr = new_kr };
	key_target(new_kr, c.target);
	rc = EXIT_RUNTIME;
	if (store_exec(env->st, rotate_fn, &c) != RD_OK) {
		fprintf(stderr, "redactd key rotate: re-wrapping failed; nothing changed (a key that "
		        "opens under neither master key, or the database is locked)\n");
		goto done;
	}
	/* Never install a key that does not open this database. */
	if (store_keyring_attach(env->st, new_kr, err, sizeof err)) {
		fprintf(stderr, "redactd key rotate: %s\n", err);
		goto done;
	}
	printf("re-wrapped %zu key(s) under the new master key (%s)\n", c.count, c.target);
	rc = install_key(new_kr, env->cfg->key_file, new_file);
	if (rc == EXIT_OK)
		printf("now reload the daemon (systemctl reload redactd, or kill -HUP), then delete "
		       "%s and every copy of the old key\n", new_file);
done:
	keyring_free(old_kr);
	keyring_free(new_kr);
	return rc;
}

int cmd_key(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "new-key", required_argument, 0, 'n' },
		{ "help", no_argument, 0, 'h' }, { "verbose", no_argument, 0, 'v' }, { 0, 0, 0, 0 },
	};
	const char *config = cli_default_config(), *new_file = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:v", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'v': log_set_level(LOG_INFO); break;
		case 'n': new_file = optarg; break;
		case 'h': fputs(key_help, stdout); return EXIT_OK;
		default: fputs(key_help, stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || strcmp(argv[optind], "rotate") || !new_file) {
		fputs(key_help, stderr);
		return EXIT_USAGE;
	}
	struct keys_env env;
	int rc = env_open(&env, config, "key rotate");
	if (rc)
		return rc;
	rc = rotate_run(&env, new_file);
	env_close(&env);
	return rc;
}

/* ---- backup -------------------------------------------------------------------- */

static const char backup_help[] =
	"usage: redactd backup [DEST] [--with-keys] [-c FILE]\n"
	"Writes a consistent copy of the database to DEST (a new file, mode 0600; an\n"
	"existing DEST is refused) through SQLite's online backup API, while the\n"
	"daemon runs and ingests. The copy holds no cleartext. Audit-logged.\n"
	"On PostgreSQL ([storage] backend = postgresql) DEST is the same SQLite backup\n"
	"file, read in one REPEATABLE READ snapshot (every node keeps ingesting); the\n"
	"tenants' audit chains go beside the system's (redactd restore takes it).\n"
	"Without DEST it goes to [backup] directory as redactd-TIME.db; the sweeper\n"
	"removes the backups there older than [backup] retention. Every backup\n"
	"records when it was taken, so `redactd restore` can replay the erasures\n"
	"made since.\n"
	"  (default)    KEY-LESS: the copy's wrapped data keys are removed. It is read\n"
	"               with the live database's keys ([storage] keys_from = the live\n"
	"               database, same key_file), so crypto-shredding reaches it: once\n"
	"               a period's data key is destroyed in the live database, that\n"
	"               period can no longer be read from this backup either. Useless\n"
	"               on its own if the live database is lost.\n"
	"  --with-keys  SELF-CONTAINED: opens with the master key alone (disaster\n"
	"               recovery). Shredding cannot reach it, and it stays readable\n"
	"               with the master key current when it was taken: keep it no longer\n"
	"               than your shortest retention period, and guard it like a key.\n"
	"Restoring and reading backups: docs/operations.md, section Key rotation, backups and restores.\n";

struct backup_audit {
	const char *target;
	int64_t records;
};

static enum rd_err backup_audit_fn(struct store_tx *tx, void *arg)
{
	const struct backup_audit *a = arg;
	return audit_append(tx, ACTOR, "backup", a->target, a->records);
}

/* The new name must survive a crash as well as the file's contents. */
static void fsync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

static int backup_run(struct keys_env *env, const char *dest, bool with_keys)
{
	char err[512];
	/* records: in the copy, for the audit entry and the operator. */
	struct backup_audit a = { with_keys ? "backup:with-keys" : "backup:keyless", 0 };
	if (store_backup(env->st, dest, with_keys ? STORE_BACKUP_WITH_KEYS : 0, &a.records, err,
	                 sizeof err) != RD_OK) {
		fprintf(stderr, "redactd backup: %s\n", err);
		return EXIT_RUNTIME;
	}
	fsync_parent(dest);
	/* An unaudited backup would be a copy nobody accounts for: remove it. */
	if (store_exec(env->st, backup_audit_fn, &a) != RD_OK) {
		fprintf(stderr, "redactd backup: the copy or its audit entry failed; %s removed\n", dest);
		unlink(dest);
		return EXIT_RUNTIME;
	}
	printf("backup %s: %lld record(s), %s\n", dest, (long long)a.records,
	       with_keys ? "with key material (opens with the master key alone)"
	                 : "without key material (read it with keys_from = the live database)");
	return EXIT_OK;
}

int cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "with-keys", no_argument, 0, 'k' },
		{ "help", no_argument, 0, 'h' }, { "verbose", no_argument, 0, 'v' }, { 0, 0, 0, 0 },
	};
	const char *config = cli_default_config();
	bool with_keys = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:v", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'v': log_set_level(LOG_INFO); break;
		case 'k': with_keys = true; break;
		case 'h': fputs(backup_help, stdout); return EXIT_OK;
		default: fputs(backup_help, stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 < argc || (optind < argc && !argv[optind][0])) {
		fputs(backup_help, stderr);
		return EXIT_USAGE;
	}
	struct keys_env env;
	int rc = env_open(&env, config, "backup");
	if (rc)
		return rc;
	char dest[4096];
	if (optind < argc) {
		snprintf(dest, sizeof dest, "%s", argv[optind]);
	} else if (!env.cfg->backup_dir || !*env.cfg->backup_dir) {
		fprintf(stderr, "redactd backup: no DEST given and no [backup] directory set\n");
		env_close(&env);
		return EXIT_USAGE;
	} else {
		char name[BACKUP_NAME_MAX];
		backup_name(util_now_ms(), name);
		snprintf(dest, sizeof dest, "%s/%s", env.cfg->backup_dir, name);
		/* The first backup makes the directory (its parent must exist). */
		if (mkdir(env.cfg->backup_dir, 0700) == 0)
			fprintf(stderr, "redactd backup: created %s (mode 0700)\n", env.cfg->backup_dir);
	}
	rc = backup_run(&env, dest, with_keys);
	env_close(&env);
	return rc;
}

/* ---- restore ------------------------------------------------------------------- */

static const char restore_help[] =
	"usage: redactd restore BACKUP --to DB|URL [--force] [-c FILE]\n"
	"Copies BACKUP (from `redactd backup`) to DB, a new file (mode 0600), then\n"
	"replays there every erasure the live database ([storage] database) has\n"
	"journalled since the backup was taken, so an erased subject does not come\n"
	"back. The copy takes the live database's data keys: periods crypto-shredded\n"
	"since stay unreadable, and a key-less backup opens. Without a reachable\n"
	"live journal, or one that no longer reaches back to the backup ([backup]\n"
	"retention), it refuses (exit 1) unless --force. Audit-logged in both\n"
	"databases (restore, or restore.forced when --force was needed).\n"
	"To put DB in service: stop the daemon, move the live database (and its\n"
	"-wal and -shm files) aside, move DB to [storage] database, start it.\n"
	"On PostgreSQL, --to postgresql://... names a new, empty database (the\n"
	"password is [storage] password_file's unless the URL has one): the backup\n"
	"is loaded there (resumable: run the same command again after an\n"
	"interruption), the configured store's journal replayed and its keys taken;\n"
	"every audit chain must verify. A database that holds data is refused; with\n"
	"--force it is EMPTIED first (and a journal that no longer covers the backup\n"
	"is passed over). The configured store's own database is always refused.\n"
	"Then point [storage] url at it and start the nodes.\n";

struct restore_audit {
	const char *action;
	char target[AUDIT_TARGET_MAX];
	int64_t count;
};

static enum rd_err restore_audit_fn(struct store_tx *tx, void *arg)
{
	const struct restore_audit *a = arg;
	return audit_append(tx, ACTOR, a->action, a->target, a->count);
}

/* One entry in the database at path (readonly store: a short-lived write
 * connection). */
static int restore_audit(const char *path, const struct restore_audit *a)
{
	char err[512];
	struct store *st = NULL;
	struct store_options so = { .sync_full = true, .readonly = true };
	if (store_open(path, &so, &st, err, sizeof err) != RD_OK) {
		fprintf(stderr, "redactd restore: %s: %s\n", path, err);
		return -1;
	}
	enum rd_err rc = store_exec(st, restore_audit_fn, (void *)a);
	store_close(st);
	return rc == RD_OK ? 0 : -1;
}

static void print_restore(const char *dest, const struct store_restore_report *r)
{
	char ts[32] = "an unknown time (older backup)";
	if (r->taken_ms)
		util_format_ts(r->taken_ms, ts);
	printf("restored %s: %lld record(s); backup taken %s\n", dest, (long long)r->records, ts);
	if (r->journal)
		printf("replayed %lld erasure(s) and rectification(s) made since: %lld record(s) removed,"
		       " %lld rectification(s) applied; data keys from the live database\n", (long long)r->replayed,
		       (long long)r->removed, (long long)r->rectified);
	if (r->forced)
		printf("FORCED: %s; erasures made since the backup may be in %s\n",
		       r->journal ? "the live journal no longer covers the backup"
		                  : "no live erasure journal was reachable", dest);
	if (r->emptied)
		printf("FORCED: %s held data; it was emptied first\n", dest);
}

/* restore.forced when --force changed what happened: a journal that no
 * longer covers the backup was passed over, or a target's data was
 * replaced. */
static const char *restore_action(const struct store_restore_report *r)
{
	return r->forced || r->emptied ? "restore.forced" : "restore";
}

static int restore_run(const struct config *cfg, const char *backup, const char *dest, bool force)
{
	char err[1024];
	struct store_restore_report r;
	enum rd_err rc = store_restore(backup, dest, cfg->database, force ? STORE_RESTORE_FORCE : 0, &r,
	                               err, sizeof err);
	if (rc != RD_OK) {
		fprintf(stderr, "redactd restore: %s\n", err);
		return rc == RD_E_INVALID_REQUEST ? EXIT_USAGE : EXIT_RUNTIME;
	}
	struct restore_audit a = { restore_action(&r), "", r.removed };
	char *copy = strdup(backup);
	snprintf(a.target, sizeof a.target, "backup:%.80s", copy ? basename(copy) : "?");
	free(copy);
	/* Unaudited, the restored copy would be a database nobody accounts for. */
	if (restore_audit(dest, &a) || (r.journal && restore_audit(cfg->database, &a))) {
		fprintf(stderr, "redactd restore: the restore could not be audit-logged; %s removed\n", dest);
		unlink(dest);
		return EXIT_RUNTIME;
	}
	print_restore(dest, &r);
	return EXIT_OK;
}

/* ---- restore into PostgreSQL -------------------------------------------------------- */

static bool is_pg_url(const char *to)
{
	return !strncmp(to, "postgresql://", 13) || !strncmp(to, "postgres://", 11);
}

struct verify_ctx {
	bool intact;
	char detail[256];
};

static void verify_line(const char *chain, const struct audit_report *r, void *ctx)
{
	struct verify_ctx *v = ctx;
	if (r->fault != AUDIT_INTACT && !v->detail[0])
		snprintf(v->detail, sizeof v->detail, "chain %s: %s", chain ? chain : "(system)", r->detail);
}

static enum rd_err verify_fn(struct store_tx *tx, void *arg)
{
	struct verify_ctx *v = arg;
	return audit_verify_all(tx, verify_line, v, &v->intact);
}

/* The target's entry and the end of its load commit together: a daemon
 * starts on the target only after both (store_import_check). */
static enum rd_err restore_finish_fn(struct store_tx *tx, void *arg)
{
	enum rd_err rc = restore_audit_fn(tx, arg);
	return rc == RD_OK ? store_import_finish(tx) : rc;
}

/* The configured (live) store and the target, both readonly; 0 or exit code. */
static int open_pg_pair(const struct config *cfg, const char *url, struct store **live,
                        struct store **target)
{
	static char err[1024];
	struct store_options so = { .sync_full = true, .readonly = true, .pg_url = cfg->pg_url,
	                            .pg_password = cfg->pg_password };
	if (store_open("", &so, live, err, sizeof err) != RD_OK) {
		fprintf(stderr, "redactd restore: the live store: %s\n", err);
		return EXIT_RUNTIME;
	}
	so.pg_url = url;
	if (store_open("", &so, target, err, sizeof err) != RD_OK) {
		fprintf(stderr, "redactd restore: the target: %s\n", err);
		return EXIT_RUNTIME;
	}
	return 0;
}

static int restore_pg_record(struct store *live, struct store *target, const char *backup,
                             const struct store_restore_report *r)
{
	struct verify_ctx v = { 0 };
	if (store_read(target, verify_fn, &v) != RD_OK || !v.intact) {
		fprintf(stderr, "redactd restore: the restored audit chains do not verify: %s\n",
		        v.detail[0] ? v.detail : "cannot read them");
		return EXIT_RUNTIME;
	}
	struct restore_audit a = { restore_action(r), "", r->removed };
	char *copy = strdup(backup);
	snprintf(a.target, sizeof a.target, "backup:%.80s", copy ? basename(copy) : "?");
	free(copy);
	if (store_exec(target, restore_finish_fn, &a) != RD_OK) {
		fprintf(stderr, "redactd restore: the restore could not be audit-logged in the target; run"
		        " the same command again (a daemon will not start on it until then)\n");
		return EXIT_RUNTIME;
	}
	if (store_exec(live, restore_audit_fn, &a) != RD_OK) {
		fprintf(stderr, "redactd restore: the target is restored, but the live store's audit entry"
		        " failed\n");
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static int restore_pg_run(const struct config *cfg, const char *backup, const char *url, bool force)
{
	static char err[1024];
	if (cfg->backend != STORAGE_POSTGRESQL) {
		fprintf(stderr, "redactd restore: a restore into PostgreSQL replays the erasure journal of the"
		        " configured PostgreSQL store, and [storage] backend is sqlite: restore into a file"
		        " (--to FILE), then redactd migrate it\n");
		return EXIT_USAGE;
	}
	struct store *live = NULL, *target = NULL;
	struct store_restore_report r;
	int rc = open_pg_pair(cfg, url, &live, &target);
	if (rc == 0) {
		enum rd_err e = store_pg_restore(backup, target, live, force ? STORE_RESTORE_FORCE : 0, &r,
		                                 err, sizeof err);
		if (e != RD_OK)
			fprintf(stderr, "redactd restore: %s\n", err);
		rc = e == RD_E_INVALID_REQUEST ? EXIT_USAGE : e != RD_OK ? EXIT_RUNTIME : 0;
	}
	if (rc == 0 && r.done_before)
		printf("an earlier run finished restoring %s into the target; nothing to do\n", backup);
	else if (rc == 0 && (rc = restore_pg_record(live, target, backup, &r)) == EXIT_OK)
		print_restore("the target database (postgresql)", &r);
	store_close(target);
	store_close(live);
	return rc;
}

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "to", required_argument, 0, 't' },
		{ "force", no_argument, 0, 'f' }, { "help", no_argument, 0, 'h' },
		{ "verbose", no_argument, 0, 'v' }, { 0, 0, 0, 0 },
	};
	const char *config = cli_default_config(), *to = NULL;
	bool force = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:v", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'v': log_set_level(LOG_INFO); break;
		case 't': to = optarg; break;
		case 'f': force = true; break;
		case 'h': fputs(restore_help, stdout); return EXIT_OK;
		default: fputs(restore_help, stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || !argv[optind][0] || !to || !*to) {
		fputs(restore_help, stderr);
		return EXIT_USAGE;
	}
	static char err[8192];
	struct config *cfg;
	if (crypto_global_init()) {
		fprintf(stderr, "redactd restore: libsodium failed to initialise\n");
		return EXIT_RUNTIME;
	}
	if (config_load(config, &cfg, err, sizeof err)) {
		fprintf(stderr, "redactd restore: %s\n", err);
		return EXIT_USAGE;
	}
	int rc;
	if (is_pg_url(to)) {
		rc = restore_pg_run(cfg, argv[optind], to, force);
	} else if (cfg->backend == STORAGE_POSTGRESQL) {
		fprintf(stderr, "redactd restore: [storage] backend is postgresql: restore into a new, empty"
		        " PostgreSQL database (--to postgresql://...)\n");
		rc = EXIT_USAGE;
	} else {
		rc = restore_run(cfg, argv[optind], to, force);
	}
	config_free(cfg);
	return rc;
}
