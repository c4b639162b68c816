#!/usr/bin/env python3
"""public_sets.py — labelled public data that nobody on this project wrote,
turned into the corpus format of tests/eval/corpus.tsv, so that eval.c and
peers.mjs score it by the same rule as the project's own corpus.

    python3 tests/eval/public_sets.py DIR [DIR ...] > public.tsv

Each DIR is searched for the files below; a missing file is skipped (none of
them is in the repository, see docs/redaction.md, "Evaluation"). Rows:

  ENTITY/chat   chat-style text with labelled spans: Presidio-research's
                synth_dataset_v2.json (MIT), channel web
  ENTITY/call   speech-to-text call transcripts with labelled spans
                (spoken digits, spelled emails, fillers): stt_dev.jsonl,
                stt_test.jsonl, stt_stress.jsonl, channel voice
  ENTITY/presidio  Presidio's recognizer test cases
                (presidio_recognizer_tests.json) for entities that
                ../shared/data's own table in eval.c does not score:
                national identifiers, phones of other recognizers, and
                DATE_TIME values as negatives (dates must survive)

A DATE_TIME of the chat set right after a birth word ("born on 2/8/1935")
is scored as a DATE_OF_BIRTH positive: that is an entity here.
Negatives are values that must survive: DATE (dates and times), NUMBER
(ages; call transcripts with nothing to find, except those that name an
order id, an entity here), and the cases Presidio expects to find nothing
in (not for its TR and PH phone recognizers: a number that is not a Turkish
mobile is often another country's phone). Phone and card spans of the chat
set without a single digit are label errors and are skipped.

`--train` adds stt_train.jsonl as ENTITY/calltrain: the split never
looked at while fixing misses, the held-out check.
"""
import json
import os
import re
import sys

BIRTH = re.compile(r"(?i)\b(born|birth|d\.?o\.?b)\b[^0-9]*$")

CHAT_MAP = {
    "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CREDIT_CARD", "EMAIL_ADDRESS": "EMAIL",
    "IBAN_CODE": "IBAN", "IP_ADDRESS": "IP_ADDRESS", "PERSON": "PERSON",
    "STREET_ADDRESS": "ADDRESS", "US_SSN": "NATIONAL_ID",
}
CHAT_NEG = {"DATE_TIME": "DATE", "AGE": "NUMBER"}
CALL_MAP = {"PHONE": "PHONE", "EMAIL": "EMAIL", "CREDIT_CARD": "CREDIT_CARD", "PERSON_NAME": "PERSON"}
CALL_NEG = {"DATE": "DATE"}
# Presidio recognizer entities scored here (the five that eval.c's
# reference table scores are left to it).
PRESIDIO_MAP = {
    "US_SSN": "NATIONAL_ID", "UK_NINO": "NATIONAL_ID", "UK_NHS": "NATIONAL_ID",
    "IN_AADHAAR": "NATIONAL_ID", "IN_PAN": "NATIONAL_ID", "ES_NIF": "NATIONAL_ID",
    "ES_NIE": "NATIONAL_ID", "IT_FISCAL_CODE": "NATIONAL_ID", "DE_TAX_ID": "NATIONAL_ID",
    "UK_PASSPORT": "PASSPORT", "US_PASSPORT": "PASSPORT", "IN_PASSPORT": "PASSPORT",
    "ES_PASSPORT": "PASSPORT", "IT_PASSPORT": "PASSPORT",
    "TR_PHONE_NUMBER": "PHONE", "PH_MOBILE_NUMBER": "PHONE",
}


def clean(s):
    return s.replace("\t", " ").replace("\r", " ").replace("\n", "\\n")


def emit(kind, channel, entity, form, value, text):
    value, text = clean(value), clean(text)
    if not value.strip() or value not in text:
        return
    print("\t".join((kind, channel, entity, form, value, text)))


def find(dirs, name):
    for d in dirs:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


def chat(path):
    for case in json.load(open(path, encoding="utf-8")):
        text = case["full_text"]
        for sp in case["spans"]:
            value = text[sp["start_position"]:sp["end_position"]]
            t = sp["entity_type"]
            if t in ("PHONE_NUMBER", "CREDIT_CARD") and not any(c.isdigit() for c in value):
                continue    # a few spans of this set are off (a name labelled as a phone)
            if t in CHAT_MAP:
                emit("pos", "web", CHAT_MAP[t], "chat", value, text)
            elif t in CHAT_NEG and CHAT_NEG[t] == "DATE" and BIRTH.search(text[:sp["start_position"]][-24:]):
                # a date right after "born on", "date of birth", "DOB" is a
                # DATE_OF_BIRTH here (SPEC section 6), not a date to keep
                emit("pos", "web", "DATE_OF_BIRTH", "chat", value, text)
            elif t in CHAT_NEG:
                emit("neg", "web", CHAT_NEG[t], "chat", value, text)


def call(path, form):
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            continue
        case = json.loads(line)
        text = case["text"]
        for e in case.get("entities", []):
            value = text[e["start"]:e["end"]]
            if e["label"] in CALL_MAP:
                emit("pos", "voice", CALL_MAP[e["label"]], form, value, text)
            elif e["label"] in CALL_NEG:
                emit("neg", "voice", CALL_NEG[e["label"]], form, value, text)
        if not case.get("entities") and "order" not in text:
            # a transcript with nothing to find must come out unchanged; one
            # that names an order id is left out (ORDER_ID is an entity here)
            emit("neg", "voice", "NUMBER", form, text, text)


def presidio(path):
    for case in json.load(open(path, encoding="utf-8"))["cases"]:
        ent, text = case.get("entity"), case.get("text")
        if case.get("kind") != "analyze" or not text:
            continue
        subs = case.get("expected_substrings") or []
        if ent == "DATE_TIME":
            for s in subs:
                emit("neg", "web", "DATE", "presidio", s, text)
        elif ent in PRESIDIO_MAP:
            # a number that is not a Turkish or Philippine mobile is often
            # another country's phone: those negatives do not count
            if case.get("expected_count", 0) == 0 and PRESIDIO_MAP[ent] != "PHONE":
                emit("neg", "web", PRESIDIO_MAP[ent], "presidio", text, text)
            for s in subs:
                emit("pos", "web", PRESIDIO_MAP[ent], "presidio", s, text)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    train = "--train" in sys.argv
    print("# kind\tchannel\tentity\tform\tvalue\ttext  (written by public_sets.py)")
    p = find(args, "synth_dataset_v2.json") or find(args, "presidio_synth_dataset_v2.json")
    if p:
        chat(p)
    for split in ("stt_dev.jsonl", "stt_test.jsonl", "stt_stress.jsonl"):
        p = find(args, split)
        if p:
            call(p, "call")
    if train and find(args, "stt_train.jsonl"):
        call(find(args, "stt_train.jsonl"), "calltrain")
    p = find(args, "presidio_recognizer_tests.json")
    if p:
        presidio(p)


if __name__ == "__main__":
    main()
