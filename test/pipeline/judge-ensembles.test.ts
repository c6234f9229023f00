import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import type { GenerateRequest } from '../../src/models/types.js';
import { preflight } from '../../src/pipeline/preflight.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore, type MetricRow } from '../../src/store/index.js';
import { createRng } from '../../src/rng.js';
import { writeJsonl, type DatasetRow } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Judge ensembles through the whole pipeline, with scripted judges whose errors are planted: each row's question says
 * whether the proposed answer holds and which of three "error bits" are set, and judge k is wrong exactly when bit k
 * is. The test file holds the eight bit patterns in the exact proportions of three independent 70 %-accurate judges
 * (343 : 147 : 63 : 27 per thousand, each pattern half label 1, half label 0), so every expected value below is
 * computed by hand from those counts, not by the code under test:
 * - each judge: accuracy 0.7; three independent judges by vote, mean or log-odds mean: 0.343 + 3 × 0.147 = 0.784;
 * - two of them: 0.49 both right, plus half of the 0.42 where they disagree (a 0.5 mean predicts "incorrect", right
 *   on the half labelled 0): 0.70;
 * - three copies of one judge (perfectly correlated): 0.7, no gain over the member;
 * - two independent judges agree on 0.49 + 0.09 = 0.58 of the examples, their errors' correlation is 0
 *   (90 × 490 − 210 × 210 = 0); a judge and its copy agree always, errors correlated 1.
 */

const PATTERNS: [bits: string, perThousand: number][] = [
  ['000', 343], ['100', 147], ['010', 147], ['001', 147], ['110', 63], ['101', 63], ['011', 63], ['111', 27],
];

function testRows(): DatasetRow[] {
  const rows: DatasetRow[] = [];
  for (const [bits, count] of PATTERNS) {
    // 2 × count rows: half with label 1, half with label 0.
    for (let c = 0; c < 2 * count; c++) rows.push(row(rows.length, bits, c % 2 === 0 ? 1 : 0, 'test'));
  }
  return rows;
}

function row(i: number, bits: string, label: number, pool: string): DatasetRow {
  return { id: `${pool}${i}`, question: `Case ${i} (${pool}). The proposed answer is ${label ? 'right' : 'wrong'}. Flags ${bits}.`, answer: `claim ${i}`, label };
}

/** Train pool: bits drawn independently with P(error) = 0.3, labels alternating; every row is used (sizes add up). */
function trainRows(n: number): DatasetRow[] {
  const rng = createRng(11);
  return Array.from({ length: n }, (_, i) => row(i, [0, 1, 2].map(() => (rng.random() < 0.3 ? '1' : '0')).join(''), i % 2, 'train'));
}

const prompt = (req: GenerateRequest): string => req.messages.map((m) => m.content).join('\n');
/** Which option letter stands for "correct" in this presentation. */
const correctLetter = (p: string): 'A' | 'B' => (/A: The proposed answer is correct\./.test(p) ? 'A' : 'B');
const other = (l: 'A' | 'B'): 'A' | 'B' => (l === 'A' ? 'B' : 'A');

/** A logprob judge 80 % sure of its verdict, wrong exactly when error bit k is set. */
function plantedJudge(k: number) {
  return {
    generate(req: GenerateRequest) {
      const p = prompt(req);
      const holds = /The proposed answer is right\./.test(p);
      const wrong = /Flags ([01]{3})/.exec(p)![1]![k] === '1';
      const saysCorrect = holds !== wrong;
      const pA = (correctLetter(p) === 'A') === saysCorrect ? 0.8 : 0.2;
      return { text: pA > 0.5 ? 'A' : 'B', topLogprobs: [[{ token: 'A', logprob: Math.log(pA) }, { token: 'B', logprob: Math.log(1 - pA) }]] };
    },
    capabilities: { logprobs: true },
  };
}

for (const k of [0, 1, 2]) registerScript(`planted-${k}`, plantedJudge(k));
// Copies of judge 0 under other names (other models), so their calls are their own.
registerScript('planted-0-copy-a', plantedJudge(0));
registerScript('planted-0-copy-b', plantedJudge(0));
// Always picks the first option on even cases, and states no verdict on odd ones.
registerScript('lazy', {
  generate(req) {
    const i = Number(/Case (\d+)/.exec(prompt(req))![1]);
    return i % 2 === 0 ? 'A' : 'Hmm, it is hard to say.';
  },
});

const dir = tempDir('w2s-judge-ensembles-');

async function plantedRun() {
  const test = testRows();
  const train = trainRows(200);
  const config = parseExperiment({
    name: 'planted-judges',
    seed: 3,
    dataset: {
      name: 'jsonl',
      files: { train: writeJsonl(dir, 'train.jsonl', train), test: writeJsonl(dir, 'test.jsonl', test) },
      sizes: { train_weak: 120, train_strong: 80, test: test.length },
    },
    debate: { protocol: 'none' },
    weak: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, ensemble: { kind: 'finetune', size: 2 }, probe: { epochs: 3 } },
    strong: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, probe: { epochs: 3 } },
    judges: [
      { name: 'j0', model: 'scripted:planted-0' },
      { name: 'j1', model: 'scripted:planted-1' },
      { name: 'j2', model: 'scripted:planted-2' },
      { name: 'copy-a', model: 'scripted:planted-0-copy-a' },
      { name: 'copy-b', model: 'scripted:planted-0-copy-b' },
      { name: 'lazy', model: 'scripted:lazy', method: 'parsed', maxTokens: 12 },
    ],
    judgeEnsembles: [
      { name: 'three-vote', members: ['j0', 'j1', 'j2'], aggregate: 'vote' },
      { name: 'three-mean', members: ['j0', 'j1', 'j2'], aggregate: 'mean' },
      { name: 'three-logit', members: ['j0', 'j1', 'j2'], aggregate: 'logit-mean' },
      { name: 'copies', members: ['j0', 'copy-a', 'copy-b'], aggregate: 'vote' },
      { name: 'stacked', members: ['j0', 'j1', 'j2', 'lazy'], aggregate: 'stacked' },
    ],
    metrics: { bootstrap: 200 },
  });
  const out = join(dir, 'planted.sqlite');
  const plan = await preflight(config);
  const outcome = await runExperiment({ config, out, cacheFile: join(dir, 'cache.sqlite') });
  assert.equal(outcome.status, 'completed', outcome.status === 'completed' ? '' : outcome.reason);
  const store = openStore(out, { readonly: true });
  try {
    const metrics = store.metrics.listMetrics(outcome.runId);
    const judgeCalls = (store.db.prepare("SELECT COUNT(*) AS n FROM calls WHERE role LIKE 'judge:%'").get() as { n: number }).n;
    const stacked = store.models.getModel(outcome.runId, 'judge_ensemble', 4)!;
    const byJudge = store.models.listModels(outcome.runId, 'strong_by_judge').map((m) => m.member);
    return { metrics, plan, judgeCalls, stacked, byJudge };
  } finally {
    store.close();
  }
}

let planted: Promise<Awaited<ReturnType<typeof plantedRun>>> | undefined;
const once = () => (planted ??= plantedRun());

function metric(rows: readonly MetricRow[], subject: string, name: string): MetricRow {
  const m = rows.find((r) => r.subject === subject && r.name === name);
  assert.ok(m, `no metric ${subject} ${name}`);
  return m;
}
const close = (actual: number | null | undefined, expected: number, what: string): void =>
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) < 1e-9, `${what}: ${actual} (expected ${expected})`);

test('three independent 70% judges: each scores 0.7, and by vote, mean or log-odds mean together 0.784', async () => {
  const { metrics } = await once();
  for (const j of ['j0', 'j1', 'j2', 'copy-a', 'copy-b']) close(metric(metrics, `judge:${j}`, 'accuracy').value, 0.7, j);
  for (const e of ['three-vote', 'three-mean', 'three-logit']) {
    const acc = metric(metrics, `judge_ensemble:${e}`, 'accuracy');
    close(acc.value, 0.784, e);
    assert.ok(acc.lo! <= 0.784 && acc.hi! >= 0.784 && acc.lo! < acc.hi!, `${e} has an interval around its value`);
    for (const name of ['auroc', 'ece', 'brier']) {
      const m = metric(metrics, `judge_ensemble:${e}`, name);
      assert.ok(m.lo !== null && m.hi !== null && m.lo <= m.value! && m.value! <= m.hi, `${e} ${name} carries a bootstrap interval`);
    }
    const vs = metric(metrics, `judge_ensemble:${e}`, 'vs_best_member');
    close(vs.value, 0.084, `${e} − best member`);
    assert.ok(vs.lo! > 0, `${e} beats its best member significantly: [${vs.lo}, ${vs.hi}]`);
    assert.match(vs.note!, /best member's \(j0, chosen on test\)/);
    assert.ok(metric(metrics, `judge_ensemble:${e}`, 'vs_weak_ensemble').value !== null);
  }
});

test('three copies of one judge (perfectly correlated) gain nothing: 0.7, and 0 over the member', async () => {
  const { metrics } = await once();
  close(metric(metrics, 'judge_ensemble:copies', 'accuracy').value, 0.7, 'copies');
  close(metric(metrics, 'judge_ensemble:copies', 'vs_best_member').value, 0, 'copies − member');
});

test('accuracy against ensemble size is the mean over member subsets, with their range', async () => {
  const { metrics } = await once();
  const at = (k: number) => metric(metrics, 'judge_ensemble:three-mean', `accuracy_at_size:${k}`);
  for (const [k, expected, subsets] of [[1, 0.7, 3], [2, 0.7, 3], [3, 0.784, 1]] as const) {
    close(at(k).value, expected, `size ${k}`);
    close(at(k).lo, expected, `size ${k} min`);
    close(at(k).hi, expected, `size ${k} max`);
    assert.equal(at(k).n, subsets);
    assert.match(at(k).covers!, /not a confidence interval/);
  }
});

test('diversity: independent judges agree on 58% with uncorrelated errors; copies agree always', async () => {
  const { metrics } = await once();
  close(metric(metrics, 'judge_pair:j0|j1', 'agreement').value, 0.58, 'agreement j0 j1');
  close(metric(metrics, 'judge_pair:j0|j1', 'error_correlation').value, 0, 'error correlation j0 j1');
  close(metric(metrics, 'judge_pair:j0|copy-a', 'agreement').value, 1, 'agreement with a copy');
  close(metric(metrics, 'judge_pair:j0|copy-a', 'error_correlation').value, 1, 'error correlation with a copy');
  close(metric(metrics, 'judge_pair:j0|copy-a', 'kappa').value, 1, 'kappa with a copy');
});

test('position bias and parse coverage: a judge that always says "A" or nothing is caught', async () => {
  const { metrics } = await once();
  // Unbiased: P(first option) is p in one presentation and 1 − p in the other.
  close(metric(metrics, 'judge:j0', 'position_bias').value, 0.5, 'j0 position bias');
  // Even cases: "A" in both presentations (P(first) = 1); odd cases: no verdict (0.5). Half and half: 0.75.
  const bias = metric(metrics, 'judge:lazy', 'position_bias');
  close(bias.value, 0.75, 'lazy position bias');
  assert.ok(bias.lo! > 0.5, 'the bias is significant');
  // Every split the lazy judge read (all 200 train rows and the 2000 test rows) is half even, half odd.
  close(metric(metrics, 'judge:lazy', 'parse_coverage').value, 0.5, 'lazy coverage');
  close(metric(metrics, 'judge:j0', 'parse_coverage').value, 1, 'j0 coverage');
  close(metric(metrics, 'judge_ensemble:stacked', 'parse_coverage').value, (1 + 1 + 1 + 0.5) / 4, 'stacked coverage');
  close(metric(metrics, 'judge:lazy', 'accuracy').value, 0.5, 'lazy accuracy: P(correct) 0.5 everywhere predicts "incorrect"');
});

test('stacked: weights fit on train_weak; a member that says nothing gets weight 0; the stored accuracy is what the weights give', async () => {
  const { metrics, stacked } = await once();
  // lazy's P(correct) is 0.5 on every example: its log-odds are 0, so it cannot move the fit.
  close(metric(metrics, 'judge_ensemble:stacked', 'weight:lazy').value, 0, 'weight of lazy');
  const w = [0, 1, 2].map((k) => metric(metrics, 'judge_ensemble:stacked', `weight:j${k}`).value!);
  const b = metric(metrics, 'judge_ensemble:stacked', 'weight:intercept').value!;
  for (const [k, wk] of w.entries()) assert.ok(wk > 0, `informative judge ${k} gets a positive weight: ${w}`);
  // The weights fit on 120 train_weak rows are not exactly equal, so the stacked verdict is not always the majority's.
  // Score the stored weights on the planted test patterns by hand: judge k's log-odds are ±ln 4 (P = 0.8 or 0.2).
  const l = Math.log(4);
  let right = 0;
  for (const [bits, perThousand] of PATTERNS) {
    for (const label of [0, 1]) {
      const z = b + w.reduce((sum, wk, k) => sum + wk * ((bits[k] === '1') !== (label === 1) ? l : -l), 0);
      if ((z > 0) === (label === 1)) right += perThousand;
    }
  }
  close(metric(metrics, 'judge_ensemble:stacked', 'accuracy').value, right / 2000, 'stacked accuracy from its weights');
  const state = stacked.state as { folds: unknown[]; fitOn: string };
  assert.equal(state.folds.length, 5);
  assert.match(state.fitOn, /train_weak \(120 examples\)/);
});

test('cost and the frontier: ensembles cost their members\' tokens; the dominated ones are off the frontier', async () => {
  const { metrics } = await once();
  const tokens = (s: string) => metric(metrics, s, 'tokens_per_example').value!;
  assert.ok(tokens('judge:j0') > 0);
  close(tokens('judge_ensemble:three-vote'), tokens('judge:j0') + tokens('judge:j1') + tokens('judge:j2'), 'ensemble tokens');
  const on = (s: string) => metric(metrics, s, 'on_frontier').value;
  // j0..j2 and the copies tie at the lowest cost (0.7); the three-judge ensembles tie above them (0.784).
  for (const s of ['judge:j0', 'judge:j1', 'judge:j2', 'judge:copy-a', 'judge_ensemble:three-vote', 'judge_ensemble:three-mean']) assert.equal(on(s), 1, s);
  // lazy costs at least a judge and scores less; copies cost as much as three-vote and score less; stacked costs more.
  for (const s of ['judge:lazy', 'judge_ensemble:copies', 'judge_ensemble:stacked']) assert.equal(on(s), 0, s);
  assert.match(metric(metrics, 'judge:j0', 'on_frontier').note!, /tokens per judged example/);
});

test('every judge ensemble supervises a strong model of its own, scored like the judges\' (PGR included)', async () => {
  const { metrics, byJudge } = await once();
  assert.deepEqual(byJudge.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  for (const e of ['three-vote', 'stacked']) {
    assert.ok(metric(metrics, `strong_by_judge:${e}`, 'accuracy').value !== null);
    metric(metrics, `strong_by_judge:${e}`, 'pgr');
  }
});

test('the preflight counts exactly the judge calls the run makes (train_weak only for stacked members)', async () => {
  const { plan, judgeCalls } = await once();
  // 2 presentations × (80 train_strong + 2000 test) × 6 judges, plus 2 × 120 train_weak for the 4 stacked members.
  assert.equal(plan.calls.judge, 2 * 2080 * 6 + 2 * 120 * 4);
  assert.equal(judgeCalls, plan.calls.judge);
});

test('prompt variants, one presentation, chosen transcripts and self-consistency samples are each a judge of their own', async () => {
  const sub = tempDir('w2s-judge-variants-');
  const prompts = join(sub, 'prompts');
  cpSync('prompts', prompts, { recursive: true });
  writeFileSync(join(prompts, 'judge', 'terse.md'), 'TERSE. {{task}}\n{{question}}\n{{answer}}\n{{transcript}}\nA: {{option_a}}\nB: {{option_b}}\nAnswer:');
  registerScript('variant-debater', { generate: (req) => `Sample argument ${req.seed}.` });
  const seen: { terse: number; seeds: Set<number> } = { terse: 0, seeds: new Set() };
  registerScript('variant-judge', {
    generate(req) {
      const p = prompt(req);
      if (p.startsWith('TERSE.')) seen.terse++;
      seen.seeds.add(req.seed ?? -1);
      // Seeds 0, 1, 2 of 5 pick "correct": P(correct) = 3/5 in each presentation.
      return (req.seed ?? 0) < 3 ? correctLetter(p) : other(correctLetter(p));
    },
  });
  const rows = Array.from({ length: 40 }, (_, i) => ({ question: `Question ${i}?`, answer: `answer ${i}`, label: i % 2 }));
  const config = parseExperiment({
    name: 'variants',
    dataset: { name: 'jsonl', path: writeJsonl(sub, 'd.jsonl', rows), sizes: { train_weak: 10, train_strong: 10, test: 20 } },
    debate: { protocol: 'debate', debaters: ['scripted:variant-debater'], turns: 1, samples: 2, promptsDir: prompts },
    weak: { features: { kind: 'hashed', dim: 64 }, ensemble: { size: 2 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 64 }, probe: { epochs: 2 } },
    judges: [
      { name: 'sc', model: 'scripted:variant-judge', method: 'parsed', samples: 5, temperature: 0.7 },
      { name: 'terse-first', model: 'scripted:variant-judge', method: 'parsed', template: 'judge/terse.md', orders: 'original', transcripts: [1] },
    ],
    judgeEnsembles: [{ name: 'pair', members: ['sc', 'terse-first'] }],
    metrics: { bootstrap: 100 },
  });
  const out = join(sub, 'v.sqlite');
  const outcome = await runExperiment({ config, out, cacheFile: join(sub, 'cache.sqlite') });
  assert.equal(outcome.status, 'completed', outcome.status === 'completed' ? '' : outcome.reason);
  const store = openStore(out, { readonly: true });
  try {
    const sc = store.judgments.listJudgments(outcome.runId, { judge: 'sc' });
    // 30 examples (train_strong + test) × 2 transcripts × 2 presentations × 5 samples.
    assert.equal(sc.length, 30 * 2 * 2 * 5);
    assert.deepEqual([...new Set(sc.map((j) => j.sample))].sort(), [0, 1, 2, 3, 4]);
    const terse = store.judgments.listJudgments(outcome.runId, { judge: 'terse-first' });
    assert.equal(terse.length, 30, 'one transcript, one presentation, one sample per example');
    assert.ok(terse.every((j) => !j.orderSwapped));
    const sample1 = new Set(store.db.prepare('SELECT id FROM debates WHERE sample = 1').all().map((r) => (r as { id: string }).id));
    assert.ok(terse.every((j) => sample1.has(j.debateId!)), 'reads transcript 1 only');
    assert.equal(seen.terse, 30, 'its own template');
    assert.deepEqual([...seen.seeds].sort(), [0, 1, 2, 3, 4]);
    const ensemble = store.models.getModel(outcome.runId, 'judge_ensemble', 0)!;
    // sc: 3/5 everywhere; terse-first: seed 0 picks "correct", P = 1. Mean: 0.8.
    assert.ok(store.models.listPredictions(ensemble.id).every((p) => Math.abs(p.p1 - 0.8) < 1e-12));
    const metrics = store.metrics.listMetrics(outcome.runId);
    assert.ok(!metrics.some((m) => m.subject === 'judge:terse-first' && m.name === 'position_bias'), 'no position bias from one presentation');
    assert.ok(metrics.some((m) => m.subject === 'judge:sc' && m.name === 'position_bias'));
  } finally {
    store.close();
  }
});
