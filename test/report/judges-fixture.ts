import { join } from 'node:path';
import { FRONTIER_METHOD, openStore, type MetricRow, type NewJudgment, type Store } from '../../src/store/index.js';

/**
 * A database written through the real store API with judge and judge-ensemble results chosen by hand, as the
 * pipeline's evaluate stage stores them (subjects judge:<j>, judge_ensemble:<e>, judge_pair:<a>|<b>,
 * strong_by_judge:<x>): the views must show exactly these numbers.
 */

export const RUN = 'judged-0001';
export const PLAIN = 'plain-0001';
export const HOSTILE_RUN = 'hostile-0001';
/** A judge name and a reply that must be shown as text, never run. */
export const HOSTILE_JUDGE = '<img src=x onerror="window.__pwned=1">';
export const HOSTILE_RAW = '<script>window.__pwned=2</script>';
export const HOSTILE_ENSEMBLE = 'e"><svg onload="window.__pwned=3">';

const interval = { method: 'percentile bootstrap', level: 0.95, resamples: 1000, seed: 7, covers: 'test examples (40)', n: 40 };

type Extra = Partial<Omit<MetricRow, 'runId' | 'subject' | 'name' | 'value'>>;

function metrics(runId: string, rows: [subject: string, name: string, value: number | null, extra?: Extra][]): MetricRow[] {
  return rows.map(([subject, name, value, extra]) => ({ runId, subject, name, value, ...extra }));
}

const ci = (lo: number, hi: number): Extra => ({ lo, hi, ...interval });
const point: Extra = { n: 40 };

/** The stored frontier: j-b, j-a and ens-mean are on it; j-c and ens-stack are not. */
export const FRONTIER = ['j-a', 'j-b', 'ens-mean'];

export const JUDGED_CONFIG = {
  name: 'judged',
  seed: 3,
  dataset: { name: 'sciq' },
  debate: { protocol: 'debate', debaters: ['scripted:d'], turns: 1, samples: 1 },
  weak: { ensemble: { kind: 'debate', size: 2 } },
  judges: [
    { name: 'j-a', model: 'scripted:ja', method: 'parsed', samples: 3, temperature: 0.7 },
    { name: 'j-b', model: 'scripted:jb', method: 'logprobs', orders: 'original' },
    { name: 'j-c', model: 'scripted:jc', method: 'parsed' },
  ],
  judgeEnsembles: [
    { name: 'ens-mean', members: ['j-a', 'j-b', 'j-c'], aggregate: 'mean' },
    { name: 'ens-stack', members: ['j-a', 'j-b'], aggregate: 'stacked' },
  ],
};

// The notes and methods as src/pipeline/judge-metrics.ts writes them.
export const FRONTIER_NOTE = 'accuracy on test against USD per judged example: 1 when no judge or ensemble is at least as accurate for at most its cost';
const frontierNote = { note: FRONTIER_NOTE, n: 40, method: FRONTIER_METHOD.usd };
const pairHow = { n: 40, method: 'point estimate', covers: 'test examples (40)' };
const ensembleCoverage = { n: 40, method: "mean of the members' coverage" };
const sizeHow = (subsets: number, size: number, members: number): Extra => ({
  n: subsets, method: 'mean over member subsets', covers: `range over the ${subsets} subsets of ${size} of ${members} members, not a confidence interval`,
});

export const JUDGED_METRICS: [string, string, number | null, Extra?][] = [
  ['weak', 'accuracy', 0.8, ci(0.7, 0.9)],
  ['weak_ensemble', 'accuracy', 0.85, ci(0.75, 0.95)],
  ['judge:j-a', 'accuracy', 0.7, ci(0.6, 0.8)],
  ['judge:j-a', 'auroc', 0.75, ci(0.65, 0.85)],
  ['judge:j-a', 'ece', 0.08, ci(0.05, 0.12)],
  ['judge:j-a', 'brier', 0.21, ci(0.18, 0.24)],
  ['judge:j-a', 'parse_coverage', 0.975, { n: 240, method: 'count' }],
  ['judge:j-a', 'position_bias', 0.62, ci(0.55, 0.69)],
  ['judge:j-a', 'tokens_per_example', 310.5, point],
  ['judge:j-a', 'cost_usd_per_example', 0.00031, point],
  ['judge:j-a', 'on_frontier', 1, frontierNote],
  ['judge:j-b', 'accuracy', 0.65, ci(0.55, 0.75)],
  ['judge:j-b', 'auroc', 0.66, ci(0.56, 0.76)],
  ['judge:j-b', 'ece', 0.11, ci(0.07, 0.15)],
  ['judge:j-b', 'brier', 0.24, ci(0.2, 0.28)],
  ['judge:j-b', 'parse_coverage', 1, { n: 40, method: 'count' }],
  ['judge:j-b', 'tokens_per_example', 120, point],
  ['judge:j-b', 'cost_usd_per_example', 0.00012, point],
  ['judge:j-b', 'on_frontier', 1, frontierNote],
  ['judge:j-c', 'accuracy', 0.6, ci(0.5, 0.7)],
  ['judge:j-c', 'auroc', 0.61, ci(0.51, 0.71)],
  ['judge:j-c', 'ece', 0.15, ci(0.1, 0.2)],
  ['judge:j-c', 'brier', 0.26, ci(0.22, 0.3)],
  ['judge:j-c', 'parse_coverage', 0.9, { n: 80, method: 'count' }],
  ['judge:j-c', 'position_bias', 0.48, ci(0.4, 0.56)],
  ['judge:j-c', 'tokens_per_example', 400, point],
  ['judge:j-c', 'cost_usd_per_example', 0.0004, point],
  ['judge:j-c', 'on_frontier', 0, frontierNote],
  ['judge_ensemble:ens-mean', 'accuracy', 0.75, ci(0.66, 0.84)],
  ['judge_ensemble:ens-mean', 'auroc', 0.8, ci(0.7, 0.9)],
  ['judge_ensemble:ens-mean', 'ece', 0.06, ci(0.03, 0.09)],
  ['judge_ensemble:ens-mean', 'brier', 0.19, ci(0.16, 0.22)],
  ['judge_ensemble:ens-mean', 'parse_coverage', 0.96, ensembleCoverage],
  ['judge_ensemble:ens-mean', 'tokens_per_example', 830.5, point],
  ['judge_ensemble:ens-mean', 'cost_usd_per_example', 0.00083, point],
  ['judge_ensemble:ens-mean', 'on_frontier', 1, frontierNote],
  ['judge_ensemble:ens-mean', 'best_member:j-a', 0.8, point],
  ['judge_ensemble:ens-mean', 'vs_best_member', 0.05, { ...ci(-0.02, 0.12), method: 'paired percentile bootstrap', note: "ensemble accuracy − best member's (j-a, chosen on test)" }],
  ['judge_ensemble:ens-mean', 'vs_best_member_p', 0.21, point],
  ['judge_ensemble:ens-mean', 'vs_weak_ensemble', -0.1, { ...ci(-0.18, -0.03), method: 'paired percentile bootstrap', note: "ensemble accuracy − the weak-model ensemble's (debate)" }],
  ['judge_ensemble:ens-mean', 'vs_weak_ensemble_p', 0.012, point],
  ['judge_ensemble:ens-mean', 'accuracy_at_size:1', 0.65, { lo: 0.6, hi: 0.7, ...sizeHow(3, 1, 3) }],
  ['judge_ensemble:ens-mean', 'accuracy_at_size:2', 0.7, { lo: 0.675, hi: 0.725, ...sizeHow(3, 2, 3) }],
  ['judge_ensemble:ens-mean', 'accuracy_at_size:3', 0.75, { lo: 0.75, hi: 0.75, ...sizeHow(1, 3, 3) }],
  ['judge_ensemble:ens-stack', 'accuracy', 0.68, ci(0.58, 0.78)],
  ['judge_ensemble:ens-stack', 'auroc', 0.72, ci(0.62, 0.82)],
  ['judge_ensemble:ens-stack', 'ece', 0.09, ci(0.05, 0.13)],
  ['judge_ensemble:ens-stack', 'brier', 0.22, ci(0.19, 0.25)],
  ['judge_ensemble:ens-stack', 'parse_coverage', 0.98, ensembleCoverage],
  ['judge_ensemble:ens-stack', 'tokens_per_example', 430.5, point],
  ['judge_ensemble:ens-stack', 'cost_usd_per_example', 0.00043, point],
  ['judge_ensemble:ens-stack', 'on_frontier', 0, frontierNote],
  ['judge_ensemble:ens-stack', 'best_member:j-a', 0.8, point],
  ['judge_ensemble:ens-stack', 'vs_best_member', -0.02, { ...ci(-0.08, 0.04), method: 'paired percentile bootstrap', note: "ensemble accuracy − best member's (j-a, chosen on test)" }],
  ['judge_ensemble:ens-stack', 'vs_best_member_p', 0.55, point],
  ['judge_ensemble:ens-stack', 'vs_weak_ensemble', 0.01, { ...ci(0.005, 0.07), method: 'paired percentile bootstrap', note: "ensemble accuracy − the weak-model ensemble's (debate)" }],
  ['judge_ensemble:ens-stack', 'vs_weak_ensemble_p', 0.04, point],
  ['judge_ensemble:ens-stack', 'accuracy_at_size:1', 0.675, { lo: 0.65, hi: 0.7, ...sizeHow(2, 1, 2) }],
  ['judge_ensemble:ens-stack', 'accuracy_at_size:2', 0.68, { lo: 0.68, hi: 0.68, ...sizeHow(1, 2, 2) }],
  ['judge_ensemble:ens-stack', 'weight:j-a', 1.25, { n: 20, method: "logistic regression on the members' log-odds, fit on train_weak" }],
  ['judge_ensemble:ens-stack', 'weight:j-b', 0.4, { n: 20, method: "logistic regression on the members' log-odds, fit on train_weak" }],
  ['judge_ensemble:ens-stack', 'stacked_intercept', -0.1, { n: 20, method: "logistic regression on the members' log-odds, fit on train_weak" }],
  ['judge_pair:j-a|j-b', 'agreement', 0.8, { ...pairHow, note: 'share of test examples on which the two verdicts agree' }],
  ['judge_pair:j-a|j-b', 'error_correlation', 0.35, { ...pairHow, note: "Pearson correlation of the two judges' errors (1 = wrong together)" }],
  ['judge_pair:j-a|j-b', 'kappa', 0.55, pairHow],
  ['judge_pair:j-a|j-c', 'agreement', 0.75, { ...pairHow, note: 'share of test examples on which the two verdicts agree' }],
  ['judge_pair:j-a|j-c', 'error_correlation', null, { ...pairHow, note: 'undefined: one of the two is always right or always wrong' }],
  ['judge_pair:j-a|j-c', 'kappa', null, { ...pairHow, note: 'undefined: every verdict was the same' }],
  ['strong_by_judge:j-a', 'accuracy', 0.72, ci(0.62, 0.82)],
  ['strong_by_judge:j-a', 'pgr', 0.4, ci(0.1, 0.7)],
  ['strong_by_judge:ens-mean', 'accuracy', 0.78, ci(0.68, 0.88)],
  ['strong_by_judge:ens-mean', 'pgr', null, { n: 40, note: 'gap +3.0 [−2.0, +8.0] not significant' }],
  // Another training seed's copy: never a row of the primary views.
  ['strong_by_judge:ens-mean@seed1', 'accuracy', 0.5, ci(0.4, 0.6)],
];

/** Example t0 (test, gold 1): what each judge said in every presentation and sample, and what each ensemble stored. */
export const T0 = {
  judgments: {
    // j-a: both orders, 3 samples each: five of six say correct, mean 5/6.
    'j-a': [[false, 0, 1], [false, 1, 1], [false, 2, 0], [true, 0, 1], [true, 1, 1], [true, 2, 1]] as [boolean, number, number][],
    // j-b: the original order only: incorrect.
    'j-b': [[false, 0, 0.2]] as [boolean, number, number][],
    // j-c: both orders, one sample each.
    'j-c': [[false, 0, 0.7], [true, 0, 0.6]] as [boolean, number, number][],
  },
  means: { 'j-a': '0.833', 'j-b': '0.200', 'j-c': '0.650' },
  ensembles: { 'ens-mean': 0.561, 'ens-stack': 0.7 },
  /** The members whose decision differs from the ensemble's (both ensembles decide "correct"). */
  disagree: { 'ens-mean': ['j-b'], 'ens-stack': ['j-b'] },
};

function baseRun(store: Store, id: string, config: unknown): void {
  store.runs.createRun({ id, name: (config as { name: string }).name, config, configHash: `hash-${id}`, dataset: 'sciq' });
  store.examples.insertExamples(id, [
    { id: 't0', split: 'test', text: 'Q0', question: 'Which gas do plants take in?', answer: 'carbon dioxide', label: 1 },
    { id: 't1', split: 'test', text: 'Q1', question: 'What is 2 + 2?', answer: '5', label: 0 },
    { id: 'w0', split: 'train_weak', text: 'W0', question: 'Weak question', answer: 'yes', label: 1 },
  ]);
}

function transcript(store: Store, runId: string, exampleId: string): string {
  const id = `${runId}-${exampleId}-d0`;
  store.debates.upsertDebate({ id, runId, exampleId, protocol: 'debate', sample: 0, seed: 0, sides: { A: 'correct', B: 'incorrect' } });
  store.debates.insertTurn({ debateId: id, idx: 0, speaker: 'A', side: 'correct', text: 'It is carbon dioxide.', promptHash: 'p' });
  store.debates.completeDebate(id);
  return id;
}

export function buildJudgesDb(dir: string): string {
  const file = join(dir, 'judges.sqlite');
  const store = openStore(file);
  try {
    // The judged run.
    baseRun(store, RUN, JUDGED_CONFIG);
    const d0 = transcript(store, RUN, 't0');
    const rows: NewJudgment[] = [];
    for (const [judge, list] of Object.entries(T0.judgments)) {
      for (const [orderSwapped, sample, pCorrect] of list) {
        rows.push({
          runId: RUN, exampleId: 't0', judge, debateId: d0, orderSwapped, sample, pCorrect, method: judge === 'j-b' ? 'logprobs' : 'parsed',
          rawText: judge === 'j-c' && orderSwapped ? HOSTILE_RAW : pCorrect > 0.5 ? 'A' : 'B', inputTokens: 100, outputTokens: 2,
        });
      }
    }
    store.judgments.insertJudgments(rows);
    const states = [
      { aggregate: 'mean', members: ['j-a', 'j-b', 'j-c'] },
      { aggregate: 'stacked', members: ['j-a', 'j-b'], weights: { intercept: -0.1, byMember: { 'j-a': 1.25, 'j-b': 0.4 } } },
    ];
    (['ens-mean', 'ens-stack'] as const).forEach((name, i) => {
      const model = store.models.insertModel({ id: `${RUN}-${name}`, runId: RUN, role: 'judge_ensemble', member: i, backend: 'aggregate', seed: 3, config: {}, state: states[i], stats: {} });
      store.models.insertPredictions(model.id, RUN, [{ exampleId: 't0', p1: T0.ensembles[name] }, { exampleId: 't1', p1: 0.3 }]);
    });
    store.metrics.upsertMetrics(metrics(RUN, JUDGED_METRICS));
    store.runs.setRunStatus(RUN, 'completed');

    // A run without judges.
    baseRun(store, PLAIN, { name: 'plain', seed: 3, dataset: { name: 'sciq' }, debate: { protocol: 'debate', samples: 1 }, weak: { ensemble: { kind: 'debate', size: 2 } } });
    store.metrics.upsertMetrics(metrics(PLAIN, [['weak', 'accuracy', 0.8, ci(0.7, 0.9)]]));
    store.runs.setRunStatus(PLAIN, 'completed');

    // A run whose judge and judge ensemble names and replies are markup (a hand-edited or foreign database).
    baseRun(store, HOSTILE_RUN, {
      name: 'hostile', seed: 3, dataset: { name: 'sciq' }, debate: { protocol: 'debate', samples: 1 },
      judges: [{ name: HOSTILE_JUDGE, model: 'scripted:x' }, { name: 'j-ok', model: 'scripted:y' }],
      judgeEnsembles: [{ name: HOSTILE_ENSEMBLE, members: [HOSTILE_JUDGE, 'j-ok'], aggregate: 'mean' }],
    });
    const h0 = transcript(store, HOSTILE_RUN, 't0');
    store.judgments.insertJudgments([
      { runId: HOSTILE_RUN, exampleId: 't0', judge: HOSTILE_JUDGE, debateId: h0, orderSwapped: false, pCorrect: 0.9, method: 'parsed', rawText: HOSTILE_RAW },
      { runId: HOSTILE_RUN, exampleId: 't0', judge: 'j-ok', debateId: h0, orderSwapped: false, pCorrect: 0.1, method: 'parsed', rawText: 'B' },
    ]);
    const hm = store.models.insertModel({ id: `${HOSTILE_RUN}-e`, runId: HOSTILE_RUN, role: 'judge_ensemble', member: 0, backend: 'aggregate', seed: 3, config: {}, state: { aggregate: 'mean', members: [HOSTILE_JUDGE, 'j-ok'] }, stats: {} });
    store.models.insertPredictions(hm.id, HOSTILE_RUN, [{ exampleId: 't0', p1: 0.55 }, { exampleId: 't1', p1: 0.45 }]);
    const tokensNote = { note: 'accuracy on test against tokens per judged example: 1 when no judge or ensemble is at least as accurate for at most its cost', n: 2, method: FRONTIER_METHOD.tokens };
    store.metrics.upsertMetrics(metrics(HOSTILE_RUN, [
      [`judge:${HOSTILE_JUDGE}`, 'accuracy', 0.5, ci(0.1, 0.9)],
      [`judge:${HOSTILE_JUDGE}`, 'tokens_per_example', 50, point],
      [`judge:${HOSTILE_JUDGE}`, 'on_frontier', 1, tokensNote],
      ['judge:j-ok', 'accuracy', 0.5, ci(0.1, 0.9)],
      ['judge:j-ok', 'tokens_per_example', 60, point],
      ['judge:j-ok', 'on_frontier', 0, tokensNote],
      [`judge_ensemble:${HOSTILE_ENSEMBLE}`, 'accuracy', 1, ci(1, 1)],
      [`judge_ensemble:${HOSTILE_ENSEMBLE}`, 'tokens_per_example', 110, point],
      [`judge_ensemble:${HOSTILE_ENSEMBLE}`, 'on_frontier', 1, tokensNote],
      [`judge_ensemble:${HOSTILE_ENSEMBLE}`, `best_member:${HOSTILE_JUDGE}`, 0.5, point],
      [`judge_ensemble:${HOSTILE_ENSEMBLE}`, 'vs_best_member', 0.5, { ...ci(0, 1), note: `ensemble accuracy − best member's (${HOSTILE_JUDGE}, chosen on test)` }],
      [`judge_ensemble:${HOSTILE_ENSEMBLE}`, 'accuracy_at_size:1', 0.5, { lo: 0.5, hi: 0.5, ...sizeHow(2, 1, 2) }],
      [`judge_ensemble:${HOSTILE_ENSEMBLE}`, 'accuracy_at_size:2', 1, { lo: 1, hi: 1, ...sizeHow(1, 2, 2) }],
      [`judge_pair:${HOSTILE_JUDGE}|j-ok`, 'agreement', 0, ci(0, 0.5)],
    ]));
    store.runs.setRunStatus(HOSTILE_RUN, 'completed');
  } finally {
    store.close();
  }
  return file;
}
