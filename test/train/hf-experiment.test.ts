import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import { ensureTrainerEnv } from '../../src/train/trainer-env.js';
import { tempDir } from '../helpers/tmp.js';
import { completedRun } from '../helpers/completed-run.js';

const MODEL = '../shared/models/stories260K.gguf';

test('an experiment whose weak ensemble is fine-tuned by the Python trainer runs end to end', { timeout: 900_000 }, async () => {
  await ensureTrainerEnv();
  const dir = tempDir();
  const file = join(dir, 'rows.jsonl');
  const rows = Array.from({ length: 60 }, (_, i) => JSON.stringify({ question: `Is stone ${i} heavy?`, answer: i % 2 ? 'yes' : 'no', label: i % 2 }));
  writeFileSync(file, `${rows.join('\n')}\n`);
  registerScript('hf-debater', { generate: (req) => (/answer is correct/.test(req.messages.at(-1)!.content) ? 'It is right.' : 'It is wrong.') });
  const config = parseExperiment({
    name: 'hf-e2e',
    dataset: { name: 'jsonl', path: file, sizes: { train_weak: 20, train_strong: 20, test: 20 } },
    debate: { protocol: 'debate', debaters: ['scripted:hf-debater'], turns: 1, samples: 2 },
    weak: {
      backend: 'hf',
      hf: { baseModel: MODEL, mode: 'full', params: { epochs: 1, batchSize: 10, lr: 0.001, maxCtx: 96, overflow: 'truncate', threads: 1 } },
      ensemble: { kind: 'debate', size: 2 },
    },
    strong: { features: { kind: 'hashed', dim: 256 } },
    metrics: { bootstrap: 100 },
  });
  const { outcome, out, store } = await completedRun(config, join(dir, 'hf.sqlite'), join(dir, 'cache.sqlite'));
  try {
    const weak = store.models.listModels(outcome.runId).filter((m) => m.backend === 'hf');
    assert.deepEqual(weak.map((m) => `${m.role}/${m.member}`).sort(), ['weak/0', 'weak_member/0', 'weak_member/1']);
    for (const m of weak) {
      assert.ok(m.artifactPath && existsSync(m.artifactPath), 'the artifact directory is recorded and exists');
      assert.match(m.artifactSha256 ?? '', /^[0-9a-f]{64}$/);
      assert.ok(((m.stats as { curve?: unknown[] }).curve ?? []).length > 0, 'the training curve is stored');
      const predictions = store.models.listPredictions(m.id);
      assert.ok(predictions.length >= 40 && predictions.every((p) => p.p1 >= 0 && p.p1 <= 1));
    }
  } finally {
    store.close();
  }
});
