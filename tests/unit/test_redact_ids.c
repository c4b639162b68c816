/*
 * test_redact_ids.c — issue 15: identifiers as people really write and say
 * them. One check per class of the issue, caught and kept side by side:
 * Nordic and Baltic groupings after a phone word, North-American shapes,
 * glued labels and lists; every card brand and length, a card word before
 * a Luhn-failing number, CARD_SECURITY; numerals, spelled emails, fillers
 * and corrections on calls; Arabic-Indic and Devanagari digits; national
 * identifiers with their checksums, passports and dates of birth.
 */
#include "harness.h"
#include "redact.h"

#include <stdio.h>
#include <string.h>

static const unsigned char hkey[32] = { 1, 2, 3 };
static const unsigned char skey[32] = { 9, 8, 7 };
static struct redact_result res;

static const char *red(const struct redact *r, enum rd_channel ch, const char *s)
{
	if (redact_run(r, "t", ch, s, strlen(s), &res))
		return "(error)";
	return res.text;
}

struct tcase { const char *in, *out; };

static void run_cases(const struct redact *r, enum rd_channel ch, const struct tcase *c, size_t n,
                      const char *what)
{
	char name[200];
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%s: %s", what, c[i].in);
		CHECK_STR(red(r, ch, c[i].in), c[i].out, name);
	}
}

static const struct tcase phones[] = {
	/* Nordic and Baltic groupings: a phone after a phone word or label */
	{ "Phone: 73 41 26 90", "Phone: [PHONE]" },
	{ "call me on 44-18-27-63", "call me on [PHONE]" },
	{ "mobile 92 418 305", "mobile [PHONE]" },
	{ "tel 41 27 93 after six", "tel [PHONE] after six" },
	{ "reach me at 22 33 44 55", "reach me at [PHONE]" },
	{ "office 5123 4567", "office [PHONE]" },
	/* ... and not without one */
	{ "the score was 73 41 26 90", "the score was 73 41 26 90" },
	{ "population 92 418 305", "population 92 418 305" },
	{ "meeting 10 30 11 45", "meeting 10 30 11 45" },
	/* North-American shapes, whatever the area code */
	{ "212-555-0123", "[PHONE]" },
	{ "call 123-456-7890", "call [PHONE]" },
	{ "312.555.0199 ok", "[PHONE] ok" },
	{ "(415)555-0132", "[PHONE]" },
	{ "555-123-4567 x1234", "[PHONE]" },
	{ "212-555-0123 ext 12", "[PHONE]" },
	{ "212-555-0123 #12", "[PHONE]" },
	{ "001-212-555-0123", "[PHONE]" },
	{ "+1-212-555-0123", "[PHONE]" },
	/* glued to punctuation and labels */
	{ "Tel:0123 456789", "Tel:[PHONE]" },
	{ "details,07700 900456", "details,[PHONE]" },
	{ "020 7946 0018/mobile", "[PHONE]/mobile" },
	{ "020 7946 0019-home", "[PHONE]-home" },
	{ "020 7946 0020 (work)", "[PHONE] (work)" },
	{ "Tel.0161 496 0001", "Tel.[PHONE]" },
	/* lists */
	{ "numbers: 020 7946 0021, 07700 900321 or 0161 496 0002",
	  "numbers: [PHONE], [PHONE] or [PHONE]" },
	{ "212-555-0140 / 212-555-0141 / 212-555-0142", "[PHONE] / [PHONE] / [PHONE]" },
	{ "020 7946 0000 - 07700 900123", "[PHONE] - [PHONE]" },
	/* what must survive beside them */
	{ "at 10:30, on 12/05/2024, for $1,299.99", "at 10:30, on 12/05/2024, for $1,299.99" },
	{ "version 1.2.3.4 and ISBN 978-3-16-148410-0", "version 1.2.3.4 and ISBN 978-3-16-148410-0" },
	{ "from 2019-2024 we sold 1 299 000 units", "from 2019-2024 we sold 1 299 000 units" },
	{ "it was 10.30-11.45", "it was 10.30-11.45" },
};

static const struct tcase cards[] = {
	/* every brand and length, no card word */
	{ "pay with 501800000009 please", "pay with [CREDIT_CARD] please" },         /* Maestro 12 */
	{ "pay with 6759649826438453 please", "pay with [CREDIT_CARD] please" },     /* Maestro 16 */
	{ "pay with 180000000000002 please", "pay with [CREDIT_CARD] please" },      /* JCB 15 */
	{ "pay with 3530111333300000 please", "pay with [CREDIT_CARD] please" },     /* JCB 16 */
	{ "pay with 6212345678901234 please", "pay with [CREDIT_CARD] please" },     /* UnionPay, no Luhn */
	{ "pay with 6212345678901234567 please", "pay with [CREDIT_CARD] please" },  /* UnionPay 19 */
	{ "pay with 2200000000000004 please", "pay with [CREDIT_CARD] please" },     /* Mir */
	{ "pay with 5085000000000007 please", "pay with [CREDIT_CARD] please" },     /* RuPay */
	{ "pay with 5060990000000008 please", "pay with [CREDIT_CARD] please" },     /* Verve */
	{ "pay with 9792000000000003 please", "pay with [CREDIT_CARD] please" },     /* Troy */
	{ "pay with 6362970000000003 please", "pay with [CREDIT_CARD] please" },     /* Elo */
	{ "pay with 6062820000000003 please", "pay with [CREDIT_CARD] please" },     /* Hipercard */
	/* a card word makes 12-19 digits a card, Luhn or not */
	{ "card number 630427373398 is lost", "card number [CREDIT_CARD] is lost" },
	{ "card 4111 1111 1111 1112 was declined", "card [CREDIT_CARD] was declined" },
	{ "my credit card number is 1234 5678 9012 3456", "my credit card number is [CREDIT_CARD]" },
	{ "cc 503802053770 on file", "cc [CREDIT_CARD] on file" },
	{ "card # 180020497005751", "card # [CREDIT_CARD]" },
	{ "my visa is 4111-1111-1111-1112", "my visa is [CREDIT_CARD]" },
	/* without one, Luhn and the brand decide */
	{ "number 4111 1111 1111 1112 fails Luhn", "number 4111 1111 1111 1112 fails Luhn" },
	{ "ref 123456789012 thanks", "ref 123456789012 thanks" },
	{ "we sold 1234567890123 units", "we sold 1234567890123 units" },
	/* a card word does not reach past another number or a short one */
	{ "card ending 1234", "card ending 1234" },
	{ "card fee $1,299.99 on 12/05/2024", "card fee $1,299.99 on 12/05/2024" },
};

static const struct tcase security[] = {
	{ "CVV 123", "CVV [CARD_SECURITY]" },
	{ "cvc: 7373", "cvc: [CARD_SECURITY]" },
	{ "security code 1234", "security code [CARD_SECURITY]" },
	{ "cvv2 456", "cvv2 [CARD_SECURITY]" },
	{ "the CVV is 321", "the CVV is [CARD_SECURITY]" },
	{ "exp 12/27", "exp [CARD_SECURITY]" },
	{ "visa expires 03/2029", "visa expires [CARD_SECURITY]" },
	{ "my passport expires 12/2026", "my passport expires 12/2026" },
	{ "coupon valid until 12/25", "coupon valid until 12/25" },
	{ "valid thru 08/26", "valid thru [CARD_SECURITY]" },
	{ "Expiry date: 11/25", "Expiry date: [CARD_SECURITY]" },
	{ "card 4111 1111 1111 1111 exp 04/28 cvc 789",
	  "card [CREDIT_CARD] exp [CARD_SECURITY] cvc [CARD_SECURITY]" },
	/* other dates and short numbers stay */
	{ "the offer expires on 12/05/2024", "the offer expires on 12/05/2024" },
	{ "it expires on 03-08-2026", "it expires on 03-08-2026" },
	{ "exp 13/27", "exp 13/27" },
	{ "expires at 10:30", "expires at 10:30" },
	{ "room 123, page 12/27", "room 123, page 12/27" },
	{ "the security guard counted 350 people", "the security guard counted 350 people" },
};

static const struct tcase calls[] = {
	{ "my credit card number is 92 09 46 58 71 81 93 04 it expires on 03-08-2026",
	  "my credit card number is [CREDIT_CARD] it expires on 03-08-2026" },
	{ "card number is 1594 5430 5345 5724 okay", "card number is [CREDIT_CARD] okay" },
	{ "send email to rohan dot krishnan at h o t m a i l dot com please", "send email to [EMAIL] please" },
	{ "mail j o h n dot smith at g m a i l dot com", "mail [EMAIL]" },
	{ "it is priya at the rate gmail dot com", "it is [EMAIL]" },
	{ "neha dot s at rediffmail dot co.in ok", "[EMAIL] ok" },
	{ "anil at gmail dot co dot in", "[EMAIL]" },
	{ "my number is oh seven seven, uh, double oh nine hundred one two three thanks",
	  "my number is [PHONE] thanks" },
	{ "seven seven, no, eight nine nine one two three four five six", "[PHONE]" },
	/* ordinary speech stays */
	{ "i paid twenty five dollars at nine thirty on the twenty second",
	  "i paid twenty five dollars at nine thirty on the twenty second" },
	{ "no no i said two or three days", "no no i said two or three days" },
	{ "uh i am at the station", "uh i am at the station" },
};

static const struct tcase ids[] = {
	{ "my SSN is 078-05-1120 ok", "my SSN is [NATIONAL_ID] ok" },
	{ "SSN: 123 45 6789", "SSN: [NATIONAL_ID]" },
	{ "ssn 123456789", "ssn [NATIONAL_ID]" },
	{ "NINO AB123456C", "NINO [NATIONAL_ID]" },
	{ "my ni number is ab 12 34 56 c", "my ni number is [NATIONAL_ID]" },
	{ "ni number ab 123456c ok", "ni number [NATIONAL_ID] ok" },
	{ "NI number AB 12 34 56 C", "NI number [NATIONAL_ID]" },
	{ "NHS number 943 476 5919", "NHS number [NATIONAL_ID]" },
	{ "aadhaar 2341 2341 2346", "aadhaar [NATIONAL_ID]" },
	{ "my aadhaar is 234123412346", "my aadhaar is [NATIONAL_ID]" },
	{ "PAN ABCPD1234E", "PAN [NATIONAL_ID]" },
	{ "DNI 12345678Z", "DNI [NATIONAL_ID]" },
	{ "NIE X1234567L", "NIE [NATIONAL_ID]" },
	{ "codice fiscale RSSMRA85T10A562S", "codice fiscale [NATIONAL_ID]" },
	{ "NIR 1 84 12 76 451 089 46", "NIR [NATIONAL_ID]" },
	{ "Steuer-ID 65929970489", "Steuer-ID [NATIONAL_ID]" },
	{ "id 86 095 742 719 ok", "id [NATIONAL_ID] ok" },
	{ "BSN 111222333", "BSN [NATIONAL_ID]" },
	{ "passport number: 123456789", "passport number: [PASSPORT]" },
	{ "passport no X1234567", "passport no [PASSPORT]" },
	{ "DOB: 12/05/1990", "DOB: [DATE_OF_BIRTH]" },
	{ "date of birth 12 May 1990", "date of birth [DATE_OF_BIRTH]" },
	{ "born on May 12, 1990", "born on [DATE_OF_BIRTH]" },
	/* numbers that fail their checksum, and numbers without a word */
	{ "invalid 666-12-3456", "invalid 666-12-3456" },
	{ "SSN 000-12-3456", "SSN 000-12-3456" },
	{ "NHS number 943 476 5918", "NHS number [PHONE]" },    /* no NHS number, a phone's shape */
	{ "DNI 12345678A", "DNI 12345678A" },
	{ "codice fiscale RSSMRA85T10A562X", "codice fiscale RSSMRA85T10A562X" },
	{ "NIR 1 84 12 76 451 089 47", "NIR 1 84 12 76 451 089 47" },
	{ "Steuer-ID 65929970488", "Steuer-ID [PHONE]" },
	{ "ref 234123412346", "ref 234123412346" },
	{ "we sold 111222333 units", "we sold 111222333 units" },
	{ "I was born in 1990", "I was born in 1990" },
	{ "the meeting is on 12/05/1990", "the meeting is on 12/05/1990" },
	{ "my passport expired last year", "my passport expired last year" },
	{ "call 943 476 5919", "call [PHONE]" },
};

/* A correction takes back the digit before it: the subject is the number
 * the caller meant. */
static void test_corrections(const struct redact *r)
{
	struct redact_subject a, b;
	const char *meant = "07899123456";
	red(r, CH_VOICE, "call oh seven seven, no, eight nine nine one two three four five six");
	CHECK(res.nsubjects == 1, "a corrected number is one subject");
	if (res.nsubjects != 1)
		return;
	a = res.subjects[0];
	CHECK(redact_subject_hash(r, SUBJECT_PHONE, meant, strlen(meant), &b) == 0 &&
	      memcmp(a.hash, b.hash, sizeof a.hash) == 0, "... the number meant (07899123456)");
	red(r, CH_VOICE, "email j o h n dot smith at g m a i l dot com");
	CHECK(res.nsubjects == 1 && redact_subject_hash(r, SUBJECT_EMAIL, "john.smith@gmail.com", 20, &b) == 0 &&
	      memcmp(res.subjects[0].hash, b.hash, sizeof b.hash) == 0, "a spelled email is its written subject");
}

static void test_digits(const struct redact *r)
{
	/* Arabic-Indic "٠٧٧٠٠ ٩٠٠١٢٣", Persian "۰۷۷۰۰ ۹۰۰۱۲۳", Devanagari, Bengali */
	CHECK_STR(red(r, CH_WEB, "tel \xd9\xa0\xd9\xa7\xd9\xa7\xd9\xa0\xd9\xa0 \xd9\xa9\xd9\xa0\xd9\xa0\xd9\xa1\xd9\xa2\xd9\xa3!"),
	          "tel [PHONE]!", "Arabic-Indic digits");
	CHECK(res.nfindings == 1 && res.findings[0].start == 4 && res.findings[0].end == 27,
	      "... offsets are input bytes");
	CHECK_STR(red(r, CH_WEB, "tel \xdb\xb0\xdb\xb7\xdb\xb7\xdb\xb0\xdb\xb0 \xdb\xb9\xdb\xb0\xdb\xb0\xdb\xb1\xdb\xb2\xdb\xb3"),
	          "tel [PHONE]", "Extended Arabic-Indic digits");
	CHECK_STR(red(r, CH_WEB, "\xe0\xa5\xa6\xe0\xa5\xad\xe0\xa5\xad\xe0\xa5\xa6\xe0\xa5\xa6 "
	                         "\xe0\xa5\xaf\xe0\xa5\xa6\xe0\xa5\xa6\xe0\xa5\xa7\xe0\xa5\xa8\xe0\xa5\xa9"),
	          "[PHONE]", "Devanagari digits");
	CHECK_STR(red(r, CH_WEB, "\xe0\xa7\xa6\xe0\xa7\xad\xe0\xa7\xad\xe0\xa7\xa6\xe0\xa7\xa6 "
	                         "\xe0\xa7\xaf\xe0\xa7\xa6\xe0\xa7\xa6\xe0\xa7\xa7\xe0\xa7\xa8\xe0\xa7\xa9"),
	          "[PHONE]", "Bengali digits");
	CHECK_STR(red(r, CH_WEB, "\xd8\xb9\xd8\xa7\xd9\x85 \xd9\xa2\xd9\xa0\xd9\xa2\xd9\xa4"),
	          "\xd8\xb9\xd8\xa7\xd9\x85 \xd9\xa2\xd9\xa0\xd9\xa2\xd9\xa4", "an Arabic-Indic year stays");
}

int main(void)
{
	char err[512];
	struct redact *r = redact_new(NULL, hkey, skey, err, sizeof err);
	CHECK(r != NULL, "engine with built-in rules");
	if (!r) {
		printf("# %s\n", err);
		return TEST_DONE();
	}
	run_cases(r, CH_WEB, phones, RD_ARRAY_LEN(phones), "phone");
	run_cases(r, CH_WEB, cards, RD_ARRAY_LEN(cards), "card");
	run_cases(r, CH_WEB, security, RD_ARRAY_LEN(security), "card security");
	run_cases(r, CH_VOICE, calls, RD_ARRAY_LEN(calls), "call");
	run_cases(r, CH_VOICE, security, RD_ARRAY_LEN(security), "card security on a call");
	run_cases(r, CH_WEB, ids, RD_ARRAY_LEN(ids), "national id");
	test_corrections(r);
	test_digits(r);
	redact_result_free(&res);
	redact_free(r);
	return TEST_DONE();
}
