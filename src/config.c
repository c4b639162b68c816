/*
 * config.c — the INI configuration, parsed with inih and validated at load.
 *
 * inih hands us (section, key, value) but, as Debian builds it, not the line
 * (INI_HANDLER_LINENO is 0). So inih reads through our own line reader,
 * which counts lines and classifies each one the way inih will (comment,
 * continuation, [header], key) before inih sees it. That gives us:
 *  - the line of every key, and of every section header;
 *  - sections that hold no key at all, which inih never reports, so that an
 *    empty misspelt [section] is still an error;
 *  - our own copy of the header text (inih truncates it to 49 bytes);
 *  - indented continuation lines, which inih would silently glue onto the
 *    previous key: only a rule's pattern may continue, anything else is an
 *    error, so an indented key can never end up inside another key's value;
 *  - lines longer than inih's 200-byte buffer, which it would split into
 *    two lines: reported as too long and skipped whole.
 * Two sections with the same name (a global rule and a tenant's override of
 * it) stay two entries. Every problem is appended to an error list as
 * "FILE:LINE: message" and loading goes on, so check-config shows them all.
 *
 * Each section kind has one table of keys (name, parser, doc); adding a key
 * is one line in a table.
 */
#include "config.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- loader state --------------------------------------------------------- */

enum section_kind {
	SEC_NONE, SEC_SERVER, SEC_STORAGE, SEC_RETENTION, SEC_CHANNELS, SEC_AUDIT,
	SEC_RULE, SEC_TOKEN, SEC_SOURCE, SEC_TENANT,
};

struct loader {
	struct config *cfg;
	const char *file;
	FILE *f;
	int line;                 /* line the reader returned last */
	int section_seq;          /* bumps on every [header] line */
	int section_line;
	char *header;             /* text between [ and ] of that header */
	int handled_seq;          /* section_seq of the entry being filled */
	int ended_seq;            /* section_seq whose end checks have run */
	bool prev_key;            /* a key line since the header (inih's prev_name) */
	bool continuation;        /* the line inih gets next continues a value */
	struct buf seen;          /* "\nkey\n" of each key in this section instance */
	int tls_line;             /* last tls_cert/tls_key line, for the pair check */
	int syntax_line;          /* first syntax error classify_line reported */
	enum section_kind kind;
	char *name;               /* quoted section name, or NULL */
	void *entry;              /* rule/token/source/tenant being filled */
	char *retention_tenant;   /* [retention "T"] */
	struct cfg_error *errors;  /* every problem found, in the order found */
	size_t nerrors;
};

struct cfg_error {
	int line;
	size_t seq;               /* keeps errors on one line in the order found */
	char msg[512];
};

static void add_error(struct loader *ld, int line, const char *fmt, ...) RD_PRINTF(3, 4);
static void add_error(struct loader *ld, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct cfg_error *e = realloc(ld->errors, (ld->nerrors + 1) * sizeof *e);
	if (!e) {
		log_error("out of memory collecting config errors");
		return;
	}
	ld->errors = e;
	if (ld->kind == SEC_RULE && ld->entry)
		((struct rule_conf *)ld->entry)->invalid = true;
	e[ld->nerrors] = (struct cfg_error){ .line = line, .seq = ld->nerrors };
	memcpy(e[ld->nerrors].msg, msg, sizeof msg);
	ld->nerrors++;
}

static int cmp_error(const void *a, const void *b)
{
	const struct cfg_error *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Some checks run only at a section's end or the file's end, so errors are
 * found out of order; they are listed by line, as an editor would walk them. */
static void format_errors(struct loader *ld, char *err, size_t errlen)
{
	struct buf b = { 0 };
	qsort(ld->errors, ld->nerrors, sizeof *ld->errors, cmp_error);
	for (size_t i = 0; i < ld->nerrors; i++)
		if (buf_printf(&b, "%s:%d: %s\n", ld->file, ld->errors[i].line, ld->errors[i].msg))
			break;
	util_err(err, errlen, "%s", b.data ? b.data : "out of memory\n");
	buf_free(&b);
}

/* ---- small value parsers ----------------------------------------------------- */

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) { *out = true; return true; }
		if (!strcasecmp(v, no[i])) { *out = false; return true; }
	}
	return false;
}

/* Names of tenants, categories, rules, tokens: 1..64 of [A-Za-z0-9._-]. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > RD_MAX_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static bool valid_entity(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > RD_MAX_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static int parse_style(const char *v, enum redact_style *out)
{
	static const char *const names[] = { "tag", "mask", "partial", "hash", "remove" };
	for (size_t i = 0; i < RD_ARRAY_LEN(names); i++) {
		if (!strcmp(v, names[i])) {
			*out = (enum redact_style)i;
			return 0;
		}
	}
	return -1;
}

const char *config_style_name(enum redact_style s)
{
	static const char *const names[] = { "tag", "mask", "partial", "hash", "remove" };
	return (unsigned)s < RD_ARRAY_LEN(names) ? names[s] : "?";
}

/* Splits a comma list, trimming blanks; calls fn for each item. */
static int for_each_item(const char *v, int (*fn)(const char *item, void *ctx), void *ctx)
{
	char *copy = strdup(v), *save = NULL;
	int rc = 0;
	if (!copy)
		return -1;
	for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*t))
			t++;
		char *end = t + strlen(t);
		while (end > t && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*t)
			rc = fn(t, ctx);
	}
	free(copy);
	return rc;
}

static int set_str(char **dst, const char *v)
{
	char *c = strdup(v);
	if (!c)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

/* ---- key tables --------------------------------------------------------------- */

/* A key handler returns NULL on success or a message for the error list. */
typedef const char *(*key_fn)(struct loader *ld, const char *value);
struct key_def {
	const char *key;
	key_fn fn;
};

#define CFG (ld->cfg)

/* The same limits http.c applies when it binds: a host of under 256 bytes
 * (empty = every interface), and a unix path that fits sun_path (108). */
static const char *k_listen(struct loader *ld, const char *v)
{
	const char *colon = strrchr(v, ':');
	long port;
	if (!strncmp(v, "unix:", 5)) {
		if (v[5] != '/' || strlen(v + 5) >= 108)
			return "listen = unix:/path needs an absolute path of under 108 bytes";
	} else if (!colon || colon - v >= 256 || util_parse_long(colon + 1, 0, 65535, &port)) {
		return "listen must be host:port (port 0 to 65535), [v6addr]:port or unix:/path";
	}
	CFG->lines.listen = ld->line;
	return set_str(&CFG->listen, v) ? "out of memory" : NULL;
}

static const char *k_int(const char *v, long min, long max, int *out, const char *msg)
{
	long n;
	if (util_parse_long(v, min, max, &n))
		return msg;
	*out = (int)n;
	return NULL;
}

static const char *k_threads(struct loader *ld, const char *v)
{
	return k_int(v, 0, 256, &CFG->threads, "threads must be 0 (one per core) to 256");
}

static const char *k_max_body(struct loader *ld, const char *v)
{
	if (util_parse_size(v, &CFG->max_body) || CFG->max_body < 1024 || CFG->max_body > (64u << 20))
		return "max_body must be a size from 1k to 64M (e.g. 1M)";
	return NULL;
}

static const char *k_public_url(struct loader *ld, const char *v)
{
	if (*v && strncmp(v, "https://", 8) && strncmp(v, "http://", 7))
		return "public_url must start with https:// or http://";
	if (!*v)
		return NULL;
	return set_str(&CFG->public_url, v) ? "out of memory" : NULL;
}

/* A file a secret is read from: a path, or credential:NAME with a plain name. */
static bool valid_file_spec(const char *v)
{
	size_t plen = sizeof UTIL_CREDENTIAL_PREFIX - 1;
	return *v && (strncmp(v, UTIL_CREDENTIAL_PREFIX, plen) || valid_name(v + plen));
}

static const char *k_tls_cert(struct loader *ld, const char *v)
{
	if (!valid_file_spec(v))
		return "tls_cert must be a file path or credential:NAME (a plain name)";
	ld->tls_line = CFG->lines.tls_cert = ld->line;
	return set_str(&CFG->tls_cert, v) ? "out of memory" : NULL;
}

static const char *k_tls_key(struct loader *ld, const char *v)
{
	if (!valid_file_spec(v))
		return "tls_key must be a file path or credential:NAME (a plain name)";
	ld->tls_line = CFG->lines.tls_key = ld->line;
	return set_str(&CFG->tls_key, v) ? "out of memory" : NULL;
}

static const char *k_max_connections(struct loader *ld, const char *v)
{
	return k_int(v, 1, 100000, &CFG->max_connections, "max_connections must be 1 to 100000");
}

static const char *k_request_timeout(struct loader *ld, const char *v)
{
	int64_t d;
	if (util_parse_duration(v, &d) || d < 1 || d > 3600)
		return "request_timeout must be a duration from 1s to 1h";
	CFG->request_timeout = (int)d;
	return NULL;
}

static const char *k_access_log(struct loader *ld, const char *v)
{
	if (!strcasecmp(v, "errors"))
		CFG->access_log = ACCESS_LOG_ERRORS;
	else if (!strcasecmp(v, "all"))
		CFG->access_log = ACCESS_LOG_ALL;
	else if (!strcasecmp(v, "off"))
		CFG->access_log = ACCESS_LOG_OFF;
	else
		return "access_log must be errors, all or off";
	return NULL;
}

static const char *k_max_connections_per_ip(struct loader *ld, const char *v)
{
	return k_int(v, 1, 100000, &CFG->max_connections_per_ip,
	             "max_connections_per_ip must be 1 to 100000");
}

/* A whole number of seconds in [min, max]: "10s", "2m". */
static const char *k_seconds(const char *v, int64_t min, int64_t max, int *out, const char *msg)
{
	int64_t d;
	if (util_parse_duration(v, &d) || d < min || d > max)
		return msg;
	*out = (int)d;
	return NULL;
}

static const char *k_header_timeout(struct loader *ld, const char *v)
{
	return k_seconds(v, 1, 3600, &CFG->header_timeout,
	                 "header_timeout must be a duration from 1s to 1h");
}

static const char *k_body_grace(struct loader *ld, const char *v)
{
	return k_seconds(v, 1, 3600, &CFG->body_grace, "body_grace must be a duration from 1s to 1h");
}

static const char *k_body_min_rate(struct loader *ld, const char *v)
{
	if (util_parse_size(v, &CFG->body_min_rate) || CFG->body_min_rate > (64u << 20))
		return "body_min_rate must be a size per second from 0 (off) to 64M (e.g. 1k)";
	return NULL;
}

/* "0" (off), "N", "N/s", "N/min" or "N/h": requests per second. */
static int parse_rate(const char *v, double *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	double per = !*end || !strcmp(end, "/s") ? 1 : !strcmp(end, "/min") ? 60
	             : !strcmp(end, "/h") ? 3600 : 0;
	if (errno || end == v || n < 0 || n > 1000000 || per == 0)
		return -1;
	*out = (double)n / per;
	return 0;
}

static const char *k_rate_limit_per_ip(struct loader *ld, const char *v)
{
	if (parse_rate(v, &CFG->rate_limit_per_ip))
		return "rate_limit_per_ip must be 0 (off) or N, N/s, N/min or N/h requests (N <= 1000000)";
	return NULL;
}

static const char *k_rate_burst_per_ip(struct loader *ld, const char *v)
{
	return k_int(v, 0, 1000000, &CFG->rate_burst_per_ip,
	             "rate_burst_per_ip must be 0 (the rate, at least 1) to 1000000 requests");
}

static const struct key_def server_keys[] = {
	{ "listen", k_listen }, { "threads", k_threads }, { "max_body", k_max_body },
	{ "public_url", k_public_url }, { "tls_cert", k_tls_cert }, { "tls_key", k_tls_key },
	{ "max_connections", k_max_connections }, { "request_timeout", k_request_timeout },
	{ "access_log", k_access_log }, { "max_connections_per_ip", k_max_connections_per_ip },
	{ "header_timeout", k_header_timeout }, { "body_min_rate", k_body_min_rate },
	{ "body_grace", k_body_grace }, { "rate_limit_per_ip", k_rate_limit_per_ip },
	{ "rate_burst_per_ip", k_rate_burst_per_ip },
};

static const char *k_database(struct loader *ld, const char *v)
{
	if (!*v)
		return "database must be a file path";
	CFG->lines.database = ld->line;
	return set_str(&CFG->database, v) ? "out of memory" : NULL;
}

/* Reading a key-less backup (redactd backup): the database whose data keys
 * open it. Empty means none. */
static const char *k_keys_from(struct loader *ld, const char *v)
{
	free(CFG->keys_from);
	CFG->keys_from = NULL;
	CFG->lines.keys_from = ld->line;
	return *v && set_str(&CFG->keys_from, v) ? "out of memory" : NULL;
}

/* The master key never sits in the config: refuse anything that looks like
 * key material rather than a path (SPEC invariant 7). */
static bool looks_like_key(const char *v)
{
	size_t n = strlen(v), keyish = 0;
	if (strchr(v, '/') || strncmp(v, UTIL_CREDENTIAL_PREFIX, sizeof UTIL_CREDENTIAL_PREFIX - 1) == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (isalnum((unsigned char)v[i]) || v[i] == '+' || v[i] == '=')
			keyish++;
	return n >= 32 && keyish == n;
}

static const char *k_key_file(struct loader *ld, const char *v)
{
	if (!*v)
		return "key_file must be a path or credential:NAME";
	if (looks_like_key(v))
		return "key_file must be a path or credential:NAME, never the key itself";
	if (!valid_file_spec(v))
		return "key_file credential:NAME needs a plain credential name";
	CFG->lines.key_file = ld->line;
	return set_str(&CFG->key_file, v) ? "out of memory" : NULL;
}

static const char *k_synchronous(struct loader *ld, const char *v)
{
	if (!strcasecmp(v, "full"))
		CFG->sync_full = true;
	else if (!strcasecmp(v, "normal"))
		CFG->sync_full = false;
	else
		return "synchronous must be full or normal";
	return NULL;
}

static const char *k_queue_size(struct loader *ld, const char *v)
{
	return k_int(v, 16, 1 << 22, &CFG->queue_size, "queue_size must be 16 to 4194304 records");
}

static const char *k_batch_max(struct loader *ld, const char *v)
{
	return k_int(v, 1, 1 << 20, &CFG->batch_max, "batch_max must be 1 to 1048576 records");
}

/* Microseconds: "0", "500us", "2ms". */
static const char *k_batch_wait(struct loader *ld, const char *v)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	unsigned long mul = !strcmp(end, "ms") ? 1000 : (!strcmp(end, "us") || !*end) ? 1 : 0;
	if (errno || end == v || !mul || n * mul > 100000)
		return "batch_wait must be 0 to 100ms, in us or ms (e.g. 500us)";
	CFG->batch_wait_us = (int)(n * mul);
	return NULL;
}

static const struct key_def storage_keys[] = {
	{ "database", k_database }, { "key_file", k_key_file }, { "synchronous", k_synchronous },
	{ "queue_size", k_queue_size }, { "batch_max", k_batch_max }, { "batch_wait", k_batch_wait },
	{ "keys_from", k_keys_from },
};

static const char *k_audit_retention(struct loader *ld, const char *v)
{
	if (util_parse_duration(v, &CFG->audit_retention))
		return "retention must be a duration (e.g. 2190d) or 0 for forever";
	return NULL;
}

static const struct key_def audit_keys[] = { { "retention", k_audit_retention } };

/* ---- rules, tokens, sources, tenants ------------------------------------------ */

#define RULE ((struct rule_conf *)ld->entry)
#define TOKEN ((struct token_conf *)ld->entry)
#define SOURCE ((struct source_conf *)ld->entry)

/* Emptiness is checked at the section's end (end_rule): `pattern =` may be
 * followed by indented continuation lines. */
static const char *k_rule_pattern(struct loader *ld, const char *v)
{
	RULE->set |= RULE_F_PATTERN;
	RULE->line = ld->line;   /* compile errors point at the pattern itself */
	return set_str(&RULE->pattern, v) ? "out of memory" : NULL;
}

static const char *scan_to(const char *s, const char *chars);

/* An indented line after `pattern = ...` continues it, for patterns longer
 * than a line may be. The blanks around each piece are not part of it, so
 * pieces join with nothing between them. inih 55 (Debian 12) leaves an
 * inline comment on a continuation line, later versions strip it: strip it
 * here so both read the same. */
static const char *continue_pattern(struct loader *ld, const char *v)
{
	size_t a = strlen(RULE->pattern), b = (size_t)(scan_to(v, "") - v);
	while (b > 0 && isspace((unsigned char)v[b - 1]))
		b--;
	char *p = realloc(RULE->pattern, a + b + 1);
	if (!p)
		return "out of memory";
	memcpy(p + a, v, b);
	p[a + b] = '\0';
	RULE->pattern = p;
	return NULL;
}

static const char *k_rule_entity(struct loader *ld, const char *v)
{
	if (!valid_entity(v))
		return "entity must be 1 to 64 of A-Z 0-9 _ (e.g. EMAIL)";
	RULE->set |= RULE_F_ENTITY;
	return set_str(&RULE->entity, v) ? "out of memory" : NULL;
}

static const char *k_rule_style(struct loader *ld, const char *v)
{
	if (parse_style(v, &RULE->style))
		return "style must be tag, mask, partial, hash or remove";
	RULE->set |= RULE_F_STYLE;
	return NULL;
}

static const char *k_rule_keep(struct loader *ld, const char *v)
{
	RULE->set |= RULE_F_KEEP;
	return k_int(v, 1, 8, &RULE->keep, "keep must be 1 to 8 characters");
}

static const char *k_rule_validator(struct loader *ld, const char *v)
{
	if (!valid_name(v))
		return "validator must be a validator name (none, luhn, iban, phone, ...)";
	RULE->set |= RULE_F_VALIDATOR;
	return set_str(&RULE->validator, v) ? "out of memory" : NULL;
}

static const char *k_rule_priority(struct loader *ld, const char *v)
{
	RULE->set |= RULE_F_PRIORITY;
	return k_int(v, 0, 1000, &RULE->priority, "priority must be 0 to 1000");
}

static int add_context_word(const char *item, void *ctx)
{
	struct rule_conf *r = ctx;
	char **n = realloc(r->context, (r->ncontext + 1) * sizeof *n);
	if (!n)
		return -1;
	r->context = n;
	if (!(n[r->ncontext] = strdup(item)))
		return -1;
	for (char *p = n[r->ncontext]; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	r->ncontext++;
	return 0;
}

static const char *k_rule_context(struct loader *ld, const char *v)
{
	for (size_t i = 0; i < RULE->ncontext; i++)
		free(RULE->context[i]);
	RULE->ncontext = 0;
	RULE->set |= RULE_F_CONTEXT;
	return for_each_item(v, add_context_word, RULE) ? "out of memory" : NULL;
}

static int add_allow_word(const char *item, void *ctx)
{
	struct rule_conf *r = ctx;
	char **n = realloc(r->allow, (r->nallow + 1) * sizeof *n);
	if (!n)
		return -1;
	r->allow = n;
	if (!(n[r->nallow] = strdup(item)))
		return -1;
	for (char *p = n[r->nallow]; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	r->nallow++;
	return 0;
}

/* allow = Alexa, Sarah: words the rule leaves alone (person, address). */
static const char *k_rule_allow(struct loader *ld, const char *v)
{
	for (size_t i = 0; i < RULE->nallow; i++)
		free(RULE->allow[i]);
	RULE->nallow = 0;
	RULE->set |= RULE_F_ALLOW;
	return for_each_item(v, add_allow_word, RULE) ? "out of memory" : NULL;
}

static const char *k_rule_context_required(struct loader *ld, const char *v)
{
	RULE->set |= RULE_F_CONTEXT_REQUIRED;
	return parse_bool(v, &RULE->context_required) ? NULL : "context_required must be yes or no";
}

static const char *k_rule_enabled(struct loader *ld, const char *v)
{
	RULE->set |= RULE_F_ENABLED;
	return parse_bool(v, &RULE->enabled) ? NULL : "enabled must be yes or no";
}

static int add_channel(const char *item, void *ctx)
{
	enum rd_channel ch;
	if (rd_channel_parse(item, &ch))
		return 1;
	*(unsigned *)ctx |= 1u << ch;
	return 0;
}

static const char *k_rule_channels(struct loader *ld, const char *v)
{
	RULE->channels = 0;
	RULE->set |= RULE_F_CHANNELS;
	int rc = for_each_item(v, add_channel, &RULE->channels);
	if (rc > 0)
		return "channels must list web, whatsapp, sms, voice, email or other";
	return rc ? "out of memory" : NULL;
}

static const char *k_rule_tenant(struct loader *ld, const char *v)
{
	if (!valid_name(v))
		return "tenant must be 1 to 64 of A-Z a-z 0-9 . _ -";
	return set_str(&RULE->tenant, v) ? "out of memory" : NULL;
}

static const struct key_def rule_keys[] = {
	{ "pattern", k_rule_pattern }, { "entity", k_rule_entity }, { "style", k_rule_style },
	{ "keep", k_rule_keep }, { "validator", k_rule_validator }, { "priority", k_rule_priority },
	{ "context", k_rule_context }, { "context_required", k_rule_context_required },
	{ "enabled", k_rule_enabled }, { "channels", k_rule_channels }, { "tenant", k_rule_tenant },
	{ "allow", k_rule_allow },
};

static const char *k_token_sha256(struct loader *ld, const char *v)
{
	if (util_hex_decode(v, TOKEN->sha256, sizeof TOKEN->sha256))
		return "sha256 must be 64 hex digits (redactd token new NAME --scopes LIST prints them)";
	TOKEN->scopes |= 1u << 31;   /* marks "hash given"; cleared at validation */
	return NULL;
}

static int add_scope(const char *item, void *ctx)
{
	unsigned *scopes = ctx;
	if (!strcmp(item, "ingest")) *scopes |= SCOPE_INGEST;
	else if (!strcmp(item, "read")) *scopes |= SCOPE_READ;
	else if (!strcmp(item, "admin")) *scopes |= SCOPE_ADMIN;
	else if (!strcmp(item, "metrics")) *scopes |= SCOPE_METRICS;
	else return 1;
	return 0;
}

static const char *k_token_scopes(struct loader *ld, const char *v)
{
	unsigned scopes = 0;
	int rc = for_each_item(v, add_scope, &scopes);
	if (rc > 0 || scopes == 0)
		return "scopes must list ingest, read, admin and/or metrics";
	TOKEN->scopes = (TOKEN->scopes & (1u << 31)) | scopes;
	return NULL;
}

static const char *k_token_tenant(struct loader *ld, const char *v)
{
	if (!valid_name(v))
		return "tenant must be 1 to 64 of A-Z a-z 0-9 . _ -";
	return set_str(&TOKEN->tenant, v) ? "out of memory" : NULL;
}

static const char *k_token_rate_limit(struct loader *ld, const char *v)
{
	if (parse_rate(v, &TOKEN->rate_limit))
		return "rate_limit must be 0 (off) or N, N/s, N/min or N/h requests (N <= 1000000)";
	return NULL;
}

static const char *k_token_rate_burst(struct loader *ld, const char *v)
{
	return k_int(v, 0, 1000000, &TOKEN->rate_burst,
	             "rate_burst must be 0 (the rate, at least 1) to 1000000 requests");
}

static const struct key_def token_keys[] = {
	{ "sha256", k_token_sha256 }, { "scopes", k_token_scopes }, { "tenant", k_token_tenant },
	{ "rate_limit", k_token_rate_limit }, { "rate_burst", k_token_rate_burst },
};

static const char *k_source_secret(struct loader *ld, const char *v)
{
	if (!valid_file_spec(v))
		return "secret_file must be a file path or credential:NAME (a plain name)";
	SOURCE->secret_line = ld->line;
	return set_str(&SOURCE->secret_file, v) ? "out of memory" : NULL;
}

static const char *k_source_verify(struct loader *ld, const char *v)
{
	if (!valid_file_spec(v))
		return "verify_token_file must be a file path or credential:NAME (a plain name)";
	SOURCE->verify_line = ld->line;
	return set_str(&SOURCE->verify_token_file, v) ? "out of memory" : NULL;
}

static const char *k_source_tenant(struct loader *ld, const char *v)
{
	if (!valid_name(v))
		return "tenant must be 1 to 64 of A-Z a-z 0-9 . _ -";
	return set_str(&SOURCE->tenant, v) ? "out of memory" : NULL;
}

static const struct key_def source_keys[] = {
	{ "secret_file", k_source_secret }, { "verify_token_file", k_source_verify },
	{ "tenant", k_source_tenant },
};

static const char *k_tenant_style(struct loader *ld, const char *v)
{
	struct tenant_conf *t = ld->entry;
	if (parse_style(v, &t->style))
		return "style must be tag, mask, partial, hash or remove";
	t->style_set = true;
	return NULL;
}

static const struct key_def tenant_keys[] = { { "style", k_tenant_style } };

/* ---- retention and channels: keys are names ------------------------------------ */

static const char *set_retention(struct loader *ld, const char *category, const char *v)
{
	struct config *c = CFG;
	int64_t secs;
	if (!valid_name(category))
		return "retention keys are category names of A-Z a-z 0-9 . _ -";
	if (util_parse_duration(v, &secs))
		return "retention must be a duration such as 30d, 12h or 0 (keep forever)";
	for (size_t i = 0; i < c->nretention; i++) {
		struct retention_conf *r = &c->retention[i];
		bool same_tenant = (!r->tenant && !ld->retention_tenant) ||
		                   (r->tenant && ld->retention_tenant && !strcmp(r->tenant, ld->retention_tenant));
		if (same_tenant && !strcmp(r->category, category)) {
			r->seconds = secs;
			return NULL;
		}
	}
	struct retention_conf *n = realloc(c->retention, (c->nretention + 1) * sizeof *n);
	if (!n)
		return "out of memory";
	c->retention = n;
	n = &c->retention[c->nretention];
	memset(n, 0, sizeof *n);
	n->seconds = secs;
	if (!(n->category = strdup(category)) ||
	    (ld->retention_tenant && !(n->tenant = strdup(ld->retention_tenant)))) {
		free(n->category);
		return "out of memory";
	}
	c->nretention++;
	return NULL;
}

static const char *retention_key(struct loader *ld, const char *key, const char *v)
{
	int64_t d;
	if (!ld->retention_tenant && !strcmp(key, "sweep_interval")) {
		if (util_parse_duration(v, &d) || d < 1)
			return "sweep_interval must be a duration of at least 1s";
		CFG->sweep_interval = d;
		return NULL;
	}
	if (!ld->retention_tenant && !strcmp(key, "sweep_batch")) {
		return k_int(v, 1, 100000, &CFG->sweep_batch, "sweep_batch must be 1 to 100000 rows");
	}
	if (ld->retention_tenant && (!strcmp(key, "sweep_interval") || !strcmp(key, "sweep_batch")))
		return "the sweeper's settings are global: set them in [retention], not per tenant";
	if (!ld->retention_tenant && !strcmp(key, "default")) {
		if (util_parse_duration(v, &CFG->default_retention))
			return "default must be a duration such as 730d, or 0 (keep forever)";
		return NULL;
	}
	return set_retention(ld, key, v);
}

static const char *channels_key(struct loader *ld, const char *key, const char *v)
{
	enum rd_channel ch;
	if (rd_channel_parse(key, &ch))
		return "unknown channel (web, whatsapp, sms, voice, email, other)";
	if (!valid_name(v))
		return "a channel maps to a category name of A-Z a-z 0-9 . _ -";
	return set_str(&CFG->channel_category[ch], v) ? "out of memory" : NULL;
}

/* ---- sections ------------------------------------------------------------------ */

static const struct {
	const char *word;
	enum section_kind kind;
	bool named;
} section_kinds[] = {
	{ "server", SEC_SERVER, false }, { "storage", SEC_STORAGE, false },
	{ "retention", SEC_RETENTION, false }, { "retention", SEC_RETENTION, true },
	{ "channels", SEC_CHANNELS, false }, { "audit", SEC_AUDIT, false },
	{ "rule", SEC_RULE, true }, { "token", SEC_TOKEN, true }, { "source", SEC_SOURCE, true },
	{ "tenant", SEC_TENANT, true },
};

/* Splits `word "name"` into word and name; name NULL when there is none. */
static int split_section(const char *section, char *word, size_t wlen, char **name)
{
	const char *sp = strchr(section, ' ');
	size_t n = sp ? (size_t)(sp - section) : strlen(section);
	*name = NULL;
	if (n == 0 || n >= wlen)
		return -1;
	memcpy(word, section, n);
	word[n] = '\0';
	if (!sp)
		return 0;
	while (*sp == ' ')
		sp++;
	size_t len = strlen(sp);
	if (len < 3 || sp[0] != '"' || sp[len - 1] != '"')
		return -1;
	*name = strndup(sp + 1, len - 2);
	return *name ? 0 : -1;
}

static void *grow(void **arr, size_t *n, size_t size)
{
	char *a = realloc(*arr, (*n + 1) * size);
	if (!a)
		return NULL;
	*arr = a;
	memset(a + *n * size, 0, size);
	return a + (*n)++ * size;
}

/* A new [rule|token|source|tenant "NAME"] entry. */
static int open_entry(struct loader *ld)
{
	struct config *c = CFG;
	switch (ld->kind) {
	case SEC_RULE: {
		struct rule_conf *r = grow((void **)&c->rules, &c->nrules, sizeof *r);
		if (!r || !(r->name = strdup(ld->name)) || !(r->file = strdup(ld->file)))
			return -1;
		r->line = ld->section_line;
		r->enabled = true;
		r->keep = 4;
		r->priority = 50;
		ld->entry = r;
		return 0;
	}
	case SEC_TOKEN: {
		struct token_conf *t = grow((void **)&c->tokens, &c->ntokens, sizeof *t);
		if (!t || !(t->name = strdup(ld->name)))
			return -1;
		ld->entry = t;
		return 0;
	}
	case SEC_SOURCE: {
		struct source_conf *s = grow((void **)&c->sources, &c->nsources, sizeof *s);
		if (!s || !(s->name = strdup(ld->name)))
			return -1;
		ld->entry = s;
		return 0;
	}
	case SEC_TENANT: {
		struct tenant_conf *t = grow((void **)&c->tenants, &c->ntenants, sizeof *t);
		if (!t || !(t->name = strdup(ld->name)))
			return -1;
		ld->entry = t;
		return 0;
	}
	default:
		return 0;
	}
}

/* Tokens, sources and tenants are looked up by name: a second section of
 * the same name would be silently shadowed by the first. (Rules may repeat
 * a name for another tenant; end_rule checks those.) */
static bool named_twice(const struct loader *ld)
{
	const struct config *c = ld->cfg;
	for (size_t i = 0; ld->kind == SEC_TOKEN && i < c->ntokens; i++)
		if (!strcmp(c->tokens[i].name, ld->name))
			return true;
	for (size_t i = 0; ld->kind == SEC_SOURCE && i < c->nsources; i++)
		if (!strcmp(c->sources[i].name, ld->name))
			return true;
	for (size_t i = 0; ld->kind == SEC_TENANT && i < c->ntenants; i++)
		if (!strcmp(c->tenants[i].name, ld->name))
			return true;
	return false;
}

/* Checks the header of the current section and opens its entry. Runs for
 * the first key of each section instance, or at its end if it has none;
 * a section it refuses gets kind SEC_NONE and its keys are skipped. */
static void begin_section(struct loader *ld)
{
	char word[32];
	free(ld->name);
	ld->name = NULL;
	ld->kind = SEC_NONE;
	ld->entry = NULL;
	ld->retention_tenant = NULL;
	ld->handled_seq = ld->section_seq;
	if (split_section(ld->header, word, sizeof word, &ld->name)) {
		add_error(ld, ld->section_line, "bad section header [%s] (expected [name] or [name \"value\"])",
		          ld->header);
		return;
	}
	enum section_kind kind = SEC_NONE;
	for (size_t i = 0; i < RD_ARRAY_LEN(section_kinds); i++)
		if (!strcmp(word, section_kinds[i].word) && section_kinds[i].named == (ld->name != NULL))
			kind = section_kinds[i].kind;
	if (kind == SEC_NONE) {
		add_error(ld, ld->section_line, "unknown section [%s]", ld->header);
		return;
	}
	if (ld->name && !valid_name(ld->name)) {
		add_error(ld, ld->section_line, "section name \"%s\" must be 1 to 64 of A-Z a-z 0-9 . _ -", ld->name);
		return;
	}
	if (kind == SEC_SOURCE && strcmp(ld->name, "twilio") && strcmp(ld->name, "whatsapp") &&
	    strcmp(ld->name, "dialogflow-cx")) {
		add_error(ld, ld->section_line, "unknown source \"%s\" (twilio, whatsapp, dialogflow-cx)", ld->name);
		return;
	}
	ld->kind = kind;
	if (named_twice(ld)) {
		add_error(ld, ld->section_line, "[%s] is defined twice", ld->header);
		ld->kind = SEC_NONE;
		return;
	}
	if (kind == SEC_RETENTION)
		ld->retention_tenant = ld->name;
	if (open_entry(ld))
		add_error(ld, ld->section_line, "out of memory");
}

static bool same_tenant(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void end_rule(struct loader *ld)
{
	const struct rule_conf *r = RULE;
	if ((r->set & RULE_F_PATTERN) && r->pattern && !*r->pattern)
		add_error(ld, r->line, "pattern must not be empty");
	/* Two sections for the same rule and tenant: which one counts would be
	 * an accident of order. */
	for (const struct rule_conf *o = CFG->rules; o < r; o++)
		if (!strcmp(o->name, r->name) && same_tenant(o->tenant, r->tenant))
			add_error(ld, ld->section_line, "[rule \"%s\"] is defined twice for %s%s (also at line %d)",
			          r->name, r->tenant ? "tenant " : "every tenant", r->tenant ? r->tenant : "", o->line);
}

static void end_token(struct loader *ld)
{
	struct token_conf *t = TOKEN;
	if (!(t->scopes & (1u << 31)))
		add_error(ld, ld->section_line, "[token \"%s\"] needs sha256 = <64 hex digits>", t->name);
	t->scopes &= ~(1u << 31);
	if (!t->scopes)
		add_error(ld, ld->section_line, "[token \"%s\"] needs scopes = ingest, read, admin and/or metrics", t->name);
	/* One secret, two scope sets: whichever matched last would win. */
	for (const struct token_conf *o = CFG->tokens; o < t; o++)
		if (!sodium_memcmp(o->sha256, t->sha256, sizeof t->sha256))
			add_error(ld, ld->section_line, "[token \"%s\"] has the same sha256 as [token \"%s\"]",
			          t->name, o->name);
}

static void end_source(struct loader *ld)
{
	const struct source_conf *s = SOURCE;
	if (!s->secret_file && strcmp(s->name, "dialogflow-cx"))
		add_error(ld, ld->section_line, "[source \"%s\"] needs secret_file", s->name);
}

/* Checks that need the whole section, run when the next header or the end
 * of the file arrives. A section without keys is checked too: inih never
 * calls us for it, and an empty misspelt [section] must still be an error. */
static void end_section(struct loader *ld)
{
	if (ld->section_seq == 0 || ld->ended_seq == ld->section_seq)
		return;
	if (ld->handled_seq != ld->section_seq)
		begin_section(ld);
	ld->ended_seq = ld->section_seq;
	if (!ld->entry)
		return;
	switch (ld->kind) {
	case SEC_RULE: end_rule(ld); break;
	case SEC_TOKEN: end_token(ld); break;
	case SEC_SOURCE: end_source(ld); break;
	default: break;
	}
}

static const char *table_key(struct loader *ld, const struct key_def *t, size_t n, const char *key,
                             const char *value, bool *known)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(t[i].key, key)) {
			*known = true;
			return t[i].fn(ld, value);
		}
	}
	*known = false;
	return NULL;
}

#define TABLE(t) (t), RD_ARRAY_LEN(t)

/* A key given twice in one section is a mistake whichever value was meant. */
static bool key_seen(struct loader *ld, const char *key)
{
	char k[256];
	snprintf(k, sizeof k, "\n%s\n", key);
	if (ld->seen.len && strstr(ld->seen.data, k)) {
		add_error(ld, ld->line, "key \"%s\" is given twice in [%s]", key, ld->header);
		return true;
	}
	if (buf_printf(&ld->seen, "%s%s\n", ld->seen.len ? "" : "\n", key))
		log_error("out of memory collecting config keys");
	return false;
}

static void on_continuation(struct loader *ld, const char *key, const char *value)
{
	const char *msg;
	if (ld->kind == SEC_RULE && !strcmp(key, "pattern") && RULE->pattern)
		msg = continue_pattern(ld, value);
	else
		msg = "an indented line continues the value above it, which only a rule's "
		      "pattern may do: remove the leading blanks";
	if (msg)
		add_error(ld, ld->line, "%s", msg);
}

static void dispatch_key(struct loader *ld, const char *key, const char *value)
{
	bool known = true;
	const char *msg = NULL;
	switch (ld->kind) {
	case SEC_SERVER: msg = table_key(ld, TABLE(server_keys), key, value, &known); break;
	case SEC_STORAGE: msg = table_key(ld, TABLE(storage_keys), key, value, &known); break;
	case SEC_AUDIT: msg = table_key(ld, TABLE(audit_keys), key, value, &known); break;
	case SEC_RULE: msg = table_key(ld, TABLE(rule_keys), key, value, &known); break;
	case SEC_TOKEN: msg = table_key(ld, TABLE(token_keys), key, value, &known); break;
	case SEC_SOURCE: msg = table_key(ld, TABLE(source_keys), key, value, &known); break;
	case SEC_TENANT: msg = table_key(ld, TABLE(tenant_keys), key, value, &known); break;
	case SEC_RETENTION: msg = retention_key(ld, key, value); break;
	case SEC_CHANNELS: msg = channels_key(ld, key, value); break;
	default: break;
	}
	if (!known)
		add_error(ld, ld->line, "unknown key \"%s\" in [%s]", key, ld->header);
	else if (msg && !strncmp(msg, key, strlen(key)))
		add_error(ld, ld->line, "%s", msg);   /* the message already names the key */
	else if (msg)
		add_error(ld, ld->line, "%s: %s", key, msg);
}

/* inih's handler. `section` is unused: inih truncates it to 49 bytes, and
 * the reader kept the whole header in ld->header. */
static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct loader *ld = user;
	(void)section;
	if (ld->section_seq == 0) {
		add_error(ld, ld->line, "key \"%s\" outside any section", key);
		return 1;
	}
	if (ld->handled_seq != ld->section_seq)
		begin_section(ld);
	if (ld->kind == SEC_NONE)
		return 1;   /* the section's own error was reported once */
	if (ld->continuation)
		on_continuation(ld, key, value);
	else if (!key_seen(ld, key))
		dispatch_key(ld, key, value);
	return 1;
}

/* ---- the line reader ------------------------------------------------------------ */

/* inih's scan for one of `chars`, stopping at an inline comment (a ';'
 * after a blank), so that we read each line exactly as inih will. */
static const char *scan_to(const char *s, const char *chars)
{
	bool was_space = false;
	while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* A [header] line: ends the previous section and keeps the header text. */
static void header_line(struct loader *ld, const char *p)
{
	const char *end = scan_to(p, "]");
	char *h;
	if (*end != ']') {
		add_error(ld, ld->line, "syntax error: a [section header needs its ]");
		ld->syntax_line = ld->syntax_line ? ld->syntax_line : ld->line;
		return;   /* inih keeps the old section, so do we */
	}
	end_section(ld);
	if (!(h = strndup(p, (size_t)(end - p)))) {
		add_error(ld, ld->line, "out of memory");
		return;
	}
	free(ld->header);
	ld->header = h;
	ld->section_seq++;
	ld->section_line = ld->line;
	ld->prev_key = false;
	buf_reset(&ld->seen);
}

/* Classifies a line in the order inih does: comment or blank, continuation
 * (indented, after a key of this section), header, key = value. Lines that
 * are none of these are reported here, so that every one is, where inih
 * returns only the first. */
static void classify_line(struct loader *ld, const char *line)
{
	const char *p = line;
	if (ld->line == 1 && !strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3;   /* a UTF-8 byte order mark, which inih skips */
	while (isspace((unsigned char)*p))
		p++;
	ld->continuation = false;
	if (!*p || *p == ';' || *p == '#')
		return;
	if (ld->prev_key && p > line) {
		ld->continuation = true;
		return;
	}
	if (*p == '[') {
		header_line(ld, p + 1);
		return;
	}
	const char *sep = scan_to(p, "=:");
	if (*sep == '=' || *sep == ':') {
		ld->prev_key = sep > p;
		return;
	}
	add_error(ld, ld->line, "syntax error (expected [section], key = value or a ; comment)");
	ld->syntax_line = ld->syntax_line ? ld->syntax_line : ld->line;
}

static bool at_eof(FILE *f)
{
	int c = getc(f);
	if (c == EOF)
		return true;
	ungetc(c, f);
	return false;
}

static void skip_rest_of_line(FILE *f)
{
	int c;
	while ((c = getc(f)) != EOF && c != '\n')
		;
}

/* inih reads through this, one physical line per call, so ld->line is the
 * line of the key inih hands to on_key next. A line too long for inih's
 * buffer is refused whole rather than split (inih would read its tail as
 * another line); inih gets a blank line in its place. */
static char *read_line(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	if (!fgets(str, num, ld->f)) {
		end_section(ld);
		return NULL;
	}
	ld->line++;
	size_t n = strlen(str);
	if (num > 2 && n + 1 == (size_t)num && str[n - 1] != '\n' && !at_eof(ld->f)) {
		skip_rest_of_line(ld->f);
		add_error(ld, ld->line, "line longer than %d bytes; continue a long pattern on indented lines",
		          num - 2);
		ld->continuation = false;
		str[0] = '\n';
		str[1] = '\0';
		return str;
	}
	classify_line(ld, str);
	return str;
}

/* ---- defaults and final checks ------------------------------------------------- */

static int set_defaults(struct config *c)
{
	static const struct { const char *category; int64_t days; } builtin[] = {
		{ "chat_transcript", 365 }, { "call_transcript", 365 }, { "lead", 365 }, { "email", 730 },
	};
	static const char *const channel_default[CH_COUNT] = {
		[CH_WEB] = "chat_transcript", [CH_WHATSAPP] = "chat_transcript", [CH_SMS] = "chat_transcript",
		[CH_VOICE] = "call_transcript", [CH_EMAIL] = "email", [CH_OTHER] = "chat_transcript",
	};
	c->threads = 0;
	c->max_body = 1u << 20;
	c->max_connections = 1024;
	c->request_timeout = 30;
	c->max_connections_per_ip = 256;
	c->header_timeout = 10;
	c->body_min_rate = 1024;
	c->body_grace = 10;
	c->access_log = ACCESS_LOG_ERRORS;
	c->sync_full = true;
	c->queue_size = 65536;
	c->batch_max = 4096;
	c->default_retention = 730 * 86400;
	c->sweep_interval = 3600;
	c->sweep_batch = 500;
	if (set_str(&c->listen, "127.0.0.1:8080") || set_str(&c->database, "/var/lib/redactd/redactd.db") ||
	    set_str(&c->key_file, "/etc/redactd/master.key"))
		return -1;
	for (int i = 0; i < CH_COUNT; i++)
		if (set_str(&c->channel_category[i], channel_default[i]))
			return -1;
	c->retention = calloc(RD_ARRAY_LEN(builtin), sizeof *c->retention);
	if (!c->retention)
		return -1;
	for (size_t i = 0; i < RD_ARRAY_LEN(builtin); i++) {
		c->retention[i].seconds = builtin[i].days * 86400;
		if (!(c->retention[i].category = strdup(builtin[i].category)))
			return -1;
		c->nretention++;
	}
	return 0;
}

/* Checks across sections, once the whole file is read. */
static void validate(struct loader *ld)
{
	struct config *c = ld->cfg;
	if (!c->tls_cert != !c->tls_key)
		add_error(ld, ld->tls_line, "[server] tls_cert and tls_key go together: set both or neither");
}

/* ---- public API --------------------------------------------------------------- */

/* Reads and checks path. -1 when it cannot be read; else the number of
 * problems. With keep_partial the config is handed out even with problems
 * (check-config), otherwise only without. */
static int load(const char *path, bool keep_partial, struct config **out, char *err, size_t errlen)
{
	struct loader ld = { .file = path };
	int rc = -1;
	ld.cfg = calloc(1, sizeof *ld.cfg);
	if (!ld.cfg || set_defaults(ld.cfg) || !(ld.cfg->path = strdup(path))) {
		util_err(err, errlen, "%s: out of memory", path);
		goto done;
	}
	if (!(ld.f = fopen(path, "r"))) {
		util_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto done;
	}
	int perr = ini_parse_stream(read_line, &ld, on_key, &ld);
	end_section(&ld);   /* in case inih stopped before the end of the file */
	if (ferror(ld.f) || perr < 0)
		add_error(&ld, ld.line, "cannot read the file");
	else if (perr > 0 && perr != ld.syntax_line)
		/* inih saw a syntax error that classify_line did not: report it
		 * rather than trust the mirror blindly. */
		add_error(&ld, perr, "syntax error (expected [section], key = value or a ; comment)");
	ld.entry = NULL;   /* what validate finds belongs to no rule */
	validate(&ld);
	rc = (int)ld.nerrors;
	if (ld.nerrors)
		format_errors(&ld, err, errlen);
	util_credential_fallback(path);
	if (!ld.nerrors || keep_partial) {
		*out = ld.cfg;
		ld.cfg = NULL;
	}
done:
	if (ld.f)
		fclose(ld.f);
	free(ld.name);
	free(ld.header);
	buf_free(&ld.seen);
	free(ld.errors);
	config_free(ld.cfg);
	return rc;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	return load(path, false, out, err, errlen) == 0 ? 0 : -1;
}

int config_load_all(const char *path, struct config **out, char *err, size_t errlen)
{
	*out = NULL;
	return load(path, true, out, err, errlen);
}

static void free_rule(struct rule_conf *r)
{
	free(r->name);
	free(r->tenant);
	free(r->pattern);
	free(r->entity);
	free(r->validator);
	for (size_t i = 0; i < r->ncontext; i++)
		free(r->context[i]);
	free(r->context);
	for (size_t i = 0; i < r->nallow; i++)
		free(r->allow[i]);
	free(r->allow);
	free(r->file);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nrules; i++)
		free_rule(&c->rules[i]);
	for (size_t i = 0; i < c->ntokens; i++) {
		free(c->tokens[i].name);
		free(c->tokens[i].tenant);
	}
	for (size_t i = 0; i < c->nsources; i++) {
		free(c->sources[i].name);
		free(c->sources[i].secret_file);
		free(c->sources[i].verify_token_file);
		free(c->sources[i].tenant);
	}
	for (size_t i = 0; i < c->ntenants; i++)
		free(c->tenants[i].name);
	for (size_t i = 0; i < c->nretention; i++) {
		free(c->retention[i].tenant);
		free(c->retention[i].category);
	}
	for (int i = 0; i < CH_COUNT; i++)
		free(c->channel_category[i]);
	free(c->rules);
	free(c->tokens);
	free(c->sources);
	free(c->tenants);
	free(c->retention);
	free(c->path);
	free(c->listen);
	free(c->public_url);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->database);
	free(c->key_file);
	free(c->keys_from);
	free(c);
}

void config_drop_rule(struct config *c, size_t i)
{
	if (i >= c->nrules)
		return;
	free_rule(&c->rules[i]);
	memmove(&c->rules[i], &c->rules[i + 1], (c->nrules - i - 1) * sizeof *c->rules);
	c->nrules--;
}

static const struct retention_conf *find_retention(const struct config *c, const char *tenant,
                                                   const char *category)
{
	for (size_t i = 0; i < c->nretention; i++) {
		const struct retention_conf *r = &c->retention[i];
		bool same = tenant ? (r->tenant && !strcmp(r->tenant, tenant)) : !r->tenant;
		if (same && !strcmp(r->category, category))
			return r;
	}
	return NULL;
}

/* Most specific first: the tenant's category, the tenant's default, the
 * global category, the global default. */
int64_t config_retention(const struct config *c, const char *tenant, const char *category)
{
	const struct retention_conf *r;
	if (tenant && ((r = find_retention(c, tenant, category)) || (r = find_retention(c, tenant, "default"))))
		return r->seconds;
	if ((r = find_retention(c, NULL, category)))
		return r->seconds;
	return c->default_retention;
}

bool config_category_known(const struct config *c, const char *category)
{
	if (!strcmp(category, "default"))
		return false;
	for (size_t i = 0; i < c->nretention; i++)
		if (!strcmp(c->retention[i].category, category))
			return true;
	for (int i = 0; i < CH_COUNT; i++)
		if (c->channel_category[i] && !strcmp(c->channel_category[i], category))
			return true;
	return false;
}

const struct token_conf *config_token_find(const struct config *c, const unsigned char sha256[32])
{
	const struct token_conf *found = NULL;
	/* Visit every token whatever matches, so timing says nothing about which. */
	for (size_t i = 0; i < c->ntokens; i++)
		if (sodium_memcmp(c->tokens[i].sha256, sha256, 32) == 0)
			found = &c->tokens[i];
	return found;
}

const struct source_conf *config_source(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nsources; i++)
		if (!strcmp(c->sources[i].name, name))
			return &c->sources[i];
	return NULL;
}
