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
import { completedRun } from '../helpers/completed-run.js';

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
// Right on every train-pool row and wrong on every test row (it reads the pool's name): a stacker fit on train_weak
// trusts it (a positive weight); one fit on test would distrust it.
registerScript('flip', {
  generate(req) {
    const p = prompt(req);
    const holds = /The proposed answer is right\./.test(p);
    const saysCorrect = /\(train\)/.test(p) ? holds : !holds;
    const pA = (correctLetter(p) === 'A') === saysCorrect ? 0.8 : 0.2;
    return { text: pA > 0.5 ? 'A' : 'B', topLogprobs: [[{ token: 'A', logprob: Math.log(pA) }, { token: 'B', logprob: Math.log(1 - pA) }]] };
  },
  capabilities: { logprobs: true },
});
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
      // Half its replies state no verdict: below the default minCoverage (90%), so it is let in explicitly.
      { name: 'lazy', model: 'scripted:lazy', method: 'parsed', maxTokens: 12, minCoverage: 0.4 },
      { name: 'flip', model: 'scripted:flip' },
    ],
    judgeEnsembles: [
      { name: 'three-vote', members: ['j0', 'j1', 'j2'], aggregate: 'vote' },
      { name: 'three-mean', members: ['j0', 'j1', 'j2'], aggregate: 'mean' },
      { name: 'three-logit', members: ['j0', 'j1', 'j2'], aggregate: 'logit-mean' },
      { name: 'copies', members: ['j0', 'copy-a', 'copy-b'], aggregate: 'vote' },
      { name: 'stacked', members: ['j0', 'j1', 'j2', 'lazy'], aggregate: 'stacked' },
      { name: 'stacked-flip', members: ['j0', 'flip'], aggregate: 'stacked' },
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
    const stackedPredictions = store.models.listPredictions(stacked.id);
    const trainWeakIds = new Set(store.examples.listExamples(outcome.runId, 'train_weak').map((e) => e.id));
    const trainWeakQuestions = new Map(store.examples.listExamples(outcome.runId, 'train_weak').map((e) => [e.id, e.question!]));
    const byJudge = store.models.listModels(outcome.runId, 'strong_by_judge').map((m) => m.member);
    return { metrics, plan, judgeCalls, stacked, byJudge, stackedPredictions, trainWeakIds, trainWeakQuestions };
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
  // Even cases: "A" in both presentations (P(first) = 1); odd cases state no verdict and carry no evidence either way,
  // so they are left out (1000 of the 2000 test rows) rather than counted as 0.5.
  const bias = metric(metrics, 'judge:lazy', 'position_bias');
  close(bias.value, 1, 'lazy position bias');
  assert.ok(bias.lo! > 0.5, 'the bias is significant');
  assert.equal(bias.n, 1000, 'position bias is measured on the 1000 test examples with a verdict');
  assert.match(bias.note ?? '', /1000 test examples without such a pair left out/, 'the note says how many were left out');
  // Every split the lazy judge read (all 200 train rows and the 2000 test rows) is half even, half odd.
  close(metric(metrics, 'judge:lazy', 'parse_coverage').value, 0.5, 'lazy coverage');
  close(metric(metrics, 'judge:j0', 'parse_coverage').value, 1, 'j0 coverage');
  close(metric(metrics, 'judge_ensemble:stacked', 'parse_coverage').value, (1 + 1 + 1 + 0.5) / 4, 'stacked coverage');
  // "A" in both presentations means "correct" once and "incorrect" once: 0.5; an abstention counts as 0.5 too, and says so.
  const lazyAccuracy = metric(metrics, 'judge:lazy', 'accuracy');
  close(lazyAccuracy.value, 0.5, 'lazy accuracy: P(correct) 0.5 everywhere predicts "incorrect"');
  assert.match(lazyAccuracy.note ?? '', /^1000 of 2000 test examples had no reply stating a verdict and count as P\(correct\) = 0\.5$/, 'the abstentions are counted');
});

test('stacked: weights fit on train_weak; a member that says nothing gets weight 0; the stored accuracy is what the weights give', async () => {
  const { metrics, stacked } = await once();
  // lazy's P(correct) is 0.5 on every example: its log-odds are 0, so it cannot move the fit.
  close(metric(metrics, 'judge_ensemble:stacked', 'weight:lazy').value, 0, 'weight of lazy');
  const w = [0, 1, 2].map((k) => metric(metrics, 'judge_ensemble:stacked', `weight:j${k}`).value!);
  const b = metric(metrics, 'judge_ensemble:stacked', 'stacked_intercept').value!;
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
  const state = stacked.state as { folds: { intercept: number; byMember: Record<string, number> }[]; weights: { intercept: number; byMember: Record<string, number> }; fitOn: string };
  assert.equal(state.folds.length, 5);
  assert.match(state.fitOn, /train_weak \(120 examples\)/);
});

test('stacked: each train_weak value comes from a fold fit without it, never from the fit on all of train_weak', async () => {
  const { stacked, stackedPredictions, trainWeakIds, trainWeakQuestions } = await once();
  type Fit = { intercept: number; byMember: Record<string, number> };
  const state = stacked.state as { folds: Fit[]; weights: Fit };
  // The planted members' log-odds, worked out from each row's question, as the scripts answer it.
  const l = Math.log(4);
  const apply = (fit: Fit, question: string): number => {
    const holds = /is right\./.test(question);
    const bits = /Flags ([01]{3})/.exec(question)![1]!;
    const z = fit.intercept + [0, 1, 2].reduce((sum, k) => sum + fit.byMember[`j${k}`]! * ((bits[k] === '1') !== holds ? l : -l), 0);
    return 1 / (1 + Math.exp(-z));
  };
  const onTrainWeak = stackedPredictions.filter((p) => trainWeakIds.has(p.exampleId));
  assert.equal(onTrainWeak.length, 120);
  const byFold = new Array<number>(state.folds.length).fill(0);
  let likeFullFit = 0;
  for (const p of onTrainWeak) {
    const q = trainWeakQuestions.get(p.exampleId)!;
    const fold = state.folds.findIndex((f) => Math.abs(apply(f, q) - p.p1) < 1e-9);
    assert.ok(fold >= 0, `${p.exampleId}: ${p.p1} is no fold model's value`);
    byFold[fold]!++;
    if (Math.abs(apply(state.weights, q) - p.p1) < 1e-9) likeFullFit++;
  }
  // Every fold holds out about a fifth of the rows, and the full fit (which saw every row) gives other values.
  assert.ok(byFold.every((c) => c >= 15 && c <= 33), `rows per fold: ${byFold}`);
  assert.ok(likeFullFit < 5, `${likeFullFit} of 120 train_weak values equal the full fit's`);
});

test('stacked: the weights are fit on train_weak, where the flipped judge is always right, not on test, where it is always wrong', async () => {
  const { metrics } = await once();
  assert.ok(metric(metrics, 'judge_ensemble:stacked-flip', 'weight:flip').value! > 1, 'trusted on train_weak');
  // On test it is always wrong, with a large positive weight: the ensemble follows it and is wrong too.
  assert.ok(metric(metrics, 'judge_ensemble:stacked-flip', 'accuracy').value! < 0.3);
  assert.match(metric(metrics, 'judge_ensemble:stacked-flip', 'accuracy').covers!, /stacked weights \(fit on train_weak\) held fixed/);
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
  assert.deepEqual(byJudge.sort((a, b) => a - b), Array.from({ length: 7 + 6 }, (_, i) => i));
  for (const e of ['three-vote', 'stacked']) {
    assert.ok(metric(metrics, `strong_by_judge:${e}`, 'accuracy').value !== null);
    metric(metrics, `strong_by_judge:${e}`, 'pgr');
  }
});

test('the preflight counts exactly the judge calls the run makes (train_weak only for stacked members)', async () => {
  const { plan, judgeCalls } = await once();
  // 2 presentations × (80 train_strong + 2000 test) × 7 judges, plus 2 × 120 train_weak for the 5 stacked members.
  assert.equal(plan.calls.judge, 2 * 2080 * 7 + 2 * 120 * 5);
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
  const plan = await preflight(config);
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
    // The plan counts samples, one presentation and chosen transcripts as the stage makes the calls.
    const judgeCalls = (store.db.prepare("SELECT COUNT(*) AS n FROM calls WHERE role LIKE 'judge:%'").get() as { n: number }).n;
    assert.equal(plan.calls.judge, 30 * 2 * 2 * 5 + 30);
    assert.equal(judgeCalls, plan.calls.judge);
  } finally {
    store.close();
  }
});

test('a stacked ensemble that train_weak cannot fit, or a missing judge template, is refused before any judge is paid', async () => {
  const sub = tempDir('w2s-judge-refused-');
  let calls = 0;
  registerScript('counted-judge', { generate: () => (calls++, 'A') });
  const rows = Array.from({ length: 60 }, (_, i) => ({ question: `Q${i}?`, answer: `a${i}`, label: 1 }));
  const base = {
    name: 'refused',
    dataset: { name: 'jsonl', path: writeJsonl(sub, 'ones.jsonl', rows), sizes: { train_weak: 20, train_strong: 20, test: 20 } },
    debate: { protocol: 'none' },
    weak: { features: { kind: 'hashed', dim: 64 }, ensemble: { kind: 'finetune', size: 2 } },
    strong: { features: { kind: 'hashed', dim: 64 } },
    judges: [{ name: 'a', model: 'scripted:counted-judge', method: 'parsed' }, { name: 'b', model: 'scripted:counted-judge', method: 'parsed' }],
  };
  const oneLabel = parseExperiment({ ...base, judgeEnsembles: [{ name: 'st', members: ['a', 'b'], aggregate: 'stacked' }] });
  await assert.rejects(preflight(oneLabel), (e: Error) =>
    /^judgeEnsembles\[0\] "st" is stacked, so its weights are fit on train_weak, but every train_weak label is 1; raise dataset.sizes.train_weak or choose another aggregate\.$/.test(e.message));
  const outcome = await runExperiment({ config: oneLabel, out: join(sub, 'r.sqlite'), cacheFile: join(sub, 'c.sqlite') }).catch((e: Error) => e);
  assert.ok(outcome instanceof Error && /is stacked/.test(outcome.message), 'the run is refused too');
  assert.equal(calls, 0, 'no judge was called');
  // The same data with a mean ensemble is fine (nothing is fit).
  await preflight(parseExperiment({ ...base, judgeEnsembles: [{ name: 'm', members: ['a', 'b'] }] }));
  const missing = parseExperiment({ ...base, judges: [...base.judges, { name: 'c', model: 'scripted:counted-judge', template: 'judge/mine.md' }] });
  await assert.rejects(preflight(missing), (e: Error) => /^judges\[2\]\.template: .*prompts\/judge\/mine\.md does not exist; give a template under debate\.promptsDir/.test(e.message));
});

test('accuracy against size samples different subsets when there are too many to enumerate; a judge without a price keeps the frontier on tokens', async () => {
  const sub = tempDir('w2s-judge-many-');
  const names = Array.from({ length: 13 }, (_, k) => `h${k}`);
  for (const [k] of names.entries()) {
    // Right or wrong by a hash of the question and the judge: judges that differ from example to example.
    registerScript(`hashed-${k}`, {
      generate(req) {
        const p = prompt(req);
        let h = 2166136261 ^ k;
        for (const c of /<question>([\s\S]*?)<\/question>/.exec(p)![1]!) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
        const saysCorrect = (h >>> 0) % 3 !== 0;
        return (correctLetter(p) === 'A') === saysCorrect ? 'A' : 'B';
      },
    });
  }
  const rows = Array.from({ length: 90 }, (_, i) => ({ question: `Item ${i}?`, answer: `a${i}`, label: i % 2 }));
  const config = parseExperiment({
    name: 'many',
    dataset: { name: 'jsonl', path: writeJsonl(sub, 'd.jsonl', rows), sizes: { train_weak: 30, train_strong: 30, test: 30 } },
    debate: { protocol: 'none' },
    weak: { features: { kind: 'hashed', dim: 64 }, ensemble: { kind: 'finetune', size: 2 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 64 }, probe: { epochs: 2 } },
    judges: names.map((name, k) => ({ name, model: `scripted:hashed-${k}`, method: 'parsed' })),
    judgeEnsembles: [{ name: 'all', members: names, aggregate: 'vote' }],
    gateway: { prices: { 'scripted:hashed-0': { inputPerMTok: 1, outputPerMTok: 2 } } },
    metrics: { bootstrap: 100 },
  });
  const { outcome, out, store } = await completedRun(config, join(sub, 'm.sqlite'), join(sub, 'c.sqlite'));
  try {
    const metrics = store.metrics.listMetrics(outcome.runId);
    // C(13, 6) = 1716 subsets of 6: sampled (1,000 of them), and they differ, so their accuracies do too.
    const six = metric(metrics, 'judge_ensemble:all', 'accuracy_at_size:6');
    assert.equal(six.n, 1000);
    assert.match(six.covers!, /\(sampled\)/);
    assert.ok(six.lo! < six.hi!, `sampled subsets of 6 all scored ${six.lo}`);
    assert.equal(metric(metrics, 'judge_ensemble:all', 'accuracy_at_size:2').n, 78, 'C(13, 2) subsets of 2, every one');
    // One judge has a price, twelve do not: USD would count them as free, so the frontier is drawn on tokens.
    assert.equal(metric(metrics, 'judge:h0', 'on_frontier').method, 'accuracy–cost frontier (tokens per judged example)');
    assert.match(metric(metrics, 'judge:h0', 'cost_usd_per_example').note!, /at \$1 in and \$2 out per million tokens/);
    assert.match(metric(metrics, 'judge:h1', 'cost_usd_per_example').note!, /counted as free/);
    assert.match(metric(metrics, 'judge_ensemble:all', 'cost_usd_per_example').note!, /counted as free/);
  } finally {
    store.close();
  }
});

test('a stacked ensemble\'s size curve at full size is its own accuracy, with 0.5 where every member abstained', async () => {
  const sub = tempDir('w2s-judge-abstain-');
  // Two judges that state no verdict on items i ≡ 1 (mod 4), all labelled 1 (label = i mod 2): the stacker fit on
  // train_weak sees both members at 0.5 there with label 1, so its intercept leans to 1, while the stored ensemble
  // puts 0.5 (a "0" decision) on those examples. Elsewhere judge k is right except on items i ≡ k (mod 5).
  for (const k of [0, 1]) {
    registerScript(`abstaining-${k}`, {
      generate(req) {
        const p = prompt(req);
        const i = Number(/Item (\d+)\?/.exec(p)![1]);
        if (i % 4 === 1) return 'Hmm, it is hard to say.';
        const holds = i % 2 === 1;
        const saysCorrect = i % 5 === k ? !holds : holds;
        return (correctLetter(p) === 'A') === saysCorrect ? 'A' : 'B';
      },
    });
  }
  // The label is i mod 2, which the judges work out from the item number.
  const rows = Array.from({ length: 120 }, (_, i) => ({ question: `Item ${i}?`, answer: `a${i}`, label: i % 2 }));
  const config = parseExperiment({
    name: 'abstain',
    seed: 5,
    dataset: { name: 'jsonl', path: writeJsonl(sub, 'd.jsonl', rows), sizes: { train_weak: 40, train_strong: 40, test: 40 } },
    debate: { protocol: 'none' },
    weak: { features: { kind: 'hashed', dim: 64 }, ensemble: { kind: 'finetune', size: 2 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 64 }, probe: { epochs: 2 } },
    judges: [0, 1].map((k) => ({ name: `ab${k}`, model: `scripted:abstaining-${k}`, method: 'parsed', minCoverage: 0.5 })),
    judgeEnsembles: [{ name: 'st', members: ['ab0', 'ab1'], aggregate: 'stacked' }],
    metrics: { bootstrap: 100 },
  });
  const { outcome, out, store } = await completedRun(config, join(sub, 'a.sqlite'), join(sub, 'c.sqlite'));
  try {
    const metrics = store.metrics.listMetrics(outcome.runId);
    const test = store.examples.listExamples(outcome.runId, 'test');
    const abstained = test.filter((e) => Number(/Item (\d+)\?/.exec(e.question!)![1]) % 4 === 1);
    assert.ok(abstained.length > 0, 'some test examples have no verdict from either member');
    assert.ok(metric(metrics, 'judge_ensemble:st', 'stacked_intercept').value! > 0, 'the stacker\'s intercept leans to label 1');
    const full = metric(metrics, 'judge_ensemble:st', 'accuracy_at_size:2');
    assert.equal(full.n, 1, 'one subset of two: the ensemble itself');
    close(full.value, metric(metrics, 'judge_ensemble:st', 'accuracy').value!, 'the full-size curve is the ensemble\'s own accuracy');
  } finally {
    store.close();
  }
});
