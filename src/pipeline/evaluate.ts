import {
  accuracy, accuracyCI, aurocCI, calibrationCI, clusteredProportion, clustersFromKeys, majorityVote, meanSoftLabel, pairedBootstrapDiff, pgr, pgrCI, tInterval, wilson,
  type BootstrapOptions, type BootstrapResult, type Label,
} from '../metrics/index.js';
import { signedPointsCI } from '../report/results.js';
import { KNOWLEDGE_REGIONS } from '../report/subjects.js';
import { createRng, deriveSeed } from '../rng.js';
import type { ExampleRow, MetricRow } from '../store/index.js';
import type { StageContext } from './context.js';
import { judgeMetrics } from './judge-metrics.js';
import { debaterMetrics } from './debater-metrics.js';
import { judgeName } from '../config/experiment.js';
import { ensembleAbstentions } from './judge-ensembles.js';
import { abstentionsOn, probabilitiesOn, silentSubjects } from './judges.js';
import { predictionsOf, ROLES, seededRole, trainingSeeds } from './predictions.js';
import { ensembleLabels } from './training.js';

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
  const split = testSplit(ctx);
  const replicates = seeds.map((seed, i) => evaluateSeed(ctx, split, seed, i === 0));
  const metrics = replicates.flatMap((r) => r.metrics);
  if (seeds.length > 1) metrics.push(...acrossSeeds(ctx, seeds, replicates));

  // How good the supervision itself was: the ensemble's labels against the truth on train_strong.
  const trainStrong = ctx.store.examples.listExamples(ctx.runId, 'train_strong');
  metrics.push({
    runId: ctx.runId, subject: 'weak_labels', name: 'accuracy', value: accuracy(ensembleLabels(ctx, trainStrong), trainStrong.map((e) => e.label)),
    n: trainStrong.length, method: 'point estimate', note: 'the weak ensemble\'s labels on train_strong against the gold labels',
  });
  // Debater ratings and open-roles choices (debater-metrics.ts).
  metrics.push(...debaterMetrics(ctx));
  ctx.store.metrics.upsertMetrics(metrics);
  return metrics;
}

/** One training seed's metrics, its accuracies by subject, and whether its ceiling − weak gap is significant on test. */
interface SeedEvaluation {
  metrics: MetricRow[];
  accuracy: Map<string, number>;
  gapSignificant: boolean;
}

/** The models whose PGR is reported: every strong model trained on weak labels. */
const isW2s = (subject: string): boolean =>
  subject === 'strong' || subject === 'strong_naive' || subject === 'strong_single' || subject === 'strong_finetune' || subject.startsWith('strong_by_judge:');

/** The test split as every seed's evaluation sees it, with the subjects no training seed changes. */
interface TestSplit {
  ids: string[];
  labels: Label[];
  /** Cluster id per example when the examples have groups (the clustered bootstrap), else undefined. */
  clusters: number[] | undefined;
  method: string;
  covers: string;
  /** The majority-class baseline, each prompted judge and judge ensemble: evaluated once, with the primary seed. */
  majority: number[];
  judges: ScoredJudge[];
  judgeEnsembles: Scored[];
}

/**
 * A judge or judge ensemble on the test split: its P(correct), or null with why when it gets no figures (below its
 * minCoverage: see silentSubjects); how many test examples it abstained on (they count as 0.5).
 */
interface Scored {
  name: string;
  probs: number[] | null;
  why: string | null;
  abstained: number;
}

/** A judge, with its stored means by example (meanByExample), read once here. */
interface ScoredJudge extends Scored {
  means: ReadonlyMap<string, number>;
}

function testSplit(ctx: StageContext): TestSplit {
  const test = ctx.store.examples.listExamples(ctx.runId, 'test');
  const ids = test.map((e) => e.id);
  const clusters = clustersFromKeys(test.map((e) => e.group));
  const n = test.length;
  const majority = majorityClass(ctx.store.examples.listExamples(ctx.runId, 'train_weak'));
  const silent = silentSubjects(ctx);
  return {
    ids,
    labels: test.map((e) => e.label as Label),
    clusters,
    method: clusters ? 'clustered percentile bootstrap' : 'percentile bootstrap',
    covers: clusters ? `test groups (${new Set(clusters).size} clusters of ${n} examples)` : `test examples (${n})`,
    majority: ids.map(() => majority),
    judges: ctx.config.judges.map((j, i): ScoredJudge => {
      const name = judgeName(j, i);
      const why = silent.get(`judge:${name}`) ?? null;
      const means = ctx.store.judgments.meanByExample(ctx.runId, name);
      return { name, probs: why ? null : probabilitiesOn(means, ids), why, abstained: abstentionsOn(means, ids), means };
    }),
    judgeEnsembles: (ctx.config.judgeEnsembles ?? []).map((e, i): Scored => {
      const why = silent.get(`judge_ensemble:${e.name}`) ?? null;
      if (why) return { name: e.name, probs: null, why, abstained: 0 };
      const p = predictionsOf(ctx, ROLES.judgeEnsemble, i);
      const abstained = ensembleAbstentions(ctx, i);
      return { name: e.name, probs: ids.map((id) => p.get(id)!), why, abstained: ids.filter((id) => abstained.has(id)).length };
    }),
  };
}

/**
 * The metrics of one training seed's models. The primary seed's subjects carry plain names (and it alone scores the
 * subjects no seed changes: the majority class and the judges); another seed's carry "@seedN", the same suffix as
 * their model roles.
 */
function evaluateSeed(ctx: StageContext, split: TestSplit, trainingSeed: number, primary: boolean): SeedEvaluation {
  const { bootstrap: resamples, level } = ctx.config.metrics;
  const { labels, clusters, method, covers } = split;
  const n = labels.length;
  const suffix = seededRole(ctx.config, '', trainingSeed);
  const ofRole = (r: string, member = 0): number[] => {
    const p = predictionsOf(ctx, seededRole(ctx.config, r, trainingSeed), member);
    return split.ids.map((id) => p.get(id)!);
  };
  const { size: K, ablation } = ctx.config.weak.ensemble;
  const members = Array.from({ length: K }, (_, k) => ofRole(ROLES.member, k));
  const subjects: [string, number[]][] = [
    ...(primary ? [['majority_class', split.majority] as [string, number[]]] : []),
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
  // A judge or ensemble below its minCoverage, and the strong model it did not train, get rows without values.
  const unscored: [subject: string, why: string][] = [];
  const notes = new Map<string, string>();
  const judged = (kind: 'judge' | 'judge_ensemble', s: Scored, member: number): void => {
    if (s.probs === null) {
      if (primary) unscored.push([`${kind}:${s.name}`, s.why!]);
      unscored.push([`strong_by_judge:${s.name}`, `no strong model: ${kind === 'judge' ? 'judge' : 'judge ensemble'} ${s.name} has ${s.why}`]);
      return;
    }
    if (primary) subjects.push([`${kind}:${s.name}`, s.probs]);
    if (s.abstained) {
      const who = kind === 'judge' ? 'had no reply stating a verdict' : 'had no member stating a verdict';
      notes.set(`${kind}:${s.name}`, `${s.abstained} of ${n} test examples ${who} and count as P(correct) = 0.5`);
    }
    // A judge can be scored and still have no verdict on any train_strong example to supervise with (training.ts).
    if (ctx.store.models.getModel(ctx.runId, seededRole(ctx.config, ROLES.byJudge, trainingSeed), member)) subjects.push([`strong_by_judge:${s.name}`, ofRole(ROLES.byJudge, member)]);
    else unscored.push([`strong_by_judge:${s.name}`, `no strong model: ${kind === 'judge' ? 'judge' : 'judge ensemble'} ${s.name} stated no verdict on any train_strong example`]);
  };
  split.judges.forEach((s, i) => judged('judge', s, i));
  // Judge ensembles' strong models follow the judges' (training.ts).
  split.judgeEnsembles.forEach((s, i) => judged('judge_ensemble', s, split.judges.length + i));
  const seedOf = (subject: string, metric: string): number => deriveSeed(ctx.config.seed, 'bootstrap', subject + suffix, metric);
  const opts = (subject: string, metric: string): BootstrapOptions => ({ random: createRng(seedOf(subject, metric)).random, resamples, level, groups: clusters });
  const metrics: MetricRow[] = [];
  const accuracies = new Map<string, number>();
  // A stacked judge ensemble's intervals resample test, not the train_weak rows its weights were fit on.
  const stacked = new Set((ctx.config.judgeEnsembles ?? []).filter((e) => e.aggregate === 'stacked').map((e) => `judge_ensemble:${e.name}`));
  const coversOf = (subject: string): string => (stacked.has(subject) ? `${covers}; the stacked weights (fit on train_weak) held fixed` : covers);
  const booted = (subject: string, name: string, r: BootstrapResult, extra: Partial<MetricRow> = {}): MetricRow => ({
    runId: ctx.runId, subject: subject + suffix, name, value: r.value, lo: r.lo, hi: r.hi, n, method, level, resamples,
    undefinedResamples: r.undefinedCount, seed: seedOf(subject, name), covers: coversOf(subject), ...extra,
  });

  const byName = new Map(subjects);
  for (const [subject, probs] of subjects) {
    const acc = accuracyCI(probs, labels, opts(subject, 'accuracy'));
    accuracies.set(subject, acc.value!);
    metrics.push(booted(subject, 'accuracy', acc, { note: notes.get(subject) ?? null }));
    metrics.push(booted(subject, 'auroc', aurocCI(probs, labels, opts(subject, 'auroc'))));
    for (const name of ['ece', 'brier'] as const) metrics.push(booted(subject, name, calibrationCI(probs, labels, name, opts(subject, name))));
  }
  for (const [subject, why] of unscored) {
    const names = ['accuracy', 'auroc', 'ece', 'brier', ...(isW2s(subject) ? ['pgr'] : [])];
    for (const name of names) metrics.push({ runId: ctx.runId, subject: subject + suffix, name, value: null, lo: null, hi: null, n, method: 'not scored', note: why });
  }
  if (primary) {
    const probs = new Map(subjects.filter(([s]) => s.startsWith('judge') || s === 'weak_ensemble'));
    const means = new Map(split.judges.map((s) => [s.name, s.means]));
    metrics.push(...judgeMetrics(ctx, { split, probs, accuracy: accuracies, opts, seedOf, means }));
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
      Object.assign(row, { value: null, lo: null, hi: null, note: `gap ${signedPointsCI({ value: gap.diff, lo: gap.lo, hi: gap.hi })} not significant` });
    } else if (p.value === null) {
      row.note = 'the ceiling is not above the weak model';
    } else if (p.undefinedCount > 0) {
      row.note = `${p.undefinedCount} of ${p.resamples} resamples had ceiling <= weak and are left out of the interval`;
    }
    metrics.push(row);
  }

  // Knowledge regions (Yang et al. 2024): does the strong student err where the weak supervisor could not check it?
  const right = (probs: readonly number[], i: number): boolean => (probs[i]! > 0.5 ? 1 : 0) === labels[i];
  for (const region of KNOWLEDGE_REGIONS) {
    const idx = labels.map((_, i) => i).filter((i) => right(weak, i) === region.weak && right(ceiling, i) === region.ceiling);
    const subject = `region:${region.key}${suffix}`;
    metrics.push({ runId: ctx.runId, subject, name: 'count', value: idx.length, n, method: 'count' });
    for (const model of REGION_MODELS) {
      const probs = byName.get(model)!;
      const r = regionAccuracy(idx, (i) => right(probs, i), clusters, level);
      metrics.push({ runId: ctx.runId, subject, name: `accuracy:${model}`, value: r?.estimate ?? null, lo: r?.lo ?? null, hi: r?.hi ?? null, n: idx.length, level, ...r?.how });
    }
  }
  return { metrics, accuracy: accuracies, gapSignificant };
}

/**
 * A model's accuracy on the examples `idx` of a knowledge region: a Wilson interval, or with groups a cluster-robust
 * one (a group's examples are not independent evidence). Null for an empty region.
 */
function regionAccuracy(idx: number[], right: (i: number) => boolean, clusters: number[] | undefined, level: number) {
  if (idx.length === 0) return null;
  const hits = idx.filter(right).length;
  if (!clusters) return { ...wilson(hits, idx.length, level), how: { method: 'Wilson interval', covers: `test examples in the region (${idx.length})` } };
  const byCluster = new Map<number, { a: number; n: number }>();
  for (const i of idx) {
    const t = byCluster.get(clusters[i]!) ?? { a: 0, n: 0 };
    t.a += right(i) ? 1 : 0;
    t.n++;
    byCluster.set(clusters[i]!, t);
  }
  const t = [...byCluster.values()];
  const r = clusteredProportion(t.map((x) => x.a), t.map((x) => x.n), level);
  return { ...r, how: { method: 'cluster-robust normal interval', covers: `test groups in the region (${t.length} clusters of ${idx.length} examples)` } };
}

/**
 * Across training seeds: each subject's mean accuracy with a t interval over seeds (the variance of retraining,
 * which the test bootstrap does not see), the mean ceiling − weak gap, and each w2s model's mean PGR. Every seed is
 * scored on the same test split, so the spread over seeds says nothing of test-sample noise: mean PGR is reported only
 * when every seed's gap is significant on the test split (its own paired bootstrap), as each seed's PGR is.
 */
function acrossSeeds(ctx: StageContext, seeds: number[], replicates: SeedEvaluation[]): MetricRow[] {
  const { level } = ctx.config.metrics;
  const covers = `${seeds.length} training seeds (${seeds.join(', ')}) on one test split`;
  const base = { runId: ctx.runId, n: seeds.length, method: 't interval over training seeds', level, covers };
  const clamp = (v: number | null, lo: number, hi: number): number | null => (v === null ? null : Math.min(hi, Math.max(lo, v)));
  /** The mean and t interval of per-seed values; accuracies stay in [0, 1] and gaps in [−1, 1]. */
  const row = (subject: string, name: string, values: number[], range?: [number, number], note: string | null = null): MetricRow => {
    const t = tInterval(values, level);
    const identical = values.every((v) => v === values[0]) ? 'every seed gave the same value: training is deterministic here, so seeds add no variance' : null;
    return {
      ...base, subject, name, value: t.mean, lo: range ? clamp(t.lo, ...range) : t.lo, hi: range ? clamp(t.hi, ...range) : t.hi,
      note: [note, identical].filter(Boolean).join('; ') || null,
    };
  };
  const accuracies = replicates.map((r) => r.accuracy);
  // The subjects every seed trained (not the majority class or the judges, which no seed changes).
  const trained = [...accuracies[0]!.keys()].filter((subject) => accuracies.every((a) => a.has(subject)));
  const out: MetricRow[] = [];
  for (const subject of trained) out.push(row(subject, 'accuracy_over_seeds', accuracies.map((a) => a.get(subject)!), [0, 1]));
  // The strong models a judge below its minCoverage did not train: no figures over seeds either, and why.
  for (const m of replicates[0]!.metrics.filter((r) => r.name === 'accuracy' && r.method === 'not scored' && r.subject.startsWith('strong_by_judge:'))) {
    for (const name of ['accuracy_over_seeds', 'pgr_over_seeds']) out.push({ ...base, subject: m.subject, name, value: null, lo: null, hi: null, method: 'not scored', note: m.note });
  }
  const gaps = accuracies.map((a) => a.get('strong_ceiling')! - a.get('weak')!);
  const noisy = replicates.filter((r) => !r.gapSignificant).length;
  const gapNote = noisy ? `not significant on the test split for ${noisy} of ${seeds.length} seeds: PGR is not reported` : null;
  out.push(row('strong_ceiling', 'gap_over_seeds', gaps, [-1, 1], gapNote));
  for (const subject of trained.filter(isW2s)) {
    const per = accuracies.map((a) => pgr(a.get('weak')!, a.get(subject)!, a.get('strong_ceiling')!));
    if (noisy) {
      out.push({ ...base, subject, name: 'pgr_over_seeds', value: null, lo: null, hi: null, note: `gap not significant on the test split for ${noisy} of ${seeds.length} seeds` });
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

