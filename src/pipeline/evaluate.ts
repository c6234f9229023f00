import {
  accuracy, accuracyCI, aurocCI, brier, ece, majorityVote, meanSoftLabel, pairedBootstrapDiff, pgrCI, wilson,
  type BootstrapResult, type Label,
} from '../metrics/index.js';
import { createRng, deriveSeed } from '../rng.js';
import type { ExampleRow, MetricRow } from '../store/index.js';
import type { StageContext } from './context.js';
import { judgeName, judgeProbabilities } from './judges.js';
import { predictionsOf, ROLES } from './predictions.js';
import { ensembleLabels } from './training.js';

/** The knowledge regions of the test split: is the weak model right, is the strong ceiling right. */
export const REGIONS = [
  { key: 'weak+ceiling+', weak: true, ceiling: true },
  { key: 'weak+ceiling-', weak: true, ceiling: false },
  { key: 'weak-ceiling+', weak: false, ceiling: true },
  { key: 'weak-ceiling-', weak: false, ceiling: false },
] as const;

/** The models whose accuracy is reported inside each knowledge region. */
const REGION_MODELS = [ROLES.strong, ROLES.naive] as const;

/**
 * Every number of a finished run, computed once and stored with how it was computed (method, level, resamples,
 * undefined resamples, seed, what variance the interval covers); the run table, `runs`, `compare`, the report and
 * the viewer only read them.
 *
 * - accuracy, AUROC, ECE and Brier of the majority-class baseline, the weak model, each ensemble member, the ensemble
 *   (mean and vote), the strong models and the judges on the test split; intervals are percentile bootstraps over
 *   test examples, or over whole groups when the examples have groups (a clustered bootstrap);
 * - the ceiling − weak gap with its paired interval, and PGR of each weak-to-strong model, paired across the three
 *   models; PGR is stored only when the gap is significant (its interval excludes 0), else it is null with a note;
 * - the knowledge regions: the strong students' accuracy where the weak model and the ceiling are right or wrong.
 */
export function evaluate(ctx: StageContext): MetricRow[] {
  const { bootstrap: resamples, level } = ctx.config.metrics;
  const test = ctx.store.examples.listExamples(ctx.runId, 'test');
  const labels = test.map((e) => e.label as Label);
  const n = labels.length;
  const clusters = clusterIds(test);
  const covers = clusters ? `test groups (${new Set(clusters).size} clusters of ${n} examples)` : `test examples (${n})`;
  const method = clusters ? 'clustered percentile bootstrap' : 'percentile bootstrap';
  const ofRole = (role: string, member = 0): number[] => {
    const p = predictionsOf(ctx, role, member);
    return test.map((e) => p.get(e.id)!);
  };
  const K = ctx.config.weak.ensemble.size;
  const members = Array.from({ length: K }, (_, k) => ofRole(ROLES.member, k));
  const majority = majorityClass(ctx.store.examples.listExamples(ctx.runId, 'train_weak'));
  const subjects: [string, number[]][] = [
    ['majority_class', labels.map(() => majority)],
    ['weak', ofRole(ROLES.weak)],
    ...members.map((m, k): [string, number[]] => [`member${k}`, m]),
    ['weak_ensemble', meanSoftLabel(members)],
    ['weak_ensemble_vote', majorityVote(members)],
    ['strong_naive', ofRole(ROLES.naive)],
    ['strong', ofRole(ROLES.strong)],
    ['strong_ceiling', ofRole(ROLES.ceiling)],
  ];
  for (const [i, j] of ctx.config.judges.entries()) {
    const name = judgeName(j, i);
    subjects.push([`judge:${name}`, judgeProbabilities(ctx, name, test.map((e) => e.id))]);
    subjects.push([`strong_by_judge:${name}`, ofRole(ROLES.byJudge, i)]);
  }
  const seedOf = (subject: string, metric: string): number => deriveSeed(ctx.config.seed, 'bootstrap', subject, metric);
  const opts = (subject: string, metric: string) => ({ random: createRng(seedOf(subject, metric)).random, resamples, level, groups: clusters });
  const metrics: MetricRow[] = [];
  const booted = (subject: string, name: string, r: BootstrapResult, extra: Partial<MetricRow> = {}): MetricRow => ({
    runId: ctx.runId, subject, name, value: r.value, lo: r.lo, hi: r.hi, n, method, level, resamples,
    undefinedResamples: r.undefinedCount, seed: seedOf(subject, name), covers, ...extra,
  });
  const point = (subject: string, name: string, value: number): MetricRow => ({ runId: ctx.runId, subject, name, value, n, method: 'point estimate' });

  const byName = new Map(subjects);
  for (const [subject, probs] of subjects) {
    metrics.push(booted(subject, 'accuracy', accuracyCI(probs, labels, opts(subject, 'accuracy'))));
    metrics.push(booted(subject, 'auroc', aurocCI(probs, labels, opts(subject, 'auroc'))));
    metrics.push(point(subject, 'ece', ece(probs, labels)), point(subject, 'brier', brier(probs, labels)));
  }

  // The gap PGR divides by. When its interval includes 0 the ratio is noise, and no number is stored for it.
  const weak = byName.get('weak')!;
  const ceiling = byName.get('strong_ceiling')!;
  const gap = pairedBootstrapDiff(weak, ceiling, labels, opts('strong_ceiling', 'gap'));
  const gapSignificant = gap.lo !== null && gap.hi !== null && (gap.lo > 0 || gap.hi < 0);
  metrics.push({
    runId: ctx.runId, subject: 'strong_ceiling', name: 'gap', value: gap.diff, lo: gap.lo, hi: gap.hi, n, method: `paired ${method}`, level, resamples,
    undefinedResamples: gap.undefinedCount, seed: seedOf('strong_ceiling', 'gap'), covers, note: gapSignificant ? null : 'not significant: PGR is not reported',
  });
  for (const [subject, probs] of subjects) {
    if (subject !== 'strong' && subject !== 'strong_naive' && !subject.startsWith('strong_by_judge:')) continue;
    const p = pgrCI(weak, probs, ceiling, labels, opts(subject, 'pgr'));
    const row = booted(subject, 'pgr', p, { method: `paired ${method}` });
    if (!gapSignificant) {
      Object.assign(row, { value: null, lo: null, hi: null, note: `gap ${signedPoints(gap.diff)} [${signedPoints(gap.lo)}, ${signedPoints(gap.hi)}] not significant` });
    } else if (p.value === null) {
      row.note = 'undefined: ceiling accuracy <= weak accuracy';
    } else if (p.undefinedCount > 0) {
      row.note = `${p.undefinedCount} of ${p.resamples} resamples had ceiling <= weak and are left out of the interval`;
    }
    metrics.push(row);
  }

  // Knowledge regions (Yang et al. 2024): does the strong student err where the weak supervisor could not check it?
  const right = (probs: readonly number[], i: number): boolean => (probs[i]! > 0.5 ? 1 : 0) === labels[i];
  for (const region of REGIONS) {
    const idx = labels.map((_, i) => i).filter((i) => right(weak, i) === region.weak && right(ceiling, i) === region.ceiling);
    metrics.push({ runId: ctx.runId, subject: `region:${region.key}`, name: 'count', value: idx.length, n, method: 'count' });
    for (const model of REGION_MODELS) {
      const probs = byName.get(model)!;
      const hits = idx.filter((i) => right(probs, i)).length;
      const w = idx.length ? wilson(hits, idx.length, level) : null;
      metrics.push({
        runId: ctx.runId, subject: `region:${region.key}`, name: `accuracy:${model}`, value: w?.estimate ?? null, lo: w?.lo ?? null, hi: w?.hi ?? null,
        n: idx.length, method: 'Wilson interval', level, covers: `test examples in the region (${idx.length})`,
      });
    }
  }

  // How good the supervision itself was: the ensemble's labels against the truth on train_strong.
  const trainStrong = ctx.store.examples.listExamples(ctx.runId, 'train_strong');
  metrics.push({
    runId: ctx.runId, subject: 'weak_labels', name: 'accuracy', value: accuracy(ensembleLabels(ctx, trainStrong), trainStrong.map((e) => e.label)),
    n: trainStrong.length, method: 'point estimate', note: 'the weak ensemble\'s labels on train_strong against the gold labels',
  });
  ctx.store.metrics.upsertMetrics(metrics);
  return metrics;
}

/** Cluster index per example (0…G−1 in order of first appearance) when any example has a group; else undefined. */
function clusterIds(examples: readonly ExampleRow[]): number[] | undefined {
  if (!examples.some((e) => e.group != null)) return undefined;
  const index = new Map<string, number>();
  return examples.map((e) => {
    const key = e.group ?? `example:${e.id}`;
    let g = index.get(key);
    if (g === undefined) index.set(key, (g = index.size));
    return g;
  });
}

/** The baseline that always predicts train_weak's more frequent label (1 on a tie), as P(label 1). */
function majorityClass(trainWeak: readonly ExampleRow[]): number {
  const ones = trainWeak.filter((e) => e.label === 1).length;
  return 2 * ones >= trainWeak.length ? 1 : 0;
}

const signedPoints = (v: number | null): string => (v === null ? 'n/a' : `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(1)}`);
