import {
  accuracy, accuracyCI, aurocCI, brier, clustersFromKeys, ece, majorityVote, meanSoftLabel, pairedBootstrapDiff, pgr, pgrCI, tInterval, wilson,
  type BootstrapResult, type Label,
} from '../metrics/index.js';
import { createRng, deriveSeed } from '../rng.js';
import type { ExampleRow, MetricRow } from '../store/index.js';
import type { StageContext } from './context.js';
import { judgeName, judgeProbabilities } from './judges.js';
import { predictionsOf, ROLES, seededRole, trainingSeeds } from './predictions.js';
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
 * - the knowledge regions: the strong students' accuracy where the weak model and the ceiling are right or wrong;
 * - with the ensemble ablation, the finetune ensemble and the strong models on one weak model's and on its labels;
 * - with several training seeds, all of the above per seed, and each accuracy, the gap and each PGR as a mean with a
 *   t interval over seeds.
 */
export function evaluate(ctx: StageContext): MetricRow[] {
  const seeds = trainingSeeds(ctx.config);
  const replicates = seeds.map((seed) => evaluateSeed(ctx, seed));
  const metrics = replicates.flatMap((r) => r.metrics);
  if (seeds.length > 1) metrics.push(...acrossSeeds(ctx, seeds, replicates.map((r) => r.accuracy)));

  // How good the supervision itself was: the ensemble's labels against the truth on train_strong.
  const trainStrong = ctx.store.examples.listExamples(ctx.runId, 'train_strong');
  metrics.push({
    runId: ctx.runId, subject: 'weak_labels', name: 'accuracy', value: accuracy(ensembleLabels(ctx, trainStrong), trainStrong.map((e) => e.label)),
    n: trainStrong.length, method: 'point estimate', note: 'the weak ensemble\'s labels on train_strong against the gold labels',
  });
  ctx.store.metrics.upsertMetrics(metrics);
  return metrics;
}

/** The models whose PGR is reported: every strong model trained on weak labels. */
const isW2s = (subject: string): boolean =>
  subject === 'strong' || subject === 'strong_naive' || subject === 'strong_single' || subject === 'strong_finetune' || subject.startsWith('strong_by_judge:');

/**
 * The metrics of one training seed's models. The primary seed's subjects carry plain names; another seed's carry
 * "@seedN" (the same suffix as their model roles).
 */
function evaluateSeed(ctx: StageContext, trainingSeed: number): { metrics: MetricRow[]; accuracy: Map<string, number> } {
  const { bootstrap: resamples, level } = ctx.config.metrics;
  const suffix = seededRole(ctx.config, '', trainingSeed);
  const role = (r: string): string => seededRole(ctx.config, r, trainingSeed);
  const test = ctx.store.examples.listExamples(ctx.runId, 'test');
  const labels = test.map((e) => e.label as Label);
  const n = labels.length;
  const clusters = clustersFromKeys(test.map((e) => e.group));
  const covers = clusters ? `test groups (${new Set(clusters).size} clusters of ${n} examples)` : `test examples (${n})`;
  const method = clusters ? 'clustered percentile bootstrap' : 'percentile bootstrap';
  const ofRole = (r: string, member = 0): number[] => {
    const p = predictionsOf(ctx, role(r), member);
    return test.map((e) => p.get(e.id)!);
  };
  const { size: K, ablation } = ctx.config.weak.ensemble;
  const members = Array.from({ length: K }, (_, k) => ofRole(ROLES.member, k));
  const majority = majorityClass(ctx.store.examples.listExamples(ctx.runId, 'train_weak'));
  const subjects: [string, number[]][] = [
    ['majority_class', labels.map(() => majority)],
    ['weak', ofRole(ROLES.weak)],
    ...members.map((m, k): [string, number[]] => [`member${k}`, m]),
    ['weak_ensemble', meanSoftLabel(members)],
    ['weak_ensemble_vote', majorityVote(members)],
  ];
  if (ablation) {
    subjects.push(['weak_ensemble_finetune', meanSoftLabel(Array.from({ length: K }, (_, k) => ofRole(ROLES.memberFinetune, k)))]);
    subjects.push(['strong_single', ofRole(ROLES.single)], ['strong_finetune', ofRole(ROLES.finetune)]);
  }
  subjects.push(['strong_naive', ofRole(ROLES.naive)], ['strong', ofRole(ROLES.strong)], ['strong_ceiling', ofRole(ROLES.ceiling)]);
  for (const [i, j] of ctx.config.judges.entries()) {
    const name = judgeName(j, i);
    subjects.push([`judge:${name}`, judgeProbabilities(ctx, name, test.map((e) => e.id))]);
    subjects.push([`strong_by_judge:${name}`, ofRole(ROLES.byJudge, i)]);
  }
  const seedOf = (subject: string, metric: string): number => deriveSeed(ctx.config.seed, 'bootstrap', subject + suffix, metric);
  const opts = (subject: string, metric: string) => ({ random: createRng(seedOf(subject, metric)).random, resamples, level, groups: clusters });
  const metrics: MetricRow[] = [];
  const accuracies = new Map<string, number>();
  const booted = (subject: string, name: string, r: BootstrapResult, extra: Partial<MetricRow> = {}): MetricRow => ({
    runId: ctx.runId, subject: subject + suffix, name, value: r.value, lo: r.lo, hi: r.hi, n, method, level, resamples,
    undefinedResamples: r.undefinedCount, seed: seedOf(subject, name), covers, ...extra,
  });
  const point = (subject: string, name: string, value: number): MetricRow => ({ runId: ctx.runId, subject: subject + suffix, name, value, n, method: 'point estimate' });

  const byName = new Map(subjects);
  for (const [subject, probs] of subjects) {
    const acc = accuracyCI(probs, labels, opts(subject, 'accuracy'));
    accuracies.set(subject, acc.value!);
    metrics.push(booted(subject, 'accuracy', acc));
    metrics.push(booted(subject, 'auroc', aurocCI(probs, labels, opts(subject, 'auroc'))));
    metrics.push(point(subject, 'ece', ece(probs, labels)), point(subject, 'brier', brier(probs, labels)));
  }

  // The gap PGR divides by. When its interval includes 0 the ratio is noise, and no number is stored for it.
  const weak = byName.get('weak')!;
  const ceiling = byName.get('strong_ceiling')!;
  const gap = pairedBootstrapDiff(weak, ceiling, labels, opts('strong_ceiling', 'gap'));
  const gapSignificant = gap.lo !== null && gap.hi !== null && (gap.lo > 0 || gap.hi < 0);
  metrics.push({
    runId: ctx.runId, subject: `strong_ceiling${suffix}`, name: 'gap', value: gap.diff, lo: gap.lo, hi: gap.hi, n, method: `paired ${method}`, level, resamples,
    undefinedResamples: gap.undefinedCount, seed: seedOf('strong_ceiling', 'gap'), covers, note: gapSignificant ? null : 'not significant: PGR is not reported',
  });
  for (const [subject, probs] of subjects) {
    if (!isW2s(subject)) continue;
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
    const subject = `region:${region.key}${suffix}`;
    metrics.push({ runId: ctx.runId, subject, name: 'count', value: idx.length, n, method: 'count' });
    for (const model of REGION_MODELS) {
      const probs = byName.get(model)!;
      const hits = idx.filter((i) => right(probs, i)).length;
      const w = idx.length ? wilson(hits, idx.length, level) : null;
      metrics.push({
        runId: ctx.runId, subject, name: `accuracy:${model}`, value: w?.estimate ?? null, lo: w?.lo ?? null, hi: w?.hi ?? null,
        n: idx.length, method: 'Wilson interval', level, covers: `test examples in the region (${idx.length})`,
      });
    }
  }
  return { metrics, accuracy: accuracies };
}

/**
 * Across training seeds: each subject's mean accuracy with a t interval over seeds (the variance of retraining,
 * which the test bootstrap does not see), the mean ceiling − weak gap, and each w2s model's mean PGR — reported only
 * when the mean gap's interval excludes 0 and every seed's PGR is defined.
 */
function acrossSeeds(ctx: StageContext, seeds: number[], accuracies: Map<string, number>[]): MetricRow[] {
  const { level } = ctx.config.metrics;
  const covers = `${seeds.length} training seeds (${seeds.join(', ')}) on one test split`;
  const base = { runId: ctx.runId, n: seeds.length, method: 't interval over training seeds', level, covers };
  const row = (subject: string, name: string, values: number[], note: string | null = null): MetricRow => {
    const t = tInterval(values, level);
    return { ...base, subject, name, value: t.mean, lo: t.lo, hi: t.hi, note };
  };
  const out: MetricRow[] = [];
  for (const subject of accuracies[0]!.keys()) out.push(row(subject, 'accuracy_over_seeds', accuracies.map((a) => a.get(subject)!)));
  const gaps = accuracies.map((a) => a.get('strong_ceiling')! - a.get('weak')!);
  const gap = tInterval(gaps, level);
  const gapSignificant = gap.lo !== null && gap.hi !== null && (gap.lo > 0 || gap.hi < 0);
  out.push(row('strong_ceiling', 'gap_over_seeds', gaps, gapSignificant ? null : 'not significant: PGR is not reported'));
  for (const subject of accuracies[0]!.keys()) {
    if (!isW2s(subject)) continue;
    const per = accuracies.map((a) => pgr(a.get('weak')!, a.get(subject)!, a.get('strong_ceiling')!));
    if (!gapSignificant) {
      out.push({ ...base, subject, name: 'pgr_over_seeds', value: null, lo: null, hi: null, note: `mean gap ${signedPoints(gap.mean)} [${signedPoints(gap.lo)}, ${signedPoints(gap.hi)}] not significant` });
    } else if (per.some((p) => p === null)) {
      out.push({ ...base, subject, name: 'pgr_over_seeds', value: null, lo: null, hi: null, note: `undefined on ${per.filter((p) => p === null).length} of ${seeds.length} seeds (ceiling <= weak)` });
    } else {
      out.push(row(subject, 'pgr_over_seeds', per as number[]));
    }
  }
  return out;
}

/** The baseline that always predicts train_weak's more frequent label (1 on a tie), as P(label 1). */
function majorityClass(trainWeak: readonly ExampleRow[]): number {
  const ones = trainWeak.filter((e) => e.label === 1).length;
  return 2 * ones >= trainWeak.length ? 1 : 0;
}

const signedPoints = (v: number | null): string => (v === null ? 'n/a' : `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(1)}`);
