import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { auditLeaks } from '../../src/pipeline/audit.js';
import type { StageContext } from '../../src/pipeline/context.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore, type Split } from '../../src/store/index.js';
import { crateRows, writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('w2s-leak-');

test('market debates argue against an out-of-sample weak pick on train_weak, and the leak audit is stored', async () => {
  // Labels are coin flips and each row's text is unique, so the weak probe memorises train_weak (in-sample accuracy
  // near 100 %) and is at chance elsewhere. Arguing against its in-sample pick would make the advocated side the
  // opposite of the gold label on every train_weak row.
  const data = writeJsonl(dir, 'crates.jsonl', crateRows(200, 11));
  const config = parseExperiment({
    name: 'market-leak', seed: 5,
    dataset: { name: 'jsonl', path: data, sizes: { train_weak: 60, train_strong: 40, test: 60 } },
    debate: { protocol: 'market', debaters: ['scripted:echo'], turns: 1, samples: 2, maxTokens: 8 },
    weak: { ensemble: { size: 2 }, probe: { epochs: 60, lr: 0.1 } },
    strong: {},
    metrics: { bootstrap: 200 },
  });
  const out = `${dir}/market.sqlite`;
  const outcome = await runExperiment({ config, out, cacheFile: `${dir}/cache.sqlite` });
  assert.equal(outcome.status, 'completed');

  const store = openStore(out);
  try {
    const runId = outcome.runId;
    const examples = store.examples.listExamples(runId);
    const trainWeak = examples.filter((e) => e.split === 'train_weak');
    const weak = store.models.getModel(runId, 'weak', 0)!;
    const weakP = new Map(store.models.listPredictions(weak.id).map((p) => [p.exampleId, p.p1]));
    const inSample = trainWeak.filter((e) => (weakP.get(e.id)! > 0.5 ? 1 : 0) === e.label).length / trainWeak.length;
    assert.ok(inSample > 0.9, `the weak baseline should memorise its training rows (in-sample accuracy ${inSample})`);

    // The fold models partition train_weak: every train_weak example is predicted by exactly one of them.
    const foldOf = new Map<string, number>();
    let folds = 0;
    for (; store.models.getModel(runId, 'weak_crossfit', folds); folds++) {
      for (const p of store.models.listPredictions(store.models.getModel(runId, 'weak_crossfit', folds)!.id)) {
        assert.ok(!foldOf.has(p.exampleId), `${p.exampleId} is predicted by two folds`);
        foldOf.set(p.exampleId, folds);
      }
    }
    assert.equal(folds, 5);
    assert.deepEqual([...foldOf.keys()].sort(), trainWeak.map((e) => e.id).sort());

    // Each train_weak debate argues against its fold model's pick, and the side agrees with gold about as often as on test.
    const agreement = (split: Split): number => {
      const ids = new Set(examples.filter((e) => e.split === split).map((e) => e.id));
      const debates = store.debates.listDebates(runId).filter((d) => ids.has(d.exampleId));
      const label = new Map(examples.map((e) => [e.id, e.label]));
      return debates.filter((d) => (d.sides.A === 'correct') === (label.get(d.exampleId) === 1)).length / debates.length;
    };
    for (const d of store.debates.listDebates(runId).filter((x) => foldOf.has(x.exampleId))) {
      const fold = store.models.getModel(runId, 'weak_crossfit', foldOf.get(d.exampleId)!)!;
      const pick = store.models.listPredictions(fold.id).find((p) => p.exampleId === d.exampleId)!.p1 > 0.5 ? 'correct' : 'incorrect';
      assert.notEqual(d.sides.A, pick);
    }
    const onTrainWeak = agreement('train_weak');
    assert.ok(onTrainWeak > 0.25 && onTrainWeak < 0.75, `P(side = gold) on train_weak is ${onTrainWeak}`);

    // The audit stored those figures, one per split, with how the interval was made.
    const stored = store.metrics.getMetric(runId, 'leak_audit:train_weak', 'p_side_gold')!;
    assert.ok(Math.abs(stored.value! - onTrainWeak) < 1e-12);
    assert.ok(stored.lo! <= stored.value! && stored.value! <= stored.hi!);
    assert.equal(stored.n, 120);
    assert.match(stored.covers!, /clustered by example \(60 clusters\)/);
    assert.match(stored.note!, /vs test p = /);
    assert.ok(Math.abs(store.metrics.getMetric(runId, 'leak_audit:test', 'p_side_gold')!.value! - agreement('test')) < 1e-12);
  } finally {
    store.close();
  }
});

/** A store holding 40 examples a split whose debates' sides are given by side(split, i, label). */
function planted(file: string, protocol: 'debate' | 'market', side: (split: Split, i: number, label: 0 | 1) => 'correct' | 'incorrect', onLeak: 'stop' | 'warn' = 'stop'): StageContext {
  const config = parseExperiment({
    dataset: { name: 'jsonl', path: 'unused.jsonl' }, debate: { protocol, debaters: ['scripted:echo'], samples: 2 },
    weak: { ensemble: { size: 2 } }, strong: {}, audit: { onLeak },
  });
  const store = openStore(file);
  const runId = 'r';
  store.runs.createRun({ id: runId, name: 'r', config, configHash: 'h', dataset: 'jsonl' });
  for (const split of ['train_weak', 'train_strong', 'test'] as const) {
    const rows = Array.from({ length: 40 }, (_, i) => ({ id: `${split}-${i}`, split, text: 't', label: (i % 2) as 0 | 1 }));
    store.examples.insertExamples(runId, rows);
    for (const e of rows) {
      for (let sample = 0; sample < 2; sample++) {
        const id = `${e.id}/${sample}`;
        const s = side(split, Number(e.id.split('-')[1]) * 2 + sample, e.label);
        store.debates.upsertDebate({ id, runId, exampleId: e.id, protocol, sample, seed: 0, sides: protocol === 'debate' ? { A: s, B: s === 'correct' ? 'incorrect' : 'correct' } : { A: s } });
        store.debates.completeDebate(id);
      }
    }
  }
  const messages: string[] = [];
  return { config, runId, store, progress: (e) => void (e.message && messages.push(e.message)) } as unknown as StageContext;
}

// Sides that alternate by transcript: agreement with gold is exactly 50 % on every split.
const balanced = (_split: Split, i: number): 'correct' | 'incorrect' => (Math.floor(i / 2) % 4 < 2 ? 'correct' : 'incorrect');

test('the leak audit stops a run whose training split reveals the label through the side, in one sentence', () => {
  const ctx = planted(`${dir}/stop.sqlite`, 'market', (split, i, label) => (split === 'train_weak' ? (label ? 'correct' : 'incorrect') : balanced(split, i)));
  try {
    assert.throws(
      () => auditLeaks(ctx),
      (e: unknown) => e instanceof UserError && /on train_weak .* agrees with the gold label 100\.0 % of the time against 50\.0 % on test/.test(e.message) && /audit\.onLeak/.test(e.message) && !e.message.includes('\n'),
    );
    // The figures are stored even when the run stops, so the user can look at them.
    assert.equal(ctx.store.metrics.getMetric('r', 'leak_audit:train_weak', 'p_side_gold')!.value, 1);
  } finally {
    ctx.store.close();
  }
});

test('the leak audit passes balanced sides, tests random-side protocols against 0.5, and only warns when told to', () => {
  const ok = planted(`${dir}/ok.sqlite`, 'debate', balanced);
  try {
    const audits = auditLeaks(ok);
    assert.deepEqual(audits.map((a) => [a.split, a.value, a.transcripts, a.clusters]), [['train_weak', 0.5, 80, 40], ['train_strong', 0.5, 80, 40], ['test', 0.5, 80, 40]]);
    assert.ok(audits.every((a) => a.pVsHalf === 1));
  } finally {
    ok.store.close();
  }
  // debate sides are random: a protocol that gives A the correct side 100 % of the time everywhere is a leak even
  // though every split looks alike.
  const allCorrect = planted(`${dir}/half.sqlite`, 'debate', (_s, _i, label) => (label ? 'correct' : 'incorrect'));
  try {
    assert.throws(() => auditLeaks(allCorrect), /against the 50 % that random sides give/);
  } finally {
    allCorrect.store.close();
  }
  const warned = planted(`${dir}/warn.sqlite`, 'market', (split, i, label) => (split === 'train_weak' ? (label ? 'correct' : 'incorrect') : balanced(split, i)), 'warn');
  try {
    assert.equal(auditLeaks(warned).length, 3);
  } finally {
    warned.store.close();
  }
});
