#!/usr/bin/env python3
"""debian_names.py -- PERSON recall on real people's names nobody on this
project wrote: the maintainers who signed the Debian changelogs installed on
this machine (/usr/share/doc/*/changelog.Debian.gz, trailer lines
" -- Name <email>  date"), 2-4 capitalised words each, every origin.

Each name is put in one cue-less sentence ("NAME uploaded the new version
yesterday."), so only the gazetteers and capitals can find it: a name
counts as caught when none of its words is left in the output. The set
depends on the packages installed (802 changelogs, 457 names on the
project's machine on 2026-12-02), so compare two builds on one machine:

  python3 tests/eval/debian_names.py [REDACTD_BIN] [-v]
"""
import glob
import gzip
import re
import subprocess
import sys

binp = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "-v" else "build/redactd"
names = set()
for f in glob.glob("/usr/share/doc/*/changelog.Debian.gz"):
    try:
        with gzip.open(f, "rt", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                m = re.match(r" -- (.+?) <[^>]+>", line)
                if m:
                    n = m.group(1).strip()
                    if 2 <= len(n.split()) <= 4 and all(w[:1].isupper() for w in n.split()):
                        names.add(n)
    except OSError:
        pass
names = sorted(names)
if not names:
    sys.exit("no Debian changelogs found")
texts = [f"{n} uploaded the new version yesterday." for n in names]
out = subprocess.run([binp, "redact", "--lines"], input="\n".join(texts) + "\n",
                     capture_output=True, text=True, check=True).stdout.splitlines()
whole = [n for n, o in zip(names, out) if not any(w in o for w in n.split())]
changed = [n for n, o in zip(names, out) if n not in o]
print(f"{len(names)} maintainer names; whole name gone {len(whole)} ({len(whole) / len(names):.3f}); "
      f"at least one word gone {len(changed)} ({len(changed) / len(names):.3f})")
if "-v" in sys.argv:
    for n, o in zip(names, out):
        if n not in whole:
            print("  MISS", n, "->", o)
