/*
 * config.h — the INI configuration (parsed with inih), validated at load.
 *
 * Unknown sections and keys are errors: a typo must never silently switch a
 * protection off. Every problem is reported as "FILE:LINE: message", one per
 * line, and loading continues so that check-config shows them all at once.
 *
 * Sections: [server] [storage] [retention] [retention "TENANT"] [channels]
 *   [audit] [rule "NAME"] [token "NAME"] [source "NAME"] [tenant "NAME"].
 * Each has one table of keys in config.c (type, field, default, bounds,
 * restart-only, doc); the defaults and bounds live there only, and
 * config/redactd.conf and redactd.conf(5) are checked against them.
 *
 * A rule section may carry `tenant = T`: it then applies only to tenant T,
 * replacing a global rule of the same name for that tenant, or adding one.
 * `enabled = no` disables a rule (built-in or not) globally or for a tenant.
 */
#ifndef REDACTD_CONFIG_H
#define REDACTD_CONFIG_H

#include "redactd.h"

enum redact_style { STYLE_TAG = 0, STYLE_MASK, STYLE_PARTIAL, STYLE_HASH, STYLE_REMOVE };

/* One [rule "NAME"] section. Only keys that were set in the file are marked
 * in `set` so that a section overriding a built-in rule can change just its
 * style and keep the built-in pattern. */
enum rule_field {
	RULE_F_PATTERN = 1u << 0, RULE_F_ENTITY = 1u << 1, RULE_F_STYLE = 1u << 2,
	RULE_F_VALIDATOR = 1u << 3, RULE_F_PRIORITY = 1u << 4, RULE_F_CONTEXT = 1u << 5,
	RULE_F_ENABLED = 1u << 6, RULE_F_CHANNELS = 1u << 7, RULE_F_KEEP = 1u << 8,
	RULE_F_CONTEXT_REQUIRED = 1u << 9, RULE_F_ALLOW = 1u << 10,
};

struct rule_conf {
	char *name;               /* section name */
	char *tenant;             /* NULL: every tenant */
	unsigned set;             /* enum rule_field bits given in the file */
	char *pattern;            /* PCRE2 source, UTF mode */
	char *entity;             /* EMAIL, PHONE, ORDER_ID, ... (uppercase) */
	enum redact_style style;
	int keep;                 /* partial: characters kept */
	char *validator;          /* none | luhn | iban | phone | ipv4 | ... */
	int priority;             /* higher wins on overlap */
	char **context;           /* context words (lowercase) */
	size_t ncontext;
	bool context_required;    /* match only if a context word precedes it */
	char **allow;             /* words never redacted by this rule (lowercase) */
	size_t nallow;
	bool enabled;
	unsigned channels;        /* bit (1u << rd_channel); 0 = every channel */
	char *file;               /* where it was defined, for error messages */
	int line;
	bool invalid;             /* its section had errors (config_load_all) */
};

struct token_conf {
	char *name;
	unsigned char sha256[32];
	unsigned scopes;          /* enum rd_scope bits */
	char *tenant;             /* NULL: may act for any tenant */
	double rate_limit;        /* requests/s for this token; 0 = unlimited */
	int rate_burst;           /* bucket size; 0 = max(1, rate_limit) */
};

struct retention_conf {
	char *tenant;             /* NULL for the global [retention] section */
	char *category;
	int64_t seconds;          /* 0 = keep forever */
};

/* What a [source] is: a provider of its own route, or a generic signed
 * webhook on POST /v1/webhooks/NAME (webhook_generic.h). */
enum source_type {
	SOURCE_BY_NAME = 0,       /* no `type`: the name says (twilio, whatsapp, dialogflow-cx) */
	SOURCE_TWILIO, SOURCE_WHATSAPP, SOURCE_DIALOGFLOW_CX,
	SOURCE_STANDARD_WEBHOOKS, SOURCE_HMAC_SHA256,
};
enum source_encoding { SOURCE_HEX = 0, SOURCE_BASE64 };

/* A generic source's map.FIELD keys: JSON pointers (RFC 6901) into its body. */
enum source_map {
	SOURCE_MAP_TEXT, SOURCE_MAP_CONVERSATION_ID, SOURCE_MAP_ROLE, SOURCE_MAP_CHANNEL,
	SOURCE_MAP_TS, SOURCE_MAP_SENDER, SOURCE_MAP_PROVIDER_ID, SOURCE_MAP_COUNT
};
struct source_meta_map {
	char *key;                /* map.metadata.KEY: the metadata field */
	char *pointer;
};

struct source_conf {
	char *name;               /* twilio | whatsapp | dialogflow-cx, or a generic source's */
	char *secret_file;
	char *verify_token_file;
	char *tenant;             /* tenant its messages go to; NULL: as they say, else "default" */
	char *region;             /* ISO 3166 alpha-2 its numbers are read in; NULL: the tenant's */
	int location;             /* WhatsApp shared locations: SOURCE_LOCATION_* */
	int secret_line, verify_line;   /* where the files were named */
	/* Generic signed webhooks (type = standard-webhooks | hmac-sha256). */
	enum source_type type;    /* never SOURCE_BY_NAME once loaded */
	int tolerance;            /* standard-webhooks: seconds webhook-timestamp may be off */
	char *signature_header;   /* hmac-sha256: the header carrying the signature */
	int signature_encoding;   /* hmac-sha256: enum source_encoding */
	char *signature_prefix;   /* hmac-sha256: text before the signature, or NULL */
	char *map[SOURCE_MAP_COUNT];   /* JSON pointers, NULL when not mapped */
	struct source_meta_map *meta; size_t nmeta;
	int channel;              /* enum rd_channel of messages that map none */
	char *category;           /* category of its messages, or NULL: the channel's */
	int generic_line, hmac_line, sw_line, category_line;   /* where such keys were set (0: none) */
	/* Tap mode (forward.h): the bot behind redactd, or NULL. */
	char *forward_to;         /* http:// or https:// URL */
	int forward_timeout;      /* seconds for the bot's whole answer */
	int forward_retries;      /* new attempts after a failed connect only */
	int forward_max_inflight; /* calls running at once; over it 503 */
	bool forward_tls_verify;  /* verify the bot's certificate and name */
	char *forward_ca_file;    /* CA bundle for the bot's certificate, or NULL */
};

/* [source] location: a shared location is stored as [LOCATION], or its
 * turn is not stored at all (counted). */
enum { SOURCE_LOCATION_REDACT = 0, SOURCE_LOCATION_DROP = 1 };

/* A [tenant "NAME"] section: per-tenant defaults. */
struct tenant_conf {
	char *name;
	enum redact_style style;  /* default style for this tenant's rules */
	bool style_set;
	char *region;             /* ISO 3166 alpha-2 national phone numbers are read in; NULL */
	/* Consent (issue 17), overriding [channels]: 0 inherits, else the
	 * [channels] value + 1 (CONSENT_* of consent.h + 1). */
	int voice_requires_consent, voice_without_consent, consent_withdrawal;
};

/* [server] access_log: a line per request (all), only for failed ones
 * (errors: status >= 400 or a connection cut short; the default), or none. */
enum access_log { ACCESS_LOG_ERRORS = 0, ACCESS_LOG_ALL, ACCESS_LOG_OFF };

/* [storage] backend: the embedded SQLite file, or a PostgreSQL server. */
enum storage_backend { STORAGE_SQLITE = 0, STORAGE_POSTGRESQL };

struct config {
	char *path;

	/* [server] */
	char *listen;             /* "127.0.0.1:8080" or "unix:/path" */
	int threads;              /* 0 = one per core */
	size_t max_body;
	char *public_url;         /* NULL if unset */
	char *tls_cert, *tls_key; /* both or neither */
	int max_connections;
	int request_timeout;      /* seconds */
	int access_log;           /* enum access_log: which requests get a log line */
	/* Connection defences (docs/security.md); read at start only. */
	int max_connections_per_ip;  /* per client address (IPv6: per /64) */
	int header_timeout;       /* seconds for a whole header block */
	size_t body_min_rate;     /* bytes/s a body must average after body_grace; 0 = off */
	int body_grace;           /* seconds before body_min_rate applies */
	/* Request rate limits (token buckets); taken from the config in force. */
	double rate_limit_per_ip; /* requests/s per client address; 0 = off */
	int rate_burst_per_ip;    /* bucket size; 0 = max(1, rate_limit_per_ip) */
	int64_t max_clock_skew;   /* seconds a message ts may be ahead of now; 0 = off */

	/* [storage] */
	char *database;
	char *key_file;           /* a path or "credential:NAME" */
	char *keys_from;          /* key-less backup: live database holding its keys; NULL */
	bool sync_full;           /* synchronous = full | normal */
	int queue_size;           /* writer queue, records */
	int batch_max;            /* records per group commit */
	int batch_wait_us;        /* wait to fill a group; 0 = none */
	int backend;              /* enum storage_backend */
	char *pg_url;             /* backend = postgresql: postgresql://... or key=value; NULL */
	char *pg_password_file;   /* a path or credential:NAME; NULL */
	char *pg_password;        /* its content, read at load (never logged); NULL */

	/* [retention] and [retention "TENANT"] */
	struct retention_conf *retention;
	size_t nretention;
	int64_t default_retention;   /* seconds; the "default" key */
	int64_t sweep_interval;      /* seconds, at least 1 */
	int sweep_batch;             /* rows per purge transaction, at least 1 */

	/* [audit] */
	int64_t audit_retention;     /* seconds, 0 = forever */

	/* [backup] */
	char *backup_dir;            /* NULL: no directory (set empty) */
	int64_t backup_retention;    /* seconds, 0 = forever */

	/* [channels] channel -> category */
	char *channel_category[CH_COUNT];
	/* [channels] consent (issue 17; consent.h reads them with a tenant's
	 * overrides) */
	bool voice_requires_consent;
	int voice_without_consent;   /* 0 refuse, 1 metadata */
	int consent_withdrawal;      /* 0 keep, 1 erase */

	struct rule_conf *rules;  size_t nrules;
	struct token_conf *tokens; size_t ntokens;
	struct source_conf *sources; size_t nsources;
	struct tenant_conf *tenants; size_t ntenants;

	/* The line that named each file serve opens (0: the default was used),
	 * so that problems with the files point at the config (preflight.c). */
	struct {
		int listen, database, key_file, keys_from, tls_cert, tls_key;
		int backend, pg_url, pg_password_file;
	} lines;
};

/*
 * Load and validate PATH. On success returns 0 and *out owns a config the
 * caller frees with config_free. On failure returns -1, *out untouched, and
 * err holds every problem as "FILE:LINE: message" lines (truncated to errlen).
 * Patterns are not compiled here; redact_new does that (check-config calls
 * both).
 */
int config_load(const char *path, struct config **out, char *err, size_t errlen) RD_WARN_UNUSED;
void config_free(struct config *cfg);      /* NULL is a no-op */

/*
 * Like config_load, but keeps what could be read in spite of errors, for
 * check-config to go on checking (rules, files) and report everything in
 * one pass. Returns -1 with *out NULL when the file cannot be read at all;
 * otherwise the number of problems (listed in err) with *out set. Rules
 * whose section had an error are marked `invalid`.
 */
int config_load_all(const char *path, struct config **out, char *err, size_t errlen) RD_WARN_UNUSED;

/* Removes rules[i] (check-config: a rule that failed to compile, so the
 * others can still be compiled and checked). */
void config_drop_rule(struct config *cfg, size_t i);

/* Retention in seconds for (tenant, category): tenant section, then global
 * section, then `default`. 0 means keep forever. */
int64_t config_retention(const struct config *cfg, const char *tenant, const char *category);

/* Is `category` known (named in any [retention] section or a channel map)? */
bool config_category_known(const struct config *cfg, const char *category);

/* Find a token by the SHA-256 of the presented bearer token, comparing every
 * configured hash in constant time. NULL if none matches. */
const struct token_conf *config_token_find(const struct config *cfg, const unsigned char sha256[32]);

const struct source_conf *config_source(const struct config *cfg, const char *name);

const char *config_style_name(enum redact_style s);

/*
 * SIGHUP: the keys that apply only at start (listen, database, key_file,
 * threads, queue_size, ...: those marked restart-only in the tables) take
 * their values in `running` back into cfg, so that the new config describes
 * what the daemon runs with. Returns how many differed, their names in
 * `changed` ("listen, threads", truncated to len), or -1 when out of memory.
 */
int config_keep_restart_only(struct config *cfg, const struct config *running, char *changed,
                             size_t len) RD_WARN_UNUSED;

/* The tables, for the checks of the sample config and redactd.conf(5)
 * (tests/unit/test_config.c). Strings are static. */
struct config_key_info {
	const char *section;      /* its section's word: "server", "rule" */
	bool named;               /* a key of [section "NAME"] */
	const char *key;
	const char *def;          /* the default, written as in a file; NULL: none */
	bool restart;             /* applies at start only; a reload keeps the running value */
	const char *doc;          /* one line */
};
/* The i-th key of all the tables (from 0); false past the last. */
bool config_key_info(size_t i, struct config_key_info *out);
/* The i-th kind of section; `open`: it also takes keys its table lacks
 * (category names in [retention]). False past the last. */
bool config_section_info(size_t i, const char **word, bool *named, bool *open);
/* The i-th built-in [retention] category and its default; false past the last. */
bool config_builtin_category(size_t i, const char **category, const char **def);

#endif
