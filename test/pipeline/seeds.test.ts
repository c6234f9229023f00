import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openReport } from '../../src/report/queries.js';
import { formatRunSummary } from '../../src/report/terminal.js';
import { createRng } from '../../src/rng.js';
import { openStore } from '../../src/store/index.js';
import { writeRows } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('w2s-seeds-');

/** Rows whose answer carries a noisy cue to the label (a cue word agrees with the label 80 % of the time). */
function cueRows(n: number): string {
  const rng = createRng(21);
  return writeRows(dir, 'cues.jsonl', n, (i) => {
    const label = rng.random() < 0.5 ? 1 : 0;
    const cue = rng.random() < 0.8 ? label : 1 - label;
    return { id: `c${i}`, question: `Item ${i}: is the reading within tolerance?`, answer: `${cue ? 'steady' : 'drifting'} gauge ${rng.int(50)}`, label };
  });
}

const data = cueRows(240);
const base = {
  seed: 3,
  dataset: { name: 'jsonl', path: data, sizes: { train_weak: 80, train_strong: 80, test: 80 } },
  debate: { protocol: 'debate', debaters: ['scripted:echo'], turns: 1, samples: 2, maxTokens: 8 },
  weak: { features: { kind: 'hashed', dim: 512, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 2 }, probe: { epochs: 10 } },
  strong: { features: { kind: 'hashed', dim: 512, ngrams: [1, 2] }, probe: { epochs: 10 } },
  metrics: { bootstrap: 200 },
};

test('seeds repeat the training side; means over seeds carry a t interval; the ablation trains Table 5 in one run', async () => {
  const config = parseExperiment({ ...base, name: 'seeded', seeds: 3, weak: { ...base.weak, ensemble: { kind: 'debate', size: 2, ablation: true } } });
  const out = `${dir}/seeded.sqlite`;
  const outcome = await runExperiment({ config, out, cacheFile: `${dir}/cache.sqlite` });
  assert.equal(outcome.status, 'completed');
  const plain = await runExperiment({ config: parseExperiment({ ...base, name: 'plain' }), out: `${dir}/plain.sqlite`, cacheFile: `${dir}/cache.sqlite` });
  assert.equal(plain.status, 'completed');

  const store = openStore(out, { readonly: true });
  const other = openStore(`${dir}/plain.sqlite`, { readonly: true });
  try {
    const runId = outcome.runId;
    const test_ = store.examples.listExamples(runId, 'test');
    const accuracyOf = (role: string): number => {
      const m = store.models.getModel(runId, role, 0)!;
      const p = new Map(store.models.listPredictions(m.id).map((x) => [x.exampleId, x.p1]));
      return test_.filter((e) => (p.get(e.id)! > 0.5 ? 1 : 0) === e.label).length / test_.length;
    };
    // Three replicates of every trained role, the first with the plain names, and the ablation's extra models.
    for (const role of ['weak', 'strong', 'strong_naive', 'strong_ceiling', 'strong_single', 'strong_finetune', 'weak_member_finetune']) {
      for (const suffix of ['', '@seed1', '@seed2']) assert.ok(store.models.getModel(runId, role + suffix, 0), `${role}${suffix} trained`);
    }
    // The first seed's models are the models a run without seeds trains: adding seeds changes nothing already there.
    const predsOf = (s: typeof store, run: string, role: string): number[] => s.models.listPredictions(s.models.getModel(run, role, 0)!.id).map((p) => p.p1);
    assert.deepEqual(predsOf(store, runId, 'weak'), predsOf(other, plain.runId, 'weak'));
    assert.notDeepEqual(predsOf(store, runId, 'weak'), predsOf(store, runId, 'weak@seed1'));

    // The mean over seeds and its t interval, recomputed here from the stored predictions (t(0.975, 2) = 4.303).
    const accs = ['weak', 'weak@seed1', 'weak@seed2'].map(accuracyOf);
    const mean = accs.reduce((a, b) => a + b) / 3;
    const sd = Math.sqrt(accs.reduce((a, v) => a + (v - mean) ** 2, 0) / 2);
    const stored = store.metrics.getMetric(runId, 'weak', 'accuracy_over_seeds')!;
    assert.ok(Math.abs(stored.value! - mean) < 1e-12);
    assert.ok(Math.abs(stored.hi! - (mean + 4.302653 * sd / Math.sqrt(3))) < 1e-5);
    assert.equal(stored.method, 't interval over training seeds');
    assert.equal(stored.covers, '3 training seeds (0, 1, 2) on one test split');
    assert.ok(Math.abs(store.metrics.getMetric(runId, 'weak@seed2', 'accuracy')!.value! - accs[2]!) < 1e-12);
  } finally {
    store.close();
    other.close();
  }
  const q = openReport(out);
  try {
    const text = formatRunSummary(q, outcome.runId);
    assert.match(text, /accuracy % over 3 seeds\s+PGR % over seeds/);
    // Each row: its short name, the numbers, and what it is last.
    assert.match(text, /^strong on member 0\s+\d.*\s{2}strong on weak member 0's labels \(debate transcript 0\)$/m);
    assert.match(text, /^finetune ensemble\s+\d.*\s{2}weak finetune ensemble of 2 \(debate transcript 0, seeds differ\), mean$/m);
    assert.match(text, /^weak ensemble\s+\d.*\s{2}weak debate ensemble of 2 \(debate transcripts, one each\), mean$/m);
    assert.match(text, /the "over seeds" columns give the mean and a 95% t interval over 3 training seeds \(0, 1, 2\) on one test split\./);
  } finally {
    q.close();
  }
});

test('seeds and the ablation are checked before any work', () => {
  assert.throws(() => parseExperiment({ ...base, debate: { protocol: 'none' }, weak: { ...base.weak, ensemble: { size: 2, ablation: true } } }), (e: unknown) => e instanceof UserError && /weak\.ensemble\.ablation/.test(e.message));
  assert.throws(() => parseExperiment({ ...base, seeds: [1, 1] }), /field seeds: training seeds must differ/);
  assert.throws(() => parseExperiment({ ...base, seeds: 0 }), /field seeds/);
});

test('over seeds, PGR needs a gap that is significant on the test split; seeds that change nothing say so', async () => {
  // L-BFGS fits converge to the same model whatever the seed: the spread over seeds is 0, and a t interval of zero
  // width must not make a noisy gap look significant.
  const lbfgs = { optimizer: 'lbfgs', l2: 0.01 };
  const config = parseExperiment({
    ...base, name: 'deterministic', seeds: 3,
    weak: { ...base.weak, features: { kind: 'hashed', dim: 16, ngrams: [1, 1] }, probe: lbfgs }, strong: { ...base.strong, features: { kind: 'hashed', dim: 512, ngrams: [1, 1] }, probe: lbfgs },
  });
  const out = `${dir}/deterministic.sqlite`;
  const outcome = await runExperiment({ config, out, cacheFile: `${dir}/cache.sqlite` });
  assert.equal(outcome.status, 'completed');
  const store = openStore(out, { readonly: true });
  try {
    const get = (subject: string, name: string) => store.metrics.getMetric(outcome.runId, subject, name)!;
    const weak = get('weak', 'accuracy_over_seeds');
    assert.equal(weak.lo, weak.hi);
    assert.match(weak.note!, /every seed gave the same value/);
    // A number only where every seed's own test-split gap is significantly positive (ceiling above weak).
    const gaps = ['strong_ceiling', 'strong_ceiling@seed1', 'strong_ceiling@seed2'].map((s) => get(s, 'gap'));
    const pgr = get('strong', 'pgr_over_seeds');
    assert.equal(pgr.value !== null, gaps.every((g) => g.lo! > 0), `gaps ${gaps.map((g) => `[${g.lo}, ${g.hi}]`).join(' ')}, PGR ${pgr.value} (${pgr.note})`);
    if (gaps.some((g) => g.lo! <= 0 && g.hi! >= 0)) assert.match(pgr.note!, /gap not significant on the test split for \d of 3 seeds/);
    // Accuracy intervals over seeds stay within [0, 1].
    for (const m of store.metrics.listMetrics(outcome.runId).filter((x) => x.name === 'accuracy_over_seeds')) assert.ok(m.lo! >= 0 && m.hi! <= 1);
  } finally {
    store.close();
  }
});
