// peers.mjs — scores the npm redactors on tests/eval/corpus.tsv by the rule
// eval.c uses for redactd: a positive counts when its value is gone from the
// output and the output carries one of the peer's tokens for that entity
// (openredaction's ZIP and POSTCODE count as ADDRESS, to its benefit); a negative
// counts when its value comes out unchanged. Prints one TSV line per peer and
// row: peer, entity/form, pos, hit, neg, kept, has_entity (0 when the peer has
// no such entity at all, e.g. IBAN).
//
//   node peers.mjs CORPUS_TSV NODE_MODULES_DIR
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [corpus, nm] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nm), 'peers.cjs'));

const peers = [];
try {
  const { SyncRedactor } = require('redact-pii');
  const r = new SyncRedactor();
  peers.push({
    name: 'redact-pii', run: (t) => r.redact(t),
    tokens: { EMAIL: 'EMAIL_ADDRESS', PHONE: 'PHONE_NUMBER', CREDIT_CARD: 'CREDIT_CARD_NUMBER', IP_ADDRESS: 'IP_ADDRESS',
              PERSON: 'PERSON_NAME', ADDRESS: 'STREET_ADDRESS' },
  });
} catch (e) { console.error(`redact-pii not available: ${e.message}`); }
try {
  const { Redactor } = require('@redactpii/node');
  const r = new Redactor();
  peers.push({
    name: '@redactpii/node', run: (t) => r.redact(t),
    tokens: { EMAIL: 'EMAIL_ADDRESS', PHONE: 'PHONE_NUMBER', CREDIT_CARD: 'CREDIT_CARD_NUMBER' },
  });
} catch (e) { console.error(`@redactpii/node not available: ${e.message}`); }
try {
  const { OpenRedaction } = require('openredaction');
  const r = new OpenRedaction({ redactionMode: 'placeholder' });
  peers.push({
    name: 'openredaction', run: async (t) => (await r.detect(t)).redacted,
    tokens: { EMAIL: '[EMAIL', PHONE: '[PHONE', ORDER_ID: '[ORDER', CREDIT_CARD: '[CREDIT_CARD', IBAN: '[IBAN',
              IP_ADDRESS: '[IP', PERSON: '[NAME_', ADDRESS: ['[ADDRESS_', '[ZIP_', '[POSTCODE_'] },
  });
} catch (e) { console.error(`openredaction not available: ${e.message}`); }

const cases = readFileSync(corpus, 'utf8').split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => l.replaceAll('\\n', '\n'))   // the corpus writes a newline inside a case as \n
  .map((l) => { const [kind, channel, entity, form, value, text] = l.split('\t'); return { kind, entity, form, value, text }; });

for (const p of peers) {
  const rows = new Map();
  for (const c of cases) {
    const key = `${c.entity}/${c.form}`;
    if (!rows.has(key)) rows.set(key, { pos: 0, hit: 0, neg: 0, kept: 0 });
    const row = rows.get(key);
    const out = await p.run(c.text);
    const token = p.tokens[c.entity];
    const tokens = token ? [].concat(token) : [];
    if (c.kind === 'pos') {
      row.pos++;
      if (!out.includes(c.value) && tokens.some((k) => out.includes(k))) row.hit++;
    } else {
      row.neg++;
      if (out.includes(c.value)) row.kept++;
    }
  }
  for (const [key, r] of rows) {
    const has = p.tokens[key.split('/')[0]] ? 1 : 0;
    console.log([p.name, key, r.pos, r.hit, r.neg, r.kept, has].join('\t'));
  }
}
