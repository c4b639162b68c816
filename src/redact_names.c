/*
 * redact_names.c — the PERSON and ADDRESS scanners: a token-level stage of
 * the engine, beside the PCRE2 rules.
 *
 * WORKLOAD: every chat message on every channel. Most messages name nobody
 * and give no address, so each scanner first looks only where it can fire:
 *   - PERSON, written text: capitalised words (SSE2 finds the capitals 16
 *     bytes at a time); a word is looked up only if it starts with one;
 *   - PERSON, lowercase text (the voice channel, or a message with no
 *     capital at all): names need a cue ("my name is", "this is", "me
 *     llamo"), so every word is looked up, but only the words after a cue
 *     are read as names;
 *   - ADDRESS: a house number is a digit run, so the scanner runs around
 *     the digit runs only (1-5 digits, "221B", "12-14").
 *
 * DESIGN
 * One process-wide gazetteer, built once (pthread_once) when the first
 * engine is built and never freed: an open-addressing hash of lowercased
 * words to flags. It holds the given names and surnames of data/names
 * (compiled in with .incbin, so a deployment carries no data files), the
 * names that are also common English words (data/names/ambiguous.txt, from
 * Debian's small word lists), and the word tables below (cues, titles,
 * street words, units, stop words). It is read-only after the build, so
 * any number of threads scan at once without locks.
 *
 * WHY a scanner and not a regex: a name is a decision over several words
 * (is it capitalised, at a sentence start, after a cue, a known name, also
 * a common word), and the gazetteer has ~100k entries; an alternation that
 * large compiles slowly and matches no faster than one hash probe a word.
 *
 * INVARIANTS: spans are byte offsets into t on UTF-8 character boundaries
 * (words start and end on ASCII or at whole characters); nothing here
 * allocates per message; a word longer than WORD_MAX bytes is never a name.
 */
#include "redact_int.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The gazetteers, compiled in: each file NUL-terminated. The paths are
 * relative to the directory the compiler runs in (the repository root, for
 * the Makefile and every script). */
__asm__(".section .rodata\n"
        ".balign 16\n.hidden rd_given_blob\n.globl rd_given_blob\nrd_given_blob:\n"
        ".incbin \"data/names/given.txt\"\n.byte 0\n"
        ".balign 16\n.hidden rd_surname_blob\n.globl rd_surname_blob\nrd_surname_blob:\n"
        ".incbin \"data/names/surnames.txt\"\n.byte 0\n"
        ".balign 16\n.hidden rd_ambig_blob\n.globl rd_ambig_blob\nrd_ambig_blob:\n"
        ".incbin \"data/names/ambiguous.txt\"\n.byte 0\n"
        ".balign 16\n.hidden rd_words_blob\n.globl rd_words_blob\nrd_words_blob:\n"
        ".incbin \"data/names/words.txt\"\n.byte 0\n"
        ".previous\n");
extern const char rd_given_blob[], rd_surname_blob[], rd_ambig_blob[], rd_words_blob[];

#define WORD_MAX   32          /* bytes; longer words are never names */
#define NAME_WORDS 4           /* most words one name is read over */
#define STREET_WORDS 5         /* most words between a number and a street word */
#define CUE_WORDS  4           /* most words of one cue */

/* ---------------------------------------------------------------------- */
/* word tables                                                             */

enum {
	F_GIVEN = 1 << 0,    /* a given name (data/names/given.txt) */
	F_SURNAME = 1 << 1,  /* a surname (data/names/surnames.txt) */
	F_AMBIG = 1 << 2,    /* also a common word: will, may, grace, mark */
	F_STOP = 1 << 3,     /* never a name without a cue: months, places, brands */
	F_TITLE = 1 << 4,    /* Mr, Dr, Frau, Sra: the next word is a name */
	F_CUE = 1 << 5,      /* the last word of some cue */
	F_PARTICLE = 1 << 6, /* van, de, al: inside a name, lowercase */
	F_STREET = 1 << 7,   /* comes after the street name: Street, Rd, Ave */
	F_STREET_PRE = 1 << 8, /* comes before it: Rue, Via, Calle */
	F_UNIT = 1 << 9,     /* Apt, Suite, Flat, Unit */
	F_FUNC = 1 << 10,    /* function word: never part of a name */
	F_BOX = 1 << 11,     /* P.O. Box, Postfach: the number is the address */
	F_TOP = 1 << 12,     /* among the TOP_GIVEN most frequent given names */
	F_WORD = 1 << 13,    /* a dictionary word that is no name (data/names/words.txt) */
	F_NOTNAME = 1 << 14, /* set per word, never stored: too short, or an apostrophe */
};

/* A lone capitalised word with no cue is a name only if it is one of the
 * most frequent given names: the long tail of the lists holds place and
 * brand names ("Boston", "Lyon", "Dyson" are all registered given names). */
#define TOP_GIVEN 1500

/* Titles: what follows is a name, whatever its case. */
static const char *const titles[] = {
	"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lady", "lord", "madam",
	"herr", "frau", "m", "mme", "mlle", "monsieur", "madame", "sr", "sra", "srta", "señor",
	"señora", "don", "doña", "sig", "sigra", "signor", "signora", "dott", "dhr", "mevr",
	"mevrouw", "meneer", "pan", "pani", "shri", "smt", "sri", "sheikh", "hr", "fru",
};

/* Cues, as lowercase word sequences; the name comes right after. A strong
 * cue lets any word be the name; a weak one only a known name. */
struct cue {
	const char *words;
	bool strong;
};
static const struct cue cues[] = {
	{ "my name is", true }, { "my name's", true }, { "name is", true }, { "name's", true },
	{ "name", true }, { "names", true }, { "full name", true }, { "first name", true },
	{ "last name", true }, { "surname", true }, { "signed", true }, { "called", false },
	{ "i am", false }, { "i'm", false }, { "im", false }, { "this is", false }, { "it's", false },
	{ "its", false }, { "it is", false }, { "here is", false }, { "speaking to", false },
	{ "speak to", false }, { "speak with", false }, { "spoke to", false }, { "spoke with", false },
	{ "talk to", false }, { "talking to", false }, { "talked to", false }, { "ask for", false },
	{ "asked for", false }, { "asking for", false }, { "regards", false }, { "thanks", false },
	{ "thank you", false }, { "cheers", false }, { "sincerely", false }, { "call me", false },
	{ "hi", false }, { "hello", false }, { "hey", false }, { "dear", false }, { "contact", false },
	{ "attn", false }, { "wife", false }, { "husband", false }, { "son", false },
	{ "daughter", false }, { "mother", false }, { "father", false }, { "colleague", false },
	{ "manager", false }, { "agent", false }, { "customer", false }, { "caller", false },
	{ "account holder", false }, { "on behalf of", false }, { "contact person", true },
	{ "account holder is", false }, { "speaking with", false }, { "talking with", false },
	{ "under the name", true }, { "under the name of", true }, { "in the name of", true },
	{ "put me through to", false }, { "transfer me to", false }, { "signed for by", false },
	{ "je m'appelle", true }, { "m'appelle", true }, { "mon nom est", true }, { "je suis", false },
	{ "nom", true }, { "prénom", true }, { "c'est", false }, { "bonjour", false },
	{ "me llamo", true }, { "mi nombre es", true }, { "nombre", true }, { "soy", false },
	{ "hola", false }, { "habla", false }, { "ich heiße", true }, { "ich heisse", true },
	{ "heiße", true }, { "heisse", true }, { "mein name ist", true }, { "hier ist", false },
	{ "ich bin", false }, { "hallo", false }, { "mi chiamo", true }, { "il mio nome è", true },
	{ "sono", false }, { "ciao", false }, { "meu nome é", true }, { "me chamo", true },
	{ "sou", false }, { "olá", false }, { "ik heet", true }, { "mijn naam is", true },
	{ "naam", true }, { "ik ben", false },
};

/* After a weak cue, the cue word "and" only joins a second name when the
 * first was caught ("John and Mary Smith"): see person_at. */

/* Never a name without a cue, though the lists hold them: months and
 * weekdays, places, brands and greetings that are also names. */
static const char *const stops[] = {
	"january", "february", "march", "april", "may", "june", "july", "august", "september",
	"october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
	"saturday", "sunday", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
	"dimanche", "janvier", "février", "avril", "juin", "juillet", "août", "enero", "febrero",
	"marzo", "abril", "mayo", "junio", "julio", "agosto", "lunes", "martes", "domingo",
	"januar", "februar", "juni", "juli", "montag", "dienstag", "freitag", "gennaio",
	"christmas", "easter", "paris", "london", "sydney", "austin", "dallas", "houston",
	"phoenix", "denver", "madison", "aurora", "florence", "georgia", "virginia", "carolina",
	"victoria", "adelaide", "chelsea", "jordan", "india", "china", "israel", "kenya", "asia",
	"america", "africa", "europe", "brooklyn", "orlando", "savannah", "charlotte", "lincoln",
	"jackson", "cleveland", "berlin", "milan", "rome", "vienna", "geneva", "sofia", "lima",
	"santiago", "valencia", "verona", "siena", "alexandria", "nevada", "dakota", "montana",
	"cairo", "memphis", "troy", "tyler", "camden", "kent", "york", "hampton", "regent",
	"alexa", "siri", "cortana", "tesla", "mercedes", "chanel", "dell", "ford", "harley",
	"jeep", "lexus", "zara", "toyota", "honda", "nike", "adidas", "prime", "pixel", "galaxy",
	"windows", "office", "teams", "outlook", "gmail", "google", "amazon", "apple", "visa",
	"paypal", "netflix", "spotify", "uber", "hi", "hello", "hey", "dear", "thanks", "regards",
	"cheers", "sorry", "please", "yes", "no", "ok", "okay", "great", "sure", "best", "god",
	"lord", "jesus", "christ", "allah", "queen", "king", "sir", "customer", "support", "agent",
	"team", "order", "account", "delivery", "street", "road", "avenue", "north", "south",
	"east", "west", "new", "san", "santa", "saint", "st", "mount", "port", "fort", "lake",
	"bay", "park", "hall", "university", "college", "school", "hospital", "bank", "station",
};

/* Lowercase words inside a name: "Ludwig van Beethoven", "Ana de la Cruz". */
static const char *const particles[] = {
	"van", "von", "der", "den", "de", "da", "di", "del", "della", "des", "du", "la", "le", "dos",
	"das", "do", "bin", "ibn", "al", "el", "ter", "ten", "zu", "y", "e", "mac", "st",
};

/* Words a name never runs into (lowercase text has no capitals to stop it). */
static const char *const funcs[] = {
	"and", "or", "but", "the", "a", "an", "from", "here", "there", "speaking", "calling",
	"with", "at", "in", "on", "of", "for", "to", "by", "is", "was", "am", "are", "be", "i",
	"im", "i'm", "my", "me", "you", "your", "we", "our", "they", "he", "she", "it", "this",
	"that", "yes", "no", "ok", "okay", "so", "just", "please", "thanks", "thank", "hi", "hello",
	"sorry", "not", "also", "again", "today", "now", "then", "well", "um", "uh", "like",
	"and", "et", "und", "y", "e", "ed", "je", "ich", "soy", "sono", "de", "from", "who", "what",
	"how", "when", "where", "why", "can", "could", "would", "will", "should", "do", "did",
	"have", "has", "had", "about", "calling", "call", "regarding", "re", "just", "really",
	"very", "too", "need", "want", "got", "get", "all", "any", "some", "one", "two", "sir",
	"madam", "ma'am", "if", "as", "up", "out", "over", "back", "down", "off", "only",
	"speaking", "here", "there", "again", "still", "yet", "oh", "ah", "hmm",
	"it's", "i'm", "that's", "what's", "there's", "he's", "she's", "we're", "you're",
	"they're", "i'll", "i've", "i'd", "don't", "can't", "won't", "isn't", "didn't", "doesn't",
	"wasn't", "let's", "here's", "who's", "gonna", "wanna", "gotta", "kinda", "sorta", "tryna", "lemme", "ya", "yeah", "yep", "nope",
	"alright", "dunno", "dot", "underscore", "dash", "hyphen", "mi", "yo", "io", "tu", "il", "la", "le", "el", "les", "los", "las", "du", "er", "sie",
	"wir", "ihr", "es", "ist", "bin", "nous", "vous", "mon", "ma", "mes", "mio", "mia", "meu",
	"minha", "mein", "meine", "ik", "mijn", "het", "een", "un", "une", "una", "uno", "ein",
	"eine", "der", "die", "das", "des", "dem", "van", "con", "per", "por", "para", "pour",
	"avec", "mit", "bei", "zum", "zur", "vom", "hier", "ici", "aqui", "qui", "que", "wie",
	"was", "wer", "dove", "donde", "ou", "où", "et", "ja", "nein", "non", "si", "sí", "oui",
};

/* Ordinary words that often start a chat sentence: in the hot table (as
 * dictionary words) only so that their lookup stays cheap. */
static const char *const commons[] = {
	"perfect", "which", "what", "where", "when", "why", "how", "there", "these", "those",
	"great", "good", "nice", "fine", "awesome", "unfortunately", "actually", "apparently",
	"honestly", "meanwhile", "tomorrow", "yesterday", "today", "nothing", "everything",
	"someone", "somebody", "anyone", "nobody", "another", "after", "before", "since", "while",
	"because", "although", "however", "maybe", "perhaps", "otherwise", "instead", "still",
	"thank", "thanks", "sorry", "please", "hello", "hi", "hey", "dear", "regards", "cheers",
	"order", "account", "delivery", "parcel", "package", "refund", "payment", "invoice",
	"email", "phone", "address", "password", "login", "app", "website", "error", "issue",
	"problem", "question", "help", "support", "service", "customer", "team", "update",
	"first", "second", "last", "next", "also", "again", "already", "never", "always",
};

/* Street words after the name (English order: "221B Baker Street"). */
static const char *const streets[] = {
	"street", "st", "road", "rd", "avenue", "ave", "av", "lane", "ln", "drive", "dr",
	"boulevard", "blvd", "court", "ct", "place", "pl", "square", "sq", "terrace", "ter",
	"way", "close", "crescent", "cres", "grove", "gardens", "gdns", "parkway", "pkwy",
	"highway", "hwy", "row", "mews", "walk", "circle", "cir", "trail", "trl", "plaza",
	"hill", "rise", "view", "park", "green", "wharf", "quay", "embankment", "broadway",
	"alley", "path", "pike", "loop", "expressway", "freeway", "turnpike", "heights",
	"strasse", "straße", "str", "weg", "gasse", "platz", "allee", "ring", "damm",
	"straat", "laan", "gracht", "plein", "kade", "singel", "dijk", "steenweg",
	"vej", "gade", "gatan", "vägen", "gata", "veien", "katu", "tie", "polku",
	"nagar", "marg", "salai", "chowk", "colony", "sector", "layout",
};

/* Street words before the name ("12 rue de Rivoli", "Via Roma 12"). */
static const char *const street_pres[] = {
	"rue", "avenue", "av", "boulevard", "bd", "bvd", "chemin", "allée", "impasse", "quai",
	"place", "cours", "route", "via", "viale", "piazza", "piazzale", "corso", "largo",
	"vicolo", "calle", "avenida", "avda", "paseo", "plaza", "carrer", "camino", "ronda",
	"travesía", "rua", "travessa", "praça", "alameda", "estrada", "ulica", "ul", "strada",
	"rambla", "carretera", "jalan", "jl",
};

/* Compound street endings: "Hauptstraße", "Kalverstraat", "Vesterbrogade",
 * "Mannerheimintie". Matched at the end of a word before a house number. */
static const char *const street_ends[] = {
	"straße", "strasse", "str", "weg", "gasse", "platz", "allee", "ring", "damm", "ufer",
	"straat", "laan", "gracht", "plein", "kade", "singel", "dijk", "vej", "gade", "gatan",
	"vägen", "veien", "gata", "katu", "tie", "polku", "kuja", "väylä", "utca",
	"street", "road", "avenue",
};

/* Units and boxes: "Apt 4B", "Suite 200", "Flat 3", "P.O. Box 12". */
static const char *const units[] = {
	"apt", "apartment", "suite", "ste", "flat", "unit", "floor", "fl", "room", "building",
	"bldg", "box", "dept", "piso", "puerta", "étage", "appartement", "wohnung", "stiege",
	"interno", "int", "scala", "lgh", "#",
};

/* Boxes: "P.O. Box 12", "Postfach 12 34", "Apartado 123", "BP 45". */
static const char *const boxes[] = {
	"box", "postfach", "casilla", "apartado", "bp", "cp", "postbus", "postboks", "pobox",
};

/* ---------------------------------------------------------------------- */
/* the gazetteer                                                           */

struct gslot {
	uint32_t off;        /* key bytes in the table's keys */
	uint16_t flags;
	uint8_t len;
	uint8_t tag;         /* 8 more bits of the hash: most misses stop here */
};

/* One open-addressing table; keys are lowercased words. */
struct gtab {
	struct gslot *slots;
	size_t mask, entries;
	char *keys;
	size_t keylen, keycap;
};

/*
 * Two tables, because chat text asks mostly for the same few hundred words
 * ("The", "Thanks", "Is"): `hot` holds the word tables below (with the name
 * flags of those words merged in) and fits in L1/L2; `names` holds the
 * ~100k names and is only probed when its Bloom filter (128 kB, two bits a
 * word) says the word may be there, so most misses cost no cache miss.
 */
#define BLOOM_BITS (1u << 20)
static struct {
	struct gtab hot, names;
	uint64_t *bloom;
	int rc;
} g;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/*
 * The hot words of up to 8 ASCII letters again, direct-mapped by their
 * lowercase bytes read as one integer: "The", "Thanks", "Sorry" (most of
 * the capitals in chat) cost one multiply and one compare, no per-byte
 * hash and no probe. A word that collides is found the slow way.
 */
#define FAST_BITS 11
struct fast_slot {
	uint64_t key;        /* lowercase bytes, zero-padded; 0 = empty */
	uint16_t flags;
};
static struct fast_slot fast[1u << FAST_BITS];

static size_t fast_index(uint64_t key)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - FAST_BITS));
}

static uint64_t hash_word(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static bool key_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static struct gslot *t_slot(const struct gtab *t, const char *w, size_t n, uint64_t h)
{
	uint8_t tag = (uint8_t)(h >> 56);
	size_t i = (size_t)h & t->mask;
	for (;;) {
		struct gslot *s = &t->slots[i];
		if (s->len == 0 || (s->tag == tag && s->len == n && key_eq(t->keys + s->off, w, n)))
			return s;
		i = (i + 1) & t->mask;
	}
}

static int t_init(struct gtab *t, size_t want)
{
	size_t cap = 1024;
	while (cap * 3 < want * 5)   /* load at most 0.6: short probe runs, half the memory of 0.3 */
		cap *= 2;
	t->mask = cap - 1;
	return (t->slots = calloc(cap, sizeof *t->slots)) ? 0 : -1;
}

static int t_add(struct gtab *t, const char *w, size_t n, unsigned flags)
{
	if (n == 0 || n > WORD_MAX)
		return 0;
	uint64_t h = hash_word(w, n);
	struct gslot *s = t_slot(t, w, n, h);
	if (s->len) {
		s->flags |= (uint16_t)flags;
		return 0;
	}
	if (t->entries * 3 >= t->mask * 2)
		return -1;   /* sized at build for the lists; cannot happen */
	if (t->keylen + n > t->keycap) {
		size_t cap = t->keycap ? t->keycap * 2 : 1 << 14;
		char *k = realloc(t->keys, cap);
		if (!k)
			return -1;
		t->keys = k;
		t->keycap = cap;
	}
	memcpy(t->keys + t->keylen, w, n);
	*s = (struct gslot){ (uint32_t)t->keylen, (uint16_t)flags, (uint8_t)n, (uint8_t)(h >> 56) };
	t->keylen += n;
	t->entries++;
	return 0;
}

static bool bloom_has(uint64_t h)
{
	uint32_t a = (uint32_t)(h >> 8) & (BLOOM_BITS - 1), b = (uint32_t)(h >> 32) & (BLOOM_BITS - 1);
	return (g.bloom[a >> 6] >> (a & 63) & 1) && (g.bloom[b >> 6] >> (b & 63) & 1);
}

static void bloom_add(uint64_t h)
{
	uint32_t a = (uint32_t)(h >> 8) & (BLOOM_BITS - 1), b = (uint32_t)(h >> 32) & (BLOOM_BITS - 1);
	g.bloom[a >> 6] |= 1ull << (a & 63);
	g.bloom[b >> 6] |= 1ull << (b & 63);
}

/* Flags of a lowercased word: the hot table, else the names behind the
 * Bloom filter. */
static unsigned g_flags(const char *w, size_t n, uint64_t h)
{
	const struct gslot *s = t_slot(&g.hot, w, n, h);
	if (s->len)
		return s->flags;
	if (!bloom_has(h))
		return 0;
	s = t_slot(&g.names, w, n, h);
	return s->len ? s->flags : 0;
}

/* One name a line, most frequent first; the first `top` lines also get
 * F_TOP. */
static int g_add_blob(const char *blob, unsigned flags, size_t top)
{
	size_t line = 0;
	for (const char *p = blob; *p; line++) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n && n <= WORD_MAX) {
			if (t_add(&g.names, p, n, flags | (line < top ? F_TOP : 0)))
				return -1;
			bloom_add(hash_word(p, n));
		}
		p += n + (e != NULL);
	}
	return 0;
}

static int g_add_hot(const char *w, unsigned flags)
{
	return t_add(&g.hot, w, strlen(w), flags);
}

static int g_add_table(const char *const *t, size_t n, unsigned flags)
{
	for (size_t i = 0; i < n; i++)
		if (g_add_hot(t[i], flags))
			return -1;
	return 0;
}

/* Lengths of each cue and of its last word, set at build. */
static size_t cue_len[RD_ARRAY_LEN(cues)], cue_last[RD_ARRAY_LEN(cues)];

/* The last word of each cue carries F_CUE, so a scan checks whole cues only
 * after a word that can end one. */
static int g_add_cues(void)
{
	for (size_t i = 0; i < RD_ARRAY_LEN(cues); i++) {
		const char *last = strrchr(cues[i].words, ' ');
		last = last ? last + 1 : cues[i].words;
		cue_len[i] = strlen(cues[i].words);
		cue_last[i] = strlen(last);
		if (g_add_hot(last, F_CUE))
			return -1;
	}
	return 0;
}

/* The hot words that are names too carry their name flags. */
static void g_merge_hot(void)
{
	for (size_t i = 0; i <= g.hot.mask; i++) {
		struct gslot *s = &g.hot.slots[i];
		if (!s->len)
			continue;
		const char *w = g.hot.keys + s->off;
		const struct gslot *nm = t_slot(&g.names, w, s->len, hash_word(w, s->len));
		if (nm->len)
			s->flags |= nm->flags;
	}
}

static void g_fill_fast(void)
{
	for (size_t i = 0; i <= g.hot.mask; i++) {
		const struct gslot *s = &g.hot.slots[i];
		uint64_t key = 0;
		if (!s->len || s->len > 8)
			continue;
		memcpy(&key, g.hot.keys + s->off, s->len);
		bool ascii = true;
		for (size_t k = 0; k < s->len; k++)
			ascii &= (((unsigned char)g.hot.keys[s->off + k] | 0x20u) - 'a') < 26u;
		struct fast_slot *f = &fast[fast_index(key)];
		if (f->key)
			f = &fast[fast_index(key) ^ 1];   /* two ways */
		if (ascii && !f->key)
			*f = (struct fast_slot){ key, s->flags };
	}
}

static size_t count_lines(const char *b)
{
	size_t n = 0;
	for (; *b; b++)
		n += *b == '\n';
	return n;
}

static void g_build(void)
{
	size_t want = count_lines(rd_given_blob) + count_lines(rd_surname_blob) + count_lines(rd_words_blob) + 64;
	g.rc = -1;
	if (t_init(&g.names, want) || t_init(&g.hot, 1024) ||
	    !(g.bloom = calloc(BLOOM_BITS / 64, sizeof *g.bloom)))
		return;
	if (g_add_blob(rd_given_blob, F_GIVEN, TOP_GIVEN) || g_add_blob(rd_surname_blob, F_SURNAME, 0) ||
	    g_add_blob(rd_ambig_blob, F_AMBIG, 0) || g_add_blob(rd_words_blob, F_WORD, 0) || g_add_table(titles, RD_ARRAY_LEN(titles), F_TITLE) ||
	    g_add_table(stops, RD_ARRAY_LEN(stops), F_STOP) ||
	    g_add_table(particles, RD_ARRAY_LEN(particles), F_PARTICLE) ||
	    g_add_table(funcs, RD_ARRAY_LEN(funcs), F_FUNC) ||
	    g_add_table(commons, RD_ARRAY_LEN(commons), F_WORD) ||
	    g_add_table(streets, RD_ARRAY_LEN(streets), F_STREET) ||
	    g_add_table(street_pres, RD_ARRAY_LEN(street_pres), F_STREET_PRE) ||
	    g_add_table(units, RD_ARRAY_LEN(units), F_UNIT) ||
	    g_add_table(boxes, RD_ARRAY_LEN(boxes), F_UNIT | F_BOX) || g_add_cues())
		return;
	g_merge_hot();
	g_fill_fast();
	g.rc = 0;
}

int redact_names_init(void)
{
	pthread_once(&g_once, g_build);
	return g.rc;
}

size_t redact_names_memory(size_t *entries)
{
	if (entries)
		*entries = g.names.entries + g.hot.entries;
	return (g.names.mask + 1 + g.hot.mask + 1) * sizeof(struct gslot) + g.names.keycap + g.hot.keycap +
	       BLOOM_BITS / 8;
}

/* ---------------------------------------------------------------------- */
/* words                                                                   */

struct word {
	size_t s, e;         /* bytes in the text */
	char low[WORD_MAX];  /* lowercased */
	size_t n;            /* 0 if longer than WORD_MAX */
	unsigned flags;
	bool cap;            /* starts with a capital */
	bool glued;          /* a digit right after it: "PS5", "A4" are models */
	bool ascii;          /* ASCII letters only (set by word_at) */
};

static bool is_ascii_alpha(unsigned c)
{
	return (c | 0x20u) - 'a' < 26u;
}

static bool is_digitc(unsigned c)
{
	return c - '0' < 10u;
}

static bool is_upper(unsigned c)
{
	return c - 'A' < 26u;
}

static bool is_lowerc(unsigned c)
{
	return c - 'a' < 26u;
}

/* General Punctuation (U+2000-U+206F: curly quotes, dashes) is not a letter. */
static bool punct_at(const unsigned char *s, size_t n, size_t i)
{
	return s[i] == 0xE2 && i + 1 < n && (s[i + 1] == 0x80 || s[i + 1] == 0x81);
}

/* Letter bytes: ASCII letters and every non-ASCII character but punctuation. */
static bool letter_at(const char *t, size_t n, size_t i)
{
	const unsigned char *s = (const unsigned char *)t;
	if (s[i] < 0x80)
		return is_ascii_alpha(s[i]);
	if ((s[i] & 0xC0) == 0x80)
		return true;   /* continuation of a letter */
	return !punct_at(s, n, i) && !(s[i] == 0xC2 && i + 1 < n && s[i + 1] < 0xC0);
}

/* An apostrophe (' or U+2019) or hyphen joining two letters: O'Brien, Jean-Luc. */
static size_t joiner_len(const char *t, size_t n, size_t i)
{
	const unsigned char *s = (const unsigned char *)t;
	size_t k = 0;
	if (s[i] == '\'' || s[i] == '-')
		k = 1;
	else if (i + 2 < n && s[i] == 0xE2 && s[i + 1] == 0x80 && s[i + 2] == 0x99)
		k = 3;
	return k && i + k < n && letter_at(t, n, i + k) && i > 0 && letter_at(t, n, i - 1) ? k : 0;
}

static bool is_cap(const unsigned char *s, size_t n, size_t i)
{
	return is_upper(s[i]) || (s[i] == 0xC3 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9E &&
	                              s[i + 1] != 0x97);
}

/* Lowercase key: ASCII and Latin-1 capitals folded, other bytes as they
 * are; hashed on the way (the same hash as hash_word). */
static void lower_word(const char *t, struct word *w, uint64_t *hp)
{
	size_t len = w->e - w->s;
	uint64_t h = 0xcbf29ce484222325ull;
	w->n = 0;
	if (len > WORD_MAX)
		return;
	const unsigned char *s = (const unsigned char *)t + w->s;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (is_upper(c))
			c |= 0x20;
		else if (c >= 0x80 && i > 0 && s[i - 1] == 0xC3 && c <= 0x9E && c != 0x97)
			c += 0x20;
		else if (c == 0xE2 && i + 2 < len && s[i + 1] == 0x80 && s[i + 2] == 0x99) {
			c = '\'';   /* ’ reads as ' */
			i += 2;
		}
		w->low[w->n++] = (char)c;
		h = (h ^ c) * 0x100000001b3ull;
	}
	*hp = h ^ (h >> 29);
}

/* `hot`: the address scanner needs only the word tables (street words,
 * units), so it never probes the names behind the Bloom filter. */
static unsigned lookup(const struct word *w, uint64_t h, bool hot)
{
	if (!w->n)
		return 0;
	if (hot) {
		const struct gslot *s = t_slot(&g.hot, w->low, w->n, h);
		return s->len ? s->flags : 0;
	}
	return g_flags(w->low, w->n, h);
}

static void word_fill(const char *t, size_t n, struct word *w, bool hot)
{
	const unsigned char *s = (const unsigned char *)t;
	size_t len = w->e - w->s;
	uint64_t key = 0;
	if (w->ascii && len - 1 < 8) {   /* 1..8 bytes (an empty word has no key) */
		if (w->s + 8 <= n) {   /* one load, masked to the word */
			memcpy(&key, s + w->s, 8);
			key &= ~0ull >> (8 * (8 - len));
		} else {
			memcpy(&key, s + w->s, len);
		}
		key |= 0x2020202020202020ull >> (8 * (8 - len));   /* letters only: lowercase */
		const struct fast_slot *f = &fast[fast_index(key)];
		if (f->key != key)
			f = &fast[fast_index(key) ^ 1];
		if (f->key == key) {
			memcpy(w->low, &key, 8);
			w->n = len;
			w->flags = f->flags;
			goto shape;
		}
	}
	uint64_t h = 0;
	lower_word(t, w, &h);
	w->flags = lookup(w, h, hot);
shape:
	if (w->n < 3 || (!w->ascii && memchr(w->low, '\'', w->n)))
		w->flags |= F_NOTNAME;   /* "it's", "Mo": never an unknown name */
	w->cap = is_cap(s, n, w->s);
	w->glued = w->e < n && is_digitc(s[w->e]);
}

/* All capitals, two or more letters ("JOHN", "IL")? Asked only where it
 * matters, so the common word never pays for it. */
static bool word_upper(const char *t, const struct word *w)
{
	if (!w->cap || w->e - w->s < 2)
		return false;
	for (size_t i = w->s; i < w->e; i++)
		if (is_lowerc((unsigned char)t[i]))
			return false;
	return true;
}

/* The word starting at i (a letter); returns false at WORD_MAX+ words too. */
static void word_at(const char *t, size_t n, size_t i, struct word *w, bool hot)
{
	size_t e = i;
	w->ascii = true;
	while (e < n) {
		if (is_ascii_alpha((unsigned char)t[e])) {   /* the common case */
			e++;
			continue;
		}
		if ((unsigned char)t[e] >= 0x80 && letter_at(t, n, e)) {
			w->ascii = false;
			e++;
			continue;
		}
		if (t[e] != '\'' && t[e] != '-' && (unsigned char)t[e] != 0xE2)
			break;
		size_t k = joiner_len(t, n, e);
		if (!k)
			break;
		w->ascii = false;   /* O'Brien, Jean-Luc: the slow path */
		e += k;
	}
	w->s = i;
	w->e = e;
	word_fill(t, n, w, hot);
}

/* Is c one of the few punctuation bytes in `allow` (NULL: none)? */
static bool allowed_punct(const char *allow, char c)
{
	for (; allow && *allow; allow++)
		if (*allow == c)
			return true;
	return false;
}

static bool space_c(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The next word after `from` if only spaces (and at most the punctuation
 * in `allow`) lie between; false otherwise. */
static bool next_word(const char *t, size_t n, size_t from, const char *allow, struct word *w, bool hot)
{
	size_t i = from;
	bool punct = false;
	while (i < n && !letter_at(t, n, i)) {
		if (space_c(t[i])) {
			i++;
			continue;
		}
		if (punct || !allowed_punct(allow, t[i]))
			return false;
		punct = true;
		i++;
	}
	if (i >= n || i - from > 4)
		return false;
	word_at(t, n, i, w, hot);
	return true;
}

/* The word ending before `pos`, with only spaces and at most one of
 * `allow` between. */
static bool prev_word(const char *t, size_t pos, const char *allow, struct word *w, size_t n, bool hot)
{
	size_t i = pos;
	bool punct = false;
	while (i > 0 && !letter_at(t, n, i - 1)) {
		char c = t[i - 1];
		if (space_c(c)) {
			i--;
			continue;
		}
		if (punct || !allowed_punct(allow, c))
			return false;
		punct = true;
		i--;
	}
	if (i == 0 || pos - i > 4)
		return false;
	size_t e = i;
	while (i > 0 && (letter_at(t, n, i - 1) || (i >= 2 && joiner_len(t, n, i - 1))))
		i--;
	while (i < e && (t[i] & 0xC0) == 0x80)
		i++;
	w->s = i;
	w->e = e;
	w->ascii = true;
	for (size_t k = i; k < e; k++)
		w->ascii &= is_ascii_alpha((unsigned char)t[k]);
	word_fill(t, n, w, hot);
	return true;
}

/* ---------------------------------------------------------------------- */
/* cues and sentence starts                                                */

/* Does the text before `pos` end with a cue? 0 none, 1 weak, 2 strong. */
static int cue_before(const char *t, size_t n, size_t pos)
{
	struct word ws[CUE_WORDS];
	if (!prev_word(t, pos, ",:", &ws[0], n, false) || !(ws[0].flags & (F_CUE | F_TITLE)))
		return 0;
	if (ws[0].flags & F_TITLE) {
		/* a whole word; a one-letter title ("M.") needs its dot */
		bool whole = ws[0].s == 0 || !is_digitc((unsigned char)t[ws[0].s - 1]);
		return whole && (ws[0].n > 1 || (ws[0].e < n && t[ws[0].e] == '.')) ? 2 : 0;
	}
	size_t have = 1;
	while (have < CUE_WORDS && prev_word(t, ws[have - 1].s, NULL, &ws[have], n, false))
		have++;
	int best = 0;
	for (size_t c = 0; c < RD_ARRAY_LEN(cues); c++) {
		if (cue_last[c] != ws[0].n || memcmp(cues[c].words + cue_len[c] - cue_last[c], ws[0].low, ws[0].n) != 0)
			continue;
		const char *p = cues[c].words + cue_len[c];
		size_t k = 0;
		bool ok = true;
		while (ok && p > cues[c].words) {
			const char *b = p;
			while (b > cues[c].words && b[-1] != ' ')
				b--;
			ok = k < have && ws[k].n == (size_t)(p - b) && memcmp(ws[k].low, b, ws[k].n) == 0;
			k++;
			p = b > cues[c].words ? b - 1 : b;
		}
		if (ok)
			best = cues[c].strong ? 2 : best > 1 ? best : 1;
	}
	return best;
}

/* At a sentence start a capital says nothing: start of text or line, or
 * after . ! ? : (and quotes or brackets). */
static bool sentence_start(const char *t, size_t pos)
{
	size_t i = pos;
	while (i > 0 && (space_c(t[i - 1]) || t[i - 1] == '"' || t[i - 1] == '(' || t[i - 1] == '\''))
		i--;
	if (i == 0)
		return true;
	char c = t[i - 1];
	return c == '.' || c == '!' || c == '?' || c == '\n' || c == ':' || c == '-' || c == '*' ||
	       (unsigned char)c >= 0x80;
}

/* ---------------------------------------------------------------------- */
/* PERSON                                                                  */

/* A capitalised word that is in no list at all: a rare name, most likely
 * ("Srinivas", "Okonkwo"), since dictionary words are in the lists. */
static bool unknown_word(unsigned f)
{
	return !(f & (F_GIVEN | F_SURNAME | F_WORD | F_STOP | F_FUNC | F_STREET | F_UNIT | F_TITLE |
	              F_STREET_PRE | F_NOTNAME));
}

/* Is w a name word in this position? */
static bool nameish(const struct word *w, bool lower)
{
	if (w->n == 0 || (w->flags & (F_FUNC | F_TITLE)) == F_FUNC || w->glued)
		return false;
	if (lower)   /* known, or a word in no list at all ("okonkwo") */
		return !(w->flags & (F_STOP | F_WORD)) &&
		       ((w->flags & (F_GIVEN | F_SURNAME)) != 0 || unknown_word(w->flags));
	return w->cap && !(w->flags & F_STOP);
}

/* Reads the name words after `first` into [*s, *e): capitalised (or, in
 * lowercase text, known) words, particles between them. Returns the count. */
static size_t name_run(const char *t, size_t n, const struct word *first, bool lower,
                       struct word *last)
{
	size_t count = 1;
	*last = *first;
	struct word w, p;
	size_t at = first->e;
	while (count < NAME_WORDS && next_word(t, n, at, NULL, &w, false)) {
		/* particles: "van", "de la", "bin", lowercase between two names */
		p = w;
		for (int k = 0; k < 2 && (p.flags & F_PARTICLE) && !p.cap && next_word(t, n, p.e, NULL, &p, false);)
			k++;
		if ((w.flags & F_PARTICLE) && !w.cap && p.s > w.s && !(p.flags & F_PARTICLE && !p.cap) &&
		    nameish(&p, lower) && (lower ? (p.flags & F_SURNAME) != 0 : p.cap)) {
			w = p;
		} else if (!nameish(&w, lower) || (lower && (w.flags & F_FUNC))) {
			break;
		}
		if ((w.flags & (F_GIVEN | F_SURNAME)) == 0 && (w.flags & (F_STREET | F_UNIT | F_WORD | F_STOP)))
			break;   /* "John Street" is a street, "Ana Monitor" a name and a word */
		*last = w;
		at = w.e;
		count++;
	}
	return count;
}

/* The decision for a name run of `count` words from `first` to `last`;
 * `upper`: the first is all capitals ("JOHN" needs a cue, as an acronym would). */
static bool person_ok(const struct word *first, const struct word *last, size_t count, int cue,
                      bool start, bool lower, bool upper)
{
	unsigned f = first->flags, l = last->flags;
	bool known = (f & (F_GIVEN | F_SURNAME)) != 0;
	if (!cue && (f & F_FUNC) && (count == 1 || !(f & F_GIVEN)))
		return false;   /* "Mi chiamo", "Je suis"; but "Will Smith" */
	if (cue == 2)   /* "my name is Will", not "my name is on the account" */
		return !(f & F_FUNC) || (f & F_GIVEN);
	if (cue == 1) {   /* weak: a given name, an unknown word, or two names */
		if (lower) {   /* speech: a plain name, or a word no list holds ("yashwant") */
			if (f & (F_FUNC | F_STOP | F_WORD))
				return false;
			if (f & F_AMBIG)   /* "i'm fine", but "this is grace okafor" */
				return count > 1 && (l & F_SURNAME) && !(l & (F_AMBIG | F_FUNC));
			return known || unknown_word(f);
		}
		return (f & F_GIVEN) || unknown_word(f) || (count > 1 && known);
	}
	if (lower || upper)
		return false;
	if (count > 1) {
		bool second_sur = (l & F_SURNAME) || unknown_word(l);
		bool second_plain = !(l & (F_AMBIG | F_STOP));
		if (!(f & F_GIVEN))
			return (f & F_SURNAME) && !(f & (F_AMBIG | F_STOP)) && (l & F_SURNAME) && !start;
		if (f & F_STOP)
			return second_sur && second_plain;
		if ((f & F_AMBIG) && start)
			return second_sur && second_plain;   /* "Grace Okafor", not "See Gate 22" */
		return second_sur || (l & F_GIVEN);
	}
	if (!(f & F_TOP) || (f & F_STOP))
		return false;
	return !(f & F_AMBIG) || !start;
}

/* "Mr Smith", "Dr. Patel": the title stays, the name after it goes.
 * Returns the name's end, or 0. */
static size_t title_name(const char *t, size_t n, const struct word *title, bool lower,
                         redact_span_fn fn, void *ctx, int *rc)
{
	size_t at = title->e < n && t[title->e] == '.' ? title->e + 1 : title->e;
	struct word w, last;
	if (title->n == 1 && at == title->e)
		return 0;   /* "M. Dupont", but not the M of "000M US" */
	if (!next_word(t, n, at, NULL, &w, false) || !(w.cap || lower) || (w.flags & F_FUNC))
		return 0;
	name_run(t, n, &w, lower, &last);
	*rc = fn(ctx, w.s, last.e);
	return last.e;
}

/* A name starting with the word at i (capitalised, or after a cue in
 * lowercase text). Emits its span and returns its end; returns 0 if there
 * is none, with *skip set past the word. */
static size_t person_at(const char *t, size_t n, size_t i, bool lower, redact_span_fn fn, void *ctx,
                        int *rc, size_t *skip)
{
	struct word first, last;
	word_at(t, n, i, &first, false);
	*skip = first.e > i ? first.e : i + 1;
	if (first.n == 0)
		return 0;
	if (first.flags & F_TITLE)
		return title_name(t, n, &first, lower, fn, ctx, rc);
	if (!lower && !first.cap)
		return 0;
	bool known = (first.flags & (F_GIVEN | F_SURNAME)) != 0;
	if (first.glued || ((first.flags & F_FUNC) && !(first.flags & F_GIVEN)))
		return 0;   /* the common case in chat: "The", "It", "My" (a surname too) */
	int cue = cue_before(t, n, first.s);
	if (!known && (cue == 0 || (cue == 1 && (!unknown_word(first.flags) || first.n < 3))))
		return 0;
	if (lower && !cue)
		return 0;
	size_t count = name_run(t, n, &first, lower, &last);
	if (!person_ok(&first, &last, count, cue, !lower && sentence_start(t, first.s), lower,
	               word_upper(t, &first)))
		return 0;
	*rc = fn(ctx, first.s, last.e);
	return last.e;
}

/* Can a name start at i: a capital (or a Latin-1 lead byte) after a
 * non-word byte, followed by a letter (one-letter words such as "I" are
 * never names)? */
static bool name_start_at(const char *t, size_t n, size_t i)
{
	const unsigned char *s = (const unsigned char *)t;
	if (i + 1 >= n || s[i + 1] == ' ')
		return false;   /* "I", "A": the most common capitals in chat */
	if (is_upper(s[i]) && i > 0 && s[i - 1] == ' ' && is_ascii_alpha(s[i + 1]))
		return true;   /* the common case: " Word" */
	if (!is_cap(s, n, i))
		return false;
	if (i > 0 && (letter_at(t, n, i - 1) || is_digitc(s[i - 1]) || s[i - 1] == '_'))
		return false;
	return s[i] >= 0x80 || letter_at(t, n, i + 1) || joiner_len(t, n, i + 1);   /* O'Brien */
}

/* Bit k set: t[from + k] is an ASCII capital or 0xC3 (a Latin-1 letter's
 * lead byte), for the 16 bytes from `from` (fewer at the end; the last
 * block of a text of 16 bytes or more is read overlapping its neighbour). */
static inline unsigned cap_mask(const char *t, size_t n, size_t from)
{
#ifdef __SSE2__
	if (n >= 16) {
		size_t at = from + 16 <= n ? from : n - 16;
		const __m128i a = _mm_set1_epi8('A' - 1), z = _mm_set1_epi8('Z' + 1);
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(t + at));
		__m128i up = _mm_and_si128(_mm_cmpgt_epi8(x, a), _mm_cmplt_epi8(x, z));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(up, _mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xC3))));
		return m >> (from - at);
	}
#endif
	unsigned m = 0;
	for (size_t k = 0; k < 16 && from + k < n; k++) {
		unsigned char c = (unsigned char)t[from + k];
		if (is_upper(c) || c == 0xC3)
			m |= 1u << k;
	}
	return m;
}

/* The same for the 64 bytes from `from` (fewer at the end): one bit walk
 * per 64 bytes instead of four. A text of 64 bytes or more reads its last
 * block overlapping its neighbour; a shorter one goes 16 bytes at a time. */
static inline uint64_t cap_mask64(const char *t, size_t n, size_t from)
{
#ifdef __SSE2__
	if (n >= 64) {
		size_t at = from + 64 <= n ? from : n - 64;
		const __m128i a = _mm_set1_epi8('A' - 1), z = _mm_set1_epi8('Z' + 1), c3 = _mm_set1_epi8((char)0xC3);
		uint64_t m = 0;
		for (int k = 0; k < 4; k++) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(t + at + 16 * k));
			__m128i up = _mm_and_si128(_mm_cmpgt_epi8(x, a), _mm_cmplt_epi8(x, z));
			m |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(up, _mm_cmpeq_epi8(x, c3))) << (16 * k);
		}
		return m >> (from - at);
	}
#endif
	uint64_t m = 0;
	for (size_t k = 0; k < 64 && from + k < n; k += 16)
		m |= (uint64_t)cap_mask(t, n, from + k) << k;
	return m;
}

/* Bytes 0x80 where x holds an ASCII letter (all bytes of x < 0x80); the
 * range test of "Bit Twiddling Hacks" (hasbetween) on x lowercased. */
static uint64_t letters8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, low7 = ones * 127;
	uint64_t y = x | ones * 0x20;
	return (ones * (127 + 'z' + 1) - (y & low7)) & ~y & ((y & low7) + ones * (127 - ('a' - 1))) & (ones * 128);
}

/* A shortcut for the capitals that start most chat sentences ("The",
 * "Thanks", "It"): an ASCII word of under 8 letters that the fast table
 * knows as a function word and not as a given name, or as no name at all
 * at a sentence start. *len: its length. */
static bool plain_func_word(const char *t, size_t n, size_t i, size_t *len)
{
	uint64_t x;
	if (i + 8 > n)
		return false;
	memcpy(&x, t + i, 8);
	if (x & 0x8080808080808080ull)
		return false;
	uint64_t nonletter = ~letters8(x) & 0x8080808080808080ull;
	if (!nonletter)
		return false;   /* 8 letters or more: the slow way */
	size_t l = (size_t)__builtin_ctzll(nonletter) / 8;
	char after = t[i + l];
	if (l < 2 || after == '\'' || after == '-' || (after >= '0' && after <= '9'))
		return false;
	uint64_t mask = ~0ull >> (8 * (8 - l)), key = (x & mask) | (0x2020202020202020ull & mask);
	const struct fast_slot *f = &fast[fast_index(key)];
	if (f->key != key)
		f = &fast[fast_index(key) ^ 1];
	*len = l;
	if (f->key != key)
		return false;
	if ((f->flags & F_FUNC) && !(f->flags & F_GIVEN))
		return true;
	/* no name at all, where no cue can come before it ("Perfect, thanks") */
	return !(f->flags & (F_GIVEN | F_SURNAME | F_TITLE)) && (i == 0 || t[i - 1] == '\n' ||
	       (i >= 2 && t[i - 1] == ' ' && (t[i - 2] == '.' || t[i - 2] == '!' || t[i - 2] == '?')));
}

/*
 * Written text: each capital that starts a word of two or more letters is
 * looked at. SSE2 marks the capitals 16 bytes at a time and the bits are
 * walked in place: chat text has a capital every ~60 bytes (sentence
 * starts, "I"), so the per-capital work, not the scan, is what costs.
 * Returns 1 without a finding if the text has no ASCII capital at all (it
 * is then read as lowercase speech), else 0 or fn's error.
 */
static int scan_written(const char *t, size_t n, redact_span_fn fn, void *ctx)
{
	const unsigned char *s = (const unsigned char *)t;
	int rc = 0;
	bool saw = false;
	size_t next = 0;   /* scanning resumes here (after a name) */
	for (size_t from = 0; from < n && rc == 0; from += 64) {
		uint64_t m = cap_mask64(t, n, from);
		while (m && rc == 0) {
			size_t i = from + (size_t)__builtin_ctzll(m);
			m &= m - 1;
			saw |= is_upper(s[i]);
			size_t skip;
			if (i < next || !name_start_at(t, n, i))
				continue;
			if (plain_func_word(t, n, i, &skip)) {
				next = i + skip;
				continue;
			}
			size_t e = person_at(t, n, i, false, fn, ctx, &rc, &skip);
			next = e ? e : skip;
		}
	}
	return rc ? rc : saw ? 0 : 1;
}

/* Does the text have an ASCII capital? */
static bool has_capital(const char *t, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i a = _mm_set1_epi8('A' - 1), z = _mm_set1_epi8('Z' + 1);
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(t + i));
		if (_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, a), _mm_cmplt_epi8(x, z))))
			return true;
	}
#endif
	for (; i < n; i++)
		if (is_upper((unsigned char)t[i]))
			return true;
	return false;
}

/* Lowercase text: every word that ends a cue or is a title opens a look at
 * the next word. */
static int scan_lower(const char *t, size_t n, redact_span_fn fn, void *ctx)
{
	int rc = 0;
	size_t i = 0;
	while (i < n && rc == 0) {
		while (i < n && !letter_at(t, n, i))
			i++;
		if (i >= n)
			break;
		struct word w, nx;
		word_at(t, n, i, &w, true);   /* cues and titles are all hot words */
		i = w.e > i ? w.e : i + 1;
		if (!(w.flags & (F_CUE | F_TITLE)))
			continue;
		size_t at = w.e < n && t[w.e] == '.' ? w.e + 1 : w.e;
		if (!next_word(t, n, at, ",:", &nx, false))
			continue;
		size_t skip, e = person_at(t, n, (w.flags & F_TITLE) ? w.s : nx.s, true, fn, ctx, &rc, &skip);
		if (e)
			i = e;
	}
	return rc;
}

int redact_scan_person(const char *t, size_t n, bool lower, redact_span_fn fn, void *ctx)
{
	if (g.rc || n == 0)
		return g.rc;
	int rc = lower ? 1 : scan_written(t, n, fn, ctx);
	return rc == 1 ? scan_lower(t, n, fn, ctx) : rc;
}

/* ---------------------------------------------------------------------- */
/* ADDRESS                                                                 */

/* Postcode shapes: 'A' a letter, '9' a digit, ' ' an optional space, other
 * bytes literal. Longest match wins; it must end at a word boundary. */
static const char *const postcodes[] = {
	"AA9A 9AA", "AA99 9AA", "AA9 9AA", "A9A 9AA", "A99 9AA", "A9 9AA",   /* UK */
	"A9A 9A9",                                                            /* Canada */
	"9999 AA",                                                            /* Netherlands */
	"99999-9999", "99999-999", "9999-999", "999-9999", "99-999",          /* US+4, BR, PT, JP, PL */
	"999 999", "99999", "9999",                                           /* IN, DE FR IT ES US, AT CH DK AU */
};

static size_t shape_at(const char *t, size_t n, size_t i, const char *shape, bool lower)
{
	size_t k = i;
	for (const char *p = shape; *p; p++) {
		unsigned char c = k < n ? (unsigned char)t[k] : 0;
		if (*p == ' ') {
			k += c == ' ';
			continue;
		}
		bool ok = *p == 'A' ? (is_upper(c) || (lower && is_lowerc(c))) : *p == '9' ? is_digitc(c) : c == (unsigned char)*p;
		if (!ok)
			return 0;
		k++;
	}
	if (k < n && (is_ascii_alpha((unsigned char)t[k]) || is_digitc((unsigned char)t[k])))
		return 0;
	return k - i;
}

static size_t postcode_at(const char *t, size_t n, size_t i, bool lower)
{
	if (i > 0 && (is_ascii_alpha((unsigned char)t[i - 1]) || is_digitc((unsigned char)t[i - 1])))
		return 0;
	size_t best = 0;
	for (size_t p = 0; p < RD_ARRAY_LEN(postcodes); p++) {
		size_t l = shape_at(t, n, i, postcodes[p], lower);
		if (l > best)
			best = l;
	}
	return best;
}

/* A house number at i: 1-5 digits, an optional letter (221B), an optional
 * range or fraction (12-14, 12/3). Returns its end, or 0. */
static size_t house_number(const char *t, size_t n, size_t i)
{
	size_t k = i;
	if (i > 0 && (is_digitc((unsigned char)t[i - 1]) || is_ascii_alpha((unsigned char)t[i - 1]) ||
	              t[i - 1] == '.' || t[i - 1] == ',' || t[i - 1] == ':' || t[i - 1] == '/' ||
	              t[i - 1] == '-' || t[i - 1] == '+' || t[i - 1] == '$' || (unsigned char)t[i - 1] >= 0x80))
		return 0;   /* inside a number, a version, a price (£, € end in >= 0x80) */
	while (k < n && is_digitc((unsigned char)t[k]))
		k++;
	if (k - i > 5)
		return 0;
	if (k + 1 < n && (t[k] == '-' || t[k] == '/') && is_digitc((unsigned char)t[k + 1])) {
		k++;
		while (k < n && is_digitc((unsigned char)t[k]))
			k++;
	}
	if (k < n && is_ascii_alpha((unsigned char)t[k]) && (k + 1 >= n || !letter_at(t, n, k + 1)))
		k++;   /* 221B */
	if (k < n && (letter_at(t, n, k) || is_digitc((unsigned char)t[k]) || t[k] == ':' || t[k] == '.'))
		return t[k] == '.' && (k + 1 >= n || t[k + 1] == ' ') ? k : 0;
	return k;
}

/* A word of a street name: a capitalised word, an ordinal (5th), or any
 * non-function word in lowercase text. */
static bool street_name_word(const struct word *w, bool lower)
{
	if (w->n == 0)
		return false;
	return w->cap || (lower && !(w->flags & F_FUNC)) || (w->flags & F_PARTICLE);
}

/* "221B Baker Street", "350 5th Avenue": number, name words, street word. */
static size_t street_after(const char *t, size_t n, size_t num_end, bool lower)
{
	size_t at = num_end;
	struct word w;
	for (int k = 0; k <= STREET_WORDS; k++) {
		size_t i = at;
		while (i < n && space_c(t[i]))
			i++;
		if (i == at && k > 0)
			return 0;
		if (i < n && is_digitc((unsigned char)t[i])) {   /* an ordinal: 5th, 42nd */
			size_t d = i;
			while (d < n && is_digitc((unsigned char)t[d]))
				d++;
			if (d + 2 > n || !is_ascii_alpha((unsigned char)t[d]) || !is_ascii_alpha((unsigned char)t[d + 1]))
				return 0;
			at = d + 2;
			continue;
		}
		if (i >= n || !letter_at(t, n, i))
			return 0;
		word_at(t, n, i, &w, true);
		if (k > 0 && (w.flags & F_STREET) && (w.cap || lower || w.n <= 4))
			return w.e < n && t[w.e] == '.' ? w.e + 1 : w.e;
		if (!street_name_word(&w, lower) && !(k == 0 && (w.flags & F_STREET_PRE)))
			return 0;
		if (k == 0 && (w.flags & F_STREET_PRE))
			return 0;   /* left to street_pre_after */
		at = w.e;
	}
	return 0;
}

/* "12 rue de Rivoli", "5, Calle Mayor": number, street word, name words. */
static size_t street_pre_after(const char *t, size_t n, size_t num_end, bool lower)
{
	struct word w;
	if (!next_word(t, n, num_end, ",", &w, true) || !(w.flags & F_STREET_PRE))
		return 0;
	size_t end = 0, at = w.e < n && t[w.e] == '.' ? w.e + 1 : w.e;
	for (int k = 0; k < STREET_WORDS && next_word(t, n, at, NULL, &w, true); k++) {
		if (!(w.flags & F_PARTICLE) && !(w.cap || (lower && !(w.flags & F_FUNC))))
			break;
		if (!(w.flags & F_PARTICLE))
			end = w.e;
		at = w.e;
	}
	return end;
}

/* Does the full gazetteer (not only the hot table) know w as a word or a
 * name? Asked only for the rare word with a compound street ending. */
static bool known_word(const char *t, size_t n, const struct word *w)
{
	struct word full = *w;
	word_fill(t, n, &full, false);
	return (full.flags & (F_WORD | F_FUNC | F_STOP | F_GIVEN | F_SURNAME)) != 0;
}

static bool ends_with(const struct word *w, const char *suf)
{
	size_t l = strlen(suf);
	return w->n > l && memcmp(w->low + w->n - l, suf, l) == 0;
}

/* Words before the number (`before` is the one right before it):
 * "Hauptstraße 5", "Via Roma 12", "Baker Str. 5". Returns the street's
 * start, or (size_t)-1. */
static size_t street_before(const char *t, size_t n, const struct word *before, bool lower)
{
	struct word w[STREET_WORDS];
	/* most numbers follow a lowercase word ("in 3 days", "room 12") and
	 * stop here */
	if (!(before->cap || lower))
		return (size_t)-1;
	w[0] = *before;
	size_t pos = w[0].s, have = 1;
	while (have < STREET_WORDS && prev_word(t, pos, NULL, &w[have], n, true)) {
		pos = w[have].s;
		have++;
	}
	/* a compound ending only in a word no list knows: "Kaiserring 5", but
	 * not "During 1971" or "Spring 2024" */
	for (size_t e = 0; e < RD_ARRAY_LEN(street_ends); e++)
		if ((ends_with(&w[0], street_ends[e]) && !known_word(t, n, &w[0])) ||
		    strcmp(w[0].low, street_ends[e]) == 0)
			return have > 1 && (w[0].flags & F_STREET) && (w[1].cap || lower) ? w[1].s : w[0].s;
	/* prefix order: the street word, then name words, then the number */
	for (size_t k = 1; k < have; k++) {
		if (w[k].flags & F_STREET_PRE)
			return (w[k].cap || lower) ? w[k].s : (size_t)-1;
		if (!street_name_word(&w[k - 1], lower))
			break;
	}
	if (have >= 2 && (w[0].flags & F_STREET) && street_name_word(&w[1], lower) && w[0].cap)
		return w[1].s;   /* "Baker Street 5" */
	return (size_t)-1;
}

/* "Apt 4B", "Suite 200", "Flat 3", "#12", "P.O. Box 123" at i; its end or 0. */
static size_t unit_at(const char *t, size_t n, size_t i)
{
	struct word w;
	size_t k = i;
	while (k < n && space_c(t[k]))
		k++;
	if (k < n && t[k] == '#') {
		size_t e = house_number(t, n, k + 1);
		return e ? e : 0;
	}
	if (k >= n || !letter_at(t, n, k))
		return 0;
	word_at(t, n, k, &w, true);
	if (!(w.flags & F_UNIT) && !(w.n == 2 && memcmp(w.low, "po", 2) == 0) && !(w.n == 1 && w.low[0] == 'p'))
		return 0;
	size_t e = w.e;
	/* "P.O. Box", "PO Box" */
	while (e < n && (t[e] == '.' || t[e] == ' ' || is_ascii_alpha((unsigned char)t[e])) && e - w.e < 8 &&
	       !is_digitc((unsigned char)t[e]))
		e++;
	while (e > w.e && !is_ascii_alpha((unsigned char)t[e - 1]) && t[e - 1] != '.')
		e--;
	size_t j = e;
	while (j < n && (space_c(t[j]) || t[j] == '.' || t[j] == '#' || t[j] == ':'))
		j++;
	if (j >= n || !(is_digitc((unsigned char)t[j]) || (is_ascii_alpha((unsigned char)t[j]) &&
	                                                   (j + 1 >= n || !letter_at(t, n, j + 1)))))
		return 0;
	while (j < n && (is_digitc((unsigned char)t[j]) || is_ascii_alpha((unsigned char)t[j]) || t[j] == '-'))
		j++;
	return (w.flags & F_UNIT) || e - w.s > 3 ? j : 0;
}

/* One line of the block after the street: a unit, a place with a postcode
 * ("London NW1 6XE", "Springfield, IL 62704", "75001 Paris"), or, at the
 * end of a sentence, a place alone. Returns its end, or 0. */
static size_t place_line(const char *t, size_t n, size_t i, bool lower, bool *postcode)
{
	size_t u = unit_at(t, n, i);
	if (u)
		return u;
	size_t k = i, end = 0;
	int words = 0;
	*postcode = false;
	while (k < n && words < 6) {
		while (k < n && space_c(t[k]))
			k++;
		if (k >= n)
			break;
		size_t pc = postcode_at(t, n, k, lower);
		if (pc) {
			*postcode = true;
			k += pc;
			end = k;
			words++;
			continue;
		}
		if (!letter_at(t, n, k) && !(t[k] == '-' && end))
			break;
		if (t[k] == '-') {
			k++;
			continue;
		}
		struct word w;
		word_at(t, n, k, &w, true);
		if (!(w.cap || lower) || ((w.flags & F_FUNC) && !word_upper(t, &w)))
			break;   /* but "IL", "DC": state codes */
		k = w.e;
		end = k;
		words++;
	}
	if (!end)
		return 0;
	if (*postcode)
		return end;
	size_t j = end;
	while (j < n && space_c(t[j]))
		j++;
	bool line_end = j >= n || t[j] == '\n' || t[j] == '.' || t[j] == '!' || t[j] == '?' || t[j] == ',' ||
	                t[j] == ';' || t[j] == ')';
	return line_end && words <= 3 && !lower ? end : 0;
}

/* After the street: units and place lines, joined by ", " or a newline. */
static size_t block_after(const char *t, size_t n, size_t e, bool lower)
{
	bool had_postcode = false;
	for (int lines = 0; lines < 5; lines++) {
		size_t i = e, nl = 0;
		while (i < n && (space_c(t[i]) || t[i] == ',' || t[i] == '\n')) {
			nl += t[i] == '\n';
			i++;
		}
		if (i >= n || nl > 1)
			break;
		bool pc = false;
		size_t u = place_line(t, n, i, lower, &pc);
		if (!u)
			break;
		if (had_postcode && !pc && !unit_at(t, n, i)) {
			/* a country after the postcode line only */
			if (u - i > 24)
				break;
		}
		had_postcode |= pc;
		e = u;
	}
	return e;
}

/* Units written before the number: "Flat 3, 10 Downing St", "Apt 4B 12 Main St". */
static size_t unit_before(const char *t, size_t n, size_t start)
{
	size_t lo = start > 24 ? start - 24 : 0;
	for (size_t i = lo; i < start; i++) {
		if (i > 0 && letter_at(t, n, i - 1))
			continue;
		size_t u = unit_at(t, n, i);
		if (!u || u > start)
			continue;
		size_t j = u;
		while (j < start && (space_c(t[j]) || t[j] == ','))
			j++;
		if (j == start)
			return i;
	}
	return start;
}

/* "P.O. Box 123", "Postfach 12": a box word `w` right before the run at d
 * ending at ne. Returns the box's start, or d. */
static size_t box_before(const char *t, size_t n, size_t d, size_t ne, const struct word *w)
{
	struct word p;
	if (!(w->flags & F_BOX))
		return d;
	/* "Box 3 of 5" is no address: an English box is a P.O. Box */
	if (w->n == 3 && memcmp(w->low, "box", 3) == 0 &&
	    !(prev_word(t, w->s, ".", &p, n, true) && ((p.n == 2 && memcmp(p.low, "po", 2) == 0) ||
	                                         (p.n == 1 && p.low[0] == 'o') ||
	                                         (p.n == 6 && memcmp(p.low, "office", 6) == 0))))
		return d;
	for (size_t i = d > 16 ? d - 16 : 0; i < d; i++)
		if ((i == 0 || !letter_at(t, n, i - 1)) && letter_at(t, n, i) && unit_at(t, n, i) == ne)
			return i;
	return d;
}

/* The address around the digit run at d, whose house number ends at ne
 * (house_number, not 0): its span, or false. */
static bool address_at(const char *t, size_t n, size_t d, size_t ne, bool lower, size_t *s, size_t *e)
{
	size_t end = street_after(t, n, ne, lower);
	if (!end)
		end = street_pre_after(t, n, ne, lower);
	size_t start = d;
	if (!end) {
		struct word before;   /* read once for both: the street, or a box */
		if (!prev_word(t, d, ",.:#", &before, n, true))
			return false;
		size_t b = street_before(t, n, &before, lower);
		if (b == (size_t)-1) {
			b = box_before(t, n, d, ne, &before);
			if (b == d)
				return false;
		}
		start = b;
		end = ne;
	}
	size_t u = unit_at(t, n, end);
	if (u)
		end = u;
	*s = unit_before(t, n, start);
	*e = block_after(t, n, end, lower);
	return true;
}

/* The address, if any, at each digit run starting in [from, to); *i
 * moves past what was read. */
static int scan_digits(const char *t, size_t n, size_t from, size_t to, int *low, size_t *i,
                       redact_span_fn fn, void *ctx)
{
	size_t d = from > *i ? from : *i;
	while (d < to) {
		const char *p = redact_next_digit(t + d, t + to);
		if (p >= t + to)
			break;
		size_t s, e;
		d = (size_t)(p - t);
		size_t ne = house_number(t, n, d);   /* read once: address_at takes it */
		if (ne && *low < 0)
			*low = !has_capital(t, n);
		if (ne && *low >= 0 && address_at(t, n, d, ne, *low == 1, &s, &e)) {
			int rc = fn(ctx, s, e);
			if (rc)
				return rc;
			d = e > d ? e : d + 1;
			*i = d;
			continue;
		}
		while (d < n && is_digitc((unsigned char)t[d]))
			d++;
	}
	*i = d > *i ? d : *i;
	return 0;
}

int redact_scan_address(const char *t, size_t n, bool lower, const struct redact_range *digits,
                        size_t ndigits, redact_span_fn fn, void *ctx)
{
	if (g.rc || n == 0)
		return g.rc;
	int low = lower ? 1 : -1;   /* -1: not looked at yet */
	size_t i = 0;
	if (!digits)
		return scan_digits(t, n, 0, n, &low, &i, fn, ctx);
	for (size_t k = 0; k < ndigits; k++) {
		int rc = scan_digits(t, n, digits[k].first, digits[k].last + 1, &low, &i, fn, ctx);
		if (rc)
			return rc;
	}
	return 0;
}
