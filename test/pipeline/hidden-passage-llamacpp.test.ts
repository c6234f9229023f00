import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';
import { completedRun } from '../helpers/completed-run.js';

/**
 * One real hidden-passage debate end to end on the embedded llama.cpp model (stories260K: its turns are children's
 * stories, so only the plumbing is checked): turns with quote counts and judgments are stored, and the passage is in
 * the debaters' prompts but not in the judge's.
 */
const MODEL = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'models', 'stories260K.gguf');

test('llama.cpp: a hidden-passage debate stores turns, quote counts and judgments, and the judge never reads the passage', async () => {
  const dir = tempDir('w2s-hidden-llamacpp-');
  const passage = (i: number) => `Lily kept ${i + 2} red boats in the zebra-striped shed behind the mill number ${i}.`;
  const rows = Array.from({ length: 12 }, (_, i) => ({ id: `r${i}`, question: `How many boats did Lily keep (${i})?`, answer: String(i + 2 + (i % 2)), label: i % 2 ? 0 : 1, story: passage(i) }));
  const model = { spec: `llamacpp:${MODEL}`, contextSize: 1024, threads: 1 };
  const config = parseExperiment({
    name: 'hidden-llamacpp',
    dataset: { name: 'jsonl', path: writeJsonl(dir, 'rows.jsonl', rows as never), passageField: 'story', sizes: { train_weak: 4, train_strong: 4, test: 4 } },
    debate: { protocol: 'debate', passage: 'debaters', debaters: [model], turns: 2, samples: 1, maxTokens: 16, wordLimit: 16 },
    weak: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 1 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, probe: { epochs: 2 } },
    judges: [{ name: 'j', model, method: 'logprobs', minCoverage: 0 }],
    metrics: { bootstrap: 100 },
  });
  const { outcome, out, store } = await completedRun(config, join(dir, 'run.sqlite'), join(dir, 'cache.sqlite'));
  try {
    const turns = store.db.prepare('SELECT quotes, quotes_verified FROM turns').all() as { quotes: number | null; quotes_verified: number | null }[];
    assert.equal(turns.length, 12 * 2, '12 examples × 1 transcript × 2 turns');
    assert.ok(turns.every((t) => t.quotes !== null && t.quotes_verified !== null && t.quotes_verified <= t.quotes), 'every turn has its quote counts');
    const judgments = store.db.prepare("SELECT COUNT(*) FROM judgments WHERE judge = 'j'").pluck().get() as number;
    assert.equal(judgments, 8 * 2, 'train_strong and test, both presentations');
    const texts = (role: string) =>
      store.db.prepare('SELECT t.text FROM calls c JOIN call_messages m ON m.call_id = c.id JOIN texts t ON t.hash = m.text_hash WHERE c.role = ?').pluck().all(role) as string[];
    assert.ok(texts('debater').some((t) => t.includes('zebra-striped shed')), 'the debaters read the passage');
    const judged = texts('judge:j');
    assert.ok(judged.length > 0, 'the judge\'s prompts are in the ledger');
    assert.ok(judged.every((t) => !t.includes('zebra-striped shed')), 'no judge prompt contains the passage');
  } finally {
    store.close();
  }
});
