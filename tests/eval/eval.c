/*
 * eval.c — accuracy of the redaction engine on the labelled corpus, and on
 * the public reference sets in ../shared/data when they are present.
 *
 *   eval [-v] [-P] [-d DATA_DIR] [-p PEERS_TSV] CORPUS_TSV
 *
 * The rule, for redactd and for the npm peers alike:
 *   recall         a positive's value is gone from the output AND a finding
 *                  (for the peers: the replacement token) of the right entity
 *                  covers it;
 *   negatives kept a negative's value comes out unchanged and no finding
 *                  touches it.
 * Rows are per entity and form (written, or spoken on the voice channel).
 * -p adds the peers' figures (written by peers.mjs) side by side. -v lists
 * every miss. Exit status 1 if a target of issue 3 is missed on the corpus.
 * -P: CORPUS_TSV holds the public sets (public_sets.py): issue 15's
 * targets, and a missed one is reported but does not fail.
 */
#include "redact.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 40
#define NPEERS 3

struct score { unsigned pos, hit, neg, kept, full; };

struct row {
	char key[48];                 /* "PHONE/written" */
	struct score us, peer[NPEERS];
	bool peer_has[NPEERS];
};

static struct row rows[MAX_ROWS];
static size_t nrows;
static const char *peer_names[NPEERS] = { "redact-pii", "@redactpii/node", "openredaction" };
static bool verbose, have_peers;
static struct redact_result res;

static struct row *row_for(const char *entity, const char *form)
{
	char key[48];
	snprintf(key, sizeof key, "%s/%s", entity, form);
	for (size_t i = 0; i < nrows; i++)
		if (strcmp(rows[i].key, key) == 0)
			return &rows[i];
	if (nrows == MAX_ROWS) {
		fprintf(stderr, "too many rows\n");
		exit(2);
	}
	snprintf(rows[nrows].key, sizeof rows[nrows].key, "%s", key);
	return &rows[nrows++];
}

static bool finding_covers(const char *entity, size_t s, size_t e)
{
	for (size_t i = 0; i < res.nfindings; i++) {
		const struct redact_finding *f = &res.findings[i];
		if (f->start < e && f->end > s && (!entity || strcmp(f->entity, entity) == 0))
			return true;
	}
	return false;
}

/* Is every byte of [s, e) inside a finding of the entity? (A stricter view
 * than recall for multi-word values: "John [PERSON]" passes recall.) */
static bool findings_cover_all(const char *entity, size_t s, size_t e)
{
	for (size_t i = s; i < e;) {
		size_t next = i;
		for (size_t k = 0; k < res.nfindings; k++) {
			const struct redact_finding *f = &res.findings[k];
			if (f->start <= i && f->end > i && strcmp(f->entity, entity) == 0 && f->end > next)
				next = f->end;
		}
		if (next == i)
			return false;
		i = next;
	}
	return true;
}

/* Scores one case; returns true if it passed. */
static bool score_case(const struct redact *r, bool positive, enum rd_channel ch, const char *entity,
                       const char *value, const char *text, struct score *sc)
{
	if (redact_run(r, "eval", ch, text, strlen(text), &res)) {
		fprintf(stderr, "redact_run failed on: %s\n", text);
		return false;
	}
	const char *at = strstr(text, value);
	size_t s = at ? (size_t)(at - text) : 0, e = s + strlen(value);
	bool ok;
	if (positive) {
		ok = !strstr(res.text, value) && finding_covers(entity, s, e);
		sc->pos++;
		sc->hit += ok;
		sc->full += ok && findings_cover_all(entity, s, e);
	} else {
		ok = strstr(res.text, value) && !finding_covers(NULL, s, e);
		sc->neg++;
		sc->kept += ok;
	}
	if (!ok && verbose)
		printf("  MISS %s %s: %s  ->  %s\n", positive ? "pos" : "neg", entity, text, res.text);
	return ok;
}

static char *field(char **p)
{
	char *s = *p, *t = s ? strchr(s, '\t') : NULL;
	if (t) {
		*t = '\0';
		*p = t + 1;
	} else {
		*p = NULL;
	}
	return s;
}

/* The corpus writes a newline inside a value or text as the two
 * characters \\n (a TSV line holds one case). */
static void unescape_nl(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*o++ = '\n';
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static int run_corpus(const struct redact *r, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		char *p = line;
		char *kind = field(&p), *chan = field(&p), *entity = field(&p), *form = field(&p);
		char *value = field(&p), *text = field(&p);
		enum rd_channel ch;
		if (!text || rd_channel_parse(chan, &ch)) {
			fprintf(stderr, "bad corpus line\n");
			continue;
		}
		unescape_nl(value);
		unescape_nl(text);
		score_case(r, strcmp(kind, "pos") == 0, ch, entity, value, text, &row_for(entity, form)->us);
	}
	fclose(f);
	return 0;
}

/* peers.mjs output: peer \t key \t pos \t hit \t neg \t kept \t has_entity */
static void read_peers(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[512], peer[64], key[48];
	unsigned pos, hit, neg, kept, has;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%63[^\t]\t%47[^\t]\t%u\t%u\t%u\t%u\t%u", peer, key, &pos, &hit, &neg, &kept, &has) != 7)
			continue;
		for (int k = 0; k < NPEERS; k++) {
			if (strcmp(peer, peer_names[k]) != 0)
				continue;
			char *slash = strchr(key, '/');
			if (!slash)
				continue;
			*slash = '\0';
			struct row *rw = row_for(key, slash + 1);
			rw->peer[k] = (struct score){ pos, hit, neg, kept, 0 };
			rw->peer_has[k] = has != 0;
			have_peers = true;
		}
	}
	fclose(f);
}

static void ratio(char *out, size_t n, unsigned a, unsigned b, bool applicable)
{
	if (!b)
		snprintf(out, n, "%s", "-");
	else if (!applicable)
		snprintf(out, n, "%s", "n/a");
	else
		snprintf(out, n, "%.3f", (double)a / b);
}

/* Targets per row (issue 3 for the identifiers, issue 14 for names and
 * addresses); the first matching prefix wins. */
struct target {
	const char *key;
	double recall, kept;
};
static const struct target corpus_targets[] = {
	{ "PERSON/written", 0.90, 0.99 }, { "PERSON/spoken", 0.85, 0.99 },
	{ "ADDRESS/written", 0.90, 0.99 }, { "ADDRESS/spoken", 0.85, 0.99 },
	{ "/spoken", 0.90, 0.95 }, { "/written", 0.98, 0.98 }, { "", 0.98, 0.98 },
};
/* -P (public sets, issue 15): 0.98 per written entity, 0.95 per spoken
 * one, dates and ordinary numbers kept 0.99. Names and addresses are
 * shown, not held to a target (issue 14 set theirs on its own corpus). */
static const struct target public_targets[] = {
	{ "DATE/", 0, 0.99 }, { "NUMBER/", 0, 0.99 }, { "PERSON/", 0, 0 }, { "ADDRESS/", 0, 0 },
	{ "/call", 0.95, 0.95 }, { "", 0.98, 0.98 },
};
static bool public_mode;

static const struct target *target_for(const char *key)
{
	const struct target *t = public_mode ? public_targets : corpus_targets;
	size_t n = public_mode ? RD_ARRAY_LEN(public_targets) : RD_ARRAY_LEN(corpus_targets);
	for (size_t i = 0; i < n; i++)
		if (strstr(key, t[i].key))
			return &t[i];
	return &t[n - 1];
}

/* Prints the table; returns the number of targets missed. */
static int print_table(void)
{
	int missed = 0;
	printf("\n%-24s %5s %7s %5s %7s %6s", "entity/form", "pos", "recall", "neg", "kept", "whole");
	if (have_peers)
		for (int k = 0; k < NPEERS; k++)
			printf(" | %15s %7s", peer_names[k], "kept");
	printf("\n");
	for (size_t i = 0; i < nrows; i++) {
		const struct row *rw = &rows[i];
		char rec[16], kept[16], whole[16];
		ratio(rec, sizeof rec, rw->us.hit, rw->us.pos, true);
		ratio(kept, sizeof kept, rw->us.kept, rw->us.neg, true);
		ratio(whole, sizeof whole, rw->us.full, rw->us.pos, true);
		printf("%-24s %5u %7s %5u %7s %6s", rw->key, rw->us.pos, rec, rw->us.neg, kept, whole);
		if (have_peers) {
			for (int k = 0; k < NPEERS; k++) {
				ratio(rec, sizeof rec, rw->peer[k].hit, rw->peer[k].pos, rw->peer_has[k]);
				ratio(kept, sizeof kept, rw->peer[k].kept, rw->peer[k].neg, true);
				printf(" | %15s %7s", rec, kept);
			}
		}
		const struct target *tg = target_for(rw->key);
		double rt = tg->recall, kt = tg->kept;
		bool miss = (rw->us.pos && (double)rw->us.hit / rw->us.pos < rt) ||
		            (rw->us.neg && (double)rw->us.kept / rw->us.neg < kt);
		missed += miss;
		printf("%s\n", miss ? "  << below target" : "");
	}
	return missed;
}

/* ---- reference sets (../shared/data) -------------------------------- */

static struct score ref;

/* Scores value embedded as "PREFIX value SUFFIX" (tmpl is "PREFIX|SUFFIX"). */
static void ref_case(const struct redact *r, bool positive, const char *entity, const char *value,
                     const char *tmpl)
{
	char text[1024];
	const char *bar = strchr(tmpl, '|');
	if (!value || strlen(value) > 600 || !bar)
		return;
	snprintf(text, sizeof text, "%.*s%s%s", (int)(bar - tmpl), tmpl, value, bar + 1);
	score_case(r, positive, CH_WEB, entity, value, text, &ref);
}

static void ref_print(const char *name)
{
	char a[16], b[16];
	ratio(a, sizeof a, ref.hit, ref.pos, true);
	ratio(b, sizeof b, ref.kept, ref.neg, true);
	printf("%-44s %5u %7s %5u %7s\n", name, ref.pos, a, ref.neg, b);
	memset(&ref, 0, sizeof ref);
}

static json_t *load(const char *dir, const char *file)
{
	char path[1024];
	json_error_t je;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	json_t *j = json_load_file(path, JSON_ALLOW_NUL, &je);
	if (!j)
		printf("  (%s: %s)\n", file, je.text);
	return j;
}

static void ref_phones(const struct redact *r, const char *dir)
{
	json_t *j = load(dir, "libphonenumber_phone_examples.json"), *row, *c;
	size_t i;
	if (!j)
		return;
	json_array_foreach(json_object_get(json_object_get(j, "example_numbers"), "rows"), i, row) {
		if (!json_is_true(json_object_get(row, "valid_per_npm_lib")))
			continue;
		ref_case(r, true, "PHONE", json_string_value(json_object_get(row, "e164")), "ok | please");
		ref_case(r, true, "PHONE", json_string_value(json_object_get(row, "international")), "ok | please");
	}
	ref_print("libphonenumber examples, E.164 + international");
	json_array_foreach(json_object_get(json_object_get(j, "example_numbers"), "rows"), i, row) {
		const char *nat = json_string_value(json_object_get(row, "national"));
		if (json_is_true(json_object_get(row, "valid_per_npm_lib")) && nat)
			ref_case(r, true, "PHONE", nat, "ok | please");
	}
	ref_print("libphonenumber examples, national form");
	json_t *imp = json_object_get(json_object_get(json_object_get(j, "matcher_leniency_cases"), "groups"),
	                              "IMPOSSIBLE_CASES");
	json_array_foreach(imp, i, c)
		ref_case(r, false, "PHONE", json_string_value(json_object_get(c, "text")), "see |");
	ref_print("libphonenumber IMPOSSIBLE_CASES (negatives)");
	json_decref(j);
}

static void ref_emails(const struct redact *r, const char *dir)
{
	json_t *j = load(dir, "isemail_email_address_tests.json"), *set, *c;
	const char *k;
	size_t i;
	if (!j)
		return;
	json_object_foreach(json_object_get(j, "sets"), k, set) {
		json_array_foreach(json_object_get(set, "cases"), i, c) {
			const char *cat = json_string_value(json_object_get(c, "category"));
			const char *a = json_string_value(json_object_get(c, "address"));
			if (!cat || !a || !*a || strchr(a, '\n') || strchr(a, '\r'))
				continue;
			if (strcmp(cat, "ISEMAIL_VALID_CATEGORY") == 0 || strcmp(cat, "ISEMAIL_DNSWARN") == 0)
				ref_case(r, true, "EMAIL", a, "mail | now");
		}
	}
	ref_print("isemail VALID + DNSWARN addresses");
	json_decref(j);
}

static void ref_cards(const struct redact *r, const char *dir)
{
	json_t *j = load(dir, "credit_card_test_numbers.json"), *src, *c;
	size_t i, k;
	if (!j)
		return;
	json_array_foreach(json_object_get(j, "sources"), k, src) {
		json_array_foreach(json_object_get(src, "cases"), i, c) {
			const char *num = json_string_value(json_object_get(c, "number"));
			if (!num)
				num = json_string_value(json_object_get(c, "input"));
			json_t *v = json_object_get(c, "expected_isValid");
			json_t *l = json_object_get(c, "computed_luhn_valid");
			if (!num || strlen(num) < 12)
				continue;
			/* no card word before the number: after one, any 12-19
			 * digits are a card (issue 15), and this set is about the
			 * brand tables and Luhn */
			if (json_is_true(v) || (!v && json_is_true(l)))
				ref_case(r, true, "CREDIT_CARD", num, "number | please");
			else if (json_is_false(l))
				ref_case(r, false, "CREDIT_CARD", num, "number | please");
		}
	}
	ref_print("card test numbers (valid / Luhn-failing)");
	json_decref(j);
}

static void ref_ibans(const struct redact *r, const char *dir)
{
	json_t *j = load(dir, "php_iban_examples.json"), *c;
	size_t i;
	if (!j)
		return;
	json_array_foreach(json_object_get(json_object_get(j, "registry_examples"), "rows"), i, c)
		ref_case(r, true, "IBAN", json_string_value(json_object_get(c, "iban_example")), "IBAN: | thanks");
	ref_print("IBAN registry examples");
	json_array_foreach(json_object_get(json_object_get(j, "example_ibans"), "rows"), i, c) {
		char v[128];
		const char *t = json_string_value(json_object_get(c, "text"));
		if (!t)
			continue;
		snprintf(v, sizeof v, "%s", t);
		v[strcspn(v, "\r\n")] = '\0';
		size_t n = strlen(v);
		while (n && v[n - 1] == ' ')
			v[--n] = '\0';
		ref_case(r, true, "IBAN", v, "pay to | thanks");
	}
	ref_print("php-iban human-formatted IBANs");
	json_decref(j);
}

static void ref_presidio(const struct redact *r, const char *dir)
{
	static const char *const map[][2] = {
		{ "EMAIL_ADDRESS", "EMAIL" }, { "PHONE_NUMBER", "PHONE" }, { "CREDIT_CARD", "CREDIT_CARD" },
		{ "IBAN_CODE", "IBAN" }, { "IP_ADDRESS", "IP_ADDRESS" },
	};
	json_t *j = load(dir, "presidio_recognizer_tests.json"), *c, *sub;
	size_t i, k;
	if (!j)
		return;
	for (size_t m = 0; m < RD_ARRAY_LEN(map); m++) {
		json_array_foreach(json_object_get(j, "cases"), i, c) {
			const char *ent = json_string_value(json_object_get(c, "entity"));
			const char *text = json_string_value(json_object_get(c, "text"));
			const char *kind = json_string_value(json_object_get(c, "kind"));
			if (!ent || !text || strcmp(ent, map[m][0]) != 0 || !kind || strcmp(kind, "analyze") != 0)
				continue;
			json_t *subs = json_object_get(c, "expected_substrings");
			if (json_integer_value(json_object_get(c, "expected_count")) == 0) {
				score_case(r, false, CH_WEB, map[m][1], text, text, &ref);
				continue;
			}
			json_array_foreach(subs, k, sub)
				score_case(r, true, CH_WEB, map[m][1], json_string_value(sub), text, &ref);
		}
		char name[64];
		snprintf(name, sizeof name, "presidio %s", map[m][0]);
		ref_print(name);
	}
	json_decref(j);
}

/* Presidio has no PERSON or street-address recogniser tests; its UK_POSTCODE
 * and DE_PLZ cases are bare postcodes (a weak 0.1 score in Presidio). The
 * ADDRESS rule takes a postcode only next to a street line, so this shows
 * what it leaves: reported, not a target. */
static void ref_presidio_postcodes(const struct redact *r, const char *dir)
{
	json_t *j = load(dir, "presidio_recognizer_tests.json"), *c, *sub;
	size_t i, k;
	if (!j)
		return;
	json_array_foreach(json_object_get(j, "cases"), i, c) {
		const char *ent = json_string_value(json_object_get(c, "entity"));
		const char *text = json_string_value(json_object_get(c, "text"));
		if (!ent || !text || (strcmp(ent, "UK_POSTCODE") != 0 && strcmp(ent, "DE_PLZ") != 0))
			continue;
		json_t *subs = json_object_get(c, "expected_substrings");
		if (!json_array_size(subs)) {
			score_case(r, false, CH_WEB, "ADDRESS", text, text, &ref);
			continue;
		}
		json_array_foreach(subs, k, sub)
			score_case(r, true, CH_WEB, "ADDRESS", json_string_value(sub), text, &ref);
	}
	ref_print("presidio UK_POSTCODE + DE_PLZ as ADDRESS");
	json_decref(j);
}

static void run_reference(const struct redact *r, const char *dir)
{
	printf("\nreference sets in %s (same rule)\n", dir);
	printf("%-44s %5s %7s %5s %7s\n", "set", "pos", "recall", "neg", "kept");
	ref_phones(r, dir);
	ref_emails(r, dir);
	ref_cards(r, dir);
	ref_ibans(r, dir);
	ref_presidio(r, dir);
	ref_presidio_postcodes(r, dir);
}

int main(int argc, char **argv)
{
	const char *data = NULL, *peers = NULL, *corpus = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0) verbose = true;
		else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) data = argv[++i];
		else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) peers = argv[++i];
		else if (strcmp(argv[i], "-P") == 0) public_mode = true;
		else corpus = argv[i];
	}
	if (!corpus) {
		fprintf(stderr, "usage: eval [-v] [-P] [-d DATA_DIR] [-p PEERS_TSV] CORPUS_TSV\n");
		return 2;
	}
	unsigned char key[32] = { 7 };
	char err[512];
	struct redact *r = redact_new(NULL, key, key, err, sizeof err);
	if (!r) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (run_corpus(r, corpus))
		return 2;
	if (peers)
		read_peers(peers);
	if (public_mode)
		printf("public sets %s (issue 15 targets: recall >= 0.98 written, 0.95 on calls; DATE and NUMBER\n"
		       "kept >= 0.99; PERSON and ADDRESS shown without a target)", corpus);
	else
		printf("corpus %s (targets: written recall/kept >= 0.98, spoken >= 0.90/0.95; PERSON, ADDRESS:\n"
		       "recall >= 0.90 written, 0.85 spoken, kept >= 0.99; `whole`: every byte of the value redacted)", corpus);
	int missed = print_table();
	if (data)
		run_reference(r, data);
	redact_result_free(&res);
	redact_free(r);
	if (public_mode) {
		/* reported, never a failure: the sets are not always present */
		printf("\n%d target(s) missed on the public sets\n", missed);
		return 0;
	}
	printf("\n%d target(s) missed on the corpus\n", missed);
	return missed ? 1 : 0;
}
