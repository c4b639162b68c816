// peers.mjs — scores the npm redactors on tests/eval/corpus.tsv by the rule
// eval.c uses for redactd: a positive counts when its value is gone from the
// output and the output carries the peer's token for that entity; a negative
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
    tokens: { EMAIL: 'EMAIL_ADDRESS', PHONE: 'PHONE_NUMBER', CREDIT_CARD: 'CREDIT_CARD_NUMBER', IP_ADDRESS: 'IP_ADDRESS' },
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

const cases = readFileSync(corpus, 'utf8').split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => { const [kind, channel, entity, form, value, text] = l.split('\t'); return { kind, entity, form, value, text }; });

for (const p of peers) {
  const rows = new Map();
  for (const c of cases) {
    const key = `${c.entity}/${c.form}`;
    if (!rows.has(key)) rows.set(key, { pos: 0, hit: 0, neg: 0, kept: 0 });
    const row = rows.get(key);
    const out = p.run(c.text);
    const token = p.tokens[c.entity];
    if (c.kind === 'pos') {
      row.pos++;
      if (!out.includes(c.value) && token && out.includes(token)) row.hit++;
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
