/*
 * config.c — the INI configuration, parsed with inih and validated at load.
 *
 * inih hands us (section, key, value); a line-counting reader tells us
 * where each came from, and notices section headers so that two sections
 * with the same name (a global rule and a tenant's override of it) stay
 * two entries. Every problem is appended to an error list as
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
	int handled_seq;          /* section_seq of the entry being filled */
	enum section_kind kind;
	char *name;               /* quoted section name, or NULL */
	void *entry;              /* rule/token/source/tenant being filled */
	char *retention_tenant;   /* [retention "T"] */
	struct buf errors;
	int nerrors;
};

static void add_error(struct loader *ld, int line, const char *fmt, ...) RD_PRINTF(3, 4);
static void add_error(struct loader *ld, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ld->nerrors++;
	if (buf_printf(&ld->errors, "%s:%d: %s\n", ld->file, line, msg))
		log_error("out of memory collecting config errors");
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

static const char *k_listen(struct loader *ld, const char *v)
{
	if (strncmp(v, "unix:/", 6) != 0 && !strrchr(v, ':'))
		return "listen must be host:port or unix:/path";
	if (strncmp(v, "unix:", 5) != 0) {
		long port;
		if (util_parse_long(strrchr(v, ':') + 1, 0, 65535, &port))
			return "listen: port must be 0 to 65535";
	}
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

static const char *k_tls_cert(struct loader *ld, const char *v)
{
	return set_str(&CFG->tls_cert, v) ? "out of memory" : NULL;
}

static const char *k_tls_key(struct loader *ld, const char *v)
{
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

static const struct key_def server_keys[] = {
	{ "listen", k_listen }, { "threads", k_threads }, { "max_body", k_max_body },
	{ "public_url", k_public_url }, { "tls_cert", k_tls_cert }, { "tls_key", k_tls_key },
	{ "max_connections", k_max_connections }, { "request_timeout", k_request_timeout },
};

static const char *k_database(struct loader *ld, const char *v)
{
	if (!*v)
		return "database must be a file path";
	return set_str(&CFG->database, v) ? "out of memory" : NULL;
}

/* Reading a key-less backup (redactd backup): the database whose data keys
 * open it. Empty means none. */
static const char *k_keys_from(struct loader *ld, const char *v)
{
	free(CFG->keys_from);
	CFG->keys_from = NULL;
	return *v && set_str(&CFG->keys_from, v) ? "out of memory" : NULL;
}

/* The master key never sits in the config: refuse anything that looks like
 * key material rather than a path (SPEC invariant 7). */
static bool looks_like_key(const char *v)
{
	size_t n = strlen(v), keyish = 0;
	if (strchr(v, '/') || strncmp(v, "credential:", 11) == 0)
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
	if (!strncmp(v, "credential:", 11) && !valid_name(v + 11))
		return "key_file credential:NAME needs a plain credential name";
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

static const char *k_rule_pattern(struct loader *ld, const char *v)
{
	if (!*v)
		return "pattern must not be empty";
	RULE->set |= RULE_F_PATTERN;
	RULE->line = ld->line;   /* compile errors point at the pattern itself */
	return set_str(&RULE->pattern, v) ? "out of memory" : NULL;
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
};

static const char *k_token_sha256(struct loader *ld, const char *v)
{
	if (util_hex_decode(v, TOKEN->sha256, sizeof TOKEN->sha256))
		return "sha256 must be 64 hex digits (printf %s TOKEN | sha256sum)";
	TOKEN->scopes |= 1u << 31;   /* marks "hash given"; cleared at validation */
	return NULL;
}

static int add_scope(const char *item, void *ctx)
{
	unsigned *scopes = ctx;
	if (!strcmp(item, "ingest")) *scopes |= SCOPE_INGEST;
	else if (!strcmp(item, "read")) *scopes |= SCOPE_READ;
	else if (!strcmp(item, "admin")) *scopes |= SCOPE_ADMIN;
	else return 1;
	return 0;
}

static const char *k_token_scopes(struct loader *ld, const char *v)
{
	unsigned scopes = 0;
	int rc = for_each_item(v, add_scope, &scopes);
	if (rc > 0 || scopes == 0)
		return "scopes must list ingest, read and/or admin";
	TOKEN->scopes = (TOKEN->scopes & (1u << 31)) | scopes;
	return NULL;
}

static const char *k_token_tenant(struct loader *ld, const char *v)
{
	if (!valid_name(v))
		return "tenant must be 1 to 64 of A-Z a-z 0-9 . _ -";
	return set_str(&TOKEN->tenant, v) ? "out of memory" : NULL;
}

static const struct key_def token_keys[] = {
	{ "sha256", k_token_sha256 }, { "scopes", k_token_scopes }, { "tenant", k_token_tenant },
};

static const char *k_source_secret(struct loader *ld, const char *v)
{
	return set_str(&SOURCE->secret_file, v) ? "out of memory" : NULL;
}

static const char *k_source_verify(struct loader *ld, const char *v)
{
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

/* Called for the first key of each section instance. */
static void begin_section(struct loader *ld, const char *section)
{
	char word[32];
	free(ld->name);
	ld->name = NULL;
	ld->kind = SEC_NONE;
	ld->entry = NULL;
	ld->retention_tenant = NULL;
	ld->handled_seq = ld->section_seq;
	if (split_section(section, word, sizeof word, &ld->name)) {
		add_error(ld, ld->section_line, "bad section header [%s] (expected [name] or [name \"value\"])", section);
		return;
	}
	for (size_t i = 0; i < RD_ARRAY_LEN(section_kinds); i++)
		if (!strcmp(word, section_kinds[i].word) && section_kinds[i].named == (ld->name != NULL))
			ld->kind = section_kinds[i].kind;
	if (ld->kind == SEC_NONE) {
		add_error(ld, ld->section_line, "unknown section [%s]", section);
		return;
	}
	if (ld->name && !valid_name(ld->name)) {
		add_error(ld, ld->section_line, "section name \"%s\" must be 1 to 64 of A-Z a-z 0-9 . _ -", ld->name);
		ld->kind = SEC_NONE;
		return;
	}
	if (ld->kind == SEC_SOURCE && strcmp(ld->name, "twilio") && strcmp(ld->name, "whatsapp") &&
	    strcmp(ld->name, "dialogflow-cx")) {
		add_error(ld, ld->section_line, "unknown source \"%s\" (twilio, whatsapp, dialogflow-cx)", ld->name);
		ld->kind = SEC_NONE;
		return;
	}
	if (ld->kind == SEC_RETENTION)
		ld->retention_tenant = ld->name;
	if (open_entry(ld))
		add_error(ld, ld->section_line, "out of memory");
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

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct loader *ld = user;
	if (ld->section_seq == 0) {
		add_error(ld, ld->line, "key \"%s\" outside any section", key);
		return 1;
	}
	if (ld->handled_seq != ld->section_seq)
		begin_section(ld, section);
	if (ld->kind == SEC_NONE)
		return 1;   /* the section's own error was reported once */
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
		add_error(ld, ld->line, "unknown key \"%s\" in [%s]", key, section);
	else if (msg)
		add_error(ld, ld->line, "%s: %s", key, msg);
	return 1;
}

/* inih reads line by line through this, so ld->line is the line of the
 * key it hands to on_key next; header lines bump section_seq. */
static char *read_line(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	if (!fgets(str, num, ld->f))
		return NULL;
	ld->line++;
	const char *p = str;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '[') {
		ld->section_seq++;
		ld->section_line = ld->line;
	}
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

static void validate(struct loader *ld)
{
	struct config *c = ld->cfg;
	if (!c->tls_cert != !c->tls_key)
		add_error(ld, ld->line, "[server] tls_cert and tls_key go together: set both or neither");
	for (size_t i = 0; i < c->ntokens; i++) {
		struct token_conf *t = &c->tokens[i];
		if (!(t->scopes & (1u << 31)))
			add_error(ld, ld->line, "[token \"%s\"] needs sha256 = <64 hex digits>", t->name);
		t->scopes &= ~(1u << 31);
		if (!t->scopes)
			add_error(ld, ld->line, "[token \"%s\"] needs scopes = ingest, read and/or admin", t->name);
	}
	for (size_t i = 0; i < c->nsources; i++)
		if (!c->sources[i].secret_file && strcmp(c->sources[i].name, "dialogflow-cx"))
			add_error(ld, ld->line, "[source \"%s\"] needs secret_file", c->sources[i].name);
}

/* ---- public API --------------------------------------------------------------- */

int config_load(const char *path, struct config **out, char *err, size_t errlen)
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
	if (perr > 0)
		add_error(&ld, perr, "syntax error (expected [section], key = value or a ; comment)");
	else if (perr < 0)
		add_error(&ld, 0, "cannot read the file");
	validate(&ld);
	if (ld.nerrors) {
		util_err(err, errlen, "%s", ld.errors.data);
		goto done;
	}
	*out = ld.cfg;
	ld.cfg = NULL;
	rc = 0;
done:
	if (ld.f)
		fclose(ld.f);
	free(ld.name);
	buf_free(&ld.errors);
	config_free(ld.cfg);
	return rc;
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
