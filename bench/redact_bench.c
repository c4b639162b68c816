/*
 * redact_bench.c — single-thread throughput of the redaction engine with
 * every default rule, on a generated chat corpus.
 *
 *   redact_bench [-s MB] [-o corpus.txt] [-r repeats] [-p chat|dense] [-d density%] [-c channel]
 *                [-x rule,rule (disabled) | -k rule,rule (only these)]
 *
 * The corpus is deterministic (a fixed-seed xorshift generator): the same
 * bytes on every run and machine, one chat message per line, in the mix a
 * support bot sees: mostly prose, with emails, phone numbers in several
 * national formats, order ids, cards, IBANs, IPs, and the dates, times,
 * prices and versions that must survive; `-p dense` makes every message
 * one short line and one in three carry an identifier. `-o` writes it out so that the npm
 * redactors can be timed on exactly the same bytes (bench/redact.sh).
 * Each message is redacted on its own, as the daemon does; the best of the
 * repeats is reported, in MB/s of input.
 */
#include "redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* From src/redact_int.h (not a public header): the gazetteer's size. */
size_t redact_names_memory(size_t *entries);

static long maxrss_kb(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

#define PICK(a) (a[rnd((unsigned)(sizeof(a) / sizeof(a[0])))])

static const char *const prose[] = {
	"Hi, I need some help with my account please.",
	"Thanks so much, that was really helpful!",
	"Can you tell me when the parcel will arrive? It has been a while.",
	"I tried logging in again but the page keeps spinning.",
	"Could you check whether the refund went through yesterday?",
	"No worries, I will wait for the email confirmation then.",
	"The app crashed twice this morning when I opened the settings screen.",
	"Is there a way to change the delivery address after checkout?",
	"Great, have a nice day and thanks for the quick answer.",
	"I would like to cancel my subscription at the end of the month.",
	"Our team is looking into it and will get back to you shortly.",
	"Sorry for the delay, we are experiencing a high volume of requests.",
	"Perfect, that works for me.",
	"Which plan includes priority support and the extra storage?",
};
/* The dense profile's messages: one short line each, as people type in a
 * chat window. */
static const char *const short_prose[] = {
	"Hi, I need some help with my account.",
	"Thanks, that was really helpful!",
	"When will my parcel arrive, roughly?",
	"The page keeps spinning after login.",
	"Did the refund go through yesterday?",
	"OK, I will wait for the confirmation.",
	"The app crashed again this morning.",
	"Can I change the delivery address?",
	"Great, thanks for the quick answer.",
	"Please cancel my subscription.",
	"We are looking into it right now.",
	"Sorry for the delay on our side.",
	"Perfect, that works for me.",
	"Which plan has priority support?",
	"Still waiting on this one, any news?",
	"Hello? Is anyone there?",
};
static const char *const names[] = { "jane", "john.smith", "m.rossi", "anna-lena", "oconnor", "li.wei", "s.kumar" };
static const char *const domains[] = { "example.com", "mail.example.co.uk", "example.org", "gmail.com", "posteo.de" };
static const char *const phones[] = {
	"+44 7700 900123", "07700 900456", "020 7946 0958", "(415) 555-2671", "+1 415-555-0134",
	"333 123 4567", "+39 06 1234 5678", "01 23 45 67 89", "+33 6 12 34 56 78", "030 12345678",
	"+49 30 1234 5678", "612 34 56 78", "+91 98765 43210", "0412 345 678", "(11) 91234-5678",
};
static const char *const keep[] = {
	"on 12/05/2024", "at 10:30", "for \302\2431,299.99", "about 1.299,00 \xe2\x82\xac", "version 2.4.1",
	"between 2019-2024", "in 3 days", "for 2 people", "around 15:45", "since 03.11.2025",
	"costing $49.99", "room 12", "in 2026",
};

static void append(char **p, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 1 > *cap) {
		*cap = (*cap + n + 1) * 2;
		if (!(*p = realloc(*p, *cap))) { perror("realloc"); exit(1); }
	}
	memcpy(*p + *len, s, n + 1);
	*len += n;
}

/* One message: one to three sentences of prose; about one in four carries
 * a number or an address: 4% email, 4% phone, 2% order number, 1% IP,
 * 0.5% card, 0.5% IBAN, 12% dates, times, prices and versions. */
static unsigned density = 100;   /* -d: percent of the default mix of items */
/* -p dense: one short sentence a message (~60 bytes with its item) and,
 * unless -d says otherwise, density 278: one message in three carries an
 * identifier (and one in three a date, time, price or version that must
 * survive). Issue 16's dense text, where what each message and each
 * finding costs, whatever its length, dominates. */
static bool dense;
#define DENSE_DENSITY 278

static void message(char **p, size_t *len, size_t *cap)
{
	char b[256];
	unsigned sentences = dense ? 1 : 1 + rnd(3), k = rnd(1000) * 100 / density;
	for (unsigned i = 0; i < sentences; i++) {
		append(p, len, cap, i ? " " : "");
		append(p, len, cap, dense ? PICK(short_prose) : PICK(prose));
	}
	b[0] = '\0';
	if (k < 40)
		snprintf(b, sizeof b, " My email is %s@%s.", PICK(names), PICK(domains));
	else if (k < 80)
		snprintf(b, sizeof b, " You can call me on %s.", PICK(phones));
	else if (k < 100)
		snprintf(b, sizeof b, " It is about order #%u.", 100000 + rnd(900000));
	else if (k < 110)
		snprintf(b, sizeof b, " The error came from 192.168.%u.%u.", rnd(256), rnd(256));
	else if (k < 115)
		snprintf(b, sizeof b, " I paid %s with 4111 1111 1111 1111.", PICK(keep));
	else if (k < 120)
		snprintf(b, sizeof b, " Please refund to GB82 WEST 1234 5698 7654 32.");
	else if (k < 240)
		snprintf(b, sizeof b, " It happened %s, %s.", PICK(keep), PICK(keep));
	append(p, len, cap, b);
	append(p, len, cap, "\n");
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static enum rd_channel channel = CH_WEB;   /* -c voice: also the spoken rules */

/* -x a,b: disable these built-in rules; -k a,b: disable all others (for
 * what one stage costs alone). */
static const char *const builtin_names[] = {
	"email", "credit_card", "iban", "ipv4", "ipv6", "order_id", "order_number", "phone",
	"voice_card", "voice_email", "voice_phone", "address", "person",
	"card_security", "national_id", "passport", "date_of_birth",
};

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && strncmp(p, name, n) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static struct rule_conf bench_rules[sizeof builtin_names / sizeof builtin_names[0]];

static struct config *bench_config(struct config *cfg, const char *off, const char *only)
{
	if (!off && !only)
		return NULL;
	memset(cfg, 0, sizeof *cfg);
	cfg->rules = bench_rules;
	for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++) {
		if (!(off ? listed(off, builtin_names[i]) : !listed(only, builtin_names[i])))
			continue;
		bench_rules[cfg->nrules++] = (struct rule_conf){ .name = (char *)builtin_names[i],
		                                                 .set = RULE_F_ENABLED, .enabled = false };
	}
	return cfg;
}

static int run_once(const struct redact *r, const char *c, size_t len, struct redact_result *res,
                    size_t *findings)
{
	*findings = 0;
	for (const char *p = c, *end = c + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (redact_run(r, "default", channel, p, n, res))
			return -1;
		*findings += res->nfindings;
		p += n + 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t mb = 20;
	int repeats = 5;
	const char *out = NULL, *off = NULL, *only = NULL;
	bool density_set = false;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-s") == 0) mb = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-o") == 0) out = argv[i + 1];
		else if (strcmp(argv[i], "-r") == 0) repeats = (int)strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-x") == 0) off = argv[i + 1];
		else if (strcmp(argv[i], "-k") == 0) only = argv[i + 1];
		else if (strcmp(argv[i], "-d") == 0) {
			density = (unsigned)strtoul(argv[i + 1], NULL, 10);
			density_set = true;
		} else if (strcmp(argv[i], "-p") == 0 && strcmp(argv[i + 1], "dense") == 0) {
			dense = true;
		} else if (strcmp(argv[i], "-p") == 0 && strcmp(argv[i + 1], "chat") != 0) {
			fprintf(stderr, "unknown profile (chat, dense)\n");
			return 2;
		} else if (strcmp(argv[i], "-c") == 0 && rd_channel_parse(argv[i + 1], &channel)) {
			fprintf(stderr, "unknown channel\n");
			return 2;
		}
	}
	if (dense && !density_set)
		density = DENSE_DENSITY;
	if (density == 0) {
		fprintf(stderr, "-d: a density above 0\n");
		return 2;
	}
	char *c = NULL;
	size_t len = 0, cap = 0, msgs = 0;
	for (; len < mb * 1000 * 1000; msgs++)
		message(&c, &len, &cap);
	if (out) {
		FILE *f = fopen(out, "wb");
		if (!f || fwrite(c, 1, len, f) != len || fclose(f)) { perror(out); return 1; }
	}
	unsigned char key[32] = { 1 };
	char err[512];
	struct config cfg;
	long rss0 = maxrss_kb();
	double b0 = now_s();
	struct redact *r = redact_new(bench_config(&cfg, off, only), key, key, err, sizeof err);
	if (!r) { fprintf(stderr, "%s\n", err); return 1; }
	size_t words, bytes = redact_names_memory(&words);
	fprintf(stderr, "engine build %.3f s; name gazetteer %zu words, %.1f MB of tables; peak RSS +%ld kB\n",
	        now_s() - b0, words, (double)bytes / 1e6, maxrss_kb() - rss0);
	struct redact_result res = { 0 };
	double best = 1e9;
	size_t findings = 0;
	for (int k = 0; k < repeats; k++) {
		double t0 = now_s();
		if (run_once(r, c, len, &res, &findings)) { fprintf(stderr, "redact_run failed\n"); return 1; }
		double t = now_s() - t0;
		if (t < best) best = t;
	}
	printf("redactd (%s%s): %.1f MB corpus, %zu messages of %.0f B, %zu findings, best of %d: %.3f s, %.1f MB/s\n",
	       rd_channel_name(channel), dense ? ", dense" : "", (double)len / 1e6, msgs, (double)len / (double)msgs,
	       findings, repeats, best, (double)len / 1e6 / best);
	redact_result_free(&res);
	redact_free(r);
	free(c);
	return 0;
}
