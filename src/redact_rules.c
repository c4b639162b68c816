/*
 * redact_rules.c — the built-in rules: what each default entity looks like.
 *
 * Patterns are deliberately permissive about shape and strict about
 * boundaries; the validator of each rule (redact_validate.c) then decides
 * with arithmetic what a regex cannot: Luhn, mod-97, digit counts of phone
 * plans, dates and prices that merely look like phone numbers. Boundaries
 * use short fixed-length look-behinds only on the digit rules (they run on
 * small windows around digits, so the cost is negligible); the email rule
 * has none because it runs anchored near each '@'.
 *
 * Priorities (higher wins an overlap, then the longer match):
 *   iban 90 (mod-97 and a country length are the strongest evidence, and
 *   an IBAN's digits can pass Luhn), card 85, email 80, card_security 75,
 *   ip 70, national_id and passport 65 (an SSN's 3-2-4 is also a phone
 *   shape), order 60, date_of_birth 55, phone 50.
 */
#include "redact_int.h"

/* Non-ASCII letters allowed in emails: skips Latin-1 punctuation, the
 * General Punctuation block (curly quotes, dashes) and CJK punctuation, so
 * that "“jane@example.com”" does not swallow its quotes. */
#define U8L "\\x{C0}-\\x{1FFF}\\x{2070}-\\x{2FFF}\\x{3040}-\\x{FEFF}\\x{FF10}-\\x{10FFFF}"

/* No (?i): the classes list both cases, and caseless matching over the
 * large non-ASCII ranges would make PCRE2 fold every code point at build. */
static const char email_pat[] =
	"(?:\"[^\"\\r\\n\\\\]{1,64}\""
	"|[\\w!#$%&*+/=?^`{|}~" U8L "-][\\w!#$%&'*+/=?^`{|}~." U8L "-]{0,63})"
	"@(?:[a-zA-Z0-9" U8L "](?:[a-zA-Z0-9" U8L "-]{0,61}[a-zA-Z0-9" U8L "])?\\.)+"
	"(?:[xX][nN]--[a-zA-Z0-9-]{1,59}|[a-zA-Z" U8L "]{2,63})(?![a-zA-Z0-9" U8L "-])";

/* A phone-like run: optional international prefix (+CC or 00CC, optional
 * "(0)"), optional bracketed area code, digit groups joined by one
 * separator, optional extension. Never starts inside a word, a number, a
 * price or an ID; never ends before a decimal part or a time. It may be
 * glued to a label or a list by ':', ',', ';' or '.' ("Tel:0123 456789",
 * "…,07700 900123") as long as no digit comes right before that. */
static const char phone_pat[] =
	"(?<![\\w+#/@-])(?<![\\d.,:;][.,:])(?<!\\d[ .\\-/])"
	"(?:(?:\\+|\\b00)\\d{1,3}[ .-]?(?:\\(0\\)[ .-]?)?)?"
	"(?:\\(\\d{1,5}\\)[ .-]?)?"
	"\\d{1,12}(?:(?:[ .\\-/]|\\s-\\s)\\d{1,12}){0,7}"
	"(?:,?\\s*(?i:ext\\.?|extension|x|\\#)\\s*\\d{1,6})?"
	"(?![\\w@:]|[.,]\\d)";

/* A card may follow another card ("4111... 5555..."), so only a dash joins
 * it to a preceding digit; a rejected run is skipped whole by the run loop. */
static const char card_pat[] =
	"(?<![\\w.,+/-])(?<!\\d-)(?:\\d[ -]?){11,18}\\d(?!\\d|[.,]\\d)";

/* CARD_SECURITY: a security code or an expiry, after its label. The match
 * holds the label; the validator moves the finding to the value. An
 * expiry is month and year only: "expires on 03-08-2026" is a date and
 * stays. */
static const char card_security_pat[] =
	"(?i)\\b(?:(?:cvv|cvc|cvn|csc|cav)2?|security\\s+(?:code|number)"
	"|(?:card\\s+)?verification\\s+(?:code|value|number))"
	"(?:\\s*(?:[:#=.-]|is\\b|was\\b|number\\b|no\\b\\.?|code\\b))*\\s*\\d{3,4}(?!\\w|[.,/:-]\\d)"
	"|\\b(?:exp(?:iry|iration|ires|ired|iring)?\\.?(?:\\s+(?:date|dt)\\b\\.?)?"
	"|valid\\s+(?:thru|through|until|till)|good\\s+(?:thru|through))"
	"(?:\\s*(?:[:#=-]|is\\b|on\\b|in\\b|end\\b))*\\s*(?:0?[1-9]|1[0-2])\\s?[/.-]\\s?(?:20)?\\d{2}"
	"(?!\\w|[/.-]\\d)";

/* NATIONAL_ID: the shapes of the schemes the validator checks, digit-led
 * first. Letters in capitals, as the documents print them (DNI, NIE and
 * NINO also in lowercase: their checks are strong enough). Never a
 * part of a longer digit run ("+55 800 12 3456" is a phone, "1111 2222
 * 3333 4444" no Aadhaar). */
static const char national_id_pat[] =
	"(?<![\\w+-])(?<!\\d[ .\\-/])(?:"
	"\\d{3}([- ])\\d{2}\\1\\d{4}"                                       /* SSN 3-2-4 */
	"|[12] ?\\d{2} ?\\d{2} ?(?:\\d{2}|2[AB]) ?\\d{3} ?\\d{3} ?\\d{2}"      /* NIR */
	"|[2-9]\\d{3}([ -]?)\\d{4}\\2\\d{4}"                                  /* Aadhaar 4-4-4 */
	"|[1-9]\\d ?\\d{3} ?\\d{3} ?\\d{3}"                                   /* Steuer-ID 2-3-3-3 */
	"|\\d{3}[ -]\\d{3}[ -]\\d{4}|\\d{9,10}"                               /* NHS; bare SSN, BSN */
	"|\\d{8}[- ]?[A-Za-z]|[XYZxyz][- ]?\\d{7}[- ]?[A-Za-z]"                /* DNI, NIE */
	"|[A-CEGHJ-PR-TW-Za-ceghj-pr-tw-z][A-CEGHJ-NPR-TW-Za-ceghj-npr-tw-z] ?\\d{2} ?\\d{2} ?\\d{2} ?[A-Da-d]"   /* NINO */
	"|[A-Z]{3}[ABCFGHLJPT][A-Z]\\d{4}[A-Z]"                               /* PAN */
	"|[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"   /* CF */
	")(?![\\w-]|[.,]\\d|[ .\\-/]\\d)";

/* PASSPORT and DATE_OF_BIRTH: the value (group 1) after its word. */
static const char passport_pat[] =
	"(?i)\\b(?:passport|passeport|pasaporte|passaporto|paspoort|reisepass)"
	"(?:\\s+(?:no|number|num|nr|id)\\b|\\s*#)?\\.?(?:\\s*(?:[:#=-]|is\\b|was\\b))*\\s*"
	"([a-z0-9]{6,9})(?![\\w-])";

#define MONTH "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?" \
	"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
static const char dob_pat[] =
	"(?i)\\b(?:d\\.?o\\.?b\\b\\.?|date\\s+of\\s+birth|birth\\s*date|birthday|born(?:\\s+on)?"
	"|geburtsdatum|geboren(?:\\s+am)?|date\\s+de\\s+naissance|n[ée]e?\\s+le|fecha\\s+de\\s+nacimiento"
	"|data\\s+di\\s+nascita|nat[oa]\\s+il)"
	"(?:\\s*(?:[:#=.-]|is\\b|was\\b|on\\b|the\\b|it'?s\\b|it\\b))*\\s*"
	"(\\d{1,2}[./-]\\d{1,2}[./-](?:\\d{4}|\\d{2})|\\d{4}-\\d{1,2}-\\d{1,2}|\\d{1,2}\\s\\d{1,2}\\s\\d{4}"
	"|\\d{1,2}(?:st|nd|rd|th)?(?:\\s+of)?\\s+" MONTH "\\.?,?\\s+\\d{4}"
	"|" MONTH "\\.?\\s+\\d{1,2}(?:st|nd|rd|th)?,?\\s+\\d{4})(?!\\w|[./-]\\d)";

/* Compact or grouped; the validator trims to the country's length. */
static const char iban_pat[] =
	"(?<![\\w])[A-Za-z]{2}[ .-]?\\d{2}(?:[ .-]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])";

static const char ipv4_pat[] =
	"(?<![\\w.])(?:\\d{1,3}\\.){3}\\d{1,3}(?!\\w|\\.\\d)";

static const char ipv6_pat[] =
	"(?i)(?<![\\w:.])(?:[0-9a-f]{0,4}:){2,7}(?:(?:\\d{1,3}\\.){3}\\d{1,3}|[0-9a-f]{1,4})?(?![\\w:]|\\.\\d)";

static const char order_id_pat[] =
	"(?i)\\bORD(?:ER)?[-_#]?\\d{4,12}\\b";

/* A bare number is an order id only after an order word (context). */
static const char order_number_pat[] =
	"(?<![\\w#.,-])(?<!\\d[ .-])\\#?\\d{4,12}(?![\\w]|[.,-]\\d|[ .]\\d)";

#define DIGIT_WORD "(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|nought|o" \
	"|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen" \
	"|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|\\d{1,4})\\b"
#define MULT "(?:(?:double|triple)[\\s-]+)?"
#define WSEP0 "(?:\\s*,\\s*|\\s+-\\s+|[\\s-]+|\\.\\s+)"
/* Fillers and corrections between digits: "seven seven, uh, nine",
 * "five five, no, six" (redact_spoken_digits drops the corrected digit). */
#define WSEP "(?:" WSEP0 "(?:(?:uh|um|umm|er|erm|ah|hmm|sorry|no|i\\s+mean)\\b" WSEP0 ")*)"

/* Four or more spoken digit tokens in a row: "oh seven seven double oh
 * nine hundred one two three". The validator counts digits. */
static const char spoken_digits_pat[] =
	"(?i)\\b(?:plus\\s+)?" MULT DIGIT_WORD
	"(?:" WSEP MULT "(?:" DIGIT_WORD "|hundred\\b|thousand\\b)){3,40}";

/* A word of a spoken address: as written ("jane.doe", "co.in"), or spelled
 * letter by letter ("j o h n", "g m a i l"). */
#define SW "(?:[a-z0-9](?:\\s[a-z0-9]){2,}\\b|[a-z0-9][a-z0-9_+-]*(?:\\.[a-z0-9_+-]+)*)"
#define TLD "(?:com|net|org|edu|gov|mil|int|info|biz|io|co|uk|de|it|fr|es|ie|in|au|br|ca|us" \
	"|me|nl|eu|ch|at|be|se|no|dk|fi|jp|cn|ru|pl|pt|mx|ar|nz|za|sg|hk|ai|app|dev|tv|ly|xyz)"

static const char spoken_email_pat[] =
	"(?i)\\b" SW "(?:\\s+(?:dot|underscore|dash|hyphen|minus|plus)\\s+" SW ")*"
	"\\s+(?:at(?:\\s+the\\s+rate(?:\\s+of)?)?|@)\\s+" SW "(?:\\s+(?:dot|dash|hyphen)\\s+" SW ")*"
	"(?:\\s+dot\\s+|\\.)" TLD "\\b";

static const char *const order_ctx[] = {
	"order", "orders", "order number", "order no", "order nr", "order id", "ordine",
	"commande", "bestellung", "bestellnummer", "pedido", NULL
};
/* Before a written number these lower the digits a national number needs. */
static const char *const phone_ctx[] = {
	"call", "phone", "tel", "telephone", "mobile", "cell", "cellphone", "whatsapp", "fax",
	"ring", "sms", "dial", "reach me", "reach us", "reach her", "reach him", "contact", "office",
	"landline", "text me", "mob", "ph", "tlf", "telefon", "telefono", "numero", "handy",
	"puhelin", "mobil", "hotline", "helpline", NULL
};
/* Before a bare number these let the checksum of a national scheme decide. */
static const char *const national_ctx[] = {
	"ssn", "social security", "nhs", "aadhaar", "aadhar", "uid", "bsn", "burgerservicenummer",
	"sofinummer", "steuer-id", "steuerid", "steuer", "steuernummer", "steueridentifikationsnummer",
	"idnr", "tax id", "national insurance", "ni number", "nino", "dni", "nie", "nif",
	"codice fiscale", "nir", "insee", "securite sociale", "national id", "id number",
	"identity number", NULL
};
/* Before a 12-19 digit number these make it a card without Luhn. */
static const char *const card_ctx[] = {
	"card", "cards", "card number", "card no", "cc", "credit card", "debit card", "visa",
	"mastercard", "amex", "american express", "maestro", "discover", "diners", "jcb",
	"unionpay", "rupay", "carte", "karte", "kreditkarte", "tarjeta", "carta", "kaart", NULL
};
static const char *const voice_phone_ctx[] = {
	"phone", "number", "mobile", "cell", "call", "reach", "landline", "extension",
	"whatsapp", "telephone", "contact", "text", NULL
};
static const char *const voice_card_ctx[] = {
	"card", "visa", "mastercard", "amex", "american express", "credit", "debit",
	"long number", "discover", NULL
};

#define VOICE (1u << CH_VOICE)

const struct builtin_rule redact_builtins[] = {
	{ "email", "EMAIL", email_pat, VAL_NONE, 80, TRIG_AT, PF_NONE, 0, 0, 0, NULL, false, SCAN_NONE, false },
	{ "credit_card", "CREDIT_CARD", card_pat, VAL_CARD, 85, TRIG_DIGIT, PF_CHAIN, 12, 1, 0, card_ctx, false, SCAN_NONE, false },
	{ "card_security", "CARD_SECURITY", card_security_pat, VAL_CARD_SECURITY, 75, TRIG_DIGIT, PF_LABEL, 3, 24, 0,
	  NULL, false, SCAN_NONE, false },
	{ "national_id", "NATIONAL_ID", national_id_pat, VAL_NATIONAL_ID, 65, TRIG_DIGIT, PF_NATID, 4, 8, 0,
	  national_ctx, false, SCAN_NONE, false },
	{ "passport", "PASSPORT", passport_pat, VAL_PASSPORT, 65, TRIG_DIGIT, PF_LABEL, 2, 24, 0,
	  NULL, false, SCAN_NONE, true },
	{ "date_of_birth", "DATE_OF_BIRTH", dob_pat, VAL_DATE_OF_BIRTH, 55, TRIG_DIGIT, PF_LABEL, 4, 24, 0,
	  NULL, false, SCAN_NONE, true },
	{ "iban", "IBAN", iban_pat, VAL_IBAN, 90, TRIG_DIGIT, PF_IBAN, 4, 3, 0, NULL, false, SCAN_NONE, false },
	{ "ipv4", "IP_ADDRESS", ipv4_pat, VAL_IPV4, 70, TRIG_DIGIT, PF_IPV4, 4, 1, 0, NULL, false, SCAN_NONE, false },
	{ "ipv6", "IP_ADDRESS", ipv6_pat, VAL_IPV6, 70, TRIG_DIGIT, PF_IPV6, 1, 24, 0, NULL, false, SCAN_NONE, false },
	{ "order_id", "ORDER_ID", order_id_pat, VAL_NONE, 60, TRIG_DIGIT, PF_ORD, 4, 6, 0, NULL, false, SCAN_NONE, false },
	{ "order_number", "ORDER_ID", order_number_pat, VAL_NONE, 60, TRIG_DIGIT, PF_RUN, 4, 1, 0, order_ctx, true, SCAN_NONE, false },
	{ "phone", "PHONE", phone_pat, VAL_PHONE, 50, TRIG_DIGIT, PF_CHAIN, 6, 2, 0, phone_ctx, false, SCAN_NONE, false },
	{ "voice_card", "CREDIT_CARD", spoken_digits_pat, VAL_SPOKEN_CARD, 90, TRIG_NUMWORDS, PF_NONE, 0, 0, VOICE,
	  voice_card_ctx, false, SCAN_NONE, false },
	{ "voice_email", "EMAIL", spoken_email_pat, VAL_SPOKEN_EMAIL, 80, TRIG_ATWORD, PF_NONE, 0, 0, VOICE, NULL, false, SCAN_NONE, false },
	{ "voice_phone", "PHONE", spoken_digits_pat, VAL_SPOKEN_PHONE, 50, TRIG_NUMWORDS, PF_NONE, 0, 0, VOICE,
	  voice_phone_ctx, false, SCAN_NONE, false },
	/* token scanners (redact_names.c); the pattern never matches and only
	 * stands in until a [rule] section gives one of its own */
	{ "address", "ADDRESS", "(*FAIL)", VAL_NONE, 40, TRIG_TOKENS, PF_NONE, 0, 0, 0, NULL, false, SCAN_ADDRESS, false },
	{ "person", "PERSON", "(*FAIL)", VAL_NONE, 30, TRIG_TOKENS, PF_NONE, 0, 0, 0, NULL, false, SCAN_PERSON, false },
};
const size_t redact_nbuiltins = RD_ARRAY_LEN(redact_builtins);
