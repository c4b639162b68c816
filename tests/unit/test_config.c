/* Unit tests for config.c: the sample config, defaults, every kind of error
 * with its FILE:LINE, all errors at once, retention lookup, tokens. */
#include "harness.h"
#include "config.h"

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
	cfg = load_text("[token \"t\"]\nscopes = read\n");
	CHECK(cfg == NULL && strstr(err, "needs sha256"), "a token without a hash is refused");
	cfg = load_text("[server]\nlisten = 127.0.0.1:70000\n");
	CHECK(cfg == NULL && has_error(2, "port"), "port out of range is refused");
	cfg = load_text("[rule \"r\"]\nkeep = 20\npriority = -1\n");
	CHECK(cfg == NULL && has_error(2, "keep") && has_error(3, "priority"), "rule ranges checked");
	CHECK(config_load("/nonexistent/redactd.conf", &cfg, err, sizeof err) == -1 &&
	      strstr(err, "cannot open"), "a missing file is reported");
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
	CHECK(cfg->nrules == 3, "two sections of the same name stay two rules");
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

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	test_sample_config();
	test_defaults();
	test_errors_have_lines();
	test_more_errors();
	test_rules_and_tenants();
	return TEST_DONE();
}
