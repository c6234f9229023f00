import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/index.js';
import { crateRows, truthByQuestion, writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Synthetic data whose text says nothing about the label, and debaters whose arguments carry it: the honest debater
 * (the one whose side is true) names the truth. The harness must show the debate-trained ensemble beating the
 * no-debate weak model — where the effect exists, w2s can measure it.
 */
test('a debate ensemble beats the no-debate weak model when the arguments carry the answer', async () => {
  const dir = tempDir();
  const rows = crateRows(360, 11);
  const truth = truthByQuestion(rows);
  const file = writeJsonl(dir, 'crates.jsonl', rows);
  registerScript('honest-tell', {
    generate(req) {
      const prompt = req.messages.map((m) => m.content).join('\n');
      const question = /<question>\n(.*)\n<\/question>/.exec(prompt)![1]!;
      const arguesCorrect = /Your side: the proposed answer is correct/.test(prompt);
      const honest = arguesCorrect === (truth.get(question) === 1);
      return honest ? (truth.get(question) === 1 ? 'verified placement confirmed' : 'misplaced crate refuted') : 'I think my side holds.';
    },
  });
  const config = parseExperiment({
    name: 'effect',
    seed: 5,
    dataset: { name: 'jsonl', path: file, sizes: { train_weak: 120, train_strong: 120, test: 120 } },
    debate: { protocol: 'debate', debaters: ['scripted:honest-tell'], turns: 2, samples: 2, temperature: 1 },
    weak: { features: { kind: 'hashed', dim: 1024, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 2 }, probe: { epochs: 30, lr: 0.05 } },
    strong: { features: { kind: 'hashed', dim: 1024, ngrams: [1, 2] } },
    metrics: { bootstrap: 300 },
  });
  const out = join(dir, 'effect.sqlite');
  const outcome = await runExperiment({ config, out, cacheFile: join(dir, 'cache.sqlite') });
  assert.equal(outcome.status, 'completed');
  if (outcome.status !== 'completed') return;
  const row = (s: string) => outcome.rows.find((r) => r.subject === s)!;
  const weak = row('weak').accuracy;
  const ensemble = row('weak_ensemble').accuracy;
  assert.ok(weak.value! < 0.65, `the text alone carries no signal (weak ${weak.value})`);
  assert.ok(ensemble.value! > 0.9, `the debate carries the answer (ensemble ${ensemble.value})`);
  assert.ok(ensemble.lo! > weak.hi!, 'the intervals separate');

  const store = openStore(out, { readonly: true });
  try {
    const debates = store.debates.listDebates(outcome.runId);
    assert.equal(debates.length, 360 * 2);
    assert.ok(debates.every((d) => d.status === 'completed'));
    const t = store.debates.listTranscripts(outcome.runId)[0]!;
    assert.deepEqual(t.turns.map((x) => x.speaker), ['A', 'B']);
    assert.ok(t.turns.every((x) => x.callId !== null), 'every turn points at its ledger row');
    const m = store.metrics.getMetric(outcome.runId, 'weak_ensemble', 'accuracy')!;
    assert.equal(m.value, ensemble.value);
    assert.ok(store.metrics.getMetric(outcome.runId, 'strong', 'pgr'), 'PGR is stored, defined or not');
  } finally {
    store.close();
  }
});
