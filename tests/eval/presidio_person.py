#!/usr/bin/env python3
"""presidio_person.py -- the PERSON rule on Microsoft Presidio's recognizer
test texts (../shared/data/presidio_recognizer_tests.json, labelled by
people outside this project; not copied into the repository).

That file holds no PERSON case: Presidio finds persons with a spaCy model,
not with a pattern recognizer, and only its pattern recognizers' tests were
extracted. So PERSON recall cannot be measured there. What can: none of its
1,524 `analyze` texts is labelled as naming a person, so every PERSON
finding on them is a false positive by Presidio's labels (each is printed
for a reader to check). Run from the repository root after `make`:

  python3 tests/eval/presidio_person.py [BUILD_DIR] [DATA_DIR]
"""
import json
import subprocess
import sys

build = sys.argv[1] if len(sys.argv) > 1 else "build"
data = sys.argv[2] if len(sys.argv) > 2 else "../shared/data"
cases = json.load(open(data + "/presidio_recognizer_tests.json", encoding="utf-8"))["cases"]
texts = [c["text"].replace("\n", " ") for c in cases if c.get("kind") == "analyze"]
labelled = sum(1 for c in cases if c["entity"] == "PERSON")
out = subprocess.run([build + "/redactd", "redact", "--lines", "--json"], input="\n".join(texts) + "\n",
                     capture_output=True, text=True, check=True).stdout
hits = []
for line, t in zip(out.splitlines(), texts):
    j = json.loads(line)
    b = t.encode()
    for f in j["findings"]:
        if f["entity"] == "PERSON":
            hits.append((b[f["start"] - j["offset"]:f["end"] - j["offset"]].decode(errors="replace"), t))
print(f"presidio texts {len(texts)}, PERSON-labelled cases {labelled}, "
      f"PERSON findings {len(hits)} in {len(set(t for _, t in hits))} texts (false positives by its labels)")
for s, t in hits:
    print(f"  {s!r:16} in {t[:80]!r}")
