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
 * ONE TABLE PER SECTION. A key is one row (struct cfg_key): its name, type,
 * the field it fills (an offset into struct config, or into the entry of a
 * [rule|token|source|tenant "NAME"] section), its default written as in a
 * file, its bounds, whether it applies only at start, and a line of doc.
 * The row drives parsing, the defaults (set by parsing the default text, so
 * a default always passes its own bounds), the message for a bad value
 * (built from the bounds: "keep must be 1 to 8 characters") and the reload's
 * restart-only check. tests/unit/test_config.c holds the sample config and
 * redactd.conf(5) to the tables. The irregular parts stay explicit and
 * short: [retention] keys that are category names, a rule's pattern
 * continuing on indented lines, lists (context, allow, channels, scopes), a
 * token's hash and a tenant's style.
 */
#include "config.h"
#include "log.h"
#include "phone_region.h"
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
	SEC_NONE, SEC_SERVER, SEC_STORAGE, SEC_RETENTION, SEC_CHANNELS, SEC_AUDIT, SEC_BACKUP,
	SEC_RULE, SEC_TOKEN, SEC_SOURCE, SEC_TENANT,
};

struct section_def;

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
	int syntax_line;          /* first syntax error classify_line reported */
	enum section_kind kind;
	const struct section_def *sec;   /* NULL while kind is SEC_NONE */
	char *name;               /* quoted section name, or NULL */
	void *entry;              /* rule/token/source/tenant being filled */
	char msg[512];            /* a message built for the error list */
	struct cfg_error *errors;  /* every problem found, in the order found */
	size_t nerrors;
	bool lost_error;          /* an error could not be recorded (out of memory) */
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
	if (ld->kind == SEC_RULE && ld->entry)
		((struct rule_conf *)ld->entry)->invalid = true;
	struct cfg_error *e = realloc(ld->errors, (ld->nerrors + 1) * sizeof *e);
	if (!e) {
		/* The file must still be refused: load() counts this as an error. */
		ld->lost_error = true;
		return;
	}
	ld->errors = e;
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
	bool oom = ld->lost_error;
	if (ld->nerrors)   /* none when the only one was lost: qsort takes no NULL */
		qsort(ld->errors, ld->nerrors, sizeof *ld->errors, cmp_error);
	for (size_t i = 0; i < ld->nerrors && !oom; i++)
		oom = buf_printf(&b, "%s:%d: %s\n", ld->file, ld->errors[i].line, ld->errors[i].msg) != 0;
	if (oom)
		util_err(err, errlen, "%s%s: out of memory\n", b.data ? b.data : "", ld->file);
	else
		util_err(err, errlen, "%s", b.data);
	buf_free(&b);
}

/* ---- small value parsers ----------------------------------------------------- */

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

static const char *const style_words[] = { "tag", "mask", "partial", "hash", "remove", NULL };
_Static_assert(RD_ARRAY_LEN(style_words) == STYLE_REMOVE + 2, "a word for each style");
_Static_assert(sizeof(enum redact_style) == sizeof(int), "a style is stored as an int");

const char *config_style_name(enum redact_style s)
{
	return (unsigned)s <= STYLE_REMOVE ? style_words[s] : "?";
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

/* "0" (off), "N", "N/s", "N/min" or "N/h" with N in [0, max]: requests per second. */
static int parse_rate(const char *v, int64_t max, double *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	double per = !*end || !strcmp(end, "/s") ? 1 : !strcmp(end, "/min") ? 60
	             : !strcmp(end, "/h") ? 3600 : 0;
	if (errno || end == v || n < 0 || n > max || per == 0)
		return -1;
	*out = (double)n / per;
	return 0;
}

/* Microseconds: "0", "500", "500us", "2ms". */
static int parse_usec(const char *v, int64_t *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	unsigned long mul = !strcmp(end, "ms") ? 1000 : (!strcmp(end, "us") || !*end) ? 1 : 0;
	if (errno || end == v || !mul || *v == '-' || n > INT32_MAX / mul)
		return -1;
	*out = (int64_t)(n * mul);
	return 0;
}

/* ---- typed keys ------------------------------------------------------------------ */

enum key_type {
	KT_INT,       /* int: an integer in [min, max] */
	KT_SECONDS,   /* int: a duration in [min, max] seconds */
	KT_DURATION,  /* int64_t: a duration in [min, max] seconds; max INT64_MAX is no limit */
	KT_SIZE,      /* size_t: a size in [min, max] bytes */
	KT_USEC,      /* int: microseconds, N, Nus or Nms, in [min, max] */
	KT_RATE,      /* double: requests/s, N, N/s, N/min or N/h with N in [0, max] */
	KT_BOOL,      /* bool: yes/no, or words[1]/words[0] */
	KT_CHOICE,    /* int: the index of the value in words[] */
	KT_STR,       /* char *: text that check() accepts */
	KT_NAME,      /* char *: a name, 1..64 of A-Za-z0-9._- */
	KT_FILE,      /* char *: a path or credential:NAME */
	KT_CUSTOM,    /* parse() reads and stores it */
};

enum key_flag {
	KF_RESTART = 1u << 0,   /* set up at start: a reload keeps the running value */
	KF_OPTIONAL = 1u << 1,  /* KT_STR: an empty value leaves it unset (NULL) */
	KF_ANYCASE = 1u << 2,   /* KT_BOOL, KT_CHOICE: words match in any case */
};

/* Parses value into base (the config or the entry); NULL, or what is wrong
 * (msg may hold it). */
typedef const char *(*key_parse_fn)(void *base, const char *value, char *msg, size_t len);

struct cfg_key {
	const char *key;
	enum key_type type;
	size_t off;                 /* the field: in struct config, or in the section's entry */
	const char *def;            /* the default, written as in a file; NULL: unset (zero) */
	int64_t min, max;           /* bounds, in the type's unit (bytes, seconds, us) */
	unsigned flags;             /* enum key_flag */
	const char *zero;           /* what 0 means, for the message: "off" */
	const char *unit;           /* for the message: "records"; KT_NAME: what it names */
	const char *const *words;   /* KT_CHOICE: the values, NULL-ended; KT_BOOL: { no, yes } */
	size_t line;                /* offset of the int that gets the key's line; 0: none
	                             * (offset 0 is always a pointer: path or name) */
	unsigned mark;              /* [rule]: the enum rule_field bit the key sets */
	const char *(*check)(const char *value);   /* KT_STR: NULL or what is wrong */
	key_parse_fn parse;         /* KT_CUSTOM */
	const char *doc;
};

static bool is_text(enum key_type t)
{
	return t == KT_STR || t == KT_NAME || t == KT_FILE;
}

/* The largest unit that divides n exactly: 65536 -> "64k", 3600 -> "1h". */
static void format_unit(int64_t n, const char *const units[], const int64_t scale[], char out[32])
{
	size_t u = 0;
	for (size_t i = 1; units[i]; i++)
		if (n != 0 && n % scale[i] == 0)
			u = i;
	snprintf(out, 32, "%lld%s", (long long)(n / scale[u]), n ? units[u] : "");
}

static void format_size(int64_t n, char out[32])
{
	static const char *const units[] = { "", "k", "M", "G", NULL };
	static const int64_t scale[] = { 1, 1 << 10, 1 << 20, 1 << 30 };
	format_unit(n, units, scale, out);
}

static void format_duration(int64_t n, char out[32])
{
	static const char *const units[] = { "s", "min", "h", "d", NULL };
	static const int64_t scale[] = { 1, 60, 3600, 86400 };
	format_unit(n, units, scale, out);
}

static void format_usec(int64_t n, char out[32])
{
	static const char *const units[] = { "us", "ms", NULL };
	static const int64_t scale[] = { 1, 1000 };
	format_unit(n, units, scale, out);
}

/* "a, b or c" of a NULL-ended list. */
static void join_words(const char *const *w, char *out, size_t len)
{
	size_t n = 0, used = 0;
	while (w[n])
		n++;
	out[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
		                         w[i]);
}

static void duration_message(const struct cfg_key *k, const char *zero, char *out, size_t len)
{
	char lo[32], hi[32];
	format_duration(k->min, lo);
	format_duration(k->max, hi);
	if (k->max < INT64_MAX)
		snprintf(out, len, "%s must be a duration from %s%s to %s", k->key, lo, zero, hi);
	else if (k->min > 0)
		snprintf(out, len, "%s must be a duration of at least %s", k->key, lo);
	else
		snprintf(out, len, "%s must be a duration such as %s, or 0%s", k->key,
		         k->def && strcmp(k->def, "0") ? k->def : "30d", zero);
}

/* "5m": minutes or months? The unit is refused and both readings named. */
static void ambiguous_message(const char *key, const char *v, char *out, size_t len)
{
	int n = (int)strspn(v, "0123456789");
	snprintf(out, len, "%s = %s is ambiguous: write %.*smin for minutes or %.*smo for months", key, v, n, v,
	         n, v);
}

/* What the key accepts, from its row: "keep must be 1 to 8 characters". */
static void bounds_message(const struct cfg_key *k, char *out, size_t len)
{
	char zero[80] = "", lo[32], hi[32], words[128];
	const char *unit = k->unit ? k->unit : "", *sp = k->unit ? " " : "";
	static const char *const yes_no[] = { "yes", "no", NULL };
	if (k->zero && k->min == 0)
		snprintf(zero, sizeof zero, " (%s)", k->zero);
	switch (k->type) {
	case KT_INT:
		snprintf(out, len, "%s must be %lld%s to %lld%s%s", k->key, (long long)k->min, zero,
		         (long long)k->max, sp, unit);
		return;
	case KT_SIZE:
		format_size(k->min, lo);
		format_size(k->max, hi);
		snprintf(out, len, "%s must be a size%s%s from %s%s to %s (e.g. %s)", k->key, sp, unit, lo, zero,
		         hi, k->def);
		return;
	case KT_SECONDS:
	case KT_DURATION:
		duration_message(k, zero, out, len);
		return;
	case KT_USEC:
		format_usec(k->min, lo);
		format_usec(k->max, hi);
		snprintf(out, len, "%s must be %s to %s, in us or ms (e.g. 500us)", k->key, lo, hi);
		return;
	case KT_RATE:
		snprintf(out, len, "%s must be 0 (off) or N, N/s, N/min or N/h requests (N <= %lld)", k->key,
		         (long long)k->max);
		return;
	case KT_BOOL:
		join_words(k->words ? (const char *const[]){ k->words[1], k->words[0], NULL } : yes_no, words,
		           sizeof words);
		break;
	case KT_CHOICE:
		join_words(k->words, words, sizeof words);
		break;
	default:
		snprintf(out, len, "%s has a bad value", k->key);
		return;
	}
	snprintf(out, len, "%s must be %s", k->key, words);
}

static bool word_is(const struct cfg_key *k, const char *a, const char *b)
{
	return (k->flags & KF_ANYCASE) ? !strcasecmp(a, b) : !strcmp(a, b);
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < RD_ARRAY_LEN(yes); i++) {
		if (!strcasecmp(v, yes[i]) || !strcasecmp(v, no[i])) {
			*out = !strcasecmp(v, yes[i]);
			return 0;
		}
	}
	return -1;
}

/* KT_BOOL and KT_CHOICE. */
static int parse_word(const struct cfg_key *k, const char *v, void *field)
{
	if (k->type == KT_BOOL && !k->words)
		return parse_bool(v, field);
	for (int i = 0; k->words[i] && (k->type == KT_CHOICE || i < 2); i++) {
		if (word_is(k, v, k->words[i])) {
			if (k->type == KT_BOOL)
				*(bool *)field = i == 1;
			else
				*(int *)field = i;
			return 0;
		}
	}
	return -1;
}

/* Numbers, with their bounds. -1 when v is not one or out of bounds. */
static int parse_number(const struct cfg_key *k, const char *v, void *field)
{
	int64_t n;
	size_t s;
	long l;
	switch (k->type) {
	case KT_INT:
		if (util_parse_long(v, (long)k->min, (long)k->max, &l))
			return -1;
		*(int *)field = (int)l;
		return 0;
	case KT_SIZE:
		if (util_parse_size(v, &s) || s < (uint64_t)k->min || s > (uint64_t)k->max)
			return -1;
		*(size_t *)field = s;
		return 0;
	case KT_RATE:
		return parse_rate(v, k->max, field);
	default:
		break;
	}
	if ((k->type == KT_USEC ? parse_usec(v, &n) : util_parse_duration(v, &n)) || n < k->min || n > k->max)
		return -1;
	if (k->type == KT_DURATION)
		*(int64_t *)field = n;
	else
		*(int *)field = (int)n;
	return 0;
}

/* A file a secret is read from: a path, or credential:NAME with a plain name. */
static bool valid_file_spec(const char *v)
{
	size_t plen = sizeof UTIL_CREDENTIAL_PREFIX - 1;
	return *v && (strncmp(v, UTIL_CREDENTIAL_PREFIX, plen) || valid_name(v + plen));
}

static const char *parse_text(const struct cfg_key *k, char **field, const char *v, char *msg, size_t len)
{
	const char *why;
	if (k->type == KT_NAME && !valid_name(v)) {
		snprintf(msg, len, "%s must be %s%s1 to %d of A-Z a-z 0-9 . _ -", k->key, k->unit ? k->unit : "",
		         k->unit ? ", " : "", RD_MAX_NAME_LEN);
		return msg;
	}
	if (k->type == KT_FILE && !valid_file_spec(v)) {
		snprintf(msg, len, "%s must be a file path or credential:NAME (a plain name)", k->key);
		return msg;
	}
	if (k->check && (why = k->check(v)))
		return why;
	if (!*v && (k->flags & KF_OPTIONAL)) {
		free(*field);
		*field = NULL;
		return NULL;
	}
	return set_str(field, v) ? "out of memory" : NULL;
}

/* Parses v into k's field of base (struct config or an entry). NULL when
 * done, else what is wrong (in msg, or a constant). Not for KT_CUSTOM. */
static const char *parse_value(const struct cfg_key *k, void *base, const char *v, char *msg, size_t len)
{
	void *field = (char *)base + k->off;
	if (is_text(k->type))
		return parse_text(k, field, v, msg, len);
	if ((k->type == KT_BOOL || k->type == KT_CHOICE) ? parse_word(k, v, field) == 0
	                                                : parse_number(k, v, field) == 0)
		return NULL;
	if ((k->type == KT_SECONDS || k->type == KT_DURATION) && util_duration_ambiguous(v)) {
		ambiguous_message(k->key, v, msg, len);
		return msg;
	}
	bounds_message(k, msg, len);
	return msg;
}

/* Sets base's fields to the defaults of a table. -1 when out of memory; a
 * default that does not pass its own row is a broken table, not bad input. */
static int apply_defaults(const struct cfg_key *keys, size_t n, void *base)
{
	char msg[512];
	for (size_t i = 0; i < n; i++) {
		const char *m = keys[i].def ? parse_value(&keys[i], base, keys[i].def, msg, sizeof msg) : NULL;
		if (m && !strcmp(m, "out of memory"))
			return -1;
		if (m) {
			log_error("config: the default of %s is refused by its own row: %s", keys[i].key, m);
			abort();
		}
	}
	return 0;
}

/* ---- checks of text values -------------------------------------------------------- */

/* The same limits http.c applies when it binds: a host of under 256 bytes
 * (empty = every interface), and a unix path that fits sun_path (108). */
static const char *check_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	long port;
	if (!strncmp(v, "unix:", 5))
		return v[5] != '/' || strlen(v + 5) >= 108
		       ? "listen = unix:/path needs an absolute path of under 108 bytes" : NULL;
	if (!colon || colon - v >= 256 || util_parse_long(colon + 1, 0, 65535, &port))
		return "listen must be host:port (port 0 to 65535), [v6addr]:port or unix:/path";
	return NULL;
}

static const char *check_url(const char *v)
{
	if (*v && strncmp(v, "https://", 8) && strncmp(v, "http://", 7))
		return "public_url must start with https:// or http://";
	return NULL;
}

static const char *check_forward_url(const char *v)
{
	size_t scheme = !strncmp(v, "https://", 8) ? 8 : !strncmp(v, "http://", 7) ? 7 : 0;
	if (*v && (!scheme || !v[scheme] || v[scheme] == '/'))
		return "forward_to must be an https:// or http:// URL with a host";
	if (strlen(v) >= 2048 || strpbrk(v, " \t\"<>\\^`{|}#"))
		return "forward_to must be a URL of under 2048 bytes without blanks or fragment";
	return NULL;
}

static const char *check_database(const char *v)
{
	return *v ? NULL : "database must be a file path";
}

/* The master key never sits in the config: refuse anything that looks like
 * key material rather than a path (SPEC invariant 7). */
/* A libpq connection string: a URI, or key=value words (libpq parses it
 * at connect; this only catches a value that is plainly neither). */
static const char *check_pg_url(const char *v)
{
	if (!strncmp(v, "postgresql://", 13) || !strncmp(v, "postgres://", 11) || strchr(v, '='))
		return NULL;
	return "url must be postgresql://... or libpq key=value words (host=... dbname=...)";
}

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

static const char *check_key_file(const char *v)
{
	if (!*v)
		return "key_file must be a path or credential:NAME";
	if (looks_like_key(v))
		return "key_file must be a path or credential:NAME, never the key itself";
	if (!valid_file_spec(v))
		return "key_file credential:NAME needs a plain credential name";
	return NULL;
}

static const char *check_entity(const char *v)
{
	size_t n = strlen(v), ok = 0;
	while (ok < n && (isupper((unsigned char)v[ok]) || isdigit((unsigned char)v[ok]) || v[ok] == '_'))
		ok++;
	return n == 0 || n > RD_MAX_NAME_LEN || ok < n ? "entity must be 1 to 64 of A-Z 0-9 _ (e.g. EMAIL)" : NULL;
}

static const char *check_region(const char *v)
{
	return phone_region_find(v) ? NULL
	       : "region must be an ISO 3166 alpha-2 code with a telephone numbering plan (GB, US, DE, ...)";
}

/* Which validators exist is redact.c's to say, when it compiles the rule. */
static const char *check_validator(const char *v)
{
	return valid_name(v) ? NULL : "validator must be a validator name (none, luhn, iban, phone, ...)";
}

/* ---- the irregular keys: lists, a hash, a tenant's style -------------------------- */

static const char *scan_to(const char *s, const char *chars);

/* An indented line after `pattern = ...` continues it, for patterns longer
 * than a line may be. The blanks around each piece are not part of it, so
 * pieces join with nothing between them. inih 55 (Debian 12) leaves an
 * inline comment on a continuation line, later versions strip it: strip it
 * here so both read the same. */
static const char *continue_pattern(struct loader *ld, const char *v)
{
	struct rule_conf *r = ld->entry;
	size_t a = strlen(r->pattern), b = (size_t)(scan_to(v, "") - v);
	while (b > 0 && isspace((unsigned char)v[b - 1]))
		b--;
	char *p = realloc(r->pattern, a + b + 1);
	if (!p)
		return "out of memory";
	memcpy(p + a, v, b);
	p[a + b] = '\0';
	r->pattern = p;
	return NULL;
}

struct word_list {
	char ***words;
	size_t *n;
};

static int add_lower_word(const char *item, void *ctx)
{
	struct word_list *l = ctx;
	char **n = realloc(*l->words, (*l->n + 1) * sizeof *n);
	if (!n)
		return -1;
	*l->words = n;
	if (!(n[*l->n] = strdup(item)))
		return -1;
	for (char *p = n[*l->n]; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	(*l->n)++;
	return 0;
}

/* A comma list of words, lowercased, replacing what the section set before. */
static const char *set_words(char ***words, size_t *n, const char *v)
{
	struct word_list l = { words, n };
	for (size_t i = 0; i < *n; i++)
		free((*words)[i]);
	*n = 0;
	return for_each_item(v, add_lower_word, &l) ? "out of memory" : NULL;
}

static const char *p_context(void *base, const char *v, char *msg, size_t len)
{
	struct rule_conf *r = base;
	(void)msg, (void)len;
	return set_words(&r->context, &r->ncontext, v);
}

/* allow = Alexa, Sarah: words the rule leaves alone (person, address). */
static const char *p_allow(void *base, const char *v, char *msg, size_t len)
{
	struct rule_conf *r = base;
	(void)msg, (void)len;
	return set_words(&r->allow, &r->nallow, v);
}

static int add_channel(const char *item, void *ctx)
{
	enum rd_channel ch;
	if (rd_channel_parse(item, &ch))
		return 1;
	*(unsigned *)ctx |= 1u << ch;
	return 0;
}

static const char *p_channels(void *base, const char *v, char *msg, size_t len)
{
	struct rule_conf *r = base;
	(void)msg, (void)len;
	r->channels = 0;
	int rc = for_each_item(v, add_channel, &r->channels);
	if (rc > 0)
		return "channels must list web, whatsapp, sms, voice, email or other";
	return rc ? "out of memory" : NULL;
}

#define TOKEN_HASH_GIVEN (1u << 31)   /* in scopes until end_token checks it */

static const char *p_sha256(void *base, const char *v, char *msg, size_t len)
{
	struct token_conf *t = base;
	(void)msg, (void)len;
	if (util_hex_decode(v, t->sha256, sizeof t->sha256))
		return "sha256 must be 64 hex digits (redactd token new NAME --scopes LIST prints them)";
	t->scopes |= TOKEN_HASH_GIVEN;
	return NULL;
}

static int add_scope(const char *item, void *ctx)
{
	static const struct { const char *name; unsigned bit; } scopes[] = {
		{ "ingest", SCOPE_INGEST }, { "read", SCOPE_READ }, { "admin", SCOPE_ADMIN },
		{ "metrics", SCOPE_METRICS },
	};
	for (size_t i = 0; i < RD_ARRAY_LEN(scopes); i++) {
		if (!strcmp(item, scopes[i].name)) {
			*(unsigned *)ctx |= scopes[i].bit;
			return 0;
		}
	}
	return 1;
}

static const char *p_scopes(void *base, const char *v, char *msg, size_t len)
{
	struct token_conf *t = base;
	unsigned scopes = 0;
	(void)msg, (void)len;
	int rc = for_each_item(v, add_scope, &scopes);
	if (rc < 0)
		return "out of memory";
	if (rc > 0 || scopes == 0)
		return "scopes must list ingest, read, admin and/or metrics";
	t->scopes = (t->scopes & TOKEN_HASH_GIVEN) | scopes;
	return NULL;
}

/* Also records that it was set: rules without a style of their own take it. */
static const char *p_tenant_style(void *base, const char *v, char *msg, size_t len)
{
	static const struct cfg_key style = { "style", KT_CHOICE, offsetof(struct tenant_conf, style),
	                                      .words = style_words };
	struct tenant_conf *t = base;
	const char *why = parse_value(&style, t, v, msg, len);
	t->style_set = t->style_set || !why;
	return why;
}

/* ---- generic webhook sources ---------------------------------------------------------- */

static const char *const source_type_words[] = {
	"", "twilio", "whatsapp", "dialogflow-cx", "standard-webhooks", "hmac-sha256", NULL,
};
_Static_assert(SOURCE_TWILIO == 1 && SOURCE_HMAC_SHA256 == 5, "source_type_words order");

static const char *p_source_type(void *base, const char *v, char *msg, size_t len)
{
	struct source_conf *s = base;
	for (int i = 1; source_type_words[i]; i++) {
		if (!strcmp(v, source_type_words[i])) {
			s->type = (enum source_type)i;
			return NULL;
		}
	}
	snprintf(msg, len, "type must be standard-webhooks, hmac-sha256, twilio, whatsapp or dialogflow-cx");
	return msg;
}

/* A JSON pointer (RFC 6901) to a member of the body: "/a/b~1c/0". The
 * whole document ("") is not a field. */
static const char *check_pointer(const char *v)
{
	if (!*v)
		return NULL;   /* unset */
	if (*v != '/' || strlen(v) > 512)
		return "a map.* key must be a JSON pointer such as /message/text (RFC 6901: starts with /)";
	for (const char *p = strchr(v, '~'); p; p = strchr(p + 1, '~'))
		if (p[1] != '0' && p[1] != '1')
			return "a JSON pointer escapes ~ as ~0 and / as ~1; a ~ before anything else is refused";
	return NULL;
}

/* An HTTP header name: an RFC 9110 token. */
static const char *check_header_name(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 64 || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	                                  "!#$%&'*+-.^_`|~") != n)
		return "signature_header must be a header name (1 to 64 of A-Z a-z 0-9 and !#$%&'*+-.^_`|~)";
	return NULL;
}

static const char *check_prefix(const char *v)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return "signature_prefix must be printable ASCII without blanks (e.g. sha256=)";
	return strlen(v) > 64 ? "signature_prefix must be at most 64 characters" : NULL;
}

#define SOURCE_META_PREFIX "map.metadata."

/* map.metadata.KEY = /pointer: one metadata field of a generic source. */
static const char *source_other(struct loader *ld, const char *key, const char *v)
{
	struct source_conf *s = ld->entry;
	const char *name = key + strlen(SOURCE_META_PREFIX), *why = check_pointer(v);
	if (!valid_name(name))
		return "map.metadata.KEY needs a KEY of 1 to 64 of A-Z a-z 0-9 . _ -";
	if (!*v)
		return "map.metadata.KEY needs a JSON pointer such as /message/id";
	if (why)
		return why;
	if (s->nmeta >= RD_MAX_META_KEYS)
		return "a source maps at most 64 metadata fields";
	struct source_meta_map *m = realloc(s->meta, (s->nmeta + 1) * sizeof *m);
	if (!m)
		return "out of memory";
	s->meta = m;
	m[s->nmeta] = (struct source_meta_map){ strdup(name), strdup(v) };
	if (!m[s->nmeta].key || !m[s->nmeta].pointer) {
		free(m[s->nmeta].key);
		free(m[s->nmeta].pointer);
		return "out of memory";
	}
	s->nmeta++;
	s->generic_line = ld->line;
	return NULL;
}

/* ---- the tables ------------------------------------------------------------------- */

#define C(field) offsetof(struct config, field)
#define RULE(field) offsetof(struct rule_conf, field)
#define TOKEN(field) offsetof(struct token_conf, field)
#define SOURCE(field) offsetof(struct source_conf, field)
#define SOURCE_MAP(i, key, what) \
	{ key, KT_STR, SOURCE(map[i]), NULL, .flags = KF_OPTIONAL, .line = SOURCE(generic_line), \
	  .check = check_pointer, .doc = "JSON pointer to " what }

static const char *const channel_words[] = { "web", "whatsapp", "sms", "voice", "email", "other", NULL };
_Static_assert(RD_ARRAY_LEN(channel_words) == CH_COUNT + 1 && CH_OTHER == 5, "channel_words order");
#define TENANT(field) offsetof(struct tenant_conf, field)

/* Consent (issue 17): [channels] words, and a tenant's, whose 0 inherits. */
static const char *const voice_without_words[] = { "refuse", "metadata", NULL };
static const char *const withdrawal_words[] = { "keep", "erase", NULL };
static const char *const tenant_requires_words[] = { "inherit", "no", "yes", NULL };
static const char *const tenant_without_words[] = { "inherit", "refuse", "metadata", NULL };
static const char *const tenant_withdrawal_words[] = { "inherit", "keep", "erase", NULL };

static const char *const access_log_words[] = { "errors", "all", "off", NULL };
_Static_assert(ACCESS_LOG_ERRORS == 0 && ACCESS_LOG_ALL == 1 && ACCESS_LOG_OFF == 2, "access_log_words order");
static const char *const sync_words[] = { "normal", "full", NULL };
static const char *const backend_words[] = { "sqlite", "postgresql", NULL };
_Static_assert(STORAGE_SQLITE == 0 && STORAGE_POSTGRESQL == 1, "backend_words order");

static const struct cfg_key server_keys[] = {
	{ "listen", KT_STR, C(listen), "127.0.0.1:8080", .flags = KF_RESTART, .line = C(lines.listen),
	  .check = check_listen, .doc = "host:port, [v6addr]:port or unix:/path" },
	{ "threads", KT_INT, C(threads), "0", 0, 256, KF_RESTART, .zero = "one per core",
	  .doc = "HTTP worker threads" },
	{ "max_body", KT_SIZE, C(max_body), "1M", 1 << 10, 64 << 20, .doc = "largest request body; larger gets 413" },
	{ "public_url", KT_STR, C(public_url), NULL, .flags = KF_OPTIONAL, .check = check_url,
	  .doc = "the address webhook providers call, behind a proxy" },
	{ "tls_cert", KT_FILE, C(tls_cert), NULL, .flags = KF_RESTART, .line = C(lines.tls_cert),
	  .doc = "PEM certificate chain: HTTPS with tls_key" },
	{ "tls_key", KT_FILE, C(tls_key), NULL, .flags = KF_RESTART, .line = C(lines.tls_key),
	  .doc = "PEM private key: HTTPS with tls_cert" },
	{ "max_connections", KT_INT, C(max_connections), "1024", 1, 100000, KF_RESTART,
	  .doc = "simultaneous connections" },
	{ "request_timeout", KT_SECONDS, C(request_timeout), "30s", 1, 3600, KF_RESTART,
	  .doc = "idle connection timeout" },
	{ "access_log", KT_CHOICE, C(access_log), "errors", .flags = KF_ANYCASE, .words = access_log_words,
	  .doc = "which requests get a log line" },
	{ "max_connections_per_ip", KT_INT, C(max_connections_per_ip), "256", 1, 100000, KF_RESTART,
	  .doc = "connections one client address (IPv6: /64) holds at once" },
	{ "header_timeout", KT_SECONDS, C(header_timeout), "10s", 1, 3600, KF_RESTART,
	  .doc = "time a request's whole header block may take" },
	{ "body_min_rate", KT_SIZE, C(body_min_rate), "1k", 0, 64 << 20, KF_RESTART, .zero = "off",
	  .unit = "per second", .doc = "slowest average a body may arrive at, after body_grace" },
	{ "body_grace", KT_SECONDS, C(body_grace), "10s", 1, 3600, KF_RESTART,
	  .doc = "time a body gets before body_min_rate applies" },
	{ "rate_limit_per_ip", KT_RATE, C(rate_limit_per_ip), "0", 0, 1000000,
	  .doc = "requests per client address; over it 429" },
	{ "rate_burst_per_ip", KT_INT, C(rate_burst_per_ip), "0", 0, 1000000, .zero = "the rate, at least 1",
	  .unit = "requests", .doc = "requests an idle address may send at once" },
	{ "max_clock_skew", KT_DURATION, C(max_clock_skew), "5min", 0, 366 * 86400, .zero = "off",
	  .doc = "a message ts further in the future than this is refused (422)" },
};

static const struct cfg_key storage_keys[] = {
	{ "database", KT_STR, C(database), "/var/lib/redactd/redactd.db", .flags = KF_RESTART,
	  .line = C(lines.database), .check = check_database, .doc = "the SQLite file (WAL)" },
	{ "key_file", KT_STR, C(key_file), "/etc/redactd/master.key", .flags = KF_RESTART,
	  .line = C(lines.key_file), .check = check_key_file, .doc = "the master key: a path or credential:NAME" },
	{ "synchronous", KT_BOOL, C(sync_full), "full", .flags = KF_RESTART | KF_ANYCASE, .words = sync_words,
	  .doc = "full: a reply waits for fdatasync; normal: for the commit" },
	{ "queue_size", KT_INT, C(queue_size), "65536", 16, 1 << 22, KF_RESTART, .unit = "records",
	  .doc = "records the writer queue holds before 503" },
	{ "batch_max", KT_INT, C(batch_max), "4096", 1, 1 << 20, KF_RESTART, .unit = "records",
	  .doc = "most records in one group commit" },
	{ "batch_wait", KT_USEC, C(batch_wait_us), "0", 0, 100000, KF_RESTART,
	  .doc = "how long the writer waits to fill a group" },
	{ "keys_from", KT_STR, C(keys_from), NULL, .flags = KF_RESTART | KF_OPTIONAL, .line = C(lines.keys_from),
	  .doc = "reading a key-less backup: the live database holding its keys" },
	{ "backend", KT_CHOICE, C(backend), "sqlite", .flags = KF_RESTART | KF_ANYCASE, .words = backend_words,
	  .line = C(lines.backend), .doc = "sqlite (the database file) or postgresql (url)" },
	{ "url", KT_STR, C(pg_url), NULL, .flags = KF_RESTART | KF_OPTIONAL, .line = C(lines.pg_url),
	  .check = check_pg_url, .doc = "backend = postgresql: postgresql://... or libpq key=value words" },
	{ "password_file", KT_FILE, C(pg_password_file), NULL, .flags = KF_RESTART,
	  .line = C(lines.pg_password_file), .doc = "backend = postgresql: the password, a path or credential:NAME" },
};

/* Besides these, every key of [retention] is a category (retention_other). */
static const struct cfg_key retention_keys[] = {
	{ "default", KT_DURATION, C(default_retention), "730d", 0, INT64_MAX, .zero = "keep forever",
	  .doc = "retention of the categories not named" },
	{ "sweep_interval", KT_DURATION, C(sweep_interval), "1h", 1, INT64_MAX,
	  .doc = "how often the sweeper runs" },
	{ "sweep_batch", KT_INT, C(sweep_batch), "500", 1, 100000, .unit = "rows",
	  .doc = "rows deleted per purge transaction" },
};

/* Keyed by rd_channel_name (a unit test holds them to it). */
#define CHANNEL(ch, key, def, what) \
	{ key, KT_NAME, C(channel_category[ch]), def, .unit = "a category name", .doc = "category of " what }
static const struct cfg_key channel_keys[] = {
	CHANNEL(CH_WEB, "web", "chat_transcript", "web messages"),
	CHANNEL(CH_WHATSAPP, "whatsapp", "chat_transcript", "WhatsApp messages"),
	CHANNEL(CH_SMS, "sms", "chat_transcript", "SMS messages"),
	CHANNEL(CH_VOICE, "voice", "call_transcript", "voice transcripts"),
	CHANNEL(CH_EMAIL, "email", "email", "emails"),
	CHANNEL(CH_OTHER, "other", "chat_transcript", "other channels"),
	/* After the channels: what voice transcripts need (issue 17, consent.h). */
	{ "voice_requires_consent", KT_BOOL, C(voice_requires_consent), "no",
	  .doc = "voice transcripts need a recorded given consent" },
	{ "voice_without_consent", KT_CHOICE, C(voice_without_consent), "refuse", .flags = KF_ANYCASE,
	  .words = voice_without_words, .doc = "refuse them (403), or keep metadata only" },
	{ "consent_withdrawal", KT_CHOICE, C(consent_withdrawal), "keep", .flags = KF_ANYCASE,
	  .words = withdrawal_words, .doc = "on withdrawal, keep or erase what it allowed" },
};
_Static_assert(RD_ARRAY_LEN(channel_keys) == CH_COUNT + 3, "a key for each channel, then consent's");

static const struct cfg_key audit_keys[] = {
	{ "retention", KT_DURATION, C(audit_retention), "0", 0, INT64_MAX, .zero = "keep forever",
	  .doc = "audit entries older than this are purged behind a checkpoint" },
};

static const struct cfg_key backup_keys[] = {
	{ "directory", KT_STR, C(backup_dir), "/var/lib/redactd/backups", .flags = KF_OPTIONAL,
	  .doc = "where `redactd backup` without DEST writes, and the sweeper expires backups" },
	{ "retention", KT_DURATION, C(backup_retention), "30d", 0, INT64_MAX, .zero = "keep forever",
	  .doc = "backups in directory older than this, and erasure journal entries, are removed" },
};

/* Only the keys a section sets are marked (`mark`), so that overriding a
 * built-in rule changes just those; the defaults matter for new rules. */
static const struct cfg_key rule_keys[] = {
	/* Emptiness is checked at the section's end (end_rule): `pattern =` may be
	 * followed by indented continuation lines. Compile errors point at it. */
	{ "pattern", KT_STR, RULE(pattern), NULL, .line = RULE(line), .mark = RULE_F_PATTERN,
	  .doc = "PCRE2, UTF mode; may continue on indented lines" },
	{ "entity", KT_STR, RULE(entity), NULL, .check = check_entity, .mark = RULE_F_ENTITY,
	  .doc = "the entity findings name, e.g. EMAIL" },
	{ "style", KT_CHOICE, RULE(style), NULL, .words = style_words, .mark = RULE_F_STYLE,
	  .doc = "how a match is replaced" },
	{ "keep", KT_INT, RULE(keep), "4", 1, 8, .unit = "characters", .mark = RULE_F_KEEP,
	  .doc = "characters the partial style keeps" },
	{ "validator", KT_STR, RULE(validator), NULL, .check = check_validator, .mark = RULE_F_VALIDATOR,
	  .doc = "checks each match: none, luhn, iban, phone, ..." },
	{ "priority", KT_INT, RULE(priority), "50", 0, 1000, .mark = RULE_F_PRIORITY,
	  .doc = "on overlap the higher wins, then the longer" },
	{ "context", KT_CUSTOM, 0, NULL, .parse = p_context, .mark = RULE_F_CONTEXT,
	  .doc = "words looked for shortly before a match" },
	{ "context_required", KT_BOOL, RULE(context_required), "no", .mark = RULE_F_CONTEXT_REQUIRED,
	  .doc = "match only after a context word" },
	{ "enabled", KT_BOOL, RULE(enabled), "yes", .mark = RULE_F_ENABLED, .doc = "no disables the rule" },
	{ "channels", KT_CUSTOM, 0, NULL, .parse = p_channels, .mark = RULE_F_CHANNELS,
	  .doc = "the channels the rule runs on; unset: every one" },
	{ "tenant", KT_NAME, RULE(tenant), NULL, .doc = "the tenant the section applies to" },
	{ "allow", KT_CUSTOM, 0, NULL, .parse = p_allow, .mark = RULE_F_ALLOW,
	  .doc = "person, address: words never redacted" },
};

static const struct cfg_key token_keys[] = {
	{ "sha256", KT_CUSTOM, 0, NULL, .parse = p_sha256, .doc = "SHA-256 of the token, 64 hex digits" },
	{ "scopes", KT_CUSTOM, 0, NULL, .parse = p_scopes, .doc = "ingest, read, admin and/or metrics" },
	{ "tenant", KT_NAME, TOKEN(tenant), NULL, .doc = "binds the token to one tenant" },
	{ "rate_limit", KT_RATE, TOKEN(rate_limit), "0", 0, 1000000, .doc = "requests with this token" },
	{ "rate_burst", KT_INT, TOKEN(rate_burst), "0", 0, 1000000, .zero = "the rate, at least 1",
	  .unit = "requests", .doc = "requests an idle token may send at once" },
};

static const char *const location_words[] = { "redact", "drop", NULL };
_Static_assert(SOURCE_LOCATION_REDACT == 0 && SOURCE_LOCATION_DROP == 1, "location_words order");
static const struct cfg_key source_keys[] = {
	{ "secret_file", KT_FILE, SOURCE(secret_file), NULL, .line = SOURCE(secret_line),
	  .doc = "Twilio's Auth Token or the Meta app secret" },
	{ "verify_token_file", KT_FILE, SOURCE(verify_token_file), NULL, .line = SOURCE(verify_line),
	  .doc = "WhatsApp: the token of Meta's verification handshake" },
	/* Unset is not the same as "default": unset, a message may name its tenant. */
	{ "tenant", KT_NAME, SOURCE(tenant), NULL, .doc = "the tenant the source's messages go to" },
	/* Generic signed webhooks (webhook_generic.c); end_source checks which apply. */
	{ "type", KT_CUSTOM, 0, NULL, .parse = p_source_type,
	  .doc = "standard-webhooks or hmac-sha256: a generic source on /v1/webhooks/NAME" },
	{ "tolerance", KT_SECONDS, SOURCE(tolerance), "300s", 1, 86400, .line = SOURCE(sw_line),
	  .doc = "standard-webhooks: how far webhook-timestamp may be from now" },
	{ "signature_header", KT_STR, SOURCE(signature_header), "X-Signature", .line = SOURCE(hmac_line),
	  .check = check_header_name, .doc = "hmac-sha256: the header that carries the signature" },
	{ "signature_encoding", KT_CHOICE, SOURCE(signature_encoding), "hex", .line = SOURCE(hmac_line),
	  .flags = KF_ANYCASE, .words = (const char *const[]){ "hex", "base64", NULL },
	  .doc = "hmac-sha256: how the signature is written" },
	{ "signature_prefix", KT_STR, SOURCE(signature_prefix), NULL, .flags = KF_OPTIONAL,
	  .line = SOURCE(hmac_line), .check = check_prefix,
	  .doc = "hmac-sha256: text before the signature, e.g. sha256=" },
	SOURCE_MAP(SOURCE_MAP_TEXT, "map.text", "the message text (required)"),
	SOURCE_MAP(SOURCE_MAP_CONVERSATION_ID, "map.conversation_id", "the conversation id (required)"),
	SOURCE_MAP(SOURCE_MAP_ROLE, "map.role", "the role: user, agent, bot or system"),
	SOURCE_MAP(SOURCE_MAP_CHANNEL, "map.channel", "the channel, overriding channel"),
	SOURCE_MAP(SOURCE_MAP_TS, "map.ts", "the time: RFC 3339 or epoch seconds"),
	SOURCE_MAP(SOURCE_MAP_SENDER, "map.sender", "the sender's phone, kept as a subject"),
	SOURCE_MAP(SOURCE_MAP_PROVIDER_ID, "map.provider_id", "the message id a retry repeats"),
	{ "channel", KT_CHOICE, SOURCE(channel), "web", .line = SOURCE(generic_line), .words = channel_words,
	  .doc = "the channel of messages that map none" },
	{ "category", KT_NAME, SOURCE(category), NULL, .line = SOURCE(category_line),
	  .unit = "a category name", .doc = "the category of its messages; unset: the channel's" },
	{ "region", KT_STR, SOURCE(region), NULL, .flags = KF_OPTIONAL, .check = check_region,
	  .doc = "ISO 3166 code national phone numbers from this source are read in" },
	{ "location", KT_CHOICE, SOURCE(location), "redact", .words = location_words,
	  .doc = "WhatsApp: a shared location is stored as [LOCATION] (redact) or not at all (drop)" },
	{ "forward_to", KT_STR, SOURCE(forward_to), NULL, .flags = KF_OPTIONAL, .check = check_forward_url,
	  .doc = "tap mode: the bot's webhook URL; its answer is relayed" },
	{ "forward_timeout", KT_SECONDS, SOURCE(forward_timeout), "10s", 1, 300,
	  .doc = "time the bot has for its whole answer; then 504" },
	{ "forward_retries", KT_INT, SOURCE(forward_retries), "1", 0, 5, .unit = "attempts",
	  .doc = "new attempts after a failed connect (never after a request was sent)" },
	{ "forward_max_inflight", KT_INT, SOURCE(forward_max_inflight), "64", 1, 10000, .unit = "requests",
	  .doc = "forwards running at once; over it 503" },
	{ "forward_tls_verify", KT_BOOL, SOURCE(forward_tls_verify), "yes",
	  .doc = "verify the bot's certificate and host name" },
	{ "forward_ca_file", KT_FILE, SOURCE(forward_ca_file), NULL,
	  .doc = "PEM CA bundle the bot's certificate is verified against" },
};

static const struct cfg_key tenant_keys[] = {
	{ "style", KT_CUSTOM, 0, NULL, .parse = p_tenant_style,
	  .doc = "the style of the tenant's rules that set none" },
	{ "region", KT_STR, offsetof(struct tenant_conf, region), NULL, .flags = KF_OPTIONAL,
	  .check = check_region, .doc = "ISO 3166 code the tenant's national phone numbers are read in" },
	{ "voice_requires_consent", KT_CHOICE, TENANT(voice_requires_consent), "inherit",
	  .flags = KF_ANYCASE, .words = tenant_requires_words, .doc = "overrides [channels]" },
	{ "voice_without_consent", KT_CHOICE, TENANT(voice_without_consent), "inherit",
	  .flags = KF_ANYCASE, .words = tenant_without_words, .doc = "overrides [channels]" },
	{ "consent_withdrawal", KT_CHOICE, TENANT(consent_withdrawal), "inherit",
	  .flags = KF_ANYCASE, .words = tenant_withdrawal_words, .doc = "overrides [channels]" },
};

/* ---- retention: keys that are category names ---------------------------------------- */

/* The categories every config has, and their retention, unless it says otherwise. */
static const struct { const char *category, *def; } builtin_categories[] = {
	{ "chat_transcript", "365d" }, { "call_transcript", "365d" }, { "lead", "365d" }, { "email", "730d" },
};

static const struct cfg_key *find_key(const struct cfg_key *keys, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(keys[i].key, key))
			return &keys[i];
	return NULL;
}

/* (tenant of this section, category) = v, replacing an earlier value. */
static const char *set_retention(struct loader *ld, const char *category, const char *v)
{
	struct config *c = ld->cfg;
	const char *tenant = ld->name;   /* NULL in [retention] */
	int64_t secs;
	if (!valid_name(category))
		return "retention keys are category names of A-Z a-z 0-9 . _ -";
	if (util_duration_ambiguous(v)) {
		ambiguous_message(category, v, ld->msg, sizeof ld->msg);
		return ld->msg;
	}
	if (util_parse_duration(v, &secs))
		return "retention must be a duration such as 30d, 12mo, 1y or 0 (keep forever)";
	for (size_t i = 0; i < c->nretention; i++) {
		struct retention_conf *r = &c->retention[i];
		bool same_tenant = (!r->tenant && !tenant) || (r->tenant && tenant && !strcmp(r->tenant, tenant));
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
	if (!(n->category = strdup(category)) || (tenant && !(n->tenant = strdup(tenant)))) {
		free(n->category);
		return "out of memory";
	}
	c->nretention++;
	return NULL;
}

/* Keys retention_keys lacks. In [retention "T"] every key is a category,
 * `default` too (the tenant's default), but the sweeper's are global. */
static const char *retention_other(struct loader *ld, const char *key, const char *v)
{
	if (ld->name && strcmp(key, "default") && find_key(retention_keys, RD_ARRAY_LEN(retention_keys), key))
		return "the sweeper's settings are global: set them in [retention], not per tenant";
	return set_retention(ld, key, v);
}

/* ---- sections ------------------------------------------------------------------ */

struct section_def {
	const char *word;
	bool named;                /* [word "NAME"] */
	enum section_kind kind;
	const struct cfg_key *keys;
	size_t nkeys;
	/* Keys the table lacks; NULL: they are errors. */
	const char *(*other)(struct loader *ld, const char *key, const char *value);
	const char *other_prefix;  /* other takes only keys starting so; NULL: every key */
	const char *unknown;       /* what an unknown key is called, if not "key" */
	size_t arr, count, size;   /* named sections: their entries in struct config; size 0: none */
	bool unique;               /* a second section of the same name is an error */
};

#define KEYS(t) .keys = (t), .nkeys = RD_ARRAY_LEN(t)
#define ENTRIES(a, n, type) .arr = C(a), .count = C(n), .size = sizeof(type)

static const struct section_def sections[] = {
	{ "server", false, SEC_SERVER, KEYS(server_keys) },
	{ "storage", false, SEC_STORAGE, KEYS(storage_keys) },
	{ "retention", false, SEC_RETENTION, KEYS(retention_keys), .other = retention_other },
	{ "retention", true, SEC_RETENTION, .other = retention_other },
	{ "channels", false, SEC_CHANNELS, KEYS(channel_keys), .unknown = "channel" },
	{ "audit", false, SEC_AUDIT, KEYS(audit_keys) },
	{ "backup", false, SEC_BACKUP, KEYS(backup_keys) },
	/* Rules may repeat a name for another tenant; end_rule checks those. */
	{ "rule", true, SEC_RULE, KEYS(rule_keys), ENTRIES(rules, nrules, struct rule_conf) },
	{ "token", true, SEC_TOKEN, KEYS(token_keys), ENTRIES(tokens, ntokens, struct token_conf),
	  .unique = true },
	{ "source", true, SEC_SOURCE, KEYS(source_keys), ENTRIES(sources, nsources, struct source_conf),
	  .unique = true, .other = source_other, .other_prefix = SOURCE_META_PREFIX },
	{ "tenant", true, SEC_TENANT, KEYS(tenant_keys), ENTRIES(tenants, ntenants, struct tenant_conf),
	  .unique = true },
};
/* Entries are found by name, their first member. */
_Static_assert(offsetof(struct rule_conf, name) == 0 && offsetof(struct token_conf, name) == 0 &&
               offsetof(struct source_conf, name) == 0 && offsetof(struct tenant_conf, name) == 0,
               "an entry starts with its name");

/* Splits `word "name"` into word and name; name NULL when there is none.
 * -1 on a malformed header, -2 when out of memory. */
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
	return *name ? 0 : -2;
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

/* A new [rule|token|source|tenant "NAME"] entry, with its table's defaults. */
static int open_entry(struct loader *ld)
{
	const struct section_def *s = ld->sec;
	size_t *n = (size_t *)((char *)ld->cfg + s->count);
	char *e;
	if (!s->size)
		return 0;
	if (!(e = grow((void **)((char *)ld->cfg + s->arr), n, s->size)))
		return -1;
	if (!(*(char **)e = strdup(ld->name))) {
		(*n)--;   /* no entry without its name: lookups compare names */
		return -1;
	}
	ld->entry = e;
	if (s->kind == SEC_RULE) {
		struct rule_conf *r = (struct rule_conf *)e;
		r->line = ld->section_line;
		if (!(r->file = strdup(ld->file)))
			return -1;
	}
	return apply_defaults(s->keys, s->nkeys, e);
}

/* Tokens, sources and tenants are looked up by name: a second section of
 * the same name would be silently shadowed by the first. */
static bool named_twice(const struct loader *ld)
{
	const struct section_def *s = ld->sec;
	const char *arr = *(char **)((char *)ld->cfg + s->arr);
	size_t n = *(size_t *)((char *)ld->cfg + s->count);
	for (size_t i = 0; s->unique && i < n; i++)
		if (!strcmp(*(char *const *)(arr + i * s->size), ld->name))
			return true;
	return false;
}

static const struct section_def *find_section(const char *word, bool named)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(sections); i++)
		if (!strcmp(word, sections[i].word) && sections[i].named == named)
			return &sections[i];
	return NULL;
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
	ld->sec = NULL;
	ld->entry = NULL;
	ld->handled_seq = ld->section_seq;
	int rc = split_section(ld->header, word, sizeof word, &ld->name);
	const struct section_def *s = rc ? NULL : find_section(word, ld->name != NULL);
	if (rc == -2)
		add_error(ld, ld->section_line, "out of memory");
	else if (rc)
		add_error(ld, ld->section_line, "bad section header [%s] (expected [name] or [name \"value\"])",
		          ld->header);
	else if (!s)
		add_error(ld, ld->section_line, "unknown section [%s]", ld->header);
	else if (ld->name && !valid_name(ld->name))
		add_error(ld, ld->section_line, "section name \"%s\" must be 1 to 64 of A-Z a-z 0-9 . _ -", ld->name);
	else if ((ld->sec = s) && named_twice(ld))
		add_error(ld, ld->section_line, "[%s] is defined twice", ld->header);
	else
		ld->kind = s->kind;
	if (ld->kind == SEC_NONE) {
		ld->sec = NULL;
		return;
	}
	if (open_entry(ld))
		add_error(ld, ld->section_line, "out of memory");
}

static bool same_tenant(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void end_rule(struct loader *ld)
{
	const struct rule_conf *r = ld->entry;
	if ((r->set & RULE_F_PATTERN) && r->pattern && !*r->pattern)
		add_error(ld, r->line, "pattern must not be empty");
	/* Two sections for the same rule and tenant: which one counts would be
	 * an accident of order. */
	for (const struct rule_conf *o = ld->cfg->rules; o < r; o++)
		if (!strcmp(o->name, r->name) && same_tenant(o->tenant, r->tenant))
			add_error(ld, ld->section_line, "[rule \"%s\"] is defined twice for %s%s (also at line %d)",
			          r->name, r->tenant ? "tenant " : "every tenant", r->tenant ? r->tenant : "", o->line);
}

static void end_token(struct loader *ld)
{
	struct token_conf *t = ld->entry;
	if (!(t->scopes & TOKEN_HASH_GIVEN))
		add_error(ld, ld->section_line, "[token \"%s\"] needs sha256 = <64 hex digits>", t->name);
	t->scopes &= ~TOKEN_HASH_GIVEN;
	if (!t->scopes)
		add_error(ld, ld->section_line, "[token \"%s\"] needs scopes = ingest, read, admin and/or metrics", t->name);
	/* One secret, two scope sets: whichever matched last would win. */
	for (const struct token_conf *o = ld->cfg->tokens; o < t; o++)
		if (!sodium_memcmp(o->sha256, t->sha256, sizeof t->sha256))
			add_error(ld, ld->section_line, "[token \"%s\"] has the same sha256 as [token \"%s\"]",
			          t->name, o->name);
}

/* The provider a source's name makes it, or SOURCE_BY_NAME. */
static enum source_type type_of_name(const char *name)
{
	for (int i = SOURCE_TWILIO; i <= SOURCE_DIALOGFLOW_CX; i++)
		if (!strcmp(name, source_type_words[i]))
			return (enum source_type)i;
	return SOURCE_BY_NAME;
}

/* A generic source: keys of the other kind, and the two fields it must map. */
static void end_generic_source(struct loader *ld, const struct source_conf *s)
{
	bool sw = s->type == SOURCE_STANDARD_WEBHOOKS;
	if (sw && s->hmac_line)
		add_error(ld, s->hmac_line, "[source \"%s\"] signature_header, signature_encoding and "
		          "signature_prefix apply to type = hmac-sha256 only", s->name);
	if (!sw && s->sw_line)
		add_error(ld, s->sw_line, "[source \"%s\"] tolerance applies to type = standard-webhooks only "
		          "(hmac-sha256 signs no timestamp)", s->name);
	if (!s->map[SOURCE_MAP_TEXT] || !s->map[SOURCE_MAP_CONVERSATION_ID])
		add_error(ld, ld->section_line, "[source \"%s\"] needs map.text and map.conversation_id "
		          "(JSON pointers into the body, e.g. /message/text)", s->name);
}

static void end_source(struct loader *ld)
{
	struct source_conf *s = ld->entry;
	enum source_type named = type_of_name(s->name);
	if (s->type == SOURCE_BY_NAME && !named) {
		add_error(ld, ld->section_line, "unknown source \"%s\": name it twilio, whatsapp or "
		          "dialogflow-cx, or set type = standard-webhooks or hmac-sha256", s->name);
		return;
	}
	if (s->type == SOURCE_BY_NAME)
		s->type = named;
	if (s->type <= SOURCE_DIALOGFLOW_CX && s->type != named) {
		add_error(ld, ld->section_line, "[source \"%s\"] type = %s is the section named \"%s\" "
		          "(its route is /v1/webhooks/%s)", s->name, source_type_words[s->type],
		          source_type_words[s->type], source_type_words[s->type]);
		return;
	}
	if (s->type > SOURCE_DIALOGFLOW_CX && named) {
		add_error(ld, ld->section_line, "[source \"%s\"] is the %s route: give a generic source "
		          "another name", s->name, s->name);
		return;
	}
	int stray = s->generic_line ? s->generic_line : s->hmac_line ? s->hmac_line : s->sw_line;
	if (s->type <= SOURCE_DIALOGFLOW_CX && (stray || s->category_line))
		add_error(ld, stray ? stray : s->category_line, "[source \"%s\"] this key applies to "
		          "type = standard-webhooks or hmac-sha256 only", s->name);
	else if (s->type > SOURCE_DIALOGFLOW_CX)
		end_generic_source(ld, s);
	if (!s->secret_file && s->type != SOURCE_DIALOGFLOW_CX)
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

/* ---- keys ------------------------------------------------------------------------ */

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
		add_error(ld, ld->line, "out of memory");
	return false;
}

static void on_continuation(struct loader *ld, const char *key, const char *value)
{
	const char *msg;
	if (ld->kind == SEC_RULE && !strcmp(key, "pattern") && ((struct rule_conf *)ld->entry)->pattern)
		msg = continue_pattern(ld, value);
	else
		msg = "an indented line continues the value above it, which only a rule's "
		      "pattern may do: remove the leading blanks";
	if (msg)
		add_error(ld, ld->line, "%s", msg);
}

/* Parses a key of the table into base (the config or the section's entry). */
static const char *set_key(struct loader *ld, const struct cfg_key *k, void *base, const char *v)
{
	const char *msg = k->type == KT_CUSTOM ? k->parse(base, v, ld->msg, sizeof ld->msg)
	                                       : parse_value(k, base, v, ld->msg, sizeof ld->msg);
	if (msg)
		return msg;
	if (k->line)
		*(int *)((char *)base + k->line) = ld->line;
	if (k->mark)   /* only rule_keys mark */
		((struct rule_conf *)base)->set |= k->mark;
	return NULL;
}

static void unknown_key(struct loader *ld, const char *key)
{
	const struct section_def *s = ld->sec;
	const char *names[RD_ARRAY_LEN(channel_keys) + 1] = { NULL };
	char list[256];
	if (!s->unknown || s->nkeys >= RD_ARRAY_LEN(names)) {
		add_error(ld, ld->line, "unknown key \"%s\" in [%s]", key, ld->header);
		return;
	}
	for (size_t i = 0; i < s->nkeys; i++)
		names[i] = s->keys[i].key;
	join_words(names, list, sizeof list);
	add_error(ld, ld->line, "unknown %s \"%s\" in [%s] (%s)", s->unknown, key, ld->header, list);
}

static void dispatch_key(struct loader *ld, const char *key, const char *value)
{
	const struct section_def *s = ld->sec;
	const struct cfg_key *k = find_key(s->keys, s->nkeys, key);
	const char *msg;
	if (k)
		msg = set_key(ld, k, ld->entry ? ld->entry : (void *)ld->cfg, value);
	else if (s->other && (!s->other_prefix || !strncmp(key, s->other_prefix, strlen(s->other_prefix))))
		msg = s->other(ld, key, value);
	else {
		unknown_key(ld, key);
		return;
	}
	if (msg && !strncmp(msg, key, strlen(key)))
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
	if (!ld->sec || (ld->sec->size && !ld->entry))
		return 1;   /* the section's own error (or running out of memory) was reported once */
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
	for (size_t i = 0; i < RD_ARRAY_LEN(sections); i++)
		if (!sections[i].named && apply_defaults(sections[i].keys, sections[i].nkeys, c))
			return -1;
	c->retention = calloc(RD_ARRAY_LEN(builtin_categories), sizeof *c->retention);
	if (!c->retention)
		return -1;
	for (size_t i = 0; i < RD_ARRAY_LEN(builtin_categories); i++) {
		struct retention_conf *r = &c->retention[i];
		if (util_parse_duration(builtin_categories[i].def, &r->seconds)) {
			log_error("config: the built-in retention of %s does not parse", builtin_categories[i].category);
			abort();
		}
		if (!(r->category = strdup(builtin_categories[i].category)))
			return -1;
		c->nretention++;
	}
	return 0;
}

/* [storage] password_file: read once here, at load; its content is never
 * logged (errors name the file and line, not what it holds). */
static void read_pg_password(struct loader *ld)
{
	struct config *c = ld->cfg;
	char path[4096], err[256];
	int line = c->lines.pg_password_file;
	if (util_credential_path(c->pg_password_file, path, sizeof path, err, sizeof err)) {
		add_error(ld, line, "[storage] password_file: %s", err);
		return;
	}
	FILE *f = fopen(path, "r");
	char buf[1024];
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	bool bad = !f || ferror(f) || !feof(f);
	int e = errno;
	if (f)
		fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (!f)
		add_error(ld, line, "[storage] password_file %s: cannot read: %s", path, strerror(e));
	else if (bad)
		add_error(ld, line, "[storage] password_file %s: unreadable or longer than %zu bytes", path,
		          sizeof buf - 2);
	else if (!n || memchr(buf, '\n', n))
		add_error(ld, line, "[storage] password_file %s: must hold the password on one line", path);
	else if (!(c->pg_password = strdup(buf)))
		add_error(ld, line, "out of memory");
	sodium_memzero(buf, sizeof buf);
}

static void validate_storage(struct loader *ld)
{
	struct config *c = ld->cfg;
	if (c->backend == STORAGE_POSTGRESQL && !c->pg_url)
		add_error(ld, c->lines.backend ? c->lines.backend : c->lines.pg_url,
		          "[storage] backend = postgresql needs url = postgresql://...");
	if (c->backend != STORAGE_POSTGRESQL && (c->pg_url || c->pg_password_file))
		add_error(ld, c->pg_url ? c->lines.pg_url : c->lines.pg_password_file,
		          "[storage] url and password_file apply to backend = postgresql only");
	if (c->backend == STORAGE_POSTGRESQL && c->keys_from)
		add_error(ld, c->lines.keys_from, "[storage] keys_from applies to backend = sqlite only");
	if (c->backend == STORAGE_POSTGRESQL && c->pg_password_file)
		read_pg_password(ld);
}

/* Checks across sections, once the whole file is read. */
static void validate(struct loader *ld)
{
	const struct config *c = ld->cfg;
	validate_storage(ld);
	if (!c->tls_cert != !c->tls_key)
		add_error(ld, c->tls_cert ? c->lines.tls_cert : c->lines.tls_key,
		          "[server] tls_cert and tls_key go together: set both or neither");
	for (size_t i = 0; i < c->nsources; i++)
		if (c->sources[i].category && !config_category_known(c, c->sources[i].category))
			add_error(ld, c->sources[i].category_line, "[source \"%s\"] category %s is not a "
			          "configured category ([retention] or [channels])", c->sources[i].name,
			          c->sources[i].category);
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
	rc = (int)ld.nerrors + ld.lost_error;
	if (rc)
		format_errors(&ld, err, errlen);
	util_credential_fallback(path);
	if (!rc || keep_partial) {
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

static void free_source_generic(struct source_conf *s)
{
	free(s->signature_header);
	free(s->signature_prefix);
	free(s->category);
	for (int i = 0; i < SOURCE_MAP_COUNT; i++)
		free(s->map[i]);
	for (size_t i = 0; i < s->nmeta; i++) {
		free(s->meta[i].key);
		free(s->meta[i].pointer);
	}
	free(s->meta);
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
		free_source_generic(&c->sources[i]);
		free(c->sources[i].region);
		free(c->sources[i].forward_to);
		free(c->sources[i].forward_ca_file);
	}
	for (size_t i = 0; i < c->ntenants; i++) {
		free(c->tenants[i].name);
		free(c->tenants[i].region);
	}
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
	free(c->pg_url);
	free(c->pg_password_file);
	if (c->pg_password) {
		sodium_memzero(c->pg_password, strlen(c->pg_password));
		free(c->pg_password);
	}
	free(c->backup_dir);
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

/* ---- reload: what applies only at start ------------------------------------------ */

static size_t field_size(enum key_type t)
{
	switch (t) {
	case KT_DURATION: return sizeof(int64_t);
	case KT_SIZE: return sizeof(size_t);
	case KT_RATE: return sizeof(double);
	case KT_BOOL: return sizeof(bool);
	default: return sizeof(int);
	}
}

/* Puts running's value of k into cfg. 1 if it differed, 0 if not, -1 when
 * out of memory. */
static int keep_running(const struct cfg_key *k, struct config *cfg, const struct config *running)
{
	char *now = (char *)cfg + k->off;
	const char *was = (const char *)running + k->off;
	if (!is_text(k->type)) {
		if (!memcmp(now, was, field_size(k->type)))
			return 0;
		memcpy(now, was, field_size(k->type));
		return 1;
	}
	char **s = (char **)now, *const *r = (char *const *)was;
	if ((!*s && !*r) || (*s && *r && !strcmp(*s, *r)))
		return 0;
	char *copy = *r ? strdup(*r) : NULL;
	if (*r && !copy)
		return -1;
	free(*s);
	*s = copy;
	return 1;
}

int config_keep_restart_only(struct config *cfg, const struct config *running, char *changed, size_t len)
{
	int n = 0;
	size_t used = 0;
	if (len)
		changed[0] = '\0';
	for (size_t i = 0; i < RD_ARRAY_LEN(sections); i++) {
		const struct section_def *s = &sections[i];
		for (size_t j = 0; !s->named && j < s->nkeys; j++) {
			int d = (s->keys[j].flags & KF_RESTART) ? keep_running(&s->keys[j], cfg, running) : 0;
			if (d < 0)
				return -1;
			if (d && used < len)
				used += (size_t)snprintf(changed + used, len - used, "%s%s", n ? ", " : "", s->keys[j].key);
			n += d;
		}
	}
	return n;
}

/* ---- the tables, for documentation checks ---------------------------------------- */

bool config_section_info(size_t i, const char **word, bool *named, bool *open)
{
	if (i >= RD_ARRAY_LEN(sections))
		return false;
	*word = sections[i].word;
	*named = sections[i].named;
	*open = sections[i].other != NULL && !sections[i].other_prefix;
	return true;
}

bool config_key_info(size_t i, struct config_key_info *out)
{
	for (size_t s = 0; s < RD_ARRAY_LEN(sections); s++) {
		if (i >= sections[s].nkeys) {
			i -= sections[s].nkeys;
			continue;
		}
		const struct cfg_key *k = &sections[s].keys[i];
		*out = (struct config_key_info){ .section = sections[s].word, .named = sections[s].named,
		                                 .key = k->key, .def = k->def,
		                                 .restart = (k->flags & KF_RESTART) != 0, .doc = k->doc };
		return true;
	}
	return false;
}

bool config_builtin_category(size_t i, const char **category, const char **def)
{
	if (i >= RD_ARRAY_LEN(builtin_categories))
		return false;
	*category = builtin_categories[i].category;
	*def = builtin_categories[i].def;
	return true;
}

/* ---- lookups ----------------------------------------------------------------------- */

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
