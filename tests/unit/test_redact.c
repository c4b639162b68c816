/*
 * test_redact.c — the redaction engine: every default entity caught and
 * not caught, styles, overlaps and priority, match limits, per-tenant
 * rules, Unicode digits and spaces, spoken forms, subjects, build errors.
 *
 * Configs are built by hand (struct config is a plain struct), so this test
 * needs only src/redact*.c, src/phone_region.c and the common helpers.
 */
#include "harness.h"
#include "redact.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const unsigned char hkey[32] = { 1, 2, 3 };
static const unsigned char skey[32] = { 9, 8, 7 };
static struct redact_result res;

static struct redact *engine(const struct config *cfg)
{
	char err[512];
	struct redact *r = redact_new(cfg, hkey, skey, err, sizeof err);
	if (!r)
		printf("# redact_new: %s\n", err);
	return r;
}

/* Redacts s as tenant "t" on channel ch; returns the output text. */
static const char *red(const struct redact *r, const char *tenant, enum rd_channel ch, const char *s)
{
	if (redact_run(r, tenant, ch, s, strlen(s), &res))
		return "(error)";
	return res.text;
}

static bool has_entity(const char *entity)
{
	for (size_t i = 0; i < res.nfindings; i++)
		if (strcmp(res.findings[i].entity, entity) == 0)
			return true;
	return false;
}

struct tcase { const char *text, *entity; };

/* Each must lose the value and be typed `entity`. */
static const struct tcase caught[] = {
	{ "mail jane.doe+tag@mail.example.co.uk now", "EMAIL" },
	{ "write to <o'brien@example.ie>.", "EMAIL" },
	{ "mailto:Info@xn--bcher-kva.example", "EMAIL" },
	{ "user: jörg.müller@example.de", "EMAIL" },
	{ "call +44 7700 900123 today", "PHONE" },
	{ "call 0044 7700 900123 today", "PHONE" },
	{ "office 020 7946 0958", "PHONE" },
	{ "US (415) 555-2671 ext. 42", "PHONE" },
	{ "dial 1-800-555-0199", "PHONE" },
	{ "tel 415.555.2671", "PHONE" },
	{ "Roma +39 06 1234 5678", "PHONE" },
	{ "cell 333 123 4567", "PHONE" },
	{ "Paris 01 23 45 67 89", "PHONE" },
	{ "+33 (0)6 12 34 56 78", "PHONE" },
	{ "Berlin 030 12345678", "PHONE" },
	{ "Madrid 612 34 56 78", "PHONE" },
	{ "Dublin 087 123 4567", "PHONE" },
	{ "India +91 98765 43210", "PHONE" },
	{ "Sydney 0412 345 678", "PHONE" },
	{ "São Paulo (11) 91234-5678", "PHONE" },
	{ "order ORD-123456 shipped", "ORDER_ID" },
	{ "my order #100234 is late", "ORDER_ID" },
	{ "order number 12345678 please", "ORDER_ID" },
	{ "visa 4111 1111 1111 1111", "CREDIT_CARD" },
	{ "mc 5555-5555-5555-4444", "CREDIT_CARD" },
	{ "mastercard 2223003122003222", "CREDIT_CARD" },
	{ "amex 3782 822463 10005", "CREDIT_CARD" },
	{ "iban GB82 WEST 1234 5698 7654 32", "IBAN" },
	{ "iban DE89370400440532013000.", "IBAN" },
	{ "host 192.168.1.10 down", "IP_ADDRESS" },
	{ "v6 2001:db8::8a2e:370:7334", "IP_ADDRESS" },
	{ "loopback ::1 and fe80::1%eth0", "IP_ADDRESS" },
	{ "iban AL47 2121 1009 0000 0002 3569 8741", "IBAN" },
	{ "konto AL 47 2121 1009 0000 0002 3569 8741.", "IBAN" },
	{ "full v6 2001:db8:1234:ffff:ffff:ffff:ffff:ffff", "IP_ADDRESS" },
	{ "phone 6123 4567 (short plan after a phone word)", "PHONE" },
};

/* Each must come out unchanged. */
static const char *const kept[] = {
	"my handle is @handle",
	"a@b is not an address",
	"see you on 12/05/2024",
	"ISO 2024-05-12 and 03.11.2025",
	"meet at 10:30 or 14.45",
	"it costs £1,299.99 or 1.299,00 €",
	"total $1,250,000.00",
	"version 1.2.3.4 and v2.10.1",
	"ISBN 978-3-16-148410-0",
	"years 2019-2024",
	"zip 94105-1234",
	"number 4111 1111 1111 1112 fails Luhn",
	"we sold 12345678 units",
	"room 12, floor 3, 45 minutes",
	"build 10.0.19041.1",
	"pi is 3.14159265",
	"call me back in 10 minutes",
	"the call lasted 1:30:00",
	"IBAN GB82 WEST 1234 5698 7654 33 has a bad checksum",
	"Unicode \xc2\xa3" "1,299.99 and 12\xc2\xa0kg",
};

static void test_defaults(void)
{
	struct redact *r = engine(NULL);
	CHECK(r != NULL, "engine with built-in rules");
	if (!r)
		return;
	char name[160];
	for (size_t i = 0; i < RD_ARRAY_LEN(caught); i++) {
		red(r, "t", CH_WEB, caught[i].text);
		snprintf(name, sizeof name, "caught as %s: %s", caught[i].entity, caught[i].text);
		CHECK(has_entity(caught[i].entity) && strstr(res.text, caught[i].entity), name);
	}
	for (size_t i = 0; i < RD_ARRAY_LEN(kept); i++) {
		snprintf(name, sizeof name, "kept: %s", kept[i]);
		CHECK_STR(red(r, "t", CH_WEB, kept[i]), kept[i], name);
	}
	CHECK_STR(red(r, "t", CH_WEB, "Email jane@example.com."), "Email [EMAIL].", "trailing dot not in email");
	CHECK_STR(red(r, "t", CH_WEB, "4111 1111 1111 1111 5555 5555 5555 4444"), "[CREDIT_CARD] [CREDIT_CARD]",
	          "two cards in a row");
	red(r, "t", CH_WEB, "x jane@example.com y");
	CHECK(res.nfindings == 1 && res.findings[0].start == 2 && res.findings[0].end == 18,
	      "finding byte offsets");
	CHECK_STR(res.findings[0].rule, "email", "finding names its rule");
	CHECK(redact_run(r, "t", CH_WEB, "bad \xff utf8", 10, &res) == -1 && res.len == 0,
	      "invalid UTF-8 refused");
	const char *const *names;
	size_t n = redact_entities(r, &names);
	bool iban = false;
	for (size_t i = 0; i < n; i++)
		iban |= strcmp(names[i], "IBAN") == 0;
	bool person = false, address = false;
	for (size_t i = 0; i < n; i++) {
		person |= strcmp(names[i], "PERSON") == 0;
		address |= strcmp(names[i], "ADDRESS") == 0;
	}
	CHECK(n == 12 && iban && person && address, "twelve default entities listed");
	redact_free(r);
}

static void test_unicode(void)
{
	struct redact *r = engine(NULL);
	if (!r)
		return;
	/* full-width "０７７００ ９００１２３" and a no-break space inside */
	const char *fw = "tel \xef\xbc\x90\xef\xbc\x97\xef\xbc\x97\xef\xbc\x90\xef\xbc\x90 "
	                 "\xef\xbc\x99\xef\xbc\x90\xef\xbc\x90\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93!";
	CHECK_STR(red(r, "t", CH_WEB, fw), "tel [PHONE]!", "full-width digits");
	CHECK(res.nfindings == 1 && res.findings[0].start == 4 && res.findings[0].end == strlen(fw) - 1,
	      "full-width offsets are input bytes");
	CHECK_STR(red(r, "t", CH_WEB, "call 07700\xc2\xa0" "900123 now"), "call [PHONE] now",
	          "no-break space inside a number");
	CHECK_STR(red(r, "t", CH_WEB, "call 07700\xe2\x80\xaf" "900\xe2\x80\x93" "123"), "call [PHONE]",
	          "narrow no-break space and en dash");
	CHECK_STR(red(r, "t", CH_WEB, "caf\xc3\xa9 at 10:30 \xe2\x82\xac" "5"), "caf\xc3\xa9 at 10:30 \xe2\x82\xac" "5",
	          "other UTF-8 untouched");
	redact_free(r);
}

static void test_voice(void)
{
	struct redact *r = engine(NULL);
	if (!r)
		return;
	const char *p = "my number is oh seven seven double oh nine hundred one two three thanks";
	CHECK_STR(red(r, "t", CH_VOICE, p), "my number is [PHONE] thanks", "spoken phone on voice");
	CHECK_STR(red(r, "t", CH_WEB, p), p, "spoken phone not on web");
	const char *e = "it's jane dot doe at gmail dot com okay";
	CHECK_STR(red(r, "t", CH_VOICE, e), "it's [EMAIL] okay", "spoken email on voice");
	red(r, "t", CH_SMS, e);
	CHECK(!has_entity("EMAIL") && strstr(res.text, "dot doe at gmail dot com"), "spoken email not on sms");
	CHECK_STR(res.text, "it's [PERSON] dot doe at gmail dot com okay", "but jane after \"it's\" is a name");
	red(r, "t", CH_VOICE, "card number four one one one one one one one one one one one one one one one");
	CHECK(has_entity("CREDIT_CARD"), "spoken card with context");
	const char *ok = "see you at nine thirty, it was twenty five dollars in twenty twenty four";
	CHECK_STR(red(r, "t", CH_VOICE, ok), ok, "ordinary spoken numbers survive");
	/* a spoken phone links to the same subject as its written form */
	struct redact_subject s;
	red(r, "t", CH_VOICE, "plus four four seven seven double oh nine double oh one two three");
	CHECK(res.nsubjects == 1 && redact_subject_hash(r, SUBJECT_PHONE, "+44 7700 900123", 15, &s) == 0 &&
	      memcmp(s.hash, res.subjects[0].hash, sizeof s.hash) == 0, "spoken phone subject = written");
	redact_free(r);
}

static void test_subjects(void)
{
	struct redact *r = engine(NULL);
	if (!r)
		return;
	struct redact_subject a, b, c, d, e;
	CHECK(redact_subject_hash(r, SUBJECT_PHONE, "+44 7700 900123", 15, &a) == 0 &&
	      redact_subject_hash(r, SUBJECT_PHONE, "0044 7700-900123", 16, &b) == 0 &&
	      redact_subject_hash(r, SUBJECT_PHONE, "447700900123", 12, &c) == 0 &&
	      redact_subject_hash(r, SUBJECT_PHONE, "whatsapp:+447700900123", 22, &d) == 0,
	      "phone forms hash");
	CHECK(memcmp(a.hash, b.hash, 32) == 0 && memcmp(a.hash, c.hash, 32) == 0 &&
	      memcmp(a.hash, d.hash, 32) == 0, "+44 = 0044 = 44... = whatsapp:+44");
	CHECK(redact_subject_hash(r, SUBJECT_EMAIL, "Jane.Doe@Example.COM", 20, &e) == 0,
	      "email hash");
	red(r, "t", CH_WEB, "jane.doe@example.com, JANE.DOE@EXAMPLE.COM and +44 7700 900123 / 0044 7700 900123");
	CHECK(res.nsubjects == 2, "subjects deduplicated");
	bool found_e = false, found_p = false;
	for (size_t i = 0; i < res.nsubjects; i++) {
		found_e |= memcmp(res.subjects[i].hash, e.hash, 32) == 0;
		found_p |= memcmp(res.subjects[i].hash, a.hash, 32) == 0;
	}
	CHECK(found_e && found_p, "run subjects = query subjects");
	CHECK(redact_subject_hash(r, SUBJECT_EMAIL, "not-an-email", 12, &e) == -1, "non-email refused");
	CHECK(redact_subject_hash(r, SUBJECT_PHONE, "web-session-42a", 15, &e) == -1, "non-phone refused");
	red(r, "t", CH_WEB, "order ORD-123456 and 192.168.0.1");
	CHECK(res.nsubjects == 0, "no subject for other entities");
	redact_free(r);
}

static struct rule_conf rule(const char *name, unsigned set)
{
	struct rule_conf c = { 0 };
	c.name = (char *)name;
	c.set = set;
	c.enabled = true;
	c.keep = 4;
	c.priority = 50;
	c.file = (char *)"test.conf";
	c.line = 7;
	return c;
}

static void test_styles(void)
{
	struct rule_conf rules[4];
	rules[0] = rule("email", RULE_F_STYLE);
	rules[0].style = STYLE_HASH;
	rules[1] = rule("phone", RULE_F_STYLE | RULE_F_KEEP);
	rules[1].style = STYLE_PARTIAL;
	rules[2] = rule("credit_card", RULE_F_STYLE);
	rules[2].style = STYLE_MASK;
	rules[3] = rule("iban", RULE_F_STYLE);
	rules[3].style = STYLE_REMOVE;
	struct config cfg = { .rules = rules, .nrules = 4 };
	struct redact *r = engine(&cfg);
	CHECK(r != NULL, "engine with style overrides");
	if (!r)
		return;
	char a[64], b[64];
	snprintf(a, sizeof a, "%s", red(r, "t1", CH_WEB, "Jane@Example.com"));
	CHECK(strncmp(a, "[EMAIL:", 7) == 0 && strlen(a) == 16 && a[15] == ']', "hash style shape");
	snprintf(b, sizeof b, "%s", red(r, "t1", CH_WEB, "jane@example.com"));
	CHECK_STR(b, a, "hash stable within tenant, on the normalised value");
	snprintf(b, sizeof b, "%s", red(r, "t2", CH_WEB, "jane@example.com"));
	CHECK(strcmp(a, b) != 0, "hash differs across tenants");
	CHECK_STR(red(r, "t", CH_WEB, "call +44 7700 900123"), "call [PHONE \xe2\x80\xa6" "0123]", "partial style");
	CHECK_STR(red(r, "t", CH_WEB, "pay 4111-1111-1111-1111 now"), "pay **** now", "mask style");
	CHECK_STR(red(r, "t", CH_WEB, "to GB82WEST12345698765432!"), "to !", "remove style");
	CHECK_STR(red(r, "t", CH_WEB, "ORD-123456"), "[ORDER_ID]", "untouched rule keeps tag");
	redact_free(r);
}

static void test_tenants(void)
{
	struct rule_conf rules[4];
	rules[0] = rule("phone", RULE_F_ENABLED);
	rules[0].tenant = (char *)"quiet";
	rules[0].enabled = false;
	rules[1] = rule("shopify", RULE_F_PATTERN | RULE_F_ENTITY);
	rules[1].tenant = (char *)"shop";
	rules[1].pattern = (char *)"(?<![\\w#])#\\d{4,6}\\b";
	rules[1].entity = (char *)"ORDER_ID";
	rules[2] = rule("email", RULE_F_STYLE);
	rules[2].tenant = (char *)"shop";
	rules[2].style = STYLE_MASK;
	rules[3] = rule("ipv4", RULE_F_ENABLED);
	rules[3].enabled = false;
	struct tenant_conf tenants[1] = { { .name = (char *)"masked", .style = STYLE_MASK, .style_set = true } };
	struct config cfg = { .rules = rules, .nrules = 4, .tenants = tenants, .ntenants = 1 };
	struct redact *r = engine(&cfg);
	CHECK(r != NULL, "engine with tenant rules");
	if (!r)
		return;
	CHECK_STR(red(r, "quiet", CH_WEB, "call 07700 900123"), "call 07700 900123", "rule disabled for one tenant");
	CHECK_STR(red(r, "other", CH_WEB, "call 07700 900123"), "call [PHONE]", "other tenants keep it");
	CHECK_STR(red(r, "shop", CH_WEB, "about #1001 and a@example.com"), "about [ORDER_ID] and ****",
	          "tenant adds a rule and a style");
	CHECK_STR(red(r, "other", CH_WEB, "about #1001"), "about #1001", "tenant rule stays in its tenant");
	CHECK_STR(red(r, "masked", CH_WEB, "a@example.com"), "****", "tenant default style");
	CHECK_STR(red(r, "other", CH_WEB, "host 10.0.0.1"), "host 10.0.0.1", "rule disabled globally");
	redact_free(r);
}

static void test_overlaps(void)
{
	struct rule_conf rules[3];
	/* "ACCT-" accounts beat phones on priority; a longer match wins a tie */
	rules[0] = rule("account", RULE_F_PATTERN | RULE_F_ENTITY | RULE_F_PRIORITY);
	rules[0].pattern = (char *)"\\d{5} \\d{6}";
	rules[0].entity = (char *)"ACCOUNT";
	rules[0].priority = 70;
	rules[1] = rule("short", RULE_F_PATTERN | RULE_F_ENTITY | RULE_F_PRIORITY);
	rules[1].pattern = (char *)"ab";
	rules[1].entity = (char *)"SHORT";
	rules[1].priority = 10;
	rules[2] = rule("long", RULE_F_PATTERN | RULE_F_ENTITY | RULE_F_PRIORITY);
	rules[2].pattern = (char *)"abcd";
	rules[2].entity = (char *)"LONG";
	rules[2].priority = 10;
	struct config cfg = { .rules = rules, .nrules = 3 };
	struct redact *r = engine(&cfg);
	if (!r)
		return;
	CHECK_STR(red(r, "t", CH_WEB, "n 07700 900123"), "n [ACCOUNT]", "higher priority wins");
	CHECK_STR(red(r, "t", CH_WEB, "xabcdx"), "x[LONG]x", "longer wins at equal priority");
	CHECK_STR(red(r, "t", CH_WEB, "order ORD-123456 at 4111 1111 1111 1111"),
	          "order [ORDER_ID] at [CREDIT_CARD]", "no double redaction");
	redact_free(r);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_limits(void)
{
	struct rule_conf rules[2];
	rules[0] = rule("evil", RULE_F_PATTERN | RULE_F_ENTITY);
	rules[0].pattern = (char *)"(a+)+$";
	rules[0].entity = (char *)"EVIL";
	rules[1] = rule("evil2", RULE_F_PATTERN | RULE_F_ENTITY);
	rules[1].pattern = (char *)"(x+x+)+[yz]";
	rules[1].entity = (char *)"EVIL";
	struct config cfg = { .rules = rules, .nrules = 2 };
	struct redact *r = engine(&cfg);
	CHECK(r != NULL, "catastrophic pattern compiles");
	if (!r)
		return;
	static char text[200100];
	memcpy(text, "mail jane@example.com ", 22);
	memset(text + 22, 'a', 100000);
	memset(text + 100022, 'x', 100000);
	memcpy(text + 200022, "b", 2);
	double t0 = now();
	int rc = redact_run(r, "t", CH_WEB, text, strlen(text), &res);
	double dt = now() - t0;
	printf("# catastrophic patterns on 200 kB: %.3f s, %d limit errors\n", dt, res.limit_errors);
	CHECK(rc == 0 && res.limit_errors >= 1, "match limit hit and counted");
	CHECK(dt < 2.0, "returns promptly");
	CHECK(has_entity("EMAIL") && strncmp(res.text, "mail [EMAIL] ", 13) == 0,
	      "other rules still applied");
	redact_free(r);
}

static void test_errors(void)
{
	char err[512];
	struct rule_conf rules[1];
	rules[0] = rule("bad", RULE_F_PATTERN | RULE_F_ENTITY);
	rules[0].pattern = (char *)"ab(c";
	rules[0].entity = (char *)"X";
	struct config cfg = { .rules = rules, .nrules = 1 };
	struct redact *r = redact_new(&cfg, hkey, skey, err, sizeof err);
	CHECK(r == NULL, "bad pattern refused");
	printf("# %s\n", err);
	CHECK(strncmp(err, "test.conf:7: rule bad: ", 23) == 0 && strstr(err, "at offset 4"),
	      "error has file:line, rule, PCRE2 message and offset");
	rules[0] = rule("email", RULE_F_VALIDATOR);
	rules[0].validator = (char *)"bogus";
	r = redact_new(&cfg, hkey, skey, err, sizeof err);
	CHECK(r == NULL && strstr(err, "unknown validator bogus"), "unknown validator refused");
	rules[0] = rule("fresh", RULE_F_ENTITY);
	rules[0].entity = (char *)"X";
	r = redact_new(&cfg, hkey, skey, err, sizeof err);
	CHECK(r == NULL && strstr(err, "needs a pattern"), "new rule without pattern refused");
	redact_free(NULL);
	CHECK(1, "redact_free(NULL) is a no-op");
}

static void test_context(void)
{
	struct rule_conf rules[1];
	rules[0] = rule("member", RULE_F_PATTERN | RULE_F_ENTITY | RULE_F_CONTEXT | RULE_F_CONTEXT_REQUIRED);
	rules[0].pattern = (char *)"\\b\\d{6}\\b";
	rules[0].entity = (char *)"MEMBER_ID";
	char *words[] = { (char *)"member", (char *)"membership number" };
	rules[0].context = words;
	rules[0].ncontext = 2;
	rules[0].context_required = true;
	struct config cfg = { .rules = rules, .nrules = 1 };
	struct redact *r = engine(&cfg);
	if (!r)
		return;
	CHECK_STR(red(r, "t", CH_WEB, "Member: 123456"), "Member: [MEMBER_ID]", "context word present");
	CHECK_STR(red(r, "t", CH_WEB, "we have 123456 rows"), "we have 123456 rows", "no context, no match");
	CHECK_STR(red(r, "t", CH_WEB, "remember 123456"), "remember 123456", "context is a whole word");
	redact_free(r);
}

/* Random messages from an alphabet of number and address pieces: every run
 * succeeds, findings are ordered, disjoint, on character boundaries, and
 * the output is valid UTF-8. */
static void test_invariants(void)
{
	static const char *const pieces[] = {
		"0", "1", "7", "9", " ", ".", "-", "/", "(", ")", "+", "@", "#", ":", ",", "a", "x",
		"ORD", "GB", "com", "\xef\xbc\x90", "\xc2\xa0", "\xe2\x80\x93", "\xc3\xa9", "\xe2\x82\xac",
		" oh ", " seven ", " double ", " dot ", " at ", " plus ", " hundred ", "\"", "'",
	};
	struct redact *r = engine(NULL);
	if (!r)
		return;
	unsigned long long x = 88172645463325252ull;
	int bad = 0;
	char text[400];
	for (int k = 0; k < 3000 && !bad; k++) {
		size_t n = 0;
		for (int p = 0; p < 1 + k % 60; p++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			const char *pc = pieces[x % RD_ARRAY_LEN(pieces)];
			size_t pl = strlen(pc);
			if (n + pl >= sizeof text)
				break;
			memcpy(text + n, pc, pl);
			n += pl;
		}
		enum rd_channel ch = k % 2 ? CH_VOICE : CH_WEB;
		if (redact_run(r, "t", ch, text, n, &res)) { bad = 1; break; }
		size_t prev = 0;
		for (size_t i = 0; i < res.nfindings; i++) {
			const struct redact_finding *f = &res.findings[i];
			if (f->start < prev || f->end <= f->start || f->end > n ||
			    ((unsigned char)text[f->start] & 0xC0) == 0x80 ||
			    (f->end < n && ((unsigned char)text[f->end] & 0xC0) == 0x80))
				bad = 2;
			prev = f->end;
		}
		if (!util_utf8_valid(res.text, res.len) || strlen(res.text) != res.len)
			bad = 3;
	}
	CHECK(bad == 0, "3000 random messages: findings ordered, disjoint, on boundaries");
	redact_free(r);
}

struct thread_arg { const struct redact *r; int ok; };

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	struct redact_result mine = { 0 };
	a->ok = 1;
	for (int i = 0; i < 2000; i++) {
		if (redact_run(a->r, "t", i % 3 ? CH_WEB : CH_VOICE, "mail a@example.com, call +44 7700 900123",
		               41, &mine) ||
		    strcmp(mine.text, "mail [EMAIL], call [PHONE]") != 0 || mine.nsubjects != 2)
			a->ok = 0;
	}
	redact_result_free(&mine);
	return NULL;
}

/* One engine, four threads at once: scratch space is per thread. */
static void test_threads(void)
{
	struct redact *r = engine(NULL);
	if (!r)
		return;
	pthread_t th[4];
	struct thread_arg args[4];
	int started = 0, ok = 1;
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ r, 0 };
		if (pthread_create(&th[i], NULL, thread_main, &args[i]) == 0)
			started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		ok &= args[i].ok;
	}
	CHECK(started == 4 && ok, "four threads share one engine");
	redact_free(r);
}

/* ---- PERSON and ADDRESS (redact_names.c) ---------------------------- */

static const struct tcase names_caught[] = {
	{ "my name is John Smith, ship it", "PERSON" },
	{ "Hi, this is Maria Garcia from Acme.", "PERSON" },
	{ "Please ask for Priya Raghunathan at reception", "PERSON" },
	{ "Thanks, Srinivas", "PERSON" },                         /* no list holds it: the cue does */
	{ "Mr. Patel will call back", "PERSON" },
	{ "I spoke to Sarah yesterday", "PERSON" },
	{ "Je m'appelle Élodie Dubois", "PERSON" },
	{ "Me llamo José García", "PERSON" },
	{ "Ich heiße Jürgen Müller", "PERSON" },
	{ "Mi chiamo Giulia Rossi", "PERSON" },
	{ "Name: O'Brien-Smythe", "PERSON" },
	{ "221B Baker Street, London NW1 6XE", "ADDRESS" },
	{ "ship to 1600 Pennsylvania Avenue NW, Washington, DC 20500", "ADDRESS" },
	{ "Apt 4B, 350 5th Avenue, New York, NY 10118", "ADDRESS" },
	{ "12 rue de Rivoli, 75001 Paris", "ADDRESS" },
	{ "Hauptstraße 5, 10115 Berlin", "ADDRESS" },
	{ "Kalverstraat 12, 1012 AB Amsterdam", "ADDRESS" },
	{ "Via Roma 12, 00184 Roma", "ADDRESS" },
	{ "Calle Mayor 5, 28013 Madrid", "ADDRESS" },
	{ "P.O. Box 1234, Springfield, IL 62704", "ADDRESS" },
	{ "42 MG Road, Bengaluru 560001", "ADDRESS" },
	{ "Vesterbrogade 12, 1620 København V", "ADDRESS" },
};

static const char *const names_kept[] = {
	"Will you call me back? May I ask? Grace period ends in May.",
	"I bought the Apple Watch in Paris on Monday",
	"Thanks so much, that was really helpful!",
	"Customer Service said 3 days",
	"Room 12, floor 3, 45 minutes",
	"Gate 22 at Terminal 5",
	"Box 3 of 5 arrived",
	"It costs 12 dollars and 5 cents",
	"Mark the parcel as fragile",
	"i'm fine thanks, this is great",
};

static void test_names(void)
{
	struct redact *r = engine(NULL);
	if (!r)
		return;
	char name[200];
	for (size_t i = 0; i < RD_ARRAY_LEN(names_caught); i++) {
		red(r, "t", CH_WEB, names_caught[i].text);
		snprintf(name, sizeof name, "caught as %s: %s", names_caught[i].entity, names_caught[i].text);
		CHECK(has_entity(names_caught[i].entity), name);
	}
	for (size_t i = 0; i < RD_ARRAY_LEN(names_kept); i++) {
		snprintf(name, sizeof name, "kept: %s", names_kept[i]);
		CHECK_STR(red(r, "t", CH_WEB, names_kept[i]), names_kept[i], name);
	}
	CHECK_STR(red(r, "t", CH_WEB, "my name is John Smith, ship it to 221B Baker Street, London NW1 6XE"),
	          "my name is [PERSON], ship it to [ADDRESS]", "issue 14's example");
	CHECK(res.nfindings == 2 && res.findings[0].start == 11 && res.findings[0].end == 21 &&
	      res.findings[1].start == 34 && res.findings[1].end == 67, "spans as byte offsets");
	CHECK(res.nsubjects == 0, "names and addresses are never subjects");
	CHECK_STR(red(r, "t", CH_WEB, "Send the invoice to:\n221B Baker Street\nLondon\nNW1 6XE\nthanks"),
	          "Send the invoice to:\n[ADDRESS]\nthanks", "a multi-line address block");
	CHECK_STR(red(r, "t", CH_VOICE, "yeah hi my name is john smith and i live at 42 elm street"),
	          "yeah hi my name is [PERSON] and i live at [ADDRESS]", "lowercase speech after a cue");
	CHECK_STR(red(r, "t", CH_VOICE, "john smith called"), "john smith called", "speech without a cue");
	CHECK_STR(red(r, "t", CH_WEB, "John Smith <john.smith@example.com>"), "[PERSON] <[EMAIL]>",
	          "name beside an email");
	CHECK_STR(red(r, "t", CH_WEB, "Name: Jane jane.doe@example.com"), "Name: [PERSON] [EMAIL]", "email wins");
	CHECK_STR(red(r, "t", CH_WEB, "Ms Jane 07700 900123"), "Ms [PERSON] [PHONE]", "phone stays a phone");
	CHECK_STR(red(r, "t", CH_WEB, "Baker Street 4111 1111 1111 1111"), "Baker Street [CREDIT_CARD]",
	          "a card beats the address it overlaps");
	CHECK_STR(red(r, "t", CH_WEB, "Mr Smith GB82 WEST 1234 5698 7654 32"), "Mr [PERSON] [IBAN]",
	          "an IBAN after a name stays an IBAN");
	redact_free(r);
}

static void test_names_config(void)
{
	struct rule_conf rules[4];
	char *allow[] = { (char *)"Sarah", (char *)"alexa" };
	rules[0] = rule("person", RULE_F_ALLOW);
	rules[0].tenant = (char *)"shop";
	rules[0].allow = allow;
	rules[0].nallow = 2;
	rules[1] = rule("person", RULE_F_STYLE);
	rules[1].tenant = (char *)"hashed";
	rules[1].style = STYLE_HASH;
	rules[2] = rule("address", RULE_F_ENABLED);
	rules[2].tenant = (char *)"quiet";
	rules[2].enabled = false;
	rules[3] = rule("person", RULE_F_CHANNELS);
	rules[3].tenant = (char *)"quiet";
	rules[3].channels = 1u << CH_VOICE;
	struct config cfg = { .rules = rules, .nrules = 4 };
	struct redact *r = engine(&cfg);
	CHECK(r != NULL, "engine with person and address settings");
	if (!r)
		return;
	CHECK_STR(red(r, "shop", CH_WEB, "I spoke to Sarah and to John"), "I spoke to Sarah and to [PERSON]",
	          "allowlist per tenant (agent name)");
	CHECK_STR(red(r, "other", CH_WEB, "I spoke to Sarah"), "I spoke to [PERSON]", "allowlist stays in its tenant");
	const char *h1 = red(r, "hashed", CH_WEB, "my name is John Smith");
	char first[64];
	snprintf(first, sizeof first, "%s", h1);
	CHECK(strncmp(first, "my name is [PERSON:", 19) == 0, "hash style on names");
	CHECK_STR(red(r, "hashed", CH_WEB, "My name is JOHN SMITH") + 11, first + 11,
	          "the same name hashes the same whatever its case");
	CHECK_STR(red(r, "quiet", CH_WEB, "ship to 221B Baker Street, London NW1 6XE"),
	          "ship to 221B Baker Street, London NW1 6XE", "address off for one tenant");
	CHECK_STR(red(r, "quiet", CH_WEB, "my name is John Smith"), "my name is John Smith", "person on voice only");
	CHECK_STR(red(r, "quiet", CH_VOICE, "my name is john smith"), "my name is [PERSON]", "... and on voice");
	redact_free(r);
}

int main(void)
{
	test_defaults();
	test_unicode();
	test_voice();
	test_subjects();
	test_styles();
	test_tenants();
	test_overlaps();
	test_limits();
	test_errors();
	test_context();
	test_invariants();
	test_threads();
	test_names();
	test_names_config();
	redact_result_free(&res);
	return TEST_DONE();
}
