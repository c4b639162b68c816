// redact_peers.mjs — times the npm redactors on the corpus bench/redact.sh
// generated (one message per line, each redacted on its own, as redactd
// does). Prints "name MB/s" per peer, best of two passes after a warm-up.
//
//   node bench/redact_peers.mjs CORPUS NODE_MODULES_DIR
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [corpus, nm] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nm), 'bench.cjs'));
const text = readFileSync(corpus, 'utf8');
const bytes = Buffer.byteLength(text);
const lines = text.split('\n');

const peers = [];
try {
  const { SyncRedactor } = require('redact-pii');
  const r = new SyncRedactor();
  peers.push(['redact-pii', (t) => r.redact(t)]);
} catch (e) { console.error(`redact-pii not available: ${e.message}`); }
try {
  const { Redactor } = require('@redactpii/node');
  const r = new Redactor();
  peers.push(['@redactpii/node', (t) => r.redact(t)]);
} catch (e) { console.error(`@redactpii/node not available: ${e.message}`); }

for (const [name, run] of peers) {
  for (let i = 0; i < 2000; i++) run(lines[i % lines.length]);   // warm-up (JIT)
  let best = Infinity, sink = 0;
  for (let pass = 0; pass < 2; pass++) {
    const t0 = process.hrtime.bigint();
    for (const l of lines) sink += run(l).length;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (s < best) best = s;
    if (s > 20) break;                      // slow peer: one pass is enough
  }
  console.log(`${name}\t${(bytes / 1e6 / best).toFixed(1)}\t${best.toFixed(3)}\t${sink}`);
}
