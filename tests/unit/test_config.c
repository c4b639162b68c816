/* Unit tests for config.c: the sample config, defaults, every kind of error
 * with its FILE:LINE, all errors at once and in line order, what the line
 * reader adds to inih (empty sections, indented and over-long lines),
 * duplicates, retention lookup, tokens, sources. */
#include "harness.h"
#include "config.h"

#include <ctype.h>
#include <sodium.h>

static char path[512];
static char err[8192];

static struct config *load_text(const char *text)
{
	snprintf(path, sizeof path, "%s/test.conf", TEST_TMPDIR());
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	struct config *cfg = NULL;
	err[0] = '\0';
	if (config_load(path, &cfg, err, sizeof err))
		return NULL;
	return cfg;
}

/* Does err hold "test.conf:LINE:" followed somewhere by `needle`? */
static int has_error(int line, const char *needle)
{
	char prefix[600];
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	for (const char *p = strstr(err, prefix); p; p = strstr(p + 1, prefix)) {
		const char *eol = strchr(p, '\n');
		const char *hit = strstr(p, needle);
		if (hit && (!eol || hit < eol))
			return 1;
	}
	return 0;
}

static void test_sample_config(void)
{
	struct config *cfg = NULL;
	CHECK(config_load("config/redactd.conf", &cfg, err, sizeof err) == 0, "sample config loads");
	if (!cfg)
		return;
	CHECK_STR(cfg->listen, "127.0.0.1:8080", "sample listens on 127.0.0.1:8080");
	CHECK(cfg->ntokens == 3, "sample has three dev tokens");
	unsigned char h[32];
	crypto_hash_sha256(h, (const unsigned char *)"dev-admin-token", 15);
	const struct token_conf *t = config_token_find(cfg, h);
	CHECK(t && t->scopes == (SCOPE_INGEST | SCOPE_READ | SCOPE_ADMIN), "dev admin token has every scope");
	crypto_hash_sha256(h, (const unsigned char *)"dev-ingest-token", 16);
	t = config_token_find(cfg, h);
	CHECK(t && t->scopes == SCOPE_INGEST, "dev ingest token is ingest only");
	crypto_hash_sha256(h, (const unsigned char *)"dev-read-token", 14);
	t = config_token_find(cfg, h);
	CHECK(t && t->scopes == SCOPE_READ && !strcmp(t->name, "dev-read"), "dev read token is read only");
	CHECK_STR(cfg->database, "dev/redactd.db", "sample database is under dev/");
	CHECK_STR(cfg->key_file, "dev/master.key", "sample key file is under dev/");
	crypto_hash_sha256(h, (const unsigned char *)"nope", 4);
	CHECK(config_token_find(cfg, h) == NULL, "unknown token not found");
	config_free(cfg);
}

static void test_defaults(void)
{
	struct config *cfg = load_text("[server]\nlisten = 127.0.0.1:9999\n");
	CHECK(cfg != NULL, "minimal config loads");
	if (!cfg)
		return;
	CHECK(cfg->max_body == 1024 * 1024, "max_body defaults to 1M");
	CHECK(cfg->sync_full, "synchronous defaults to full");
	CHECK(cfg->access_log == ACCESS_LOG_ERRORS, "access_log defaults to errors");
	CHECK_STR(cfg->channel_category[CH_VOICE], "call_transcript", "voice defaults to call_transcript");
	CHECK_STR(cfg->channel_category[CH_WEB], "chat_transcript", "web defaults to chat_transcript");
	CHECK(config_retention(cfg, "default", "chat_transcript") == 365 * 86400, "chat kept 365d by default");
	CHECK(config_retention(cfg, "default", "unknown") == 730 * 86400, "default retention 730d");
	CHECK(config_category_known(cfg, "lead"), "lead is a known category");
	CHECK(!config_category_known(cfg, "nope"), "nope is not a category");
	config_free(cfg);
}

static void test_errors_have_lines(void)
{
	struct config *cfg = load_text(
		"[server]\n"                       /* 1 */
		"listen = 127.0.0.1:8080\n"        /* 2 */
		"threds = 4\n"                     /* 3: unknown key */
		"max_body = 12Q\n"                 /* 4: bad size */
		"[serverr]\n"                      /* 5: unknown section */
		"x = 1\n"                          /* 6 */
		"[retention]\n"                    /* 7 */
		"lead = 12 weeks\n"                /* 8: bad duration */
		"[token \"t\"]\n"                  /* 9 */
		"sha256 = abc\n"                   /* 10: bad hex */
		"scopes = ingest, root\n"          /* 11: bad scope */
		"[rule \"r\"]\n"                   /* 12 */
		"style = blur\n"                   /* 13: bad style */
		"channels = web, fax\n"            /* 14: bad channel */
		"[channels]\n"                     /* 15 */
		"pigeon = chat_transcript\n"       /* 16: bad channel key */
		"[storage]\n"                      /* 17 */
		"key_file = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n" /* 18 */
		"synchronous = sometimes\n"        /* 19 */
		"[source \"fax\"]\n"               /* 20: unknown source */
		"secret_file = /x\n");             /* 21 */
	CHECK(cfg == NULL, "a config with errors is refused");
	config_free(cfg);
	CHECK(has_error(3, "unknown key \"threds\""), "unknown key names its line");
	CHECK(has_error(4, "max_body"), "bad size names its line");
	CHECK(has_error(5, "unknown section [serverr]"), "unknown section names its header line");
	CHECK(!has_error(6, "unknown"), "keys of an unknown section are not reported again");
	CHECK(has_error(8, "lead"), "bad duration names its line");
	CHECK(has_error(10, "sha256"), "bad token hash names its line");
	CHECK(has_error(11, "scopes"), "bad scope names its line");
	CHECK(has_error(13, "style"), "bad style names its line");
	CHECK(has_error(14, "channels"), "bad channel list names its line");
	CHECK(has_error(16, "unknown channel"), "bad channel key names its line");
	CHECK(has_error(18, "never the key itself"), "a literal key in key_file is refused");
	CHECK(has_error(19, "synchronous"), "bad synchronous names its line");
	CHECK(has_error(20, "unknown source"), "unknown source names its header line");
}

static void test_more_errors(void)
{
	struct config *cfg = load_text("x = 1\n[server]\ntls_cert = /a.crt\n");
	CHECK(cfg == NULL, "key outside a section is refused");
	CHECK(has_error(1, "outside any section"), "key outside a section names its line");
	CHECK(strstr(err, "tls_cert and tls_key") != NULL, "half-set TLS is refused");
	cfg = load_text("[server]\nlisten = 127.0.0.1:8080\nthis line has no equals sign\n");
	CHECK(cfg == NULL, "a syntax error is refused");
	CHECK(has_error(3, "syntax error"), "syntax error names its line");
	cfg = load_text("[server]\naccess_log = ALL\n");
	CHECK(cfg && cfg->access_log == ACCESS_LOG_ALL, "access_log = all");
	config_free(cfg);
	cfg = load_text("[server]\naccess_log = off\n");
	CHECK(cfg && cfg->access_log == ACCESS_LOG_OFF, "access_log = off");
	config_free(cfg);
	cfg = load_text("[server]\ntls_cert = credential:tls.crt\ntls_key = credential:tls.key\n"
	                "[source \"twilio\"]\nsecret_file = credential:twilio.token\n");
	CHECK(cfg && !strcmp(cfg->tls_key, "credential:tls.key"), "credential:NAME for TLS and webhook secrets");
	config_free(cfg);
	cfg = load_text("[server]\ntls_cert = /a.crt\ntls_key = credential:../k\n"
	                "[source \"twilio\"]\nsecret_file = credential:\n");
	CHECK(cfg == NULL && has_error(3, "tls_key must be a file path or credential:NAME") &&
	      has_error(5, "secret_file must be a file path or credential:NAME"),
	      "a credential that is not a plain name is refused, with its line");
	cfg = load_text("[server]\naccess_log = verbose\n");
	CHECK(cfg == NULL && has_error(2, "access_log must be errors, all or off"),
	      "a bad access_log names its line and the values");
	cfg = load_text("[token \"t\"]\nscopes = read\n");
	CHECK(cfg == NULL && strstr(err, "needs sha256"), "a token without a hash is refused");
	cfg = load_text("[server]\nlisten = 127.0.0.1:70000\n");
	CHECK(cfg == NULL && has_error(2, "port"), "port out of range is refused");
	cfg = load_text("[rule \"r\"]\nkeep = 20\npriority = -1\n");
	CHECK(cfg == NULL && has_error(2, "keep") && has_error(3, "priority"), "rule ranges checked");
	cfg = load_text("[retention \"acme\"]\nsweep_batch = 500\nsweep_interval = 1min\n");
	CHECK(cfg == NULL && has_error(2, "global") && has_error(3, "global"),
	      "the sweeper's settings in a tenant's retention section are refused, not taken as categories");
	CHECK(config_load("/nonexistent/redactd.conf", &cfg, err, sizeof err) == -1 &&
	      strstr(err, "cannot open"), "a missing file is reported");
}

/* Durations take s, min, h, d, w, mo, y; a bare m is refused, saying why. */
static void test_duration_units(void)
{
	struct config *cfg = load_text("[retention]\nchat_transcript = 12mo\nemail = 1y\nsweep_interval = 5min\n"
	                               "[retention \"acme\"]\nlead = 2w\n[audit]\nretention = 24mo\n");
	CHECK(cfg && config_retention(cfg, NULL, "chat_transcript") == 360 * 86400 &&
	      config_retention(cfg, NULL, "email") == 365 * 86400 && cfg->sweep_interval == 300 &&
	      config_retention(cfg, "acme", "lead") == 14 * 86400 && cfg->audit_retention == 720 * 86400,
	      "mo, y, min and w are read where a duration is");
	config_free(cfg);
	cfg = load_text("[retention]\nchat_transcript = 6m\nsweep_interval = 5m\n[server]\nbody_grace = 1m\n");
	CHECK(cfg == NULL && has_error(2, "chat_transcript = 6m is ambiguous: write 6min for minutes or 6mo for months") &&
	      has_error(3, "sweep_interval = 5m is ambiguous") && has_error(5, "body_grace = 1m is ambiguous"),
	      "a bare m is refused with its file:line, naming min and mo");
}

static void test_rules_and_tenants(void)
{
	struct config *cfg = load_text(
		"[rule \"email\"]\n"
		"style = hash\n"
		"[rule \"email\"]\n"
		"tenant = acme\n"
		"enabled = no\n"
		"[rule \"shop\"]\n"
		"tenant = acme\n"
		"pattern = #1\\d{3,6}\n"
		"entity = ORDER_ID\n"
		"context = Order, Order Number\n"
		"context_required = yes\n"
		"channels = web, sms\n"
		"[rule \"person\"]\n"
		"allow = Sarah, ALEXA\n"
		"[retention \"acme\"]\n"
		"lead = 30d\n"
		"default = 90d\n"
		"[tenant \"acme\"]\n"
		"style = mask\n");
	CHECK(cfg != NULL, "rules, tenant retention and tenant style load");
	if (!cfg) {
		printf("# %s\n", err);
		return;
	}
	CHECK(cfg->nrules == 4, "two sections of the same name stay two rules");
	CHECK(cfg->rules[3].set == RULE_F_ALLOW && cfg->rules[3].nallow == 2 &&
	      !strcmp(cfg->rules[3].allow[0], "sarah") && !strcmp(cfg->rules[3].allow[1], "alexa"),
	      "an allow list is split and lowercased");
	CHECK(cfg->rules[0].set == RULE_F_STYLE && cfg->rules[0].style == STYLE_HASH,
	      "an override marks only the keys it sets");
	CHECK(cfg->rules[1].tenant && !strcmp(cfg->rules[1].tenant, "acme") && !cfg->rules[1].enabled,
	      "a tenant can disable a rule");
	CHECK(cfg->rules[2].ncontext == 2 && !strcmp(cfg->rules[2].context[0], "order") &&
	      !strcmp(cfg->rules[2].context[1], "order number"), "context words are split and lowercased");
	CHECK(cfg->rules[2].channels == ((1u << CH_WEB) | (1u << CH_SMS)), "channels bitmask");
	CHECK(cfg->rules[2].line == 8, "a rule's line is its pattern's line");
	CHECK(config_retention(cfg, "acme", "lead") == 30 * 86400, "tenant category retention");
	CHECK(config_retention(cfg, "acme", "chat_transcript") == 90 * 86400, "tenant default retention");
	CHECK(config_retention(cfg, "other", "lead") == 365 * 86400, "other tenants keep the global value");
	CHECK(cfg->ntenants == 1 && cfg->tenants[0].style_set && cfg->tenants[0].style == STYLE_MASK,
	      "tenant default style");
	config_free(cfg);
	config_free(NULL);
	CHECK(1, "config_free(NULL) is a no-op");
}

/* What inih would get wrong on its own: empty sections, indented lines,
 * lines longer than its buffer, long section names. */
static void test_reader(void)
{
	struct config *cfg = load_text(
		"[serverr]\n"                      /* 1: unknown, and empty */
		"[token \"empty\"]\n"              /* 2: no keys at all */
		"[storage]\n"                      /* 3 */
		"database = /x.db\n"               /* 4 */
		"  key_file = /k\n"                /* 5: indented: would join database */
		"[server]\n");                     /* 6 */
	CHECK(cfg == NULL, "empty and indented mistakes are refused");
	CHECK(has_error(1, "unknown section [serverr]"), "an empty unknown section is still an error");
	CHECK(has_error(2, "needs sha256"), "an empty token section is reported at its header");
	CHECK(has_error(5, "indented line"), "an indented key is not glued onto the value above");

	static char text[1024];
	char pat[400];
	memset(pat, 'a', sizeof pat - 1);
	pat[sizeof pat - 1] = '\0';
	snprintf(text, sizeof text,
	         "[rule \"long\"]\n"                /* 1 */
	         "entity = LONG\n"                  /* 2 */
	         "pattern = %s(?=b)\n"              /* 3: longer than inih's buffer */
	         "[server]\n"                       /* 4 */
	         "threads = many\n",                /* 5 */
	         pat);
	cfg = load_text(text);
	CHECK(cfg == NULL && has_error(3, "line longer than"), "an over-long line is reported at its line");
	CHECK(has_error(5, "threads"), "lines after an over-long line keep their numbers");
	CHECK(!has_error(4, "unknown key"), "the tail of an over-long line is not read as a key");

	cfg = load_text(
		"[rule \"long\"]\n"                /* 1 */
		"entity = LONG\n"                  /* 2 */
		"pattern =\n"                      /* 3 */
		"    \\b(?:abc\n"                  /* 4 */
		"\t|def)\\b   ; a comment\n"       /* 5 */
		"[token \"a-token-name-that-is-longer-than-inih-section-buffer-of-50b\"]\n"
		"sha256 = 1111111111111111111111111111111111111111111111111111111111111111\n"
		"scopes = read\n"
		"\xEF\xBB\xBF; not a BOM here, only a comment after one\n");
	CHECK(cfg == NULL, "a stray BOM mid-file is a syntax error");
	CHECK(has_error(9, "syntax error"), "the stray BOM's line is named");
	cfg = load_text(
		"\xEF\xBB\xBF[rule \"long\"]\n"    /* 1: a BOM at the start is fine */
		"entity = LONG\n"                  /* 2 */
		"pattern =\n"                      /* 3 */
		"    \\b(?:abc\n"                  /* 4 */
		"\t|def)\\b   ; a comment\n"       /* 5 */
		"[token \"a-token-name-that-is-longer-than-inih-section-buffer-of-50b\"]\n"
		"sha256 = 1111111111111111111111111111111111111111111111111111111111111111\n"
		"scopes = read\n");
	CHECK(cfg != NULL, "continuation lines, a BOM and a long section name load");
	if (!cfg) {
		printf("# %s\n", err);
		return;
	}
	CHECK_STR(cfg->rules[0].pattern, "\\b(?:abc|def)\\b", "a pattern's continuation lines are joined");
	CHECK(cfg->rules[0].line == 3, "a continued pattern's line is its first line");
	CHECK(cfg->ntokens == 1 && strlen(cfg->tokens[0].name) == 59, "section names past 49 bytes are kept whole");
	config_free(cfg);

	cfg = load_text("[rule \"r\"]\npattern =\nentity = R\n");
	CHECK(cfg == NULL && has_error(2, "pattern must not be empty"), "an empty pattern names its line");
}

static void test_duplicates_and_order(void)
{
	struct config *cfg = load_text(
		"[server]\n"                       /* 1 */
		"tls_cert = /a.crt\n"              /* 2: tls_key missing */
		"[storage]\n"                      /* 3 */
		"database = /a.db\n"               /* 4 */
		"database = /b.db\n"               /* 5: twice */
		"[source \"twilio\"]\n"            /* 6 */
		"secret_file = /a\n"               /* 7 */
		"[source \"twilio\"]\n"            /* 8: twice */
		"secret_file = /b\n"               /* 9 */
		"[token \"a\"]\n"                  /* 10 */
		"sha256 = 2222222222222222222222222222222222222222222222222222222222222222\n"
		"scopes = read\n"                  /* 12 */
		"[token \"b\"]\n"                  /* 13: same hash */
		"sha256 = 2222222222222222222222222222222222222222222222222222222222222222\n"
		"scopes = admin\n"                 /* 15 */
		"[rule \"email\"]\n"               /* 16 */
		"style = mask\n"                   /* 17 */
		"[rule \"email\"]\n"               /* 18: same rule, same (every) tenant */
		"style = hash\n"                   /* 19 */
		"no equals here\n"                 /* 20 */
		"nor here\n");                     /* 21 */
	CHECK(cfg == NULL, "duplicates are refused");
	CHECK(has_error(2, "tls_cert and tls_key"), "half-set TLS names the line that set it");
	CHECK(has_error(5, "given twice"), "a key given twice names the second line");
	CHECK(has_error(8, "defined twice"), "a source defined twice names its second header");
	CHECK(has_error(13, "same sha256"), "two tokens with one hash are refused");
	CHECK(has_error(18, "defined twice"), "a rule defined twice for one tenant is refused");
	CHECK(has_error(20, "syntax error") && has_error(21, "syntax error"), "every syntax error is reported");
	const char *l2 = strstr(err, ":2: "), *l5 = strstr(err, ":5: "), *l21 = strstr(err, ":21: ");
	CHECK(l2 && l5 && l21 && l2 < l5 && l5 < l21, "errors are listed in line order");
}

static void test_listen_and_lookups(void)
{
	struct config *cfg = load_text("[server]\nlisten = unix:relative.sock\n");
	CHECK(cfg == NULL && has_error(2, "unix:/path"), "a relative unix socket path is refused");
	cfg = load_text("[server]\nlisten = 127.0.0.1\n");
	CHECK(cfg == NULL && has_error(2, "host:port"), "listen without a port is refused");
	cfg = load_text("[server]\nlisten = [::1]:8080\n");
	CHECK(cfg != NULL, "an IPv6 listen address loads");
	config_free(cfg);
	cfg = load_text(
		"[server]\nlisten = unix:/run/redactd/redactd.sock\n"
		"[storage]\nkey_file = credential:master.key\nbatch_wait = 2ms\n"
		"[source \"whatsapp\"]\nsecret_file = /s\nverify_token_file = /v\ntenant = acme\n"
		"[retention \"acme\"]\nchat_transcript = 0\n");
	CHECK(cfg != NULL, "unix listen, credential key, sources load");
	if (!cfg) {
		printf("# %s\n", err);
		return;
	}
	CHECK_STR(cfg->key_file, "credential:master.key", "key_file takes credential:NAME");
	CHECK(cfg->batch_wait_us == 2000, "batch_wait in ms becomes microseconds");
	const struct source_conf *s = config_source(cfg, "whatsapp");
	CHECK(s && !strcmp(s->tenant, "acme") && !strcmp(s->verify_token_file, "/v"), "config_source finds a source");
	CHECK(config_source(cfg, "twilio") == NULL, "an unconfigured source is NULL");
	CHECK(config_retention(cfg, "acme", "chat_transcript") == 0, "a tenant may keep a category forever");
	CHECK(config_retention(cfg, NULL, "chat_transcript") == 365 * 86400, "the global value stays");
	CHECK_STR(config_style_name(STYLE_PARTIAL), "partial", "style names");
	config_free(cfg);
}

/* Issue 11: the HTTP defences' keys, their defaults and their errors. */
static void test_http_defences(void)
{
	struct config *cfg = load_text("[server]\nlisten = 127.0.0.1:9999\n");
	CHECK(cfg && cfg->max_connections_per_ip == 256 && cfg->header_timeout == 10 &&
	      cfg->body_min_rate == 1024 && cfg->body_grace == 10 && cfg->rate_limit_per_ip == 0,
	      "connection defences default on, rate limits off");
	config_free(cfg);
	cfg = load_text("[server]\nmax_connections_per_ip = 8\nheader_timeout = 5s\nbody_min_rate = 0\n"
	                "body_grace = 1min\nrate_limit_per_ip = 600/min\nrate_burst_per_ip = 20\n"
	                "[token \"t\"]\nsha256 = " "0000000000000000000000000000000000000000000000000000000000000000"
	                "\nscopes = read\nrate_limit = 5\nrate_burst = 2\n");
	CHECK(cfg && cfg->max_connections_per_ip == 8 && cfg->header_timeout == 5 &&
	      cfg->body_min_rate == 0 && cfg->body_grace == 60 && cfg->rate_limit_per_ip == 10.0 &&
	      cfg->rate_burst_per_ip == 20, "the [server] defence keys are read");
	CHECK(cfg && cfg->ntokens == 1 && cfg->tokens[0].rate_limit == 5.0 && cfg->tokens[0].rate_burst == 2,
	      "a token's rate_limit and rate_burst are read");
	config_free(cfg);
	cfg = load_text("[server]\nmax_connections_per_ip = 0\nheader_timeout = 0\nbody_min_rate = fast\n"
	                "body_grace = 2h\nrate_limit_per_ip = 5/m\nrate_burst_per_ip = -1\n"
	                "[token \"t\"]\nrate_limit = lots\n");
	CHECK(cfg == NULL && has_error(2, "max_connections_per_ip must be 1 to 100000") &&
	      has_error(3, "header_timeout must be a duration from 1s to 1h") &&
	      has_error(4, "body_min_rate must be a size per second") &&
	      has_error(5, "body_grace must be a duration from 1s to 1h") &&
	      has_error(6, "rate_limit_per_ip must be 0 (off) or N, N/s, N/min or N/h") &&
	      has_error(7, "rate_burst_per_ip must be 0") && has_error(9, "rate_limit must be 0 (off)"),
	      "bad defence keys are refused, each with its line");
}

/* Every allocation config_load makes, failed in turn (harness.h): each run
 * must refuse the file, say "out of memory", and leak nothing, whether the
 * file is good or full of mistakes. */
static const char alloc_good[] =
	"[server]\nlisten = unix:/run/r.sock\ntls_cert = /c\ntls_key = credential:k\npublic_url = https://x\n"
	"[storage]\ndatabase = /d.db\nkey_file = /k\nkeys_from = /live.db\nbatch_wait = 2ms\n"
	"[retention]\nlead = 30d\nnew_cat = 1d\nsweep_batch = 10\n[retention \"acme\"]\ndefault = 5d\n"
	"[channels]\nvoice = lead\n[audit]\nretention = 100d\n"
	"[rule \"email\"]\nstyle = mask\n[rule \"shop\"]\ntenant = acme\npattern = \\d{4}\n  (?=x)\n"
	"entity = ORDER\ncontext = order, ref\nchannels = web, sms\n[rule \"person\"]\nallow = Ann, Bo\n"
	"[token \"t\"]\nsha256 = 1111111111111111111111111111111111111111111111111111111111111111\n"
	"scopes = read, admin\ntenant = acme\n[source \"whatsapp\"]\nsecret_file = /s\nverify_token_file = /v\n"
	"[tenant \"acme\"]\nstyle = hash\n";
static const char alloc_bad[] =
	"[server]\nthreds = 1\nmax_body = 9G\ntls_cert = /c\n[serverr]\n[token \"t\"]\nscopes = root\n"
	"[rule \"r\"]\npattern =\n  x\ncontext = a, b\n[rule \"r\"]\nkeep = 0\n[source \"fax\"]\n"
	"[retention \"acme\"]\nsweep_batch = 1\nbad name = 1d\n[channels]\npigeon = x\nsyntax error\n";

static void alloc_loop(const char *text, bool good, const char *what)
{
	struct config *cfg = load_text(text);   /* writes the file, and a warm-up */
	CHECK(good == (cfg != NULL), what);
	config_free(cfg);
	long n, wrong = 0, leaks = 0;
	for (n = 1; n < 100000; n++) {
		long live = alloc_live();
		cfg = NULL;
		err[0] = '\0';
		alloc_fail_at(n);
		int rc = config_load(path, &cfg, err, sizeof err);
		bool failed = alloc_failed();
		alloc_fail_at(0);
		config_free(cfg);
		if (alloc_live() != live) {
			leaks++;
			printf("# allocation %ld failed: %ld block(s) leaked\n", n, alloc_live() - live);
		}
		if (!failed) {
			CHECK(good == (rc == 0), "past its last allocation the file loads as before");
			break;
		}
		if (rc != -1 || !strstr(err, "out of memory") || cfg) {
			wrong++;
			printf("# allocation %ld failed: rc %d, %s\n", n, rc, err);
		}
	}
	CHECK(n > 10, "config_load allocates (else the loop tests nothing)");
	CHECK(wrong == 0, "each failed allocation refuses the file with \"out of memory\"");
	CHECK(leaks == 0, "no failed allocation leaks");
}

static void test_alloc_failures(void)
{
	alloc_loop(alloc_good, true, "a file with every kind of section loads");
	alloc_loop(alloc_bad, false, "a file with every kind of mistake is refused");
	/* Its one error is the allocation that fails: still refused. */
	alloc_loop("[server]\nthreads = many\n[storage]\ndatabase = /d\n", false, "a file with one mistake is refused");
}

/* ---- the sample config and redactd.conf(5) against the tables ---------------- */

struct lines {
	char **line;
	size_t n;
};

static void free_lines(struct lines *l);

/* -1 when the file cannot be read, or memory runs out (l is then empty). */
static int read_lines(const char *file, struct lines *l)
{
	FILE *f = fopen(file, "r");
	char *line = NULL, **n;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;
	l->line = NULL;
	l->n = 0;
	if (!f)
		return -1;
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
			line[--len] = '\0';
		if (!(n = realloc(l->line, (l->n + 1) * sizeof *n))) {
			rc = -1;
			break;
		}
		l->line = n;
		if (!(n[l->n] = strdup(line)))
			rc = -1;
		else
			l->n++;
	}
	free(line);
	fclose(f);
	if (rc)
		free_lines(l);
	return rc;
}

static void free_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->line[i]);
	free(l->line);
	l->line = NULL;
	l->n = 0;
}

static bool table_key(const char *section, bool named, const char *key, struct config_key_info *out)
{
	for (size_t i = 0; config_key_info(i, out); i++)
		if (!strcmp(out->section, section) && out->named == named && !strcmp(out->key, key))
			return true;
	return false;
}

/* Does [section] take keys its table lacks (category names)? */
static bool section_open(const char *section, bool named)
{
	const char *w;
	bool n, open;
	for (size_t i = 0; config_section_info(i, &w, &n, &open); i++)
		if (!strcmp(w, section) && n == named)
			return open;
	return false;
}

static const char *builtin_default(const char *category)
{
	const char *c, *d;
	for (size_t i = 0; config_builtin_category(i, &c, &d); i++)
		if (!strcmp(c, category))
			return d;
	return NULL;
}

/* "[word]" or "[word "name"]": the word, and whether it is named. */
static bool parse_header(const char *p, char word[32], bool *named)
{
	size_t n = *p == '[' ? strspn(p + 1, "abcdefghijklmnopqrstuvwxyz") : 0;
	if (n == 0 || n >= 32 || (p[1 + n] != ']' && p[1 + n] != ' '))
		return false;
	memcpy(word, p + 1, n);
	word[n] = '\0';
	*named = p[1 + n] == ' ';
	return true;
}

/* "key = value": the key, and where the value starts. */
static bool parse_key(const char *p, char key[64], const char **value)
{
	size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
	const char *q = p + n + strspn(p + n, " ");
	if (n == 0 || n >= 64 || *q != '=')
		return false;
	memcpy(key, p, n);
	key[n] = '\0';
	*value = q + 1 + strspn(q + 1, " ");
	return true;
}

/* Copies the first blank-ended word of p, less a trailing '.', ',' or ';'. */
static void first_word(const char *p, char *out, size_t len)
{
	size_t n = strcspn(p, " ");
	if (n > 1 && strchr(".,;", p[n - 1]))
		n--;
	snprintf(out, len, "%.*s", (int)n, p);
}

/* ---- redactd.conf(5) ---- */

/* The default an .It block shows: "Default 1024." or "Default" then
 * ".Ql 1M ." on the next line. "" when it shows none. */
static void man_default(const struct lines *l, size_t from, size_t to, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t i = from; i < to; i++) {
		const char *p = l->line[i];
		if (strncmp(p, "Default", 7) || (p[7] != ' ' && p[7] != '\0'))
			continue;
		if (p[7] == ' ')
			first_word(p + 8, out, len);
		else if (i + 1 < to && l->line[i + 1][0] == '.')
			first_word(l->line[i + 1] + 4, out, len);   /* ".Ql X", ".Pa X", ".Cm X" */
		return;
	}
}

static bool man_block_end(const char *p)
{
	return !strncmp(p, ".It", 3) || !strncmp(p, ".El", 3) || !strncmp(p, ".Ss", 3) || !strncmp(p, ".Sh", 3);
}

/* A key documented under [section]: it is a row, and shows the row's
 * default. Adds "section/named/key" to seen. */
static void check_man_key(const char *section, bool named, const char *key, const char *shown,
                          struct lines *seen)
{
	char name[200], entry[200];
	struct config_key_info k;
	snprintf(name, sizeof name, "redactd.conf.5 [%s%s] %s", section, named ? " NAME" : "", key);
	if (!table_key(section, named, key, &k)) {
		CHECK(0, name);   /* documented, but no such key */
		return;
	}
	snprintf(entry, sizeof entry, "%s/%d/%s", section, named, key);
	char **n = realloc(seen->line, (seen->n + 1) * sizeof *n);
	if (n && (n[seen->n] = strdup(entry)))
		seen->n++;
	if (n)
		seen->line = n;
	CHECK_STR(shown, k.def ? k.def : "", name);   /* the default it shows is the table's */
}

/* Every `.It Ic KEY` under a `.Ss [section]`, checked against the tables. */
static void man_keys(const struct lines *l, struct lines *seen)
{
	char section[32] = "", shown[64];
	bool named = false;
	for (size_t i = 0; i < l->n; i++) {
		const char *p = l->line[i];
		if (!strncmp(p, ".Ss ", 4) || !strncmp(p, ".Sh ", 4)) {
			if (!parse_header(p + 4, section, &named))
				section[0] = '\0';
			continue;
		}
		if (!section[0] || strncmp(p, ".It Ic ", 7))
			continue;
		size_t body = i;   /* consecutive .It lines share the body below them */
		while (body + 1 < l->n && !strncmp(l->line[body + 1], ".It Ic ", 7))
			body++;
		size_t end = body + 1;
		while (end < l->n && !man_block_end(l->line[end]))
			end++;
		man_default(l, body + 1, end, shown, sizeof shown);
		for (; i <= body; i++) {
			char key[64];
			first_word(l->line[i] + 7, key, sizeof key);
			check_man_key(section, named, key, shown, seen);
		}
		i = body;
	}
}

/* Every row was documented, under its own section. */
static void check_rows_documented(const struct lines *seen)
{
	struct config_key_info k;
	size_t undocumented = 0, nkeys = 0;
	for (size_t i = 0; config_key_info(i, &k); i++, nkeys++)
		undocumented += !k.doc || !k.doc[0];
	CHECK(nkeys > 50 && undocumented == 0, "every row of the tables has its line of doc");
	for (size_t i = 0; config_key_info(i, &k); i++) {
		char want[200], name[200];
		bool found = false;
		snprintf(want, sizeof want, "%s/%d/%s", k.section, k.named, k.key);
		for (size_t j = 0; j < seen->n && !found; j++)
			found = !strcmp(seen->line[j], want);
		snprintf(name, sizeof name, "redactd.conf.5 documents [%s%s] %s", k.section, k.named ? " NAME" : "", k.key);
		CHECK(found, name);
	}
}

static bool has_line_with(const struct lines *l, const char *text, bool at_start)
{
	for (size_t j = 0; j < l->n; j++)
		if (at_start ? !strncmp(l->line[j], text, strlen(text)) : strstr(l->line[j], text) != NULL)
			return true;
	return false;
}

/* A .Ss for every kind of section, and the built-in categories with their retention. */
static void check_man_sections(const struct lines *l)
{
	const char *w, *c, *d;
	bool n, open;
	for (size_t i = 0; config_section_info(i, &w, &n, &open); i++) {
		char want[64], name[100];
		snprintf(want, sizeof want, n ? ".Ss [%s Qo " : ".Ss [%s]", w);
		snprintf(name, sizeof name, "redactd.conf.5 has a section for [%s%s]", w, n ? " NAME" : "");
		CHECK(has_line_with(l, want, true), name);
	}
	for (size_t i = 0; config_builtin_category(i, &c, &d); i++) {
		char want[100];
		snprintf(want, sizeof want, ".Ql %s = %s", c, d);
		CHECK(has_line_with(l, want, false), want);
	}
}

static void test_man_page(void)
{
	struct lines l, seen = { 0 };
	CHECK(read_lines("man/redactd.conf.5", &l) == 0, "man/redactd.conf.5 reads");
	man_keys(&l, &seen);
	check_rows_documented(&seen);
	check_man_sections(&l);
	free_lines(&seen);
	free_lines(&l);
}

/* redactd(8) lists the keys a reload leaves as they are: exactly the
 * table's restart-only ones. */
static void test_man_restart_only(void)
{
	struct lines l;
	char listed[1024] = ",";
	size_t i = 0;
	CHECK(read_lines("man/redactd.8", &l) == 0, "man/redactd.8 reads");
	while (i < l.n && !strstr(l.line[i], "apply only at start"))
		i++;
	for (i++; i < l.n && strncmp(l.line[i], ".It", 3); i++) {
		char key[64];
		if (strncmp(l.line[i], ".Cm ", 4))
			continue;
		first_word(l.line[i] + 4, key, sizeof key);
		strncat(listed, key, sizeof listed - strlen(listed) - 2);
		strcat(listed, ",");
		if (strlen(l.line[i]) > 2 && !strcmp(l.line[i] + strlen(l.line[i]) - 2, " ."))
			break;   /* the list's last item */
	}
	struct config_key_info k;
	size_t restart = 0, commas = 0;
	for (size_t j = 0; config_key_info(j, &k); j++) {
		char want[80], name[120];
		if (!k.restart)
			continue;
		restart++;
		snprintf(want, sizeof want, ",%s,", k.key);
		snprintf(name, sizeof name, "redactd.8 says %s applies only at start", k.key);
		CHECK(strstr(listed, want) != NULL, name);
	}
	for (const char *p = listed; *p; p++)
		commas += *p == ',';
	CHECK(restart > 10 && commas - 1 == restart, "redactd.8 lists no other key as applying only at start");
	free_lines(&l);
}

/* ---- the sample config ---- */

/* "Default X" in the comments of the key on line i (its own and the
 * indented comment lines below it), else the value it sets. */
static void sample_default(const struct lines *l, size_t i, const char *value, char *out, size_t len)
{
	for (size_t j = i; j < l->n && (j == i || l->line[j][0] == ' '); j++) {
		const char *d = strstr(l->line[j], "Default ");
		if (d) {
			first_word(d + 8, out, len);
			return;
		}
	}
	snprintf(out, len, "%.*s", (int)strcspn(value, " ;"), value);
}

static bool sample_key_known(const char *section, bool named, const char *key, struct config_key_info *k)
{
	return table_key(section, named, key, k) || section_open(section, named);
}

static void check_sample_line(const struct lines *l, size_t i, const char *section, bool named)
{
	char key[64], name[200], shown[100];
	const char *value;
	struct config_key_info k;
	if (!parse_key(l->line[i], key, &value))
		return;
	snprintf(name, sizeof name, "config/redactd.conf line %zu: [%s] has a key %s", i + 1, section, key);
	CHECK(sample_key_known(section, named, key, &k), name);
	if (named)
		return;   /* tokens: examples, not defaults */
	bool in_table = table_key(section, named, key, &k);
	const char *def = in_table ? k.def : builtin_default(key);
	sample_default(l, i, value, shown, sizeof shown);
	snprintf(name, sizeof name, "config/redactd.conf line %zu: the default it shows for %s is the table's", i + 1, key);
	CHECK_STR(shown, def ? def : "(none)", name);
}

/* Live keys must be the tables' and show their defaults; commented-out
 * keys (`; key = value`) must exist in the section they are shown in. */
static void test_sample_against_tables(void)
{
	struct lines l;
	char live[32] = "", shown_in[32] = "", key[64];
	bool live_named = false, shown_named = false;
	const char *value;
	struct config_key_info k;
	CHECK(read_lines("config/redactd.conf", &l) == 0, "config/redactd.conf reads");
	for (size_t i = 0; i < l.n; i++) {
		const char *p = l.line[i], *c = p[0] == ';' ? p + 1 + (p[1] == ' ') : NULL;
		if (!p[0])
			shown_in[0] = '\0';   /* a commented-out section ends at a blank line */
		else if (parse_header(p, live, &live_named))
			shown_in[0] = '\0';
		else if (p[0] != ';' && p[0] != ' ' && live[0])
			check_sample_line(&l, i, live, live_named);
		else if (c && parse_header(c, shown_in, &shown_named))
			continue;
		else if (c && parse_key(c, key, &value)) {
			const char *s = shown_in[0] ? shown_in : live;
			bool n = shown_in[0] ? shown_named : live_named;
			char name[200];
			snprintf(name, sizeof name, "config/redactd.conf line %zu: [%s] has a key %s", i + 1, s, key);
			CHECK(sample_key_known(s, n, key, &k), name);
		}
	}
	/* Every key is at least named in it, if only in a comment. */
	for (size_t j = 0; config_key_info(j, &k); j++) {
		bool found = false;
		size_t n = strlen(k.key);
		for (size_t i = 0; i < l.n && !found; i++)
			for (const char *p = strstr(l.line[i], k.key); p && !found; p = strstr(p + 1, k.key))
				found = (p == l.line[i] || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
				        !(isalnum((unsigned char)p[n]) || p[n] == '_');
		char name[120];
		snprintf(name, sizeof name, "config/redactd.conf names the key %s", k.key);
		CHECK(found, name);
	}
	free_lines(&l);
	struct config *cfg = NULL;
	CHECK(config_load("config/redactd.prod.conf", &cfg, err, sizeof err) == 0,
	      "config/redactd.prod.conf loads: every key it sets is the tables'");
	config_free(cfg);
}

/* The [channels] keys are the channels' own names, each at its channel. */
static void test_channel_keys(void)
{
	for (int ch = 0; ch < CH_COUNT; ch++) {
		char text[100], name[100];
		snprintf(text, sizeof text, "[channels]\n%s = probe\n", rd_channel_name((enum rd_channel)ch));
		struct config *cfg = load_text(text);
		snprintf(name, sizeof name, "[channels] %s sets that channel's category", rd_channel_name((enum rd_channel)ch));
		CHECK(cfg && !strcmp(cfg->channel_category[ch], "probe"), name);
		config_free(cfg);
	}
}

/* SIGHUP: the table's restart-only keys keep their running values. */
static void test_restart_only(void)
{
	struct config *running = load_text("[server]\nlisten = 127.0.0.1:1\nthreads = 2\n[storage]\nqueue_size = 100\n");
	struct config *cfg = load_text("[server]\nlisten = 127.0.0.1:2\nthreads = 3\nmax_body = 2M\n"
	                               "tls_cert = /c\ntls_key = /k\n[storage]\nqueue_size = 100\n");
	char changed[256];
	CHECK(running && cfg, "two configs load");
	if (!running || !cfg)
		goto done;
	CHECK(config_keep_restart_only(cfg, running, changed, sizeof changed) == 4,
	      "four restart-only settings differ");
	CHECK_STR(changed, "listen, threads, tls_cert, tls_key", "the reload names them");
	CHECK(!strcmp(cfg->listen, "127.0.0.1:1") && cfg->threads == 2 && !cfg->tls_cert && !cfg->tls_key &&
	      cfg->queue_size == 100, "they keep their running values");
	CHECK(cfg->max_body == 2u << 20, "the others take the new values");
	CHECK(config_keep_restart_only(cfg, running, changed, sizeof changed) == 0 && !changed[0],
	      "nothing differs the second time");
done:
	config_free(running);
	config_free(cfg);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	test_sample_config();
	test_defaults();
	test_errors_have_lines();
	test_more_errors();
	test_duration_units();
	test_rules_and_tenants();
	test_reader();
	test_duplicates_and_order();
	test_listen_and_lookups();
	test_http_defences();
	test_channel_keys();
	test_restart_only();
	test_man_page();
	test_man_restart_only();
	test_sample_against_tables();
	test_alloc_failures();
	return TEST_DONE();
}
