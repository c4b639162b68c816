#!/usr/bin/env python3
"""
make_corpus.py -- writes tests/eval/corpus.tsv, the labelled evaluation set.

Every value below comes from a documented format or a published test value,
never from redactd's output:
  - phones: fictional/drama ranges and the formats of each national plan
    (Ofcom 07700 900xxx / 020 7946 0xxx, NANP 555-01xx, ACMA 0491 570 xxx,
    ARCEP, AGCOM, BNetzA, CNMC, ComReg, TRAI, Anatel numbering plans);
  - cards: the public test numbers of the card networks and payment
    processors (Visa 4111..., Mastercard 5555...4444 and 2-series, Amex
    378282246310005, Discover, Diners, JCB, UnionPay);
  - IBANs: the SWIFT IBAN registry examples per country;
  - IPs: the documentation ranges of RFC 5737 and RFC 3849;
  - emails: RFC 5322/6531 shapes with example domains (RFC 2606);
  - negatives: dates, times, prices, versions, ISBNs (ISO 2108 examples),
    year ranges, postcodes, UUIDs, scores, quantities;
  - names and addresses: corpus_names.py (read its honesty note).

Columns: kind (pos|neg), channel, entity, form (written|spoken), value,
text. A positive's value must vanish from the output and be covered by a
finding of that entity; a negative's value must come out unchanged. For a
negative, entity names the entity it could be mistaken for.
Deterministic: run it again and the file is identical.
"""
import os
import random

rng = random.Random(20261122)
rows = []
CHANNELS = ["web", "whatsapp", "sms", "email", "other", "voice"]


def add(kind, entity, value, text, channel=None, form="written"):
    assert value in text, (value, text)
    assert "\t" not in text and "\n" not in text
    ch = channel or CHANNELS[len(rows) % len(CHANNELS)]
    rows.append((kind, ch, entity, form, value, text))


GENERIC = [
    "{v}",
    "Hi, you can reach me at {v}, thanks.",
    "my details: {v}",
    "Please use {v} for this.",
    "Contact: {v}.",
    "ok so it's {v} if you need it",
    "({v})",
    "I wrote {v} in the form yesterday!",
    "New one is {v}; the old one is gone.",
    "\"{v}\" - that's the right one",
]


def generic(kind, entity, values, templates=GENERIC, channel=None):
    for i, v in enumerate(values):
        t = templates[i % len(templates)]
        add(kind, entity, v, t.format(v=v), channel)


# ---------------------------------------------------------------- EMAIL
emails = [
    "jane.doe+tag@mail.example.co.uk", "john@example.com", "j.smith@example.org",
    "o'brien@example.ie", "anne-marie@sub.domain.example.net", "first_last@example.io",
    "user+newsletter@example.com", "USER@EXAMPLE.COM", "x@example.de",
    "jörg.müller@example.de", "用户@例子.广告", "θσερ@εχαμπλε.ψομ", "info@xn--bcher-kva.example",
    "support@xn--80ak6aa92e.com", "a.b.c.d@e.f.example.com", "name.surname@example.co.jp",
    "12345@example.com", "test.email.with+symbol@example.com", "very.common@example.com",
    "disposable.style.email.with+symbol@example.com", "other.email-with-hyphen@example.com",
    "fully-qualified-domain@example.com", "user.name+tag+sorting@example.com",
    "example-indeed@strange-example.com", "admin@mailserver1.example.org",
    "mario.rossi@esempio.it", "jean.dupont@exemple.fr", "hans.meier@beispiel.de",
    "juan.perez@ejemplo.es", "priya.sharma@example.in", "li.wei@example.cn",
    "maria.silva@exemplo.com.br", "sean.murphy@example.ie", "bob.smith@example.com.au",
    "a_b@example.travel", "sales@example.museum", "no-reply@notifications.example.com",
    "firstname.o'lastname@example.com", "\"john doe\"@example.com", "me@my-domain.example",
]
wrappers = [
    "Email me at {v}, thanks.", "mailto:{v}", "<{v}>", "send it to {v}.", "{v}!",
    "my email is {v}?", "({v})", "email: {v}; phone later", "Reply-To: {v}",
    "write to {v} or call", "is {v} right?", "contact [{v}]",
]
for i, v in enumerate(emails):
    add("pos", "EMAIL", v, wrappers[i % len(wrappers)].format(v=v))
    add("pos", "EMAIL", v, wrappers[(i + 5) % len(wrappers)].format(v=v))

# --------------------------------------------------------------- PHONE
phones = [
    # UK (Ofcom drama ranges)
    "+44 7700 900123", "+447700900456", "0044 7700 900789", "07700 900123", "07700900321",
    "020 7946 0958", "+44 20 7946 0018", "+44 (0)20 7946 0123", "(020) 7946 0999",
    "0161 496 0000", "0113 496 0123", "0131 496 0456", "+44 161 496 0789", "07700-900-654",
    # US / Canada (555-01xx)
    "(415) 555-0132", "415-555-0199", "415.555.0123", "+1 415 555 0134", "1-800-555-0199",
    "+1 (212) 555-0147", "212 555 0188", "(604) 555-0111", "+1-613-555-0155",
    "2025550173", "(415) 555-0132 ext. 42", "415-555-0100 x204", "+1 312 555 0162 ext 7",
    # Italy
    "+39 06 1234 5678", "06 1234 5678", "02 1234 5678", "333 123 4567", "+39 333 123 4567",
    "+39 347 765 4321", "3471234567", "011 123 4567", "+39 02 87654321",
    # France
    "01 23 45 67 89", "06 12 34 56 78", "+33 1 23 45 67 89", "+33 (0)6 12 34 56 78",
    "06.12.34.56.78", "0612345678", "+33612345678", "04-91-12-34-56",
    # Germany
    "030 12345678", "+49 30 12345678", "+49 (0)30 1234 5678", "030/1234567",
    "0171 1234567", "+49 171 1234567", "(089) 123 456 78", "0221 9876543",
    # Spain
    "612 34 56 78", "+34 612 345 678", "91 123 45 67", "+34 91 123 45 67", "612345678",
    "93 412 34 56",
    # Ireland
    "087 123 4567", "+353 87 123 4567", "01 234 5678", "+353 1 234 5678", "(021) 412 3456",
    # India
    "+91 98765 43210", "098765 43210", "98765 43210", "9876543210", "022 2345 6789",
    "+91 22 2345 6789", "+91-98765-43210",
    # Australia (ACMA fictional)
    "0491 570 156", "0491 570 006", "+61 491 570 110", "(02) 5550 1234", "+61 2 5550 1234",
    "03 5550 9876", "0412 345 678",
    # Brazil
    "(11) 91234-5678", "+55 11 91234-5678", "(21) 2345-6789", "+55 21 2345 6789",
    "11 98765-4321", "+5511912345678",
    # other E.164
    "+31 20 123 4567", "+46 8 123 456 78", "+81 3-1234-5678", "+86 10 1234 5678",
    "+27 21 123 4567", "+52 55 1234 5678", "+7 495 123-45-67", "+48 22 123 45 67",
    "+351 21 123 4567", "+41 44 123 45 67",
]
phone_t = [
    "call me on {v} please", "my number is {v}", "mobile: {v}", "{v}",
    "You can reach me at {v} after 5", "tel. {v}", "whatsapp {v}!", "ring {v} or email",
    "(my cell is {v})", "new number {v}, save it",
]
for i, v in enumerate(phones):
    add("pos", "PHONE", v, phone_t[i % len(phone_t)].format(v=v))
# short national plans, caught after a phone word (Singapore, Hong Kong,
# Luxembourg, Iceland)
for v, t in [("6123 4567", "phone {} anytime"), ("2345 6789", "call {} tomorrow"),
             ("27 12 34 56", "tel. {}"), ("555 1234", "mobile: {}"), ("412 3456", "ring me on {}")]:
    add("pos", "PHONE", v, t.format(v))
# full-width digits and no-break spaces (phone apps and IMEs produce them)
FW = str.maketrans("0123456789+()-", "０１２３４５６７８９＋（）－")
for v in ["07700 900123", "+44 7700 900456", "(415) 555-0132", "06 12 34 56 78", "+39 333 123 4567"]:
    w = v.translate(FW)
    add("pos", "PHONE", w, "call {} please".format(w))
for v in ["07700\u00a0900123", "+44\u00a07700\u00a0900456", "020\u202f7946\u202f0958",
          "415\u2011555\u20110132", "06\u00a012\u00a034\u00a056\u00a078"]:
    add("pos", "PHONE", v, "number: {} ok".format(v))

# ------------------------------------------------------------ ORDER_ID
orders = []
for i in range(12):
    n = 100000 + rng.randrange(900000)
    orders.append(("ORD-%d" % n, ["Order ORD-%d shipped", "about ORD-%d please", "ref ORD-%d"][i % 3] % n))
for i in range(10):
    n = 100000 + rng.randrange(900000)
    orders.append(("#%d" % n, ["my order #%d is late", "Order #%d hasn't arrived",
                               "order no. #%d"][i % 3] % n))
for i in range(10):
    n = 10000000 + rng.randrange(90000000)
    orders.append((str(n), ["order number %d please", "Order No: %d", "my order %d",
                            "the order id is %d", "order nr %d"][i % 5] % n))
for v, t in orders:
    add("pos", "ORDER_ID", v, t)

# --------------------------------------------------------- CREDIT_CARD
cards = [
    "4111111111111111", "4012888888881881", "4242424242424242", "4000056655665556",
    "4222222222222", "5555555555554444", "5105105105105100", "2223003122003222",
    "5200828282828210", "2221000000000009", "378282246310005", "371449635398431",
    "378734493671000", "6011111111111117", "6011000990139424", "6011981111111113",
    "30569309025904", "38520000023237", "36227206271667", "3530111333300000",
    "3566002020360505", "6200000000000005", "6205500000000000004", "4917610000000000",
]


def luhn_ok(d):
    s = 0
    for i, c in enumerate(reversed(d)):
        v = int(c)
        if i % 2:
            v = v * 2 - 9 if v * 2 > 9 else v * 2
        s += v
    return s % 10 == 0


def group(d, sizes, sep):
    out, i = [], 0
    for s in sizes:
        out.append(d[i:i + s])
        i += s
    if i < len(d):
        out.append(d[i:])
    return sep.join(x for x in out if x)


card_t = ["card {v}", "pay with {v} please", "my visa is {v}", "{v} exp 12/27", "number: {v}."]
for i, d in enumerate(cards):
    assert luhn_ok(d), d
    add("pos", "CREDIT_CARD", d, card_t[i % 5].format(v=d))
    sizes = [4, 6, 5] if len(d) == 15 else [4, 6, 4] if len(d) == 14 else [4, 4, 4, 4, 3]
    g = group(d, sizes, " " if i % 2 else "-")
    add("pos", "CREDIT_CARD", g, card_t[(i + 2) % 5].format(v=g))

# ---------------------------------------------------------------- IBAN
ibans = [
    "GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606",
    "ES9121000418450200051332", "IT60X0542811101000000123456", "NL91ABNA0417164300",
    "BE68539007547034", "CH9300762011623852957", "AT611904300234573201",
    "IE29AIBK93115212345678", "PL61109010140000071219812874", "PT50000201231234567890154",
    "SE4550000000058398257466", "NO9386011117947", "DK5000400440116243", "FI2112345600000785",
    "LU280019400644750000", "GR1601101250000000012300695", "HR1210010051863000160",
    "CZ6508000000192000145399", "RO49AAAA1B31007593840000", "BG80BNBG96611020345678",
    "SA0380000000608010167519", "AE070331234567890123456", "TR330006100519786457841326",
    "LT121000011101001000", "LV80BANK0000435195001", "EE382200221020145685",
    "SK3112000000198742637541", "SI56263300012039086", "HU42117730161111101800000000",
    "MT84MALT011000012345MTLCAST001S", "CY17002001280000001200527600",
    "IS140159260076545510730339", "LI21088100002324013AA", "MC5811222000010123456789030",
]


def mod97_ok(s):
    r = s[4:] + s[:4]
    n = "".join(str(int(c, 36)) for c in r)
    return int(n) % 97 == 1


iban_t = ["IBAN {v}", "please transfer to {v}.", "my account: {v}", "{v}", "bank details {v} thanks"]
for i, v in enumerate(ibans):
    assert mod97_ok(v), v
    add("pos", "IBAN", v, iban_t[i % 5].format(v=v))
    if i % 3 == 0:
        g = " ".join(v[k:k + 4] for k in range(0, len(v), 4))
        add("pos", "IBAN", g, iban_t[(i + 1) % 5].format(v=g))

# ---------------------------------------------------------- IP_ADDRESS
ips = [
    "192.0.2.1", "198.51.100.42", "203.0.113.255", "192.168.1.10", "10.0.0.1",
    "172.16.254.1", "8.8.8.8", "255.255.255.255", "127.0.0.1", "100.64.0.1",
    "2001:db8::1", "2001:db8:85a3::8a2e:370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    "fe80::1", "::1", "2001:db8::", "::ffff:192.0.2.128", "2001:db8:0:0:1:0:0:1",
    "2001:db8::ff00:42:8329", "fe80::200:5aee:feaa:20a2", "2001:db8:1234:ffff:ffff:ffff:ffff:ffff",
    "64:ff9b::192.0.2.33",
]
ip_t = ["server {v} is down", "login from {v} blocked", "IP: {v}", "ping {v}.", "my ip is {v}, why?"]
for i, v in enumerate(ips):
    add("pos", "IP_ADDRESS", v, ip_t[i % 5].format(v=v))
    add("pos", "IP_ADDRESS", v, ip_t[(i + 2) % 5].format(v=v))

# ------------------------------------------------------- spoken (voice)
UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def speak(digits, style):
    """Reads a digit string out the way callers do."""
    words, i = [], 0
    plus = digits.startswith("+")
    d = digits.lstrip("+")
    if plus:
        words.append("plus")
    while i < len(d):
        c = d[i]
        run = 1
        while i + run < len(d) and d[i + run] == c and run < 3:
            run += 1
        w = "oh" if (c == "0" and style % 2 == 0) else UNITS[int(c)]
        if run >= 2 and style in (0, 2, 3):
            words.append(("double " if run == 2 else "triple ") + w)
            i += run
        else:
            words.append(w)
            i += 1
        if style == 3 and i in (5, 8):
            words[-1] += ","
    return " ".join(words)


spoken_phones = ["07700900123", "07700900456", "02079460958", "4155550132", "+447700900789",
                 "+14155550199", "3331234567", "0612345678", "03012345678", "0871234567",
                 "9876543210", "0491570156", "+33612345678", "+393471234567", "2125550147",
                 "01614960000", "+353871234567", "+61491570110", "0412345678", "+5511912345678"]
voice_phone_t = ["yeah my number is {v} thanks", "you can call me back on {v}",
                 "it's {v}", "sure, the mobile is {v} okay", "{v}"]
for i, dg in enumerate(spoken_phones):
    for style in (i % 4, (i + 1) % 4):
        v = speak(dg, style)
        add("pos", "PHONE", v, voice_phone_t[(i + style) % 5].format(v=v), "voice", "spoken")
# the "nine hundred" reading of UK numbers
for v in ["oh seven seven double oh nine hundred one two three",
          "oh seven seven double oh nine hundred four five six",
          "oh two oh seven nine four six oh nine five eight",
          "four one five, five five five, oh one three two",
          "six one two, three four five, six seven eight"]:
    add("pos", "PHONE", v, "my number is {} thank you".format(v), "voice", "spoken")

spoken_emails = [
    ("jane dot doe at gmail dot com", None), ("john underscore smith at example dot co dot uk", None),
    ("mario dot rossi at esempio dot it", None), ("info at example dot org", None),
    ("anne dash marie at example dot net", None), ("j dot smith at example dot com", None),
    ("sales at my dash shop dot com", None), ("bob123 at example dot de", None),
    ("priya dot sharma at example dot in", None), ("jean dot dupont at exemple dot fr", None),
    ("support at example dot io", None), ("first dot last at sub dot example dot com", None),
    ("jane.doe at gmail dot com", None), ("sean at example dot ie", None),
    ("li underscore wei at example dot com", None), ("hans at beispiel dot de", None),
    ("contact at example dot com dot au", None), ("maria dot silva at exemplo dot com dot br", None),
    ("tom at example.com", None), ("alex dot b at example dot co", None),
]
voice_email_t = ["my email is {v} okay", "it's {v}", "send it to {v} please", "{v}",
                 "you can email me at {v} thanks"]
for i, (v, _) in enumerate(spoken_emails):
    add("pos", "EMAIL", v, voice_email_t[i % 5].format(v=v), "voice", "spoken")
    add("pos", "EMAIL", v, voice_email_t[(i + 2) % 5].format(v=v), "voice", "spoken")

spoken_cards = ["4111111111111111", "5555555555554444", "378282246310005", "4242424242424242",
                "6011111111111117", "4012888888881881"]
voice_card_t = ["my card number is {v}", "the long number on the card is {v}",
                "it's a visa, {v}", "card number {v} expiry oh four twenty seven"]
for i, dg in enumerate(spoken_cards):
    for style in (1, 3):
        v = speak(dg, style)
        add("pos", "CREDIT_CARD", v, voice_card_t[(i + style) % 4].format(v=v), "voice", "spoken")
# recognition errors break Luhn: on a call a card is known by length and context
for dg in ["4111111111111112", "5555555555554445"]:
    v = speak(dg, 1)
    add("pos", "CREDIT_CARD", v, "my card number is {}".format(v), "voice", "spoken")

# ----------------------------------------------------------- negatives
neg_phone = [
    "12/05/2024", "05/12/2024", "2024-05-12", "03.11.2025", "12-05-2024", "1/2/2025",
    "2024/05/12", "12.05.24", "12 05 2024", "31/12/1999", "2024-05-12T10:30:00Z",
    "2024-05-12 10:30", "12/05/2024 14:45", "10:30", "14:45:00", "9.30am", "10.30-11.45",
    "09:00-17:30", "£1,299.99", "1.299,00 €", "$49.99", "€1.250.000", "USD 1,000,000",
    "1 299 000 €", "₹1,25,000", "R$ 1.299,90", "12,500.00 EUR", "$1,250,000.00", "EUR 2.500.000",
    "v2.3.1", "3.11.4", "10.0.19041.1", "version 1.2.3", "build 2024.05.12", "Android 14.0.1",
    "978-3-16-148410-0", "ISBN 0-306-40615-2", "978 0 306 40615 7", "9780306406157",
    "ISBN 0306406152", "2019-2024", "1990–2005", "2010 - 2015", "2023/2024",
    "94105-1234", "SW1A 1AA", "75008", "D02 X285", "1000 Bruxelles",
    "550e8400-e29b-41d4-a716-446655440000", "51.5074, -0.1278", "1.80m", "75kg", "3x4",
    "3-1", "24/7", "50/50", "100%", "1h 30m", "90 days", "12345", "1234567", "12345678",
    "1,000,000 users", "3.14159265", "0.5 mg", "page 1234", "room 101", "flight BA 283",
    "1 2 3 4 5", "10 20 30 40", "2 + 2 = 4", "1-2-3-4", "24.99", "7.5/10", "4K 60Hz",
    "1080p", "5G", "A4 210x297", "+5 points", "-12.5%", "10,000 steps",
    "1st 2nd 3rd", "12:00-13:00", "8am-6pm", "Q3 2024", "FY2023-24", "2024-Q1",
    "10 - 12 people", "ages 18-25", "between 100-200 euros", "12.5.2024", "1.1.2025",
    "call me at 5pm", "section 4.2.1", "1,234.56", "0.001", "#1 fan", "top 10", "16:9",
    "3/4 cup", "24-hour", "the 1990s", "in 5-10 minutes", "10-15%", "2.5 kg", "100 mph",
    "0-100 km/h in 3.2s", "30.06.2025 18:00", "Mon 12/5", "11/11/11", "1.234.567,89 €",
    "£ 12 500", "¥120,000", "5,000-10,000", "2020-2021-2022",
]
phone_neg_t = ["see you on {v} then", "{v}", "it costs {v}", "the value was {v}.", "ok {v} works"]
for i, v in enumerate(neg_phone):
    add("neg", "PHONE", v, phone_neg_t[i % 5].format(v=v))
# phone words before numbers that are not phone numbers
for t, v in [("call me back in {} minutes", "10"), ("call me at {} please", "10.30"),
             ("phone battery at {}", "15%"), ("ring size {}", "7"), ("call {} times", "3"),
             ("I will call on {}", "12/05/2024"), ("call me between {}", "10:00-12:00"),
             ("the call lasted {}", "1:30:00"), ("phone costs {}", "$1,299.00"),
             ("mobile plan {} per month", "12.99")]:
    add("neg", "PHONE", v, t.format(v))

neg_card = ["4111 1111 1111 1112", "5555 5555 5555 4445", "1234 5678 9012 3456",
            "4111111111111113", "378282246310006", "6011 1111 1111 1118", "1111 2222 3333 4444",
            "9999 9999 9999 9999", "0000 0000 0000 0000", "4242-4242-4242-4243"]
for i, v in enumerate(neg_card):
    add("neg", "CREDIT_CARD", v, ["ref {v} was declined", "number {v}", "{v}"][i % 3].format(v=v))
for v in ["1234 5678 9012", "123456789012345678901"]:
    add("neg", "CREDIT_CARD", v, "reference {}".format(v))

neg_iban = ["GB82 WEST 1234 5698 7654 33", "DE89370400440532013001", "FR1420041010050500013M02607",
            "XX12345678901234", "GB00WEST12345698765432", "NL91ABNA0417164301", "ES9121000418450200051333",
            "IT60X0542811101000000123457"]
for i, v in enumerate(neg_iban):
    add("neg", "IBAN", v, ["transfer to {v}", "{v}", "account {v}?"][i % 3].format(v=v))

neg_ip = ["version 1.2.3.4", "v10.0.0.1", "1.2.3", "999.1.1.1", "256.256.256.256", "1.2.3.4.5",
          "00:1a:2b:3c:4d:5e", "10:30:45", "12:34", "::", "build 6.1.7601.17514", "rev 2.0.0.1",
          "chrome 120.0.6099.109", "3.10.12", "1.1"]
for i, v in enumerate(neg_ip):
    add("neg", "IP_ADDRESS", v, ["running {v} now", "{v}", "upgrade to {v} please"][i % 3].format(v=v))

# ("mum at home" was "jane at home" until issue 14: after "it is", jane is now
# rightly a PERSON; the case is about "at home" not being an email.)
neg_email = ["@handle", "a@b", "user@localhost", "twitter @jane_doe", "price @ 5.99",
             "mum at home", "foo@bar", "@example.com", "email@", "me@ example.com",
             "#hashtag", "C# and F#", "john.doe", "example.com", "name(at)example(dot)com",
             "user@.com", "meet @ 5pm", "@@", "info@", "support @ example"]
for i, v in enumerate(neg_email):
    add("neg", "EMAIL", v, ["follow {v} for news", "{v}", "it is {v} right"][i % 3].format(v=v))

neg_order = ["we sold 123456 units", "population 1234567", "in 2024 we had 5000 orders",
             "ticket 4521 seats", "a 100000 word novel", "the year 1999", "about 250000 visitors",
             "my ordered list has 12 items", "borderline 123456", "recorder 123456 model"]
for i, v in enumerate(neg_order):
    add("neg", "ORDER_ID", v, ["{v}", "fyi {v}.", "well, {v}"][i % 3].format(v=v))

neg_voice = [
    "see you at nine thirty", "it was twenty five dollars", "back in twenty twenty four",
    "about three hundred people", "two or three days", "on the fifth of may",
    "ten fifteen tomorrow", "one two three four", "i have two kids and one dog",
    "nineteen ninety nine", "seven days a week", "one hundred and fifty pounds",
    "chapter twelve verse four", "room four oh two", "flight b a two eight three",
    "at half past six", "the first of june twenty twenty five", "two thousand and twenty",
    "around four forty five", "gate twenty two", "i'm at the station", "look at this dot",
    "three two one go", "we're at number ten", "eleven o'clock", "six foot two",
    "a quarter to nine", "five hundred euros", "twenty four seven", "one or two",
    "channel four", "version two point oh", "platform nine and three quarters",
    "twelve thirty five pm", "the nineteen eighties", "forty two", "ninety nine percent",
    "oh well", "oh no not again", "it costs nine ninety nine",
]
for v in neg_voice:
    add("neg", "PHONE" if "@" not in v else "EMAIL", v, "well {} okay".format(v), "voice", "spoken")

# ------------------------------------------------ issue 15: how people write
# Nordic and Baltic groupings after a phone word (NKOM, Traficom, ERR and
# PTS plans: 8 digits, no trunk prefix); North-American shapes with any
# area code, extensions and prefixes; numbers glued to labels; lists.
for v, t in [("73 41 26 90", "Phone: {v}"), ("44-18-27-63", "call me on {v}"),
             ("92 418 305", "mobile {v}"), ("41 27 93", "tel {v} after six"),
             ("22 33 44 55", "reach me at {v}"), ("5123 4567", "office {v}"),
             ("8123 4567", "ring me on {v} please"), ("070 123 4567", "mobil {v}"),
             ("612 34 567", "puhelin {v}"), ("40 12 34 56", "contact {v}"),
             ("21 23 45 67", "landline: {v}"), ("9123 4567", "whatsapp {v}")]:
    add("pos", "PHONE", v, t.format(v=v))
for v in ["212-555-0123", "312.555.0199", "(415)555-0132", "(415) 555-0132", "123-456-7890",
          "555-123-4567 x1234", "212-555-0123 ext 12", "212-555-0123 #12", "001-212-555-0123",
          "+1-212-555-0123", "1-800-555-0199", "012.345.6789"]:
    add("pos", "PHONE", v, ["call {v}", "{v}", "my cell is {v}.", "it's {v} ok"][len(rows) % 4].format(v=v))
for v, t in [("07700 900123", "Tel:{v}"), ("07700 900456", "details,{v}"),
             ("020 7946 0018", "{v}/mobile"), ("020 7946 0019", "{v}-home"),
             ("020 7946 0020", "{v} (work)"), ("07700 900789", "Mobile:{v};"),
             ("0161 496 0001", "Tel.{v}")]:
    add("pos", "PHONE", v, t.format(v=v))
for a, b, c in [("020 7946 0021", "07700 900321", "0161 496 0002"),
                ("212-555-0140", "212-555-0141", "212-555-0142")]:
    for v in (a, b, c):
        add("pos", "PHONE", v, "numbers: {}, {} or {}".format(a, b, c))
        add("pos", "PHONE", v, "{} / {} / {}".format(a, b, c))

# Every brand and length of the IIN tables (the networks' published test
# numbers where they exist, else a Luhn-completed number in the range).
def luhn_complete(body):
    for c in "0123456789":
        if luhn_ok(body + c):
            return body + c


brand_cards = ["501800000009", "6759649826438453", "6304000000000000",   # Maestro 12, 16
               luhn_complete("18000000000000"), luhn_complete("21310000000000"),   # JCB 15
               luhn_complete("352800000000000"), luhn_complete("358900000000000"),  # JCB 16
               "6212345678901234", "6212345678901234567",   # UnionPay 16, 19, Luhn not required
               luhn_complete("220000000000000"), luhn_complete("220400000000000"),  # Mir
               luhn_complete("508500000000000"), luhn_complete("606100000000000"),  # RuPay
               luhn_complete("506099000000000"), luhn_complete("650002000000000"),  # Verve
               luhn_complete("979200000000000"),   # Troy
               luhn_complete("509000000000000"), luhn_complete("636368000000000"),  # Elo
               luhn_complete("606282000000000"), luhn_complete("384100000000000"),  # Hipercard
               luhn_complete("300000000000000"), luhn_complete("3095000000000"),    # Diners
               luhn_complete("644000000000000"), luhn_complete("622126000000000"),  # Discover
               luhn_complete("10000000000000")]   # UATP
for i, v in enumerate(brand_cards):
    add("pos", "CREDIT_CARD", v, ["pay with {v} please", "{v}", "number: {v}.", "use {v} for it"][i % 4].format(v=v))

# After a card word the Luhn-failing numbers above are a card all the same.
for i, v in enumerate(neg_card):
    add("pos", "CREDIT_CARD", v, ["card {v} was declined", "my credit card number is {v}",
                                  "cc {v} please"][i % 3].format(v=v))

# CARD_SECURITY: codes and expiries after their label; other dates stay.
for v, t in [("123", "CVV 123"), ("7373", "cvc: 7373"), ("1234", "security code 1234"),
             ("12/27", "exp 12/27"), ("03/2029", "the visa expires 03/2029"), ("456", "cvv2 456"),
             ("08/26", "valid thru 08/26"), ("11/25", "Expiry date: 11/25"),
             ("321", "the CVV is 321"), ("04/28", "card 4111 1111 1111 1111 exp 04/28"),
             ("789", "card 4111 1111 1111 1111 cvc 789"), ("1/30", "card expiration 1/30"),
             ("9876", "card verification value: 9876"), ("05 / 27", "expiry 05 / 27")]:
    add("pos", "CARD_SECURITY", v, t)
for v, t in [("12/05/2024", "the offer expires on 12/05/2024"), ("03-08-2026", "it expires on 03-08-2026"),
             ("123", "room 123"), ("12/27", "see page 12/27 of the report"), ("2027", "valid until 2027"),
             ("10:30", "expires at 10:30"), ("13/27", "exp 13/27"), ("1234", "1234 items in stock"),
             ("12/2024", "invoice for 12/2024"), ("350", "the security guard counted 350 people"),
             ("12/2026", "my passport expires 12/2026")]:
    add("neg", "CARD_SECURITY", v, t)
for v, t in [("73 41 26 90", "the score was {v}"), ("10 30 11 45", "meeting {v} room"),
             ("92 418 305", "population {v}")]:
    add("neg", "PHONE", v, t.format(v=v))

# National identifiers: the schemes' published examples (SSA's 078-05-1120,
# HMRC's NINO format, NHS Digital's 943 476 5919, UIDAI's Verhoeff
# example, the DNI/NIE letter table, codice fiscale and NIR examples of the
# Agenzia delle Entrate and INSEE, the BZSt Steuer-ID example, a BSN that
# passes the 11-test); then the same with a broken checksum.
for v, t in [("078-05-1120", "my SSN is {v}"), ("123 45 6789", "SSN: {v}"), ("AB123456C", "NINO {v}"),
             ("943 476 5919", "NHS number {v}"), ("2341 2341 2346", "aadhaar {v}"),
             ("ABCPD1234E", "PAN {v}"), ("12345678Z", "DNI {v}"), ("X1234567L", "NIE {v}"),
             ("RSSMRA85T10A562S", "codice fiscale {v}"), ("1 84 12 76 451 089 46", "NIR {v}"),
             ("65929970489", "Steuer-ID {v}"), ("86 095 742 719", "id {v} ok"), ("111222333", "BSN {v}")]:
    add("pos", "NATIONAL_ID", v, t.format(v=v))
for v, t in [("666-12-3456", "invalid {v}"), ("000-12-3456", "SSN {v}"), ("12345678A", "DNI {v}"),
             ("RSSMRA85T10A562X", "codice fiscale {v}"),
             ("234123412346", "ref {v}"), ("111222333", "we sold {v} units")]:
    add("neg", "NATIONAL_ID", v, t.format(v=v))
for v, t in [("123456789", "passport number: {v}"), ("X1234567", "passport no {v}"),
             ("C01X00T47", "my passport is {v}")]:
    add("pos", "PASSPORT", v, t.format(v=v))
for v, t in [("12/05/1990", "DOB: {v}"), ("12 May 1990", "date of birth {v}"), ("May 12, 1990", "born on {v}")]:
    add("pos", "DATE_OF_BIRTH", v, t.format(v=v))
for v, t in [("12/05/1990", "the meeting is on {v}"), ("1990", "I was born in {v}")]:
    add("neg", "DATE_OF_BIRTH", v, t.format(v=v))

# Calls: numerals after a card word, spelled emails, "at the rate",
# numbers with fillers and corrections.
for v, t in [("92 09 46 58 71 81 93 04", "my credit card number is {v} it expires soon"),
             ("1594 5430 5345 5724", "card number is {v} okay"),
             ("6522-0922 8152 0012", "my old card number maybe is {v} i am not sure")]:
    add("pos", "CREDIT_CARD", v, t.format(v=v), "voice", "spoken")
for v in ["j o h n dot smith at g m a i l dot com", "rohan dot k at h o t m a i l dot com",
          "priya at the rate gmail dot com", "anil dot kumar at the rate of yahoo dot co dot in",
          "neha dot s at rediffmail dot co.in", "a n n a at example dot org"]:
    add("pos", "EMAIL", v, "send it to {} please".format(v), "voice", "spoken")
for v in ["oh seven seven, uh, double oh nine hundred one two three",
          "seven seven, no, eight nine nine one two three four five six",
          "oh two oh um seven nine four six oh nine five eight",
          "four one five, sorry, five five five oh one three two"]:
    add("pos", "PHONE", v, "my number is {} thanks".format(v), "voice", "spoken")

# ---------------------------------------------------------------- PERSON, ADDRESS
import corpus_names  # noqa: E402  (its own docstring says where its values come from)

name_rng = random.Random(20261202)
corpus_names.persons(add, name_rng)
corpus_names.addresses(add, name_rng)
corpus_names.negatives(add, name_rng)

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "corpus.tsv"), "w", encoding="utf-8") as f:
    f.write("# kind\tchannel\tentity\tform\tvalue\ttext  (written by make_corpus.py)\n")
    for r in rows:
        f.write("\t".join(r) + "\n")
pos = sum(1 for r in rows if r[0] == "pos")
print("corpus.tsv: %d positives, %d negatives" % (pos, len(rows) - pos))
