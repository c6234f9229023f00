import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/index.js';
import { writeRows } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

function dataset(dir: string): string {
  return writeRows(dir, 'data.jsonl', 90, (i) => ({ question: `Is ${i} even?`, answer: i % 3 === 0 ? 'yes' : 'no', label: (i % 2 === 0) === (i % 3 === 0) ? 1 : 0 }));
}

function ledger(file: string): { total: number; misses: number } {
  const store = openStore(file, { readonly: true });
  try {
    const rows = store.db.prepare('SELECT COUNT(*) AS total, COALESCE(SUM(cache_hit = 0), 0) AS misses FROM calls').get() as { total: number; misses: number };
    return rows;
  } finally {
    store.close();
  }
}

test('a rerun of a finished experiment makes zero model calls and prints identical numbers', async () => {
  const dir = tempDir();
  let calls = 0;
  registerScript('counting', {
    generate: (req) => {
      calls++;
      return `Argument for ${req.seed}`;
    },
    capabilities: { logprobs: true },
  });
  const config = parseExperiment({
    name: 'rerun',
    dataset: { name: 'jsonl', path: dataset(dir), sizes: { train_weak: 30, train_strong: 30, test: 30 } },
    debate: { protocol: 'debate', debaters: ['scripted:counting'], turns: 3, samples: 2 },
    weak: { features: { kind: 'hashed', dim: 256 }, ensemble: { size: 2 } },
    strong: { features: { kind: 'embedding', model: 'scripted:counting' } },
    judges: [{ name: 'j', model: 'scripted:counting', method: 'parsed' }],
    metrics: { bootstrap: 200 },
  });
  const out = join(dir, 'run.sqlite');
  const cacheFile = join(dir, 'cache.sqlite');
  const first = await runExperiment({ config, out, cacheFile });
  assert.equal(first.status, 'completed');
  const callsAfterFirst = calls;
  assert.equal(callsAfterFirst, 90 * 2 * 3 + 60 * 2 * 2, 'every turn and both judge orders were generated once');
  const before = ledger(out);

  const second = await runExperiment({ config, out, cacheFile });
  assert.equal(calls, callsAfterFirst, 'no model calls');
  assert.deepEqual(ledger(out), before, 'no ledger rows either: every stage was skipped');
  assert.deepEqual(second, first);

  // A fresh database with the same shared cache: every call is a cache hit, none reaches the model.
  const elsewhere = join(dir, 'copy.sqlite');
  const third = await runExperiment({ config, out: elsewhere, cacheFile });
  assert.equal(calls, callsAfterFirst);
  assert.equal(ledger(elsewhere).misses, 0);
  assert.ok(ledger(elsewhere).total > 0, 'hits are in the ledger too');
  assert.equal(third.status, 'completed');
  if (third.status === 'completed' && first.status === 'completed') assert.deepEqual(third.metrics, first.metrics);

  // --no-cache goes to the model again.
  await runExperiment({ config, out: join(dir, 'nocache.sqlite'), noCache: true });
  assert.equal(calls, 2 * callsAfterFirst);
});
